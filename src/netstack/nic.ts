// A NIC: one link endpoint, its addresses, its neighbor resolvers, and its transmit queue.
// gVisor's stack.NIC in shape. It parses the Ethernet header (IEEE 802.3; RFC 894 for IPv4 over
// Ethernet, RFC 2464 for IPv6: §7 the 33:33 multicast mapping; RFC 1112 §6.4 for 01:00:5e),
// hands IP to the stack and ARP/NDP to the neighbor module, and batches outgoing frames: the
// stack calls flush() once at the end of each processing step (DESIGN.md "Hot paths").

import { IpAddr, IpCidr } from './wire/ip-address.js';
import type { Frame, FrameOffload, LinkDispatcher, LinkEndpoint } from './link.js';
import type { TimerQueue, Timer } from './timers.js';
import type { Rng } from './random.js';
import type { NeighborHost, NeighborResolver } from './neighbor/index.js';
import { IPV6_HEADER, writeIpv6Header } from './ipv6.js';
import { multicastMacV4, multicastMacV6 } from './wire/ethernet.js';

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const MAC_BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** An ARP resolver as the NIC uses it (the neighbor module's Arp satisfies it). */
export type ArpResolver = NeighborResolver & { handleArp(payload: Uint8Array): void; announce?(ip: IpAddr): void; stop?(): void };
/** An NDP resolver as the NIC uses it (the neighbor module's Ndp satisfies it). */
export type NdpResolver = NeighborResolver & {
  handleNdp(src: IpAddr, dst: IpAddr, hopLimit: number, icmp: Uint8Array): void;
  start?(): void;
  startDad?(addr: IpAddr): void;
  stop?(): void;
};

/** Builds the resolvers of an Ethernet NIC: the neighbor module, or static tables in tests. */
export interface NeighborFactory {
  arp(host: NeighborHost): ArpResolver;
  ndp(host: NeighborHost): NdpResolver;
  /** Run NDP start() (link-local address, DAD, router solicitation) when the NIC comes up. */
  readonly startNdp?: boolean;
  /** Run DAD on addresses added by the user (the neighbor module's startDad). */
  readonly dad?: boolean;
}

export interface Ipv6AddressState {
  readonly cidr: IpCidr;
  tentative: boolean;
  deprecated: boolean;
  readonly origin: 'static' | 'slaac' | 'link-local';
  validTimer: Timer | null;
  preferredTimer: Timer | null;
}

/** The part of the stack a NIC calls back into. */
export interface NicOwner {
  readonly timers: TimerQueue;
  readonly rng: Rng;
  count(reason: string): void;
  requestFlush(): void;
  enterStep(): void;
  leaveStep(): void;
  inputIpv4(nic: Nic, pkt: Uint8Array, offload: FrameOffload | undefined, linkBroadcast: boolean): void;
  inputIpv6(nic: Nic, pkt: Uint8Array, offload: FrameOffload | undefined, linkMulticast: boolean): void;
  /** A prefix appeared or went away on this NIC: connected routes follow it. */
  prefixAdded(nic: Nic, cidr: IpCidr): void;
  prefixRemoved(nic: Nic, cidr: IpCidr): void;
  defaultRouter(nic: Nic, router: IpAddr, lifetimeS: number): void;
  linkStateChanged(nic: Nic, up: boolean): void;
}

export class Nic implements NeighborHost, LinkDispatcher {
  readonly mac: Uint8Array;
  readonly name: string;
  readonly medium: 'ethernet' | 'ip';
  readonly linkHeaderLen: number;
  readonly arp: ArpResolver | null;
  readonly ndp: NdpResolver | null;
  up = true;
  /** Interface counters (what /proc/net/dev and `ip -s link` show). */
  readonly counters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDropped: 0 };
  private mtuValue: number;
  private v4: IpCidr[] = [];
  private v6: Ipv6AddressState[] = [];
  private txQueue: Frame[] = [];
  private readonly factory: NeighborFactory | null;

  constructor(
    private readonly owner: NicOwner,
    readonly nicId: number,
    readonly link: LinkEndpoint,
    neighbors: NeighborFactory | null,
    name?: string,
  ) {
    this.medium = link.caps.medium;
    this.linkHeaderLen = this.medium === 'ethernet' ? ETH_HEADER : 0;
    this.mac = link.mac;
    this.name = name ?? link.name;
    this.mtuValue = link.caps.mtu;
    this.factory = this.medium === 'ethernet' ? neighbors : null;
    this.arp = this.factory ? this.factory.arp(this) : null;
    this.ndp = this.factory ? this.factory.ndp(this) : null;
  }

  /** Called by the stack once it has registered the NIC. */
  start(): void {
    this.link.attach(this);
    if (this.ndp && this.factory?.startNdp) this.ndp.start?.();
  }

  get timers(): TimerQueue {
    return this.owner.timers;
  }
  get rng(): Rng {
    return this.owner.rng;
  }
  get mtu(): number {
    return this.mtuValue;
  }
  get caps() {
    return this.link.caps;
  }

  // ---- addresses ----

  ipv4Addresses(): readonly IpCidr[] {
    return this.v4;
  }
  ipv6Addresses(): readonly { cidr: IpCidr; tentative: boolean }[] {
    return this.v6;
  }
  ipv6AddressStates(): readonly Ipv6AddressState[] {
    return this.v6;
  }

  /** Adds an address by hand ("10.0.0.1/24", "fd00::1/64"). IPv6 ones go through DAD when enabled. */
  addAddress(c: IpCidr | string): void {
    const cidr = typeof c === 'string' ? IpCidr.parse(c) : c;
    if (cidr.family === 4) {
      if (this.v4.some((x) => x.addr.equals(cidr.addr))) return;
      this.v4.push(cidr);
      this.owner.prefixAdded(this, cidr);
      this.arp?.announce?.(cidr.addr);
      return;
    }
    const dad = !!(this.ndp && this.factory?.dad && !cidr.addr.isLoopback());
    this.addIpv6Address(cidr, { tentative: dad, validLifetimeS: Infinity, preferredLifetimeS: Infinity, origin: 'static' });
    if (dad) this.ndp!.startDad?.(cidr.addr);
  }

  removeAddress(a: IpAddr): boolean {
    if (a.family === 4) {
      const i = this.v4.findIndex((x) => x.addr.equals(a));
      if (i < 0) return false;
      const [c] = this.v4.splice(i, 1);
      if (!this.v4.some((x) => x.prefixLen === c.prefixLen && x.contains(c.addr))) this.owner.prefixRemoved(this, c);
      return true;
    }
    const had = this.v6.some((x) => x.cidr.addr.equals(a));
    this.removeIpv6Address(a);
    return had;
  }

  addIpv6Address(
    cidr: IpCidr,
    opts: { tentative: boolean; validLifetimeS: number; preferredLifetimeS: number; origin: 'slaac' | 'link-local' | 'static' },
  ): void {
    let st = this.v6.find((x) => x.cidr.addr.equals(cidr.addr));
    if (!st) {
      st = { cidr, tentative: opts.tentative, deprecated: false, origin: opts.origin, validTimer: null, preferredTimer: null };
      this.v6.push(st);
      if (cidr.prefixLen < 128) this.owner.prefixAdded(this, cidr);
    }
    const s = st;
    // RFC 4862 §5.5.3(e): lifetimes are refreshed by later advertisements; the neighbor module
    // applies the two-hour rule before calling us.
    s.validTimer?.cancel();
    s.preferredTimer?.cancel();
    s.deprecated = opts.preferredLifetimeS <= 0;
    if (Number.isFinite(opts.validLifetimeS)) {
      s.validTimer = this.owner.timers.after(opts.validLifetimeS * 1000, () => this.removeIpv6Address(s.cidr.addr));
    }
    if (Number.isFinite(opts.preferredLifetimeS) && opts.preferredLifetimeS > 0) {
      s.preferredTimer = this.owner.timers.after(opts.preferredLifetimeS * 1000, () => {
        s.deprecated = true;
      });
    }
  }

  removeIpv6Address(addr: IpAddr): void {
    const i = this.v6.findIndex((x) => x.cidr.addr.equals(addr));
    if (i < 0) return;
    const [s] = this.v6.splice(i, 1);
    s.validTimer?.cancel();
    s.preferredTimer?.cancel();
    if (s.cidr.prefixLen < 128 && !this.v6.some((x) => x.cidr.prefixLen === s.cidr.prefixLen && s.cidr.contains(x.cidr.addr))) {
      this.owner.prefixRemoved(this, s.cidr);
    }
  }

  setIpv6AddressTentative(addr: IpAddr, tentative: boolean): void {
    const s = this.v6.find((x) => x.cidr.addr.equals(addr));
    if (s) s.tentative = tentative;
  }

  addDefaultRouter(router: IpAddr, lifetimeS: number): void {
    this.owner.defaultRouter(this, router, lifetimeS);
  }

  /** RFC 4861 §6.3.4: an RA's MTU is accepted between the IPv6 minimum and the link's maximum. */
  setLinkMtu(mtu: number): void {
    if (mtu < 1280 || mtu > this.link.caps.mtu) {
      this.owner.count('nic.ignored-mtu');
      return;
    }
    this.mtuValue = mtu;
  }

  /** Sets the MTU by hand (ip link set mtu); bounded by the link. */
  setMtu(mtu: number): void {
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > this.link.caps.mtu) throw new RangeError(`MTU ${mtu} out of 68..${this.link.caps.mtu}`);
    this.mtuValue = mtu;
  }

  count(reason: string): void {
    this.owner.count(reason);
  }

  // ---- input ----

  deliverFrames(frames: readonly Frame[]): void {
    this.owner.enterStep();
    try {
      for (let i = 0; i < frames.length; i++) this.input(frames[i]);
    } finally {
      this.owner.leaveStep();
    }
  }

  linkStateChanged(up: boolean): void {
    this.up = up;
    this.owner.linkStateChanged(this, up);
  }

  private input(f: Frame): void {
    const d = f.data;
    this.counters.rxFrames++;
    this.counters.rxBytes += d.length;
    if (!this.up) return this.owner.count('nic.dropped.down');
    if (this.medium === 'ip') {
      if (d.length < 1) return this.owner.count('nic.dropped.short');
      const v = d[0] >> 4;
      if (v === 4) return this.owner.inputIpv4(this, d, f.offload, false);
      if (v === 6) return this.owner.inputIpv6(this, d, f.offload, false);
      return this.owner.count('nic.dropped.bad-version');
    }
    if (d.length < ETH_HEADER) return this.owner.count('eth.dropped.short');
    // Accept frames to our MAC, broadcast and multicast (group bit); IP decides on groups.
    const group = (d[0] & 1) !== 0;
    if (!group) {
      for (let i = 0; i < 6; i++) if (d[i] !== this.mac[i]) return this.owner.count('eth.dropped.not-for-us');
    }
    const type = (d[12] << 8) | d[13];
    const payload = d.subarray(ETH_HEADER);
    switch (type) {
      case ETHERTYPE_IPV4:
        return this.owner.inputIpv4(this, payload, f.offload, group);
      case ETHERTYPE_IPV6:
        return this.owner.inputIpv6(this, payload, f.offload, group);
      case ETHERTYPE_ARP:
        if (!this.arp) return this.owner.count('arp.dropped.no-resolver');
        return this.arp.handleArp(payload);
      default:
        return this.owner.count('eth.dropped.unknown-ethertype');
    }
  }

  // ---- output ----

  /**
   * Sends a frame whose first `linkHeaderLen` bytes are room for the link header. `nextHop` is
   * resolved to a MAC unless `kind` says broadcast or multicast (then `group` is the group).
   */
  transmit(
    frame: Uint8Array,
    family: 4 | 6,
    nextHop: IpAddr,
    kind: 'unicast' | 'broadcast' | 'multicast',
    offload?: FrameOffload,
    /** Runs with the IP packet when the next hop cannot be resolved (it is dropped). */
    onUnresolved?: (ipPacket: Uint8Array) => void,
  ): void {
    if (!this.up) return this.owner.count('nic.dropped.down');
    if (this.medium === 'ip') return this.enqueue(frame, offload);
    const etherType = family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
    frame.set(this.mac, 6);
    frame[12] = etherType >> 8;
    frame[13] = etherType & 0xff;
    if (kind === 'broadcast') {
      frame.set(MAC_BROADCAST, 0);
      return this.enqueue(frame, offload);
    }
    if (kind === 'multicast') {
      frame.set(multicastMac(nextHop), 0);
      return this.enqueue(frame, offload);
    }
    const resolver = family === 4 ? this.arp : this.ndp;
    if (!resolver) return this.owner.count('neighbor.dropped.no-resolver');
    const mac = resolver.resolve(
      nextHop,
      (m) => {
        frame.set(m, 0);
        this.enqueue(frame, offload);
      },
      () => {
        this.owner.count(`neighbor.dropped.unresolved-v${family}`);
        onUnresolved?.(frame.subarray(this.linkHeaderLen));
      },
    );
    if (mac) {
      frame.set(mac, 0);
      this.enqueue(frame, offload);
    }
  }

  sendFrame(dstMac: Uint8Array, etherType: number, payload: Uint8Array): void {
    if (this.medium !== 'ethernet') return;
    const frame = new Uint8Array(ETH_HEADER + payload.length);
    frame.set(dstMac, 0);
    frame.set(this.mac, 6);
    frame[12] = etherType >> 8;
    frame[13] = etherType & 0xff;
    frame.set(payload, ETH_HEADER);
    this.enqueue(frame);
  }

  sendIpv6(p: { src: IpAddr; dst: IpAddr; hopLimit: number; nextHeader: number; payload: Uint8Array }): void {
    const frame = new Uint8Array(this.linkHeaderLen + IPV6_HEADER + p.payload.length);
    writeIpv6Header(frame, this.linkHeaderLen, {
      trafficClass: 0,
      flowLabel: 0,
      payloadLen: p.payload.length,
      nextHeader: p.nextHeader,
      hopLimit: p.hopLimit,
      src: p.src,
      dst: p.dst,
    });
    frame.set(p.payload, this.linkHeaderLen + IPV6_HEADER);
    this.transmit(frame, 6, p.dst, p.dst.isMulticast() ? 'multicast' : 'unicast');
  }

  private enqueue(data: Uint8Array, offload?: FrameOffload): void {
    this.txQueue.push(offload ? { data, offload } : { data });
    this.owner.requestFlush();
  }

  /** Hands queued frames to the link in one batch. */
  flush(): void {
    if (this.txQueue.length === 0) return;
    const q = this.txQueue;
    this.txQueue = [];
    const n = this.link.writeFrames(q);
    this.counters.txFrames += n;
    for (let i = 0; i < n; i++) this.counters.txBytes += q[i].data.length;
    if (n < q.length) {
      this.counters.txDropped += q.length - n;
      this.owner.count('nic.dropped.tx-queue-full');
    }
  }

  get pendingFrames(): number {
    return this.txQueue.length;
  }
}

/** RFC 1112 §6.4 (01:00:5e + low 23 bits) and RFC 2464 §7 (33:33 + low 32 bits). */
export function multicastMac(group: IpAddr): Uint8Array {
  return group.family === 4 ? multicastMacV4(group) : multicastMacV6(group);
}

/**
 * Static neighbor tables, for tests and for links where resolution is pointless: resolve()
 * answers from the table or fails at once. `table` may be shared by several stacks.
 */
export class StaticNeighbors implements NeighborFactory {
  readonly startNdp = false;
  readonly dad = false;
  readonly table = new Map<string, Uint8Array>();

  /** Records every address of `nic` under its MAC (call after addresses are configured). */
  learn(nic: Nic): void {
    for (const c of nic.ipv4Addresses()) this.table.set(c.addr.key, nic.mac);
    for (const c of nic.ipv6Addresses()) this.table.set(c.cidr.addr.key, nic.mac);
  }

  arp(_host: NeighborHost): ArpResolver {
    return { ...this.resolver(), handleArp: () => _host.count('arp.ignored.static') };
  }
  ndp(host: NeighborHost): NdpResolver {
    return { ...this.resolver(), handleNdp: () => host.count('ndp.ignored.static') };
  }

  private resolver(): NeighborResolver {
    const table = this.table;
    return {
      resolve(ip, _ok, fail) {
        const m = table.get(ip.key);
        if (m) return m;
        fail();
        return null;
      },
      addStatic(ip, mac) {
        table.set(ip.key, Uint8Array.from(mac));
      },
      confirm() {},
      entries() {
        return [...table].map(([k, mac]) => ({ ip: IpAddr.parse(k), mac, state: 'PERMANENT' }));
      },
      remove(ip) {
        table.delete(ip.key);
      },
    };
  }
}
