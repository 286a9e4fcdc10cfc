// Hand-built capture files for the reader tests, in either byte order, written field by field
// from the format drafts (not with moat's writers, so a writer bug cannot hide a reader bug).

import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const DATA_DIR = fileURLToPath(new URL('../../../test/pcap/data/', import.meta.url));
export const FIXTURE_DIR = fileURLToPath(new URL('../../../pcap-fixtures/', import.meta.url));

export class Bytes {
  private parts: number[] = [];
  constructor(readonly bigEndian: boolean) {}

  get length(): number {
    return this.parts.length;
  }
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    const b = [v & 0xff, (v >>> 8) & 0xff];
    this.parts.push(...(this.bigEndian ? b.reverse() : b));
    return this;
  }
  u32(v: number): this {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.parts.push(...(this.bigEndian ? b.reverse() : b));
    return this;
  }
  u64(v: bigint): this {
    const hi = Number((BigInt.asUintN(64, v) >> 32n) & 0xffffffffn);
    const lo = Number(BigInt.asUintN(64, v) & 0xffffffffn);
    return this.bigEndian ? this.u32(hi).u32(lo) : this.u32(lo).u32(hi);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i] & 0xff);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4) this.parts.push(0);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A pcapng option: code, length, value padded to 4. */
export function opt(be: boolean, code: number, value: ArrayLike<number> | string): Uint8Array {
  const v = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  return new Bytes(be).u16(code).u16(v.length).raw(v).pad4().done();
}

export function endOpt(be: boolean): Uint8Array {
  return new Bytes(be).u32(0).done();
}

/** A pcapng block around `body` (already 4-aligned). */
export function block(be: boolean, type: number, body: Uint8Array): Uint8Array {
  const len = 12 + body.length;
  return concat(new Bytes(be).u32(type).u32(len).done(), body, new Bytes(be).u32(len).done());
}

export function shb(be: boolean, options: Uint8Array[] = []): Uint8Array {
  const body = new Bytes(be).u32(0x1a2b3c4d).u16(1).u16(0).u64(-1n).done();
  return block(be, 0x0a0d0d0a, concat(body, ...options, ...(options.length ? [endOpt(be)] : [])));
}

export function idb(be: boolean, linkType: number, snap: number, options: Uint8Array[] = []): Uint8Array {
  const body = new Bytes(be).u16(linkType).u16(0).u32(snap).done();
  return block(be, 1, concat(body, ...options, ...(options.length ? [endOpt(be)] : [])));
}

export function epb(
  be: boolean,
  ifId: number,
  ts: bigint,
  data: Uint8Array,
  originalLength = data.length,
  options: Uint8Array[] = [],
): Uint8Array {
  const body = new Bytes(be)
    .u32(ifId)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(originalLength)
    .raw(data)
    .pad4()
    .done();
  return block(be, 6, concat(body, ...options, ...(options.length ? [endOpt(be)] : [])));
}

export function spb(be: boolean, data: Uint8Array, originalLength = data.length): Uint8Array {
  return block(be, 3, new Bytes(be).u32(originalLength).raw(data).pad4().done());
}

/** Appendix A obsolete Packet Block: 16-bit interface id and drops count. */
export function opb(be: boolean, ifId: number, ts: bigint, data: Uint8Array): Uint8Array {
  const body = new Bytes(be)
    .u16(ifId)
    .u16(0)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(data.length)
    .raw(data)
    .pad4()
    .done();
  return block(be, 2, body);
}

export function classicHeader(be: boolean, ns: boolean, linkType: number, snap = 65535): Uint8Array {
  return new Bytes(be)
    .u32(ns ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(snap)
    .u32(linkType)
    .done();
}

export function classicRecord(be: boolean, sec: number, frac: number, data: Uint8Array, orig = data.length): Uint8Array {
  return concat(new Bytes(be).u32(sec).u32(frac).u32(data.length).u32(orig).done(), data);
}

/** Deterministic payload bytes. */
export function payload(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Collects everything written to a PassThrough. */
export function collector(): { stream: PassThrough; bytes: () => Uint8Array } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => new Uint8Array(Buffer.concat(chunks)) };
}

/** "1795891953.620845838" (tshark's frame.time_epoch) as nanoseconds. */
export function epochToNs(s: string): bigint {
  const [sec, frac = ''] = s.trim().split('.');
  return BigInt(sec) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}

/** A source that yields `buf` in chunks of `size` bytes, as an async iterable. */
export async function* chunked(buf: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, Math.min(buf.length, o + size));
}
