// Internet checksum: RFC 1071 known answers, split-buffer equivalence, pseudo-headers checked
// against real captured segments, RFC 1624 incremental update against full recomputation,
// and CHECKSUM_PARTIAL finishing.
import test from 'ava';
import { SeededRng } from '../../src/netstack/random.js';
import {
  checksumAdjust,
  checksumAdjustBytes,
  finishPartialChecksum,
  foldSum,
  internetChecksum,
  partialChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  sumParts,
  sumWords,
  transportChecksum,
  verifyInternetChecksum,
  verifyTransportChecksum,
} from '../../src/netstack/wire/checksum.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { IpProto } from '../../src/netstack/wire/ip-proto.js';
import { hex, TCP4_SYN, TCP6_DATA, DNS_A_QUERY, ICMP6_ECHO_REQUEST } from './golden.js';

/** Byte-at-a-time reference: the definition, with no cleverness. */
function referenceSum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i++) s += i % 2 === 0 ? bytes[i] << 8 : bytes[i];
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

test('RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', (t) => {
  const b = hex('0001f203f4f5f6f7');
  t.is(sumParts([b]), 0xddf2);
  t.is(internetChecksum(b), 0x220d);
  t.true(verifyInternetChecksum(b, hex('220d')));
});

test('known IPv4 header checksum (RFC 791 header, b861)', (t) => {
  const h = hex('450000730000400040110000c0a80001c0a800c7');
  t.is(internetChecksum(h), 0xb861);
});

test('odd lengths pad with a zero low byte (RFC 1071 §4.1)', (t) => {
  t.is(sumParts([hex('01')]), 0x0100);
  t.is(sumParts([hex('0102ff')]), foldSum(0x0102 + 0xff00));
  t.is(foldSum(0x0102 + 0xff00), 3);
});

test('every split of a buffer into 2 and 3 parts gives the same sum, odd boundaries included', (t) => {
  const rng = new SeededRng(7);
  const b = rng.fill(new Uint8Array(61));
  const whole = sumParts([b]);
  t.is(whole, referenceSum(b));
  for (let i = 0; i <= b.length; i++) {
    t.is(sumParts([b.subarray(0, i), b.subarray(i)]), whole, `split at ${i}`);
    for (let j = i; j <= b.length; j += 7) {
      t.is(sumParts([b.subarray(0, i), b.subarray(i, j), b.subarray(j)]), whole, `split at ${i},${j}`);
    }
  }
});

test('fast sum equals the byte-wise reference on 500 random buffers', (t) => {
  const rng = new SeededRng(11);
  for (let k = 0; k < 500; k++) {
    const b = rng.fill(new Uint8Array(rng.u32() % 3000));
    t.is(foldSum(sumWords(b)), referenceSum(b));
  }
});

test('fast sum equals the reference at every alignment and length around the wide path', (t) => {
  const rng = new SeededRng(12);
  const backing = rng.fill(new Uint8Array(700));
  for (let off = 0; off < 8; off++) {
    for (let len = 0; len < 300; len++) {
      const b = backing.subarray(off, off + len);
      if (foldSum(sumWords(b)) !== referenceSum(b)) return t.fail(`offset ${off} length ${len}`);
      // a start inside the view (start is an even message position by contract)
      if (len > 3 && foldSum(sumWords(b, 2, len)) !== referenceSum(b.subarray(2))) return t.fail(`offset ${off} length ${len} start 2`);
    }
  }
  // a long buffer split at every point: the wide path on both sides, odd boundaries included
  const long = backing.subarray(3, 603);
  const whole = referenceSum(long);
  for (let i = 0; i <= long.length; i++) t.is(sumParts([long.subarray(0, i), long.subarray(i)]), whole, `split at ${i}`);
});

test('all-ones data and huge sums fold correctly', (t) => {
  const b = new Uint8Array(65536).fill(0xff);
  t.is(sumParts([b]), 0xffff);
  t.is(foldSum(0x1_0000_0000), 1);
  t.is(foldSum(0xffff_ffff_ffff), 0xffff);
});

test('pseudo-header sums: known answers for IPv4 and IPv6', (t) => {
  // 10.99.0.1 -> 10.99.0.2, TCP, 40 bytes: 0a63 + 0001 + 0a63 + 0002 + 0006 + 0028
  t.is(pseudoHeaderSumV4(IpAddr.parse('10.99.0.1'), IpAddr.parse('10.99.0.2'), 6, 40), 0x14f7);
  // fd00:99::1 -> fd00:99::2, next header 58, length 32
  const s6 = pseudoHeaderSumV6(IpAddr.parse('fd00:99::1').bytes, IpAddr.parse('fd00:99::2').bytes, 58, 32);
  t.is(s6, 0x1fb8f);
  t.is(foldSum(s6), 0xfb90);
  // The u32 upper-layer length of RFC 8200 §8.1 carries into the sum.
  t.is(pseudoHeaderSumV6(new Uint8Array(16), new Uint8Array(16), 6, 0x12345), 0x1 + 0x2345 + 6);
});

test('real segments verify against their pseudo-headers, and recomputing gives the same field', (t) => {
  const cases: [Uint8Array, number, number, number][] = [
    // frame, ip header offset, family, protocol
    [TCP4_SYN, 14, 4, IpProto.TCP],
    [DNS_A_QUERY, 14, 4, IpProto.UDP],
    [TCP6_DATA, 14, 6, IpProto.TCP],
    [ICMP6_ECHO_REQUEST, 14, 6, IpProto.ICMPV6],
  ];
  for (const [frame, ipOff, fam, proto] of cases) {
    const src = frame.subarray(ipOff + (fam === 4 ? 12 : 8), ipOff + (fam === 4 ? 16 : 24));
    const dst = frame.subarray(ipOff + (fam === 4 ? 16 : 24), ipOff + (fam === 4 ? 20 : 40));
    const seg = frame.slice(ipOff + (fam === 4 ? 20 : 40));
    t.true(verifyTransportChecksum(src, dst, proto, seg));
    const at = proto === IpProto.TCP ? 16 : proto === IpProto.UDP ? 6 : 2;
    const orig = (seg[at] << 8) | seg[at + 1];
    seg[at] = seg[at + 1] = 0;
    t.is(transportChecksum(src, dst, proto, seg), orig);
    // header and payload passed apart, split at an odd offset
    t.is(transportChecksum(src, dst, proto, seg.subarray(0, 9), seg.subarray(9)), orig);
    seg[at] = orig >> 8;
    seg[at + 1] = orig & 0xff;
    seg[seg.length - 1] ^= 1;
    t.false(verifyTransportChecksum(src, dst, proto, seg));
  }
});

test('RFC 1624 incremental update equals full recomputation (2000 random edits)', (t) => {
  const rng = new SeededRng(3);
  for (let k = 0; k < 2000; k++) {
    const len = 2 * (4 + (rng.u32() % 40));
    const b = rng.fill(new Uint8Array(len));
    b[0] = b[1] = 0; // checksum field at 0
    const c = internetChecksum(b);
    b[0] = c >> 8;
    b[1] = c & 0xff;
    const nWords = 1 + (rng.u32() % 3);
    const start = 1 + (rng.u32() % (len / 2 - nWords));
    const oldW: number[] = [];
    const newW: number[] = [];
    for (let i = 0; i < nWords; i++) {
      const at = 2 * (start + i);
      oldW.push((b[at] << 8) | b[at + 1]);
      const w = k % 10 === 0 ? 0 : rng.u32() & 0xffff; // include zero words
      newW.push(w);
      b[at] = w >> 8;
      b[at + 1] = w & 0xff;
    }
    // RFC 1624 §3: only all-zero data tells +0 from -0, and no real header is all zeros.
    if (b.subarray(2).every((x) => x === 0)) continue;
    const adjusted = nWords === 1 ? checksumAdjust(c, oldW[0], newW[0]) : checksumAdjust(c, oldW, newW);
    b[0] = b[1] = 0;
    t.is(adjusted, internetChecksum(b), `edit ${k}`);
  }
});

test('checksumAdjustBytes (a NAT address rewrite) equals recomputation', (t) => {
  const seg = TCP4_SYN.slice(14 + 20);
  const src = TCP4_SYN.subarray(26, 30);
  const dst = TCP4_SYN.subarray(30, 34);
  const old = (seg[16] << 8) | seg[17];
  const newSrc = hex('c0a80164');
  const adjusted = checksumAdjustBytes(old, src, newSrc);
  seg[16] = seg[17] = 0;
  t.is(adjusted, transportChecksum(newSrc, dst, IpProto.TCP, seg));
});

test('CHECKSUM_PARTIAL: the pseudo-header value, once finished, equals the full checksum', (t) => {
  const seg = TCP4_SYN.slice(34);
  const src = TCP4_SYN.subarray(26, 30);
  const dst = TCP4_SYN.subarray(30, 34);
  const full = (seg[16] << 8) | seg[17];
  const p = partialChecksum(src, dst, IpProto.TCP, seg.length);
  seg[16] = p >> 8;
  seg[17] = p & 0xff;
  t.not(p, full);
  const frame = new Uint8Array(10 + seg.length);
  frame.set(seg, 10);
  finishPartialChecksum(frame, 10, 16);
  t.is((frame[26] << 8) | frame[27], full);
  t.true(verifyTransportChecksum(src, dst, IpProto.TCP, frame.subarray(10)));
});
