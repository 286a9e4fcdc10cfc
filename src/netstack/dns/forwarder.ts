// The DNS forwarder moat's guests resolve through: it listens on UDP and TCP port 53 of stack
// addresses, checks each question against the DNS allowlist (a name outside it is answered
// NXDOMAIN or REFUSED at once, upstream never asked), forwards the rest to an upstream server
// through the same stack, and teaches the allowlist the A/AAAA addresses of each answer (CNAME
// chains followed) for the records' TTL before the guest sees the answer, so the connection that
// follows is let through by the filter's address sets.
// Upstream: a fresh random query id (RFC 5452 §9.2) and a fresh ephemeral port per query; the
// reply must come from the server, carry that id and echo the question (RFC 5452 §4.3); an
// unanswered attempt is repeated (next server, same id) and finally answered SERVFAIL; a
// truncated reply (TC, RFC 1035 §4.2.1 / RFC 7766 §5) is asked again over TCP.
// Guest-facing UDP replies are cut to 512 bytes or the guest's EDNS size with TC set (RFC 6891
// §6.2.5); over TCP each message has a 2-byte length (RFC 1035 §4.2.2).
// Read: RFC 1035 §4, RFC 5452, RFC 7766, RFC 6891, RFC 2308 (negative answers).

import type { NetResult } from '../errors.js';
import type { Stack } from '../stack.js';
import type { Timer } from '../timers.js';
import type { TcpEndpoint, TcpProtocol } from '../tcp/index.js';
import type { UdpEndpoint } from '../udp.js';
import type { FilterEngine } from '../filter/engine.js';
import type { DnsAllowlist } from '../filter/dns-allowlist.js';
import type { RuleSpec } from '../filter/rules.js';
import type { AuditSink } from '../filter/audit.js';
import { IpCidr, type IpAddr } from '../wire/ip-address.js';
import { IpProto } from '../wire/ip-proto.js';
import {
  DNS_PORT,
  DNS_UDP_MAX_LEN,
  DnsOpcode,
  DnsPacket,
  DnsRcode,
  buildDnsErrorResponse,
  buildDnsHeaderOnlyError,
  encodeDns,
  encodeDnsForUdp,
  parseDns,
  type DnsMessage,
} from '../wire/dns.js';
import { concatBytes } from '../wire/bytes.js';

export interface DnsForwarderOptions {
  /** Stack addresses to serve on. */
  listen: readonly IpAddr[];
  /** Default 53. */
  port?: number;
  /** Upstream servers, tried in turn on each retry. */
  upstream: readonly IpAddr[];
  upstreamPort?: number;
  /** Names outside it are refused without asking upstream; its sets learn the answers. */
  allowlist?: DnsAllowlist | null;
  /** Answer for a name the allowlist refuses. Default NXDOMAIN. */
  deny?: 'NXDOMAIN' | 'REFUSED';
  /** Wait per UDP attempt (ms). Default 2000. */
  timeoutMs?: number;
  /** UDP attempts before SERVFAIL. Default 3. */
  attempts?: number;
  /** Whole TCP exchange with upstream (ms). Default 5000. */
  tcpTimeoutMs?: number;
  /** Queries in flight at most (more are answered SERVFAIL). Default 1024. */
  maxInFlight?: number;
  /** Idle guest TCP connections are closed after this (ms, RFC 7766 §6.2.3). Default 10000. */
  tcpIdleMs?: number;
  /** TCP for the guest-facing listener and TC retries; default: the stack's transport 6 if any. */
  tcp?: TcpProtocol | null;
  /** Decision records: every refused name, and with `auditAllowed` every forwarded one. */
  audit?: AuditSink | null;
  auditAllowed?: boolean;
  /** Time stamped on audit records (production: wall clock ms); default the stack clock. */
  auditTime?: () => number;
}

export interface DnsForwarderStats {
  queries: number;
  denied: number;
  malformed: number;
  upstreamQueries: number;
  upstreamTcpQueries: number;
  retries: number;
  timeouts: number;
  servfail: number;
  answered: number;
  truncatedFromUpstream: number;
  truncatedToClient: number;
  spoofed: number;
  learned: number;
}

type Client =
  | { kind: 'udp'; ep: UdpEndpoint; addr: IpAddr; port: number; maxLen: number }
  | { kind: 'tcp'; conn: GuestTcp };

interface Pending {
  client: Client;
  query: DnsMessage;
  /** The guest's id (restored on the answer). */
  clientId: number;
  upstreamId: number;
  /** The query as sent upstream (upstream id). */
  wire: Uint8Array;
  attempt: number;
  server: IpAddr;
  ep: UdpEndpoint | null;
  tcp: TcpEndpoint | null;
  timer: Timer | null;
  done: boolean;
}

/** A guest's TCP connection to us: length-prefixed messages both ways. */
interface GuestTcp {
  ep: TcpEndpoint;
  buf: Uint8Array;
  out: Uint8Array[];
  idle: Timer;
  inFlight: number;
  closed: boolean;
}

export class DnsForwarder {
  readonly stats: DnsForwarderStats = {
    queries: 0,
    denied: 0,
    malformed: 0,
    upstreamQueries: 0,
    upstreamTcpQueries: 0,
    retries: 0,
    timeouts: 0,
    servfail: 0,
    answered: 0,
    truncatedFromUpstream: 0,
    truncatedToClient: 0,
    spoofed: 0,
    learned: 0,
  };
  private readonly port: number;
  private readonly upstreamPort: number;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly tcpTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly tcpIdleMs: number;
  private readonly tcp: TcpProtocol | null;
  private readonly udpListeners: UdpEndpoint[] = [];
  private readonly tcpListeners: TcpEndpoint[] = [];
  private readonly guests = new Set<GuestTcp>();
  private readonly inFlight = new Set<Pending>();
  private closed = false;

  constructor(
    private readonly stack: Stack,
    private readonly opts: DnsForwarderOptions,
  ) {
    if (opts.upstream.length === 0) throw new Error('DnsForwarder: no upstream server');
    this.port = opts.port ?? DNS_PORT;
    this.upstreamPort = opts.upstreamPort ?? DNS_PORT;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.tcpTimeoutMs = opts.tcpTimeoutMs ?? 5000;
    this.maxInFlight = opts.maxInFlight ?? 1024;
    this.tcpIdleMs = opts.tcpIdleMs ?? 10000;
    this.tcp = opts.tcp !== undefined ? opts.tcp : ((stack.transport(IpProto.TCP) as TcpProtocol | undefined) ?? null);
  }

  /** Binds the listeners. Fails (and binds nothing) if any address cannot be bound. */
  start(): NetResult<void> {
    for (const addr of this.opts.listen) {
      const u = this.stack.udp.endpoint(addr.family);
      const r = u.bind(addr, this.port);
      if (r) {
        u.close();
        this.close();
        return r;
      }
      u.onReadable = () => this.drainUdp(u);
      this.udpListeners.push(u);
      if (this.tcp) {
        const l = this.tcp.endpoint();
        const e = l.bind(addr, this.port) ?? l.listen(64);
        if (e) {
          l.close();
          this.close();
          return e;
        }
        l.on({ onAcceptable: () => this.acceptTcp(l) });
        this.tcpListeners.push(l);
      }
    }
    return undefined;
  }

  close(): void {
    this.closed = true;
    for (const u of this.udpListeners) u.close();
    for (const l of this.tcpListeners) l.close();
    for (const g of this.guests) this.closeGuest(g);
    for (const p of [...this.inFlight]) this.finish(p);
    this.udpListeners.length = 0;
    this.tcpListeners.length = 0;
  }

  // ---- guests ----

  private drainUdp(u: UdpEndpoint): void {
    for (let d = u.recv(); typeof d !== 'string'; d = u.recv()) {
      this.onQuery(d.data, { kind: 'udp', ep: u, addr: d.from, port: d.port, maxLen: DNS_UDP_MAX_LEN });
    }
  }

  private acceptTcp(l: TcpEndpoint): void {
    for (let ep = l.accept(); typeof ep !== 'string'; ep = l.accept()) {
      const g: GuestTcp = { ep, buf: new Uint8Array(0), out: [], idle: this.stack.timers.timer(() => this.closeGuest(g)), inFlight: 0, closed: false };
      this.guests.add(g);
      g.idle.schedule(this.tcpIdleMs);
      ep.on({
        onReadable: () => this.readGuest(g),
        onWritable: () => this.flushGuest(g),
        onPeerClosed: () => this.readGuest(g),
        onError: () => this.closeGuest(g),
        onClosed: () => this.closeGuest(g),
      });
      this.readGuest(g);
    }
  }

  private readGuest(g: GuestTcp): void {
    if (g.closed) return;
    for (;;) {
      const r = g.ep.read();
      if (r === null) {
        // EOF: answer what is in flight, then close (RFC 7766 §6.2.4 lets either side close).
        if (g.inFlight === 0) this.closeGuest(g);
        return;
      }
      if (typeof r === 'string') {
        if (r !== 'EAGAIN') this.closeGuest(g);
        break;
      }
      g.buf = concatBytes([g.buf, r]);
    }
    // RFC 1035 §4.2.2: two-byte length, then the message.
    while (g.buf.length >= 2) {
      const len = (g.buf[0] << 8) | g.buf[1];
      if (g.buf.length < 2 + len) break;
      const msg = g.buf.slice(2, 2 + len);
      g.buf = g.buf.subarray(2 + len);
      g.idle.schedule(this.tcpIdleMs);
      this.onQuery(msg, { kind: 'tcp', conn: g });
    }
  }

  private sendGuestTcp(g: GuestTcp, msg: Uint8Array): void {
    if (g.closed) return;
    const framed = new Uint8Array(2 + msg.length);
    framed[0] = msg.length >> 8;
    framed[1] = msg.length & 0xff;
    framed.set(msg, 2);
    g.out.push(framed);
    this.flushGuest(g);
  }

  private flushGuest(g: GuestTcp): void {
    while (g.out.length > 0 && !g.closed) {
      const head = g.out[0];
      const n = g.ep.write(head);
      if (typeof n === 'string') {
        if (n !== 'EAGAIN') this.closeGuest(g);
        return;
      }
      if (n < head.length) {
        g.out[0] = head.subarray(n);
        return;
      }
      g.out.shift();
    }
  }

  private closeGuest(g: GuestTcp): void {
    if (g.closed) return;
    g.closed = true;
    g.idle.cancel();
    this.guests.delete(g);
    g.ep.close();
  }

  private reply(c: Client, m: DnsMessage | Uint8Array): void {
    if (c.kind === 'udp') {
      let bytes: Uint8Array | string;
      if (m instanceof Uint8Array) bytes = m;
      else {
        bytes = encodeDnsForUdp(m, c.maxLen);
        if (typeof bytes !== 'string' && (bytes[2] & 0x02) !== 0 && !m.tc) this.stats.truncatedToClient++;
      }
      if (typeof bytes === 'string') return;
      c.ep.send(bytes, { addr: c.addr, port: c.port });
    } else {
      const bytes = m instanceof Uint8Array ? m : encodeDns(m);
      if (typeof bytes === 'string') return;
      this.sendGuestTcp(c.conn, bytes);
    }
  }

  // ---- one query ----

  private onQuery(raw: Uint8Array, client: Client): void {
    if (this.closed) return;
    this.stats.queries++;
    const q = parseDns(raw);
    if (typeof q === 'string') {
      this.stats.malformed++;
      // RFC 1035 §4.1.1: FORMERR when at least the header is there and it is a query.
      const h = DnsPacket.view(raw);
      if (typeof h !== 'string' && !h.qr) this.reply(client, buildDnsHeaderOnlyError(h, DnsRcode.FORMERR));
      return;
    }
    if (q.qr) {
      this.stats.malformed++;
      return;
    }
    if (q.opcode !== DnsOpcode.QUERY) return this.reply(client, buildDnsErrorResponse(q, DnsRcode.NOTIMP));
    if (q.questions.length !== 1) return this.reply(client, buildDnsErrorResponse(q, DnsRcode.FORMERR));
    if (client.kind === 'udp' && q.edns) client.maxLen = Math.max(DNS_UDP_MAX_LEN, Math.min(q.edns.udpPayloadSize, 4096));
    const name = q.questions[0].name;
    const al = this.opts.allowlist;
    if (al && !al.allowsName(name)) {
      this.stats.denied++;
      this.auditQuery(client, name, 'reject');
      const rcode = this.opts.deny === 'REFUSED' ? DnsRcode.REFUSED : DnsRcode.NXDOMAIN;
      return this.reply(client, buildDnsErrorResponse(q, rcode));
    }
    if (this.inFlight.size >= this.maxInFlight) {
      this.stats.servfail++;
      return this.reply(client, buildDnsErrorResponse(q, DnsRcode.SERVFAIL));
    }
    if (this.opts.auditAllowed) this.auditQuery(client, name, 'accept');
    const upstreamId = this.freshId();
    const wire = raw.slice();
    wire[0] = upstreamId >> 8;
    wire[1] = upstreamId & 0xff;
    const p: Pending = { client, query: q, clientId: q.id, upstreamId, wire, attempt: 0, server: this.opts.upstream[0], ep: null, tcp: null, timer: null, done: false };
    if (client.kind === 'tcp') client.conn.inFlight++;
    this.inFlight.add(p);
    // A query that came over TCP goes upstream over TCP too (its answer may be large).
    if (client.kind === 'tcp' && this.tcp) this.askTcp(p);
    else this.askUdp(p);
  }

  private auditQuery(c: Client, name: string, verdict: 'accept' | 'reject'): void {
    const sink = this.opts.audit;
    if (!sink) return;
    const udp = c.kind === 'udp';
    const from = udp ? c.addr : c.conn.ep.remoteAddr;
    const local = udp ? c.ep.localAddress() : { addr: c.conn.ep.localAddr, port: c.conn.ep.localPort };
    const sport = udp ? c.port : c.conn.ep.remotePort;
    // A client on this very stack (a sandboxed guest, redirected here) is known by its socket.
    const owner = from && this.stack.isLocalAddress(from.unmapV4() ?? from)
      ? (udp ? this.stack.udp.ownerOfLocal(sport) : this.tcp?.ownerOfLocal(sport))
      : undefined;
    sink.record({
      time: this.opts.auditTime ? this.opts.auditTime() : this.stack.clock.now(),
      hook: 'DNS',
      protocol: udp ? 'udp' : 'tcp',
      src: from ? from.key : '',
      dst: local.addr ? local.addr.key : '',
      sport,
      dport: local.port,
      ...(owner?.pid !== undefined ? { pid: owner.pid } : {}),
      ...(owner?.command !== undefined ? { command: owner.command } : {}),
      hostname: name,
      verdict,
      rule: verdict === 'accept' ? 'dns/allowlist:allowed' : `dns/allowlist:${this.opts.deny === 'REFUSED' ? 'refused' : 'nxdomain'}`,
    });
  }

  private freshId(): number {
    for (;;) {
      const id = this.stack.rng.u32() & 0xffff;
      let used = false;
      for (const p of this.inFlight) if (p.upstreamId === id) used = true;
      if (!used) return id;
    }
  }

  private askUdp(p: Pending): void {
    p.server = this.opts.upstream[p.attempt % this.opts.upstream.length];
    if (p.ep) p.ep.close();
    // A fresh ephemeral port per attempt (RFC 5452 §9.2): an off-path spoofer must guess it too.
    const ep = this.stack.udp.endpoint(p.server.family);
    ep.owner = DNS_FORWARDER_OWNER;
    p.ep = ep;
    const r = ep.bind(null, 0) ?? ep.connect(p.server, this.upstreamPort);
    ep.onReadable = () => this.onUpstreamUdp(p, ep);
    ep.onError = () => {
      ep.takeError();
    };
    this.stats.upstreamQueries++;
    const s = r ?? ep.send(p.wire);
    if (typeof s === 'string' && s !== 'EAGAIN') {
      // No route or refused by our own filter: try the next server, or fail now.
      return this.retryOrFail(p);
    }
    p.timer?.cancel();
    p.timer = this.stack.timers.after(this.timeoutMs, () => {
      this.stats.timeouts++;
      this.retryOrFail(p);
    });
  }

  private retryOrFail(p: Pending): void {
    if (p.done) return;
    p.attempt++;
    if (p.attempt < this.attempts) {
      this.stats.retries++;
      this.askUdp(p);
      return;
    }
    this.fail(p);
  }

  private fail(p: Pending): void {
    if (p.done) return;
    this.stats.servfail++;
    this.finish(p);
    this.reply(p.client, buildDnsErrorResponse(p.query, DnsRcode.SERVFAIL));
  }

  private onUpstreamUdp(p: Pending, ep: UdpEndpoint): void {
    for (let d = ep.recv(); typeof d !== 'string'; d = ep.recv()) {
      if (p.done || ep !== p.ep) return;
      // The connected endpoint only takes the server's datagrams; the id and question must match too.
      const m = parseDns(d.data);
      if (typeof m === 'string' || !m.qr || m.id !== p.upstreamId || !sameQuestion(m, p.query)) {
        this.stats.spoofed++;
        continue;
      }
      if (m.tc) {
        this.stats.truncatedFromUpstream++;
        if (this.tcp) {
          p.timer?.cancel();
          p.ep?.close();
          p.ep = null;
          this.askTcp(p);
          return;
        }
      }
      this.answer(p, m, d.data);
      return;
    }
  }

  private askTcp(p: Pending): void {
    const tcp = this.tcp!;
    const ep = tcp.endpoint();
    ep.owner = DNS_FORWARDER_OWNER;
    p.tcp = ep;
    this.stats.upstreamTcpQueries++;
    let buf: Uint8Array = new Uint8Array(0);
    const framed = new Uint8Array(2 + p.wire.length);
    framed[0] = p.wire.length >> 8;
    framed[1] = p.wire.length & 0xff;
    framed.set(p.wire, 2);
    let sent = 0;
    const push = () => {
      while (sent < framed.length) {
        const n = ep.write(framed.subarray(sent));
        if (typeof n === 'string' || n === 0) return;
        sent += n;
      }
    };
    const read = () => {
      for (;;) {
        const r = ep.read();
        if (r === null || (typeof r === 'string' && r !== 'EAGAIN')) return this.fail(p);
        if (typeof r === 'string') break;
        buf = concatBytes([buf, r]);
      }
      if (buf.length < 2) return;
      const len = (buf[0] << 8) | buf[1];
      if (buf.length < 2 + len) return;
      const msg = buf.slice(2, 2 + len);
      const m = parseDns(msg);
      if (typeof m === 'string' || !m.qr || m.id !== p.upstreamId || !sameQuestion(m, p.query)) {
        this.stats.spoofed++;
        return this.fail(p);
      }
      this.answer(p, m, msg);
    };
    ep.on({ onConnected: push, onWritable: push, onReadable: read, onPeerClosed: read, onError: () => this.fail(p) });
    const r = ep.connect(p.server, this.upstreamPort);
    if (r) return this.fail(p);
    p.timer?.cancel();
    p.timer = this.stack.timers.after(this.tcpTimeoutMs, () => {
      this.stats.timeouts++;
      this.fail(p);
    });
  }

  private answer(p: Pending, m: DnsMessage, raw: Uint8Array): void {
    if (p.done) return;
    const al = this.opts.allowlist;
    // Learn before the guest sees the answer: its connect() follows right after.
    if (al && m.rcode === DnsRcode.NOERROR) this.stats.learned += al.learnAnswer(p.query.questions[0].name, m.answers);
    this.finish(p);
    this.stats.answered++;
    const out = raw.slice();
    out[0] = p.clientId >> 8;
    out[1] = p.clientId & 0xff;
    if (p.client.kind === 'udp' && out.length > p.client.maxLen) {
      // The guest's limit is smaller than what upstream sent (TCP answer, or a bigger EDNS size).
      this.reply(p.client, { ...m, id: p.clientId });
      return;
    }
    this.reply(p.client, out);
  }

  private finish(p: Pending): void {
    if (p.done) return;
    p.done = true;
    this.inFlight.delete(p);
    p.timer?.cancel();
    p.ep?.close();
    p.ep = null;
    if (p.tcp) {
      p.tcp.on({});
      p.tcp.close();
      p.tcp = null;
    }
    if (p.client.kind === 'tcp') {
      const g = p.client.conn;
      g.inFlight--;
    }
  }
}

function sameQuestion(a: DnsMessage, q: DnsMessage): boolean {
  if (a.questions.length !== 1 || a.opcode !== q.opcode) return false;
  const x = a.questions[0];
  const y = q.questions[0];
  // RFC 5452 §4.3 (and 0x20 randomisation, draft-vixie-dnsext-dns0x20): names compare case-insensitively here.
  return x.type === y.type && x.class === y.class && x.name.toLowerCase() === y.name.toLowerCase();
}

/**
 * The owner the forwarder's own upstream queries carry, so that rules can tell them from a
 * guest's queries to the same server (which must be redirected to the forwarder, not let by).
 */
export const DNS_FORWARDER_OWNER = { command: 'moat-dns-forwarder' } as const;

export interface DnsRedirectOptions {
  /** Local port the forwarder listens on. Default 53. */
  toPort?: number;
  /** Hooks to install at: PREROUTING (guests behind a NIC), OUTPUT (guest sockets on this stack). Default both. */
  hooks?: readonly ('PREROUTING' | 'OUTPUT')[];
  /**
   * The forwarder's upstream servers: its own queries to them must not be redirected back to it
   * (OUTPUT only; the rules RETURN before the REDIRECT). A guest that sends to one of them
   * directly reaches it, but learns nothing the filter honours: answers are only learned here.
   */
  upstream?: readonly IpAddr[];
}

/**
 * Redirects every DNS query (any destination, UDP and TCP port 53) to the local forwarder:
 * `-t nat -A PREROUTING -p udp --dport 53 -j REDIRECT --to-ports 53` and the same for TCP and
 * OUTPUT, with RETURN rules for the upstream servers first in OUTPUT. Rules are inserted at the
 * top of the nat chains. Returns the rules installed.
 */
export function installDnsRedirect(engine: FilterEngine, opts: DnsRedirectOptions = {}): RuleSpec[] {
  const toPort = opts.toPort ?? DNS_PORT;
  const hooks = opts.hooks ?? ['PREROUTING', 'OUTPUT'];
  const nat = engine.table('nat');
  const installed: RuleSpec[] = [];
  for (const hook of hooks) {
    const rules: RuleSpec[] = [];
    for (const proto of [IpProto.UDP, IpProto.TCP]) {
      if (hook === 'OUTPUT') {
        for (const u of opts.upstream ?? []) {
          // Only the forwarder's own queries: a guest asking the same server is redirected too.
          rules.push({ protocol: { proto, neg: false }, dst: { cidr: IpCidr.of(u, u.family === 4 ? 32 : 128), neg: false }, dport: { range: { lo: DNS_PORT, hi: DNS_PORT }, neg: false }, owner: { command: DNS_FORWARDER_OWNER.command, neg: false }, target: { kind: 'RETURN' }, comment: 'dns forwarder upstream' });
        }
      }
      rules.push({ protocol: { proto, neg: false }, dport: { range: { lo: DNS_PORT, hi: DNS_PORT }, neg: false }, target: { kind: 'REDIRECT', ports: { lo: toPort, hi: toPort } }, comment: 'dns to the forwarder' });
    }
    rules.forEach((r, i) => nat.insert(hook, i + 1, r));
    installed.push(...rules);
  }
  return installed;
}
