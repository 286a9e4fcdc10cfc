// SYN cookies (RFC 4987 §3.6): when the SYN queue is full the listener answers with a SYN-ACK
// whose ISN encodes what it must remember, and keeps no state. Layout of the 32-bit cookie:
//   bits 31..27  a 64-second time counter (mod 32)
//   bits 26..24  an index into MSS_TABLE
//   bits 23..0   keyed hash of the 4-tuple, the counter and the client's ISN
// With timestamps, the low 6 bits of our TSval carry the peer's window scale (4 bits, 15 = none)
// and SACK-permitted (bit 4), which come back in the TSecr of the final ACK (as Linux does).

import type { IpAddr } from '../wire/ip-address.js';
import type { IsnGenerator } from './isn.js';

export const MSS_TABLE = [216, 536, 1200, 1300, 1440, 1460, 4312, 8960];
const PERIOD_MS = 64_000;
/** Cookies older than this many periods are refused (about two minutes). */
const MAX_AGE = 2;

export function mssIndex(mss: number): number {
  let idx = 0;
  for (let i = 0; i < MSS_TABLE.length; i++) if (MSS_TABLE[i] <= mss) idx = i;
  return idx;
}

export function makeCookie(
  gen: IsnGenerator, now: number, local: IpAddr, lport: number, remote: IpAddr, rport: number, clientIsn: number, mss: number,
): number {
  const t = Math.floor(now / PERIOD_MS) & 31;
  const idx = mssIndex(mss);
  const h = gen.hash(local, lport, remote, rport, ((t << 27) ^ clientIsn) >>> 0) & 0xffffff;
  return ((t << 27) | (idx << 24) | h) >>> 0;
}

/** The MSS the cookie carries, or -1 when it is forged or too old. */
export function checkCookie(
  gen: IsnGenerator, now: number, local: IpAddr, lport: number, remote: IpAddr, rport: number, clientIsn: number, cookie: number,
): number {
  const t = cookie >>> 27;
  const nowT = Math.floor(now / PERIOD_MS) & 31;
  const age = (nowT - t + 32) & 31;
  if (age > MAX_AGE) return -1;
  const idx = (cookie >>> 24) & 7;
  const h = gen.hash(local, lport, remote, rport, ((t << 27) ^ clientIsn) >>> 0) & 0xffffff;
  if ((cookie & 0xffffff) !== h) return -1;
  return MSS_TABLE[idx];
}

/** Options folded into the low bits of TSval. */
export function encodeTsOptions(tsVal: number, wscale: number, sack: boolean): number {
  const bits = (wscale < 0 ? 15 : Math.min(wscale, 14)) | (sack ? 16 : 0);
  return ((tsVal & ~0x3f) | bits) >>> 0;
}

export function decodeTsOptions(tsEcr: number): { wscale: number; sack: boolean } {
  const w = tsEcr & 15;
  return { wscale: w === 15 ? -1 : w, sack: (tsEcr & 16) !== 0 };
}
