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
  /** `onError(errno)`: the fd reported an error by itself (POLLERR), e.g. ENETDOWN (100) when the interface went down. */
  new (fd: number, opts: FrameIoOptions, onFrames: (count: number) => void, onError?: (errno: number) => void): FrameIo;
}

/** A seccomp user notification as read by SECCOMP_IOCTL_NOTIF_RECV (native/src/seccomp_notify.cc). */
export interface SeccompNotification {
  /** The cookie for respond/addFd/idValid; unique per listener. */
  id: bigint;
  /** The calling THREAD's id, in moat's pid namespace. */
  pid: number;
  nr: number;
  /** AUDIT_ARCH_* of the call (0xc000003e for x86_64). */
  arch: number;
  args: bigint[];
  instructionPointer: bigint;
}

/**
 * Result codes of calls whose failure a guest can cause (it died, passed a bad pointer): the
 * errno name, never a throw. `"ok"` for seccompRespond success.
 */
export type SeccompResultCode = string;

/** Limits of agentListen (native/src/agent_socket.cc). */
export interface AgentListenOptions {
  backlog?: number;
  /** Bytes one connection may send (default 1 MiB); more ends it with error "too-large". */
  maxBytes?: number;
  /** fds one connection may pass (default 16, at most 253); more: error "fds-truncated". */
  maxFds?: number;
  /** Connections read at once (default 256); more are refused with "too-many-connections". */
  maxConnections?: number;
  /** A connection not closed by its peer within this many ms ends with "timeout" (default 5000). */
  timeoutMs?: number;
}

/** One connection to the agent socket, read to its end. */
export interface AgentConnectionRecord {
  data: Buffer;
  /** Received by SCM_RIGHTS, close-on-exec, in order. The receiver owns them. */
  fds: number[];
  /** SO_PEERCRED of the connecting process (-1 if unknown). */
  pid: number;
  uid: number;
  gid: number;
  /** "timeout", "too-large", "fds-truncated", "fds-late", "too-many-connections", "read:<code>". */
  error?: string;
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

  // --- seccomp supervisor (native/src/seccomp_notify.cc, seccomp_fds.cc, guest_mem.cc) ---
  /**
   * Watches a seccomp listener with uv_poll; each notification is delivered to `onNotification`.
   * `onEnd`: "hangup" (no task uses the filter any more), "closed", or "error:<code>". Returns a
   * watch id for seccompUnwatch. Never closes the fd.
   */
  seccompWatch(listenerFd: number, onNotification: (n: SeccompNotification) => void, onEnd?: (reason: string) => void): number;
  /** Stops a watch; false if it had already ended. */
  seccompUnwatch(watchId: number): boolean;
  /** SECCOMP_IOCTL_NOTIF_SEND. `errno` positive (0 = success). "ok", or e.g. "ENOENT" (caller gone). */
  seccompRespond(listenerFd: number, id: bigint, val: number | bigint, errno: number, flags?: number): SeccompResultCode;
  /** SECCOMP_IOCTL_NOTIF_ID_VALID: is the caller still waiting in this call? */
  seccompIdValid(listenerFd: number, id: bigint): boolean;
  /** SECCOMP_IOCTL_NOTIF_ADDFD; with `send`, also answers the call with the new fd. Guest fd number or a code. */
  seccompAddFd(listenerFd: number, id: bigint, srcFd: number, opts?: { send?: boolean; cloexec?: boolean; targetFd?: number }): number | SeccompResultCode;
  /** SECCOMP_GET_NOTIF_SIZES as used by the addon (at least the compiled struct sizes). */
  seccompNotifSizes(): { notif: number; resp: number; data: number };
  /** process_vm_readv: a Buffer (shorter than len if the range ends in unmapped memory) or a code ("EFAULT", "ESRCH"). */
  readGuest(pid: number, addr: bigint, len: number): Buffer | SeccompResultCode;
  /** Gathers [addr, len] segments into one Buffer (short on a fault part-way) or a code. */
  readGuestv(pid: number, segments: ReadonlyArray<readonly [bigint, number]>): Buffer | SeccompResultCode;
  /** process_vm_writev: bytes written or a code. */
  writeGuest(pid: number, addr: bigint, bytes: Uint8Array): number | SeccompResultCode;
  /** Scatters `bytes` over [addr, len] segments in order: bytes written or a code. */
  writeGuestv(pid: number, segments: ReadonlyArray<readonly [bigint, number]>, bytes: Uint8Array): number | SeccompResultCode;
  /** pidfd_open; `thread` = PIDFD_THREAD (Linux 6.9) to name a thread id. pidfd or a code. */
  pidfdOpen(pid: number, opts?: { thread?: boolean }): number | SeccompResultCode;
  /** pidfd_getfd: a close-on-exec duplicate of the target's fd, or a code (EBADF, ESRCH, EPERM). */
  pidfdGetfd(pidfd: number, targetFd: number): number | SeccompResultCode;
  /** fstat: the inode that identifies a socket across dup/fork/fd passing. Throws on a bad fd. */
  fstatIno(fd: number): { ino: bigint; dev: bigint; isSocket: boolean };
  /** AF_UNIX socketpair, close-on-exec, non-blocking unless told otherwise. Throws on failure. */
  socketpair(type: 'stream' | 'dgram' | 'seqpacket', opts?: { nonblocking?: boolean }): [number, number];
  /** Sets or clears O_NONBLOCK on the open file description. */
  setNonblocking(fd: number, on: boolean): void;
  /** fcntl(F_GETFL). */
  fdStatusFlags(fd: number): number;

  // --- socket I/O on moat's socketpair ends and guest-fd duplicates (native/src/sockio.cc) ---
  /** recv with MSG_DONTWAIT (plus `flags`): the bytes (`full`: the record's whole length with MSG_TRUNC) or a code (EAGAIN...). */
  sockRecv(fd: number, len: number, flags?: number): (Buffer & { full: number }) | SeccompResultCode;
  /** send with MSG_DONTWAIT|MSG_NOSIGNAL (plus `flags`): bytes sent or a code. */
  sockSend(fd: number, data: Uint8Array, flags?: number): number | SeccompResultCode;
  /** shutdown(2): "ok" or a code. */
  sockShutdown(fd: number, how: number): SeccompResultCode;
  /** setsockopt(2) with raw option bytes: "ok" or a code. */
  sockSetopt(fd: number, level: number, name: number, bytes: Uint8Array): SeccompResultCode;
  /** fcntl(F_DUPFD_CLOEXEC): a duplicate fd or a code. */
  dupFd(fd: number): number | SeccompResultCode;

  // --- moat agent: OCI runtimes hand over seccomp listeners (native/src/agent_socket.cc) ---
  /**
   * Listens on a unix stream socket at `path` (which must not exist) and reads each connection
   * until the peer closes it, polled by libuv. `onConnection` gets one record per connection;
   * every fd in it is the caller's to close. Returns an id for agentUnlisten.
   */
  agentListen(path: string, opts: AgentListenOptions, onConnection: (r: AgentConnectionRecord) => void): number;
  /** Closes the listening socket (not the path); connections still being read are dropped with their fds. */
  agentUnlisten(id: number): boolean;
  /**
   * connect + one sendmsg with SCM_RIGHTS + close, as a runtime does: "ok" or a code (ENOENT,
   * ECONNREFUSED). Blocking while the listener's backlog is full: let an agent on the same loop run.
   */
  unixSendFds(path: string, data: Uint8Array, fds: readonly number[]): SeccompResultCode;
  /** readlink(/proc/self/fd/N): "anon_inode:seccomp notify" for a seccomp listener; a code if fd is not open. */
  fdLinkText(fd: number): string;
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
