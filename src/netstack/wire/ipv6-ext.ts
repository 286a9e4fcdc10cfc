// IPv6 extension headers. Read: RFC 8200 §4 (order, §4.1 what a node processes), §4.2 (TLV
// options, the two high bits of the type say what to do with an unknown one), §4.3 Hop-by-Hop,
// §4.4 Routing, §4.5 Fragment, §4.6 Destination Options; RFC 7112 (the whole header chain is
// in the first fragment); RFC 4302/4303 (AH/ESP: not walked, reported as the upper layer).

import type { WireError } from './error.js';
import { IpProto } from './ip-proto.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

/** The Fragment header's fields (RFC 8200 §4.5). */
export interface Ipv6FragmentRepr {
  /** Next Header of the fragmentable part (the upper layer of the reassembled packet). */
  nextHeader: number;
  /** Offset in BYTES of this fragment's data in the original fragmentable part. */
  offset: number;
  moreFragments: boolean;
  ident: number;
}

export interface Ipv6RoutingRepr {
  nextHeader: number;
  routingType: number;
  segmentsLeft: number;
  /** Type-specific data after the first 4 bytes (4 reserved bytes + addresses for type 0/2...). */
  data: Uint8Array;
}

/** What a walk of the extension-header chain found. Offsets are into the walked buffer. */
export interface Ipv6ExtChain {
  /**
   * The protocol of what starts at `upperOffset`: TCP, UDP, ICMPv6, NONE (59), ESP, AH, or an
   * unknown value the caller answers with a parameter problem (RFC 8200 §4, code 1).
   */
  upperProtocol: number;
  upperOffset: number;
  /** Offset of the Next Header byte that named `upperProtocol` (-1: the fixed header's, byte 6). */
  nextHeaderFieldOffset: number;
  /** Option area of the Hop-by-Hop header (without its 2-byte head), if any. */
  hopByHop: Uint8Array | null;
  /** Offset of that option area (for parameter-problem pointers). */
  hopByHopOffset: number;
  /** Option areas of Destination Options headers met on the way (before routing and/or at the end). */
  destOptions: Uint8Array[];
  destOptionsOffsets: number[];
  routing: Ipv6RoutingRepr | null;
  routingOffset: number;
  /**
   * Set when a Fragment header was met. The walk stops there: what follows is fragment data
   * until reassembled, then walk the reassembled payload again from `fragment.nextHeader`.
   */
  fragment: Ipv6FragmentRepr | null;
  /** Offset of the Fragment header (= length of the unfragmentable extension headers). */
  fragmentOffset: number;
}

/** True for the Next Header values this walker steps over. */
export function isIpv6ExtensionHeader(nh: number): boolean {
  return nh === IpProto.HOPOPTS || nh === IpProto.ROUTING || nh === IpProto.FRAGMENT || nh === IpProto.DSTOPTS;
}

const MAX_EXT_HEADERS = 16;

/**
 * Walks the chain that starts with `firstNextHeader` (the fixed header's Next Header) over
 * `buf` (the IPv6 payload). Hop-by-Hop anywhere but first is 'malformed' (RFC 8200 §4.1).
 */
export function walkIpv6Extensions(firstNextHeader: number, buf: Uint8Array): Ipv6ExtChain | WireError {
  const chain: Ipv6ExtChain = {
    upperProtocol: firstNextHeader,
    upperOffset: 0,
    nextHeaderFieldOffset: -1,
    hopByHop: null,
    hopByHopOffset: -1,
    destOptions: [],
    destOptionsOffsets: [],
    routing: null,
    routingOffset: -1,
    fragment: null,
    fragmentOffset: -1,
  };
  let nh = firstNextHeader;
  let off = 0;
  for (let count = 0; isIpv6ExtensionHeader(nh); count++) {
    if (count >= MAX_EXT_HEADERS) return 'malformed';
    if (nh === IpProto.FRAGMENT) {
      if (buf.length < off + 8) return 'truncated';
      const w = readU16(buf, off + 2);
      chain.fragment = {
        nextHeader: buf[off],
        offset: w & 0xfff8,
        moreFragments: (w & 1) !== 0,
        ident: readU32(buf, off + 4),
      };
      chain.fragmentOffset = off;
      chain.upperProtocol = buf[off];
      chain.nextHeaderFieldOffset = off;
      chain.upperOffset = off + 8;
      return chain;
    }
    if (buf.length < off + 2) return 'truncated';
    const len = (buf[off + 1] + 1) * 8;
    if (buf.length < off + len) return 'truncated';
    if (nh === IpProto.HOPOPTS) {
      if (off !== 0) return 'malformed';
      const area = buf.subarray(off + 2, off + len);
      const ok = walkIpv6Options(area, null);
      if (typeof ok === 'string') return ok;
      chain.hopByHop = area;
      chain.hopByHopOffset = off + 2;
    } else if (nh === IpProto.DSTOPTS) {
      const area = buf.subarray(off + 2, off + len);
      const ok = walkIpv6Options(area, null);
      if (typeof ok === 'string') return ok;
      chain.destOptions.push(area);
      chain.destOptionsOffsets.push(off + 2);
    } else {
      chain.routing = {
        nextHeader: buf[off],
        routingType: buf[off + 2],
        segmentsLeft: buf[off + 3],
        data: buf.subarray(off + 4, off + len),
      };
      chain.routingOffset = off;
    }
    nh = buf[off];
    chain.nextHeaderFieldOffset = off;
    off += len;
  }
  chain.upperProtocol = nh;
  chain.upperOffset = off;
  return chain;
}

/** TLV option types (RFC 8200 §4.2, IANA "Destination Options and Hop-by-Hop Options"). */
export const Ipv6OptionType = {
  PAD1: 0,
  PADN: 1,
  JUMBO: 0xc2,
  ROUTER_ALERT: 5, // RFC 2711
} as const;

/** What to do with an unrecognised option: the two high bits of its type (RFC 8200 §4.2). */
export const Ipv6OptionAction = {
  SKIP: 0,
  DISCARD: 1,
  DISCARD_SEND_ICMP: 2,
  DISCARD_SEND_ICMP_IF_NOT_MULTICAST: 3,
} as const;
export type Ipv6OptionAction = 0 | 1 | 2 | 3;
export function ipv6OptionAction(type: number): Ipv6OptionAction {
  return (type >>> 6) as Ipv6OptionAction;
}
/** Bit 5 of the type: the option data may change en route (excluded from AH). */
export function ipv6OptionMayChange(type: number): boolean {
  return (type & 0x20) !== 0;
}

export interface Ipv6Option {
  type: number;
  data: Uint8Array;
  /** Offset of the type byte inside the walked area. */
  offset: number;
}

/**
 * Walks a Hop-by-Hop / Destination Options area. Pad1 and PadN are skipped; every other
 * option is appended to `out` (when given). Returns the number of non-padding options or
 * 'bad-option' when an option overruns the area.
 */
export function walkIpv6Options(area: Uint8Array, out: Ipv6Option[] | null): number | WireError {
  let n = 0;
  let i = 0;
  while (i < area.length) {
    const type = area[i];
    if (type === Ipv6OptionType.PAD1) {
      i++;
      continue;
    }
    if (i + 2 > area.length) return 'bad-option';
    const len = area[i + 1];
    if (i + 2 + len > area.length) return 'bad-option';
    if (type !== Ipv6OptionType.PADN) {
      n++;
      if (out) out.push({ type, data: area.subarray(i + 2, i + 2 + len), offset: i });
    }
    i += 2 + len;
  }
  return n;
}

export function parseIpv6Options(area: Uint8Array): Ipv6Option[] | WireError {
  const out: Ipv6Option[] = [];
  const r = walkIpv6Options(area, out);
  return typeof r === 'string' ? r : out;
}

/** A Hop-by-Hop or Destination Options header to emit. */
export interface Ipv6OptionsHeaderRepr {
  nextHeader: number;
  options: { type: number; data: Uint8Array }[];
}

export function ipv6OptionsHeaderLen(repr: Ipv6OptionsHeaderRepr): number {
  let n = 2;
  for (const o of repr.options) n += 2 + o.data.length;
  return (n + 7) & ~7;
}

/** Writes the header with options in order, padded to 8 bytes with Pad1/PadN; returns its length. */
export function emitIpv6OptionsHeader(repr: Ipv6OptionsHeaderRepr, buf: Uint8Array, off = 0): number {
  const len = ipv6OptionsHeaderLen(repr);
  if (len > 2048) throw new RangeError('IPv6 options header too long');
  buf[off] = repr.nextHeader;
  buf[off + 1] = len / 8 - 1;
  let p = off + 2;
  for (const o of repr.options) {
    if (o.data.length > 255) throw new RangeError('IPv6 option data over 255 bytes');
    buf[p] = o.type;
    buf[p + 1] = o.data.length;
    buf.set(o.data, p + 2);
    p += 2 + o.data.length;
  }
  const pad = off + len - p;
  if (pad === 1) buf[p] = Ipv6OptionType.PAD1;
  else if (pad > 1) {
    buf[p] = Ipv6OptionType.PADN;
    buf[p + 1] = pad - 2;
    buf.fill(0, p + 2, p + pad);
  }
  return len;
}

export const IPV6_FRAGMENT_HEADER_LEN = 8;

/** Writes an 8-byte Fragment header; returns 8. */
export function emitIpv6Fragment(repr: Ipv6FragmentRepr, buf: Uint8Array, off = 0): number {
  if (repr.offset & 7 || repr.offset > 0xfff8) throw new RangeError(`bad IPv6 fragment offset ${repr.offset}`);
  buf[off] = repr.nextHeader;
  buf[off + 1] = 0;
  writeU16(buf, off + 2, repr.offset | (repr.moreFragments ? 1 : 0));
  writeU32(buf, off + 4, repr.ident);
  return IPV6_FRAGMENT_HEADER_LEN;
}

export function ipv6RoutingHeaderLen(repr: Ipv6RoutingRepr): number {
  return (4 + repr.data.length + 7) & ~7;
}

/** Writes a Routing header (type-specific data given raw); returns its length. */
export function emitIpv6Routing(repr: Ipv6RoutingRepr, buf: Uint8Array, off = 0): number {
  const len = ipv6RoutingHeaderLen(repr);
  buf[off] = repr.nextHeader;
  buf[off + 1] = len / 8 - 1;
  buf[off + 2] = repr.routingType;
  buf[off + 3] = repr.segmentsLeft;
  buf.set(repr.data, off + 4);
  buf.fill(0, off + 4 + repr.data.length, off + len);
  return len;
}
