// Network namespaces, veth pairs, taps and addresses through iproute2 (`ip`, run with
// execFile: no shell, arguments passed as they are). Read first: ip-netns(8), ip-link(8),
// ip-address(8), ip-neighbour(8), network_namespaces(7), veth(4).
//
// Everything moat creates is named `moat-...`, so that `moat cleanup` (cleanupMoat) can find
// what a crashed run left behind and delete it, and touch nothing else.

import { execFile } from 'node:child_process';

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

function run(file: string, args: readonly string[]): Promise<string> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
        reject(new PlumbingCommandError(command, stderr || err.message, code));
      } else resolve(stdout);
    });
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

export interface MoatResources {
  /** Named network namespaces called moat-*. */
  netns: string[];
  /** Interfaces called moat-* in the current namespace. */
  links: string[];
}

export interface MoatScope {
  /**
   * Only names starting with this (default `moat-`; it must itself start with `moat-`), e.g.
   * one run's `moat-r1234-` so that a run cleans after itself without touching others.
   */
  prefix?: string;
}

function scopePrefix(scope: MoatScope): string {
  const prefix = scope.prefix ?? MOAT_PREFIX;
  if (!prefix.startsWith(MOAT_PREFIX)) throw new RangeError(`cleanup prefix ${JSON.stringify(prefix)} must start with ${MOAT_PREFIX}`);
  return prefix;
}

/** Finds namespaces and links (in the current namespace) whose names start with `moat-`. */
export async function listMoatResources(scope: MoatScope = {}): Promise<MoatResources> {
  const prefix = scopePrefix(scope);
  const netns = (await listNetns()).filter((n) => n.startsWith(prefix));
  const links = (await ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith(prefix));
  return { netns, links };
}

export interface CleanupReport {
  deleted: MoatResources;
  /** What could not be deleted, with the reason. */
  failed: { name: string; error: string }[];
}

/**
 * Deletes every moat-* namespace and link (`moat cleanup`). Deleting a namespace deletes the
 * interfaces inside it; deleting one end of a veth deletes the other, so a link that vanished
 * in the meantime is not an error. Nothing without the moat- prefix is touched.
 */
export async function cleanupMoat(scope: MoatScope = {}): Promise<CleanupReport> {
  const prefix = scopePrefix(scope);
  const found = await listMoatResources({ prefix });
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
  const left = new Set((await listMoatResources({ prefix })).links);
  for (const link of found.links) {
    if (!link.startsWith(prefix)) continue;
    if (!left.has(link)) continue; // went with its veth peer or its namespace
    try {
      await deleteLink(link);
      report.deleted.links.push(link);
      const now = new Set((await listMoatResources({ prefix })).links);
      for (const l of left) if (!now.has(l)) left.delete(l);
    } catch (e) {
      report.failed.push({ name: link, error: (e as Error).message });
    }
  }
  return report;
}
