// Test support: real OCI runtimes (runc, crun from Debian) running busybox-static containers whose
// seccomp section sends the socket calls to a moat agent. A container gets a network namespace the
// way a CNI plugin would give it one: a veth whose other end is in a peer namespace, an address,
// a default route. Everything is named moat-... and deleted by cleanup().

import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentSeccompProfile } from '../../src/kernel/agent/profile.js';

const run = promisify(execFile);

export const BUSYBOX = '/bin/busybox';

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A read-only busybox root file system (static busybox, its applets as symlinks). */
export function makeRootfs(dir: string): string {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'www']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  for (const applet of ['sh', 'wget', 'nc', 'sleep', 'cat', 'echo', 'httpd', 'ip', 'ping', 'true', 'printf']) symlinkSync('busybox', join(root, 'bin', applet));
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(root, 'www', 'index.html'), 'served from the container\n');
  return root;
}

export interface BundleOptions {
  args: string[];
  /** Network namespace to join (a path). */
  netnsPath: string;
  listenerPath: string;
  listenerMetadata?: string;
  annotations?: Record<string, string>;
}

/** Writes config.json for a bundle whose rootfs is `rootfs` (shared read-only between bundles). */
export function makeBundle(dir: string, rootfs: string, o: BundleOptions): string {
  mkdirSync(dir, { recursive: true });
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: ['PATH=/bin'],
      cwd: '/',
      noNewPrivileges: true,
      capabilities: { bounding: ['CAP_NET_BIND_SERVICE'], effective: ['CAP_NET_BIND_SERVICE'], permitted: ['CAP_NET_BIND_SERVICE'] },
    },
    root: { path: rootfs, readonly: true },
    hostname: 'moat-ctr',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1024k'] },
    ],
    ...(o.annotations ? { annotations: o.annotations } : {}),
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network', path: o.netnsPath }],
      seccomp: agentSeccompProfile({ listenerPath: o.listenerPath, ...(o.listenerMetadata !== undefined ? { listenerMetadata: o.listenerMetadata } : {}) }),
      maskedPaths: ['/proc/kcore', '/proc/keys'],
      readonlyPaths: ['/proc/sys'],
    },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** A bundle with no seccomp section at all (the baseline for start-up and throughput). */
export function withoutSeccomp(bundle: string): void {
  const p = join(bundle, 'config.json');
  const c = JSON.parse(readFileSync(p, 'utf8')) as { linux: Record<string, unknown> };
  delete c.linux.seccomp;
  writeFileSync(p, JSON.stringify(c, null, 2));
}

export type Runtime = 'runc' | 'crun';

/** One runtime invocation with its own state root (nothing shared with other runs). */
/**
 * crun refuses cgroup "hybrid mode" (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified,
 * as on this CI machine): it then runs in a private mount namespace without that cgroup2 mount.
 * Nothing outside the crun process sees the difference.
 */
function hybridCgroups(): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === '/sys/fs/cgroup/unified');
  } catch {
    return false;
  }
}

export class RuntimeCli {
  private readonly wrap: boolean;
  constructor(
    readonly runtime: Runtime,
    readonly root: string,
  ) {
    this.wrap = runtime === 'crun' && hybridCgroups();
  }

  /** The command line that runs the runtime with `args`. */
  argv(args: string[]): [string, string[]] {
    const base = [this.runtime, '--root', this.root, ...args];
    if (!this.wrap) return [base[0]!, base.slice(1)];
    return ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"', ...base]];
  }

  async cmd(args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
    const [file, argv] = this.argv(args);
    return run(file, argv, { timeout: timeoutMs, encoding: 'utf8' });
  }

  /** `run -d`: the container's stdout/stderr go to a file in the bundle. */
  async runDetached(id: string, bundle: string): Promise<void> {
    const out = join(bundle, 'stdout.txt');
    const [file, argv] = this.argv(['run', '-d', '--bundle', bundle, id]);
    // The container inherits these fds: plain files, so that nothing waits on a pipe.
    await run('sh', ['-c', `exec "$0" "$@" </dev/null >${out} 2>&1`, file, ...argv], { timeout: 30_000 });
  }

  async exec(id: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const [file, argv] = this.argv(['exec', id, ...args]);
      const r = await run(file, argv, { timeout: timeoutMs, encoding: 'utf8' });
      return { ...r, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : -1 };
    }
  }

  async kill(id: string): Promise<void> {
    await this.cmd(['kill', id, 'KILL']).catch(() => undefined);
  }

  async delete(id: string): Promise<void> {
    await this.cmd(['delete', '-f', id]).catch(() => undefined);
  }

  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      return JSON.parse((await this.cmd(['state', id])).stdout) as { status: string; pid: number };
    } catch {
      return undefined;
    }
  }
}

export function containerOutput(bundle: string): string {
  const p = join(bundle, 'stdout.txt');
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A container network the way CNI makes one: netns C with eth0 10.213.S.2/24 via 10.213.S.1 in peer netns P. */
export interface ContainerNet {
  netns: string;
  netnsPath: string;
  peer: string;
  subnet: number;
  containerIp: string;
  peerIp: string;
}

const made: string[] = [];

export async function ip(args: string[]): Promise<string> {
  return (await run('ip', args, { encoding: 'utf8' })).stdout;
}

export async function makeContainerNet(tag: string, subnet: number, peerNs?: string): Promise<ContainerNet> {
  const netns = `moat-ag${tag}`;
  const peer = peerNs ?? `moat-ap${tag}`;
  await ip(['netns', 'add', netns]);
  made.push(netns);
  if (!peerNs) {
    await ip(['netns', 'add', peer]);
    made.push(peer);
    await ip(['-n', peer, 'link', 'set', 'lo', 'up']);
  }
  await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  const a = `moat-v${tag}a`.slice(0, 15);
  const b = `moat-v${tag}b`.slice(0, 15);
  await ip(['-n', netns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', peer]);
  await ip(['-n', netns, 'link', 'set', a, 'name', 'eth0']);
  await ip(['-n', netns, 'address', 'add', `10.213.${subnet}.2/24`, 'dev', 'eth0']);
  await ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', netns, 'route', 'add', 'default', 'via', `10.213.${subnet}.1`]);
  await ip(['-n', peer, 'address', 'add', `10.213.${subnet}.1/24`, 'dev', b]);
  await ip(['-n', peer, 'link', 'set', b, 'up']);
  return { netns, netnsPath: `/var/run/netns/${netns}`, peer, subnet, containerIp: `10.213.${subnet}.2`, peerIp: `10.213.${subnet}.1` };
}

/** Runs a command in a namespace (`ip netns exec`). */
export async function inNetns(netns: string, cmd: string[], timeoutMs = 15_000): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run('ip', ['netns', 'exec', netns, ...cmd], { timeout: timeoutMs, encoding: 'utf8' });
    return { ...r, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : -1 };
  }
}

export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `moat-agent-${tag}-`));
  made.push(`dir:${d}`);
  return d;
}

export async function cleanup(): Promise<void> {
  for (const m of made.splice(0).reverse()) {
    if (m.startsWith('dir:')) rmSync(m.slice(4), { recursive: true, force: true });
    else await ip(['netns', 'del', m]).catch(() => undefined);
  }
}
