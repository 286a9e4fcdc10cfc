// Hostile input: every truncation of every real frame is refused with a WireError, and 20,000
// seeded random or mutated buffers fed to every parser never make one throw.
import test from 'ava';
import { SeededRng } from '../../src/netstack/random.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import { EthernetPacket, parseEthernet } from '../../src/netstack/wire/ethernet.js';
import { ArpPacket, parseArp } from '../../src/netstack/wire/arp.js';
import { Ipv4Packet, parseIpv4, parseIpv4Options } from '../../src/netstack/wire/ipv4.js';
import { Ipv6Packet, parseIpv6 } from '../../src/netstack/wire/ipv6.js';
import { parseIpv6Options, walkIpv6Extensions } from '../../src/netstack/wire/ipv6-ext.js';
import { UdpPacket, parseUdp } from '../../src/netstack/wire/udp.js';
import { TcpPacket, newTcpSegment, parseTcp, parseTcpInto } from '../../src/netstack/wire/tcp.js';
import { Icmpv4Packet, parseIcmpv4 } from '../../src/netstack/wire/icmpv4.js';
import { Icmpv6Packet, parseIcmpv6 } from '../../src/netstack/wire/icmpv6.js';
import { parseNdp, parseNdpOptions } from '../../src/netstack/wire/ndp.js';
import { DnsPacket, parseDns, readDnsName } from '../../src/netstack/wire/dns.js';
import { dissectFrame } from '../../src/netstack/wire/dissect.js';
import { FRAMES } from './golden.js';

const A4 = new Uint8Array([10, 0, 0, 1]);
const B4 = new Uint8Array([10, 0, 0, 2]);
const A6 = new Uint8Array(16).fill(0xfd);
const B6 = new Uint8Array(16).fill(0x01);

test('every strict prefix of every real frame is refused by the frame decoder', (t) => {
  let cuts = 0;
  for (const [name, frame] of Object.entries(FRAMES)) {
    t.is(dissectFrame(frame).error, null, name);
    for (let n = 0; n < frame.length; n++) {
      const s = dissectFrame(frame.subarray(0, n));
      if (!isWireError(s.error)) t.fail(`${name} cut at ${n} was accepted (${s.network}/${s.transport})`);
      cuts++;
    }
  }
  t.true(cuts > 5000);
});

test('every strict prefix of each layer is refused by that layer\'s parser', (t) => {
  for (const [name, frame] of Object.entries(FRAMES)) {
    const eth = EthernetPacket.view(frame) as EthernetPacket;
    const l3 = eth.payload;
    const ip4 = Ipv4Packet.view(l3);
    const ip6 = Ipv6Packet.view(l3);
    const cutsOf = (b: Uint8Array) => Array.from({ length: b.length }, (_, n) => b.subarray(0, n));
    if (name.startsWith('ARP')) {
      for (const c of cutsOf(l3)) t.true(isWireError(parseArp(c)), `${name} ${c.length}`);
      continue;
    }
    if (!isWireError(ip4)) for (const c of cutsOf(l3)) t.true(isWireError(parseIpv4(c)), `${name} ${c.length}`);
    if (!isWireError(ip6)) for (const c of cutsOf(l3)) t.true(isWireError(parseIpv6(c)), `${name} ${c.length}`);
    const s = dissectFrame(frame);
    if (s.fragment) continue;
    const ip = !isWireError(ip4) ? ip4 : (ip6 as Ipv6Packet);
    const src = ip.srcBytes;
    const dst = ip.dstBytes;
    let l4 = ip.payload;
    if (ip instanceof Ipv6Packet) {
      const chain = walkIpv6Extensions(ip.nextHeader, l4);
      if (isWireError(chain)) return t.fail(chain);
      l4 = l4.subarray(chain.upperOffset);
    }
    for (const c of cutsOf(l4)) {
      const r =
        s.transport === 'tcp'
          ? parseTcp(c, src, dst)
          : s.transport === 'udp'
            ? parseUdp(c, src, dst)
            : s.transport === 'icmpv4'
              ? parseIcmpv4(c)
              : parseIcmpv6(c, src, dst);
      t.true(isWireError(r), `${name} ${s.transport} cut at ${c.length}`);
    }
    if (s.dns) {
      const msg = (UdpPacket.view(l4) as UdpPacket).payload;
      for (const c of cutsOf(msg)) t.true(isWireError(parseDns(c)), `${name} dns cut at ${c.length}`);
    }
  }
});

/** Calls every getter of a view, so out-of-range reads would surface as thrown errors. */
function touch(view: object): void {
  const proto = Object.getPrototypeOf(view);
  for (const k of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, k);
    if (d && d.get) (view as Record<string, unknown>)[k];
  }
}

function feedAll(b: Uint8Array, rng: SeededRng, counts: Map<string, number>): void {
  const ok = (name: string, r: unknown) => {
    if (!isWireError(r)) counts.set(name, (counts.get(name) ?? 0) + 1);
    else if (typeof r !== 'string') throw new Error(`${name} returned a non-string error`);
  };
  const nv = { verifyChecksum: false };
  for (const [name, v] of [
    ['eth', EthernetPacket.view(b)],
    ['arp', ArpPacket.view(b)],
    ['ipv4', Ipv4Packet.view(b)],
    ['ipv4q', Ipv4Packet.viewQuoted(b)],
    ['ipv6', Ipv6Packet.view(b)],
    ['ipv6q', Ipv6Packet.viewQuoted(b)],
    ['udp', UdpPacket.view(b)],
    ['tcp', TcpPacket.view(b)],
    ['icmpv4', Icmpv4Packet.view(b)],
    ['icmpv6', Icmpv6Packet.view(b)],
    ['dnsh', DnsPacket.view(b)],
  ] as const) {
    ok(`view-${name}`, v);
    if (!isWireError(v)) touch(v);
  }
  const eth = EthernetPacket.view(b);
  if (!isWireError(eth)) for (let i = 0; i < eth.tagCount; i++) eth.tag(i);
  ok('parseEthernet', parseEthernet(b));
  ok('parseArp', parseArp(b));
  ok('parseIpv4', parseIpv4(b));
  ok('parseIpv4-nv', parseIpv4(b, nv));
  ok('parseIpv4Options', parseIpv4Options(b.subarray(0, 40)));
  ok('parseIpv6', parseIpv6(b));
  ok('walkIpv6Extensions', walkIpv6Extensions(rng.u32() % 4 === 0 ? b[0] ?? 0 : [0, 43, 44, 60][rng.u32() % 4], b.subarray(1)));
  ok('parseIpv6Options', parseIpv6Options(b));
  ok('parseUdp4', parseUdp(b, A4, B4, nv));
  ok('parseUdp6', parseUdp(b, A6, B6));
  ok('parseTcp', parseTcp(b, A4, B4, nv));
  ok('parseTcpInto', parseTcpInto(newTcpSegment(), b, A6, B6));
  ok('parseIcmpv4', parseIcmpv4(b, nv));
  ok('parseIcmpv6', parseIcmpv6(b, A6, B6, nv));
  if (b.length > 0) {
    const nd = b.slice();
    nd[0] = 133 + (rng.u32() % 5);
    nd[1] = 0;
    ok('parseNdp', parseNdp(nd));
    ok('parseIcmpv6-ndp', parseIcmpv6(nd, A6, B6, nv));
  }
  ok('parseNdpOptions', parseNdpOptions(b));
  ok('parseDns', parseDns(b));
  ok('readDnsName', readDnsName(b, b.length ? rng.u32() % b.length : 0));
  ok('dissect-eth', dissectFrame(b).error === null ? 1 : 'x');
  ok('dissect-ip', dissectFrame(b, 'ip').error === null ? 1 : 'x');
}

test('20,000 random and mutated buffers through every parser: nothing throws', (t) => {
  const rng = new SeededRng(0x5eed);
  const golden = Object.values(FRAMES);
  const counts = new Map<string, number>();
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    let b: Uint8Array;
    const mode = i % 4;
    if (mode === 0) {
      b = rng.fill(new Uint8Array(rng.u32() % 1600));
    } else {
      // a real frame (or one of its inner layers), cut and with a few bytes changed, so the
      // random input reaches the deep paths of each parser
      const g = golden[rng.u32() % golden.length];
      const start = mode === 1 ? 0 : mode === 2 ? Math.min(14, g.length) : Math.min(14 + (rng.u32() % 60), g.length);
      const keepAll = rng.u32() % 2 === 0;
      b = g.slice(start, keepAll ? g.length : start + (rng.u32() % (g.length - start + 1)));
      const flips = rng.u32() % 8;
      for (let k = 0; k < flips && b.length; k++) b[rng.u32() % b.length] = rng.u32() & 0xff;
    }
    try {
      feedAll(b, rng, counts);
    } catch (e) {
      t.fail(`buffer ${i} (${Buffer.from(b).toString('hex')}) threw: ${(e as Error).stack}`);
      return;
    }
  }
  t.log(JSON.stringify(Object.fromEntries(counts)));
  // the corpus reached beyond the length checks of every codec
  for (const name of ['parseArp', 'parseIpv4', 'parseIpv6', 'parseTcp', 'parseUdp4', 'parseIcmpv6-ndp', 'parseDns', 'dissect-eth']) {
    t.true((counts.get(name) ?? 0) > 0, `${name} accepted ${counts.get(name) ?? 0} inputs`);
  }
});
