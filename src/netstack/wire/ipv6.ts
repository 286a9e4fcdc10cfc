// IPv6 fixed header. Read: RFC 8200 §3 (format), §4 (extension headers: see ipv6-ext.ts),
// RFC 2474 / RFC 3168 (traffic class = DSCP + ECN), RFC 6437 (flow label).
// Jumbograms (RFC 2675, Payload Length 0 with a Jumbo option) are not supported: a zero
// Payload Length is taken literally.

import type { WireError } from './error.js';
import { IpAddr } from './ip-address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

export const IPV6_HEADER_LEN = 40;
/** RFC 8200 §5: every link carries 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;

export class Ipv6Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /** Checks version and Payload Length against the buffer; bytes past it (link padding) are ignored. */
  static view(buf: Uint8Array): Ipv6Packet | WireError {
    if (buf.length < IPV6_HEADER_LEN) return 'truncated';
    if (buf[0] >>> 4 !== 6) return 'bad-version';
    if (buf.length < IPV6_HEADER_LEN + readU16(buf, 4)) return 'truncated';
    return new Ipv6Packet(buf);
  }

  /** For a packet quoted in an ICMPv6 error (RFC 4443 §2.4(c)): the payload may be cut short. */
  static viewQuoted(buf: Uint8Array): Ipv6Packet | WireError {
    if (buf.length < IPV6_HEADER_LEN) return 'truncated';
    if (buf[0] >>> 4 !== 6) return 'bad-version';
    return new Ipv6Packet(buf);
  }

  get version(): number {
    return this.buffer[0] >>> 4;
  }
  get trafficClass(): number {
    return ((this.buffer[0] & 0x0f) << 4) | (this.buffer[1] >>> 4);
  }
  get flowLabel(): number {
    return ((this.buffer[1] & 0x0f) << 16) | (this.buffer[2] << 8) | this.buffer[3];
  }
  get payloadLen(): number {
    return readU16(this.buffer, 4);
  }
  get nextHeader(): number {
    return this.buffer[6];
  }
  get hopLimit(): number {
    return this.buffer[7];
  }
  get srcBytes(): Uint8Array {
    return this.buffer.subarray(8, 24);
  }
  get dstBytes(): Uint8Array {
    return this.buffer.subarray(24, 40);
  }
  /** Allocates: prefer srcBytes on hot paths. */
  get src(): IpAddr {
    return IpAddr.read(6, this.buffer, 8);
  }
  get dst(): IpAddr {
    return IpAddr.read(6, this.buffer, 24);
  }
  /** Extension headers and upper-layer data up to Payload Length (possibly cut short if quoted). */
  get payload(): Uint8Array {
    return this.buffer.subarray(IPV6_HEADER_LEN, Math.min(IPV6_HEADER_LEN + this.payloadLen, this.buffer.length));
  }
  /** Header plus payload, without link padding. */
  get datagram(): Uint8Array {
    return this.buffer.subarray(0, Math.min(IPV6_HEADER_LEN + this.payloadLen, this.buffer.length));
  }
  setHopLimit(h: number): void {
    this.buffer[7] = h;
  }
  setPayloadLen(n: number): void {
    writeU16(this.buffer, 4, n);
  }
  setNextHeader(n: number): void {
    this.buffer[6] = n;
  }
  /** The first 32 bits (version, traffic class, flow label) as one word. */
  get firstWord(): number {
    return readU32(this.buffer, 0);
  }
}

export interface Ipv6Repr {
  src: IpAddr;
  dst: IpAddr;
  /** First header after the fixed header: an extension header or the upper layer. */
  nextHeader: number;
  hopLimit: number;
  /** Default 0. */
  trafficClass?: number;
  /** 20 bits. Default 0. */
  flowLabel?: number;
  /** Bytes after the fixed header (extension headers included). */
  payloadLen: number;
}

export function parseIpv6(buf: Uint8Array): Ipv6Repr | WireError {
  const p = Ipv6Packet.view(buf);
  if (typeof p === 'string') return p;
  return {
    src: p.src,
    dst: p.dst,
    nextHeader: p.nextHeader,
    hopLimit: p.hopLimit,
    trafficClass: p.trafficClass,
    flowLabel: p.flowLabel,
    payloadLen: p.payloadLen,
  };
}

export function ipv6HeaderLen(_repr?: Ipv6Repr): number {
  return IPV6_HEADER_LEN;
}

/** Writes the 40-byte fixed header at `off`; returns 40. */
export function emitIpv6(repr: Ipv6Repr, buf: Uint8Array, off = 0): number {
  if (repr.payloadLen > 0xffff) throw new RangeError(`IPv6 payload of ${repr.payloadLen} bytes needs a jumbogram`);
  const tc = repr.trafficClass ?? 0;
  writeU32(buf, off, ((6 << 28) | ((tc & 0xff) << 20) | ((repr.flowLabel ?? 0) & 0xfffff)) >>> 0);
  writeU16(buf, off + 4, repr.payloadLen);
  buf[off + 6] = repr.nextHeader;
  buf[off + 7] = repr.hopLimit;
  buf.set(repr.src.bytes, off + 8);
  buf.set(repr.dst.bytes, off + 24);
  return IPV6_HEADER_LEN;
}
