// Packet builders for the filter tests: whole IP datagrams made with the wire codecs (valid
// checksums), and a checker that re-parses a datagram and recomputes every checksum in full.

import { emitIpv4, parseIpv4 } from '../../../src/netstack/wire/ipv4.js';
import { emitIpv6 } from '../../../src/netstack/wire/ipv6.js';
import { emitTcp, tcpChecksum } from '../../../src/netstack/wire/tcp.js';
import { udpChecksum } from '../../../src/netstack/wire/udp.js';
import { foldSum, pseudoHeaderSum, sumWords, verifyTransportChecksum } from '../../../src/netstack/wire/checksum.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { IpProto } from '../../../src/netstack/wire/ip-proto.js';
import { FilterInput } from '../../../src/netstack/filter/packet.js';

export const ip = (s: string): IpAddr => IpAddr.parse(s);

export const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

function ipWrap(src: IpAddr, dst: IpAddr, proto: number, l4: Uint8Array, ttl = 64): Uint8Array {
  if (src.family === 4) {
    const d = new Uint8Array(20 + l4.length);
    emitIpv4({ src, dst, protocol: proto, ttl, payloadLen: l4.length, ident: 0x1234 }, d, 0);
    d.set(l4, 20);
    return d;
  }
  const d = new Uint8Array(40 + l4.length);
  emitIpv6({ src, dst, nextHeader: proto, hopLimit: ttl, payloadLen: l4.length }, d, 0);
  d.set(l4, 40);
  return d;
}

export function tcp(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags: number,
  o: { seq?: number; ack?: number; payload?: Uint8Array } = {},
): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const payload = o.payload ?? new Uint8Array(0);
  const l4 = new Uint8Array(20 + payload.length);
  emitTcp({ srcPort: sport, dstPort: dport, seq: o.seq ?? 1000, ack: o.ack ?? 0, flags, window: 65535 }, l4, 0);
  l4.set(payload, 20);
  const c = tcpChecksum(s, d, l4.subarray(0, 20), payload);
  l4[16] = c >> 8;
  l4[17] = c & 0xff;
  return ipWrap(s, d, IpProto.TCP, l4);
}

export function udp(src: string, sport: number, dst: string, dport: number, payload = Uint8Array.of(1, 2, 3, 4, 5)): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const l4 = new Uint8Array(8 + payload.length);
  // Written by hand: emitUdp's signature is in flux in the wire layer.
  l4[0] = sport >> 8;
  l4[1] = sport & 0xff;
  l4[2] = dport >> 8;
  l4[3] = dport & 0xff;
  l4[4] = l4.length >> 8;
  l4[5] = l4.length & 0xff;
  l4.set(payload, 8);
  const c = udpChecksum(s, d, l4.subarray(0, 8), payload);
  l4[6] = c >> 8;
  l4[7] = c & 0xff;
  return ipWrap(s, d, IpProto.UDP, l4);
}

function icmpMsg(src: IpAddr, dst: IpAddr, type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const v6 = src.family === 6;
  const l4 = new Uint8Array(8 + body.length);
  l4[0] = type;
  l4[1] = code;
  l4[4] = (rest >>> 24) & 0xff;
  l4[5] = (rest >>> 16) & 0xff;
  l4[6] = (rest >>> 8) & 0xff;
  l4[7] = rest & 0xff;
  l4.set(body, 8);
  const sum = (v6 ? pseudoHeaderSum(src, dst, IpProto.ICMPV6, l4.length) : 0) + sumWords(l4);
  const c = ~foldSum(sum) & 0xffff;
  l4[2] = c >> 8;
  l4[3] = c & 0xff;
  return ipWrap(src, dst, v6 ? IpProto.ICMPV6 : IpProto.ICMP, l4);
}

export function echo(src: string, dst: string, id: number, reply = false, seq = 1): Uint8Array {
  const s = ip(src);
  const type = s.family === 4 ? (reply ? 0 : 8) : reply ? 129 : 128;
  return icmpMsg(s, ip(dst), type, 0, ((id & 0xffff) << 16) | seq, Uint8Array.of(9, 9, 9, 9));
}

/** An ICMP(v6) error from `src` to `dst` quoting `quoted` (type 3/code or 1/code). */
export function icmpError(src: string, dst: string, quoted: Uint8Array, type?: number, code = 3): Uint8Array {
  const s = ip(src);
  const t = type ?? (s.family === 4 ? 3 : 1);
  return icmpMsg(s, ip(dst), t, code, 0, quoted.subarray(0, s.family === 4 ? Math.min(quoted.length, 548) : quoted.length));
}

export function input(d: Uint8Array, o: { inIface?: string; outIface?: string; owner?: { pid?: number; uid?: number; command?: string }; mark?: number } = {}): FilterInput {
  const p = new FilterInput();
  if (!p.setDatagram(d)) throw new Error('test packet did not parse');
  if (o.inIface) p.inIface = o.inIface;
  if (o.outIface) p.outIface = o.outIface;
  if (o.owner) p.owner = o.owner;
  if (o.mark !== undefined) p.mark = o.mark;
  return p;
}

/** Full recomputation of every checksum in the datagram (and in an ICMP error's quote). Returns problems found. */
export function checksumProblems(d: Uint8Array): string[] {
  const bad: string[] = [];
  const p = new FilterInput();
  if (!p.setDatagram(d)) return ['unparseable'];
  if (p.family === 4 && typeof parseIpv4(d) === 'string') bad.push('ipv4 header');
  const t = p.transport;
  if (p.protocol === IpProto.TCP && !verifyTransportChecksum(p.src, p.dst, IpProto.TCP, t)) bad.push('tcp');
  if (p.protocol === IpProto.UDP && !(p.family === 4 && t[6] === 0 && t[7] === 0) && !verifyTransportChecksum(p.src, p.dst, IpProto.UDP, t)) bad.push('udp');
  if (p.protocol === IpProto.ICMP && foldSum(sumWords(t)) !== 0xffff) bad.push('icmp');
  if (p.protocol === IpProto.ICMPV6 && !verifyTransportChecksum(p.src, p.dst, IpProto.ICMPV6, t)) bad.push('icmpv6');
  const isErr = (p.protocol === IpProto.ICMP && t[0] === 3) || (p.protocol === IpProto.ICMPV6 && t[0] < 128);
  if (isErr) {
    // The quote is a complete small datagram in these tests: check it too.
    for (const b of checksumProblems(t.subarray(8))) bad.push(`quoted ${b}`);
  }
  return bad;
}

/** Reads (src, sport, dst, dport) of a datagram as text. */
export function flow(d: Uint8Array): string {
  const p = new FilterInput();
  p.setDatagram(d);
  const t = p.transport;
  const ports = p.protocol === IpProto.TCP || p.protocol === IpProto.UDP;
  const sp = ports ? (t[0] << 8) | t[1] : (t[4] << 8) | t[5];
  const dp = ports ? (t[2] << 8) | t[3] : (t[4] << 8) | t[5];
  const a = (x: IpAddr) => (x.family === 6 ? `[${x.key}]` : x.key);
  return `${a(p.src)}:${sp} > ${a(p.dst)}:${dp}`;
}
