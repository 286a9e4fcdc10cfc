// Router discovery for a host: the Default Router List with its lifetimes (RFC 4861 §6.3.4,
// §6.3.5) and router solicitation at start-up (§6.3.7). Read those sections first.

import { IpAddr } from '../wire/ip-address.js';
import type { Timer, TimerQueue } from '../timers.js';
import type { NeighborHost } from './index.js';

interface Router {
  readonly addr: IpAddr;
  readonly timer: Timer;
}

/**
 * Routers learned from RAs. The host is told of every change (addDefaultRouter) and the list
 * times entries out itself, so a host that does not time them stays correct.
 */
export class DefaultRouters {
  private readonly routers = new Map<string, Router>();

  constructor(
    private readonly host: NeighborHost,
    private readonly timers: TimerQueue,
    private readonly count: (reason: string) => void,
  ) {}

  /** An RA's Router Lifetime (seconds) from `addr`; 0 removes it at once (§6.3.4). */
  set(addr: IpAddr, lifetimeS: number): void {
    const r = this.routers.get(addr.key);
    if (lifetimeS === 0) {
      if (!r) return;
      r.timer.cancel();
      this.routers.delete(addr.key);
      this.host.addDefaultRouter(addr, 0);
      this.count('router.removed');
      return;
    }
    let cur = r;
    if (!cur) {
      const fresh: Router = { addr, timer: this.timers.timer(() => this.expired(fresh)) };
      this.routers.set(addr.key, fresh);
      cur = fresh;
      this.count('router.added');
    }
    cur.timer.schedule(lifetimeS * 1000);
    this.host.addDefaultRouter(addr, lifetimeS);
  }

  private expired(r: Router): void {
    if (this.routers.get(r.addr.key) !== r) return;
    this.routers.delete(r.addr.key);
    this.host.addDefaultRouter(r.addr, 0);
    this.count('router.expired');
  }

  list(): IpAddr[] {
    return [...this.routers.values()].map((r) => r.addr);
  }

  stop(): void {
    for (const r of this.routers.values()) r.timer.cancel();
    this.routers.clear();
  }
}

export interface SolicitorParams {
  readonly maxSolicitations: number;
  readonly intervalMs: number;
  readonly maxDelayMs: number;
  /** Sends one RS: from our link-local address with SLLA if usable, else from ::. */
  send(): void;
}

/** §6.3.7: up to MAX_RTR_SOLICITATIONS RSs, RTR_SOLICITATION_INTERVAL apart, after a random delay. */
export class RouterSolicitor {
  private sent = 0;
  private readonly timer: Timer;

  constructor(
    private readonly host: NeighborHost,
    timers: TimerQueue,
    private readonly p: SolicitorParams,
  ) {
    this.timer = timers.timer(() => this.tick());
  }

  start(): void {
    this.sent = 0;
    const max = this.p.maxDelayMs;
    this.timer.schedule(max > 0 ? this.host.rng.u32() % (max + 1) : 0);
  }

  /** A valid RA with a non-zero Router Lifetime arrived, or the interface stopped. */
  stop(): void {
    this.timer.cancel();
  }

  private tick(): void {
    if (this.sent >= this.p.maxSolicitations) return;
    this.p.send();
    this.sent++;
    if (this.sent < this.p.maxSolicitations) this.timer.schedule(this.p.intervalMs);
  }
}
