// Egress policy files and `--allow/--deny` flags, validated and compiled into rules for the
// netstack's filter engine plus a hostname allowlist for the DNS forwarder.
//
// File format (YAML subset or JSON; see yaml.ts):
//
//   default: deny              # allow | deny (default: allow, or deny once any allow entry exists via flags)
//   inbound: deny              # new inbound connections: allow | deny (default deny)
//   log: denied                # decision log: none | denied | all (default denied)
//   allow:
//     - host: example.com      # exact name
//       ports: [443]
//       protocol: tcp          # tcp | udp | icmp | any (default any)
//     - host: "*.github.com"   # any name below github.com
//     - cidr: 10.0.0.0/8
//       ports: [80, "8000-8080"]
//     - host: 169.254.169.254  # an address literal is a /32 (this one unblocks metadata)
//   deny:
//     - cidr: 192.168.0.0/16
//   limits:
//     maxConnections: 4096     # conntrack table size
//     maxConnectionsPerHost: 64  # tracked connections to one remote address
//   dns:
//     minTtl: 30               # clamp of learned answers (seconds)
//     maxTtl: 86400
//
// Always blocked unless an allow entry names an address inside them (a hostname never does:
// DNS rebinding to 169.254.169.254 is the classic SSRF): link-local 169.254.0.0/16 and
// fe80::/10, cloud metadata 169.254.169.254 and fd00:ec2::254, and the host's own addresses.
// Deny entries win over allow entries. The guest's loopback and IPv6 neighbor discovery/MLD are
// always allowed.

import { readFileSync } from 'node:fs';
import { IpAddr, IpCidr } from '../../netstack/wire/ip-address.js';
import { IpProto } from '../../netstack/wire/ip-proto.js';
import type { Clock } from '../../netstack/clock.js';
import { FilterEngine } from '../../netstack/filter/engine.js';
import { DnsAllowlist, type HostRule } from '../../netstack/filter/dns-allowlist.js';
import type { AuditRecord, AuditSink } from '../../netstack/filter/audit.js';
import { CtState } from '../../netstack/filter/packet.js';
import type { PortRange, RuleSpec, TableSpec, ChainSpec } from '../../netstack/filter/rules.js';
import { formatIptablesSave } from '../../netstack/filter/save.js';
import { DNS_FORWARDER_OWNER } from '../../netstack/dns/forwarder.js';
import { YamlError, parseYaml, type YamlNode } from './yaml.js';

export type PolicyProtocol = 'tcp' | 'udp' | 'icmp' | 'any';

export interface PolicyEntry {
  /** A name or *.suffix pattern (address literals become `cidr`). */
  host?: string;
  cidr?: IpCidr;
  ports?: PortRange[];
  protocol: PolicyProtocol;
  /** Where it came from: "file.yaml:12" or "--allow". */
  origin: string;
}

export interface Policy {
  default: 'allow' | 'deny';
  inbound: 'allow' | 'deny';
  log: 'none' | 'denied' | 'all';
  allow: PolicyEntry[];
  deny: PolicyEntry[];
  limits: { maxConnections?: number; maxConnectionsPerHost?: number };
  dns: { minTtl: number; maxTtl: number };
}

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly reason: string,
    /** Dotted path of the field ("allow[2].ports"), or the flag. */
    readonly field: string,
    readonly line: number,
    readonly file = '',
  ) {
    super(`${file ? file + ':' : ''}${line ? `${line}: ` : ''}${field ? `${field}: ` : ''}${reason}`);
  }
}

export const PROTECTED_DESTINATIONS: readonly { cidr: string; why: string }[] = [
  { cidr: '169.254.169.254/32', why: 'cloud metadata' },
  { cidr: 'fd00:ec2::254/128', why: 'cloud metadata (AWS IPv6)' },
  { cidr: '169.254.0.0/16', why: 'link-local' },
  { cidr: 'fe80::/10', why: 'link-local' },
];

export function emptyPolicy(): Policy {
  return { default: 'allow', inbound: 'deny', log: 'denied', allow: [], deny: [], limits: {}, dns: { minTtl: 30, maxTtl: 86400 } };
}

// ---- reading ----

class Reader {
  constructor(private readonly file: string) {}
  fail(reason: string, field: string, line: number): never {
    throw new PolicyError(reason, field, line, this.file);
  }
  map(n: YamlNode, field: string, allowed: string[]): Map<string, { keyLine: number; value: YamlNode }> {
    if (n.kind !== 'map') this.fail('expected a mapping', field, n.line);
    for (const [k, e] of n.entries) if (!allowed.includes(k)) this.fail(`unknown field "${k}" (expected one of: ${allowed.join(', ')})`, field ? `${field}.${k}` : k, e.keyLine);
    return n.entries;
  }
  str(n: YamlNode, field: string): string {
    if (n.kind !== 'scalar' || typeof n.value !== 'string') this.fail('expected a string', field, n.line);
    return n.value;
  }
  oneOf<T extends string>(n: YamlNode, field: string, values: readonly T[]): T {
    const v = n.kind === 'scalar' ? String(n.value) : '';
    if (n.kind !== 'scalar' || !values.includes(v as T)) this.fail(`expected one of ${values.join(', ')}`, field, n.line);
    return v as T;
  }
  int(n: YamlNode, field: string, min: number, max: number): number {
    if (n.kind !== 'scalar' || typeof n.value !== 'number' || !Number.isInteger(n.value) || n.value < min || n.value > max) {
      this.fail(`expected an integer from ${min} to ${max}`, field, n.line);
    }
    return n.value;
  }
}

export function parsePortSpec(s: string): PortRange | null {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s.trim());
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || lo > hi) return null;
  return { lo, hi };
}

/** Host text: a name, *.name, an address or a CIDR. */
function hostOrCidr(text: string): { host?: string; cidr?: IpCidr } | null {
  const t = text.trim();
  const c = IpCidr.tryParse(t);
  if (c) return { cidr: IpCidr.of(c.network(), c.prefixLen) };
  const name = t.toLowerCase().replace(/\.$/, '');
  if (name === '*') return { host: '*' };
  const body = name.startsWith('*.') ? name.slice(2) : name;
  // RFC 1123 §2.1 host names (letters, digits, hyphens; labels up to 63), plus '_' seen in the wild.
  if (body.length === 0 || body.length > 253) return null;
  for (const label of body.split('.')) if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label)) return null;
  return { host: name };
}

function readEntry(r: Reader, n: YamlNode, field: string, file: string): PolicyEntry {
  const m = r.map(n, field, ['host', 'cidr', 'ports', 'port', 'protocol']);
  const e: PolicyEntry = { protocol: 'any', origin: `${file || 'policy'}:${n.line}` };
  const host = m.get('host');
  const cidr = m.get('cidr');
  if (host && cidr) r.fail('give host or cidr, not both', field, n.line);
  if (host) {
    const text = host.value.kind === 'scalar' && host.value.value !== null ? String(host.value.value) : r.str(host.value, `${field}.host`);
    const h = hostOrCidr(text);
    if (!h) r.fail(`not a host name, *.name, address or CIDR: ${JSON.stringify(text)}`, `${field}.host`, host.keyLine);
    Object.assign(e, h);
  }
  if (cidr) {
    const text = r.str(cidr.value, `${field}.cidr`);
    const c = IpCidr.tryParse(text);
    if (!c) r.fail(`not an address or CIDR: ${JSON.stringify(text)}`, `${field}.cidr`, cidr.keyLine);
    e.cidr = IpCidr.of(c.network(), c.prefixLen);
  }
  const ports = m.get('ports') ?? m.get('port');
  if (m.get('ports') && m.get('port')) r.fail('give ports or port, not both', field, n.line);
  if (ports) {
    const f = `${field}.${m.get('ports') ? 'ports' : 'port'}`;
    const items = ports.value.kind === 'seq' ? ports.value.items : [ports.value];
    if (!items.length) r.fail('empty port list', f, ports.keyLine);
    e.ports = items.map((it, i) => {
      const s = it.kind === 'scalar' && it.value !== null ? String(it.value) : '';
      const p = parsePortSpec(s);
      if (!p) r.fail(`bad port ${JSON.stringify(s)} (1-65535 or "lo-hi")`, `${f}[${i}]`, it.line);
      return p;
    });
  }
  const proto = m.get('protocol');
  if (proto) e.protocol = r.oneOf(proto.value, `${field}.protocol`, ['tcp', 'udp', 'icmp', 'any'] as const);
  if (e.protocol === 'icmp' && e.ports) r.fail('icmp has no ports', `${field}.protocol`, proto!.keyLine);
  if (!e.host && !e.cidr && !e.ports) r.fail('an entry needs host, cidr or ports', field, n.line);
  return e;
}

/** Parses and validates a policy document (YAML subset or JSON). `file` names it in errors. */
export function parsePolicy(text: string, file = ''): Policy {
  let root: YamlNode | null;
  try {
    root = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlError) throw new PolicyError(err.reason, '', err.line, file);
    throw err;
  }
  const p = emptyPolicy();
  if (!root) return p;
  const r: Reader = new Reader(file);
  const top = r.map(root, '', ['default', 'inbound', 'log', 'allow', 'deny', 'limits', 'dns']);
  const g = (k: string) => top.get(k)?.value;
  if (g('default')) p.default = r.oneOf(g('default')!, 'default', ['allow', 'deny'] as const);
  if (g('inbound')) p.inbound = r.oneOf(g('inbound')!, 'inbound', ['allow', 'deny'] as const);
  if (g('log')) p.log = r.oneOf(g('log')!, 'log', ['none', 'denied', 'all'] as const);
  for (const which of ['allow', 'deny'] as const) {
    const n = g(which);
    if (!n || (n.kind === 'scalar' && n.value === null)) continue;
    if (n.kind !== 'seq') r.fail('expected a list of entries', which, n.line);
    n.items.forEach((it, i) => p[which].push(readEntry(r, it, `${which}[${i}]`, file)));
  }
  const limits = g('limits');
  if (limits) {
    const m = r.map(limits, 'limits', ['maxConnections', 'maxConnectionsPerHost']);
    const mc = m.get('maxConnections');
    if (mc) p.limits.maxConnections = r.int(mc.value, 'limits.maxConnections', 1, 10_000_000);
    const mh = m.get('maxConnectionsPerHost');
    if (mh) p.limits.maxConnectionsPerHost = r.int(mh.value, 'limits.maxConnectionsPerHost', 1, 10_000_000);
  }
  const dns = g('dns');
  if (dns) {
    const m = r.map(dns, 'dns', ['minTtl', 'maxTtl']);
    const a = m.get('minTtl');
    const b = m.get('maxTtl');
    if (a) p.dns.minTtl = r.int(a.value, 'dns.minTtl', 0, 604800);
    if (b) p.dns.maxTtl = r.int(b.value, 'dns.maxTtl', 1, 604800);
    if (p.dns.minTtl > p.dns.maxTtl) r.fail('minTtl is above maxTtl', 'dns', dns.line);
  }
  return p;
}

export function readPolicyFile(path: string): Policy {
  return parsePolicy(readFileSync(path, 'utf8'), path);
}

/** HOST[:PORT[-PORT]][/PROTO]; HOST may be a name, *.name, an address, a CIDR, or [v6 or v6/len]. */
export function parseHostFlag(flag: string, value: string): PolicyEntry {
  const fail = (m: string): never => {
    throw new PolicyError(`${m}: ${JSON.stringify(value)}`, flag, 0);
  };
  let v = value.trim();
  let protocol: PolicyProtocol = 'any';
  const slashProto = /\/(tcp|udp|icmp)$/.exec(v);
  if (slashProto) {
    protocol = slashProto[1] as PolicyProtocol;
    v = v.slice(0, -slashProto[0].length);
  }
  let hostText = v;
  let portText: string | undefined;
  if (v.startsWith('[')) {
    const k = v.indexOf(']');
    if (k < 0) fail('missing ]');
    hostText = v.slice(1, k);
    const rest = v.slice(k + 1);
    if (rest) {
      if (!rest.startsWith(':')) fail('expected :PORT after ]');
      portText = rest.slice(1);
    }
  } else if ((v.match(/:/g) ?? []).length === 1) {
    const k = v.indexOf(':');
    hostText = v.slice(0, k);
    portText = v.slice(k + 1);
  }
  const e: PolicyEntry = { protocol, origin: flag };
  if (hostText !== '' && hostText !== '*:') {
    const h = hostOrCidr(hostText);
    if (!h) return fail("not a host name, *.name, address or CIDR");
    Object.assign(e, h);
  }
  if (portText !== undefined) {
    const p = parsePortSpec(portText);
    if (!p) return fail("bad port (1-65535 or lo-hi)");
    if (protocol === 'icmp') fail('icmp has no ports');
    e.ports = [p];
  }
  if (!e.host && !e.cidr && !e.ports) fail('nothing to match');
  return e;
}

/**
 * Applies `--allow X` / `--deny X` flags (in order) on top of a policy: any --allow makes the
 * default deny (allow-listing), as the flags' documentation promises.
 */
export function applyPolicyFlags(base: Policy, flags: { allow?: string[]; deny?: string[] }): Policy {
  const p: Policy = { ...base, allow: [...base.allow], deny: [...base.deny] };
  for (const a of flags.allow ?? []) p.allow.push(parseHostFlag('--allow', a));
  for (const d of flags.deny ?? []) p.deny.push(parseHostFlag('--deny', d));
  if (flags.allow?.length) p.default = 'deny';
  return p;
}

// ---- compiling ----

export interface CompileOptions {
  /** The host's own addresses (blocked unless explicitly allowed). */
  hostAddresses?: readonly IpAddr[];
  /** The DNS forwarder the guest uses (always reachable on port 53). */
  dnsServers?: readonly IpAddr[];
}

export interface CompiledPolicy {
  policy: Policy;
  tables: TableSpec[];
  /** Host-name rules: each matches a set the rules refer to by name. */
  hostRules: { patterns: string[]; set: string; verdict: 'allow' | 'deny' }[];
  maxConnections?: number;
  /** The rules in iptables-save form (for `moat policy show` and reviews). */
  text: string;
}

const ANY_PROTOS: Record<PolicyProtocol, number[]> = { tcp: [IpProto.TCP], udp: [IpProto.UDP], icmp: [IpProto.ICMP, IpProto.ICMPV6], any: [] };

function entryRules(e: PolicyEntry, target: RuleSpec['target'], setName: string | null, comment: string): RuleSpec[] {
  const base: RuleSpec = { target, comment };
  if (e.cidr) base.dst = { cidr: e.cidr, neg: false };
  if (setName) base.sets = [{ name: setName, dir: 'dst', neg: false }];
  const out: RuleSpec[] = [];
  const protos = e.ports ? (e.protocol === 'any' ? [IpProto.TCP, IpProto.UDP] : ANY_PROTOS[e.protocol]) : ANY_PROTOS[e.protocol];
  const fam = e.cidr?.family;
  const protoList = protos.length ? protos : [-1];
  for (const proto of protoList) {
    if (proto === IpProto.ICMP && fam === 6) continue;
    if (proto === IpProto.ICMPV6 && fam === 4) continue;
    const r: RuleSpec = { ...base };
    if (proto >= 0) r.protocol = { proto, neg: false };
    if (e.ports) {
      // multiport takes 15 entries per rule (xt_multiport).
      for (let i = 0; i < e.ports.length; i += 15) {
        const chunk = e.ports.slice(i, i + 15);
        out.push(chunk.length === 1 ? { ...r, dport: { range: chunk[0], neg: false } } : { ...r, multiport: { dir: 'dst', ports: chunk, neg: false } });
      }
    } else out.push(r);
  }
  return out;
}

function protectedAllowance(e: PolicyEntry, prot: IpCidr[]): boolean {
  // Only an address range inside a protected range opens it: 0.0.0.0/0 does not.
  const c = e.cidr;
  return !!c && prot.some((p) => p.family === c.family && c.prefixLen >= p.prefixLen && p.contains(c.addr));
}

/**
 * IPv6 cannot work without neighbor discovery and MLD (RFC 4861, RFC 3810): their messages go to
 * link-local and multicast addresses that the policy otherwise blocks, and conntrack leaves them
 * UNTRACKED. Allowed first, in both directions.
 */
function linkControl(): RuleSpec[] {
  return [130, 131, 132, 143, 133, 134, 135, 136, 137].map((type) => ({
    protocol: { proto: IpProto.ICMPV6, neg: false },
    icmpType: { type, code: -1, neg: false, v6: true },
    target: { kind: 'ACCEPT' as const },
    comment: 'ipv6 link control',
  }));
}

export function compilePolicy(p: Policy, opts: CompileOptions = {}): CompiledPolicy {
  const REJECT: RuleSpec['target'] = { kind: 'REJECT', with: 'icmp-admin-prohibited' };
  const ACCEPT: RuleSpec['target'] = { kind: 'ACCEPT' };
  const out: RuleSpec[] = [];
  const hostRules: CompiledPolicy['hostRules'] = [];
  let setNo = 0;
  const setFor = (e: PolicyEntry, verdict: 'allow' | 'deny'): string | null => {
    if (!e.host || e.host === '*') return null;
    const name = `${verdict}-host-${++setNo}`;
    hostRules.push({ patterns: [e.host], set: name, verdict });
    return name;
  };
  out.push({ ctstate: { mask: CtState.ESTABLISHED | CtState.RELATED, neg: false }, target: ACCEPT, comment: 'replies' });
  out.push(...linkControl());
  out.push({ ctstate: { mask: CtState.INVALID, neg: false }, target: { kind: 'DROP' }, comment: 'invalid' });
  out.push({ dst: { cidr: IpCidr.parse('127.0.0.0/8'), neg: false }, target: ACCEPT, comment: 'loopback' });
  out.push({ dst: { cidr: IpCidr.parse('::1/128'), neg: false }, target: ACCEPT, comment: 'loopback' });
  if (p.limits.maxConnectionsPerHost !== undefined) {
    out.push({
      ctstate: { mask: CtState.NEW, neg: false },
      connlimit: { above: p.limits.maxConnectionsPerHost, dir: 'dst', neg: false },
      target: REJECT,
      comment: 'per-host connection limit',
    });
  }
  for (const e of p.deny) out.push(...entryRules(e, REJECT, setFor(e, 'deny'), `deny ${e.origin}`));
  const prot: { cidr: IpCidr; why: string }[] = PROTECTED_DESTINATIONS.map((x) => ({ cidr: IpCidr.parse(x.cidr), why: x.why }));
  for (const a of opts.hostAddresses ?? []) prot.push({ cidr: IpCidr.of(a, a.family === 4 ? 32 : 128), why: 'host' });
  const protCidrs = prot.map((x) => x.cidr);
  for (const e of p.allow) if (protectedAllowance(e, protCidrs)) out.push(...entryRules(e, ACCEPT, null, `allow ${e.origin}`));
  for (const x of prot) out.push({ dst: { cidr: x.cidr, neg: false }, target: REJECT, comment: `blocked: ${x.why}` });
  for (const s of opts.dnsServers ?? []) {
    for (const proto of [IpProto.UDP, IpProto.TCP]) {
      out.push({ dst: { cidr: IpCidr.of(s, s.family === 4 ? 32 : 128), neg: false }, protocol: { proto, neg: false }, dport: { range: { lo: 53, hi: 53 }, neg: false }, owner: { command: DNS_FORWARDER_OWNER.command, neg: false }, target: ACCEPT, comment: 'dns forwarder' });
    }
  }
  for (const e of p.allow) if (!protectedAllowance(e, protCidrs)) out.push(...entryRules(e, ACCEPT, setFor(e, 'allow'), `allow ${e.origin}`));
  if (p.default === 'deny') out.push({ target: REJECT, comment: 'default deny' });

  const chain = (name: string, policy: 'ACCEPT' | 'DROP', rules: RuleSpec[]): ChainSpec => ({
    name,
    policy,
    counters: { packets: 0, bytes: 0 },
    rules: rules.map((rule) => ({ rule, counters: { packets: 0, bytes: 0 } })),
  });
  const input: RuleSpec[] = [
    { ctstate: { mask: CtState.ESTABLISHED | CtState.RELATED, neg: false }, target: ACCEPT, comment: 'replies' },
    ...linkControl(),
    // Everything on lo is local to local: the guest's own connections between its sockets, and
    // its DNS queries that a nat REDIRECT sent to the forwarder (source: the guest's address).
    { inIface: { name: 'lo', neg: false }, target: ACCEPT, comment: 'loopback' },
    { src: { cidr: IpCidr.parse('127.0.0.0/8'), neg: false }, target: ACCEPT, comment: 'loopback' },
    { src: { cidr: IpCidr.parse('::1/128'), neg: false }, target: ACCEPT, comment: 'loopback' },
  ];
  const tables: TableSpec[] = [
    {
      name: 'filter',
      chains: [
        chain('INPUT', p.inbound === 'allow' ? 'ACCEPT' : 'DROP', p.inbound === 'allow' ? [] : input),
        chain('FORWARD', 'DROP', []),
        chain('OUTPUT', p.default === 'deny' ? 'DROP' : 'ACCEPT', out),
      ],
    },
  ];
  return { policy: p, tables, hostRules, maxConnections: p.limits.maxConnections, text: formatIptablesSave(tables, { counters: false }) };
}

/** Keeps only deny/reject decisions (log: denied). */
class DeniedOnly implements AuditSink {
  constructor(private readonly next: AuditSink) {}
  record(r: AuditRecord): void {
    if (r.verdict !== 'accept') this.next.record(r);
  }
}

export interface PolicyRuntime {
  engine: FilterEngine;
  allowlist: DnsAllowlist;
}

/** Builds a filter engine running the compiled policy, and the DNS allowlist feeding its sets. */
export function createPolicyEngine(c: CompiledPolicy, opts: { clock: Clock; audit?: AuditSink; auditTime?: () => number }): PolicyRuntime {
  const audit = opts.audit && c.policy.log === 'denied' ? new DeniedOnly(opts.audit) : opts.audit;
  const engine = new FilterEngine({
    clock: opts.clock,
    audit,
    auditTime: opts.auditTime,
    auditDecisions: c.policy.log !== 'none' && !!opts.audit,
    conntrack: { maxEntries: c.maxConnections },
  });
  const rules: HostRule[] = c.hostRules.map((h) => ({ patterns: h.patterns, verdict: h.verdict, set: engine.sets.create(h.set) }));
  engine.load(c.tables);
  const allowlist = new DnsAllowlist(rules, { defaultAllow: c.policy.default === 'allow', minTtlS: c.policy.dns.minTtl, maxTtlS: c.policy.dns.maxTtl });
  engine.hostnameOf = (a) => allowlist.hostnameOf(a);
  return { engine, allowlist };
}
