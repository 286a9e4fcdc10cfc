// Property round trips: seeded random reprs go through emit -> parse unchanged (TCP, UDP,
// IPv4, IPv6, Ethernet), and the RFC 1035 §4.1.4 compression example decodes as written.
import test from 'ava';
import { SeededRng } from '../../src/netstack/random.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import { TcpFlags, TcpPacket, emitTcp, parseTcp, tcpHeaderLen, type TcpRepr, type TcpSegment } from '../../src/netstack/wire/tcp.js';
import { UdpPacket, emitUdp, parseUdp } from '../../src/netstack/wire/udp.js';
import { emitIpv4, ipv4HeaderLen, parseIpv4, type Ipv4Repr } from '../../src/netstack/wire/ipv4.js';
import { emitIpv6, parseIpv6, type Ipv6Repr } from '../../src/netstack/wire/ipv6.js';
import { emitEthernet, ethernetHeaderLen, parseEthernet, type EthernetRepr } from '../../src/netstack/wire/ethernet.js';
import { readDnsName } from '../../src/netstack/wire/dns.js';
import { hex } from './golden.js';

const rng = new SeededRng(0xc0ffee);
const u16 = () => rng.u32() & 0xffff;
const u32 = () => rng.u32();
const bit = () => (rng.u32() & 1) === 1;
const addr = (fam: 4 | 6) => (fam === 4 ? IpAddr.v4(rng.fill(new Uint8Array(4))) : IpAddr.v6(rng.fill(new Uint8Array(16))));
/** Mostly random values, with the edges (0 and all ones) one time in four. */
const edge = (max: number, r: () => number) => {
  const k = rng.u32() % 8;
  return k === 0 ? 0 : k === 1 ? max : r();
};

function randomTcp(): TcpRepr {
  const r: TcpRepr = {
    srcPort: edge(0xffff, u16),
    dstPort: edge(0xffff, u16),
    seq: edge(0xffffffff, u32),
    ack: edge(0xffffffff, u32),
    flags: rng.u32() & 0x1ff,
    window: edge(0xffff, u16),
    urgent: edge(0xffff, u16),
  };
  let room = 40;
  if (bit()) {
    r.mss = edge(0xffff, u16);
    room -= 4;
  }
  if (bit()) {
    r.timestamp = { tsVal: edge(0xffffffff, u32), tsEcr: edge(0xffffffff, u32) };
    room -= 12;
  }
  if (bit()) {
    r.sackPermitted = true;
    if (!r.timestamp) room -= 4;
  }
  if (bit()) {
    r.windowScale = rng.u32() % 15;
    room -= 4;
  }
  const maxBlocks = Math.min(4, Math.floor((room - 4) / 8));
  if (maxBlocks > 0 && bit()) {
    r.sackBlocks = Array.from({ length: 1 + (rng.u32() % maxBlocks) }, () => ({ left: u32(), right: u32() }));
  }
  return r;
}

test('TCP: 2000 random headers round-trip through emit/parse with valid checksums', (t) => {
  for (let i = 0; i < 2000; i++) {
    const r = randomTcp();
    const v6 = bit();
    const src = addr(v6 ? 6 : 4);
    const dst = addr(v6 ? 6 : 4);
    const payload = rng.fill(new Uint8Array(rng.u32() % 64));
    const hl = tcpHeaderLen(r);
    const seg = new Uint8Array(hl + payload.length);
    emitTcp(r, seg);
    seg.set(payload, hl);
    (TcpPacket.view(seg) as TcpPacket).fillChecksum(src, dst);
    const back = parseTcp(seg, src, dst);
    if (isWireError(back)) return t.fail(`${i}: ${back}`);
    const expected: TcpSegment = {
      mss: null,
      windowScale: null,
      sackPermitted: false,
      sackBlocks: null,
      timestamp: null,
      unknownOptions: null,
      urgent: 0,
      ...r,
      payload: back.payload,
    };
    t.deepEqual(back, expected, `${i}`);
    t.deepEqual(Array.from(back.payload), Array.from(payload));
  }
  t.is(TcpFlags.NS, 0x100);
});

test('UDP, IPv4, IPv6, Ethernet: 2000 random headers each round-trip', (t) => {
  for (let i = 0; i < 2000; i++) {
    const u = { srcPort: edge(0xffff, u16), dstPort: edge(0xffff, u16), payloadLen: rng.u32() % 32 };
    const ub = new Uint8Array(8 + u.payloadLen);
    emitUdp(u, ub);
    const src = addr(4);
    const dst = addr(4);
    (UdpPacket.view(ub) as UdpPacket).fillChecksum(src, dst);
    const ud = parseUdp(ub, src, dst);
    if (isWireError(ud)) return t.fail(ud);
    t.like(ud, u);

    const optLen = rng.u32() % 5 === 0 ? 1 + (rng.u32() % 40) : 0;
    const v4: Ipv4Repr = {
      src: addr(4),
      dst: addr(4),
      protocol: rng.u32() & 0xff,
      ttl: rng.u32() & 0xff,
      tos: rng.u32() & 0xff,
      ident: edge(0xffff, u16),
      dontFragment: bit(),
      moreFragments: bit(),
      fragmentOffset: (rng.u32() & 0x1fff) * 8,
      payloadLen: rng.u32() % 100,
      // NOP-only option areas: always well formed, any length
      options: optLen ? new Uint8Array(((optLen + 3) & ~3)).fill(1) : undefined,
    };
    const b4 = new Uint8Array(ipv4HeaderLen(v4) + v4.payloadLen);
    emitIpv4(v4, b4);
    t.deepEqual(parseIpv4(b4), v4);

    const v6: Ipv6Repr = {
      src: addr(6),
      dst: addr(6),
      nextHeader: rng.u32() & 0xff,
      hopLimit: rng.u32() & 0xff,
      trafficClass: rng.u32() & 0xff,
      flowLabel: rng.u32() & 0xfffff,
      payloadLen: rng.u32() % 100,
    };
    const b6 = new Uint8Array(40 + v6.payloadLen);
    emitIpv6(v6, b6);
    t.deepEqual(parseIpv6(b6), v6);

    const e: EthernetRepr = {
      dst: rng.fill(new Uint8Array(6)),
      src: rng.fill(new Uint8Array(6)),
      // EtherTypes that are not themselves tag protocol ids
      ethertype: [0x0800, 0x86dd, 0x0806, 0x88cc][rng.u32() % 4],
      vlans: Array.from({ length: rng.u32() % 3 }, (_, k) => ({
        tpid: k === 0 && bit() ? 0x88a8 : 0x8100,
        pcp: rng.u32() & 7,
        dei: bit(),
        vid: rng.u32() & 0xfff,
      })),
    };
    const be = new Uint8Array(ethernetHeaderLen(e));
    emitEthernet(e, be);
    t.deepEqual(parseEthernet(be), e);
  }
});

test('RFC 1035 §4.1.4 compression example decodes as the RFC lays it out', (t) => {
  // F.ISI.ARPA at offset 20; FOO.F.ISI.ARPA at 40 with a pointer to 20; ARPA at 64 as a
  // pointer to 26; the root at 92 (here the rest of the message is filler bytes).
  const msg = new Uint8Array(96).fill(0xee);
  msg.set(hex('0146 03495349 0441525041 00'), 20);
  msg.set(hex('03464f4f c014'), 40);
  msg.set(hex('c01a'), 64);
  msg.set(hex('00'), 92);
  t.deepEqual(readDnsName(msg, 20), { name: 'F.ISI.ARPA', end: 32 });
  t.deepEqual(readDnsName(msg, 40), { name: 'FOO.F.ISI.ARPA', end: 46 });
  t.deepEqual(readDnsName(msg, 64), { name: 'ARPA', end: 66 });
  t.deepEqual(readDnsName(msg, 92), { name: '', end: 93 });
});
