// Network namespaces, veth pairs, taps and addresses through iproute2 (`ip`, run with
// execFile: no shell, arguments passed as they are). Read first: ip-netns(8), ip-link(8),
// ip-address(8), ip-neighbour(8), network_namespaces(7), veth(4).
//
// Everything moat creates is named `moat-...`, so that `moat cleanup` (cleanupMoat) can find
// what a crashed run left behind and delete it, and touch nothing else. `moat run`'s automatic
// link (auto-link.ts) adds an nftables table `inet moat-run-<id>` and a record under
// /run/moat/runs/ naming its owner's pid: cleanup leaves a live run's resources alone, and
// deletes a dead one's (nft(8) for the tables).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** IFNAMSIZ - 1: the longest interface name Linux accepts. */
export const MAX_IFNAME = 15;
/** The prefix of every namespace and link moat creates. */
export const MOAT_PREFIX = 'moat-';

/** A failed `ip` (or `sysctl`) command, with the command line and what it printed. */
export class PlumbingCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(`\`${command}\` failed (exit ${exitCode}): ${stderr.trim() || '(no output)'}`);
    this.name = 'PlumbingCommandError';
  }
}

export interface NsOption {
  /** The named network namespace to act in (default: the current one). */
  netns?: string;
}

function run(file: string, args: readonly string[], input?: string): Promise<string> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
        reject(new PlumbingCommandError(command, stderr || err.message, code));
      } else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs `ip [-n NETNS] ARGS...` and returns its stdout. */
export function ip(args: readonly string[], opts: NsOption = {}): Promise<string> {
  return run('ip', opts.netns ? ['-n', checkNetnsName(opts.netns), ...args] : args);
}

/** Runs `ip -j [-n NETNS] ARGS...` and parses its JSON ([] for no output). */
export async function ipJson<T>(args: readonly string[], opts: NsOption = {}): Promise<T[]> {
  const out = (await ip(['-j', ...args], opts)).trim();
  return out ? (JSON.parse(out) as T[]) : [];
}

/** Throws a RangeError unless `name` is a valid interface name (1..15 bytes, no '/', ':' or space). */
export function checkIfname(name: string): string {
  const bytes = Buffer.byteLength(name);
  if (bytes < 1 || bytes > MAX_IFNAME || /[\s/:]/.test(name) || name === '.' || name === '..') {
    throw new RangeError(`invalid interface name ${JSON.stringify(name)}: 1..${MAX_IFNAME} bytes, no whitespace, '/' or ':'`);
  }
  return name;
}

/** Throws a RangeError unless `name` can name a file under /var/run/netns. */
export function checkNetnsName(name: string): string {
  if (name.length < 1 || name.length > 255 || name.includes('/') || name === '.' || name === '..' || /\s/.test(name)) {
    throw new RangeError(`invalid network namespace name ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * A moat resource name: `moat-<suffix>` cut to fit IFNAMSIZ, e.g. moatName(`v${process.pid}a`).
 * Throws when the suffix is too long to stay unique after cutting.
 */
export function moatName(suffix: string): string {
  return checkIfname(MOAT_PREFIX + suffix);
}

export async function createNetns(name: string): Promise<void> {
  await ip(['netns', 'add', checkNetnsName(name)]);
  // A new namespace's loopback is down; anything run inside expects it up.
  await ip(['link', 'set', 'lo', 'up'], { netns: name });
}

export async function deleteNetns(name: string): Promise<void> {
  await ip(['netns', 'del', checkNetnsName(name)]);
}

export async function listNetns(): Promise<string[]> {
  const list = await ipJson<{ name: string }>(['netns', 'list']);
  return list.map((n) => n.name);
}

export interface VethOptions {
  /** Namespace of end `a` (default: the current one). */
  netnsA?: string;
  /** Namespace of end `b` (default: the same as `a`). */
  netnsB?: string;
}

/** Creates veth pair a <-> b, each end directly in its namespace (neither touches the host's). */
export async function createVethPair(a: string, b: string, opts: VethOptions = {}): Promise<void> {
  checkIfname(a);
  checkIfname(b);
  const peer = ['peer', 'name', b];
  if (opts.netnsB && opts.netnsB !== opts.netnsA) peer.push('netns', checkNetnsName(opts.netnsB));
  await ip(['link', 'add', a, 'type', 'veth', ...peer], { netns: opts.netnsA });
}

/** Creates a persistent tap device (it survives without an open fd; TapLink can attach to it). */
export async function createTap(name: string, opts: NsOption = {}): Promise<void> {
  await ip(['tuntap', 'add', 'dev', checkIfname(name), 'mode', 'tap'], opts);
}

export async function deleteLink(ifname: string, opts: NsOption = {}): Promise<void> {
  await ip(['link', 'del', 'dev', checkIfname(ifname)], opts);
}

export async function setLinkUp(ifname: string, opts: NsOption = {}): Promise<void> {
  await ip(['link', 'set', 'dev', checkIfname(ifname), 'up'], opts);
}

export async function setLinkDown(ifname: string, opts: NsOption = {}): Promise<void> {
  await ip(['link', 'set', 'dev', checkIfname(ifname), 'down'], opts);
}

export async function setLinkMtu(ifname: string, mtu: number, opts: NsOption = {}): Promise<void> {
  await ip(['link', 'set', 'dev', checkIfname(ifname), 'mtu', String(mtu)], opts);
}

/** Adds an address in CIDR form ("10.213.88.1/24", "fd00::1/64"). */
export async function addAddress(ifname: string, cidr: string, opts: NsOption = {}): Promise<void> {
  await ip(['address', 'add', cidr, 'dev', checkIfname(ifname)], opts);
}

/** Adds (or replaces) a permanent neighbor entry: `ip neigh replace IP lladdr MAC dev IF nud permanent`. */
export async function addNeighbor(ifname: string, address: string, mac: string, opts: NsOption = {}): Promise<void> {
  await ip(['neigh', 'replace', address, 'lladdr', mac, 'dev', checkIfname(ifname), 'nud', 'permanent'], opts);
}

export async function addRoute(dest: string, opts: NsOption & { via?: string; dev?: string } = {}): Promise<void> {
  const args = ['route', 'add', dest];
  if (opts.via) args.push('via', opts.via);
  if (opts.dev) args.push('dev', checkIfname(opts.dev));
  await ip(args, opts);
}

/**
 * Turns IPv6 off in a namespace (all interfaces, present and future), so the kernel sends
 * no NDP/MLD from an interface that moat's stack uses.
 */
export async function disableIpv6(netns: string): Promise<void> {
  for (const key of ['net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.default.disable_ipv6']) {
    await run('ip', ['netns', 'exec', checkNetnsName(netns), 'sysctl', '-q', '-w', `${key}=1`]);
  }
}

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  mtu: number;
  address: string;
  operstate: string;
  flags: string[];
  stats64?: { rx: { packets: number; bytes: number; dropped: number }; tx: { packets: number; bytes: number; dropped: number } };
}

/** `ip -j -s link show dev IF`: MTU, MAC, state and counters. */
export async function linkInfo(ifname: string, opts: NsOption = {}): Promise<LinkInfo> {
  const [info] = await ipJson<LinkInfo>(['-s', 'link', 'show', 'dev', checkIfname(ifname)], opts);
  if (!info) throw new Error(`ip link show dev ${ifname}: no such interface`);
  return info;
}

/** "aa:bb:cc:dd:ee:ff" for a 6-byte MAC. */
export function macToString(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

// --- nftables and the registry of live auto links (auto-link.ts) ---

/**
 * nft(8) by absolute path: under `npx ava` node_modules/.bin comes first in PATH and holds an
 * unrelated `nft` (@vercel/nft).
 */
export const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? '/usr/sbin/nft';

/** Runs `nft ARGS...` (inside `ip netns exec NETNS` when given), `input` on its stdin (`-f -`). */
export function nft(args: readonly string[], opts: NsOption & { input?: string } = {}): Promise<string> {
  return opts.netns ? run('ip', ['netns', 'exec', checkNetnsName(opts.netns), NFT, ...args], opts.input) : run(NFT, args, opts.input);
}

/** moat's state shared by concurrent runs. A tmpfs: it goes at reboot, as do the links it describes. */
export const MOAT_STATE_DIR = '/run/moat';
/** One `<id>.json` (an AutoLinkRecord) per auto link, written by its owner. */
export const MOAT_RUNS_DIR = join(MOAT_STATE_DIR, 'runs');
/** The family and name prefix of the per-run nftables tables. */
export const MOAT_NFT_FAMILY = 'inet';
export const MOAT_RUN_PREFIX = 'moat-run-';

/** What an auto link made, so that cleanup can tell a live run's resources from a dead one's. */
export interface AutoLinkRecord {
  id: string;
  /** The process that owns the link; the run is live while it is. */
  pid: number;
  netns: string;
  hostIfname: string;
  /** `inet <table>`. */
  table: string;
  /** The subnet index in the pool (auto-link.ts); two live runs never share one. */
  index: number;
  v4: string;
  v6?: string;
}

/** True while `pid` exists (EPERM means it exists but is someone else's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The auto link records in `dir` (unreadable or malformed files are skipped). */
export async function readAutoLinkRecords(dir = MOAT_RUNS_DIR): Promise<AutoLinkRecord[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: AutoLinkRecord[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    try {
      const r = JSON.parse(await readFile(join(dir, n), 'utf8')) as AutoLinkRecord;
      if (typeof r.id === 'string' && typeof r.pid === 'number' && typeof r.netns === 'string') out.push(r);
    } catch {
      // Half-written (its owner is writing it under the state lock) or damaged: not a live claim.
    }
  }
  return out;
}

/** The names of the `inet moat-*` nftables tables (under the prefix); [] when nft is missing. */
export async function listMoatNftTables(prefix = MOAT_PREFIX, opts: NsOption = {}): Promise<string[]> {
  let out: string;
  try {
    out = await nft(['-j', 'list', 'tables', MOAT_NFT_FAMILY], opts);
  } catch {
    return [];
  }
  const parsed = JSON.parse(out || '{"nftables":[]}') as { nftables: { table?: { family: string; name: string } }[] };
  return parsed.nftables.flatMap((e) => (e.table && e.table.family === MOAT_NFT_FAMILY && e.table.name.startsWith(prefix) ? [e.table.name] : []));
}

/** `nft delete table inet NAME`; a table that is already gone is not an error. */
export async function deleteNftTable(name: string, opts: NsOption = {}): Promise<void> {
  if (!name.startsWith(MOAT_PREFIX) || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new RangeError(`not a moat nftables table: ${JSON.stringify(name)}`);
  try {
    await nft(['delete', 'table', MOAT_NFT_FAMILY, name], opts);
  } catch (e) {
    if ((await listMoatNftTables(name, opts)).includes(name)) throw e;
  }
}

export interface MoatResources {
  /** Named network namespaces called moat-*. */
  netns: string[];
  /** Interfaces called moat-* in the current namespace. */
  links: string[];
  /**
   * `inet moat-*` nftables tables (auto links). Present only when there are some, so that a
   * host without moat runs lists exactly what it did before auto links existed.
   */
  nftTables?: string[];
}

export interface MoatScope {
  /**
   * Only names starting with this (default `moat-`; it must itself start with `moat-`), e.g.
   * one run's `moat-r1234-` so that a run cleans after itself without touching others.
   */
  prefix?: string;
  /**
   * Also list (and so delete) the namespace, link and table of auto links whose owner process
   * is still alive (default false: deleting them would cut a running guest off).
   */
  includeLive?: boolean;
}

/** The namespaces, links and tables of auto links whose owner is alive. */
async function liveAutoLinkNames(): Promise<Set<string>> {
  const live = new Set<string>();
  for (const r of await readAutoLinkRecords()) {
    if (!pidAlive(r.pid)) continue;
    live.add(r.netns).add(r.hostIfname).add(`${MOAT_NFT_FAMILY} ${r.table}`);
  }
  return live;
}

function scopePrefix(scope: MoatScope): string {
  const prefix = scope.prefix ?? MOAT_PREFIX;
  if (!prefix.startsWith(MOAT_PREFIX)) throw new RangeError(`cleanup prefix ${JSON.stringify(prefix)} must start with ${MOAT_PREFIX}`);
  return prefix;
}

/**
 * Finds namespaces, links (in the current namespace) and `inet` nftables tables whose names start
 * with `moat-`, leaving out those of live auto links unless scope.includeLive.
 */
export async function listMoatResources(scope: MoatScope = {}): Promise<MoatResources> {
  const prefix = scopePrefix(scope);
  const live = scope.includeLive ? new Set<string>() : await liveAutoLinkNames();
  const netns = (await listNetns()).filter((n) => n.startsWith(prefix) && !live.has(n));
  const links = (await ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith(prefix) && !live.has(n));
  const tables = (await listMoatNftTables(prefix)).filter((t) => !live.has(`${MOAT_NFT_FAMILY} ${t}`));
  return tables.length ? { netns, links, nftTables: tables } : { netns, links };
}

export interface CleanupReport {
  deleted: MoatResources;
  /** What could not be deleted, with the reason. */
  failed: { name: string; error: string }[];
  /** Sysctls put back to their value from before moat (e.g. `net/ipv4/ip_forward=0`). */
  restored?: string[];
}

export interface RunLeftoversReport {
  /** `inet` nftables tables deleted. */
  nftTables: string[];
  /** Sysctls put back as they were before the dead runs that changed them. */
  restored: string[];
  /** Records of dead auto links removed (their resources were gone). */
  records: string[];
  failed: { name: string; error: string }[];
}

/**
 * The part of cleanup that is not namespaces and links: deletes the nftables tables under the
 * scope (of dead runs only, unless includeLive), gives back the sysctls (ip_forward, IPv6
 * force_forwarding) that no live run needs any more, and forgets records of dead runs whose
 * namespace, link and table are gone. `moat cleanup` calls it after deleting namespaces and links.
 */
export async function cleanupRunLeftovers(scope: MoatScope = {}): Promise<RunLeftoversReport> {
  const prefix = scopePrefix(scope);
  const report: RunLeftoversReport = { nftTables: [], restored: [], records: [], failed: [] };
  for (const table of (await listMoatResources({ ...scope, prefix })).nftTables ?? []) {
    try {
      await deleteNftTable(table);
      report.nftTables.push(table);
    } catch (e) {
      report.failed.push({ name: `table ${MOAT_NFT_FAMILY} ${table}`, error: (e as Error).message });
    }
  }
  // Imported when needed: auto-link.ts builds on this module.
  const { releaseStaleForwarding } = await import('./auto-link.js');
  try {
    report.restored.push(...(await releaseStaleForwarding()));
  } catch (e) {
    report.failed.push({ name: 'forwarding sysctls', error: (e as Error).message });
  }
  const netns = new Set(await listNetns());
  const links = new Set((await ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname));
  const tables = new Set(await listMoatNftTables(MOAT_RUN_PREFIX));
  for (const r of await readAutoLinkRecords()) {
    if (pidAlive(r.pid) || netns.has(r.netns) || links.has(r.hostIfname) || tables.has(r.table)) continue;
    await rm(join(MOAT_RUNS_DIR, `${r.id}.json`), { force: true });
    report.records.push(r.id);
  }
  return report;
}

/**
 * Deletes every moat-* namespace, link and `inet moat-*` nftables table (`moat cleanup`), but
 * not those of a live auto link (unless scope.includeLive), then gives back the sysctls dead
 * runs changed (cleanupRunLeftovers). Deleting a namespace deletes the interfaces inside it;
 * deleting one end of a veth deletes the other, so a link that vanished in the meantime is not
 * an error. Nothing without the moat- prefix is touched.
 */
export async function cleanupMoat(scope: MoatScope = {}): Promise<CleanupReport> {
  const prefix = scopePrefix(scope);
  const found = await listMoatResources({ ...scope, prefix });
  const report: CleanupReport = { deleted: { netns: [], links: [] }, failed: [] };
  for (const ns of found.netns) {
    if (!ns.startsWith(prefix)) continue;
    try {
      await deleteNetns(ns);
      report.deleted.netns.push(ns);
    } catch (e) {
      report.failed.push({ name: ns, error: (e as Error).message });
    }
  }
  const left = new Set((await listMoatResources({ ...scope, prefix })).links);
  for (const link of found.links) {
    if (!link.startsWith(prefix)) continue;
    if (!left.has(link)) continue; // went with its veth peer or its namespace
    try {
      await deleteLink(link);
      report.deleted.links.push(link);
      const now = new Set((await listMoatResources({ ...scope, prefix })).links);
      for (const l of left) if (!now.has(l)) left.delete(l);
    } catch (e) {
      report.failed.push({ name: link, error: (e as Error).message });
    }
  }
  const rest = await cleanupRunLeftovers({ ...scope, prefix });
  if (rest.nftTables.length) report.deleted.nftTables = rest.nftTables;
  if (rest.restored.length) report.restored = rest.restored;
  report.failed.push(...rest.failed);
  return report;
}
