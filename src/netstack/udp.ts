// UDP endpoints and the UDP protocol. Read first: RFC 768; RFC 1122 §4.1.3 (checksums, ICMP
// errors to the application); RFC 8200 §8.1 (IPv6 checksum mandatory); RFC 4291 §2.5.5.2
// (v4-mapped addresses on dual-stack sockets); RFC 6056 (ephemeral ports). The bind/lookup
// rules follow Linux (udp_lib_get_port, udp4_lib_lookup2's scoring, SO_REUSEADDR/SO_REUSEPORT,
// IPV6_V6ONLY), because the socket layer above emulates Linux for real programs.

import { IpAddr } from './wire/ip-address.js';
import { foldSum, pseudoHeaderSum, sumWords } from './wire/checksum.js';
import { isNetError, type NetError, type NetResult } from './errors.js';
import type { DeliverVerdict, FlowOwner, IpDelivery, NetworkLayer, TransportError, TransportProtocol } from './transport.js';
import type { Stats } from './stats.js';
import { isHardError } from './icmp.js';

export const UDP_HEADER = 8;

/** One received datagram. */
export interface Datagram {
  readonly data: Uint8Array;
  /** The sender; for an IPv6 endpoint an IPv4 sender is v4-mapped. */
  readonly from: IpAddr;
  readonly port: number;
  /** The address it was sent to (IP_PKTINFO / IPV6_PKTINFO). */
  readonly dst: IpAddr;
  readonly ttl: number;
  readonly tos: number;
  readonly nicId: number;
  /** Stack clock time of arrival in ms (SO_TIMESTAMP). */
  readonly receivedAt: number;
}

export interface DatagramEndpointOptions {
  /** Receive buffer in bytes (Linux rmem_default, 212992). */
  rcvBuf?: number;
  /** Errors kept at most on the error queue. */
  errorQueueLimit?: number;
}

/**
 * The socket-facing half shared by UDP and ping endpoints: a bounded receive queue, an error
 * queue (IP_RECVERR), a pending socket error (SO_ERROR), and readiness callbacks.
 */
export class DatagramEndpointBase {
  /** Called when the queue goes from empty to non-empty. */
  onReadable: (() => void) | null = null;
  /** Called when a socket error or an error-queue entry arrives. */
  onError: (() => void) | null = null;
  /** IP_RECVERR: queue every ICMP error (and report soft errors in SO_ERROR). */
  recvErr = false;
  /** Receive buffer size in bytes (SO_RCVBUF). */
  rcvBuf: number;
  /** Datagrams dropped because the queue was full (SO_RXQ_OVFL). */
  drops = 0;
  protected queue: Datagram[] = [];
  protected queued = 0;
  protected errors: TransportError[] = [];
  protected soError: NetError | null = null;
  private readonly errorQueueLimit: number;

  constructor(opts: DatagramEndpointOptions = {}) {
    this.rcvBuf = opts.rcvBuf ?? 212992;
    this.errorQueueLimit = opts.errorQueueLimit ?? 64;
  }

  get readable(): boolean {
    return this.queue.length > 0;
  }
  /** Datagrams are never held back by flow control, so a datagram endpoint is always writable. */
  get writable(): boolean {
    return true;
  }
  /** Bytes waiting (FIONREAD reports the first datagram's size, so does this: `nextSize`). */
  get queuedBytes(): number {
    return this.queued;
  }
  get nextSize(): number {
    return this.queue.length > 0 ? this.queue[0].data.length : 0;
  }

  /**
   * The next datagram; a pending socket error comes first (Linux: recvmsg on a connected UDP
   * socket reports ECONNREFUSED once), then 'EAGAIN' when the queue is empty.
   */
  recv(): Datagram | NetError {
    if (this.soError) return this.takeError()!;
    const d = this.queue.shift();
    if (!d) return 'EAGAIN';
    this.queued -= truesize(d.data.length);
    return d;
  }
  peek(): Datagram | null {
    return this.queue[0] ?? null;
  }

  /** SO_ERROR: returns and clears the pending error. */
  takeError(): NetError | null {
    const e = this.soError;
    this.soError = null;
    return e;
  }
  /** A socket error is pending (SO_ERROR would report it; the next receive does). */
  get hasSoError(): boolean {
    return this.soError !== null;
  }
  get hasError(): boolean {
    return this.soError !== null || this.errors.length > 0;
  }
  /** MSG_ERRQUEUE: the oldest queued ICMP error, or null. */
  readErrorQueue(): TransportError | null {
    return this.errors.shift() ?? null;
  }

  /** @internal Returns false (and counts) when the queue is full. */
  enqueue(d: Datagram): boolean {
    const size = truesize(d.data.length);
    // Linux __udp_enqueue_schedule_skb admits a datagram while what is queued does not exceed
    // the limit, so the queue may overshoot by one datagram.
    if (this.queued > this.rcvBuf) {
      this.drops++;
      return false;
    }
    const wasEmpty = this.queue.length === 0;
    this.queue.push(d);
    this.queued += size;
    if (wasEmpty) this.onReadable?.();
    return true;
  }

  /** @internal Linux __udp4_lib_err / ping_err: hard errors on connected sockets, all with RECVERR. */
  reportError(err: TransportError, connected: boolean): void {
    if (this.recvErr) {
      if (this.errors.length < this.errorQueueLimit) this.errors.push(err);
    } else if (!(err.fatal ?? isHardError(err.kind)) || !connected) {
      return;
    }
    this.soError = err.code;
    this.onError?.();
  }

  protected clearQueues(): void {
    this.queue = [];
    this.queued = 0;
    this.errors = [];
  }
}

/** Accounting size of a queued datagram (payload plus a fixed overhead, like skb truesize). */
function truesize(n: number): number {
  return n + 256;
}

/** Per-datagram overrides from sendmsg ancillary data (IP_PKTINFO, IP_TTL, IP_TOS and their IPv6 twins). */
export interface SendAncillary {
  /** Source address (ipi_spec_dst / ipi6_addr); the caller checks it is local. */
  src?: IpAddr;
  /** Interface to leave by (ipi_ifindex / ipi6_ifindex). */
  nicId?: number;
  ttl?: number;
  tos?: number;
}

export interface UdpOptions {
  /** Ephemeral port range, inclusive (Linux ip_local_port_range: 32768-60999). */
  ephemeralLow?: number;
  ephemeralHigh?: number;
  rcvBuf?: number;
}

const MAX_V4_PAYLOAD = 65535 - 20 - 8;
const MAX_V6_PAYLOAD = 65535 - 8;

export class UdpEndpoint extends DatagramEndpointBase {
  /** SO_REUSEADDR / SO_REUSEPORT: set before bind. */
  reuseAddr = false;
  reusePort = false;
  /** SO_BROADCAST: needed to send to a broadcast address (Linux answers EACCES otherwise). */
  broadcast = false;
  /** IP_TTL / IPV6_UNICAST_HOPS; null: the stack default. */
  ttl: number | null = null;
  tos = 0;
  /** Don't fragment (IP_PMTUDISC_DO): oversized sends fail with EMSGSIZE. */
  dontFragment = false;
  /** SO_BINDTODEVICE. */
  boundNic: number | undefined = undefined;
  /** Who made this socket (the filter's owner match, audit records). */
  owner: FlowOwner | undefined = undefined;
  /** @internal */ localAddr: IpAddr | null = null; // null: wildcard (actual family of the address)
  /** @internal */ localPort = 0;
  /** @internal */ remoteAddr: IpAddr | null = null; // unmapped
  /** @internal */ remotePort = 0;
  /** @internal the source address chosen at connect time */ connSrc: IpAddr | null = null;
  /** @internal */ bindSeq = 0;
  private _v6Only = false;
  private closed = false;

  constructor(
    private readonly proto: UdpProtocol,
    /** The socket's domain: 4 (AF_INET) or 6 (AF_INET6). */
    readonly family: 4 | 6,
    opts: DatagramEndpointOptions = {},
  ) {
    super(opts);
  }

  /** IPV6_V6ONLY; only before bind (Linux: EINVAL after). */
  get v6Only(): boolean {
    return this._v6Only;
  }
  setV6Only(on: boolean): NetResult<void> {
    if (this.family !== 6) return 'ENOPROTOOPT';
    if (this.localPort !== 0) return 'EINVAL';
    this._v6Only = on;
  }

  get bound(): boolean {
    return this.localPort !== 0;
  }
  get connected(): boolean {
    return this.remoteAddr !== null;
  }

  /** @internal Which address families this endpoint receives. */
  accepts(f: 4 | 6): boolean {
    if (this.localAddr) return this.localAddr.family === f;
    if (this.family === 4) return f === 4;
    return f === 6 || !this._v6Only;
  }

  /** Address as the socket reports it (v4-mapped on an IPv6 socket). */
  private present(a: IpAddr): IpAddr {
    return this.family === 6 && a.family === 4 ? a.mapToV6() : a;
  }

  localAddress(): { addr: IpAddr; port: number } {
    const a = this.connSrc ?? this.localAddr;
    return { addr: a ? this.present(a) : this.family === 4 ? IpAddr.ANY4 : IpAddr.ANY6, port: this.localPort };
  }
  remoteAddress(): { addr: IpAddr; port: number } | null {
    return this.remoteAddr ? { addr: this.present(this.remoteAddr), port: this.remotePort } : null;
  }

  /** Checks a socket-supplied address against the domain and unmaps v4-mapped ones. */
  private normalize(a: IpAddr): NetResult<IpAddr> {
    if (this.family === 4) return a.family === 4 ? a : 'EAFNOSUPPORT';
    if (a.family === 4) return 'EAFNOSUPPORT';
    const v4 = a.unmapV4();
    if (v4) return this._v6Only ? 'ENETUNREACH' : v4;
    return a;
  }

  /** bind(2). Port 0 picks an ephemeral port. */
  bind(addr: IpAddr | null, port: number): NetResult<void> {
    if (this.closed) return 'EINVAL';
    if (this.localPort !== 0) return 'EINVAL';
    if (!Number.isInteger(port) || port < 0 || port > 65535) return 'EINVAL';
    let local: IpAddr | null = null;
    if (addr && !addr.isUnspecified()) {
      const n = this.normalize(addr);
      if (isNetError(n)) return n === 'ENETUNREACH' ? 'EINVAL' : n;
      // Linux: a local unicast, a multicast group or a broadcast address.
      if (!n.isMulticast() && !this.proto.net.isLocalAddress(n) && !(n.family === 4 && this.proto.isBroadcastAddress(n))) {
        return 'EADDRNOTAVAIL';
      }
      local = n;
    } else if (addr && addr.family === 4 && this.family === 6) {
      return 'EAFNOSUPPORT';
    }
    return this.proto.bindEndpoint(this, local, port);
  }

  /** connect(2): fixes the peer, filters what is received, picks the source address. */
  connect(addr: IpAddr, port: number): NetResult<void> {
    if (this.closed) return 'EINVAL';
    if (port < 1 || port > 65535) return 'EINVAL';
    const dst = this.normalize(addr);
    if (isNetError(dst)) return dst;
    const r = this.proto.net.route(dst, this.localAddr, this.boundNic);
    if (isNetError(r)) return r;
    if (this.localPort === 0) {
      const b = this.proto.bindEndpoint(this, null, 0);
      if (isNetError(b)) return b;
    }
    this.remoteAddr = dst;
    this.remotePort = port;
    this.connSrc = this.localAddr ?? r.src;
    this.soError = null;
  }

  /** connect(AF_UNSPEC): back to unconnected; the port stays bound. */
  disconnect(): void {
    this.remoteAddr = null;
    this.remotePort = 0;
    this.connSrc = null;
  }

  /**
   * sendto(2)/send(2); returns the bytes sent. `to.nicId` is the interface to leave by (an IPv6
   * scope id, IP_PKTINFO's ifindex).
   */
  send(data: Uint8Array, to?: { addr: IpAddr; port: number; nicId?: number }, anc?: SendAncillary): NetResult<number> {
    if (this.closed) return 'EPIPE';
    let dst: IpAddr;
    let dport: number;
    if (to) {
      const n = this.normalize(to.addr);
      if (isNetError(n)) return n;
      if (to.port < 1 || to.port > 65535) return 'EINVAL';
      dst = n;
      dport = to.port;
    } else {
      if (!this.remoteAddr) return 'EDESTADDRREQ';
      // A pending ICMP error is reported by the next call on a connected socket (Linux).
      const e = this.takeError();
      if (e) return e;
      dst = this.remoteAddr;
      dport = this.remotePort;
    }
    if (data.length > (dst.family === 4 ? MAX_V4_PAYLOAD : MAX_V6_PAYLOAD)) return 'EMSGSIZE';
    if (dst.family === 4 && this.proto.isBroadcastAddress(dst) && !this.broadcast) return 'EACCES';
    if (this.localPort === 0) {
      const b = this.proto.bindEndpoint(this, null, 0);
      if (isNetError(b)) return b;
    }
    let src = anc?.src ?? (to ? this.localAddr : (this.connSrc ?? this.localAddr));
    if (src && (src.isMulticast() || (src.family === 4 && this.proto.isBroadcastAddress(src)))) src = null;
    if (src && src.family !== dst.family) return 'EINVAL';
    const nicId = anc?.nicId ?? to?.nicId ?? this.boundNic;
    const r = this.proto.net.route(dst, src, nicId);
    if (isNetError(r)) return r;
    const s = src ?? r.src;
    const header = new Uint8Array(UDP_HEADER);
    const len = UDP_HEADER + data.length;
    header[0] = this.localPort >>> 8;
    header[1] = this.localPort & 0xff;
    header[2] = dport >>> 8;
    header[3] = dport & 0xff;
    header[4] = len >>> 8;
    header[5] = len & 0xff;
    // CHECKSUM_PARTIAL: the pseudo-header sum; the stack (or the device) finishes it.
    const ps = foldSum(pseudoHeaderSum(s, dst, 17, len));
    header[6] = ps >>> 8;
    header[7] = ps & 0xff;
    const res = this.proto.net.sendIp({
      src: s,
      dst,
      protocol: 17,
      ttl: anc?.ttl ?? this.ttl ?? (dst.isMulticast() ? 1 : undefined),
      tos: anc?.tos ?? this.tos,
      dontFragment: this.dontFragment,
      header,
      payload: data,
      checksumOffset: 6,
      nicId,
      owner: this.owner,
    });
    if (isNetError(res)) return res;
    this.proto.stats.count('udp.sent');
    return data.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proto.unbind(this);
    this.clearQueues();
    this.onReadable = null;
    this.onError = null;
  }

  /** @internal */
  receive(d: IpDelivery, sport: number, data: Uint8Array): boolean {
    return this.enqueue({
      data: data.slice(),
      from: this.present(d.src),
      port: sport,
      dst: this.present(d.dst),
      ttl: d.ttl,
      tos: d.tos,
      nicId: d.nicId,
      receivedAt: this.proto.net.timers.now(),
    });
  }
}

export class UdpProtocol implements TransportProtocol {
  readonly protocol = 17;
  private readonly ports = new Map<number, UdpEndpoint[]>();
  private readonly low: number;
  private readonly high: number;
  private bindSeq = 0;
  private readonly rcvBuf: number | undefined;

  constructor(
    readonly net: NetworkLayer,
    readonly stats: Stats,
    /** Is this IPv4 address a limited or directed broadcast of one of our prefixes? */
    readonly isBroadcastAddress: (a: IpAddr) => boolean,
    opts: UdpOptions = {},
  ) {
    this.low = opts.ephemeralLow ?? 32768;
    this.high = opts.ephemeralHigh ?? 60999;
    this.rcvBuf = opts.rcvBuf;
  }

  /** A new, unbound endpoint of the given socket domain. */
  /** Who owns the socket bound to this local port (the audit of a local client's DNS query). */
  ownerOfLocal(port: number): FlowOwner | undefined {
    return this.ports.get(port)?.find((e) => e.owner)?.owner;
  }

  endpoint(family: 4 | 6, opts: DatagramEndpointOptions = {}): UdpEndpoint {
    return new UdpEndpoint(this, family, { rcvBuf: this.rcvBuf, ...opts });
  }

  /** @internal */
  bindEndpoint(ep: UdpEndpoint, local: IpAddr | null, port: number): NetResult<void> {
    const prevAddr = ep.localAddr;
    ep.localAddr = local;
    if (port === 0) {
      const span = this.high - this.low + 1;
      const start = this.net.rng.u32() % span;
      let found = 0;
      for (let i = 0; i < span; i++) {
        const p = this.low + ((start + i) % span);
        if (!this.conflicts(ep, p)) {
          found = p;
          break;
        }
      }
      if (found === 0) {
        ep.localAddr = prevAddr;
        return 'EADDRINUSE';
      }
      port = found;
    } else if (this.conflicts(ep, port)) {
      ep.localAddr = prevAddr;
      return 'EADDRINUSE';
    }
    ep.localPort = port;
    ep.bindSeq = ++this.bindSeq;
    const list = this.ports.get(port);
    if (list) list.push(ep);
    else this.ports.set(port, [ep]);
  }

  /** @internal */
  unbind(ep: UdpEndpoint): void {
    const list = this.ports.get(ep.localPort);
    if (!list) return;
    const i = list.indexOf(ep);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.ports.delete(ep.localPort);
  }

  /** Linux udp_lib_lport_inuse: overlapping addresses conflict unless both share by option. */
  private conflicts(ep: UdpEndpoint, port: number): boolean {
    const list = this.ports.get(port);
    if (!list) return false;
    for (const o of list) {
      if (o === ep) continue;
      if (ep.boundNic !== undefined && o.boundNic !== undefined && ep.boundNic !== o.boundNic) continue;
      if (!overlaps(ep, o)) continue;
      if (ep.reuseAddr && o.reuseAddr) continue;
      if (ep.reusePort && o.reusePort) continue;
      return true;
    }
    return false;
  }

  deliver(pkt: IpDelivery): DeliverVerdict {
    const p = pkt.payload;
    const s = this.stats;
    if (p.length < UDP_HEADER) {
      s.count('udp.dropped.short');
      return 'dropped';
    }
    const len = (p[4] << 8) | p[5];
    if (len < UDP_HEADER || len > p.length) {
      s.count('udp.dropped.bad-length');
      return 'dropped';
    }
    const seg = p.subarray(0, len);
    const csum = (p[6] << 8) | p[7];
    if (csum === 0) {
      // RFC 8200 §8.1: IPv6 receivers drop a zero UDP checksum; over IPv4 it means "none".
      if (pkt.src.family === 6) {
        s.count('udp.dropped.zero-checksum');
        return 'dropped';
      }
    } else if (!pkt.checksumVerified && foldSum(pseudoHeaderSum(pkt.src, pkt.dst, 17, len) + sumWords(seg)) !== 0xffff) {
      s.count('udp.dropped.bad-checksum');
      return 'dropped';
    }
    const sport = (p[0] << 8) | p[1];
    const dport = (p[2] << 8) | p[3];
    const data = seg.subarray(UDP_HEADER);
    const list = this.ports.get(dport);
    if (!list || list.length === 0) {
      s.count('udp.no-port');
      return 'no-endpoint';
    }
    if (pkt.multicastOrBroadcast) {
      // Linux __udp4_lib_mcast_deliver: every matching socket gets a copy.
      let n = 0;
      for (const ep of list) {
        if (score(ep, pkt.src, sport, pkt.dst, pkt.nicId, true) < 0) continue;
        n++;
        if (!ep.receive(pkt, sport, data)) s.count('udp.dropped.queue-full');
      }
      if (n === 0) s.count('udp.dropped.no-group-member');
      return n > 0 ? 'delivered' : 'dropped';
    }
    let best: UdpEndpoint | null = null;
    let bestScore = -1;
    let group: UdpEndpoint[] | null = null;
    for (const ep of list) {
      const sc = score(ep, pkt.src, sport, pkt.dst, pkt.nicId, false);
      if (sc < 0) continue;
      if (sc > bestScore || (sc === bestScore && best && ep.bindSeq > best.bindSeq && !ep.reusePort)) {
        best = ep;
        bestScore = sc;
        group = ep.reusePort ? [ep] : null;
      } else if (sc === bestScore && ep.reusePort && group) {
        group.push(ep);
      }
    }
    if (!best) {
      s.count('udp.no-port');
      return 'no-endpoint';
    }
    if (group && group.length > 1) {
      // SO_REUSEPORT: spread flows over the group by a hash of the source (Linux reuseport_select_sock).
      best = group[hashFlow(pkt.src, sport) % group.length];
    }
    if (!best.receive(pkt, sport, data)) {
      s.count('udp.dropped.queue-full');
      return 'dropped';
    }
    s.count('udp.delivered');
    return 'delivered';
  }

  deliverError(err: TransportError): void {
    if (err.quoted.length < 4) return this.stats.count('udp.error.short-quote');
    const sport = (err.quoted[0] << 8) | err.quoted[1];
    const dport = (err.quoted[2] << 8) | err.quoted[3];
    const list = this.ports.get(sport);
    if (!list) return this.stats.count('udp.error.no-endpoint');
    // The reverse lookup of the quoted datagram: it went from us (src) to the peer (dst).
    let best: UdpEndpoint | null = null;
    let bestScore = -1;
    for (const ep of list) {
      const sc = score(ep, err.dst, dport, err.src, undefined, false);
      if (sc > bestScore) {
        best = ep;
        bestScore = sc;
      }
    }
    if (!best) return this.stats.count('udp.error.no-endpoint');
    this.stats.count(`udp.error.${err.kind}`);
    best.reportError(err, best.connected);
  }
}

/** -1: no match; else higher is more specific (Linux compute_score). */
function score(ep: UdpEndpoint, src: IpAddr, sport: number, dst: IpAddr, nicId: number | undefined, multi: boolean): number {
  if (!ep.accepts(dst.family)) return -1;
  let sc = ep.family === dst.family ? 2 : 1;
  if (ep.localAddr) {
    if (!ep.localAddr.equals(dst)) return -1;
    sc += 4;
  }
  if (ep.remoteAddr) {
    if (!ep.remoteAddr.equals(src) || ep.remotePort !== sport) return -1;
    if (ep.connSrc && !multi && !ep.connSrc.equals(dst) && !ep.localAddr) return -1;
    sc += 8;
  }
  if (ep.boundNic !== undefined && nicId !== undefined) {
    if (ep.boundNic !== nicId) return -1;
    sc += 4;
  }
  return sc;
}

function overlaps(a: UdpEndpoint, b: UdpEndpoint): boolean {
  const fams: (4 | 6)[] = [4, 6];
  const shared = fams.some((f) => a.accepts(f) && b.accepts(f));
  if (!shared) return false;
  if (!a.localAddr || !b.localAddr) return true;
  return a.localAddr.equals(b.localAddr);
}

function hashFlow(a: IpAddr, port: number): number {
  let h = port * 2654435761;
  for (const b of a.bytes) h = Math.imul(h ^ b, 16777619);
  return h >>> 0;
}
