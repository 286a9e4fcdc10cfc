// Interface takeover: moat's stack takes a container's interface over the way gVisor's runsc does
// in its sandbox network namespace. The orchestrator (a CNI plugin, or a test) has configured the
// interface; moat records its addresses, routes, MAC and MTU, removes the addresses from the
// kernel (so the kernel stops answering ARP and traffic for them and sends no NDP), opens an
// AF_PACKET link on it inside that namespace, and gives its own stack the same addresses and
// routes. The container keeps the address it was given; only who answers for it changes.
//
// Read first: ip-address(8), ip-route(8), ip-sysctl.rst (disable_ipv6), packet(7), and gVisor's
// runsc/sandbox/network.go for the idea (never the code).
//
// The namespace is named by a path to an nsfs file (/proc/PID/ns/net, /proc/AGENTPID/fd/N, or
// /var/run/netns/NAME); commands run there through nsenter(1), so no name is added under
// /var/run/netns and nothing is left behind when the container's namespace goes away.

import { execFile } from 'node:child_process';
import { PlumbingCommandError, checkIfname } from './netns.js';

/** A route of the container's that the kernel did not make from an address (those come back with it). */
export interface RecordedRoute {
  family: 4 | 6;
  /** CIDR; "0.0.0.0/0" or "::/0" for the default route. */
  dst: string;
  gateway?: string;
  metric?: number;
}

/** What the interface was before the takeover: enough to give moat the same view, and to give it back. */
export interface TakenInterface {
  netnsPath: string;
  ifname: string;
  ifindex: number;
  /** "aa:bb:cc:dd:ee:ff". */
  mac: string;
  mtu: number;
  /** CIDRs ("10.1.2.3/24", "fd00::3/64"): IPv4 and global IPv6. Link-local IPv6 is derived again from the MAC. */
  addresses: string[];
  routes: RecordedRoute[];
  /** The interface's net.ipv6.conf.IF.disable_ipv6 before the takeover (set to 1 during it). */
  ipv6WasDisabled: boolean;
}

interface IpAddrJson {
  ifname: string;
  ifindex: number;
  mtu: number;
  address?: string;
  link_type?: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  type?: string;
}

function runIn(netnsPath: string, file: string, args: readonly string[]): Promise<string> {
  const argv = [`--net=${netnsPath}`, '--', file, ...args];
  const command = ['nsenter', ...argv].join(' ');
  return new Promise((resolve, reject) => {
    execFile('nsenter', argv, { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new PlumbingCommandError(command, stderr || err.message, (err as NodeJS.ErrnoException).code ?? null));
      else resolve(stdout);
    });
  });
}

/** `ip ARGS` inside the namespace at `netnsPath`. */
export function ipIn(netnsPath: string, args: readonly string[]): Promise<string> {
  return runIn(netnsPath, 'ip', args);
}

async function ipJsonIn<T>(netnsPath: string, args: readonly string[]): Promise<T[]> {
  const out = (await ipIn(netnsPath, ['-j', ...args])).trim();
  return out ? (JSON.parse(out) as T[]) : [];
}

/** The interfaces of the namespace with their addresses (`ip -j address show`). */
export function listInterfacesIn(netnsPath: string): Promise<IpAddrJson[]> {
  return ipJsonIn<IpAddrJson>(netnsPath, ['address', 'show']);
}

/**
 * The interface a CNI plugin gave the container: the first Ethernet interface other than lo that
 * has an address (eth0 in practice). undefined when there is none.
 */
export async function findContainerInterface(netnsPath: string): Promise<string | undefined> {
  const links = await listInterfacesIn(netnsPath);
  const candidates = links.filter((l) => l.ifname !== 'lo' && (l.link_type ?? 'ether') === 'ether');
  const withAddr = candidates.find((l) => (l.addr_info ?? []).some((a) => a.family === 'inet' || (a.family === 'inet6' && a.scope === 'global')));
  return withAddr?.ifname;
}

function sysctlPath(ifname: string): string {
  // The slash form, so that interface names with dots (eth0.100) are not split.
  return `net/ipv6/conf/${ifname}/disable_ipv6`;
}

async function readDisableIpv6(netnsPath: string, ifname: string): Promise<boolean> {
  try {
    return (await runIn(netnsPath, 'sysctl', ['-n', sysctlPath(ifname)])).trim() === '1';
  } catch {
    return true; // no IPv6 in this kernel: nothing to turn off or back on
  }
}

async function writeDisableIpv6(netnsPath: string, ifname: string, on: boolean): Promise<void> {
  try {
    await runIn(netnsPath, 'sysctl', ['-q', '-w', `${sysctlPath(ifname)}=${on ? 1 : 0}`]);
  } catch {
    /* no IPv6 in this kernel */
  }
}

/** Reads the interface's state without changing anything. */
export async function recordInterface(netnsPath: string, ifname: string): Promise<TakenInterface> {
  checkIfname(ifname);
  const [link] = await ipJsonIn<IpAddrJson>(netnsPath, ['address', 'show', 'dev', ifname]);
  if (!link) throw new Error(`takeover: no interface ${ifname} in ${netnsPath}`);
  const addresses: string[] = [];
  for (const a of link.addr_info ?? []) {
    if (a.family === 'inet') addresses.push(`${a.local}/${a.prefixlen}`);
    else if (a.family === 'inet6' && a.scope === 'global') addresses.push(`${a.local}/${a.prefixlen}`);
  }
  const routes: RecordedRoute[] = [];
  for (const family of [4, 6] as const) {
    const rs = await ipJsonIn<IpRouteJson>(netnsPath, [`-${family}`, 'route', 'show', 'dev', ifname]);
    for (const r of rs) {
      // Prefix routes the kernel made from an address come back with the address (and moat's
      // stack makes its own from the same prefixes); multicast and fe80::/64 are the kernel's.
      if (r.protocol === 'kernel' || (r.type && r.type !== 'unicast')) continue;
      if (family === 6 && r.dst.startsWith('fe80:')) continue;
      const dst = r.dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`;
      routes.push({ family, dst, ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}) });
    }
  }
  return {
    netnsPath,
    ifname,
    ifindex: link.ifindex,
    mac: link.address ?? '00:00:00:00:00:00',
    mtu: link.mtu,
    addresses,
    routes,
    ipv6WasDisabled: await readDisableIpv6(netnsPath, ifname),
  };
}

/**
 * Records the interface, then takes its addresses away from the kernel: IPv6 off on it (its
 * link-local address and NDP/MLD go too), IPv4 addresses flushed (their routes go with them).
 * The interface stays up for the AF_PACKET link. Returns what was recorded; hand it to
 * restoreInterface to give the interface back.
 */
export async function takeOverInterface(opts: { netnsPath: string; ifname?: string }): Promise<TakenInterface> {
  const ifname = opts.ifname ?? (await findContainerInterface(opts.netnsPath));
  if (!ifname) throw new Error(`takeover: no configured interface in ${opts.netnsPath}`);
  const taken = await recordInterface(opts.netnsPath, ifname);
  await writeDisableIpv6(opts.netnsPath, ifname, true);
  await ipIn(opts.netnsPath, ['address', 'flush', 'dev', ifname]);
  await ipIn(opts.netnsPath, ['link', 'set', 'dev', ifname, 'up']);
  return taken;
}

/**
 * Gives the interface back to the kernel: addresses, then routes (a gateway must be reachable
 * before a route through it is accepted), then IPv6 as it was. A namespace that is gone (the
 * container's was deleted with it) is not an error: there is nothing left to restore.
 */
export async function restoreInterface(t: TakenInterface): Promise<'restored' | 'gone'> {
  try {
    await ipIn(t.netnsPath, ['link', 'show', 'dev', t.ifname]);
  } catch {
    return 'gone';
  }
  if (!t.ipv6WasDisabled) await writeDisableIpv6(t.netnsPath, t.ifname, false);
  for (const a of t.addresses) {
    await ipIn(t.netnsPath, ['address', 'replace', a, 'dev', t.ifname]).catch(() => undefined);
  }
  for (const r of t.routes) {
    const args = [`-${r.family}`, 'route', 'replace', r.dst];
    if (r.gateway) args.push('via', r.gateway);
    args.push('dev', t.ifname);
    if (r.metric !== undefined) args.push('metric', String(r.metric));
    await ipIn(t.netnsPath, args).catch(() => undefined);
  }
  return 'restored';
}
