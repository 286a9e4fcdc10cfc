// The vocabulary of the socket layer: what a call returns, what it needs to know about the
// calling file (blocking or not, interruption), and the stack-wide settings that Linux keeps in
// sysctls. Errors are errno names (src/kernel/errno.ts); the syscall boundary turns them into
// negative numbers (`sysret`).

import { ERRNO, type ErrnoName } from '../errno.js';
import type { SockoptLimits } from '../sockopt-codec.js';

/** A failed call: the errno name Linux would report. */
export type Errno = ErrnoName;
/** A call's result: its value, or the errno. */
export type Result<T> = T | Errno;

export function isErrno(r: unknown): r is Errno {
  return typeof r === 'string';
}

/** The syscall return convention: a value >= 0, or -errno. */
export function sysret(r: Result<number>): number {
  return isErrno(r) ? -ERRNO[r] : r;
}

/**
 * How one call may wait. `nonblock` is the file's O_NONBLOCK or MSG_DONTWAIT; `signal` aborts
 * the wait when a signal interrupts the caller or its process exits (the call then fails with
 * EINTR, as Linux's sk_wait_event does when signal_pending()).
 */
export interface IoContext {
  nonblock: boolean;
  signal?: AbortSignal;
}

export const BLOCKING: IoContext = { nonblock: false };
export const NONBLOCKING: IoContext = { nonblock: true };

/** What a recvmsg returns besides its count. */
export interface RecvResult {
  /** The bytes copied to the caller (at most the buffer length). */
  data: Uint8Array;
  /** The return value: data.length, or the datagram's full length with MSG_TRUNC in flags. */
  ret: number;
  /** msg_flags: MSG_TRUNC, MSG_CTRUNC, MSG_ERRQUEUE, MSG_EOR. */
  msgFlags: number;
  /** The sender's sockaddr (datagram sockets), when there is one. */
  name?: Uint8Array;
  /** Control messages, already cut to the caller's controllen (cmsgsForUser). */
  control?: Uint8Array;
}

/** The settings of moat's "kernel": Linux's sysctls with the same meanings. */
export interface SocketLayerConfig extends SockoptLimits {
  /** net.ipv4.ping_group_range: which gids may open ping sockets (moat: everyone by default). */
  pingGroupRange: [number, number];
  /** Whether the caller counts as having CAP_NET_ADMIN / CAP_NET_BIND_SERVICE (SO_PRIORITY > 6, ports < 1024). */
  privileged: boolean;
  /** net.ipv4.ip_nonlocal_bind. */
  nonlocalBind: boolean;
}
