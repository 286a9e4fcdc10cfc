// The table's language without root: the matcher's patterns, normalization of raw results, and
// the TypeScript interpreter (runCase) driving a scripted target, so that what a moat target will
// receive (sockaddr bytes, option bytes, control messages) is pinned down byte for byte.

import test from 'ava';
import { encodeSockaddr } from '../../../src/kernel/sockaddr.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { CASES } from './cases.js';
import { ABI_CONSTS } from './emit-table.js';
import { judgeCase, match, normalize } from './table.js';
import type { Case, Op } from './table.js';
import { runCase } from './target.js';
import type { ConformanceTarget, Failed } from './target.js';

const scope = { env: { wmem_max: 100 }, vars: { A: { port: 4242, addr: '127.0.0.1' } } };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('match: literals, subsets, arrays and every pattern', (t) => {
  t.is(match(0, 0, scope), null);
  t.truthy(match(0, 'EINVAL', scope));
  t.is(match(undefined, 5, scope), null);
  t.truthy(match(undefined, 'EAGAIN', scope));
  t.is(match('$any', 'EAGAIN', scope), null);
  t.is(match('$errno', 'EAGAIN', scope), null);
  t.truthy(match('$errno', 0, scope));
  t.is(match('$nonzero', 3, scope), null);
  t.truthy(match('$nonzero', 0, scope));
  t.is(match({ a: 1 }, { a: 1, b: 2 }, scope), null);
  t.truthy(match({ a: 1, c: 3 }, { a: 1 }, scope));
  t.truthy(match(['POLLIN'], ['POLLIN', 'POLLOUT'], scope));
  t.is(match({ $one_of: [1, 'EINVAL'] }, 'EINVAL', scope), null);
  t.is(match({ $range: [1, 3] }, 3, scope), null);
  t.truthy(match({ $range: [1, 3] }, 4, scope));
  t.is(match({ $gte: 2 }, 2, scope), null);
  t.truthy(match({ $lte: 2 }, 3, scope));
  t.is(match({ $env: 'wmem_max', mul: 2 }, 200, scope), null);
  t.truthy(match({ $env: 'wmem_max', mul: 2 }, 100, scope));
  t.is(match({ $contains: ['POLLERR'] }, ['POLLIN', 'POLLERR'], scope), null);
  t.truthy(match({ $contains: ['POLLERR'] }, ['POLLIN'], scope));
  t.is(match({ port: { $not: '$var:A.port' } }, { port: 1 }, scope), null);
  t.truthy(match({ port: '$var:A.port' }, { port: 1 }, scope));
  t.throws(() => match('$bogus', 1, scope));
});

test('normalize: sockaddrs, options, poll bits, received data and control messages', (t) => {
  const sa = hex(encodeSockaddr({ family: 'AF_INET6', addr: IpAddr.parse('::ffff:127.0.0.1'), port: 80, flowinfo: 0, scopeId: 0 }));
  t.deepEqual(normalize({ op: 'getsockname', fd: 'a' }, { ret: 0, addr: sa, addrlen: 28 }), { family: 'AF_INET6', addr: '::ffff:127.0.0.1', port: 80, flowinfo: 0, scopeId: 0, len: 28 });
  t.deepEqual(normalize({ op: 'getsockname', fd: 'a' }, { ret: 0, addr: '0200', addrlen: 16 }), { len: 16, hex: '0200' });
  t.deepEqual(normalize({ op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger' }, { ret: 0, opt: '0100000005000000', optlen: 8 }), { len: 8, hex: '0100000005000000', linger: [1, 5] });
  t.deepEqual(normalize({ op: 'getsockopt', fd: 'a', level: 'SOL_IP', name: 'IP_TTL' }, { ret: 0, opt: '40', optlen: 1 }), { len: 1, hex: '40', int: 64 });
  t.deepEqual(normalize({ op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', as: 'str' }, { ret: 0, opt: '72656e6f000000', optlen: 7 }), { len: 7, hex: '72656e6f000000', str: 'reno' });
  t.deepEqual(normalize({ op: 'poll', fd: 'a', events: [] }, { ret: 0, revents: 0x2019 }), ['POLLIN', 'POLLERR', 'POLLHUP', 'POLLRDHUP']);
  t.is(normalize({ op: 'connect', fd: 'a', addr: {} }, { err: 'EINPROGRESS' }), 'EINPROGRESS');
  const pktinfo = '010000007f0000037f000003';
  t.deepEqual(normalize({ op: 'recv', fd: 'a' }, { ret: 1, data: '78', msgFlags: 0x20, cmsgs: [{ level: 0, type: 8, hex: pktinfo }, { level: 0, type: 2, hex: '11000000' }] }), {
    n: 1, data: 'x', flags: ['MSG_TRUNC'],
    cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', pktinfo: { ifindex: 1, spec_dst: '127.0.0.3', addr: '127.0.0.3' } }, { level: 'SOL_IP', type: 'IP_TTL', int: 17 }],
  });
});

test('judgeCase: saved results feed later expectations; runner errors and short runs are reported', (t) => {
  const c: Case = { name: 'x', ops: [{ op: 'getsockname', fd: 'a', save: 'A', expect: '$ok' }, { op: 'getpeername', fd: 'b', expect: { port: '$var:A.port' } }] };
  const sa = (port: number): string => hex(encodeSockaddr({ family: 'AF_INET', addr: IpAddr.LOOPBACK4, port }));
  t.deepEqual(judgeCase(c, { name: 'x', results: [{ ret: 0, addr: sa(7), addrlen: 16 }, { ret: 0, addr: sa(7), addrlen: 16 }] }, {}), []);
  t.is(judgeCase(c, { name: 'x', results: [{ ret: 0, addr: sa(7), addrlen: 16 }, { ret: 0, addr: sa(8), addrlen: 16 }] }, {}).length, 1);
  t.deepEqual(judgeCase(c, { name: 'x', results: [{ ret: 0, addr: sa(7), addrlen: 16 }] }, {}), ['ran 1 of 2 ops']);
  t.regex(judgeCase(c, { name: 'x', results: [], error: 'boom' }, {})[0], /runner error after 0 ops: boom/);
});

test('every case uses known op kinds and constant names', (t) => {
  const kinds = new Set(['socket', 'close', 'setsockopt', 'getsockopt', 'bind', 'connect', 'listen', 'accept', 'getsockname', 'getpeername', 'send', 'recv', 'shutdown', 'poll', 'wait', 'ioctl', 'nonblock', 'fill', 'drain', 'sleep']);
  const known = (n: unknown): boolean => typeof n === 'number' || (typeof n === 'string' && n in ABI_CONSTS);
  for (const c of CASES) {
    const ids = new Set<string>();
    for (const op of c.ops) {
      t.true(kinds.has(op.op), `${c.name}: op ${op.op}`);
      const o = op as unknown as Record<string, unknown>;
      for (const k of ['domain', 'type', 'proto', 'level', 'name', 'how', 'req']) if (o[k] !== undefined) t.true(known(o[k]), `${c.name}: ${k} ${String(o[k])}`);
      for (const k of ['flags', 'events']) for (const f of (o[k] as string[] | undefined) ?? []) t.true(known(f), `${c.name}: ${f}`);
      if (op.op === 'socket' || op.op === 'accept') ids.add(op.id);
      else if ('fd' in op) t.true(ids.has(op.fd), `${c.name}: ${op.op} on ${op.fd} before it exists`);
    }
  }
});

/** A target that answers from a script and records every call with its bytes in hex. */
class ScriptedTarget implements ConformanceTarget {
  readonly calls: string[] = [];
  private nextFd = 3;
  env(): Record<string, number> {
    return {};
  }
  private log(s: string): void {
    this.calls.push(s);
  }
  async socket(d: number, ty: number, p: number): Promise<{ fd: number }> {
    this.log(`socket ${d} ${ty} ${p}`);
    return { fd: this.nextFd++ };
  }
  async close(fd: number): Promise<object> {
    this.log(`close ${fd}`);
    return {};
  }
  async setsockopt(fd: number, l: number, n: number, v: Uint8Array): Promise<object | Failed> {
    this.log(`setsockopt ${fd} ${l} ${n} ${hex(v)}`);
    return v.length < 4 ? { err: 'EINVAL' } : {};
  }
  async getsockopt(fd: number, l: number, n: number, optlen: number): Promise<{ optval: Uint8Array; optlen: number }> {
    this.log(`getsockopt ${fd} ${l} ${n} ${optlen}`);
    return { optval: Uint8Array.of(1, 0, 0, 0).subarray(0, Math.min(4, optlen)), optlen: Math.min(4, optlen) };
  }
  async bind(fd: number, a: Uint8Array): Promise<object> {
    this.log(`bind ${fd} ${hex(a)}`);
    return {};
  }
  async connect(fd: number, a: Uint8Array): Promise<object> {
    this.log(`connect ${fd} ${hex(a)}`);
    return {};
  }
  async listen(fd: number, b: number): Promise<object> {
    this.log(`listen ${fd} ${b}`);
    return {};
  }
  async accept4(fd: number, addrlen: number, flags: number): Promise<{ fd: number; addr: Uint8Array; addrlen: number }> {
    this.log(`accept4 ${fd} ${addrlen} ${flags}`);
    return { fd: this.nextFd++, addr: encodeSockaddr({ family: 'AF_INET', addr: IpAddr.LOOPBACK4, port: 5 }), addrlen: 16 };
  }
  async getsockname(fd: number, addrlen: number): Promise<{ addr: Uint8Array; addrlen: number }> {
    this.log(`getsockname ${fd} ${addrlen}`);
    return { addr: encodeSockaddr({ family: 'AF_INET', addr: IpAddr.LOOPBACK4, port: 0x1234 }), addrlen: 16 };
  }
  async getpeername(fd: number, addrlen: number): Promise<Failed> {
    this.log(`getpeername ${fd} ${addrlen}`);
    return { err: 'ENOTCONN' };
  }
  async sendmsg(fd: number, data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null): Promise<{ ret: number } | Failed> {
    this.log(`sendmsg ${fd} ${hex(data)} ${flags} ${name ? hex(name) : '-'} ${control ? hex(control) : '-'}`);
    return data.length > 8 ? { err: 'EAGAIN' } : { ret: data.length };
  }
  async recvmsg(fd: number, len: number, flags: number, namelen: number, controllen: number): Promise<{ ret: number; data: Uint8Array; msgFlags: number; addr?: Uint8Array; addrlen?: number; control?: Uint8Array }> {
    this.log(`recvmsg ${fd} ${len} ${flags} ${namelen} ${controllen}`);
    return { ret: 2, data: Uint8Array.of(0x68, 0x69), msgFlags: 0, addr: new Uint8Array(0), addrlen: 0, control: new Uint8Array(0) };
  }
  async shutdown(fd: number, how: number): Promise<object> {
    this.log(`shutdown ${fd} ${how}`);
    return {};
  }
  async poll(fd: number, events: number, timeoutMs: number): Promise<number> {
    this.log(`poll ${fd} ${events} ${timeoutMs}`);
    return events & 0x4;
  }
  async ioctlInt(fd: number, req: number): Promise<{ value: number }> {
    this.log(`ioctl ${fd} ${req}`);
    return { value: 7 };
  }
  async setNonblocking(fd: number, on: boolean): Promise<object> {
    this.log(`nonblock ${fd} ${on}`);
    return {};
  }
  async sleep(ms: number): Promise<void> {
    this.log(`sleep ${ms}`);
  }
}

test('runCase hands the target the exact bytes a program would pass', async (t) => {
  const ops: Op[] = [
    { op: 'socket', id: 'a', domain: 'AF_INET6', type: 'SOCK_DGRAM', flags: ['SOCK_NONBLOCK'] },
    { op: 'bind', fd: 'a', addr: { ip: '::1', port: 80, scopeId: 2, len: 24 } },
    { op: 'connect', fd: 'a', addr: { ip: '::ffff:127.0.0.1', of: 'a' } },
    { op: 'connect', fd: 'a', addr: { family: 'AF_UNSPEC' } },
    { op: 'bind', fd: 'a', addr: { ip: '127.0.0.1', port: 1, family: 'AF_INET6' } },
    { op: 'setsockopt', fd: 'a', level: 'SOL_IP', name: 'IP_TTL', int: 0x20, optlen: 1, expect: 'EINVAL' },
    { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [1, 2] },
    { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_NODELAY', optlen: 2, expect: { len: 2, hex: '0100' } },
    { op: 'send', fd: 'a', data: 'hi', flags: ['MSG_NOSIGNAL'], addr: { hex: '0200' }, cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', pktinfo: { ifindex: 1, spec_dst: '127.0.0.2' } }] },
    { op: 'recv', fd: 'a', n: 10, namelen: 128, controllen: 64, expect: { n: 2, data: 'hi', from: null, cmsg: [] } },
    { op: 'getpeername', fd: 'a', expect: 'ENOTCONN' },
    { op: 'wait', fd: 'a', events: ['POLLOUT'], expect: ['POLLOUT'] },
    { op: 'fill', fd: 'a', chunk: 4, max: 12, expect: 12 },
    { op: 'ioctl', fd: 'a', req: 'SIOCOUTQ', expect: 7 },
  ];
  const target = new ScriptedTarget();
  const outcome = await runCase(target, { name: 'scripted', ops });
  t.deepEqual(judgeCase({ name: 'scripted', ops }, outcome, {}), []);
  t.deepEqual(target.calls, [
    'socket 10 2050 0',
    // family 10, port 80, flowinfo 0, ::1, cut to 24 bytes (the scope id is gone)
    `bind 3 ${'0a00'}${'0050'}${'00000000'}${'00'.repeat(15)}01`,
    'getsockname 3 128',
    // the port of `a` (0x1234) with ::ffff:127.0.0.1, scope 0
    `connect 3 0a001234${'00000000'}${'00'.repeat(10)}ffff7f000001${'00000000'}`,
    'connect 3 00000000000000000000000000000000',
    'bind 3 0a0000017f0000010000000000000000',
    'setsockopt 3 0 2 20',
    'setsockopt 3 1 20 01000000000000000200000000000000',
    'getsockopt 3 6 1 2',
    'sendmsg 3 6869 16384 0200 1c000000000000000000000008000000010000007f0000020000000000000000',
    'recvmsg 3 10 0 128 64',
    'getpeername 3 128',
    'poll 3 4 50',
    'sendmsg 3 00000000 16448 - -',
    'sendmsg 3 00000000 16448 - -',
    'sendmsg 3 00000000 16448 - -',
    'ioctl 3 21521',
    'close 3',
  ]);
});
