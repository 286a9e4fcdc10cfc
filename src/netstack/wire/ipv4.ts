// IPv4 header. Read: RFC 791 §3.1 (format, options), RFC 1122 §3.2.1 (what a host must check),
// RFC 2474 / RFC 3168 (the TOS byte as DSCP + ECN), RFC 6864 (ident), RFC 1624 (incremental
// checksum when a router or NAT rewrites a field).

import type { WireError } from './error.js';
import { IpAddr } from './ip-address.js';
import { readU16, writeU16 } from './bytes.js';
import { checksumAdjust, foldSum, sumWords } from './checksum.js';

export const IPV4_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;

/** Option types (RFC 791 §3.1; the copy flag is bit 7 of the type). */
export const Ipv4OptionType = {
  EOL: 0,
  NOP: 1,
  RECORD_ROUTE: 7,
  TIMESTAMP: 68,
  LSRR: 131,
  SSRR: 137,
  ROUTER_ALERT: 148, // RFC 2113
} as const;

/** A checked view of an IPv4 datagram. */
export class Ipv4Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /**
   * Checks version, IHL and total length against the buffer. Bytes after Total Length
   * (Ethernet pads short frames to 60 bytes) are ignored: `payload` ends at Total Length.
   */
  static view(buf: Uint8Array): Ipv4Packet | WireError {
    if (buf.length < IPV4_HEADER_LEN) return 'truncated';
    if (buf[0] >>> 4 !== 4) return 'bad-version';
    const hl = (buf[0] & 0x0f) * 4;
    if (hl < IPV4_HEADER_LEN) return 'bad-header-length';
    if (buf.length < hl) return 'truncated';
    const total = readU16(buf, 2);
    if (total < hl) return 'bad-length';
    if (buf.length < total) return 'truncated';
    return new Ipv4Packet(buf);
  }

  /**
   * A view for the datagram quoted inside an ICMP error (RFC 792, RFC 1812 §4.3.2.3): the
   * quote is usually cut short, so Total Length may exceed the buffer. Header must be whole.
   */
  static viewQuoted(buf: Uint8Array): Ipv4Packet | WireError {
    if (buf.length < IPV4_HEADER_LEN) return 'truncated';
    if (buf[0] >>> 4 !== 4) return 'bad-version';
    const hl = (buf[0] & 0x0f) * 4;
    if (hl < IPV4_HEADER_LEN) return 'bad-header-length';
    if (buf.length < hl) return 'truncated';
    if (readU16(buf, 2) < hl) return 'bad-length';
    return new Ipv4Packet(buf);
  }

  get version(): number {
    return this.buffer[0] >>> 4;
  }
  get headerLen(): number {
    return (this.buffer[0] & 0x0f) * 4;
  }
  /** The whole TOS byte: DSCP << 2 | ECN. */
  get tos(): number {
    return this.buffer[1];
  }
  get dscp(): number {
    return this.buffer[1] >>> 2;
  }
  get ecn(): number {
    return this.buffer[1] & 3;
  }
  get totalLen(): number {
    return readU16(this.buffer, 2);
  }
  get ident(): number {
    return readU16(this.buffer, 4);
  }
  get dontFragment(): boolean {
    return (this.buffer[6] & 0x40) !== 0;
  }
  get moreFragments(): boolean {
    return (this.buffer[6] & 0x20) !== 0;
  }
  /** The reserved flag (RFC 3514 aside, must be zero). */
  get reservedFlag(): boolean {
    return (this.buffer[6] & 0x80) !== 0;
  }
  /** Fragment offset in BYTES (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return (readU16(this.buffer, 6) & 0x1fff) * 8;
  }
  /** True when this datagram is a fragment (MF set or offset non-zero). */
  get isFragment(): boolean {
    return (readU16(this.buffer, 6) & 0x3fff) !== 0;
  }
  get ttl(): number {
    return this.buffer[8];
  }
  get protocol(): number {
    return this.buffer[9];
  }
  get checksum(): number {
    return readU16(this.buffer, 10);
  }
  get srcBytes(): Uint8Array {
    return this.buffer.subarray(12, 16);
  }
  get dstBytes(): Uint8Array {
    return this.buffer.subarray(16, 20);
  }
  /** Allocates: prefer srcBytes on hot paths. */
  get src(): IpAddr {
    return IpAddr.read(4, this.buffer, 12);
  }
  get dst(): IpAddr {
    return IpAddr.read(4, this.buffer, 16);
  }
  /** Raw option bytes (may be empty); walk them with `parseIpv4Options`. */
  get options(): Uint8Array {
    return this.buffer.subarray(IPV4_HEADER_LEN, this.headerLen);
  }
  /** The bytes the header covers up to Total Length (possibly cut short in a quoted view). */
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen, Math.min(this.totalLen, this.buffer.length));
  }
  /** Header plus payload up to Total Length, without link padding. */
  get datagram(): Uint8Array {
    return this.buffer.subarray(0, Math.min(this.totalLen, this.buffer.length));
  }
  /** RFC 791 §3.1 header checksum: the header sums to all ones. */
  verifyChecksum(): boolean {
    return foldSum(sumWords(this.buffer, 0, this.headerLen)) === 0xffff;
  }
  fillChecksum(): void {
    writeU16(this.buffer, 10, 0);
    writeU16(this.buffer, 10, ~foldSum(sumWords(this.buffer, 0, this.headerLen)) & 0xffff);
  }
  // Setters below keep the header checksum valid by RFC 1624 incremental update, so a valid
  // header stays valid (forwarding, NAT, fragmenting a copy of the header).

  /** Sets TTL, as forwarding does. */
  setTtl(ttl: number): void {
    this.setWord(8, ((ttl & 0xff) << 8) | this.buffer[9]);
  }
  setTos(tos: number): void {
    this.setWord(0, (this.buffer[0] << 8) | (tos & 0xff));
  }
  setTotalLen(n: number): void {
    this.setWord(2, n);
  }
  setIdent(id: number): void {
    this.setWord(4, id);
  }
  /** Flags and fragment offset (in bytes, a multiple of 8) together, as fragmentation sets them. */
  setFragment(offsetBytes: number, moreFragments: boolean, dontFragment = this.dontFragment): void {
    this.setWord(6, (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | ((offsetBytes >>> 3) & 0x1fff));
  }
  private setWord(off: number, v: number): void {
    const old = readU16(this.buffer, off);
    writeU16(this.buffer, off, v);
    writeU16(this.buffer, 10, checksumAdjust(this.checksum, old, v & 0xffff));
  }
  /** Rewrites the source address, adjusting the header checksum incrementally (NAT). */
  setSrc(addr: Uint8Array): void {
    this.rewrite(12, addr);
  }
  setDst(addr: Uint8Array): void {
    this.rewrite(16, addr);
  }
  private rewrite(off: number, addr: Uint8Array): void {
    const b = this.buffer;
    const old = [(b[off] << 8) | b[off + 1], (b[off + 2] << 8) | b[off + 3]];
    b.set(addr.subarray(0, 4), off);
    const nw = [(b[off] << 8) | b[off + 1], (b[off + 2] << 8) | b[off + 3]];
    writeU16(b, 10, checksumAdjust(this.checksum, old, nw));
  }
}

export interface Ipv4Repr {
  src: IpAddr;
  dst: IpAddr;
  protocol: number;
  ttl: number;
  /** DSCP << 2 | ECN. Default 0. */
  tos?: number;
  /** Default 0. */
  ident?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In bytes, a multiple of 8. Default 0. */
  fragmentOffset?: number;
  /** Length of what follows the header. */
  payloadLen: number;
  /** Raw option bytes, padded by emit to a multiple of 4 with EOL. At most 40 bytes. */
  options?: Uint8Array;
}

export interface Ipv4ParseOptions {
  /** Default true; false when the link already verified it (rare for IPv4 headers). */
  verifyChecksum?: boolean;
}

/**
 * Parses and validates the header (RFC 1122 §3.2.1.1-3.2.1.2: version, checksum, lengths;
 * options must walk cleanly). Copies addresses into IpAddr; the payload stays in the packet.
 */
export function parseIpv4(buf: Uint8Array, opts?: Ipv4ParseOptions): Ipv4Repr | WireError {
  const p = Ipv4Packet.view(buf);
  if (typeof p === 'string') return p;
  if ((!opts || opts.verifyChecksum !== false) && !p.verifyChecksum()) return 'bad-checksum';
  const options = p.options;
  if (options.length) {
    const o = parseIpv4Options(options);
    if (typeof o === 'string') return o;
  }
  return {
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    ttl: p.ttl,
    tos: p.tos,
    ident: p.ident,
    dontFragment: p.dontFragment,
    moreFragments: p.moreFragments,
    fragmentOffset: p.fragmentOffset,
    payloadLen: p.totalLen - p.headerLen,
    options: options.length ? options : undefined,
  };
}

export function ipv4HeaderLen(repr: Ipv4Repr): number {
  const o = repr.options ? repr.options.length : 0;
  return IPV4_HEADER_LEN + ((o + 3) & ~3);
}

/**
 * Writes the header at `off` with Total Length = header + payloadLen and a valid checksum;
 * returns the header length. Throws on values that cannot be encoded (programmer errors).
 */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array, off = 0): number {
  const hl = ipv4HeaderLen(repr);
  if (hl > IPV4_MAX_HEADER_LEN) throw new RangeError('IPv4 options exceed 40 bytes');
  const total = hl + repr.payloadLen;
  if (total > 0xffff) throw new RangeError(`IPv4 datagram of ${total} bytes`);
  const fo = repr.fragmentOffset ?? 0;
  if (fo & 7 || fo > 0x1fff * 8) throw new RangeError(`bad IPv4 fragment offset ${fo}`);
  buf[off] = 0x40 | (hl >>> 2);
  buf[off + 1] = repr.tos ?? 0;
  writeU16(buf, off + 2, total);
  writeU16(buf, off + 4, repr.ident ?? 0);
  writeU16(buf, off + 6, (repr.dontFragment ? 0x4000 : 0) | (repr.moreFragments ? 0x2000 : 0) | (fo >>> 3));
  buf[off + 8] = repr.ttl;
  buf[off + 9] = repr.protocol;
  writeU16(buf, off + 10, 0);
  buf.set(repr.src.bytes, off + 12);
  buf.set(repr.dst.bytes, off + 16);
  if (repr.options) {
    buf.set(repr.options, off + IPV4_HEADER_LEN);
    buf.fill(Ipv4OptionType.EOL, off + IPV4_HEADER_LEN + repr.options.length, off + hl);
  }
  writeU16(buf, off + 10, ~foldSum(sumWords(buf, off, off + hl)) & 0xffff);
  return hl;
}

export interface Ipv4Option {
  type: number;
  /** The bytes after type and length (empty for single-byte options). */
  data: Uint8Array;
  /** Offset of the type byte inside the option area (for ICMP parameter-problem pointers, +20). */
  offset: number;
}

/**
 * Walks an option area (RFC 791 §3.1): EOL ends it, NOP is padding (neither is returned);
 * every other option has a length byte >= 2 that must stay inside the area, else 'bad-option'.
 */
export function parseIpv4Options(area: Uint8Array): Ipv4Option[] | WireError {
  const out: Ipv4Option[] = [];
  let i = 0;
  while (i < area.length) {
    const type = area[i];
    if (type === Ipv4OptionType.EOL) break;
    if (type === Ipv4OptionType.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= area.length) return 'bad-option';
    const len = area[i + 1];
    if (len < 2 || i + len > area.length) return 'bad-option';
    out.push({ type, data: area.subarray(i + 2, i + len), offset: i });
    i += len;
  }
  return out;
}

/**
 * The options a fragment other than the first carries: those with the copied flag
 * (RFC 791 §3.1, "copied flag"), padded to 4 bytes. Returns a new array.
 */
export function ipv4OptionsCopiedOnFragment(area: Uint8Array): Uint8Array {
  const opts = parseIpv4Options(area);
  if (typeof opts === 'string') return new Uint8Array(0);
  let n = 0;
  for (const o of opts) if (o.type & 0x80) n += 2 + o.data.length;
  const out = new Uint8Array((n + 3) & ~3);
  let p = 0;
  for (const o of opts) {
    if (!(o.type & 0x80)) continue;
    out[p] = o.type;
    out[p + 1] = 2 + o.data.length;
    out.set(o.data, p + 2);
    p += 2 + o.data.length;
  }
  return out;
}
