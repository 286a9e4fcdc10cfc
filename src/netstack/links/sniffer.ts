// A link wrapper that shows every frame, both directions, to a PacketSink with a timestamp:
// gVisor's link/sniffer. The pcap/pcapng writer in src/net-plumbing/pcap/ implements the sink;
// the stack layer defines only the interface, so it never touches files.

import type { Clock } from '../clock.js';
import type { Frame, LinkCapabilities, LinkDispatcher, LinkEndpoint } from '../link.js';

/** Where sniffed frames go. `data` is a view valid only during the call: copy to keep. */
export interface PacketSink {
  writeFrame(timestampNs: bigint, data: Uint8Array, interfaceId?: number, comment?: string): void;
  close(): Promise<void>;
}

export interface SnifferOptions {
  /** Passed with every frame (a pcapng interface id); default 0. */
  interfaceId?: number;
  /** Added to the clock's time (ms) to make wall-clock timestamps; default 0. */
  epochOffsetMs?: number;
  /** Tag frames with "in"/"out" comments (pcapng); default false. */
  directionComments?: boolean;
}

export class SnifferLink implements LinkEndpoint {
  private readonly interfaceId: number;
  private readonly epochOffsetMs: number;
  private readonly comments: boolean;

  constructor(
    private readonly inner: LinkEndpoint,
    private readonly clock: Clock,
    private readonly sink: PacketSink,
    opts: SnifferOptions = {},
  ) {
    this.interfaceId = opts.interfaceId ?? 0;
    this.epochOffsetMs = opts.epochOffsetMs ?? 0;
    this.comments = opts.directionComments ?? false;
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
    this.inner.attach({
      deliverFrames: (frames) => {
        this.record(frames, 'in');
        dispatcher.deliverFrames(frames);
      },
      linkStateChanged: (up) => dispatcher.linkStateChanged?.(up),
    });
  }

  writeFrames(frames: readonly Frame[]): number {
    this.record(frames, 'out');
    return this.inner.writeFrames(frames);
  }

  close(): void {
    this.inner.close();
  }

  private record(frames: readonly Frame[], dir: 'in' | 'out'): void {
    // The epoch offset (~1.7e12 ms) times 1e6 is past 2^53: scale the two parts separately so
    // the sum keeps every nanosecond of the clock's fraction.
    const whole = Math.floor(this.epochOffsetMs);
    const ns = BigInt(whole) * 1_000_000n + BigInt(Math.round((this.clock.now() + (this.epochOffsetMs - whole)) * 1e6));
    for (const f of frames) this.sink.writeFrame(ns, f.data, this.interfaceId, this.comments ? dir : undefined);
  }
}
