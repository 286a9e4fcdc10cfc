// The forwarder under hostile input: mutated guest queries and mutated upstream answers never
// throw, never get a forged answer through (wrong id or question), and every guest query ends
// with a reply (the real answer, an error code, or SERVFAIL after the retries).

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { Stack } from '../../../src/netstack/stack.js';
import { StaticNeighbors } from '../../../src/netstack/nic.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import { DnsForwarder } from '../../../src/netstack/dns/forwarder.js';
import { DnsAllowlist } from '../../../src/netstack/filter/dns-allowlist.js';
import { SetRegistry } from '../../../src/netstack/filter/addrset.js';
import { DnsClass, DnsRcode, DnsType, buildDnsQuery, buildDnsResponse, encodeDns, parseDns } from '../../../src/netstack/wire/dns.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';

const ip = (s: string) => IpAddr.parse(s);

function net() {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const mk = (seed: number, addr: string) => {
    const s = new Stack({ clock, rng: new SeededRng(seed), neighbors });
    neighbors.learn(s.addNic(wire.port(), { addresses: [addr] }));
    return s;
  };
  const c = mk(1, '10.0.0.2/24');
  const r = mk(2, '10.0.0.1/24');
  const u = mk(3, '10.0.0.53/24');
  const sets = new SetRegistry(clock);
  const allowlist = new DnsAllowlist([{ patterns: ['*.example', 'example'], verdict: 'allow', set: sets.create('ok') }], { defaultAllow: false });
  const fwd = new DnsForwarder(r, { listen: [ip('10.0.0.1')], upstream: [ip('10.0.0.53')], allowlist, timeoutMs: 500, attempts: 2, tcp: null });
  if (fwd.start()) throw new Error('start');
  return { clock, c, r, u, fwd, sets };
}

function mutate(rng: SeededRng, b: Uint8Array): Uint8Array {
  const out = b.slice(0, Math.max(0, b.length - (rng.u32() % 4 === 0 ? rng.u32() % Math.max(1, b.length) : 0)));
  const flips = 1 + (rng.u32() % 4);
  for (let i = 0; i < flips && out.length > 0; i++) out[rng.u32() % out.length] = rng.u32() & 0xff;
  return out;
}

test('mutated guest queries: no exception, a reply or a counted drop for each', (t) => {
  const { clock, c, fwd } = net();
  const rng = new SeededRng(99);
  const ep = c.udp.endpoint(4);
  ep.bind(null, 0);
  const base = encodeDns(buildDnsQuery({ id: 1, name: 'www.example', type: DnsType.A })) as Uint8Array;
  for (let i = 0; i < 500; i++) ep.send(mutate(rng, base), { addr: ip('10.0.0.1'), port: 53 });
  clock.advance(5000);
  let replies = 0;
  for (let d = ep.recv(); typeof d !== 'string'; d = ep.recv()) replies++;
  t.is(fwd.stats.queries, 500);
  t.true(replies > 0);
  // Every query was either answered (error codes included) or dropped as malformed/a response.
  t.true(replies + fwd.stats.malformed >= 500 - fwd.stats.upstreamQueries);
  t.is(c.stats.get('udp.dropped.bad-checksum'), 0);
});

test('mutated upstream answers: forged ids or questions are ignored, guests get the real answer or SERVFAIL', (t) => {
  const { clock, c, u, fwd, sets } = net();
  const rng = new SeededRng(7);
  const srv = u.udp.endpoint(4);
  srv.bind(null, 53);
  srv.onReadable = () => {
    for (let d = srv.recv(); typeof d !== 'string'; d = srv.recv()) {
      const q = parseDns(d.data);
      if (typeof q === 'string') continue;
      const good = encodeDns(
        buildDnsResponse(q, { answers: [{ name: q.questions[0].name, type: DnsType.A, class: DnsClass.IN, ttl: 60, data: { kind: 'a', address: ip('10.9.9.9') } }] }),
      ) as Uint8Array;
      // Several forgeries first, then (mostly) the real answer.
      for (let k = 0; k < 3; k++) srv.send(mutate(rng, good), { addr: d.from, port: d.port });
      if (rng.u32() % 4 !== 0) srv.send(good, { addr: d.from, port: d.port });
    }
  };
  const ep = c.udp.endpoint(4);
  ep.bind(null, 0);
  const N = 100;
  for (let i = 0; i < N; i++) ep.send(encodeDns(buildDnsQuery({ id: i, name: `h${i}.example`, type: DnsType.A })) as Uint8Array, { addr: ip('10.0.0.1'), port: 53 });
  clock.advance(10_000);
  const seen = new Set<number>();
  let ok = 0;
  for (let d = ep.recv(); typeof d !== 'string'; d = ep.recv()) {
    const m = parseDns(d.data);
    if (typeof m === 'string') return t.fail('the forwarder sent something unparsable');
    t.false(seen.has(m.id), 'one reply per query');
    seen.add(m.id);
    // A forgery that kept the id and question is indistinguishable from the server's own
    // (odd flags and all); what matters is that it answers this question.
    t.is(m.questions[0]?.name, `h${m.id}.example`);
    if (m.rcode === DnsRcode.NOERROR) {
      ok++;
    }
  }
  t.is(seen.size, N, 'every query got exactly one reply');
  t.true(ok > N / 2);
  t.true(fwd.stats.spoofed > 0);
  t.true(sets.get('ok')!.has(ip('10.9.9.9')));
});
