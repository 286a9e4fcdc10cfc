// A listening endpoint: the passive open (RFC 9293 §3.10.7.2, LISTEN STATE), a SYN queue of
// half-open connections and an accept queue of established ones, each bounded by the backlog
// as Linux does, and SYN cookies (RFC 4987 §3.6) when the SYN queue is full.

import type { NetError } from '../errors.js';
import type { IpDelivery } from '../transport.js';
import { seqAdd } from '../wire/seq.js';
import { TcpEndpoint } from './endpoint.js';
import { INITIAL_RTO } from './rtt.js';
import { ACK, EMPTY, RST, SYN, type Segment } from './segment.js';
import { TcpState } from './state.js';
import { chooseWscale, finishMss, negotiate, sendSynSegment, setAdvMss } from './handshake.js';
import { checkCookie, decodeTsOptions, encodeTsOptions, makeCookie } from './syncookies.js';
import { segmentArrives } from './receiver.js';
import { initialWindow } from './sender.js';
import { isNetError } from '../errors.js';

export class Listener {
  /** Children in SYN_RECEIVED. */
  synQueue = 0;
  acceptQueue: TcpEndpoint[] = [];
  private children = new Set<TcpEndpoint>();

  constructor(
    readonly ep: TcpEndpoint,
    public backlog: number,
  ) {}

  hasRoom(): boolean {
    // Linux's sk_acceptq_is_full() is `backlog > max`: listen(fd, N) keeps N+1 connections
    // waiting (and listen(fd, 0) still one), which programs and tests rely on.
    return this.acceptQueue.length <= this.backlog;
  }

  /** A segment for this listener with no connection of its own. */
  onSegment(seg: Segment, d: IpDelivery): void {
    const stack = this.ep.stack;
    const f = seg.flags;
    if (f & RST) return; // RFC 9293 §3.10.7.2 first
    if (f & ACK) {
      if (!(f & SYN) && stack.config.synCookies && this.tryCookie(seg, d)) return;
      stack.replyRst(d.dst, d.src, seg); // second: <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (!(f & SYN)) return;
    if (!this.hasRoom()) {
      // Accept queue full: drop the SYN and let the client retry (Linux ListenOverflows).
      stack.stats.listenOverflows++;
      stack.stats.listenDrops++;
      return;
    }
    if (this.synQueue >= this.backlog || stack.connCount >= stack.config.maxConnections) {
      if (stack.connCount >= stack.config.maxConnections) stack.stats.connLimitHits++;
      if (stack.config.synCookies) this.sendCookie(seg, d);
      else stack.stats.listenDrops++;
      return;
    }
    this.newChild(seg, d);
  }

  private childOf(d: IpDelivery, seg: Segment): TcpEndpoint | null {
    const stack = this.ep.stack;
    const child = new TcpEndpoint(stack, { ...this.ep.opts });
    child.localAddr = d.dst;
    child.localPort = seg.dstPort;
    child.remoteAddr = d.src;
    child.remotePort = seg.srcPort;
    const r = stack.net.route(d.src, d.dst);
    if (isNetError(r)) {
      stack.stats.noRoute++;
      return null;
    }
    child.csumOffload = r.checksumOffload;
    child.gsoMax = r.checksumOffload ? r.gsoMaxSize : 0;
    setAdvMss(child, r.mtu, d.src.family);
    child.parent = this;
    child.tsOffset = stack.tsOffsetFor(d.dst, d.src);
    child.rcvWscale = chooseWscale(stack.config);
    return child;
  }

  private newChild(seg: Segment, d: IpDelivery): void {
    const stack = this.ep.stack;
    const child = this.childOf(d, seg);
    if (!child) return;
    child.irs = seg.seq;
    child.rcvNxt = seqAdd(seg.seq, 1);
    child.rcvAdv = child.rcvNxt;
    negotiate(child, seg);
    finishMss(child);
    child.iss = stack.isnFor(child);
    child.sndUna = child.iss;
    child.sndNxt = seqAdd(child.iss, 1);
    child.sendQueueSeq = child.sndNxt;
    child.sndWnd = seg.window; // unscaled in a SYN (RFC 7323 §2.2)
    child.maxSndWnd = child.sndWnd;
    child.owner = this.ep.owner;
    child.sndWl1 = seg.seq;
    child.sndWl2 = child.iss;
    child.state = TcpState.SYN_RECEIVED;
    child.quickAcks = stack.config.quickAckSegments;
    stack.register(child);
    stack.bindChild(child);
    this.children.add(child);
    this.synQueue++;
    stack.stats.passiveOpens++;
    child.rtt.baseRto = INITIAL_RTO;
    child.sb.add(child.iss, 1, SYN, stack.now());
    sendSynSegment(child);
    child.rto().schedule(child.rtt.rto);
  }

  private sendCookie(seg: Segment, d: IpDelivery): void {
    const stack = this.ep.stack;
    const r = stack.net.route(d.src, d.dst);
    if (isNetError(r)) return;
    const peerMss = seg.mss >= 0 ? seg.mss : 536;
    const mss = Math.min(peerMss, r.mtu - (d.src.family === 4 ? 40 : 60));
    const iss = makeCookie(stack.cookies, stack.now(), d.dst, seg.dstPort, d.src, seg.srcPort, seg.seq, mss);
    const c = stack.config;
    const ts = c.timestamps && seg.hasTs;
    // The MSS we advertise, as setAdvMss gives the child (TCP_MAXSEG clamps it: tcp_mss_clamp).
    const maxSeg = this.ep.opts.maxSeg;
    const advMss = Math.min(r.mtu - (d.src.family === 4 ? 40 : 60), maxSeg > 0 ? maxSeg : Infinity, 65495);
    // Without timestamps the cookie cannot remember the peer's window scale, so scaling is not
    // offered at all (Linux clears the options: tcp_conn_request -> tcp_clear_options); offering
    // it would turn scaling on for both sides of a connection rebuilt without it.
    const wscale = ts && c.windowScaling && seg.wscale >= 0 ? chooseWscale(c) : -1;
    const tsVal = ts ? encodeTsOptions((Math.floor(stack.now()) + stack.tsOffsetFor(d.dst, d.src)) >>> 0, c.windowScaling ? seg.wscale : -1, c.sack && seg.sackPermitted) : 0;
    const reply: Segment = {
      srcPort: seg.dstPort,
      dstPort: seg.srcPort,
      seq: iss,
      ack: seqAdd(seg.seq, 1),
      flags: SYN | ACK,
      // Never scaled in a SYN-ACK (RFC 7323 §2.2); whole segments of the MSS we advertise (as
      // Linux's tcp_openreq_init_rwin, whose cookie SYN-ACKs are sized the same way).
      window: initialWindow(this.ep.rcvBuf, advMss, ts),
      urgent: 0,
      mss: advMss,
      wscale,
      // Without timestamps there is nowhere to keep SACK-permitted, so it is not offered.
      sackPermitted: ts && c.sack && seg.sackPermitted,
      sack: [],
      hasTs: ts,
      tsVal,
      tsEcr: ts ? seg.tsVal : 0,
      payload: EMPTY,
    };
    stack.stats.synCookiesSent++;
    stack.transmitRaw(d.dst, d.src, reply, r.checksumOffload);
  }

  /** The final ACK of a cookie handshake: rebuild the connection from the cookie. */
  private tryCookie(seg: Segment, d: IpDelivery): boolean {
    const stack = this.ep.stack;
    const clientIsn = seqAdd(seg.seq, -1);
    const iss = seqAdd(seg.ack, -1);
    const mss = checkCookie(stack.cookies, stack.now(), d.dst, seg.dstPort, d.src, seg.srcPort, clientIsn, iss);
    if (mss < 0) {
      stack.stats.synCookiesFailed++;
      return false;
    }
    if (!this.hasRoom()) {
      stack.stats.listenOverflows++;
      return true; // drop; the client's retransmission may find room
    }
    const child = this.childOf(d, seg);
    if (!child) return true;
    stack.stats.synCookiesValid++;
    const c = stack.config;
    child.irs = clientIsn;
    child.rcvNxt = seg.seq;
    child.peerMss = mss;
    if (seg.hasTs && c.timestamps) {
      const o = decodeTsOptions(seg.tsEcr);
      child.tsOk = true;
      child.tsRecent = seg.tsVal;
      child.tsRecentTime = stack.now();
      child.wsOk = c.windowScaling && o.wscale >= 0;
      child.sndWscale = child.wsOk ? o.wscale : 0;
      if (!child.wsOk) child.rcvWscale = 0;
      child.sackOk = c.sack && o.sack;
    } else {
      child.wsOk = false;
      child.sndWscale = 0;
      child.rcvWscale = 0;
    }
    finishMss(child);
    child.iss = iss;
    child.sndUna = seg.ack;
    child.sndNxt = seg.ack;
    child.sendQueueSeq = seg.ack;
    child.sndWnd = seg.window * 2 ** child.sndWscale;
    child.maxSndWnd = child.sndWnd;
    child.owner = this.ep.owner;
    child.sndWl1 = seg.seq;
    child.sndWl2 = seg.ack;
    // The edge our SYN-ACK advertised: its window is never scaled (RFC 7323 §2.2), so scaling
    // it here recorded an edge up to 2^14 times further than anything offered, and since the
    // edge never moves left, later ACKs offered the peer that much.
    child.rcvAdv = seqAdd(child.rcvNxt, initialWindow(child.rcvBuf, child.advMss, child.tsOk));
    child.lastAckSent = child.rcvNxt;
    stack.register(child);
    stack.bindChild(child);
    this.children.add(child);
    this.synQueue++; // childEstablished takes it off again
    stack.stats.passiveOpens++;
    child.established();
    this.childEstablished(child);
    if (seg.payload.length > 0 || seg.flags & 0x01) segmentArrives(child, seg);
    return true;
  }

  childEstablished(child: TcpEndpoint): void {
    this.synQueue--;
    this.acceptQueue.push(child);
    child.inAcceptQueue = true;
    this.ep.acceptableEvent();
  }

  childGone(child: TcpEndpoint): void {
    // A connection reset while it waits in the accept queue stays there (Linux keeps the closed
    // socket queued): accept() returns it and its first call reports the error.
    if (child.inAcceptQueue && child.error !== null) return;
    if (!this.children.delete(child)) return;
    if (child.inAcceptQueue) {
      const i = this.acceptQueue.indexOf(child);
      if (i >= 0) this.acceptQueue.splice(i, 1);
      child.inAcceptQueue = false;
    } else {
      this.synQueue--;
    }
    child.parent = null;
  }

  accept(): TcpEndpoint | NetError {
    const child = this.acceptQueue.shift();
    if (!child) return 'EAGAIN';
    child.inAcceptQueue = false;
    this.children.delete(child);
    child.parent = null;
    return child;
  }

  /** The listener closes: connections not yet accepted are reset (Linux inet_csk_listen_stop). */
  close(): void {
    const all = [...this.children];
    this.children.clear();
    this.acceptQueue = [];
    this.synQueue = 0;
    for (const c of all) {
      c.parent = null;
      c.inAcceptQueue = false;
      c.abort();
    }
  }
}
