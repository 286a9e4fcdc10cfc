// rtnetlink notifications: what changed between two worlds, as the RTM_NEW*/RTM_DEL* messages
// Linux multicasts to its groups (RTNLGRP_LINK, _IPV4_IFADDR, _IPV6_IFADDR, _IPV4_ROUTE,
// _IPV6_ROUTE, _NEIGH), in the order Linux sends them. Read rtnetlink(7) ("multicast groups")
// and RFC 3549 §2.3.3 first. The order around an address follows net/ipv4/devinet.c
// (__inet_insert_ifa: the address, then fib_add_ifaddr's local, prefix and broadcast routes;
// removal: the address, then the prefix, broadcast and local routes) and net/ipv6/addrconf.c
// (the prefix route before the address, the local route after it; removal: the address, the
// local route, the prefix route).
//
// moat's stack has no change feed: NetlinkNotifier compares the world it last saw with the one
// it is given (call refresh() when the stack may have changed, or on a timer).

import {
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
  RTN_MULTICAST,
} from './constants.js';
import { addressMessage, linkMessage, neighborMessage, routeMessage } from './messages.js';
import type { ReplyHeader } from './messages.js';
import type { NetlinkRouteSocket } from './socket.js';
import { kernelRoutes, resolveWorld } from './world.js';
import type { NetlinkAddress, NetlinkInterface, NetlinkNeighbor, NetlinkRoute, NetlinkWorld, NetlinkWorldSource } from './world.js';

/** One notification: the group it goes to and the message. */
export interface NetlinkEvent {
  group: number;
  message: Uint8Array;
}

/** Notifications are the kernel's own: sequence 0, port 0. */
const KERNEL: ReplyHeader = { seq: 0, pid: 0, flags: 0 };
/** fib_magic and ip route add both create with NLM_F_CREATE|NLM_F_EXCL; NEWROUTE notifications carry them. */
const ROUTE_CREATED: ReplyHeader = { seq: 0, pid: 0, flags: NLM_F_CREATE | NLM_F_EXCL };

function linkKey(i: NetlinkInterface): string {
  return [i.name, i.flags, i.mtu, i.operstate, i.txqlen, i.type, i.mac ? Array.from(i.mac).join(':') : '-', i.link ?? 0].join('|');
}
function addrKey(index: number, a: NetlinkAddress): string {
  return `${index}|${a.addr.key}/${a.prefixLen}`;
}
function addrState(a: NetlinkAddress): string {
  return `${a.flags}|${a.scope}|${a.broadcast?.key ?? ''}|${a.peer?.key ?? ''}|${a.label ?? ''}`;
}
function routeKey(r: NetlinkRoute): string {
  return [r.table, r.type, r.dst.toString(), r.oif, r.priority, r.gateway?.key ?? '', r.prefsrc?.key ?? '', r.protocol, r.scope].join('|');
}
function neighKey(n: NetlinkNeighbor): string {
  return `${n.ifindex}|${n.dst.key}`;
}
function neighState(n: NetlinkNeighbor): string {
  return `${n.state}|${n.flags ?? 0}|${n.lladdr ? Array.from(n.lladdr).join(':') : '-'}`;
}

const addrGroup = (a: NetlinkAddress) => (a.addr.family === 4 ? RTNLGRP_IPV4_IFADDR : RTNLGRP_IPV6_IFADDR);
const routeGroup = (r: NetlinkRoute) => (r.family === 4 ? RTNLGRP_IPV4_ROUTE : RTNLGRP_IPV6_ROUTE);

/** The routes Linux makes for one address, in the order it makes them (the per-interface ff00::/8 aside). */
function routesOf(i: NetlinkInterface, a: NetlinkAddress): NetlinkRoute[] {
  return kernelRoutes([{ ...i, addresses: [a] }]).filter((r) => r.type !== RTN_MULTICAST);
}

/** The notifications that turn `prev` into `next`, in Linux's order. */
export function worldEvents(prev: NetlinkWorld, next: NetlinkWorld): NetlinkEvent[] {
  const out: NetlinkEvent[] = [];
  const prevRoutes = new Map(prev.routes.map((r) => [routeKey(r), r]));
  const nextRoutes = new Map(next.routes.map((r) => [routeKey(r), r]));
  const done = new Set<string>();
  const newRoute = (r: NetlinkRoute) => {
    const k = routeKey(r);
    if (done.has(k) || prevRoutes.has(k) || !nextRoutes.has(k)) return;
    done.add(k);
    out.push({ group: routeGroup(r), message: routeMessage(nextRoutes.get(k)!, ROUTE_CREATED, RTM_NEWROUTE) });
  };
  const delRoute = (r: NetlinkRoute) => {
    const k = routeKey(r);
    if (done.has(k) || !prevRoutes.has(k) || nextRoutes.has(k)) return;
    done.add(k);
    out.push({ group: routeGroup(r), message: routeMessage(prevRoutes.get(k)!, KERNEL, RTM_DELROUTE) });
  };
  const prevIf = new Map(prev.interfaces.map((i) => [i.index, i]));
  const nextIf = new Map(next.interfaces.map((i) => [i.index, i]));

  // Links that appeared or changed.
  for (const i of next.interfaces) {
    const p = prevIf.get(i.index);
    if (!p || linkKey(p) !== linkKey(i)) out.push({ group: RTNLGRP_LINK, message: linkMessage(i, KERNEL) });
  }
  // Addresses that went away, with the routes they took along.
  for (const p of prev.interfaces) {
    const n = nextIf.get(p.index);
    const still = new Set((n?.addresses ?? []).map((a) => addrKey(p.index, a)));
    for (const a of p.addresses) {
      if (still.has(addrKey(p.index, a))) continue;
      out.push({ group: addrGroup(a), message: addressMessage(p, a, KERNEL, RTM_DELADDR) });
      const rs = routesOf(p, a);
      // IPv4 drops the prefix and broadcast routes before the local one; IPv6 the local first.
      const order = a.addr.family === 4 ? [...rs.slice(1), rs[0]!] : rs;
      for (const r of order) if (r) delRoute(r);
    }
  }
  // Addresses that appeared (with their routes) or changed state (DAD done, deprecated).
  for (const n of next.interfaces) {
    const p = prevIf.get(n.index);
    const before = new Map((p?.addresses ?? []).map((a) => [addrKey(n.index, a), a]));
    for (const a of n.addresses) {
      const old = before.get(addrKey(n.index, a));
      if (old && addrState(old) === addrState(a)) continue;
      const rs = routesOf(n, a);
      if (a.addr.family === 6) {
        for (const r of rs.slice(1)) newRoute(r); // the prefix route comes first
        out.push({ group: addrGroup(a), message: addressMessage(n, a, KERNEL) });
        if (rs[0]) newRoute(rs[0]);
      } else {
        out.push({ group: addrGroup(a), message: addressMessage(n, a, KERNEL) });
        for (const r of rs) newRoute(r);
      }
    }
  }
  // Every other route change, in the worlds' order.
  for (const r of prev.routes) delRoute(r);
  for (const r of next.routes) newRoute(r);
  // Neighbours.
  const prevN = new Map((prev.neighbors ?? []).map((x) => [neighKey(x), x]));
  const nextN = new Map((next.neighbors ?? []).map((x) => [neighKey(x), x]));
  for (const [k, x] of prevN) if (!nextN.has(k)) out.push({ group: RTNLGRP_NEIGH, message: neighborMessage(x, KERNEL, RTM_DELNEIGH) });
  for (const [k, x] of nextN) {
    const old = prevN.get(k);
    if (!old || neighState(old) !== neighState(x)) out.push({ group: RTNLGRP_NEIGH, message: neighborMessage(x, KERNEL, RTM_NEWNEIGH) });
  }
  // Links that went away, last.
  for (const p of prev.interfaces) if (!nextIf.has(p.index)) out.push({ group: RTNLGRP_LINK, message: linkMessage(p, KERNEL, 0, RTM_DELLINK) });
  return out;
}

/**
 * Multicasts world changes to the guest sockets that listen for them. The sandbox adds each
 * netlink socket it opens, and calls refresh() when moat's stack may have changed.
 */
export class NetlinkNotifier {
  private readonly sockets = new Set<NetlinkRouteSocket>();
  private last: NetlinkWorld;

  constructor(private readonly world: NetlinkWorldSource) {
    this.last = resolveWorld(world);
  }

  add(sock: NetlinkRouteSocket): void {
    this.sockets.add(sock);
  }

  remove(sock: NetlinkRouteSocket): void {
    this.sockets.delete(sock);
  }

  /** Compares the world with the last one seen and delivers the differences; returns how many notifications were made. */
  refresh(): number {
    const next = resolveWorld(this.world);
    const events = worldEvents(this.last, next);
    this.last = next;
    for (const s of [...this.sockets]) {
      if (s.isClosed) {
        this.sockets.delete(s);
        continue;
      }
      if (s.subscriptions.size === 0) continue;
      for (const e of events) s.deliverNotification(e.group, e.message);
    }
    return events.length;
  }
}
