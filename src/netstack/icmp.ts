// ICMP for IPv4 and IPv6: echo reply, error generation (rate-limited), and delivery of received
// errors to the transport endpoint they concern. Read first: RFC 792 (ICMPv4 messages),
// RFC 1122 §3.2.2 (when a host must and must not send errors), RFC 1812 §4.3.2.8 (rate
// limiting), RFC 4443 (ICMPv6: §2.4 rules, §2.4(e) no errors about errors/multicast, §2.4(f)
// rate limiting, §3 errors, §4 echo), RFC 1191 §4-5 and RFC 8201 §4 (path MTU from errors),
// RFC 5927 (validate errors against the quoted flow). Linux's icmp_ratelimit/icmp_ratemask and
// icmp_msgs_per_sec/burst are the model for the two token buckets.

import { IpAddr } from './wire/ip-address.js';
import { foldSum, internetChecksum, pseudoHeaderSum, sumWords } from './wire/checksum.js';
import type { NetError, NetResult } from './errors.js';
import type { IpSendParams, RouteInfo, TransportError, TransportErrorKind } from './transport.js';
import type { Stats } from './stats.js';
import type { Ipv4Header } from './ipv4.js';
import type { Ipv6Header } from './ipv6.js';
import { IPV6_HEADER, NH_FRAGMENT, walkExtensions } from './ipv6.js';
import type { PmtuCache } from './pmtu.js';

export const ICMP4 = {
  ECHO_REPLY: 0,
  DEST_UNREACH: 3,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAM_PROBLEM: 12,
} as const;
export const ICMP4_UNREACH = { NET: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAG_NEEDED: 4, ADMIN: 13 } as const;

export const ICMP6 = {
  DEST_UNREACH: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
} as const;
export const ICMP6_UNREACH = { NO_ROUTE: 0, ADMIN: 1, BEYOND_SCOPE: 2, ADDRESS: 3, PORT: 4 } as const;

export interface IcmpRateLimitOptions {
  /** Stack-wide error budget per second (Linux icmp_msgs_per_sec, 1000). */
  globalPerSec: number;
  /** Stack-wide burst (Linux icmp_msgs_burst, 50). */
  globalBurst: number;
  /** One error per destination per this many ms (Linux icmp_ratelimit, 1000). */
  perDestIntervalMs: number;
  /** Tokens a quiet destination may save up (Linux XRLIM_BURST_FACTOR, 6). */
  perDestBurst: number;
  /** Destinations remembered at most. */
  maxDests: number;
}

export const DEFAULT_ICMP_RATE_LIMIT: IcmpRateLimitOptions = {
  globalPerSec: 1000,
  globalBurst: 50,
  perDestIntervalMs: 1000,
  perDestBurst: 6,
  maxDests: 4096,
};

/** Two token buckets: one stack-wide, one per destination (RFC 4443 §2.4(f)). */
export class IcmpRateLimiter {
  private globalTokens: number;
  private globalAt: number;
  private readonly perDest = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly now: () => number,
    private readonly o: IcmpRateLimitOptions = DEFAULT_ICMP_RATE_LIMIT,
  ) {
    this.globalTokens = o.globalBurst;
    this.globalAt = now();
  }

  allow(dst: IpAddr): boolean {
    const t = this.now();
    this.globalTokens = Math.min(this.o.globalBurst, this.globalTokens + ((t - this.globalAt) * this.o.globalPerSec) / 1000);
    this.globalAt = t;
    if (this.globalTokens < 1) return false;
    // Per destination: tokens are milliseconds of credit, as in Linux's inet_peer_xrlim_allow.
    const cap = this.o.perDestIntervalMs * this.o.perDestBurst;
    let b = this.perDest.get(dst.key);
    if (!b) {
      if (this.perDest.size >= this.o.maxDests) this.perDest.clear();
      b = { tokens: cap, at: t };
      this.perDest.set(dst.key, b);
    }
    b.tokens = Math.min(cap, b.tokens + (t - b.at));
    b.at = t;
    if (b.tokens < this.o.perDestIntervalMs) return false;
    b.tokens -= this.o.perDestIntervalMs;
    this.globalTokens -= 1;
    return true;
  }
}

/** A received echo reply handed to the ping-socket layer. */
export interface EchoSink {
  deliverReply(src: IpAddr, dst: IpAddr, msg: Uint8Array, ttl: number, nicId: number): boolean;
  deliverError(err: TransportError): void;
}

/** What ICMP needs from the stack. */
export interface IcmpHost {
  readonly stats: Stats;
  readonly pmtu: PmtuCache;
  sendIp(p: IpSendParams): NetResult<void>;
  route(dst: IpAddr, src?: IpAddr | null): NetResult<RouteInfo>;
  isLocalAddress(a: IpAddr, nicId?: number): boolean;
  /** Delivers a transport error to protocol `protocol` (TCP, UDP, ...). */
  deliverTransportError(protocol: number, err: TransportError): void;
  echoSink(family: 4 | 6): EchoSink;
  /** The NDP handler of a NIC (types 133-137), if it has one. */
  ndpInput(nicId: number, src: IpAddr, dst: IpAddr, hopLimit: number, msg: Uint8Array): void;
}

/** What we know about the packet an error is about, besides its bytes. */
export interface OffendingPacket4 {
  readonly h: Ipv4Header;
  /** The IPv4 datagram (header first). */
  readonly packet: Uint8Array;
  /** Arrived as link-layer broadcast/multicast, or to a broadcast/multicast IP. */
  readonly multicastOrBroadcast: boolean;
}

export interface OffendingPacket6 {
  readonly h: Ipv6Header;
  readonly packet: Uint8Array;
  readonly multicastOrBroadcast: boolean;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** RFC 1191 §7 plateau table, for "fragmentation needed" from routers that leave the MTU zero. */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

export class Icmp {
  readonly limiter: IcmpRateLimiter;

  constructor(
    private readonly host: IcmpHost,
    now: () => number,
    rate: IcmpRateLimitOptions,
  ) {
    this.limiter = new IcmpRateLimiter(now, rate);
  }

  // ---- input ----

  input4(src: IpAddr, dst: IpAddr, msg: Uint8Array, ttl: number, nicId: number, toBroadcast: boolean, verified: boolean): void {
    const s = this.host.stats;
    if (msg.length < 8) return s.count('icmp4.dropped.short');
    if (!verified && foldSum(sumWords(msg)) !== 0xffff) return s.count('icmp4.dropped.bad-checksum');
    const type = msg[0];
    s.count(`icmp4.in.type-${type}`);
    switch (type) {
      case ICMP4.ECHO_REQUEST:
        // Linux icmp_echo_ignore_broadcasts=1: smurf amplification is not our business.
        if (toBroadcast) return s.count('icmp4.dropped.broadcast-echo');
        this.echoReply(4, dst, src, msg);
        return;
      case ICMP4.ECHO_REPLY:
        if (!this.host.echoSink(4).deliverReply(src, dst, msg, ttl, nicId)) s.count('icmp4.dropped.no-echo-endpoint');
        return;
      case ICMP4.DEST_UNREACH:
      case ICMP4.TIME_EXCEEDED:
      case ICMP4.PARAM_PROBLEM:
        this.errorInput4(src, msg);
        return;
      default:
        s.count('icmp4.ignored');
    }
  }

  input6(src: IpAddr, dst: IpAddr, msg: Uint8Array, hopLimit: number, nicId: number, toMulticast: boolean, verified: boolean): void {
    const s = this.host.stats;
    if (msg.length < 4) return s.count('icmp6.dropped.short');
    // RFC 4443 §2.3: the checksum covers the IPv6 pseudo-header.
    if (!verified && foldSum(pseudoHeaderSum(src, dst, 58, msg.length) + sumWords(msg)) !== 0xffff) {
      return s.count('icmp6.dropped.bad-checksum');
    }
    const type = msg[0];
    s.count(`icmp6.in.type-${type}`);
    if (type >= 133 && type <= 137) {
      // Router/neighbor discovery and redirects belong to the neighbor module (RFC 4861), which
      // checks hop limit 255 itself.
      this.host.ndpInput(nicId, src, dst, hopLimit, msg);
      return;
    }
    if (msg.length < 8) return s.count('icmp6.dropped.short');
    switch (type) {
      case ICMP6.ECHO_REQUEST:
        // RFC 4443 §4.2: answer multicast requests too, from a unicast address (route choice).
        this.echoReply(6, toMulticast ? null : dst, src, msg);
        return;
      case ICMP6.ECHO_REPLY:
        if (!this.host.echoSink(6).deliverReply(src, dst, msg, hopLimit, nicId)) s.count('icmp6.dropped.no-echo-endpoint');
        return;
      case ICMP6.DEST_UNREACH:
      case ICMP6.PACKET_TOO_BIG:
      case ICMP6.TIME_EXCEEDED:
      case ICMP6.PARAM_PROBLEM:
        this.errorInput6(src, msg);
        return;
      default:
        // RFC 4443 §2.4(a)/(b): unknown errors go up, unknown informational messages are dropped.
        s.count('icmp6.ignored');
    }
  }

  private echoReply(family: 4 | 6, from: IpAddr | null, to: IpAddr, req: Uint8Array): void {
    const header = req.slice(0, 8);
    header[0] = family === 4 ? ICMP4.ECHO_REPLY : ICMP6.ECHO_REPLY;
    header[2] = 0;
    header[3] = 0;
    const data = req.subarray(8);
    const r = this.host.route(to, from);
    if (typeof r === 'string') return this.host.stats.count(`icmp${family}.dropped.echo-no-route`);
    this.fillChecksum(family, r.src, to, header, data);
    const res = this.host.sendIp({ src: r.src, dst: to, protocol: family === 4 ? 1 : 58, header, payload: data });
    this.host.stats.count(typeof res === 'string' ? `icmp${family}.out.failed` : `icmp${family}.out.echo-reply`);
  }

  private fillChecksum(family: 4 | 6, src: IpAddr, dst: IpAddr, header: Uint8Array, data: Uint8Array): void {
    header[2] = 0;
    header[3] = 0;
    let c: number;
    if (family === 4) c = internetChecksum(header, data);
    else c = ~foldSum(pseudoHeaderSum(src, dst, 58, header.length + data.length) + sumWords(header) + oddSafeSum(header, data)) & 0xffff;
    header[2] = c >>> 8;
    header[3] = c & 0xff;
  }

  private errorInput4(from: IpAddr, msg: Uint8Array): void {
    const s = this.host.stats;
    const q = msg.subarray(8);
    // RFC 792: the quote is the original header plus at least 64 bits of its data.
    if (q.length < 20 || q[0] >> 4 !== 4) return s.count('icmp4.dropped.bad-quote');
    const ihl = (q[0] & 0x0f) * 4;
    if (ihl < 20 || q.length < ihl + 8) return s.count('icmp4.dropped.bad-quote');
    const src = IpAddr.read(4, q, 12);
    const dst = IpAddr.read(4, q, 16);
    if (!this.host.isLocalAddress(src)) return s.count('icmp4.dropped.not-our-packet');
    const protocol = q[9];
    const type = msg[0];
    const code = msg[1];
    let kind: TransportErrorKind;
    let mtu: number | undefined;
    if (type === ICMP4.DEST_UNREACH) {
      kind = UNREACH4[code] ?? 'host-unreachable';
      if (code === ICMP4_UNREACH.FRAG_NEEDED) {
        // RFC 1191 §4: next-hop MTU in the low 16 bits; zero from old routers (§5: guess a plateau).
        mtu = u16(msg, 6);
        const quotedLen = u16(q, 2);
        if (mtu < 68 || mtu >= quotedLen) mtu = PLATEAUS.find((p) => p < quotedLen) ?? 68;
        mtu = this.learnPmtu(dst, mtu);
      }
    } else if (type === ICMP4.TIME_EXCEEDED) kind = 'time-exceeded';
    else kind = 'parameter-problem';
    const err: TransportError = {
      kind,
      ...icmpErrno(4, type, code),
      from,
      icmpType: type,
      icmpCode: code,
      mtu,
      src,
      dst,
      protocol,
      quoted: q.slice(ihl),
    };
    this.dispatchError(4, err);
  }

  private errorInput6(from: IpAddr, msg: Uint8Array): void {
    const s = this.host.stats;
    const q = msg.subarray(8);
    if (q.length < IPV6_HEADER || q[0] >> 4 !== 6) return s.count('icmp6.dropped.bad-quote');
    const src = IpAddr.read(6, q, 8);
    const dst = IpAddr.read(6, q, 24);
    if (!this.host.isLocalAddress(src)) return s.count('icmp6.dropped.not-our-packet');
    // Find the quoted transport header through the quoted extension headers (RFC 4443 §2.4(c)
    // quotes as much as fits, so the chain may be cut short: then we cannot tell the flow).
    let w = walkExtensions(q, q[6], IPV6_HEADER, 6, q.length, false);
    if (w.kind === 'fragment') {
      if (w.fragOffset !== 0) return s.count('icmp6.dropped.bad-quote');
      w = walkExtensions(q, w.nextHeader, w.offset + 8, w.offset, q.length, false);
    }
    if (w.kind !== 'upper' || w.protocol === NH_FRAGMENT) return s.count('icmp6.dropped.bad-quote');
    if (q.length < w.offset + 4) return s.count('icmp6.dropped.bad-quote');
    const type = msg[0];
    const code = msg[1];
    let kind: TransportErrorKind;
    let mtu: number | undefined;
    switch (type) {
      case ICMP6.DEST_UNREACH:
        kind = UNREACH6[code] ?? 'host-unreachable';
        break;
      case ICMP6.PACKET_TOO_BIG:
        kind = 'fragmentation-needed';
        // RFC 8201 §4: never below 1280 (the cache clamps).
        mtu = this.learnPmtu(dst, u32(msg, 4));
        break;
      case ICMP6.TIME_EXCEEDED:
        kind = 'time-exceeded';
        break;
      default:
        kind = 'parameter-problem';
    }
    const err: TransportError = {
      kind,
      ...icmpErrno(6, type, code),
      from,
      icmpType: type,
      icmpCode: code,
      mtu,
      src,
      dst,
      protocol: w.protocol,
      quoted: q.slice(w.offset),
    };
    this.dispatchError(6, err);
  }

  private learnPmtu(dst: IpAddr, mtu: number): number {
    const r = this.host.route(dst);
    const linkMtu = typeof r === 'string' ? 65535 : r.mtu;
    // route() already folds in the cached value; learning against the NIC's MTU would be more
    // exact, but a cached value only ever decreases, so the smaller bound is equivalent.
    const v = this.host.pmtu.learn(dst, mtu, Math.max(linkMtu, mtu));
    this.host.stats.count(`icmp${dst.family}.pmtu-learned`);
    return v;
  }

  private dispatchError(family: 4 | 6, err: TransportError): void {
    if (err.protocol === (family === 4 ? 1 : 58)) {
      // An error about one of our echo requests: the ping socket that sent it wants it.
      const t = err.quoted[0];
      if (t === (family === 4 ? ICMP4.ECHO_REQUEST : ICMP6.ECHO_REQUEST)) this.host.echoSink(family).deliverError(err);
      return;
    }
    this.host.deliverTransportError(err.protocol, err);
  }

  // ---- output: errors ----

  /**
   * Sends an ICMPv4 error about `o` unless RFC 1122 §3.2.2 forbids it or the rate limiter says
   * no. `rest` is the second 32-bit word (pointer << 24, or the next-hop MTU).
   */
  error4(o: OffendingPacket4, type: number, code: number, rest = 0): boolean {
    const s = this.host.stats;
    const h = o.h;
    // RFC 1122 §3.2.2: never about an ICMP error, a broadcast/multicast, a non-initial fragment,
    // or a source that does not name a single host.
    if (o.multicastOrBroadcast) return this.refuse(4, 'broadcast');
    if (h.fragOffset !== 0) return this.refuse(4, 'fragment');
    // (Loopback sources are fine: martian ones were dropped at input, so this came over lo.)
    if (h.src.isUnspecified() || h.src.bytes[0] >= 224) return this.refuse(4, 'bad-source');
    if (h.protocol === 1) {
      const t = o.packet.length > h.hdrLen ? o.packet[h.hdrLen] : 255;
      if (t !== ICMP4.ECHO_REQUEST && t !== ICMP4.ECHO_REPLY && t !== 13 && t !== 14 && t !== 15 && t !== 16) {
        return this.refuse(4, 'about-error');
      }
    }
    // Linux icmpv4_xrlim_allow: no limit towards ourselves (the error travels over loopback).
    if (!this.host.isLocalAddress(h.src) && !h.src.isLoopback() && !this.limiter.allow(h.src)) return this.refuse(4, 'rate-limited');
    // RFC 1812 §4.3.2.3: quote as much as fits in 576 bytes.
    const quote = o.packet.subarray(0, Math.min(h.totalLen, o.packet.length, 576 - 20 - 8));
    const from = this.host.isLocalAddress(h.dst) ? h.dst : null;
    return this.sendError(4, h.src, from, type, code, rest, quote) && (s.count(`icmp4.out.type-${type}`), true);
  }

  /** Sends an ICMPv6 error about `o` unless RFC 4443 §2.4(e) forbids it or it is rate-limited. */
  error6(o: OffendingPacket6, type: number, code: number, rest = 0): boolean {
    const s = this.host.stats;
    const h = o.h;
    // RFC 4443 §2.4(e): packet too big and parameter problem code 2 may answer multicast.
    const exempt = type === ICMP6.PACKET_TOO_BIG || (type === ICMP6.PARAM_PROBLEM && code === 2);
    if (o.multicastOrBroadcast && !exempt) return this.refuse(6, 'multicast');
    if (h.src.isUnspecified() || h.src.isMulticast()) return this.refuse(6, 'bad-source');
    if (isIcmp6Error(o.packet, h)) return this.refuse(6, 'about-error');
    const local = this.host.isLocalAddress(h.src) || h.src.isLoopback();
    if (type !== ICMP6.PACKET_TOO_BIG && !local && !this.limiter.allow(h.src)) return this.refuse(6, 'rate-limited');
    // RFC 4443 §2.4(c): as much of the packet as fits in the minimum MTU.
    const quote = o.packet.subarray(0, Math.min(h.end, o.packet.length, 1280 - 40 - 8));
    const from = this.host.isLocalAddress(h.dst) ? h.dst : null;
    return this.sendError(6, h.src, from, type, code, rest, quote) && (s.count(`icmp6.out.type-${type}`), true);
  }

  private refuse(family: 4 | 6, why: string): false {
    this.host.stats.count(`icmp${family}.error-suppressed.${why}`);
    return false;
  }

  private sendError(family: 4 | 6, to: IpAddr, from: IpAddr | null, type: number, code: number, rest: number, quote: Uint8Array): boolean {
    const r = this.host.route(to, from);
    if (typeof r === 'string') {
      this.host.stats.count(`icmp${family}.out.no-route`);
      return false;
    }
    const header = new Uint8Array(8);
    header[0] = type;
    header[1] = code;
    header[4] = rest >>> 24;
    header[5] = (rest >>> 16) & 0xff;
    header[6] = (rest >>> 8) & 0xff;
    header[7] = rest & 0xff;
    const data = quote.slice();
    this.fillChecksum(family, r.src, to, header, data);
    const res = this.host.sendIp({ src: r.src, dst: to, protocol: family === 4 ? 1 : 58, header, payload: data });
    if (typeof res === 'string') {
      this.host.stats.count(`icmp${family}.out.failed`);
      return false;
    }
    return true;
  }
}

/** Sum of `data` as it sits after `header` in one message (odd header lengths swap bytes). */
function oddSafeSum(header: Uint8Array, data: Uint8Array): number {
  const s = foldSum(sumWords(data));
  return header.length & 1 ? ((s & 0xff) << 8) | (s >>> 8) : s;
}

/** RFC 4443 §2.4(e.1): is this IPv6 packet itself an ICMPv6 error (type < 128)? */
function isIcmp6Error(pkt: Uint8Array, h: Ipv6Header): boolean {
  let w = walkExtensions(pkt, h.nextHeader, IPV6_HEADER, 6, h.end, false);
  if (w.kind === 'fragment') {
    if (w.fragOffset !== 0) return false;
    w = walkExtensions(pkt, w.nextHeader, w.offset + 8, w.offset, h.end, false);
  }
  if (w.kind !== 'upper') return false;
  return w.protocol === 58 && (w.offset >= h.end || pkt[w.offset] < 128);
}

const UNREACH4: Record<number, TransportErrorKind> = {
  0: 'net-unreachable',
  1: 'host-unreachable',
  2: 'protocol-unreachable',
  3: 'port-unreachable',
  4: 'fragmentation-needed',
  5: 'source-route-failed',
  6: 'net-unreachable',
  7: 'host-unreachable',
  9: 'admin-prohibited',
  10: 'admin-prohibited',
  11: 'net-unreachable',
  12: 'host-unreachable',
  13: 'admin-prohibited',
};

const UNREACH6: Record<number, TransportErrorKind> = {
  0: 'net-unreachable',
  1: 'admin-prohibited',
  2: 'host-unreachable',
  3: 'host-unreachable',
  4: 'port-unreachable',
  5: 'admin-prohibited',
  6: 'admin-prohibited',
};

/**
 * The socket error an ICMP error becomes and whether it is fatal (hard) for the flow: Linux's
 * icmp_err_convert (net/ipv4/icmp.c, indexed by destination-unreachable code, with
 * __udp4_lib_err's cases for the other types) and icmpv6_err_convert (net/ipv6/icmp.c). The
 * meaning alone is not enough: "administratively prohibited" is EHOSTUNREACH over IPv4 and
 * EACCES over IPv6, and "net unreachable" is soft for code 0 but hard for code 9.
 */
export function icmpErrno(family: 4 | 6, type: number, code: number): { code: NetError; fatal: boolean } {
  if (family === 4) {
    if (type === ICMP4.DEST_UNREACH) return UNREACH4_ERRNO[code] ?? { code: 'EHOSTUNREACH', fatal: false };
    if (type === ICMP4.TIME_EXCEEDED) return { code: 'EHOSTUNREACH', fatal: false };
    return { code: 'EPROTO', fatal: true }; // parameter problem
  }
  switch (type) {
    case ICMP6.DEST_UNREACH:
      return UNREACH6_ERRNO[code] ?? { code: 'EPROTO', fatal: false };
    case ICMP6.PACKET_TOO_BIG:
      return { code: 'EMSGSIZE', fatal: true };
    case ICMP6.TIME_EXCEEDED:
      return { code: 'EHOSTUNREACH', fatal: false };
    default:
      return { code: 'EPROTO', fatal: true };
  }
}

const e = (code: NetError, fatal: boolean) => ({ code, fatal });
const UNREACH4_ERRNO: Record<number, { code: NetError; fatal: boolean }> = {
  0: e('ENETUNREACH', false), // net unreachable
  1: e('EHOSTUNREACH', false), // host unreachable
  2: e('ENOPROTOOPT', true), // protocol unreachable
  3: e('ECONNREFUSED', true), // port unreachable
  4: e('EMSGSIZE', true), // fragmentation needed (UDP with PMTU discovery on: hard)
  5: e('EOPNOTSUPP', false), // source route failed
  6: e('ENETUNREACH', true), // net unknown
  7: e('EHOSTDOWN', true), // host unknown
  8: e('ENONET', true), // host isolated
  9: e('ENETUNREACH', true), // net administratively prohibited
  10: e('EHOSTUNREACH', true), // host administratively prohibited
  11: e('ENETUNREACH', false), // net unreachable for TOS
  12: e('EHOSTUNREACH', false), // host unreachable for TOS
  13: e('EHOSTUNREACH', true), // communication administratively prohibited (RFC 1812)
  14: e('EHOSTUNREACH', true), // host precedence violation
  15: e('EHOSTUNREACH', true), // precedence cutoff
};
const UNREACH6_ERRNO: Record<number, { code: NetError; fatal: boolean }> = {
  0: e('ENETUNREACH', false), // no route
  1: e('EACCES', true), // administratively prohibited
  2: e('EHOSTUNREACH', false), // beyond scope of source address
  3: e('EHOSTUNREACH', false), // address unreachable
  4: e('ECONNREFUSED', true), // port unreachable
  5: e('EACCES', true), // source address failed ingress/egress policy
  6: e('EACCES', true), // reject route to destination
};

/** The usual socket error of each kind of ICMP error (icmpErrno has the exact one per code). */
export const CODE_OF: Record<TransportErrorKind, NetError> = {
  'port-unreachable': 'ECONNREFUSED',
  'host-unreachable': 'EHOSTUNREACH',
  'net-unreachable': 'ENETUNREACH',
  'protocol-unreachable': 'ENOPROTOOPT',
  'admin-prohibited': 'EACCES',
  'fragmentation-needed': 'EMSGSIZE',
  'time-exceeded': 'EHOSTUNREACH',
  'parameter-problem': 'EPROTO',
  'source-route-failed': 'EOPNOTSUPP',
};

/** Errors Linux treats as fatal for a connected datagram socket (icmp_err_convert's `fatal`). */
export function isHardError(kind: TransportErrorKind): boolean {
  return kind === 'port-unreachable' || kind === 'protocol-unreachable' || kind === 'parameter-problem' || kind === 'admin-prohibited';
}
