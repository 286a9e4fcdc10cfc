// The seccomp supervisor end to end: real guests (test/kernel/supervisor/guests/netprobe.c) whose
// trapped calls are answered by hand. Root: the guest gets its own network namespace.

import test from 'ava';
import { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { native } from '../../../src/net-plumbing/native.js';
import { ERRNO } from '../../../src/kernel/errno.js';
import { SYSCALLS_X86_64 as NR, AF_INET, AF_INET6, AF_UNIX, SIOC_FIRST } from '../../../src/kernel/supervisor/index.js';
import type { SyscallAnswer, TrappedCall } from '../../../src/kernel/supervisor/index.js';
import { privilegedTest } from '../../helpers/privileged.js';
import { answerSocket, cleanupGuests, killLeftoverGuests, runGuest } from './guest-harness.js';

test.afterEach.always(() => killLeftoverGuests());
test.after.always(() => cleanupGuests());

function closeAll(fds: number[]): void {
  for (const fd of fds.splice(0)) {
    try {
      native().closeFd(fd);
    } catch {
      /* already closed */
    }
  }
}

/** Reads from a stream socketpair end until EOF. */
function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: true, writable: false });
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('end', () => {
      s.destroy();
      resolve(data);
    });
    s.on('error', reject);
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

privilegedTest('socket() is answered with an injected fd: the guest writes "hello" into moat\'s socketpair', async (t) => {
  const kept: number[] = [];
  try {
    const g = await runGuest('netprobe', ['socket-write'], (call) => {
      if (call.name === 'socket') return answerSocket(call, kept);
      return { errno: 'ENOSYS' };
    });
    const hello = readAllAfter(kept, 0);
    const { exit, out } = await g.done();
    t.deepEqual(exit, { code: 0, signal: null });
    const lines = out.all;
    t.regex(lines[0] ?? '', /^socket=\d+$/);
    t.true(Number(lines[0]!.split('=')[1]) >= 3, 'a real fd number, past stdio');
    t.is(lines[1], 'nonblock=0 cloexec=0');
    t.is(lines[2], 'write=5');
    t.regex(lines[3] ?? '', /^socket6=\d+$/);
    t.is(lines[4], 'nonblock=1 cloexec=1', 'SOCK_NONBLOCK and SOCK_CLOEXEC are honoured');
    t.is(await hello, 'hello');
    t.deepEqual(
      g.calls.map((c) => [c.name, c.argInt(0)]),
      [
        ['socket', AF_INET],
        ['socket', AF_INET6],
      ],
    );
    t.is(g.supervisor.stats.answered, 2);
    t.is(g.supervisor.stats.stale, 0);
  } finally {
    closeAll(kept);
  }
});

/** Resolves with what arrives on kept[i] once the handler has created it. */
async function readAllAfter(kept: number[], i: number): Promise<string> {
  while (kept.length <= i) await new Promise((r) => setImmediate(r));
  const fd = kept[i]!;
  kept.splice(i, 1);
  return readAll(fd);
}

privilegedTest('call.injectFd installs an fd without answering; the handler then answers with its number', async (t) => {
  const kept: number[] = [];
  try {
    const g = await runGuest('netprobe', ['socket-write'], (call): SyscallAnswer => {
      if (call.name !== 'socket') return { errno: 'ENOSYS' };
      const [mine, theirs] = native().socketpair('stream');
      native().setNonblocking(theirs, call.name === 'socket' && (call.argInt(1) & 0o4000) !== 0);
      kept.push(mine);
      const fd = call.injectFd(theirs, { cloexec: (call.argInt(1) & 0o2000000) !== 0 });
      native().closeFd(theirs);
      return typeof fd === 'number' ? { value: fd } : { errno: 'EMFILE' };
    });
    const hello = readAllAfter(kept, 0);
    const { exit, out } = await g.done();
    t.is(exit.code, 0);
    t.is(out.values.get('write'), '5');
    t.is(out.all[4], 'nonblock=1 cloexec=1');
    t.is(await hello, 'hello');
  } finally {
    closeAll(kept);
  }
});

privilegedTest('connect answered with ECONNREFUSED: the guest sees that errno, and moat read its sockaddr', async (t) => {
  const kept: number[] = [];
  const seen: { sockaddr?: Uint8Array | string } = {};
  try {
    const g = await runGuest('netprobe', ['connect-refused'], (call) => {
      if (call.name === 'socket') return answerSocket(call, kept);
      if (call.name === 'connect') {
        seen.sockaddr = call.memory.readSockaddr(call.args[1]!, call.args[2]!);
        return { errno: 'ECONNREFUSED' };
      }
      return { errno: 'ENOSYS' };
    });
    const { exit, out } = await g.done();
    t.is(exit.code, 0);
    t.is(out.values.get('connect'), '-1 ECONNREFUSED');
    const sa = seen.sockaddr;
    if (!(sa instanceof Uint8Array)) return t.fail(`sockaddr read failed: ${String(sa)}`);
    // struct sockaddr_in for 127.0.0.1:7777: family 2 (host order), port 0x1e61 (network order).
    t.deepEqual(Buffer.from(sa).subarray(0, 8), Buffer.from([2, 0, 0x1e, 0x61, 127, 0, 0, 1]));
    t.is(sa.length, 16);
  } finally {
    closeAll(kept);
  }
});

privilegedTest('a bad sockaddr pointer passed to connect reads as EFAULT and the guest gets EFAULT', async (t) => {
  const kept: number[] = [];
  const seen: Array<Uint8Array | string> = [];
  try {
    const g = await runGuest('netprobe', ['connect-badptr'], (call) => {
      if (call.name === 'socket') return answerSocket(call, kept);
      if (call.name === 'connect') {
        const r = call.memory.readSockaddr(call.args[1]!, call.args[2]!);
        seen.push(r);
        return typeof r === 'string' ? { errno: r === 'GONE' ? 'EINTR' : r } : { value: 0 };
      }
      return { errno: 'ENOSYS' };
    });
    const { exit, out } = await g.done();
    t.is(exit.code, 0);
    t.deepEqual(seen, ['EFAULT']);
    t.is(out.values.get('connect'), '-1 EFAULT');
  } finally {
    closeAll(kept);
  }
});

privilegedTest('AF_UNIX and netlink sockets work without a notification; socketpair(AF_INET) is trapped', async (t) => {
  const g = await runGuest('netprobe', ['unix'], (call) => {
    t.is(call.name, 'socketpair');
    t.is(call.argInt(0), AF_INET);
    return { errno: 'EOPNOTSUPP' };
  });
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  const v = out.values;
  t.is(v.get('socketpair'), '0');
  t.is(v.get('write'), '4');
  t.is(v.get('got'), 'ping');
  t.is(v.get('unixdgram'), 'ok');
  t.is(v.get('netlink'), 'ok');
  t.is(v.get('socketpair-inet'), '-1 EOPNOTSUPP');
  t.is(g.supervisor.stats.received, 1, 'only socketpair(AF_INET) reached moat');
  t.not(AF_UNIX, AF_INET);
});

privilegedTest('io_uring_setup, io_uring_enter and io_uring_register return ENOSYS', async (t) => {
  const g = await runGuest('netprobe', ['io_uring'], () => ({ errno: 'EIO' }));
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('io_uring_setup'), '-1 ENOSYS');
  t.is(out.values.get('io_uring_enter'), '-1 ENOSYS');
  t.is(out.values.get('io_uring_register'), '-1 ENOSYS');
  t.is(g.supervisor.stats.received, 0, 'refused in BPF, never notified');
});

privilegedTest("the guest's network namespace has only lo", async (t) => {
  const g = await runGuest('netprobe', ['netdev'], () => ({ errno: 'EIO' }));
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('ifaces'), 'lo');
});

privilegedTest('a 32-bit socketcall via int 0x80 and an x32 socket() both get ENOSYS without reaching moat', async (t) => {
  const g = await runGuest('netprobe', ['int80'], () => ({ value: 0 }));
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('int80'), String(-ERRNO.ENOSYS));
  t.is(out.values.get('x32'), '-1 ENOSYS');
  t.is(g.supervisor.stats.received, 0);
});

privilegedTest('socket ioctls (SIOC*) are trapped; FIONREAD on a pipe is not', async (t) => {
  const seen: number[] = [];
  const g = await runGuest('netprobe', ['ioctl'], (call) => {
    seen.push(call.argU32(1));
    return { errno: 'ENODEV' };
  });
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.deepEqual(seen, [0x8933], 'SIOCGIFINDEX only');
  t.true(seen[0]! >= SIOC_FIRST);
  t.is(out.values.get('siocgifindex'), '-1 ENODEV');
  t.is(out.values.get('fionread'), '0');
  t.is(out.values.get('avail'), '3');
});

privilegedTest('guest memory: getsockname writes a sockaddr (and truncates), sendmsg gathers, recvmsg scatters', async (t) => {
  const kept: number[] = [];
  let gathered = '';
  try {
    const g = await runGuest('netprobe', ['memory'], (call): SyscallAnswer => {
      const m = call.memory;
      switch (call.name) {
        case 'socket':
          return answerSocket(call, kept);
        case 'getsockname': {
          const sin = Buffer.from([2, 0, 0x1f, 0x90, 10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
          const r = m.writeSockaddr(call.args[1]!, call.args[2]!, sin);
          return r === true ? { value: 0 } : { errno: r === 'GONE' ? 'EINTR' : r };
        }
        case 'sendmsg': {
          const h = m.readMsghdr(call.args[1]!);
          if (typeof h === 'string') return { errno: 'EFAULT' };
          const iov = m.readIovecs(h.iov, h.iovlen);
          if (typeof iov === 'string') return { errno: 'EFAULT' };
          const data = m.gather(iov);
          if (typeof data === 'string') return { errno: 'EFAULT' };
          gathered = Buffer.from(data).toString();
          return { value: data.length };
        }
        case 'recvmsg': {
          const h = m.readMsghdr(call.args[1]!);
          if (typeof h === 'string') return { errno: 'EFAULT' };
          const iov = m.readIovecs(h.iov, h.iovlen);
          if (typeof iov === 'string') return { errno: 'EFAULT' };
          const n = m.scatter(iov, Buffer.from('abcdefgh'));
          return typeof n === 'number' ? { value: n } : { errno: 'EFAULT' };
        }
        default:
          return { errno: 'ENOSYS' };
      }
    });
    const { exit, out } = await g.done();
    t.is(exit.code, 0);
    const v = out.values;
    t.is(v.get('name'), '10.0.0.7:8080 len=16');
    t.is(v.get('short-len'), '16 family=2', 'truncated copy, full length written back');
    t.is(v.get('sendmsg'), '5');
    t.is(gathered, 'hello');
    t.is(v.get('recvmsg'), '8');
    t.is(v.get('a'), 'abc b=defgh');
  } finally {
    closeAll(kept);
  }
});

privilegedTest("a thread blocked in a trapped accept does not hold up another thread's connect", async (t) => {
  const kept: number[] = [];
  const acceptPending = deferred<TrappedCall>();
  const releaseAccept = deferred();
  try {
    const g = await runGuest('netprobe', ['threads'], async (call): Promise<SyscallAnswer> => {
      if (call.name === 'socket') return answerSocket(call, kept);
      if (call.name === 'accept') {
        acceptPending.resolve(call);
        await releaseAccept.promise;
        return { errno: 'ECONNABORTED' };
      }
      if (call.name === 'connect') {
        // Answer only while accept is still pending: proves the two calls were in flight together.
        await acceptPending.promise;
        return { errno: 'ECONNREFUSED' };
      }
      return { errno: 'ENOSYS' };
    });
    const acceptCall = await acceptPending.promise;
    await g.out.waitFor(/^connect=/);
    t.is(g.out.values.get('connect'), '-1 ECONNREFUSED');
    t.false(g.out.all.some((l) => l.startsWith('accept=')), 'accept still blocked');
    t.true(acceptCall.isValid());
    t.is(g.supervisor.pending, 1);
    releaseAccept.resolve();
    const { exit, out } = await g.done();
    t.is(exit.code, 0);
    t.is(out.values.get('accept'), '-1 ECONNABORTED');
    t.not(acceptCall.tid, g.guest.pid, 'accept came from the second thread');
  } finally {
    closeAll(kept);
  }
});

privilegedTest('a guest killed mid-call: the answer reports ENOENT (counted as stale) and the supervisor keeps serving', async (t) => {
  const first = deferred<TrappedCall>();
  const release = deferred();
  let settled: unknown;
  const g = await runGuest('netprobe', ['fork-kill'], async (call): Promise<SyscallAnswer> => {
    if (call.name !== 'socket') return { errno: 'ENOSYS' };
    if (g0 === undefined || call.tid !== g0) {
      first.resolve(call);
      await release.promise;
      return { value: 3, onSettled: (o) => (settled = o) };
    }
    return { errno: 'EACCES' };
  }, { stdio: ['pipe', 'pipe', 'inherit'] });
  const g0 = g.guest.pid;
  const call = await first.promise;
  const childPid = Number((await g.out.waitFor(/^child=(\d+)$/))[1]);
  t.is(call.tid, childPid);
  process.kill(childPid, 'SIGKILL');
  await g.out.waitFor(/^child-signal=/);
  t.is(g.out.values.get('child-signal'), '9');
  t.false(call.isValid());
  t.is(g.supervisor.sweep(), 1, 'the sweep finds the dead caller');
  t.true(call.signal.aborted);
  release.resolve();
  await g.supervisor.idle();
  t.deepEqual(settled, { ok: false, code: 'ENOENT' });
  t.is(g.supervisor.stats.stale, 1);
  t.is(g.supervisor.pending, 0);
  g.guest.child.stdin!.end('go\n');
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('socket-after'), '-1 EACCES', 'the next call is still answered');
  t.is(g.supervisor.stats.answered, 1);
});

privilegedTest('a handler that throws gives the guest EIO and is reported, and the supervisor carries on', async (t) => {
  const errors: string[] = [];
  const guest = await runGuest(
    'netprobe',
    ['connect-refused'],
    (call) => {
      if (call.name === 'socket') throw new Error('boom');
      return { errno: 'ECONNREFUSED' };
    },
    { supervisor: { onHandlerError: (err, call) => errors.push(`${call.name}: ${(err as Error).message}`) } },
  );
  const { exit, out } = await guest.done();
  t.is(exit.code, 0);
  t.is(guest.supervisor.stats.handlerErrors, 1);
  t.deepEqual(errors, ['socket: boom']);
  // socket() failed (EIO), so connect ran on fd -1: the filter still traps it and moat answers.
  t.is(out.values.get('connect'), '-1 ECONNREFUSED');
});

privilegedTest('answers that are not answers (negative value, bad errno) become EIO and are reported', async (t) => {
  const errors: string[] = [];
  const g = await runGuest(
    'netprobe',
    ['connect-refused'],
    (call): SyscallAnswer => (call.name === 'socket' ? { value: -5 } : { errno: 99999 }),
    { supervisor: { onHandlerError: (err) => errors.push((err as Error).message) } },
  );
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('connect'), '-1 EIO');
  t.is(errors.length, 2);
  t.is(g.supervisor.stats.handlerErrors, 2);
});

privilegedTest('stop() closes the listener: the pending call and later trapped calls fail with ENOSYS', async (t) => {
  const g = await runGuest('netprobe', ['connect-refused'], async (call) => {
    // Stop while this socket() call is still pending.
    g0.supervisor.stop();
    return { value: 0 };
  });
  const g0 = g;
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(await g.supervisor.ended, 'stopped');
  t.is(out.values.get('connect'), '-1 ENOSYS');
  t.is(g.supervisor.stats.received, 1);
  t.is(g.supervisor.stats.aborted, 1);
});

privilegedTest('the guest runs with no_new_privs, a seccomp filter, only stdio fds, and our cwd/env/argv0', async (t) => {
  const g = await runGuest('netprobe', ['status'], () => ({ errno: 'EIO' }), {
    cwd: '/tmp',
    argv0: 'probe-zero',
    env: { ...process.env, MOAT_TEST_VAR: 'x y' },
  });
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  const v = out.values;
  t.is(v.get('NoNewPrivs'), '1');
  t.is(v.get('Seccomp'), '2');
  t.is(v.get('fds'), '0,1,2', 'neither the control socket nor the listener leaks into the guest');
  t.is(v.get('cwd'), '/tmp');
  t.is(v.get('argv0'), 'probe-zero');
  t.is(v.get('env'), 'x y');
  t.is(v.get('CapEff'), '0000000000000000', 'no capabilities');
  t.is(v.get('CapPrm'), '0000000000000000');
  // The bounding set keeps only CAP_NET_BIND_SERVICE, CAP_NET_ADMIN and CAP_NET_RAW, so that
  // file-capability programs (ping) can be executed; no_new_privs keeps exec from granting them.
  t.is(v.get('CapBnd'), '0000000000003400', 'only the network capabilities file-capability programs name');
  t.notRegex(v.get('setns') ?? '', /^ok$/, 'cannot re-enter the host network namespace');
  t.is(g.supervisor.stats.received, 0);
});

privilegedTest('spawnGuest runs the guest as the given uid/gid with no supplementary groups', async (t) => {
  const g = await runGuest('netprobe', ['status'], () => ({ errno: 'EIO' }), { uid: 65534, gid: 65534, cwd: '/' });
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  const v = out.values;
  t.is(v.get('Uid')?.split(/\s+/).join(','), '65534,65534,65534,65534');
  t.is(v.get('Gid')?.split(/\s+/).join(','), '65534,65534,65534,65534');
  t.is(v.get('Groups') ?? '', '');
  t.is(v.get('CapEff'), '0000000000000000');
  t.regex(v.get('setns') ?? '', /^(EPERM|EACCES)$/);
});

privilegedTest("GuestFds: pidfd_getfd on the caller's fd finds the socketpair end moat injected (by inode), also from a non-leader thread", async (t) => {
  const kept: number[] = [];
  const injected: bigint[] = [];
  const found: Array<{ name: string; ino: bigint; leader: boolean }> = [];
  try {
    const g = await runGuest('netprobe', ['threads'], (call): SyscallAnswer => {
      if (call.name === 'socket') {
        const a = answerSocket(call, kept) as { injectFd: number };
        injected.push(native().fstatIno(a.injectFd).ino);
        return a as SyscallAnswer;
      }
      const d = g0.supervisor.fds.dup(call, call.argInt(0));
      if (typeof d === 'string') return { errno: 'EBADF' };
      native().closeFd(d.fd);
      t.true(d.isSocket);
      found.push({ name: call.name ?? '?', ino: d.ino, leader: call.tid === g0.guest.pid });
      return { errno: call.name === 'accept' ? 'ECONNABORTED' : 'ECONNREFUSED' };
    });
    const g0 = g;
    const { exit } = await g.done();
    t.is(exit.code, 0);
    t.is(injected.length, 2);
    found.sort((a, b) => a.name.localeCompare(b.name));
    t.deepEqual(found, [
      { name: 'accept', ino: injected[0]!, leader: false },
      { name: 'connect', ino: injected[1]!, leader: true },
    ]);
  } finally {
    closeAll(kept);
  }
});

privilegedTest('a flood of trapped calls from 8 threads is answered, every one, in order of arrival per thread', async (t) => {
  const threads = 8;
  const perThread = 100;
  const byTid = new Map<number, number>();
  const g = await runGuest('netprobe', ['flood', String(threads), String(perThread)], async (call) => {
    byTid.set(call.tid, (byTid.get(call.tid) ?? 0) + 1);
    // Some answers take a turn of the event loop, some do not: both paths must hold up.
    if (call.id % 3n === 0n) await new Promise((r) => setImmediate(r));
    return { errno: 'ECONNREFUSED' };
  });
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('refused'), String(threads * perThread));
  t.is(g.supervisor.stats.received, threads * perThread);
  t.is(g.supervisor.stats.answered, threads * perThread);
  t.is(byTid.size, threads);
  t.true([...byTid.values()].every((n) => n === perThread));
});

privilegedTest('two guests, two supervisors, one process: each guest is answered by its own handler', async (t) => {
  const [a, b] = await Promise.all([
    runGuest('netprobe', ['signal'], () => ({ errno: 'ECONNREFUSED' })),
    runGuest('netprobe', ['signal'], () => ({ errno: 'ENETUNREACH' })),
  ]);
  const [ra, rb] = await Promise.all([a.done(), b.done()]);
  t.not(a.guest.pid, b.guest.pid);
  t.is(ra.out.values.get('connect'), '-1 ECONNREFUSED');
  t.is(rb.out.values.get('connect'), '-1 ENETUNREACH');
});

/** Is `sig` pending for the process (ShdPnd) or its main thread (SigPnd)? */
function signalPending(pid: number, sig: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'}`);
  const bit = 1n << BigInt(sig - 1);
  return ((mask('ShdPnd') | mask('SigPnd')) & bit) !== 0n;
}

privilegedTest('with WAIT_KILLABLE_RECV a non-fatal signal waits: the received call stays valid and gets its answer', async (t) => {
  const pending = deferred<TrappedCall>();
  const release = deferred();
  const g = await runGuest('netprobe', ['signal'], async (call) => {
    pending.resolve(call);
    await release.promise;
    return { errno: 'ECONNREFUSED' };
  });
  t.true(g.guest.waitKillable, 'this kernel (>= 5.19) accepts the flag');
  const call = await pending.promise;
  try {
    t.false(signalPending(g.guest.pid, 10));
    process.kill(g.guest.pid, 'SIGUSR1');
    t.true(signalPending(g.guest.pid, 10), 'SIGUSR1 is queued, not delivered');
    t.true(call.isValid());
  } finally {
    release.resolve();
  }
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('connect'), '-1 ECONNREFUSED');
  t.is(out.values.get('usr1'), '1', 'the handler ran after the call returned');
  t.is(g.supervisor.stats.stale, 0);
});

privilegedTest('without WAIT_KILLABLE_RECV a signal withdraws the call: the guest sees EINTR and the late answer is stale', async (t) => {
  const pending = deferred<TrappedCall>();
  const release = deferred();
  const g = await runGuest(
    'netprobe',
    ['signal', 'wait'],
    async (call) => {
      pending.resolve(call);
      await release.promise;
      return { errno: 'ECONNREFUSED' };
    },
    { waitKillable: false, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.false(g.guest.waitKillable);
  const call = await pending.promise;
  process.kill(g.guest.pid, 'SIGUSR1');
  await g.out.waitFor(/^connect=/);
  t.is(g.out.values.get('connect'), '-1 EINTR');
  t.false(call.isValid());
  release.resolve();
  await g.supervisor.idle();
  t.is(g.supervisor.stats.stale, 1);
  g.guest.child.stdin!.end('go\n');
  const { exit, out } = await g.done();
  t.is(exit.code, 0);
  t.is(out.values.get('usr1'), '1');
});

privilegedTest('spawnGuest reports a missing program as an exec failure with ENOENT', async (t) => {
  const { spawnGuest, GuestSpawnError } = await import('../../../src/kernel/supervisor/index.js');
  const err = await t.throwsAsync(spawnGuest({ file: '/nonexistent/moat-guest', stdio: ['ignore', 'ignore', 'ignore'] }));
  t.true(err instanceof GuestSpawnError);
  t.is((err as InstanceType<typeof GuestSpawnError>).stage, 'exec');
  t.is((err as InstanceType<typeof GuestSpawnError>).code, 'ENOENT');
});

test('syscall table matches the x86_64 numbers the filter uses', (t) => {
  t.is(NR.socket, 41);
  t.is(NR.connect, 42);
  t.is(NR.accept4, 288);
  t.is(NR.recvmmsg, 299);
  t.is(NR.sendmmsg, 307);
  t.is(NR.io_uring_setup, 425);
});
