// Interop test plumbing: namespaces and veths this test creates (moat-<tag><pid>-*, deleted by
// close() in finally), commands run inside them, `moat host` spawned through the CLI, tshark.
// NETWORK RULE: every address used here lives in these namespaces.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNetns, createVethPair, deleteNetns, disableIpv6, ip, linkInfo, listMoatResources, setLinkUp } from '../../src/net-plumbing/netns.js';

// Absolute: under `npx ava`, node_modules/.bin comes first in PATH and has an unrelated `nft` (@vercel/nft).
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? 'nft';

export const MOAT_BIN = fileURLToPath(new URL('../../../bin/moat.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell unless you ask for `sh -c`), bounded by `timeoutMs`. */
export function run(file: string, args: readonly string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: 'SIGKILL', env }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** `sh -c CMD` inside a namespace. */
export function nsSh(netns: string, cmd: string, timeoutMs = 30_000): Promise<RunResult> {
  return run('ip', ['netns', 'exec', netns, 'sh', '-c', cmd], timeoutMs);
}

export interface Topology {
  tag: string;
  peerNs: string;
  dutNs: string;
  /** The Linux peer's interface (toward moat, or toward the router when routed). */
  peerIf: string;
  /** The address-less interface moat's stack takes over. */
  dutIf: string;
  peer4: string;
  peer6: string;
  moat4: string;
  moat6: string;
  /** Prefix lengths for moat's --ip. */
  moatCidrs: string[];
  /** Gateways moat needs (routed topology). */
  gateways: string[];
  fwdNs?: string;
  close(): Promise<void>;
}

function names(tag: string) {
  const id = `${tag}${process.pid}`;
  return { id, ns: (x: string) => `moat-${id}-${x}`, ifn: (x: string) => `moat-${id}${x}`.slice(0, 15) };
}

/**
 * Peer namespace (Linux, 10.213.<net>.1/24, fd13:<net>::1/64) -- veth -- moat's namespace
 * (no addresses, IPv6 off). moat gets .2 / ::2.
 */
export async function directTopology(tag: string, net = 90): Promise<Topology> {
  const n = names(tag);
  const peerNs = n.ns('peer');
  const dutNs = n.ns('dut');
  const peerIf = n.ifn('p');
  const dutIf = n.ifn('d');
  const made: string[] = [];
  const close = async () => {
    for (const ns of made.reverse()) await deleteNetns(ns).catch(() => {});
  };
  try {
    for (const ns of [peerNs, dutNs]) {
      await createNetns(ns);
      made.push(ns);
    }
    await disableIpv6(dutNs);
    await createVethPair(peerIf, dutIf, { netnsA: peerNs, netnsB: dutNs });
    await ip(['address', 'add', `10.213.${net}.1/24`, 'dev', peerIf], { netns: peerNs });
    await ip(['address', 'add', `fd13:${net}::1/64`, 'dev', peerIf, 'nodad'], { netns: peerNs });
    await setLinkUp(peerIf, { netns: peerNs });
    await setLinkUp(dutIf, { netns: dutNs });
    return {
      tag,
      peerNs,
      dutNs,
      peerIf,
      dutIf,
      peer4: `10.213.${net}.1`,
      peer6: `fd13:${net}::1`,
      moat4: `10.213.${net}.2`,
      moat6: `fd13:${net}::2`,
      moatCidrs: [`10.213.${net}.2/24`, `fd13:${net}::2/64`],
      gateways: [],
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Peer -- router namespace -- moat, IPv4: 10.213.<net>.0/24 on the peer side, 10.213.<net+1>.0/24
 * on moat's. The router's forward chain drops `lossPercent`% of packets at random (nftables
 * numgen: these kernels have no netem). Segmentation offloads are off on the peer and checksum
 * offload off toward moat, so a drop is one wire segment, not a 64 KB GSO aggregate.
 */
export async function routedTopology(tag: string, lossPercent: number, net = 94): Promise<Topology> {
  const n = names(tag);
  const peerNs = n.ns('peer');
  const fwdNs = n.ns('fwd');
  const dutNs = n.ns('dut');
  const peerIf = n.ifn('p');
  const fwdA = n.ifn('a');
  const fwdB = n.ifn('b');
  const dutIf = n.ifn('d');
  const made: string[] = [];
  const close = async () => {
    for (const ns of made.reverse()) await deleteNetns(ns).catch(() => {});
  };
  const a = `10.213.${net}`;
  const b = `10.213.${net + 1}`;
  try {
    for (const ns of [peerNs, fwdNs, dutNs]) {
      await createNetns(ns);
      made.push(ns);
    }
    await disableIpv6(dutNs);
    await createVethPair(peerIf, fwdA, { netnsA: peerNs, netnsB: fwdNs });
    await createVethPair(fwdB, dutIf, { netnsA: fwdNs, netnsB: dutNs });
    await ip(['address', 'add', `${a}.1/24`, 'dev', peerIf], { netns: peerNs });
    await ip(['address', 'add', `${a}.254/24`, 'dev', fwdA], { netns: fwdNs });
    await ip(['address', 'add', `${b}.254/24`, 'dev', fwdB], { netns: fwdNs });
    for (const [ns, ifn] of [[peerNs, peerIf], [fwdNs, fwdA], [fwdNs, fwdB], [dutNs, dutIf]] as const) await setLinkUp(ifn, { netns: ns });
    await ip(['route', 'add', 'default', 'via', `${a}.254`], { netns: peerNs });
    const setup = [
      'sysctl -qw net.ipv4.ip_forward=1',
      `ethtool -K ${fwdB} tx off >/dev/null`,
      `${NFT} add table inet moatloss`,
      `${NFT} 'add chain inet moatloss forward { type filter hook forward priority 0 ; policy accept ; }'`,
      lossPercent > 0 ? `${NFT} add rule inet moatloss forward numgen random mod 100 '<' ${lossPercent} counter drop` : 'true',
    ].join(' && ');
    const r = await nsSh(fwdNs, setup);
    if (r.code !== 0) throw new Error(`router set-up failed: ${r.stderr}`);
    const p = await nsSh(peerNs, `ethtool -K ${peerIf} tso off gso off >/dev/null`);
    if (p.code !== 0) throw new Error(`ethtool on the peer failed: ${p.stderr}`);
    return {
      tag,
      peerNs,
      dutNs,
      fwdNs,
      peerIf,
      dutIf,
      peer4: `${a}.1`,
      peer6: '',
      moat4: `${b}.2`,
      moat6: '',
      moatCidrs: [`${b}.2/24`],
      gateways: [`${b}.254`],
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Packets the router's loss rule dropped so far. */
export async function routerDrops(topo: Topology): Promise<number> {
  const r = await nsSh(topo.fwdNs!, `${NFT} list chain inet moatloss forward`);
  const m = /counter packets (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

export interface SpawnedHost {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGINT, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<RunResult>;
}

/** `node bin/moat.js host ARGS...` (prefixed with `ip netns exec NS` when `netns` is given); resolves once it says it is up. */
export async function spawnHost(args: readonly string[], opts: { netns?: string; readyMs?: number } = {}): Promise<SpawnedHost> {
  const argv = ['--enable-source-maps', MOAT_BIN, 'host', ...args];
  const child = opts.netns
    ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<RunResult>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = () => (out.includes('moat host: up') ? resolve(true) : setTimeout(check, 20));
      check();
    }),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), opts.readyMs ?? 15_000)),
  ]);
  const stop = async (graceMs = 10_000): Promise<RunResult> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const r = await exited;
    clearTimeout(t);
    return r;
  };
  if (!ready) {
    const r = await stop(1000);
    throw new Error(`moat host did not come up (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { child, stdout: () => out, stderr: () => err, stop };
}

/** Lines tshark prints for frames Wireshark's dissectors call malformed (empty: none). */
export async function tsharkMalformed(file: string, extra: readonly string[] = []): Promise<string> {
  const r = await run('tshark', ['-n', '-r', file, ...extra, '-Y', '_ws.malformed'], 120_000);
  if (r.code !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Frames matching a display filter. */
export async function tsharkCount(file: string, filter: string): Promise<number> {
  const r = await run('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], 120_000);
  if (r.code !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

export async function leftovers(tag: string): Promise<string[]> {
  const res = await listMoatResources({ prefix: `moat-${tag}${process.pid}` });
  return [...res.netns, ...res.links];
}

export { linkInfo };
