// An inet socket as a program sees it: the file behind a socket fd, with Linux's option rules,
// readiness and blocking behaviour, over a netstack endpoint (TCP, UDP or ICMP echo). This base
// class holds what every inet socket shares — SOL_SOCKET and the IP-level options, timeouts,
// the wait queue — and the subclasses (tcp-socket.ts, dgram-socket.ts) the protocol's calls.
// Read first: socket(7), ip(7), ipv6(7); Linux net/core/sock.c (sk_setsockopt/sk_getsockopt),
// net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c. Option value rules live in
// ../sockopt-codec.ts; this file keeps the state and decides which level a socket handles.

import type { Stack } from '../../netstack/index.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import type { NetError } from '../../netstack/errors.js';
import type { FlowOwner } from '../../netstack/transport.js';
import {
  applyLinger, decodeCString, decodeLinger, defaultInt, encodeGetInt, encodeLinger, encodeTimeval, findSockopt, foreignLevelErrno,
  getsockoptLen, jiffiesToTimeval, reportedPathMtu, setsockoptInt, sockoptByName, timevalToJiffies, truncateGet,
  type Linger, type OptLevelName, type SockoptSpec,
} from '../sockopt-codec.js';
import { errnoOf } from '../errno.js';
import { AF, POLL, SOCK, SOL } from '../socket-abi.js';
import { encodeSockaddr, sockaddrForUser, type SockAddr } from '../sockaddr.js';
import type { IoContext, RecvResult, Result, SocketLayerConfig } from './types.js';
import { WaitQueue, type WaitOutcome } from './wait.js';
import type { TimerQueue } from '../../netstack/timers.js';

/** What a socket needs from its layer: the stack, its timers and the "sysctls". */
export interface SocketHost {
  readonly stack: Stack;
  readonly timers: TimerQueue;
  readonly config: SocketLayerConfig;
}

export type SocketKindName = 'stream' | 'dgram' | 'ping';

/** Option levels by number. IPPROTO_TCP == SOL_TCP, IPPROTO_IP == SOL_IP, ... */
const LEVEL_NAMES = new Map<number, OptLevelName>([
  [SOL.SOL_SOCKET, 'SOL_SOCKET'], [SOL.SOL_TCP, 'SOL_TCP'], [SOL.SOL_IP, 'SOL_IP'], [SOL.SOL_IPV6, 'SOL_IPV6'],
]);

/** The bytes a getsockopt returns and the optlen it reports. */
export interface OptOut {
  bytes: Uint8Array;
  optlen: number;
}

export abstract class InetSocket {
  readonly wq = new WaitQueue();
  /** Int-valued options as a later get reports them, by name (only those set or read so far). */
  protected readonly ints = new Map<string, number>();
  protected linger: Linger = { onoff: 0, linger: 0 };
  /** SO_RCVTIMEO / SO_SNDTIMEO in jiffies (0: block for ever). */
  protected rcvTimeo = 0;
  protected sndTimeo = 0;
  /** SO_BINDTODEVICE: the interface name, '' when unbound. */
  protected boundDevice = '';
  protected boundNicId: number | undefined = undefined;
  closed = false;

  abstract readonly kind: SocketKindName;

  constructor(
    readonly host: SocketHost,
    /** AF_INET or AF_INET6. */
    readonly domain: number,
    /** SOCK_STREAM or SOCK_DGRAM. */
    readonly type: number,
    /** The protocol number reported by SO_PROTOCOL. */
    readonly protocol: number,
  ) {}

  get family(): 4 | 6 {
    return this.domain === AF.AF_INET6 ? 6 : 4;
  }
  get stream(): boolean {
    return this.type === SOCK.SOCK_STREAM;
  }
  protected get familyName(): 'AF_INET' | 'AF_INET6' {
    return this.family === 6 ? 'AF_INET6' : 'AF_INET';
  }

  // ---------------------------------------------------------------- the protocol's calls

  abstract bind(addr: Uint8Array): Result<0>;
  abstract connect(addr: Uint8Array, io: IoContext): Promise<Result<0>>;
  abstract listen(backlog: number): Result<0>;
  abstract accept(io: IoContext): Promise<Result<InetSocket>>;
  abstract localName(): SockAddr;
  /** The peer, or ENOTCONN. */
  abstract peerName(): Result<SockAddr>;
  abstract sendmsg(data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null, io: IoContext): Promise<Result<number>>;
  abstract recvmsg(len: number, flags: number, controllen: number, io: IoContext): Promise<Result<RecvResult>>;
  abstract shutdown(how: number): Result<0>;
  /** The poll(2) mask right now (every bit; callers mask with what they asked for). */
  abstract poll(): number;
  /** An ioctl with an int result (FIONREAD, SIOCOUTQ, SIOCOUTQNSD). */
  abstract ioctlInt(req: number): Result<number>;
  /** close(2) of the last reference. */
  abstract close(): void;
  /** SO_ERROR: the pending error, cleared by reading it. */
  protected abstract takeSoError(): NetError | null;

  getsockname(addrlen: number): Result<{ addr: Uint8Array; addrlen: number }> {
    const r = sockaddrForUser(this.localName(), addrlen);
    return r.ok ? { addr: r.bytes, addrlen: r.len } : r.errno;
  }
  getpeername(addrlen: number): Result<{ addr: Uint8Array; addrlen: number }> {
    const p = this.peerName();
    if (typeof p === 'string') return p;
    const r = sockaddrForUser(p, addrlen);
    return r.ok ? { addr: r.bytes, addrlen: r.len } : r.errno;
  }

  // ---------------------------------------------------------------- addresses

  /** A local or peer address as this socket reports it (v4-mapped on an AF_INET6 socket). */
  protected sockaddr(addr: IpAddr | null, port: number): SockAddr {
    if (this.family === 6) {
      const a = addr === null ? IpAddr.ANY6 : addr.family === 4 ? addr.mapToV6() : addr;
      return { family: 'AF_INET6', addr: a, port, flowinfo: 0, scopeId: 0 };
    }
    return { family: 'AF_INET', addr: addr ?? IpAddr.ANY4, port };
  }

  protected encodeName(sa: SockAddr): Uint8Array {
    return encodeSockaddr(sa);
  }

  // ---------------------------------------------------------------- waiting

  /** Sleeps until `ready()`, a timeout in jiffies (0: none) or interruption. */
  protected wait(ready: () => boolean, timeoJiffies: number, io: IoContext): Promise<WaitOutcome> {
    const ms = timeoJiffies > 0 ? (timeoJiffies * 1000) / this.host.config.hz : 0;
    return this.wq.wait(ready, this.host.timers, ms, io.signal);
  }
  get rcvTimeoJiffies(): number {
    return this.rcvTimeo;
  }
  get sndTimeoJiffies(): number {
    return this.sndTimeo;
  }

  /** The process that made the socket (Linux: the file's credentials), for the filter and audit. */
  abstract setOwner(owner: FlowOwner): void;

  /** Calls `fn` after every readiness change (for poll emulation and the sandbox's pumps). */
  onChange(fn: () => void): () => void {
    return this.wq.subscribe(fn);
  }

  // ---------------------------------------------------------------- options

  /** Which levels this socket's protocol handles (others are "foreign": ENOPROTOOPT/EOPNOTSUPP). */
  protected handlesLevel(level: OptLevelName): boolean {
    switch (level) {
      case 'SOL_SOCKET': case 'SOL_IP': return true;
      case 'SOL_IPV6': return this.family === 6;
      case 'SOL_TCP': return this.stream;
    }
  }

  /** The int value an option reports: live values first (subclasses), then stored, then defaults. */
  protected intValue(spec: SockoptSpec): Result<number> {
    switch (spec.name) {
      case 'SO_TYPE': return this.type;
      case 'SO_DOMAIN': return this.domain;
      case 'SO_PROTOCOL': return this.protocol;
      case 'SO_ACCEPTCONN': return 0;
      case 'SO_ERROR': {
        const e = this.takeSoError();
        return e ? errnoOf(e) : 0;
      }
      case 'SO_SNDLOWAT': return 1;
      case 'IP_MTU': case 'IPV6_MTU': {
        const mtu = this.pathMtu();
        if (mtu === null) return 'ENOTCONN';
        return reportedPathMtu(spec.name === 'IP_MTU' ? 4 : 6, mtu);
      }
    }
    const v = this.ints.get(spec.name);
    if (v !== undefined) return v;
    return defaultInt(spec.name, this.stream, this.host.config) ?? 0;
  }

  /** The path MTU towards the connected peer, or null when not connected. */
  protected pathMtu(): number | null {
    return null;
  }

  /** Called after an int option was stored: push it down to the endpoint. */
  protected applyInt(_name: string, _value: number): Result<0> {
    return 0;
  }

  /** Options with their own value layout that a subclass handles (TCP_CONGESTION, TCP_INFO). */
  protected getSpecial(_spec: SockoptSpec, _optlen: number): Result<OptOut> | undefined {
    return undefined;
  }
  protected setSpecial(_spec: SockoptSpec, _optval: Uint8Array): Result<0> | undefined {
    return undefined;
  }

  /** Whether the socket has a local port (IPV6_V6ONLY is then fixed). */
  protected abstract get hasLocalPort(): boolean;

  setsockopt(level: number, name: number, optval: Uint8Array): Result<0> {
    const lname = LEVEL_NAMES.get(level);
    if (!lname || !this.handlesLevel(lname)) return foreignLevelErrno('set');
    const spec = findSockopt(level, name);
    if (!spec) return 'ENOPROTOOPT';
    const special = this.setSpecial(spec, optval);
    if (special !== undefined) return special;
    switch (spec.kind) {
      case 'linger': {
        const l = decodeLinger(optval);
        if (!l) return 'EINVAL';
        this.linger = applyLinger(this.linger, l);
        return this.applyInt('SO_LINGER', this.linger.onoff ? this.linger.linger : -1);
      }
      case 'timeval': {
        const j = timevalToJiffies(optval, this.host.config.hz);
        if (!j.ok) return j.errno;
        if (spec.name === 'SO_RCVTIMEO') this.rcvTimeo = j.jiffies;
        else this.sndTimeo = j.jiffies;
        return 0;
      }
      case 'string':
        if (spec.name === 'SO_BINDTODEVICE') return this.bindToDevice(optval);
        return 'ENOPROTOOPT';
      case 'tcp_info': case 'bytes':
        return 'ENOPROTOOPT';
      default: {
        if (spec.name === 'SO_PRIORITY' && !this.host.config.privileged) {
          if (optval.length < 4) return 'EINVAL';
          const v = new DataView(optval.buffer, optval.byteOffset, 4).getInt32(0, true);
          if (v < 0 || v > 6) return 'EPERM';
        }
        const current = spec.name === 'IP_TOS' || spec.name === 'IPV6_TCLASS' ? this.ints.get(spec.name) ?? 0 : undefined;
        const r = setsockoptInt(spec, optval, this.host.config, { stream: this.stream, bound: this.hasLocalPort, current });
        if (!r.ok) return r.errno;
        const applied = this.applyInt(spec.name, r.value);
        if (applied !== 0) return applied;
        this.ints.set(spec.name, r.value);
        return 0;
      }
    }
  }

  getsockopt(level: number, name: number, optlen: number): Result<OptOut> {
    const lname = LEVEL_NAMES.get(level);
    if (!lname || !this.handlesLevel(lname)) return foreignLevelErrno('get');
    const spec = findSockopt(level, name);
    if (!spec) return 'ENOPROTOOPT';
    const special = this.getSpecial(spec, optlen);
    if (special !== undefined) return special;
    switch (spec.kind) {
      case 'linger': return cut(encodeLinger(this.linger), optlen, lname);
      case 'timeval': {
        const j = spec.name === 'SO_RCVTIMEO' ? this.rcvTimeo : this.sndTimeo;
        return cut(encodeTimeval(jiffiesToTimeval(j, this.host.config.hz)), optlen, lname);
      }
      case 'string': {
        if (spec.name !== 'SO_BINDTODEVICE') return 'ENOPROTOOPT';
        const name = new TextEncoder().encode(this.boundDevice);
        const len = getsockoptLen(spec, optlen, name.length);
        if (!len.ok) return len.errno;
        const out = new Uint8Array(len.len);
        out.set(name.subarray(0, len.len));
        return { bytes: out, optlen: len.len };
      }
      case 'tcp_info': case 'bytes':
        return 'ENOPROTOOPT';
      default: {
        const v = this.intValue(spec);
        if (typeof v === 'string') return v;
        const r = encodeGetInt(lname, v, optlen);
        return r.ok ? { bytes: r.bytes, optlen: r.bytes.length } : r.errno;
      }
    }
  }

  private bindToDevice(optval: Uint8Array): Result<0> {
    const name = decodeCString(optval.subarray(0, 16));
    if (name === '') {
      this.boundDevice = '';
      this.boundNicId = undefined;
      return this.applyInt('SO_BINDTODEVICE', 0);
    }
    const nic = this.host.stack.nicByName(name);
    if (!nic) return 'ENODEV';
    this.boundDevice = name;
    this.boundNicId = nic.nicId;
    return this.applyInt('SO_BINDTODEVICE', nic.nicId);
  }

  /** An int option's current value by name (for subclasses and accept() inheritance). */
  protected optInt(name: string): number {
    const spec = sockoptByName(name);
    const v = spec ? this.intValue(spec) : 0;
    return typeof v === 'number' ? v : 0;
  }

  /** Copies the options a child socket inherits from its listener (inet_csk_clone_lock). */
  protected inheritFrom(p: InetSocket): void {
    for (const [k, v] of p.ints) if (k !== 'SO_ACCEPTCONN') this.ints.set(k, v);
    this.linger = { ...p.linger };
    this.rcvTimeo = p.rcvTimeo;
    this.sndTimeo = p.sndTimeo;
    this.boundDevice = p.boundDevice;
    this.boundNicId = p.boundNicId;
  }

  /** The TTL / hop limit for sends (null: the stack default). */
  protected get ttlOption(): number | null {
    const name = this.family === 6 ? 'IPV6_UNICAST_HOPS' : 'IP_TTL';
    return this.ints.get(name) ?? null;
  }

  /** POLLOUT|POLLWRNORM etc. as poll reports them: the WR/RD "normal" bits follow POLLIN/POLLOUT. */
  static withNormBits(mask: number): number {
    let m = mask;
    if (m & POLL.POLLIN) m |= POLL.POLLRDNORM;
    if (m & POLL.POLLOUT) m |= POLL.POLLWRNORM | POLL.POLLWRBAND;
    return m;
  }
}

function cut(full: Uint8Array, optlen: number, level: OptLevelName): Result<OptOut> {
  const r = truncateGet(full, optlen, level);
  return r.ok ? { bytes: r.bytes, optlen: r.bytes.length } : r.errno;
}

