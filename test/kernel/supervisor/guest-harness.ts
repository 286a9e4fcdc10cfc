// Test support: compiles the C guests in test/kernel/supervisor/guests/ and runs one under a
// Supervisor whose handler the test writes by hand.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { packageRoot, native } from '../../../src/net-plumbing/native.js';
import { Supervisor, spawnGuest } from '../../../src/kernel/supervisor/index.js';
import type { GuestExit, SpawnGuestOptions, SupervisorOptions, SpawnedGuest, SyscallAnswer, SyscallHandler, TrappedCall } from '../../../src/kernel/supervisor/index.js';
import { SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_TYPE_MASK } from '../../../src/kernel/supervisor/index.js';

let dir: string | undefined;
const built = new Map<string, string>();

/** Path of the compiled guest `name` (guests/<name>.c), compiled once per test file. */
export function guestBinary(name: string): string {
  const have = built.get(name);
  if (have) return have;
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'moat-guests-'));
    chmodSync(dir, 0o755); // guests may run as another uid
  }
  const out = join(dir, name);
  execFileSync('cc', ['-O1', '-pthread', '-Wall', '-o', out, join(packageRoot(), 'test', 'kernel', 'supervisor', 'guests', `${name}.c`)]);
  built.set(name, out);
  return out;
}

export function cleanupGuests(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  built.clear();
}

/** Collects a stream's lines and lets a test wait for one. */
export class Lines {
  readonly all: string[] = [];
  private partial = '';
  private waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  private ended = false;
  private endWaiters: Array<() => void> = [];

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      this.partial += d;
      let i: number;
      while ((i = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, i);
        this.partial = this.partial.slice(i + 1);
        this.all.push(line);
        for (const w of [...this.waiters]) {
          const m = w.re.exec(line);
          if (m) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      }
    });
    stream.on('end', () => {
      this.ended = true;
      for (const w of this.endWaiters) w();
    });
  }

  /** Resolves with the first line (already seen or future) matching `re`. */
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    for (const line of this.all) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }

  finished(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((r) => this.endWaiters.push(r));
  }

  /** key=value lines as a map (last one wins). */
  get values(): Map<string, string> {
    const m = new Map<string, string>();
    for (const l of this.all) {
      const i = l.indexOf('=');
      if (i > 0) m.set(l.slice(0, i), l.slice(i + 1));
    }
    return m;
  }
}

const running = new Set<RunningGuest>();

/** Kills guests a failed test left behind (afterEach.always), and stops their supervisors. */
export function killLeftoverGuests(): void {
  for (const g of running) {
    if (g.guest.child.exitCode === null && g.guest.child.signalCode === null) g.guest.child.kill('SIGKILL');
    g.supervisor.stop();
  }
  running.clear();
}

export interface RunningGuest {
  guest: SpawnedGuest;
  supervisor: Supervisor;
  out: Lines;
  /** Every call the handler saw, in order. */
  calls: TrappedCall[];
  done(): Promise<{ exit: GuestExit; out: Lines }>;
}

/** Spawns guest `name` with `args` and serves its trapped calls with `handler`. */
export async function runGuest(
  name: string,
  args: string[],
  handler: SyscallHandler,
  opts: Partial<SpawnGuestOptions> & { supervisor?: SupervisorOptions } = {},
): Promise<RunningGuest> {
  const { supervisor: supOpts, ...spawnOpts } = opts;
  const guest = await spawnGuest({ file: guestBinary(name), args, stdio: ['ignore', 'pipe', 'inherit'], ...spawnOpts });
  const out = new Lines(guest.child.stdout as Readable);
  const calls: TrappedCall[] = [];
  const supervisor = new Supervisor(
    guest.listenerFd,
    (call) => {
      calls.push(call);
      return handler(call);
    },
    { sweepIntervalMs: 0, ...supOpts },
  ).start();
  const r: RunningGuest = {
    guest,
    supervisor,
    out,
    calls,
    async done() {
      const exit = await guest.exited;
      await out.finished();
      await supervisor.ended;
      running.delete(r);
      return { exit, out };
    },
  };
  running.add(r);
  return r;
}

/**
 * Answers socket() the way the socket layer will: a fresh unix socketpair, the guest's end
 * injected with the guest's SOCK_NONBLOCK/SOCK_CLOEXEC, moat's end kept in `kept`.
 */
export function answerSocket(call: TrappedCall, kept: number[], kind: 'stream' | 'dgram' | 'seqpacket' = 'stream'): SyscallAnswer {
  const type = call.argInt(1);
  const [mine, theirs] = native().socketpair((type & SOCK_TYPE_MASK) === 2 ? 'dgram' : kind);
  native().setNonblocking(theirs, (type & SOCK_NONBLOCK) !== 0);
  kept.push(mine);
  return { injectFd: theirs, cloexec: (type & SOCK_CLOEXEC) !== 0, closeAfter: true };
}
