// The netstack's public API: the only door the kernel layer and net-plumbing use. Everything a
// caller needs to build a stack, attach links, configure addresses and routes, open UDP and
// ping endpoints, plug in transports (TCP) and a filter, and read counters is exported here.
//
// What the IP layer does (smoltcp-style list; RFC sections are cited in the files):
//   Ethernet II in/out, multicast MAC mapping; ARP/NDP through src/netstack/neighbor/.
//   IPv4: header checks (RFC 1122 §3.2.1), option walk with parameter problem, source routes
//     refused; fragmentation on send and at routers, reassembly (30 s, 4 MiB cap, overlaps
//     dropped like Linux); DF and path MTU from "fragmentation needed" (RFC 1191, plateaus).
//   IPv6: extension-header walk (hop-by-hop first only, option action bits, routing type 0
//     refused per RFC 5095, atomic fragments), source fragmentation, reassembly (60 s, RFC 5722
//     overlaps dropped), packet too big and PMTU (RFC 8201).
//   Forwarding (off by default): TTL/hop limit, time exceeded, net unreachable, frag-needed /
//     packet too big, router re-fragmentation (IPv4), offloaded partial checksums and GSO
//     aggregates handed on or finished in software.
//   ICMP/ICMPv6: echo reply (broadcast echo ignored), errors with RFC 1122/4443 suppression rules
//     and Linux-like token buckets; errors delivered to TCP/UDP/ping endpoints; PMTU learning.
//   UDP: Linux bind rules (REUSEADDR/REUSEPORT, v6only, v4-mapped), connect, broadcast, bounded
//     queues, RECVERR error queue, SO_ERROR; ping sockets (Linux semantics).
//   Offloads: CHECKSUM_PARTIAL and TCP GSO to capable links, software segmentation otherwise.
//   Filter: five hook points (FilterHooks), accept/drop(reason[, error]); hooks may rewrite the
//     datagram (NAT: addresses re-read, OUTPUT re-routed), a per-packet FilterContext (mark,
//     conntrack) travels between hooks; sendRawIp injects REJECT replies.
// Not (yet): IP options on send or copied into router fragments, ICMP redirects (sent or
// obeyed), IGMP/MLD reports and multicast routing, IP_MULTICAST_LOOP off,
// hop-by-hop processing at routers, jumbograms, IPsec.

export { Stack, HOOK_POINTS } from './stack.js';
export type { StackOptions, AddNicOptions, FilterHooks, FilterPacket, FilterVerdict, FilterContext, HookPoint } from './stack.js';
export { Nic, StaticNeighbors, multicastMac } from './nic.js';
export type { NeighborFactory, ArpResolver, NdpResolver, Ipv6AddressState } from './nic.js';
export { Stats } from './stats.js';
export type { CounterName } from './stats.js';
export { RouteTable } from './route.js';
export type { Route } from './route.js';
export { PmtuCache, MIN_MTU_V4, MIN_MTU_V6 } from './pmtu.js';
export type { PmtuOptions } from './pmtu.js';
export { IcmpRateLimiter, DEFAULT_ICMP_RATE_LIMIT, ICMP4, ICMP6, CODE_OF, isHardError } from './icmp.js';
export type { IcmpRateLimitOptions } from './icmp.js';
export { UdpEndpoint, UdpProtocol, DatagramEndpointBase } from './udp.js';
export type { Datagram, DatagramEndpointOptions, SendAncillary, UdpOptions } from './udp.js';
export { EchoEndpoint, EchoProtocol } from './echo.js';
export { segmentTcp } from './gso.js';
export type { TcpSegment } from './gso.js';
export { Reassembler, fragmentRanges } from './fragment.js';
export type { ReassemblyOptions } from './fragment.js';
export { LoopbackLink } from './links/loopback.js';
export type { LoopbackOptions } from './links/loopback.js';
export { Wire, WirePort } from './links/wire.js';
export type { WireOptions, WirePortOptions } from './links/wire.js';
export { ImpairedLink } from './links/impairment.js';
export type { ImpairmentOptions, ImpairmentCounters } from './links/impairment.js';
export { SnifferLink } from './links/sniffer.js';
export type { PacketSink, SnifferOptions } from './links/sniffer.js';

// Shared contracts, re-exported so callers need only this module.
export { VirtualClock } from './clock.js';
export type { Clock, WakeupHandle } from './clock.js';
export { TimerQueue, Timer } from './timers.js';
export { SeededRng } from './random.js';
export type { Rng } from './random.js';
export { isNetError } from './errors.js';
export type { NetError, NetResult } from './errors.js';
export type { LinkEndpoint, LinkCapabilities, LinkDispatcher, Frame, FrameOffload } from './link.js';
export type {
  NetworkLayer,
  TransportProtocol,
  TransportError,
  TransportErrorKind,
  IpDelivery,
  IpSendParams,
  DeliverVerdict,
  RouteInfo,
  GsoRequest,
  FlowOwner,
} from './transport.js';
export { IpAddr, IpCidr } from './wire/ip-address.js';
export type { IpFamily } from './wire/ip-address.js';

import { Stack, type StackOptions } from './stack.js';

/** Builds a stack; the same as `new Stack(opts)`. */
export function createStack(opts: StackOptions): Stack {
  return new Stack(opts);
}
export * from './filter/index.js';
export * from './dns/index.js';
