// ICMP echo endpoints with the semantics of Linux ping sockets (socket(AF_INET, SOCK_DGRAM,
// IPPROTO_ICMP) and the ICMPv6 twin, net/ipv4/ping.c): the stack owns the identifier, which is
// the endpoint's bound "port"; the user writes type/code/sequence/data; replies are matched by
// identifier. Read first: RFC 792 (echo), RFC 4443 §4.1-4.2, RFC 1122 §3.2.2.6.

import type { IpAddr } from './wire/ip-address.js';
import { foldSum, internetChecksum, pseudoHeaderSum, sumWords } from './wire/checksum.js';
import { isNetError, type NetResult } from './errors.js';
import type { FlowOwner, NetworkLayer, TransportError } from './transport.js';
import type { Stats } from './stats.js';
import { DatagramEndpointBase, type DatagramEndpointOptions } from './udp.js';
import type { EchoSink } from './icmp.js';

export class EchoEndpoint extends DatagramEndpointBase {
  /** IP_TTL / IPV6_UNICAST_HOPS; null: the stack default. */
  ttl: number | null = null;
  tos = 0;
  /** SO_BINDTODEVICE: requests leave through this NIC. */
  boundNic: number | undefined = undefined;
  /** Who made this socket (the filter's owner match, audit records). */
  owner: FlowOwner | undefined = undefined;
  /** @internal */ localAddr: IpAddr | null = null;
  /** @internal */ ident = 0;
  /** @internal */ remoteAddr: IpAddr | null = null;
  private closed = false;

  constructor(
    private readonly proto: EchoProtocol,
    readonly family: 4 | 6,
    opts: DatagramEndpointOptions = {},
  ) {
    super(opts);
  }

  /** The identifier used in requests (the socket's "port"); 0 until bound. */
  get id(): number {
    return this.ident;
  }
  get connected(): boolean {
    return this.remoteAddr !== null;
  }

  /** bind(2): `id` 0 picks a free identifier. */
  bind(addr: IpAddr | null, id = 0): NetResult<void> {
    if (this.closed || this.ident !== 0) return 'EINVAL';
    if (!Number.isInteger(id) || id < 0 || id > 65535) return 'EINVAL';
    let local: IpAddr | null = null;
    if (addr && !addr.isUnspecified()) {
      if (addr.family !== this.family) return 'EAFNOSUPPORT';
      if (!this.proto.net.isLocalAddress(addr)) return 'EADDRNOTAVAIL';
      local = addr;
    }
    return this.proto.bindEndpoint(this, local, id);
  }

  connect(addr: IpAddr): NetResult<void> {
    if (this.closed) return 'EINVAL';
    if (addr.family !== this.family) return 'EAFNOSUPPORT';
    const r = this.proto.net.route(addr, this.localAddr);
    if (isNetError(r)) return r;
    if (this.ident === 0) {
      const b = this.proto.bindEndpoint(this, null, 0);
      if (isNetError(b)) return b;
    }
    this.remoteAddr = addr;
  }

  disconnect(): void {
    this.remoteAddr = null;
  }

  /**
   * Sends an echo request. `msg` is the ICMP message as the user writes it: type (must be echo
   * request), code 0, then identifier (overwritten with ours), sequence and data; at least 8 bytes.
   */
  send(msg: Uint8Array, to?: IpAddr, nicId?: number): NetResult<number> {
    if (this.closed) return 'EPIPE';
    if (msg.length < 8) return 'EINVAL';
    const dst = to ?? this.remoteAddr;
    if (!dst) return 'EDESTADDRREQ';
    if (dst.family !== this.family) return 'EAFNOSUPPORT';
    if (msg[0] !== (this.family === 4 ? 8 : 128) || msg[1] !== 0) return 'EINVAL';
    if (msg.length > 65535 - (this.family === 4 ? 20 : 0)) return 'EMSGSIZE';
    if (!to) {
      const e = this.takeError();
      if (e) return e;
    }
    if (this.ident === 0) {
      const b = this.proto.bindEndpoint(this, null, 0);
      if (isNetError(b)) return b;
    }
    const via = nicId ?? this.boundNic;
    const r = this.proto.net.route(dst, this.localAddr, via);
    if (isNetError(r)) return r;
    const src = this.localAddr ?? r.src;
    const header = msg.slice(0, 8);
    header[2] = 0;
    header[3] = 0;
    header[4] = this.ident >>> 8;
    header[5] = this.ident & 0xff;
    const data = msg.subarray(8);
    const c =
      this.family === 4
        ? internetChecksum(header, data)
        : ~foldSum(pseudoHeaderSum(src, dst, 58, msg.length) + sumWords(header) + sumWords(data)) & 0xffff;
    header[2] = c >>> 8;
    header[3] = c & 0xff;
    const res = this.proto.net.sendIp({
      src,
      dst,
      protocol: this.family === 4 ? 1 : 58,
      ttl: this.ttl ?? undefined,
      tos: this.tos,
      header,
      payload: data,
      nicId: via,
      owner: this.owner,
    });
    if (isNetError(res)) return res;
    this.proto.stats.count(`echo${this.family}.sent`);
    return msg.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proto.unbind(this);
    this.clearQueues();
  }
}

/** The ping-socket table of one family. */
export class EchoProtocol implements EchoSink {
  private readonly byId = new Map<number, EchoEndpoint[]>();
  private next: number;

  constructor(
    readonly family: 4 | 6,
    readonly net: NetworkLayer,
    readonly stats: Stats,
  ) {
    this.next = (net.rng.u32() % 65535) + 1;
  }

  endpoint(opts: DatagramEndpointOptions = {}): EchoEndpoint {
    return new EchoEndpoint(this, this.family, opts);
  }

  /** @internal */
  bindEndpoint(ep: EchoEndpoint, local: IpAddr | null, id: number): NetResult<void> {
    if (id === 0) {
      for (let i = 0; i < 65535; i++) {
        const cand = this.next;
        this.next = (this.next % 65535) + 1;
        if (!this.inUse(cand, local)) {
          id = cand;
          break;
        }
      }
      if (id === 0) return 'EADDRINUSE';
    } else if (this.inUse(id, local)) return 'EADDRINUSE';
    ep.localAddr = local;
    ep.ident = id;
    const list = this.byId.get(id);
    if (list) list.push(ep);
    else this.byId.set(id, [ep]);
  }

  private inUse(id: number, local: IpAddr | null): boolean {
    const list = this.byId.get(id);
    if (!list) return false;
    return list.some((o) => !o.localAddr || !local || o.localAddr.equals(local));
  }

  /** @internal */
  unbind(ep: EchoEndpoint): void {
    const list = this.byId.get(ep.ident);
    if (!list) return;
    const i = list.indexOf(ep);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byId.delete(ep.ident);
  }

  private find(id: number, local: IpAddr, remote: IpAddr): EchoEndpoint | null {
    const list = this.byId.get(id);
    if (!list) return null;
    for (const ep of list) {
      if (ep.localAddr && !ep.localAddr.equals(local)) continue;
      if (ep.remoteAddr && !ep.remoteAddr.equals(remote)) continue;
      return ep;
    }
    return null;
  }

  deliverReply(src: IpAddr, dst: IpAddr, msg: Uint8Array, ttl: number, nicId: number): boolean {
    const id = (msg[4] << 8) | msg[5];
    const ep = this.find(id, dst, src);
    if (!ep) return false;
    if (!ep.enqueue({ data: msg.slice(), from: src, port: id, dst, ttl, tos: 0, nicId, receivedAt: this.net.timers.now() })) {
      this.stats.count(`echo${this.family}.dropped.queue-full`);
    }
    return true;
  }

  deliverError(err: TransportError): void {
    if (err.quoted.length < 6) return;
    const id = (err.quoted[4] << 8) | err.quoted[5];
    const ep = this.find(id, err.src, err.dst);
    if (!ep) return this.stats.count(`echo${this.family}.error.no-endpoint`);
    ep.reportError(err, ep.connected);
  }
}

