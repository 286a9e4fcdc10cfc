// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4; RFC 1982 serial arithmetic).
// Numbers are u32 in a JS number; comparisons use the sign of the 32-bit difference.

/** a + n, wrapped to u32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a - b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return seqGe(a, b) ? a : b;
}
export function seqMin(a: number, b: number): number {
  return seqLe(a, b) ? a : b;
}
/** lo <= x < hi in sequence space (an empty window when lo == hi). */
export function seqInWindow(x: number, lo: number, hi: number): boolean {
  return seqLe(lo, x) && seqLt(x, hi);
}
