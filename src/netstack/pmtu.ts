// Path MTU cache: what ICMPv4 "fragmentation needed" (RFC 1191) and ICMPv6 "packet too big"
// (RFC 8201) taught us per destination. Entries age out so a path that grew is found again
// (RFC 1191 §6.3 suggests 10 minutes, as does Linux's mtu_expires).

import type { IpAddr } from './wire/ip-address.js';

export interface PmtuOptions {
  /** How long a learned value holds, in ms (default 600000). */
  expiryMs?: number;
  /** Bound on the number of destinations remembered (oldest forgotten first). */
  maxEntries?: number;
}

/** RFC 791: every IPv4 host must pass 68-byte datagrams; RFC 8200 §5: IPv6 links carry 1280. */
export const MIN_MTU_V4 = 68;
export const MIN_MTU_V6 = 1280;

export class PmtuCache {
  private readonly entries = new Map<string, { mtu: number; expires: number }>();
  private readonly expiryMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly now: () => number,
    opts: PmtuOptions = {},
  ) {
    this.expiryMs = opts.expiryMs ?? 600_000;
    this.maxEntries = opts.maxEntries ?? 4096;
  }

  /**
   * Records a smaller MTU for `dst`. Increases are ignored (RFC 1191 §3: a host must not raise
   * its estimate in response to a message; only expiry does), and values below the family
   * minimum are clamped (RFC 8201 §4; RFC 1191 §3 plateau floor). Returns the value kept.
   */
  learn(dst: IpAddr, mtu: number, linkMtu: number): number {
    const floor = dst.family === 4 ? MIN_MTU_V4 : MIN_MTU_V6;
    const v = Math.max(floor, Math.min(mtu, linkMtu));
    const cur = this.get(dst);
    if (cur !== null && cur <= v) return cur;
    if (v >= linkMtu) return linkMtu;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(dst.key);
    this.entries.set(dst.key, { mtu: v, expires: this.now() + this.expiryMs });
    return v;
  }

  /** The learned MTU for `dst`, or null when none (or it expired). */
  get(dst: IpAddr): number | null {
    const e = this.entries.get(dst.key);
    if (!e) return null;
    if (e.expires <= this.now()) {
      this.entries.delete(dst.key);
      return null;
    }
    return e.mtu;
  }

  forget(dst: IpAddr): void {
    this.entries.delete(dst.key);
  }

  get size(): number {
    return this.entries.size;
  }
}
