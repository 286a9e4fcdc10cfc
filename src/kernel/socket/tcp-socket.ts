// SOCK_STREAM sockets over moat's TCP endpoints, with Linux's socket-level state machine on top
// of TCP's (sock->state SS_UNCONNECTED / SS_CONNECTING / SS_CONNECTED in net/ipv4/af_inet.c),
// which is what decides EINPROGRESS, EALREADY and EISCONN, and tcp_poll's readiness rules.
// Read first: tcp(7); Linux net/ipv4/af_inet.c (__inet_stream_connect, inet_shutdown,
// inet_accept), net/ipv4/tcp.c (tcp_poll, tcp_recvmsg_locked, tcp_sendmsg_locked, tcp_ioctl).

import { IpAddr } from '../../netstack/wire/ip-address.js';
import { isNetError, type NetError } from '../../netstack/errors.js';
import type { TcpEndpoint } from '../../netstack/tcp/index.js';
import type { FlowOwner } from '../../netstack/transport.js';
import { TcpProtocol } from '../../netstack/tcp/index.js';
import { seqDiff } from '../../netstack/wire/seq.js';
import {
  encodeCongestionName, encodeTcpInfo, readCongestionName, truncateGet, TCP_INFO_KNOWN_LEN, type SockoptSpec,
} from '../sockopt-codec.js';
import { bindImpliesV6only, parseBindAddr, parseConnectAddr, type SockAddr } from '../sockaddr.js';
import { AF, IOCTL, IPPROTO, MSG, POLL, SOCK, TCP_STATE } from '../socket-abi.js';
import { InetSocket, type OptOut, type SocketHost } from './socket.js';
import type { IoContext, RecvResult, Result } from './types.js';
import { concatBytes } from '../../netstack/wire/bytes.js';

type SockState = 'unconnected' | 'connecting' | 'connected';

/** moat's TCP state names → Linux's TCP_* numbers (include/net/tcp_states.h). */
const LINUX_STATE: Record<string, number> = {
  ESTABLISHED: TCP_STATE.TCP_ESTABLISHED, SYN_SENT: TCP_STATE.TCP_SYN_SENT, SYN_RECEIVED: TCP_STATE.TCP_SYN_RECV,
  FIN_WAIT_1: TCP_STATE.TCP_FIN_WAIT1, FIN_WAIT_2: TCP_STATE.TCP_FIN_WAIT2, TIME_WAIT: TCP_STATE.TCP_TIME_WAIT,
  CLOSED: TCP_STATE.TCP_CLOSE, CLOSE_WAIT: TCP_STATE.TCP_CLOSE_WAIT, LAST_ACK: TCP_STATE.TCP_LAST_ACK,
  LISTEN: TCP_STATE.TCP_LISTEN, CLOSING: TCP_STATE.TCP_CLOSING,
};

/** Linux's names for moat's congestion controls (TCP_CONGESTION). */
const CA_NAMES: Record<string, 'cubic' | 'newreno'> = { cubic: 'cubic', reno: 'newreno', newreno: 'newreno' };

export class TcpSocket extends InetSocket {
  readonly kind = 'stream' as const;
  private ep: TcpEndpoint;
  /** A connect() or accept() put this endpoint to use: a new connect needs a fresh one. */
  private epUsed = false;
  private ss: SockState = 'unconnected';
  /** The address bind() named (kept for a fresh endpoint after a failed connect). */
  private bound: { addr: IpAddr; port: number } | null = null;
  private v6only: boolean;
  /** shutdown() bits: RCV_SHUTDOWN and SEND_SHUTDOWN set by the user. */
  private shutRd = false;
  private shutWr = false;
  /** MSG_MORE corked the endpoint (TCP_CORK was not set by the user). */
  private moreCorked = false;

  constructor(host: SocketHost, domain: number, ep?: TcpEndpoint) {
    super(host, domain, SOCK.SOCK_STREAM, IPPROTO.IPPROTO_TCP);
    this.v6only = domain === AF.AF_INET6 && host.config.bindv6only !== 0;
    this.ep = ep ?? this.newEndpoint();
    if (ep) {
      this.epUsed = true;
      this.ss = 'connected';
    }
    this.watch(this.ep);
  }

  private get proto(): TcpProtocol {
    const p = this.host.stack.transport(6);
    if (!(p instanceof TcpProtocol)) throw new Error('the stack has no TCP');
    return p;
  }

  private newEndpoint(): TcpEndpoint {
    const ep = this.proto.endpoint();
    return ep;
  }

  private watch(ep: TcpEndpoint): void {
    const wake = (): void => this.wq.wake();
    ep.on({ onConnected: wake, onReadable: wake, onWritable: wake, onPeerClosed: wake, onError: wake, onClosed: wake, onAcceptable: wake });
  }

  /** A fresh endpoint with this socket's options, for a connect after a failed one. */
  private renew(): Result<0> {
    const old = this.ep;
    const ep = this.newEndpoint();
    ep.opts = { ...old.opts };
    ep.rcvBuf = old.rcvBuf;
    ep.dualStack = old.dualStack;
    ep.freebind = old.freebind;
    ep.synRetries = old.synRetries;
    old.on({});
    old.close();
    ep.owner = old.owner;
    this.ep = ep;
    this.epUsed = false;
    this.watch(ep);
    if (this.bound) {
      const r = ep.bind(this.bound.addr, this.bound.port);
      if (isNetError(r)) return r as NetError & Result<0>;
    }
    return 0;
  }

  protected get hasLocalPort(): boolean {
    return this.ep.localPort !== 0;
  }

  // ---------------------------------------------------------------- addresses

  localName(): SockAddr {
    return this.sockaddr(this.ep.localAddr, this.ep.localPort);
  }

  /**
   * The state the user sees: a connection in TIME_WAIT lives on as a timewait entry while the
   * socket itself is closed (tcp_time_wait → tcp_done), so it reports TCP_CLOSE and no peer.
   */
  private get userState(): string {
    const st = this.ep.stateName;
    return st === 'TIME_WAIT' ? 'CLOSED' : st;
  }

  peerName(): Result<SockAddr> {
    const st = this.userState;
    // inet_getname: no peer unless connected (TCP_CLOSE and SYN_SENT are ENOTCONN); a half-closed
    // connection still has one.
    if (st === 'CLOSED' || st === 'SYN_SENT' || st === 'LISTEN' || !this.ep.remoteAddr) return 'ENOTCONN';
    return this.sockaddr(this.ep.remoteAddr, this.ep.remotePort);
  }

  /** Maps a user address to the IPv4 or IPv6 one the endpoint uses (v4-mapped → IPv4). */
  private unmap(sa: SockAddr): Result<IpAddr> {
    if (sa.family === 'AF_INET') return sa.addr;
    const v4 = sa.addr.unmapV4();
    if (v4) return this.v6only ? 'ENETUNREACH' : v4;
    return sa.addr;
  }

  bind(bytes: Uint8Array): Result<0> {
    const p = parseBindAddr(this.familyName, bytes, 'stream');
    if (!p.ok) return p.errno;
    if (this.ep.localPort !== 0 || this.ep.stateName !== 'CLOSED' || this.ss !== 'unconnected') return 'EINVAL';
    const sa = p.sa;
    let addr: IpAddr;
    if (sa.family === 'AF_INET6') {
      const v4 = sa.addr.unmapV4();
      if (v4) {
        if (this.v6only) return 'EINVAL';
        addr = v4;
      } else {
        // A link-local address names an interface only with a scope id (__inet6_bind).
        if (sa.addr.isLinkLocal() && !sa.scopeId) return 'EINVAL';
        addr = sa.addr;
      }
    } else {
      addr = sa.addr;
    }
    if (sa.port !== 0 && sa.port < 1024 && !this.host.config.privileged) return 'EACCES';
    if (!addr.isUnspecified() && !this.ep.freebind && !this.host.config.nonlocalBind && !this.host.stack.isLocalAddress(addr)) return 'EADDRNOTAVAIL';
    this.ep.dualStack = this.family === 6 && addr.family === 6 && addr.isUnspecified() && !this.v6only;
    this.ep.freebind ||= this.host.config.nonlocalBind;
    const r = this.ep.bind(addr, sa.port);
    if (isNetError(r)) return r as Result<0>;
    if (bindImpliesV6only(sa)) this.v6only = true;
    this.bound = { addr, port: this.ep.localPort };
    return 0;
  }

  listen(backlog: number): Result<0> {
    if (this.ss !== 'unconnected') return 'EINVAL';
    const st = this.ep.stateName;
    if (st !== 'CLOSED' && st !== 'LISTEN') return 'EINVAL';
    if (this.epUsed && st === 'CLOSED') {
      const r = this.renew();
      if (r !== 0) return r;
    }
    if (this.ep.localPort === 0) {
      // inet_autobind: the wildcard of the socket's family (dual-stack unless V6ONLY).
      const any = this.family === 6 ? IpAddr.ANY6 : IpAddr.ANY4;
      this.ep.dualStack = this.family === 6 && !this.v6only;
      const b = this.ep.bind(any, 0);
      if (isNetError(b)) return b as Result<0>;
    }
    // somaxconn (4096) caps the backlog; negative values read as huge (unsigned compare).
    const somaxconn = 4096;
    const n = backlog < 0 || backlog > somaxconn ? somaxconn : backlog;
    const r = this.ep.listen(n);
    if (isNetError(r)) return r as Result<0>;
    this.shutRd = false;
    this.wq.wake();
    return 0;
  }

  async accept(io: IoContext): Promise<Result<InetSocket>> {
    for (;;) {
      if (this.ep.stateName !== 'LISTEN') return 'EINVAL';
      const c = this.ep.accept();
      if (!isNetError(c)) {
        const child = new TcpSocket(this.host, this.domain, c);
        child.inheritFrom(this);
        child.v6only = this.v6only;
        this.wq.wake();
        return child;
      }
      if (c !== 'EAGAIN') return c as Result<InetSocket>;
      if (io.nonblock) return 'EAGAIN';
      const o = await this.wait(() => this.ep.stateName !== 'LISTEN' || (this.ep.listener?.acceptQueue.length ?? 0) > 0, this.rcvTimeoJiffies, io);
      if (o === 'timeout') return 'EAGAIN';
      if (o === 'intr') return 'EINTR';
    }
  }

  async connect(bytes: Uint8Array, io: IoContext): Promise<Result<0>> {
    const p = parseConnectAddr(this.familyName, 'stream', bytes, this.v6only);
    if (!p.ok) return p.errno;
    if ('unspec' in p) return this.disconnect();
    let err: Result<0>;
    const st0 = this.ep.stateName;
    switch (this.ss) {
      case 'connected':
        return 'EISCONN';
      case 'connecting':
        err = 'EALREADY';
        break;
      default: {
        if (st0 !== 'CLOSED') return 'EISCONN';
        const dst = this.unmap(p.sa);
        if (typeof dst === 'string') return dst;
        if (this.epUsed) {
          const r = this.renew();
          if (r !== 0) return r;
        }
        if (dst.family === 4 && this.family === 6 && this.ep.localAddr && this.ep.localAddr.family === 6 && !this.ep.localAddr.isUnspecified()) return 'ENETUNREACH';
        // Connecting to the wildcard reaches the local host (RFC 1122 §3.2.1.3: 0.0.0.0 as "this host").
        const target = dst.isUnspecified() ? (dst.family === 4 ? IpAddr.parse('127.0.0.1') : IpAddr.parse('::1')) : dst;
        if (this.ep.localPort !== 0 && this.ep.localAddr && this.ep.localAddr.isUnspecified() && this.ep.localAddr.family !== target.family) {
          // A dual-stack socket bound to [::]:p connecting over IPv4 keeps the port on the IPv4 side.
          this.ep.localAddr = target.family === 4 ? IpAddr.ANY4 : IpAddr.ANY6;
        }
        const r = this.ep.connect(target, p.sa.port);
        if (isNetError(r)) return r as Result<0>;
        this.epUsed = true;
        this.ss = 'connecting';
        err = 'EINPROGRESS';
      }
    }
    const pending = (): boolean => {
      const s = this.ep.stateName;
      return s === 'SYN_SENT' || s === 'SYN_RECEIVED';
    };
    if (pending()) {
      if (io.nonblock) return err;
      const o = await this.wait(() => !pending(), this.sndTimeoJiffies, io);
      if (o === 'timeout') return err;
      if (o === 'intr') return 'EINTR';
    }
    if (this.ep.stateName === 'CLOSED') {
      this.ss = 'unconnected';
      const e = this.takeSoError();
      return (e ?? 'ECONNABORTED') as Result<0>;
    }
    this.ss = 'connected';
    return 0;
  }

  /** connect(AF_UNSPEC): tcp_disconnect — a reset if anything was going on, then a fresh socket. */
  private disconnect(): Result<0> {
    const st = this.ep.stateName;
    if (st === 'LISTEN') {
      this.ep.close();
      this.epUsed = true;
    } else if (st !== 'CLOSED') {
      this.ep.abort();
    }
    this.ss = 'unconnected';
    this.shutRd = this.shutWr = false;
    if (this.epUsed || st !== 'CLOSED') {
      this.bound = null;
      this.renew();
    }
    this.wq.wake();
    return 0;
  }

  // ---------------------------------------------------------------- data

  async sendmsg(data: Uint8Array, flags: number, name: Uint8Array | null, _control: Uint8Array | null, io0: IoContext): Promise<Result<number>> {
    const io = flags & MSG.MSG_DONTWAIT ? { ...io0, nonblock: true } : io0;
    const ep = this.ep;
    // tcp_sendmsg: the address is ignored (a connected stream has its peer; an unconnected one is EPIPE).
    void name;
    if (this.shutWr) return 'EPIPE';
    // sk_stream_wait_connect: a connection still being set up is waited for.
    for (;;) {
      const st = ep.stateName;
      if (st !== 'SYN_SENT' && st !== 'SYN_RECEIVED') break;
      if (io.nonblock) return 'EAGAIN';
      const o = await this.wait(() => ep.stateName !== 'SYN_SENT' && ep.stateName !== 'SYN_RECEIVED', this.sndTimeoJiffies, io);
      if (o === 'timeout') return 'EAGAIN';
      if (o === 'intr') return 'EINTR';
    }
    const more = (flags & MSG.MSG_MORE) !== 0;
    if (more && !ep.opts.cork) {
      ep.setCork(true);
      this.moreCorked = true;
    }
    let sent = 0;
    try {
      for (;;) {
        const r = sent < data.length || data.length === 0 ? ep.write(data.subarray(sent)) : 0;
        if (isNetError(r)) {
          if (sent > 0) return sent;
          if (r === 'ENOTCONN') return 'EPIPE';
          if (r === 'ENOBUFS') return io.nonblock ? 'EAGAIN' : 'ENOBUFS';
          return r as Result<number>;
        }
        sent += r;
        if (sent >= data.length) return sent;
        if (io.nonblock) return sent > 0 ? sent : 'EAGAIN';
        const o = await this.wait(() => ep.writable > 0 || ep.stateName === 'CLOSED' || ep.error !== null, this.sndTimeoJiffies, io);
        if (o === 'timeout') return sent > 0 ? sent : 'EAGAIN';
        if (o === 'intr') return sent > 0 ? sent : 'EINTR';
      }
    } finally {
      if (!more && this.moreCorked) {
        this.moreCorked = false;
        if (this.ints.get('TCP_CORK') !== 1) ep.setCork(false);
      }
    }
  }

  async recvmsg(len: number, flags: number, _controllen: number, io0: IoContext): Promise<Result<RecvResult>> {
    const io = flags & MSG.MSG_DONTWAIT ? { ...io0, nonblock: true } : io0;
    if (flags & MSG.MSG_ERRQUEUE) return 'EAGAIN';
    if (flags & MSG.MSG_OOB) return 'EINVAL';
    const peek = (flags & MSG.MSG_PEEK) !== 0;
    const st0 = this.ep.stateName;
    if (st0 === 'LISTEN') return 'ENOTCONN';
    if (st0 === 'CLOSED' && !this.epUsed) return 'ENOTCONN';
    if (len === 0) return { data: new Uint8Array(0), ret: 0, msgFlags: 0 };
    // sock_rcvlowat: MSG_WAITALL wants everything, else SO_RCVLOWAT (at most len).
    const target = flags & MSG.MSG_WAITALL ? len : Math.max(1, Math.min(len, this.optInt('SO_RCVLOWAT')));
    const chunks: Uint8Array[] = [];
    let got = 0;
    // tcp_recvmsg: copy what is queued, and wait only while less than the target has been copied.
    for (;;) {
      const ep = this.ep;
      const avail = ep.readable - (peek ? got : 0);
      if (avail > 0) {
        const n = Math.min(len - got, avail);
        chunks.push(peek ? ep.recvQueue.peek(got, n) : (ep.read(n) as Uint8Array));
        got += n;
      }
      if (got >= target) break;
      if (ep.finReceived || this.shutRd) break;
      if (ep.error !== null && !ep.errorReported) {
        if (got > 0) break;
        return (peek ? ep.error : (ep.read(1) as NetError)) as Result<RecvResult>;
      }
      if (ep.stateName === 'CLOSED') break;
      if (io.nonblock) {
        if (got > 0) break;
        return 'EAGAIN';
      }
      const seen = peek ? got : 0;
      const o = await this.wait(() => {
        const e = this.ep;
        return e.readable > seen || e.finReceived || this.shutRd || e.stateName === 'CLOSED' || (e.error !== null && !e.errorReported);
      }, this.rcvTimeoJiffies, io);
      if (o === 'timeout') {
        if (got > 0) break;
        return 'EAGAIN';
      }
      if (o === 'intr') {
        if (got > 0) break;
        return 'EINTR';
      }
    }
    const data = chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
    if (flags & MSG.MSG_TRUNC && !peek) return { data: new Uint8Array(0), ret: got, msgFlags: 0 };
    return { data, ret: got, msgFlags: 0 };
  }

  shutdown(how: number): Result<0> {
    if (how < 0 || how > 2) return 'EINVAL';
    const st = this.ep.stateName;
    if (this.ss === 'connecting') this.ss = st === 'SYN_SENT' || st === 'SYN_RECEIVED' || st === 'CLOSED' ? 'unconnected' : 'connected';
    const rd = how !== 1;
    const wr = how !== 0;
    switch (st) {
      case 'LISTEN':
        if (!rd) return 0;
        this.ep.close();
        this.epUsed = true;
        this.wq.wake();
        return 0;
      case 'SYN_SENT':
        this.ep.abort();
        this.ss = 'unconnected';
        this.wq.wake();
        return 0;
      case 'CLOSED':
        if (rd) this.shutRd = true;
        if (wr) this.shutWr = true;
        return 'ENOTCONN';
      default:
        if (rd) this.shutRd = true;
        if (wr) this.shutWr = true;
        this.ep.shutdown(how === 0 ? 'read' : how === 1 ? 'write' : 'both');
        this.wq.wake();
        return 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ep.close();
    this.wq.wake();
  }

  /** Whether the endpoint went through tcp_done (reset, timeout, or the end of a closed connection). */
  private get done(): boolean {
    return this.userState === 'CLOSED' && this.epUsed;
  }

  poll(): number {
    const ep = this.ep;
    const st = this.userState;
    if (st === 'LISTEN') return (ep.listener?.acceptQueue.length ?? 0) > 0 ? POLL.POLLIN | POLL.POLLRDNORM : 0;
    let mask = 0;
    const rcvShut = this.shutRd || ep.finReceived || this.done;
    const sndShut = this.shutWr || this.done;
    if ((rcvShut && sndShut) || st === 'CLOSED') mask |= POLL.POLLHUP;
    if (rcvShut) mask |= POLL.POLLIN | POLL.POLLRDNORM | POLL.POLLRDHUP;
    if (st !== 'SYN_SENT' && st !== 'SYN_RECEIVED') {
      const lowat = Math.max(1, this.optInt('SO_RCVLOWAT'));
      if (ep.readable >= lowat) mask |= POLL.POLLIN | POLL.POLLRDNORM;
      if (sndShut) {
        mask |= POLL.POLLOUT | POLL.POLLWRNORM;
      } else {
        // __sk_stream_is_writeable: free space at least half of what is queued.
        const queued = ep.sndBufSize - ep.writable;
        if (ep.writable > 0 && ep.writable >= queued / 2) mask |= POLL.POLLOUT | POLL.POLLWRNORM;
      }
    }
    if ((ep.error !== null && !ep.errorReported) || ep.softError !== null) mask |= POLL.POLLERR;
    return mask;
  }

  ioctlInt(req: number): Result<number> {
    const ep = this.ep;
    const listening = ep.stateName === 'LISTEN';
    switch (req) {
      case IOCTL.FIONREAD:
        return listening ? 'EINVAL' : ep.readable;
      case IOCTL.SIOCOUTQ:
        return listening ? 'EINVAL' : ep.sendQueue.length;
      case IOCTL.SIOCOUTQNSD: {
        if (listening) return 'EINVAL';
        const end = (ep.sendQueueSeq + ep.sendQueue.length) >>> 0;
        return Math.max(0, seqDiff(end, ep.sndNxt));
      }
      default:
        return 'ENOTTY';
    }
  }

  protected takeSoError(): NetError | null {
    return this.ep.takeSoError();
  }

  protected override pathMtu(): number | null {
    if (this.ep.stateName === 'CLOSED' || this.ep.stateName === 'LISTEN' || !this.ep.remoteAddr) return null;
    return this.ep.pmtu;
  }

  // ---------------------------------------------------------------- options

  protected override intValue(spec: SockoptSpec): Result<number> {
    const ep = this.ep;
    switch (spec.name) {
      case 'SO_ACCEPTCONN': return ep.stateName === 'LISTEN' ? 1 : 0;
      case 'TCP_MAXSEG': {
        const st = this.userState;
        if (st === 'CLOSED' || st === 'LISTEN') return ep.opts.maxSeg || 536;
        // tcp_bound_to_half_wnd: never more than half the largest window the peer offered.
        return ep.maxSndWnd > 536 ? Math.min(ep.mss, ep.maxSndWnd >> 1) : ep.mss;
      }
      case 'IPV6_V6ONLY': return this.v6only ? 1 : 0;
    }
    return super.intValue(spec);
  }

  protected override applyInt(name: string, v: number): Result<0> {
    const ep = this.ep;
    switch (name) {
      case 'SO_REUSEADDR': ep.setReuseAddr(v !== 0); break;
      case 'SO_REUSEPORT': ep.setReusePort(v !== 0); break;
      case 'SO_KEEPALIVE': ep.setKeepAlive(v !== 0); break;
      case 'SO_SNDBUF': ep.setSndBuf(v); break;
      case 'SO_RCVBUF': ep.setRcvBuf(v); break;
      case 'SO_LINGER': ep.setLinger(v < 0 ? null : v * 1000); break;
      case 'TCP_NODELAY': ep.setNoDelay(v !== 0); break;
      case 'TCP_CORK':
        this.moreCorked = false;
        ep.setCork(v !== 0);
        break;
      case 'TCP_KEEPIDLE': ep.setKeepAlive(ep.opts.keepAlive, v * 1000); break;
      case 'TCP_KEEPINTVL': ep.setKeepAlive(ep.opts.keepAlive, undefined, v * 1000); break;
      case 'TCP_KEEPCNT': ep.setKeepAlive(ep.opts.keepAlive, undefined, undefined, v); break;
      case 'TCP_USER_TIMEOUT': ep.setUserTimeout(v); break;
      case 'TCP_MAXSEG': ep.setMaxSeg(v); break;
      case 'TCP_QUICKACK': ep.setQuickAck(v !== 0); break;
      case 'TCP_SYNCNT': ep.synRetries = v; break;
      case 'TCP_WINDOW_CLAMP':
        // tcp_set_window_clamp: 0 only while the socket is closed.
        if (v === 0 && ep.stateName !== 'CLOSED') return 'EINVAL';
        break;
      case 'IP_FREEBIND': ep.freebind = v !== 0; break;
      case 'IPV6_V6ONLY': this.v6only = v !== 0; break;
    }
    return 0;
  }

  protected override getSpecial(spec: SockoptSpec, optlen: number): Result<OptOut> | undefined {
    if (spec.name === 'TCP_INFO') {
      if (optlen < 0) return 'EINVAL';
      const full = encodeTcpInfo(this.linuxTcpInfo(), TCP_INFO_KNOWN_LEN);
      const bytes = full.subarray(0, Math.min(optlen, full.length));
      return { bytes, optlen: bytes.length };
    }
    if (spec.name === 'TCP_CONGESTION') {
      const name = this.ep.opts.congestion === 'cubic' ? 'cubic' : 'reno';
      const r = truncateGet(encodeCongestionName(name), optlen, 'SOL_TCP');
      return r.ok ? { bytes: r.bytes, optlen: r.bytes.length } : r.errno;
    }
    return undefined;
  }

  protected override setSpecial(spec: SockoptSpec, optval: Uint8Array): Result<0> | undefined {
    if (spec.name === 'TCP_INFO') return 'ENOPROTOOPT';
    if (spec.name === 'TCP_CONGESTION') {
      const r = readCongestionName(optval);
      if (!r.ok) return r.errno;
      const alg = CA_NAMES[r.name];
      if (!alg) return 'ENOENT';
      this.ep.setCongestion(alg);
      return 0;
    }
    return undefined;
  }

  /** moat's TCP_INFO snapshot in struct tcp_info's field names and units (µs, segments). */
  private linuxTcpInfo(): Record<string, number> {
    const ep = this.ep;
    const i = ep.tcpInfo();
    const st = LINUX_STATE[this.userState] ?? TCP_STATE.TCP_CLOSE;
    // rcv_mss is set when the connection is set up (tcp_initialize_rcv_mss): 0 before.
    const fresh = !this.epUsed && ep.stateName === 'CLOSED';
    const us = (ms: number): number => Math.round(ms * 1000);
    const options = (i.timestamps ? 1 : 0) | (i.sackEnabled ? 2 : 0) | (i.sndWscale || i.rcvWscale ? 4 : 0);
    return {
      state: st, ca_state: i.caState === 'recovery' ? 3 : i.caState === 'loss' ? 4 : 0,
      retransmits: i.retransmits, probes: i.probes, backoff: i.backoff, options,
      snd_wscale: i.sndWscale, rcv_wscale: i.rcvWscale,
      rto: us(i.rto), ato: 40_000, snd_mss: i.sndMss, rcv_mss: fresh ? 0 : i.rcvMss, unacked: i.unacked, sacked: i.sacked,
      lost: i.lost, retrans: 0, last_data_sent: Math.round(i.lastDataSent), last_data_recv: Math.round(i.lastDataRecv),
      last_ack_recv: Math.round(i.lastAckRecv), pmtu: fresh ? 0 : Math.min(i.pmtu, this.family === 4 ? 65535 : i.pmtu),
      rcv_ssthresh: i.rcvWnd, rtt: us(i.rtt), rttvar: us(i.rttvar), snd_ssthresh: i.ssthresh, snd_cwnd: i.cwnd,
      advmss: ep.advMss, reordering: 3, rcv_space: i.rcvSpace, total_retrans: i.totalRetrans,
      bytes_acked: i.bytesAcked, bytes_received: i.bytesReceived, segs_out: i.segsOut, segs_in: i.segsIn,
      notsent_bytes: Math.max(0, seqDiff((ep.sendQueueSeq + ep.sendQueue.length) >>> 0, ep.sndNxt)),
      min_rtt: us(i.minRtt), data_segs_in: i.dataSegsIn, data_segs_out: i.dataSegsOut, bytes_sent: i.bytesSent, bytes_retrans: i.bytesRetrans, dsack_dups: i.dsacks,
      snd_wnd: i.sndWnd, rcv_wnd: i.rcvWnd,
    };
  }

  setOwner(owner: FlowOwner): void {
    this.owner = owner;
    this.ep.owner = owner;
  }
  private owner: FlowOwner | undefined = undefined;

  /** The endpoint (for the sandbox's data pumps and tests). */
  get endpoint(): TcpEndpoint {
    return this.ep;
  }
  get socketState(): SockState {
    return this.ss;
  }
}
