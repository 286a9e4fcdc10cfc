// The world the sandbox tests run guests in: a peer namespace (the "outside": a Linux stack with
// nginx and dnsmasq) and an address-less namespace whose veth end moat's stack takes with
// AF_PACKET. Guests run under `node bin/moat.js run --link packet:IF@NS ...`, so the CLI itself
// is what is tested. Everything is created with a unique moat- name and deleted by stop().

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { addAddress, createNetns, createVethPair, deleteNetns, ip, setLinkUp } from '../../src/net-plumbing/netns.js';
import { startDnsmasq, startNginx, type PeerServer } from '../../src/cli/host/peer-services.js';

export const MOAT_BIN = join(packageRoot(), 'bin', 'moat.js');

export interface Topology {
  peerNs: string;
  dutNs: string;
  dutIf: string;
  peer4: string;
  peer6: string;
  stack4: string;
  stack6: string;
  /** The page nginx serves at / (and /big: 1 MiB). */
  page: string;
  /** Arguments for `moat run` that put the stack on this topology. */
  runArgs: string[];
  dir: string;
  stop(): Promise<void>;
}

let seq = 0;

export async function topology(): Promise<Topology> {
  const id = `${process.pid % 100000}${seq++}`;
  const peerNs = `moat-sbp-${id}`;
  const dutNs = `moat-sbd-${id}`;
  const peerIf = `moat-sp${id}`.slice(0, 15);
  const dutIf = `moat-sd${id}`.slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), 'moat-sandbox-'));
  // nginx's workers run as nobody: they must be able to traverse to the document root.
  chmodSync(dir, 0o755);
  const servers: PeerServer[] = [];
  const stop = async (): Promise<void> => {
    for (const s of servers) await s.stop().catch(() => undefined);
    await deleteNetns(peerNs).catch(() => undefined);
    await deleteNetns(dutNs).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await createNetns(peerNs);
    await createNetns(dutNs);
    await createVethPair(peerIf, dutIf);
    await ip(['link', 'set', peerIf, 'netns', peerNs]);
    await ip(['link', 'set', dutIf, 'netns', dutNs]);
    await setLinkUp('lo', { netns: peerNs });
    await addAddress(peerIf, '10.213.98.1/24', { netns: peerNs });
    await ip(['-n', peerNs, 'addr', 'add', 'fd98:213::1/64', 'dev', peerIf, 'nodad']);
    await setLinkUp(peerIf, { netns: peerNs });
    await setLinkUp(dutIf, { netns: dutNs });
    await ip(['netns', 'exec', dutNs, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']).catch(() => undefined);
    const page = `hello from the peer ${id}\n`;
    servers.push(
      await startNginx({
        netns: peerNs, dir: join(dir, 'nginx'), listen: ['10.213.98.1:80', '[fd98:213::1]:80'], port: 80,
        files: { 'index.html': page, big: new Uint8Array(1 << 20).map((_, i) => i & 0xff) },
      }),
    );
    servers.push(
      await startDnsmasq({
        netns: peerNs, dir, listen: ['10.213.98.1'],
        records: { 'web.test': ['10.213.98.1', 'fd98:213::1'], 'peer.test': ['10.213.98.1'] },
      }),
    );
    return {
      peerNs, dutNs, dutIf, peer4: '10.213.98.1', peer6: 'fd98:213::1', stack4: '10.213.98.2', stack6: 'fd98:213::2', page, dir, stop,
      runArgs: ['--link', `packet:${dutIf}@${dutNs}`, '--ip', '10.213.98.2/24', '--ip', 'fd98:213::2/64', '--gateway', '10.213.98.1', '--gateway', 'fd98:213::1', '--dns', '10.213.98.1', '--inbound', 'allow'],
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The run outlived its time and was killed (SIGTERM, then SIGKILL 5 s later). */
  timedOut?: boolean;
}

/** Starts `moat run <runArgs> -- cmd...`; `done` settles when it exits (killed after `timeoutMs`). */
export function moatStart(runArgs: string[], cmd: string[], opts: { timeoutMs?: number; stdin?: string } = {}): { done: Promise<Ran>; kill(sig?: NodeJS.Signals): void } {
  const child = spawn(process.execPath, [MOAT_BIN, 'run', ...runArgs, '--', ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(opts.stdin ?? '');
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }, opts.timeoutMs ?? 60_000);
  const done = new Promise<Ran>((resolveRun) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr, timedOut });
    });
  });
  return { done, kill: (sig = 'SIGTERM') => child.kill(sig) };
}

/** Runs `moat run <runArgs> -- cmd...` to its end (bounded by `timeoutMs`). */
export function moatRun(runArgs: string[], cmd: string[], opts: { timeoutMs?: number; stdin?: string } = {}): Promise<Ran> {
  return moatStart(runArgs, cmd, opts).done;
}

/** Runs a command in a namespace (the peer side of a test). */
export function inNetns(ns: string, cmd: string[], timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolveRun) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/**
 * Python lines that read socket `s` to its end and print the HTTP body: guest programs in the
 * tests fetch a page with them.
 */
export const PY_READ_BODY = [
  'page = b""',
  'while True:',
  '    d = s.recv(65536)',
  '    if not d: break',
  '    page += d',
  'print(page.split(b"\\r\\n\\r\\n", 1)[1].decode(), end="")',
];

/** Whether a program is on PATH. */
export function have(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((p) => existsSync(join(p, cmd)));
}
