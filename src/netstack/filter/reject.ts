// REJECT's reply: a TCP RST or an ICMP/ICMPv6 destination-unreachable answering an offending
// datagram, built as a whole IP datagram (the caller routes and sends it). Read: RFC 9293
// §3.10.7.1 (RST for a segment to a closed port: which seq/ack), RFC 792 and RFC 1122 §3.2.2.1
// (unreachable codes), RFC 1812 §5.2.7.1 (codes 9, 10, 13: administratively prohibited),
// RFC 4443 §3.1 (ICMPv6 codes) and §2.4(e) / RFC 1122 §3.2.2 (never answer an ICMP error, a
// non-first fragment, or a multicast/broadcast destination). Linux: nf_reject_ipv4/ipv6.c.

import { foldSum, pseudoHeaderSum, sumWords } from '../wire/checksum.js';
import type { IpAddr } from '../wire/ip-address.js';
import { IpProto } from '../wire/ip-proto.js';
import { FilterInput } from './packet.js';
import { isIcmpError } from './nat.js';
import type { RejectWith } from './rules.js';

const V4_CODES: Partial<Record<RejectWith, number>> = {
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 1,
  'icmp-proto-unreachable': 2,
  'icmp-port-unreachable': 3,
  'icmp-net-prohibited': 9,
  'icmp-host-prohibited': 10,
  'icmp-admin-prohibited': 13,
  // Dual-stack rules: the ICMPv6 names mapped to their IPv4 counterparts.
  'icmp6-no-route': 0,
  'icmp6-adm-prohibited': 13,
  'icmp6-addr-unreachable': 1,
  'icmp6-port-unreachable': 3,
};
const V6_CODES: Partial<Record<RejectWith, number>> = {
  'icmp6-no-route': 0,
  'icmp6-adm-prohibited': 1,
  'icmp6-addr-unreachable': 3,
  'icmp6-port-unreachable': 4,
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 3,
  'icmp-proto-unreachable': 4,
  'icmp-port-unreachable': 4,
  'icmp-net-prohibited': 1,
  'icmp-host-prohibited': 1,
  'icmp-admin-prohibited': 1,
};

export interface RejectReplyOptions {
  /** TTL / hop limit of the reply. Default 64. */
  ttl?: number;
  /** IPv4 identification. Default 0. */
  ident?: number;
}

function w16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function w32(b: Uint8Array, o: number, v: number): void {
  w16(b, o, v >>> 16);
  w16(b, o + 2, v & 0xffff);
}

function writeIpHeader(b: Uint8Array, family: 4 | 6, src: IpAddr, dst: IpAddr, proto: number, payloadLen: number, o: RejectReplyOptions): number {
  if (family === 4) {
    b[0] = 0x45;
    w16(b, 2, 20 + payloadLen);
    w16(b, 4, o.ident ?? 0);
    w16(b, 6, 0x4000); // DF, as Linux's nf_reject does
    b[8] = o.ttl ?? 64;
    b[9] = proto;
    b.set(src.bytes, 12);
    b.set(dst.bytes, 16);
    w16(b, 10, ~foldSum(sumWords(b, 0, 20)) & 0xffff);
    return 20;
  }
  b[0] = 0x60;
  w16(b, 4, payloadLen);
  b[6] = proto;
  b[7] = o.ttl ?? 64;
  b.set(src.bytes, 8);
  b.set(dst.bytes, 24);
  return 40;
}

/**
 * Builds the reply REJECT sends for `datagram` (a whole IP datagram), or null when none may be
 * sent (an ICMP error, a non-first fragment, a multicast/broadcast destination, an incoming
 * RST for tcp-reset, tcp-reset on a non-TCP packet, a malformed datagram).
 */
export function buildRejectReply(datagram: Uint8Array, kind: RejectWith, opts: RejectReplyOptions = {}): Uint8Array | null {
  const p = new FilterInput();
  if (!p.setDatagram(datagram) || p.fragment) return null;
  const { family, src, dst, protocol } = p;
  if (dst.isMulticast() || src.isMulticast() || (family === 4 && (dst.key === '255.255.255.255' || src.isUnspecified()))) return null;
  const t = p.transport;
  if ((protocol === IpProto.ICMP || protocol === IpProto.ICMPV6) && (t.length < 1 || isIcmpError(protocol, t[0]) || (protocol === IpProto.ICMPV6 && t[0] >= 133 && t[0] <= 137))) return null;
  if (kind === 'tcp-reset') {
    if (protocol !== IpProto.TCP || t.length < 20) return null;
    const flags = t[13];
    if (flags & 0x04) return null; // RFC 9293 §3.10.7.1: never answer a RST
    const hl = family === 4 ? 20 : 40;
    const out = new Uint8Array(hl + 20);
    writeIpHeader(out, family, dst, src, IpProto.TCP, 20, opts);
    const tcp = out.subarray(hl);
    tcp[0] = t[2];
    tcp[1] = t[3];
    tcp[2] = t[0];
    tcp[3] = t[1];
    const seq = ((t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]) >>> 0;
    const ack = ((t[8] << 24) | (t[9] << 16) | (t[10] << 8) | t[11]) >>> 0;
    const dataOff = (t[12] >> 4) * 4;
    const dataLen = Math.max(0, t.length - dataOff);
    if (flags & 0x10) {
      // "If the incoming segment has an ACK field, the reset takes its sequence number from the ACK field."
      w32(tcp, 4, ack);
      tcp[13] = 0x04;
    } else {
      // "...otherwise the reset has sequence number zero and the ACK field is set to the sum of
      // the sequence number and segment length of the incoming segment" (SYN and FIN count).
      const segLen = dataLen + (flags & 0x02 ? 1 : 0) + (flags & 0x01 ? 1 : 0);
      w32(tcp, 8, (seq + segLen) >>> 0);
      tcp[13] = 0x14;
    }
    tcp[12] = 5 << 4;
    const s = pseudoHeaderSum(dst, src, IpProto.TCP, 20) + sumWords(tcp, 0, 20);
    w16(tcp, 16, ~foldSum(s) & 0xffff);
    return out;
  }
  if (family === 4) {
    const code = V4_CODES[kind];
    if (code === undefined) return null;
    // RFC 1812 §4.3.2.3: quote as much as fits in 576 bytes.
    const quote = datagram.subarray(0, Math.min(p.length, 576 - 28));
    const out = new Uint8Array(28 + quote.length);
    writeIpHeader(out, 4, dst, src, IpProto.ICMP, 8 + quote.length, opts);
    out[20] = 3;
    out[21] = code;
    out.set(quote, 28);
    w16(out, 22, ~foldSum(sumWords(out, 20, out.length)) & 0xffff);
    return out;
  }
  const code = V6_CODES[kind];
  if (code === undefined) return null;
  // RFC 4443 §2.4(c): as much as fits in the minimum MTU.
  const quote = datagram.subarray(0, Math.min(p.length, 1280 - 48));
  const out = new Uint8Array(48 + quote.length);
  writeIpHeader(out, 6, dst, src, IpProto.ICMPV6, 8 + quote.length, opts);
  out[40] = 1;
  out[41] = code;
  out.set(quote, 48);
  const s = pseudoHeaderSum(dst, src, IpProto.ICMPV6, 8 + quote.length) + sumWords(out, 40, out.length);
  w16(out, 42, ~foldSum(s) & 0xffff);
  return out;
}
