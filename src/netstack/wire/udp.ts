// UDP. Read: RFC 768 (header, pseudo-header checksum, zero = none), RFC 1122 §4.1.3.4
// (IPv4: a zero checksum means the sender did not compute one), RFC 8200 §8.1 (IPv6: the
// checksum is mandatory, a zero one is dropped; a computed 0 is sent as 0xffff).

import type { WireError } from './error.js';
import { readU16, writeU16 } from './bytes.js';
import { type AddrLike, foldSum, pseudoHeaderSum, sumWords, transportChecksum } from './checksum.js';
import { IpProto } from './ip-proto.js';

export const UDP_HEADER_LEN = 8;
/** Offset of the checksum field in the header (for CHECKSUM_PARTIAL: csumOffset). */
export const UDP_CHECKSUM_OFFSET = 6;

export class UdpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /** Checks the Length field (>= 8, within the buffer); data past it is ignored. */
  static view(buf: Uint8Array): UdpPacket | WireError {
    if (buf.length < UDP_HEADER_LEN) return 'truncated';
    const len = readU16(buf, 4);
    if (len < UDP_HEADER_LEN) return 'bad-length';
    if (len > buf.length) return 'truncated';
    return new UdpPacket(buf);
  }

  get srcPort(): number {
    return readU16(this.buffer, 0);
  }
  get dstPort(): number {
    return readU16(this.buffer, 2);
  }
  get length(): number {
    return readU16(this.buffer, 4);
  }
  get checksum(): number {
    return readU16(this.buffer, 6);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(UDP_HEADER_LEN, this.length);
  }
  /** The datagram (header + payload) as its Length field delimits it. */
  get datagram(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
  /**
   * Verifies the checksum against the pseudo-header (family from the address length). A zero
   * field passes for IPv4 (no checksum sent) and fails for IPv6 (RFC 8200 §8.1).
   */
  verifyChecksum(src: AddrLike, dst: AddrLike): boolean {
    const v6 = (src instanceof Uint8Array ? src.length : src.bytes.length) === 16;
    if (this.checksum === 0) return !v6;
    const d = this.datagram;
    return foldSum(pseudoHeaderSum(src, dst, IpProto.UDP, d.length) + sumWords(d)) === 0xffff;
  }
  setSrcPort(p: number): void {
    writeU16(this.buffer, 0, p);
  }
  setDstPort(p: number): void {
    writeU16(this.buffer, 2, p);
  }
  setChecksum(c: number): void {
    writeU16(this.buffer, 6, c);
  }
  /** Computes and stores the checksum over header + payload in this buffer. */
  fillChecksum(src: AddrLike, dst: AddrLike): void {
    this.setChecksum(0);
    this.setChecksum(udpChecksum(src, dst, this.datagram));
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Bytes after the 8-byte header (the Length field is 8 more). */
  payloadLen: number;
}

export interface UdpDatagram extends UdpRepr {
  /** A view into the packet. */
  payload: Uint8Array;
}

export interface UdpParseOptions {
  /** Default true. False when the link vouched for the checksum (csumValid). */
  verifyChecksum?: boolean;
}

export function parseUdp(buf: Uint8Array, src: AddrLike, dst: AddrLike, opts?: UdpParseOptions): UdpDatagram | WireError {
  const p = UdpPacket.view(buf);
  if (typeof p === 'string') return p;
  if ((!opts || opts.verifyChecksum !== false) && !p.verifyChecksum(src, dst)) return 'bad-checksum';
  const payload = p.payload;
  return { srcPort: p.srcPort, dstPort: p.dstPort, payloadLen: payload.length, payload };
}

export function udpHeaderLen(_repr?: UdpRepr): number {
  return UDP_HEADER_LEN;
}

/**
 * Writes the 8-byte header at `off` with Length = 8 + repr.payloadLen and a zero checksum; fill
 * the checksum afterwards with `udpChecksum` (full) or `partialChecksum` (offload).
 */
export function emitUdp(repr: UdpRepr, buf: Uint8Array, off = 0): number {
  const len = UDP_HEADER_LEN + repr.payloadLen;
  if (len > 0xffff) throw new RangeError(`UDP datagram of ${len} bytes`);
  writeU16(buf, off, repr.srcPort);
  writeU16(buf, off + 2, repr.dstPort);
  writeU16(buf, off + 4, len);
  writeU16(buf, off + 6, 0);
  return UDP_HEADER_LEN;
}

/**
 * The checksum to store for a datagram whose checksum field is zero: header and payload may
 * be given separately (sendIp's header/payload). A computed 0 becomes 0xffff (RFC 768).
 */
export function udpChecksum(src: AddrLike, dst: AddrLike, header: Uint8Array, payload?: Uint8Array): number {
  const c = transportChecksum(src, dst, IpProto.UDP, header, payload);
  return c === 0 ? 0xffff : c;
}
