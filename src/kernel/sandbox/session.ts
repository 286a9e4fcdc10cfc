// Serving one guest (a process tree under one seccomp listener) with moat's socket layer: every
// trapped socket call on an inet socket is EMULATED here — never CONTINUEd into a kernel socket —
// and the guest's fd is one end of a socketpair pumped to the netstack (pumps.ts). Calls on
// other files (AF_UNIX sockets, pipes) are let through: policy never decides them, and the
// guest's own network namespace is empty. Read seccomp_unotify(2) and DESIGN.md "The sandbox's
// hard parts" first; the socket semantics are src/kernel/socket's.
//
// Not trapped-and-emulated on purpose: send/recv without an address on a TCP socket, read and
// write — they run on the guest's end of its socketpair, whose data moat pumps.

import { readFileSync } from 'node:fs';
import { cmsgsForUser, decodeCmsgs } from '../sockopt-codec.js';
import { native } from '../../net-plumbing/native.js';
import { Supervisor, tgidOf, type SupervisorEnd } from '../supervisor/index.js';
import type { SyscallAnswer, TrappedCall } from '../supervisor/types.js';
import { guestFaultErrno, isGuestFault, type GuestFault } from '../supervisor/guest-memory.js';
import type { ErrnoName } from '../errno.js';
import { AF, IOCTL, MSG, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL, SO } from '../socket-abi.js';
import { IFREQ_LEN, type SocketLayer } from '../socket/layer.js';
import type { InetSocket } from '../socket/socket.js';
import { TcpSocket } from '../socket/tcp-socket.js';
import { DgramSocket } from '../socket/dgram-socket.js';
import { isErrno, type Result } from '../socket/types.js';
import { DgramPump, StreamPump, type Pump } from './pumps.js';
import { NetlinkPortTable, openNetlinkSocket, serveNetlinkCall, type NetlinkRouteSocket, type NetlinkPairWatcher, type NetlinkWorldSource } from '../netlink/index.js';

const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;

const O_NONBLOCK = 0o4000;

/** Who made a flow: the guest process behind a trapped call (audit lines, pcap comments). */
export interface FlowOwner {
  pid: number;
  uid?: number;
  command: string;
}

export interface SandboxOptions {
  listenerFd: number;
  layer: SocketLayer;
  /** Called when a guest socket connects or sends its first datagram (audit, pcap comments). */
  onFlow?: (flow: { owner: FlowOwner; socket: InetSocket; kind: 'connect' | 'listen' | 'send' }) => void;
  /** Called for errors in moat's own code while serving (the guest gets EIO). */
  onError?: (err: unknown) => void;
  /**
   * What rtnetlink dumps show the guest (worldFromStack(stack) for moat's own interfaces).
   * Without it, AF_NETLINK sockets are the kernel's, in the guest's empty namespace.
   */
  netlinkWorld?: NetlinkWorldSource;
}

interface GuestSocket {
  sock: InetSocket;
  pump: Pump;
}

export interface SandboxStats {
  sockets: number;
  emulated: number;
  passedThrough: number;
}

export class SandboxSession {
  readonly supervisor: Supervisor;
  /** moat's guest sockets by the inode of the guest's end of the socketpair. */
  private readonly byIno = new Map<bigint, GuestSocket>();
  /** rtnetlink sockets (served by src/kernel/netlink) by the inode of the guest's end. */
  private readonly netlinkByIno = new Map<bigint, { sock: NetlinkRouteSocket; watcher: NetlinkPairWatcher }>();
  private readonly netlinkPorts = new NetlinkPortTable();
  /** Closed TCP sockets whose data and FIN may still be on their way (drain waits for them). */
  private readonly closing = new Set<TcpSocket>();
  readonly stats: SandboxStats = { sockets: 0, emulated: 0, passedThrough: 0 };

  constructor(private readonly opts: SandboxOptions) {
    this.supervisor = new Supervisor(opts.listenerFd, (call) => this.handle(call), {
      onHandlerError: (err) => opts.onError?.(err),
    });
  }

  start(): this {
    this.supervisor.start();
    return this;
  }

  /** Resolves when the last guest task is gone (or stop()). */
  get done(): Promise<SupervisorEnd> {
    return this.supervisor.ended;
  }

  get socketCount(): number {
    return this.byIno.size;
  }

  /**
   * After the guest's last process exited: waits (at most `ms`) until every pump has passed on
   * what the guest wrote and its TCP connections have sent their FIN, so nothing the guest
   * wrote before exiting is lost when moat stops.
   */
  async drain(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    const busy = (): boolean => {
      if (this.byIno.size > 0) return true;
      for (const c of this.closing) if (!finished(c)) return true;
      return false;
    };
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.supervisor.stop();
    for (const g of [...this.byIno.values()]) g.pump.close();
    this.byIno.clear();
    for (const nl of this.netlinkByIno.values()) nl.watcher.close();
    this.netlinkByIno.clear();
  }

  private get layer(): SocketLayer {
    return this.opts.layer;
  }

  // ---------------------------------------------------------------- dispatch

  private async handle(call: TrappedCall): Promise<SyscallAnswer> {
    switch (call.name) {
      case 'socket':
        return this.socket(call);
      case 'socketpair': {
        const d = call.argInt(0);
        return d === AF.AF_INET || d === AF.AF_INET6 ? { errno: 'EOPNOTSUPP' } : { continue: true };
      }
      case undefined:
        return { errno: 'ENOSYS' };
      default:
        break;
    }
    const fd = call.argInt(0);
    const dup = this.supervisor.fds.dup(call, fd);
    if (typeof dup === 'string') return dup === 'GONE' ? { errno: 'EINTR' } : { errno: dup as ErrnoName };
    try {
      const nl = dup.isSocket ? this.netlinkByIno.get(dup.ino) : undefined;
      if (nl) {
        this.stats.emulated++;
        const nonblocking = (native().fdStatusFlags(dup.fd) & O_NONBLOCK) !== 0;
        return await serveNetlinkCall(nl.sock, call, { nonblocking, watcher: nl.watcher, guestDup: dup.fd });
      }
      const g = dup.isSocket ? this.byIno.get(dup.ino) : undefined;
      if (!g) {
        this.stats.passedThrough++;
        return { continue: true };
      }
      this.stats.emulated++;
      const nonblock = (native().fdStatusFlags(dup.fd) & O_NONBLOCK) !== 0;
      return await this.onSocket(call, g, dup.fd, nonblock);
    } finally {
      native().closeFd(dup.fd);
    }
  }

  /** The process behind a call: its thread group (the pid users know) and command name. */
  private owner(call: TrappedCall): FlowOwner {
    return { pid: tgidOf(call.tid) ?? call.tid, uid: uidOf(call.tid), command: commandOf(call.tid) };
  }

  private async socket(call: TrappedCall): Promise<SyscallAnswer> {
    const domain = call.argInt(0);
    if (domain === AF_NETLINK && call.argInt(2) === NETLINK_ROUTE && this.opts.netlinkWorld) return this.netlinkSocket(call);
    if (domain !== AF.AF_INET && domain !== AF.AF_INET6) return { continue: true };
    const type = call.argInt(1);
    const r = this.layer.socket(domain, type, call.argInt(2));
    if (isErrno(r)) return { errno: r };
    r.sock.setOwner(this.owner(call));
    return this.install(r.sock, r.nonblock, r.cloexec);
  }

  private netlinkSocket(call: TrappedCall): SyscallAnswer {
    for (const [ino, nl] of this.netlinkByIno) if (nl.sock.isClosed) this.netlinkByIno.delete(ino);
    const r = openNetlinkSocket(call, { world: this.opts.netlinkWorld!, ports: this.netlinkPorts, limits: this.layer.config });
    if (typeof r === 'string') return { errno: r };
    this.netlinkByIno.set(r.ino, { sock: r.sock, watcher: r.watcher });
    return r.answer;
  }

  /** A socketpair for `sock`, its pump, and the guest's end injected as the call's result. */
  private install(sock: InetSocket, nonblock: boolean, cloexec: boolean): SyscallAnswer {
    const n = native();
    const [moatEnd, guestEnd] = n.socketpair(sock.stream ? 'stream' : 'seqpacket', { nonblocking: true });
    n.setNonblocking(guestEnd, nonblock);
    const ino = n.fstatIno(guestEnd).ino;
    const gone = (): void => {
      this.byIno.delete(ino);
      if (sock instanceof TcpSocket) {
        for (const c of this.closing) if (finished(c)) this.closing.delete(c);
        if (!finished(sock)) this.closing.add(sock);
      }
    };
    const pump = sock instanceof TcpSocket ? new StreamPump(sock, moatEnd, gone) : new DgramPump(sock as DgramSocket, moatEnd, gone);
    this.byIno.set(ino, { sock, pump });
    this.stats.sockets++;
    return {
      injectFd: guestEnd,
      cloexec,
      closeAfter: true,
      onSettled: (o) => {
        if (!o.ok) pump.close();
      },
    };
  }

  private async onSocket(call: TrappedCall, g: GuestSocket, dup: number, nonblock: boolean): Promise<SyscallAnswer> {
    const m = call.memory;
    const a = call.args;
    const io = { nonblock, signal: call.signal };
    const sock = g.sock;
    switch (call.name) {
      case 'bind': {
        const addr = m.readSockaddr(a[1]!, a[2]!);
        if (isGuestFault(addr)) return fault(addr);
        return ret(sock.bind(addr));
      }
      case 'connect': {
        const addr = m.readSockaddr(a[1]!, a[2]!);
        if (isGuestFault(addr)) return fault(addr);
        const r = await sock.connect(addr, io);
        if (r === 0 || r === 'EINPROGRESS') this.opts.onFlow?.({ owner: this.owner(call), socket: sock, kind: 'connect' });
        if (r === 'EINPROGRESS' && nonblock && g.pump instanceof StreamPump) g.pump.holdUntilConnected(dup);
        if (g.pump instanceof StreamPump) g.pump.toGuest();
        return ret(r);
      }
      case 'listen': {
        const r = sock.listen(call.argInt(1));
        if (r === 0) this.opts.onFlow?.({ owner: this.owner(call), socket: sock, kind: 'listen' });
        return ret(r);
      }
      case 'accept':
      case 'accept4': {
        const flags = call.name === 'accept4' ? call.argInt(3) : 0;
        if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return { errno: 'EINVAL' };
        const child = await sock.accept(io);
        if (isErrno(child)) return { errno: child };
        if (g.pump instanceof StreamPump) g.pump.consumeToken(dup);
        const peer = child.getpeername(128);
        if (!isErrno(peer)) {
          const w = m.writeSockaddr(a[1]!, a[2]!, peer.addr);
          if (w !== true) {
            child.close();
            return fault(w);
          }
        }
        return this.install(child, (flags & SOCK_NONBLOCK) !== 0, (flags & SOCK_CLOEXEC) !== 0);
      }
      case 'getsockname':
      case 'getpeername': {
        const r = call.name === 'getsockname' ? sock.getsockname(128) : sock.getpeername(128);
        if (isErrno(r)) return { errno: r };
        const w = m.writeSockaddr(a[1]!, a[2]!, r.addr);
        return w === true ? { value: 0 } : fault(w);
      }
      case 'setsockopt': {
        const optlen = call.argInt(4);
        if (optlen < 0) return { errno: 'EINVAL' };
        const val = optlen === 0 ? new Uint8Array(0) : m.read(a[3]!, Math.min(optlen, 4096));
        if (isGuestFault(val)) return fault(val);
        const level = call.argInt(1);
        const name = call.argInt(2);
        const r = sock.setsockopt(level, name, val);
        // A stream socket's reads and writes run on the guest's end of the pair: its timeouts
        // must hold there too.
        if (r === 0 && sock.stream && level === SOL.SOL_SOCKET && (name === SO.SO_RCVTIMEO || name === SO.SO_SNDTIMEO)) {
          native().sockSetopt(dup, level, name, val);
        }
        return ret(r);
      }
      case 'getsockopt': {
        const level = call.argInt(1);
        const name = call.argInt(2);
        const optlen = m.readI32(a[4]!);
        if (isGuestFault(optlen)) return fault(optlen);
        // A non-blocking connect's outcome is known only when the handshake ends: the guest
        // polled its pair writable at once, so SO_ERROR waits for the real result.
        if (level === SOL.SOL_SOCKET && name === SO.SO_ERROR && sock instanceof TcpSocket && sock.socketState === 'connecting' && !(g.pump instanceof StreamPump && g.pump.held)) {
          await sock.wq.wait(() => {
            const st = sock.endpoint.stateName;
            return st !== 'SYN_SENT' && st !== 'SYN_RECEIVED';
          }, this.layer.timers, 0, call.signal);
        }
        const r = sock.getsockopt(level, name, optlen);
        if (isErrno(r)) return { errno: r };
        if (r.bytes.length > 0) {
          const w = m.write(a[3]!, r.bytes);
          if (w !== true) return fault(w);
        }
        const w = m.writeI32(a[4]!, r.optlen);
        return w === true ? { value: 0 } : fault(w);
      }
      case 'shutdown': {
        const how = call.argInt(1);
        if (!(g.pump instanceof StreamPump) || !(sock instanceof TcpSocket) || how < 0 || how > 2) return ret(sock.shutdown(how));
        const st = sock.endpoint.stateName;
        if (st === 'CLOSED' || st === 'SYN_SENT' || st === 'LISTEN') return ret(sock.shutdown(how));
        // The guest's FIN must follow the bytes it already wrote into its end: shut the write
        // side of its end, and the pump turns that end of stream into the endpoint's FIN.
        if (how !== 0) {
          g.pump.guestShutWr = true;
          native().sockShutdown(dup, 1);
        }
        if (how !== 1) {
          sock.shutdown(0);
          g.pump.shutToGuest();
        }
        return { value: 0 };
      }
      case 'ioctl':
        return this.ioctl(call, g, dup);
      case 'sendto':
        return this.sendto(call, g, dup, io);
      case 'sendmsg':
      case 'sendmmsg':
        return this.sendmsg(call, g, io);
      case 'recvfrom':
      case 'recvmsg':
      case 'recvmmsg':
        return this.recv(call, g, dup, nonblock);
      default:
        return { errno: 'ENOSYS' };
    }
  }

  private async ioctl(call: TrappedCall, g: GuestSocket, dup: number): Promise<SyscallAnswer> {
    const req = call.argU32(1);
    const m = call.memory;
    if (req === IOCTL.FIONREAD || req === IOCTL.SIOCOUTQ || req === IOCTL.SIOCOUTQNSD) {
      let v: Result<number>;
      if (req === IOCTL.FIONREAD && g.sock.stream) {
        // What the guest can read is what its end holds plus what the endpoint still has.
        const inPair = native().sockRecv(dup, 1 << 20, MSG.MSG_PEEK);
        v = (typeof inPair === 'string' ? 0 : inPair.length) + (g.sock.ioctlInt(req) as number);
        if (g.sock instanceof TcpSocket && g.sock.endpoint.stateName === 'LISTEN') v = 'EINVAL';
      } else {
        v = g.sock.ioctlInt(req);
      }
      if (isErrno(v)) return { errno: v };
      const w = m.writeI32(call.args[2]!, v);
      return w === true ? { value: 0 } : fault(w);
    }
    if (req === IOCTL.SIOCGIFCONF) {
      const ifc = m.read(call.args[2]!, 16);
      if (isGuestFault(ifc)) return fault(ifc);
      const dv = new DataView(ifc.buffer, ifc.byteOffset, 16);
      const len = dv.getInt32(0, true);
      const buf = dv.getBigUint64(8, true);
      const r = this.layer.ifconf(buf === 0n ? null : Math.max(0, len));
      if (buf !== 0n && r.bytes.length > 0) {
        const w = m.write(buf, r.bytes);
        if (w !== true) return fault(w);
      }
      const w = m.writeI32(call.args[2]!, r.len);
      return w === true ? { value: 0 } : fault(w);
    }
    if ((req & 0xff00) === 0x8900) {
      const ifr = m.read(call.args[2]!, IFREQ_LEN);
      if (isGuestFault(ifr)) return fault(ifr);
      const r = this.layer.ifreqIoctl(req, ifr);
      if (isErrno(r)) return { errno: r };
      const w = m.write(call.args[2]!, r);
      return w === true ? { value: 0 } : fault(w);
    }
    return { errno: 'ENOTTY' };
  }

  private async sendto(call: TrappedCall, g: GuestSocket, dup: number, io: { nonblock: boolean; signal: AbortSignal }): Promise<SyscallAnswer> {
    const m = call.memory;
    const a = call.args;
    const flags = call.argInt(3);
    const len = Number(BigInt.asUintN(32, a[2]!));
    if (g.sock.stream && a[4] === 0n) {
      // A stream socket's data path is the guest's own end of the pair: the kernel runs the
      // send there, blocking or not, as for write(2). No policy decides bytes on a connection.
      return { continue: true };
    }
    if (g.sock.stream) {
      // With an address (ignored by tcp_sendmsg, refused by a unix socket): emulated, without blocking.
      const data = m.read(a[1]!, Math.min(len, 1 << 20));
      if (isGuestFault(data)) return fault(data);
      const r = native().sockSend(dup, data, flags & MSG.MSG_MORE);
      if (typeof r === 'string') return { errno: (r === 'EPIPE' ? 'EPIPE' : r) as ErrnoName };
      return { value: r };
    }
    const data = m.read(a[1]!, Math.min(len, 65536 + 1));
    if (isGuestFault(data)) return fault(data);
    let name: Uint8Array | null = null;
    if (a[4] !== 0n) {
      const n = m.readSockaddr(a[4]!, a[5]!);
      if (isGuestFault(n)) return fault(n);
      name = n;
    }
    const r = await g.sock.sendmsg(data, flags, name, null, io);
    if (!isErrno(r)) this.opts.onFlow?.({ owner: this.owner(call), socket: g.sock, kind: 'send' });
    return ret(r);
  }

  private async sendmsg(call: TrappedCall, g: GuestSocket, io: { nonblock: boolean; signal: AbortSignal }): Promise<SyscallAnswer> {
    // A stream socket's data path is the guest's end of the pair (see sendto).
    if (g.sock.stream) return { continue: true };
    const m = call.memory;
    const many = call.name === 'sendmmsg';
    const count = many ? Math.min(call.argU32(2), 1024) : 1;
    const flags = call.argInt(many ? 3 : 2);
    let sent = 0;
    for (let i = 0; i < count; i++) {
      const hdrAddr = call.args[1]! + BigInt(i * 64);
      const h = m.readMsghdr(hdrAddr);
      if (isGuestFault(h)) return sent > 0 ? { value: sent } : fault(h);
      const iov = m.readIovecs(h.iov, h.iovlen);
      if (isGuestFault(iov)) return sent > 0 ? { value: sent } : fault(iov);
      const data = m.gather(iov, 65536 + 1);
      if (isGuestFault(data)) return sent > 0 ? { value: sent } : fault(data);
      let name: Uint8Array | null = null;
      if (h.name !== 0n && h.namelen > 0) {
        const n = m.read(h.name, Math.min(h.namelen, 128));
        if (isGuestFault(n)) return fault(n);
        name = n;
      }
      let control: Uint8Array | null = null;
      if (h.control !== 0n && h.controllen > 0n) {
        const c = m.read(h.control, Number(h.controllen > 4096n ? 4096n : h.controllen));
        if (isGuestFault(c)) return fault(c);
        control = c;
      }
      const r = await g.sock.sendmsg(data, flags, name, control, io);
      if (!isErrno(r)) this.opts.onFlow?.({ owner: this.owner(call), socket: g.sock, kind: 'send' });
      if (isErrno(r)) return sent > 0 ? { value: sent } : { errno: r };
      if (!many) return { value: r };
      const w = m.writeI32(hdrAddr + 56n, r);
      if (w !== true) return sent > 0 ? { value: sent } : fault(w);
      sent++;
    }
    return { value: sent };
  }

  /**
   * recvfrom/recvmsg/recvmmsg: read from the guest's own end (through the duplicate) so the bytes
   * come in the order the guest would see them, and add what only moat knows: a datagram's source.
   */
  private async recv(call: TrappedCall, g: GuestSocket, dup: number, nonblock: boolean): Promise<SyscallAnswer> {
    const m = call.memory;
    const name = call.name!;
    const many = name === 'recvmmsg';
    const flags = call.argInt(name === 'recvfrom' ? 3 : 2);
    const dontwait = nonblock || (flags & MSG.MSG_DONTWAIT) !== 0;
    // The error queue (IP_RECVERR) is served in process only: through the sandbox it is empty.
    if (flags & MSG.MSG_ERRQUEUE) return { errno: 'EAGAIN' };
    // A stream socket's bytes are on the guest's own end of the pair, and TCP has no source
    // address to add: the kernel runs the read there (blocking, MSG_PEEK, MSG_WAITALL, SO_RCVTIMEO
    // mirrored) as for read(2). No policy decides bytes already delivered.
    if (g.sock.stream) return { continue: true };
    const count = many ? Math.max(1, Math.min(call.argU32(2), 1024)) : 1;
    let got = 0;
    const timeoMs = (g.sock.rcvTimeoJiffies * 1000) / this.layer.config.hz;
    const deadline = timeoMs > 0 ? this.layer.timers.now() + timeoMs : Infinity;
    for (let i = 0; i < count; i++) {
      let target: { buf: bigint; len: number; segs?: ReturnType<typeof m.readIovecs>; nameAddr: bigint; nameLenAddr: bigint; hdr?: bigint };
      if (name === 'recvfrom') {
        target = { buf: call.args[1]!, len: Number(BigInt.asUintN(32, call.args[2]!)), nameAddr: call.args[4]!, nameLenAddr: call.args[5]! };
      } else {
        const hdr = call.args[1]! + BigInt(i * 64);
        const h = m.readMsghdr(hdr);
        if (isGuestFault(h)) return got > 0 ? { value: got } : fault(h);
        const segs = m.readIovecs(h.iov, h.iovlen);
        if (isGuestFault(segs)) return got > 0 ? { value: got } : fault(segs);
        const len = segs.reduce((s, x) => s + x.len, 0);
        target = { buf: 0n, len, segs, nameAddr: h.name, nameLenAddr: 0n, hdr };
      }
      let data: (Buffer & { full: number }) | string;
      for (;;) {
        data = native().sockRecv(dup, Math.min(target.len, 1 << 20), flags & (MSG.MSG_PEEK | MSG.MSG_TRUNC | MSG.MSG_WAITALL));
        if (data !== 'EAGAIN') break;
        if (got > 0) return { value: got };
        if (dontwait) return { errno: 'EAGAIN' };
        const left = deadline - this.layer.timers.now();
        if (left <= 0) return { errno: 'EAGAIN' };
        // Woken by the pump when it delivers a datagram into the pair (or after 50 ms at most).
        const gen = g.pump.wq.generation;
        const o = await g.pump.wq.wait(() => g.pump.wq.generation !== gen, this.layer.timers, Number.isFinite(left) ? Math.min(left, 50) : 50, call.signal);
        if (o === 'intr') return { errno: 'EINTR' };
      }
      if (typeof data === 'string') return got > 0 ? { value: got } : { errno: data as ErrnoName };
      const meta = g.pump instanceof DgramPump ? g.pump.sourceOf(data, (flags & MSG.MSG_PEEK) === 0) : undefined;
      const src = meta?.name;
      if (target.segs) {
        const w = m.scatter(target.segs as Parameters<typeof m.scatter>[0], data);
        if (isGuestFault(w)) return got > 0 ? { value: got } : fault(w);
        const h = m.readMsghdr(target.hdr!);
        if (isGuestFault(h)) return fault(h);
        // msg_namelen, the control messages (cut at a whole message, MSG_CTRUNC) and msg_flags.
        const nameBytes = src ?? new Uint8Array(0);
        if (h.name !== 0n && nameBytes.length > 0) m.write(h.name, nameBytes.subarray(0, Math.min(h.namelen, nameBytes.length)));
        const tail = new Uint8Array(4);
        new DataView(tail.buffer).setUint32(0, h.name !== 0n ? nameBytes.length : 0, true);
        m.write(target.hdr! + 8n, tail);
        let msgFlags = data.full > data.length ? MSG.MSG_TRUNC : 0;
        let controlLen = 0;
        const control = meta?.control;
        if (control && control.length > 0 && h.control !== 0n) {
          const cut = cmsgsForUser(decodeCmsgs(control), Number(h.controllen > 65536n ? 65536n : h.controllen));
          if (cut.bytes.length > 0) m.write(h.control, cut.bytes);
          controlLen = cut.bytes.length;
          if (cut.ctrunc) msgFlags |= MSG.MSG_CTRUNC;
        } else if (control && control.length > 0) {
          msgFlags |= MSG.MSG_CTRUNC;
        }
        const cl = new Uint8Array(8);
        new DataView(cl.buffer).setBigUint64(0, BigInt(controlLen), true);
        m.write(target.hdr! + 40n, cl);
        const fl = new Uint8Array(4);
        new DataView(fl.buffer).setInt32(0, msgFlags, true);
        m.write(target.hdr! + 48n, fl);
        if (many) m.writeI32(target.hdr! + 56n, data.length);
      } else {
        const w = m.write(target.buf, data);
        if (w !== true && data.length > 0) return fault(w);
        if (target.nameAddr !== 0n && src) {
          const wn = m.writeSockaddr(target.nameAddr, target.nameLenAddr, src);
          if (wn !== true) return fault(wn);
        } else if (target.nameAddr !== 0n && target.nameLenAddr !== 0n) {
          m.writeI32(target.nameLenAddr, 0);
        }
      }
      const n = flags & MSG.MSG_TRUNC ? data.full : data.length;
      if (!many) return { value: n };
      got++;
    }
    return { value: got };
  }

}

/** A closed connection has nothing left to send: its FIN is out and acknowledged (or it is gone). */
function finished(s: TcpSocket): boolean {
  const st = s.endpoint.stateName;
  return st === 'CLOSED' || st === 'TIME_WAIT' || st === 'FIN_WAIT_2' || st === 'LISTEN';
}

function fault(f: GuestFault): SyscallAnswer {
  return { errno: guestFaultErrno(f) };
}

function ret(r: Result<number>): SyscallAnswer {
  return isErrno(r) ? { errno: r } : { value: r };
}

/** The guest's command name (for audit and pcap comments). */
export function commandOf(tid: number): string {
  try {
    return readFileSync(`/proc/${tid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** The caller's real uid (the filter's --uid-owner), from /proc; undefined if it is gone. */
export function uidOf(tid: number): number | undefined {
  try {
    const m = /^Uid:\s*(\d+)/m.exec(readFileSync(`/proc/${tid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

