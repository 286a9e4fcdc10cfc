// The stack: NICs, routes, IPv4/IPv6 input and output, forwarding, fragmentation, ICMP, and the
// registry of transport protocols, all built from injected parts (clock, rng, links, filter,
// transports, neighbor resolution). gVisor's stack.Stack in shape. Read first: RFC 1122 §3
// (host IP), RFC 1812 §5 (forwarding), RFC 791, RFC 8200, RFC 4443, RFC 6724 (source selection).
//
// Processing happens in steps: a batch of received frames, a timer firing, or an API call.
// Frames produced during a step are queued on their NIC and flushed once when the step ends
// (flush()); API calls outside a step arm a zero-delay wakeup that flushes.

import { IpAddr, IpCidr } from './wire/ip-address.js';
import { finishPartialChecksum, foldSum, pseudoHeaderSum, sumWords } from './wire/checksum.js';
import type { Clock, WakeupHandle } from './clock.js';
import { TimerQueue } from './timers.js';
import { SeededRng, type Rng } from './random.js';
import type { FrameOffload, LinkEndpoint } from './link.js';
import type { NetError, NetResult } from './errors.js';
import type {
  FlowOwner,
  IpDelivery,
  IpSendParams,
  NetworkLayer,
  RouteInfo,
  TransportError,
  TransportProtocol,
} from './transport.js';
import { Stats } from './stats.js';
import { RouteTable } from './route.js';
import { LINUX_MIN_PMTU, PmtuCache, type PmtuOptions } from './pmtu.js';
import { Nic, type NeighborFactory, type NicOwner } from './nic.js';
import { createArp, createNdp, type ArpOptions, type NdpOptions } from './neighbor/index.js';
import { isIpv4Reject, isMartianSourceV4, parseIpv4Header, setIpv4Checksum, writeIpv4Header, type Ipv4Header } from './ipv4.js';
import {
  IPV6_FRAG_HEADER,
  IPV6_HEADER,
  NH_FRAGMENT,
  NH_ICMPV6,
  NH_NONE,
  commonPrefixLen,
  parseIpv6Header,
  scopeOf,
  walkExtensions,
  writeFragmentHeader,
  writeIpv6Header,
  type Ipv6Header,
} from './ipv6.js';
import { Reassembler, fragmentRanges, type ReassemblyOptions } from './fragment.js';
import { DEFAULT_ICMP_RATE_LIMIT, ICMP4, ICMP4_UNREACH, ICMP6, ICMP6_UNREACH, Icmp, type EchoSink, type IcmpHost, type IcmpRateLimitOptions, type OffendingPacket4 } from './icmp.js';
import { UdpProtocol, type UdpOptions } from './udp.js';
import { EchoProtocol } from './echo.js';
import { segmentTcp } from './gso.js';
import { LoopbackLink } from './links/loopback.js';

// ---- filter hook points (the policy layer implements FilterHooks later) ----

export type HookPoint = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';
export const HOOK_POINTS: readonly HookPoint[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

/** What a hook sees of a packet. Views: copy to keep. */
export interface FilterPacket {
  readonly hook: HookPoint;
  readonly family: 4 | 6;
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly protocol: number;
  /**
   * The transport header and data (ports at offset 0). For a non-initial fragment seen at
   * PREROUTING/FORWARD this is fragment data, and `fragment` is true.
   */
  readonly transport: Uint8Array;
  readonly fragment: boolean;
  /** Length of the whole IP datagram. */
  readonly length: number;
  readonly inNic?: number;
  readonly outNic?: number;
  readonly owner?: FlowOwner;
  /**
   * The whole IP datagram, owned by the stack for this packet: a hook may rewrite it (NAT). The
   * stack re-reads the addresses after PREROUTING, OUTPUT and POSTROUTING and routes again when
   * OUTPUT changed the destination (PREROUTING's change is seen by the routing decision that
   * follows it). A rewriting hook keeps the IPv4 header checksum valid and adjusts transport
   * checksums incrementally (RFC 1624), except when `checksumPartial` is set: then the field
   * holds a pseudo-header sum that the stack recomputes itself.
   */
  readonly packet?: Uint8Array;
  /** The transport checksum is CHECKSUM_PARTIAL (locally generated with offload semantics). */
  readonly checksumPartial?: boolean;
  /**
   * One object per packet, the same at every hook the packet passes (PREROUTING then INPUT or
   * FORWARD and POSTROUTING; OUTPUT then POSTROUTING): where a filter keeps the packet's mark
   * and its conntrack entry between hooks (Linux's skb->mark and skb->_nfct).
   */
  readonly ctx?: FilterContext;
}

/** Per-packet state a filter carries from hook to hook. */
export interface FilterContext {
  mark: number;
  conn: unknown;
  /** Free for the filter alongside `conn` (the conntrack state and direction: Linux's ctinfo). */
  info?: number;
}

/**
 * `drop` names the reason (counted); `error` is what a local sender's send returns when OUTPUT
 * or POSTROUTING drops its packet (default EPERM: Linux returns it for DROP and REJECT alike,
 * a REJECT's RST or ICMP error then reaching the socket on its own).
 */
export type FilterVerdict = 'accept' | { readonly drop: string; readonly error?: NetError };

/**
 * Netfilter's five hook points. Every method is optional; a missing one accepts. A drop is
 * counted as `filter.<HOOK>.dropped.<reason>`; an OUTPUT drop fails the send with EPERM.
 */
export interface FilterHooks {
  PREROUTING?(p: FilterPacket): FilterVerdict;
  INPUT?(p: FilterPacket): FilterVerdict;
  FORWARD?(p: FilterPacket): FilterVerdict;
  OUTPUT?(p: FilterPacket): FilterVerdict;
  POSTROUTING?(p: FilterPacket): FilterVerdict;
}

export interface StackOptions {
  clock: Clock;
  /** Default: a SeededRng(1) — pass a CSPRNG-backed Rng in production. */
  rng?: Rng;
  /** IP forwarding (RFC 1812); off by default, per family. */
  forwarding?: boolean | { v4?: boolean; v6?: boolean };
  /** Default TTL / hop limit (64, as Linux). */
  defaultTtl?: number;
  filter?: FilterHooks;
  /** Transport protocols to register (TCP plugs in here). */
  transports?: (net: NetworkLayer) => TransportProtocol[];
  /** Neighbor resolution for Ethernet NICs; default: the neighbor module (ARP, NDP). */
  neighbors?: NeighborFactory;
  arp?: ArpOptions;
  ndp?: NdpOptions;
  /** Create the loopback NIC (127.0.0.1/8, ::1/128); default true. */
  loopback?: boolean;
  icmpRateLimit?: Partial<IcmpRateLimitOptions>;
  reassembly?: { v4?: Partial<ReassemblyOptions>; v6?: Partial<ReassemblyOptions> };
  udp?: UdpOptions;
  pmtu?: PmtuOptions;
}

export interface AddNicOptions {
  name?: string;
  addresses?: (IpCidr | string)[];
}

interface ResolvedRoute {
  nic: Nic;
  nextHop: IpAddr;
  gateway: IpAddr | null;
  src: IpAddr;
  mtu: number;
  kind: 'unicast' | 'broadcast' | 'multicast';
}

type DstKind = 'unicast' | 'broadcast' | 'multicast' | null;

/** The default neighbor module, with the stack's options. */
function moduleNeighbors(arp?: ArpOptions, ndp?: NdpOptions): NeighborFactory {
  return {
    startNdp: true,
    dad: true,
    arp: (h) => createArp(h, arp),
    ndp: (h) => createNdp(h, ndp),
  };
}

export class Stack implements NetworkLayer, IcmpHost, NicOwner {
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  readonly stats = new Stats();
  readonly routes = new RouteTable();
  readonly pmtu: PmtuCache;
  readonly udp: UdpProtocol;
  readonly echo4: EchoProtocol;
  readonly echo6: EchoProtocol;
  readonly icmp: Icmp;
  readonly loopbackNic: Nic | null;
  defaultTtl: number;
  filter: FilterHooks | null;
  private forward4: boolean;
  private forward6: boolean;
  private readonly nics = new Map<number, Nic>();
  private nextNicId = 1;
  private readonly transports = new Map<number, TransportProtocol>();
  private readonly neighbors: NeighborFactory;
  private readonly reasm4: Reassembler;
  private readonly reasm6: Reassembler;
  private depth = 0;
  private flushPending = false;
  private readonly flushWake: WakeupHandle;
  /** IPv4 ID counters, one per hash bucket of (src, dst, protocol), as Linux's ip_idents. */
  private readonly ipIds = new Uint16Array(2048);
  private readonly ipIdKey: number;
  /** IPv6 fragment identifications, per hash bucket of (src, dst) (RFC 7739 §5.1). */
  private readonly fragIds = new Uint32Array(1024);
  private readonly groups = new Set<string>();
  private closed = false;

  constructor(opts: StackOptions) {
    this.clock = opts.clock;
    this.rng = opts.rng ?? new SeededRng(1);
    // Timers fire inside a processing step, so what they send is flushed when they return.
    const stepClock: Clock = {
      now: () => this.clock.now(),
      wakeup: (fn) =>
        this.clock.wakeup(() => {
          this.enterStep();
          try {
            fn();
          } finally {
            this.leaveStep();
          }
        }),
    };
    this.timers = new TimerQueue(stepClock);
    this.flushWake = this.clock.wakeup(() => {
      this.flushPending = false;
      this.flush();
    });
    const fw = opts.forwarding;
    this.forward4 = fw === true || (typeof fw === 'object' && !!fw.v4);
    this.forward6 = fw === true || (typeof fw === 'object' && !!fw.v6);
    this.defaultTtl = opts.defaultTtl ?? 64;
    this.filter = opts.filter ?? null;
    this.neighbors = opts.neighbors ?? moduleNeighbors(opts.arp, opts.ndp);
    // Linux's default net.ipv4.route.min_pmtu unless the caller sets another floor.
    this.pmtu = new PmtuCache(() => this.clock.now(), { ...opts.pmtu, minPmtu: opts.pmtu?.minPmtu ?? LINUX_MIN_PMTU });
    this.icmp = new Icmp(this, () => this.clock.now(), { ...DEFAULT_ICMP_RATE_LIMIT, ...opts.icmpRateLimit });
    this.reasm4 = new Reassembler(
      this.timers,
      { timeoutMs: 30_000, maxBytes: 4 << 20, maxDatagrams: 1024, maxPayload: 65535 - 20, ...opts.reassembly?.v4 },
      (r) => this.stats.count(`ipv4.frag.${r}`),
      (first) => this.reassemblyTimeout4(first),
    );
    this.reasm6 = new Reassembler(
      this.timers,
      { timeoutMs: 60_000, maxBytes: 4 << 20, maxDatagrams: 1024, maxPayload: 65535, ...opts.reassembly?.v6 },
      (r) => this.stats.count(`ipv6.frag.${r}`),
      (first) => this.reassemblyTimeout6(first),
    );
    this.rng.fill(new Uint8Array(this.ipIds.buffer));
    this.ipIdKey = this.rng.u32();
    this.rng.fill(new Uint8Array(this.fragIds.buffer));
    this.udp = new UdpProtocol(this, this.stats, (a) => this.isBroadcastV4(a), opts.udp);
    this.registerTransport(this.udp);
    this.echo4 = new EchoProtocol(4, this, this.stats);
    this.echo6 = new EchoProtocol(6, this, this.stats);
    if (opts.loopback ?? true) {
      this.loopbackNic = this.addNic(new LoopbackLink(this.clock), { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'] });
    } else {
      this.loopbackNic = null;
    }
    for (const t of opts.transports?.(this) ?? []) this.registerTransport(t);
  }

  // ---- configuration ----

  addNic(link: LinkEndpoint, opts: AddNicOptions = {}): Nic {
    if (this.closed) throw new Error('Stack.addNic: stack is closed');
    const nic = new Nic(this, this.nextNicId++, link, this.neighbors, opts.name);
    this.nics.set(nic.nicId, nic);
    this.enterStep();
    try {
      nic.start();
      for (const a of opts.addresses ?? []) nic.addAddress(a);
    } finally {
      this.leaveStep();
    }
    return nic;
  }

  /** Detaches a NIC: its routes go, its link is closed, queued frames are dropped. */
  removeNic(nic: Nic | number): boolean {
    const n = typeof nic === 'number' ? this.nics.get(nic) : nic;
    if (!n || !this.nics.has(n.nicId) || n === this.loopbackNic) return false;
    n.ndp?.stop?.();
    this.nics.delete(n.nicId);
    this.routes.remove((r) => r.nicId === n.nicId);
    this.bcastCache = null;
    n.up = false;
    n.link.close();
    return true;
  }

  nic(id: number): Nic | undefined {
    return this.nics.get(id);
  }
  nicList(): Nic[] {
    return [...this.nics.values()];
  }
  nicByName(name: string): Nic | undefined {
    for (const n of this.nics.values()) if (n.name === name) return n;
    return undefined;
  }

  /** Adds a route: `addRoute('0.0.0.0/0', nic, '10.0.0.1')`. */
  addRoute(dest: IpCidr | string, nic: Nic | number, gateway?: IpAddr | string | null, metric = 0): void {
    const gw = typeof gateway === 'string' ? IpAddr.parse(gateway) : (gateway ?? null);
    this.routes.add({ dest, gateway: gw, nicId: typeof nic === 'number' ? nic : nic.nicId, metric, origin: 'static' });
  }

  registerTransport(p: TransportProtocol): void {
    if (p.protocol === 1 || p.protocol === 58) throw new Error(`protocol ${p.protocol} is the stack's own ICMP`);
    if (this.transports.has(p.protocol) && this.transports.get(p.protocol) !== p) {
      throw new Error(`transport protocol ${p.protocol} is already registered`);
    }
    this.transports.set(p.protocol, p);
  }
  transport(protocol: number): TransportProtocol | undefined {
    return this.transports.get(protocol);
  }

  setForwarding(family: 4 | 6, on: boolean): void {
    if (family === 4) this.forward4 = on;
    else this.forward6 = on;
  }
  forwarding(family: 4 | 6): boolean {
    return family === 4 ? this.forward4 : this.forward6;
  }

  /** Receive datagrams sent to a multicast group (no IGMP/MLD reports are sent). */
  joinGroup(group: IpAddr): void {
    if (!group.isMulticast()) throw new RangeError(`${group} is not a multicast address`);
    this.groups.add(group.key);
  }
  leaveGroup(group: IpAddr): void {
    this.groups.delete(group.key);
  }

  close(): void {
    this.closed = true;
    this.reasm4.clear();
    this.reasm6.clear();
    for (const n of this.nics.values()) {
      n.arp?.stop?.();
      n.ndp?.stop?.();
      n.link.close();
    }
    // Every protocol timer (TCP retransmit, TIME_WAIT, reassembly, ...) dies with the stack:
    // with a real clock an armed one would keep the process alive after close.
    this.timers.clear();
    this.flushWake.disarm();
  }

  // ---- steps and flushing ----

  enterStep(): void {
    this.depth++;
  }
  leaveStep(): void {
    if (--this.depth === 0) this.flush();
  }
  requestFlush(): void {
    if (this.depth > 0 || this.flushPending) return;
    this.flushPending = true;
    this.flushWake.arm(this.clock.now());
  }
  /** Hands every NIC's queued frames to its link, one batch per NIC. */
  flush(): void {
    for (const n of this.nics.values()) n.flush();
  }

  count(reason: string): void {
    this.stats.count(reason);
  }

  // ---- NicOwner callbacks ----

  prefixAdded(nic: Nic, cidr: IpCidr): void {
    this.bcastCache = null;
    if (nic === this.loopbackNic) return;
    this.routes.add({ dest: cidr, nicId: nic.nicId, metric: cidr.family === 6 ? 256 : 0, origin: 'connected' });
  }
  prefixRemoved(nic: Nic, cidr: IpCidr): void {
    this.bcastCache = null;
    const net = IpCidr.of(cidr.network(), cidr.prefixLen).toString();
    this.routes.remove((r) => r.origin === 'connected' && r.nicId === nic.nicId && r.dest.toString() === net);
  }
  private readonly routerTimers = new Map<string, ReturnType<TimerQueue['after']>>();
  defaultRouter(nic: Nic, router: IpAddr, lifetimeS: number): void {
    const key = `${nic.nicId}|${router.key}`;
    this.routerTimers.get(key)?.cancel();
    this.routerTimers.delete(key);
    const match = (r: { origin: string; nicId: number; gateway: IpAddr | null }) =>
      r.origin === 'ra' && r.nicId === nic.nicId && !!r.gateway && r.gateway.equals(router);
    if (lifetimeS <= 0) {
      this.routes.remove(match);
      return;
    }
    // RFC 4861 §6.3.4: a default router with its lifetime; Linux gives RA routes metric 1024.
    this.routes.add({ dest: '::/0', gateway: router, nicId: nic.nicId, metric: 1024, origin: 'ra' });
    if (Number.isFinite(lifetimeS)) {
      this.routerTimers.set(
        key,
        this.timers.after(lifetimeS * 1000, () => {
          this.routerTimers.delete(key);
          this.routes.remove(match);
        }),
      );
    }
  }
  linkStateChanged(nic: Nic, up: boolean): void {
    this.stats.count(up ? 'nic.link-up' : 'nic.link-down');
    void nic;
  }

  // ---- addresses ----

  isLocalAddress(a: IpAddr, nicId?: number): boolean {
    if (a.family === 4 && a.bytes[0] === 127 && this.loopbackNic && (nicId === undefined || nicId === this.loopbackNic.nicId)) return true;
    const check = (n: Nic) =>
      a.family === 4
        ? n.ipv4Addresses().some((c) => c.addr.equals(a))
        : n.ipv6Addresses().some((s) => !s.tentative && s.cidr.addr.equals(a));
    if (nicId !== undefined) {
      const n = this.nics.get(nicId);
      return !!n && check(n);
    }
    for (const n of this.nics.values()) if (check(n)) return true;
    return false;
  }

  /** The limited broadcast, or the directed broadcast of a prefix we have. */
  isBroadcastV4(a: IpAddr, nic?: Nic): boolean {
    if (a.family !== 4) return false;
    if (a.key === '255.255.255.255') return true;
    // Asked on every send and route lookup: keep the directed broadcasts per NIC in sets.
    let cache = this.bcastCache;
    if (!cache) {
      cache = new Map();
      for (const n of this.nics.values()) {
        const set = new Set<string>();
        // RFC 3021: /31 and /32 prefixes have no broadcast address.
        for (const c of n.ipv4Addresses()) if (c.prefixLen < 31) set.add(c.broadcast().key);
        cache.set(n.nicId, set);
      }
      this.bcastCache = cache;
    }
    if (nic) return cache.get(nic.nicId)?.has(a.key) ?? false;
    for (const set of cache.values()) if (set.has(a.key)) return true;
    return false;
  }
  private bcastCache: Map<number, Set<string>> | null = null;
  /** The FilterContext of the packet being processed (see FilterPacket.ctx). */
  private pktCtx: FilterContext | null = null;

  private dstKind4(nic: Nic, dst: IpAddr): DstKind {
    if (this.isLocalAddress(dst)) return 'unicast';
    if (nic === this.loopbackNic && dst.bytes[0] === 127) return 'unicast';
    if (this.isBroadcastV4(dst, nic)) return 'broadcast';
    if (dst.isMulticast()) {
      // 224.0.0.1 is joined by every host (RFC 1112 §4).
      return dst.toU32() === 0xe0000001 || this.groups.has(dst.key) ? 'multicast' : null;
    }
    return null;
  }

  private dstKind6(nic: Nic, dst: IpAddr): DstKind | 'not-member' {
    if (!dst.isMulticast()) return this.isLocalAddress(dst) ? 'unicast' : null;
    const b = dst.bytes;
    const scope = b[1] & 0x0f;
    const low = b[15] === 1 && b.subarray(2, 15).every((x) => x === 0);
    // All-nodes (RFC 4291 §2.7.1), all-routers when forwarding, solicited-node of our addresses.
    if (low && (scope === 1 || scope === 2)) return 'multicast';
    if (b[15] === 2 && scope <= 5 && b.subarray(2, 15).every((x) => x === 0) && this.forward6) return 'multicast';
    if (b[1] === 0x02 && b[11] === 1 && b[12] === 0xff) {
      for (const s of nic.ipv6Addresses()) {
        const a = s.cidr.addr.bytes;
        if (a[13] === b[13] && a[14] === b[14] && a[15] === b[15]) return 'multicast';
      }
    }
    return this.groups.has(dst.key) ? 'multicast' : 'not-member';
  }

  /** Source address for `dst` leaving through `nic` (RFC 6724 §5, the rules that matter here). */
  private selectSource(nic: Nic, dst: IpAddr): IpAddr | null {
    if (dst.family === 4) {
      const list = nic.ipv4Addresses();
      const on = list.find((c) => c.contains(dst)) ?? list[0];
      if (on) return on.addr;
      for (const n of this.nics.values()) if (n !== this.loopbackNic && n.ipv4Addresses()[0]) return n.ipv4Addresses()[0].addr;
      return null;
    }
    const want = Math.min(scopeOf(dst), 14);
    let best: IpAddr | null = null;
    let bestKey = -Infinity;
    const consider = (n: Nic, sameNic: boolean) => {
      for (const s of n.ipv6AddressStates()) {
        if (s.tentative) continue;
        const a = s.cidr.addr;
        const sc = scopeOf(a);
        if (sc < want && !(sc === 1 && dst.isLoopback())) continue; // rule 2: scope must cover dst
        // Rule 1 same address, rule 2 closest scope, rule 3 avoid deprecated, rule 8 longest prefix.
        const key = (a.equals(dst) ? 1e6 : 0) + (sameNic ? 1e5 : 0) - Math.abs(sc - want) * 1e3 - (s.deprecated ? 500 : 0) + commonPrefixLen(a, dst);
        if (key > bestKey) {
          best = a;
          bestKey = key;
        }
      }
    };
    consider(nic, true);
    if (!best && want > 2) for (const n of this.nics.values()) if (n !== nic) consider(n, false);
    return best;
  }

  private resolveRoute(dst: IpAddr, src: IpAddr | null, nicId?: number): NetResult<ResolvedRoute> {
    if (src && !src.isUnspecified()) {
      if (src.family !== dst.family) return 'EINVAL';
      if (!this.isLocalAddress(src)) return 'EADDRNOTAVAIL';
    }
    const pick = (nic: Nic, gateway: IpAddr | null, kind: ResolvedRoute['kind']): NetResult<ResolvedRoute> => {
      const s = src && !src.isUnspecified() ? src : this.selectSource(nic, dst);
      if (!s) return 'EADDRNOTAVAIL';
      const learned = kind === 'unicast' ? this.pmtu.get(dst) : null;
      const mtu = learned !== null ? Math.min(learned, nic.mtu) : nic.mtu;
      return { nic, nextHop: gateway ?? dst, gateway, src: s, mtu, kind };
    };
    // Our own addresses go through loopback (Linux's local table).
    if (this.loopbackNic && (dst.isLoopback() || this.isLocalAddress(dst)) && (nicId === undefined || this.isLocalAddress(dst, nicId) || nicId === this.loopbackNic.nicId)) {
      return this.localRoute(dst, src);
    }
    if (dst.family === 4 && dst.equals(IpAddr.BROADCAST4)) {
      const nic = this.pickNic(dst, nicId, 4);
      if (!nic) return 'ENETUNREACH';
      return pick(nic, null, 'broadcast');
    }
    if (dst.isMulticast()) {
      const nic = this.pickNic(dst, nicId, dst.family);
      if (!nic) return 'ENETUNREACH';
      return pick(nic, null, 'multicast');
    }
    const r = this.routes.lookup(dst, nicId);
    if (!r) return 'ENETUNREACH';
    const nic = this.nics.get(r.nicId);
    if (!nic || !nic.up) return 'ENETUNREACH';
    const kind = r.gateway === null && this.isBroadcastV4(dst, nic) ? 'broadcast' : 'unicast';
    return pick(nic, r.gateway, kind);
  }

  private localRoute(dst: IpAddr, src: IpAddr | null): ResolvedRoute {
    const lo = this.loopbackNic!;
    const s = src && !src.isUnspecified() ? src : dst;
    return { nic: lo, nextHop: dst, gateway: null, src: s, mtu: lo.mtu, kind: 'unicast' };
  }

  private pickNic(dst: IpAddr, nicId: number | undefined, family: 4 | 6): Nic | null {
    if (nicId !== undefined) return this.nics.get(nicId) ?? null;
    const r = this.routes.lookup(dst) ?? this.routes.lookup(family === 4 ? IpAddr.ANY4 : IpAddr.ANY6);
    if (r) return this.nics.get(r.nicId) ?? null;
    for (const n of this.nics.values()) {
      if (n === this.loopbackNic) continue;
      if (family === 4 ? n.ipv4Addresses().length > 0 : n.ipv6Addresses().length > 0) return n;
    }
    return null;
  }

  route(dst: IpAddr, src?: IpAddr | null, nicId?: number): NetResult<RouteInfo> {
    const r = this.resolveRoute(dst, src ?? null, nicId);
    if (typeof r === 'string') return r;
    const caps = r.nic.caps;
    return {
      src: r.src,
      nicId: r.nic.nicId,
      mtu: r.mtu,
      nextHop: r.gateway,
      checksumOffload: caps.txChecksumOffload,
      gsoMaxSize: caps.txChecksumOffload ? caps.gsoMaxSize : 0,
    };
  }

  // ---- hooks ----

  private hook(p: FilterPacket): boolean {
    return this.hookVerdict(p) === 'accept';
  }

  /** Callers build the whole FilterPacket (hook and ctx included): one object per hook, no copies. */
  private hookVerdict(p: FilterPacket): FilterVerdict {
    const point = p.hook;
    const f = this.filter?.[point];
    if (!f) return 'accept';
    const v = f.call(this.filter, p);
    if (v === 'accept') return v;
    this.stats.count(`filter.${point}.dropped.${v.drop}`);
    return v;
  }

  // ---- output ----

  sendIp(p: IpSendParams): NetResult<void> {
    if (this.closed) return 'ENETDOWN';
    if (p.src.family !== p.dst.family) return 'EINVAL';
    let r = this.resolveRoute(p.dst, p.src.isUnspecified() ? null : p.src, p.nicId);
    if (typeof r === 'string') {
      this.stats.count(`ipv${p.dst.family}.out.no-route`);
      return r;
    }
    if (this.filter && (this.filter.OUTPUT || this.filter.POSTROUTING)) {
      const f = this.filterOutput(p, r);
      if (typeof f === 'string') return f;
      p = f.p;
      r = f.r;
    }
    const payload = p.payload ?? EMPTY;
    const family = p.dst.family;
    const ttl = p.ttl ?? this.defaultTtl;
    const tos = p.tos ?? 0;
    const caps = r.nic.caps;
    const ipHdr = family === 4 ? 20 : IPV6_HEADER;
    const gso = p.gso;
    if (gso && payload.length > gso.mss) {
      const total = ipHdr + p.header.length + payload.length;
      const hw = caps.gsoMaxSize > 0 && caps.txChecksumOffload && total <= caps.gsoMaxSize && total <= 65535 && p.checksumOffset !== undefined;
      if (hw) {
        const L = r.nic.linkHeaderLen;
        const offload: FrameOffload = {
          csumStart: L + ipHdr,
          csumOffset: p.checksumOffset,
          gsoType: family === 4 ? 'tcpv4' : 'tcpv6',
          gsoSize: gso.mss,
          hdrLen: L + ipHdr + p.header.length,
        };
        return this.emit(r, p, p.header, payload, ttl, tos, offload, p.checksumOffset);
      }
      // DESIGN.md: segment in software when the link cannot.
      this.stats.count('gso.software');
      for (const seg of segmentTcp(p.header, payload, gso.mss)) {
        // Every segment needs its own checksum, whoever computed the aggregate's (TCP's field is at 16).
        const res = this.emit(r, p, seg.header, seg.payload, ttl, tos, undefined, p.checksumOffset ?? TCP_CSUM_OFFSET);
        if (typeof res === 'string') return res;
      }
      return;
    }
    return this.emit(r, p, p.header, payload, ttl, tos, undefined, p.checksumOffset);
  }

  /**
   * OUTPUT and POSTROUTING for a locally generated datagram. The hooks see it whole (built here,
   * so they may rewrite it); what they leave is what gets sent, routed again if OUTPUT moved
   * the destination (Linux's ip_route_me_harder after NAT).
   */
  private filterOutput(p: IpSendParams, r: ResolvedRoute): NetResult<{ p: IpSendParams; r: ResolvedRoute }> {
    // A send can happen while an arriving packet is being processed (an answer from a socket
    // callback, an ICMP error): keep that packet's context.
    const outer = this.pktCtx;
    this.pktCtx = { mark: 0, conn: undefined, info: 0 };
    try {
      return this.filterOutputHooks(p, r);
    } finally {
      this.pktCtx = outer;
    }
  }

  private filterOutputHooks(p: IpSendParams, r: ResolvedRoute): NetResult<{ p: IpSendParams; r: ResolvedRoute }> {
    const family = p.dst.family;
    const ipHdr = family === 4 ? 20 : IPV6_HEADER;
    const payload = p.payload ?? EMPTY;
    const tlen = p.header.length + payload.length;
    if (ipHdr + tlen > 65535 + (family === 6 ? IPV6_HEADER : 0)) return 'EMSGSIZE';
    const dg = new Uint8Array(ipHdr + tlen);
    const ttl = p.ttl ?? this.defaultTtl;
    if (family === 4) {
      writeIpv4Header(dg, 0, { tos: p.tos ?? 0, totalLen: dg.length, id: 0, df: !!p.dontFragment, mf: false, fragOffset: 0, ttl, protocol: p.protocol, src: p.src, dst: p.dst });
    } else {
      writeIpv6Header(dg, 0, { trafficClass: p.tos ?? 0, flowLabel: 0, payloadLen: tlen, nextHeader: p.protocol, hopLimit: ttl, src: p.src, dst: p.dst });
    }
    dg.set(p.header, ipHdr);
    dg.set(payload, ipHdr + p.header.length);
    const aOff = family === 4 ? 12 : 8;
    const aLen = family === 4 ? 4 : 16;
    let src = p.src;
    let dst = p.dst;
    const transport = dg.subarray(ipHdr);
    const partial = p.checksumOffset !== undefined;
    for (let k = 0; k < 2; k++) {
      const point: HookPoint = k === 0 ? 'OUTPUT' : 'POSTROUTING';
      const v = this.hookVerdict({
        hook: point,
        ctx: this.pktCtx ?? undefined,
        family,
        src,
        dst,
        protocol: p.protocol,
        transport,
        fragment: false,
        length: dg.length,
        outNic: r.nic.nicId,
        owner: p.owner,
        packet: dg,
        checksumPartial: partial,
      });
      if (v !== 'accept') return v.error ?? 'EPERM';
      const nsrc = sameBytes(dg, aOff, src.bytes) ? src : IpAddr.read(family, dg, aOff);
      const ndst = sameBytes(dg, aOff + aLen, dst.bytes) ? dst : IpAddr.read(family, dg, aOff + aLen);
      if (point === 'OUTPUT' && ndst !== dst) {
        const r2 = this.resolveRoute(ndst, this.isLocalAddress(nsrc) ? nsrc : null, p.nicId);
        if (typeof r2 === 'string') return r2;
        r = r2;
        this.stats.count('filter.OUTPUT.rerouted');
      }
      src = nsrc;
      dst = ndst;
    }
    const header = dg.subarray(ipHdr, ipHdr + p.header.length);
    return { p: { ...p, src, dst, header, payload: dg.subarray(ipHdr + p.header.length) }, r };
  }

  /**
   * Sends a complete IP datagram built elsewhere (a REJECT rule's TCP RST or ICMP error, which
   * carries the rejected packet's destination as its source). It is routed by its destination
   * and skips the filter hooks; it must fit the route's MTU (no fragmentation).
   */
  sendRawIp(datagram: Uint8Array): NetResult<void> {
    if (this.closed) return 'ENETDOWN';
    const v = datagram.length > 0 ? datagram[0] >> 4 : 0;
    let dst: IpAddr;
    let len: number;
    if (v === 4) {
      const h = parseIpv4Header(datagram);
      if (isIpv4Reject(h)) return 'EINVAL';
      dst = h.dst;
      len = h.totalLen;
    } else if (v === 6) {
      const h = parseIpv6Header(datagram);
      if (typeof h === 'string') return 'EINVAL';
      dst = h.dst;
      len = h.end;
    } else {
      return 'EINVAL';
    }
    const r = this.resolveRoute(dst, null);
    if (typeof r === 'string') return r;
    if (len > r.mtu) return 'EMSGSIZE';
    const L = r.nic.linkHeaderLen;
    const frame = new Uint8Array(L + len);
    frame.set(datagram.subarray(0, len), L);
    this.stats.count(`ipv${v}.sent-raw`);
    r.nic.transmit(frame, v as 4 | 6, r.nextHop, r.kind);
  }

  /** One transport datagram: checksum, IP header(s), fragmentation, link. */
  private emit(
    r: ResolvedRoute,
    p: IpSendParams,
    header: Uint8Array,
    payload: Uint8Array,
    ttl: number,
    tos: number,
    offload: FrameOffload | undefined,
    /** Where the transport checksum field is when the stack must finish it (else undefined). */
    csumOffset: number | undefined,
  ): NetResult<void> {
    const family = p.dst.family;
    const ipHdr = family === 4 ? 20 : IPV6_HEADER;
    const tlen = header.length + payload.length;
    const fits = ipHdr + tlen <= r.mtu || offload?.gsoType !== undefined;
    if (family === 4 && !fits && p.dontFragment) {
      this.stats.count('ipv4.out.too-big-df');
      return 'EMSGSIZE';
    }
    if (family === 4 ? ipHdr + tlen > 65535 : tlen > 65535) return 'EMSGSIZE';
    const L = r.nic.linkHeaderLen;
    if (fits) {
      const frame = new Uint8Array(L + ipHdr + tlen);
      const t = L + ipHdr;
      frame.set(header, t);
      frame.set(payload, t + header.length);
      if (csumOffset !== undefined && !offload) {
        if (r.nic.caps.txChecksumOffload) {
          // CHECKSUM_PARTIAL for the device: the pseudo-header sum of this datagram's length
          // (rewritten: a software-GSO segment is shorter than what the transport summed).
          const ps = p.protocol === 1 ? 0 : foldSum(pseudoHeaderSum(p.src, p.dst, p.protocol, tlen));
          frame[t + csumOffset] = ps >>> 8;
          frame[t + csumOffset + 1] = ps & 0xff;
          offload = { csumStart: t, csumOffset };
        } else {
          this.finishChecksum(frame, t, csumOffset, p.protocol, p.src, p.dst, tlen);
        }
      }
      if (family === 4) {
        writeIpv4Header(frame, L, { tos, totalLen: 20 + tlen, id: this.nextIpId(p.src, p.dst, p.protocol), df: !!p.dontFragment, mf: false, fragOffset: 0, ttl, protocol: p.protocol, src: p.src, dst: p.dst });
      } else {
        writeIpv6Header(frame, L, { trafficClass: tos, flowLabel: 0, payloadLen: tlen, nextHeader: p.protocol, hopLimit: ttl, src: p.src, dst: p.dst });
      }
      this.stats.count(`ipv${family}.sent`);
      if (r.kind !== 'unicast') this.loopCopy(frame.subarray(L), L, offload);
      r.nic.transmit(frame, family, r.nextHop, r.kind, offload, this.unreachable);
      return;
    }
    // Too big for the path: fragment (RFC 791 §3.2; RFC 8200 §4.5, the source only).
    const body = new Uint8Array(tlen);
    body.set(header, 0);
    body.set(payload, header.length);
    if (csumOffset !== undefined) this.finishChecksum(body, 0, csumOffset, p.protocol, p.src, p.dst, tlen);
    if (family === 4) {
      this.fragment4(r, { tos, id: this.nextIpId(p.src, p.dst, p.protocol), ttl, protocol: p.protocol, src: p.src, dst: p.dst }, body, 0, false);
    } else {
      this.fragment6(r, body, p.protocol, ttl, tos, p.src, p.dst);
    }
    return;
  }

  /**
   * A next hop that does not answer ARP/NDP: host unreachable to the sender, as Linux's
   * ip_link_failure / ndisc_error_report do (RFC 1812 §5.2.7.1, RFC 4443 §3.1 code 3). For our
   * own packets the error comes back to us over loopback, so sockets see EHOSTUNREACH.
   */
  private readonly unreachable = (ipPkt: Uint8Array): void => {
    if (ipPkt[0] >> 4 === 4) {
      const h = parseIpv4Header(ipPkt);
      if (isIpv4Reject(h)) return;
      this.icmp.error4({ h, packet: ipPkt, multicastOrBroadcast: false }, ICMP4.DEST_UNREACH, ICMP4_UNREACH.HOST);
    } else {
      const h = parseIpv6Header(ipPkt);
      if (typeof h === 'string') return;
      this.icmp.error6({ h, packet: ipPkt, multicastOrBroadcast: false }, ICMP6.DEST_UNREACH, ICMP6_UNREACH.ADDRESS);
    }
  };

  /**
   * Broadcasts and multicasts we send also reach our own sockets, as on Linux (ip_mc_output's
   * loopback copy; IP_MULTICAST_LOOP defaults to on).
   */
  private loopCopy(ipPacket: Uint8Array, linkHeaderLen: number, offload: FrameOffload | undefined): void {
    const lo = this.loopbackNic;
    if (!lo) return;
    const copy = ipPacket.slice();
    // Loopback has no checksum offload: finish a partial sum (offsets count the link header).
    if (offload?.csumStart !== undefined && offload.csumOffset !== undefined) {
      finishPartialChecksum(copy, offload.csumStart - linkHeaderLen, offload.csumOffset);
    }
    lo.transmit(copy, copy[0] >> 4 === 4 ? 4 : 6, IpAddr.ANY4, 'unicast');
  }

  private fragment4(
    r: ResolvedRoute,
    f: { tos: number; id: number; ttl: number; protocol: number; src: IpAddr; dst: IpAddr },
    body: Uint8Array,
    baseOffset: number,
    lastMf: boolean,
  ): void {
    const L = r.nic.linkHeaderLen;
    const ranges = fragmentRanges(body.length, r.mtu - 20);
    this.stats.count('ipv4.frag.created', ranges.length);
    for (let i = 0; i < ranges.length; i++) {
      const [off, len] = ranges[i];
      const frame = new Uint8Array(L + 20 + len);
      frame.set(body.subarray(off, off + len), L + 20);
      const mf = i < ranges.length - 1 || lastMf;
      writeIpv4Header(frame, L, { ...f, totalLen: 20 + len, df: false, mf, fragOffset: baseOffset + off });
      this.stats.count('ipv4.sent');
      r.nic.transmit(frame, 4, r.nextHop, r.kind, undefined, this.unreachable);
    }
  }

  private fragment6(r: ResolvedRoute, body: Uint8Array, protocol: number, hopLimit: number, tc: number, src: IpAddr, dst: IpAddr): void {
    const L = r.nic.linkHeaderLen;
    // RFC 8200 §4.5: the identification is unique per (src, dst) for the datagram's lifetime.
    const bucket = this.idBucket(src, dst, 44) & 1023;
    const ident = (this.fragIds[bucket] = (this.fragIds[bucket] + 1) >>> 0);
    const ranges = fragmentRanges(body.length, Math.max(r.mtu, 1280) - IPV6_HEADER - IPV6_FRAG_HEADER);
    this.stats.count('ipv6.frag.created', ranges.length);
    for (let i = 0; i < ranges.length; i++) {
      const [off, len] = ranges[i];
      const frame = new Uint8Array(L + IPV6_HEADER + IPV6_FRAG_HEADER + len);
      writeIpv6Header(frame, L, { trafficClass: tc, flowLabel: 0, payloadLen: IPV6_FRAG_HEADER + len, nextHeader: NH_FRAGMENT, hopLimit, src, dst });
      writeFragmentHeader(frame, L + IPV6_HEADER, protocol, off, i < ranges.length - 1, ident);
      frame.set(body.subarray(off, off + len), L + IPV6_HEADER + IPV6_FRAG_HEADER);
      this.stats.count('ipv6.sent');
      r.nic.transmit(frame, 6, r.nextHop, r.kind, undefined, this.unreachable);
    }
  }

  /** Computes the transport checksum in software (CHECKSUM_PARTIAL or a re-segmented header). */
  private finishChecksum(buf: Uint8Array, start: number, csumOffset: number, protocol: number, src: IpAddr, dst: IpAddr, len: number): void {
    const at = start + csumOffset;
    buf[at] = 0;
    buf[at + 1] = 0;
    // ICMPv4 has no pseudo-header (RFC 792); TCP, UDP, ICMPv6 do.
    const pseudo = protocol === 1 ? 0 : pseudoHeaderSum(src, dst, protocol, len);
    let c = ~foldSum(pseudo + sumWords(buf, start, start + len)) & 0xffff;
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    if (c === 0 && protocol === 17) c = 0xffff;
    buf[at] = c >>> 8;
    buf[at + 1] = c & 0xff;
  }

  /**
   * RFC 6864 §4 / RFC 7739: IDs unique per (src, dst, protocol) for a datagram's lifetime, and
   * not one global counter (an observer could count our traffic to others: the idle scan).
   * Buckets start at random values and are chosen by a keyed hash, as Linux's ip_idents.
   */
  private nextIpId(src: IpAddr, dst: IpAddr, protocol: number): number {
    return this.ipIds[this.idBucket(src, dst, protocol) & 2047]++;
  }

  /** A keyed hash of a flow's addresses (FNV-1a over the bytes, seeded with a secret). */
  private idBucket(src: IpAddr, dst: IpAddr, protocol: number): number {
    let h = this.ipIdKey ^ protocol;
    const a = src.bytes;
    const b = dst.bytes;
    for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i], 0x01000193);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  // ---- input: IPv4 ----

  inputIpv4(nic: Nic, raw: Uint8Array, offload: FrameOffload | undefined, linkBroadcast: boolean): void {
    this.stats.count('ipv4.received');
    let h = parseIpv4Header(raw);
    if (isIpv4Reject(h)) {
      this.stats.count(`ipv4.dropped.${h.drop}`);
      // RFC 1122 §3.2.2.5: a host should answer a malformed option with parameter problem.
      if (h.pointer !== undefined) {
        const h0 = parseIpv4Header(raw, false, false);
        if (!isIpv4Reject(h0) && this.dstKind4(nic, h0.dst) === 'unicast' && !linkBroadcast) {
          this.icmp.error4({ h: h0, packet: raw.subarray(0, h0.totalLen), multicastOrBroadcast: false }, ICMP4.PARAM_PROBLEM, 0, h.pointer << 24);
        }
      }
      return;
    }
    if (isMartianSourceV4(h.src)) return this.stats.count('ipv4.dropped.martian-source');
    if (nic !== this.loopbackNic) {
      if (h.src.bytes[0] === 127 || h.dst.bytes[0] === 127) return this.stats.count('ipv4.dropped.martian-loopback');
      // Linux (accept_local=0): our own address as the source of a packet from outside is spoofed.
      if (this.isLocalAddress(h.src)) return this.stats.count('ipv4.dropped.martian-local-source');
    }
    // Hooks may rewrite the datagram (NAT), and a link's frame may be shared: give them a copy.
    const pkt0 = this.filter ? raw.slice(0, h.totalLen) : raw.subarray(0, h.totalLen);
    if (this.filter) this.pktCtx = { mark: 0, conn: undefined, info: 0 };
    let isFragment = h.mf || h.fragOffset !== 0;
    // RFC 791: no datagram is longer than 65535 bytes, so no fragment may reach past it (the
    // "ping of death" shape); Linux drops these as oversized too.
    if (isFragment && h.fragOffset + h.totalLen - h.hdrLen > 65535 - 20) return this.stats.count('ipv4.dropped.oversized-fragment');
    let pkt = pkt0;
    if (this.filter?.PREROUTING && isFragment) {
      // Linux's nf_defrag_ipv4: with conntrack, fragments are reassembled before PREROUTING so
      // the filter sees whole datagrams (ports, NAT); a forwarded one is fragmented again on
      // the way out.
      const whole = this.reassemble4(h, pkt);
      if (!whole) return;
      h = whole.h;
      pkt = whole.pkt;
      isFragment = false;
      offload = undefined; // the offload described the last fragment's frame
    }
    if (this.filter?.PREROUTING) {
      if (!this.hook({ hook: 'PREROUTING', ctx: this.pktCtx ?? undefined, family: 4, src: h.src, dst: h.dst, protocol: h.protocol, transport: pkt.subarray(h.hdrLen), fragment: h.fragOffset !== 0, length: h.totalLen, inNic: nic.nicId, packet: pkt })) return;
      const h2 = this.reparse4(h, pkt);
      if (!h2) return;
      h = h2;
    }
    const kind = this.dstKind4(nic, h.dst);
    if (kind === null) return this.forwardIpv4(nic, h, pkt, linkBroadcast, offload);
    const bcast = kind !== 'unicast' || linkBroadcast;
    if (isFragment) {
      const whole = this.reassemble4(h, pkt);
      if (!whole) return;
      return this.deliverIpv4(nic, whole.h, whole.pkt, bcast, false);
    }
    const verified = !!offload && nic.caps.rxChecksumOffload && (offload.csumValid === true || offload.csumStart !== undefined);
    this.deliverIpv4(nic, h, pkt, bcast, verified);
  }

  /** Adds a fragment; the whole datagram once the last piece is in, else null. */
  private reassemble4(h: Ipv4Header, pkt: Uint8Array): { h: Ipv4Header; pkt: Uint8Array } | null {
    // RFC 791 §3.2: fragments of one datagram share src, dst, protocol and id.
    const key = `${h.src.key}|${h.dst.key}|${h.protocol}|${h.id}`;
    const done = this.reasm4.add(key, h.fragOffset, h.mf, pkt.subarray(h.hdrLen), pkt.subarray(0, h.hdrLen));
    if (!done) return null;
    const whole = new Uint8Array(done.header.length + done.payload.length);
    whole.set(done.header, 0);
    whole.set(done.payload, done.header.length);
    whole[2] = whole.length >>> 8;
    whole[3] = whole.length & 0xff;
    whole[6] &= 0x40; // keep DF, clear MF and the offset
    whole[7] = 0;
    setIpv4Checksum(whole, 0, done.header.length);
    const h2 = parseIpv4Header(whole);
    if (isIpv4Reject(h2)) {
      this.stats.count(`ipv4.dropped.reassembled-${h2.drop}`);
      return null;
    }
    return { h: h2, pkt: whole };
  }

  private deliverIpv4(nic: Nic, h0: Ipv4Header, pkt: Uint8Array, bcast: boolean, verified: boolean): void {
    let h = h0;
    const payload = pkt.subarray(h.hdrLen);
    if (this.filter) {
      if (!this.hook({ hook: 'INPUT', ctx: this.pktCtx ?? undefined, family: 4, src: h.src, dst: h.dst, protocol: h.protocol, transport: payload, fragment: false, length: pkt.length, inNic: nic.nicId, packet: pkt })) return;
      // INPUT may translate the source (the reply of a connection DNATed at OUTPUT, SNAT in nat/INPUT).
      const h2 = this.reparse4(h, pkt);
      if (!h2) return;
      h = h2;
    }
    this.stats.count('ipv4.delivered');
    if (h.protocol === 1) {
      this.icmp.input4(h.src, h.dst, payload, h.ttl, nic.nicId, bcast, verified);
      return;
    }
    const t = this.transports.get(h.protocol);
    if (!t) {
      this.stats.count('ipv4.dropped.unknown-protocol');
      this.icmp.error4({ h, packet: pkt, multicastOrBroadcast: bcast }, ICMP4.DEST_UNREACH, ICMP4_UNREACH.PROTOCOL);
      return;
    }
    const d: IpDelivery = {
      src: h.src,
      dst: h.dst,
      protocol: h.protocol,
      payload,
      ttl: h.ttl,
      tos: h.tos,
      nicId: nic.nicId,
      checksumVerified: verified,
      packet: pkt,
      multicastOrBroadcast: bcast,
    };
    if (t.deliver(d) === 'no-endpoint') {
      this.icmp.error4({ h, packet: pkt, multicastOrBroadcast: bcast }, ICMP4.DEST_UNREACH, ICMP4_UNREACH.PORT);
    }
  }

  private forwardIpv4(nic: Nic, h0: Ipv4Header, pkt: Uint8Array, linkBroadcast: boolean, offload: FrameOffload | undefined): void {
    let h = h0;
    if (!this.forward4) return this.stats.count('ipv4.dropped.not-for-us');
    // RFC 1812 §5.3.4/§4.2.2.11: no forwarding of link broadcasts, multicast (no mrouting), or
    // link-local sources (RFC 3927 §7).
    if (linkBroadcast || h.dst.isMulticast() || h.dst.bytes[0] === 0) return this.stats.count('ipv4.dropped.not-forwardable');
    if (h.src.isLinkLocal() || h.dst.isLinkLocal()) return this.stats.count('ipv4.dropped.link-local-scope');
    const off: OffendingPacket4 = { h, packet: pkt, multicastOrBroadcast: false };
    // RFC 1812 §5.3.1: a TTL that would reach zero ends here, with time exceeded.
    if (h.ttl <= 1) {
      this.stats.count('ipv4.dropped.ttl-exceeded');
      this.icmp.error4(off, ICMP4.TIME_EXCEEDED, 0);
      return;
    }
    const rt = this.routes.lookup(h.dst);
    const out = rt ? this.nics.get(rt.nicId) : undefined;
    if (!rt || !out || !out.up) {
      this.stats.count('ipv4.dropped.no-route');
      this.icmp.error4(off, ICMP4.DEST_UNREACH, ICMP4_UNREACH.NET);
      return;
    }
    if (h.totalLen > out.mtu && h.df && !offload?.gsoType) {
      // RFC 1191 §4: tell the sender the next-hop MTU (before the hooks, as Linux's ip_forward:
      // the quote must show the packet as the sender sent it, not as NAT left it).
      this.stats.count('ipv4.dropped.frag-needed');
      this.icmp.error4(off, ICMP4.DEST_UNREACH, ICMP4_UNREACH.FRAG_NEEDED, out.mtu & 0xffff);
      return;
    }
    if (this.filter) {
      for (const point of ['FORWARD', 'POSTROUTING'] as const) {
        if (!this.hook({ hook: point, ctx: this.pktCtx ?? undefined, family: 4, src: h.src, dst: h.dst, protocol: h.protocol, transport: pkt.subarray(h.hdrLen), fragment: h.fragOffset !== 0, length: h.totalLen, inNic: nic.nicId, outNic: out.nicId, packet: pkt })) return;
      }
      const h2 = this.reparse4(h, pkt); // SNAT at POSTROUTING
      if (!h2) return;
      h = h2;
    }
    const kind = rt.gateway === null && this.isBroadcastV4(h.dst, out) ? 'broadcast' : 'unicast';
    const r: ResolvedRoute = { nic: out, nextHop: rt.gateway ?? h.dst, gateway: rt.gateway, src: h.src, mtu: out.mtu, kind };
    if (offload?.gsoType) return this.forwardOffloaded(nic, out, 4, pkt, h.hdrLen, r.nextHop, kind, offload, h.src, h.dst);
    if (h.totalLen > out.mtu) {
      // Options are not copied into router-made fragments (a known simplification).
      this.stats.count('ipv4.forwarded');
      this.fragment4(r, { tos: h.tos, id: h.id, ttl: h.ttl - 1, protocol: h.protocol, src: h.src, dst: h.dst }, pkt.subarray(h.hdrLen), h.fragOffset, h.mf);
      return;
    }
    this.forwardOffloaded(nic, out, 4, pkt, h.hdrLen, r.nextHop, kind, offload, h.src, h.dst);
  }

  /** After a hook that may have rewritten `pkt`: the header again if the addresses changed. */
  private reparse4(h: Ipv4Header, pkt: Uint8Array): Ipv4Header | null {
    if (sameBytes(pkt, 12, h.src.bytes) && sameBytes(pkt, 16, h.dst.bytes) && pkt[9] === h.protocol) return h;
    const h2 = parseIpv4Header(pkt);
    if (isIpv4Reject(h2)) {
      this.stats.count(`filter.dropped.mangled-${h2.drop}`);
      return null;
    }
    return h2;
  }

  private reparse6(h: Ipv6Header, pkt: Uint8Array): Ipv6Header | null {
    if (sameBytes(pkt, 8, h.src.bytes) && sameBytes(pkt, 24, h.dst.bytes)) return h;
    const h2 = parseIpv6Header(pkt);
    if (typeof h2 === 'string') {
      this.stats.count(`filter.dropped.mangled-${h2}`);
      return null;
    }
    return h2;
  }

  private reassemblyTimeout4(first: Uint8Array): void {
    const h = parseIpv4Header(withTotalLength(first), false);
    if (isIpv4Reject(h)) return;
    // RFC 792: time exceeded, code 1 (fragment reassembly time exceeded).
    this.icmp.error4({ h: { ...h, fragOffset: 0 }, packet: first, multicastOrBroadcast: false }, ICMP4.TIME_EXCEEDED, 1);
  }

  // ---- input: IPv6 ----

  inputIpv6(nic: Nic, raw: Uint8Array, offload: FrameOffload | undefined, linkMulticast: boolean): void {
    this.stats.count('ipv6.received');
    let h = parseIpv6Header(raw);
    if (typeof h === 'string') return this.stats.count(`ipv6.dropped.${h}`);
    // RFC 4291 §2.7: multicast is never a source.
    if (h.src.isMulticast()) return this.stats.count('ipv6.dropped.martian-source');
    if (nic !== this.loopbackNic && (h.src.isLoopback() || h.dst.isLoopback())) return this.stats.count('ipv6.dropped.martian-loopback');
    let pkt = this.filter ? raw.slice(0, h.end) : raw.subarray(0, h.end);
    if (this.filter) this.pktCtx = { mark: 0, conn: undefined, info: 0 };
    if (this.filter?.PREROUTING && h.nextHeader !== NH_NONE && this.dstKind6(nic, h.dst) === 'unicast') {
      // nf_defrag_ipv6 for datagrams to us: the filter sees them whole (ports, conntrack, NAT).
      // Forwarded fragments pass one by one (a router must not make a datagram bigger than what
      // was sent, and the whole would not fit the next link's MTU: RFC 8200 §5).
      const w = walkExtensions(pkt, h.nextHeader, IPV6_HEADER, 6, h.end, false);
      const data = w.kind === 'fragment' ? h.end - (w.offset + IPV6_FRAG_HEADER) : 0;
      // Malformed fragments are left to the normal path, which answers them (RFC 8200 §4.5).
      if (w.kind === 'fragment' && !(w.fragOffset === 0 && !w.more) && !(w.more && (data & 7) !== 0)) {
        const r = this.reassemble6(h, pkt, w);
        if (!r) return;
        h = r.h;
        pkt = r.pkt;
        offload = undefined;
      }
    }
    if (this.filter?.PREROUTING) {
      // A non-initial fragment (Fragment header first, the usual place) carries no ports.
      const frag = h.nextHeader === NH_FRAGMENT && pkt.length >= 48 && ((pkt[42] << 8) | pkt[43]) >= 8;
      if (!this.hook({ hook: 'PREROUTING', ctx: this.pktCtx ?? undefined, family: 6, src: h.src, dst: h.dst, protocol: h.nextHeader, transport: pkt.subarray(IPV6_HEADER), fragment: frag, length: h.end, inNic: nic.nicId, packet: pkt })) return;
      const h2 = this.reparse6(h, pkt);
      if (!h2) return;
      h = h2;
    }
    const kind = this.dstKind6(nic, h.dst);
    if (kind === 'not-member') return this.stats.count('ipv6.dropped.not-member');
    if (kind === null) return this.forwardIpv6(nic, h, pkt, linkMulticast, offload);
    const multi = kind !== 'unicast';
    const verified = !!offload && nic.caps.rxChecksumOffload && (offload.csumValid === true || offload.csumStart !== undefined);
    this.walkIpv6(nic, h, pkt, h.nextHeader, IPV6_HEADER, 6, multi, verified);
  }

  private walkIpv6(nic: Nic, h: Ipv6Header, pkt: Uint8Array, nh: number, off: number, nhField: number, multi: boolean, verified: boolean): void {
    const w = walkExtensions(pkt, nh, off, nhField, h.end, multi);
    switch (w.kind) {
      case 'drop':
        return this.stats.count(`ipv6.dropped.${w.reason}`);
      case 'param-problem':
        this.stats.count(`ipv6.dropped.${w.reason}`);
        this.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi && !w.evenIfMulticast }, ICMP6.PARAM_PROBLEM, w.code, w.pointer);
        return;
      case 'fragment': {
        const data = pkt.subarray(w.offset + IPV6_FRAG_HEADER, h.end);
        // RFC 8200 §4.5: a non-final fragment whose length is not a multiple of 8 earns a
        // parameter problem pointing at the payload length.
        if (w.more && (data.length & 7) !== 0) {
          this.stats.count('ipv6.frag.dropped.bad-length');
          this.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi }, ICMP6.PARAM_PROBLEM, 0, 4);
          return;
        }
        if (w.fragOffset === 0 && !w.more) {
          // RFC 8200 §4.5 / RFC 6946: an atomic fragment is processed at once, alone.
          return this.walkIpv6(nic, h, pkt, w.nextHeader, w.offset + IPV6_FRAG_HEADER, w.offset, multi, verified);
        }
        const r = this.reassemble6(h, pkt, w);
        if (!r) return;
        return this.walkIpv6(nic, r.h, r.pkt, r.next, r.unfrag, r.field, multi, false);
      }
      case 'upper':
        return this.deliverIpv6(nic, h, pkt, w.protocol, w.offset, w.nhField, multi, verified);
    }
  }

  /** Adds a fragment (w: where its Fragment header is); the whole datagram once complete, else null. */
  private reassemble6(
    h: Ipv6Header,
    pkt: Uint8Array,
    w: { offset: number; ident: number; fragOffset: number; more: boolean },
  ): { h: Ipv6Header; pkt: Uint8Array; next: number; unfrag: number; field: number } | null {
    const data = pkt.subarray(w.offset + IPV6_FRAG_HEADER, h.end);
    const key = `${h.src.key}|${h.dst.key}|${w.ident}`;
    // Keep the unfragmentable part plus the Fragment header (its Next Header names the payload).
    const done = this.reasm6.add(key, w.fragOffset, w.more, data, pkt.subarray(0, w.offset + IPV6_FRAG_HEADER));
    if (!done) return null;
    const unfrag = done.header.length - IPV6_FRAG_HEADER;
    const next = done.header[unfrag];
    const whole = new Uint8Array(unfrag + done.payload.length);
    whole.set(done.header.subarray(0, unfrag), 0);
    whole.set(done.payload, unfrag);
    if (whole.length - IPV6_HEADER > 65535) {
      this.stats.count('ipv6.frag.dropped.too-big');
      return null;
    }
    whole[4] = (whole.length - IPV6_HEADER) >>> 8;
    whole[5] = (whole.length - IPV6_HEADER) & 0xff;
    // Point the header before the (removed) Fragment header at its payload.
    const pw = walkExtensions(whole, whole[6], IPV6_HEADER, 6, unfrag, false);
    const field = pw.kind === 'upper' ? pw.nhField : 6;
    whole[field] = next;
    const h2 = parseIpv6Header(whole);
    if (typeof h2 === 'string') {
      this.stats.count(`ipv6.dropped.reassembled-${h2}`);
      return null;
    }
    return { h: h2, pkt: whole, next, unfrag, field };
  }

  private deliverIpv6(nic: Nic, h0: Ipv6Header, pkt: Uint8Array, protocol: number, off: number, nhField: number, multi: boolean, verified: boolean): void {
    let h = h0;
    if (protocol === NH_NONE) return this.stats.count('ipv6.no-next-header');
    const payload = pkt.subarray(off, h.end);
    if (this.filter) {
      if (!this.hook({ hook: 'INPUT', ctx: this.pktCtx ?? undefined, family: 6, src: h.src, dst: h.dst, protocol, transport: payload, fragment: false, length: h.end, inNic: nic.nicId, packet: pkt })) return;
      const h2 = this.reparse6(h, pkt);
      if (!h2) return;
      h = h2;
    }
    this.stats.count('ipv6.delivered');
    if (protocol === NH_ICMPV6) {
      this.icmp.input6(h.src, h.dst, payload, h.hopLimit, nic.nicId, multi, verified);
      return;
    }
    const t = this.transports.get(protocol);
    if (!t) {
      // RFC 8200 §4: unrecognised Next Header, parameter problem code 1 pointing at it.
      this.stats.count('ipv6.dropped.unknown-protocol');
      this.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi }, ICMP6.PARAM_PROBLEM, 1, nhField);
      return;
    }
    const d: IpDelivery = {
      src: h.src,
      dst: h.dst,
      protocol,
      payload,
      ttl: h.hopLimit,
      tos: h.trafficClass,
      nicId: nic.nicId,
      checksumVerified: verified,
      packet: pkt,
      multicastOrBroadcast: multi,
    };
    if (t.deliver(d) === 'no-endpoint') {
      this.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi }, ICMP6.DEST_UNREACH, ICMP6_UNREACH.PORT);
    }
  }

  private forwardIpv6(nic: Nic, h0: Ipv6Header, pkt: Uint8Array, linkMulticast: boolean, offload: FrameOffload | undefined): void {
    let h = h0;
    if (!this.forward6) return this.stats.count('ipv6.dropped.not-for-us');
    if (linkMulticast || h.dst.isMulticast()) return this.stats.count('ipv6.dropped.not-forwardable');
    const off = { h, packet: pkt, multicastOrBroadcast: false };
    // RFC 4291 §2.5.6: link-local addresses never cross a router.
    if (h.src.isLinkLocal() || h.dst.isLinkLocal() || h.src.isUnspecified()) {
      this.stats.count('ipv6.dropped.link-local-scope');
      if (!h.src.isUnspecified()) this.icmp.error6(off, ICMP6.DEST_UNREACH, ICMP6_UNREACH.BEYOND_SCOPE);
      return;
    }
    // RFC 8200 §3: hop limit decremented by each forwarding node; RFC 4443 §3.3 on zero.
    if (h.hopLimit <= 1) {
      this.stats.count('ipv6.dropped.hop-limit-exceeded');
      this.icmp.error6(off, ICMP6.TIME_EXCEEDED, 0);
      return;
    }
    const rt = this.routes.lookup(h.dst);
    const out = rt ? this.nics.get(rt.nicId) : undefined;
    if (!rt || !out || !out.up) {
      this.stats.count('ipv6.dropped.no-route');
      this.icmp.error6(off, ICMP6.DEST_UNREACH, ICMP6_UNREACH.NO_ROUTE);
      return;
    }
    if (pkt.length > out.mtu && !offload?.gsoType) {
      // RFC 8200 §5: routers never fragment; RFC 4443 §3.2 packet too big with the MTU (before
      // the hooks, so the quote is what the sender sent).
      this.stats.count('ipv6.dropped.too-big');
      this.icmp.error6(off, ICMP6.PACKET_TOO_BIG, 0, out.mtu);
      return;
    }
    if (this.filter) {
      for (const point of ['FORWARD', 'POSTROUTING'] as const) {
        if (!this.hook({ hook: point, ctx: this.pktCtx ?? undefined, family: 6, src: h.src, dst: h.dst, protocol: h.nextHeader, transport: pkt.subarray(IPV6_HEADER), fragment: false, length: h.end, inNic: nic.nicId, outNic: out.nicId, packet: pkt })) return;
      }
      const h2 = this.reparse6(h, pkt);
      if (!h2) return;
      h = h2;
    }
    if (offload?.gsoType) return this.forwardOffloaded(nic, out, 6, pkt, IPV6_HEADER, rt.gateway ?? h.dst, 'unicast', offload, h.src, h.dst);
    this.forwardOffloaded(nic, out, 6, pkt, IPV6_HEADER, rt.gateway ?? h.dst, 'unicast', offload, h.src, h.dst);
  }

  /**
   * Sends a datagram being forwarded (checks done), keeping what the receive offload promised:
   * a partial checksum is handed on to an offloading link or finished here; a GSO aggregate is
   * handed on to a link that takes it or cut into segments here (Linux does the same when it
   * forwards GRO packets: skb_gso_segment before a device without TSO).
   */
  private forwardOffloaded(
    inNic: Nic,
    out: Nic,
    family: 4 | 6,
    pkt: Uint8Array,
    ipLen: number,
    nextHop: IpAddr,
    kind: 'unicast' | 'broadcast' | 'multicast',
    offload: FrameOffload | undefined,
    src: IpAddr,
    dst: IpAddr,
  ): void {
    const L = out.linkHeaderLen;
    const caps = out.caps;
    const partial = offload?.csumStart !== undefined && offload.csumOffset !== undefined && !offload.csumValid;
    const ipStart = partial ? offload!.csumStart! - inNic.linkHeaderLen : 0;
    const gsoOk = caps.gsoMaxSize >= pkt.length && caps.txChecksumOffload && out.medium === 'ethernet';
    if (offload?.gsoType && offload.gsoSize && !gsoOk) {
      const tcp = family === 4 ? pkt[9] === 6 : pkt[6] === 6;
      if (!tcp || pkt.length < ipLen + 20) return this.stats.count(`ipv${family}.dropped.gso-not-tcp`);
      const thl = (pkt[ipLen + 12] >> 4) * 4;
      if (thl < 20 || ipLen + thl > pkt.length || ipLen + thl + offload.gsoSize > out.mtu) {
        return this.stats.count(`ipv${family}.dropped.gso-too-big`);
      }
      const segs = segmentTcp(pkt.subarray(ipLen, ipLen + thl), pkt.subarray(ipLen + thl), offload.gsoSize);
      this.stats.count('gso.software-forward');
      const id = family === 4 ? (pkt[4] << 8) | pkt[5] : 0;
      for (let i = 0; i < segs.length; i++) {
        const tlen = thl + segs[i].payload.length;
        const frame = new Uint8Array(L + ipLen + tlen);
        frame.set(pkt.subarray(0, ipLen), L);
        frame.set(segs[i].header, L + ipLen);
        frame.set(segs[i].payload, L + ipLen + thl);
        if (family === 4) {
          frame[L + 2] = (ipLen + tlen) >>> 8;
          frame[L + 3] = (ipLen + tlen) & 0xff;
          frame[L + 4] = ((id + i) >>> 8) & 0xff; // RFC 6864: IDs advance per segment, as TSO does
          frame[L + 5] = (id + i) & 0xff;
          frame[L + 8] -= 1;
          setIpv4Checksum(frame, L, ipLen);
        } else {
          frame[L + 4] = tlen >>> 8;
          frame[L + 5] = tlen & 0xff;
          frame[L + 7] -= 1;
        }
        let segOff: FrameOffload | undefined;
        if (caps.txChecksumOffload) {
          const ps = foldSum(pseudoHeaderSum(src, dst, 6, tlen));
          frame[L + ipLen + TCP_CSUM_OFFSET] = ps >>> 8;
          frame[L + ipLen + TCP_CSUM_OFFSET + 1] = ps & 0xff;
          segOff = { csumStart: L + ipLen, csumOffset: TCP_CSUM_OFFSET };
        } else {
          this.finishChecksum(frame, L + ipLen, TCP_CSUM_OFFSET, 6, src, dst, tlen);
        }
        this.stats.count(`ipv${family}.forwarded`);
        out.transmit(frame, family, nextHop, kind, segOff, this.unreachable);
      }
      return;
    }
    const frame = new Uint8Array(L + pkt.length);
    frame.set(pkt, L);
    if (family === 4) {
      frame[L + 8] -= 1;
      setIpv4Checksum(frame, L, ipLen);
    } else {
      frame[L + 7] -= 1;
    }
    let outOff: FrameOffload | undefined;
    if (partial) {
      const start = L + ipStart;
      if (caps.txChecksumOffload) {
        outOff = offload!.gsoType
          ? { ...offload!, csumStart: start, hdrLen: offload!.hdrLen !== undefined ? offload!.hdrLen - inNic.linkHeaderLen + L : undefined }
          : { csumStart: start, csumOffset: offload!.csumOffset };
      } else {
        finishPartialChecksum(frame, start, offload!.csumOffset!);
      }
    }
    this.stats.count(`ipv${family}.forwarded`);
    out.transmit(frame, family, nextHop, kind, outOff, this.unreachable);
  }

  private reassemblyTimeout6(stored: Uint8Array): void {
    // We kept the first fragment's headers only: make them a well-formed packet to quote.
    const first = stored.slice();
    first[4] = (first.length - IPV6_HEADER) >>> 8;
    first[5] = (first.length - IPV6_HEADER) & 0xff;
    const h = parseIpv6Header(first);
    if (typeof h === 'string') return;
    // RFC 8200 §4.5: time exceeded code 1, about the first fragment.
    this.icmp.error6({ h: { ...h, end: first.length }, packet: first, multicastOrBroadcast: h.dst.isMulticast() }, ICMP6.TIME_EXCEEDED, 1);
  }

  // ---- IcmpHost ----

  deliverTransportError(protocol: number, err: TransportError): void {
    const t = this.transports.get(protocol);
    if (!t) return this.stats.count('icmp.error.no-transport');
    t.deliverError(err);
  }
  echoSink(family: 4 | 6): EchoSink {
    return family === 4 ? this.echo4 : this.echo6;
  }
  ndpInput(nicId: number, src: IpAddr, dst: IpAddr, hopLimit: number, msg: Uint8Array): void {
    const nic = this.nics.get(nicId);
    if (!nic?.ndp) return this.stats.count('icmp6.dropped.no-ndp');
    nic.ndp.handleNdp(src, dst, hopLimit, msg);
  }
}

const EMPTY = new Uint8Array(0);

function sameBytes(buf: Uint8Array, off: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (buf[off + i] !== b[i]) return false;
  return true;
}
/** RFC 9293 §3.1: the TCP checksum field's offset. */
const TCP_CSUM_OFFSET = 16;

/** We kept the first fragment's header only: make it a well-formed datagram to quote. */
function withTotalLength(first: Uint8Array): Uint8Array {
  const b = first.slice();
  const len = b.length;
  b[2] = len >>> 8;
  b[3] = len & 0xff;
  return b;
}
