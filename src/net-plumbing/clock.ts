// The real clock behind the stack's Clock (src/netstack/clock.ts): monotonic milliseconds from
// performance.now(), and one setTimeout per wakeup slot. A stack has one TimerQueue, hence one
// slot: one real timer per stack however many protocol timers it runs.

import type { Clock, WakeupHandle } from '../netstack/clock.js';

export interface RealClockOptions {
  /** Let the process exit while a wakeup is pending (default false: a pending timer keeps it alive). */
  unref?: boolean;
}

export class RealClock implements Clock {
  private readonly unref: boolean;

  constructor(opts: RealClockOptions = {}) {
    this.unref = opts.unref ?? false;
  }

  now(): number {
    return performance.now();
  }

  wakeup(fn: () => void): WakeupHandle {
    const clock = this;
    let timer: ReturnType<typeof setTimeout> | null = null;
    /** When the pending setTimeout will fire (Infinity when none). */
    let timerAt = Infinity;
    /** What the owner asked for (Infinity when disarmed). */
    let armedAt = Infinity;
    const start = (at: number) => {
      const delay = Math.max(0, Math.ceil(at - clock.now()));
      timerAt = clock.now() + delay;
      timer = setTimeout(fire, delay);
      if (clock.unref) timer.unref();
    };
    const fire = () => {
      timer = null;
      timerAt = Infinity;
      if (armedAt === Infinity) return;
      // Node's timers count whole milliseconds of loop time and may run a little before the
      // deadline by performance.now(); and a deadline moved later while this timer was pending
      // lands here too. The contract is "at or after": wait out the remainder.
      if (armedAt > clock.now()) {
        start(armedAt);
        return;
      }
      armedAt = Infinity;
      fn();
    };
    return {
      arm(at: number) {
        armedAt = at;
        // A deadline pushed later (a TCP retransmit timer on every ACK) keeps the pending timer,
        // which re-arms itself when it fires: no clearTimeout/setTimeout churn per segment.
        if (timer && timerAt <= at) return;
        if (timer) clearTimeout(timer);
        start(at);
      },
      disarm() {
        armedAt = Infinity;
        if (timer) clearTimeout(timer);
        timer = null;
        timerAt = Infinity;
      },
    };
  }
}
