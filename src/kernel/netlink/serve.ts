// Serving a trapped call on a guest netlink fd: decode the call's arguments from guest memory
// (sockaddr_nl, msghdr, iovecs, option values), run it on a NetlinkRouteSocket, and write the
// results back. The sandbox dispatcher owns fd identification (GuestFds inode -> socket) and
// calls serveNetlinkCall once it knows the fd is one of these. Read seccomp_unotify(2)
// "Caveats" (every read is re-validated by GuestMemory) and recvmsg(2), sendmsg(2), netlink(7).

import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { ErrnoName } from '../errno.js';
import { native } from '../../net-plumbing/native.js';
import { guestFaultErrno, isGuestFault, MAX_RW_COUNT, MMSGHDR_SIZE } from '../supervisor/guest-memory.js';
import type { GuestFault, GuestMemory, GuestSegment } from '../supervisor/guest-memory.js';
import type { InjectFdAnswer, SyscallAnswer, TrappedCall } from '../supervisor/types.js';
import type { SockoptLimits } from '../sockopt-codec.js';
import { SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_TYPE_MASK } from '../socket-abi.js';
import { AF_NETLINK, MSG_CTRUNC, MSG_DONTWAIT, MSG_PEEK, NETLINK_ROUTE, SOCK_DGRAM, SOCK_RAW } from './constants.js';
import { NetlinkRouteSocket } from './socket.js';
import type { NetlinkPortTable, NetlinkRecv } from './socket.js';
import type { NetlinkWorldSource } from './world.js';

export interface ServeNetlinkOptions {
  /** The guest's fd has O_NONBLOCK (the dispatcher reads it from its duplicate: fcntl F_GETFL). */
  nonblocking?: boolean;
  /** Keeps poll/epoll readiness in step after receives (needs `guestDup`). */
  watcher?: NetlinkPairWatcher;
  /** moat's duplicate of the guest's fd for this call (GuestFds.dup), used by `watcher`. */
  guestDup?: number;
}

/** A fault reading or writing guest memory, as the answer the guest should get. */
function faultAnswer(f: GuestFault): SyscallAnswer {
  return { errno: guestFaultErrno(f) };
}

/**
 * A thread's process id as the guest sees it, in its own pid namespace (the last NStgid field of
 * /proc/<tid>/status): the port id Linux's autobind tries first. Undefined if the thread is gone.
 */
export function guestTgidOf(tid: number): number | undefined {
  try {
    const m = /^NStgid:\s*([\d\s]+)$/m.exec(readFileSync(`/proc/${tid}/status`, 'utf8'));
    const ids = m?.[1]?.trim().split(/\s+/);
    const last = ids?.[ids.length - 1];
    return last ? Number(last) : undefined;
  } catch {
    return undefined;
  }
}

/** The caller's guest tgid, looked up only when the socket is about to be bound implicitly. */
function callerTgid(sock: NetlinkRouteSocket, call: TrappedCall): number | undefined {
  return sock.pid === 0 ? guestTgidOf(call.tid) : undefined;
}

function answer(r: number | ErrnoName): SyscallAnswer {
  return typeof r === 'number' ? { value: r } : { errno: r };
}

const O_NONBLOCK = 0o4000;

/** O_NONBLOCK from fcntl(F_GETFL) flags (for ServeNetlinkOptions.nonblocking). */
export function isNonblockingFlags(statusFlags: number): boolean {
  return (statusFlags & O_NONBLOCK) !== 0;
}

/**
 * Answers one trapped call made on a guest netlink fd. Handles bind, connect, getsockname,
 * getpeername, sendto, sendmsg, sendmmsg, recvfrom, recvmsg, recvmmsg, setsockopt, getsockopt;
 * shutdown/listen/accept are EOPNOTSUPP (netlink has none), ioctl ENOTTY, anything else ENOSYS.
 * A blocking receive on an empty socket waits (a pending promise, aborted with the call).
 */
export async function serveNetlinkCall(sock: NetlinkRouteSocket, call: TrappedCall, opts: ServeNetlinkOptions = {}): Promise<SyscallAnswer> {
  const mem = call.memory;
  const a = call.args;
  switch (call.name) {
    case 'bind':
    case 'connect': {
      const sa = mem.readSockaddr(a[1]!, a[2]!);
      if (isGuestFault(sa)) return faultAnswer(sa);
      const tgid = callerTgid(sock, call);
      return answer(call.name === 'bind' ? sock.bind(sa, tgid) : sock.connect(sa, tgid));
    }
    case 'getsockname':
    case 'getpeername': {
      const w = mem.writeSockaddr(a[1]!, a[2]!, call.name === 'getsockname' ? sock.getsockname() : sock.getpeername());
      return w === true ? { value: 0 } : faultAnswer(w);
    }
    case 'sendto': {
      const len = clampLen(a[2]!);
      const data = mem.gather([{ base: a[1]!, len }]);
      if (isGuestFault(data)) return faultAnswer(data);
      let name: Uint8Array | null = null;
      if (a[4]! !== 0n) {
        const sa = mem.readSockaddr(a[4]!, a[5]!);
        if (isGuestFault(sa)) return faultAnswer(sa);
        name = sa;
      }
      return answer(sock.sendmsg(data, call.argInt(3), name, callerTgid(sock, call)));
    }
    case 'sendmsg':
      return answer(sendOne(sock, mem, a[1]!, call.argInt(2), callerTgid(sock, call)));
    case 'sendmmsg': {
      const vlen = Math.min(call.argU32(2), 1024);
      let sent = 0;
      for (let i = 0; i < vlen; i++) {
        const hdr = a[1]! + BigInt(i * MMSGHDR_SIZE);
        const r = sendOne(sock, mem, hdr, call.argInt(3), callerTgid(sock, call));
        if (typeof r === 'string') return sent > 0 ? { value: sent } : { errno: r };
        const w = mem.writeU32(hdr + 56n, r);
        if (w !== true) return sent > 0 ? { value: sent } : faultAnswer(w);
        sent++;
      }
      return { value: sent };
    }
    case 'recvfrom':
    case 'recvmsg':
    case 'recvmmsg': {
      const r = await receive(sock, call, opts);
      if (opts.watcher && opts.guestDup !== undefined) opts.watcher.sync(opts.guestDup);
      return r;
    }
    case 'setsockopt': {
      const optlen = call.argInt(4);
      if (optlen < 0) return { errno: 'EINVAL' };
      const v = mem.read(a[3]!, Math.min(optlen, 4096));
      if (isGuestFault(v)) return faultAnswer(v);
      return answer(sock.setsockopt(call.argInt(1), call.argInt(2), v));
    }
    case 'getsockopt': {
      const len = mem.readI32(a[4]!);
      if (isGuestFault(len)) return faultAnswer(len);
      if (len < 0) return { errno: 'EINVAL' };
      const r = sock.getsockopt(call.argInt(1), call.argInt(2), len);
      if (typeof r === 'string') return { errno: r };
      const w = mem.write(a[3]!, r.subarray(0, Math.min(len, r.length)));
      if (w !== true) return faultAnswer(w);
      const wl = mem.writeI32(a[4]!, r.length);
      return wl === true ? { value: 0 } : faultAnswer(wl);
    }
    case 'shutdown':
    case 'listen':
    case 'accept':
    case 'accept4':
      return { errno: 'EOPNOTSUPP' };
    case 'ioctl':
      return { errno: 'ENOTTY' };
    default:
      return { errno: 'ENOSYS' };
  }
}

function clampLen(v: bigint): number {
  return v > BigInt(MAX_RW_COUNT) ? MAX_RW_COUNT : Number(v);
}

function sendOne(sock: NetlinkRouteSocket, mem: GuestMemory, msgPtr: bigint, flags: number, tgid: number | undefined): number | ErrnoName {
  const msg = mem.readMsghdr(msgPtr);
  if (isGuestFault(msg)) return faultCode(msg);
  const iov = mem.readIovecs(msg.iov, msg.iovlen);
  if (isGuestFault(iov)) return faultCode(iov);
  const data = mem.gather(iov);
  if (isGuestFault(data)) return faultCode(data);
  let name: Uint8Array | null = null;
  if (msg.name !== 0n && msg.namelen > 0) {
    const sa = mem.readSockaddr(msg.name, msg.namelen);
    if (isGuestFault(sa)) return faultCode(sa);
    name = sa;
  }
  return sock.sendmsg(data, flags, name, tgid);
}

function faultCode(f: GuestFault): ErrnoName {
  return f === 'GONE' ? 'EINTR' : f;
}

/** Where one receive's results go in guest memory. */
interface RecvTarget {
  segments: GuestSegment[];
  /** recvfrom: src_addr and addrlen pointers. */
  addr?: { ptr: bigint; lenPtr: bigint };
  /** recvmsg: the msghdr (msg_name, msg_namelen, msg_control, msg_controllen, msg_flags are written). */
  msg?: { ptr: bigint; name: bigint; control: bigint; controllen: bigint };
}

function recvTarget(call: TrappedCall, msgPtr: bigint): RecvTarget | GuestFault {
  const mem = call.memory;
  if (call.name === 'recvfrom') {
    const t: RecvTarget = { segments: [{ base: call.args[1]!, len: clampLen(call.args[2]!) }] };
    if (call.args[4]! !== 0n) t.addr = { ptr: call.args[4]!, lenPtr: call.args[5]! };
    return t;
  }
  const msg = mem.readMsghdr(msgPtr);
  if (isGuestFault(msg)) return msg;
  const iov = mem.readIovecs(msg.iov, msg.iovlen);
  if (isGuestFault(iov)) return iov;
  return { segments: iov, msg: { ptr: msgPtr, name: msg.name, control: msg.control, controllen: msg.controllen } };
}

/** Writes one received datagram to the guest; returns the syscall's value. */
function deliver(mem: GuestMemory, t: RecvTarget, r: NetlinkRecv): number | GuestFault {
  const n = mem.scatter(t.segments, r.data);
  if (isGuestFault(n)) return n;
  if (t.addr) {
    const w = mem.writeSockaddr(t.addr.ptr, t.addr.lenPtr, r.name);
    if (w !== true) return w;
  }
  if (t.msg) {
    let flags = r.msgFlags;
    if (t.msg.name !== 0n) {
      const w = mem.writeSockaddr(t.msg.name, t.msg.ptr + 8n, r.name);
      if (w !== true) return w;
    } else {
      const w = mem.writeI32(t.msg.ptr + 8n, 0);
      if (w !== true) return w;
    }
    let used = 0;
    if (r.control.length > 0) {
      if (t.msg.control !== 0n && t.msg.controllen >= BigInt(r.control.length)) {
        const w = mem.write(t.msg.control, r.control);
        if (w !== true) return w;
        used = r.control.length;
      } else {
        flags |= MSG_CTRUNC;
      }
    }
    const cl = new Uint8Array(8);
    new DataView(cl.buffer).setBigUint64(0, BigInt(used), true);
    const w1 = mem.write(t.msg.ptr + 40n, cl);
    if (w1 !== true) return w1;
    const w2 = mem.writeI32(t.msg.ptr + 48n, flags);
    if (w2 !== true) return w2;
  }
  return r.length;
}

function segmentsLen(s: readonly GuestSegment[]): number {
  let n = 0;
  for (const x of s) n += x.len;
  return Math.min(n, MAX_RW_COUNT);
}

async function receive(sock: NetlinkRouteSocket, call: TrappedCall, opts: ServeNetlinkOptions): Promise<SyscallAnswer> {
  const mem = call.memory;
  const mmsg = call.name === 'recvmmsg';
  const flags = call.argInt(mmsg ? 3 : call.name === 'recvfrom' ? 3 : 2);
  const vlen = mmsg ? Math.min(call.argU32(2), 1024) : 1;
  const nonblocking = opts.nonblocking === true || (flags & MSG_DONTWAIT) !== 0;
  let got = 0;
  for (let i = 0; i < vlen; i++) {
    const hdr = call.args[1]! + BigInt(mmsg ? i * MMSGHDR_SIZE : 0);
    const t = recvTarget(call, hdr);
    if (isGuestFault(t)) return got > 0 ? { value: got } : faultAnswer(t);
    const len = segmentsLen(t.segments);
    // Look first, write, and only then take the datagram: a fault or a vanished caller loses nothing.
    let r = sock.recvmsg(len, flags | MSG_PEEK);
    while (r === 'EAGAIN' && !nonblocking && got === 0 && !call.signal.aborted) {
      await sock.whenReadable(call.signal);
      if (call.signal.aborted) return { errno: 'EINTR' };
      r = sock.recvmsg(len, flags | MSG_PEEK);
    }
    if (typeof r === 'string') {
      if (got > 0) return { value: got };
      // A pending error is reported (and cleared) by a consuming read.
      if (r !== 'EAGAIN') sock.recvmsg(len, flags & ~MSG_PEEK);
      return { errno: r };
    }
    const v = deliver(mem, t, r);
    if (isGuestFault(v)) return got > 0 ? { value: got } : faultAnswer(v);
    if (!(flags & MSG_PEEK)) sock.recvmsg(len, flags);
    if (!mmsg) return { value: v };
    const w = mem.writeU32(hdr + 56n, v);
    if (w !== true) return got > 0 ? { value: got } : faultAnswer(w);
    got++;
    if (!sock.readable) break; // recvmmsg returns what is there after the first
  }
  return { value: got };
}

const TOKEN = Uint8Array.of(0);

/**
 * Ties a NetlinkRouteSocket to moat's end of the guest's socketpair (use a SOCK_STREAM pair:
 * its hangup is seen, and Node can watch it):
 *  - when the guest has closed every reference to its end, moat's end reads EOF and the socket is
 *    closed (its port id released);
 *  - poll/epoll on the guest's fd work: while the socket has something to read, one token byte
 *    waits in the pair (POLLIN); after a receive leaves nothing, serveNetlinkCall takes the token
 *    back through the guest end's duplicate (pass `watcher` and `guestDup`).
 * It takes the socket's onReadable. A guest that read()s the fd (untrapped) gets the token byte.
 */
export class NetlinkPairWatcher {
  private token = false;
  private closed = false;
  private readonly stream: Socket;

  constructor(
    private readonly moatEnd: number,
    private readonly sock: NetlinkRouteSocket,
  ) {
    this.stream = new Socket({ fd: moatEnd, readable: true, writable: false });
    this.stream.on('data', () => {}); // what the guest write()s on its end goes nowhere
    const gone = () => this.close();
    this.stream.on('end', gone);
    this.stream.on('close', gone);
    this.stream.on('error', gone);
    sock.onReadable = () => this.post();
    if (sock.readable) this.post();
  }

  /** A readiness token is in the pair. */
  get hasToken(): boolean {
    return this.token;
  }

  private post(): void {
    if (this.token || this.closed) return;
    if (native().sockSend(this.moatEnd, TOKEN) === 1) this.token = true;
  }

  /** After a receive: the token follows `sock.readable`. `guestDup` is a duplicate of the guest's end. */
  sync(guestDup: number): void {
    if (this.closed) return;
    if (this.token && !this.sock.readable) {
      // EAGAIN means the guest read() the byte itself: either way it is gone.
      native().sockRecv(guestDup, 1);
      this.token = false;
    } else if (!this.token && this.sock.readable) {
      this.post();
    }
  }

  /** Stops watching, closes moat's end and the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.onReadable = undefined;
    this.stream.destroy();
    this.sock.close();
  }
}

/** A guest netlink socket made by openNetlinkSocket. */
export interface OpenedNetlinkSocket {
  sock: NetlinkRouteSocket;
  watcher: NetlinkPairWatcher;
  /** The inode of the guest's end: how later calls on its fd are recognised (GuestFds.dup). */
  ino: bigint;
  /** The answer to the socket() call: the guest's end, injected with its SOCK_NONBLOCK/SOCK_CLOEXEC. */
  answer: InjectFdAnswer;
}

/**
 * Answers socket(AF_NETLINK, type, NETLINK_ROUTE): a SOCK_STREAM socketpair (no netlink data
 * crosses it; it carries readiness and hangup), a NetlinkRouteSocket and its watcher. The
 * errors are netlink_create's: ESOCKTNOSUPPORT for a type other than SOCK_RAW/SOCK_DGRAM,
 * EPROTONOSUPPORT for a protocol other than NETLINK_ROUTE (the caller may route other netlink
 * protocols elsewhere before calling this), EAFNOSUPPORT if the call is not AF_NETLINK.
 */
export function openNetlinkSocket(
  call: TrappedCall,
  opts: { world: NetlinkWorldSource; ports: NetlinkPortTable; limits?: SockoptLimits },
): OpenedNetlinkSocket | ErrnoName {
  if (call.argInt(0) !== AF_NETLINK) return 'EAFNOSUPPORT';
  const typeArg = call.argInt(1);
  const type = typeArg & SOCK_TYPE_MASK;
  if (type !== SOCK_RAW && type !== SOCK_DGRAM) return 'ESOCKTNOSUPPORT';
  if ((typeArg & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return 'EINVAL';
  if (call.argInt(2) !== NETLINK_ROUTE) return 'EPROTONOSUPPORT';
  const n = native();
  const [moatEnd, guestEnd] = n.socketpair('stream');
  n.setNonblocking(guestEnd, (typeArg & SOCK_NONBLOCK) !== 0);
  const sock = new NetlinkRouteSocket({
    world: opts.world,
    ports: opts.ports,
    tgid: guestTgidOf(call.tid) ?? call.tid,
    type,
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const watcher = new NetlinkPairWatcher(moatEnd, sock);
  const ino = n.fstatIno(guestEnd).ino;
  return {
    sock,
    watcher,
    ino,
    answer: {
      injectFd: guestEnd,
      cloexec: (typeArg & SOCK_CLOEXEC) !== 0,
      closeAfter: true,
      // The guest never got it (it died, or the kernel refused): drop moat's side too.
      onSettled: (o) => {
        if (!o.ok) watcher.close();
      },
    },
  };
}
