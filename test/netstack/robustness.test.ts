import test from 'ava';
import { pair, routed, ip, echoRequest, pattern } from './topo.js';
import { SeededRng } from '../../src/netstack/random.js';
import { writeIpv4Header } from '../../src/netstack/ipv4.js';
import { writeIpv6Header } from '../../src/netstack/ipv6.js';
import type { Nic } from '../../src/netstack/nic.js';
import type { Frame } from '../../src/netstack/link.js';
import { VirtualClock } from '../../src/netstack/clock.js';
import { Stack } from '../../src/netstack/stack.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { foldSum, pseudoHeaderSum, sumWords } from '../../src/netstack/wire/checksum.js';

/**
 * Random frames with a bias towards reaching deep code: some pure noise, most with our MAC and
 * an IPv4/IPv6/ARP ethertype, a plausible IP header (right version, addresses, sometimes a
 * correct checksum) and random everything else, including extension headers and fragments.
 */
function randomFrame(rng: SeededRng, to: Nic, from: Nic, dst4 = ['10.0.0.2', '10.0.0.255'], dst6 = ['fd00::2', 'ff02::1']): Uint8Array {
  const kind = rng.u32() % 10;
  const len = rng.u32() % 1600;
  const f = rng.fill(new Uint8Array(len));
  if (kind === 0 || len < 14) return f;
  f.set(rng.u32() & 1 ? to.mac : Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0);
  f.set(from.mac, 6);
  const proto = [1, 6, 17, 58, 44, 0, 43, 60, 59, 132][rng.u32() % 10];
  if (kind <= 4 && len >= 34) {
    f[12] = 0x08;
    f[13] = 0x00;
    const totalLen = rng.u32() & 1 ? len - 14 : rng.u32() & 0xffff;
    const frag = rng.u32() % 4 === 0;
    const df = rng.u32() % 4 === 0;
    writeIpv4Header(f, 14, {
      tos: 0,
      totalLen: totalLen & 0xffff,
      id: rng.u32() & 3,
      df,
      mf: frag && (rng.u32() & 1) === 1,
      fragOffset: frag ? (rng.u32() & 1 ? rng.u32() % 8 : rng.u32() % 8192) * 8 : 0,
      ttl: rng.u32() & 0xff,
      protocol: proto,
      src: ip('10.0.0.1'),
      dst: ip(dst4[rng.u32() % dst4.length]),
    });
    if (rng.u32() % 4 === 0) f[14] = 0x40 | (rng.u32() & 0x0f); // random IHL, usually wrong
    return f;
  }
  if (kind <= 8 && len >= 54) {
    f[12] = 0x86;
    f[13] = 0xdd;
    const payloadLen = rng.u32() & 1 ? len - 54 : rng.u32() & 0xffff;
    writeIpv6Header(f, 14, {
      trafficClass: 0,
      flowLabel: 0,
      payloadLen,
      nextHeader: proto,
      hopLimit: rng.u32() & 0xff,
      src: ip('fd00::1'),
      dst: ip(dst6[rng.u32() % dst6.length]),
    });
    return f;
  }
  f[12] = 0x08;
  f[13] = 0x06;
  return f;
}

test('10,000 random frames: counted, never thrown, and the stack still works afterwards', (t) => {
  const { clock, a, b, na, nb } = pair();
  const rng = new SeededRng(2024);
  let batch: Frame[] = [];
  for (let i = 0; i < 10_000; i++) {
    batch.push({ data: randomFrame(rng, nb, na) });
    if (batch.length === 64) {
      t.notThrows(() => nb.deliverFrames(batch));
      batch = [];
      clock.advance(0.5);
    }
  }
  t.notThrows(() => nb.deliverFrames(batch));
  t.notThrows(() => clock.advance(120_000)); // let reassembly timers and everything else run
  const s = b.stats.snapshot();
  const drops = Object.entries(s)
    .filter(([k]) => k.includes('dropped'))
    .reduce((n, [, v]) => n + v, 0);
  t.true(drops > 5000, `most random frames were dropped and counted (${drops})`);
  t.true(b.stats.get('ipv4.received') > 1000 && b.stats.get('ipv6.received') > 1000, 'many reached IP input');
  t.true(b.stats.get('ipv4.dropped.bad-checksum') > 0);
  t.log(Object.keys(s).length, 'distinct counters');
  // Still alive: ping both ways.
  const e = a.echo4.endpoint();
  e.send(echoRequest(4, 1, pattern(8)), ip('10.0.0.2'));
  const e6 = a.echo6.endpoint();
  e6.send(echoRequest(6, 1, pattern(8)), ip('fd00::2'));
  clock.advance(1);
  t.not(e.recv(), 'EAGAIN');
  t.not(e6.recv(), 'EAGAIN');
});

test('random frames at a forwarding router are counted, never thrown', (t) => {
  const { clock, r } = routed({ farMtu: 576 });
  const nics = r.nicList().filter((n) => n.medium === 'ethernet');
  const rng = new SeededRng(99);
  const d4 = ['10.0.2.1', '10.0.1.1', '10.0.1.254', '192.0.2.1'];
  const d6 = ['fd02::1', 'fd01::1', 'fd01::fe', '2001:db8::1', 'ff02::1'];
  for (let i = 0; i < 5000; i++) {
    const to = nics[i % 2];
    t.notThrows(() => to.deliverFrames([{ data: randomFrame(rng, to, nics[(i + 1) % 2], d4, d6) }]));
  }
  t.notThrows(() => clock.advance(120_000));
  t.true(r.stats.sum('ipv4.dropped.') + r.stats.sum('ipv6.dropped.') > 0);
  t.true(r.stats.get('ipv4.forwarded') + r.stats.get('ipv6.forwarded') > 0, 'some were forwarded');
  t.true(r.stats.get('ipv4.frag.created') > 0, 'and some re-fragmented');
});

test('truncated copies of valid frames at every length are dropped, not thrown', (t) => {
  const { clock, a, b, na, nb } = pair();
  // Capture valid frames A sends: UDP and ICMP echo, v4 and v6, one of them fragmented.
  const captured: Uint8Array[] = [];
  const link = na.link;
  const orig = link.writeFrames.bind(link);
  link.writeFrames = (frames) => {
    for (const f of frames) captured.push(f.data.slice());
    return orig(frames);
  };
  a.udp.endpoint(4).send(pattern(100), { addr: ip('10.0.0.2'), port: 9 });
  a.udp.endpoint(6).send(pattern(3000), { addr: ip('fd00::2'), port: 9 });
  a.echo4.endpoint().send(echoRequest(4, 1, pattern(20)), ip('10.0.0.2'));
  a.echo6.endpoint().send(echoRequest(6, 1, pattern(20)), ip('fd00::2'));
  clock.advance(1);
  t.true(captured.length >= 5);
  const before = b.stats.get('ipv4.received') + b.stats.get('ipv6.received');
  for (const f of captured) {
    for (let n = 0; n < f.length; n++) t.notThrows(() => nb.deliverFrames([{ data: f.subarray(0, n) }]));
  }
  t.notThrows(() => clock.advance(120_000));
  t.true(b.stats.get('ipv4.received') + b.stats.get('ipv6.received') > before);
  t.true(b.stats.get('eth.dropped.short') > 0);
  t.true(b.stats.get('ipv4.dropped.short') + b.stats.get('ipv4.dropped.bad-total-length') > 0);
  t.true(b.stats.get('ipv6.dropped.short') + b.stats.get('ipv6.dropped.bad-payload-length') > 0);
});

test('random ARP and NDP frames (checksums valid) through the real neighbor module: counted, never thrown', (t) => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const a = new Stack({ clock, rng: new SeededRng(1) });
  const b = new Stack({ clock, rng: new SeededRng(2), forwarding: true });
  const na = a.addNic(wire.port(), { addresses: ['10.0.0.1/24', 'fd00::1/64'] });
  const nb = b.addNic(wire.port(), { addresses: ['10.0.0.2/24', 'fd00::2/64'] });
  clock.advance(3000);
  const rng = new SeededRng(7);
  for (let i = 0; i < 5000; i++) {
    const len = 20 + (rng.u32() % 200);
    const f = rng.fill(new Uint8Array(len));
    f.set(rng.u32() & 1 ? nb.mac : Uint8Array.of(255, 255, 255, 255, 255, 255), 0);
    f.set(na.mac, 6);
    if (rng.u32() & 1 || len < 62) {
      f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4], 12); // ARP for IPv4 over Ethernet, random rest
    } else {
      const pl = len - 54;
      writeIpv6Header(f, 14, { trafficClass: 0, flowLabel: 0, payloadLen: pl, nextHeader: 58, hopLimit: 255, src: ip('fe80::1'), dst: rng.u32() & 1 ? ip('ff02::1:ff00:2') : ip('fd00::2') });
      f[12] = 0x86;
      f[13] = 0xdd;
      f[54] = 133 + (rng.u32() % 5);
      f[55] = 0;
      f[56] = 0;
      f[57] = 0;
      const c = ~foldSum(pseudoHeaderSum(ip('fe80::1'), IpAddr.read(6, f, 38), 58, pl) + sumWords(f.subarray(54))) & 0xffff;
      f[56] = c >> 8;
      f[57] = c & 0xff;
    }
    t.notThrows(() => nb.deliverFrames([{ data: f }]));
    if (i % 100 === 0) clock.advance(10);
  }
  t.notThrows(() => clock.advance(60_000));
  t.true(b.stats.sum('arp.') > 1000);
  t.true(b.stats.sum('icmp6.in.type-13') > 1000, 'NDP types reached the neighbor module');
  // Still talking.
  const e = a.echo4.endpoint();
  e.send(Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 1), ip('10.0.0.2'));
  clock.advance(2000);
  t.not(e.recv(), 'EAGAIN');
});
