// serveNetlinkCall over a fake guest memory: how trapped calls' arguments are read and results
// written (msghdr fields, iovec scatter, sockaddr lengths, control data, optlen), blocking and
// non-blocking receives, and faults. The real-guest version is guests.test.ts.

import test from 'ava';
import { GuestMemory } from '../../../src/kernel/supervisor/guest-memory.js';
import type { GuestFault, GuestSegment } from '../../../src/kernel/supervisor/guest-memory.js';
import type { TrappedCall } from '../../../src/kernel/supervisor/types.js';
import type { SyscallName } from '../../../src/kernel/supervisor/syscalls.js';
import { serveNetlinkCall } from '../../../src/kernel/netlink/serve.js';
import { NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import { encodeSockaddrNl, parseMessages } from '../../../src/kernel/netlink/codec.js';
import {
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_TRUNC,
  NETLINK_LIST_MEMBERSHIPS,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_REQUEST,
  RTM_GETLINK,
  RTM_NEWLINK,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_PASSCRED,
  SO_RCVBUF,
} from '../../../src/kernel/netlink/constants.js';
import { ifinfo, request, u32 } from './helpers.js';
import { mirrorWorld } from './world-fixture.js';

const BASE = 0x10000n;
const SIZE = 1 << 16;

/** Guest memory backed by an array: addresses BASE .. BASE+SIZE; anything else faults. */
class FakeMemory extends GuestMemory {
  readonly bytes = new Uint8Array(SIZE);
  constructor() {
    super(1, () => true);
  }
  private span(addr: bigint, len: number): number | null {
    const off = Number(addr - BASE);
    return addr >= BASE && off + len <= SIZE ? off : null;
  }
  override read(addr: bigint, len: number): Uint8Array | GuestFault {
    const off = this.span(addr, len);
    return off === null ? 'EFAULT' : this.bytes.slice(off, off + len);
  }
  override write(addr: bigint, b: Uint8Array): true | GuestFault {
    const off = this.span(addr, b.length);
    if (off === null) return 'EFAULT';
    this.bytes.set(b, off);
    return true;
  }
  override gather(segments: readonly GuestSegment[]): Uint8Array | GuestFault {
    const parts: Uint8Array[] = [];
    for (const s of segments) {
      const r = this.read(s.base, s.len);
      if (typeof r === 'string') return r;
      parts.push(r);
    }
    return Uint8Array.from(parts.flatMap((p) => [...p]));
  }
  override scatter(segments: readonly GuestSegment[], b: Uint8Array): number | GuestFault {
    let done = 0;
    for (const s of segments) {
      if (done >= b.length) break;
      const n = Math.min(s.len, b.length - done);
      const w = this.write(s.base, b.subarray(done, done + n));
      if (w !== true) return done > 0 ? done : w;
      done += n;
    }
    return done;
  }
  u32at(addr: bigint): number {
    const off = Number(addr - BASE);
    return new DataView(this.bytes.buffer).getUint32(off, true);
  }
  u64at(addr: bigint): bigint {
    return new DataView(this.bytes.buffer).getBigUint64(Number(addr - BASE), true);
  }
  setU32(addr: bigint, v: number): void {
    new DataView(this.bytes.buffer).setUint32(Number(addr - BASE), v, true);
  }
  setU64(addr: bigint, v: bigint): void {
    new DataView(this.bytes.buffer).setBigUint64(Number(addr - BASE), v, true);
  }
  at(addr: bigint, len: number): Uint8Array {
    const off = Number(addr - BASE);
    return this.bytes.subarray(off, off + len);
  }
}

function fakeCall(mem: FakeMemory, name: SyscallName, args: Array<bigint | number>, signal = new AbortController().signal): TrappedCall {
  const a = args.map((x) => BigInt(x));
  while (a.length < 6) a.push(0n);
  return {
    id: 1n,
    // No such thread: the socket's creator tgid is the autobind port.
    tid: 0x3ffffff0,
    nr: 0,
    name,
    args: a,
    instructionPointer: 0n,
    memory: mem,
    signal,
    isValid: () => true,
    argInt: (i) => Number(BigInt.asIntN(32, a[i] ?? 0n)),
    argU32: (i) => Number(BigInt.asUintN(32, a[i] ?? 0n)),
    injectFd: () => 'EINVAL',
  };
}

// Layout in the fake memory.
const MSG = BASE + 0x100n; // struct msghdr (56) / mmsghdr[2] (128)
const IOV = BASE + 0x200n; // struct iovec[4]
const NAME = BASE + 0x300n;
const CTRL = BASE + 0x340n;
const OPT = BASE + 0x380n;
const OPTLEN = BASE + 0x3c0n;
const REQ = BASE + 0x400n;
const BUF = BASE + 0x1000n;

function setup(): { mem: FakeMemory; sock: NetlinkRouteSocket } {
  return { mem: new FakeMemory(), sock: new NetlinkRouteSocket({ world: mirrorWorld(), ports: new NetlinkPortTable(), tgid: 99 }) };
}

function msghdr(mem: FakeMemory, at: bigint, o: { name?: bigint; namelen?: number; iov: Array<[bigint, number]>; control?: bigint; controllen?: number }, iovAt = IOV): void {
  mem.setU64(at, o.name ?? 0n);
  mem.setU32(at + 8n, o.namelen ?? 0);
  mem.setU64(at + 16n, iovAt);
  mem.setU64(at + 24n, BigInt(o.iov.length));
  mem.setU64(at + 32n, o.control ?? 0n);
  mem.setU64(at + 40n, BigInt(o.controllen ?? 0));
  mem.setU32(at + 48n, 0xdead);
  o.iov.forEach(([b, l], i) => {
    mem.setU64(iovAt + BigInt(i * 16), b);
    mem.setU64(iovAt + BigInt(i * 16 + 8), BigInt(l));
  });
}

async function sendReq(mem: FakeMemory, sock: NetlinkRouteSocket, req: Uint8Array): Promise<void> {
  mem.write(REQ, req);
  const r = await serveNetlinkCall(sock, fakeCall(mem, 'sendto', [3, REQ, req.length, 0, 0, 0]));
  if (!('value' in r) || r.value !== req.length) throw new Error(`sendto: ${JSON.stringify(r)}`);
}

test('recvmsg scatters over the iovecs and fills msg_name, msg_namelen, msg_controllen and msg_flags', async (t) => {
  const { mem, sock } = setup();
  await sendReq(mem, sock, request(RTM_GETLINK, NLM_F_REQUEST, 5, ifinfo(3)));
  msghdr(mem, MSG, { name: NAME, namelen: 16, iov: [[BUF, 10], [BUF + 0x100n, 4000]], control: CTRL, controllen: 64 });
  const r = await serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, 0]));
  if (!('value' in r)) return t.fail(JSON.stringify(r));
  const total = Number(r.value);
  const joined = new Uint8Array(total);
  joined.set(mem.at(BUF, 10));
  joined.set(mem.at(BUF + 0x100n, total - 10), 10);
  const m = parseMessages(joined)[0]!;
  t.is(m.type, RTM_NEWLINK);
  t.is(m.len, total);
  t.deepEqual([...mem.at(NAME, 12)], [...encodeSockaddrNl(0, 0)]);
  t.is(mem.u32at(MSG + 8n), 12, 'msg_namelen');
  t.is(mem.u64at(MSG + 40n), 0n, 'msg_controllen: no control data');
  t.is(mem.u32at(MSG + 48n), 0, 'msg_flags');
  t.false(sock.readable);
});

test('recvmsg into a short buffer: MSG_TRUNC in msg_flags; with MSG_TRUNC in flags the full length is returned', async (t) => {
  const { mem, sock } = setup();
  await sendReq(mem, sock, request(RTM_GETLINK, NLM_F_REQUEST, 5, ifinfo(3)));
  await sendReq(mem, sock, request(RTM_GETLINK, NLM_F_REQUEST, 6, ifinfo(3)));
  msghdr(mem, MSG, { iov: [[BUF, 16]] });
  const a = await serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, 0]));
  t.deepEqual(a, { value: 16 });
  t.is(mem.u32at(MSG + 48n), MSG_TRUNC);
  const b = await serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, MSG_TRUNC]));
  if (!('value' in b)) return t.fail(JSON.stringify(b));
  t.true(Number(b.value) > 16);
  t.is(mem.u32at(BUF), Number(b.value), 'the head of the datagram is its nlmsghdr with the full length');
});

test('SO_PASSCRED: SCM_CREDENTIALS of the kernel in msg_control; too little room is MSG_CTRUNC', async (t) => {
  const { mem, sock } = setup();
  mem.write(OPT, u32(1));
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'setsockopt', [3, SOL_SOCKET, SO_PASSCRED, OPT, 4])), { value: 0 });
  await sendReq(mem, sock, request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 5, ifinfo(1)));
  msghdr(mem, MSG, { iov: [[BUF, 8192]], control: CTRL, controllen: 64 });
  await serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, 0]));
  t.is(mem.u64at(MSG + 40n), 32n, 'CMSG_SPACE(sizeof(struct ucred))');
  t.is(mem.u64at(CTRL), 28n, 'cmsg_len');
  t.deepEqual([mem.u32at(CTRL + 8n), mem.u32at(CTRL + 12n)], [1, 2], 'SOL_SOCKET, SCM_CREDENTIALS');
  t.deepEqual([...mem.at(CTRL + 16n, 12)], new Array(12).fill(0), 'pid, uid, gid of the kernel: 0');
  msghdr(mem, MSG, { iov: [[BUF, 8192]], control: CTRL, controllen: 8 });
  await serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, 0]));
  t.is(mem.u32at(MSG + 48n) & MSG_CTRUNC, MSG_CTRUNC);
  t.is(mem.u64at(MSG + 40n), 0n);
});

test('an empty socket: EAGAIN when non-blocking or MSG_DONTWAIT; a blocking recv waits for the answer, or for its abort', async (t) => {
  const { mem, sock } = setup();
  msghdr(mem, MSG, { iov: [[BUF, 8192]] });
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, 0]), { nonblocking: true }), { errno: 'EAGAIN' });
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'recvfrom', [3, BUF, 100, MSG_DONTWAIT, 0, 0])), { errno: 'EAGAIN' });
  const waiting = serveNetlinkCall(sock, fakeCall(mem, 'recvfrom', [3, BUF, 8192, 0, NAME, OPTLEN]));
  mem.setU32(OPTLEN, 12);
  let settled = false;
  void waiting.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  t.false(settled, 'still waiting');
  await sendReq(mem, sock, request(RTM_GETLINK, NLM_F_REQUEST, 9, ifinfo(1)));
  const r = await waiting;
  if (!('value' in r)) return t.fail(JSON.stringify(r));
  t.is(parseMessages(mem.at(BUF, Number(r.value)))[0]?.seq, 9);
  t.is(mem.u32at(OPTLEN), 12);
  const ac = new AbortController();
  const aborted = serveNetlinkCall(sock, fakeCall(mem, 'recvmsg', [3, MSG, 0], ac.signal));
  ac.abort();
  t.deepEqual(await aborted, { errno: 'EINTR' });
});

test('sendmsg/sendto: destination checks, bad pointers are EFAULT, the iovecs are gathered in order', async (t) => {
  const { mem, sock } = setup();
  const req = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 3, ifinfo(1));
  mem.write(REQ, req);
  mem.write(NAME, encodeSockaddrNl(5, 0));
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'sendto', [3, REQ, req.length, 0, NAME, 12])), { errno: 'EPERM' });
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'sendto', [3, 0x10n, req.length, 0, 0, 0])), { errno: 'EFAULT' });
  // The request split over two iovecs.
  msghdr(mem, MSG, { iov: [[REQ, 7], [REQ + 7n, req.length - 7]] });
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'sendmsg', [3, MSG, 0])), { value: req.length });
  t.is(sock.queued, 2);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'shutdown', [3, 2])), { errno: 'EOPNOTSUPP' });
});

test('sendmmsg and recvmmsg move several datagrams, writing msg_len of each', async (t) => {
  const { mem, sock } = setup();
  const a = request(RTM_GETLINK, NLM_F_REQUEST, 1, ifinfo(1));
  const b = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 2, ifinfo(2));
  mem.write(REQ, a);
  mem.write(REQ + 0x100n, b);
  msghdr(mem, MSG, { iov: [[REQ, a.length]] }, IOV);
  msghdr(mem, MSG + 64n, { iov: [[REQ + 0x100n, b.length]] }, IOV + 0x40n);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'sendmmsg', [3, MSG, 2, 0])), { value: 2 });
  t.deepEqual([mem.u32at(MSG + 56n), mem.u32at(MSG + 64n + 56n)], [a.length, b.length]);
  t.is(sock.queued, 3);
  msghdr(mem, MSG, { iov: [[BUF, 4096]] }, IOV);
  msghdr(mem, MSG + 64n, { iov: [[BUF + 0x1000n, 4096]] }, IOV + 0x40n);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'recvmmsg', [3, MSG, 2, 0, 0])), { value: 2 });
  t.is(parseMessages(mem.at(BUF, mem.u32at(MSG + 56n)))[0]?.seq, 1);
  t.is(parseMessages(mem.at(BUF + 0x1000n, mem.u32at(MSG + 64n + 56n)))[0]?.seq, 2);
  t.is(sock.queued, 1, 'the ack is left');
  const ack = await serveNetlinkCall(sock, fakeCall(mem, 'recvmmsg', [3, MSG, 2, 0, 0]));
  t.deepEqual(ack, { value: 1 });
  t.is(parseMessages(mem.at(BUF, mem.u32at(MSG + 56n)))[0]?.type, NLMSG_ERROR);
});

test('getsockopt writes at most optlen bytes and the real length; getsockname truncates to addrlen', async (t) => {
  const { mem, sock } = setup();
  mem.setU32(OPTLEN, 8);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'getsockopt', [3, SOL_SOCKET, SO_RCVBUF, OPT, OPTLEN])), { value: 0 });
  t.is(mem.u32at(OPT), 212992);
  t.is(mem.u32at(OPTLEN), 4);
  mem.setU32(OPTLEN, 0);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'getsockopt', [3, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, OPT, OPTLEN])), { value: 0 });
  t.is(mem.u32at(OPTLEN), 8, 'the size the memberships need');
  mem.write(NAME, encodeSockaddrNl(0, 0));
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'bind', [3, NAME, 12])), { value: 0 });
  mem.write(NAME, new Uint8Array(16).fill(0xee));
  mem.setU32(OPTLEN, 6);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'getsockname', [3, NAME, OPTLEN])), { value: 0 });
  t.deepEqual([...mem.at(NAME, 8)], [16, 0, 0, 0, 99, 0, 0xee, 0xee], 'six bytes copied: family, pad, and half the pid');
  t.is(mem.u32at(OPTLEN), 12);
  t.deepEqual(await serveNetlinkCall(sock, fakeCall(mem, 'bind', [3, NAME, 200])), { errno: 'EINVAL' });
});
