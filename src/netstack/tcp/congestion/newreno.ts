// NewReno: RFC 5681 (slow start, congestion avoidance, the loss window) with the recovery
// bookkeeping of RFC 6582 done by the sender; byte counting per RFC 3465 (L = 2*SMSS).

import { initialWindow, type CongestionControl } from './interface.js';

export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Infinity;
  private mss: number;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 3465 §2.1). */
  private bytesAcked = 0;

  constructor(mss: number) {
    this.mss = mss;
    this.cwnd = initialWindow(mss);
  }

  setMss(mss: number): void {
    this.mss = mss;
  }

  onAck(acked: number, _now: number, _rtt: number, _flight: number): void {
    if (this.cwnd < this.ssthresh) {
      // RFC 3465 §2.2: slow start grows by bytes acked, at most L = 2*SMSS per ACK.
      this.cwnd += Math.min(acked, 2 * this.mss);
      return;
    }
    // RFC 5681 §3.1 equation 3, counted in bytes: one SMSS per cwnd of acked data.
    this.bytesAcked += acked;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  onCongestionEvent(_now: number, flight: number): void {
    // RFC 5681 §3.2 equation 4.
    this.ssthresh = Math.max(flight / 2, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  onRecoveryExit(_now: number): void {
    this.cwnd = this.ssthresh;
  }

  onRto(_now: number, flight: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * this.mss);
    this.cwnd = this.mss; // loss window, RFC 5681 §3.1
    this.bytesAcked = 0;
  }

  onIdleRestart(_now: number): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.mss));
  }
}
