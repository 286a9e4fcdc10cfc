// The audit trail: what the LOG target and the engine's decision log write. One record per
// logged packet (or per decided new flow), as one JSON line; a summary aggregator counts flows
// allowed and denied per host. The sink is an interface so the netstack never does I/O: the
// composition root writes the lines wherever it wants.

export type AuditVerdict = 'accept' | 'drop' | 'reject' | 'log';

export interface AuditRecord {
  /** Milliseconds: the engine's auditTime (epoch ms in production), else the stack clock. */
  time: number;
  hook: string;
  pid?: number;
  uid?: number;
  command?: string;
  /** 'tcp', 'udp', 'icmp', 'icmpv6' or the protocol number. */
  protocol: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** Name the guest resolved for the remote address (learned from DNS answers), if any. */
  hostname?: string;
  verdict: AuditVerdict;
  /** "table/chain#n" of the deciding rule, or "table/chain:policy". */
  rule: string;
  /** --log-prefix or the rule's comment. */
  prefix?: string;
}

export interface AuditSink {
  record(r: AuditRecord): void;
}

/** One JSON object per line, field order fixed (stable diffs, grep-friendly). */
export function auditToJsonLine(r: AuditRecord): string {
  const o: Record<string, unknown> = { time: r.time, hook: r.hook };
  if (r.pid !== undefined) o.pid = r.pid;
  if (r.uid !== undefined) o.uid = r.uid;
  if (r.command !== undefined) o.command = r.command;
  o.protocol = r.protocol;
  o.src = r.src;
  o.dst = r.dst;
  if (r.sport !== undefined) o.sport = r.sport;
  if (r.dport !== undefined) o.dport = r.dport;
  if (r.hostname !== undefined) o.hostname = r.hostname;
  o.verdict = r.verdict;
  o.rule = r.rule;
  if (r.prefix !== undefined) o.prefix = r.prefix;
  return JSON.stringify(o);
}

/** A sink that hands each line to a writer (a file stream's write, console.log, an array push). */
export class JsonLinesAuditSink implements AuditSink {
  constructor(private readonly write: (line: string) => void) {}
  record(r: AuditRecord): void {
    this.write(auditToJsonLine(r) + '\n');
  }
}

/** Keeps records in memory (tests, `moat run --audit` summaries). */
export class MemoryAuditSink implements AuditSink {
  readonly records: AuditRecord[] = [];
  constructor(private readonly max = 100_000) {}
  record(r: AuditRecord): void {
    if (this.records.length < this.max) this.records.push(r);
  }
}

/** Fans a record out to several sinks. */
export class TeeAuditSink implements AuditSink {
  constructor(private readonly sinks: AuditSink[]) {}
  record(r: AuditRecord): void {
    for (const s of this.sinks) s.record(r);
  }
}

export interface HostSummary {
  host: string;
  allowed: number;
  denied: number;
  ports: number[];
  commands: string[];
}

/**
 * Counts decisions per remote host (the hostname when DNS gave one, else the address).
 * Only accept/drop/reject records count; 'log' records are informational.
 */
export class AuditSummary implements AuditSink {
  private readonly hosts = new Map<string, { allowed: number; denied: number; ports: Set<number>; commands: Set<string> }>();

  record(r: AuditRecord): void {
    if (r.verdict === 'log') return;
    // The remote end: the destination of what the guest sent.
    const host = r.hostname ?? r.dst;
    let h = this.hosts.get(host);
    if (!h) {
      h = { allowed: 0, denied: 0, ports: new Set(), commands: new Set() };
      this.hosts.set(host, h);
    }
    if (r.verdict === 'accept') h.allowed++;
    else h.denied++;
    if (r.dport !== undefined) h.ports.add(r.dport);
    if (r.command !== undefined) h.commands.add(r.command);
  }

  summary(): HostSummary[] {
    return [...this.hosts]
      .map(([host, h]) => ({
        host,
        allowed: h.allowed,
        denied: h.denied,
        ports: [...h.ports].sort((a, b) => a - b),
        commands: [...h.commands].sort(),
      }))
      .sort((a, b) => b.denied - a.denied || b.allowed - a.allowed || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  /** A human table: host, allowed, denied, ports. */
  format(): string {
    const rows = this.summary();
    const lines = ['host allowed denied ports'];
    for (const r of rows) lines.push(`${r.host} ${r.allowed} ${r.denied} ${r.ports.join(',') || '-'}`);
    return lines.join('\n');
  }
}
