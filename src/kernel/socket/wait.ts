// Sleeping until a socket changes, Linux's sk_wait_event in promise form. Every socket owns one
// WaitQueue; its endpoint's events call wake(), which re-checks each waiter's condition. Blocking
// calls await wait(); poll/epoll emulation and the sandbox's socketpair pumps subscribe().
// Timeouts run on the stack's TimerQueue, so virtual-time tests see them like any other timer.

import type { TimerQueue } from '../../netstack/timers.js';

export type WaitOutcome = 'ready' | 'timeout' | 'intr';

export class WaitQueue {
  private readonly waiters = new Set<() => void>();
  private readonly watchers = new Set<() => void>();

  /** Counts wake() calls: a waiter for "anything new" compares it with what it saw. */
  generation = 0;

  /** Something changed: waiters re-check their conditions, subscribers hear about it. */
  wake(): void {
    this.generation++;
    if (this.waiters.size > 0) for (const w of [...this.waiters]) w();
    if (this.watchers.size > 0) for (const w of [...this.watchers]) w();
  }

  /** Calls `fn` after every change until the returned function is called. */
  subscribe(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Resolves 'ready' as soon as `ready()` holds (at once if it already does), 'timeout' after
   * `timeoutMs` (0 or Infinity: never), 'intr' when `signal` aborts.
   */
  wait(ready: () => boolean, timers: TimerQueue, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (ready()) return Promise.resolve('ready');
    if (signal?.aborted) return Promise.resolve('intr');
    return new Promise((resolve) => {
      const timer = timeoutMs > 0 && Number.isFinite(timeoutMs) ? timers.after(timeoutMs, () => finish('timeout')) : null;
      const onAbort = (): void => finish('intr');
      const check = (): void => {
        if (ready()) finish('ready');
      };
      const finish = (o: WaitOutcome): void => {
        this.waiters.delete(check);
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(o);
      };
      this.waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
