// Path MTU cache: what ICMPv4 "fragmentation needed" (RFC 1191) and ICMPv6 "packet too big"
// (RFC 8201) taught us per destination. Entries age out so a path that grew is found again
// (RFC 1191 §6.3 suggests 10 minutes, as does Linux's mtu_expires). Read RFC 1191 §3-§6,
// RFC 8201 §4-§5 and RFC 5927 §7 (why a forged "fragmentation needed" must not shrink a path
// without limit) first.

import type { IpAddr } from './wire/ip-address.js';

export interface PmtuOptions {
  /** How long a learned value holds, in ms (default 600000). */
  expiryMs?: number;
  /** Bound on the number of destinations remembered (oldest forgotten first). */
  maxEntries?: number;
  /**
   * The smallest IPv4 path MTU an ICMP message may set (Linux's net.ipv4.route.min_pmtu); in a
   * `Stack` it defaults to 552 (`LINUX_MIN_PMTU`), as on Linux. A bare `PmtuCache` defaults to
   * RFC 791's 68. At least 68. IPv6 always floors at 1280 (RFC 8200 §5).
   */
  minPmtu?: number;
}

/** RFC 791: every IPv4 host must pass 68-byte datagrams; RFC 8200 §5: IPv6 links carry 1280. */
export const MIN_MTU_V4 = 68;
export const MIN_MTU_V6 = 1280;
/** Linux's default net.ipv4.route.min_pmtu (512 bytes of data plus 40 of headers). */
export const LINUX_MIN_PMTU = 552;

interface Entry {
  mtu: number;
  expires: number;
  /** The message asked for less than the floor: the path needs fragments, not a smaller MTU. */
  locked: boolean;
}

export class PmtuCache {
  private readonly entries = new Map<string, Entry>();
  private readonly expiryMs: number;
  private readonly maxEntries: number;
  /** The IPv4 floor for learned values (see `PmtuOptions.minPmtu`). */
  readonly minPmtu: number;

  constructor(
    private readonly now: () => number,
    opts: PmtuOptions = {},
  ) {
    this.expiryMs = opts.expiryMs ?? 600_000;
    this.maxEntries = opts.maxEntries ?? 4096;
    this.minPmtu = opts.minPmtu ?? MIN_MTU_V4;
    if (!Number.isInteger(this.minPmtu) || this.minPmtu < MIN_MTU_V4 || this.minPmtu > 65535) {
      throw new RangeError(`minPmtu ${this.minPmtu}: must be an integer in [${MIN_MTU_V4}, 65535]`);
    }
  }

  /**
   * Records a smaller MTU for `dst`. Increases are ignored (RFC 1191 §3: a host must not raise
   * its estimate in response to a message; only expiry does). IPv6 values below 1280 are
   * raised to it (RFC 8201 §4). An IPv4 value below `minPmtu` does not shrink the path below
   * min(current, minPmtu), as Linux's __ip_rt_update_pmtu: any in-window ICMP can claim any
   * MTU (RFC 5927 §7), and obeying 68 would cut TCP to 28-byte segments. Such an entry is
   * marked locked (Linux's RTAX_MTU lock). Returns the value kept.
   */
  learn(dst: IpAddr, mtu: number, linkMtu: number): number {
    const cur = this.get(dst);
    const old = cur ?? linkMtu;
    let v = Math.min(mtu, linkMtu);
    let locked = false;
    if (dst.family === 6) {
      v = Math.max(MIN_MTU_V6, v);
    } else if (v < this.minPmtu) {
      v = Math.max(MIN_MTU_V4, Math.min(old, this.minPmtu));
      locked = true;
    }
    if (cur !== null && cur <= v) {
      if (locked && cur === v) this.entries.get(dst.key)!.locked = true;
      return cur;
    }
    if (v >= linkMtu) return linkMtu;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(dst.key);
    this.entries.set(dst.key, { mtu: v, expires: this.now() + this.expiryMs, locked });
    return v;
  }

  /** The learned MTU for `dst`, or null when none (or it expired). */
  get(dst: IpAddr): number | null {
    return this.entry(dst)?.mtu ?? null;
  }

  /**
   * Whether the learned MTU for `dst` is held at the floor against a smaller reported one. On
   * Linux such a path is sent without DF by sockets that only want PMTU discovery (TCP), so a
   * router with a smaller MTU fragments instead of dropping (ip_dont_fragment, commit d52e5a7
   * "lock mtu in fnhe when received PMTU < net.ipv4.route.min_pmtu").
   */
  locked(dst: IpAddr): boolean {
    return this.entry(dst)?.locked ?? false;
  }

  private entry(dst: IpAddr): Entry | null {
    const e = this.entries.get(dst.key);
    if (!e) return null;
    if (e.expires <= this.now()) {
      this.entries.delete(dst.key);
      return null;
    }
    return e;
  }

  forget(dst: IpAddr): void {
    this.entries.delete(dst.key);
  }

  get size(): number {
    return this.entries.size;
  }
}
