// The neighbor cache shared by ARP and NDP: one entry per next hop with the Neighbor
// Unreachability Detection states of RFC 4861 §7.3.2 and the transitions of its Appendix C,
// plus the packet queue of §7.2.2. Read RFC 4861 §7.2-7.3 and Appendix C first. RFC 1122
// §2.3.2.1 asks ARP for the same thing in other words (time out entries, re-verify by unicast
// before dropping them), which is why Linux runs ARP on this machine too and so do we.
//
// The cache knows no wire format: the protocol gives it a `solicit` callback that sends a
// broadcast/multicast request (target MAC unknown) or a unicast probe (target MAC known).

import type { IpAddr } from '../wire/ip-address.js';
import { bytesEqual } from '../wire/bytes.js';
import type { Timer, TimerQueue } from '../timers.js';
import type { Rng } from '../random.js';

export type NudState = 'INCOMPLETE' | 'REACHABLE' | 'STALE' | 'DELAY' | 'PROBE' | 'PERMANENT';

interface Waiter {
  onResolved(mac: Uint8Array): void;
  onFailed(): void;
}

export interface CacheEntry {
  readonly ip: IpAddr;
  mac: Uint8Array | null;
  state: NudState;
  /** RFC 4861 §7.2.5 IsRouter flag (NDP only). */
  isRouter: boolean;
  /** Solicitations sent in the current INCOMPLETE or PROBE episode. */
  probes: number;
  /** Last reachability confirmation (ms): REACHABLE lasts ReachableTime from here. */
  confirmedAt: number;
  readonly timer: Timer;
  readonly queue: Waiter[];
}

export interface CacheParams {
  maxMulticastSolicit: number;
  maxUnicastSolicit: number;
  retransTimerMs: number;
  baseReachableTimeMs: number;
  delayFirstProbeTimeMs: number;
  staleTimeoutMs: number;
  queueLength: number;
  /** Bound on entries (Linux gc_thresh3): a flood of spoofed senders cannot grow it further. */
  maxEntries: number;
}

/** The cache's share of a protocol's resolved options (ARP's and NDP's have these fields). */
export function cacheParams(o: CacheParams): CacheParams {
  return {
    maxMulticastSolicit: o.maxMulticastSolicit,
    maxUnicastSolicit: o.maxUnicastSolicit,
    retransTimerMs: o.retransTimerMs,
    baseReachableTimeMs: o.baseReachableTimeMs,
    delayFirstProbeTimeMs: o.delayFirstProbeTimeMs,
    staleTimeoutMs: o.staleTimeoutMs,
    queueLength: o.queueLength,
    maxEntries: o.maxEntries,
  };
}

export interface CacheHooks {
  /** Sends a solicitation for `ip`: broadcast/multicast when `unicastMac` is null, else a unicast probe. */
  solicit(ip: IpAddr, unicastMac: Uint8Array | null): void;
  /** Stats counter, already prefixed by the protocol. */
  count(reason: string): void;
  /** An entry's IsRouter flag went from true to false (§7.2.5): drop it from the router list. */
  routerGone?(ip: IpAddr): void;
}

// RFC 4861 §10: ReachableTime is BaseReachableTime times a random factor in [0.5, 1.5).
const MIN_RANDOM_FACTOR = 0.5;
const MAX_RANDOM_FACTOR = 1.5;
// §6.3.2: recompute the random ReachableTime "at least every few hours".
const REACHABLE_RECOMPUTE_MS = 2 * 3600_000;

export class NeighborCache {
  private readonly map = new Map<string, CacheEntry>();
  private reachableMs = 0;
  private reachableComputedAt = -Infinity;
  private stopped = false;

  constructor(
    private readonly timers: TimerQueue,
    private readonly rng: Rng,
    readonly params: CacheParams,
    private readonly hooks: CacheHooks,
  ) {
    this.recomputeReachableTime();
  }

  get(ip: IpAddr): CacheEntry | undefined {
    return this.map.get(ip.key);
  }

  /** RFC 4861 §6.3.4: a new BaseReachableTime from an RA re-randomizes ReachableTime. */
  setBaseReachableTime(ms: number): void {
    if (ms === this.params.baseReachableTimeMs) return;
    this.params.baseReachableTimeMs = ms;
    this.recomputeReachableTime();
  }

  reachableTimeMs(): number {
    if (this.timers.now() - this.reachableComputedAt >= REACHABLE_RECOMPUTE_MS) this.recomputeReachableTime();
    return this.reachableMs;
  }

  private recomputeReachableTime(): void {
    const f = MIN_RANDOM_FACTOR + (this.rng.u32() / 4294967296) * (MAX_RANDOM_FACTOR - MIN_RANDOM_FACTOR);
    this.reachableMs = Math.max(1, Math.round(this.params.baseReachableTimeMs * f));
    this.reachableComputedAt = this.timers.now();
  }

  /** See NeighborResolver.resolve. */
  resolve(ip: IpAddr, onResolved: (mac: Uint8Array) => void, onFailed: () => void): Uint8Array | null {
    if (this.stopped) {
      this.hooks.count('drop.stopped');
      onFailed();
      return null;
    }
    let e = this.map.get(ip.key);
    if (!e) {
      if (!this.makeRoom()) {
        this.hooks.count('drop.cache-full');
        onFailed();
        return null;
      }
      // §7.2.2: create INCOMPLETE, queue the packet, send the first multicast solicitation.
      e = this.create(ip, 'INCOMPLETE', null);
      this.enqueue(e, onResolved, onFailed);
      e.probes = 1;
      e.timer.schedule(this.params.retransTimerMs);
      this.hooks.solicit(ip, null);
      return null;
    }
    switch (e.state) {
      case 'INCOMPLETE':
        this.enqueue(e, onResolved, onFailed);
        return null;
      case 'STALE':
        // §7.3.3: the first packet sent to a STALE neighbor starts the DELAY timer; the packet
        // itself goes out to the cached address.
        this.enter(e, 'DELAY');
        return e.mac;
      default:
        return e.mac;
    }
  }

  private enqueue(e: CacheEntry, onResolved: (mac: Uint8Array) => void, onFailed: () => void): void {
    if (this.params.queueLength <= 0) {
      this.hooks.count('drop.queue-overflow');
      onFailed();
      return;
    }
    if (e.queue.length >= this.params.queueLength) {
      // Like Linux's arp_queue: the oldest packet makes way for the newest, which is the more
      // useful one (a retransmission supersedes what it retransmits).
      const old = e.queue.shift()!;
      this.hooks.count('drop.queue-overflow');
      e.queue.push({ onResolved, onFailed });
      old.onFailed();
      return;
    }
    e.queue.push({ onResolved, onFailed });
  }

  /**
   * True when a new entry fits. At the bound the oldest STALE entry goes (nothing waits on it
   * and it has not been confirmed lately), as Linux's forced GC does; static and in-use entries
   * stay.
   */
  private makeRoom(): boolean {
    if (this.map.size < this.params.maxEntries) return true;
    for (const e of this.map.values()) {
      if (e.state === 'STALE') {
        this.drop(e);
        this.hooks.count('cache-evicted');
        return true;
      }
    }
    return false;
  }

  addStatic(ip: IpAddr, mac: Uint8Array): void {
    let e = this.map.get(ip.key);
    if (!e) e = this.create(ip, 'PERMANENT', Uint8Array.from(mac));
    e.mac = Uint8Array.from(mac);
    this.enter(e, 'PERMANENT');
    this.flush(e);
  }

  /** §7.3.1: forward progress seen by an upper layer confirms reachability of an existing entry. */
  confirm(ip: IpAddr): void {
    const e = this.map.get(ip.key);
    if (!e || e.mac === null || e.state === 'PERMANENT' || e.state === 'INCOMPLETE') return;
    // TCP confirms on every ACK that advances: for an entry already REACHABLE only note the
    // time, and let the timer, when it fires, push itself out (Linux's neigh->confirmed).
    if (e.state === 'REACHABLE') e.confirmedAt = this.timers.now();
    else this.enter(e, 'REACHABLE');
  }

  /**
   * An unsolicited sign of life with a link-layer address: an NS/RS/RA carrying a source
   * link-layer address option (§7.2.3, §6.3.4, §6.2.6), or an ARP request aimed at us
   * (RFC 826's "merge"). Creates a STALE entry, or moves to STALE when the address changed.
   */
  learn(ip: IpAddr, mac: Uint8Array, opts?: { isRouter?: boolean }): void {
    if (this.stopped) return;
    let e = this.map.get(ip.key);
    if (!e) {
      if (!this.makeRoom()) {
        this.hooks.count('drop.cache-full');
        return;
      }
      e = this.create(ip, 'STALE', Uint8Array.from(mac));
      if (opts?.isRouter) e.isRouter = true;
      this.enter(e, 'STALE');
      return;
    }
    if (opts?.isRouter) e.isRouter = true;
    if (e.state === 'PERMANENT') return;
    if (e.state === 'INCOMPLETE') {
      e.mac = Uint8Array.from(mac);
      this.enter(e, 'STALE');
      this.flush(e);
      return;
    }
    if (!macEquals(e.mac, mac)) {
      e.mac = Uint8Array.from(mac);
      this.enter(e, 'STALE');
    }
  }

  /**
   * RFC 4861 §7.2.5, receipt of a Neighbor Advertisement (ARP replies go through here too, with
   * override set, which is RFC 826's unconditional merge). `mac` null means the advertisement
   * carried no target link-layer address option. Returns false when no entry exists (the
   * caller counts the advertisement as unsolicited).
   */
  advert(ip: IpAddr, mac: Uint8Array | null, f: { solicited: boolean; override: boolean; isRouter?: boolean }): boolean {
    if (this.stopped) return false;
    const e = this.map.get(ip.key);
    if (!e) return false;
    if (e.state === 'PERMANENT') return true;
    if (e.state === 'INCOMPLETE') {
      if (mac === null) {
        this.hooks.count('drop.na-without-tlla');
        return true;
      }
      e.mac = Uint8Array.from(mac);
      if (f.isRouter !== undefined) e.isRouter = f.isRouter;
      this.enter(e, f.solicited ? 'REACHABLE' : 'STALE');
      this.flush(e);
      return true;
    }
    const differs = mac !== null && !macEquals(e.mac, mac);
    if (!f.override && differs) {
      // The cached address wins over a non-override advertisement, but the neighbor may have
      // moved: a REACHABLE entry becomes STALE so that NUD checks it.
      if (e.state === 'REACHABLE') this.enter(e, 'STALE');
      return true;
    }
    if (differs) e.mac = Uint8Array.from(mac);
    if (f.solicited) this.enter(e, 'REACHABLE');
    else if (differs) this.enter(e, 'STALE');
    if (f.isRouter !== undefined) {
      const was = e.isRouter;
      e.isRouter = f.isRouter;
      if (was && !f.isRouter) this.hooks.routerGone?.(e.ip);
    }
    return true;
  }

  remove(ip: IpAddr): void {
    const e = this.map.get(ip.key);
    if (e) this.drop(e);
  }

  entries(): { ip: IpAddr; mac: Uint8Array | null; state: string }[] {
    const out: { ip: IpAddr; mac: Uint8Array | null; state: string }[] = [];
    for (const e of this.map.values()) out.push({ ip: e.ip, mac: e.mac ? Uint8Array.from(e.mac) : null, state: e.state });
    return out;
  }

  /** Forgets every learned entry (carrier loss: nothing learned may still hold); static ones stay. */
  flushLearned(): void {
    for (const e of [...this.map.values()]) if (e.state !== 'PERMANENT') this.drop(e);
  }

  /** Cancels every timer and fails every waiting packet; the cache stays empty afterwards. */
  stop(): void {
    this.stopped = true;
    for (const e of [...this.map.values()]) this.drop(e);
  }

  private create(ip: IpAddr, state: NudState, mac: Uint8Array | null): CacheEntry {
    const e: CacheEntry = {
      ip,
      mac,
      state,
      isRouter: false,
      probes: 0,
      confirmedAt: 0,
      timer: this.timers.timer(() => this.expire(e)),
      queue: [],
    };
    this.map.set(ip.key, e);
    return e;
  }

  /** Sets the state and the one timer that goes with it (Appendix C). */
  private enter(e: CacheEntry, state: NudState): void {
    e.state = state;
    switch (state) {
      case 'REACHABLE':
        e.probes = 0;
        e.confirmedAt = this.timers.now();
        e.timer.schedule(this.reachableTimeMs());
        break;
      case 'STALE':
        // §7.3.2 leaves STALE entries alone until used; RFC 1122 §2.3.2.1 wants them timed out
        // eventually. Linux forgets unused ones after gc_stale_time.
        e.probes = 0;
        e.timer.schedule(this.params.staleTimeoutMs);
        break;
      case 'DELAY':
        e.probes = 0;
        e.timer.schedule(this.params.delayFirstProbeTimeMs);
        break;
      case 'PROBE':
        e.probes = 0;
        e.timer.cancel();
        break;
      case 'PERMANENT':
        e.probes = 0;
        e.timer.cancel();
        break;
      case 'INCOMPLETE':
        break;
    }
  }

  private expire(e: CacheEntry): void {
    if (this.map.get(e.ip.key) !== e) return;
    switch (e.state) {
      case 'INCOMPLETE':
        if (e.probes >= this.params.maxMulticastSolicit) {
          // §7.2.2: resolution failed; queued packets get ICMP unreachable from the caller.
          this.hooks.count('resolve-failed');
          this.drop(e);
          return;
        }
        e.probes++;
        e.timer.schedule(this.params.retransTimerMs);
        this.hooks.solicit(e.ip, null);
        return;
      case 'REACHABLE': {
        const due = e.confirmedAt + this.reachableTimeMs();
        if (due > this.timers.now()) {
          e.timer.scheduleAt(due); // confirmed since the timer was set
          return;
        }
        // §7.3.3: ReachableTime elapsed without confirmation.
        this.enter(e, 'STALE');
        return;
      }
      case 'STALE':
        this.drop(e);
        return;
      case 'DELAY':
        // §7.3.3: no confirmation within DELAY_FIRST_PROBE_TIME: probe by unicast.
        this.enter(e, 'PROBE');
        this.probe(e);
        return;
      case 'PROBE':
        if (e.probes >= this.params.maxUnicastSolicit) {
          // §7.3.3: "the entry SHOULD be deleted".
          this.hooks.count('nud-failed');
          this.drop(e);
          return;
        }
        this.probe(e);
        return;
      case 'PERMANENT':
        return;
    }
  }

  private probe(e: CacheEntry): void {
    e.probes++;
    e.timer.schedule(this.params.retransTimerMs);
    this.hooks.solicit(e.ip, e.mac);
  }

  private drop(e: CacheEntry): void {
    e.timer.cancel();
    this.map.delete(e.ip.key);
    const q = e.queue.splice(0);
    for (const w of q) w.onFailed();
  }

  /** Releases queued packets in the order they were queued. */
  private flush(e: CacheEntry): void {
    if (e.queue.length === 0 || e.mac === null) return;
    const q = e.queue.splice(0);
    const mac = e.mac;
    for (const w of q) w.onResolved(mac);
  }
}

/** Equal MACs, where null (not yet known) equals only null. */
export function macEquals(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : bytesEqual(a, b);
}
