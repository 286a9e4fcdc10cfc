// Opening a connection: the active open (RFC 9293 §3.10.1, §3.5 three-way handshake, and
// simultaneous open, figure 8), SYN-SENT processing (§3.10.7.3), option negotiation on the SYN
// exchange: MSS clamped to the route MTU (§3.7.1, RFC 6691), window scale (RFC 7323 §2.2),
// timestamps (RFC 7323 §3.2), SACK-permitted (RFC 2018 §2). ISNs come from isn.ts (RFC 6528).

import type { NetResult } from '../errors.js';
import { isNetError } from '../errors.js';
import type { IpAddr } from '../wire/ip-address.js';
import { seqAdd, seqGt, seqLe } from '../wire/seq.js';
import { makeCongestionControl } from './congestion/index.js';
import { INITIAL_RTO } from './rtt.js';
import { ACK, EMPTY, RST, SYN, segLen, type Segment } from './segment.js';
import { TcpState } from './state.js';
import type { TcpEndpoint } from './endpoint.js';
import { transmit, sendAck, output } from './sender.js';
import type { TcpStackConfig } from './options.js';

/** RFC 9293 §3.7.1 / RFC 8200 §5: default send MSS when the peer sends no MSS option. */
export function defaultMss(family: 4 | 6): number {
  return family === 4 ? 536 : 1220;
}

/** Bytes of IP + TCP header without options. */
export function headerOverhead(family: 4 | 6): number {
  return family === 4 ? 40 : 60;
}

/** RFC 7323 §2.3: the shift that lets the largest receive buffer be advertised. */
export function chooseWscale(cfg: TcpStackConfig): number {
  if (!cfg.windowScaling) return 0;
  let s = 0;
  while (s < 14 && cfg.rcvBufMax / 2 ** s > 65535) s++;
  return s;
}

/** Sets the MSS we advertise from the route MTU (and TCP_MAXSEG). */
export function setAdvMss(ep: TcpEndpoint, mtu: number, family: 4 | 6): void {
  ep.pmtu = mtu;
  let m = Math.max(mtu - headerOverhead(family), 88);
  if (ep.opts.maxSeg > 0) m = Math.min(m, ep.opts.maxSeg);
  ep.advMss = Math.min(m, 65495);
}

/**
 * Applies what the peer's SYN (or SYN-ACK) offered. `ours` tells what we offered (on the active
 * side) or are willing to use (passive side).
 */
export function negotiate(ep: TcpEndpoint, seg: Segment): void {
  const c = ep.stack.config;
  const family = ep.remoteAddr ? ep.remoteAddr.family : 4;
  ep.peerMss = seg.mss >= 0 ? seg.mss : defaultMss(family);
  ep.wsOk = c.windowScaling && seg.wscale >= 0;
  if (ep.wsOk) {
    ep.sndWscale = Math.min(seg.wscale, 14); // RFC 7323 §2.3: larger shifts are taken as 14
  } else {
    ep.sndWscale = 0;
    ep.rcvWscale = 0;
  }
  ep.sackOk = c.sack && seg.sackPermitted;
  ep.tsOk = c.timestamps && seg.hasTs;
  if (ep.tsOk) {
    ep.tsRecent = seg.tsVal;
    ep.tsRecentTime = ep.stack.now();
  }
}

/** The send MSS once options are known: the smaller MSS, less the timestamp option (as Linux). */
export function finishMss(ep: TcpEndpoint): void {
  let m = Math.min(ep.peerMss, ep.advMss);
  if (ep.opts.maxSeg > 0) m = Math.min(m, ep.opts.maxSeg);
  if (ep.tsOk) m -= 12;
  ep.mss = Math.max(m, 64);
  ep.cc = makeCongestionControl(ep.opts.congestion, ep.mss);
}

/** Sends (or resends) our SYN or SYN-ACK with options. */
export function sendSynSegment(ep: TcpEndpoint): void {
  if (ep.state === TcpState.SYN_SENT) transmit(ep, SYN, ep.iss, EMPTY, true);
  else transmit(ep, SYN | ACK, ep.iss, EMPTY, true);
}

/** Active open: route, local address and port, ISN, SYN (RFC 9293 §3.10.1). */
export function startConnect(ep: TcpEndpoint, addr: IpAddr, port: number): NetResult<void> {
  const stack = ep.stack;
  if (port <= 0 || port > 65535 || addr.isUnspecified() || addr.isMulticast()) return 'EINVAL';
  const bindAddr = ep.localAddr && !ep.localAddr.isUnspecified() ? ep.localAddr : null;
  const r = stack.net.route(addr, bindAddr);
  if (isNetError(r)) return r;
  if (stack.connCount >= stack.config.maxConnections) {
    stack.stats.connLimitHits++;
    return 'ENOBUFS';
  }
  const local = bindAddr ?? r.src;
  ep.remoteAddr = addr;
  ep.remotePort = port;
  const res = stack.assignConnectPort(ep, local);
  if (isNetError(res)) {
    ep.remoteAddr = null;
    ep.remotePort = 0;
    return res;
  }
  ep.localAddr = local;
  ep.csumOffload = r.checksumOffload;
  ep.gsoMax = r.checksumOffload ? r.gsoMaxSize : 0;
  setAdvMss(ep, r.mtu, addr.family);
  const now = stack.now();
  ep.iss = stack.isnFor(ep);
  ep.tsOffset = stack.tsOffsetFor(local, addr);
  ep.rcvWscale = chooseWscale(stack.config);
  ep.sndUna = ep.iss;
  ep.sndNxt = seqAdd(ep.iss, 1);
  ep.sendQueueSeq = seqAdd(ep.iss, 1);
  ep.rcvAdv = 0;
  ep.state = TcpState.SYN_SENT;
  ep.quickAcks = stack.config.quickAckSegments;
  stack.register(ep);
  stack.stats.activeOpens++;
  ep.rtt.baseRto = INITIAL_RTO;
  ep.sb.add(ep.iss, 1, SYN, now);
  sendSynSegment(ep);
  ep.rto().schedule(ep.rtt.rto);
  return undefined;
}

/** SYN-SENT STATE processing (RFC 9293 §3.10.7.3), with RFC 5961 §3.2 for RST. */
export function synSentInput(ep: TcpEndpoint, seg: Segment): void {
  const stack = ep.stack;
  const f = seg.flags;
  // first: the ACK must acknowledge our SYN
  if (f & ACK && (seqLe(seg.ack, ep.iss) || seqGt(seg.ack, ep.sndNxt))) {
    if (!(f & RST)) stack.replyRst(ep.localAddr!, ep.remoteAddr!, seg);
    stack.stats.outOfWindow++;
    return;
  }
  // second: RST (acceptable only with an acceptable ACK)
  if (f & RST) {
    if (f & ACK) {
      stack.stats.attemptFails++;
      ep.fail('ECONNREFUSED');
    }
    return;
  }
  // fourth: SYN
  if (!(f & SYN)) return;
  ep.irs = seg.seq;
  ep.rcvNxt = seqAdd(seg.seq, 1);
  ep.rcvAdv = ep.rcvNxt; // nothing advertised yet for this sequence space
  negotiate(ep, seg);
  finishMss(ep);
  if (f & ACK) {
    const now = stack.now();
    // RTT of the handshake (RFC 6298 §2 allows it when the SYN was not retransmitted).
    const first = ep.sb.first();
    if (first && first.retx === 0) ep.rtt.sample(now - first.xmitTime);
    else ep.rtt.backoff = 0;
    ep.sb.ack(seg.ack, ackScratch);
    ep.sndUna = seg.ack;
    ep.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    ep.maxSndWnd = ep.sndWnd;
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = seg.ack;
    ep.retransmits = 0;
    ep.rtoTimer?.cancel();
    ep.lastProgress = now;
    ep.established();
    // Data or FIN on the SYN-ACK is rare; hand it to the normal path.
    if (seg.payload.length > 0 || segLen(seg) > 1) {
      stack.reprocessAfterSyn(ep, seg);
    }
    sendAck(ep);
    output(ep);
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 8): SYN-RECEIVED, send SYN-ACK with our ISN.
  ep.state = TcpState.SYN_RECEIVED;
  ep.sndWnd = seg.window;
  ep.sndWl1 = seg.seq;
  ep.sndWl2 = ep.iss;
  ep.retransmits = 0;
  sendSynSegment(ep);
  ep.rto().schedule(ep.rtt.rto);
}

const ackScratch = { acked: 0, rttXmit: -1, ackedRetransmitted: false, ctlAcked: 0 };
