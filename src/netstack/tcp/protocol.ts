// TCP as a TransportProtocol (protocol 6): demultiplexing to connections and listeners
// (RFC 9293 §3.10.7), replies for segments that match nothing (§3.10.7.1), ICMP errors
// (RFC 1122 §4.2.3.9, RFC 5927 §4 sequence check, RFC 1191/8201 PMTU), the bind table with
// Linux's SO_REUSEADDR / SO_REUSEPORT rules, ephemeral ports, stack-wide limits and counters.

import type { NetError, NetResult } from '../errors.js';
import { isNetError } from '../errors.js';
import type { Timer, TimerQueue } from '../timers.js';
import type { DeliverVerdict, FlowOwner, IpDelivery, NetworkLayer, TransportError, TransportProtocol } from '../transport.js';
import { IpAddr } from '../wire/ip-address.js';
import { seqAdd, seqGe, seqLt } from '../wire/seq.js';
import type { Rng } from '../random.js';
import { decodeSegment, encodeSegment, TCP_CHECKSUM_OFFSET } from './codec.js';
import { TcpEndpoint } from './endpoint.js';
import { IsnGenerator } from './isn.js';
import { Listener } from './listener.js';
import { DEFAULT_STACK_CONFIG, type EndpointOptions, type TcpStackConfig } from './options.js';
import { segmentArrives } from './receiver.js';
import { ACK, EMPTY, RST, SYN, segLen, type Segment } from './segment.js';
import { TcpState } from './state.js';
import { output } from './sender.js';

export function newTcpStats() {
  return {
    segsIn: 0,
    segsOut: 0,
    badChecksum: 0,
    malformed: 0,
    multicastDrops: 0,
    noEndpoint: 0,
    resetsSent: 0,
    resetsReceived: 0,
    activeOpens: 0,
    passiveOpens: 0,
    attemptFails: 0,
    estabResets: 0,
    rtos: 0,
    fastRetransmits: 0,
    tailLossProbes: 0,
    gsoSends: 0,
    tlpRecoveries: 0,
    spuriousUndos: 0,
    timeouts: 0,
    keepaliveTimeouts: 0,
    zeroWindowProbes: 0,
    zeroWindowDrops: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    pawsDrops: 0,
    outOfWindow: 0,
    oowAcksSuppressed: 0,
    ackOfUnsent: 0,
    synCookiesSent: 0,
    synCookiesValid: 0,
    synCookiesFailed: 0,
    listenOverflows: 0,
    listenDrops: 0,
    connLimitHits: 0,
    memoryLimitHits: 0,
    oooDrops: 0,
    /** Segments whose data (or part of it) lay beyond the receive buffer and was dropped. */
    rcvQueueDrops: 0,
    timeWaitReopened: 0,
    timeWaitReused: 0,
    timeWaitRstIgnored: 0,
    icmpErrors: 0,
    icmpOutOfWindow: 0,
    pmtuUpdates: 0,
    sendErrors: 0,
    noRoute: 0,
  };
}
export type TcpStats = ReturnType<typeof newTcpStats>;


/** RFC 5961 §7: challenge ACKs per second, stack-wide (Linux tcp_challenge_ack_limit). */
const CHALLENGE_ACK_LIMIT = 1000;

function connKey(local: IpAddr, lport: number, remote: IpAddr, rport: number): string {
  return `${local.key}|${lport}|${remote.key}|${rport}`;
}

export class TcpProtocol implements TransportProtocol {
  readonly protocol = 6;
  readonly config: TcpStackConfig;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  readonly isn: IsnGenerator;
  readonly cookies: IsnGenerator;
  readonly stats: TcpStats = newTcpStats();
  /** Connections by 4-tuple (every state but LISTEN and CLOSED). */
  readonly conns = new Map<string, TcpEndpoint>();
  /** Bound endpoints by local port (listeners, connections, TIME_WAIT, bound-only). */
  readonly binds = new Map<number, Set<TcpEndpoint>>();
  readonly listeners = new Map<number, TcpEndpoint[]>();
  connCount = 0;
  /** Buffered bytes (send and receive queues) over all endpoints. */
  memory = 0;
  oooMemory = 0;
  private dirty: TcpEndpoint[] = [];
  private flushing = false;
  private challengeWindow = -1;
  private challengeCount = 0;
  /** Sequence numbers to start above when a TIME_WAIT pair is reopened (RFC 6191). */
  private twSeq = new Map<string, number>();

  constructor(
    readonly net: NetworkLayer,
    config?: Partial<TcpStackConfig>,
  ) {
    this.config = { ...DEFAULT_STACK_CONFIG, ...config };
    this.timers = net.timers;
    this.rng = net.rng;
    this.isn = new IsnGenerator(net.rng);
    this.cookies = new IsnGenerator(net.rng);
  }

  now(): number {
    return this.timers.now();
  }

  /** A new endpoint (a socket) on this stack. */
  endpoint(opts?: Partial<EndpointOptions>): TcpEndpoint {
    return new TcpEndpoint(this, opts);
  }

  // ------------------------------------------------------------------ input

  deliver(pkt: IpDelivery): DeliverVerdict {
    this.stats.segsIn++;
    if (pkt.multicastOrBroadcast) {
      this.stats.multicastDrops++; // RFC 9293 §3.9.1.1 note: TCP is unicast only
      return 'dropped';
    }
    const seg = decodeSegment(pkt.payload, pkt.src, pkt.dst, pkt.checksumVerified);
    if (typeof seg === 'string') {
      if (seg === 'bad-checksum') this.stats.badChecksum++;
      else this.stats.malformed++;
      return 'dropped';
    }
    try {
      return this.dispatch(seg, pkt);
    } finally {
      this.flushEvents();
    }
  }

  private dispatch(seg: Segment, pkt: IpDelivery): DeliverVerdict {
    const ep = this.conns.get(connKey(pkt.dst, seg.dstPort, pkt.src, seg.srcPort));
    if (ep) {
      if (!segmentArrives(ep, seg)) return 'delivered';
    }
    const l = this.findListener(pkt.dst, seg.dstPort, pkt.src, seg.srcPort);
    if (l) {
      l.listener!.onSegment(seg, pkt);
      return 'delivered';
    }
    // RFC 9293 §3.10.7.1: a segment for no connection draws a RST (unless it is one).
    this.stats.noEndpoint++;
    if (!(seg.flags & RST)) this.replyRst(pkt.dst, pkt.src, seg);
    return 'dropped';
  }

  /** Data or FIN riding on a SYN-ACK: processed as a normal segment once established. */
  reprocessAfterSyn(ep: TcpEndpoint, seg: Segment): void {
    const rest: Segment = { ...seg, flags: seg.flags & ~SYN, seq: seqAdd(seg.seq, 1) };
    segmentArrives(ep, rest);
  }

  deliverError(err: TransportError): void {
    this.stats.icmpErrors++;
    const q = err.quoted;
    if (q.length < 8) return;
    const sport = (q[0] << 8) | q[1];
    const dport = (q[2] << 8) | q[3];
    const seq = ((q[4] << 24) | (q[5] << 16) | (q[6] << 8) | q[7]) >>> 0;
    const ep = this.conns.get(connKey(err.src, sport, err.dst, dport));
    if (!ep) return;
    // RFC 5927 §4.1: the quoted sequence number must be one we have in flight.
    if (!(seqGe(seq, ep.sndUna) && seqLt(seq, ep.sndNxt)) && !(ep.state === TcpState.SYN_SENT && seq === ep.iss)) {
      this.stats.icmpOutOfWindow++;
      return;
    }
    try {
      if (err.kind === 'fragmentation-needed') {
        if (err.mtu && err.mtu >= 68) this.pmtuUpdate(ep, err.mtu);
        return;
      }
      if (ep.state === TcpState.SYN_SENT) {
        // RFC 1122 §4.2.3.9 calls net/host unreachable soft, but Linux (tcp_v4_err and
        // tcp_v6_err) ends a SYN_SENT socket on every ICMP error it accepts: unreachable of any
        // code, time exceeded, parameter problem. Programs expect connect() to fail at once
        // with EHOSTUNREACH/ENETUNREACH, as measured on Linux 6.18; moat follows Linux.
        ep.fail(err.code);
        return;
      }
      if (ep.state === TcpState.SYN_RECEIVED && ep.parent) {
        ep.enterClosed();
        return;
      }
      // Established: soft errors, kept for SO_ERROR-style reporting if the connection dies.
      ep.softError = err.code;
    } finally {
      this.flushEvents();
    }
  }

  /** RFC 8201 / RFC 1191: lower the MSS and resend what no longer fits. */
  private pmtuUpdate(ep: TcpEndpoint, mtu: number): void {
    if (mtu >= ep.pmtu) return;
    const family = ep.remoteAddr!.family;
    ep.pmtu = mtu;
    const mss = Math.max(mtu - (family === 4 ? 40 : 60) - (ep.tsOk ? 12 : 0), 64);
    if (mss >= ep.mss) return;
    this.stats.pmtuUpdates++;
    ep.mss = mss;
    ep.cc.setMss(mss);
    // Like Linux's tcp_simple_retransmit: what was too big is lost, resend without waiting.
    ep.sb.markLostLongerThan(mss);
    output(ep);
  }

  // ------------------------------------------------------------------ output

  /** Encodes and sends a segment of `ep`. */
  transmit(ep: TcpEndpoint, seg: Segment, gsoMss = 0): void {
    this.transmitRaw(ep.localAddr!, ep.remoteAddr!, seg, ep.csumOffload, gsoMss, ep.owner);
  }

  /**
   * Encodes and sends. With `gsoMss`, the payload is an aggregate of segments of that size
   * that the stack (or the link, TSO) cuts up: one header built for many segments.
   */
  transmitRaw(src: IpAddr, dst: IpAddr, seg: Segment, offload: boolean, gsoMss = 0, owner?: FlowOwner): void {
    const header = encodeSegment(seg, src, dst, offload);
    this.stats.segsOut++;
    if (seg.flags & RST) this.stats.resetsSent++;
    const r = this.net.sendIp({
      src,
      dst,
      protocol: 6,
      header,
      payload: seg.payload.length > 0 ? seg.payload : undefined,
      checksumOffset: offload ? TCP_CHECKSUM_OFFSET : undefined,
      dontFragment: true,
      gso: gsoMss > 0 && seg.payload.length > gsoMss ? { kind: 'tcp', mss: gsoMss } : undefined,
      owner,
    });
    if (isNetError(r)) this.stats.sendErrors++;
  }

  /** RFC 9293 §3.10.7.1: the RST answering `seg`, which arrived for (local, remote). */
  replyRst(local: IpAddr, remote: IpAddr, seg: Segment): void {
    const rst: Segment = {
      srcPort: seg.dstPort,
      dstPort: seg.srcPort,
      seq: seg.flags & ACK ? seg.ack : 0,
      ack: seg.flags & ACK ? 0 : seqAdd(seg.seq, segLen(seg)),
      flags: seg.flags & ACK ? RST : RST | ACK,
      window: 0,
      urgent: 0,
      mss: -1,
      wscale: -1,
      sackPermitted: false,
      sack: [],
      hasTs: false,
      tsVal: 0,
      tsEcr: 0,
      payload: EMPTY,
    };
    this.transmitRaw(local, remote, rst, false);
  }

  challengeAckAllowed(): boolean {
    const sec = Math.floor(this.now() / 1000);
    if (sec !== this.challengeWindow) {
      this.challengeWindow = sec;
      this.challengeCount = 0;
    }
    return ++this.challengeCount <= CHALLENGE_ACK_LIMIT;
  }

  // ------------------------------------------------------------------ tables

  isnFor(ep: TcpEndpoint): number {
    const isn = this.isn.isn(this.now(), ep.localAddr!, ep.localPort, ep.remoteAddr!, ep.remotePort);
    const key = connKey(ep.localAddr!, ep.localPort, ep.remoteAddr!, ep.remotePort);
    const tw = this.twSeq.get(key);
    if (tw !== undefined) {
      this.twSeq.delete(key);
      // RFC 6191 / Linux: a reopened TIME_WAIT pair starts above the old sequence space.
      return seqAdd(tw, 65535 + 2);
    }
    return isn;
  }

  /**
   * Timestamp offset per address pair (as Linux's secure_tcp_ts_off): hides our clock from
   * other peers, yet keeps TSval increasing across connections between the same two hosts,
   * which RFC 6191's TIME_WAIT reuse relies on.
   */
  tsOffsetFor(local: IpAddr, remote: IpAddr): number {
    return this.isn.hash(local, 0, remote, 0, 0x75);
  }

  rememberTimeWaitSeq(ep: TcpEndpoint): void {
    this.twSeq.set(connKey(ep.localAddr!, ep.localPort, ep.remoteAddr!, ep.remotePort), ep.sndNxt);
    if (this.twSeq.size > 4096) this.twSeq.clear();
  }

  register(ep: TcpEndpoint): void {
    const key = connKey(ep.localAddr!, ep.localPort, ep.remoteAddr!, ep.remotePort);
    ep.connKey = key;
    this.conns.set(key, ep);
    this.connCount++;
  }

  /** Leaves every table (CLOSED). */
  release(ep: TcpEndpoint): void {
    if (ep.connKey !== null) {
      if (this.conns.get(ep.connKey) === ep) this.conns.delete(ep.connKey);
      ep.connKey = null;
      this.connCount--;
    }
    if (ep.bound) {
      const set = this.binds.get(ep.localPort);
      if (set) {
        set.delete(ep);
        if (set.size === 0) this.binds.delete(ep.localPort);
      }
      ep.bound = false;
    }
    if (ep.listener) {
      const list = this.listeners.get(ep.localPort);
      if (list) {
        const i = list.indexOf(ep);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.listeners.delete(ep.localPort);
      }
    }
  }

  private conflicts(ep: TcpEndpoint, addr: IpAddr, port: number): boolean {
    const set = this.binds.get(port);
    if (!set) return false;
    for (const o of set) {
      if (o === ep || !o.localAddr) continue;
      if (!addressesOverlap(addr, ep.dualStack, o.localAddr, o.dualStack)) continue;
      if (ep.opts.reusePort && o.opts.reusePort) continue;
      // Linux (inet_csk_bind_conflict): SO_REUSEADDR shares the port with any non-listening
      // socket that also set it, TIME_WAIT ones included (they keep their owner's flag).
      if (ep.opts.reuseAddr && o.opts.reuseAddr && o.state !== TcpState.LISTEN) continue;
      return true;
    }
    return false;
  }

  /** Who owns the connection or socket on this local port (the audit of a local client's DNS query). */
  ownerOfLocal(port: number): FlowOwner | undefined {
    for (const ep of this.binds.get(port) ?? []) if (ep.owner) return ep.owner;
    return undefined;
  }

  bind(ep: TcpEndpoint, addr: IpAddr, port: number): NetResult<void> {
    if (!addr.isUnspecified() && !ep.freebind && !this.net.isLocalAddress(addr)) return 'EADDRNOTAVAIL';
    if (port === 0) {
      const p = this.pickPort((cand) => !this.conflicts(ep, addr, cand));
      if (p < 0) return 'EADDRINUSE';
      port = p;
    } else if (port < 0 || port > 65535) {
      return 'EINVAL';
    } else if (this.conflicts(ep, addr, port)) {
      return 'EADDRINUSE';
    }
    ep.localAddr = addr;
    ep.localPort = port;
    this.addBind(ep);
    return undefined;
  }

  private addBind(ep: TcpEndpoint): void {
    let set = this.binds.get(ep.localPort);
    if (!set) this.binds.set(ep.localPort, (set = new Set()));
    set.add(ep);
    ep.bound = true;
  }

  /** Accepted connections share the listener's port in the bind table, as on Linux. */
  bindChild(ep: TcpEndpoint): void {
    this.addBind(ep);
  }

  private pickPort(ok: (p: number) => boolean): number {
    const lo = this.config.ephemeralLow;
    const n = this.config.ephemeralHigh - lo + 1;
    const start = this.rng.u32() % n;
    for (let i = 0; i < n; i++) {
      const p = lo + ((start + i) % n);
      if (ok(p)) return p;
    }
    return -1;
  }

  /**
   * Local port for an active open. A bound port is kept if the 4-tuple is free; otherwise an
   * ephemeral port whose 4-tuple is unused and that no listener or bound-only socket holds.
   * A TIME_WAIT pair may be taken over when timestamps prove it is safe (Linux tcp_tw_reuse:
   * timestamps on, and a second since its last segment).
   */
  assignConnectPort(ep: TcpEndpoint, local: IpAddr): NetResult<void> {
    const remote = ep.remoteAddr!;
    const rport = ep.remotePort;
    const tupleFree = (p: number): boolean => {
      const o = this.conns.get(connKey(local, p, remote, rport));
      if (!o) return true;
      if (o.state === TcpState.TIME_WAIT && this.config.twReuse && o.tsOk && this.now() - o.lastRecvTime >= 1000) {
        this.stats.timeWaitReused++;
        this.rememberTimeWaitSeq(o);
        o.enterClosed();
        return true;
      }
      return false;
    };
    if (ep.bound) {
      return tupleFree(ep.localPort) ? undefined : 'EADDRINUSE';
    }
    const p = this.pickPort((cand) => {
      const set = this.binds.get(cand);
      if (set) {
        for (const o of set) {
          if (o.state === TcpState.LISTEN || o.state === TcpState.CLOSED) return false;
        }
      }
      return tupleFree(cand);
    });
    if (p < 0) return 'EADDRNOTAVAIL';
    ep.localPort = p;
    ep.localAddr = local;
    this.addBind(ep);
    return undefined;
  }

  listen(ep: TcpEndpoint, backlog: number): NetResult<void> {
    if (ep.state === TcpState.LISTEN) {
      ep.listener!.backlog = Math.max(0, backlog);
      return undefined;
    }
    if (ep.state !== TcpState.CLOSED || ep.remoteAddr) return 'EINVAL';
    if (!ep.bound) {
      // Linux autobinds an unbound listener to an ephemeral port on the wildcard address
      // (IPv4 here: an IPv6 socket layer binds explicitly first).
      const r = this.bind(ep, IpAddr.ANY4, 0);
      if (r) return r;
    }
    // Two listeners on one port need SO_REUSEPORT on both (checked again, since
    // SO_REUSEADDR allowed the binds).
    const list = this.listeners.get(ep.localPort) ?? [];
    for (const o of list) {
      const overlap = addressesOverlap(ep.localAddr!, ep.dualStack, o.localAddr!, o.dualStack);
      if (overlap && !(ep.opts.reusePort && o.opts.reusePort)) return 'EADDRINUSE';
    }
    // listen(fd, 0) still admits one connection (Listener.hasRoom), as on Linux.
    ep.listener = new Listener(ep, Math.max(0, backlog));
    ep.state = TcpState.LISTEN;
    list.push(ep);
    this.listeners.set(ep.localPort, list);
    return undefined;
  }

  /** The listener for a segment: exact address before wildcard; SO_REUSEPORT groups by hash. */
  private findListener(dst: IpAddr, port: number, src: IpAddr, sport: number): TcpEndpoint | null {
    const list = this.listeners.get(port);
    if (!list || list.length === 0) return null;
    let exact: TcpEndpoint[] | null = null;
    let wild: TcpEndpoint[] | null = null;
    for (const l of list) {
      const a = l.localAddr!;
      if (a.family !== dst.family) {
        // A dual-stack IPv6 wildcard listener also takes IPv4 connections (RFC 3493 §3.7).
        if (dst.family === 4 && l.dualStack) (wild ??= []).push(l);
        continue;
      }
      if (a.equals(dst)) (exact ??= []).push(l);
      else if (a.isUnspecified()) (wild ??= []).push(l);
    }
    const group = exact ?? wild;
    if (!group) return null;
    if (group.length === 1) return group[0];
    return group[this.isn.hash(dst, port, src, sport) % group.length];
  }

  // ------------------------------------------------------------------ memory and events

  /** Buffer bytes the stack can still take. */
  memoryRoom(): number {
    return Math.max(0, this.config.maxBufferMemory - this.memory - this.oooMemory);
  }
  /** Whether `n` more buffered bytes fit under the stack-wide limit (queues and reassembly). */
  canCharge(n: number): boolean {
    return this.memory + this.oooMemory + n <= this.config.maxBufferMemory;
  }
  charge(ep: TcpEndpoint, n: number): void {
    ep.charged += n;
    this.memory += n;
  }
  uncharge(ep: TcpEndpoint, n: number): void {
    const k = Math.min(n, ep.charged);
    ep.charged -= k;
    this.memory -= k;
  }

  markDirty(ep: TcpEndpoint): void {
    this.dirty.push(ep);
  }

  /** Delivers events collected during processing (handlers may call back in). */
  flushEvents(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let i = 0; i < this.dirty.length; i++) this.dirty[i].deliverEvents();
      this.dirty.length = 0;
    } finally {
      this.flushing = false;
    }
  }

  /** Runs a timer callback, then delivers the events it caused. */
  guard(fn: () => void): void {
    try {
      fn();
    } finally {
      this.flushEvents();
    }
  }

  /** Timer objects created (for tests). */
  timer(fn: () => void): Timer {
    return this.timers.timer(() => this.guard(fn));
  }
}

export type { NetError };

/**
 * Whether two bindings claim the same (address, port) space: equal addresses, or a wildcard of
 * the same family, or a dual-stack IPv6 wildcard against any IPv4 address (Linux
 * inet_rcv_saddr_equal with ipv6_only unset).
 */
function addressesOverlap(a: IpAddr, aDual: boolean, b: IpAddr, bDual: boolean): boolean {
  if (a.family === b.family) return a.isUnspecified() || b.isUnspecified() || a.equals(b);
  if (a.family === 6) return aDual && a.isUnspecified();
  return bDual && b.isUnspecified();
}
