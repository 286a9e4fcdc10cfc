// The stack's only notion of time. It never reads a real clock nor sets a real timer itself:
// a Clock is injected (VirtualClock here for tests and scripts, a real one in net-plumbing),
// which is what makes every protocol test deterministic.

/** One wakeup slot: whoever owns it (a TimerQueue) arms it for its earliest deadline. */
export interface WakeupHandle {
  /** Arms (or re-arms) the slot for absolute time `at` in ms; the callback runs once at or after it. */
  arm(at: number): void;
  disarm(): void;
}

export interface Clock {
  /** Monotonic time in milliseconds (may be fractional). */
  now(): number;
  /** A new wakeup slot that calls `fn` when it fires. */
  wakeup(fn: () => void): WakeupHandle;
}

interface VirtualSlot extends WakeupHandle {
  at: number; // Infinity when disarmed
  seq: number; // arming order, for a stable firing order at equal times
  fn: () => void;
}

/**
 * Time that moves only when told to. `advance(ms)` fires every wakeup that falls due in order,
 * setting `now()` to each one's time as it fires, so timers see the time they asked for.
 */
export class VirtualClock implements Clock {
  private t: number;
  private slots = new Set<VirtualSlot>();
  private armSeq = 0;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  wakeup(fn: () => void): WakeupHandle {
    const clock = this;
    const slot: VirtualSlot = {
      at: Infinity,
      seq: 0,
      fn,
      arm(at: number) {
        slot.at = at;
        slot.seq = clock.armSeq++;
        clock.slots.add(slot);
      },
      disarm() {
        slot.at = Infinity;
        clock.slots.delete(slot);
      },
    };
    return slot;
  }

  /** The time of the next armed wakeup, or Infinity. */
  nextDeadline(): number {
    let best = Infinity;
    for (const s of this.slots) if (s.at < best) best = s.at;
    return best;
  }

  /** Moves time forward by `ms`, firing due wakeups in time order. Returns how many fired. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`VirtualClock.advance: ms must be >= 0, got ${ms}`);
    return this.advanceTo(this.t + ms);
  }

  /** Moves time forward to `target`, firing due wakeups in time order. */
  advanceTo(target: number, maxFirings = 10_000_000): number {
    let fired = 0;
    for (;;) {
      const s = this.earliestDue(target);
      if (!s) break;
      if (++fired > maxFirings) throw new Error(`VirtualClock: more than ${maxFirings} wakeups before ${target} ms (a timer loop?)`);
      if (s.at > this.t) this.t = s.at;
      this.slots.delete(s);
      s.at = Infinity;
      s.fn();
    }
    if (target > this.t) this.t = target;
    return fired;
  }

  /**
   * Runs until nothing is armed or `limitMs` of virtual time has passed, whichever comes first.
   * Returns the virtual time spent.
   */
  runUntilIdle(limitMs = 3_600_000): number {
    const start = this.t;
    const end = start + limitMs;
    for (;;) {
      const next = this.nextDeadline();
      if (next === Infinity || next > end) break;
      this.advanceTo(next);
    }
    return this.t - start;
  }

  private earliestDue(target: number): VirtualSlot | null {
    let best: VirtualSlot | null = null;
    for (const s of this.slots) {
      if (s.at > target) continue;
      if (!best || s.at < best.at || (s.at === best.at && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
