// Writing capture files: classic pcap (µs or ns) and pcapng (nanosecond EPBs, several
// interfaces, per-packet comments). Both are PacketSinks, so the netstack's sniffer link can
// write through either without knowing which.
//
// Read first: draft-ietf-opsawg-pcap §4-§5, §8; draft-ietf-opsawg-pcapng §3.1, §3.5, §4.1-§4.3.
// Files are written little-endian (the host order of every machine moat runs on); readers take
// either order, and the byte-order magic says which this is.

import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import {
  BlockType,
  LinkType,
  Opt,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
} from './format.js';

/**
 * Where captured frames go. The sniffer link (src/netstack/links/sniffer.ts) takes one of
 * these; writeFrame copies what it keeps, so `data` may be a view that is reused afterwards.
 */
export interface PacketSink {
  writeFrame(timestampNs: bigint, data: Uint8Array, interfaceId?: number, comment?: string): void;
  close(): Promise<void>;
}

export interface CaptureWriterOptions {
  /**
   * End the stream on close(). Default true; pass false for a Writable the caller keeps using
   * (process.stdout). A file opened from a path is always closed.
   */
  readonly endStream?: boolean;
}

/** tcpdump's and dumpcap's default snapshot length since libpcap 1.x (MAXIMUM_SNAPLEN). */
export const DEFAULT_SNAPLEN = 262144;

const NS_PER_S = 1_000_000_000n;
const BATCH_BYTES = 64 * 1024;
const utf8 = new TextEncoder();

/**
 * Batches bytes and hands them to the stream once per event-loop turn (or per 64 KiB), so a
 * burst of frames costs one write. The sink interface is synchronous, so backpressure is not
 * pushed back to the stack: a slow disk grows the stream's buffer instead.
 */
abstract class CaptureWriterBase implements PacketSink {
  /** Frames refused because the stream had failed (the error is thrown by flush/close). */
  droppedAfterError = 0;
  private readonly out: Writable;
  private readonly ownsFile: boolean;
  private readonly endStream: boolean;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private lastWrite: Promise<void> = Promise.resolve();
  private error: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(target: string | Writable, options: CaptureWriterOptions) {
    this.ownsFile = typeof target === 'string';
    this.out = typeof target === 'string' ? createWriteStream(target) : target;
    this.endStream = this.ownsFile || (options.endStream ?? true);
    this.out.on('error', (e: Error) => {
      this.error ??= e;
    });
  }

  abstract writeFrame(timestampNs: bigint, data: Uint8Array, interfaceId?: number, comment?: string): void;

  /** Resolves once everything written so far has reached the stream's destination. */
  async flush(): Promise<void> {
    this.drain();
    await this.lastWrite;
    if (this.error) throw this.error;
  }

  /** Flushes, then ends the stream (see CaptureWriterOptions.endStream). Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  protected get isClosed(): boolean {
    return this.closing !== undefined;
  }

  protected enqueue(bytes: Uint8Array): void {
    if (this.closing) throw new Error('capture writer used after close()');
    if (this.error) {
      this.droppedAfterError += 1;
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= BATCH_BYTES) {
      this.drain();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drain();
      });
    }
  }

  private drain(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.error) return;
    this.lastWrite = new Promise<void>((resolve) => {
      this.out.write(chunk, (err) => {
        if (err) this.error ??= err;
        resolve();
      });
    });
  }

  private async finish(): Promise<void> {
    this.drain();
    await this.lastWrite;
    if (this.endStream && !this.out.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => resolve();
        if (this.ownsFile) this.out.once('close', done);
        this.out.once('error', done);
        this.out.end(this.ownsFile ? undefined : done);
      });
    }
    if (this.error) throw this.error;
  }
}

/** Classic pcap: u32 seconds. pcapng with if_tsresol=9: a u64 count of nanoseconds. */
const MAX_CLASSIC_NS = 0xffffffffn * NS_PER_S + NS_PER_S - 1n;
const MAX_PCAPNG_NS = 0xffffffffffffffffn;

function checkTimestamp(ts: bigint, maxNs: bigint): void {
  if (ts < 0n || ts > maxNs) {
    throw new RangeError(`timestamp ${ts} ns is outside what the capture format can hold`);
  }
}

export interface PcapWriterOptions extends CaptureWriterOptions {
  /** LINKTYPE_ of every frame (default EN10MB). */
  readonly linkType?: number;
  /** 'us' writes magic a1b2c3d4, 'ns' writes a1b23c4d (default 'us', what tcpdump writes). */
  readonly precision?: 'us' | 'ns';
  /** Frames longer than this are cut (their original length is kept). Default 262144. */
  readonly snapLength?: number;
}

/**
 * Classic pcap. It has a single interface and no comments: writeFrame ignores `interfaceId`
 * and `comment` (use PcapngWriter to keep them).
 */
export class PcapWriter extends CaptureWriterBase {
  readonly linkType: number;
  readonly precision: 'us' | 'ns';
  readonly snapLength: number;

  constructor(target: string | Writable, options: PcapWriterOptions = {}) {
    super(target, options);
    this.linkType = options.linkType ?? LinkType.EN10MB;
    this.precision = options.precision ?? 'us';
    this.snapLength = options.snapLength ?? DEFAULT_SNAPLEN;
    // draft-ietf-opsawg-pcap §4: magic, version 2.4, two reserved zero words, SnapLen, LinkType.
    const h = new Uint8Array(24);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, this.precision === 'ns' ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, this.snapLength, true);
    dv.setUint32(20, this.linkType, true);
    this.enqueue(h);
  }

  writeFrame(timestampNs: bigint, data: Uint8Array, _interfaceId?: number, _comment?: string): void {
    checkTimestamp(timestampNs, MAX_CLASSIC_NS);
    const cap = Math.min(data.length, this.snapLength);
    // §5: seconds, fraction (µs or ns per the magic), CapLen, OrigLen, then CapLen bytes.
    const rec = new Uint8Array(16 + cap);
    const dv = new DataView(rec.buffer);
    const frac = timestampNs % NS_PER_S;
    dv.setUint32(0, Number(timestampNs / NS_PER_S), true);
    dv.setUint32(4, Number(this.precision === 'ns' ? frac : frac / 1000n), true);
    dv.setUint32(8, cap, true);
    dv.setUint32(12, data.length, true);
    rec.set(data.subarray(0, cap), 16);
    this.enqueue(rec);
  }
}

export interface PcapngInterfaceOptions {
  /** LINKTYPE_ (default EN10MB). */
  readonly linkType?: number;
  /** if_name, e.g. "veth0". */
  readonly name?: string;
  /** if_description. */
  readonly description?: string;
  /** Frames longer than this are cut. Default 262144; 0 means no limit (§4.2). */
  readonly snapLength?: number;
}

export interface PcapngWriterOptions extends CaptureWriterOptions {
  /** Interfaces described at once, ids 0..n-1; more can be added with addInterface(). */
  readonly interfaces?: readonly PcapngInterfaceOptions[];
  /** shb_userappl (default "moat"). */
  readonly userAppl?: string;
  readonly hardware?: string;
  readonly os?: string;
  /** opt_comment of the section header. */
  readonly comment?: string;
}

/** §3.5: one option, its value padded to 32 bits. */
function option(code: number, value: Uint8Array): Uint8Array {
  const o = new Uint8Array(4 + ((value.length + 3) & ~3));
  const dv = new DataView(o.buffer);
  dv.setUint16(0, code, true);
  dv.setUint16(2, value.length, true);
  o.set(value, 4);
  return o;
}

/** §3.1: type, total length, body, options (with opt_endofopt if any), total length. */
function block(type: number, fixed: Uint8Array, options: readonly Uint8Array[]): Uint8Array {
  let optLen = 0;
  for (const o of options) optLen += o.length;
  if (options.length > 0) optLen += 4; // opt_endofopt
  const fixedPadded = (fixed.length + 3) & ~3;
  const len = 12 + fixedPadded + optLen;
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, len, true);
  b.set(fixed, 8);
  let at = 8 + fixedPadded;
  for (const o of options) {
    b.set(o, at);
    at += o.length;
  }
  dv.setUint32(len - 4, len, true);
  return b;
}

/**
 * pcapng with one section: SHB (shb_userappl "moat"), IDBs with if_tsresol=9, and one
 * Enhanced Packet Block per frame with nanosecond timestamps and an optional opt_comment.
 */
export class PcapngWriter extends CaptureWriterBase {
  private readonly snaps: number[] = [];

  constructor(target: string | Writable, options: PcapngWriterOptions = {}) {
    super(target, options);
    // §4.1: byte-order magic, version 1.0, section length -1 (unknown: we stream).
    const fixed = new Uint8Array(16);
    const dv = new DataView(fixed.buffer);
    dv.setUint32(0, PCAPNG_BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 0, true);
    dv.setBigInt64(8, -1n, true);
    const opts: Uint8Array[] = [];
    if (options.comment !== undefined) opts.push(option(Opt.COMMENT, utf8.encode(options.comment)));
    if (options.hardware !== undefined) opts.push(option(Opt.SHB_HARDWARE, utf8.encode(options.hardware)));
    if (options.os !== undefined) opts.push(option(Opt.SHB_OS, utf8.encode(options.os)));
    opts.push(option(Opt.SHB_USERAPPL, utf8.encode(options.userAppl ?? 'moat')));
    this.enqueue(block(BlockType.SHB, fixed, opts));
    for (const i of options.interfaces ?? []) this.addInterface(i);
  }

  /** Number of interfaces described so far. */
  get interfaceCount(): number {
    return this.snaps.length;
  }

  /** Writes an IDB and returns the new interface's id. */
  addInterface(iface: PcapngInterfaceOptions = {}): number {
    const snap = iface.snapLength ?? DEFAULT_SNAPLEN;
    // §4.2: LinkType (16 bits), reserved, SnapLen.
    const fixed = new Uint8Array(8);
    const dv = new DataView(fixed.buffer);
    dv.setUint16(0, iface.linkType ?? LinkType.EN10MB, true);
    dv.setUint32(4, snap, true);
    const opts: Uint8Array[] = [];
    if (iface.name !== undefined) opts.push(option(Opt.IF_NAME, utf8.encode(iface.name)));
    if (iface.description !== undefined) opts.push(option(Opt.IF_DESCRIPTION, utf8.encode(iface.description)));
    // §4.2 if_tsresol: 9 = 10^-9 s, so EPB timestamps are plain nanoseconds.
    opts.push(option(Opt.IF_TSRESOL, Uint8Array.of(9)));
    this.enqueue(block(BlockType.IDB, fixed, opts));
    this.snaps.push(snap);
    return this.snaps.length - 1;
  }

  writeFrame(timestampNs: bigint, data: Uint8Array, interfaceId = 0, comment?: string): void {
    const snap = this.snaps[interfaceId];
    if (snap === undefined) throw new RangeError(`interface ${interfaceId} was not added (have ${this.snaps.length})`);
    checkTimestamp(timestampNs, MAX_PCAPNG_NS);
    const cap = snap === 0 ? data.length : Math.min(data.length, snap);
    // §4.3: Interface ID, Timestamp (upper, lower), Captured Len, Original Len, data, options.
    const padded = (cap + 3) & ~3;
    const opt = comment !== undefined ? option(Opt.COMMENT, utf8.encode(comment)) : undefined;
    const len = 32 + padded + (opt ? opt.length + 4 : 0);
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, BlockType.EPB, true);
    dv.setUint32(4, len, true);
    dv.setUint32(8, interfaceId, true);
    dv.setUint32(12, Number(timestampNs >> 32n), true);
    dv.setUint32(16, Number(timestampNs & 0xffffffffn), true);
    dv.setUint32(20, cap, true);
    dv.setUint32(24, data.length, true);
    b.set(data.subarray(0, cap), 28);
    if (opt) b.set(opt, 28 + padded); // the zeroed 4 bytes after it are opt_endofopt
    dv.setUint32(len - 4, len, true);
    this.enqueue(b);
  }
}
