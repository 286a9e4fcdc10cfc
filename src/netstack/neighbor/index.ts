// Neighbor resolution for the stack: ARP for IPv4 (RFC 826, RFC 1122 §2.3.2.1, RFC 5227) and
// IPv6 Neighbor Discovery (RFC 4861 NS/NA/RS/RA and NUD, RFC 4862 DAD and SLAAC, RFC 4291
// App. A for the modified EUI-64 interface identifier). Read those first.
//
// The NIC implements NeighborHost and hands it to createArp/createNdp; it gets back a
// NeighborResolver that it asks for a next hop's MAC before each IP send. Both protocols
// share one neighbor cache with the NUD state machine of RFC 4861 §7.3 (Linux runs ARP on the
// same machine: neigh_update / neigh_timer_handler), so stale ARP entries are re-verified by
// unicast probes rather than thrown away.
//
// Files: cache.ts (NUD states and timers, packet queues, bounded table), arp.ts, ndp.ts (NDP
// message handling), dad.ts, slaac.ts, routers.ts (Default Router List, RS), codec.ts (message
// builders over wire/, solicited-node and EUI-64 addresses).
//
// Supported: ARP request/reply/merge, RFC 5227 announce and defence, unicast re-verification;
// NS/NA with §7.2.5 flag handling, NUD INCOMPLETE/REACHABLE/STALE/DELAY/PROBE, static entries,
// DAD with RFC 7527 nonces, link-local from modified EUI-64, RS, RA (router lifetime, hop limit,
// reachable/retrans timers, MTU, SLLA, prefix L/A, RDNSS), SLAAC with the 2-hour rule and
// deprecation.
// Not supported: RFC 5227 ACD probing before use, Redirect (counted, ignored), unsolicited NAs,
// RFC 4191 route information, RDNSS expiry (RFC 8106 servers are passed on, the host times them),
// temporary (RFC 8981) or stable-privacy (RFC 7217) identifiers, proxy ARP/ND, the router role.

import type { IpAddr, IpCidr } from '../wire/ip-address.js';
import type { TimerQueue } from '../timers.js';
import type { Rng } from '../random.js';

/** What the neighbor layer needs from its NIC; the stack's Nic implements it. */
export interface NeighborHost {
  readonly nicId: number;
  /** 6 bytes. */
  readonly mac: Uint8Array;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  /** Sends `payload` in an Ethernet frame; the NIC builds the Ethernet header. */
  sendFrame(dstMac: Uint8Array, etherType: number, payload: Uint8Array): void;
  /** Sends an IPv6 packet (NDP messages: ICMPv6, whose checksum the neighbor layer fills). */
  sendIpv6(p: { src: IpAddr; dst: IpAddr; hopLimit: number; nextHeader: number; payload: Uint8Array }): void;
  ipv4Addresses(): readonly IpCidr[];
  ipv6Addresses(): readonly { cidr: IpCidr; tentative: boolean }[];
  /**
   * Adds an address, or, called again for an address that exists, refreshes its lifetimes
   * (RFC 4862 §5.5.3 e with the 2-hour rule already applied; preferred 0 = deprecated, §5.5.4).
   * Lifetimes are seconds, Infinity for RFC 4861's all-ones "infinity". The neighbor layer also
   * times SLAAC lifetimes itself and calls removeIpv6Address when one runs out, so a NIC that
   * ignores lifetimes stays correct (removeIpv6Address of a missing address must be a no-op).
   */
  addIpv6Address(
    cidr: IpCidr,
    opts: { tentative: boolean; validLifetimeS: number; preferredLifetimeS: number; origin: 'slaac' | 'link-local' },
  ): void;
  removeIpv6Address(addr: IpAddr): void;
  setIpv6AddressTentative(addr: IpAddr, tentative: boolean): void;
  /** Adds or refreshes a default router; lifetime 0 removes it. */
  addDefaultRouter(router: IpAddr, lifetimeS: number): void;
  /** From an RA MTU option (RFC 4861 §4.6.4). */
  setLinkMtu(mtu: number): void;
  /** Stats counter: drops per reason and events ("arp.drop.truncated", "ndp.dad.conflict" ...). */
  count(reason: string): void;

  // Optional extras: the neighbor layer calls them when the NIC provides them.
  /** RA Cur Hop Limit (RFC 4861 §6.3.4), when non-zero. */
  setCurHopLimit?(hopLimit: number): void;
  /** RA prefix with the L flag (RFC 4861 §6.3.4, §5.2 prefix list); lifetime in s (Infinity = infinite), 0 removes it. */
  setOnLinkPrefix?(prefix: IpCidr, validLifetimeS: number): void;
  /** RA Recursive DNS Server option (RFC 8106 §5.1); lifetime in s, Infinity, or 0 = stop using. */
  setDnsServers?(servers: readonly IpAddr[], lifetimeS: number): void;
}

export interface NeighborResolver {
  /**
   * Returns the MAC now, or null after queueing `onResolved` (bounded queue per neighbor; when
   * it is full or resolution fails, `onFailed` runs: the caller sends ICMP host unreachable or
   * drops, and counts). On overflow the OLDEST queued packet fails (its onFailed runs inside
   * this call) and the new one is queued, as Linux does; with no room at all in the cache the
   * new one fails at once. Queued packets are released in order. The returned MAC is shared:
   * copy it, never write to it. Broadcast/multicast next hops map directly (RFC 1112 §6.4,
   * RFC 2464 §7) without a cache entry.
   */
  resolve(nextHop: IpAddr, onResolved: (mac: Uint8Array) => void, onFailed: () => void): Uint8Array | null;
  addStatic(ip: IpAddr, mac: Uint8Array): void;
  /** Reachability confirmation from upper layers (TCP progress), RFC 4861 §7.3.1. */
  confirm(ip: IpAddr): void;
  entries(): { ip: IpAddr; mac: Uint8Array | null; state: string }[];
  /** Removes a neighbor (static or learned); pending callers get onFailed. Optional extra. */
  remove?(ip: IpAddr): void;
}

/** Timings and limits for ARP; defaults follow Linux's net.ipv4.neigh.default.* sysctls. */
export interface ArpOptions {
  /** Broadcast requests sent while INCOMPLETE before giving up (Linux mcast_solicit, 3). */
  maxMulticastSolicit?: number;
  /** Unicast probes sent in PROBE before giving up (Linux ucast_solicit, 3). */
  maxUnicastSolicit?: number;
  /** Interval between requests/probes in ms (Linux retrans_time, 1000). */
  retransTimerMs?: number;
  /** Base of the randomized reachable time in ms (Linux base_reachable_time, 30000). */
  baseReachableTimeMs?: number;
  /** Wait in DELAY before probing, in ms (Linux delay_first_probe_time, 5000). */
  delayFirstProbeTimeMs?: number;
  /** STALE entries unused this long are forgotten, in ms (Linux gc_stale_time, 60000). */
  staleTimeoutMs?: number;
  /** Packets queued per unresolved neighbor (101, as Linux's unres_qlen). */
  queueLength?: number;
  /** Most cache entries kept (Linux gc_thresh3, 1024); at the bound the oldest STALE one goes. */
  maxEntries?: number;
  /** Gratuitous ARP announcements sent by announce() (RFC 5227 ANNOUNCE_NUM, 2). */
  announceNum?: number;
  /** Interval between announcements in ms (RFC 5227 ANNOUNCE_INTERVAL, 2000). */
  announceIntervalMs?: number;
}

/** Timings and switches for NDP; defaults are RFC 4861 §10 and RFC 4862 §5.1 constants. */
export interface NdpOptions {
  /** RFC 4862 DupAddrDetectTransmits (1); 0 disables DAD. */
  dupAddrDetectTransmits?: number;
  /** RFC 4861 RetransTimer in ms (1000); an RA's Retrans Timer overrides it. */
  retransTimerMs?: number;
  /** RFC 4861 BaseReachableTime in ms (30000); an RA's Reachable Time overrides it. */
  baseReachableTimeMs?: number;
  /** RFC 4861 MAX_MULTICAST_SOLICIT (3). */
  maxMulticastSolicit?: number;
  /** RFC 4861 MAX_UNICAST_SOLICIT (3). */
  maxUnicastSolicit?: number;
  /** RFC 4861 DELAY_FIRST_PROBE_TIME in ms (5000). */
  delayFirstProbeTimeMs?: number;
  /** RFC 4861 MAX_RTR_SOLICITATIONS (3). */
  maxRtrSolicitations?: number;
  /** RFC 4861 RTR_SOLICITATION_INTERVAL in ms (4000). */
  rtrSolicitationIntervalMs?: number;
  /** RFC 4861 MAX_RTR_SOLICITATION_DELAY in ms (1000). */
  maxRtrSolicitationDelayMs?: number;
  /** STALE entries unused this long are forgotten, in ms (Linux gc_stale_time, 60000). */
  staleTimeoutMs?: number;
  /** Packets queued per unresolved neighbor (101, as Linux's unres_qlen). */
  queueLength?: number;
  /** Most cache entries kept (Linux gc_thresh3, 1024); at the bound the oldest STALE one goes. */
  maxEntries?: number;
  /** Form addresses from RA prefixes (RFC 4862 §5.5.3); default true. */
  slaac?: boolean;
  /** Accept router advertisements at all (Linux accept_ra); default true. */
  acceptRa?: boolean;
  /** Create the fe80::/64 link-local address from the MAC on start() (default true). */
  linkLocal?: boolean;
  /** Send router solicitations on start() (default true). */
  routerSolicit?: boolean;
}

export type Arp = NeighborResolver & {
  handleArp(payload: Uint8Array): void;
  announce(ip: IpAddr): void;
  /** Cancels timers and fails queued packets. */
  stop?(): void;
  /** Carrier lost: learned entries are flushed; regained: our addresses are announced. */
  linkStateChanged?(up: boolean): void;
};
export type Ndp = NeighborResolver & {
  handleNdp(src: IpAddr, dst: IpAddr, hopLimit: number, icmp: Uint8Array): void;
  start(): void;
  startDad(addr: IpAddr): void;
  stop(): void;
  /** fe80::/64 + modified EUI-64 of the MAC (what start() configures). */
  linkLocalAddress?(): IpAddr;
  /** Addresses removed because DAD found them in use elsewhere (RFC 4862 §5.4.5). */
  duplicateAddresses?(): IpAddr[];
  /** Routers learned from RAs whose lifetime has not run out. */
  defaultRouters?(): IpAddr[];
  /** Carrier lost: learned entries flushed, DAD/RS paused; regained: DAD on every address, RS. */
  linkStateChanged?(up: boolean): void;
};

export { createArp } from './arp.js';
export { createNdp } from './ndp.js';
export type { NudState } from './cache.js';
export { solicitedNode, isSolicitedNode, linkLocalFromMac, eui64InterfaceId, addressFromPrefix } from './codec.js';
