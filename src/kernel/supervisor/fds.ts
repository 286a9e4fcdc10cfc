// Which of moat's sockets is this guest fd? pidfd_open(2) + pidfd_getfd(2) give moat a duplicate
// of the guest's fd; its inode names the socketpair end moat created, which survives dup(), fork()
// and fd passing (DESIGN.md "Which socket is this fd?"). Read pidfd_getfd(2) first.

import { readFileSync } from 'node:fs';
import { native } from '../../net-plumbing/native.js';
import type { TrappedCall } from './types.js';

/** A duplicate of a guest fd, owned by the caller (close it with closeFd). */
export interface GuestFdDup {
  fd: number;
  ino: bigint;
  isSocket: boolean;
}

/** The thread-group id of a thread id, from /proc (undefined if it is gone). */
export function tgidOf(tid: number): number | undefined {
  try {
    const m = /^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${tid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * pidfds per caller thread, opened on first use. A thread id is named directly with PIDFD_THREAD
 * (Linux 6.9) and otherwise through its thread-group leader. A cached pidfd whose process died
 * answers ESRCH and is dropped; since the fd table is read only through a pidfd opened while the
 * call was valid, and validity is re-checked after the read, a recycled pid cannot be mistaken
 * for the caller.
 */
export class GuestFds {
  private readonly pidfds = new Map<number, number>();

  /** @param maxCached pidfds kept open at most; the oldest is closed first (it is reopened on demand). */
  constructor(private readonly maxCached = 1024) {}

  /** Duplicates the caller's fd `guestFd`. Codes: EBADF (no such fd), GONE (caller gone), or the errno name. */
  dup(call: TrappedCall, guestFd: number): GuestFdDup | string {
    const n = native();
    let fd: number | string = 'ESRCH';
    // Twice at most: a cached pidfd may name an earlier thread that had the same id.
    for (let attempt = 0; attempt < 2 && fd === 'ESRCH'; attempt++) {
      if (attempt > 0) this.forget(call.tid);
      const pidfd = this.pidfdFor(call.tid);
      if (typeof pidfd === 'string') return call.isValid() && pidfd !== 'GONE' ? pidfd : 'GONE';
      fd = n.pidfdGetfd(pidfd, guestFd);
    }
    if (fd === 'ESRCH') {
      this.forget(call.tid);
      return 'GONE';
    }
    if (typeof fd === 'string') return call.isValid() ? fd : 'GONE';
    if (!call.isValid()) {
      n.closeFd(fd);
      return 'GONE';
    }
    const st = n.fstatIno(fd);
    return { fd, ino: st.ino, isSocket: st.isSocket };
  }

  /** Drops a cached pidfd (its thread exited). */
  forget(tid: number): void {
    const pidfd = this.pidfds.get(tid);
    if (pidfd === undefined) return;
    this.pidfds.delete(tid);
    try {
      native().closeFd(pidfd);
    } catch {
      /* already closed */
    }
  }

  /** Closes every cached pidfd. */
  close(): void {
    for (const tid of [...this.pidfds.keys()]) this.forget(tid);
  }

  get size(): number {
    return this.pidfds.size;
  }

  private pidfdFor(tid: number): number | string {
    const cached = this.pidfds.get(tid);
    if (cached !== undefined) return cached;
    const n = native();
    let pidfd = n.pidfdOpen(tid, { thread: true });
    if (pidfd === 'EINVAL') {
      // Kernel before 6.9: no PIDFD_THREAD. A leader's id works directly; a thread needs its tgid.
      pidfd = n.pidfdOpen(tid);
      if (pidfd === 'EINVAL') {
        const tgid = tgidOf(tid);
        if (tgid === undefined) return 'GONE';
        pidfd = n.pidfdOpen(tgid);
      }
    }
    if (typeof pidfd === 'string') return pidfd === 'ESRCH' ? 'GONE' : pidfd;
    if (this.pidfds.size >= this.maxCached) {
      const oldest = this.pidfds.keys().next();
      if (!oldest.done) this.forget(oldest.value);
    }
    this.pidfds.set(tid, pidfd);
    return pidfd;
  }
}
