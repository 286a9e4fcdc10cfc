// Incremental capture-file parser: bytes in (in chunks of any size), records out. It knows
// both classic pcap and pcapng, tells them apart by the first four bytes, and never waits for
// more than one block at a time, so a multi-gigabyte capture streams in constant memory.
//
// Read first: draft-ietf-opsawg-pcap §4-§5, draft-ietf-opsawg-pcapng §3-§4 and Appendix A.
// Damage is a PcapFormatError with the byte offset; the only thing a truncated file can do is
// end inside a header, record or block, which end() reports (or, with allowTruncated, notes in
// `truncation` and accepts).

import {
  BlockType,
  MAX_BLOCK_LENGTH,
  Opt,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
  PcapFormatError,
} from './format.js';
import type { PcapInterface, PcapRecord } from './format.js';

export interface PcapReadOptions {
  /**
   * When the data ends inside a record or block, stop quietly after the last whole record and
   * describe the cut in `PcapParser.truncation`, instead of throwing PcapFormatError('truncated').
   * A capture tool that was killed mid-write leaves such a file.
   */
  readonly allowTruncated?: boolean;
  /** Largest block/record length accepted; defaults to MAX_BLOCK_LENGTH (256 MiB). */
  readonly maxBlockLength?: number;
}

export interface PcapTruncation {
  /** Offset of the header, record or block the data ends in. */
  readonly offset: number;
  /** Bytes that part needed, and bytes there were. */
  readonly needed: number;
  readonly available: number;
  readonly inside: 'file header' | 'record' | 'block';
}

type State = 'magic' | 'pcap-header' | 'pcap-record' | 'block';

const utf8 = new TextDecoder('utf-8', { fatal: false });
const NS_PER_S = 1_000_000_000n;
const EMPTY: Uint8Array = new Uint8Array(0);

/** Unit conversion per interface, computed once: ns = units * mul / div + offsetNs. */
interface IfaceRuntime extends PcapInterface {
  readonly mul: bigint;
  readonly div: bigint;
  readonly offsetNs: bigint;
}

function runtime(desc: PcapInterface): IfaceRuntime {
  const ups = desc.unitsPerSecond;
  // Exact integer scaling when the unit divides a nanosecond (10^-n with n <= 9); otherwise
  // multiply first so nothing is lost before the (truncating) division.
  const exact = NS_PER_S % ups === 0n;
  return {
    ...desc,
    mul: exact ? NS_PER_S / ups : NS_PER_S,
    div: exact ? 1n : ups,
    offsetNs: desc.tsOffsetSeconds * NS_PER_S,
  };
}

export class PcapParser {
  /** Which format the data turned out to be; undefined before the first four bytes. */
  format: 'pcap' | 'pcapng' | undefined;
  /** Byte order of the current section (classic: of the file). */
  bigEndian = false;
  /** Classic: 'us' or 'ns' as the magic says. pcapng: per interface (see interfaces). */
  precision: 'us' | 'ns' | undefined;
  /** Number of pcapng sections seen (1 for classic pcap once the header is read). */
  sections = 0;
  /** Set by end() when allowTruncated accepted a cut-off file. */
  truncation: PcapTruncation | undefined;

  private readonly allowTruncated: boolean;
  private readonly maxLen: number;
  private state: State = 'magic';
  private ifaces: IfaceRuntime[] = [];
  private readonly seen: PcapInterface[] = [];

  // The unread bytes are buf[pos..] followed by the chunks in `extra`; they are merged into one
  // buffer only once enough bytes for the next step are there (no quadratic re-copying while
  // a large block arrives in small chunks). Records are views of `buf`, which is never reused.
  private buf: Uint8Array = EMPTY;
  private dv: DataView = new DataView(EMPTY.buffer);
  private pos = 0;
  private base = 0; // file offset of buf[0]
  private extra: Uint8Array[] = [];
  private extraLen = 0;
  private need = 4;
  private ended = false;
  private failed: PcapFormatError | undefined;

  constructor(options: PcapReadOptions = {}) {
    this.allowTruncated = options.allowTruncated ?? false;
    this.maxLen = options.maxBlockLength ?? MAX_BLOCK_LENGTH;
  }

  /** Interfaces of the current section (classic pcap: the one implicit interface). */
  get interfaces(): readonly PcapInterface[] {
    return this.ifaces;
  }

  /** Every interface described so far, across all sections. */
  get allInterfaces(): readonly PcapInterface[] {
    return this.seen;
  }

  /** Bytes consumed so far (file offset of the next unread byte). */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Adds bytes and returns the records they complete. If the bytes hold damage, the records
   * before it are returned and the PcapFormatError is thrown by the next push() or end().
   */
  push(chunk: Uint8Array): PcapRecord[] {
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error('PcapParser.push after end()');
    if (chunk.length === 0) return [];
    // Plain Uint8Array views (not Buffer) out, whatever the source gave: no copy.
    this.extra.push(
      Object.getPrototypeOf(chunk) === Uint8Array.prototype
        ? chunk
        : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    this.extraLen += chunk.length;
    if (this.buf.length - this.pos + this.extraLen < this.need) return [];
    this.merge();
    const out: PcapRecord[] = [];
    try {
      this.run(out);
    } catch (e) {
      if (!(e instanceof PcapFormatError)) throw e;
      this.failed = e;
      if (out.length === 0) throw e;
    }
    return out;
  }

  /** No more data: throws a pending error, or 'truncated' if the data ended mid-way. */
  end(): void {
    if (this.failed) throw this.failed;
    this.ended = true;
    const available = this.buf.length - this.pos + this.extraLen;
    if (available === 0 && this.format !== undefined) return;
    const inside = this.state === 'block' ? 'block' : this.state === 'pcap-record' ? 'record' : 'file header';
    const cut: PcapTruncation = { offset: this.offset, needed: this.need, available, inside };
    if (this.allowTruncated) {
      this.truncation = cut;
      return;
    }
    this.failed =
      available === 0 && this.offset === 0
        ? new PcapFormatError('truncated', 0, 'empty capture file')
        : new PcapFormatError('truncated', cut.offset, `data ends inside a ${cut.inside}: ${available} of ${cut.needed} bytes`);
    throw this.failed;
  }

  private merge(): void {
    const rest = this.buf.length - this.pos;
    if (this.extra.length === 0) return;
    if (rest === 0 && this.extra.length === 1) {
      this.base += this.buf.length;
      this.buf = this.extra[0];
    } else {
      const joined = new Uint8Array(rest + this.extraLen);
      joined.set(this.buf.subarray(this.pos));
      let o = rest;
      for (const c of this.extra) {
        joined.set(c, o);
        o += c.length;
      }
      this.base += this.pos;
      this.buf = joined;
    }
    this.pos = 0;
    this.extra = [];
    this.extraLen = 0;
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private fail(code: ConstructorParameters<typeof PcapFormatError>[0], at: number, message: string): never {
    throw new PcapFormatError(code, this.base + at, message);
  }

  private u16(at: number): number {
    return this.dv.getUint16(at, !this.bigEndian);
  }

  private u32(at: number): number {
    return this.dv.getUint32(at, !this.bigEndian) >>> 0;
  }

  /** Steps until the next step needs more bytes than there are. */
  private run(out: PcapRecord[]): void {
    for (;;) {
      const avail = this.buf.length - this.pos;
      switch (this.state) {
        case 'magic': {
          if (avail < 4) return void (this.need = 4);
          this.detect();
          break;
        }
        case 'pcap-header': {
          this.need = 24;
          if (avail < 24) return;
          this.classicHeader();
          break;
        }
        case 'pcap-record': {
          this.need = 16;
          if (avail < 16) return;
          const p = this.pos;
          const incl = this.u32(p + 8);
          // draft-ietf-opsawg-pcap §5: CapLen bytes of packet data follow the 16-byte header.
          if (incl > this.maxLen) this.fail('bad-length', p, `record claims ${incl} captured bytes`);
          this.need = 16 + incl;
          if (avail < this.need) return;
          out.push(this.classicRecord(p, incl));
          this.pos = p + 16 + incl;
          break;
        }
        case 'block': {
          this.need = 8;
          if (avail < 8) return;
          const p = this.pos;
          const b = this.buf;
          const isShb = b[p] === 0x0a && b[p + 1] === 0x0d && b[p + 2] === 0x0d && b[p + 3] === 0x0a;
          if (isShb) {
            // §4.1: the block type is a palindrome, but the length is in the section's byte
            // order, which only the byte-order magic after it tells.
            this.need = 12;
            if (avail < 12) return;
            this.bigEndian = this.shbByteOrder(p + 8);
          }
          const len = this.u32(p + 4);
          // §3.1: a block is at least type + length + trailing length, 32-bit aligned.
          if (len < (isShb ? 28 : 12) || len % 4 !== 0 || len > this.maxLen) {
            this.fail('bad-length', p, `pcapng block length ${len} is impossible`);
          }
          this.need = len;
          if (avail < len) return;
          if (this.u32(p + len - 4) !== len) {
            this.fail('length-mismatch', p, `pcapng block trailing length ${this.u32(p + len - 4)} differs from ${len}`);
          }
          const rec = isShb ? this.sectionHeader(p, len) : this.block(p, len);
          if (rec) out.push(rec);
          this.pos = p + len;
          break;
        }
      }
    }
  }

  private detect(): void {
    const p = this.pos;
    const le = this.dv.getUint32(p, true) >>> 0;
    const be = this.dv.getUint32(p, false) >>> 0;
    if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) {
      this.format = 'pcap';
      this.bigEndian = be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS;
      // §8: a1b23c4d marks nanosecond fractions; the byte order is whatever reads it right.
      this.precision = (this.bigEndian ? be : le) === PCAP_MAGIC_NS ? 'ns' : 'us';
      this.state = 'pcap-header';
    } else if (be === BlockType.SHB) {
      this.format = 'pcapng';
      this.state = 'block';
    } else {
      this.fail('bad-magic', p, `not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`);
    }
  }

  private classicHeader(): void {
    const p = this.pos;
    // §4: magic, major, minor, reserved1 (thiszone), reserved2 (sigfigs), SnapLen, LinkType+FCS.
    const snap = this.u32(p + 16);
    const network = this.u32(p + 20);
    // §4: LinkType is the low 16 bits (Wireshark keeps 26); bit 26 says the FCS length in the
    // top four bits is meaningful.
    const linkType = network & 0x03ffffff;
    const fcsLength = network & 0x04000000 ? network >>> 28 : undefined;
    const desc: PcapInterface = {
      interfaceId: 0,
      sectionIndex: 0,
      linkType,
      snapLength: snap,
      unitsPerSecond: this.precision === 'ns' ? NS_PER_S : 1_000_000n,
      tsOffsetSeconds: 0n,
      ...(fcsLength !== undefined ? { fcsLength } : {}),
    };
    this.ifaces = [runtime(desc)];
    this.seen.push(desc);
    this.sections = 1;
    this.pos = p + 24;
    this.state = 'pcap-record';
  }

  private classicRecord(p: number, incl: number): PcapRecord {
    const iface = this.ifaces[0];
    const sec = BigInt(this.u32(p));
    const frac = BigInt(this.u32(p + 4));
    return {
      interfaceId: 0,
      sectionIndex: 0,
      linkType: iface.linkType,
      timestampNs: sec * NS_PER_S + frac * iface.mul,
      hasTimestamp: true,
      capturedLength: incl,
      originalLength: this.u32(p + 12),
      data: this.buf.subarray(p + 16, p + 16 + incl),
      offset: this.base + p,
    };
  }

  private shbByteOrder(at: number): boolean {
    const bom = this.dv.getUint32(at, false) >>> 0;
    if (bom === PCAPNG_BYTE_ORDER_MAGIC) return true;
    if (bom === 0x4d3c2b1a) return false;
    this.fail('bad-section', at, `pcapng byte-order magic 0x${bom.toString(16)} is neither 1a2b3c4d nor 4d3c2b1a`);
  }

  /** §4.1: a new section; its interfaces replace the previous section's. */
  private sectionHeader(p: number, _len: number): undefined {
    const major = this.u16(p + 12);
    if (major !== 1) this.fail('bad-section', p + 12, `pcapng major version ${major} is not 1`);
    this.ifaces = [];
    this.sections += 1;
    return undefined;
  }

  private block(p: number, len: number): PcapRecord | undefined {
    const type = this.u32(p);
    const body = p + 8;
    const bodyEnd = p + len - 4;
    switch (type) {
      case BlockType.IDB:
        this.interfaceBlock(p, body, bodyEnd);
        return undefined;
      case BlockType.EPB:
        return this.packetBlock(p, body, bodyEnd, 'epb');
      case BlockType.OPB:
        return this.packetBlock(p, body, bodyEnd, 'opb');
      case BlockType.SPB:
        return this.simplePacketBlock(p, body, bodyEnd);
      default:
        // §3.1: a reader skips block types it does not know (NRB, ISB, DSB, custom ...).
        return undefined;
    }
  }

  /** §3.5: walks options from `at` to `end`, calling `fn(code, valueOffset, valueLength)`. */
  private options(at: number, end: number, fn: (code: number, v: number, n: number) => void): void {
    let o = at;
    while (o < end) {
      if (o + 4 > end) this.fail('bad-option', o, 'option header runs past the end of its block');
      const code = this.u16(o);
      const n = this.u16(o + 2);
      if (code === Opt.END) return;
      if (o + 4 + n > end) this.fail('bad-option', o, `option ${code} of ${n} bytes runs past the end of its block`);
      fn(code, o + 4, n);
      o += 4 + ((n + 3) & ~3);
    }
  }

  private text(v: number, n: number): string {
    return utf8.decode(this.buf.subarray(v, v + n));
  }

  /** §4.2 Interface Description Block. */
  private interfaceBlock(p: number, body: number, end: number): void {
    if (end - body < 8) this.fail('bad-length', p, 'IDB shorter than its fixed fields');
    const linkType = this.u16(body);
    const snapLength = this.u32(body + 4);
    let name: string | undefined;
    let description: string | undefined;
    let unitsPerSecond = 1_000_000n;
    let tsOffsetSeconds = 0n;
    let fcsLength: number | undefined;
    this.options(body + 8, end, (code, v, n) => {
      switch (code) {
        case Opt.IF_NAME:
          name = this.text(v, n);
          break;
        case Opt.IF_DESCRIPTION:
          description = this.text(v, n);
          break;
        case Opt.IF_TSRESOL: {
          if (n !== 1) this.fail('bad-option', v - 4, 'if_tsresol is not one byte');
          // §4.2: MSB clear: 10^-n seconds; MSB set: 2^-n seconds.
          const r = this.buf[v];
          const exp = BigInt(r & 0x7f);
          if ((r & 0x80) === 0 && exp > 30n) this.fail('bad-option', v - 4, `if_tsresol 10^-${exp} is absurd`);
          unitsPerSecond = r & 0x80 ? 1n << exp : 10n ** exp;
          break;
        }
        case Opt.IF_TSOFFSET:
          if (n !== 8) this.fail('bad-option', v - 4, 'if_tsoffset is not eight bytes');
          tsOffsetSeconds = this.dv.getBigInt64(v, !this.bigEndian);
          break;
        case Opt.IF_FCSLEN:
          if (n >= 1) fcsLength = this.buf[v];
          break;
      }
    });
    const desc: PcapInterface = {
      interfaceId: this.ifaces.length,
      sectionIndex: this.sections - 1,
      linkType,
      snapLength,
      unitsPerSecond,
      tsOffsetSeconds,
      ...(name !== undefined ? { name } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(fcsLength !== undefined ? { fcsLength } : {}),
    };
    this.ifaces.push(runtime(desc));
    this.seen.push(desc);
  }

  private iface(id: number, at: number): IfaceRuntime {
    const i = this.ifaces[id];
    if (!i) this.fail('unknown-interface', at, `packet names interface ${id}; this section described ${this.ifaces.length}`);
    return i;
  }

  /** §4.3 Enhanced Packet Block, and Appendix A's obsolete Packet Block (16-bit interface id). */
  private packetBlock(p: number, body: number, end: number, kind: 'epb' | 'opb'): PcapRecord {
    if (end - body < 20) this.fail('bad-length', p, `${kind.toUpperCase()} shorter than its fixed fields`);
    const id = kind === 'epb' ? this.u32(body) : this.u16(body);
    const iface = this.iface(id, body);
    const ts = (BigInt(this.u32(body + 4)) << 32n) | BigInt(this.u32(body + 8));
    const cap = this.u32(body + 12);
    const orig = this.u32(body + 16);
    const data = body + 20;
    if (cap > end - data) this.fail('bad-length', body + 12, `captured length ${cap} runs past the end of the block`);
    let comment: string | undefined;
    this.options(data + ((cap + 3) & ~3), end, (code, v, n) => {
      if (code === Opt.COMMENT && comment === undefined) comment = this.text(v, n);
    });
    return {
      interfaceId: id,
      sectionIndex: this.sections - 1,
      linkType: iface.linkType,
      timestampNs: (ts * iface.mul) / iface.div + iface.offsetNs,
      hasTimestamp: true,
      capturedLength: cap,
      originalLength: orig,
      data: this.buf.subarray(data, data + cap),
      offset: this.base + p,
      ...(comment !== undefined ? { comment } : {}),
    };
  }

  /** §4.4 Simple Packet Block: interface 0, no timestamp, captured length implied. */
  private simplePacketBlock(p: number, body: number, end: number): PcapRecord {
    if (end - body < 4) this.fail('bad-length', p, 'SPB shorter than its fixed field');
    const iface = this.iface(0, p);
    const orig = this.u32(body);
    let cap = Math.min(orig, end - body - 4);
    if (iface.snapLength > 0) cap = Math.min(cap, iface.snapLength);
    return {
      interfaceId: 0,
      sectionIndex: this.sections - 1,
      linkType: iface.linkType,
      timestampNs: 0n,
      hasTimestamp: false,
      capturedLength: cap,
      originalLength: orig,
      data: this.buf.subarray(body + 4, body + 4 + cap),
      offset: this.base + p,
    };
  }
}
