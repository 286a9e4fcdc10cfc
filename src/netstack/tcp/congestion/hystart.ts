// HyStart++ (RFC 9406): leaves slow start when the RTT grows by a threshold within a round
// (the queue is filling), then grows in Conservative Slow Start (CSS) for a few rounds before
// congestion avoidance, instead of overshooting until packets are lost.

const MIN_RTT_THRESH = 4; // ms, RFC 9406 §4.3
const MAX_RTT_THRESH = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
export const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;

export class HyStartPP {
  lastRoundMinRtt = Infinity;
  currentRoundMinRtt = Infinity;
  rttSampleCount = 0;
  inCss = false;
  cssBaselineMinRtt = Infinity;
  cssRounds = 0;
  /** Set when CSS ran its rounds: the caller makes ssthresh = cwnd (RFC 9406 §4.3). */
  exitToCa = false;

  roundStart(): void {
    this.lastRoundMinRtt = this.currentRoundMinRtt;
    this.currentRoundMinRtt = Infinity;
    this.rttSampleCount = 0;
    if (this.inCss && ++this.cssRounds >= CSS_ROUNDS) this.exitToCa = true;
  }

  rttSample(rtt: number): void {
    if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt;
    this.rttSampleCount++;
    if (this.rttSampleCount < N_RTT_SAMPLE || this.currentRoundMinRtt === Infinity) return;
    if (!this.inCss) {
      if (this.lastRoundMinRtt === Infinity) return;
      const thresh = Math.min(MAX_RTT_THRESH, Math.max(MIN_RTT_THRESH, this.lastRoundMinRtt / MIN_RTT_DIVISOR));
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.inCss = true;
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.cssRounds = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // The RTT increase was spurious: back to slow start (RFC 9406 §4.3).
      this.inCss = false;
      this.cssBaselineMinRtt = Infinity;
    }
  }

  /** Slow start ended for another reason (loss, RTO): start afresh next time. */
  reset(): void {
    this.inCss = false;
    this.exitToCa = false;
    this.cssRounds = 0;
    this.cssBaselineMinRtt = Infinity;
  }
}
