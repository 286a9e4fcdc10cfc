// The deterministic byte stream behind `GET /bytes/N` and the interop/bench uploads: a fixed
// block of 65521 (a prime, so the period lines up with no buffer size) pseudo-random bytes,
// repeated. Both ends of a bulk test can produce it without storing anything, and a digest
// of any length is cheap to compute in-process.

import { createHash } from 'node:crypto';

export const PATTERN_PERIOD = 65521;

/** The block twice over, so any window of up to PATTERN_PERIOD bytes is one subarray. */
const DOUBLED: Uint8Array = (() => {
  const b = new Uint8Array(2 * PATTERN_PERIOD);
  // xorshift32 with a fixed seed: the same bytes in every process and every version.
  let x = 0x6d6f6174; // "moat"
  for (let i = 0; i < PATTERN_PERIOD; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  b.copyWithin(PATTERN_PERIOD, 0, PATTERN_PERIOD);
  return b;
})();

/** Bytes [offset, offset+len) of the stream, len <= PATTERN_PERIOD: a view, never a copy. */
export function patternView(offset: number, len: number): Uint8Array {
  if (len > PATTERN_PERIOD) throw new RangeError(`patternView: at most ${PATTERN_PERIOD} bytes at a time`);
  const start = offset % PATTERN_PERIOD;
  return DOUBLED.subarray(start, start + len);
}

/** A pull source over the first `total` bytes of the stream. */
export function patternSource(total: number): () => Uint8Array | null {
  let off = 0;
  return () => {
    if (off >= total) return null;
    const v = patternView(off, Math.min(PATTERN_PERIOD, total - off));
    off += v.length;
    return v;
  };
}

/** sha256 (hex) of the first `total` bytes of the stream. */
export function patternSha256(total: number): string {
  const h = createHash('sha256');
  const next = patternSource(total);
  for (let v = next(); v; v = next()) h.update(v);
  return h.digest('hex');
}

/** Writes the first `total` bytes of the stream to a Node writable (stdout of a generator). */
export async function writePattern(out: NodeJS.WritableStream, total: number): Promise<void> {
  const next = patternSource(total);
  for (let v = next(); v; v = next()) {
    if (!out.write(v)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
}
