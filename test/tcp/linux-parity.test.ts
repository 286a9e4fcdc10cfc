// Behaviours where moat once differed from Linux, pinned below the script level: the paths the
// packetdrill-style scripts in test/scripts/ do not reach (a FIN waiting out of order, GSO
// aggregates, the scoreboard's re-cut, the path-MTU cache's floor and lock).

import test from 'ava';
import { TestNet } from './helpers/net.js';
import { craft } from './helpers/craft.js';
import { connectPair, pattern } from './helpers/apps.js';
import { ACK, FIN, PSH } from '../../src/netstack/tcp/segment.js';
import { Scoreboard } from '../../src/netstack/tcp/scoreboard.js';
import { seqAdd } from '../../src/netstack/wire/seq.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import type { TraceEntry } from './helpers/net.js';
import { LINUX_MIN_PMTU, MIN_MTU_V4, PmtuCache } from '../../src/netstack/pmtu.js';
import { Stack } from '../../src/netstack/stack.js';
import { VirtualClock } from '../../src/netstack/clock.js';

/** What 10.0.0.1 put on the wire (a blackholed link records it as dropped). */
const fromA = (e: TraceEntry) => (e.event === 'sent' || e.event === 'dropped') && e.from.startsWith('10.0.0.1:');

test('data that fills the hole before an out-of-order FIN draws one ACK covering data and FIN', (t) => {
  const net = new TestNet(3);
  const a = net.addHost('10.0.0.1', { timestamps: false });
  const b = net.addHost('10.0.0.2', { timestamps: false });
  const { client } = connectPair(net, a, b);
  net.blackhole(a, b); // the real peer must not answer what we inject in its name
  net.trace = [];
  const base = client.rcvNxt;
  const seg = (off: number, len: number, flags: number) =>
    craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: seqAdd(base, off), ack: client.sndNxt, flags, payload: pattern(len, off) });
  net.inject(a, b.addr, seg(100, 100, ACK | PSH | FIN));
  const afterOoo = net.trace.filter(fromA).length;
  t.is(afterOoo, 1, 'out-of-order data is acknowledged at once (RFC 5681 §4.2)');
  net.inject(a, b.addr, seg(0, 100, ACK));
  const acks = net.trace.filter(fromA).slice(afterOoo);
  t.deepEqual(
    acks.map((e) => [e.flags, e.ack]),
    [[ACK, seqAdd(base, 201)]],
    'one ACK for the 200 bytes and the FIN, none for the data alone or repeated',
  );
  t.is(client.stateName, 'CLOSE_WAIT');
  const got = client.read();
  t.true(got instanceof Uint8Array && got.length === 200);
});

test('a retransmitted GSO aggregate segment carries PSH only if it had it: the last one', (t) => {
  const net = new TestNet(5);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  a.checksumOffload = true;
  a.gsoMaxSize = 65536;
  const { client, server } = connectPair(net, a, b);
  net.blackhole(a, b);
  net.trace = [];
  const mss = client.mss;
  t.is(client.write(pattern(6 * mss)), 6 * mss);
  net.run(1);
  t.true(a.gsoAggregates >= 1, 'the data left as an aggregate');
  net.blackhole(a, b, false);
  let got = 0;
  t.true(
    net.runUntil(() => {
      for (let r = server.read(); r instanceof Uint8Array; r = server.read()) got += r.length;
      return got === 6 * mss;
    }, 60_000),
  );
  const data = net.trace.filter((e) => fromA(e) && e.len > 0);
  const firstSends = data.slice(0, 6);
  const end = seqAdd(firstSends[0].seq, 6 * mss);
  const resends = data.slice(6);
  t.true(resends.length >= 6, `every segment went again after the loss (${resends.length})`);
  t.true(resends.some((e) => seqAdd(e.seq, e.len) !== end), 'some resent segments are not the last');
  for (const e of [...firstSends, ...resends]) {
    const last = seqAdd(e.seq, e.len) === end;
    t.is((e.flags & PSH) !== 0, last, `seq ${e.seq} len ${e.len}: PSH ${last ? 'on the last segment' : 'absent'}`);
  }
});

test('the scoreboard re-cuts a segment with PSH and FIN on the second piece (Linux tcp_fragment)', (t) => {
  const sb = new Scoreboard();
  const s = sb.add(1000, 1461, PSH | FIN, 0);
  sb.split(s, 512);
  const [x, y] = [sb.first()!, sb.last()!];
  t.deepEqual([x.seq, x.len, x.ctl], [1000, 512, 0]);
  t.deepEqual([y.seq, y.len, y.ctl], [1512, 949, PSH | FIN]);
  const plain = sb.add(2461, 1000, 0, 0);
  sb.split(plain, 400);
  t.deepEqual(sb.q.slice(sb.head).map((e) => e.ctl), [0, PSH | FIN, 0, 0]);
});

test('PmtuCache: an IPv4 value below minPmtu holds the path at min(current, minPmtu) and locks it; IPv6 floors at 1280', (t) => {
  let now = 0;
  const c = new PmtuCache(() => now, { minPmtu: LINUX_MIN_PMTU, expiryMs: 1000 });
  const d = IpAddr.parse('192.0.2.1');
  t.is(c.learn(d, 1400, 1500), 1400);
  t.false(c.locked(d));
  t.is(c.learn(d, 400, 1500), 552, 'not below net.ipv4.route.min_pmtu');
  t.true(c.locked(d));
  t.is(c.learn(d, 68, 1500), 552, 'a second forged message changes nothing');
  t.is(c.learn(IpAddr.parse('192.0.2.2'), 500, 1500), 552, 'a first message below the floor');
  // A path already below the floor (a small link) is not raised to it.
  t.is(c.learn(IpAddr.parse('192.0.2.3'), 300, 500), 500, 'min(link MTU, floor)');
  // At the floor exactly, or above it, nothing is locked.
  const e = IpAddr.parse('192.0.2.4');
  t.is(c.learn(e, 552, 1500), 552);
  t.false(c.locked(e));
  t.is(c.learn(IpAddr.parse('2001:db8::1'), 600, 1500), 1280, 'RFC 8200 floor, whatever minPmtu says');
  now = 1001;
  t.is(c.get(d), null);
  t.false(c.locked(d), 'the lock expires with the value');
  // A bare cache keeps RFC 791's floor; the option is checked.
  t.is(new PmtuCache(() => 0).learn(d, 100, 1500), 100);
  t.is(new PmtuCache(() => 0).minPmtu, MIN_MTU_V4);
  t.throws(() => new PmtuCache(() => 0, { minPmtu: 67 }), { instanceOf: RangeError });
});

test('Stack: the path-MTU floor is a stack setting, 552 by default as Linux', (t) => {
  const clock = new VirtualClock();
  const dflt = new Stack({ clock, loopback: false });
  t.is(dflt.pmtu.minPmtu, LINUX_MIN_PMTU);
  const d = IpAddr.parse('198.51.100.7');
  t.is(dflt.pmtu.learn(d, 400, 1500), 552);
  const lowered = new Stack({ clock, loopback: false, pmtu: { minPmtu: 296, expiryMs: 5000 } });
  t.is(lowered.pmtu.minPmtu, 296);
  t.is(lowered.pmtu.learn(d, 400, 1500), 400);
  dflt.close();
  lowered.close();
});
