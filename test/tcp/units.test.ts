import test from 'ava';
import { NewReno } from '../../src/netstack/tcp/congestion/newreno.js';
import { Cubic, cubicState } from '../../src/netstack/tcp/congestion/cubic.js';
import { RttEstimator } from '../../src/netstack/tcp/rtt.js';
import { Reassembly } from '../../src/netstack/tcp/reassembly.js';
import { Scoreboard } from '../../src/netstack/tcp/scoreboard.js';
import { ByteQueue } from '../../src/netstack/tcp/bytequeue.js';
import { IsnGenerator, halfSipHash } from '../../src/netstack/tcp/isn.js';
import { SeededRng } from '../../src/netstack/random.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { decodeSegment, encodeSegment } from '../../src/netstack/tcp/codec.js';
import { emptySegment, ACK, SYN } from '../../src/netstack/tcp/segment.js';

const MSS = 1000;

test('NewReno: slow start, congestion avoidance, loss and RTO (RFC 5681)', (t) => {
  const c = new NewReno(MSS);
  t.is(c.cwnd, 10 * MSS); // RFC 6928 IW10
  c.onAck(MSS, 0, 10, 0);
  t.is(c.cwnd, 11 * MSS);
  c.onAck(5 * MSS, 0, 10, 0);
  t.is(c.cwnd, 13 * MSS, 'ABC limit L = 2*SMSS');
  c.onCongestionEvent(0, 20 * MSS);
  t.is(c.ssthresh, 10 * MSS);
  t.is(c.cwnd, 10 * MSS);
  // congestion avoidance: one MSS per window of acked bytes
  for (let i = 0; i < 10; i++) c.onAck(MSS, 0, 10, 0);
  t.is(c.cwnd, 11 * MSS);
  c.onRto(0, 4 * MSS);
  t.is(c.cwnd, MSS);
  t.is(c.ssthresh, 2 * MSS);
});

test('CUBIC: beta 0.7 reduction, fast convergence, concave then convex growth (RFC 9438)', (t) => {
  const c = new Cubic(MSS);
  c.cwnd = 100 * MSS;
  c.onCongestionEvent(0, 100 * MSS);
  t.is(c.cwnd, 70 * MSS);
  t.is(cubicState(c).wMax, 100);
  // K = cbrt(W_max * (1 - beta) / C) = cbrt(30 / 0.4)
  c.onAck(MSS, 1000, 0, 0);
  t.true(Math.abs(cubicState(c).k - Math.cbrt(30 / 0.4)) < 1e-9);
  // grow for a while with 100 ms RTT: approaches W_max around t = K, then beyond
  let now = 1000;
  const samples: number[] = [];
  for (let s = 0; s < 80; s++) {
    const acks = Math.floor(c.cwnd / MSS);
    for (let i = 0; i < acks; i++) c.onAck(MSS, now, 100, 0);
    now += 100;
    samples.push(c.cwnd / MSS);
  }
  const atK = samples[Math.round(cubicState(c).k * 10)];
  t.true(atK > 95 && atK < 105, `near W_max at K: ${atK}`);
  t.true(samples[samples.length - 1] > 110, 'convex region probes beyond W_max');
  // fast convergence: a second loss below W_max lowers W_max further
  const before = c.cwnd / MSS;
  c.cwnd = 90 * MSS;
  c.onCongestionEvent(now, 0);
  t.true(cubicState(c).wMax < 90 && before > 0);
  c.onRto(now, 0);
  t.is(c.cwnd, MSS);
});

test('RTT estimator follows RFC 6298 with the Linux-style floor and backoff cap', (t) => {
  const r = new RttEstimator();
  t.is(r.rto, 1000);
  r.sample(100);
  t.is(r.srtt, 100);
  t.is(r.rttvar, 50);
  t.is(r.rto, 100 + 200);
  r.sample(200);
  t.is(r.srtt, 112.5);
  t.is(r.rttvar, 0.75 * 50 + 0.25 * 100);
  t.is(r.rto, 112.5 + 250);
  for (let i = 0; i < 20; i++) r.backOff();
  t.is(r.rto, 120_000);
  r.sample(100);
  t.is(r.backoff, 0);
});

test('reassembly trims overlaps, drains in order, caps memory, reports SACK blocks most recent first', (t) => {
  const r = new Reassembly(10_000);
  const d = (n: number, v: number) => new Uint8Array(n).fill(v);
  const base = 0xfffffff0; // wrap inside the test
  t.is(r.insert((base + 100) >>> 0, d(100, 1), base), 100);
  t.is(r.insert((base + 300) >>> 0, d(100, 3), base), 100);
  t.is(r.insert((base + 150) >>> 0, d(100, 2), base), 50, 'only the new part is kept');
  t.is(r.insert((base + 100) >>> 0, d(50, 9), base), 0, 'pure duplicate');
  // the block holding the latest arrival (base+150, merged into [100, 250)) comes first
  t.deepEqual(r.sackBlocks(base, 4), [(base + 100) >>> 0, (base + 250) >>> 0, (base + 300) >>> 0, (base + 400) >>> 0]);
  r.insert((base + 400) >>> 0, d(10, 4), base);
  t.deepEqual(r.sackBlocks(base, 1), [(base + 300) >>> 0, (base + 410) >>> 0]);
  const out: Uint8Array[] = [];
  let nxt = r.drain(base, (x) => out.push(x));
  t.is(nxt, base, 'hole at the front');
  nxt = r.drain((base + 100) >>> 0, (x) => out.push(x));
  t.is(nxt, (base + 250) >>> 0);
  t.deepEqual(out.map((x) => [x.length, x[0]]), [[100, 1], [50, 2]]);
  t.is(r.insert((base + 5000) >>> 0, d(9_950, 0), base), -1, 'over the cap');
  t.is(r.bytes, 110);
  t.is(r.dropsOverCap, 1);
});

test('scoreboard: SACK marking, IsLost with DupThresh, pipe, D-SACK, partial ACK', (t) => {
  const sb = new Scoreboard();
  for (let i = 0; i < 10; i++) sb.add(1000 + i * 100, 100, 0, i);
  t.is(sb.pipe(), 1000);
  sb.applySack([1200, 1500], 1000, 2000); // segments 2,3,4 sacked
  t.is(sb.sackedCount, 3);
  t.is(sb.markLost(100), 2, 'segments 0 and 1 have 3 sacked segments above');
  t.is(sb.pipe(), 1000 - 300 - 200);
  const s0 = sb.nextLost()!;
  t.is(s0.seq, 1000);
  sb.markRetransmitted(s0, 20);
  t.is(sb.pipe(), 600);
  t.is(sb.nextLost()!.seq, 1100);
  sb.applySack([1000, 1100, 1200, 1500], 1000, 2000); // first block inside the second: D-SACK? no, it is below
  const res = { acked: 0, rttXmit: -1, ackedRetransmitted: false, ctlAcked: 0 };
  sb.ack(1150, res);
  t.is(res.acked, 150);
  t.is(sb.first()!.seq, 1150);
  t.is(sb.first()!.len, 50);
  const before = sb.dsacks;
  sb.applySack([1000, 1100], 1150, 2000);
  t.is(sb.dsacks, before + 1, 'a block below SND.UNA is a D-SACK (RFC 2883)');
});

test('byte queue keeps views when contiguous and copies across blocks', (t) => {
  const q = new ByteQueue();
  const a = new Uint8Array(40_000).map((_, i) => i & 0xff);
  q.push(a.subarray(0, 1000));
  q.push(a.subarray(1000));
  t.is(q.length, 40_000);
  t.deepEqual(q.peek(100, 500), a.subarray(100, 600));
  t.deepEqual(q.peek(16_000, 1000), a.subarray(16_000, 17_000));
  q.drop(17_500);
  t.deepEqual(q.read(100), a.subarray(17_500, 17_600));
  t.deepEqual(q.read(100_000), a.subarray(17_600));
  t.is(q.length, 0);
  t.is(q.allocated, 0);
});

test('ISNs: keyed per 4-tuple and advancing with the 4 µs clock (RFC 6528)', (t) => {
  const g = new IsnGenerator(new SeededRng(1));
  const x = IpAddr.parse('10.0.0.1');
  const y = IpAddr.parse('10.0.0.2');
  const i1 = g.isn(0, x, 1000, y, 80);
  const i2 = g.isn(0, x, 1001, y, 80);
  t.not(i1, i2);
  t.is((g.isn(1, x, 1000, y, 80) - i1) >>> 0, 250, '1 ms = 250 ticks of 4 µs');
  const g2 = new IsnGenerator(new SeededRng(2));
  t.not(g2.isn(0, x, 1000, y, 80), i1, 'another key, another sequence');
  // HalfSipHash-2-4 reference vector (key 00..07, empty message) from the SipHash authors
  t.is(halfSipHash(0x03020100, 0x07060504, []), 0x5b9f35a9);
});

test('codec round trip through wire/tcp.ts with every option', (t) => {
  const x = IpAddr.parse('10.0.0.1');
  const y = IpAddr.parse('10.0.0.2');
  const s = { ...emptySegment(), srcPort: 1, dstPort: 2, seq: 0xffffffff, ack: 5, flags: SYN | ACK, window: 1234, mss: 1460, wscale: 7, sackPermitted: true, hasTs: true, tsVal: 1, tsEcr: 2 };
  const h = encodeSegment(s, x, y, false);
  const back = decodeSegment(h, x, y, false);
  t.not(typeof back, 'string');
  t.like(back as object, { seq: 0xffffffff, ack: 5, mss: 1460, wscale: 7, sackPermitted: true, hasTs: true, tsVal: 1, tsEcr: 2, window: 1234 });
  const s2 = { ...emptySegment(), flags: ACK, sack: [1, 2, 3, 4, 5, 6], hasTs: true, tsVal: 9, tsEcr: 8, payload: new Uint8Array([1, 2, 3]) };
  const h2 = encodeSegment(s2, x, y, false);
  const whole = new Uint8Array(h2.length + 3);
  whole.set(h2);
  whole.set([1, 2, 3], h2.length);
  const b2 = decodeSegment(whole, x, y, false);
  t.like(b2 as object, { sack: [1, 2, 3, 4, 5, 6] });
  whole[whole.length - 1] ^= 1;
  t.is(decodeSegment(whole, x, y, false), 'bad-checksum');
});

test('scoreboard counters match the definitions under random operations', (t) => {
  const rng = new SeededRng(3);
  const sb = new Scoreboard();
  let una = 5000;
  let nxt = 5000;
  let now = 0;
  const res = { acked: 0, rttXmit: -1, ackedRetransmitted: false, ctlAcked: 0 };
  for (let step = 0; step < 20_000; step++) {
    now += 1;
    sb.now = now;
    sb.minRtt = 5;
    const op = rng.u32() % 8;
    if (op <= 2) {
      const len = 1 + (rng.u32() % 1000);
      sb.add(nxt, len, 0, now);
      nxt += len;
    } else if (op === 3 && !sb.empty) {
      const a = una + (rng.u32() % Math.max(1, Math.min(3000, nxt - una)));
      sb.ack(a, res);
      una = Math.max(una, sb.first() ? sb.first()!.seq : a);
      if (sb.empty) una = nxt;
    } else if (op === 4 && !sb.empty) {
      const l = una + (rng.u32() % Math.max(1, nxt - una));
      const r = l + (rng.u32() % 5000);
      sb.applySack([l, Math.min(r, nxt)], una, nxt);
    } else if (op === 5) {
      sb.markLost(500);
      sb.markLostRack(now, 10);
    } else if (op === 6) {
      const s = sb.nextLost();
      if (s) sb.markRetransmitted(s, now);
    } else if (rng.u32() % 50 === 0) {
      sb.markAllLost();
    }
    if (sb.pipe() !== sb.pipeSlow()) return t.fail(`step ${step}: pipe ${sb.pipe()} != ${sb.pipeSlow()}`);
    let lost = 0;
    let sacked = 0;
    for (let i = sb.head; i < sb.q.length; i++) {
      if (sb.q[i].lost) lost++;
      if (sb.q[i].sacked) sacked++;
    }
    if (lost !== sb.lostCount || sacked !== sb.sackedCount) return t.fail(`step ${step}: counts ${lost}/${sb.lostCount} ${sacked}/${sb.sackedCount}`);
    const first = sb.nextLost();
    for (let i = sb.head; i < sb.q.length; i++) {
      const s = sb.q[i];
      if (s.lost && !s.rtxOut && !s.sacked) {
        if (first !== s) return t.fail(`step ${step}: nextLost missed seq ${s.seq}`);
        break;
      }
    }
  }
  t.pass();
});

test('HyStart++ in CUBIC: an RTT rise within slow start enters CSS, five rounds later congestion avoidance (RFC 9406)', (t) => {
  const c = new Cubic(MSS);
  const round = (rtt: number) => {
    c.onRoundStart(0);
    for (let i = 0; i < 10; i++) c.onRttSample(rtt, 0);
  };
  round(20);
  round(20);
  t.false(c.hystart.inCss);
  round(23); // 3 ms more than the last round: below the 4 ms threshold
  t.false(c.hystart.inCss);
  round(27); // 23 + max(4, 23/8) = 27 <= 27: the queue is building
  t.true(c.hystart.inCss);
  const before = c.cwnd;
  c.onAck(MSS, 0, 20, 100 * MSS);
  t.is(c.cwnd - before, MSS / 4, 'CSS grows at a quarter of slow start');
  for (let i = 0; i < 4; i++) round(27);
  t.is(c.ssthresh, Infinity);
  round(27);
  t.is(c.ssthresh, c.cwnd, 'CSS_ROUNDS done: ssthresh = cwnd');
});
