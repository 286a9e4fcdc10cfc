// The seccomp supervisor: reads trapped calls from a listener fd and answers each one as an
// independent async task. Read seccomp_unotify(2) first (especially "Caveats" on pid reuse and
// SECCOMP_USER_NOTIF_FLAG_CONTINUE), then DESIGN.md "The sandbox's hard parts".
//
// The listener may come from anywhere: moat's exec helper (spawn.ts), or an OCI runtime handing
// over `linux.seccomp.listenerPath` fds for many containers; one Supervisor per listener, many
// per process. moat EMULATES the calls it serves; it never lets the kernel run a call that policy
// decides (see ContinueAnswer).

import { ERRNO } from '../errno.js';
import { native } from '../../net-plumbing/native.js';
import type { SeccompNotification } from '../../net-plumbing/native.js';
import { GuestFds } from './fds.js';
import { GuestMemory } from './guest-memory.js';
import { AUDIT_ARCH_X86_64, SECCOMP_USER_NOTIF_FLAG_CONTINUE, X32_SYSCALL_BIT, syscallName } from './syscalls.js';
import type { SyscallName } from './syscalls.js';
import type { AnswerOutcome, SupervisorStats, SyscallAnswer, SyscallHandler, TrappedCall } from './types.js';

export interface SupervisorOptions {
  /** Close the listener fd on stop() (default true). */
  ownsListener?: boolean;
  /**
   * How often (ms) pending calls are checked with ID_VALID so that calls whose caller was killed
   * are aborted (their `signal` fires). Default 1000; 0 disables the timer (call sweep() yourself).
   */
  sweepIntervalMs?: number;
  /** A handler bug (throw, or a non-answer). The guest gets EIO. Default: process.emitWarning. */
  onHandlerError?: (err: unknown, call: TrappedCall) => void;
}

/** Why the supervisor ended: the listener hung up (every guest task exited), stop(), or an error. */
export type SupervisorEnd = 'hangup' | 'stopped' | 'closed' | `error:${string}`;

class Call implements TrappedCall {
  readonly name: SyscallName | undefined;
  readonly memory: GuestMemory;
  private controller: AbortController | undefined;

  constructor(
    private readonly listenerFd: number,
    readonly id: bigint,
    readonly tid: number,
    readonly nr: number,
    readonly args: readonly bigint[],
    readonly instructionPointer: bigint,
  ) {
    this.name = syscallName(nr);
    this.memory = new GuestMemory(tid, () => this.isValid());
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: string): void {
    this.controller ??= new AbortController();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  isValid(): boolean {
    return native().seccompIdValid(this.listenerFd, this.id);
  }

  argInt(i: number): number {
    return Number(BigInt.asIntN(32, this.args[i] ?? 0n));
  }

  argU32(i: number): number {
    return Number(BigInt.asUintN(32, this.args[i] ?? 0n));
  }

  injectFd(srcFd: number, opts: { cloexec?: boolean; targetFd?: number } = {}): number | string {
    return native().seccompAddFd(this.listenerFd, this.id, srcFd, { send: false, ...opts });
  }
}

export class Supervisor {
  readonly stats: SupervisorStats = {
    received: 0,
    answered: 0,
    stale: 0,
    foreignAbi: 0,
    handlerErrors: 0,
    respondErrors: 0,
    aborted: 0,
  };
  /** pidfd cache for the socket layer's "which socket is this fd?" (closed on stop). */
  readonly fds = new GuestFds();
  /** Resolves once, when the supervisor stops reading the listener. */
  readonly ended: Promise<SupervisorEnd>;

  private readonly pendingCalls = new Set<Call>();
  private watchId = -1;
  private state: 'new' | 'running' | 'ended' = 'new';
  private resolveEnded!: (why: SupervisorEnd) => void;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly ownsListener: boolean;
  private readonly sweepIntervalMs: number;
  private readonly onHandlerError: (err: unknown, call: TrappedCall) => void;
  /** Tasks still running (handler or answer), including ones whose caller is gone. */
  private tasks = new Set<Promise<void>>();

  constructor(
    readonly listenerFd: number,
    private readonly handler: SyscallHandler,
    opts: SupervisorOptions = {},
  ) {
    this.ownsListener = opts.ownsListener ?? true;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 1000;
    this.onHandlerError =
      opts.onHandlerError ??
      ((err, call) => process.emitWarning(`moat supervisor: handler failed on ${call.name ?? call.nr} (tid ${call.tid}): ${String(err)}`));
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Starts reading notifications (they queue in the kernel until then). */
  start(): this {
    if (this.state !== 'new') throw new Error('Supervisor.start: already started');
    this.state = 'running';
    this.watchId = native().seccompWatch(
      this.listenerFd,
      (n) => this.onNotification(n),
      (reason) => this.finish(reason as SupervisorEnd),
    );
    return this;
  }

  /** Stops reading, aborts pending calls, closes the listener if owned (guests' later trapped calls then fail with ENOSYS). */
  stop(): void {
    if (this.state === 'ended') return;
    if (this.watchId >= 0) native().seccompUnwatch(this.watchId);
    this.finish('stopped');
  }

  /** Calls received and not yet answered. */
  get pending(): number {
    return this.pendingCalls.size;
  }

  /** Resolves when every handler task started so far has settled (tests, orderly shutdown). */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** Checks every pending call with ID_VALID; aborts those whose caller is gone. Returns how many. */
  sweep(): number {
    let n = 0;
    for (const call of this.pendingCalls) {
      if (!call.aborted && !call.isValid()) {
        call.abort('caller gone');
        this.stats.aborted++;
        n++;
      }
    }
    return n;
  }

  private finish(why: SupervisorEnd): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.watchId = -1;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const call of this.pendingCalls) {
      call.abort(why);
      this.stats.aborted++;
    }
    this.fds.close();
    if (this.ownsListener) {
      try {
        native().closeFd(this.listenerFd);
      } catch {
        /* already closed by its owner */
      }
    }
    this.resolveEnded(why);
  }

  private onNotification(n: SeccompNotification): void {
    this.stats.received++;
    // A filter from elsewhere (an OCI runtime's) might notify for other ABIs; their numbers mean
    // other calls, so they never reach a handler that assumes x86_64.
    if (n.arch !== AUDIT_ARCH_X86_64 || (n.nr & X32_SYSCALL_BIT) !== 0) {
      this.stats.foreignAbi++;
      this.settle(native().seccompRespond(this.listenerFd, n.id, 0, ERRNO.ENOSYS, 0));
      return;
    }
    const call = new Call(this.listenerFd, n.id, n.pid, n.nr, n.args, n.instructionPointer);
    this.pendingCalls.add(call);
    this.ensureSweeping();
    // Each call is its own task: a handler that waits (accept) never holds up the next call.
    const task = this.run(call).finally(() => {
      this.pendingCalls.delete(call);
      this.tasks.delete(task);
    });
    this.tasks.add(task);
  }

  private ensureSweeping(): void {
    if (this.sweepTimer || this.sweepIntervalMs <= 0 || this.state !== 'running') return;
    this.sweepTimer = setInterval(() => {
      this.sweep();
      if (this.pendingCalls.size === 0 && this.sweepTimer) {
        clearInterval(this.sweepTimer);
        this.sweepTimer = undefined;
      }
    }, this.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  private async run(call: Call): Promise<void> {
    let answer: SyscallAnswer;
    try {
      answer = await this.handler(call);
    } catch (err) {
      this.stats.handlerErrors++;
      this.onHandlerError(err, call);
      answer = { errno: ERRNO.EIO };
    }
    if (this.state === 'ended') {
      // The listener is closed (or no longer ours): nothing can be answered. Release what we hold.
      if ('injectFd' in answer && answer.closeAfter) closeQuietly(answer.injectFd);
      answer.onSettled?.({ ok: false, code: 'ENOENT' });
      return;
    }
    this.answer(call, answer);
  }

  private answer(call: Call, answer: SyscallAnswer): void {
    const n = native();
    let outcome: AnswerOutcome;
    if ('handled' in answer && answer.handled === true) {
      outcome = { ok: true };
    } else if ('injectFd' in answer) {
      const r = n.seccompAddFd(this.listenerFd, call.id, answer.injectFd, {
        send: true,
        cloexec: answer.cloexec ?? false,
        ...(answer.targetFd !== undefined ? { targetFd: answer.targetFd } : {}),
      });
      if (answer.closeAfter) closeQuietly(answer.injectFd);
      outcome = typeof r === 'number' ? { ok: true, fd: r } : this.settle(r);
    } else if ('continue' in answer && answer.continue === true) {
      outcome = this.settle(n.seccompRespond(this.listenerFd, call.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE));
    } else if ('errno' in answer) {
      const e = typeof answer.errno === 'number' ? answer.errno : ERRNO[answer.errno];
      if (!Number.isInteger(e) || e <= 0 || e > 4095) return this.badAnswer(call, answer);
      outcome = this.settle(n.seccompRespond(this.listenerFd, call.id, 0, e, 0));
    } else if ('value' in answer) {
      const v = answer.value;
      if (typeof v === 'number' ? !Number.isSafeInteger(v) || v < 0 : v < 0n) return this.badAnswer(call, answer);
      outcome = this.settle(n.seccompRespond(this.listenerFd, call.id, v, 0, 0));
    } else {
      return this.badAnswer(call, answer);
    }
    if (outcome.ok && !('handled' in answer)) this.stats.answered++;
    answer.onSettled?.(outcome);
  }

  private badAnswer(call: Call, answer: SyscallAnswer): void {
    this.stats.handlerErrors++;
    this.onHandlerError(new TypeError(`not a syscall answer: ${JSON.stringify(answer, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`), call);
    this.answer(call, { errno: ERRNO.EIO, ...(answer.onSettled ? { onSettled: answer.onSettled } : {}) });
  }

  /** Counts a respond/addFd result; ENOENT is an expected race (the caller died or was interrupted). */
  private settle(r: string | number): AnswerOutcome {
    if (r === 'ok' || typeof r === 'number') {
      return { ok: true };
    }
    if (r === 'ENOENT') this.stats.stale++;
    else this.stats.respondErrors++;
    return { ok: false, code: r };
  }
}

function closeQuietly(fd: number): void {
  try {
    native().closeFd(fd);
  } catch {
    /* not ours to worry about: already closed */
  }
}
