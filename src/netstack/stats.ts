// Counters for everything the stack drops or notices. gVisor's tcpip.Stats in spirit: a malformed
// or refused packet becomes a counter increment per reason ("ipv4.dropped.bad-checksum",
// "udp.dropped.queue-full"), never an exception. Names are dotted: <layer>.<what>[.<reason>].

/** Well-known counter names; any dotted string is accepted so new layers need no edit here. */
export type CounterName =
  | 'eth.dropped.short'
  | 'eth.dropped.not-for-us'
  | 'eth.dropped.unknown-ethertype'
  | 'ipv4.received'
  | 'ipv4.delivered'
  | 'ipv4.forwarded'
  | 'ipv4.sent'
  | 'ipv4.dropped.short'
  | 'ipv4.dropped.bad-version'
  | 'ipv4.dropped.bad-header-length'
  | 'ipv4.dropped.bad-total-length'
  | 'ipv4.dropped.bad-checksum'
  | 'ipv4.dropped.bad-options'
  | 'ipv4.dropped.martian-source'
  | 'ipv4.dropped.not-for-us'
  | 'ipv4.dropped.ttl-exceeded'
  | 'ipv4.dropped.no-route'
  | 'ipv4.dropped.source-route'
  | 'ipv6.received'
  | 'ipv6.delivered'
  | 'ipv6.dropped.bad-extension-header'
  | 'ipv6.frag.dropped.overlap'
  | 'udp.dropped.queue-full'
  | 'udp.dropped.bad-checksum'
  | (string & {});

export class Stats {
  private readonly counters = new Map<string, number>();

  count(name: CounterName, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  get(name: CounterName): number {
    return this.counters.get(name) ?? 0;
  }

  /** Sum of every counter whose name starts with `prefix` (e.g. "ipv4.dropped."). */
  sum(prefix: string): number {
    let s = 0;
    for (const [k, v] of this.counters) if (k.startsWith(prefix)) s += v;
    return s;
  }

  /** A copy of all counters, sorted by name (for logs, /proc-like views and test failures). */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.counters.keys()].sort()) out[k] = this.counters.get(k)!;
    return out;
  }

  reset(): void {
    this.counters.clear();
  }
}
