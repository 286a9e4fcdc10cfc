// ipset-like address sets (ipset(8) hash:ip with the `timeout` extension): membership in O(1)
// through a Map keyed by IpAddr.key (already computed for every address, so a lookup allocates
// nothing), and a TTL per entry measured on the stack's clock. Expired entries are invisible at
// once and reclaimed lazily (on lookup) and by sweep() in bounded steps.

import type { Clock } from '../clock.js';
import type { IpAddr } from '../wire/ip-address.js';

export class AddressSet {
  /** key -> expiry time in clock ms (Infinity: permanent). */
  private readonly entries = new Map<string, number>();
  private readonly addrs = new Map<string, IpAddr>();
  /** Counters for `iptables -L`-like inspection. */
  hits = 0;
  misses = 0;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    /** Default TTL in seconds for add() without one; 0 = permanent. */
    readonly defaultTimeoutS = 0,
    /** ipset's maxelem: adds beyond it fail (return false). */
    readonly maxElements = 65536 * 16,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds or refreshes an entry. ttlS undefined: the set's default; 0: permanent. A refresh
   * never shortens an entry that would outlive it (a DNS answer with a smaller TTL for a name
   * still cached longer elsewhere must not cut the flow short).
   */
  add(addr: IpAddr, ttlS?: number): boolean {
    const t = ttlS ?? this.defaultTimeoutS;
    const exp = t > 0 ? this.clock.now() + t * 1000 : Infinity;
    const old = this.entries.get(addr.key);
    if (old === undefined) {
      if (this.entries.size >= this.maxElements) {
        this.sweep(64);
        if (this.entries.size >= this.maxElements) return false;
      }
      this.addrs.set(addr.key, addr);
    } else if (old >= exp && old > this.clock.now()) return true;
    this.entries.set(addr.key, exp);
    return true;
  }

  delete(addr: IpAddr): boolean {
    this.addrs.delete(addr.key);
    return this.entries.delete(addr.key);
  }

  clear(): void {
    this.entries.clear();
    this.addrs.clear();
  }

  has(addr: IpAddr): boolean {
    const exp = this.entries.get(addr.key);
    if (exp === undefined) {
      this.misses++;
      return false;
    }
    if (exp <= this.clock.now()) {
      this.entries.delete(addr.key);
      this.addrs.delete(addr.key);
      this.misses++;
      return false;
    }
    this.hits++;
    return true;
  }

  /** Remaining lifetime in seconds (Infinity: permanent), or -1 when absent or expired. */
  ttlOf(addr: IpAddr): number {
    const exp = this.entries.get(addr.key);
    const now = this.clock.now();
    if (exp === undefined || exp <= now) return -1;
    return exp === Infinity ? Infinity : (exp - now) / 1000;
  }

  /** Removes up to `max` expired entries; returns how many. */
  sweep(max = Infinity): number {
    const now = this.clock.now();
    let n = 0;
    for (const [k, exp] of this.entries) {
      if (n >= max) break;
      if (exp <= now) {
        this.entries.delete(k);
        this.addrs.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Live members (for printing and tests). */
  *members(): IterableIterator<IpAddr> {
    const now = this.clock.now();
    for (const [k, exp] of this.entries) if (exp > now) yield this.addrs.get(k)!;
  }
}

/** The sets a ruleset refers to by name (`-m set --match-set NAME src`). */
export class SetRegistry {
  private readonly sets = new Map<string, AddressSet>();
  constructor(private readonly clock: Clock) {}

  create(name: string, defaultTimeoutS = 0, maxElements?: number): AddressSet {
    let s = this.sets.get(name);
    if (!s) {
      s = new AddressSet(name, this.clock, defaultTimeoutS, maxElements);
      this.sets.set(name, s);
    }
    return s;
  }
  get(name: string): AddressSet | undefined {
    return this.sets.get(name);
  }
  names(): string[] {
    return [...this.sets.keys()];
  }
}
