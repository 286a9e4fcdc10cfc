// One timer queue per stack: a binary min-heap of deadlines behind a single clock wakeup.
// Every protocol timer (ARP/NDP retries, reassembly, TCP retransmit/delack/keepalive/persist/
// TIME_WAIT) is a Timer object owned by its endpoint and re-armed in place: no allocation and
// no real setTimeout per segment (DESIGN.md, "Hot paths").

import type { Clock, WakeupHandle } from './clock.js';

export class Timer {
  /** Absolute deadline in ms; Infinity when not scheduled. */
  deadline = Infinity;
  /** Position in the heap; -1 when not scheduled. */
  index = -1;
  seq = 0;

  constructor(
    private readonly queue: TimerQueue,
    readonly fn: () => void,
  ) {}

  get scheduled(): boolean {
    return this.index >= 0;
  }
  /** Fires `delayMs` from now, replacing any earlier schedule. */
  schedule(delayMs: number): void {
    this.queue.scheduleAt(this, this.queue.now() + Math.max(0, delayMs));
  }
  scheduleAt(at: number): void {
    this.queue.scheduleAt(this, at);
  }
  cancel(): void {
    this.queue.cancel(this);
  }
}

export class TimerQueue {
  private heap: Timer[] = [];
  private readonly wake: WakeupHandle;
  private armedAt = Infinity;
  private seq = 0;
  private firing = false;

  constructor(private readonly clock: Clock) {
    this.wake = clock.wakeup(() => this.fire());
  }

  now(): number {
    return this.clock.now();
  }

  get size(): number {
    return this.heap.length;
  }

  /** A new, unscheduled timer that calls `fn`. */
  timer(fn: () => void): Timer {
    return new Timer(this, fn);
  }

  /** Convenience for one-shot work: schedules a new timer. */
  after(delayMs: number, fn: () => void): Timer {
    const t = new Timer(this, fn);
    t.schedule(delayMs);
    return t;
  }

  scheduleAt(t: Timer, at: number): void {
    if (Number.isNaN(at)) throw new RangeError('Timer.scheduleAt: NaN deadline');
    t.seq = this.seq++;
    if (t.index >= 0) {
      const old = t.deadline;
      t.deadline = at;
      if (at < old) this.up(t.index);
      else this.down(t.index);
    } else {
      t.deadline = at;
      t.index = this.heap.length;
      this.heap.push(t);
      this.up(t.index);
    }
    this.rearm();
  }

  cancel(t: Timer): void {
    const i = t.index;
    if (i < 0) return;
    const last = this.heap.pop()!;
    if (last !== t) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    t.index = -1;
    t.deadline = Infinity;
    this.rearm();
  }

  /** Cancels every timer (a closing stack): nothing fires and the clock's wakeup is released. */
  clear(): void {
    for (const t of this.heap) {
      t.index = -1;
      t.deadline = Infinity;
    }
    this.heap.length = 0;
    this.rearm();
  }

  private fire(): void {
    this.armedAt = Infinity;
    this.firing = true;
    try {
      const now = this.clock.now();
      // Bounded: timers scheduled during this pass for "now" run in the next pass.
      let budget = this.heap.length;
      while (budget-- > 0 && this.heap.length > 0 && this.heap[0].deadline <= now) {
        const t = this.heap[0];
        this.cancelTop();
        t.fn();
      }
    } finally {
      this.firing = false;
      this.rearm();
    }
  }

  private cancelTop(): void {
    const t = this.heap[0];
    const last = this.heap.pop()!;
    if (last !== t) {
      this.heap[0] = last;
      last.index = 0;
      this.down(0);
    }
    t.index = -1;
    t.deadline = Infinity;
  }

  private rearm(): void {
    if (this.firing) return;
    const next = this.heap.length > 0 ? this.heap[0].deadline : Infinity;
    if (next === this.armedAt) return;
    this.armedAt = next;
    if (next === Infinity) this.wake.disarm();
    else this.wake.arm(next);
  }

  private less(a: Timer, b: Timer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    const t = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(t, h[p])) break;
      h[i] = h[p];
      h[i].index = i;
      i = p;
    }
    h[i] = t;
    t.index = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r], h[l]) ? r : l;
      if (!this.less(h[c], t)) break;
      h[i] = h[c];
      h[i].index = i;
      i = c;
    }
    h[i] = t;
    t.index = i;
  }
}
