// The Internet checksum. Read: RFC 1071 (computation, byte-order independence, deferred
// carries), RFC 1624 (incremental update, eqn. 3), RFC 768 / RFC 9293 §3.1 / RFC 8200 §8.1
// (pseudo-headers), RFC 4443 §2.3 (ICMPv6 uses the IPv6 pseudo-header).
//
// Sums are kept as plain JS numbers without folding inside loops: a double holds integers
// exactly up to 2^53, i.e. over 2^37 bytes of 16-bit words, so carries are folded once at the end
// (RFC 1071 §2(C), "deferred carries").
//
// Vocabulary used below: a *sum* is the unfolded or folded one's complement sum of 16-bit
// words; a *checksum* is the complemented folded sum, the value written in a header.
// CHECKSUM_PARTIAL (Linux, virtio_net_hdr NEEDS_CSUM): the checksum field holds the folded
// pseudo-header sum, not complemented, and whoever finishes it sums from csum_start to the end.

import type { IpAddr } from './ip-address.js';

/** An address given either as its raw bytes (4 or 16, network order) or as an IpAddr. */
export type AddrLike = Uint8Array | IpAddr;

function addrBytes(a: AddrLike): Uint8Array {
  return a instanceof Uint8Array ? a : a.bytes;
}

/** Byte-pair loop: the simple way, used for short spans and unaligned edges. */
function sumBytePairs(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  const evenEnd = end - ((end - start) & 1);
  for (; i + 8 <= evenEnd; i += 8) {
    sum +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < evenEnd; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (evenEnd < end) sum += buf[evenEnd] << 8;
  return sum;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Below this, the aligned 32-bit path costs more (a view allocation) than it saves. */
const WIDE_MIN = 64;

/**
 * Unfolded sum of the big-endian 16-bit words of buf[start, end). An odd final byte is
 * padded with a zero low byte (RFC 1071 §4.1). `start` is taken as an even position.
 *
 * Long spans are summed as host-order 32-bit words from the first 4-aligned byte: on a
 * little-endian host that yields the byte-swapped sum, swapped back once at the end (RFC 1071
 * §2(B)); an odd-length unaligned head shifts the rest to odd positions, one more swap.
 */
export function sumWords(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  const len = end - start;
  if (len < WIDE_MIN) return initial + sumBytePairs(buf, start, end);
  const abs = buf.byteOffset + start;
  const head = (4 - (abs & 3)) & 3;
  let sum = initial + (head ? sumBytePairs(buf, start, start + head) : 0);
  const words = (len - head) >>> 2;
  const u32 = new Uint32Array(buf.buffer, abs + head, words);
  let w = 0;
  let i = 0;
  for (; i + 4 <= words; i += 4) w += u32[i] + u32[i + 1] + u32[i + 2] + u32[i + 3];
  for (; i < words; i++) w += u32[i];
  let w16 = foldSum(w);
  if (LITTLE_ENDIAN) w16 = swap16(w16);
  if (head & 1) w16 = swap16(w16);
  sum += w16;
  const tail = start + head + 4 * words;
  if (tail < end) {
    let r = sumBytePairs(buf, tail, end);
    if (head & 1) r = swap16(foldSum(r));
    sum += r;
  }
  return sum;
}

/** Folds carries into 16 bits (end-around carry). Result is in 0..0xffff. */
export function foldSum(sum: number): number {
  // Arithmetic, not `>>> 16`: the sum may exceed 2^32.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/**
 * Folded sum over several byte strings taken as one contiguous message. A part that starts at
 * an odd position of the message is summed as if aligned and then byte-swapped, which RFC 1071
 * §2(B) (byte-order independence) makes equivalent.
 */
export function sumParts(parts: readonly Uint8Array[], initial = 0): number {
  let sum = initial;
  let odd = false;
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    if (p.length === 0) continue;
    let s = sumWords(p, 0, p.length);
    if (odd) s = swap16(foldSum(s));
    sum += s;
    if (p.length & 1) odd = !odd;
  }
  return foldSum(sum);
}

/** RFC 1071 Internet checksum of the concatenation of `parts` (the value to store). */
export function internetChecksum(...parts: Uint8Array[]): number {
  return ~sumParts(parts) & 0xffff;
}

/** True when the message (checksum field included) sums to all ones, i.e. verifies. */
export function verifyInternetChecksum(...parts: Uint8Array[]): boolean {
  return sumParts(parts) === 0xffff;
}

/** Unfolded sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): src, dst, zero+proto, length. */
export function pseudoHeaderSumV4(src: AddrLike, dst: AddrLike, protocol: number, length: number): number {
  const s = addrBytes(src);
  const d = addrBytes(dst);
  return (
    ((s[0] << 8) | s[1]) + ((s[2] << 8) | s[3]) + ((d[0] << 8) | d[1]) + ((d[2] << 8) | d[3]) +
    protocol + (length & 0xffff)
  );
}

/** Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1): src, dst, u32 length, next header. */
export function pseudoHeaderSumV6(src: AddrLike, dst: AddrLike, nextHeader: number, length: number): number {
  const s = addrBytes(src);
  const d = addrBytes(dst);
  let sum = sumWords(s, 0, 16) + sumWords(d, 0, 16);
  sum += Math.floor(length / 0x10000) + (length % 0x10000) + nextHeader;
  return sum;
}

/** The pseudo-header sum for either family, chosen by address length (4 or 16 bytes). */
export function pseudoHeaderSum(src: AddrLike, dst: AddrLike, protocol: number, length: number): number {
  return addrBytes(src).length === 4
    ? pseudoHeaderSumV4(src, dst, protocol, length)
    : pseudoHeaderSumV6(src, dst, protocol, length);
}

/**
 * Full transport checksum (TCP, UDP, ICMPv6): pseudo-header + header + payload. The header's
 * checksum field must hold zero. Returns the value to store (UDP callers map 0 to 0xffff:
 * use `udpChecksum`).
 */
export function transportChecksum(
  src: AddrLike,
  dst: AddrLike,
  protocol: number,
  header: Uint8Array,
  payload?: Uint8Array,
): number {
  const len = header.length + (payload ? payload.length : 0);
  let sum = pseudoHeaderSum(src, dst, protocol, len) + sumWords(header);
  if (payload && payload.length) {
    let s = sumWords(payload);
    if (header.length & 1) s = swap16(foldSum(s));
    sum += s;
  }
  return ~foldSum(sum) & 0xffff;
}

/** Verifies a received transport segment (checksum field included) against its pseudo-header. */
export function verifyTransportChecksum(src: AddrLike, dst: AddrLike, protocol: number, segment: Uint8Array): boolean {
  return foldSum(pseudoHeaderSum(src, dst, protocol, segment.length) + sumWords(segment)) === 0xffff;
}

/**
 * The value a CHECKSUM_PARTIAL sender stores in the checksum field: the folded pseudo-header
 * sum, not complemented (what Linux's `~csum_tcpudp_magic(...)` leaves there).
 */
export function partialChecksum(src: AddrLike, dst: AddrLike, protocol: number, length: number): number {
  return foldSum(pseudoHeaderSum(src, dst, protocol, length));
}

/**
 * Finishes a CHECKSUM_PARTIAL packet in software: sums buf[csumStart..end) (which includes the
 * field holding the pseudo-header sum) and stores the complement at csumStart + csumOffset.
 * A result of 0 is stored as 0xffff, as Linux's skb_checksum_help does (CSUM_MANGLED_0): the
 * two are the same number in one's complement, and 0 means "no checksum" to UDP over IPv4.
 */
export function finishPartialChecksum(buf: Uint8Array, csumStart: number, csumOffset: number, end = buf.length): void {
  const at = csumStart + csumOffset;
  const c = ~foldSum(sumWords(buf, csumStart, end)) & 0xffff;
  const v = c === 0 ? 0xffff : c;
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
}

/**
 * RFC 1624 eqn. 3 incremental update: HC' = ~(~HC + ~m + m'). `oldWords`/`newWords` are one
 * 16-bit word or equal-length lists of them (e.g. the two halves of a changed IPv4 address).
 * Equals full recomputation except when every data word is zero (RFC 1624 §3: then it gives
 * 0x0000 where recomputation gives 0xffff), which cannot happen to a real IP/TCP/UDP header.
 */
export function checksumAdjust(
  oldChecksum: number,
  oldWords: number | ArrayLike<number>,
  newWords: number | ArrayLike<number>,
): number {
  let sum = ~oldChecksum & 0xffff;
  if (typeof oldWords === 'number') sum += ~oldWords & 0xffff;
  else for (let i = 0; i < oldWords.length; i++) sum += ~oldWords[i] & 0xffff;
  if (typeof newWords === 'number') sum += newWords & 0xffff;
  else for (let i = 0; i < newWords.length; i++) sum += newWords[i] & 0xffff;
  return ~foldSum(sum) & 0xffff;
}

/**
 * RFC 1624 update for a changed byte string that sits at an even offset of the checksummed
 * data (addresses, ports): NAT rewrites use this. Lengths must match.
 */
export function checksumAdjustBytes(oldChecksum: number, oldBytes: Uint8Array, newBytes: Uint8Array): number {
  if (oldBytes.length !== newBytes.length) throw new RangeError('checksumAdjustBytes: lengths differ');
  let sum = ~oldChecksum & 0xffff;
  const n = oldBytes.length;
  for (let i = 0; i < n; i += 2) {
    const o = (oldBytes[i] << 8) | (i + 1 < n ? oldBytes[i + 1] : 0);
    const w = (newBytes[i] << 8) | (i + 1 < n ? newBytes[i + 1] : 0);
    sum += (~o & 0xffff) + w;
  }
  return ~foldSum(sum) & 0xffff;
}
