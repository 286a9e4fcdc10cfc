// The sending side: segmentation with Nagle, CORK and silly-window avoidance (RFC 9293
// §3.7.4, §3.8.6.2.1), congestion-limited output and SACK-based loss recovery (RFC 6675 §5;
// RFC 6582 without SACK), the retransmission timer with backoff (RFC 6298 §5), the persist
// timer with zero-window probes (RFC 9293 §3.8.6.1), keepalive (RFC 9293 §3.8.4, RFC 1122
// §4.2.3.6), TCP_USER_TIMEOUT (RFC 5482), delayed ACKs (RFC 5681 §4.2), the advertised
// window with receiver SWS avoidance (RFC 9293 §3.8.6.2.2) and window scaling (RFC 7323 §2.3),
// timestamps on every segment (RFC 7323 §3.2).

import { seqAdd, seqDiff, seqGt, seqLt } from '../wire/seq.js';
import { ACK, EMPTY, FIN, PSH, RST, SYN, type Segment } from './segment.js';
import { TcpState } from './state.js';
import { RECOVERY_FAST, RECOVERY_LOSS, RECOVERY_NONE, type TcpEndpoint } from './endpoint.js';
import type { SentSegment } from './scoreboard.js';
import { sendSynSegment } from './handshake.js';

const MAX_WINDOW_FIELD = 65535;
/** TCP_CORK's ceiling (Linux, tcp(7)). */
const CORK_CEILING_MS = 200;

/** Our timestamp clock (RFC 7323 §5.4: 1 ms ticks), with a per-connection random offset. */
export function tsNow(ep: TcpEndpoint): number {
  return (Math.floor(ep.stack.now()) + ep.tsOffset) >>> 0;
}

/**
 * The space a new window offer may promise: the free buffer, rounded DOWN to what the window
 * field can say at our scale (RFC 7323 §2.3), so that the edge it records never lies past the
 * buffer. Unscaled (and capped at 65535) in a SYN (RFC 7323 §2.2).
 */
function offerable(ep: TcpEndpoint, shift: number): number {
  const free = Math.max(0, ep.rcvBuf - ep.recvQueue.length - ep.ooo.bytes);
  return Math.min(Math.floor(free / 2 ** shift), MAX_WINDOW_FIELD) * 2 ** shift;
}

/** TCPOLEN_TSTAMP_ALIGNED: the timestamp option with its two NOPs (RFC 7323 §3.2). */
const TS_OPTION_LEN = 12;

/**
 * The window of a SYN or SYN-ACK: the space, capped at what the unscaled field can say (RFC 7323
 * §2.2), in whole segments of our MSS, as Linux's tcp_select_initial_window quantizes it
 * ("rounddown(space, mss)"), so the peer's first flight fills it with full segments. The MSS is
 * the one we advertise, less the timestamp option when both sides use timestamps
 * (tcp_openreq_init_rwin for a SYN-ACK; an active SYN knows nothing of the peer yet). moat's
 * buffer is all window (no skb overhead, tcp_adv_win_scale), so with Linux's default tcp_rmem
 * this gives Linux's numbers: 64240 for MSS 1460, 65483 on loopback (MSS 65495 with timestamps).
 */
export function initialWindow(space: number, advMss: number, timestamps: boolean): number {
  const mss = Math.max(1, advMss - (timestamps ? TS_OPTION_LEN : 0));
  const s = Math.min(Math.max(0, space), MAX_WINDOW_FIELD);
  return s > mss ? s - (s % mss) : s;
}

/**
 * The window field to advertise, and records the right edge (RCV.ADV), which only ever moves
 * right and is the edge the receiver honours (RFC 7323 §2.4 rule 1). A new offer is made from
 * free buffer space rounded down, and only when it moves the edge right by at least
 * min(RCV.BUFF/2, MSS) (receiver SWS avoidance, RFC 9293 §3.8.6.2.2 MUST-35). Otherwise the
 * current window is repeated. It is rarely a multiple of 2^wscale (RCV.NXT moves by segment
 * sizes), so it is rounded up, keeping the edge on the wire where it was, when the buffer has
 * room for the rounding; when it has not, it is rounded down: RFC 7323 §2.4 leaves exactly this
 * choice, a retraction by less than 2^wscale or an edge past the buffer. Rounding up
 * regardless (and recording it) let every ACK to a stalled reader push the edge up to
 * 2^wscale-1 bytes further, until the queue held far more than SO_RCVBUF.
 */
export function advertiseWindow(ep: TcpEndpoint, syn: boolean): number {
  const shift = syn ? 0 : ep.rcvWscale;
  const unit = 2 ** shift;
  const offer = offerable(ep, shift);
  if (syn) {
    const first = initialWindow(offer, ep.advMss, ep.tsOk);
    ep.rcvAdv = seqAdd(ep.rcvNxt, first); // the first offer in this sequence space
    return first;
  }
  const cur = Math.max(0, seqDiff(ep.rcvAdv, ep.rcvNxt));
  if (offer > cur && offer - cur >= Math.min(ep.rcvBuf / 2, ep.advMss)) {
    ep.rcvAdv = seqAdd(ep.rcvNxt, offer);
    return offer / unit;
  }
  const up = Math.min(Math.ceil(cur / unit), MAX_WINDOW_FIELD);
  if (up * unit <= offer) {
    ep.rcvAdv = seqAdd(ep.rcvNxt, up * unit);
    return up;
  }
  return Math.floor(cur / unit);
}

/** Builds and sends one segment carrying our current ACK, window, timestamps and SACK blocks. */
export function transmit(ep: TcpEndpoint, flags: number, seq: number, payload: Uint8Array, synOptions: boolean, gsoMss = 0): void {
  const syn = (flags & SYN) !== 0;
  const seg: Segment = {
    srcPort: ep.localPort,
    dstPort: ep.remotePort,
    seq,
    ack: flags & ACK ? ep.rcvNxt : 0,
    flags,
    window: flags & RST ? 0 : advertiseWindow(ep, syn),
    urgent: 0,
    mss: -1,
    wscale: -1,
    sackPermitted: false,
    sack: NO_SACK,
    hasTs: false,
    tsVal: 0,
    tsEcr: 0,
    payload,
  };
  if (synOptions) {
    // RFC 9293 §3.7.1: MSS option on SYNs; RFC 7323 §2.2, RFC 2018 §2: offer WS/TS/SACK.
    seg.mss = ep.advMss;
    const c = ep.stack.config;
    const passive = (flags & ACK) !== 0;
    if (passive ? ep.wsOk : c.windowScaling) seg.wscale = ep.rcvWscale;
    if (passive ? ep.sackOk : c.sack) seg.sackPermitted = true;
    if (passive ? ep.tsOk : c.timestamps) {
      seg.hasTs = true;
      seg.tsVal = tsNow(ep);
      seg.tsEcr = passive ? ep.tsRecent : 0;
    }
  } else if (ep.tsOk && !(flags & RST)) {
    seg.hasTs = true;
    seg.tsVal = tsNow(ep);
    seg.tsEcr = ep.tsRecent;
  }
  if (ep.sackOk && !syn && flags & ACK && !(flags & RST) && (ep.dsack.length > 0 || !ep.ooo.empty)) {
    const max = ep.tsOk ? 3 : 4;
    const blocks = ep.dsack.length > 0 ? ep.dsack.slice() : [];
    ep.dsack = [];
    const rest = ep.ooo.sackBlocks(ep.rcvNxt, max - blocks.length / 2);
    for (const v of rest) blocks.push(v);
    seg.sack = blocks;
  }
  if (flags & ACK) {
    ep.lastAckSent = ep.rcvNxt;
    ep.unackedSegs = 0;
    ep.ackPending = false;
    ep.ackNow = false;
    ep.delackTimer?.cancel();
  }
  const segs = gsoMss > 0 ? Math.ceil(payload.length / gsoMss) : 1;
  ep.segsOut += segs;
  if (payload.length > 0) ep.dataSegsOut += segs;
  ep.stack.transmit(ep, seg, gsoMss);
}

const NO_SACK: number[] = [];

export function sendAck(ep: TcpEndpoint): void {
  if (ep.state === TcpState.CLOSED || ep.state === TcpState.LISTEN || ep.state === TcpState.SYN_SENT) return;
  transmit(ep, ACK, ep.sndNxt, EMPTY, false);
}

/** RST from a synchronized connection (RFC 9293 §3.10.7.4 / ABORT). */
export function sendRst(ep: TcpEndpoint, seq: number): void {
  transmit(ep, RST | ACK, seq, EMPTY, false);
}

/** Bytes in flight for the sending decision: Pipe (RFC 6675) when the scoreboard is in use. */
function pipe(ep: TcpEndpoint): number {
  const sb = ep.sb;
  if (sb.sackedCount === 0 && sb.lostCount === 0 && ep.recovery === RECOVERY_NONE) return seqDiff(ep.sndNxt, ep.sndUna);
  let p = sb.pipe();
  if (!ep.sackOk && ep.recovery === RECOVERY_FAST) p = Math.max(0, p - ep.dupAcks * ep.mss);
  return p;
}

/** States that carry data and FIN out. */
function canOutput(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT || s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING || s === TcpState.LAST_ACK;
}

/** Sends whatever the windows and Nagle allow: lost segments first, then new data, then FIN. */
export function output(ep: TcpEndpoint): void {
  // Not reentrant: a send that synchronously causes input (a link that answers at once)
  // must not start a second loop over the same state.
  if (!canOutput(ep.state) || ep.inOutput) return;
  ep.inOutput = true;
  try {
    outputLoop(ep);
  } finally {
    ep.inOutput = false;
  }
}

function outputLoop(ep: TcpEndpoint): void {
  const now = ep.stack.now();
  const mss = ep.mss;
  if (ep.sb.empty && ep.lastSendTime > 0 && now - ep.lastSendTime > ep.rtt.rto && ep.sendQueue.length > 0) {
    ep.cc.onIdleRestart(now); // RFC 5681 §4.1
  }
  let inFlight = pipe(ep);
  const cwnd = Math.max(ep.cc.cwnd, mss);
  const prr = ep.recovery === RECOVERY_FAST && ep.stack.config.prr;
  const startInFlight = inFlight;
  for (;;) {
    if (prr) {
      if (ep.prrSndcnt - (inFlight - startInFlight) <= 0) break;
    } else if (inFlight >= cwnd) break;
    if (ep.sb.lostCount > 0) {
      const s = ep.sb.nextLost();
      if (s) {
        retransmit(ep, s, now);
        inFlight += s.len;
        continue;
      }
    }
    const queueEnd = seqAdd(ep.sendQueueSeq, ep.sendQueue.length);
    const unsent = seqDiff(queueEnd, ep.sndNxt);
    const usable = seqDiff(seqAdd(ep.sndUna, ep.sndWnd), ep.sndNxt);
    if (unsent > 0) {
      const len = Math.min(mss, unsent, usable);
      if (len <= 0) break;
      if (len < mss) {
        const isLast = len === unsent;
        // Nagle (RFC 9293 §3.7.4): a small segment only when nothing is unacknowledged,
        // or with NODELAY; never under CORK unless the FIN goes with it.
        // Linux caps TCP_CORK at 200 ms: a corked partial segment then goes anyway.
        const corkExpired = ep.opts.cork && now - ep.corkSince >= CORK_CEILING_MS;
        const pushOk = isLast && (ep.finQueued || corkExpired || (!ep.opts.cork && (ep.opts.noDelay || ep.sb.empty)));
        // Sender SWS avoidance: a window-limited piece only if it is half the largest window.
        const swsOk = !isLast && ep.maxSndWnd > 0 && len >= ep.maxSndWnd / 2 && ep.sb.empty;
        if (!pushOk && !swsOk) {
          if (ep.opts.cork && isLast) {
            ep.corkTimer ??= ep.stack.timers.timer(() => ep.stack.guard(() => output(ep)));
            if (!ep.corkTimer.scheduled) ep.corkTimer.scheduleAt(ep.corkSince + CORK_CEILING_MS);
          }
          break;
        }
        if (corkExpired) ep.corkSince = now;
      }
      if (len === mss && ep.gsoMax > 2 * mss) {
        // GSO/TSO: as many full segments as the windows allow, in one aggregate.
        const room = Math.min(unsent, usable, ep.gsoMax - 128, Math.max(cwnd - inFlight, mss));
        let k = Math.floor(room / mss);
        if (ep.finQueued && k * mss >= unsent) k--; // the FIN rides on a segment of its own
        if (k >= 2) {
          sendAggregate(ep, ep.sndNxt, k, now);
          inFlight += k * mss;
          continue;
        }
      }
      const fin = ep.finQueued && len === unsent;
      sendData(ep, ep.sndNxt, len, fin, now);
      inFlight += len + (fin ? 1 : 0);
      continue;
    }
    if (ep.finQueued && !ep.finSent && unsent === 0) {
      sendData(ep, ep.sndNxt, 0, true, now);
      inFlight += 1;
      continue;
    }
    break;
  }
  if (prr) {
    const sent = inFlight - startInFlight;
    ep.prrOut += sent;
    ep.prrSndcnt = Math.max(0, ep.prrSndcnt - sent);
  }
  armTimers(ep);
}

function armTimers(ep: TcpEndpoint): void {
  if (!ep.sb.empty) {
    if (ep.persistMode) ep.persistMode = false;
    if (!ep.rto().scheduled) schedulePtoOrRto(ep);
    return;
  }
  const unsent = seqDiff(seqAdd(ep.sendQueueSeq, ep.sendQueue.length), ep.sndNxt);
  if (unsent > 0 && seqDiff(seqAdd(ep.sndUna, ep.sndWnd), ep.sndNxt) < Math.min(unsent, ep.mss)) {
    // Nothing in flight and the window too small to send: probe it (RFC 9293 §3.8.6.1).
    if (!ep.persistMode || !ep.rtoTimer?.scheduled) {
      ep.persistMode = true;
      ep.rto().schedule(Math.max(ep.rtt.rto, ep.stack.config.minRtoMs));
    }
  } else if (ep.rtoTimer?.scheduled) {
    ep.rtoTimer.cancel();
    ep.persistMode = false;
  }
}

function sendData(ep: TcpEndpoint, seq: number, len: number, fin: boolean, now: number): void {
  const payload = len > 0 ? ep.sendQueue.peek(seqDiff(seq, ep.sendQueueSeq), len) : EMPTY;
  const lastInQueue = seqDiff(seqAdd(ep.sendQueueSeq, ep.sendQueue.length), seqAdd(seq, len)) === 0;
  let flags = ACK;
  if (fin) flags |= FIN;
  if (len > 0 && lastInQueue) flags |= PSH;
  if (ep.sb.empty) ep.lastProgress = now;
  transmit(ep, flags, seq, payload, false);
  ep.sb.add(seq, len + (fin ? 1 : 0), flags & (FIN | PSH), now);
  ep.sndNxt = seqAdd(seq, len + (fin ? 1 : 0));
  if (fin) {
    ep.finSent = true;
    ep.finSeq = seqAdd(seq, len);
  }
  ep.bytesSent += len;
  ep.lastSendTime = now;
}

/** `k` full segments sent as one GSO aggregate; the scoreboard keeps one record per segment. */
function sendAggregate(ep: TcpEndpoint, seq: number, k: number, now: number): void {
  const mss = ep.mss;
  const total = k * mss;
  const payload = ep.sendQueue.peek(seqDiff(seq, ep.sendQueueSeq), total);
  const lastInQueue = seqDiff(seqAdd(ep.sendQueueSeq, ep.sendQueue.length), seqAdd(seq, total)) === 0;
  if (ep.sb.empty) ep.lastProgress = now;
  transmit(ep, ACK | (lastInQueue ? PSH : 0), seq, payload, false, mss);
  // Segmentation offload puts PSH on the last segment only (Linux tcp_gso_segment), so only
  // the last record carries it, for retransmissions to repeat.
  for (let i = 0; i < k; i++) ep.sb.add(seqAdd(seq, i * mss), mss, lastInQueue && i === k - 1 ? PSH : 0, now);
  ep.sndNxt = seqAdd(seq, total);
  ep.bytesSent += total;
  ep.lastSendTime = now;
  ep.stack.stats.gsoSends++;
}

/**
 * Resends one scoreboard segment with the flags it was first sent with, as Linux does (the
 * skb keeps its tcp_flags): PSH is not added to a segment that went without it. When the MSS
 * shrank it is re-cut first, and PSH and FIN stay with the last piece (Linux tcp_fragment).
 */
export function retransmit(ep: TcpEndpoint, s: SentSegment, now: number): void {
  if (s.ctl & SYN) {
    sendSynSegment(ep);
  } else {
    const fin = (s.ctl & FIN) !== 0;
    let dataLen = s.len - (fin ? 1 : 0);
    if (dataLen > ep.mss) {
      ep.sb.split(s, ep.mss);
      dataLen = s.len;
    }
    const payload = dataLen > 0 ? ep.sendQueue.peek(seqDiff(s.seq, ep.sendQueueSeq), dataLen) : EMPTY;
    transmit(ep, ACK | (s.ctl & (FIN | PSH)), s.seq, payload, false);
  }
  ep.sb.markRetransmitted(s, now);
  if (ep.undoPending) ep.undoRetrans++;
  const t = ep.rto();
  if (!t.scheduled) t.schedule(ep.rtt.rto);
}

/** Enters fast recovery (RFC 6675 §5 step 4 / RFC 6582 §3.2 step 2). */
export function enterRecovery(ep: TcpEndpoint): void {
  const now = ep.stack.now();
  ep.recovery = RECOVERY_FAST;
  ep.recoverSeq = ep.sndNxt;
  saveUndo(ep);
  ep.cc.onCongestionEvent(now, seqDiff(ep.sndNxt, ep.sndUna));
  // RFC 6937 §3: the reduction is spread over the recovery, paced by what gets delivered.
  ep.prrRecoverFs = Math.max(seqDiff(ep.sndNxt, ep.sndUna), 1);
  ep.prrDelivered = 0;
  ep.prrOut = 0;
  ep.prrSndcnt = 0;
  prrUpdate(ep, 0); // allows the fast retransmit even when no ACK clocks this entry (RACK timer)
  if (!ep.sackOk || !ep.sb.headLost()) ep.sb.markHeadLost();
  ep.stack.stats.fastRetransmits++;
  if (ep.tlpArmed) {
    // Recovery has its own clock: the probe timer gives way to the RTO (RFC 8985 §7.2).
    ep.tlpArmed = false;
    ep.rto().schedule(ep.rtt.rto);
  }
}

/**
 * RFC 6937 §3 on each ACK in fast recovery: how much may be sent now. Proportional while
 * Pipe exceeds ssthresh, then slow-start reduction bound (PRR-SSRB) back up to ssthresh.
 */
export function prrUpdate(ep: TcpEndpoint, delivered: number): void {
  ep.prrDelivered += delivered;
  const p = pipe(ep);
  const ssthresh = ep.cc.ssthresh;
  let sndcnt: number;
  if (p > ssthresh) {
    sndcnt = Math.ceil((ep.prrDelivered * ssthresh) / ep.prrRecoverFs) - ep.prrOut;
  } else {
    const limit = Math.max(ep.prrDelivered - ep.prrOut, delivered) + ep.mss;
    sndcnt = Math.min(ssthresh - p, limit);
  }
  // The fast retransmit itself always goes (RFC 6937 §3, and its revision's note on it).
  if (ep.prrOut === 0 && sndcnt < ep.mss) sndcnt = ep.mss;
  ep.prrSndcnt = Math.max(0, sndcnt);
}

/** The RTO slot: retransmission timeout, or the persist timer when in persist mode. */
export function onRtoTimer(ep: TcpEndpoint): void {
  const now = ep.stack.now();
  const c = ep.stack.config;
  if (ep.persistMode) {
    ep.persistMode = false;
    const unsent = seqDiff(seqAdd(ep.sendQueueSeq, ep.sendQueue.length), ep.sndNxt);
    if (!canOutput(ep.state) || unsent <= 0) return;
    const usable = seqDiff(seqAdd(ep.sndUna, ep.sndWnd), ep.sndNxt);
    if (usable > 0) {
      // The SWS override timeout (RFC 9293 §3.8.6.2.1): send what the window takes now.
      const len = Math.min(usable, unsent, ep.mss);
      sendData(ep, ep.sndNxt, len, ep.finQueued && len === unsent, now);
      armTimers(ep);
      return;
    }
    // Zero-window probe: an old sequence number forces an ACK with the current window.
    transmit(ep, ACK, seqAdd(ep.sndUna, -1), EMPTY, false);
    ep.probes++;
    ep.stack.stats.zeroWindowProbes++;
    ep.rtt.backOff();
    ep.persistMode = true;
    ep.rto().schedule(Math.max(ep.rtt.rto, c.minRtoMs));
    return;
  }
  if (ep.tlpArmed) {
    ep.tlpArmed = false;
    if (!ep.sb.empty && canOutput(ep.state)) sendTlp(ep, now);
    return;
  }
  const first = ep.sb.first();
  if (!first) return;
  if (ep.state === TcpState.SYN_SENT || ep.state === TcpState.SYN_RECEIVED) {
    const limit = ep.state === TcpState.SYN_SENT ? (ep.synRetries ?? c.synRetries) : c.synAckRetries;
    // TCP_USER_TIMEOUT bounds the handshake too, once a retransmission has gone out (Linux
    // tcp_write_timeout → retransmits_timed_out with the user timeout instead of the retry count).
    const uto = ep.state === TcpState.SYN_SENT ? ep.opts.userTimeoutMs : 0;
    const expired = uto > 0 ? ep.retransmits > 0 && now - ep.lastProgress >= uto : ep.retransmits >= limit;
    if (expired) {
      ep.stack.stats.timeouts++;
      ep.fail(ep.softError ?? 'ETIMEDOUT'); // Linux reports the soft error, if any, on timeout
      return;
    }
    ep.retransmits++;
    ep.rtt.backOff();
    retransmit(ep, first, now);
    const left = uto > 0 ? Math.max(1, uto - (now - ep.lastProgress)) : Infinity;
    ep.rto().schedule(Math.min(ep.rtt.rto, left));
    return;
  }
  const uto = ep.opts.userTimeoutMs;
  if ((uto > 0 && now - ep.lastProgress >= uto) || (uto === 0 && ep.retransmits >= c.retries2)) {
    ep.stack.stats.timeouts++;
    ep.fail(ep.softError ?? 'ETIMEDOUT'); // Linux reports the soft error, if any, on timeout
    return;
  }
  ep.stack.stats.rtos++;
  const flight = seqDiff(ep.sndNxt, ep.sndUna);
  // RFC 5681 §3.1: ssthresh falls once per loss episode; repeated timeouts keep it.
  if (ep.recovery !== RECOVERY_LOSS || ep.retransmits === 0) {
    if (ep.recovery === RECOVERY_NONE) saveUndo(ep);
    ep.cc.onRto(now, flight);
  }
  else ep.cc.cwnd = ep.mss;
  ep.retransmits++;
  ep.rtt.backOff();
  ep.tlpHighSeq = -1;
  ep.sb.markAllLost();
  ep.recovery = RECOVERY_LOSS;
  ep.recoverSeq = ep.sndNxt;
  ep.dupAcks = 0;
  // RFC 5482 §2: the user timeout bounds how long data stays unacknowledged, so the backed-off
  // RTO must not overshoot it (Linux's tcp_clamp_rto_to_user_timeout).
  const left = uto > 0 ? Math.max(1, uto - (now - ep.lastProgress)) : Infinity;
  ep.rto().schedule(Math.min(ep.rtt.rto, left));
  output(ep);
}

/** Keepalive, TIME_WAIT and FIN_WAIT_2 timeout (one slot, as Linux's keepalive timer). */
export function onKeepaliveTimer(ep: TcpEndpoint): void {
  const now = ep.stack.now();
  switch (ep.state) {
    case TcpState.TIME_WAIT:
      ep.enterClosed();
      return;
    case TcpState.FIN_WAIT_2:
      if (ep.userClosed) {
        ep.enterClosed();
        return;
      }
      break;
    case TcpState.ESTABLISHED:
    case TcpState.CLOSE_WAIT:
      break;
    default:
      return;
  }
  if (!ep.opts.keepAlive) return;
  const idle = now - ep.lastRecvTime;
  if (ep.probes === 0 && idle < ep.opts.keepIdleMs) {
    ep.kaTimer!.schedule(ep.opts.keepIdleMs - idle);
    return;
  }
  if (!ep.sb.empty || ep.sendQueue.length > 0) {
    // Data is outstanding: the retransmission timer watches the peer instead.
    ep.kaTimer!.schedule(ep.opts.keepIdleMs);
    return;
  }
  const uto = ep.opts.userTimeoutMs;
  if ((uto > 0 && ep.probes > 0 && idle >= uto) || (uto === 0 && ep.probes >= ep.opts.keepCnt)) {
    ep.stack.stats.keepaliveTimeouts++;
    sendRst(ep, ep.sndNxt);
    ep.fail(ep.softError ?? 'ETIMEDOUT'); // Linux reports the soft error, if any, on timeout
    return;
  }
  // RFC 1122 §4.2.3.6: a segment with SEG.SEQ = SND.NXT-1 and no data draws an ACK.
  transmit(ep, ACK, seqAdd(ep.sndNxt, -1), EMPTY, false);
  ep.probes++;
  ep.kaTimer!.schedule(ep.opts.keepIntvlMs);
}

export function onDelackTimer(ep: TcpEndpoint): void {
  if (ep.ackPending || ep.ackNow) sendAck(ep);
}

/** Notes received data to acknowledge (a full-sized segment counts toward every second one). */
export function noteAck(ep: TcpEndpoint, fullSegment: boolean): void {
  ep.ackPending = true;
  if (fullSegment) ep.unackedSegs++;
  if (ep.quickAcks > 0 || ep.opts.quickAck) {
    if (ep.quickAcks > 0) ep.quickAcks--;
    ep.ackNow = true;
  }
}

/**
 * Decides, once per arriving segment, when to acknowledge what it brought (RFC 5681 §4.2,
 * RFC 9293 §3.8.6.3; Linux's tcp_ack_snd_check): at once when asked (out of order, hole
 * filled, quick-ack), at least every second full segment, else after the delayed-ACK timeout.
 */
export function ackSndCheck(ep: TcpEndpoint): void {
  if (ep.ackNow || (ep.ackPending && ep.unackedSegs >= 2)) {
    sendAck(ep);
    return;
  }
  if (!ep.ackPending) return;
  const t = ep.delack();
  if (!t.scheduled) t.schedule(ep.stack.config.delAckMs);
}

/** After the user reads: tell the peer when the window opened enough (RFC 9293 §3.8.6.2.2). */
export function maybeWindowUpdate(ep: TcpEndpoint): void {
  if (ep.state !== TcpState.ESTABLISHED && ep.state !== TcpState.FIN_WAIT_1 && ep.state !== TcpState.FIN_WAIT_2) return;
  const free = offerable(ep, ep.rcvWscale);
  const cur = Math.max(0, seqDiff(ep.rcvAdv, ep.rcvNxt));
  // As Linux's tcp_cleanup_rbuf: worth a segment when the window at least doubles, and (SWS)
  // when it grows by min(RCV.BUFF/2, MSS) at least; measured on the offer the field can carry.
  if (free >= 2 * cur && free - cur >= Math.min(ep.rcvBuf / 2, ep.advMss)) {
    // Sent from a zero-delay timer, so that segments arriving in the same batch share it.
    ep.ackNow = true;
    ep.delack().schedule(0);
  }
}

/** Restarts the retransmission timer after progress (RFC 6298 §5.3) or stops it (§5.2). */
export function restartRto(ep: TcpEndpoint): void {
  if (ep.sb.empty) {
    if (!ep.persistMode) {
      ep.rtoTimer?.cancel();
      ep.tlpArmed = false;
    }
    return;
  }
  ep.persistMode = false;
  schedulePtoOrRto(ep);
}

/**
 * Arms the tail loss probe (RFC 8985 §7.2) when allowed, else the RTO: PTO = 2*SRTT, plus the
 * worst-case delayed ACK when one segment is in flight, never later than the RTO.
 */
function schedulePtoOrRto(ep: TcpEndpoint): void {
  const t = ep.rto();
  const rto = ep.rtt.rto;
  if (
    ep.sackOk && ep.recovery === RECOVERY_NONE && ep.tlpHighSeq < 0 && ep.retransmits === 0 &&
    (ep.state === TcpState.ESTABLISHED || ep.state === TcpState.CLOSE_WAIT)
  ) {
    let pto = ep.rtt.hasSample ? 2 * ep.rtt.srtt : 1000;
    if (ep.sb.size === 1) pto += ep.stack.config.minRtoMs;
    pto = Math.min(Math.max(pto, 10), rto);
    ep.tlpArmed = true;
    t.schedule(pto);
    return;
  }
  ep.tlpArmed = false;
  t.schedule(rto);
}

/** RFC 8985 §7.3: the probe is new data when the window allows, else the last segment again. */
function sendTlp(ep: TcpEndpoint, now: number): void {
  const unsent = seqDiff(seqAdd(ep.sendQueueSeq, ep.sendQueue.length), ep.sndNxt);
  const usable = seqDiff(seqAdd(ep.sndUna, ep.sndWnd), ep.sndNxt);
  ep.tlpWasRetransmit = false;
  if (unsent > 0 && usable >= Math.min(unsent, ep.mss)) {
    const len = Math.min(ep.mss, unsent, usable);
    sendData(ep, ep.sndNxt, len, ep.finQueued && len === unsent, now);
  } else {
    const last = ep.sb.last();
    if (!last) return;
    retransmit(ep, last, now);
    ep.tlpWasRetransmit = true;
  }
  ep.stack.stats.tailLossProbes++;
  ep.tlpHighSeq = ep.sndNxt;
  ep.tlpDsacks = ep.sb.dsacks;
  ep.tlpArmed = false;
  ep.rto().schedule(ep.rtt.rto);
}

/**
 * RFC 8985 §7.4: the probe's episode ends with an ACK at or beyond TLP.end_seq. When the probe
 * was a retransmission and no D-SACK says the original arrived, it repaired a loss: respond
 * to congestion as fast recovery would.
 */
export function tlpEpisodeDone(ep: TcpEndpoint, now: number): void {
  if (ep.tlpWasRetransmit && ep.sb.dsacks === ep.tlpDsacks) {
    ep.cc.onCongestionEvent(now, seqDiff(ep.sndNxt, ep.sndUna) + ep.mss);
    ep.cc.onRecoveryExit(now);
    ep.stack.stats.tlpRecoveries++;
  }
  ep.tlpHighSeq = -1;
  ep.tlpWasRetransmit = false;
}

export { RECOVERY_LOSS, RECOVERY_NONE };

/** A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), within the stack-wide rate limit (§7). */
export function sendChallengeAck(ep: TcpEndpoint): void {
  if (!ep.stack.challengeAckAllowed()) {
    ep.stack.stats.challengeAcksSuppressed++;
    return;
  }
  ep.stack.stats.challengeAcks++;
  sendAck(ep);
}

/**
 * RACK loss detection (RFC 8985 §6.2) and its reordering timer (§6.3): segments that are not
 * yet old enough to be called lost get a timer for the moment they will be.
 */
export function rackDetect(ep: TcpEndpoint, now: number): number {
  const r = ep.sb.markLostRack(now, (ep.rtt.latest || ep.rtt.srtt) + rackReoWnd(ep));
  if (r.wait < Infinity) {
    ep.reoTimer ??= ep.stack.timers.timer(() => ep.stack.guard(() => onReoTimer(ep)));
    ep.reoTimer.scheduleAt(r.wait);
  } else {
    ep.reoTimer?.cancel();
  }
  return r.marked;
}

/**
 * RACK.reo_wnd (RFC 8985 §6.2 step 4): none while no reordering was seen and the loss is
 * evident (in recovery, or DupThresh segments sacked); else min_RTT/4 times a multiplier that
 * D-SACKs raise, capped at SRTT.
 */
export function rackReoWnd(ep: TcpEndpoint): number {
  const sb = ep.sb;
  if (!sb.reorderingSeen && (ep.recovery !== RECOVERY_NONE || sb.sackedCount >= 3)) return 0;
  if (ep.rtt.minRtt === Infinity) return 0;
  return Math.min((ep.rtt.minRtt / 4) * ep.reoWndMult, ep.rtt.srtt);
}

/** Remembers the window before a congestion response, for a D-SACK undo. */
function saveUndo(ep: TcpEndpoint): void {
  if (!ep.stack.config.dsackUndo || !ep.sackOk) return;
  ep.undoPending = true;
  ep.undone = false;
  ep.undoCwnd = ep.cc.cwnd;
  ep.undoSsthresh = ep.cc.ssthresh;
  ep.undoRetrans = 0;
  ep.undoMarker = ep.sndUna;
}

/**
 * A D-SACK arrived (RFC 2883): one retransmission was unnecessary. When every retransmission of
 * the episode proves so, the congestion response is undone (RFC 3708 §3; Linux).
 */
export function dsackUndo(ep: TcpEndpoint, dsackEnd: number): void {
  if (!ep.undoPending || ep.undoRetrans <= 0 || !seqGt(dsackEnd, ep.undoMarker)) return;
  if (--ep.undoRetrans > 0) return;
  ep.undoPending = false;
  ep.undone = true;
  if (ep.undoCwnd > ep.cc.cwnd) ep.cc.cwnd = ep.undoCwnd;
  if (ep.undoSsthresh > ep.cc.ssthresh) ep.cc.ssthresh = ep.undoSsthresh;
  ep.stack.stats.spuriousUndos++;
}

/** RFC 8985 §6.2 step 4: a D-SACK in a new round widens the reordering window. */
export function rackOnDsack(ep: TcpEndpoint): void {
  // A D-SACK shows a retransmission was spurious: the path reorders (as Linux counts it).
  ep.sb.reorderingSeen = true;
  if (ep.dsackRound >= 0 && seqLt(ep.sndUna, ep.dsackRound)) return;
  ep.dsackRound = ep.sndNxt;
  ep.reoWndMult++;
  ep.reoWndPersist = 16;
}

function onReoTimer(ep: TcpEndpoint): void {
  if (!canOutput(ep.state) || ep.sb.empty) return;
  const now = ep.stack.now();
  ep.sb.now = now;
  if (rackDetect(ep, now) > 0) {
    if (ep.recovery === RECOVERY_NONE) enterRecovery(ep);
    output(ep);
  }
}
