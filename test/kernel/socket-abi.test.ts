// socket-abi.ts: a few numbers that differ between architectures or are easy to get wrong
// (the privileged conformance test cross-checks all of them against Python's socket module),
// and the flag helpers the conformance normalizer uses.

import test from 'ava';
import { IOCTL, MSG, POLL, SO, SOCK_CLOEXEC, SOCK_NONBLOCK, constOf, flagNames, flagValue } from '../../src/kernel/socket-abi.js';

test('x86_64 numbers that differ elsewhere', (t) => {
  t.is(SOCK_NONBLOCK, 0x800);
  t.is(SOCK_CLOEXEC, 0x80000);
  t.is(SO.SO_RCVTIMEO, 20);
  t.is(SO.SO_SNDTIMEO, 21);
  t.is(SO.SO_REUSEPORT, 15);
  t.is(IOCTL.FIONREAD, 0x541b);
  t.is(IOCTL.SIOCOUTQ, 0x5411);
  t.is(POLL.POLLRDHUP, 0x2000);
  t.is(MSG.MSG_NOSIGNAL, 0x4000);
});

test('flag helpers: names in table order, unknown bits in hex, aliases once', (t) => {
  t.deepEqual(flagNames(POLL, 0x2019), ['POLLIN', 'POLLERR', 'POLLHUP', 'POLLRDHUP']);
  t.deepEqual(flagNames(POLL, 0x10000), ['0x10000']);
  t.deepEqual(flagNames(POLL, 0x10001, false), ['POLLIN']);
  t.deepEqual(flagNames(MSG, 0), []);
  t.is(flagValue(MSG, ['MSG_PEEK', 'MSG_DONTWAIT']), 0x42);
  t.throws(() => flagValue(MSG, ['MSG_BOGUS']));
  t.is(constOf(SO, 'SO_ERROR'), 4);
  t.is(constOf(SO, 'toString'), undefined);
});
