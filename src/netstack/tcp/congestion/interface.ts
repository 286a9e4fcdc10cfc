// Congestion control behind one interface, so the sender knows no algorithm (gVisor's
// tcp.congestionControl, Linux's tcp_congestion_ops). Read RFC 5681 (the framework: cwnd,
// ssthresh, FlightSize), RFC 6928 (initial window), RFC 3465 (appropriate byte counting).
// All windows are in bytes; `mss` is the sender's SMSS.

export interface CongestionControl {
  readonly name: string;
  /** Congestion window in bytes (may be fractional internally; the sender floors it). */
  cwnd: number;
  /** Slow-start threshold in bytes; Infinity until the first congestion event. */
  ssthresh: number;
  /** The SMSS changed (PMTU, or after the handshake). */
  setMss(mss: number): void;
  /** `acked` bytes of new data were cumulatively acknowledged outside loss recovery. */
  onAck(acked: number, now: number, rttMs: number, flight: number): void;
  /** Loss detected by dupacks/SACK: entering fast recovery (RFC 5681 §3.2 step 2). */
  onCongestionEvent(now: number, flight: number): void;
  /** Fast recovery ended with a full ACK (RFC 6582 §3.2 step 3: deflate to ssthresh). */
  onRecoveryExit(now: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 equation 4; cwnd to the loss window). */
  onRto(now: number, flight: number): void;
  /** The connection was idle longer than an RTO (RFC 5681 §4.1: restart window). */
  onIdleRestart(now: number): void;
  /** A new round (one window of data) began: an ACK passed the SND.NXT of the last round start. */
  onRoundStart?(now: number): void;
  /** One RTT measurement in ms (every sample, not the smoothed value). */
  onRttSample?(rttMs: number, now: number): void;
}

export type CongestionAlgorithm = 'cubic' | 'newreno';

/** Initial window of RFC 6928 (ten segments, as Linux), limited for very large MSS. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}
