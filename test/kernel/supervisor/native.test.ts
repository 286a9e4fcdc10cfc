// The supervisor's native functions on their own (no root, no guest): guest-caused failures are
// result codes, never throws; programmer errors are TypeErrors.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { addonPath, native } from '../../../src/net-plumbing/native.js';

const n = native();

/** The start address of this process's first mapping of its own executable (starts with the ELF magic). */
function ownElfHeader(): bigint {
  const exe = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((l) => / 00000000 /.test(l) && l.trim().endsWith(process.execPath));
  if (!exe) throw new Error('no mapping of the node binary at offset 0');
  return BigInt(`0x${exe.split('-')[0]}`);
}

test('readGuest reads real memory of a process (our own ELF header) and a bad pointer is EFAULT', (t) => {
  const at = ownElfHeader();
  const r = n.readGuest(process.pid, at, 4);
  t.true(Buffer.isBuffer(r));
  t.deepEqual(r, Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  t.is(n.readGuest(process.pid, 8n, 16), 'EFAULT');
  t.is(n.readGuest(process.pid, 0xffff_ffff_ffff_f000n, 16), 'EFAULT');
  t.deepEqual(n.readGuest(process.pid, 8n, 0), Buffer.alloc(0), 'zero length reads nothing, not even a bad pointer');
});

test('readGuestv gathers segments in order; a fault after the first segment returns the short prefix', (t) => {
  const at = ownElfHeader();
  const r = n.readGuestv(process.pid, [
    [at + 1n, 3],
    [at, 1],
  ]);
  t.deepEqual(r, Buffer.from('ELF\x7f', 'latin1'));
  const short = n.readGuestv(process.pid, [
    [at, 2],
    [8n, 4],
  ]);
  t.deepEqual(short, Buffer.from([0x7f, 0x45]));
  t.is(n.readGuestv(process.pid, [[8n, 4]]), 'EFAULT');
});

test('writeGuest and writeGuestv to a bad pointer are EFAULT, a gone pid is ESRCH', (t) => {
  t.is(n.writeGuest(process.pid, 8n, Buffer.from('x')), 'EFAULT');
  t.is(n.writeGuestv(process.pid, [[8n, 1]], Buffer.from('x')), 'EFAULT');
  t.is(n.writeGuest(process.pid, 8n, new Uint8Array(0)), 0);
  // pid_max is at most 2^22: this pid cannot exist.
  t.is(n.readGuest(0x7ffffff0, 8n, 4), 'ESRCH');
});

test('guest memory arguments are checked: TypeError for wrong types, RangeError for absurd lengths', (t) => {
  t.throws(() => n.readGuest('1' as unknown as number, 0n, 1), { instanceOf: TypeError });
  t.throws(() => n.readGuest(process.pid, -1n, 1), { instanceOf: TypeError });
  t.throws(() => n.readGuest(process.pid, 8n, 1 << 30), { instanceOf: RangeError });
  t.throws(() => n.writeGuest(process.pid, 8n, 'x' as unknown as Uint8Array), { instanceOf: TypeError });
  t.throws(() => n.readGuestv(process.pid, [[8n, -1]]), { instanceOf: RangeError });
});

test('seccomp ioctls on an fd that is not a listener return codes instead of throwing', (t) => {
  const [a, b] = n.socketpair('stream');
  try {
    t.is(typeof n.seccompRespond(a, 1n, 0, 0, 0), 'string');
    t.not(n.seccompRespond(a, 1n, 0, 0, 0), 'ok');
    t.false(n.seccompIdValid(a, 1n));
    t.is(typeof n.seccompAddFd(a, 1n, b, { send: true }), 'string');
    t.is(n.seccompRespond(987654, 1n, 0, 0, 0), 'EBADF');
  } finally {
    n.closeFd(a);
    n.closeFd(b);
  }
});

test('seccompNotifSizes covers at least the compiled structs', (t) => {
  const s = n.seccompNotifSizes();
  t.true(s.notif >= 80);
  t.true(s.resp >= 24);
  t.true(s.data >= 64);
});

test('socketpair: stream/dgram/seqpacket, non-blocking by default, distinct socket inodes', (t) => {
  for (const type of ['stream', 'dgram', 'seqpacket'] as const) {
    const [a, b] = n.socketpair(type);
    try {
      const sa = n.fstatIno(a);
      const sb = n.fstatIno(b);
      t.true(sa.isSocket && sb.isSocket);
      t.not(sa.ino, sb.ino);
      t.true((n.fdStatusFlags(a) & 0o4000) !== 0, 'O_NONBLOCK');
      n.setNonblocking(a, false);
      t.is(n.fdStatusFlags(a) & 0o4000, 0);
      n.setNonblocking(a, true);
      t.true((n.fdStatusFlags(a) & 0o4000) !== 0);
    } finally {
      n.closeFd(a);
      n.closeFd(b);
    }
  }
  const [c, d] = n.socketpair('stream', { nonblocking: false });
  t.is(n.fdStatusFlags(c) & 0o4000, 0);
  n.closeFd(c);
  n.closeFd(d);
  t.throws(() => n.socketpair('raw' as 'stream'), { instanceOf: TypeError });
});

test('pidfdGetfd duplicates an fd of a process: same inode; missing fd is EBADF; gone pid is ESRCH', (t) => {
  const [a, b] = n.socketpair('stream');
  const pidfd = n.pidfdOpen(process.pid);
  try {
    if (typeof pidfd === 'string') return t.fail(`pidfd_open: ${pidfd}`);
    const dup = n.pidfdGetfd(pidfd, a);
    if (typeof dup === 'string') return t.fail(`pidfd_getfd: ${dup}`);
    t.not(dup, a);
    t.is(n.fstatIno(dup).ino, n.fstatIno(a).ino);
    n.closeFd(dup);
    t.is(n.pidfdGetfd(pidfd, 987654), 'EBADF');
    t.is(n.pidfdOpen(0x7ffffff0), 'ESRCH');
  } finally {
    if (typeof pidfd === 'number') n.closeFd(pidfd);
    n.closeFd(a);
    n.closeFd(b);
  }
});

test('a worker thread that exits with a watch still open releases it without crashing', async (t) => {
  const w = new Worker(
    `const n = require(${JSON.stringify(addonPath())});
     const [a, b] = n.socketpair('stream');
     n.seccompWatch(a, () => {}, () => {});
     require('node:worker_threads').parentPort.postMessage('watching');`,
    { eval: true },
  );
  const msg = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  t.is(msg, 'watching');
  t.is(await w.terminate(), 1);
});

test('seccompWatch reports "hangup"-style ends: a watched fd that closes its peer does not spin or throw', async (t) => {
  // A socketpair is not a listener, but the poll/end plumbing is the same: POLLIN with RECV failing
  // ends the watch with an error code instead of looping or throwing.
  const [a, b] = n.socketpair('stream');
  const seen: unknown[] = [];
  const ended = new Promise<string>((resolve) => n.seccompWatch(a, (x) => seen.push(x), resolve));
  n.closeFd(b); // a becomes readable (EOF / HUP)
  const reason = await ended;
  t.regex(reason, /^(hangup|error:E[A-Z]+)$/);
  t.deepEqual(seen, []);
  n.closeFd(a);
});
