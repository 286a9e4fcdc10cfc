// The routing table: longest-prefix match, then lowest metric (RFC 1812 §5.2.4.3 in spirit;
// Linux's fib semantics for metrics). One table holds both families. Connected routes are
// added by the NIC when an address is configured, default routes by the user or by IPv6 router
// advertisements (RFC 4861 §6.3.4 via the neighbor module).

import { IpCidr, type IpAddr } from './wire/ip-address.js';

export interface Route {
  readonly dest: IpCidr;
  /** Next hop, or null when the destination is on-link. */
  readonly gateway: IpAddr | null;
  readonly nicId: number;
  /** Lower wins among equal prefixes (Linux: 0 for user routes, 1024 for RA default routes). */
  readonly metric: number;
  /** Who added it, so removal by origin is possible ("connected", "static", "ra"). */
  readonly origin: string;
}

export class RouteTable {
  private routes: Route[] = [];

  add(r: { dest: IpCidr | string; gateway?: IpAddr | null; nicId: number; metric?: number; origin?: string }): Route {
    const dest = typeof r.dest === 'string' ? IpCidr.parse(r.dest) : r.dest;
    // Store the network address so "10.0.0.5/24" and "10.0.0.0/24" are the same route.
    const route: Route = {
      dest: IpCidr.of(dest.network(), dest.prefixLen),
      gateway: r.gateway ?? null,
      nicId: r.nicId,
      metric: r.metric ?? 0,
      origin: r.origin ?? 'static',
    };
    this.remove((x) => sameRoute(x, route));
    this.routes.push(route);
    // Longest prefix first, then metric: lookup is the first match.
    this.routes.sort((a, b) => b.dest.prefixLen - a.dest.prefixLen || a.metric - b.metric);
    return route;
  }

  /** Removes every route matching the predicate; returns how many. */
  remove(pred: (r: Route) => boolean): number {
    const before = this.routes.length;
    this.routes = this.routes.filter((r) => !pred(r));
    return before - this.routes.length;
  }

  /** The best route to `dst`, optionally restricted to one NIC (a socket bound to a device). */
  lookup(dst: IpAddr, nicId?: number): Route | null {
    for (const r of this.routes) {
      if (nicId !== undefined && r.nicId !== nicId) continue;
      if (r.dest.contains(dst)) return r;
    }
    return null;
  }

  list(): readonly Route[] {
    return this.routes;
  }
}

function sameRoute(a: Route, b: Route): boolean {
  return (
    a.dest.toString() === b.dest.toString() &&
    a.nicId === b.nicId &&
    a.metric === b.metric &&
    (a.gateway?.key ?? '') === (b.gateway?.key ?? '')
  );
}
