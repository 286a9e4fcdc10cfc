// The production Rng (src/netstack/random.ts): a CSPRNG (crypto.getRandomValues), drawn from
// a refilled pool so that u32() for every ephemeral port or ISN costs no system call.
// RFC 6528 (ISNs) and RFC 6056 (ephemeral ports) want unpredictable values: this is the source.

import { getRandomValues } from 'node:crypto';
import type { Rng } from '../netstack/random.js';

/** getRandomValues fills at most 65536 bytes per call (Web Crypto). */
const MAX_FILL = 65536;

export class CryptoRng implements Rng {
  private readonly pool: Uint32Array;
  private next: number;

  constructor(poolWords = 1024) {
    if (!(poolWords >= 1 && poolWords <= MAX_FILL / 4)) throw new RangeError(`CryptoRng: poolWords must be 1..${MAX_FILL / 4}`);
    this.pool = new Uint32Array(poolWords);
    this.next = poolWords;
  }

  u32(): number {
    if (this.next === this.pool.length) {
      getRandomValues(this.pool);
      this.next = 0;
    }
    const v = this.pool[this.next];
    // Never hand out the same pool word twice.
    this.pool[this.next++] = 0;
    return v >>> 0;
  }

  fill(out: Uint8Array): Uint8Array {
    for (let off = 0; off < out.length; off += MAX_FILL) getRandomValues(out.subarray(off, Math.min(out.length, off + MAX_FILL)));
    return out;
  }
}
