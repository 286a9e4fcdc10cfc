// Hostname policy for the DNS forwarder: which names a guest may resolve, and what the answers
// teach the packet filter. A name allowed by policy has its A/AAAA answers added, with the
// answer's TTL (clamped), to the address sets the compiled rules match; CNAME chains are
// followed from the queried name (RFC 1034 §3.6.2, §4.3.2 step 3a: the answer for an alias is
// the canonical name's records). The reverse map (address -> name) feeds the audit log.
// Names compare case-insensitively (RFC 4343) without the trailing root dot.

import type { IpAddr } from '../wire/ip-address.js';
import type { DnsRecord } from '../wire/dns.js';
import type { AddressSet } from './addrset.js';

export function normalizeName(name: string): string {
  let n = name.toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

/**
 * "example.com" matches only itself; "*.example.com" matches any name below example.com (at any
 * depth) but not example.com itself; "*" matches every name.
 */
export function nameMatches(pattern: string, name: string): boolean {
  const p = normalizeName(pattern);
  const n = normalizeName(name);
  if (p === '*') return true;
  if (p.startsWith('*.')) return n.endsWith(p.slice(1)) && n.length > p.length - 1;
  return p === n;
}

export interface HostRule {
  /** Name patterns (see nameMatches). */
  readonly patterns: readonly string[];
  /** The set the compiled rule matches for these names. */
  readonly set: AddressSet;
  readonly verdict: 'allow' | 'deny';
}

export interface DnsAllowlistOptions {
  /** When no rule names a host: true for a default-allow policy. */
  defaultAllow: boolean;
  /** TTL clamps in seconds (a 0-TTL answer would otherwise expire before the connect). Defaults 30 and 86400. */
  minTtlS?: number;
  maxTtlS?: number;
  /** Bound on the reverse map (address -> name). Default 65536. */
  maxNames?: number;
}

export class DnsAllowlist {
  readonly rules: HostRule[];
  readonly defaultAllow: boolean;
  readonly minTtlS: number;
  readonly maxTtlS: number;
  private readonly names = new Map<string, string>();
  /** canonical name -> the alias that pointed at it. */
  private readonly aliases = new Map<string, string>();
  private readonly maxNames: number;

  constructor(rules: HostRule[], opts: DnsAllowlistOptions) {
    this.rules = rules;
    this.defaultAllow = opts.defaultAllow;
    this.minTtlS = opts.minTtlS ?? 30;
    this.maxTtlS = opts.maxTtlS ?? 86400;
    this.maxNames = opts.maxNames ?? 65536;
  }

  /**
   * May the guest resolve (and so reach) this name? A deny rule wins over an allow rule; with
   * neither, the policy's default. Allowed names may still be limited to ports by their rule.
   */
  allowsName(name: string): boolean {
    let allowed = false;
    for (const r of this.rules) {
      if (!r.patterns.some((p) => nameMatches(p, name))) continue;
      if (r.verdict === 'deny') return false;
      allowed = true;
    }
    return allowed || this.defaultAllow;
  }

  /**
   * Records that `name` resolved to `addrs` for ttlS seconds: adds them to the set of every
   * rule naming it (allow and deny alike: a denied name's addresses are then blocked even if the
   * guest learned them elsewhere). Returns how many set entries were added or refreshed.
   */
  learn(name: string, addrs: readonly IpAddr[], ttlS: number): number {
    const n = this.policyName(normalizeName(name));
    const ttl = Math.min(this.maxTtlS, Math.max(this.minTtlS, ttlS));
    let added = 0;
    for (const r of this.rules) {
      if (!r.patterns.some((p) => nameMatches(p, n))) continue;
      for (const a of addrs) if (r.set.add(a, ttl)) added++;
    }
    for (const a of addrs) {
      if (this.names.size >= this.maxNames && !this.names.has(a.key)) {
        const first = this.names.keys().next();
        if (!first.done) this.names.delete(first.value);
      }
      this.names.set(a.key, n);
    }
    return added;
  }

  /**
   * Learns from a whole answer section: follows CNAMEs from `qname` (bounded: 16 links, loops
   * stop) and learns every A/AAAA owned by a name on the chain, under the queried name's policy.
   * The TTL is the smallest along the chain to that record (the alias expires with its link).
   */
  learnAnswer(qname: string, answers: readonly DnsRecord[]): number {
    let cur = normalizeName(qname);
    let ttl = Infinity;
    const seen = new Set<string>();
    const addrs: { a: IpAddr; ttl: number }[] = [];
    for (let hops = 0; hops < 16 && !seen.has(cur); hops++) {
      seen.add(cur);
      let next: string | null = null;
      for (const r of answers) {
        if (normalizeName(r.name) !== cur) continue;
        if (r.data.kind === 'a' || r.data.kind === 'aaaa') addrs.push({ a: r.data.address, ttl: Math.min(ttl, r.ttl) });
        else if (r.data.kind === 'cname' && next === null) {
          next = normalizeName(r.data.name);
          ttl = Math.min(ttl, r.ttl);
        }
      }
      if (next === null) break;
      cur = next;
    }
    let added = 0;
    for (const { a, ttl: t } of addrs) added += this.learn(qname, [a], t);
    return added;
  }

  /**
   * Records a CNAME seen in an answer for an allowed (or denied) name, so that a later
   * learn(target, ...) — a forwarder that learns record by record — is judged under the name the
   * guest asked for. Bounded (oldest forgotten first).
   */
  learnCname(alias: string, target: string): void {
    const a = normalizeName(alias);
    const t = normalizeName(target);
    if (a === t) return;
    if (this.aliases.size >= 4096 && !this.aliases.has(t)) {
      const first = this.aliases.keys().next();
      if (!first.done) this.aliases.delete(first.value);
    }
    this.aliases.set(t, a);
  }

  /** Follows recorded CNAMEs back from a canonical name to the name a rule names (16 links at most). */
  private policyName(n: string): string {
    let cur = n;
    for (let i = 0; i < 16; i++) {
      if (this.rules.some((r) => r.patterns.some((p) => nameMatches(p, cur)))) return cur;
      const up = this.aliases.get(cur);
      if (up === undefined) return n;
      cur = up;
    }
    return n;
  }

  /** The name a guest resolved to reach `addr`, for audit records. */
  hostnameOf(addr: IpAddr): string | undefined {
    return this.names.get(addr.key);
  }
}
