// The DNS forwarder in virtual time over the in-process wire, against a small authoritative
// server written here with the wire DNS codec (UDP and TCP, truncating like a pre-EDNS server):
// allowlist decisions without upstream traffic, learned addresses becoming connectable through
// a compiled policy and expiring with their TTL, CNAME chains, TC fallback to TCP, retries,
// SERVFAIL, id rewriting, guest queries over TCP, and the redirect of every port-53 query.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { Stack } from '../../../src/netstack/stack.js';
import { StaticNeighbors } from '../../../src/netstack/nic.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import { TcpProtocol, type TcpEndpoint } from '../../../src/netstack/tcp/index.js';
import { createFilterHooks } from '../../../src/netstack/filter/hooks.js';
import { DnsAllowlist } from '../../../src/netstack/filter/dns-allowlist.js';
import { DnsForwarder, installDnsRedirect } from '../../../src/netstack/dns/forwarder.js';
import { applyPolicyFlags, compilePolicy, createPolicyEngine, emptyPolicy } from '../../../src/kernel/policy/policy.js';
import {
  DnsRcode,
  DnsType,
  DnsClass,
  buildDnsQuery,
  buildDnsResponse,
  encodeDns,
  encodeDnsForUdp,
  parseDns,
  type DnsMessage,
  type DnsRecord,
} from '../../../src/netstack/wire/dns.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';

const ip = (s: string) => IpAddr.parse(s);

function mkStack(clock: VirtualClock, seed: number, neighbors: StaticNeighbors) {
  let tcp!: TcpProtocol;
  const s = new Stack({ clock, rng: new SeededRng(seed), neighbors, transports: (net) => [(tcp = new TcpProtocol(net))] });
  return { s, tcp };
}

const A = (name: string, addr: string, ttl: number): DnsRecord => ({ name, type: DnsType.A, class: DnsClass.IN, ttl, data: { kind: 'a', address: ip(addr) } });
const CNAME = (name: string, to: string, ttl: number): DnsRecord => ({ name, type: DnsType.CNAME, class: DnsClass.IN, ttl, data: { kind: 'cname', name: to } });

const ZONE: Record<string, DnsRecord[]> = {
  'allowed.example': [A('allowed.example', '10.0.0.80', 60)],
  'www.allowed.example': [CNAME('www.allowed.example', 'edge.cdn.net', 300), A('edge.cdn.net', '10.0.0.82', 120)],
  'other.example': [A('other.example', '10.0.0.81', 60)],
  'big.allowed.example': Array.from({ length: 40 }, (_, i) => A('big.allowed.example', `10.0.1.${i + 1}`, 600)),
};

/** An authoritative server: UDP answers cut at 512 bytes (TC), TCP answers whole. */
class Authority {
  udpQueries: DnsMessage[] = [];
  tcpQueries: DnsMessage[] = [];
  /** Queries to ignore (by count) before answering: simulated loss. */
  ignore = 0;
  constructor(
    readonly h: { s: Stack; tcp: TcpProtocol },
    addr: IpAddr,
  ) {
    const u = h.s.udp.endpoint(4);
    if (u.bind(addr, 53)) throw new Error('bind 53');
    u.onReadable = () => {
      for (let d = u.recv(); typeof d !== 'string'; d = u.recv()) {
        const q = parseDns(d.data);
        if (typeof q === 'string') continue;
        this.udpQueries.push(q);
        if (this.ignore > 0) {
          this.ignore--;
          continue;
        }
        const out = encodeDnsForUdp(this.answer(q), 512);
        if (typeof out !== 'string') u.send(out, { addr: d.from, port: d.port });
      }
    };
    const l = h.tcp.endpoint();
    if (l.bind(addr, 53) || l.listen(8)) throw new Error('listen 53');
    l.on({
      onAcceptable: () => {
        for (let c = l.accept(); typeof c !== 'string'; c = l.accept()) this.serveTcp(c);
      },
    });
  }
  private serveTcp(c: TcpEndpoint): void {
    let buf = new Uint8Array(0);
    const onData = () => {
      for (let r = c.read(); r instanceof Uint8Array; r = c.read()) {
        const n = new Uint8Array(buf.length + r.length);
        n.set(buf);
        n.set(r, buf.length);
        buf = n;
      }
      while (buf.length >= 2 && buf.length >= 2 + ((buf[0] << 8) | buf[1])) {
        const len = (buf[0] << 8) | buf[1];
        const q = parseDns(buf.subarray(2, 2 + len));
        buf = buf.slice(2 + len);
        if (typeof q === 'string') continue;
        this.tcpQueries.push(q);
        const out = encodeDns(this.answer(q)) as Uint8Array;
        const framed = new Uint8Array(2 + out.length);
        framed[0] = out.length >> 8;
        framed[1] = out.length & 0xff;
        framed.set(out, 2);
        c.write(framed);
      }
    };
    c.on({ onReadable: onData });
    onData();
  }
  answer(q: DnsMessage): DnsMessage {
    const name = q.questions[0].name.toLowerCase();
    const rrs = ZONE[name];
    if (!rrs) return buildDnsResponse(q, { rcode: DnsRcode.NXDOMAIN, aa: true });
    return buildDnsResponse(q, { answers: rrs, aa: true });
  }
  get total(): number {
    return this.udpQueries.length + this.tcpQueries.length;
  }
}

/** A UDP DNS client on a stack: one query, the parsed answer after running the clock. */
function ask(clock: VirtualClock, s: Stack, server: string, name: string, opts: { id?: number; edns?: number; ms?: number } = {}): DnsMessage | string {
  const ep = s.udp.endpoint(4);
  ep.bind(null, 0);
  const q = encodeDns(buildDnsQuery({ id: opts.id ?? 0x1234, name, type: DnsType.A, ednsUdpPayloadSize: opts.edns }));
  if (typeof q === 'string') return q;
  const r = ep.send(q, { addr: ip(server), port: 53 });
  if (typeof r === 'string') return r;
  for (let i = 0; i < (opts.ms ?? 10000); i++) {
    const d = ep.recv();
    if (typeof d !== 'string') {
      ep.close();
      const m = parseDns(d.data);
      if (typeof m !== 'string') (m as DnsMessage & { from?: string }).from = `${d.from.key}:${d.port}`;
      return m;
    }
    clock.advance(1);
  }
  ep.close();
  return 'timeout';
}

function dial(clock: VirtualClock, tcp: TcpProtocol, dst: string, port: number): TcpEndpoint {
  const c = tcp.endpoint();
  c.connect(ip(dst), port);
  for (let i = 0; i < 3000 && c.stateName !== 'ESTABLISHED' && !c.error; i++) clock.advance(1);
  return c;
}

const addrs = (m: DnsMessage) => m.answers.filter((r) => r.data.kind === 'a').map((r) => (r.data as { address: IpAddr }).address.key);

/**
 * The moat model: guest sockets, the compiled policy and the forwarder on one stack (M); the
 * upstream server U; web servers on W. Every guest DNS query is redirected to the forwarder.
 */
function moat() {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const m = mkStack(clock, 1, neighbors);
  const u = mkStack(clock, 2, neighbors);
  const w = mkStack(clock, 3, neighbors);
  const nm = m.s.addNic(wire.port({ name: 'eth0' }), { addresses: ['10.0.0.1/16'] });
  const nu = u.s.addNic(wire.port({ name: 'eth0' }), { addresses: ['10.0.0.53/16'] });
  const nw = w.s.addNic(wire.port({ name: 'eth0' }), { addresses: ['10.0.0.80/16', '10.0.0.81/16', '10.0.0.82/16'] });
  for (const n of [nm, nu, nw]) neighbors.learn(n);
  // A default route the guest's queries to any resolver take before the redirect moves them.
  m.s.addRoute('0.0.0.0/0', nm, '10.0.0.254');
  const auth = new Authority(u, ip('10.0.0.53'));
  const webs = ['10.0.0.80', '10.0.0.81', '10.0.0.82'].map((a) => {
    const l = w.tcp.endpoint();
    l.bind(ip(a), 80);
    l.listen(8);
    return l;
  });
  const compiled = compilePolicy(applyPolicyFlags(emptyPolicy(), { allow: ['allowed.example:80', '*.allowed.example:80'] }), { dnsServers: [ip('10.0.0.53')] });
  const { engine, allowlist } = createPolicyEngine(compiled, { clock });
  m.s.filter = createFilterHooks(engine, { stack: m.s });
  const fwd = new DnsForwarder(m.s, { listen: [ip('127.0.0.1')], upstream: [ip('10.0.0.53')], allowlist });
  t_ok(fwd.start());
  installDnsRedirect(engine, { upstream: [ip('10.0.0.53')] });
  return { clock, m, u, w, auth, webs, fwd, engine, allowlist };
}

function t_ok(r: unknown): void {
  if (r !== undefined) throw new Error(String(r));
}

test('moat: an allowed name resolves through the redirect and its address becomes connectable; a literal IP never learned is refused; TTL expiry closes it again', (t) => {
  const { clock, m, auth, webs, fwd } = moat();
  // The guest asks a resolver of its choosing (a documentation address): the nat rule sends it to the forwarder.
  const a = ask(clock, m.s, '192.0.2.53', 'allowed.example');
  if (typeof a === 'string') return t.fail(a);
  t.is(a.rcode, DnsRcode.NOERROR);
  t.is(a.id, 0x1234, 'the guest gets its own id back');
  t.deepEqual(addrs(a), ['10.0.0.80']);
  t.is((a as DnsMessage & { from?: string }).from, '192.0.2.53:53', 'the answer appears to come from where the guest sent the query');
  t.is(auth.udpQueries.length, 1);
  t.not(auth.udpQueries[0].id, 0x1234, 'upstream sees a fresh id');

  const ok = dial(clock, m.tcp, '10.0.0.80', 80);
  t.is(ok.stateName, 'ESTABLISHED');
  t.truthy(webs[0].accept() instanceof Object);

  // A literal address the guest never resolved: refused at once, nothing reaches it.
  const lit = dial(clock, m.tcp, '10.0.0.81', 80);
  t.is(lit.stateName, 'CLOSED');
  t.truthy(lit.error);
  t.is(webs[1].accept(), 'EAGAIN');

  // Another allowed name's CNAME chain: the canonical name's address is learned under the asked name.
  const c = ask(clock, m.s, '192.0.2.53', 'www.allowed.example');
  if (typeof c === 'string') return t.fail(c);
  t.deepEqual(addrs(c), ['10.0.0.82']);
  t.is(dial(clock, m.tcp, '10.0.0.82', 80).stateName, 'ESTABLISHED');

  // TTL: 60 s for allowed.example. After it, a new connection is refused again.
  ok.abort();
  clock.advance(61_000);
  const late = dial(clock, m.tcp, '10.0.0.80', 80);
  t.is(late.stateName, 'CLOSED');
  t.truthy(late.error);
  t.true(fwd.stats.learned >= 2);
});

test('moat: a name outside the allowlist gets NXDOMAIN without any upstream query', (t) => {
  const { clock, m, auth, fwd } = moat();
  const before = auth.total;
  const r = ask(clock, m.s, '192.0.2.53', 'other.example');
  if (typeof r === 'string') return t.fail(r);
  t.is(r.rcode, DnsRcode.NXDOMAIN);
  t.is(r.answers.length, 0);
  t.is(auth.total, before, 'upstream never asked');
  t.is(fwd.stats.denied, 1);
  // And the address that name would have had stays closed.
  t.is(dial(clock, m.tcp, '10.0.0.81', 80).stateName, 'CLOSED');
});

/** Client stack C -- resolver stack R (forwarder on 10.0.0.1) -- upstream U (10.0.0.53). */
function separate(opts: { deny?: 'NXDOMAIN' | 'REFUSED'; attempts?: number } = {}) {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const c = mkStack(clock, 1, neighbors);
  const r = mkStack(clock, 2, neighbors);
  const u = mkStack(clock, 3, neighbors);
  const nc = c.s.addNic(wire.port(), { addresses: ['10.0.0.2/24'] });
  const nr = r.s.addNic(wire.port(), { addresses: ['10.0.0.1/24'] });
  const nu = u.s.addNic(wire.port(), { addresses: ['10.0.0.53/24'] });
  for (const n of [nc, nr, nu]) neighbors.learn(n);
  const auth = new Authority(u, ip('10.0.0.53'));
  const { allowlist } = createPolicyEngine(compilePolicy(applyPolicyFlags(emptyPolicy(), { allow: ['allowed.example', '*.allowed.example'] })), { clock });
  const fwd = new DnsForwarder(r.s, { listen: [ip('10.0.0.1')], upstream: [ip('10.0.0.53')], allowlist, deny: opts.deny, attempts: opts.attempts, timeoutMs: 1000 });
  t_ok(fwd.start());
  return { clock, c, r, u, auth, fwd, allowlist };
}

test('REFUSED instead of NXDOMAIN when configured; malformed queries get FORMERR', (t) => {
  const { clock, c, auth, fwd } = separate({ deny: 'REFUSED' });
  const r = ask(clock, c.s, '10.0.0.1', 'evil.example');
  if (typeof r === 'string') return t.fail(r);
  t.is(r.rcode, DnsRcode.REFUSED);
  t.is(auth.total, 0);
  const ep = c.s.udp.endpoint(4);
  ep.bind(null, 0);
  ep.send(Uint8Array.of(0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63), { addr: ip('10.0.0.1'), port: 53 });
  clock.advance(5);
  const d = ep.recv();
  if (typeof d === 'string') return t.fail(d);
  t.is(d.data[0], 0xab);
  t.is(d.data[3] & 0x0f, DnsRcode.FORMERR);
  t.is(fwd.stats.malformed, 1);
});

test('a truncated upstream answer is asked again over TCP; the client with EDNS gets it whole, one without gets TC', (t) => {
  const { clock, c, auth, fwd } = separate();
  const r = ask(clock, c.s, '10.0.0.1', 'big.allowed.example', { edns: 4096 });
  if (typeof r === 'string') return t.fail(r);
  t.is(r.rcode, DnsRcode.NOERROR);
  t.is(r.answers.length, 40);
  t.false(r.tc);
  t.is(auth.udpQueries.length, 1);
  t.is(auth.tcpQueries.length, 1);
  t.is(auth.udpQueries[0].id, auth.tcpQueries[0].id);
  t.is(fwd.stats.truncatedFromUpstream, 1);
  const small = ask(clock, c.s, '10.0.0.1', 'big.allowed.example');
  if (typeof small === 'string') return t.fail(small);
  t.true(small.tc);
  t.is(small.answers.length, 0);
});

test('a guest query over TCP is answered over TCP (length-prefixed) and goes upstream over TCP', (t) => {
  const { clock, c, auth, allowlist } = separate();
  const conn = dial(clock, c.tcp, '10.0.0.1', 53);
  t.is(conn.stateName, 'ESTABLISHED');
  const q = encodeDns(buildDnsQuery({ id: 7, name: 'big.allowed.example', type: DnsType.A })) as Uint8Array;
  const framed = new Uint8Array(2 + q.length);
  framed[1] = q.length;
  framed.set(q, 2);
  conn.write(framed);
  let buf = new Uint8Array(0);
  for (let i = 0; i < 2000; i++) {
    const r = conn.read();
    if (r instanceof Uint8Array) {
      const n = new Uint8Array(buf.length + r.length);
      n.set(buf);
      n.set(r, buf.length);
      buf = n;
    } else clock.advance(1);
    if (buf.length >= 2 && buf.length >= 2 + ((buf[0] << 8) | buf[1])) break;
  }
  const m = parseDns(buf.subarray(2));
  if (typeof m === 'string') return t.fail(m);
  t.is(m.id, 7);
  t.is(m.answers.length, 40);
  t.is(auth.tcpQueries.length, 1);
  t.is(auth.udpQueries.length, 0);
  t.is(allowlist.hostnameOf(ip('10.0.1.40')), 'big.allowed.example');
});

test('an unanswered query is retried after the timeout with the same id; with every attempt lost the client gets SERVFAIL', (t) => {
  const one = separate();
  one.auth.ignore = 1;
  const r = ask(one.clock, one.c.s, '10.0.0.1', 'allowed.example');
  if (typeof r === 'string') return t.fail(r);
  t.is(r.rcode, DnsRcode.NOERROR);
  t.is(one.auth.udpQueries.length, 2);
  t.is(one.auth.udpQueries[0].id, one.auth.udpQueries[1].id);
  t.is(one.fwd.stats.retries, 1);

  const all = separate({ attempts: 2 });
  all.auth.ignore = 10;
  const s = ask(all.clock, all.c.s, '10.0.0.1', 'allowed.example');
  if (typeof s === 'string') return t.fail(s);
  t.is(s.rcode, DnsRcode.SERVFAIL);
  t.is(all.auth.udpQueries.length, 2);
  t.is(all.fwd.stats.timeouts, 2);
});

test('TTL expiry removes a learned address from the allow set (clamped to the policy minimum)', (t) => {
  const { clock, c, allowlist } = separate();
  const r = ask(clock, c.s, '10.0.0.1', 'allowed.example');
  if (typeof r === 'string') return t.fail(r);
  const set = allowlist.rules.find((x) => x.patterns.includes('allowed.example'))!.set;
  t.true(set.has(ip('10.0.0.80')));
  clock.advance(59_000);
  t.true(set.has(ip('10.0.0.80')));
  clock.advance(2_000);
  t.false(set.has(ip('10.0.0.80')));
  // A direct learn with a TTL under the policy's minimum (30 s) lasts the minimum.
  const al = new DnsAllowlist(allowlist.rules, { defaultAllow: false, minTtlS: 30 });
  al.learn('allowed.example', [ip('10.0.0.99')], 1);
  clock.advance(29_000);
  t.true(set.has(ip('10.0.0.99')));
  clock.advance(2_000);
  t.false(set.has(ip('10.0.0.99')));
});
