// IPv6 header and extension-header handling for the stack. Read first: RFC 8200 §3 (header),
// §4 (extension headers: order, §4.2 option actions, §4.4 routing, §4.5 fragment), §5 (packet
// size: 1280 minimum MTU, only the source fragments), RFC 5095 (routing header type 0 is dead),
// RFC 4443 §3.4 (parameter problem codes and pointers), RFC 6724 (source address selection).
// Malformed packets are dropped and counted, never thrown.

import { IpAddr } from './wire/ip-address.js';
import { emitIpv6 } from './wire/ipv6.js';

export const IPV6_HEADER = 40;
export const IPV6_FRAG_HEADER = 8;

export const NH_HOPOPTS = 0;
export const NH_ROUTING = 43;
export const NH_FRAGMENT = 44;
export const NH_NONE = 59;
export const NH_DSTOPTS = 60;
export const NH_ICMPV6 = 58;

export interface Ipv6Header {
  readonly trafficClass: number;
  readonly flowLabel: number;
  /** End of the IPv6 packet in the buffer (40 + payload length; link padding excluded). */
  readonly end: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: IpAddr;
  readonly dst: IpAddr;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];

/** Validates the fixed header (RFC 8200 §3); returns a drop reason or the header. */
export function parseIpv6Header(pkt: Uint8Array): Ipv6Header | string {
  if (pkt.length < IPV6_HEADER) return 'short';
  if (pkt[0] >> 4 !== 6) return 'bad-version';
  const payloadLen = u16(pkt, 4);
  // Payload length 0 means a jumbogram (RFC 2675), which no link of ours can carry.
  if (payloadLen === 0 && pkt[6] !== NH_NONE && pkt.length > IPV6_HEADER) return 'jumbogram';
  if (IPV6_HEADER + payloadLen > pkt.length) return 'bad-payload-length';
  return {
    trafficClass: ((pkt[0] & 0x0f) << 4) | (pkt[1] >> 4),
    flowLabel: ((pkt[1] & 0x0f) << 16) | u16(pkt, 2),
    end: IPV6_HEADER + payloadLen,
    nextHeader: pkt[6],
    hopLimit: pkt[7],
    src: IpAddr.read(6, pkt, 8),
    dst: IpAddr.read(6, pkt, 24),
  };
}

/** What walking the extension headers of a received packet decided. */
export type ExtWalk =
  /** The upper-layer header starts at `offset`; `nhField` is the offset of the byte naming it. */
  | { kind: 'upper'; protocol: number; offset: number; nhField: number }
  | {
      kind: 'fragment';
      /** Offset of the Fragment header. */
      offset: number;
      nhField: number;
      nextHeader: number;
      fragOffset: number;
      more: boolean;
      ident: number;
    }
  /** RFC 4443 §3.4: code 0 erroneous field, 1 unknown next header, 2 unknown option. */
  | { kind: 'param-problem'; code: 0 | 1 | 2; pointer: number; reason: string; evenIfMulticast: boolean }
  | { kind: 'drop'; reason: string };

/**
 * Walks extension headers from `offset` (where a header of type `nh` starts, the byte naming it
 * at `nhField`) up to the upper layer or a Fragment header (RFC 8200 §4). `end` bounds the
 * packet. Hop-by-Hop is accepted only right after the fixed header (§4.1).
 */
export function walkExtensions(pkt: Uint8Array, nh: number, offset: number, nhField: number, end: number, dstIsMulticast: boolean): ExtWalk {
  let off = offset;
  for (let count = 0; ; count++) {
    if (count > 16) return { kind: 'drop', reason: 'too-many-extension-headers' };
    switch (nh) {
      case NH_HOPOPTS:
      case NH_DSTOPTS: {
        if (nh === NH_HOPOPTS && off !== IPV6_HEADER) {
          return { kind: 'param-problem', code: 1, pointer: nhField, reason: 'misplaced-hop-by-hop', evenIfMulticast: false };
        }
        if (off + 2 > end) return { kind: 'drop', reason: 'truncated-extension-header' };
        const len = (pkt[off + 1] + 1) * 8;
        if (off + len > end) return { kind: 'drop', reason: 'truncated-extension-header' };
        const bad = walkOptions(pkt, off + 2, off + len, dstIsMulticast);
        if (bad) return bad;
        nhField = off;
        nh = pkt[off];
        off += len;
        break;
      }
      case NH_ROUTING: {
        if (off + 4 > end) return { kind: 'drop', reason: 'truncated-extension-header' };
        const len = (pkt[off + 1] + 1) * 8;
        if (off + len > end) return { kind: 'drop', reason: 'truncated-extension-header' };
        // RFC 8200 §4.4: an unrecognised routing type with segments left is an error pointing at
        // the type; with none left the header is ignored. Type 0 is unrecognised (RFC 5095 §3).
        if (pkt[off + 3] !== 0) {
          return { kind: 'param-problem', code: 0, pointer: off + 2, reason: 'routing-header', evenIfMulticast: false };
        }
        nhField = off;
        nh = pkt[off];
        off += len;
        break;
      }
      case NH_FRAGMENT: {
        if (off + IPV6_FRAG_HEADER > end) return { kind: 'drop', reason: 'truncated-extension-header' };
        const w = u16(pkt, off + 2);
        return {
          kind: 'fragment',
          offset: off,
          nhField,
          nextHeader: pkt[off],
          fragOffset: w & 0xfff8,
          more: (w & 1) !== 0,
          ident: ((pkt[off + 4] << 24) | (pkt[off + 5] << 16) | (pkt[off + 6] << 8) | pkt[off + 7]) >>> 0,
        };
      }
      default:
        return { kind: 'upper', protocol: nh, offset: off, nhField };
    }
  }
}

/** RFC 8200 §4.2: TLV options; the two high bits of an unknown type say what to do. */
function walkOptions(pkt: Uint8Array, start: number, end: number, dstIsMulticast: boolean): ExtWalk | null {
  let i = start;
  while (i < end) {
    const type = pkt[i];
    if (type === 0) {
      i++;
      continue;
    }
    if (i + 2 > end) return { kind: 'drop', reason: 'bad-option' };
    const len = pkt[i + 1];
    if (i + 2 + len > end) return { kind: 'drop', reason: 'bad-option' };
    // PadN (1) and Router Alert (5, RFC 2711) are known; everything else is unknown to us.
    if (type !== 1 && type !== 5) {
      switch (type >> 6) {
        case 0:
          break;
        case 1:
          return { kind: 'drop', reason: 'unknown-option' };
        case 2:
          return { kind: 'param-problem', code: 2, pointer: i, reason: 'unknown-option', evenIfMulticast: true };
        case 3:
          if (dstIsMulticast) return { kind: 'drop', reason: 'unknown-option' };
          return { kind: 'param-problem', code: 2, pointer: i, reason: 'unknown-option', evenIfMulticast: false };
      }
    }
    i += 2 + len;
  }
  return null;
}

export interface Ipv6HeaderFields {
  trafficClass: number;
  flowLabel: number;
  payloadLen: number;
  nextHeader: number;
  hopLimit: number;
  src: IpAddr;
  dst: IpAddr;
}

/** Writes the 40-byte fixed header at `off` (the wire codec's emitter). */
export function writeIpv6Header(buf: Uint8Array, off: number, f: Ipv6HeaderFields): void {
  emitIpv6(
    { src: f.src, dst: f.dst, nextHeader: f.nextHeader, hopLimit: f.hopLimit, trafficClass: f.trafficClass, flowLabel: f.flowLabel, payloadLen: f.payloadLen },
    buf,
    off,
  );
}

/** RFC 8200 §4.5 Fragment header. */
export function writeFragmentHeader(buf: Uint8Array, off: number, nextHeader: number, fragOffset: number, more: boolean, ident: number): void {
  buf[off] = nextHeader;
  buf[off + 1] = 0;
  const w = (fragOffset & 0xfff8) | (more ? 1 : 0);
  buf[off + 2] = w >>> 8;
  buf[off + 3] = w & 0xff;
  buf[off + 4] = ident >>> 24;
  buf[off + 5] = (ident >>> 16) & 0xff;
  buf[off + 6] = (ident >>> 8) & 0xff;
  buf[off + 7] = ident & 0xff;
}

/** ff02::1:ffXX:XXXX (RFC 4291 §2.7.1): one definition, the neighbor module's. */
export { solicitedNode } from './neighbor/codec.js';

/** Multicast scope (RFC 4291 §2.7), or the unicast equivalent (1 loopback, 2 link, 14 global). */
export function scopeOf(a: IpAddr): number {
  if (a.isMulticast()) return a.bytes[1] & 0x0f;
  if (a.isLoopback()) return 1;
  if (a.isLinkLocal()) return 2;
  return 14;
}

/** Length of the common prefix of two addresses in bits (RFC 6724 rule 8). */
export function commonPrefixLen(a: IpAddr, b: IpAddr): number {
  let n = 0;
  for (let i = 0; i < a.bytes.length; i++) {
    const x = a.bytes[i] ^ b.bytes[i];
    if (x === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(x) - 24;
  }
  return n;
}
