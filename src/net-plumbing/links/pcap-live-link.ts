// A link through libpcap (the `cap` package): live capture plus pcap_inject, for hosts and
// devices where AF_PACKET with vnet_hdr or tap are not available. No offloads: libpcap shows
// frames after segmentation and checksums are the sender's business. Read first: pcap(3PCAP),
// pcap-filter(7), node_modules/cap/README.md.
//
// libpcap also captures what we inject (and, on a shared interface, what the kernel sends):
// the BPF filter drops frames whose source MAC is ours, so the stack never hears its own echo.
// MAC: the device's own by default, which suits an interface the kernel does not use (a veth
// end without addresses); pass `mac` when the kernel keeps using the device.
//
// Known hazard (cap 0.2.1): when the device goes down, libpcap's socket reports POLLERR and
// cap's poll callback asserts `status == 0`, which aborts the whole process. Use PacketLink
// where the interface may flap; PcapLiveLink is for portability and quick captures.
// libpcap captures a peer's locally generated traffic before checksum offload is done (the
// checksum field holds the pseudo-header sum only); caps say rxChecksumOffload false, so turn
// tx checksumming off on such a peer (`ethtool -K IF tx off`) or expect those frames dropped.

import { createRequire } from 'node:module';
import type { Frame, LinkCapabilities, LinkDispatcher, LinkEndpoint } from '../../netstack/link.js';
import { native } from '../native.js';

interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  send(buffer: Buffer, nbytes?: number): void;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(event?: string): void;
}

interface CapModule {
  Cap: new () => CapHandle;
}

export interface PcapLiveLinkOptions {
  /** The interface to capture on and inject into. */
  device: string;
  /** An extra pcap-filter(7) expression; only matching frames are delivered. */
  filter?: string;
  /** The stack's MAC (default: the device's own). */
  mac?: Uint8Array;
  /** libpcap's kernel buffer in bytes (default 4 MiB). */
  bufferBytes?: number;
}

export interface PcapLiveLinkStats {
  rxDelivered: number;
  rxDropped: { truncated: number; notAttached: number };
  txFrames: number;
  txDropped: { tooBig: number; sendError: number; closed: number };
}

function macText(m: Uint8Array): string {
  return Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export class PcapLiveLink implements LinkEndpoint {
  readonly caps: LinkCapabilities;
  readonly mac: Uint8Array;
  readonly name: string;
  /** The link type libpcap reported ('ETHERNET' expected). */
  readonly linkType: string;

  private readonly cap: CapHandle;
  private readonly buf: Buffer;
  private dispatcher: LinkDispatcher | null = null;
  private closed = false;
  private readonly counters: PcapLiveLinkStats = {
    rxDelivered: 0,
    rxDropped: { truncated: 0, notAttached: 0 },
    txFrames: 0,
    txDropped: { tooBig: 0, sendError: 0, closed: 0 },
  };

  constructor(opts: PcapLiveLinkOptions) {
    const require = createRequire(import.meta.url);
    const { Cap } = require('cap') as CapModule;
    let mtu = 1500;
    let mac = opts.mac;
    try {
      const info = native().interfaceInfo(opts.device);
      mtu = info.mtu;
      mac ??= info.mac;
    } catch {
      // Not a Linux interface in our namespace (or no addon): keep the defaults.
    }
    if (!mac || mac.length !== 6) throw new Error(`PcapLiveLink: no MAC for ${opts.device}; pass opts.mac`);
    this.mac = Uint8Array.from(mac);
    this.name = opts.device;
    this.caps = { medium: 'ethernet', mtu, txChecksumOffload: false, rxChecksumOffload: false, gsoMaxSize: 0 };
    this.cap = new Cap();
    this.buf = Buffer.alloc(65536 + 18);
    const own = `not ether src ${macText(this.mac)}`;
    const filter = opts.filter ? `(${opts.filter}) and ${own}` : own;
    this.linkType = this.cap.open(opts.device, filter, opts.bufferBytes ?? 4 << 20, this.buf);
    if (this.linkType !== 'ETHERNET') {
      this.cap.close();
      throw new Error(`PcapLiveLink: ${opts.device} has link type ${this.linkType}, not ETHERNET`);
    }
    this.cap.on('packet', (nbytes, truncated) => this.onPacket(nbytes, truncated));
  }

  attach(dispatcher: LinkDispatcher): void {
    if (this.closed) throw new Error(`${this.name}: attach after close`);
    if (this.dispatcher) throw new Error(`${this.name}: already attached`);
    this.dispatcher = dispatcher;
  }

  writeFrames(frames: readonly Frame[]): number {
    if (this.closed) {
      this.counters.txDropped.closed += frames.length;
      return 0;
    }
    let accepted = 0;
    for (const f of frames) {
      // Without segmentation offload a frame must fit the MTU (plus Ethernet and VLAN headers).
      if (f.data.length > this.caps.mtu + 18 || f.offload?.gsoType) {
        this.counters.txDropped.tooBig++;
        continue;
      }
      const b = Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length);
      try {
        this.cap.send(b, b.length);
        this.counters.txFrames++;
        accepted++;
      } catch {
        this.counters.txDropped.sendError++;
      }
    }
    return accepted;
  }

  stats(): PcapLiveLinkStats {
    const c = this.counters;
    return { ...c, rxDropped: { ...c.rxDropped }, txDropped: { ...c.txDropped } };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dispatcher = null;
    this.cap.removeAllListeners('packet');
    this.cap.close();
  }

  private onPacket(nbytes: number, truncated: boolean): void {
    if (truncated) {
      this.counters.rxDropped.truncated++;
      return;
    }
    const d = this.dispatcher;
    if (!d) {
      this.counters.rxDropped.notAttached++;
      return;
    }
    this.counters.rxDelivered++;
    d.deliverFrames([{ data: this.buf.subarray(0, nbytes) }]);
  }
}
