// TCP header and options. Read: RFC 9293 §3.1 (header, flags, checksum, options, MSS §3.7.1),
// §3.4 (segment length counts SYN and FIN); RFC 7323 §2 (window scale), §3 (timestamps),
// Appendix A (option layout); RFC 2018 (SACK-permitted, SACK blocks), RFC 3168 §6.1 (ECE, CWR),
// RFC 3540 (NS, historic). TCP is the hot path: views read fields in place, parse can reuse a
// caller's object (`parseTcpInto`), emit writes into the caller's buffer.

import type { WireError } from './error.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { type AddrLike, foldSum, pseudoHeaderSum, sumWords, transportChecksum } from './checksum.js';
import { IpProto } from './ip-proto.js';

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
/** Offset of the checksum field (for CHECKSUM_PARTIAL: csumOffset). */
export const TCP_CHECKSUM_OFFSET = 16;

/** Flag bits as `flags` holds them: the 8 bits of byte 13, plus NS (byte 12 bit 0) as 0x100. */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  NS: 0x100,
} as const;

export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMP: 8,
  MD5: 19, // RFC 2385
  MPTCP: 30, // RFC 8684
  FAST_OPEN: 34, // RFC 7413
} as const;

/** RFC 7323 §2.3: a shift above 14 is used as 14. */
export const TCP_MAX_WINDOW_SCALE = 14;
const MAX_SACK_BLOCKS = 4;

export class TcpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /** `buf` is the IP payload: the segment runs to its end. */
  static view(buf: Uint8Array): TcpPacket | WireError {
    if (buf.length < TCP_HEADER_LEN) return 'truncated';
    const hl = (buf[12] >>> 4) * 4;
    if (hl < TCP_HEADER_LEN) return 'bad-header-length';
    if (hl > buf.length) return 'truncated';
    return new TcpPacket(buf);
  }

  get srcPort(): number {
    return readU16(this.buffer, 0);
  }
  get dstPort(): number {
    return readU16(this.buffer, 2);
  }
  get seqNumber(): number {
    return readU32(this.buffer, 4);
  }
  get ackNumber(): number {
    return readU32(this.buffer, 8);
  }
  get headerLen(): number {
    return (this.buffer[12] >>> 4) * 4;
  }
  /** All nine flag bits (see TcpFlags). */
  get flags(): number {
    return ((this.buffer[12] & 1) << 8) | this.buffer[13];
  }
  get fin(): boolean {
    return (this.buffer[13] & TcpFlags.FIN) !== 0;
  }
  get syn(): boolean {
    return (this.buffer[13] & TcpFlags.SYN) !== 0;
  }
  get rst(): boolean {
    return (this.buffer[13] & TcpFlags.RST) !== 0;
  }
  get psh(): boolean {
    return (this.buffer[13] & TcpFlags.PSH) !== 0;
  }
  get ack(): boolean {
    return (this.buffer[13] & TcpFlags.ACK) !== 0;
  }
  get urg(): boolean {
    return (this.buffer[13] & TcpFlags.URG) !== 0;
  }
  get ece(): boolean {
    return (this.buffer[13] & TcpFlags.ECE) !== 0;
  }
  get cwr(): boolean {
    return (this.buffer[13] & TcpFlags.CWR) !== 0;
  }
  get ns(): boolean {
    return (this.buffer[12] & 1) !== 0;
  }
  /** The raw (unscaled) window field. */
  get window(): number {
    return readU16(this.buffer, 14);
  }
  get checksum(): number {
    return readU16(this.buffer, 16);
  }
  get urgentPointer(): number {
    return readU16(this.buffer, 18);
  }
  get options(): Uint8Array {
    return this.buffer.subarray(TCP_HEADER_LEN, this.headerLen);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen);
  }
  /** RFC 9293 §3.4: data length plus one for SYN and one for FIN. */
  get segmentLen(): number {
    return this.buffer.length - this.headerLen + (this.buffer[13] & TcpFlags.SYN ? 1 : 0) + (this.buffer[13] & TcpFlags.FIN ? 1 : 0);
  }
  verifyChecksum(src: AddrLike, dst: AddrLike): boolean {
    return foldSum(pseudoHeaderSum(src, dst, IpProto.TCP, this.buffer.length) + sumWords(this.buffer)) === 0xffff;
  }
  fillChecksum(src: AddrLike, dst: AddrLike): void {
    writeU16(this.buffer, 16, 0);
    writeU16(this.buffer, 16, transportChecksum(src, dst, IpProto.TCP, this.buffer));
  }
  setSrcPort(p: number): void {
    writeU16(this.buffer, 0, p);
  }
  setDstPort(p: number): void {
    writeU16(this.buffer, 2, p);
  }
  setSeqNumber(s: number): void {
    writeU32(this.buffer, 4, s);
  }
  setAckNumber(a: number): void {
    writeU32(this.buffer, 8, a);
  }
  setFlags(f: number): void {
    this.buffer[12] = (this.buffer[12] & 0xf0) | ((f >>> 8) & 1);
    this.buffer[13] = f & 0xff;
  }
  setWindow(w: number): void {
    writeU16(this.buffer, 14, w);
  }
  setChecksum(c: number): void {
    writeU16(this.buffer, 16, c);
  }
}

export interface SackBlock {
  /** First sequence number of the block. */
  left: number;
  /** Sequence number just after the block. */
  right: number;
}

export interface TcpTimestamp {
  tsVal: number;
  tsEcr: number;
}

/** An option this module does not interpret (or a known one with a wrong length), kept raw. */
export interface TcpOption {
  kind: number;
  data: Uint8Array;
}

/**
 * The meaning of a TCP header. For emit, absent optional fields mean "not sent"; parse sets
 * every field (null / false when absent) so parsed objects share one shape.
 */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TcpFlags bits. */
  flags: number;
  /** Raw 16-bit window field (the sender scales). */
  window: number;
  urgent?: number;
  mss?: number | null;
  /** Shift count as sent (RFC 7323 §2.3 says use 14 if larger: see TCP_MAX_WINDOW_SCALE). */
  windowScale?: number | null;
  sackPermitted?: boolean;
  /** 1..4 blocks (RFC 2018 §3; 3 fit with timestamps). */
  sackBlocks?: SackBlock[] | null;
  timestamp?: TcpTimestamp | null;
  unknownOptions?: TcpOption[] | null;
}

/** A parsed segment: the header's meaning plus a view of the data. */
export interface TcpSegment extends TcpRepr {
  urgent: number;
  mss: number | null;
  windowScale: number | null;
  sackPermitted: boolean;
  sackBlocks: SackBlock[] | null;
  timestamp: TcpTimestamp | null;
  unknownOptions: TcpOption[] | null;
  payload: Uint8Array;
}

export interface TcpParseOptions {
  /** Default true. False when the link vouched for the checksum (csumValid). */
  verifyChecksum?: boolean;
}

export function newTcpSegment(): TcpSegment {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    urgent: 0,
    mss: null,
    windowScale: null,
    sackPermitted: false,
    sackBlocks: null,
    timestamp: null,
    unknownOptions: null,
    payload: new Uint8Array(0),
  };
}

/** Parses a segment (`buf` = the IP payload) with its checksum; allocates the result. */
export function parseTcp(buf: Uint8Array, src: AddrLike, dst: AddrLike, opts?: TcpParseOptions): TcpSegment | WireError {
  const out = newTcpSegment();
  const r = parseTcpInto(out, buf, src, dst, opts);
  return typeof r === 'string' ? r : out;
}

/**
 * Parses into `out`, overwriting every field (so one object can serve every segment of a
 * batch). On error `out` is left partly written. The `timestamp` object of the previous parse
 * is reused (its values overwritten): copy tsVal/tsEcr out rather than keeping the object.
 */
export function parseTcpInto(
  out: TcpSegment,
  buf: Uint8Array,
  src: AddrLike,
  dst: AddrLike,
  opts?: TcpParseOptions,
): TcpSegment | WireError {
  const p = TcpPacket.view(buf);
  if (typeof p === 'string') return p;
  if ((!opts || opts.verifyChecksum !== false) && !p.verifyChecksum(src, dst)) return 'bad-checksum';
  out.srcPort = p.srcPort;
  out.dstPort = p.dstPort;
  out.seq = p.seqNumber;
  out.ack = p.ackNumber;
  out.flags = p.flags;
  out.window = p.window;
  out.urgent = p.urgentPointer;
  out.payload = p.payload;
  const hasTs = out.timestamp;
  out.mss = null;
  out.windowScale = null;
  out.sackPermitted = false;
  out.sackBlocks = null;
  out.timestamp = null;
  out.unknownOptions = null;
  const hl = p.headerLen;
  return hl > TCP_HEADER_LEN ? parseTcpOptionsInto(out, buf, TCP_HEADER_LEN, hl, hasTs) : out;
}

function parseTcpOptionsInto(
  out: TcpSegment,
  b: Uint8Array,
  start: number,
  end: number,
  reuseTs: TcpTimestamp | null,
): TcpSegment | WireError {
  let i = start;
  while (i < end) {
    const kind = b[i];
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    // RFC 9293 §3.1: every other option has a length octet counting kind and length.
    if (i + 1 >= end) return 'bad-option';
    const len = b[i + 1];
    if (len < 2 || i + len > end) return 'bad-option';
    let known = true;
    switch (kind) {
      case TcpOptionKind.MSS:
        if (len === 4) out.mss = readU16(b, i + 2);
        else known = false;
        break;
      case TcpOptionKind.WINDOW_SCALE:
        if (len === 3) out.windowScale = b[i + 2];
        else known = false;
        break;
      case TcpOptionKind.SACK_PERMITTED:
        if (len === 2) out.sackPermitted = true;
        else known = false;
        break;
      case TcpOptionKind.SACK: {
        const n = (len - 2) / 8;
        if (Number.isInteger(n) && n >= 1 && n <= MAX_SACK_BLOCKS) {
          const blocks: SackBlock[] = [];
          for (let k = 0; k < n; k++) blocks.push({ left: readU32(b, i + 2 + 8 * k), right: readU32(b, i + 6 + 8 * k) });
          out.sackBlocks = blocks;
        } else known = false;
        break;
      }
      case TcpOptionKind.TIMESTAMP:
        if (len === 10) {
          const ts = reuseTs ?? { tsVal: 0, tsEcr: 0 };
          ts.tsVal = readU32(b, i + 2);
          ts.tsEcr = readU32(b, i + 6);
          out.timestamp = ts;
        } else known = false;
        break;
      default:
        known = false;
    }
    // Unknown kinds, and known kinds with a length we cannot read, are kept raw rather than
    // failing the segment (Linux ignores them the same way in tcp_parse_options).
    if (!known) (out.unknownOptions ??= []).push({ kind, data: b.subarray(i + 2, i + len) });
    i += len;
  }
  return out;
}

/** Length of the options as emitTcp lays them out, before padding. */
function optionsLen(r: TcpRepr): number {
  let n = 0;
  if (r.mss != null) n += 4;
  if (r.timestamp) n += 12; // NOP NOP TS, or SACK-permitted + TS
  else if (r.sackPermitted) n += 4; // NOP NOP SACK-permitted
  if (r.windowScale != null) n += 4; // NOP WS
  if (r.sackBlocks && r.sackBlocks.length) n += 4 + 8 * r.sackBlocks.length; // NOP NOP SACK
  if (r.unknownOptions) for (const o of r.unknownOptions) n += 2 + o.data.length;
  return n;
}

/** Header length emitTcp will write: 20 + options padded to 4 (RFC 9293 §3.1). */
export function tcpHeaderLen(repr: TcpRepr): number {
  return TCP_HEADER_LEN + ((optionsLen(repr) + 3) & ~3);
}

/**
 * Writes the header and options at `off` with a zero checksum; returns the header length.
 * Options use Linux's layout (RFC 7323 Appendix A alignment): MSS, SACK-permitted/NOPs +
 * timestamps, NOP + window scale, NOP NOP + SACK blocks, then raw options, EOL-padded.
 * Finish with `tcpChecksum` or `partialChecksum`. Throws if options exceed 40 bytes.
 */
export function emitTcp(repr: TcpRepr, buf: Uint8Array, off = 0): number {
  const hl = tcpHeaderLen(repr);
  if (hl > TCP_MAX_HEADER_LEN) throw new RangeError(`TCP options need ${hl - TCP_HEADER_LEN} bytes (max 40)`);
  writeU16(buf, off, repr.srcPort);
  writeU16(buf, off + 2, repr.dstPort);
  writeU32(buf, off + 4, repr.seq);
  writeU32(buf, off + 8, repr.ack);
  buf[off + 12] = ((hl >>> 2) << 4) | ((repr.flags >>> 8) & 1);
  buf[off + 13] = repr.flags & 0xff;
  writeU16(buf, off + 14, repr.window);
  writeU16(buf, off + 16, 0);
  writeU16(buf, off + 18, repr.urgent ?? 0);
  let p = off + TCP_HEADER_LEN;
  if (repr.mss != null) {
    buf[p] = TcpOptionKind.MSS;
    buf[p + 1] = 4;
    writeU16(buf, p + 2, repr.mss);
    p += 4;
  }
  if (repr.timestamp) {
    if (repr.sackPermitted) {
      buf[p] = TcpOptionKind.SACK_PERMITTED;
      buf[p + 1] = 2;
    } else {
      buf[p] = TcpOptionKind.NOP;
      buf[p + 1] = TcpOptionKind.NOP;
    }
    buf[p + 2] = TcpOptionKind.TIMESTAMP;
    buf[p + 3] = 10;
    writeU32(buf, p + 4, repr.timestamp.tsVal);
    writeU32(buf, p + 8, repr.timestamp.tsEcr);
    p += 12;
  } else if (repr.sackPermitted) {
    buf[p] = TcpOptionKind.NOP;
    buf[p + 1] = TcpOptionKind.NOP;
    buf[p + 2] = TcpOptionKind.SACK_PERMITTED;
    buf[p + 3] = 2;
    p += 4;
  }
  if (repr.windowScale != null) {
    buf[p] = TcpOptionKind.NOP;
    buf[p + 1] = TcpOptionKind.WINDOW_SCALE;
    buf[p + 2] = 3;
    buf[p + 3] = repr.windowScale;
    p += 4;
  }
  if (repr.sackBlocks && repr.sackBlocks.length) {
    const n = repr.sackBlocks.length;
    if (n > MAX_SACK_BLOCKS) throw new RangeError(`${n} SACK blocks (max 4)`);
    buf[p] = TcpOptionKind.NOP;
    buf[p + 1] = TcpOptionKind.NOP;
    buf[p + 2] = TcpOptionKind.SACK;
    buf[p + 3] = 2 + 8 * n;
    p += 4;
    for (const s of repr.sackBlocks) {
      writeU32(buf, p, s.left);
      writeU32(buf, p + 4, s.right);
      p += 8;
    }
  }
  if (repr.unknownOptions) {
    for (const o of repr.unknownOptions) {
      buf[p] = o.kind;
      buf[p + 1] = 2 + o.data.length;
      buf.set(o.data, p + 2);
      p += 2 + o.data.length;
    }
  }
  buf.fill(TcpOptionKind.EOL, p, off + hl);
  return hl;
}

/** The checksum to store for a segment whose checksum field is zero; header and payload may be apart. */
export function tcpChecksum(src: AddrLike, dst: AddrLike, header: Uint8Array, payload?: Uint8Array): number {
  return transportChecksum(src, dst, IpProto.TCP, header, payload);
}

/** RFC 9293 §3.4 segment length: data plus SYN and FIN. */
export function tcpSegmentLen(flags: number, payloadLen: number): number {
  return payloadLen + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0);
}

/** Short text for logs: "SA" style flag letters (F S R P . U E C N). */
export function formatTcpFlags(flags: number): string {
  let s = '';
  if (flags & TcpFlags.FIN) s += 'F';
  if (flags & TcpFlags.SYN) s += 'S';
  if (flags & TcpFlags.RST) s += 'R';
  if (flags & TcpFlags.PSH) s += 'P';
  if (flags & TcpFlags.ACK) s += '.';
  if (flags & TcpFlags.URG) s += 'U';
  if (flags & TcpFlags.ECE) s += 'E';
  if (flags & TcpFlags.CWR) s += 'W';
  if (flags & TcpFlags.NS) s += 'N';
  return s;
}
