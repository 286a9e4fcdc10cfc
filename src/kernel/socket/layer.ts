// The socket layer: Berkeley sockets with Linux's semantics over one moat stack. `SocketLayer`
// creates sockets (socket(2)'s family/type/protocol rules) and answers the interface ioctls;
// `FdTable` is one process's descriptor table with every socket call in syscall shape — numbers,
// sockaddr bytes and option bytes in, a return value (>= 0, or -errno) and output bytes out — so
// a trapped system call can be handed to it as it is. The sandbox names sockets by the inode of
// the socketpair end it gave the guest instead of by fd, and calls the InetSocket methods
// directly; in-process users (the conformance table, scripts, tests) use FdTable.
// Read first: socket(2), socket(7), netdevice(7) for the SIOCGIF* ioctls; Linux
// net/socket.c (__sys_socket, __sys_accept4, sock_ioctl), net/ipv4/af_inet.c (inet_create).

import type { Stack, Nic } from '../../netstack/index.js';
import { IpAddr, IpCidr } from '../../netstack/wire/ip-address.js';
import type { TimerQueue } from '../../netstack/timers.js';
import { LINUX_DEFAULT_LIMITS, writeI32, readI32 } from '../sockopt-codec.js';
import { AF, IOCTL, IPPROTO, POLL, SOCK, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_TYPE_MASK } from '../socket-abi.js';
import { checkUserAddrlen } from '../sockaddr.js';
import { DgramSocket } from './dgram-socket.js';
import type { InetSocket, SocketHost } from './socket.js';
import { TcpSocket } from './tcp-socket.js';
import { isErrno, sysret, type Errno, type IoContext, type RecvResult, type Result, type SocketLayerConfig } from './types.js';

export const DEFAULT_SOCKET_CONFIG: SocketLayerConfig = {
  ...LINUX_DEFAULT_LIMITS,
  pingGroupRange: [0, 2147483647],
  privileged: true,
  nonlocalBind: false,
};

/** IFF_* flags (include/uapi/linux/if.h). */
export const IFF = { UP: 0x1, BROADCAST: 0x2, LOOPBACK: 0x8, RUNNING: 0x40, MULTICAST: 0x1000, LOWER_UP: 0x10000 } as const;
const IFNAMSIZ = 16;
/** sizeof(struct ifreq) on x86_64. */
export const IFREQ_LEN = 40;

export class SocketLayer implements SocketHost {
  readonly config: SocketLayerConfig;
  readonly timers: TimerQueue;

  constructor(readonly stack: Stack, config: Partial<SocketLayerConfig> = {}) {
    this.config = { ...DEFAULT_SOCKET_CONFIG, ...config };
    this.timers = stack.timers;
  }

  /**
   * socket(2) for AF_INET/AF_INET6 (inet_create): stream → TCP, datagram → UDP or, with
   * IPPROTO_ICMP / IPPROTO_ICMPV6, a ping socket. Raw sockets are refused as for a process
   * without CAP_NET_RAW (EPERM): moat serves no raw IP.
   */
  socket(domain: number, type: number, protocol: number): Result<{ sock: InetSocket; nonblock: boolean; cloexec: boolean }> {
    if ((type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return 'EINVAL';
    if (domain !== AF.AF_INET && domain !== AF.AF_INET6) return 'EAFNOSUPPORT';
    const base = type & SOCK_TYPE_MASK;
    const flags = { nonblock: (type & SOCK_NONBLOCK) !== 0, cloexec: (type & SOCK_CLOEXEC) !== 0 };
    const icmp = domain === AF.AF_INET6 ? IPPROTO.IPPROTO_ICMPV6 : IPPROTO.IPPROTO_ICMP;
    switch (base) {
      case SOCK.SOCK_STREAM:
        if (protocol !== 0 && protocol !== IPPROTO.IPPROTO_TCP) return 'EPROTONOSUPPORT';
        return { sock: new TcpSocket(this, domain), ...flags };
      case SOCK.SOCK_DGRAM:
        if (protocol === 0 || protocol === IPPROTO.IPPROTO_UDP) return { sock: new DgramSocket(this, domain, 'dgram'), ...flags };
        if (protocol === icmp) return { sock: new DgramSocket(this, domain, 'ping'), ...flags };
        return 'EPROTONOSUPPORT';
      case SOCK.SOCK_RAW:
        return 'EPERM';
      default:
        return 'ESOCKTNOSUPPORT';
    }
  }

  // ---------------------------------------------------------------- interface ioctls (netdevice(7))

  private nicByIfreq(ifreq: Uint8Array): Nic | undefined {
    const end = ifreq.subarray(0, IFNAMSIZ).indexOf(0);
    const name = new TextDecoder().decode(ifreq.subarray(0, end < 0 ? IFNAMSIZ : end));
    return this.stack.nicByName(name);
  }

  /** IFF_* flags as `ip link` would show for a NIC of moat's. */
  nicFlags(nic: Nic): number {
    const base = IFF.UP | IFF.RUNNING | IFF.LOWER_UP;
    return nic.medium === 'ip' ? base | IFF.LOOPBACK : base | IFF.BROADCAST | IFF.MULTICAST;
  }

  /**
   * The SIOCGIF* ioctls on a struct ifreq (40 bytes: the name, then the union at offset 16).
   * Returns the ifreq to copy back, or the errno (ENODEV for an unknown name).
   */
  ifreqIoctl(req: number, ifreq: Uint8Array): Result<Uint8Array> {
    if (ifreq.length < IFREQ_LEN) return 'EFAULT';
    const out = Uint8Array.from(ifreq.subarray(0, IFREQ_LEN));
    if (req === IOCTL.SIOCGIFNAME) {
      const idx = readI32(out, 16);
      const nic = this.stack.nic(idx);
      if (!nic) return 'ENODEV';
      out.fill(0, 0, IFNAMSIZ);
      out.set(new TextEncoder().encode(nic.name).subarray(0, IFNAMSIZ - 1), 0);
      return out;
    }
    const nic = this.nicByIfreq(out);
    if (!nic) return 'ENODEV';
    out.fill(0, 16);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    switch (req) {
      case IOCTL.SIOCGIFINDEX:
        writeI32(out, 16, nic.nicId);
        return out;
      case IOCTL.SIOCGIFFLAGS:
        dv.setInt16(16, this.nicFlags(nic) & 0xffff, true);
        return out;
      case IOCTL.SIOCGIFMTU:
        writeI32(out, 16, nic.mtu);
        return out;
      case IOCTL.SIOCGIFHWADDR:
        // sa_family ARPHRD_ETHER (1) or ARPHRD_LOOPBACK (772), then the address.
        dv.setUint16(16, nic.medium === 'ip' ? 772 : 1, true);
        out.set(nic.mac.subarray(0, 14), 18);
        return out;
      case IOCTL.SIOCGIFADDR: case IOCTL.SIOCGIFNETMASK: case IOCTL.SIOCGIFBRDADDR: {
        const a = nic.ipv4Addresses()[0];
        if (!a) return 'EADDRNOTAVAIL';
        dv.setUint16(16, AF.AF_INET, true);
        // The netmask is the network part of all-ones under the same prefix.
        const v = req === IOCTL.SIOCGIFADDR ? a.addr : req === IOCTL.SIOCGIFNETMASK ? IpCidr.of(IpAddr.BROADCAST4, a.prefixLen).network() : a.broadcast();
        out.set(v.bytes, 20);
        return out;
      }
      default:
        return 'ENOTTY';
    }
  }

  /** SIOCGIFCONF: one ifreq per IPv4 address (name + sockaddr_in), at most `maxLen` bytes of them. */
  ifconf(maxLen: number | null): { bytes: Uint8Array; len: number } {
    const entries: Uint8Array[] = [];
    for (const nic of this.stack.nicList()) {
      for (const a of nic.ipv4Addresses()) {
        const r = new Uint8Array(IFREQ_LEN);
        r.set(new TextEncoder().encode(nic.name).subarray(0, IFNAMSIZ - 1));
        r[16] = AF.AF_INET;
        r.set(a.addr.bytes, 20);
        entries.push(r);
      }
    }
    if (maxLen === null) return { bytes: new Uint8Array(0), len: entries.length * IFREQ_LEN };
    const n = Math.min(entries.length, Math.floor(maxLen / IFREQ_LEN));
    const bytes = new Uint8Array(n * IFREQ_LEN);
    for (let i = 0; i < n; i++) bytes.set(entries[i]!, i * IFREQ_LEN);
    return { bytes, len: bytes.length };
  }
}

/** An open file description: dup'ed fds share it (and its O_NONBLOCK). */
export class SocketFile {
  refs = 1;
  constructor(
    readonly sock: InetSocket,
    public nonblock: boolean,
  ) {}
}

/** What a call with output bytes returns: `ret` (>= 0 or -errno) and the outputs when it succeeded. */
export interface SockaddrOut { ret: number; addr?: Uint8Array; addrlen?: number }
export interface SockoptOut { ret: number; optval?: Uint8Array; optlen?: number }
export interface RecvOut { ret: number; data?: Uint8Array; msgFlags?: number; addr?: Uint8Array; addrlen?: number; control?: Uint8Array }

const MSG_DONTWAIT = 0x40;
const F_GETFL = 3;
const F_SETFL = 4;
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;

/**
 * One process's descriptor table over a SocketLayer. Every method is one system call: fds are
 * small integers from 3 up, results are syscall returns. `signal` on a blocking call is the
 * caller's interruption (a signal, process exit): the call then returns -EINTR.
 */
export class FdTable {
  private readonly files = new Map<number, SocketFile>();

  constructor(readonly layer: SocketLayer) {}

  private lowestFree(): number {
    let fd = 3;
    while (this.files.has(fd)) fd++;
    return fd;
  }

  /** The socket behind an fd (for tests and adapters). */
  get(fd: number): InetSocket | undefined {
    return this.files.get(fd)?.sock;
  }
  file(fd: number): SocketFile | undefined {
    return this.files.get(fd);
  }
  get size(): number {
    return this.files.size;
  }
  fds(): number[] {
    return [...this.files.keys()];
  }

  private io(f: SocketFile, signal?: AbortSignal): IoContext {
    return { nonblock: f.nonblock, signal };
  }

  /** Installs a socket made elsewhere (accept in an adapter) and returns its fd. */
  install(sock: InetSocket, nonblock = false): number {
    const fd = this.lowestFree();
    this.files.set(fd, new SocketFile(sock, nonblock));
    return fd;
  }

  socket(domain: number, type: number, protocol: number): number {
    const r = this.layer.socket(domain, type, protocol);
    if (isErrno(r)) return sysret(r);
    return this.install(r.sock, r.nonblock);
  }

  close(fd: number): number {
    const f = this.files.get(fd);
    if (!f) return sysret('EBADF');
    this.files.delete(fd);
    if (--f.refs === 0) f.sock.close();
    return 0;
  }

  dup(fd: number): number {
    const f = this.files.get(fd);
    if (!f) return sysret('EBADF');
    const n = this.lowestFree();
    f.refs++;
    this.files.set(n, f);
    return n;
  }

  /** Closes every fd (process exit). */
  closeAll(): void {
    for (const fd of [...this.files.keys()]) this.close(fd);
  }

  private withFile<T>(fd: number, fn: (f: SocketFile) => T, bad: (e: Errno) => T): T {
    const f = this.files.get(fd);
    return f ? fn(f) : bad('EBADF');
  }

  bind(fd: number, addr: Uint8Array): number {
    const bad = checkUserAddrlen(addr.length);
    if (bad) return sysret(bad);
    return this.withFile(fd, (f) => sysret(f.sock.bind(addr)), sysret);
  }

  async connect(fd: number, addr: Uint8Array, signal?: AbortSignal): Promise<number> {
    const bad = checkUserAddrlen(addr.length);
    if (bad) return sysret(bad);
    const f = this.files.get(fd);
    if (!f) return sysret('EBADF');
    return sysret(await f.sock.connect(addr, this.io(f, signal)));
  }

  listen(fd: number, backlog: number): number {
    return this.withFile(fd, (f) => sysret(f.sock.listen(backlog)), sysret);
  }

  async accept4(fd: number, addrlen: number, flags: number, signal?: AbortSignal): Promise<SockaddrOut> {
    const f = this.files.get(fd);
    if (!f) return { ret: sysret('EBADF') };
    if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return { ret: sysret('EINVAL') };
    const r = await f.sock.accept(this.io(f, signal));
    if (isErrno(r)) return { ret: sysret(r) };
    const peer = r.getpeername(addrlen);
    const nfd = this.install(r, (flags & SOCK_NONBLOCK) !== 0);
    if (isErrno(peer)) return { ret: nfd, addr: new Uint8Array(0), addrlen: 0 };
    return { ret: nfd, addr: peer.addr, addrlen: peer.addrlen };
  }

  getsockname(fd: number, addrlen: number): SockaddrOut {
    const f = this.files.get(fd);
    if (!f) return { ret: sysret('EBADF') };
    const r = f.sock.getsockname(addrlen);
    return isErrno(r) ? { ret: sysret(r) } : { ret: 0, ...r };
  }

  getpeername(fd: number, addrlen: number): SockaddrOut {
    const f = this.files.get(fd);
    if (!f) return { ret: sysret('EBADF') };
    const r = f.sock.getpeername(addrlen);
    return isErrno(r) ? { ret: sysret(r) } : { ret: 0, ...r };
  }

  setsockopt(fd: number, level: number, name: number, optval: Uint8Array): number {
    return this.withFile(fd, (f) => sysret(f.sock.setsockopt(level, name, optval)), sysret);
  }

  getsockopt(fd: number, level: number, name: number, optlen: number): SockoptOut {
    const f = this.files.get(fd);
    if (!f) return { ret: sysret('EBADF') };
    const r = f.sock.getsockopt(level, name, optlen);
    return isErrno(r) ? { ret: sysret(r) } : { ret: 0, optval: r.bytes, optlen: r.optlen };
  }

  async sendmsg(fd: number, data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null, signal?: AbortSignal): Promise<number> {
    const f = this.files.get(fd);
    if (!f) return sysret('EBADF');
    return sysret(await f.sock.sendmsg(data, flags, name, control, this.io(f, signal)));
  }

  async sendto(fd: number, data: Uint8Array, flags: number, addr: Uint8Array | null, signal?: AbortSignal): Promise<number> {
    if (addr) {
      const bad = checkUserAddrlen(addr.length);
      if (bad) return sysret(bad);
    }
    return this.sendmsg(fd, data, flags, addr, null, signal);
  }

  /** recvmsg/recvfrom: `namelen` 0 means the caller passed no name buffer. */
  async recvmsg(fd: number, len: number, flags: number, namelen: number, controllen: number, signal?: AbortSignal): Promise<RecvOut> {
    const f = this.files.get(fd);
    if (!f) return { ret: sysret('EBADF') };
    if (len < 0) return { ret: sysret('EINVAL') };
    const r: Result<RecvResult> = await f.sock.recvmsg(len, flags, controllen, this.io(f, signal));
    if (isErrno(r)) return { ret: sysret(r) };
    const out: RecvOut = { ret: r.ret, data: r.data, msgFlags: r.msgFlags };
    if (namelen > 0) {
      const name = r.name ?? new Uint8Array(0);
      out.addr = name.subarray(0, Math.min(namelen, name.length));
      out.addrlen = name.length;
    }
    if (controllen > 0 && r.control) out.control = r.control;
    return out;
  }

  shutdown(fd: number, how: number): number {
    return this.withFile(fd, (f) => sysret(f.sock.shutdown(how)), sysret);
  }

  /** The events of one fd, masked as poll(2) reports them (POLLERR/POLLHUP/POLLNVAL always). */
  pollNow(fd: number, events: number): number {
    const f = this.files.get(fd);
    if (!f) return POLL.POLLNVAL;
    return f.sock.poll() & (events | POLL.POLLERR | POLL.POLLHUP);
  }

  /** poll(2) on one fd: waits up to `timeoutMs` (negative: for ever) for any requested event. */
  async poll(fd: number, events: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const f = this.files.get(fd);
    if (!f) return POLL.POLLNVAL;
    const now = this.pollNow(fd, events);
    if (now !== 0 || timeoutMs === 0) return now;
    const ms = timeoutMs < 0 ? Infinity : timeoutMs;
    await f.sock.wq.wait(() => this.pollNow(fd, events) !== 0, this.layer.timers, ms, signal);
    return this.pollNow(fd, events);
  }

  ioctlInt(fd: number, req: number): { ret: number; value?: number } {
    const f = this.files.get(fd);
    if (!f) return { ret: sysret('EBADF') };
    const r = f.sock.ioctlInt(req);
    return isErrno(r) ? { ret: sysret(r) } : { ret: 0, value: r };
  }

  /**
   * sendmmsg(2): each message in turn, stopping at the first failure; returns how many were
   * sent (or the first message's error), as Linux's __sys_sendmmsg.
   */
  async sendmmsg(fd: number, msgs: readonly { data: Uint8Array; name?: Uint8Array | null; control?: Uint8Array | null }[], flags: number, signal?: AbortSignal): Promise<{ ret: number; lens: number[] }> {
    const lens: number[] = [];
    for (const m of msgs) {
      const r = await this.sendmsg(fd, m.data, flags, m.name ?? null, m.control ?? null, signal);
      if (r < 0) return { ret: lens.length > 0 ? lens.length : r, lens };
      lens.push(r);
    }
    return { ret: lens.length, lens };
  }

  /**
   * recvmmsg(2): up to `count` messages; after the first, the rest are taken only if they are
   * already there (MSG_WAITFORONE behaviour is what a timeout-less call sees once one arrived).
   */
  async recvmmsg(fd: number, count: number, len: number, flags: number, namelen: number, controllen: number, signal?: AbortSignal): Promise<{ ret: number; msgs: RecvOut[] }> {
    const msgs: RecvOut[] = [];
    for (let i = 0; i < count; i++) {
      const f = i === 0 ? flags : flags | MSG_DONTWAIT;
      const r = await this.recvmsg(fd, len, f, namelen, controllen, signal);
      if (r.ret < 0) return { ret: msgs.length > 0 ? msgs.length : r.ret, msgs };
      msgs.push(r);
    }
    return { ret: msgs.length, msgs };
  }

  /** SIOCGIF* on a struct ifreq (netdevice(7)); any socket fd will do, as on Linux. */
  ioctlIfreq(fd: number, req: number, ifreq: Uint8Array): { ret: number; ifreq?: Uint8Array } {
    if (!this.files.has(fd)) return { ret: sysret('EBADF') };
    const r = this.layer.ifreqIoctl(req, ifreq);
    return isErrno(r) ? { ret: sysret(r) } : { ret: 0, ifreq: r };
  }

  /** SIOCGIFCONF: `len` bytes of room (null: ask for the length needed). */
  ifconf(fd: number, len: number | null): { ret: number; bytes?: Uint8Array; len?: number } {
    if (!this.files.has(fd)) return { ret: sysret('EBADF') };
    const r = this.layer.ifconf(len);
    return { ret: 0, bytes: r.bytes, len: r.len };
  }

  /** fcntl F_GETFL / F_SETFL (O_NONBLOCK is the only flag a socket keeps). */
  fcntl(fd: number, cmd: number, arg = 0): number {
    const f = this.files.get(fd);
    if (!f) return sysret('EBADF');
    if (cmd === F_GETFL) return O_RDWR | (f.nonblock ? O_NONBLOCK : 0);
    if (cmd === F_SETFL) {
      f.nonblock = (arg & O_NONBLOCK) !== 0;
      return 0;
    }
    return sysret('EINVAL');
  }
}
