// Sequence-number arithmetic modulo 2^32 across the wrap (RFC 9293 §3.4, RFC 1982).
import test from 'ava';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from '../../src/netstack/wire/seq.js';

test('addition wraps to u32', (t) => {
  t.is(seqAdd(0xffffffff, 1), 0);
  t.is(seqAdd(0xfffffff0, 0x20), 0x10);
  t.is(seqAdd(0, -1), 0xffffffff);
});

test('comparisons across the wrap', (t) => {
  t.true(seqLt(0xffffffff, 0));
  t.true(seqGt(0, 0xffffffff));
  t.true(seqLt(0xfffffff0, 0x10));
  t.true(seqLe(5, 5));
  t.true(seqGe(5, 5));
  t.false(seqLt(5, 5));
  t.is(seqDiff(0, 0xffffffff), 1);
  t.is(seqDiff(0xffffffff, 0), -1);
  t.is(seqDiff(0x10, 0xfffffff0), 0x20);
  // half the space apart: the sign flips exactly at 2^31
  t.true(seqLt(0, 0x7fffffff));
  t.true(seqGt(0, 0x80000001));
});

test('max/min and windows across the wrap', (t) => {
  t.is(seqMax(0xfffffffe, 3), 3);
  t.is(seqMin(0xfffffffe, 3), 0xfffffffe);
  t.true(seqInWindow(0, 0xfffffff0, 0x10));
  t.true(seqInWindow(0xfffffff0, 0xfffffff0, 0x10));
  t.false(seqInWindow(0x10, 0xfffffff0, 0x10));
  t.false(seqInWindow(5, 5, 5)); // empty window
});
