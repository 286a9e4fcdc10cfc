// NAT rewriting of one IP datagram in place, with every checksum maintained incrementally
// (RFC 1624 eqn. 3, via checksumAdjust): the IPv4 header checksum, the TCP/UDP checksum whose
// pseudo-header holds the addresses (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1), the ICMPv6
// checksum (RFC 4443 §2.3, pseudo-header too), the ICMP echo identifier (RFC 792), and for ICMP
// errors the quoted datagram (RFC 5508 §7, RFC 3022 §4.3: the embedded header is translated
// the other way, and the ICMP checksum absorbs every change made inside it).
// Linux: net/netfilter/nf_nat_proto.c does the same work.

import { checksumAdjust } from '../wire/checksum.js';
import type { IpAddr } from '../wire/ip-address.js';
import { IpProto } from '../wire/ip-proto.js';

const NONE = -1;

function rd16(d: Uint8Array, off: number): number {
  return (d[off] << 8) | d[off + 1];
}

/** Adjusts the checksum field at `c` for a word changing old -> nw; `cover` is the checksum that covers field `c` itself (ICMP around a quote). */
function adjust(d: Uint8Array, c: number, old: number, nw: number, cover: number): void {
  if (c < 0) return;
  const before = rd16(d, c);
  const after = checksumAdjust(before, old, nw);
  put16(d, c, after, cover, NONE, NONE);
}

/** Writes a 16-bit word and adjusts up to three checksum fields that cover it; `cover` covers fields c1 and c2 (never c3). */
function put16(d: Uint8Array, off: number, nw: number, c1: number, c2: number, c3: number, cover = NONE): void {
  const old = rd16(d, off);
  if (old === nw) return;
  d[off] = nw >>> 8;
  d[off + 1] = nw & 0xff;
  if (c1 >= 0) adjust(d, c1, old, nw, cover);
  if (c2 >= 0) adjust(d, c2, old, nw, cover);
  if (c3 >= 0) adjust(d, c3, old, nw, NONE);
}

function putAddr(d: Uint8Array, off: number, a: Uint8Array, c1: number, c2: number, c3: number, cover = NONE): void {
  for (let i = 0; i < a.length; i += 2) put16(d, off + i, (a[i] << 8) | a[i + 1], c1, c2, c3, cover);
}

/** Where the L4 checksum of a protocol sits, and whether the pseudo-header covers it. */
function l4ChecksumOffset(proto: number, family: 4 | 6, d: Uint8Array, l4: number, l4Len: number): number {
  if (proto === IpProto.TCP) return l4Len >= 18 ? l4 + 16 : NONE;
  if (proto === IpProto.UDP || proto === IpProto.UDPLITE) {
    if (l4Len < 8) return NONE;
    // RFC 768: a zero IPv4 UDP checksum means "none"; leave it so.
    if (family === 4 && proto === IpProto.UDP && rd16(d, l4 + 6) === 0) return NONE;
    return l4 + 6;
  }
  if (proto === IpProto.ICMPV6) return l4Len >= 4 ? l4 + 2 : NONE;
  return NONE;
}

function isEcho(proto: number, type: number): boolean {
  return proto === IpProto.ICMP ? type === 8 || type === 0 : proto === IpProto.ICMPV6 ? type === 128 || type === 129 : false;
}

export function isIcmpError(proto: number, type: number): boolean {
  return proto === IpProto.ICMP ? type === 3 || type === 4 || type === 5 || type === 11 || type === 12 : proto === IpProto.ICMPV6 ? type < 128 : false;
}

/**
 * Rewrites the source (`which` = 'src') or destination address of the datagram, and the port
 * (TCP/UDP/UDPLITE/SCTP) or ICMP echo identifier when `port` >= 0. `l4` is where the transport
 * header starts; `fragment` skips L4 (a non-first fragment carries no header). Returns false
 * when the datagram is too short to rewrite (the caller drops it).
 */
export function natRewrite(
  d: Uint8Array,
  family: 4 | 6,
  l4: number,
  proto: number,
  fragment: boolean,
  which: 'src' | 'dst',
  addr: IpAddr,
  port: number,
): boolean {
  if (addr.family !== family) return false;
  const end = family === 4 ? rd16(d, 2) : 40 + rd16(d, 4);
  if (end > d.length || l4 > end) return false;
  const l4Len = end - l4;
  const ipCsum = family === 4 ? 10 : NONE;
  const addrOff = family === 4 ? (which === 'src' ? 12 : 16) : which === 'src' ? 8 : 24;
  const l4Csum = fragment ? NONE : l4ChecksumOffset(proto, family, d, l4, l4Len);
  const wasZeroUdp = proto === IpProto.UDP && l4Csum >= 0;
  putAddr(d, addrOff, addr.bytes, ipCsum, l4Csum, NONE);
  if (!fragment && port >= 0) {
    if (proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.UDPLITE || proto === IpProto.SCTP) {
      if (l4Len < 4) return false;
      // SCTP uses CRC32c over the packet, unaffected by a pseudo-header; port changes would need a recompute: not supported.
      if (proto !== IpProto.SCTP) put16(d, which === 'src' ? l4 : l4 + 2, port, l4Csum, NONE, NONE);
    } else if ((proto === IpProto.ICMP || proto === IpProto.ICMPV6) && l4Len >= 8 && isEcho(proto, d[l4])) {
      put16(d, l4 + 4, port, l4 + 2, NONE, NONE);
    }
  }
  // RFC 768: a computed zero is sent as all ones.
  if (wasZeroUdp && rd16(d, l4 + 6) === 0) d[l4 + 6] = d[l4 + 7] = 0xff;
  return true;
}

/**
 * For an ICMP error whose outer `which` endpoint is being rewritten to addr:port, rewrites the
 * opposite endpoint of the quoted datagram to the same value (RFC 5508 §7): the quote is the
 * packet the peer saw going the other way. Keeps the quoted IPv4 header checksum, the quoted
 * L4 checksum (when quoted whole enough) and the outer ICMP checksum right.
 */
export function natRewriteIcmpQuote(
  d: Uint8Array,
  family: 4 | 6,
  l4: number,
  which: 'src' | 'dst',
  addr: IpAddr,
  port: number,
): boolean {
  const end = family === 4 ? rd16(d, 2) : 40 + rd16(d, 4);
  const icmpCsum = l4 + 2;
  const q = l4 + 8;
  if (end - q < (family === 4 ? 20 : 40)) return false;
  const inner = which === 'src' ? 'dst' : 'src';
  let qL4: number;
  let qProto: number;
  let qIpCsum = NONE;
  let qAddrOff: number;
  if (family === 4) {
    qL4 = q + (d[q] & 15) * 4;
    qProto = d[q + 9];
    qIpCsum = q + 10;
    qAddrOff = q + (inner === 'src' ? 12 : 16);
  } else {
    qL4 = q + 40;
    qProto = d[q + 6];
    qAddrOff = q + (inner === 'src' ? 8 : 24);
  }
  const qLen = end - qL4;
  // The quoted L4 checksum, when quoted; a quoted zero UDP checksum stays zero.
  let qL4Csum = NONE;
  if (qProto === IpProto.TCP && qLen >= 18) qL4Csum = qL4 + 16;
  else if (qProto === IpProto.UDP && qLen >= 8 && !(family === 4 && rd16(d, qL4 + 6) === 0)) qL4Csum = qL4 + 6;
  else if (qProto === IpProto.ICMPV6 && qLen >= 4) qL4Csum = qL4 + 2;
  // Each changed word moves: the quoted IP checksum (v4), the quoted L4 checksum (pseudo-header),
  // and the outer ICMP checksum. Changes to the quoted checksum fields are themselves covered by it.
  putAddr(d, qAddrOff, addr.bytes, qIpCsum, qL4Csum, icmpCsum, icmpCsum);
  if (port >= 0 && qLen >= 4) {
    if (qProto === IpProto.TCP || qProto === IpProto.UDP || qProto === IpProto.UDPLITE) {
      put16(d, inner === 'src' ? qL4 : qL4 + 2, port, qL4Csum, NONE, icmpCsum, icmpCsum);
    } else if ((qProto === IpProto.ICMP || qProto === IpProto.ICMPV6) && qLen >= 8 && isEcho(qProto, d[qL4])) {
      put16(d, qL4 + 4, port, qL4 + 2, NONE, icmpCsum, icmpCsum);
    }
  }
  return true;
}
