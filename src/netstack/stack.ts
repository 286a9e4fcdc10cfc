// The stack: NICs, routes, addresses and source selection, the filter hook contract, ICMP, and
// the registry of transport protocols, all built from injected parts (clock, rng, links, filter,
// transports, neighbor resolution). gVisor's stack.Stack in shape. The packet paths live by role
// next to it and work on this Stack: ipv4-input.ts, ipv6-input.ts, forward.ts, ip-output.ts,
// ip-hooks.ts. Read first: RFC 1122 §3 (host IP), RFC 1812 §5 (forwarding), RFC 791, RFC 8200,
// RFC 4443, RFC 6724 (source selection).
//
// Processing happens in steps: a batch of received frames, a timer firing, or an API call.
// Frames produced during a step are queued on their NIC and flushed once when the step ends
// (flush()); API calls outside a step arm a zero-delay wakeup that flushes.

import { IpAddr, IpCidr } from './wire/ip-address.js';
import type { Clock, WakeupHandle } from './clock.js';
import { TimerQueue } from './timers.js';
import { SeededRng, type Rng } from './random.js';
import type { FrameOffload, LinkEndpoint } from './link.js';
import type { NetError, NetResult } from './errors.js';
import type {
  FlowOwner,
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
import { isIpv4Reject, parseIpv4Header } from './ipv4.js';
import { commonPrefixLen, parseIpv6Header, scopeOf } from './ipv6.js';
import { Reassembler, type ReassemblyOptions } from './fragment.js';
import { DEFAULT_ICMP_RATE_LIMIT, ICMP4, ICMP4_UNREACH, ICMP6, ICMP6_UNREACH, Icmp, type EchoSink, type IcmpHost, type IcmpRateLimitOptions } from './icmp.js';
import { UdpProtocol, type UdpOptions } from './udp.js';
import { EchoProtocol } from './echo.js';
import { LoopbackLink } from './links/loopback.js';
import * as v4in from './ipv4-input.js';
import * as v6in from './ipv6-input.js';
import * as ipOut from './ip-output.js';

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

/** @internal A route as the IP paths use it (RouteInfo is what transports see). */
export interface ResolvedRoute {
  nic: Nic;
  nextHop: IpAddr;
  gateway: IpAddr | null;
  src: IpAddr;
  mtu: number;
  kind: 'unicast' | 'broadcast' | 'multicast';
}

/** @internal */
export type DstKind = 'unicast' | 'broadcast' | 'multicast' | null;

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
  /** @internal */ forward4: boolean;
  /** @internal */ forward6: boolean;
  /** @internal */ readonly nics = new Map<number, Nic>();
  private nextNicId = 1;
  /** @internal */ readonly transports = new Map<number, TransportProtocol>();
  private readonly neighbors: NeighborFactory;
  /** @internal */ readonly reasm4: Reassembler;
  /** @internal */ readonly reasm6: Reassembler;
  private depth = 0;
  private flushPending = false;
  private readonly flushWake: WakeupHandle;
  /** @internal IPv4 ID counters, one per hash bucket of (src, dst, protocol), as Linux's ip_idents. */
  readonly ipIds = new Uint16Array(2048);
  /** @internal */ readonly ipIdKey: number;
  /** @internal IPv6 fragment identifications, per hash bucket of (src, dst) (RFC 7739 §5.1). */
  readonly fragIds = new Uint32Array(1024);
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
      (first) => v4in.reassemblyTimeout4(this, first),
    );
    this.reasm6 = new Reassembler(
      this.timers,
      { timeoutMs: 60_000, maxBytes: 4 << 20, maxDatagrams: 1024, maxPayload: 65535, ...opts.reassembly?.v6 },
      (r) => this.stats.count(`ipv6.frag.${r}`),
      (first) => v6in.reassemblyTimeout6(this, first),
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
  /** @internal The FilterContext of the packet being processed (see FilterPacket.ctx). */
  pktCtx: FilterContext | null = null;

  /** @internal */
  dstKind4(nic: Nic, dst: IpAddr): DstKind {
    if (this.isLocalAddress(dst)) return 'unicast';
    if (nic === this.loopbackNic && dst.bytes[0] === 127) return 'unicast';
    if (this.isBroadcastV4(dst, nic)) return 'broadcast';
    if (dst.isMulticast()) {
      // 224.0.0.1 is joined by every host (RFC 1112 §4).
      return dst.toU32() === 0xe0000001 || this.groups.has(dst.key) ? 'multicast' : null;
    }
    return null;
  }

  /** @internal */
  dstKind6(nic: Nic, dst: IpAddr): DstKind | 'not-member' {
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

  /** @internal */
  resolveRoute(dst: IpAddr, src: IpAddr | null, nicId?: number): NetResult<ResolvedRoute> {
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

  // ---- output (ip-output.ts) ----

  sendIp(p: IpSendParams): NetResult<void> {
    if (this.closed) return 'ENETDOWN';
    return ipOut.sendIp(this, p);
  }

  /**
   * Sends a complete IP datagram built elsewhere (a REJECT rule's TCP RST or ICMP error, which
   * carries the rejected packet's destination as its source). It is routed by its destination
   * and skips the filter hooks; it must fit the route's MTU (no fragmentation).
   */
  sendRawIp(datagram: Uint8Array): NetResult<void> {
    if (this.closed) return 'ENETDOWN';
    return ipOut.sendRawIp(this, datagram);
  }

  /**
   * A next hop that does not answer ARP/NDP: host unreachable to the sender, as Linux's
   * ip_link_failure / ndisc_error_report do (RFC 1812 §5.2.7.1, RFC 4443 §3.1 code 3). For our
   * own packets the error comes back to us over loopback, so sockets see EHOSTUNREACH.
   * @internal
   */
  readonly unreachable = (ipPkt: Uint8Array): void => {
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

  // ---- input (ipv4-input.ts, ipv6-input.ts; forwarding in forward.ts) ----

  inputIpv4(nic: Nic, raw: Uint8Array, offload: FrameOffload | undefined, linkBroadcast: boolean): void {
    v4in.inputIpv4(this, nic, raw, offload, linkBroadcast);
  }

  inputIpv6(nic: Nic, raw: Uint8Array, offload: FrameOffload | undefined, linkMulticast: boolean): void {
    v6in.inputIpv6(this, nic, raw, offload, linkMulticast);
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

