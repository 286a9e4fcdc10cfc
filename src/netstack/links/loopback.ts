// The loopback link: every frame written comes back in, one event-loop step later (through the
// injected clock, so virtual-time tests see it as an ordinary delivery). Medium 'ip': bare IP
// packets, no Ethernet header and no neighbor resolution, like Linux's lo.

import type { Clock, WakeupHandle } from '../clock.js';
import type { Frame, LinkCapabilities, LinkDispatcher, LinkEndpoint } from '../link.js';

export interface LoopbackOptions {
  /** Default 65536, as Linux's lo. */
  mtu?: number;
  /** Most frames held between turns; the rest are dropped and counted in `dropped`. */
  queueLimit?: number;
}

export class LoopbackLink implements LinkEndpoint {
  readonly caps: LinkCapabilities;
  readonly mac = new Uint8Array(0);
  readonly name: string;
  /** Frames refused because the queue was full or the link closed. */
  dropped = 0;
  private dispatcher: LinkDispatcher | null = null;
  private queue: Frame[] = [];
  private readonly wake: WakeupHandle;
  private readonly queueLimit: number;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    opts: LoopbackOptions & { name?: string } = {},
  ) {
    this.name = opts.name ?? 'lo';
    this.caps = { medium: 'ip', mtu: opts.mtu ?? 65536, txChecksumOffload: false, rxChecksumOffload: false, gsoMaxSize: 0 };
    this.queueLimit = opts.queueLimit ?? 1000;
    this.wake = clock.wakeup(() => this.deliver());
  }

  attach(dispatcher: LinkDispatcher): void {
    this.dispatcher = dispatcher;
  }

  writeFrames(frames: readonly Frame[]): number {
    if (this.closed) {
      this.dropped += frames.length;
      return 0;
    }
    let n = 0;
    for (const f of frames) {
      if (this.queue.length >= this.queueLimit) {
        this.dropped++;
        continue;
      }
      // The caller owns its buffer after we return: keep a copy.
      this.queue.push({ data: f.data.slice() });
      n++;
    }
    if (this.queue.length > 0) this.wake.arm(this.clock.now());
    return n;
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.wake.disarm();
  }

  private deliver(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0 && this.dispatcher && !this.closed) this.dispatcher.deliverFrames(batch);
  }
}
