// CUBIC, RFC 9438: window growth as a cubic function of the time since the last congestion
// event, with a Reno-friendly region (§4.3), fast convergence (§4.7) and beta = 0.7 (§4.6).
// Windows are kept in bytes; the cubic function is evaluated in segments as in the RFC.

import { initialWindow, type CongestionControl } from './interface.js';
import { CSS_GROWTH_DIVISOR, HyStartPP } from './hystart.js';

const C = 0.4; // RFC 9438 §5 (C_cubic)
const BETA = 0.7; // RFC 9438 §4.6 (beta_cubic)
const ALPHA = (3 * (1 - BETA)) / (1 + BETA); // RFC 9438 §4.3 (alpha_cubic)

export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Infinity;
  private mss: number;
  /** W_max in segments: the window just before the last reduction. */
  private wMax = 0;
  /** Start of the current congestion-avoidance epoch (ms); -1 when none. */
  private epochStart = -1;
  private k = 0;
  /** W_est in segments, the Reno-friendly estimate (§4.3). */
  private wEst = 0;
  private cwndEpoch = 0;
  /** Slow-start exit by RTT growth (RFC 9406), as Linux's CUBIC uses HyStart. */
  readonly hystart = new HyStartPP();

  constructor(mss: number) {
    this.mss = mss;
    this.cwnd = initialWindow(mss);
  }

  setMss(mss: number): void {
    this.mss = mss;
  }

  onRoundStart(_now: number): void {
    if (this.cwnd >= this.ssthresh) return;
    this.hystart.roundStart();
    if (this.hystart.exitToCa) {
      this.ssthresh = this.cwnd; // RFC 9406 §4.3: CSS done, congestion avoidance from here
      this.hystart.reset();
    }
  }

  onRttSample(rttMs: number, _now: number): void {
    if (this.cwnd < this.ssthresh) this.hystart.rttSample(rttMs);
  }

  onAck(acked: number, now: number, rttMs: number, _flight: number): void {
    if (this.cwnd < this.ssthresh) {
      const inc = Math.min(acked, 2 * this.mss);
      this.cwnd += this.hystart.inCss ? inc / CSS_GROWTH_DIVISOR : inc;
      return;
    }
    const seg = this.cwnd / this.mss;
    if (this.epochStart < 0) {
      // §4.2: a new epoch starts at the first ACK of congestion avoidance.
      this.epochStart = now;
      this.cwndEpoch = seg;
      if (this.wMax <= seg) {
        this.wMax = seg;
        this.k = 0;
      } else {
        this.k = Math.cbrt((this.wMax - seg) / C); // §4.2 equation 2
      }
      this.wEst = seg;
    }
    const t = (now - this.epochStart + Math.max(rttMs, 0)) / 1000;
    const wCubic = C * Math.pow(t - this.k, 3) + this.wMax; // §4.2 equation 1, at t + RTT
    const ackedSeg = acked / this.mss;
    this.wEst += ALPHA * (ackedSeg / seg); // §4.3 equation 4
    let target: number;
    if (wCubic < this.wEst) {
      target = this.wEst; // Reno-friendly region
    } else {
      // §4.4: target clamped to [cwnd, 1.5 cwnd]; grow by (target - cwnd)/cwnd per segment.
      target = Math.min(Math.max(wCubic, seg), 1.5 * seg);
    }
    if (target > seg) {
      const inc = ((target - seg) / seg) * ackedSeg;
      this.cwnd = (seg + Math.min(inc, ackedSeg)) * this.mss;
    }
  }

  private reduce(): void {
    const seg = this.cwnd / this.mss;
    // §4.7 fast convergence: release bandwidth when W_max shrinks between events.
    this.wMax = seg < this.wMax ? (seg * (1 + BETA)) / 2 : seg;
    this.ssthresh = Math.max(this.cwnd * BETA, 2 * this.mss); // §4.6
    this.epochStart = -1;
    this.hystart.reset();
  }

  onCongestionEvent(_now: number, _flight: number): void {
    this.reduce();
    this.cwnd = this.ssthresh;
  }

  onRecoveryExit(_now: number): void {
    this.cwnd = this.ssthresh;
  }

  onRto(_now: number, _flight: number): void {
    // §4.8: the same reduction, then the loss window of RFC 5681.
    this.reduce();
    this.cwnd = this.mss;
  }

  onIdleRestart(_now: number): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.mss));
    this.epochStart = -1;
  }
}

/** W_max and K, for tests. */
export function cubicState(c: Cubic): { wMax: number; k: number } {
  const x = c as unknown as { wMax: number; k: number };
  return { wMax: x.wMax, k: x.k };
}
