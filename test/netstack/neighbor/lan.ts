// A virtual Ethernet segment for neighbor tests: FakeHost objects implement NeighborHost, run
// the real ARP/NDP code, and exchange what it sends over a shared VirtualClock with a fixed
// 1 ms latency. IPv6 packets travel as structured records (no IPv6 codec needed here), but the
// ARP payloads and ICMPv6 messages are the exact bytes the code emitted.

import { VirtualClock } from '../../../src/netstack/clock.js';
import { TimerQueue } from '../../../src/netstack/timers.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { IpAddr, IpCidr } from '../../../src/netstack/wire/ip-address.js';
import { createArp, createNdp, solicitedNode } from '../../../src/netstack/neighbor/index.js';
import type { Arp, ArpOptions, Ndp, NdpOptions, NeighborHost } from '../../../src/netstack/neighbor/index.js';

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;

export function mac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((x) => parseInt(x, 16)));
}
export function macText(m: Uint8Array | null): string {
  return m ? [...m].map((x) => x.toString(16).padStart(2, '0')).join(':') : 'null';
}
export const ip = (s: string) => IpAddr.parse(s);

export interface Ip6Packet {
  src: IpAddr;
  dst: IpAddr;
  hopLimit: number;
  nextHeader: number;
  payload: Uint8Array;
}

export interface WireFrame {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  etherType: number;
  payload: Uint8Array;
  ip6?: Ip6Packet;
}

export class Lan {
  readonly clock = new VirtualClock(1_000_000);
  readonly timers = new TimerQueue(this.clock);
  readonly hosts: FakeHost[] = [];
  /** Every frame put on the wire, in order. */
  readonly log: WireFrame[] = [];
  /** Drop frames for which this returns true (loss injection). */
  filter: ((f: WireFrame) => boolean) | null = null;
  latencyMs = 1;

  transmit(from: FakeHost, f: WireFrame): void {
    this.log.push(f);
    if (this.filter?.(f)) return;
    this.timers.after(this.latencyMs, () => {
      for (const h of this.hosts) if (h !== from) h.receive(f);
    });
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }
}

export class FakeHost implements NeighborHost {
  readonly timers: TimerQueue;
  readonly rng: SeededRng;
  readonly mac: Uint8Array;
  v4: IpCidr[] = [];
  v6: { cidr: IpCidr; tentative: boolean; origin?: string; validLifetimeS?: number; preferredLifetimeS?: number }[] = [];
  readonly routers = new Map<string, number>();
  readonly onLink = new Map<string, number>();
  mtu = 1500;
  curHopLimit = 64;
  readonly counts = new Map<string, number>();
  /** IPv4 "data" payloads received (etherType 0x0800), as text. */
  readonly received: string[] = [];
  /** ICMPv6 messages received that are not NDP (or all, for a router stand-in). */
  onIp6: ((p: Ip6Packet) => void) | null = null;
  arp: Arp | null = null;
  ndp: Ndp | null = null;
  readonly sentIp6: Ip6Packet[] = [];
  readonly sentFrames: WireFrame[] = [];

  constructor(
    readonly lan: Lan,
    readonly nicId: number,
    macText: string,
    seed = nicId,
  ) {
    this.timers = lan.timers;
    this.rng = new SeededRng(seed);
    this.mac = mac(macText);
    lan.hosts.push(this);
  }

  withArp(addr: string, opts?: ArpOptions): this {
    this.v4.push(IpCidr.parse(addr));
    this.arp = createArp(this, opts);
    return this;
  }
  withNdp(opts?: NdpOptions): this {
    this.ndp = createNdp(this, opts);
    return this;
  }
  /** Assigns an address directly (not via SLAAC), usable at once unless `tentative`. */
  addV6(addr: string, tentative = false): this {
    this.v6.push({ cidr: IpCidr.parse(addr), tentative });
    return this;
  }

  count(reason: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }
  n(reason: string): number {
    return this.counts.get(reason) ?? 0;
  }

  sendFrame(dstMac: Uint8Array, etherType: number, payload: Uint8Array): void {
    const f: WireFrame = { srcMac: this.mac, dstMac: Uint8Array.from(dstMac), etherType, payload: Uint8Array.from(payload) };
    this.sentFrames.push(f);
    this.lan.transmit(this, f);
  }

  /** What a NIC does: multicast maps to 33:33:xx, unicast goes through the resolver. */
  sendIpv6(p: Ip6Packet): void {
    const pkt: Ip6Packet = { ...p, payload: Uint8Array.from(p.payload) };
    this.sentIp6.push(pkt);
    const put = (dstMac: Uint8Array) =>
      this.lan.transmit(this, { srcMac: this.mac, dstMac: Uint8Array.from(dstMac), etherType: ETH_IPV6, payload: pkt.payload, ip6: pkt });
    if (p.dst.isMulticast()) {
      const b = p.dst.bytes;
      put(Uint8Array.of(0x33, 0x33, b[12], b[13], b[14], b[15]));
      return;
    }
    const m = this.ndp!.resolve(p.dst, put, () => this.count('fake.ip6-unreachable'));
    if (m) put(m);
  }

  /** Sends an IPv4 datagram whose payload is `tag`, resolving the next hop with ARP. */
  sendIp4(dst: IpAddr, tag: string, onFailed = () => this.count('fake.ip4-unreachable')): 'sent' | 'queued' {
    const payload = new TextEncoder().encode(tag);
    const put = (dstMac: Uint8Array) => this.sendFrame(dstMac, ETH_IPV4, payload);
    const m = this.arp!.resolve(dst, put, onFailed);
    if (m) {
      put(m);
      return 'sent';
    }
    return 'queued';
  }

  ipv4Addresses(): readonly IpCidr[] {
    return this.v4;
  }
  ipv6Addresses(): readonly { cidr: IpCidr; tentative: boolean }[] {
    return this.v6;
  }
  addIpv6Address(
    cidr: IpCidr,
    opts: { tentative: boolean; validLifetimeS: number; preferredLifetimeS: number; origin: 'slaac' | 'link-local' },
  ): void {
    // Like the stack's Nic: adding an existing address refreshes its lifetimes only.
    const have = this.v6.find((a) => a.cidr.addr.equals(cidr.addr));
    if (have) {
      this.refreshes++;
      Object.assign(have, { validLifetimeS: opts.validLifetimeS, preferredLifetimeS: opts.preferredLifetimeS });
      return;
    }
    this.v6.push({ cidr, ...opts });
  }
  refreshes = 0;
  removeIpv6Address(addr: IpAddr): void {
    this.v6 = this.v6.filter((a) => !a.cidr.addr.equals(addr));
  }
  setIpv6AddressTentative(addr: IpAddr, tentative: boolean): void {
    const a = this.v6.find((x) => x.cidr.addr.equals(addr));
    if (!a) throw new Error(`no address ${addr}`);
    a.tentative = tentative;
  }
  addDefaultRouter(router: IpAddr, lifetimeS: number): void {
    if (lifetimeS === 0) this.routers.delete(router.key);
    else this.routers.set(router.key, lifetimeS);
  }
  setLinkMtu(mtu: number): void {
    this.mtu = mtu;
  }
  readonly dns = new Map<string, number>();
  setDnsServers(servers: readonly IpAddr[], lifetimeS: number): void {
    for (const x of servers) {
      if (lifetimeS === 0) this.dns.delete(x.key);
      else this.dns.set(x.key, lifetimeS);
    }
  }
  setCurHopLimit(h: number): void {
    this.curHopLimit = h;
  }
  setOnLinkPrefix(prefix: IpCidr, validLifetimeS: number): void {
    if (validLifetimeS === 0) this.onLink.delete(prefix.toString());
    else this.onLink.set(prefix.toString(), validLifetimeS);
  }

  hasV6(addr: string): { tentative: boolean } | undefined {
    return this.v6.find((a) => a.cidr.addr.equals(ip(addr)));
  }

  /** Frame arrival: filter by destination MAC as a NIC would, then hand to ARP/NDP. */
  receive(f: WireFrame): void {
    const d = f.dstMac;
    const mine = d.every((x, i) => x === this.mac[i]);
    const bcast = d.every((x) => x === 0xff);
    const mcast6 = d[0] === 0x33 && d[1] === 0x33 && this.joinedV6(d);
    if (!mine && !bcast && !mcast6) return;
    if (f.etherType === ETH_ARP) this.arp?.handleArp(f.payload);
    else if (f.etherType === ETH_IPV4) this.received.push(new TextDecoder().decode(f.payload));
    else if (f.etherType === ETH_IPV6 && f.ip6) {
      const p = f.ip6;
      if (!this.acceptsV6(p.dst)) return;
      this.onIp6?.(p);
      if (p.nextHeader === 58 && p.payload[0] >= 133 && p.payload[0] <= 137) this.ndp?.handleNdp(p.src, p.dst, p.hopLimit, p.payload);
    }
  }

  /** all-nodes, solicited-node groups of every address (tentative ones too, RFC 4862 §5.4.2). */
  private groups(): IpAddr[] {
    const g = [ip('ff02::1'), ...this.v6.map((a) => solicitedNode(a.cidr.addr))];
    if (this.isRouter) g.push(ip('ff02::2'));
    return g;
  }
  isRouter = false;
  private joinedV6(d: Uint8Array): boolean {
    return this.groups().some((g) => g.bytes[12] === d[2] && g.bytes[13] === d[3] && g.bytes[14] === d[4] && g.bytes[15] === d[5]);
  }
  private acceptsV6(dst: IpAddr): boolean {
    if (dst.isMulticast()) return this.groups().some((g) => g.equals(dst));
    return this.v6.some((a) => a.cidr.addr.equals(dst));
  }
}

/** Entry state of `addr` in a resolver, or 'none'. */
export function stateOf(r: { entries(): { ip: IpAddr; state: string }[] }, addr: string): string {
  return r.entries().find((e) => e.ip.equals(ip(addr)))?.state ?? 'none';
}
export function macOf(r: { entries(): { ip: IpAddr; mac: Uint8Array | null }[] }, addr: string): string {
  return macText(r.entries().find((e) => e.ip.equals(ip(addr)))?.mac ?? null);
}
