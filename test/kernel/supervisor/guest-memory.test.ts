// GuestMemory's syscall-boundary rules (net/socket.c move_addr_to_kernel/user, import_iovec),
// exercised on this process's own memory: the ELF header of the node binary is a known address.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { GuestMemory, UIO_MAXIOV } from '../../../src/kernel/supervisor/index.js';

function ownElfHeader(): bigint {
  const exe = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((l) => / 00000000 /.test(l) && l.trim().endsWith(process.execPath));
  if (!exe) throw new Error('no mapping of the node binary at offset 0');
  return BigInt(`0x${exe.split('-')[0]}`);
}

const at = ownElfHeader();
const mem = new GuestMemory(process.pid, () => true);

test('read: exact bytes, EFAULT for a bad or partly bad range', (t) => {
  t.deepEqual(mem.read(at, 4), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  t.is(mem.read(8n, 4), 'EFAULT');
  t.is(mem.readU32(at), 0x464c457f);
  t.is(mem.readU64(8n), 'EFAULT');
});

test('a call that is no longer valid reads as GONE, even when the memory is readable', (t) => {
  const stale = new GuestMemory(process.pid, () => false);
  t.is(stale.read(at, 4), 'GONE');
  t.is(stale.readSockaddr(at, 4), 'GONE');
  t.is(stale.write(8n, Buffer.from('x')), 'GONE', 'writes check validity first');
  t.is(stale.scatter([{ base: 8n, len: 1 }], Buffer.from('x')), 'GONE');
});

test('pid 0 (a caller outside our pid namespace) never touches our own memory', (t) => {
  const outside = new GuestMemory(0, () => true);
  t.is(outside.read(at, 4), 'GONE');
  t.is(outside.write(at, Buffer.from('x')), 'GONE');
});

test('readSockaddr follows move_addr_to_kernel: negative or > 128 is EINVAL, 0 is empty', (t) => {
  t.is(mem.readSockaddr(at, 129), 'EINVAL');
  t.is(mem.readSockaddr(at, 0xffffffffn), 'EINVAL', 'addrlen is an int: 0xffffffff is -1');
  t.deepEqual(mem.readSockaddr(at, 0xffffffff_00000004n), Buffer.from([0x7f, 0x45, 0x4c, 0x46]), 'only the low 32 bits count');
  t.deepEqual(mem.readSockaddr(8n, 0), new Uint8Array(0));
  t.deepEqual(mem.readSockaddr(at, 2), Buffer.from([0x7f, 0x45]));
  t.is(mem.readSockaddr(8n, 16), 'EFAULT');
});

test('writeSockaddr with a null address writes nothing (accept(fd, NULL, NULL))', (t) => {
  t.is(mem.writeSockaddr(0n, 0n, new Uint8Array(16)), true);
  t.is(mem.writeSockaddr(8n, 16n, new Uint8Array(16)), 'EFAULT', 'unreadable addrlen');
});

test('readIovecs follows import_iovec: more than UIO_MAXIOV or a negative count is EINVAL', (t) => {
  t.is(mem.readIovecs(at, UIO_MAXIOV + 1), 'EINVAL');
  t.is(mem.readIovecs(at, -1n), 'EINVAL');
  t.deepEqual(mem.readIovecs(8n, 0), []);
  t.is(mem.readIovecs(8n, 1), 'EFAULT');
  // The ELF header read as iovecs: e_ident (16 bytes) = base 0x00010102464c457f, len from e_type/e_machine/e_version.
  const iov = mem.readIovecs(at, 1);
  if (typeof iov === 'string') return t.fail(iov);
  t.is(iov.length, 1);
  t.is(iov[0]!.base & 0xffffffffn, 0x464c457fn);
});

test('gather: segments in order, clamped to max, EFAULT when part of it is unreadable', (t) => {
  const g = mem.gather([
    { base: at + 1n, len: 3 },
    { base: at, len: 1 },
  ]);
  t.deepEqual(g, Buffer.from('ELF\x7f', 'latin1'));
  t.deepEqual(mem.gather([{ base: at, len: 100 }], 2), Buffer.from([0x7f, 0x45]));
  t.is(
    mem.gather([
      { base: at, len: 2 },
      { base: 8n, len: 2 },
    ]),
    'EFAULT',
  );
});
