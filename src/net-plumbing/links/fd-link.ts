// The shared engine of the fd-backed links (AF_PACKET and tap): frames in and out in batches
// through the native FrameIo (native/src/frameio.cc), with the virtio_net_hdr translated to
// and from FrameOffload (virtio-net-hdr.ts). Read first: src/netstack/link.ts (the contract),
// packet(7) and linux/Documentation/networking/tuntap.rst.
//
// Carrier: ENETDOWN from the socket (the interface went down) calls linkStateChanged(false);
// the next frame received calls linkStateChanged(true).
//
// Receive: one deliverFrames per batch the poll callback read (up to `slots` frames), each a
// view into the native ring, valid only during the call.
// Send: writeFrames copies each frame (with its header) into the native staging buffer and
// schedules one flush per event-loop turn (setImmediate); a full staging buffer flushes at
// once, so a burst larger than the buffer still goes out in order.

import type { Frame, FrameOffload, LinkCapabilities, LinkDispatcher, LinkEndpoint } from '../../netstack/link.js';
import { native, type FrameIo, type FrameIoStats } from '../native.js';
import { parseVnetHdr, VNET_HDR_LEN, writeVnetHdr } from './virtio-net-hdr.js';

const ENETDOWN = 100;

/** Largest frame we stage: a 64 KiB GSO aggregate plus Ethernet and VLAN headers. */
export const MAX_FRAME_BYTES = 65536 + 18;

export interface FdLinkStats extends FrameIoStats {
  rxDelivered: number;
  /** Frames dropped before the stack saw them, by reason. */
  rxDropped: { truncated: number; runt: number; badVnetHdr: number; notAttached: number };
  txQueued: number;
  /** Frames writeFrames refused, by reason (the kernel's own refusals are txBusyDrops/txErrors). */
  txDropped: { tooBig: number; closed: number };
}

export interface FdLinkConfig {
  fd: number;
  name: string;
  mac: Uint8Array;
  caps: LinkCapabilities;
  /** Frames carry a 10-byte virtio_net_hdr in front. */
  vnetHdr: boolean;
  /** A character device (tap) rather than a socket. */
  stream: boolean;
  slots?: number;
  txBytes?: number;
  txSlots?: number;
}

export class FdLink implements LinkEndpoint {
  readonly caps: LinkCapabilities;
  readonly mac: Uint8Array;
  readonly name: string;

  private readonly io: FrameIo;
  private readonly vnetHdr: boolean;
  private readonly rx: Uint8Array;
  private readonly rxMeta: Uint32Array;
  private readonly tx: Uint8Array;
  private readonly txMeta: Uint32Array;
  private readonly txSlots: number;
  private dispatcher: LinkDispatcher | null = null;
  private closed = false;
  /** Set when the fd said ENETDOWN; cleared by the next frame received. */
  private carrierLost = false;
  private txCount = 0;
  private txUsed = 0;
  private flushScheduled: ReturnType<typeof setImmediate> | null = null;
  private readonly counters = {
    rxDelivered: 0,
    rxDropped: { truncated: 0, runt: 0, badVnetHdr: 0, notAttached: 0 },
    txQueued: 0,
    txDropped: { tooBig: 0, closed: 0 },
  };

  constructor(cfg: FdLinkConfig) {
    this.caps = cfg.caps;
    this.mac = cfg.mac;
    this.name = cfg.name;
    this.vnetHdr = cfg.vnetHdr;
    const N = native();
    this.io = new N.FrameIo(
      cfg.fd,
      { stream: cfg.stream, slots: cfg.slots ?? 64, txBytes: cfg.txBytes ?? 1 << 20, txSlots: cfg.txSlots ?? 1024, ownsFd: true },
      (count) => this.onFrames(count),
      (errno) => this.onError(errno),
    );
    this.rx = new Uint8Array(this.io.rxBuffer);
    this.rxMeta = this.io.rxMeta;
    this.tx = new Uint8Array(this.io.txBuffer);
    this.txMeta = this.io.txMeta;
    this.txSlots = this.txMeta.length >>> 1;
  }

  attach(dispatcher: LinkDispatcher): void {
    if (this.closed) throw new Error(`${this.name}: attach after close`);
    if (this.dispatcher) throw new Error(`${this.name}: already attached`);
    this.dispatcher = dispatcher;
    this.io.start();
  }

  writeFrames(frames: readonly Frame[]): number {
    if (this.closed) {
      this.counters.txDropped.closed += frames.length;
      return 0;
    }
    const hdr = this.vnetHdr ? VNET_HDR_LEN : 0;
    let accepted = 0;
    for (const f of frames) {
      const len = f.data.length;
      if (len > MAX_FRAME_BYTES || len === 0 || hdr + len > this.tx.length) {
        this.counters.txDropped.tooBig++;
        continue;
      }
      if (this.txCount === this.txSlots || this.txUsed + hdr + len > this.tx.length) this.flush();
      const off = this.txUsed;
      if (hdr) writeVnetHdr(this.tx, off, f.offload);
      this.tx.set(f.data, off + hdr);
      this.txMeta[2 * this.txCount] = off;
      this.txMeta[2 * this.txCount + 1] = hdr + len;
      this.txCount++;
      // Keep slots 8-byte aligned: the kernel copies faster and nothing else changes.
      this.txUsed = (off + hdr + len + 7) & ~7;
      accepted++;
    }
    this.counters.txQueued += accepted;
    if (this.txCount > 0 && !this.flushScheduled) this.flushScheduled = setImmediate(() => this.flush());
    return accepted;
  }

  /** Sends whatever is staged now (normally done once per event-loop turn). */
  flush(): void {
    if (this.flushScheduled) {
      clearImmediate(this.flushScheduled);
      this.flushScheduled = null;
    }
    if (this.txCount === 0 || this.closed) return;
    const n = this.txCount;
    this.txCount = 0;
    this.txUsed = 0;
    this.io.send(n);
  }

  /** Lets the process exit while the link is open (the receive poll stops holding the loop). */
  unref(): this {
    this.io.unref();
    return this;
  }

  ref(): this {
    this.io.ref();
    return this;
  }

  stats(): FdLinkStats {
    const c = this.counters;
    return { ...this.io.stats(), ...c, rxDropped: { ...c.rxDropped }, txDropped: { ...c.txDropped } };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.dispatcher = null;
    this.io.close();
  }

  private onError(errno: number): void {
    if (errno === ENETDOWN && !this.carrierLost) {
      this.carrierLost = true;
      this.dispatcher?.linkStateChanged?.(false);
    }
  }

  private onFrames(count: number): void {
    const d = this.dispatcher;
    if (!d) {
      this.counters.rxDropped.notAttached += count;
      return;
    }
    if (this.carrierLost) {
      // Without a netlink watch, the first frame after ENETDOWN is our evidence of carrier.
      this.carrierLost = false;
      d.linkStateChanged?.(true);
    }
    const slotSize = this.io.slotSize;
    const hdr = this.vnetHdr ? VNET_HDR_LEN : 0;
    const frames: Frame[] = [];
    for (let i = 0; i < count; i++) {
      const len = this.rxMeta[2 * i];
      if (this.rxMeta[2 * i + 1] & 1) {
        this.counters.rxDropped.truncated++;
        continue;
      }
      if (len < hdr + 14) {
        this.counters.rxDropped.runt++;
        continue;
      }
      const base = i * slotSize;
      let offload: FrameOffload | undefined;
      if (hdr) {
        const p = parseVnetHdr(this.rx, base);
        if (!p.ok) {
          this.counters.rxDropped.badVnetHdr++;
          continue;
        }
        offload = p.offload;
      }
      const data = this.rx.subarray(base + hdr, base + len);
      frames.push(offload ? { data, offload } : { data });
    }
    if (frames.length === 0) return;
    this.counters.rxDelivered += frames.length;
    d.deliverFrames(frames);
  }
}
