// Hostile input: random and mutated ARP/NDP messages (bounded count, seeded) never throw, every
// drop is counted, and the cache stays within its bound.

import test from 'ava';
import { SeededRng } from '../../../src/netstack/random.js';
import { FakeHost, Lan, ip, mac } from './lan.js';
import { buildNa, buildNs, buildRa, fillIcmpv6Checksum } from '../../../src/netstack/neighbor/codec.js';

test('10 000 random and mutated ARP payloads: no throw, bounded cache', (t) => {
  const lan = new Lan();
  const a = new FakeHost(lan, 1, '02:00:00:00:00:01').withArp('10.0.0.1/24', { maxEntries: 64 });
  const rng = new SeededRng(7);
  const base = Buffer.from('0001080006040001' + '020000000002' + '0a000002' + '000000000000' + '0a000001', 'hex');
  for (let i = 0; i < 10_000; i++) {
    let b: Uint8Array;
    if (i % 2 === 0) b = rng.fill(new Uint8Array(rng.u32() % 64));
    else {
      b = Uint8Array.from(base);
      const flips = 1 + (rng.u32() % 4);
      for (let k = 0; k < flips; k++) b[rng.u32() % b.length] = rng.u32() & 0xff;
    }
    t.notThrows(() => a.arp!.handleArp(b));
    if (i % 100 === 0) lan.advance(rng.u32() % 2000);
  }
  t.true(a.arp!.entries().length <= 64);
  let drops = 0;
  for (const [k, v] of a.counts) if (k.startsWith('arp.drop.')) drops += v;
  t.true(drops > 4000, `${drops}`);
});

test('10 000 random and mutated NDP messages with valid checksums: no throw, bounded cache', (t) => {
  const lan = new Lan();
  const a = new FakeHost(lan, 1, '52:54:00:12:34:56').addV6('fe80::5054:ff:fe12:3456/64').withNdp({ maxEntries: 64 });
  a.addV6('fd00::1/64', true);
  a.ndp!.startDad(ip('fd00::1'));
  const rng = new SeededRng(9);
  const srcs = [ip('fe80::1'), ip('::'), ip('fe80::2'), ip('2001:db8::1')];
  const dsts = [ip('fe80::5054:ff:fe12:3456'), ip('ff02::1'), ip('ff02::1:ff12:3456'), ip('ff02::1:ff00:1')];
  const seeds = [
    buildNs(ip('fe80::5054:ff:fe12:3456'), mac('02:00:00:00:00:02')),
    buildNs(ip('fd00::1'), null, Uint8Array.of(1, 2, 3, 4, 5, 6)),
    buildNa({ router: true, solicited: false, override: true }, ip('fe80::1'), mac('02:00:00:00:00:03')),
    buildRa({
      routerLifetimeS: 1800,
      slla: mac('02:00:00:00:00:fe'),
      mtu: 1400,
      prefixes: [{ prefix: ip('2001:db8:1::'), prefixLen: 64, onLink: true, autonomous: true, validLifetime: 600, preferredLifetime: 300 }],
    }),
  ];
  for (let i = 0; i < 10_000; i++) {
    let m: Uint8Array;
    if (i % 3 === 0) {
      m = rng.fill(new Uint8Array(8 + (rng.u32() % 80)));
      m[0] = 133 + (rng.u32() % 5);
      m[1] = 0;
    } else {
      const s = seeds[rng.u32() % seeds.length];
      m = Uint8Array.from(s.length > 8 && rng.u32() % 4 === 0 ? s.subarray(0, 8 + (rng.u32() % (s.length - 8))) : s);
      const flips = 1 + (rng.u32() % 3);
      for (let k = 0; k < flips; k++) {
        const at = 4 + (rng.u32() % (m.length - 4));
        m[at] = rng.u32() & 0xff;
      }
    }
    const src = srcs[rng.u32() % srcs.length];
    const dst = dsts[rng.u32() % dsts.length];
    fillIcmpv6Checksum(src, dst, m);
    t.notThrows(() => a.ndp!.handleNdp(src, dst, 255, m));
    if (i % 100 === 0) lan.advance(rng.u32() % 5000);
  }
  t.true(a.ndp!.entries().length <= 64);
  lan.advance(48 * 3600_000);
});
