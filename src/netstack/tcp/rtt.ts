// Round-trip time estimation and the retransmission timer value: RFC 6298 (SRTT, RTTVAR,
// Karn's algorithm, backoff), RFC 7323 §4 (samples from timestamps). Like Linux the floor of
// the variance term is the minimum RTO (200 ms): RTO = SRTT + max(4*RTTVAR, minRto), so a
// steady path with little jitter still gets SRTT plus a margin; capped at 120 s.

export const DEFAULT_MIN_RTO = 200;
export const DEFAULT_MAX_RTO = 120_000;
/** RFC 6298 §2.1. */
export const INITIAL_RTO = 1000;

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** Latest sample and the smallest seen, ms. */
  latest = 0;
  minRtt = Infinity;
  /** RTO before backoff, ms. */
  baseRto = INITIAL_RTO;
  /** Number of consecutive backoffs (RFC 6298 §5.5). */
  backoff = 0;
  hasSample = false;

  constructor(
    public minRto = DEFAULT_MIN_RTO,
    public maxRto = DEFAULT_MAX_RTO,
  ) {}

  /** Adds one RTT measurement in ms (RFC 6298 §2.2 and §2.3). */
  sample(r: number): void {
    if (!(r >= 0)) return;
    this.latest = r;
    if (r < this.minRtt) this.minRtt = r;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.baseRto = Math.min(this.maxRto, Math.max(this.minRto, this.srtt + Math.max(4 * this.rttvar, this.minRto)));
    // RFC 6298 §5.7 note: a new sample after backoff collapses the backoff.
    this.backoff = 0;
  }

  /** The RTO to arm now, with exponential backoff (RFC 6298 §5.5), capped at maxRto. */
  get rto(): number {
    return Math.min(this.maxRto, this.baseRto * Math.pow(2, this.backoff));
  }

  backOff(): void {
    if (this.baseRto * Math.pow(2, this.backoff) < this.maxRto) this.backoff++;
  }
}
