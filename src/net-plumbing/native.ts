// The one place the native addon is loaded (DESIGN.md: native/ is thin; everything above it
// goes through this typed surface). The addon is built by `npm install` (node-gyp, native/).

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TapHandle {
  fd: number;
  /** The name the kernel gave the device (patterns like "moat-%d" are expanded). */
  name: string;
}

/** An Error thrown by the addon for a failed system call. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** What the kernel says about an interface (ioctls SIOCGIFINDEX/SIOCGIFMTU/SIOCGIFHWADDR). */
export interface InterfaceInfo {
  ifindex: number;
  mtu: number;
  /** 6 bytes. */
  mac: Uint8Array;
}

export interface PacketSocketOptions {
  /** Open the socket inside /var/run/netns/NAME (the socket keeps that namespace). */
  netns?: string;
  /** PACKET_VNET_HDR: every frame carries a struct virtio_net_hdr in front (default true). */
  vnetHdr?: boolean;
  /** PACKET_IGNORE_OUTGOING: do not receive our own transmissions (default true). */
  ignoreOutgoing?: boolean;
  /** PACKET_QDISC_BYPASS (default false). */
  qdiscBypass?: boolean;
  /** SO_RCVBUFFORCE / SO_SNDBUFFORCE bytes (default 4 MiB each). */
  rcvbuf?: number;
  sndbuf?: number;
}

export interface FrameIoOptions {
  /** true for a character device (tap: read/write per frame), false for a socket (recvmmsg/sendmmsg). */
  stream?: boolean;
  /** Receive ring slots (default 64) of slotSize bytes (default 65600: a 64 KiB GSO frame + headers). */
  slots?: number;
  slotSize?: number;
  /** Send staging buffer bytes (default 1 MiB) and frames per send() (default 1024). */
  txBytes?: number;
  txSlots?: number;
  /** FrameIo closes the fd on close() (default true). */
  ownsFd?: boolean;
  /** Receive batches per readable wakeup before yielding to the loop (default 8). */
  maxRounds?: number;
}

export interface FrameIoStats {
  rxFrames: number;
  rxBatches: number;
  rxTruncated: number;
  rxErrors: number;
  lastRxErrno: number;
  txFrames: number;
  /** Frames dropped because the kernel said EAGAIN/ENOBUFS (congestion). */
  txBusyDrops: number;
  /** Frames the kernel refused for another reason (lastTxErrno says which). */
  txErrors: number;
  lastTxErrno: number;
}

/**
 * Batched frame I/O on an fd, polled by libuv (native/src/frameio.cc). Receive slot i lies at
 * rxBuffer[i * slotSize, + rxMeta[2i]); rxMeta[2i + 1] bit 0 = truncated. Valid only during
 * onFrames. Send: frames staged in txBuffer at txMeta[2i] (offset), txMeta[2i + 1] (length).
 */
export interface FrameIo {
  readonly rxBuffer: ArrayBuffer;
  readonly rxMeta: Uint32Array;
  readonly txBuffer: ArrayBuffer;
  readonly txMeta: Uint32Array;
  readonly slots: number;
  readonly slotSize: number;
  /** Starts polling for received frames (the poll keeps the loop alive unless unref'd). */
  start(): void;
  stop(): void;
  /** Sends the first `count` staged frames; returns how many the kernel took. */
  send(count: number): number;
  close(): void;
  ref(): void;
  unref(): void;
  stats(): FrameIoStats;
}

export interface FrameIoConstructor {
  new (fd: number, opts: FrameIoOptions, onFrames: (count: number) => void): FrameIo;
}

export interface NativeAddon {
  /**
   * Opens (creating if needed) a tap device: IFF_TAP|IFF_NO_PI, optionally IFF_VNET_HDR. Non-blocking, close-on-exec.
   * `netns`: created inside that named namespace. `offload` (needs vnetHdr): TUNSETVNETHDRSZ 10 and
   * TUNSETOFFLOAD(TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6).
   */
  openTap(name: string, opts?: { vnetHdr?: boolean; offload?: boolean; netns?: string }): TapHandle;
  closeFd(fd: number): void;
  /** A non-blocking AF_PACKET socket bound to `ifname` with ETH_P_ALL (native/src/packet.cc). */
  openPacketSocket(ifname: string, opts?: PacketSocketOptions): InterfaceInfo & { fd: number };
  interfaceInfo(ifname: string, opts?: { netns?: string }): InterfaceInfo;
  FrameIo: FrameIoConstructor;
}

/** The package root: the nearest directory above this file whose package.json is moat's. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'moat') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('moat: cannot find the package root (package.json named "moat")');
    dir = up;
  }
}

let cached: NativeAddon | null = null;

export function addonPath(): string {
  return join(packageRoot(), 'native', 'build', 'Release', 'moat_native.node');
}

/** Loads the addon once; throws an Error that says how to build it when it is missing. */
export function native(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`moat: native addon not built (${path} is missing); run \`npm install\` or \`npm run build:native\``);
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeAddon;
  return cached;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).code === 'string' && typeof (e as Partial<NativeError>).errno === 'number';
}
