// Segment arrival in synchronized states (RFC 9293 §3.10.7.4): the sequence check, RST and
// SYN handling hardened per RFC 5961 (§3.2 RST, §4.2 SYN, §5.2 ACK, with challenge ACKs rate
// limited per §7), PAWS (RFC 7323 §5), ACK processing with SACK (RFC 2018, RFC 6675) and
// NewReno (RFC 6582), data reassembly, FIN, and TIME-WAIT (RFC 9293 §3.10.7.4 and RFC 6191,
// with RFC 1337's rule of ignoring RST in TIME-WAIT).

import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../wire/seq.js';
import { ACK, FIN, RST, SYN, segLen, type Segment } from './segment.js';
import { TcpState, canReceiveData, stateAfterFinAcked, stateAfterRecvFin } from './state.js';
import { RECOVERY_FAST, RECOVERY_LOSS, RECOVERY_NONE, type TcpEndpoint } from './endpoint.js';
import { ackSndCheck, dsackUndo, enterRecovery, noteAck, output, prrUpdate, restartRto, sendAck, tsNow, sendChallengeAck, tlpEpisodeDone, rackDetect, rackOnDsack } from './sender.js';
import { synSentInput, sendSynSegment } from './handshake.js';
import type { AckResult } from './scoreboard.js';

const OOW_ACK_INTERVAL_MS = 500;

const ackRes: AckResult = { acked: 0, rttXmit: -1, ackedRetransmitted: false, ctlAcked: 0 };

/**
 * Processes one segment for `ep`. Returns true when the segment should be handed on to a
 * listener instead (a new SYN that ends a TIME-WAIT, RFC 6191).
 */
export function segmentArrives(ep: TcpEndpoint, seg: Segment): boolean {
  const stack = ep.stack;
  const now = stack.now();
  ep.segsIn++;
  if (seg.payload.length > 0) ep.dataSegsIn++;
  ep.lastRecvTime = now;
  if (ep.state === TcpState.SYN_SENT) {
    synSentInput(ep, seg);
    return false;
  }
  if (ep.state === TcpState.TIME_WAIT) return timeWaitInput(ep, seg);
  if (ep.state === TcpState.CLOSED || ep.state === TcpState.LISTEN) return false;
  let f = seg.flags;

  // Simultaneous open: the peer's SYN-ACK repeats the SYN we already took; keep its ACK part.
  if (ep.state === TcpState.SYN_RECEIVED && f & SYN && f & ACK && seg.seq === ep.irs) {
    seg.seq = seqAdd(seg.seq, 1);
    f &= ~SYN;
    seg.flags = f;
  }

  // RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence number, draws a
  // challenge ACK and is dropped (a retransmitted SYN in SYN-RECEIVED gets our SYN-ACK again).
  if (f & SYN && !(f & RST)) {
    if (ep.state === TcpState.SYN_RECEIVED && ep.parent && seg.seq === ep.irs && !(f & ACK)) sendSynSegment(ep);
    else sendChallengeAck(ep);
    return false;
  }

  // RFC 7323 §5.3 R1: PAWS, before the sequence check.
  if (ep.tsOk && seg.hasTs && !(f & RST) && seqDiff(ep.tsRecent, seg.tsVal) > 1 && now - ep.tsRecentTime < 24 * 86_400_000) {
    stack.stats.pawsDrops++;
    sendAck(ep);
    return false;
  }

  // first: sequence number check (RFC 9293 §3.10.7.4, the four cases)
  let len = segLen(seg);
  const rcvWnd = Math.max(0, seqDiff(ep.rcvAdv, ep.rcvNxt));
  let acceptable: boolean;
  if (len === 0) {
    // As Linux (tcp_sequence), an empty segment exactly at the right edge is acceptable: a peer
    // that filled our window sends its ACKs from there, and refusing them starts an ACK war.
    const d = seqDiff(seg.seq, ep.rcvNxt);
    acceptable = d >= 0 && d <= rcvWnd;
  } else if (rcvWnd === 0) {
    acceptable = false;
  } else {
    acceptable = seqInWin(seg.seq, ep.rcvNxt, rcvWnd) || seqInWin(seqAdd(seg.seq, len - 1), ep.rcvNxt, rcvWnd);
  }
  if (!acceptable && len > 0 && seg.seq === ep.rcvNxt && f & ACK && !(f & RST)) {
    // Zero window: the RFC's "special allowance" for the ACK (and a FIN at the edge) of a
    // segment whose data we cannot take.
    acceptable = true;
    seg.payload = seg.payload.subarray(0, 0);
    len = f & FIN ? 1 : 0;
    if (len === 0) f &= ~FIN;
    stack.stats.zeroWindowDrops++;
    ep.ackNow = true;
  }
  if (!acceptable) {
    stack.stats.outOfWindow++;
    if (!(f & RST)) {
      if (len > 0 && seqLe(seqAdd(seg.seq, len), ep.rcvNxt) && ep.sackOk) ep.dsack = [seg.seq, seqAdd(seg.seq, len)];
      // Answers to empty out-of-window segments are rate limited, so two confused ends cannot
      // feed each other ACKs forever (Linux tcp_oow_rate_limited, 500 ms).
      if (len === 0 && now - ep.lastOowAck < OOW_ACK_INTERVAL_MS) {
        stack.stats.oowAcksSuppressed++;
        return false;
      }
      if (len === 0) ep.lastOowAck = now;
      sendAck(ep);
    }
    return false;
  }

  // second: RST (RFC 5961 §3.2: exact match resets, in-window gets a challenge ACK)
  if (f & RST) {
    if (seg.seq !== ep.rcvNxt) {
      sendChallengeAck(ep);
      return false;
    }
    stack.stats.resetsReceived++;
    switch (ep.state) {
      case TcpState.SYN_RECEIVED:
        if (ep.parent) ep.enterClosed(); // passive: back to LISTEN, which never left
        else ep.fail('ECONNREFUSED');
        return false;
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
      case TcpState.CLOSE_WAIT:
        stack.stats.estabResets++;
        // Linux tcp_reset: after the peer's FIN the reader has seen end of stream, so the
        // writer learns EPIPE; otherwise ECONNRESET.
        ep.fail(ep.state === TcpState.CLOSE_WAIT ? 'EPIPE' : 'ECONNRESET');
        return false;
      default:
        ep.enterClosed();
        return false;
    }
  }

  // Timestamps: RFC 7323 §4.3 (update TS.Recent when the segment covers Last.ACK.sent).
  if (ep.tsOk && seg.hasTs && seqLe(seg.seq, ep.lastAckSent) && seqGe(seg.tsVal, ep.tsRecent)) {
    ep.tsRecent = seg.tsVal;
    ep.tsRecentTime = now;
  }

  // fourth: SYN was handled above (RFC 5961 §4.2).

  // fifth: ACK
  if (!(f & ACK)) return false;
  if (ep.state === TcpState.SYN_RECEIVED) {
    if (!(seqLt(ep.sndUna, seg.ack) && seqLe(seg.ack, ep.sndNxt))) {
      stack.replyRst(ep.localAddr!, ep.remoteAddr!, seg);
      return false;
    }
    if (ep.parent && !ep.parent.hasRoom()) {
      // Accept queue full: ignore the ACK and let the SYN-ACK be retransmitted (Linux).
      stack.stats.listenOverflows++;
      return false;
    }
    const first = ep.sb.first();
    if (first && first.retx === 0) ep.rtt.sample(now - first.xmitTime);
    ep.sb.ack(seg.ack, ackRes);
    ep.sndUna = seg.ack;
    ep.sndWnd = seg.window * 2 ** ep.sndWscale;
    ep.maxSndWnd = Math.max(ep.maxSndWnd, ep.sndWnd);
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = seg.ack;
    ep.retransmits = 0;
    ep.rtoTimer?.cancel();
    ep.established();
    if (ep.parent) ep.parent.childEstablished(ep);
    if (ep.finQueued) ep.state = TcpState.FIN_WAIT_1;
  }
  // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
  if (seqGt(seg.ack, ep.sndNxt)) {
    stack.stats.ackOfUnsent++;
    sendAck(ep);
    return false;
  }
  if (seqLt(seg.ack, seqAdd(ep.sndUna, -Math.max(ep.maxSndWnd, 1)))) {
    sendChallengeAck(ep);
    return false;
  }
  processAck(ep, seg, now);
  if ((ep.state as TcpState) === TcpState.CLOSED) return false;

  // seventh: segment text
  if (seg.payload.length > 0) {
    if (canReceiveData(ep.state)) {
      // (An acceptable segment with data always brings some at or beyond RCV.NXT: new data,
      // which is Linux's condition.)
      if (ep.userClosed && ep.state !== TcpState.ESTABLISHED) {
        // New data for a socket nobody will read: RFC 1122 §4.2.2.13 / RFC 2525 §2.17 call for
        // a reset. As Linux (tcp_rcv_state_process returns 1, "TCPAbortOnData"), the RST is the
        // one for a segment without a connection, built from the segment (RFC 9293 §3.10.7.1:
        // <SEQ=SEG.ACK><CTL=RST>): the connection is gone as far as the reader is concerned.
        stack.replyRst(ep.localAddr!, ep.remoteAddr!, seg);
        ep.enterClosed();
        return false;
      }
      receiveData(ep, seg);
    }
  }
  // eighth: FIN, this segment's or one that came ahead of the data that just filled the gap.
  if (f & FIN && canReceiveFin(ep.state)) {
    const finSeq = seqAdd(seg.seq, seg.payload.length);
    if (seqGt(finSeq, ep.rcvNxt)) ep.ooo.finSeq = finSeq;
    else if (finSeq === ep.rcvNxt) acceptFin(ep);
  }
  if (ep.ooo.finSeq >= 0 && ep.ooo.finSeq === ep.rcvNxt && canReceiveFin(ep.state)) {
    ep.ooo.finSeq = -1;
    acceptFin(ep);
  }
  // One acknowledgment for everything the segment brought (RFC 9293 §3.10.7.4 acknowledges
  // after the text and the FIN; Linux's tcp_ack_snd_check runs once per segment): data and
  // FIN in one segment draw one ACK covering both, not one each.
  ackSndCheck(ep);
  output(ep);
  return false;
}

function canReceiveFin(s: TcpState): boolean {
  return s === TcpState.SYN_RECEIVED || s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2;
}

function seqInWin(x: number, lo: number, wnd: number): boolean {
  const d = seqDiff(x, lo);
  return d >= 0 && d < wnd;
}

/** Takes the FIN at RCV.NXT; its ACK goes at once and covers any data the segment carried. */
function acceptFin(ep: TcpEndpoint): void {
  ep.rcvNxt = seqAdd(ep.rcvNxt, 1);
  ep.finReceived = true;
  const ourFinAcked = ep.finSent && seqGe(ep.sndUna, ep.sndNxt);
  const next = stateAfterRecvFin(ep.state, ourFinAcked);
  sendAck(ep);
  if (next === TcpState.TIME_WAIT) ep.enterTimeWait();
  else ep.state = next;
  ep.peerClosedEvent();
}

/** Fifth step for established states: window, RTT, congestion, recovery, FIN acknowledgment. */
function processAck(ep: TcpEndpoint, seg: Segment, now: number): void {
  const stack = ep.stack;
  const ack = seg.ack;
  // Window update, guarded by SND.WL1/SND.WL2 (RFC 9293 §3.10.7.4).
  let windowChanged = false;
  if (seqLt(ep.sndWl1, seg.seq) || (ep.sndWl1 === seg.seq && seqLe(ep.sndWl2, ack))) {
    const wnd = seg.window * 2 ** ep.sndWscale;
    if (wnd !== ep.sndWnd) windowChanged = true;
    ep.sndWnd = wnd;
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = ack;
    if (wnd > ep.maxSndWnd) ep.maxSndWnd = wnd;
  }
  const sb = ep.sb;
  const unaBefore = ep.sndUna;
  const sackedBefore = sb.sackedBytes;
  sb.now = now;
  sb.minRtt = ep.rtt.minRtt;
  ep.probes = 0; // any ACK answers keepalive and zero-window probes (Linux icsk_probes_out)
  if (seqGt(ack, ep.sndUna)) {
    sb.ack(ack, ackRes);
    // RTT: RFC 7323 §4.1 from TSecr, else Karn's rule via the scoreboard (RFC 6298 §3).
    let sample = -1;
    if (ep.tsOk && seg.hasTs && seg.tsEcr !== 0) {
      const r = (tsNow(ep) - seg.tsEcr) >>> 0;
      if (r < 0x7fffffff) sample = r;
    } else if (ackRes.rttXmit >= 0 && !ackRes.ackedRetransmitted) {
      // Karn (RFC 6298 §3) for the whole ACK, as Linux: an ACK that also covers a
      // retransmission (a filled hole) says nothing about the path's RTT.
      sample = now - ackRes.rttXmit;
    }
    if (sample >= 0) {
      ep.rtt.sample(sample);
      ep.cc.onRttSample?.(sample, now);
    }
    if (seqGe(ack, ep.roundEnd)) {
      ep.roundEnd = ep.sndNxt;
      ep.cc.onRoundStart?.(now);
    }
    let dataAcked = ackRes.acked;
    if (ackRes.ctlAcked & FIN) dataAcked--;
    if (ackRes.ctlAcked & SYN) dataAcked--;
    const k = Math.min(ep.sendQueue.length, Math.max(0, seqDiff(ack, ep.sendQueueSeq)));
    if (k > 0) {
      ep.sendQueue.drop(k);
      ep.sendQueueSeq = seqAdd(ep.sendQueueSeq, k);
      stack.uncharge(ep, k);
    }
    const flight = seqDiff(ep.sndNxt, ep.sndUna);
    ep.sndUna = ack;
    ep.bytesAcked += Math.max(0, dataAcked);
    ep.retransmits = 0;
    ep.probes = 0;
    ep.lastProgress = now;
    if (ep.recovery !== RECOVERY_NONE) {
      if (seqGe(ack, ep.recoverSeq)) {
        // After an undo the restored window stands (ssthresh may be the pre-loss one).
        if (ep.recovery === RECOVERY_FAST && !ep.undone) ep.cc.onRecoveryExit(now);
        ep.recovery = RECOVERY_NONE;
        if (ep.reoWndPersist > 0 && --ep.reoWndPersist === 0) ep.reoWndMult = 1;
        ep.dupAcks = 0;
      } else if (ep.recovery === RECOVERY_FAST) {
        // RFC 6582 §3.2 step 5: a partial ACK shows the next hole; without SACK retransmit it.
        if (!ep.sackOk) sb.markHeadLost();
        ep.dupAcks = 0;
      } else {
        if (cwndLimited(ep, flight)) ep.cc.onAck(ackRes.acked, now, ep.rtt.srtt, flight); // slow start after an RTO
      }
    } else {
      ep.dupAcks = 0;
      if (cwndLimited(ep, flight)) ep.cc.onAck(ackRes.acked, now, ep.rtt.srtt, flight);
    }
    if (ackRes.ctlAcked & FIN || (ep.finSent && seqGe(ack, ep.sndNxt))) finAcked(ep);
    if (ep.state === TcpState.CLOSED) return;
    // Send-buffer auto-tuning: room for two congestion windows (Linux tcp_sndbuf_expand).
    const want = Math.floor(Math.min(stack.config.sndBufMax, 2 * ep.cc.cwnd + 4 * ep.mss)); // cwnd is fractional
    if (want > ep.opts.sndBuf && !ep.opts.sndBufLocked) ep.opts.sndBuf = want;
    if (ep.writeBlocked && ep.writable >= ep.opts.sndBuf / 3) {
      ep.writeBlocked = false;
      ep.writableEvent();
    }
    restartRto(ep);
  } else if (ack === ep.sndUna && !sb.empty && seg.payload.length === 0 && !(seg.flags & (SYN | FIN)) && !windowChanged) {
    // RFC 5681 §2: a duplicate acknowledgment.
    ep.dupAcks++;
  }
  if (ep.sackOk && seg.sack.length > 0) {
    const dsacks = sb.dsacks;
    if (!sb.empty) sb.applySack(seg.sack, ep.sndUna, ep.sndNxt);
    else if (seqLe(seg.sack[1], ep.sndUna)) sb.dsacks++;
    if (sb.dsacks > dsacks) {
      rackOnDsack(ep);
      dsackUndo(ep, seg.sack[1]);
    }
    // With SACK, losses are RACK's to find (RFC 8985 §6.2; as Linux). RFC 6675's DupThresh
    // rule stands in only while there is no RTT sample for RACK to work with.
    if (!ep.rtt.hasSample) sb.markLost(ep.mss);
  }
  if (ep.sackOk && !sb.empty && (sb.sackedCount > 0 || ep.recovery !== RECOVERY_NONE)) {
    // RFC 8985 §6.2: RACK.rtt + RACK.reo_wnd (min_RTT / 4), in time rather than in dupacks.
    rackDetect(ep, now);
  }
  if (ep.tlpHighSeq >= 0 && seqGe(ep.sndUna, ep.tlpHighSeq)) tlpEpisodeDone(ep, now);
  // Recovery starts when RACK marked a loss (with SACK), or on the third duplicate ACK
  // without SACK (RFC 5681 §3.2, RFC 6582).
  if (ep.recovery === RECOVERY_NONE && !sb.empty && (ep.sackOk ? sb.lostCount > 0 : ep.dupAcks >= 3)) {
    enterRecovery(ep);
  }
  if (ep.recovery === RECOVERY_FAST) {
    // RFC 6937 DeliveredData: what SND.UNA and the SACKed bytes say reached the receiver;
    // without SACK a duplicate ACK stands for one segment.
    let delivered = seqDiff(ep.sndUna, unaBefore) + (sb.sackedBytes - sackedBefore);
    if (!ep.sackOk && ep.sndUna === unaBefore && ep.dupAcks > 0) delivered = ep.mss;
    prrUpdate(ep, Math.max(0, delivered));
  }
}

/**
 * RFC 7661 §4 / Linux tcp_is_cwnd_limited: the window grows only while it is what limits the
 * sender (in slow start, while the flight is at least half of it), not when the application
 * or the receiver's window holds the flight down.
 */
function cwndLimited(ep: TcpEndpoint, flight: number): boolean {
  const cwnd = ep.cc.cwnd;
  if (cwnd < ep.cc.ssthresh) return 2 * flight >= cwnd;
  return flight + 3 * ep.mss >= cwnd;
}

function finAcked(ep: TcpEndpoint): void {
  const next = stateAfterFinAcked(ep.state);
  if (next === ep.state) return;
  if (next === TcpState.CLOSED) {
    ep.enterClosed();
  } else if (next === TcpState.TIME_WAIT) {
    ep.enterTimeWait();
  } else {
    ep.state = next;
    ep.rtoTimer?.cancel();
    if (next === TcpState.FIN_WAIT_2 && ep.userClosed) ep.armFinTimeout();
  }
}

/**
 * Seventh step: in-order data to the receive queue, the rest to reassembly. The ACK is only
 * noted here; the caller sends it (or arms the delayed ACK) once the FIN step is done.
 */
function receiveData(ep: TcpEndpoint, seg: Segment): void {
  const stack = ep.stack;
  let data = seg.payload;
  let seq = seg.seq;
  const off = seqDiff(ep.rcvNxt, seq);
  if (off > 0) {
    if (ep.sackOk) ep.dsack = [seq, seqAdd(seq, Math.min(off, data.length))];
    data = data.subarray(off);
    seq = ep.rcvNxt;
    ep.ackNow = true;
  }
  // Trim to the right edge we advertised (anything beyond it is not ours to keep yet).
  const room = seqDiff(ep.rcvAdv, seq);
  if (data.length > room) data = data.subarray(0, Math.max(0, room));
  // And to the buffer: the advertised edge should never lie beyond it, but SO_RCVBUF can shrink
  // under an offer already made, so what would not fit is dropped and counted, as Linux's
  // tcp_try_rmem_schedule does. Out-of-order bytes lie between RCV.NXT and this edge, so the
  // queue plus reassembly stays within RCV.BUFF.
  const bufRoom = ep.rcvBuf - ep.recvQueue.length - seqDiff(seq, ep.rcvNxt);
  if (data.length > bufRoom) {
    stack.stats.rcvQueueDrops++;
    data = data.subarray(0, Math.max(0, bufRoom));
  }
  if (data.length === 0) {
    noteAck(ep, false);
    return;
  }
  if (!stack.canCharge(data.length)) {
    stack.stats.memoryLimitHits++;
    ep.ackNow = true;
    return;
  }
  // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: "full-sized" is the size the peer really sends, which
  // its MSS or path may keep below ours. Linux starts from min(advmss, 536) and raises the
  // estimate to the largest segment seen (tcp_initialize_rcv_mss, tcp_measure_rcv_mss).
  if (ep.rcvMssEst === 0) ep.rcvMssEst = Math.min(ep.advMss, 536);
  if (data.length > ep.rcvMssEst) ep.rcvMssEst = Math.min(data.length, ep.advMss);
  const full = data.length >= ep.rcvMssEst;
  ep.lastDataRecvTime = stack.now();
  if (seq === ep.rcvNxt) {
    ep.recvQueue.push(data);
    stack.charge(ep, data.length);
    ep.rcvNxt = seqAdd(ep.rcvNxt, data.length);
    ep.bytesReceived += data.length;
    if (!ep.ooo.empty) {
      const before = ep.rcvNxt;
      const oooBefore = ep.ooo.bytes;
      ep.rcvNxt = ep.ooo.drain(ep.rcvNxt, (d) => ep.recvQueue.push(d));
      const moved = seqDiff(ep.rcvNxt, before);
      ep.bytesReceived += moved;
      stack.oooMemory -= oooBefore - ep.ooo.bytes;
      stack.charge(ep, moved);
      ep.ackNow = true; // RFC 5681 §4.2: ACK at once when a hole is filled
    }
    autoTune(ep, data.length);
    ep.readableEvent();
  } else {
    const r = ep.ooo.insert(seq, data, ep.rcvNxt);
    if (r > 0) stack.oooMemory += r;
    else if (r === 0 && ep.sackOk) ep.dsack = [seq, seqAdd(seq, data.length)];
    else if (r < 0) stack.stats.oooDrops++;
    ep.ackNow = true; // RFC 5681 §4.2: out-of-order data is acknowledged at once
  }
  noteAck(ep, full);
}

/**
 * Receive-buffer auto-tuning, in the spirit of Linux's DRS: when the data taken in one RTT
 * approaches the buffer, the window is what limits the peer, so the buffer doubles.
 */
function autoTune(ep: TcpEndpoint, n: number): void {
  const c = ep.stack.config;
  if (!c.rcvBufAutoTune || ep.opts.rcvBufLocked || ep.rcvBuf >= c.rcvBufMax) return;
  const now = ep.stack.now();
  ep.rcvSpaceBytes += n;
  const rtt = ep.rtt.hasSample ? Math.max(ep.rtt.srtt, 1) : 100;
  if (now - ep.rcvSpaceTime < rtt) return;
  if (ep.rcvSpaceBytes * 2 >= ep.rcvBuf) {
    ep.rcvBuf = Math.min(c.rcvBufMax, Math.max(ep.rcvBuf * 2, ep.rcvSpaceBytes * 4));
  }
  ep.rcvSpaceBytes = 0;
  ep.rcvSpaceTime = now;
}

/**
 * TIME-WAIT (RFC 9293 §3.10.7.4): re-ACK a retransmitted FIN and restart the 2*MSL timer;
 * ignore RST (RFC 1337); a new SYN may reopen the pair when its sequence number is above
 * RCV.NXT or its timestamp newer (RFC 1122 §4.2.2.13, RFC 6191 §2).
 */
function timeWaitInput(ep: TcpEndpoint, seg: Segment): boolean {
  const f = seg.flags;
  if (f & RST) {
    ep.stack.stats.timeWaitRstIgnored++;
    return false;
  }
  if (f & SYN && !(f & ACK)) {
    const fresh = ep.tsOk && seg.hasTs ? seqGt(seg.tsVal, ep.tsRecent) : seqGt(seg.seq, ep.rcvNxt);
    if (fresh) {
      ep.stack.stats.timeWaitReopened++;
      ep.stack.rememberTimeWaitSeq(ep);
      ep.enterClosed();
      return true;
    }
    sendAck(ep);
    return false;
  }
  if (f & FIN && seqAdd(seg.seq, seg.payload.length + 1) === ep.rcvNxt) {
    sendAck(ep);
    ep.kaTimer?.schedule(2 * ep.stack.config.mslMs);
    return false;
  }
  if (!(f & ACK) || seqDiff(seg.seq, ep.rcvNxt) !== 0 || seg.payload.length > 0) sendAck(ep);
  return false;
}

export { RECOVERY_FAST, RECOVERY_LOSS };
