// Initial sequence numbers per RFC 6528 §3: ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey), where M is a 4-microsecond clock and F a keyed hash. F here is
// HalfSipHash-2-4 (the 32-bit SipHash variant Linux uses for small keyed hashes); the key
// comes from the stack's Rng. Also used for SYN cookies (RFC 4987 §3.6) with a second key.

import type { Rng } from '../random.js';
import type { IpAddr } from '../wire/ip-address.js';

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** HalfSipHash-2-4 of `words` (u32 each) under a 64-bit key, giving a u32. */
export function halfSipHash(k0: number, k1: number, words: ArrayLike<number>): number {
  let v0 = k0 >>> 0;
  let v1 = k1 >>> 0;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  const round = () => {
    v0 = (v0 + v1) >>> 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) >>> 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) >>> 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  };
  for (let i = 0; i < words.length; i++) {
    const m = words[i] >>> 0;
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  const b = ((words.length * 4) << 24) >>> 0;
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

function addrWords(out: number[], a: IpAddr): void {
  const b = a.bytes;
  for (let i = 0; i < b.length; i += 4) out.push(((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0);
}

export class IsnGenerator {
  private readonly k0: number;
  private readonly k1: number;

  constructor(rng: Rng) {
    this.k0 = rng.u32();
    this.k1 = rng.u32();
  }

  /** Keyed hash of a 4-tuple plus `extra` words (RFC 6528 F()). */
  hash(localIp: IpAddr, localPort: number, remoteIp: IpAddr, remotePort: number, extra?: number): number {
    const w: number[] = [];
    addrWords(w, localIp);
    addrWords(w, remoteIp);
    w.push(((localPort << 16) | remotePort) >>> 0);
    if (extra !== undefined) w.push(extra >>> 0);
    return halfSipHash(this.k0, this.k1, w);
  }

  /** RFC 6528 §3: M (a 4 µs tick of `nowMs`) + F(4-tuple, key). */
  isn(nowMs: number, localIp: IpAddr, localPort: number, remoteIp: IpAddr, remotePort: number): number {
    const m = Math.floor(nowMs * 250) >>> 0;
    return (m + this.hash(localIp, localPort, remoteIp, remotePort)) >>> 0;
  }
}
