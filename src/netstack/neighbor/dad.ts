// Duplicate Address Detection. Read RFC 4862 §5.4 (§5.4.2 sending, §5.4.3 NS received, §5.4.4
// NA received, §5.4.5 when a duplicate is found) and RFC 7527 §4 (the nonce that tells a
// looped-back solicitation from another node's).

import type { IpAddr } from '../wire/ip-address.js';
import type { Timer, TimerQueue } from '../timers.js';
import type { NeighborHost } from './index.js';
import type { NdpOptions as NdpMessageOptions } from '../wire/ndp.js';
import { NDP_OPT_NONCE } from './codec.js';

interface Probe {
  readonly addr: IpAddr;
  left: number;
  readonly timer: Timer;
  /** Nonces of the NSs sent (RFC 7527 §4.1), to recognise them if the link loops them back. */
  readonly nonces: Uint8Array[];
}

export interface DadParams {
  /** DupAddrDetectTransmits; 0 disables DAD. */
  readonly transmits: number;
  /** RetransTimer now (an RA may change it). */
  retransTimerMs(): number;
  /** MAX_RTR_SOLICITATION_DELAY: random delay before the first NS. */
  readonly maxDelayMs: number;
  /** Sends the NS from :: to the solicited-node group of `addr`, carrying `nonce`. */
  sendNs(addr: IpAddr, nonce: Uint8Array): void;
  succeeded(addr: IpAddr): void;
  /** The address was removed as a duplicate. */
  failed(addr: IpAddr): void;
  count(reason: string): void;
}

export class DuplicateAddressDetection {
  private readonly probes = new Map<string, Probe>();
  private readonly dups: IpAddr[] = [];
  private stopped = false;

  constructor(
    private readonly host: NeighborHost,
    private readonly timers: TimerQueue,
    private readonly p: DadParams,
  ) {}

  /** Marks `addr` (already on the host) tentative and probes for it. */
  start(addr: IpAddr): void {
    if (this.stopped) return;
    if (!this.host.ipv6Addresses().some((a) => a.cidr.addr.equals(addr))) {
      this.p.count('dad.unknown-address');
      return;
    }
    this.cancel(addr);
    if (this.p.transmits <= 0) {
      // §5.4: DupAddrDetectTransmits 0 disables DAD; the address is usable at once.
      this.host.setIpv6AddressTentative(addr, false);
      this.p.succeeded(addr);
      return;
    }
    this.host.setIpv6AddressTentative(addr, true);
    const probe: Probe = { addr, left: this.p.transmits, timer: this.timers.timer(() => this.tick(probe)), nonces: [] };
    this.probes.set(addr.key, probe);
    // §5.4.2: a random delay of up to MAX_RTR_SOLICITATION_DELAY before the first NS, so that
    // hosts started together (after a power failure) do not all solicit at once.
    const max = this.p.maxDelayMs;
    probe.timer.schedule(max > 0 ? this.host.rng.u32() % (max + 1) : 0);
  }

  private tick(probe: Probe): void {
    if (this.probes.get(probe.addr.key) !== probe) return;
    if (probe.left > 0) {
      probe.left--;
      const nonce = this.host.rng.fill(new Uint8Array(6));
      probe.nonces.push(nonce);
      this.p.sendNs(probe.addr, nonce);
      this.p.count('dad.tx-ns');
      probe.timer.schedule(this.p.retransTimerMs());
      return;
    }
    // §5.4.3: RetransTimer after the last NS and nothing heard: the address is unique.
    this.probes.delete(probe.addr.key);
    this.host.setIpv6AddressTentative(probe.addr, false);
    this.p.count('dad.ok');
    this.p.succeeded(probe.addr);
  }

  /** RFC 7527 §4.2: is this NS for `addr` one of ours, reflected by the link? */
  isOwnNonce(addr: IpAddr, opts: NdpMessageOptions): boolean {
    const probe = this.probes.get(addr.key);
    if (!probe) return false;
    for (const u of opts.unknown ?? []) {
      if (u.type !== NDP_OPT_NONCE) continue;
      for (const n of probe.nonces) if (u.data.length === n.length && u.data.every((x, i) => x === n[i])) return true;
    }
    return false;
  }

  /** §5.4.5: the tentative address is someone else's. It is removed, never used. */
  conflict(addr: IpAddr, why: 'ns' | 'na'): void {
    this.cancel(addr);
    this.p.count('dad.conflict');
    this.p.count(`dad.conflict-${why}`);
    if (!this.isDuplicate(addr)) this.dups.push(addr);
    this.host.removeIpv6Address(addr);
    this.p.failed(addr);
  }

  isDuplicate(addr: IpAddr): boolean {
    return this.dups.some((x) => x.equals(addr));
  }
  duplicates(): IpAddr[] {
    return this.dups.slice();
  }

  /** Stops probing for `addr` (it went away). */
  cancel(addr: IpAddr): void {
    const probe = this.probes.get(addr.key);
    if (!probe) return;
    probe.timer.cancel();
    this.probes.delete(addr.key);
  }

  /** Abandons every probe in progress (the addresses stay tentative until start() again). */
  cancelAll(): void {
    for (const probe of this.probes.values()) probe.timer.cancel();
    this.probes.clear();
  }

  stop(): void {
    this.stopped = true;
    this.cancelAll();
  }
}
