// `moat run --link auto`: a link to the outside made the way a container runtime makes one.
// A veth pair joins a namespace of its own (`moat-run-<id>`, where moat's stack takes the
// address-less end over with AF_PACKET) to the host (`moat-h<id>`, which holds the gateway
// address). The host routes for the stack and masquerades its traffic behind the outgoing
// interface's address, from an nftables table of the run's own (`inet moat-run-<id>`).
// destroy() removes all of it, and gives back the sysctls no other run needs.
//
// Read first: veth(4), ip-link(8), nft(8) (NAT statements, ct state, chain priorities),
// linux Documentation/networking/ip-sysctl.rst (ip_forward; conf/<if>/force_forwarding, 6.17+),
// RFC 1918 §3 (the IPv4 pool), RFC 4193 §3 (unique local IPv6 addresses), RFC 3021 (why
// not /31: the stack and Linux both treat a /30 as ordinary).
//
// What the host sees while a run is up, and why:
// - IPv4 forwarding is host-wide (net.ipv4.ip_forward = 1), as with Docker or podman. The old
//   value is recorded in /run/moat/forwarding.json with the runs using it; the last run to
//   leave (or `moat cleanup`, for runs that died) puts it back.
// - IPv6: net.ipv6.conf.all.forwarding is NOT touched: writing it turns every interface into a
//   router (RAs ignored, addresses lost on hosts configured by SLAAC). Linux 6.17+ forwards a
//   packet when the interface it ARRIVED on has force_forwarding = 1 (ip6_forward); the host
//   end gets it (the stack's packets out), and so must the uplinks (the replies in): by default
//   the interfaces of the IPv6 default routes, refcounted like ip_forward. force_forwarding only
//   gates ip6_forward; the uplink's host/router behaviour (RAs, SLAAC) is unchanged. Setting
//   all.forwarding to 0 clears every force_forwarding (kernel behaviour). As with ip_forward for
//   IPv4, IPv6 packets arriving on an uplink are then routed wherever the host routes them, not
//   only toward moat: a host that must not route needs its own forward policy. Without the sysctl,
//   and with all.forwarding off, the link is IPv4 only and `warnings` says so.
// - The run's table accepts what the stack sends and what answers it, and drops connections
//   the outside tries to open toward the stack. nftables semantics: an accept ends the packet's
//   walk through that table only. Every other base chain on the hook still sees the packet,
//   and a drop anywhere is final, so a host firewall whose forward chain has policy drop (in
//   `inet filter`, Docker's `ip filter FORWARD`, ...) still blocks the run until it allows
//   moat-h* traffic. `warnings` names such chains; createAutoLink cannot fix them without
//   editing someone else's ruleset.

import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IpAddr, IpCidr, prefixEquals } from '../netstack/wire/ip-address.js';
import {
  addAddress,
  checkIfname,
  createNetns,
  createVethPair,
  deleteLink,
  deleteNetns,
  deleteNftTable,
  disableIpv6,
  ip,
  ipJson,
  linkInfo,
  listNetns,
  MOAT_NFT_FAMILY,
  MOAT_RUN_PREFIX,
  MOAT_RUNS_DIR,
  MOAT_STATE_DIR,
  nft,
  pidAlive,
  readAutoLinkRecords,
  setLinkMtu,
  setLinkUp,
  type AutoLinkRecord,
} from './netns.js';

/** RFC 1918 space carved into /30s: .1 is the host end, .2 moat's stack. */
export const AUTO_POOL4 = '10.237.0.0/16';
/** RFC 4193 ULA /48, global ID "moat" in ASCII (fd 6d 6f 61 74): one /64 per run, same index as v4. */
export const AUTO_POOL6 = 'fd6d:6f61:74::/48';
/** The host end's name prefix (+ id, at most 9 characters). */
export const AUTO_HOST_PREFIX = 'moat-h';
/** The stack end's name prefix inside the run's namespace. */
export const AUTO_STACK_PREFIX = 'moat-s';
const MAX_ID = 15 - AUTO_HOST_PREFIX.length;
const V4_SUBNET_LEN = 30;

export interface AutoLinkOptions {
  /** Names the run's resources (1..9 of [a-z0-9]); default: from the pid and random. */
  id?: string;
  /** Give the stack an IPv6 address too. Default: when the host has an IPv6 default route. */
  ipv6?: boolean;
  /**
   * Interfaces the IPv6 replies come in on (force_forwarding is set on them). Default: those of
   * the host's IPv6 default routes.
   */
  uplinks6?: readonly string[];
  /** The veth MTU. Default: the smallest MTU among the default routes' interfaces, else 1500. */
  mtu?: number;
  /** The IPv4 pool (prefix length 8..30) carved into /30s. Default AUTO_POOL4. */
  pool4?: string;
}

export interface AutoLinkFamily {
  /** The address (with prefix length) moat's stack takes. */
  stack: IpCidr;
  /** The host end's address: the stack's default gateway. */
  gateway: IpAddr;
}

export interface AutoLink {
  readonly id: string;
  /** The stack's namespace (`moat-run-<id>`), for PacketLink({ ifname, netns }). */
  readonly netns: string;
  /** The stack's end inside `netns`: up, no addresses, IPv6 disabled (the kernel sends no NDP). */
  readonly ifname: string;
  /** The host end (`moat-h<id>`), holding the gateway addresses. */
  readonly hostIfname: string;
  /** The stack end's MAC ("aa:bb:..."); PacketLink uses it as it is. */
  readonly mac: string;
  /** The nftables table: `inet <table>`. */
  readonly table: string;
  readonly v4: AutoLinkFamily;
  /** Absent when IPv6 was not asked for, or cannot be forwarded here (see `warnings`). */
  readonly v6?: AutoLinkFamily;
  readonly mtu: number;
  /** The stack's CIDRs and gateways as text, in createStack's / startHost's shape. */
  readonly ip: readonly string[];
  readonly gateway: readonly string[];
  /** Things the user should know: IPv6 left out and why, host firewall chains that drop. */
  readonly warnings: readonly string[];
  /** Removes the veth, the namespace, the table and the record; gives back sysctls. Idempotent. */
  destroy(): Promise<void>;
}

/** A set-up step failed; what was made so far has been removed. */
export class AutoLinkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AutoLinkError';
  }
}

// --- sysctls shared by concurrent runs -------------------------------------------------------

/** Reads and writes sysctls by /proc/sys path ("net/ipv4/ip_forward"); null when absent. */
export interface SysctlIo {
  read(key: string): Promise<string | null>;
  write(key: string, value: string): Promise<void>;
}

export const procSysctl: SysctlIo = {
  async read(key) {
    try {
      return (await readFile(join('/proc/sys', key), 'utf8')).trim();
    } catch {
      return null;
    }
  },
  async write(key, value) {
    await writeFile(join('/proc/sys', key), value);
  },
};

export interface ForwardingDeps {
  /** Holds forwarding.json and the lock (default /run/moat). */
  dir: string;
  sysctl: SysctlIo;
  alive(pid: number): boolean;
}

const defaultDeps: ForwardingDeps = { dir: MOAT_STATE_DIR, sysctl: procSysctl, alive: pidAlive };

export interface RunUser {
  id: string;
  pid: number;
}

interface ForwardingEntry {
  /** The value before any moat run set it. */
  original: string;
  users: RunUser[];
}

type ForwardingFile = Record<string, ForwardingEntry>;

export const IPV4_FORWARD = 'net/ipv4/ip_forward';
export const IPV6_ALL_FORWARDING = 'net/ipv6/conf/all/forwarding';
export const forceForwardingKey = (ifname: string): string => `net/ipv6/conf/${ifname}/force_forwarding`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn holding `dir`/lock, a directory (mkdir is atomic) with its owner's pid inside. A lock
 * whose owner died is broken; one without a pid yet is given 5 s to get one.
 */
export async function withStateLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const lock = join(dir, 'lock');
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number((await readFile(join(lock, 'pid'), 'utf8').catch(() => '')) || NaN);
    const stale = Number.isInteger(owner)
      ? !pidAlive(owner)
      : await stat(lock).then((s) => Date.now() - s.mtimeMs > 5000, () => false);
    if (stale) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (performance.now() > deadline) throw new AutoLinkError(`${lock} is held by pid ${owner || '?'} for more than ${timeoutMs} ms`);
    await sleep(5 + randomInt(20));
  }
  try {
    await writeFile(join(lock, 'pid'), String(process.pid));
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function loadForwarding(deps: ForwardingDeps): Promise<ForwardingFile> {
  try {
    return JSON.parse(await readFile(join(deps.dir, 'forwarding.json'), 'utf8')) as ForwardingFile;
  } catch {
    return {};
  }
}

async function saveForwarding(deps: ForwardingDeps, state: ForwardingFile): Promise<void> {
  const file = join(deps.dir, 'forwarding.json');
  if (Object.keys(state).length === 0) await rm(file, { force: true });
  else await writeFile(file, JSON.stringify(state, null, 1) + '\n');
}

/**
 * The last user left: put the value from before moat back, unless someone changed it since
 * (then it is theirs now). A key that vanished (its interface is gone) has nothing to restore.
 */
async function restoreEntry(deps: ForwardingDeps, key: string, entry: ForwardingEntry): Promise<string | null> {
  const now = await deps.sysctl.read(key);
  if (now === '1' && entry.original !== '1') {
    await deps.sysctl.write(key, entry.original);
    return `${key}=${entry.original}`;
  }
  return null;
}

/**
 * Sets each sysctl to 1 for `user`, recording the value from before the first moat run that
 * set it. Returns the keys' values from before moat.
 */
export async function acquireForwarding(user: RunUser, keys: readonly string[], deps: ForwardingDeps = defaultDeps): Promise<Map<string, string>> {
  return withStateLock(deps.dir, async () => {
    const state = await loadForwarding(deps);
    const before = new Map<string, string>();
    try {
      for (const key of keys) {
        const now = await deps.sysctl.read(key);
        if (now === null) throw new AutoLinkError(`sysctl ${key.replaceAll('/', '.')} does not exist`);
        // An entry whose users all died keeps its original: `now` may be their 1.
        const entry = (state[key] ??= { original: now, users: [] });
        entry.users = entry.users.filter((u) => u.id !== user.id && deps.alive(u.pid));
        entry.users.push(user);
        before.set(key, entry.original);
        if (now !== '1') await deps.sysctl.write(key, '1');
      }
    } finally {
      await saveForwarding(deps, state);
    }
    return before;
  });
}

/** Drops `user` from every sysctl it holds; restores those no live run needs. Returns "key=value" restored. */
export async function releaseForwarding(user: RunUser, deps: ForwardingDeps = defaultDeps): Promise<string[]> {
  return releaseWhere((u) => u.id === user.id, deps);
}

/** Drops users whose process is gone (crashed runs); restores what no live run needs. */
export async function releaseStaleForwarding(deps: ForwardingDeps = defaultDeps): Promise<string[]> {
  return releaseWhere(() => false, deps);
}

async function releaseWhere(leaving: (u: RunUser) => boolean, deps: ForwardingDeps): Promise<string[]> {
  return withStateLock(deps.dir, async () => {
    const state = await loadForwarding(deps);
    const restored: string[] = [];
    try {
      for (const [key, entry] of Object.entries(state)) {
        entry.users = entry.users.filter((u) => !leaving(u) && deps.alive(u.pid));
        if (entry.users.length > 0) continue;
        const r = await restoreEntry(deps, key, entry);
        if (r) restored.push(r);
        delete state[key];
      }
    } finally {
      await saveForwarding(deps, state);
    }
    return restored;
  });
}

// --- subnets ---------------------------------------------------------------------------------

/** True when two prefixes of one family share any address. */
export function prefixesOverlap(a: IpCidr, b: IpCidr): boolean {
  if (a.family !== b.family) return false;
  return prefixEquals(a.addr.bytes, b.addr.bytes, Math.min(a.prefixLen, b.prefixLen));
}

/** The index-th /30 of the pool. */
export function subnet4(pool: IpCidr, index: number): IpCidr {
  return IpCidr.of(IpAddr.fromU32((pool.network().toU32() + index * 4) >>> 0), V4_SUBNET_LEN);
}

/** The index-th /64 of the /48 pool. */
export function subnet6(pool: IpCidr, index: number): IpCidr {
  const b = Uint8Array.from(pool.network().bytes);
  b[6] = (index >> 8) & 0xff;
  b[7] = index & 0xff;
  return IpCidr.of(IpAddr.v6(b), 64);
}

/** The network's address + n, same prefix (v4: u32 add; v6: the last byte). */
function hostAt(net: IpCidr, n: number): IpCidr {
  if (net.family === 4) return IpCidr.of(IpAddr.fromU32((net.network().toU32() + n) >>> 0), net.prefixLen);
  const b = Uint8Array.from(net.network().bytes);
  b[15] = n;
  return IpCidr.of(IpAddr.v6(b), net.prefixLen);
}

interface RouteJson {
  dst?: string;
  dev?: string;
  nexthops?: { dev?: string }[];
}

/** Every prefix the host routes or holds, both families, all tables; default routes left out. */
async function hostPrefixes(): Promise<IpCidr[]> {
  const out: IpCidr[] = [];
  for (const fam of ['-4', '-6']) {
    for (const r of await ipJson<RouteJson>([fam, 'route', 'show', 'table', 'all'])) {
      const c = r.dst && r.dst !== 'default' ? IpCidr.tryParse(r.dst) : null;
      if (c && c.prefixLen > 0) out.push(c);
    }
  }
  for (const l of await ipJson<{ addr_info?: { local?: string; prefixlen?: number }[] }>(['address', 'show'])) {
    for (const a of l.addr_info ?? []) {
      const c = a.local ? IpCidr.tryParse(`${a.local}/${a.prefixlen}`) : null;
      if (c) out.push(c);
    }
  }
  return out;
}

async function defaultRouteDevs(fam: '-4' | '-6'): Promise<string[]> {
  const devs = new Set<string>();
  for (const r of await ipJson<RouteJson>([fam, 'route', 'show', 'default'])) {
    if (r.dev) devs.add(r.dev);
    for (const h of r.nexthops ?? []) if (h.dev) devs.add(h.dev);
  }
  return [...devs].filter((d) => !d.startsWith(AUTO_HOST_PREFIX));
}

/**
 * Picks a subnet index free on the host and among live runs, and claims it by writing the run's
 * record, under the state lock (so two runs starting at once cannot pick the same one).
 * `want6`: the v6 /64 must be free too; when none is, the record has no v6 and ok6 is false.
 */
async function claimSubnet(
  rec: Omit<AutoLinkRecord, 'index' | 'v4' | 'v6'>,
  pool4: IpCidr,
  pool6: IpCidr,
  want6: boolean,
): Promise<{ index: number; v4: IpCidr; v6: IpCidr | null }> {
  return withStateLock(MOAT_STATE_DIR, async () => {
    const records = await readAutoLinkRecords();
    if (records.some((r) => r.id === rec.id && pidAlive(r.pid))) throw new AutoLinkError(`auto link id ${rec.id} is in use by a live run`);
    const taken = new Set(records.filter((r) => pidAlive(r.pid)).map((r) => r.index));
    const used = await hostPrefixes();
    const count = Math.min(2 ** (V4_SUBNET_LEN - pool4.prefixLen), 1 << 16);
    const start = randomInt(count);
    const pick = (need6: boolean): number => {
      for (let k = 0; k < count; k++) {
        const i = (start + k) % count;
        if (taken.has(i)) continue;
        const v4 = subnet4(pool4, i);
        if (used.some((p) => prefixesOverlap(p, v4))) continue;
        if (need6) {
          const v6 = subnet6(pool6, i);
          if (used.some((p) => prefixesOverlap(p, v6))) continue;
        }
        return i;
      }
      return -1;
    };
    let index = want6 ? pick(true) : -1;
    const ok6 = index >= 0;
    if (index < 0) index = pick(false);
    if (index < 0) throw new AutoLinkError(`no free /${V4_SUBNET_LEN} left in ${pool4}: every one overlaps a host route or address, or a live run`);
    const v4 = subnet4(pool4, index);
    const v6 = want6 && ok6 ? subnet6(pool6, index) : null;
    await mkdir(MOAT_RUNS_DIR, { recursive: true, mode: 0o755 });
    const record: AutoLinkRecord = { ...rec, index, v4: v4.toString(), ...(v6 ? { v6: v6.toString() } : {}) };
    await writeFile(join(MOAT_RUNS_DIR, `${rec.id}.json`), JSON.stringify(record) + '\n');
    return { index, v4, v6 };
  });
}

// --- nftables --------------------------------------------------------------------------------

/** The run's table (nft -f syntax). Interface names are [a-z0-9-] (checked), safe to quote. */
export function autoLinkRuleset(table: string, hostIfname: string, v4: IpCidr, v6: IpCidr | null): string {
  const h = JSON.stringify(hostIfname);
  return [
    `table ${MOAT_NFT_FAMILY} ${table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    // Masquerade what leaves for anywhere but the stack's own link: the peer answers the host.
    `    oifname != ${h} ip saddr ${v4.network()}/${v4.prefixLen} masquerade`,
    ...(v6 ? [`    oifname != ${h} ip6 saddr ${v6.network()}/${v6.prefixLen} masquerade`] : []),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname ${h} accept`,
    `    oifname ${h} ct state established,related accept`,
    // Nobody outside opens a connection to the stack (as with a container without published ports).
    `    oifname ${h} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

interface NftChainJson {
  chain?: { family: string; table: string; name: string; hook?: string; policy?: string };
}

/**
 * Forward-hook chains with policy drop in tables other than moat's (e.g. "ip filter FORWARD"):
 * each still judges the run's packets, whatever the run's own table accepts.
 */
export async function forwardDropChains(opts: { netns?: string } = {}): Promise<string[]> {
  let out: string;
  try {
    out = await nft(['-j', 'list', 'chains'], opts);
  } catch {
    return [];
  }
  const parsed = JSON.parse(out || '{"nftables":[]}') as { nftables: NftChainJson[] };
  return parsed.nftables.flatMap(({ chain: c }) =>
    c && c.hook === 'forward' && c.policy === 'drop' && !c.table.startsWith(MOAT_RUN_PREFIX) ? [`${c.family} ${c.table} ${c.name}`] : [],
  );
}

// --- DNS ------------------------------------------------------------------------------------

/** `nameserver` addresses in resolv.conf text (link-local ones with a %zone are the host's own: left out). */
export function parseNameservers(text: string): IpAddr[] {
  const out: IpAddr[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const a = m && !m[1]!.includes('%') ? IpAddr.tryParse(m[1]!) : null;
    if (a) out.push(a);
  }
  return out;
}

/**
 * The resolvers the stack can use through an auto link, found as Docker finds them: the host's
 * /etc/resolv.conf without loopback servers (the stack is not on the host's lo, so 127.0.0.53
 * cannot be reached); when only loopback ones are listed, systemd-resolved's upstream list.
 * [] when none: the caller decides (e.g. no DNS, or an explicit --dns).
 */
export async function hostDnsServers(files: readonly string[] = ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf']): Promise<IpAddr[]> {
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => '');
    const usable = parseNameservers(text).filter((a) => !a.isLoopback() && !a.isUnspecified());
    if (usable.length) return usable;
  }
  return [];
}

// --- the link --------------------------------------------------------------------------------

function defaultId(): string {
  // pid in base 36 (<= 5 characters up to pid_max 4194304) + random, so a reused pid still differs.
  const rand = Array.from(randomBytes(MAX_ID), (b) => (b % 36).toString(36)).join('');
  return (process.pid.toString(36) + rand).slice(0, 8);
}

/** Throws unless `id` fits the names it makes (moat-h<id> within IFNAMSIZ, no odd characters). */
export function checkAutoLinkId(id: string): string {
  if (!/^[a-z0-9]+$/.test(id) || id.length > MAX_ID) throw new RangeError(`auto link id ${JSON.stringify(id)}: 1..${MAX_ID} of [a-z0-9]`);
  return id;
}

/**
 * Makes the run's namespace, veth, addresses, forwarding and NAT (see the file header). On any
 * failure, whatever was made is removed and an AutoLinkError says which step failed.
 */
export async function createAutoLink(opts: AutoLinkOptions = {}): Promise<AutoLink> {
  const explicitId = opts.id !== undefined;
  let id = checkAutoLinkId(opts.id ?? defaultId());
  const existing = new Set(await listNetns());
  for (let tries = 0; existing.has(MOAT_RUN_PREFIX + id); tries++) {
    if (explicitId || tries > 8) throw new AutoLinkError(`namespace ${MOAT_RUN_PREFIX}${id} exists (a run, or leftovers for \`moat cleanup\`)`);
    id = defaultId();
  }
  const netns = MOAT_RUN_PREFIX + id;
  const hostIfname = AUTO_HOST_PREFIX + id;
  const ifname = AUTO_STACK_PREFIX + id;
  const table = MOAT_RUN_PREFIX + id;
  const user: RunUser = { id, pid: process.pid };
  const warnings: string[] = [];

  const pool4 = IpCidr.parse(opts.pool4 ?? AUTO_POOL4);
  if (pool4.family !== 4 || pool4.prefixLen < 8 || pool4.prefixLen > V4_SUBNET_LEN) throw new RangeError(`pool4 ${pool4}: an IPv4 prefix /8../30`);
  const pool6 = IpCidr.parse(AUTO_POOL6);

  const v6Devs = await defaultRouteDevs('-6');
  let want6 = opts.ipv6 ?? v6Devs.length > 0;
  const uplinks6: string[] = [];
  if (want6 && (await procSysctl.read('net/ipv6/conf/default/disable_ipv6')) === '1') {
    want6 = false;
    warnings.push('IPv6 left out: it is disabled on this host (net.ipv6.conf.default.disable_ipv6=1)');
  }
  if (want6) {
    const all = await procSysctl.read(IPV6_ALL_FORWARDING);
    const force = await procSysctl.read(forceForwardingKey('all'));
    if (all === null) {
      want6 = false;
      warnings.push('IPv6 left out: this kernel has no IPv6 (net.ipv6.conf.all.forwarding is missing)');
    } else if (all !== '1' && force === null) {
      want6 = false;
      warnings.push(
        'IPv6 left out: forwarding it would need net.ipv6.conf.all.forwarding=1, which turns every interface into a router ' +
          '(RAs ignored, SLAAC addresses lost); per-interface net.ipv6.conf.<if>.force_forwarding needs Linux 6.17+',
      );
    }
  }
  for (const u of want6 ? (opts.uplinks6 ?? v6Devs) : []) {
    if (checkIfname(u) === hostIfname) continue;
    if ((await procSysctl.read(`net/ipv6/conf/${u}/forwarding`)) === null) warnings.push(`IPv6 uplink ${u}: no such interface (or IPv6 is off on it); left out`);
    else uplinks6.push(u);
  }

  let destroyed: Promise<void> | null = null;
  let made = { record: false, netns: false, link: false, table: false, forwarding: false };
  const destroy = (): Promise<void> =>
    (destroyed ??= (async () => {
      const errors: string[] = [];
      const attempt = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (e) {
          errors.push(`${what}: ${(e as Error).message}`);
        }
      };
      // The namespace takes the stack end, and with it the veth pair (host end included).
      if (made.netns) await attempt(`delete netns ${netns}`, () => deleteNetns(netns));
      if (made.link) await deleteLink(hostIfname).catch(() => {});
      if (made.table) await attempt(`delete table ${MOAT_NFT_FAMILY} ${table}`, () => deleteNftTable(table));
      if (made.forwarding) await attempt('restore forwarding sysctls', () => releaseForwarding(user));
      if (made.record) await attempt('remove the run record', () => rm(join(MOAT_RUNS_DIR, `${id}.json`), { force: true }));
      made = { record: false, netns: false, link: false, table: false, forwarding: false };
      if (errors.length) throw new AutoLinkError(`auto link ${id}: cleanup incomplete (\`moat cleanup\` retries): ${errors.join('; ')}`);
    })());

  let step = 'claim a subnet';
  try {
    const claimed = await claimSubnet({ id, pid: process.pid, netns, hostIfname, table }, pool4, pool6, want6);
    made.record = true;
    if (want6 && !claimed.v6) {
      want6 = false;
      warnings.push(`IPv6 left out: every /64 of ${AUTO_POOL6} paired with a free IPv4 subnet overlaps a host route or address`);
    }
    const v4net = claimed.v4;
    const v6net = claimed.v6;

    let mtu = opts.mtu ?? 0;
    if (!mtu) {
      const devs = new Set([...(await defaultRouteDevs('-4')), ...(want6 ? uplinks6 : [])]);
      const mtus: number[] = [];
      for (const d of devs) mtus.push(await linkInfo(d).then((l) => l.mtu, () => 0));
      mtu = Math.min(...mtus.filter((m) => m >= 1280), 1500);
    }

    step = `create namespace ${netns}`;
    await createNetns(netns);
    made.netns = true;
    // Before the veth end arrives, so that it never gets a link-local address or sends NDP.
    await disableIpv6(netns);

    step = `create veth ${hostIfname} <-> ${ifname}@${netns}`;
    await createVethPair(hostIfname, ifname, { netnsB: netns });
    made.link = true;
    await setLinkMtu(hostIfname, mtu);
    await setLinkMtu(ifname, mtu, { netns });
    // The host end is a host on this link: the stack sends no RAs, and none should configure it.
    await procSysctl.write(`net/ipv6/conf/${hostIfname}/accept_ra`, '0').catch(() => {});
    if (!want6) await procSysctl.write(`net/ipv6/conf/${hostIfname}/disable_ipv6`, '1').catch(() => {});

    step = `address the host end ${hostIfname}`;
    const gw4 = hostAt(v4net, 1);
    await addAddress(hostIfname, gw4.toString());
    const gw6 = v6net ? hostAt(v6net, 1) : null;
    // nodad: the /64 is moat's own; the stack does its own DAD for ::2.
    if (gw6) await ip(['address', 'add', gw6.toString(), 'dev', hostIfname, 'nodad']);
    await setLinkUp(hostIfname);
    await setLinkUp(ifname, { netns });

    step = 'enable forwarding';
    const v6Global = (await procSysctl.read(IPV6_ALL_FORWARDING)) === '1';
    const keys = [IPV4_FORWARD, ...(gw6 && !v6Global ? uplinks6.map(forceForwardingKey) : [])];
    made.forwarding = true;
    await acquireForwarding(user, keys);
    if (gw6 && !v6Global) {
      // The host end's own flag dies with it: nothing to record.
      await procSysctl.write(forceForwardingKey(hostIfname), '1');
      if (uplinks6.length === 0) warnings.push('IPv6: no uplink (no IPv6 default route, no uplinks6): replies from outside will not be forwarded back');
    }

    step = `nft table ${MOAT_NFT_FAMILY} ${table}`;
    made.table = true;
    await nft(['-f', '-'], { input: autoLinkRuleset(table, hostIfname, v4net, v6net) });

    for (const c of await forwardDropChains()) {
      warnings.push(
        `nftables chain ${c} has policy drop: it judges this run's forwarded packets too (a drop in any table is final), ` +
          `so the run reaches nothing unless that chain accepts iifname "${AUTO_HOST_PREFIX}*" and established/related traffic to it`,
      );
    }

    step = 'read the stack end';
    const mac = (await linkInfo(ifname, { netns })).address;
    const v4: AutoLinkFamily = { stack: hostAt(v4net, 2), gateway: gw4.addr };
    const v6: AutoLinkFamily | undefined = v6net && gw6 ? { stack: hostAt(v6net, 2), gateway: gw6.addr } : undefined;
    return {
      id,
      netns,
      ifname,
      hostIfname,
      mac,
      table,
      v4,
      ...(v6 ? { v6 } : {}),
      mtu,
      ip: [v4.stack.toString(), ...(v6 ? [v6.stack.toString()] : [])],
      gateway: [v4.gateway.toString(), ...(v6 ? [v6.gateway.toString()] : [])],
      warnings,
      destroy,
    };
  } catch (e) {
    await destroy().catch(() => {});
    throw new AutoLinkError(`auto link ${id}: ${step} failed: ${(e as Error).message}`, { cause: e });
  }
}
