// Starting a guest under moat's seccomp filter, via native/exec-helper (read its header for the
// steps and the control protocol). Node's child_process does the fork and exec, so stdio, env,
// cwd and reaping behave as for any child; the helper then becomes the guest (same pid).

import { spawn } from 'node:child_process';
import type { ChildProcess, StdioNull, StdioPipe } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { native, packageRoot } from '../../net-plumbing/native.js';
import { AF_INET, AF_INET6 } from './syscalls.js';

export type GuestStdio = StdioNull | StdioPipe | number;

export interface SpawnGuestOptions {
  /** Program to run; looked up in PATH (the guest's env PATH) like execvp. */
  file: string;
  args?: readonly string[];
  /** argv[0] (default: file). */
  argv0?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdio for fds 0.. (default inherit, inherit, inherit). 'pipe' streams appear on `child`. */
  stdio?: readonly GuestStdio[];
  /** A new, empty network namespace (default true). */
  newNetns?: boolean;
  /** Address families whose socket()/socketpair() is trapped (default AF_INET, AF_INET6). */
  trapFamilies?: readonly number[];
  /** Ask for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (default true; the helper falls back without it on EINVAL). */
  waitKillable?: boolean;
  /**
   * Run the guest as this uid/gid (supplementary groups cleared). Without them the guest stays
   * uid 0 but with no capabilities at all (so it cannot setns(2) back to the host's network).
   */
  uid?: number;
  gid?: number;
  /** Keep the capabilities moat has (default false). Only for trusted guests: a capable root guest can leave the sandbox. */
  keepCapabilities?: boolean;
  /** The helper binary (default native/build/Release/moat-exec-helper). */
  helperPath?: string;
}

export interface GuestExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedGuest {
  /** The guest's pid (the helper exec'd into it). */
  pid: number;
  /** moat's duplicate of the seccomp listener (close-on-exec). Hand it to a Supervisor. */
  listenerFd: number;
  /** Whether the kernel accepted SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV. */
  waitKillable: boolean;
  child: ChildProcess;
  /**
   * The guest's first process exited. Its descendants inherit the filter and keep the listener
   * alive; `Supervisor.ended` resolves ("hangup") when the last of them exits. Until a Supervisor
   * reads `listenerFd`, the guest's first trapped call blocks.
   */
  exited: Promise<GuestExit>;
}

/** A failure to start the guest; `stage` says which step failed, `code` is the errno name. */
export class GuestSpawnError extends Error {
  constructor(
    message: string,
    readonly stage: 'spawn' | 'unshare' | 'no_new_privs' | 'seccomp' | 'exec' | 'usage' | 'handshake' | 'credentials',
    readonly code: string,
  ) {
    super(message);
    this.name = 'GuestSpawnError';
  }
}

const MAGIC = 0x54414f4d;
const REC_LISTENER = 1;
const REC_ERROR = 2;
const STAGES = ['spawn', 'unshare', 'no_new_privs', 'seccomp', 'exec', 'usage', 'handshake', 'credentials'] as const;
const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 22: 'EINVAL', 8: 'ENOEXEC', 38: 'ENOSYS' };

export function execHelperPath(): string {
  return join(packageRoot(), 'native', 'build', 'Release', 'moat-exec-helper');
}

interface ControlRecord {
  type: number;
  value: number;
  flags: number;
}

/** Reads 16-byte records from the control socket; null at EOF. */
class ControlReader {
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  private waiter: (() => void) | undefined;

  constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake();
    });
    const end = () => {
      this.eof = true;
      this.wake();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }

  async next(): Promise<ControlRecord | null> {
    for (;;) {
      if (this.buf.length >= 16) {
        const r = this.buf.subarray(0, 16);
        this.buf = this.buf.subarray(16);
        if (r.readUInt32LE(0) !== MAGIC) return null;
        return { type: r.readUInt32LE(4), value: r.readInt32LE(8), flags: r.readUInt32LE(12) };
      }
      if (this.eof) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/**
 * Spawns `file` as a guest: its own empty network namespace, no_new_privs, and moat's seccomp
 * filter (socket calls of the trapped families notify; io_uring, i386 and x32 calls get ENOSYS).
 * Resolves once the guest program has been exec'd; the caller then serves `listenerFd`.
 */
export async function spawnGuest(opts: SpawnGuestOptions): Promise<SpawnedGuest> {
  const helper = opts.helperPath ?? execHelperPath();
  if (!existsSync(helper)) {
    throw new GuestSpawnError(`moat: exec helper not built (${helper}); run \`npm run build:native\``, 'spawn', 'ENOENT');
  }
  const stdio: GuestStdio[] = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit'])];
  const controlIndex = stdio.length;
  const helperArgs = ['--control-fd', String(controlIndex)];
  if (opts.newNetns === false) helperArgs.push('--no-netns');
  if (opts.waitKillable === false) helperArgs.push('--no-wait-killable');
  if (opts.keepCapabilities) helperArgs.push('--keep-caps');
  if (opts.uid !== undefined) helperArgs.push('--uid', String(opts.uid));
  if (opts.gid !== undefined) helperArgs.push('--gid', String(opts.gid));
  for (const f of opts.trapFamilies ?? [AF_INET, AF_INET6]) helperArgs.push('--trap-family', String(f));
  helperArgs.push('--', opts.file, opts.argv0 ?? opts.file, ...(opts.args ?? []));

  const child = spawn(helper, helperArgs, {
    stdio: [...stdio, 'pipe'],
    env: opts.env ?? process.env,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  const exited = new Promise<GuestExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));
  const control = child.stdio[controlIndex] as Socket | null;
  if (!control || child.pid === undefined) {
    const err = await spawnFailed;
    throw new GuestSpawnError(`moat: cannot start the exec helper: ${err.message}`, 'spawn', (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN');
  }
  const reader = new ControlReader(control);
  const pid = child.pid;
  let listenerFd = -1;
  const fail = async (rec: ControlRecord | null, what: string): Promise<never> => {
    if (listenerFd >= 0) native().closeFd(listenerFd);
    control.destroy();
    if (rec && rec.type === REC_ERROR) {
      const stage = STAGES[rec.flags] ?? 'handshake';
      const code = ERRNO_NAMES[rec.value] ?? `E${rec.value}`;
      await exited;
      throw new GuestSpawnError(`moat: guest ${opts.file}: ${stage} failed: ${code}`, stage, code);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const ex = await exited;
    throw new GuestSpawnError(`moat: guest ${opts.file}: ${what} (helper exit ${ex.code ?? ex.signal})`, 'handshake', 'EPROTO');
  };

  const first = await reader.next();
  if (!first || first.type !== REC_LISTENER) return fail(first, 'the exec helper did not hand over a listener');
  const n = native();
  const pidfd = n.pidfdOpen(pid);
  if (typeof pidfd === 'string') return fail(null, `pidfd_open: ${pidfd}`);
  const dup = n.pidfdGetfd(pidfd, first.value);
  n.closeFd(pidfd);
  if (typeof dup === 'string') return fail(null, `pidfd_getfd(listener): ${dup}`);
  listenerFd = dup;
  control.write(Buffer.from('G'));
  // EOF: exec succeeded (the control socket is close-on-exec). A record: exec failed.
  const second = await reader.next();
  if (second) return fail(second, 'unexpected control record');
  control.destroy();
  return { pid, listenerFd, waitKillable: (first.flags & 1) !== 0, child, exited };
}
