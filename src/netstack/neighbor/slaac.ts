// Stateless address autoconfiguration from Prefix Information options. Read RFC 4862 §5.5.3
// (forming addresses, and the "2-hour rule" of (e) that keeps a forged RA from cutting a live
// address's lifetime short) and §5.5.4 (deprecation), RFC 4291 §2.5.1 (64-bit identifiers).

import { IpCidr, type IpAddr } from '../wire/ip-address.js';
import type { Timer, TimerQueue } from '../timers.js';
import type { NdpPrefixInfo } from '../wire/ndp.js';
import type { NeighborHost } from './index.js';
import { addressFromPrefix } from './codec.js';

/** RFC 4861 §4.6.2: all ones means infinity. */
export const INFINITE_LIFETIME = 0xffffffff;
const TWO_HOURS_MS = 2 * 3600_000;
/** RFC 4291 §2.5.1: the interface identifier is 64 bits. */
const IID_BITS = 64;

/** The host sees infinite lifetimes as Infinity, not as the wire's all-ones value. */
export function hostLifetime(s: number): number {
  return s === INFINITE_LIFETIME ? Infinity : s;
}

interface SlaacAddr {
  readonly addr: IpAddr;
  readonly prefixLen: number;
  validUntil: number;
  preferredUntil: number;
  readonly validTimer: Timer;
  readonly preferredTimer: Timer;
}

export interface SlaacParams {
  /** New addresses start tentative (DAD enabled). */
  readonly tentative: boolean;
  startDad(addr: IpAddr): void;
  /** DAD already found this address in use: do not form it again. */
  isDuplicate(addr: IpAddr): boolean;
  /** The address's valid lifetime ended (stop any DAD for it). */
  expired(addr: IpAddr): void;
  count(reason: string): void;
}

/**
 * The addresses this module formed, with their lifetimes. The host is told of each change
 * through addIpv6Address (a refresh for an existing address) and removeIpv6Address.
 */
export class SlaacAddresses {
  private readonly addrs = new Map<string, SlaacAddr>();

  constructor(
    private readonly host: NeighborHost,
    private readonly timers: TimerQueue,
    private readonly p: SlaacParams,
  ) {}

  /** §5.5.3 for one prefix with the A flag (the caller has handled L and ignored fe80::/10). */
  prefix(pi: NdpPrefixInfo): void {
    if (pi.preferredLifetime > pi.validLifetime) {
      this.p.count('slaac.drop.preferred-exceeds-valid'); // §5.5.3 c
      return;
    }
    if (pi.prefixLen + IID_BITS !== 128) {
      this.p.count('slaac.drop.bad-prefix-length'); // §5.5.3 d
      return;
    }
    const addr = addressFromPrefix(pi.prefix, this.host.mac);
    const onHost = this.host.ipv6Addresses().find((a) => a.cidr.addr.equals(addr));
    let s = this.addrs.get(addr.key);
    if (s && !onHost) {
      // Removed behind our back (by hand, or by the host's own lifetime timer): start over.
      this.forget(addr);
      s = undefined;
    }
    if (!s) {
      // §5.5.3 d: a new prefix with a non-zero valid lifetime forms an address.
      if (pi.validLifetime === 0) return;
      if (this.p.isDuplicate(addr)) {
        this.p.count('slaac.skip-duplicate');
        return;
      }
      if (onHost) return; // configured by other means: not ours to time
      const fresh: SlaacAddr = {
        addr,
        prefixLen: pi.prefixLen,
        validUntil: Infinity,
        preferredUntil: Infinity,
        validTimer: this.timers.timer(() => this.expire(fresh)),
        preferredTimer: this.timers.timer(() => this.deprecate(fresh)),
      };
      this.addrs.set(addr.key, fresh);
      this.setLifetimes(fresh, pi.validLifetime, pi.preferredLifetime);
      this.host.addIpv6Address(IpCidr.of(addr, pi.prefixLen), {
        tentative: this.p.tentative,
        validLifetimeS: hostLifetime(pi.validLifetime),
        preferredLifetimeS: hostLifetime(pi.preferredLifetime),
        origin: 'slaac',
      });
      this.p.count('slaac.address-added');
      this.p.startDad(addr);
      return;
    }
    // §5.5.3 e: the preferred lifetime is always reset; the valid lifetime only as follows.
    const remainingMs = s.validUntil - this.timers.now();
    const receivedMs = pi.validLifetime === INFINITE_LIFETIME ? Infinity : pi.validLifetime * 1000;
    let validS: number;
    if (receivedMs > TWO_HOURS_MS || receivedMs > remainingMs) validS = pi.validLifetime; // e.1
    else if (remainingMs <= TWO_HOURS_MS) validS = toLifetimeS(remainingMs); // e.2: ignore it
    else validS = TWO_HOURS_MS / 1000; // e.3
    this.setLifetimes(s, validS, pi.preferredLifetime);
    this.tellHost(s, validS, Math.min(pi.preferredLifetime, validS));
    this.p.count('slaac.lifetimes-updated');
  }

  /** Stops timing `addr` (DAD found it duplicate, or it went away). */
  forget(addr: IpAddr): void {
    const s = this.addrs.get(addr.key);
    if (!s) return;
    s.validTimer.cancel();
    s.preferredTimer.cancel();
    this.addrs.delete(addr.key);
  }

  stop(): void {
    for (const s of this.addrs.values()) {
      s.validTimer.cancel();
      s.preferredTimer.cancel();
    }
    this.addrs.clear();
  }

  private tellHost(s: SlaacAddr, validS: number, preferredS: number): void {
    const cur = this.host.ipv6Addresses().find((a) => a.cidr.addr.equals(s.addr));
    if (!cur) return;
    this.host.addIpv6Address(cur.cidr, {
      tentative: cur.tentative,
      validLifetimeS: hostLifetime(validS),
      preferredLifetimeS: hostLifetime(preferredS),
      origin: 'slaac',
    });
  }

  private setLifetimes(s: SlaacAddr, validS: number, preferredS: number): void {
    const now = this.timers.now();
    s.validUntil = validS === INFINITE_LIFETIME ? Infinity : now + validS * 1000;
    const pref = preferredS === INFINITE_LIFETIME ? Infinity : now + preferredS * 1000;
    s.preferredUntil = Math.min(pref, s.validUntil);
    if (s.validUntil === Infinity) s.validTimer.cancel();
    else s.validTimer.scheduleAt(s.validUntil);
    if (s.preferredUntil === Infinity || s.preferredUntil >= s.validUntil) s.preferredTimer.cancel();
    else s.preferredTimer.scheduleAt(s.preferredUntil);
  }

  private deprecate(s: SlaacAddr): void {
    if (this.addrs.get(s.addr.key) !== s) return;
    // §5.5.4: a deprecated address stays valid for existing connections, not for new ones.
    this.p.count('slaac.address-deprecated');
    this.tellHost(s, toLifetimeS(s.validUntil - this.timers.now()), 0);
  }

  private expire(s: SlaacAddr): void {
    if (this.addrs.get(s.addr.key) !== s) return;
    this.addrs.delete(s.addr.key);
    this.p.count('slaac.address-expired');
    this.p.expired(s.addr);
    this.host.removeIpv6Address(s.addr);
  }
}

function toLifetimeS(ms: number): number {
  return ms === Infinity ? INFINITE_LIFETIME : Math.max(0, Math.ceil(ms / 1000));
}
