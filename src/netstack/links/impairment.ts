// A link wrapper that misbehaves on purpose, reproducibly: seeded loss, duplication, reordering,
// delay with jitter, and a rate limit with a bounded queue (what tc netem would do, in virtual
// time). Applies to frames the stack sends (tx), frames it receives (rx), or both.

import type { Clock, WakeupHandle } from '../clock.js';
import type { Frame, LinkCapabilities, LinkDispatcher, LinkEndpoint } from '../link.js';
import { SeededRng } from '../random.js';

export interface ImpairmentOptions {
  /** Seed for every random choice (default 1). */
  seed?: number;
  /** Probability in [0,1] that a frame is lost. */
  loss?: number;
  /** Probability that a frame is sent twice. */
  duplicate?: number;
  /** Probability that a frame is held back by `reorderDelayMs` so later ones overtake it. */
  reorder?: number;
  reorderDelayMs?: number;
  /** Fixed extra delay and uniform jitter in ms. */
  delayMs?: number;
  jitterMs?: number;
  /** Serialisation rate in bytes per second (0 = unlimited). */
  rateBytesPerSec?: number;
  /** Frames waiting for the rate limiter beyond this are dropped (default 1000). */
  queueLimit?: number;
  /** Which direction to impair (default 'tx'). */
  direction?: 'tx' | 'rx' | 'both';
}

export interface ImpairmentCounters {
  lost: number;
  duplicated: number;
  reordered: number;
  queueDropped: number;
  passed: number;
}

/** Delays and mangles frames of one direction, then hands them to `out` in batches. */
class DelayLine {
  private pending: { at: number; seq: number; frame: Frame }[] = [];
  private seq = 0;
  private busyUntil = 0;
  private readonly wake: WakeupHandle;

  constructor(
    private readonly clock: Clock,
    private readonly rng: SeededRng,
    private readonly o: ImpairmentOptions,
    private readonly c: ImpairmentCounters,
    private readonly out: (frames: Frame[]) => void,
  ) {
    this.wake = clock.wakeup(() => this.release());
  }

  push(frames: readonly Frame[]): number {
    const now = this.clock.now();
    let accepted = 0;
    for (const f of frames) {
      accepted++;
      if (this.rng.float() < (this.o.loss ?? 0)) {
        this.c.lost++;
        continue;
      }
      const copies = this.rng.float() < (this.o.duplicate ?? 0) ? 2 : 1;
      if (copies === 2) this.c.duplicated++;
      for (let k = 0; k < copies; k++) {
        if (this.pending.length >= (this.o.queueLimit ?? 1000)) {
          this.c.queueDropped++;
          continue;
        }
        let at = now + (this.o.delayMs ?? 0) + this.rng.float() * (this.o.jitterMs ?? 0);
        const rate = this.o.rateBytesPerSec ?? 0;
        if (rate > 0) {
          this.busyUntil = Math.max(this.busyUntil, now) + (f.data.length * 1000) / rate;
          at = Math.max(at, this.busyUntil);
        }
        if (this.rng.float() < (this.o.reorder ?? 0)) {
          at += this.o.reorderDelayMs ?? 1;
          this.c.reordered++;
        }
        const data = f.data.slice();
        this.pending.push({ at, seq: this.seq++, frame: f.offload ? { data, offload: f.offload } : { data } });
      }
    }
    this.pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (this.pending.length > 0) this.wake.arm(this.pending[0].at);
    return accepted;
  }

  private release(): void {
    const now = this.clock.now();
    let i = 0;
    while (i < this.pending.length && this.pending[i].at <= now) i++;
    const due = this.pending.splice(0, i).map((p) => p.frame);
    if (this.pending.length > 0) this.wake.arm(this.pending[0].at);
    if (due.length > 0) {
      this.c.passed += due.length;
      this.out(due);
    }
  }
}

export class ImpairedLink implements LinkEndpoint {
  readonly counters: ImpairmentCounters = { lost: 0, duplicated: 0, reordered: 0, queueDropped: 0, passed: 0 };
  private readonly tx: DelayLine | null;
  private readonly rx: DelayLine | null;
  private dispatcher: LinkDispatcher | null = null;

  constructor(
    private readonly inner: LinkEndpoint,
    clock: Clock,
    opts: ImpairmentOptions = {},
  ) {
    const rng = new SeededRng(opts.seed ?? 1);
    const dir = opts.direction ?? 'tx';
    this.tx = dir !== 'rx' ? new DelayLine(clock, rng, opts, this.counters, (f) => void this.inner.writeFrames(f)) : null;
    this.rx =
      dir !== 'tx' ? new DelayLine(clock, rng, opts, this.counters, (f) => this.dispatcher?.deliverFrames(f)) : null;
  }

  get caps(): LinkCapabilities {
    return this.inner.caps;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get name(): string {
    return this.inner.name;
  }

  attach(dispatcher: LinkDispatcher): void {
    this.dispatcher = dispatcher;
    const rx = this.rx;
    this.inner.attach(
      rx
        ? {
            deliverFrames: (frames) => void rx.push(frames),
            linkStateChanged: (up) => dispatcher.linkStateChanged?.(up),
          }
        : dispatcher,
    );
  }

  writeFrames(frames: readonly Frame[]): number {
    return this.tx ? this.tx.push(frames) : this.inner.writeFrames(frames);
  }

  close(): void {
    this.inner.close();
  }
}
