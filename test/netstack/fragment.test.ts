import test from 'ava';
import { pair, routed, ip, pattern } from './topo.js';
import { ImpairedLink } from '../../src/netstack/links/impairment.js';
import { writeFragmentHeader, writeIpv6Header } from '../../src/netstack/ipv6.js';
import { writeIpv4Header } from '../../src/netstack/ipv4.js';
import { transportChecksum } from '../../src/netstack/wire/checksum.js';
import type { Nic } from '../../src/netstack/nic.js';
import { Reassembler, fragmentRanges } from '../../src/netstack/fragment.js';
import { TimerQueue } from '../../src/netstack/timers.js';
import { VirtualClock } from '../../src/netstack/clock.js';

for (const family of [4, 6] as const) {
  test(`64 KiB UDP datagrams v${family} fragmented and reassembled under 5% loss and reordering`, (t) => {
    const impair = { loss: 0.05, reorder: 0.2, reorderDelayMs: 0.5, jitterMs: 0.2, duplicate: 0.01 };
    let la: ImpairedLink | null = null;
    let lb: ImpairedLink | null = null;
    const { clock, a, b } = pair({
      wrapA: (l, c) => (la = new ImpairedLink(l, c, { ...impair, seed: 11 })),
      wrapB: (l, c) => (lb = new ImpairedLink(l, c, { ...impair, seed: 12 })),
    });
    const size = family === 4 ? 65507 : 65527; // the largest UDP payloads of each family
    const srv = b.udp.endpoint(family);
    srv.bind(null, 7);
    const cli = a.udp.endpoint(family);
    const dst = ip(family === 4 ? '10.0.0.2' : 'fd00::2');
    // One way A -> B, then the answer B -> A; retry each at the application level.
    const payload = pattern(size, 3);
    let got: Uint8Array | null = null;
    let tries = 0;
    for (; tries < 300 && !got; tries++) {
      t.is(cli.send(payload, { addr: dst, port: 7 }), size);
      clock.advance(200);
      const d = srv.recv();
      if (typeof d !== 'string') got = d.data;
    }
    if (!got) return t.fail(`nothing got through in ${tries} tries`);
    t.deepEqual(got, payload);
    const reply = pattern(size, 4);
    let back: Uint8Array | null = null;
    const d0 = srv.peek();
    void d0;
    for (let i = 0; i < 300 && !back; i++) {
      srv.send(reply, { addr: family === 4 ? ip('10.0.0.1') : ip('fd00::1'), port: cli.localAddress().port });
      clock.advance(200);
      const d = cli.recv();
      if (typeof d !== 'string') back = d.data;
    }
    if (!back) return t.fail('no reply got through');
    t.deepEqual(back, reply);
    const frag = `ipv${family}.frag.`;
    t.true(a.stats.get(`${frag}created`) >= 45, 'each datagram went out in ~45 fragments');
    t.true(b.stats.get(`${frag}reassembled`) >= 1);
    t.true(la!.counters.lost + lb!.counters.lost > 0, 'frames were actually lost');
    t.true(la!.counters.reordered + lb!.counters.reordered > 0, 'and reordered');
    t.log(`v${family}: ${tries} tries; lost ${la!.counters.lost + lb!.counters.lost}; B timeouts ${b.stats.get(`${frag}dropped.timeout`)}`);
    // Incomplete datagrams expire (RFC 8200 §4.5 60 s, Linux 30 s for v4) and free their memory.
    clock.advance(61_000);
    t.true(b.stats.get(`${frag}dropped.timeout`) >= 1, 'the incomplete ones timed out');
  });
}

/** Builds an IPv6 fragment frame from A (fd00::1) to B (fd00::2) carrying `data` at `off`. */
function v6Fragment(na: Nic, nb: Nic, ident: number, off: number, more: boolean, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 40 + 8 + data.length);
  f.set(nb.mac, 0);
  f.set(na.mac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  writeIpv6Header(f, 14, { trafficClass: 0, flowLabel: 0, payloadLen: 8 + data.length, nextHeader: 44, hopLimit: 64, src: ip('fd00::1'), dst: ip('fd00::2') });
  writeFragmentHeader(f, 54, 17, off, more, ident);
  f.set(data, 62);
  return f;
}

/** A UDP datagram (header + data) from fd00::1:5555 to fd00::2:7 with a correct checksum. */
function udp6(data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  u[0] = 0x15;
  u[1] = 0xb3;
  u[3] = 7;
  u[4] = u.length >> 8;
  u[5] = u.length & 0xff;
  u.set(data, 8);
  const c = transportChecksum(ip('fd00::1'), ip('fd00::2'), 17, u);
  u[6] = c >> 8;
  u[7] = c & 0xff;
  return u;
}

test('overlapping IPv6 fragments are dropped and counted (RFC 5722); the same fragments without overlap are delivered', (t) => {
  const { clock, na, nb, b } = pair();
  const srv = b.udp.endpoint(6);
  srv.bind(null, 7);
  const dgram = udp6(pattern(40)); // 48 bytes
  // Control: 0..24 and 24..48.
  nb.deliverFrames([{ data: v6Fragment(na, nb, 1, 0, true, dgram.subarray(0, 24)) }, { data: v6Fragment(na, nb, 1, 24, false, dgram.subarray(24)) }]);
  clock.advance(1);
  const ok = srv.recv();
  if (typeof ok === 'string') return t.fail('control datagram not delivered');
  t.deepEqual(ok.data, pattern(40));
  // Overlap: 0..24 then 16..48 (bytes 16..24 twice, even with the same content).
  nb.deliverFrames([{ data: v6Fragment(na, nb, 2, 0, true, dgram.subarray(0, 24)) }, { data: v6Fragment(na, nb, 2, 16, false, dgram.subarray(16)) }]);
  // And an overlap arriving in the other order, then the missing piece: still nothing.
  nb.deliverFrames([
    { data: v6Fragment(na, nb, 3, 16, false, dgram.subarray(16)) },
    { data: v6Fragment(na, nb, 3, 0, true, dgram.subarray(0, 24)) },
    { data: v6Fragment(na, nb, 3, 0, true, dgram.subarray(0, 16)) },
  ]);
  clock.advance(1);
  t.is(srv.recv(), 'EAGAIN');
  t.is(b.stats.get('ipv6.frag.dropped.overlap'), 2);
  // An exact duplicate is a retransmission, not an overlap.
  nb.deliverFrames([
    { data: v6Fragment(na, nb, 4, 0, true, dgram.subarray(0, 24)) },
    { data: v6Fragment(na, nb, 4, 0, true, dgram.subarray(0, 24)) },
    { data: v6Fragment(na, nb, 4, 24, false, dgram.subarray(24)) },
  ]);
  t.not(srv.recv(), 'EAGAIN');
  t.is(b.stats.get('ipv6.frag.duplicate'), 1);
});

test('IPv6 reassembly timeout sends time exceeded (code 1) to the source after the first fragment', (t) => {
  const { clock, na, nb, a, b } = pair();
  const dgram = udp6(pattern(40));
  nb.deliverFrames([{ data: v6Fragment(na, nb, 9, 0, true, dgram.subarray(0, 24)) }]);
  clock.advance(60_001);
  t.is(b.stats.get('ipv6.frag.dropped.timeout'), 1);
  t.is(b.stats.get('icmp6.out.type-3'), 1);
  t.is(a.stats.get('icmp6.in.type-3'), 1);
});

test('a non-final IPv6 fragment whose length is not a multiple of 8 earns a parameter problem', (t) => {
  const { clock, na, nb, a, b } = pair();
  nb.deliverFrames([{ data: v6Fragment(na, nb, 5, 0, true, pattern(20)) }]);
  clock.advance(1);
  t.is(b.stats.get('ipv6.frag.dropped.bad-length'), 1);
  t.is(a.stats.get('icmp6.in.type-4'), 1);
});

test('fragmentRanges: multiples of 8 except the last', (t) => {
  t.deepEqual(fragmentRanges(3000, 1480), [
    [0, 1480],
    [1480, 1480],
    [2960, 40],
  ]);
  t.deepEqual(fragmentRanges(100, 21), [
    [0, 16],
    [16, 16],
    [32, 16],
    [48, 16],
    [64, 16],
    [80, 16],
    [96, 4],
  ]);
});

test('Reassembler: out of order pieces, inconsistent lengths, memory cap evicts the oldest', (t) => {
  const clock = new VirtualClock();
  const timers = new TimerQueue(clock);
  const counts: Record<string, number> = {};
  const timeouts: string[] = [];
  const r = new Reassembler(timers, { timeoutMs: 1000, maxBytes: 64, maxDatagrams: 4, maxPayload: 65515 }, (x) => (counts[x] = (counts[x] ?? 0) + 1), (_h, k) => timeouts.push(k));
  const hdr = Uint8Array.of(1, 2, 3);
  const p = pattern(48);
  t.is(r.add('a', 32, false, p.subarray(32), hdr), null);
  t.is(r.add('a', 16, true, p.subarray(16, 32), hdr), null);
  const done = r.add('a', 0, true, p.subarray(0, 16), hdr);
  t.truthy(done);
  t.deepEqual(done?.payload, p);
  t.deepEqual(done?.header, hdr);
  // A second "last" fragment with another end is inconsistent.
  r.add('b', 16, false, p.subarray(16, 32), hdr);
  t.is(r.add('b', 24, false, p.subarray(24, 40), hdr), null);
  t.is(counts['dropped.inconsistent-length'], 1);
  // Memory: 64 bytes; 'c' holds 48, then 'd' needs 32: 'c' is evicted.
  r.add('c', 0, true, p.subarray(0, 48), hdr);
  r.add('d', 8, true, p.subarray(0, 32), hdr);
  t.is(counts['dropped.evicted'], 1);
  t.is(r.pendingBytes, 32);
  clock.advance(1001);
  t.deepEqual(timeouts, [], 'only datagrams whose first fragment arrived produce an ICMP');
  t.is(r.pendingDatagrams, 0);
});

test('router fragments a too-big IPv4 datagram without DF; the receiver reassembles it', (t) => {
  const { clock, a, r, b } = routed({ farMtu: 576 });
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  const c = a.udp.endpoint(4);
  c.send(pattern(1400), { addr: ip('10.0.2.1'), port: 7 });
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail('not delivered');
  t.deepEqual(d.data, pattern(1400));
  t.is(r.stats.get('ipv4.frag.created'), 3);
  t.is(b.stats.get('ipv4.frag.reassembled'), 1);
});

test('IPv4 reassembly timeout sends time exceeded (code 1) after the first fragment; not without it', (t) => {
  const { clock, na, nb, a, b } = pair();
  const frame = (off: number, more: boolean, len: number) => {
    const f = new Uint8Array(14 + 20 + len);
    f.set(nb.mac, 0);
    f.set(na.mac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    writeIpv4Header(f, 14, { tos: 0, totalLen: 20 + len, id: 77, df: false, mf: more, fragOffset: off, ttl: 64, protocol: 17, src: ip('10.0.0.1'), dst: ip('10.0.0.2') });
    return { data: f };
  };
  nb.deliverFrames([frame(8, true, 16)]); // no first fragment
  clock.advance(30_001);
  t.is(b.stats.get('ipv4.frag.dropped.timeout'), 1);
  t.is(b.stats.get('icmp4.out.type-11'), 0);
  nb.deliverFrames([frame(0, true, 16)]);
  clock.advance(30_001);
  t.is(b.stats.get('ipv4.frag.dropped.timeout'), 2);
  t.is(b.stats.get('icmp4.out.type-11'), 1);
  t.is(a.stats.get('icmp4.in.type-11'), 1);
});

test('a router re-fragments fragments for a smaller link; offsets and MF carry over', (t) => {
  const { clock, a, r, b } = routed({ farMtu: 576 });
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  a.udp.endpoint(4).send(pattern(3000, 8), { addr: ip('10.0.2.1'), port: 7 });
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail(d);
  t.deepEqual(d.data, pattern(3000, 8));
  t.is(a.stats.get('ipv4.frag.created'), 3, '1480 + 1480 + 48 bytes from the source');
  t.is(r.stats.get('ipv4.frag.created'), 3 + 3, 'each 1480-byte fragment in three; the small one passes whole');
});

test('a fragment reaching past 65535 bytes is dropped at input, also at a router', (t) => {
  const { clock, r } = routed({ farMtu: 576 });
  const rn = r.nicList()[1];
  const f = new Uint8Array(14 + 20 + 1400);
  f.set(rn.mac, 0);
  f[12] = 8;
  writeIpv4Header(f, 14, { tos: 0, totalLen: 1420, id: 5, df: false, mf: false, fragOffset: 65000, ttl: 64, protocol: 17, src: ip('10.0.1.1'), dst: ip('10.0.2.1') });
  t.notThrows(() => rn.deliverFrames([{ data: f }]));
  clock.advance(1);
  t.is(r.stats.get('ipv4.dropped.oversized-fragment'), 1);
  t.is(r.stats.get('ipv4.forwarded'), 0);
});
