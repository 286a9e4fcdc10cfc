// Socket option values as Linux reads and writes them: for each option its level, number, value
// type, how optlen is checked on set and truncated on get, and the range/clamping rules of the
// value. Pure functions: the socket layer keeps the state, this module says what a set means and
// what a get returns. Also the option-shaped ancillary values (in_pktinfo, in6_pktinfo) and the
// cmsg framing used by sendmsg/recvmsg.
// Read: RFC 3542 §6.1 (in6_pktinfo, IPV6_PKTINFO), RFC 3493 §5.3 (IPV6_V6ONLY), RFC 2474 §3 and
// RFC 3168 §5 (the TOS/traffic-class byte and its two ECN bits), RFC 5482 (TCP_USER_TIMEOUT),
// RFC 1122 §4.2.3.6 (keep-alives), RFC 1191 (IP_MTU_DISCOVER). Linux: net/core/sock.c
// (sk_setsockopt, sk_getsockopt, sock_set_timeout, sock_get_timeout), net/ipv4/tcp.c
// (do_tcp_setsockopt, do_tcp_getsockopt, tcp_get_info), net/ipv4/ip_sockglue.c (do_ip_setsockopt,
// do_ip_getsockopt), net/ipv6/ipv6_sockglue.c, include/uapi/linux/tcp.h (struct tcp_info).
// The conformance table (test/kernel/conformance) checks these rules against the running kernel.

import type { ErrnoName } from './errno.js';
import { IPOPT, IPV6OPT, SO, SOL, TCPOPT } from './socket-abi.js';

/** How a value is laid out in optval. */
export type OptKind = 'int' | 'bool' | 'linger' | 'timeval' | 'string' | 'tcp_info' | 'bytes';

export type OptLevelName = 'SOL_SOCKET' | 'SOL_TCP' | 'SOL_IP' | 'SOL_IPV6';

/** Limits that come from sysctls or the kernel build; the socket layer passes its own. */
export interface SockoptLimits {
  /** net.core.wmem_max / rmem_max (bytes). */
  wmemMax: number;
  rmemMax: number;
  /** Kernel HZ: timeouts are stored in jiffies, so timeval round trips are rounded to 1/HZ. */
  hz: number;
  /** net.ipv4.ip_default_ttl, and the IPv6 hop_limit, reported while the option is -1. */
  defaultTtl: number;
  defaultHopLimit: number;
  /** net.ipv4.tcp_fin_timeout (seconds): what TCP_LINGER2 reports while it is 0. */
  finTimeout: number;
  /** Initial buffer sizes: tcp_wmem[1] / tcp_rmem[1] for TCP, net.core.wmem_default / rmem_default otherwise. */
  tcpWmemDefault: number;
  tcpRmemDefault: number;
  wmemDefault: number;
  rmemDefault: number;
  /** net.ipv4.tcp_keepalive_time / _intvl / _probes, net.ipv4.tcp_syn_retries, net.ipv6.bindv6only. */
  keepaliveTime: number;
  keepaliveIntvl: number;
  keepaliveProbes: number;
  synRetries: number;
  bindv6only: number;
}

export const LINUX_DEFAULT_LIMITS: SockoptLimits = {
  wmemMax: 212992, rmemMax: 212992, hz: 250, defaultTtl: 64, defaultHopLimit: 64, finTimeout: 60,
  tcpWmemDefault: 16384, tcpRmemDefault: 131072, wmemDefault: 212992, rmemDefault: 212992,
  keepaliveTime: 7200, keepaliveIntvl: 75, keepaliveProbes: 9, synRetries: 6, bindv6only: 0,
};

/**
 * What a getsockopt of an int option reports on a fresh, unconnected socket: the kernel's
 * initial values (sock_init_data, tcp_init_sock, inet_create, inet6_create) given the sysctls
 * in `lim`. SO_TYPE/SO_DOMAIN/SO_PROTOCOL depend on the socket and are not covered; IP_MTU and
 * IPV6_MTU are ENOTCONN until connected. Checked against the conformance table's defaults.
 */
export function defaultInt(name: string, stream: boolean, lim: SockoptLimits): number | undefined {
  switch (name) {
    case 'SO_SNDBUF': return stream ? lim.tcpWmemDefault : lim.wmemDefault;
    case 'SO_RCVBUF': return stream ? lim.tcpRmemDefault : lim.rmemDefault;
    case 'SO_RCVLOWAT': case 'SO_SNDLOWAT': return 1;
    case 'TCP_KEEPIDLE': return lim.keepaliveTime;
    case 'TCP_KEEPINTVL': return lim.keepaliveIntvl;
    case 'TCP_KEEPCNT': return lim.keepaliveProbes;
    case 'TCP_SYNCNT': return lim.synRetries;
    // TCP_MSS_DEFAULT (RFC 1122 §4.2.2.6: 536 when the peer sends no MSS option).
    case 'TCP_MAXSEG': return 536;
    case 'TCP_QUICKACK': return 1;
    case 'TCP_LINGER2': return lim.finTimeout;
    case 'IP_TTL': return lim.defaultTtl;
    case 'IPV6_UNICAST_HOPS': return lim.defaultHopLimit;
    // IP_PMTUDISC_WANT while net.ipv4.ip_no_pmtu_disc is 0 (RFC 1191).
    case 'IP_MTU_DISCOVER': case 'IPV6_MTU_DISCOVER': return 1;
    case 'IP_MULTICAST_TTL': case 'IP_MULTICAST_LOOP': return 1;
    case 'IPV6_V6ONLY': return lim.bindv6only;
    case 'IP_MTU': case 'IPV6_MTU': case 'SO_TYPE': case 'SO_DOMAIN': case 'SO_PROTOCOL': return undefined;
    default: return BY_NAME.has(name) ? 0 : undefined;
  }
}

/**
 * SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF (include/net/sock.h): twice / once TCP_SKB_MIN_TRUESIZE,
 * which is 2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff)); sk_buff is 232 bytes on x86_64 (256
 * aligned), so 4608 and 2304. The conformance table checks them on the running kernel.
 */
export const SOCK_MIN_SNDBUF = 4608;
export const SOCK_MIN_RCVBUF = 2304;
export const INT_MAX = 0x7fffffff;
export const MAX_TCP_KEEPIDLE = 32767;
export const MAX_TCP_KEEPINTVL = 32767;
export const MAX_TCP_KEEPCNT = 127;
export const MAX_TCP_SYNCNT = 127;
/** TCP_MAXSEG accepts 0 (no user MSS) or TCP_MIN_MSS..MAX_TCP_WINDOW. */
export const TCP_MIN_MSS = 88;
export const MAX_TCP_WINDOW = 32767;
/** TCP_CA_NAME_MAX: TCP_CONGESTION names are at most 15 characters plus NUL. */
export const TCP_CA_NAME_MAX = 16;
export const INET_ECN_MASK = 3;
/** TCP_FIN_TIMEOUT_MAX: TCP_LINGER2 above 120 s is stored as 120 s. */
export const TCP_FIN_TIMEOUT_MAX_SECS = 120;
/** TCP_TIMEOUT_INIT and TCP_RTO_MAX in seconds: the scale of TCP_DEFER_ACCEPT's retransmissions. */
export const TCP_TIMEOUT_INIT_SECS = 1;
export const TCP_RTO_MAX_SECS = 120;

/**
 * TCP_DEFER_ACCEPT keeps a number of SYN-ACK retransmissions, not seconds (secs_to_retrans):
 * the fewest retransmissions whose backoff sum (1, 2, 4, ... capped at 120 s) covers the seconds.
 */
export function secsToRetrans(seconds: number, timeout = TCP_TIMEOUT_INIT_SECS, rtoMax = TCP_RTO_MAX_SECS): number {
  let res = 0;
  if (seconds > 0) {
    let period = timeout;
    res = 1;
    while (seconds > period && res < 255) {
      res++;
      timeout = Math.min(timeout << 1, rtoMax);
      period += timeout;
    }
  }
  return res;
}

/** retrans_to_secs: the seconds a number of retransmissions lasts (what a TCP_DEFER_ACCEPT get reports). */
export function retransToSecs(retrans: number, timeout = TCP_TIMEOUT_INIT_SECS, rtoMax = TCP_RTO_MAX_SECS): number {
  let period = 0;
  if (retrans > 0) {
    period = timeout;
    while (--retrans) {
      timeout = Math.min(timeout << 1, rtoMax);
      period += timeout;
    }
  }
  return period;
}
export const USEC_PER_SEC = 1_000_000;
export const IPV6_MIN_MTU = 1280;
/** Bytes of struct tcp_info as far as TCP_INFO_FIELDS describe it (the kernel may have more). */
export const TCP_INFO_KNOWN_LEN = 248;

export type SetResult = { ok: true; value: number } | { ok: false; errno: ErrnoName };

/** Context of a set: what kind of socket, and in which state, decides a few rules. */
export interface SetContext {
  stream: boolean;
  /** The socket has a local port (bound or autobound): IPV6_V6ONLY can no longer change. */
  bound: boolean;
  /** The current value (TOS keeps its ECN bits on stream sockets). */
  current?: number;
}

/**
 * One option. `set` maps a user int to the value a later get reports (or an errno); options
 * with a structured value (linger, timeval, string) have their own functions below. A missing
 * `set` means setsockopt gives ENOPROTOOPT (read-only options such as SO_TYPE).
 */
export interface SockoptSpec {
  level: OptLevelName;
  levelNum: number;
  name: string;
  nameNum: number;
  kind: OptKind;
  /** Bytes a full value takes (getsockopt copies at most this many). */
  size: number;
  set?: (val: number, lim: SockoptLimits, ctx: SetContext) => SetResult;
  get: boolean;
}

const ok = (value: number): SetResult => ({ ok: true, value });
const bad = (errno: ErrnoName): SetResult => ({ ok: false, errno });
const asBool = (v: number): SetResult => ok(v !== 0 ? 1 : 0);
const range = (lo: number, hi: number) => (v: number): SetResult => (v < lo || v > hi ? bad('EINVAL') : ok(v));

/** SO_SNDBUF: min(val as u32, wmem_max), doubled (room for sk_buff overhead), at least SOCK_MIN_SNDBUF. */
export function clampSndbuf(val: number, lim: SockoptLimits): number {
  const v = Math.min(Math.min(val >>> 0, lim.wmemMax), INT_MAX >>> 1);
  return Math.max(v * 2, SOCK_MIN_SNDBUF);
}

/** SO_RCVBUF: as SO_SNDBUF with rmem_max and SOCK_MIN_RCVBUF. */
export function clampRcvbuf(val: number, lim: SockoptLimits): number {
  const v = Math.min(Math.min(val >>> 0, lim.rmemMax), INT_MAX >>> 1);
  return Math.max(v * 2, SOCK_MIN_RCVBUF);
}

/** IP_TOS / IPV6_TCLASS on a stream socket: the ECN bits belong to TCP (RFC 3168 §6.1.1), not the user. */
function tosRule(val: number, ctx: SetContext): number {
  if (!ctx.stream) return val;
  return (val & ~INET_ECN_MASK & 0xff) | ((ctx.current ?? 0) & INET_ECN_MASK);
}

function spec(level: OptLevelName, name: string, nameNum: number, kind: OptKind, size: number,
  set: SockoptSpec['set'] | undefined, get = true): SockoptSpec {
  return { level, levelNum: SOL[level], name, nameNum, kind, size, set, get };
}

const S = 'SOL_SOCKET', T = 'SOL_TCP', I = 'SOL_IP', I6 = 'SOL_IPV6';

export const SOCKOPTS: readonly SockoptSpec[] = [
  spec(S, 'SO_REUSEADDR', SO.SO_REUSEADDR, 'bool', 4, asBool),
  spec(S, 'SO_REUSEPORT', SO.SO_REUSEPORT, 'bool', 4, asBool),
  spec(S, 'SO_KEEPALIVE', SO.SO_KEEPALIVE, 'bool', 4, asBool),
  spec(S, 'SO_BROADCAST', SO.SO_BROADCAST, 'bool', 4, asBool),
  spec(S, 'SO_DONTROUTE', SO.SO_DONTROUTE, 'bool', 4, asBool),
  spec(S, 'SO_OOBINLINE', SO.SO_OOBINLINE, 'bool', 4, asBool),
  // SO_BINDTODEVICE: an interface name (IFNAMSIZ 16); "" unbinds; a get needs optlen >= 16
  // and returns strlen + 1 bytes (0 when unbound); an unknown name is ENODEV.
  spec(S, 'SO_BINDTODEVICE', SO.SO_BINDTODEVICE, 'string', 16, undefined),
  spec(S, 'SO_LINGER', SO.SO_LINGER, 'linger', 8, undefined),
  spec(S, 'SO_SNDBUF', SO.SO_SNDBUF, 'int', 4, (v, lim) => ok(clampSndbuf(v, lim))),
  spec(S, 'SO_RCVBUF', SO.SO_RCVBUF, 'int', 4, (v, lim) => ok(clampRcvbuf(v, lim))),
  spec(S, 'SO_RCVTIMEO', SO.SO_RCVTIMEO, 'timeval', 16, undefined),
  spec(S, 'SO_SNDTIMEO', SO.SO_SNDTIMEO, 'timeval', 16, undefined),
  // SO_RCVLOWAT: negative means INT_MAX, 0 means 1 (sk_setsockopt).
  spec(S, 'SO_RCVLOWAT', SO.SO_RCVLOWAT, 'int', 4, (v) => ok(v < 0 ? INT_MAX : v === 0 ? 1 : v)),
  // SO_SNDLOWAT cannot be set on Linux (always 1).
  spec(S, 'SO_SNDLOWAT', SO.SO_SNDLOWAT, 'int', 4, undefined),
  spec(S, 'SO_PRIORITY', SO.SO_PRIORITY, 'int', 4, (v) => ok(v)),
  spec(S, 'SO_TYPE', SO.SO_TYPE, 'int', 4, undefined),
  spec(S, 'SO_DOMAIN', SO.SO_DOMAIN, 'int', 4, undefined),
  spec(S, 'SO_PROTOCOL', SO.SO_PROTOCOL, 'int', 4, undefined),
  spec(S, 'SO_ACCEPTCONN', SO.SO_ACCEPTCONN, 'bool', 4, undefined),
  spec(S, 'SO_ERROR', SO.SO_ERROR, 'int', 4, undefined),

  spec(T, 'TCP_NODELAY', TCPOPT.TCP_NODELAY, 'bool', 4, asBool),
  spec(T, 'TCP_CORK', TCPOPT.TCP_CORK, 'bool', 4, asBool),
  spec(T, 'TCP_KEEPIDLE', TCPOPT.TCP_KEEPIDLE, 'int', 4, range(1, MAX_TCP_KEEPIDLE)),
  spec(T, 'TCP_KEEPINTVL', TCPOPT.TCP_KEEPINTVL, 'int', 4, range(1, MAX_TCP_KEEPINTVL)),
  spec(T, 'TCP_KEEPCNT', TCPOPT.TCP_KEEPCNT, 'int', 4, range(1, MAX_TCP_KEEPCNT)),
  spec(T, 'TCP_SYNCNT', TCPOPT.TCP_SYNCNT, 'int', 4, range(1, MAX_TCP_SYNCNT)),
  spec(T, 'TCP_MAXSEG', TCPOPT.TCP_MAXSEG, 'int', 4, (v) => (v !== 0 && (v < TCP_MIN_MSS || v > MAX_TCP_WINDOW) ? bad('EINVAL') : ok(v))),
  // RFC 5482 §3: the user timeout, in milliseconds here; 0 restores the system default.
  spec(T, 'TCP_USER_TIMEOUT', TCPOPT.TCP_USER_TIMEOUT, 'int', 4, (v) => (v < 0 ? bad('EINVAL') : ok(v))),
  spec(T, 'TCP_INFO', TCPOPT.TCP_INFO, 'tcp_info', TCP_INFO_KNOWN_LEN, undefined),
  spec(T, 'TCP_CONGESTION', TCPOPT.TCP_CONGESTION, 'string', TCP_CA_NAME_MAX, undefined),
  // TCP_QUICKACK 0 enters pingpong (delayed-ACK) mode; a get reports "not in pingpong mode".
  spec(T, 'TCP_QUICKACK', TCPOPT.TCP_QUICKACK, 'bool', 4, asBool),
  spec(T, 'TCP_NOTSENT_LOWAT', TCPOPT.TCP_NOTSENT_LOWAT, 'int', 4, (v) => ok(v)),
  // TCP_LINGER2: negative = no FIN_WAIT2 timeout (-1), 0 = tcp_fin_timeout, capped at 120 s.
  spec(T, 'TCP_LINGER2', TCPOPT.TCP_LINGER2, 'int', 4, (v, lim) => ok(v < 0 ? -1 : v === 0 ? lim.finTimeout : Math.min(v, TCP_FIN_TIMEOUT_MAX_SECS))),
  spec(T, 'TCP_DEFER_ACCEPT', TCPOPT.TCP_DEFER_ACCEPT, 'int', 4, (v) => ok(retransToSecs(secsToRetrans(v)))),
  // TCP_WINDOW_CLAMP: at least SOCK_MIN_RCVBUF / 2; 0 only while closed (the socket layer checks).
  spec(T, 'TCP_WINDOW_CLAMP', TCPOPT.TCP_WINDOW_CLAMP, 'int', 4, (v) => ok(v === 0 ? 0 : v < SOCK_MIN_RCVBUF / 2 ? SOCK_MIN_RCVBUF / 2 : v)),

  // IP_TTL: -1 means "the route's default" (reported as ip_default_ttl), else 1..255.
  spec(I, 'IP_TTL', IPOPT.IP_TTL, 'int', 4, (v, lim) => (v !== -1 && (v < 1 || v > 255) ? bad('EINVAL') : ok(v === -1 ? lim.defaultTtl : v))),
  spec(I, 'IP_TOS', IPOPT.IP_TOS, 'int', 4, (v, _l, ctx) => ok(tosRule(v & 0xff, ctx))),
  spec(I, 'IP_PKTINFO', IPOPT.IP_PKTINFO, 'bool', 4, asBool),
  spec(I, 'IP_RECVERR', IPOPT.IP_RECVERR, 'bool', 4, asBool),
  spec(I, 'IP_RECVTTL', IPOPT.IP_RECVTTL, 'bool', 4, asBool),
  spec(I, 'IP_RECVTOS', IPOPT.IP_RECVTOS, 'bool', 4, asBool),
  spec(I, 'IP_FREEBIND', IPOPT.IP_FREEBIND, 'bool', 4, asBool),
  spec(I, 'IP_MTU_DISCOVER', IPOPT.IP_MTU_DISCOVER, 'int', 4, range(0, 5)),
  spec(I, 'IP_MTU', IPOPT.IP_MTU, 'int', 4, undefined),
  spec(I, 'IP_MULTICAST_LOOP', IPOPT.IP_MULTICAST_LOOP, 'bool', 4, asBool),
  // IP_MULTICAST_TTL: -1 means 1; else 0..255.
  spec(I, 'IP_MULTICAST_TTL', IPOPT.IP_MULTICAST_TTL, 'int', 4, (v) => (v === -1 ? ok(1) : v < 0 || v > 255 ? bad('EINVAL') : ok(v))),

  // RFC 3493 §5.3; Linux refuses the change once the socket has a local port.
  spec(I6, 'IPV6_V6ONLY', IPV6OPT.IPV6_V6ONLY, 'bool', 4, (v, _l, ctx) => (ctx.bound ? bad('EINVAL') : asBool(v))),
  spec(I6, 'IPV6_UNICAST_HOPS', IPV6OPT.IPV6_UNICAST_HOPS, 'int', 4, (v, lim) => (v < -1 || v > 255 ? bad('EINVAL') : ok(v === -1 ? lim.defaultHopLimit : v))),
  spec(I6, 'IPV6_TCLASS', IPV6OPT.IPV6_TCLASS, 'int', 4, (v, _l, ctx) => (v < -1 || v > 255 ? bad('EINVAL') : ok(tosRule(v === -1 ? 0 : v, ctx)))),
  spec(I6, 'IPV6_RECVPKTINFO', IPV6OPT.IPV6_RECVPKTINFO, 'bool', 4, asBool),
  spec(I6, 'IPV6_RECVERR', IPV6OPT.IPV6_RECVERR, 'bool', 4, asBool),
  spec(I6, 'IPV6_RECVHOPLIMIT', IPV6OPT.IPV6_RECVHOPLIMIT, 'bool', 4, asBool),
  spec(I6, 'IPV6_RECVTCLASS', IPV6OPT.IPV6_RECVTCLASS, 'bool', 4, asBool),
  spec(I6, 'IPV6_MTU_DISCOVER', IPV6OPT.IPV6_MTU_DISCOVER, 'int', 4, range(0, 5)),
  // IPV6_MTU sets the fragment size (0, or at least the IPv6 minimum MTU 1280, RFC 8200 §5); a
  // get reports the path MTU of the connected route instead (ENOTCONN unconnected).
  spec(I6, 'IPV6_MTU', IPV6OPT.IPV6_MTU, 'int', 4, (v) => (v !== 0 && v < IPV6_MIN_MTU ? bad('EINVAL') : ok(v))),
];

const BY_NUMBER = new Map<string, SockoptSpec>(SOCKOPTS.map((s) => [`${s.levelNum}:${s.nameNum}`, s]));
const BY_NAME = new Map<string, SockoptSpec>(SOCKOPTS.map((s) => [s.name, s]));

/** The option at (level, name) numbers; IPPROTO_TCP etc. are the same numbers as SOL_TCP. */
export function findSockopt(level: number, name: number): SockoptSpec | undefined {
  return BY_NUMBER.get(`${level}:${name}`);
}
export function sockoptByName(name: string): SockoptSpec | undefined {
  return BY_NAME.get(name);
}

/**
 * The errno for an option whose level the socket's protocol does not handle (SOL_TCP on a UDP
 * socket, SOL_IPV6 on an IPv4 socket): the call falls through to ip_setsockopt, which answers
 * ENOPROTOOPT, or ip_getsockopt, which answers EOPNOTSUPP. An unknown name at a level the socket
 * does handle is ENOPROTOOPT both ways. (Checked by the conformance table.)
 */
export function foreignLevelErrno(direction: 'set' | 'get'): ErrnoName {
  return direction === 'set' ? 'ENOPROTOOPT' : 'EOPNOTSUPP';
}

/** IP_MAX_MTU: an IPv4 route's MTU is reported (IP_MTU, tcpi_pmtu) at most 65535; IPv6 is not capped. */
export const IP_MAX_MTU = 0xffff;
export function reportedPathMtu(family: 4 | 6, mtu: number): number {
  return family === 4 ? Math.min(mtu, IP_MAX_MTU) : mtu;
}

// ---- optlen rules ------------------------------------------------------------------------------

/**
 * Reads the int a setsockopt passes, with the level's optlen rule, or EINVAL.
 * SOL_SOCKET, SOL_TCP, SOL_IPV6: optlen < sizeof(int) is EINVAL; longer is fine (4 bytes read).
 * SOL_IP (do_ip_setsockopt): optlen >= 4 reads an int, 1..3 reads one unsigned byte, 0 gives 0;
 * IP_TTL, IP_FREEBIND and the multicast options additionally want optlen >= 1.
 */
const IP_NEEDS_A_BYTE = new Set(['IP_TTL', 'IP_FREEBIND', 'IP_MULTICAST_TTL', 'IP_MULTICAST_LOOP']);

export function readSetInt(level: OptLevelName, name: string, optval: Uint8Array): { ok: true; value: number } | { ok: false; errno: ErrnoName } {
  const n = optval.length;
  if (level === 'SOL_IP') {
    if (n >= 4) return { ok: true, value: readI32(optval, 0) };
    if (n === 0 && IP_NEEDS_A_BYTE.has(name)) return { ok: false, errno: 'EINVAL' };
    return { ok: true, value: n >= 1 ? optval[0] : 0 };
  }
  if (n < 4) return { ok: false, errno: 'EINVAL' };
  return { ok: true, value: readI32(optval, 0) };
}

/**
 * The bytes a getsockopt of an int option returns for a caller buffer of `optlen`, and the
 * length it reports. SOL_SOCKET, SOL_TCP, SOL_IP: a negative optlen is EINVAL, else
 * min(optlen, 4) bytes. SOL_IPV6 compares optlen as unsigned, so -1 reads as 4 (Linux 6.18,
 * checked by the conformance table). SOL_IP (do_ip_getsockopt): a buffer of 1..3 bytes gets
 * one byte when the value fits 0..255.
 */
export function encodeGetInt(level: OptLevelName, value: number, optlen: number): { ok: true; bytes: Uint8Array } | { ok: false; errno: ErrnoName } {
  const full = new Uint8Array(4);
  writeI32(full, 0, value);
  if (level === 'SOL_IPV6') return { ok: true, bytes: full.subarray(0, Math.min(optlen >>> 0, 4)) };
  if (optlen < 0) return { ok: false, errno: 'EINVAL' };
  if (level === 'SOL_IP' && optlen > 0 && optlen < 4 && value >= 0 && value <= 255) return { ok: true, bytes: Uint8Array.of(value) };
  return { ok: true, bytes: full.subarray(0, Math.min(optlen, 4)) };
}

/** A fixed-size value (linger, timeval, tcp_info, a CA name) returned into a buffer of optlen bytes. */
export function truncateGet(full: Uint8Array, optlen: number, level: OptLevelName = 'SOL_SOCKET'): { ok: true; bytes: Uint8Array } | { ok: false; errno: ErrnoName } {
  if (level !== 'SOL_IPV6' && optlen < 0) return { ok: false, errno: 'EINVAL' };
  return { ok: true, bytes: full.subarray(0, Math.min(optlen >>> 0, full.length)) };
}

/**
 * The whole setsockopt check for an int-valued option: the level's optlen rule, read-only
 * options, then the option's range/clamping rule. Returns the value a later get reports, or the
 * errno. SOL_SOCKET (sk_setsockopt) and SOL_TCP (do_tcp_setsockopt) refuse optlen < 4 before
 * anything else, even for read-only names; SOL_IP and SOL_IPV6 reject read-only names first.
 */
export function setsockoptInt(spec: SockoptSpec, optval: Uint8Array, lim: SockoptLimits, ctx: SetContext): SetResult {
  if ((spec.level === 'SOL_SOCKET' || spec.level === 'SOL_TCP') && optval.length < 4) return bad('EINVAL');
  if (!spec.set) return bad('ENOPROTOOPT');
  const v = readSetInt(spec.level, spec.name, optval);
  if (!v.ok) return v;
  return spec.set(v.value, lim, ctx);
}

/**
 * The optlen a getsockopt reports for an option whose full value is `spec.size` bytes (`value`
 * for int options: SOL_IP answers 1 byte to a short buffer when the value fits a byte), or the
 * errno for a bad optlen. For SO_BINDTODEVICE `value` is the bound name's length: unbound
 * answers 0 bytes whatever the buffer; bound needs a 16-byte buffer and returns the name and NUL.
 */
export function getsockoptLen(spec: SockoptSpec, optlen: number, value = 0): { ok: true; len: number } | { ok: false; errno: ErrnoName } {
  if (spec.name === 'SO_BINDTODEVICE') {
    if (optlen < 0) return { ok: false, errno: 'EINVAL' };
    if (value === 0) return { ok: true, len: 0 };
    return optlen < 16 ? { ok: false, errno: 'EINVAL' } : { ok: true, len: value + 1 };
  }
  if (spec.kind === 'int' || spec.kind === 'bool') {
    const r = encodeGetInt(spec.level, value, optlen);
    return r.ok ? { ok: true, len: r.bytes.length } : r;
  }
  const r = truncateGet(new Uint8Array(spec.size), optlen, spec.level);
  return r.ok ? { ok: true, len: r.bytes.length } : r;
}

// ---- struct linger -----------------------------------------------------------------------------

export interface Linger { onoff: number; linger: number }

export function encodeLinger(l: Linger): Uint8Array {
  const b = new Uint8Array(8);
  writeI32(b, 0, l.onoff);
  writeI32(b, 4, l.linger);
  return b;
}

/** null when fewer than 8 bytes (SO_LINGER set gives EINVAL then). */
export function decodeLinger(b: Uint8Array): Linger | null {
  return b.length < 8 ? null : { onoff: readI32(b, 0), linger: readI32(b, 4) };
}

/**
 * What a later SO_LINGER get reports after a set. Turning lingering off leaves the stored time
 * alone (sk_setsockopt only clears SOCK_LINGER); turning it on stores l_linger seconds, read as
 * unsigned, so a negative value means "for ever" (MAX_SCHEDULE_TIMEOUT, reported truncated).
 */
export function applyLinger(prev: Linger, set: Linger): Linger {
  if (set.onoff === 0) return { onoff: 0, linger: prev.linger };
  return { onoff: 1, linger: set.linger };
}

// ---- struct timeval (SO_RCVTIMEO / SO_SNDTIMEO) -------------------------------------------------

export interface Timeval { sec: number; usec: number }

export function encodeTimeval(tv: Timeval): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigInt64(0, BigInt(tv.sec), true);
  dv.setBigInt64(8, BigInt(tv.usec), true);
  return b;
}

export function decodeTimeval(b: Uint8Array): Timeval | null {
  if (b.length < 16) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { sec: Number(dv.getBigInt64(0, true)), usec: Number(dv.getBigInt64(8, true)) };
}

/**
 * sock_set_timeout: optlen < 16 EINVAL; usec outside 0..999999 EDOM; a negative sec means 0
 * (no timeout); 0/0 means "block for ever". Otherwise the time is kept in jiffies, usec rounded
 * up to a whole jiffy. Returns the timeout in jiffies (0 = for ever).
 */
export function timevalToJiffies(optval: Uint8Array, hz: number): { ok: true; jiffies: number } | { ok: false; errno: ErrnoName } {
  const tv = decodeTimeval(optval);
  if (!tv) return { ok: false, errno: 'EINVAL' };
  if (tv.usec < 0 || tv.usec >= USEC_PER_SEC) return { ok: false, errno: 'EDOM' };
  if (tv.sec < 0) return { ok: true, jiffies: 0 };
  return { ok: true, jiffies: tv.sec * hz + Math.ceil(tv.usec / (USEC_PER_SEC / hz)) };
}

/** sock_get_timeout: whole seconds and the remaining jiffies in microseconds (0/0: none). */
export function jiffiesToTimeval(jiffies: number, hz: number): Timeval {
  return { sec: Math.floor(jiffies / hz), usec: Math.floor(((jiffies % hz) * USEC_PER_SEC) / hz) };
}

// ---- TCP_CONGESTION ------------------------------------------------------------------------------

/**
 * The name a TCP_CONGESTION set names: optlen < 1 EINVAL; at most TCP_CA_NAME_MAX - 1 bytes are
 * read, up to the first NUL. An unknown name is ENOENT (the socket layer decides that).
 */
export function readCongestionName(optval: Uint8Array): { ok: true; name: string } | { ok: false; errno: ErrnoName } {
  if (optval.length < 1) return { ok: false, errno: 'EINVAL' };
  const b = optval.subarray(0, Math.min(optval.length, TCP_CA_NAME_MAX - 1));
  const nul = b.indexOf(0);
  return { ok: true, name: new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul)) };
}

/** The 16 NUL-padded bytes a TCP_CONGESTION get copies from (min(optlen, 16) of them). */
export function encodeCongestionName(name: string): Uint8Array {
  const b = new Uint8Array(TCP_CA_NAME_MAX);
  b.set(new TextEncoder().encode(name).subarray(0, TCP_CA_NAME_MAX - 1));
  return b;
}

export function decodeCString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
}

// ---- struct tcp_info -------------------------------------------------------------------------------

/** Fields of struct tcp_info with their byte offsets and widths (uapi/linux/tcp.h). */
export const TCP_INFO_FIELDS: readonly (readonly [name: string, offset: number, width: 1 | 2 | 4 | 8])[] = [
  ['state', 0, 1], ['ca_state', 1, 1], ['retransmits', 2, 1], ['probes', 3, 1], ['backoff', 4, 1],
  ['options', 5, 1],
  // byte 6: snd_wscale:4 (low nibble), rcv_wscale:4; byte 7: delivery_rate_app_limited:1,
  // fastopen_client_fail:2 (decoded separately below).
  ['rto', 8, 4], ['ato', 12, 4], ['snd_mss', 16, 4], ['rcv_mss', 20, 4], ['unacked', 24, 4],
  ['sacked', 28, 4], ['lost', 32, 4], ['retrans', 36, 4], ['fackets', 40, 4],
  ['last_data_sent', 44, 4], ['last_ack_sent', 48, 4], ['last_data_recv', 52, 4], ['last_ack_recv', 56, 4],
  ['pmtu', 60, 4], ['rcv_ssthresh', 64, 4], ['rtt', 68, 4], ['rttvar', 72, 4], ['snd_ssthresh', 76, 4],
  ['snd_cwnd', 80, 4], ['advmss', 84, 4], ['reordering', 88, 4], ['rcv_rtt', 92, 4], ['rcv_space', 96, 4],
  ['total_retrans', 100, 4], ['pacing_rate', 104, 8], ['max_pacing_rate', 112, 8], ['bytes_acked', 120, 8],
  ['bytes_received', 128, 8], ['segs_out', 136, 4], ['segs_in', 140, 4], ['notsent_bytes', 144, 4],
  ['min_rtt', 148, 4], ['data_segs_in', 152, 4], ['data_segs_out', 156, 4], ['delivery_rate', 160, 8],
  ['busy_time', 168, 8], ['rwnd_limited', 176, 8], ['sndbuf_limited', 184, 8], ['delivered', 192, 4],
  ['delivered_ce', 196, 4], ['bytes_sent', 200, 8], ['bytes_retrans', 208, 8], ['dsack_dups', 216, 4],
  ['reord_seen', 220, 4], ['rcv_ooopack', 224, 4], ['snd_wnd', 228, 4], ['rcv_wnd', 232, 4],
  ['rehash', 236, 4], ['total_rto', 240, 2], ['total_rto_recoveries', 242, 2], ['total_rto_time', 244, 4],
];

export type TcpInfo = Record<string, number>;

/**
 * Decodes the fields present in `b` (a get may be truncated by the caller's optlen: absent
 * fields are left out). u64 fields beyond 2^53 lose precision (they are counters).
 */
export function decodeTcpInfo(b: Uint8Array): TcpInfo {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: TcpInfo = {};
  for (const [name, off, w] of TCP_INFO_FIELDS) {
    if (off + w > b.length) continue;
    out[name] = w === 1 ? b[off] : w === 2 ? dv.getUint16(off, true) : w === 4 ? dv.getUint32(off, true) >>> 0 : Number(dv.getBigUint64(off, true));
  }
  if (b.length > 6) {
    out.snd_wscale = b[6] & 0xf;
    out.rcv_wscale = b[6] >> 4;
  }
  if (b.length > 7) {
    out.delivery_rate_app_limited = b[7] & 1;
    out.fastopen_client_fail = (b[7] >> 1) & 3;
  }
  return out;
}

/** Encodes a tcp_info of `len` bytes (fields not given are 0): what the socket layer returns. */
export function encodeTcpInfo(info: TcpInfo, len = TCP_INFO_KNOWN_LEN): Uint8Array {
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  for (const [name, off, w] of TCP_INFO_FIELDS) {
    const v = info[name];
    if (v === undefined || off + w > len) continue;
    if (w === 1) b[off] = v;
    else if (w === 2) dv.setUint16(off, v, true);
    else if (w === 4) dv.setUint32(off, v >>> 0, true);
    else dv.setBigUint64(off, BigInt(v), true);
  }
  if (len > 6) b[6] = ((info.snd_wscale ?? 0) & 0xf) | (((info.rcv_wscale ?? 0) & 0xf) << 4);
  if (len > 7) b[7] = ((info.delivery_rate_app_limited ?? 0) & 1) | (((info.fastopen_client_fail ?? 0) & 3) << 1);
  return b;
}

// ---- in_pktinfo / in6_pktinfo and cmsg framing ------------------------------------------------------

/** struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst; struct in_addr ipi_addr; } */
export interface InPktinfo { ifindex: number; specDst: Uint8Array; addr: Uint8Array }
export const IN_PKTINFO_LEN = 12;

export function encodeInPktinfo(p: InPktinfo): Uint8Array {
  const b = new Uint8Array(IN_PKTINFO_LEN);
  writeI32(b, 0, p.ifindex);
  b.set(p.specDst.subarray(0, 4), 4);
  b.set(p.addr.subarray(0, 4), 8);
  return b;
}

export function decodeInPktinfo(b: Uint8Array): InPktinfo | null {
  if (b.length < IN_PKTINFO_LEN) return null;
  return { ifindex: readI32(b, 0), specDst: b.slice(4, 8), addr: b.slice(8, 12) };
}

/** struct in6_pktinfo { struct in6_addr ipi6_addr; int ipi6_ifindex; } (RFC 3542 §6.1). */
export interface In6Pktinfo { addr: Uint8Array; ifindex: number }
export const IN6_PKTINFO_LEN = 20;

export function encodeIn6Pktinfo(p: In6Pktinfo): Uint8Array {
  const b = new Uint8Array(IN6_PKTINFO_LEN);
  b.set(p.addr.subarray(0, 16), 0);
  writeI32(b, 16, p.ifindex);
  return b;
}

export function decodeIn6Pktinfo(b: Uint8Array): In6Pktinfo | null {
  if (b.length < IN6_PKTINFO_LEN) return null;
  return { addr: b.slice(0, 16), ifindex: readI32(b, 16) };
}

/**
 * struct sock_extended_err (uapi/linux/errqueue.h), the IP_RECVERR / IPV6_RECVERR control
 * message of a MSG_ERRQUEUE read, followed by the offender's sockaddr (SO_EE_OFFENDER).
 */
export interface SockExtendedErr {
  errno: number;
  /** SO_EE_ORIGIN_LOCAL 1, ICMP 2, ICMP6 3. */
  origin: number;
  type: number;
  code: number;
  info: number;
  data: number;
  /** The raw sockaddr of whoever reported the error (the ICMP sender); empty if none. */
  offender: Uint8Array;
}
export const SO_EE_ORIGIN = { NONE: 0, LOCAL: 1, ICMP: 2, ICMP6: 3, TXSTATUS: 4, ZEROCOPY: 5, TXTIME: 6 } as const;
export const SOCK_EXTENDED_ERR_LEN = 16;

export function encodeSockExtendedErr(e: SockExtendedErr): Uint8Array {
  const b = new Uint8Array(SOCK_EXTENDED_ERR_LEN + e.offender.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, e.errno >>> 0, true);
  b[4] = e.origin;
  b[5] = e.type;
  b[6] = e.code;
  dv.setUint32(8, e.info >>> 0, true);
  dv.setUint32(12, e.data >>> 0, true);
  b.set(e.offender, SOCK_EXTENDED_ERR_LEN);
  return b;
}

export function decodeSockExtendedErr(b: Uint8Array): SockExtendedErr | null {
  if (b.length < SOCK_EXTENDED_ERR_LEN) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    errno: dv.getUint32(0, true) >>> 0, origin: b[4], type: b[5], code: b[6],
    info: dv.getUint32(8, true) >>> 0, data: dv.getUint32(12, true) >>> 0, offender: b.subarray(SOCK_EXTENDED_ERR_LEN),
  };
}

/** One control message: cmsg_level, cmsg_type and its data. */
export interface Cmsg { level: number; type: number; data: Uint8Array }

/** struct cmsghdr on x86_64: size_t cmsg_len; int cmsg_level; int cmsg_type; data aligned to 8. */
export const CMSG_HDR_LEN = 16;
export const cmsgAlign = (n: number): number => (n + 7) & ~7;
export const cmsgSpace = (dataLen: number): number => CMSG_HDR_LEN + cmsgAlign(dataLen);
export const cmsgLen = (dataLen: number): number => CMSG_HDR_LEN + dataLen;

export function encodeCmsgs(msgs: readonly Cmsg[]): Uint8Array {
  const total = msgs.reduce((n, m) => n + cmsgSpace(m.data.length), 0);
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  let off = 0;
  for (const m of msgs) {
    dv.setBigUint64(off, BigInt(cmsgLen(m.data.length)), true);
    dv.setInt32(off + 8, m.level, true);
    dv.setInt32(off + 12, m.type, true);
    b.set(m.data, off + CMSG_HDR_LEN);
    off += cmsgSpace(m.data.length);
  }
  return b;
}

/**
 * Walks a control buffer as CMSG_NXTHDR does; a header whose length is short or runs past the
 * buffer ends the walk (the kernel rejects such a sendmsg with EINVAL: see `cmsgsValid`).
 */
export function decodeCmsgs(b: Uint8Array): Cmsg[] {
  const out: Cmsg[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  while (off + CMSG_HDR_LEN <= b.length) {
    const len = Number(dv.getBigUint64(off, true));
    if (len < CMSG_HDR_LEN || off + len > b.length) break;
    out.push({ level: dv.getInt32(off + 8, true), type: dv.getInt32(off + 12, true), data: b.subarray(off + CMSG_HDR_LEN, off + len) });
    off += cmsgAlign(len);
  }
  return out;
}

/**
 * What recvmsg writes into a control buffer of `controllen` bytes (put_cmsg): each message
 * takes CMSG_SPACE(len); one that does not fit is cut to the space left (its header then
 * carries the cut length and as much data as fits) and sets MSG_CTRUNC; with less than a header
 * left, nothing is written and MSG_CTRUNC is set. `bytes.length` is the msg_controllen reported.
 */
export function cmsgsForUser(msgs: readonly Cmsg[], controllen: number): { bytes: Uint8Array; ctrunc: boolean } {
  const out = new Uint8Array(Math.max(0, controllen));
  const dv = new DataView(out.buffer);
  let off = 0;
  let ctrunc = false;
  for (const m of msgs) {
    const left = controllen - off;
    if (left < CMSG_HDR_LEN) {
      ctrunc = true;
      break;
    }
    let len = cmsgLen(m.data.length);
    if (left < len) {
      ctrunc = true;
      len = left;
    }
    dv.setBigUint64(off, BigInt(len), true);
    dv.setInt32(off + 8, m.level, true);
    dv.setInt32(off + 12, m.type, true);
    out.set(m.data.subarray(0, len - CMSG_HDR_LEN), off + CMSG_HDR_LEN);
    off += Math.min(cmsgSpace(m.data.length), left);
  }
  return { bytes: out.subarray(0, off), ctrunc };
}

/** __scm_send's framing check: every header must fit and lie inside the buffer. */
export function cmsgsValid(b: Uint8Array): boolean {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  while (off + CMSG_HDR_LEN <= b.length) {
    const len = Number(dv.getBigUint64(off, true));
    if (len < CMSG_HDR_LEN || off + len > b.length) return false;
    off += cmsgAlign(len);
  }
  return true;
}

// ---- helpers ------------------------------------------------------------------------------------

export function readI32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) | 0;
}

export function writeI32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** An int option value as the 4 bytes setsockopt takes. */
export function encodeInt(v: number): Uint8Array {
  const b = new Uint8Array(4);
  writeI32(b, 0, v);
  return b;
}
