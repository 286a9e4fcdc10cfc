// An in-process Ethernet segment joining two or more stacks' links (a hub: every frame reaches
// every other port; NICs filter by destination MAC). Batches are delivered asynchronously in
// virtual time through the injected clock, after `latencyMs`, so a test moves time to move
// packets and every run is deterministic.

import type { Clock, WakeupHandle } from '../clock.js';
import type { Frame, LinkCapabilities, LinkDispatcher, LinkEndpoint } from '../link.js';

export interface WirePortOptions {
  name?: string;
  /** 6 bytes; default 02:00:00:00:<wire>:<port> (locally administered). */
  mac?: Uint8Array;
  /** Default 1500. */
  mtu?: number;
  /** Frames carry partial checksums / GSO aggregates between ports that both advertise them. */
  txChecksumOffload?: boolean;
  rxChecksumOffload?: boolean;
  gsoMaxSize?: number;
}

export interface WireOptions {
  /** One-way delay of every batch in ms (default 0.01). */
  latencyMs?: number;
}

interface Pending {
  at: number;
  from: WirePort;
  frames: Frame[];
}

let wireCounter = 0;

export class Wire {
  readonly ports: WirePort[] = [];
  /** Frames written (all ports) and frames dropped for exceeding the port MTU. */
  framesSent = 0;
  framesDroppedTooBig = 0;
  private pending: Pending[] = [];
  private readonly wake: WakeupHandle;
  private readonly latencyMs: number;
  private readonly id = ++wireCounter & 0xff;

  constructor(
    private readonly clock: Clock,
    opts: WireOptions = {},
  ) {
    this.latencyMs = opts.latencyMs ?? 0.01;
    this.wake = clock.wakeup(() => this.deliverDue());
  }

  /** A new port on this wire: give it to a stack as its link. */
  port(opts: WirePortOptions = {}): WirePort {
    const n = this.ports.length + 1;
    const mac = opts.mac ?? Uint8Array.of(0x02, 0, 0, 0, this.id, n);
    if (mac.length !== 6) throw new RangeError('wire port MAC must be 6 bytes');
    const caps: LinkCapabilities = {
      medium: 'ethernet',
      mtu: opts.mtu ?? 1500,
      txChecksumOffload: opts.txChecksumOffload ?? false,
      rxChecksumOffload: opts.rxChecksumOffload ?? false,
      gsoMaxSize: opts.gsoMaxSize ?? 0,
    };
    const p = new WirePort(this, opts.name ?? `wire${this.id}-${n}`, mac, caps);
    this.ports.push(p);
    return p;
  }

  /** @internal */
  send(from: WirePort, frames: readonly Frame[]): number {
    const copies: Frame[] = [];
    for (const f of frames) {
      // A GSO aggregate may exceed the MTU; a plain frame may not (the device would refuse it).
      if (!f.offload?.gsoType && f.data.length > from.caps.mtu + 14) {
        this.framesDroppedTooBig++;
        continue;
      }
      copies.push(f.offload ? { data: f.data.slice(), offload: f.offload } : { data: f.data.slice() });
    }
    this.framesSent += copies.length;
    if (copies.length > 0) {
      const at = this.clock.now() + this.latencyMs;
      this.pending.push({ at, from, frames: copies });
      if (this.pending.length === 1 || at < this.pending[0].at) this.wake.arm(this.pending[0].at);
    }
    return copies.length;
  }

  private deliverDue(): void {
    const now = this.clock.now();
    // Entries are pushed in time order (constant latency), so due ones are a prefix.
    let i = 0;
    while (i < this.pending.length && this.pending[i].at <= now) i++;
    const due = this.pending.slice(0, i);
    this.pending = this.pending.slice(i);
    if (this.pending.length > 0) this.wake.arm(this.pending[0].at);
    for (const b of due) {
      for (const p of this.ports) if (p !== b.from) p.receive(b.frames);
    }
  }
}

export class WirePort implements LinkEndpoint {
  private dispatcher: LinkDispatcher | null = null;
  private closed = false;

  constructor(
    private readonly wire: Wire,
    readonly name: string,
    readonly mac: Uint8Array,
    readonly caps: LinkCapabilities,
  ) {}

  attach(dispatcher: LinkDispatcher): void {
    this.dispatcher = dispatcher;
  }

  writeFrames(frames: readonly Frame[]): number {
    if (this.closed) return 0;
    return this.wire.send(this, frames);
  }

  close(): void {
    this.closed = true;
    this.dispatcher = null;
  }

  /** @internal */
  receive(frames: readonly Frame[]): void {
    if (this.closed || !this.dispatcher) return;
    if (this.caps.rxChecksumOffload) {
      this.dispatcher.deliverFrames(frames);
      return;
    }
    // A port without receive offloads never sees offload metadata (give both ends the same
    // offload settings: a partial checksum sent to such a port arrives as a bad one).
    this.dispatcher.deliverFrames(frames.map((f) => (f.offload ? { data: f.data } : f)));
  }
}
