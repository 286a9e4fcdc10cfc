// One guest AF_NETLINK/NETLINK_ROUTE socket, syscall-shaped: bind, connect, getsockname,
// sendmsg, recvmsg, setsockopt, getsockopt, readiness. Its "kernel" is rtnl.ts over a
// NetlinkWorld. Read netlink(7) first; the semantics follow net/netlink/af_netlink.c
// (netlink_bind, netlink_autobind, netlink_sendmsg, netlink_recvmsg, netlink_dump,
// netlink_setsockopt, netlink_getsockopt) and net/core/sock.c for SOL_SOCKET.
//
// Results are numbers (>= 0) or ErrnoName codes from src/kernel/errno.ts; nothing here throws on
// anything a guest can send.

import { ERRNO } from '../errno.js';
import type { ErrnoName } from '../errno.js';
import { LINUX_DEFAULT_LIMITS, clampRcvbuf, clampSndbuf } from '../sockopt-codec.js';
import type { SockoptLimits } from '../sockopt-codec.js';
import { align4, concat, decodeSockaddrNl, encodeSockaddrNl } from './codec.js';
import {
  AF_NETLINK,
  AF_UNSPEC,
  MSG_OOB,
  MSG_PEEK,
  MSG_TRUNC,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_BROADCAST_ERROR,
  NETLINK_CAP_ACK,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_LISTEN_ALL_NSID,
  NETLINK_LIST_MEMBERSHIPS,
  NETLINK_NO_ENOBUFS,
  NETLINK_PKTINFO,
  NETLINK_ROUTE,
  SOCKADDR_NL_SIZE,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_DOMAIN,
  SO_ERROR,
  SO_PASSCRED,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_TYPE,
} from './constants.js';
import { newRtnlCounters, processDatagram } from './rtnl.js';
import type { RtnlCounters } from './rtnl.js';
import { resolveWorld } from './world.js';
import type { NetlinkWorldSource } from './world.js';

/** RTNLGRP_MAX in Linux 6.x: the multicast groups rtnetlink has (ADD_MEMBERSHIP beyond it is EINVAL). */
export const RTNLGRP_MAX = 40;
/** NLMSG_GOODSIZE on 4 KiB pages (SKB_WITH_OVERHEAD(PAGE_SIZE)): the smallest dump datagram. */
export const NLMSG_GOODSIZE = 3776;
/** netlink_recvmsg caps the dump datagram size it learns from recvmsg lengths at 32 KiB. */
export const MAX_RECVMSG_LEN = 32768;

/**
 * Port ids of one network namespace's netlink sockets (nl_table per protocol). netlink_autobind
 * tries the caller's tgid first, then negative ids counting down from -4096.
 */
export class NetlinkPortTable {
  private readonly used = new Set<number>();
  private rover = -4096;

  /** Claims `pid` (u32); false if another socket has it. */
  claim(pid: number): boolean {
    const p = pid >>> 0;
    if (this.used.has(p)) return false;
    this.used.add(p);
    return true;
  }

  /** netlink_autobind: the tgid if free, else -4096, -4097, ... (as u32). */
  autobind(tgid: number): number {
    if (tgid > 0 && this.claim(tgid)) return tgid >>> 0;
    for (let i = 0; i < 1 << 20; i++) {
      const p = this.rover >>> 0;
      this.rover--;
      if (this.rover > -4096) this.rover = -4097;
      if (this.claim(p)) return p;
    }
    throw new Error('NetlinkPortTable: no free port id'); // 2^20 live sockets: an invariant broke
  }

  release(pid: number): void {
    this.used.delete(pid >>> 0);
  }

  has(pid: number): boolean {
    return this.used.has(pid >>> 0);
  }
}

export interface NetlinkRouteSocketOptions {
  /** What the guest sees; a function is called once per request datagram. */
  world: NetlinkWorldSource;
  /** The sandbox's port table (one per guest "namespace"). */
  ports: NetlinkPortTable;
  /**
   * The creating process's tgid as the guest sees it: the port id autobind tries first, unless
   * the call that binds names its own caller (a socket inherited by a child binds with the
   * child's pid, as Linux's netlink_autobind uses current's).
   */
  tgid: number;
  /** SOCK_RAW (default) or SOCK_DGRAM: netlink treats them alike; SO_TYPE reports it. */
  type?: number;
  /** Sysctls for SO_RCVBUF/SO_SNDBUF (default: Linux's defaults). */
  limits?: SockoptLimits;
  /** Called when the socket turns readable (answers queued). */
  onReadable?: () => void;
}

/** What recvmsg returns. */
export interface NetlinkRecv {
  /** The bytes copied (at most the buffer's length). */
  data: Uint8Array;
  /** The syscall's return value: data.length, or the datagram's full length with MSG_TRUNC in flags. */
  length: number;
  /** msg_flags: MSG_TRUNC when the datagram was longer than the buffer. */
  msgFlags: number;
  /** The sender's struct sockaddr_nl: the kernel (pid 0, no group). */
  name: Uint8Array;
  /** Ancillary data (SCM_CREDENTIALS with SO_PASSCRED, NETLINK_PKTINFO), as cmsg bytes; empty if none. */
  control: Uint8Array;
}

/** A dump being read: the messages not yet packed into datagrams and its NLMSG_DONE. */
interface PendingDump {
  messages: Uint8Array[];
  next: number;
  done: Uint8Array;
}

const SCM_CREDENTIALS = 2;

export class NetlinkRouteSocket {
  readonly counters: RtnlCounters = newRtnlCounters();
  /** Answers dropped because the receive buffer was full (they become ENOBUFS). */
  overruns = 0;
  onReadable: (() => void) | undefined;

  private readonly ports: NetlinkPortTable;
  private readonly tgid: number;
  private readonly limits: SockoptLimits;
  private readonly type: number;
  private readonly world: NetlinkWorldSource;
  private portId = 0;
  private bound = false;
  private groups = new Set<number>();
  private dstPid = 0;
  private dstGroup = 0;
  /** Datagrams to read, each with the multicast group it was sent to (0: a unicast answer). */
  private queue: Array<{ bytes: Uint8Array; group: number }> = [];
  private queuedBytes = 0;
  private dump: PendingDump | null = null;
  private maxRecvmsgLen = 0;
  private pendingError: ErrnoName | null = null;
  private closed = false;
  private rcvbuf: number;
  private sndbuf: number;
  private readonly nlFlags = new Map<number, number>();
  private passcred = false;
  private readonly solSocket = new Map<number, Uint8Array>();
  private waiters: Array<() => void> = [];

  constructor(opts: NetlinkRouteSocketOptions) {
    this.world = opts.world;
    this.ports = opts.ports;
    this.tgid = opts.tgid;
    this.limits = opts.limits ?? LINUX_DEFAULT_LIMITS;
    this.type = opts.type ?? SOCK_RAW;
    this.onReadable = opts.onReadable;
    this.rcvbuf = this.limits.rmemDefault;
    this.sndbuf = this.limits.wmemDefault;
  }

  /** The port id (0 until bound, explicitly or by the first send). */
  get pid(): number {
    return this.portId;
  }

  /** close() was called: the guest's socket is gone, its port id free. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Something to read: a queued datagram or a pending error. */
  get readable(): boolean {
    return this.queue.length > 0 || this.pendingError !== null;
  }

  /** Datagrams queued (a dump in progress counts its next datagram only). */
  get queued(): number {
    return this.queue.length;
  }

  // ---- addresses ----

  /** bind(2) with a struct sockaddr_nl; `callerTgid`: the binding process (default: the creator). */
  bind(addr: Uint8Array, callerTgid?: number): 0 | ErrnoName {
    if (this.closed) return 'EBADF';
    const sa = decodeSockaddrNl(addr);
    if (!sa || sa.family !== AF_NETLINK) return 'EINVAL';
    if (this.bound) {
      if (sa.pid !== this.portId) return 'EINVAL';
    } else if (sa.pid !== 0) {
      if (!this.ports.claim(sa.pid)) return 'EADDRINUSE';
      this.portId = sa.pid;
      this.bound = true;
    } else {
      this.autobind(callerTgid);
    }
    // The first 32 groups ride in nl_groups; rtnetlink lets anyone listen (NL_CFG_F_NONROOT_RECV).
    this.groups = new Set([...this.groups].filter((g) => g > 32));
    for (let g = 0; g < 32; g++) if (sa.groups & (1 << g)) this.groups.add(g + 1);
    return 0;
  }

  /** connect(2): sets the default destination; AF_UNSPEC disconnects. */
  connect(addr: Uint8Array, callerTgid?: number): 0 | ErrnoName {
    if (this.closed) return 'EBADF';
    if (addr.length >= 2 && (addr[0] | (addr[1] << 8)) === AF_UNSPEC) {
      this.dstPid = 0;
      this.dstGroup = 0;
      return 0;
    }
    const sa = decodeSockaddrNl(addr);
    if (!sa) return 'EINVAL';
    if (sa.family !== AF_NETLINK) return 'EINVAL';
    // Sending to a group, or to another user's port, needs NL_CFG_F_NONROOT_SEND or CAP_NET_ADMIN.
    if (sa.groups !== 0 || sa.pid !== 0) return 'EPERM';
    if (!this.bound) this.autobind(callerTgid);
    this.dstPid = sa.pid;
    this.dstGroup = 0;
    return 0;
  }

  /** getsockname(2): 12 bytes of struct sockaddr_nl. */
  getsockname(): Uint8Array {
    let mask = 0;
    for (const g of this.groups) if (g <= 32) mask |= 1 << (g - 1);
    return encodeSockaddrNl(this.portId, mask >>> 0);
  }

  /** getpeername(2): the connected destination (the kernel, pid 0, unless connected elsewhere). */
  getpeername(): Uint8Array {
    return encodeSockaddrNl(this.dstPid, this.dstGroup ? 1 << (this.dstGroup - 1) : 0);
  }

  private autobind(callerTgid?: number): void {
    this.portId = this.ports.autobind(callerTgid ?? this.tgid);
    this.bound = true;
  }

  // ---- data ----

  /**
   * sendmsg(2)/sendto(2): `data` is the whole datagram; `name` the destination sockaddr (null for
   * none). Requests are answered at once; the answers wait for recvmsg. Returns data.length.
   */
  sendmsg(data: Uint8Array, flags = 0, name: Uint8Array | null = null, callerTgid?: number): number | ErrnoName {
    if (this.closed) return 'EBADF';
    if (flags & MSG_OOB) return 'EOPNOTSUPP';
    if (name !== null && name.length > 0) {
      if (name.length < SOCKADDR_NL_SIZE) return 'EINVAL';
      const sa = decodeSockaddrNl(name)!;
      if (sa.family !== AF_NETLINK) return 'EINVAL';
      if (sa.pid !== 0 || sa.groups !== 0) return 'EPERM';
    } else if (this.dstPid !== 0 || this.dstGroup !== 0) {
      return 'EPERM';
    }
    if (!this.bound) this.autobind(callerTgid);
    if (data.length > this.sndbuf - 32) return 'EMSGSIZE';
    const outputs = processDatagram(
      data,
      {
        portId: this.portId,
        strict: (this.nlFlags.get(NETLINK_GET_STRICT_CHK) ?? 0) !== 0,
        extAck: (this.nlFlags.get(NETLINK_EXT_ACK) ?? 0) !== 0,
        capAck: (this.nlFlags.get(NETLINK_CAP_ACK) ?? 0) !== 0,
        dumpRunning: this.dump !== null,
        world: resolveWorld(this.world),
      },
      this.counters,
    );
    const wasReadable = this.readable;
    for (const o of outputs) {
      if (o.kind === 'datagram') this.enqueue(o.bytes);
      else {
        this.dump = { messages: o.messages, next: 0, done: o.done };
        this.continueDump();
      }
    }
    if (!wasReadable && this.readable) this.becameReadable();
    return data.length;
  }

  private becameReadable(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    this.onReadable?.();
  }

  /**
   * Resolves when the socket is readable (at once if it is), or when `signal` aborts or the
   * socket closes: what a blocking recvmsg waits for.
   */
  whenReadable(signal?: AbortSignal): Promise<void> {
    if (this.readable || this.closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** netlink_unicast from the kernel: an answer that does not fit the receive buffer is dropped and reported as ENOBUFS. */
  private enqueue(b: Uint8Array, group = 0): boolean {
    if (this.queuedBytes + b.length > this.rcvbuf && this.queue.length > 0) {
      this.overruns++;
      if (!this.nlFlags.get(NETLINK_NO_ENOBUFS)) this.pendingError = 'ENOBUFS';
      return false;
    }
    this.queue.push({ bytes: b, group });
    this.queuedBytes += b.length;
    return true;
  }

  /** netlink_dump: packs the next datagram of the dump, sized by the largest recvmsg buffer seen. */
  private continueDump(): void {
    const d = this.dump;
    if (!d) return;
    if (d.next >= d.messages.length) {
      // RTNL_FLAG_DUMP_SPLIT_NLM_DONE: links, addresses and routes end in a datagram of their own.
      this.dump = null;
      this.enqueue(d.done);
      return;
    }
    const room = Math.max(NLMSG_GOODSIZE, Math.min(this.maxRecvmsgLen, MAX_RECVMSG_LEN));
    const parts: Uint8Array[] = [];
    let size = 0;
    while (d.next < d.messages.length) {
      const m = d.messages[d.next];
      const need = align4(m.length);
      if (parts.length > 0 && size + need > room) break;
      parts.push(m);
      size += need;
      d.next++;
    }
    this.queue.push({ bytes: concat(parts), group: 0 });
    this.queuedBytes += size;
  }

  /**
   * recvmsg(2)/recvfrom(2) into a buffer of `len` bytes. `flags`: MSG_PEEK (leave it queued),
   * MSG_TRUNC (return the full length), MSG_DONTWAIT (ignored here: an empty queue is always
   * EAGAIN; the caller decides whether to wait). A datagram longer than `len` is cut and the rest
   * discarded, with MSG_TRUNC in msgFlags.
   */
  recvmsg(len: number, flags = 0): NetlinkRecv | ErrnoName {
    if (this.closed) return 'EBADF';
    if (flags & MSG_OOB) return 'EOPNOTSUPP';
    if (this.pendingError) {
      // sock_error: reported once, then cleared (a peek leaves it for the next read).
      const e = this.pendingError;
      if (!(flags & MSG_PEEK)) this.pendingError = null;
      return e;
    }
    const n = Math.max(0, Math.floor(len));
    this.maxRecvmsgLen = Math.max(this.maxRecvmsgLen, Math.min(n, MAX_RECVMSG_LEN));
    const entry = this.queue[0];
    if (!entry) return 'EAGAIN';
    const head = entry.bytes;
    const copied = Math.min(n, head.length);
    const msgFlags = head.length > n ? MSG_TRUNC : 0;
    const out: NetlinkRecv = {
      data: head.subarray(0, copied),
      length: flags & MSG_TRUNC ? head.length : copied,
      msgFlags,
      // netlink_recvmsg: nl_groups is the mask of the group a notification went to (0 above 32).
      name: encodeSockaddrNl(0, entry.group > 0 && entry.group <= 32 ? (1 << (entry.group - 1)) >>> 0 : 0),
      control: this.control(entry.group),
    };
    if (!(flags & MSG_PEEK)) {
      this.queue.shift();
      this.queuedBytes -= head.length;
      if (this.dump && this.queue.length === 0) this.continueDump();
    }
    return out;
  }

  /** The multicast groups this socket listens to (bind's nl_groups and NETLINK_ADD_MEMBERSHIP). */
  get subscriptions(): ReadonlySet<number> {
    return this.groups;
  }

  /**
   * A notification for multicast `group` (RTNLGRP_*): queued if the socket listens to it, as
   * netlink_broadcast delivers it (a full receive buffer drops it: ENOBUFS unless
   * NETLINK_NO_ENOBUFS). Returns whether it was queued.
   */
  deliverNotification(group: number, message: Uint8Array): boolean {
    if (this.closed || !this.groups.has(group)) return false;
    const wasReadable = this.readable;
    const ok = this.enqueue(message, group);
    if (!wasReadable && this.readable) this.becameReadable();
    return ok;
  }

  private control(group: number): Uint8Array {
    const parts: Uint8Array[] = [];
    if (this.passcred) {
      // struct cmsghdr (len u64, level i32, type i32) + struct ucred {pid, uid, gid} of the kernel: all 0.
      const c = new Uint8Array(16 + 12);
      const dv = new DataView(c.buffer);
      dv.setBigUint64(0, BigInt(16 + 12), true);
      dv.setInt32(8, SOL_SOCKET, true);
      dv.setInt32(12, SCM_CREDENTIALS, true);
      parts.push(c);
    }
    if (this.nlFlags.get(NETLINK_PKTINFO)) {
      // struct nl_pktinfo { __u32 group; }: 0 for a unicast answer.
      const c = new Uint8Array(16 + 4);
      const dv = new DataView(c.buffer);
      dv.setBigUint64(0, BigInt(16 + 4), true);
      dv.setInt32(8, SOL_NETLINK, true);
      dv.setInt32(12, NETLINK_PKTINFO, true);
      dv.setUint32(16, group >>> 0, true);
      parts.push(c);
    }
    if (parts.length === 0) return new Uint8Array(0);
    // CMSG_SPACE rounds each to 8 bytes.
    const total = parts.reduce((s, p) => s + ((p.length + 7) & ~7), 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += (p.length + 7) & ~7;
    }
    return out;
  }

  // ---- options ----

  /** setsockopt(2). `value` is optval's bytes (optlen of them). */
  setsockopt(level: number, name: number, value: Uint8Array): 0 | ErrnoName {
    if (this.closed) return 'EBADF';
    const int = value.length >= 4 ? new DataView(value.buffer, value.byteOffset, 4).getInt32(0, true) : null;
    if (level === SOL_NETLINK) {
      // netlink_setsockopt reads an int only when optlen >= 4; a shorter one sets 0.
      const val = int ?? 0;
      switch (name) {
        case NETLINK_PKTINFO:
        case NETLINK_BROADCAST_ERROR:
        case NETLINK_NO_ENOBUFS:
        case NETLINK_CAP_ACK:
        case NETLINK_EXT_ACK:
        case NETLINK_GET_STRICT_CHK:
          this.nlFlags.set(name, val ? 1 : 0);
          if (name === NETLINK_NO_ENOBUFS && val && this.pendingError === 'ENOBUFS') this.pendingError = null;
          return 0;
        case NETLINK_ADD_MEMBERSHIP:
        case NETLINK_DROP_MEMBERSHIP: {
          const g = val >>> 0;
          if (g === 0 || g > RTNLGRP_MAX) return 'EINVAL';
          if (name === NETLINK_ADD_MEMBERSHIP) this.groups.add(g);
          else this.groups.delete(g);
          return 0;
        }
        case NETLINK_LISTEN_ALL_NSID:
          return 'EPERM'; // needs CAP_NET_BROADCAST
        default:
          return 'ENOPROTOOPT';
      }
    }
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_RCVBUF:
        case SO_SNDBUF:
          if (int === null) return 'EINVAL';
          if (name === SO_RCVBUF) this.rcvbuf = clampRcvbuf(int, this.limits);
          else this.sndbuf = clampSndbuf(int, this.limits);
          return 0;
        case SO_RCVBUFFORCE:
        case SO_SNDBUFFORCE:
          return 'EPERM'; // needs CAP_NET_ADMIN
        case SO_PASSCRED:
          if (int === null) return 'EINVAL';
          this.passcred = int !== 0;
          return 0;
        case SO_TYPE:
        case SO_PROTOCOL:
        case SO_DOMAIN:
        case SO_ERROR:
          return 'ENOPROTOOPT';
        default:
          // Other generic options (timeouts, SO_ATTACH_FILTER, priorities) are accepted and kept
          // as bytes: nothing moat answers depends on them.
          this.solSocket.set(name, Uint8Array.from(value));
          return 0;
      }
    }
    return 'ENOPROTOOPT';
  }

  /** getsockopt(2) with `optlen` bytes of room: the bytes to copy out (their length is the new optlen). */
  getsockopt(level: number, name: number, optlen: number): Uint8Array | ErrnoName {
    if (this.closed) return 'EBADF';
    if (optlen < 0) return 'EINVAL';
    const intBytes = (v: number, max: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, v | 0, true);
      return b.subarray(0, Math.min(4, max));
    };
    if (level === SOL_NETLINK) {
      if (name === NETLINK_LIST_MEMBERSHIPS) {
        // As many u32 words as the groups need; optlen says how much to copy, the returned length is the full size.
        const words = Math.ceil(RTNLGRP_MAX / 32);
        const b = new Uint8Array(words * 4);
        const dv = new DataView(b.buffer);
        for (const g of this.groups) dv.setUint32(((g - 1) >> 5) * 4, (dv.getUint32(((g - 1) >> 5) * 4, true) | (1 << ((g - 1) & 31))) >>> 0, true);
        return b;
      }
      if (optlen < 4) return 'EINVAL';
      switch (name) {
        case NETLINK_PKTINFO:
        case NETLINK_BROADCAST_ERROR:
        case NETLINK_NO_ENOBUFS:
        case NETLINK_CAP_ACK:
        case NETLINK_EXT_ACK:
        case NETLINK_GET_STRICT_CHK:
        case NETLINK_LISTEN_ALL_NSID:
          return intBytes(this.nlFlags.get(name) ?? 0, 4);
        default:
          return 'ENOPROTOOPT';
      }
    }
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_RCVBUF:
          return intBytes(this.rcvbuf, optlen);
        case SO_SNDBUF:
          return intBytes(this.sndbuf, optlen);
        case SO_PASSCRED:
          return intBytes(this.passcred ? 1 : 0, optlen);
        case SO_TYPE:
          return intBytes(this.type, optlen);
        case SO_PROTOCOL:
          return intBytes(NETLINK_ROUTE, optlen);
        case SO_DOMAIN:
          return intBytes(AF_NETLINK, optlen);
        case SO_ERROR: {
          const e = this.pendingError;
          this.pendingError = null;
          return intBytes(e ? ERRNO[e] : 0, optlen);
        }
        default: {
          const v = this.solSocket.get(name);
          if (v) return v.subarray(0, Math.min(v.length, optlen));
          return 'ENOPROTOOPT';
        }
      }
    }
    return 'ENOPROTOOPT';
  }

  /** The guest closed its last reference: frees the port id; later calls are EBADF. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.bound) this.ports.release(this.portId);
    this.queue = [];
    this.dump = null;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
