// The real clock behind the stack's Clock (src/netstack/clock.ts): monotonic milliseconds from
// performance.now(), and one setTimeout per wakeup slot (a stack has one TimerQueue, hence
// one slot, so this is one real timer per stack, re-armed in place).

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
    let timer: ReturnType<typeof setTimeout> | null = null;
    let armedAt = Infinity;
    const clock = this;
    const fire = () => {
      timer = null;
      // Node's timers count whole milliseconds of loop time and may run a little before `at`
      // by performance.now(); the contract is "at or after", so wait out the remainder.
      const left = armedAt - clock.now();
      if (left > 0) {
        schedule(left);
        return;
      }
      armedAt = Infinity;
      fn();
    };
    const schedule = (delay: number) => {
      timer = setTimeout(fire, Math.max(0, Math.ceil(delay)));
      if (clock.unref) timer.unref();
    };
    return {
      arm(at: number) {
        if (timer) clearTimeout(timer);
        armedAt = at;
        schedule(at - clock.now());
      },
      disarm() {
        if (timer) clearTimeout(timer);
        timer = null;
        armedAt = Infinity;
      },
    };
  }
}
