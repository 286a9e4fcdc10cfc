// The contract between the seccomp supervisor and whoever answers trapped calls (the socket
// layer; tests answering by hand). Read seccomp_unotify(2) first.

import type { ErrnoName } from '../errno.js';
import type { GuestMemory } from './guest-memory.js';
import type { SyscallName } from './syscalls.js';

/** One trapped system call, pending until answered. */
export interface TrappedCall {
  /** The notification cookie. */
  readonly id: bigint;
  /** The calling thread's id (moat's pid namespace). For pidfds, see `GuestFds`. */
  readonly tid: number;
  readonly nr: number;
  /** x86_64 name of `nr` (the supervisor only dispatches x86_64 calls). */
  readonly name: SyscallName | undefined;
  /** The six raw syscall arguments. */
  readonly args: readonly bigint[];
  readonly instructionPointer: bigint;
  /** The caller's memory; every read is re-validated against this call (pid reuse). */
  readonly memory: GuestMemory;
  /**
   * Aborted when the supervisor learns the call can no longer be answered: the caller was killed
   * (found by `Supervisor.sweep`), the listener hung up, or the supervisor stopped. A long wait
   * (accept, a blocking connect) should listen to it to free its resources.
   */
  readonly signal: AbortSignal;
  /** SECCOMP_IOCTL_NOTIF_ID_VALID: is the caller still blocked in this call? Check before acting on what was read. */
  isValid(): boolean;
  /** Argument `i` as the kernel's `int` (low 32 bits, signed). */
  argInt(i: number): number;
  /** Argument `i` as `unsigned int`. */
  argU32(i: number): number;
  /**
   * SECCOMP_IOCTL_NOTIF_ADDFD without answering: installs a duplicate of `srcFd` in the guest
   * and returns its number (or a code). For calls that pass several fds (recvmsg SCM_RIGHTS) and
   * answer afterwards with `{ value }`.
   */
  injectFd(srcFd: number, opts?: { cloexec?: boolean; targetFd?: number }): number | string;
}

/** How the supervisor settled an answer. */
export type AnswerOutcome =
  | { ok: true; /** For injectFd: the guest's fd number. */ fd?: number }
  | { ok: false; /** "ENOENT": the caller was gone; anything else: refused by the kernel. */ code: string };

interface AnswerCommon {
  /** Called once the kernel has taken (or refused) the answer; e.g. to drop state for a socket the guest never got. */
  onSettled?: (outcome: AnswerOutcome) => void;
}

/** The call returns `value` (>= 0). */
export interface ValueAnswer extends AnswerCommon {
  value: number | bigint;
}
/** The call fails with this errno (a name from errno.ts, or a positive number). */
export interface ErrnoAnswer extends AnswerCommon {
  errno: ErrnoName | number;
}
/**
 * The call returns a new guest fd that duplicates `injectFd` (SECCOMP_ADDFD_FLAG_SEND: the fd and
 * the answer in one step). `closeAfter` closes moat's `injectFd` once it has been sent (or failed to be).
 */
export interface InjectFdAnswer extends AnswerCommon {
  injectFd: number;
  cloexec?: boolean;
  targetFd?: number;
  closeAfter?: boolean;
}
/**
 * Let the kernel run the call itself (SECCOMP_USER_NOTIF_FLAG_CONTINUE). ONLY for calls that
 * policy does not decide: e.g. sendmsg on the guest's own AF_UNIX socket, which the filter cannot
 * tell apart from an inet one. Never for a socket moat serves: between moat's look at the fd and
 * the kernel running the call, another guest thread can dup2 a different file onto that number
 * (seccomp_unotify(2), "Caveats"). The guest's empty network namespace bounds the damage.
 */
export interface ContinueAnswer extends AnswerCommon {
  continue: true;
}
/** The handler already answered by itself (e.g. via lower-level calls); the supervisor does nothing. */
export interface HandledAnswer extends AnswerCommon {
  handled: true;
}

export type SyscallAnswer = ValueAnswer | ErrnoAnswer | InjectFdAnswer | ContinueAnswer | HandledAnswer;

export type SyscallHandler = (call: TrappedCall) => Promise<SyscallAnswer> | SyscallAnswer;

export interface SupervisorStats {
  /** Notifications received. */
  received: number;
  /** Answers the kernel accepted. */
  answered: number;
  /** Answers that found the caller gone (ENOENT): killed, or interrupted and restarted. */
  stale: number;
  /** Calls refused with ENOSYS before the handler: foreign arch or x32 (a filter from elsewhere may let them through). */
  foreignAbi: number;
  /** Handler threw or returned something that is not an answer: the guest got EIO. */
  handlerErrors: number;
  /** Answers the kernel refused for a reason other than ENOENT. */
  respondErrors: number;
  /** Pending calls aborted because the caller went away. */
  aborted: number;
}
