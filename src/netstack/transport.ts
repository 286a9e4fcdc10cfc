// The contract between the IP layer and the transport protocols (UDP, TCP, ICMP echo sockets).
// Transports are registered with the stack by protocol number; the stack knows none of them
// concretely (gVisor's stack.TransportProtocol shape). Each side sees only these interfaces.

import type { IpAddr } from './wire/ip-address.js';
import type { NetError, NetResult } from './errors.js';
import type { TimerQueue } from './timers.js';
import type { Rng } from './random.js';

/** A datagram handed up after IP validation, filtering and reassembly. */
export interface IpDelivery {
  readonly src: IpAddr;
  readonly dst: IpAddr;
  /** IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6). */
  readonly protocol: number;
  /** The transport header and data: a view into the frame or reassembly buffer. Copy to keep. */
  readonly payload: Uint8Array;
  readonly ttl: number;
  readonly tos: number;
  /** The NIC it arrived on. */
  readonly nicId: number;
  /** The link (or an earlier layer) already verified the transport checksum. */
  readonly checksumVerified: boolean;
  /** The whole IP datagram, for quoting in ICMP errors. */
  readonly packet: Uint8Array;
  /** True when the destination was a broadcast or multicast address. */
  readonly multicastOrBroadcast: boolean;
}

/** What a transport tells the stack about a datagram it was given. */
export type DeliverVerdict =
  | 'delivered'
  /** No endpoint wants it: the stack answers with ICMP port unreachable (rate-limited). */
  | 'no-endpoint'
  /** Dropped by the transport (bad checksum, queue full, ...); it counted the reason itself. */
  | 'dropped';

export type TransportErrorKind =
  | 'port-unreachable'
  | 'host-unreachable'
  | 'net-unreachable'
  | 'protocol-unreachable'
  | 'admin-prohibited'
  | 'fragmentation-needed' // ICMPv4 type 3 code 4 and ICMPv6 packet too big: carries `mtu`
  | 'time-exceeded'
  | 'parameter-problem'
  | 'source-route-failed';

/** An ICMP error that concerns a transport flow (RFC 1122 §4.2.3.9, RFC 4443 §2.4). */
export interface TransportError {
  readonly kind: TransportErrorKind;
  /** The socket error this becomes (ECONNREFUSED for port unreachable, ...). */
  readonly code: NetError;
  /**
   * A hard error (Linux's icmp_err_convert `fatal`): it fails a connecting TCP socket and is
   * reported on a connected UDP socket; soft errors are only remembered. Absent: judge by kind.
   */
  readonly fatal?: boolean;
  /** The sender of the ICMP message (a router, or the peer). */
  readonly from: IpAddr;
  readonly icmpType: number;
  readonly icmpCode: number;
  /** Next-hop MTU for fragmentation-needed / packet-too-big. */
  readonly mtu?: number;
  /** Addresses and protocol of the original datagram, as quoted. */
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly protocol: number;
  /** The quoted transport header (at least the first 8 bytes: ports, and TCP's sequence number). */
  readonly quoted: Uint8Array;
}

export interface TransportProtocol {
  readonly protocol: number;
  deliver(pkt: IpDelivery): DeliverVerdict;
  deliverError(err: TransportError): void;
}

/** TCP segmentation offload request: `payload` is larger than one segment of `mss` bytes. */
export interface GsoRequest {
  readonly kind: 'tcp';
  readonly mss: number;
}

export interface IpSendParams {
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly protocol: number;
  /** Default: the stack's (64, or the route's). */
  readonly ttl?: number;
  readonly tos?: number;
  /** IPv4 DF bit; path-MTU discovery for TCP sets it. Default false. */
  readonly dontFragment?: boolean;
  /** The transport header (complete, but see `checksumOffset`). */
  readonly header: Uint8Array;
  /** Transport data after the header; sent without copying where the link allows. */
  readonly payload?: Uint8Array;
  /**
   * When set, the 16-bit transport checksum at this offset in `header` holds only the
   * pseudo-header sum (Linux's CHECKSUM_PARTIAL); the stack finishes it in software or
   * hands it to a link with checksum offload. When unset, the transport filled it.
   */
  readonly checksumOffset?: number;
  /** Segmentation offload; the stack segments in software when the link cannot. */
  readonly gso?: GsoRequest;
  /** Owner of the flow (for the filter's owner match and the audit log). */
  readonly owner?: FlowOwner;
  /**
   * Leave through this NIC (SO_BINDTODEVICE, an IPv6 scope id, IP_MULTICAST_IF); the route
   * is then looked up among that NIC's routes only. Default: whichever NIC the route names.
   */
  readonly nicId?: number;
}

/** Who made a flow: known because moat served the socket call. */
export interface FlowOwner {
  readonly pid?: number;
  readonly uid?: number;
  readonly command?: string;
}

export interface RouteInfo {
  /** Source address the stack would choose (RFC 6724 for IPv6). */
  readonly src: IpAddr;
  readonly nicId: number;
  /** Link MTU of the outgoing NIC, lowered by any learned path MTU for the destination. */
  readonly mtu: number;
  /** Gateway, or null when on-link. */
  readonly nextHop: IpAddr | null;
  /** The outgoing link can finish transport checksums / segment TCP in hardware. */
  readonly checksumOffload: boolean;
  readonly gsoMaxSize: number;
}

/** What a transport protocol sees of the stack. */
export interface NetworkLayer {
  readonly timers: TimerQueue;
  readonly rng: Rng;
  /** Sends one transport datagram; errors are immediate (no route, too big with DF, filtered). */
  sendIp(p: IpSendParams): NetResult<void>;
  /**
   * Route lookup for `dst`, optionally from a bound `src` (which must then be local), optionally
   * restricted to one NIC (see IpSendParams.nicId).
   */
  route(dst: IpAddr, src?: IpAddr | null, nicId?: number): NetResult<RouteInfo>;
  /** True when `a` is one of the stack's own unicast addresses (on any NIC, or on `nicId`). */
  isLocalAddress(a: IpAddr, nicId?: number): boolean;
}
