// Big-endian field access on Uint8Array views (network byte order, RFC 1700 "Data Notations").
// Plain byte arithmetic: no DataView to allocate, and byteOffset cannot be forgotten.

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}
/** Unsigned: `>>> 0` keeps bit 31 from making the result negative. */
export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}
export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}
export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}
/** The views one after another in one new buffer. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Byte-wise equality of two views. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A copy of buf[start, end) as a plain Uint8Array. Not `buf.slice()`: on a Node Buffer (what
 * fs, sockets and AF_PACKET reads hand over) `slice` is a view of the same memory, so a value
 * meant to outlive the frame would change with it.
 */
export function copyBytes(buf: Uint8Array, start = 0, end = buf.length): Uint8Array {
  // Nor Uint8Array.prototype.slice.call(buf): it builds through Buffer's species, a Buffer.
  const out = new Uint8Array(Math.max(0, end - start));
  out.set(buf.subarray(start, end));
  return out;
}
