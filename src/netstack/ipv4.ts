// IPv4 header handling for the stack: validation on receive and header construction on send.
// Read first: RFC 791 §3.1 (header, options), RFC 1122 §3.2.1 (what a host must check and drop),
// RFC 1812 §5.3.1 (TTL), RFC 6864 (the ID field for atomic datagrams).
// Malformed headers are dropped and counted, never thrown: parseIpv4Header returns a reason.

import { IpAddr } from './wire/ip-address.js';
import { foldSum, sumWords } from './wire/checksum.js';
import { emitIpv4 } from './wire/ipv4.js';

export const IPV4_MIN_HEADER = 20;
/** RFC 791: the largest datagram the total-length field can describe. */
export const IPV4_MAX_PACKET = 65535;

export interface Ipv4Header {
  readonly hdrLen: number;
  readonly totalLen: number;
  readonly tos: number;
  readonly id: number;
  readonly df: boolean;
  readonly mf: boolean;
  /** Fragment offset in bytes. */
  readonly fragOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly src: IpAddr;
  readonly dst: IpAddr;
}

/** Why a header was refused; `pointer` is set when an ICMP parameter problem is owed. */
export interface Ipv4Reject {
  readonly drop: string;
  readonly pointer?: number;
}

export function isIpv4Reject(x: Ipv4Header | Ipv4Reject): x is Ipv4Reject {
  return (x as Ipv4Reject).drop !== undefined;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];

/**
 * Validates an IPv4 header (RFC 1122 §3.2.1.1-3.2.1.3) and walks its options (RFC 791 §3.1).
 * `checkSum` false skips the header checksum (a link that verified it).
 */
export function parseIpv4Header(pkt: Uint8Array, checkSum = true, walk = true): Ipv4Header | Ipv4Reject {
  if (pkt.length < IPV4_MIN_HEADER) return { drop: 'short' };
  if (pkt[0] >> 4 !== 4) return { drop: 'bad-version' };
  const hdrLen = (pkt[0] & 0x0f) * 4;
  if (hdrLen < IPV4_MIN_HEADER || hdrLen > pkt.length) return { drop: 'bad-header-length' };
  const totalLen = u16(pkt, 2);
  // Link padding may follow the datagram (short Ethernet frames); less than announced is a drop.
  if (totalLen < hdrLen || totalLen > pkt.length) return { drop: 'bad-total-length' };
  if (checkSum && foldSum(sumWords(pkt, 0, hdrLen)) !== 0xffff) return { drop: 'bad-checksum' };
  const flags = u16(pkt, 6);
  if (flags & 0x8000) return { drop: 'reserved-flag' }; // RFC 791: must be zero
  if (walk && hdrLen > IPV4_MIN_HEADER) {
    const bad = walkOptions(pkt, hdrLen);
    if (bad !== null) return bad;
  }
  return {
    hdrLen,
    totalLen,
    tos: pkt[1],
    id: u16(pkt, 4),
    df: (flags & 0x4000) !== 0,
    mf: (flags & 0x2000) !== 0,
    fragOffset: (flags & 0x1fff) * 8,
    ttl: pkt[8],
    protocol: pkt[9],
    src: IpAddr.read(4, pkt, 12),
    dst: IpAddr.read(4, pkt, 16),
  };
}

/**
 * RFC 791 §3.1 option walk: type 0 ends the list, 1 is a one-byte no-op, every other option has
 * a length byte covering itself. Source routes (LSRR 131, SSRR 137) are refused, as Linux does
 * with accept_source_route=0 (RFC 1122 §3.3.5 lets a host refuse them, RFC 7126 §4.3 says to).
 */
function walkOptions(pkt: Uint8Array, hdrLen: number): Ipv4Reject | null {
  let i = IPV4_MIN_HEADER;
  while (i < hdrLen) {
    const type = pkt[i];
    if (type === 0) break;
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 1 >= hdrLen) return { drop: 'bad-options', pointer: i };
    const len = pkt[i + 1];
    if (len < 2 || i + len > hdrLen) return { drop: 'bad-options', pointer: i + 1 };
    if (type === 131 || type === 137) return { drop: 'source-route' };
    i += len;
  }
  return null;
}

export interface Ipv4HeaderFields {
  tos: number;
  totalLen: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  ttl: number;
  protocol: number;
  src: IpAddr;
  dst: IpAddr;
}

/** Writes a 20-byte header (no options) with its checksum at `off` (the wire codec's emitter). */
export function writeIpv4Header(buf: Uint8Array, off: number, f: Ipv4HeaderFields): void {
  emitIpv4(
    {
      src: f.src,
      dst: f.dst,
      protocol: f.protocol,
      ttl: f.ttl,
      tos: f.tos,
      ident: f.id,
      dontFragment: f.df,
      moreFragments: f.mf,
      fragmentOffset: f.fragOffset,
      payloadLen: f.totalLen - IPV4_MIN_HEADER,
    },
    buf,
    off,
  );
}

/** Recomputes the header checksum of the header at `off` (after TTL or address changes). */
export function setIpv4Checksum(buf: Uint8Array, off: number, hdrLen: number): void {
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  const c = ~foldSum(sumWords(buf, off, off + hdrLen)) & 0xffff;
  buf[off + 10] = c >>> 8;
  buf[off + 11] = c & 0xff;
}

/**
 * RFC 1122 §3.2.1.3: a source may not be multicast (224/4), class E (240/4) or the limited
 * broadcast; 0.0.0.0 is allowed (a host learning its address, RFC 1122 §3.2.1.3(a)).
 */
export function isMartianSourceV4(a: IpAddr): boolean {
  return a.bytes[0] >= 224;
}
