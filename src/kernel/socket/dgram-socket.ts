// SOCK_DGRAM sockets: UDP (udp(7)) and ICMP echo "ping sockets" (socket(AF_INET, SOCK_DGRAM,
// IPPROTO_ICMP), icmp(7)), over moat's UdpEndpoint / EchoEndpoint. Datagram boundaries,
// MSG_TRUNC, MSG_PEEK, the error queue (IP_RECVERR, MSG_ERRQUEUE) and ancillary data
// (IP_PKTINFO, IP_TTL, IP_TOS and the IPv6 ones, RFC 3542) follow Linux.
// Read first: RFC 768, RFC 3542 §6; Linux net/ipv4/udp.c (udp_sendmsg, udp_recvmsg, udp_ioctl),
// net/ipv4/ping.c, net/ipv4/ip_sockglue.c (ip_cmsg_send, ip_cmsg_recv, ip_recv_error),
// net/core/datagram.c (datagram_poll).

import { IpAddr } from '../../netstack/wire/ip-address.js';
import { isNetError, type NetError } from '../../netstack/errors.js';
import type { Datagram, EchoEndpoint, FlowOwner, SendAncillary, TransportError, UdpEndpoint } from '../../netstack/index.js';
import {
  cmsgsForUser, cmsgsValid, decodeCmsgs, decodeIn6Pktinfo, decodeInPktinfo, encodeIn6Pktinfo, encodeInPktinfo, encodeInt,
  encodeSockExtendedErr, readI32, SO_EE_ORIGIN, type Cmsg, type SockoptSpec,
} from '../sockopt-codec.js';
import {
  bindImpliesV6only, encodeSockaddr, parseBindAddr, parseConnectAddr, parseSendtoAddr, sendmsgNameLen, type SockAddr,
} from '../sockaddr.js';
import { errnoOf } from '../errno.js';
import { IOCTL, IPOPT, IPPROTO, IPV6OPT, MSG, POLL, SOCK, SOL } from '../socket-abi.js';
import { InetSocket, type SocketHost } from './socket.js';
import type { IoContext, RecvResult, Result } from './types.js';
import { concatBytes } from '../../netstack/wire/bytes.js';

type DgramEndpoint = UdpEndpoint | EchoEndpoint;

export class DgramSocket extends InetSocket {
  readonly kind: 'dgram' | 'ping';
  private readonly ep: DgramEndpoint;
  private shutRd = false;
  private shutWr = false;
  /** MSG_MORE: data held until a send without it (udp_sendmsg's corked datagram). */
  private corked: { parts: Uint8Array[]; to: { addr: IpAddr; port: number; nicId?: number } | undefined } | null = null;

  constructor(host: SocketHost, domain: number, kind: 'dgram' | 'ping') {
    const family = domain === 10 ? 6 : 4;
    const protocol = kind === 'ping' ? (family === 6 ? IPPROTO.IPPROTO_ICMPV6 : IPPROTO.IPPROTO_ICMP) : IPPROTO.IPPROTO_UDP;
    super(host, domain, SOCK.SOCK_DGRAM, protocol);
    this.kind = kind;
    const stack = host.stack;
    const opts = { rcvBuf: host.config.rmemDefault };
    this.ep = kind === 'ping' ? (family === 6 ? stack.echo6 : stack.echo4).endpoint(opts) : stack.udp.endpoint(family, opts);
    if (this.ep.family === 6 && 'setV6Only' in this.ep && host.config.bindv6only) this.ep.setV6Only(true);
    const wake = (): void => this.wq.wake();
    this.ep.onReadable = wake;
    this.ep.onError = wake;
  }

  private get udp(): UdpEndpoint | null {
    return this.kind === 'dgram' ? (this.ep as UdpEndpoint) : null;
  }
  private get v6only(): boolean {
    return this.udp?.v6Only ?? false;
  }

  protected get hasLocalPort(): boolean {
    return this.udp ? this.udp.bound : (this.ep as EchoEndpoint).id !== 0;
  }

  // ---------------------------------------------------------------- addresses

  localName(): SockAddr {
    const u = this.udp;
    if (u) {
      const l = u.localAddress();
      return this.sockaddr(l.addr, l.port);
    }
    const e = this.ep as EchoEndpoint;
    return this.sockaddr(e.localAddr, e.id);
  }

  peerName(): Result<SockAddr> {
    const u = this.udp;
    if (u) {
      const r = u.remoteAddress();
      return r ? this.sockaddr(r.addr, r.port) : 'ENOTCONN';
    }
    const e = this.ep as EchoEndpoint;
    return e.remoteAddr ? this.sockaddr(e.remoteAddr, 0) : 'ENOTCONN';
  }

  /** An address as the endpoint takes it: IPv6 sockets want IPv6 (v4 as v4-mapped). */
  private forEndpoint(a: IpAddr): IpAddr {
    return this.family === 6 && a.family === 4 ? a.mapToV6() : a;
  }

  bind(bytes: Uint8Array): Result<0> {
    const p = parseBindAddr(this.familyName, bytes, this.kind);
    if (!p.ok) return p.errno;
    const sa = p.sa;
    if (this.hasLocalPort) return 'EINVAL';
    if (sa.family === 'AF_INET6' && sa.addr.isLinkLocal() && !sa.scopeId) return 'EINVAL';
    if (this.kind === 'dgram' && sa.port !== 0 && sa.port < 1024 && !this.host.config.privileged) return 'EACCES';
    const u = this.udp;
    if (u) {
      const implied = bindImpliesV6only(sa) && !u.v6Only;
      if (implied) u.setV6Only(true);
      const r = u.bind(sa.addr.isUnspecified() && this.family === 6 && sa.family === 'AF_INET' ? IpAddr.ANY6 : sa.addr, sa.port);
      if (isNetError(r)) {
        if (implied) u.setV6Only(false);
        return r as Result<0>;
      }
      return 0;
    }
    const r = (this.ep as EchoEndpoint).bind(sa.addr.isUnspecified() ? null : sa.addr, sa.port);
    return isNetError(r) ? (r as Result<0>) : 0;
  }

  async connect(bytes: Uint8Array, _io: IoContext): Promise<Result<0>> {
    const p = parseConnectAddr(this.familyName, this.kind, bytes, this.v6only);
    if (!p.ok) return p.errno;
    if ('unspec' in p) {
      this.ep.disconnect();
      this.wq.wake();
      return 0;
    }
    let dst = this.forEndpoint(p.sa.addr);
    if (dst.isUnspecified()) dst = dst.family === 4 ? IpAddr.parse('127.0.0.1') : IpAddr.parse('::1');
    const u = this.udp;
    const r = u ? u.connect(dst, p.sa.port) : (this.ep as EchoEndpoint).connect(dst);
    this.wq.wake();
    return isNetError(r) ? (r as Result<0>) : 0;
  }

  listen(_backlog: number): Result<0> {
    return 'EOPNOTSUPP';
  }
  async accept(_io: IoContext): Promise<Result<InetSocket>> {
    return 'EOPNOTSUPP';
  }

  // ---------------------------------------------------------------- data

  async sendmsg(data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null, _io: IoContext): Promise<Result<number>> {
    if (this.shutWr) return 'EPIPE';
    let to: { addr: IpAddr; port: number; nicId?: number } | undefined;
    const nameLen = name ? sendmsgNameLen(name.length) : 0;
    if (name && nameLen) {
      const p = parseSendtoAddr(this.familyName, this.kind === 'ping' ? 'ping' : 'udp', name.subarray(0, nameLen), this.v6only);
      if (!p.ok) return p.errno;
      if (!('unspec' in p)) to = { addr: this.forEndpoint(p.sa.addr), port: p.sa.port, nicId: p.sa.scopeId || undefined };
    }
    const anc = control && control.length > 0 ? this.parseControl(control) : {};
    if (typeof anc === 'string') return anc;
    const u = this.udp;
    if (!u) {
      const e = this.ep as EchoEndpoint;
      const r = e.send(data, to?.addr, anc.nicId ?? to?.nicId);
      return isNetError(r) ? (r as Result<number>) : r;
    }
    if (!to && !u.connected && !this.corked) return 'EDESTADDRREQ';
    if (flags & MSG.MSG_MORE || this.corked) {
      this.corked ??= { parts: [], to };
      this.corked.parts.push(data.slice());
      if (flags & MSG.MSG_MORE) return data.length;
      const c = this.corked;
      this.corked = null;
      const all = concatBytes(c.parts);
      const r = u.send(all, c.to, anc);
      return isNetError(r) ? (r as Result<number>) : data.length;
    }
    const r = u.send(data, to, anc);
    return isNetError(r) ? (r as Result<number>) : r;
  }

  /** ip_cmsg_send / ip6_datagram_send_ctl: per-datagram source, interface, TTL and TOS. */
  private parseControl(control: Uint8Array): Result<SendAncillary> {
    if (!cmsgsValid(control)) return 'EINVAL';
    const out: SendAncillary = {};
    for (const m of decodeCmsgs(control)) {
      if (m.level === SOL.SOL_IP) {
        switch (m.type) {
          case IPOPT.IP_PKTINFO: {
            const p = decodeInPktinfo(m.data);
            if (!p) return 'EINVAL';
            if (p.ifindex) out.nicId = p.ifindex;
            const src = IpAddr.read(4, p.specDst, 0);
            if (!src.isUnspecified()) {
              // A source the host does not have fails its route lookup (ip_route_output: ENETUNREACH).
              if (!this.host.stack.isLocalAddress(src)) return 'ENETUNREACH';
              out.src = this.forEndpoint(src);
            }
            break;
          }
          case IPOPT.IP_TTL: {
            if (m.data.length !== 4) return 'EINVAL';
            const v = readI32(m.data, 0);
            if (v < 1 || v > 255) return 'EINVAL';
            out.ttl = v;
            break;
          }
          case IPOPT.IP_TOS: {
            const v = m.data.length === 4 ? readI32(m.data, 0) : m.data.length === 1 ? m.data[0]! : -1;
            if (v < 0 || v > 255) return 'EINVAL';
            out.tos = v;
            break;
          }
          default:
            return 'EINVAL';
        }
      } else if (m.level === SOL.SOL_IPV6) {
        if (this.family !== 6) return 'EINVAL';
        switch (m.type) {
          case IPV6OPT.IPV6_PKTINFO: {
            const p = decodeIn6Pktinfo(m.data);
            if (!p) return 'EINVAL';
            if (p.ifindex) out.nicId = p.ifindex;
            const src = IpAddr.read(6, p.addr, 0);
            if (!src.isUnspecified()) {
              if (!this.host.stack.isLocalAddress(src.unmapV4() ?? src)) return 'EINVAL';
              out.src = src;
            }
            break;
          }
          case IPV6OPT.IPV6_HOPLIMIT: case IPV6OPT.IPV6_TCLASS: {
            if (m.data.length !== 4) return 'EINVAL';
            const v = readI32(m.data, 0);
            if (v < -1 || v > 255) return 'EINVAL';
            if (v >= 0) {
              if (m.type === IPV6OPT.IPV6_HOPLIMIT) out.ttl = v;
              else out.tos = v;
            }
            break;
          }
          default:
            return 'EINVAL';
        }
      } else if (m.level === SOL.SOL_SOCKET) {
        return 'EINVAL';
      }
    }
    return out;
  }

  async recvmsg(len: number, flags: number, controllen: number, io0: IoContext): Promise<Result<RecvResult>> {
    const io = flags & MSG.MSG_DONTWAIT ? { ...io0, nonblock: true } : io0;
    if (flags & MSG.MSG_ERRQUEUE) return this.recvError(len, controllen);
    if (flags & MSG.MSG_OOB) return 'EOPNOTSUPP';
    const peek = (flags & MSG.MSG_PEEK) !== 0;
    for (;;) {
      // A pending error is reported first, also to MSG_PEEK (sock_error in __skb_recv_udp).
      if (this.ep.hasSoError) return this.takeSoError() as Result<RecvResult>;
      const d = peek ? this.ep.peek() : (() => {
        const r = this.ep.recv();
        return isNetError(r) ? null : r;
      })();
      if (d) return this.deliver(d, len, flags, controllen);
      if (this.shutRd) return { data: new Uint8Array(0), ret: 0, msgFlags: 0 };
      if (io.nonblock) return 'EAGAIN';
      const o = await this.wait(() => this.ep.readable || this.shutRd || this.ep.hasSoError, this.rcvTimeoJiffies, io);
      if (o === 'timeout') return 'EAGAIN';
      if (o === 'intr') return 'EINTR';
    }
  }

  private deliver(d: Datagram, len: number, flags: number, controllen: number): RecvResult {
    const full = d.data.length;
    const n = Math.min(len, full);
    let msgFlags = n < full ? MSG.MSG_TRUNC : 0;
    const out: RecvResult = { data: d.data.subarray(0, n), ret: flags & MSG.MSG_TRUNC ? full : n, msgFlags };
    out.name = encodeSockaddr(this.sockaddr(d.from, this.kind === 'ping' ? 0 : d.port));
    const cmsgs = this.recvCmsgs(d);
    if (cmsgs.length > 0) {
      const c = cmsgsForUser(cmsgs, controllen);
      out.control = c.bytes;
      if (c.ctrunc) msgFlags |= MSG.MSG_CTRUNC;
    }
    out.msgFlags = msgFlags;
    return out;
  }

  /** ip_cmsg_recv's fixed order (PKTINFO, TTL, TOS), then the IPv6 ones (RFC 3542 §6). */
  private recvCmsgs(d: Datagram): Cmsg[] {
    const out: Cmsg[] = [];
    const on = (name: string): boolean => this.ints.get(name) === 1;
    const v4 = d.dst.family === 4 || d.dst.isV4Mapped();
    if (v4) {
      const dst4 = d.dst.unmapV4() ?? d.dst;
      if (on('IP_PKTINFO')) {
        out.push({ level: SOL.SOL_IP, type: IPOPT.IP_PKTINFO, data: encodeInPktinfo({ ifindex: d.nicId, specDst: this.specDst(dst4, d.nicId).bytes, addr: dst4.bytes }) });
      }
      if (on('IP_RECVTTL')) out.push({ level: SOL.SOL_IP, type: IPOPT.IP_TTL, data: encodeInt(d.ttl) });
      if (on('IP_RECVTOS')) out.push({ level: SOL.SOL_IP, type: IPOPT.IP_TOS, data: Uint8Array.of(d.tos & 0xff) });
    }
    if (this.family === 6) {
      if (on('IPV6_RECVPKTINFO')) out.push({ level: SOL.SOL_IPV6, type: IPV6OPT.IPV6_PKTINFO, data: encodeIn6Pktinfo({ addr: d.dst.family === 6 ? d.dst.bytes : d.dst.mapToV6().bytes, ifindex: d.nicId }) });
      if (!v4 || d.dst.isV4Mapped()) {
        if (on('IPV6_RECVHOPLIMIT')) out.push({ level: SOL.SOL_IPV6, type: IPV6OPT.IPV6_HOPLIMIT, data: encodeInt(d.ttl) });
        if (on('IPV6_RECVTCLASS')) out.push({ level: SOL.SOL_IPV6, type: IPV6OPT.IPV6_TCLASS, data: encodeInt(d.tos & 0xff) });
      }
    }
    return out;
  }

  /** ipi_spec_dst: the local address that answers (the destination if it is ours, else the interface's). */
  private specDst(dst: IpAddr, nicId: number): IpAddr {
    if (this.host.stack.isLocalAddress(dst) && !dst.isMulticast()) return dst;
    const r = this.host.stack.route(dst, null, nicId);
    return isNetError(r) ? IpAddr.ANY4 : r.src;
  }

  /** MSG_ERRQUEUE (ip_recv_error): the offending datagram's payload, its destination, and IP_RECVERR. */
  private recvError(len: number, controllen: number): Result<RecvResult> {
    const e = this.ep.readErrorQueue();
    if (!e) return 'EAGAIN';
    const payload = this.kind === 'ping' ? e.quoted : e.quoted.subarray(Math.min(8, e.quoted.length));
    const n = Math.min(len, payload.length);
    let msgFlags = MSG.MSG_ERRQUEUE | (n < payload.length ? MSG.MSG_TRUNC : 0);
    const dport = this.kind === 'ping' || e.quoted.length < 4 ? 0 : (e.quoted[2]! << 8) | e.quoted[3]!;
    const out: RecvResult = { data: payload.subarray(0, n), ret: n, msgFlags, name: encodeSockaddr(this.sockaddr(e.dst, dport)) };
    const c = cmsgsForUser([this.extendedErr(e)], controllen);
    out.control = c.bytes;
    if (c.ctrunc) msgFlags |= MSG.MSG_CTRUNC;
    out.msgFlags = msgFlags;
    return out;
  }

  private extendedErr(e: TransportError): Cmsg {
    const v6 = e.from.family === 6;
    const offender = encodeSockaddr(v6 || this.family === 6 ? { family: 'AF_INET6', addr: this.forEndpoint(e.from), port: 0, flowinfo: 0, scopeId: 0 } : { family: 'AF_INET', addr: e.from, port: 0 });
    const data = encodeSockExtendedErr({
      errno: errnoOf(e.code),
      origin: v6 ? SO_EE_ORIGIN.ICMP6 : SO_EE_ORIGIN.ICMP,
      type: e.icmpType, code: e.icmpCode, info: e.mtu ?? 0, data: 0, offender,
    });
    return this.family === 6 && (v6 || this.domain === 10)
      ? { level: SOL.SOL_IPV6, type: IPV6OPT.IPV6_RECVERR, data }
      : { level: SOL.SOL_IP, type: IPOPT.IP_RECVERR, data };
  }

  shutdown(how: number): Result<0> {
    if (how < 0 || how > 2) return 'EINVAL';
    const connected = this.udp ? this.udp.connected : (this.ep as EchoEndpoint).connected;
    if (how !== 1) this.shutRd = true;
    if (how !== 0) this.shutWr = true;
    this.wq.wake();
    return connected ? 0 : 'ENOTCONN';
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ep.onReadable = null;
    this.ep.onError = null;
    this.ep.close();
    this.wq.wake();
  }

  poll(): number {
    let mask = 0;
    if (this.ep.hasError) mask |= POLL.POLLERR;
    if (this.shutRd) mask |= POLL.POLLRDHUP | POLL.POLLIN | POLL.POLLRDNORM;
    if (this.shutRd && this.shutWr) mask |= POLL.POLLHUP;
    if (this.ep.readable) mask |= POLL.POLLIN | POLL.POLLRDNORM;
    mask |= POLL.POLLOUT | POLL.POLLWRNORM | POLL.POLLWRBAND;
    return mask;
  }

  ioctlInt(req: number): Result<number> {
    switch (req) {
      case IOCTL.FIONREAD: {
        const d = this.ep.peek();
        return d ? d.data.length : 0;
      }
      case IOCTL.SIOCOUTQ:
        return 0;
      default:
        return 'ENOTTY';
    }
  }

  protected takeSoError(): NetError | null {
    return this.ep.takeError();
  }

  protected override pathMtu(): number | null {
    const u = this.udp;
    const remote = u ? u.remoteAddress()?.addr : (this.ep as EchoEndpoint).remoteAddr;
    if (!remote) return null;
    const dst = remote.unmapV4() ?? remote;
    const r = this.host.stack.route(dst, null, this.boundNicId);
    return isNetError(r) ? null : r.mtu;
  }

  // ---------------------------------------------------------------- options

  protected override intValue(spec: SockoptSpec): Result<number> {
    if (spec.name === 'IPV6_V6ONLY') return this.v6only ? 1 : 0;
    return super.intValue(spec);
  }

  protected override applyInt(name: string, v: number): Result<0> {
    const ep = this.ep;
    const u = this.udp;
    switch (name) {
      case 'SO_REUSEADDR': if (u) u.reuseAddr = v !== 0; break;
      case 'SO_REUSEPORT': if (u) u.reusePort = v !== 0; break;
      case 'SO_BROADCAST': if (u) u.broadcast = v !== 0; break;
      case 'SO_RCVBUF': ep.rcvBuf = v; break;
      case 'SO_BINDTODEVICE': ep.boundNic = v === 0 ? undefined : v; break;
      case 'IP_TTL': if (this.family === 4 || !ep.ttl) ep.ttl = v; break;
      case 'IPV6_UNICAST_HOPS': ep.ttl = v; break;
      case 'IP_TOS': case 'IPV6_TCLASS': ep.tos = v; break;
      case 'IP_RECVERR': case 'IPV6_RECVERR': ep.recvErr = v !== 0; break;
      case 'IP_MTU_DISCOVER': case 'IPV6_MTU_DISCOVER': if (u) u.dontFragment = v === 2 || v === 3; break;
      case 'IPV6_V6ONLY': {
        if (!u) return 'ENOPROTOOPT';
        const r = u.setV6Only(v !== 0);
        if (isNetError(r)) return r as Result<0>;
        break;
      }
    }
    return 0;
  }

  setOwner(owner: FlowOwner): void {
    this.ep.owner = owner;
  }
}
