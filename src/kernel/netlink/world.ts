// What the guest's rtnetlink sees: moat's interfaces, addresses and routes, described once by the
// sandbox (or built from moat's Stack by worldFromStack), never the host's. Read rtnetlink(7)
// and RFC 3549 §3.1 first; the routes Linux adds by itself for an address follow
// net/ipv4/fib_frontend.c fib_add_ifaddr and net/ipv6/addrconf.c (addrconf_prefix_route,
// ipv6_ifa_notify's local route, addrconf_add_mroute).

import { IpAddr, IpCidr } from '../../netstack/wire/ip-address.js';
import type { Nic, Stack } from '../../netstack/index.js';
import {
  ARPHRD_ETHER,
  ARPHRD_LOOPBACK,
  ARPHRD_NONE,
  ICMPV6_ROUTER_PREF_MEDIUM,
  NUD_DELAY,
  NUD_INCOMPLETE,
  NUD_PERMANENT,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
  IFAPROT_KERNEL_LL,
  IFAPROT_KERNEL_LO,
  IFAPROT_KERNEL_RA,
  IFA_F_DEPRECATED,
  IFA_F_NOPREFIXROUTE,
  IFA_F_PERMANENT,
  IFA_F_TENTATIVE,
  IFF_BROADCAST,
  IFF_LOOPBACK,
  IFF_LOWER_UP,
  IFF_MULTICAST,
  IFF_NOARP,
  IFF_POINTOPOINT,
  IFF_RUNNING,
  IFF_UP,
  IF_OPER_DOWN,
  IF_OPER_UNKNOWN,
  IF_OPER_UP,
  INFINITY_LIFE_TIME,
  RTN_BROADCAST,
  RTN_LOCAL,
  RTN_MULTICAST,
  RTN_UNICAST,
  RTPROT_BOOT,
  RTPROT_KERNEL,
  RTPROT_RA,
  RTPROT_STATIC,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
} from './constants.js';

/** One address of an interface (what RTM_NEWADDR describes). */
export interface NetlinkAddress {
  addr: IpAddr;
  prefixLen: number;
  /** RT_SCOPE_* (0 global, 253 link, 254 host). */
  scope: number;
  /** IFA_F_* (IFA_FLAGS carries all 32 bits; ifa_flags the low 8). */
  flags: number;
  /** Point-to-point peer: then IFA_ADDRESS is the peer and IFA_LOCAL the address. */
  peer?: IpAddr;
  /** IPv4 broadcast (IFA_BROADCAST); absent when none was configured, as with `ip addr add` without `brd`. */
  broadcast?: IpAddr;
  /** IFA_LABEL (IPv4 only); default: the interface's name. */
  label?: string;
  /** IFA_PROTO (IFAPROT_*), omitted when 0. */
  proto?: number;
  /** Remaining lifetimes in seconds (IFA_CACHEINFO); default forever (0xffffffff). */
  validLft?: number;
  preferredLft?: number;
  /** IFA_CACHEINFO cstamp/tstamp, in hundredths of a second since boot; default 0. */
  createdCs?: number;
  updatedCs?: number;
}

export interface NetlinkLinkStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxErrors?: number;
  txErrors?: number;
  rxDropped?: number;
  txDropped?: number;
}

/** One interface (what RTM_NEWLINK describes). */
export interface NetlinkInterface {
  index: number;
  name: string;
  /** IFF_* as ifi_flags. */
  flags: number;
  mtu: number;
  /** ARPHRD_*. */
  type: number;
  /** IFLA_ADDRESS; null for links without one (tun). Loopback has six zero bytes. */
  mac: Uint8Array | null;
  /** IFLA_BROADCAST. */
  broadcastMac: Uint8Array | null;
  txqlen: number;
  /** IF_OPER_* (IFLA_OPERSTATE). */
  operstate: number;
  addresses: NetlinkAddress[];
  /** IFLA_LINK (a veth's peer), omitted when absent. */
  link?: number;
  /** IFLA_LINKINFO/IFLA_INFO_KIND ("veth"), omitted when absent. */
  kind?: string;
  /** IFLA_QDISC; default "noqueue". */
  qdisc?: string;
  minMtu?: number;
  maxMtu?: number;
  carrierChanges?: number;
  stats?: NetlinkLinkStats;
}

/** One route (what RTM_NEWROUTE describes). */
export interface NetlinkRoute {
  family: 4 | 6;
  dst: IpCidr;
  gateway?: IpAddr;
  /** Output interface index. */
  oif: number;
  prefsrc?: IpAddr;
  /** RT_TABLE_* (254 main, 255 local). */
  table: number;
  /** RTPROT_*. */
  protocol: number;
  /** RT_SCOPE_*. */
  scope: number;
  /** RTN_*. */
  type: number;
  /** RTA_PRIORITY (the metric); omitted for IPv4 when 0. */
  priority: number;
  /** RTA_PREF for IPv6 (RFC 4191 router preference); default medium. */
  pref?: number;
}

/** One neighbour cache entry (what RTM_NEWNEIGH describes). */
export interface NetlinkNeighbor {
  ifindex: number;
  dst: IpAddr;
  /** NDA_LLADDR; null while unresolved. */
  lladdr: Uint8Array | null;
  /** NUD_* (ndm_state). */
  state: number;
  /** NTF_* (ndm_flags); default 0. */
  flags?: number;
  /** NDA_PROBES; default 0. */
  probes?: number;
}

export interface NetlinkWorld {
  interfaces: NetlinkInterface[];
  routes: NetlinkRoute[];
  /** The neighbour caches (ARP, NDP); absent means empty. */
  neighbors?: NetlinkNeighbor[];
}

/** A world, or a function that describes the world as it is now (called once per request). */
export type NetlinkWorldSource = NetlinkWorld | (() => NetlinkWorld);

export function resolveWorld(src: NetlinkWorldSource): NetlinkWorld {
  return typeof src === 'function' ? src() : src;
}

// ---- helpers for building worlds ----

/** The scope Linux gives an address: host for loopback, link for link-local, global otherwise. */
export function defaultScope(a: IpAddr): number {
  if (a.isLoopback()) return RT_SCOPE_HOST;
  if (a.family === 6 && a.isLinkLocal()) return RT_SCOPE_LINK;
  return RT_SCOPE_UNIVERSE;
}

/** An address the way `ip addr add` (or the kernel, for lo and link-local) creates it. */
export function address(cidr: IpCidr | string, extra: Partial<NetlinkAddress> = {}): NetlinkAddress {
  const c = typeof cidr === 'string' ? IpCidr.parse(cidr) : cidr;
  const a: NetlinkAddress = { addr: c.addr, prefixLen: c.prefixLen, scope: defaultScope(c.addr), flags: IFA_F_PERMANENT };
  if (c.family === 6 && c.addr.isLoopback()) a.proto = IFAPROT_KERNEL_LO;
  if (c.family === 6 && c.addr.isLinkLocal()) a.proto = IFAPROT_KERNEL_LL;
  return { ...a, ...extra };
}

/** Linux's lo as a fresh namespace has it (up, 127.0.0.1/8 and ::1/128). */
export function loopbackInterface(extra: Partial<NetlinkInterface> = {}): NetlinkInterface {
  return {
    index: 1,
    name: 'lo',
    flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
    mtu: 65536,
    type: ARPHRD_LOOPBACK,
    mac: new Uint8Array(6),
    broadcastMac: new Uint8Array(6),
    txqlen: 1000,
    operstate: IF_OPER_UNKNOWN,
    addresses: [address('127.0.0.1/8'), address('::1/128')],
    ...extra,
  };
}

/** An Ethernet interface that is up with carrier. */
export function ethernetInterface(index: number, name: string, mac: Uint8Array, addresses: NetlinkAddress[], extra: Partial<NetlinkInterface> = {}): NetlinkInterface {
  return {
    index,
    name,
    flags: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
    mtu: 1500,
    type: ARPHRD_ETHER,
    mac,
    broadcastMac: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    txqlen: 1000,
    operstate: IF_OPER_UP,
    addresses,
    ...extra,
  };
}

function isUp(i: NetlinkInterface): boolean {
  return (i.flags & IFF_UP) !== 0;
}

/**
 * The routes Linux adds by itself for these interfaces' addresses: connected prefixes in main
 * (IPv4 scope link with the address as source, IPv6 metric 256), and the local table (local
 * /32 and /128, IPv4 subnet broadcast, IPv6 ff00::/8 multicast per non-loopback interface).
 */
export function kernelRoutes(interfaces: readonly NetlinkInterface[]): NetlinkRoute[] {
  const out: NetlinkRoute[] = [];
  const seen = new Set<string>();
  const add = (r: NetlinkRoute) => {
    const key = `${r.table}|${r.type}|${r.dst.toString()}|${r.oif}|${r.priority}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(r);
  };
  for (const i of interfaces) {
    if (!isUp(i)) continue;
    const loop = (i.flags & IFF_LOOPBACK) !== 0;
    let hasV6 = false;
    for (const a of i.addresses) {
      const local = a.addr;
      if (a.addr.family === 4) {
        const prefix = IpCidr.of(a.addr, a.prefixLen);
        const net = IpCidr.of(prefix.network(), a.prefixLen);
        // fib_add_ifaddr: the local /32 always; the prefix (RTN_LOCAL on lo) unless /32; the
        // subnet broadcast below /31; an explicit broadcast address too.
        add({ family: 4, dst: IpCidr.of(local, 32), oif: i.index, prefsrc: local, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL, scope: RT_SCOPE_HOST, type: RTN_LOCAL, priority: 0 });
        if (a.prefixLen < 32 && !(a.flags & IFA_F_NOPREFIXROUTE)) {
          add(
            loop
              ? { family: 4, dst: net, oif: i.index, prefsrc: local, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL, scope: RT_SCOPE_HOST, type: RTN_LOCAL, priority: 0 }
              : { family: 4, dst: net, oif: i.index, prefsrc: local, table: RT_TABLE_MAIN, protocol: RTPROT_KERNEL, scope: RT_SCOPE_LINK, type: RTN_UNICAST, priority: 0 },
          );
        }
        const bcasts: IpAddr[] = [];
        if (a.broadcast && a.broadcast.key !== '255.255.255.255') bcasts.push(a.broadcast);
        if (a.prefixLen < 31) bcasts.push(prefix.broadcast());
        for (const b of bcasts) {
          add({ family: 4, dst: IpCidr.of(b, 32), oif: i.index, prefsrc: local, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL, scope: RT_SCOPE_LINK, type: RTN_BROADCAST, priority: 0 });
        }
      } else {
        hasV6 = true;
        if ((a.flags & IFA_F_TENTATIVE) !== 0) continue; // the local route appears when DAD ends
        add({ family: 6, dst: IpCidr.of(a.addr, 128), oif: i.index, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL, scope: RT_SCOPE_UNIVERSE, type: RTN_LOCAL, priority: 0 });
        if (a.prefixLen < 128 && !(a.flags & IFA_F_NOPREFIXROUTE)) {
          const net = IpCidr.of(IpCidr.of(a.addr, a.prefixLen).network(), a.prefixLen);
          add({ family: 6, dst: net, oif: i.index, table: RT_TABLE_MAIN, protocol: RTPROT_KERNEL, scope: RT_SCOPE_UNIVERSE, type: RTN_UNICAST, priority: 256 });
        }
      }
    }
    // addrconf_add_mroute: every IPv6-capable, non-loopback interface that is up gets ff00::/8.
    if (!loop && (hasV6 || i.type === ARPHRD_ETHER)) {
      add({ family: 6, dst: IpCidr.parse('ff00::/8'), oif: i.index, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL, scope: RT_SCOPE_UNIVERSE, type: RTN_MULTICAST, priority: 256 });
    }
  }
  return out;
}

/** A default route via `gateway` as `ip route add default via` makes it (protocol boot; IPv6 metric 1024). */
export function defaultRoute(gateway: IpAddr | string, oif: number, extra: Partial<NetlinkRoute> = {}): NetlinkRoute {
  const gw = typeof gateway === 'string' ? IpAddr.parse(gateway) : gateway;
  const v4 = gw.family === 4;
  return {
    family: gw.family,
    dst: IpCidr.parse(v4 ? '0.0.0.0/0' : '::/0'),
    gateway: gw,
    oif,
    table: RT_TABLE_MAIN,
    protocol: RTPROT_BOOT,
    scope: RT_SCOPE_UNIVERSE,
    type: RTN_UNICAST,
    priority: v4 ? 0 : 1024,
    ...extra,
  };
}

// ---- moat's Stack as a world ----

const ZERO_MAC = new Uint8Array(6);

function lifetimeS(deadline: number | undefined, now: number): number {
  if (deadline === undefined || !Number.isFinite(deadline)) return INFINITY_LIFE_TIME;
  return Math.max(0, Math.floor((deadline - now) / 1000));
}

function nicInterface(stack: Stack, nic: Nic): NetlinkInterface {
  const isLo = nic === stack.loopbackNic;
  const up = nic.up;
  const upFlags = up ? IFF_UP | IFF_RUNNING | IFF_LOWER_UP : 0;
  const now = stack.clock.now();
  const addresses: NetlinkAddress[] = [];
  for (const c of nic.ipv4Addresses()) {
    const a = address(c, { label: nic.name });
    if (!isLo && c.prefixLen < 31) a.broadcast = c.broadcast();
    addresses.push(a);
  }
  const v6 = [...nic.ipv6AddressStates()];
  // ipv6_link_dev_addr keeps a device's addresses ordered by scope (global first).
  v6.sort((x, y) => defaultScope(x.cidr.addr) - defaultScope(y.cidr.addr));
  for (const s of v6) {
    let flags = 0;
    if (s.origin !== 'slaac') flags |= IFA_F_PERMANENT;
    if (s.tentative) flags |= IFA_F_TENTATIVE;
    if (s.deprecated) flags |= IFA_F_DEPRECATED;
    const a = address(s.cidr, { flags });
    if (s.origin === 'slaac') {
      a.proto = IFAPROT_KERNEL_RA;
      a.validLft = lifetimeS(s.validTimer?.deadline, now);
      a.preferredLft = s.deprecated ? 0 : lifetimeS(s.preferredTimer?.deadline, now);
    }
    addresses.push(a);
  }
  if (isLo) {
    return loopbackInterface({ index: nic.nicId, name: nic.name, mtu: nic.mtu, addresses, flags: up ? IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP : IFF_LOOPBACK, stats: statsOf(nic) });
  }
  if (nic.medium === 'ethernet') {
    return ethernetInterface(nic.nicId, nic.name, Uint8Array.from(nic.mac.length === 6 ? nic.mac : ZERO_MAC), addresses, {
      flags: IFF_BROADCAST | IFF_MULTICAST | upFlags,
      mtu: nic.mtu,
      operstate: up ? IF_OPER_UP : IF_OPER_DOWN,
      stats: statsOf(nic),
    });
  }
  // An IP-medium link that is not the loopback (a tun-like link): no MAC, point-to-point.
  return {
    index: nic.nicId,
    name: nic.name,
    flags: IFF_POINTOPOINT | IFF_NOARP | IFF_MULTICAST | upFlags,
    mtu: nic.mtu,
    type: ARPHRD_NONE,
    mac: null,
    broadcastMac: null,
    txqlen: 500,
    operstate: up ? IF_OPER_UNKNOWN : IF_OPER_DOWN,
    addresses,
    stats: statsOf(nic),
  };
}

function statsOf(nic: Nic): NetlinkLinkStats {
  const c = nic.counters;
  return { rxPackets: c.rxFrames, txPackets: c.txFrames, rxBytes: c.rxBytes, txBytes: c.txBytes, txDropped: c.txDropped };
}

/**
 * moat's Stack as rtnetlink shows it: every NIC (ifindex = nicId; the loopback NIC is lo), its
 * IPv4 and IPv6 addresses (static, SLAAC, link-local, with DAD and lifetime state), the stack's
 * route table as table main, and the local table Linux would add. Call it per request (pass
 * `() => worldFromStack(stack)` as the socket's world) so the guest sees the stack as it is now.
 */
export function worldFromStack(stack: Stack): NetlinkWorld {
  const nics = stack.nicList().sort((a, b) => a.nicId - b.nicId);
  const interfaces = nics.map((n) => nicInterface(stack, n));
  const routes: NetlinkRoute[] = kernelRoutes(interfaces).filter((r) => r.table === RT_TABLE_LOCAL);
  for (const r of stack.routes.list()) {
    const nic = stack.nic(r.nicId);
    // Linux keeps lo's prefixes in the local table only (kernelRoutes made those); the stack may
    // list 127.0.0.0/8 as a connected route of its loopback NIC.
    if (!nic || nic === stack.loopbackNic) continue;
    const family = r.dest.family;
    const v4 = family === 4;
    let protocol = RTPROT_STATIC;
    if (r.origin === 'connected') protocol = RTPROT_KERNEL;
    else if (r.origin === 'static') protocol = RTPROT_BOOT;
    else if (r.origin === 'ra') protocol = RTPROT_RA;
    const route: NetlinkRoute = {
      family,
      dst: r.dest,
      oif: r.nicId,
      table: RT_TABLE_MAIN,
      protocol,
      scope: v4 && !r.gateway ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
      type: RTN_UNICAST,
      priority: r.metric,
    };
    if (r.gateway) route.gateway = r.gateway;
    if (v4 && r.origin === 'connected') {
      const src = nic.ipv4Addresses().find((c) => r.dest.contains(c.addr));
      if (src) route.prefsrc = src.addr;
    }
    if (!v4) route.pref = ICMPV6_ROUTER_PREF_MEDIUM;
    routes.push(route);
  }
  const neighbors: NetlinkNeighbor[] = [];
  for (const n of nics) {
    for (const r of [n.arp, n.ndp]) {
      for (const e of r?.entries() ?? []) {
        neighbors.push({ ifindex: n.nicId, dst: e.ip, lladdr: e.mac, state: NUD_BY_NAME[e.state] ?? NUD_STALE });
      }
    }
  }
  return { interfaces, routes, neighbors };
}

const NUD_BY_NAME: Record<string, number> = {
  INCOMPLETE: NUD_INCOMPLETE,
  REACHABLE: NUD_REACHABLE,
  STALE: NUD_STALE,
  DELAY: NUD_DELAY,
  PROBE: NUD_PROBE,
  PERMANENT: NUD_PERMANENT,
};
