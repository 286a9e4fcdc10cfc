// Linux sockaddr_in / sockaddr_in6 / sockaddr_storage bytes <-> { family, addr, port, ... }, and
// the checks Linux applies to a user sockaddr in each call (bind, connect, sendto) before the
// protocol sees it. Read: RFC 3493 §3.3-3.4 (sockaddr_in6 layout), RFC 4291 §2.5.5.2 (v4-mapped),
// RFC 4007 §6 (scope ids); and Linux net/ipv4/af_inet.c (inet_bind_sk, __inet_bind,
// __inet_stream_connect), net/ipv4/datagram.c (__ip4_datagram_connect), net/ipv6/af_inet6.c
// (inet6_bind_sk, __inet6_bind), net/ipv6/datagram.c (__ip6_datagram_connect), net/ipv4/tcp_ipv4.c
// and net/ipv6/tcp_ipv6.c (tcp_v{4,6}_connect), net/ipv4/udp.c and net/ipv6/udp.c (sendmsg).
//
// Layouts (x86_64, little-endian host): sa_family is a host-order u16 at 0; sin_port/sin6_port
// are network order at 2; sin_addr at 4 (4 bytes, then 8 bytes of zero padding: 16 in all);
// sin6_flowinfo (network order u32) at 4, sin6_addr at 8, sin6_scope_id (host order u32) at 24:
// 28 in all. sockaddr_storage is 128 bytes.

import { IpAddr } from '../netstack/wire/ip-address.js';
import type { ErrnoName } from './errno.js';
import { AF } from './socket-abi.js';

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
/** The RFC 2133 sockaddr_in6 had no sin6_scope_id; Linux still accepts its 24 bytes. */
export const SIN6_LEN_RFC2133 = 24;
export const SOCKADDR_STORAGE_LEN = 128;
/** offsetof(struct sockaddr, sa_data): the least a call needs to read the family. */
export const SA_FAMILY_LEN = 2;

export type InetFamilyName = 'AF_INET' | 'AF_INET6';

export interface SockAddr {
  family: InetFamilyName;
  addr: IpAddr;
  port: number;
  /** sin6_flowinfo, host value (the wire holds it in network order). AF_INET6 only. */
  flowinfo?: number;
  /** sin6_scope_id (an interface index). AF_INET6 only. */
  scopeId?: number;
}

/** A decoded user sockaddr, or the errno Linux gives for it in that call. */
export type SockAddrResult = { ok: true; sa: SockAddr } | { ok: false; errno: ErrnoName };

/** connect() and sendto() can also mean "no address" (AF_UNSPEC): disconnect, or use the peer. */
export type TargetResult = SockAddrResult | { ok: true; unspec: true };

/** The family field of a user sockaddr (host order), or -1 when fewer than 2 bytes were given. */
export function sockaddrFamily(bytes: Uint8Array): number {
  if (bytes.length < SA_FAMILY_LEN) return -1;
  return bytes[0] | (bytes[1] << 8);
}

/** Encodes a sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes). */
export function encodeSockaddr(sa: SockAddr): Uint8Array {
  const v6 = sa.family === 'AF_INET6';
  if ((sa.addr.family === 6) !== v6) throw new TypeError(`${sa.family} sockaddr with an IPv${sa.addr.family} address`);
  if (!Number.isInteger(sa.port) || sa.port < 0 || sa.port > 0xffff) throw new RangeError(`port ${sa.port}`);
  const out = new Uint8Array(v6 ? SOCKADDR_IN6_LEN : SOCKADDR_IN_LEN);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint16(0, v6 ? AF.AF_INET6 : AF.AF_INET, true);
  dv.setUint16(2, sa.port, false);
  if (v6) {
    dv.setUint32(4, (sa.flowinfo ?? 0) >>> 0, false);
    out.set(sa.addr.bytes, 8);
    dv.setUint32(24, (sa.scopeId ?? 0) >>> 0, true);
  } else {
    out.set(sa.addr.bytes, 4);
  }
  return out;
}

/**
 * Reads a sockaddr the kernel wrote (getsockname, accept, recvfrom): the family decides the
 * layout; a short buffer or another family gives null. A 24-byte AF_INET6 (RFC 2133) reads scope 0.
 */
export function decodeSockaddr(bytes: Uint8Array): SockAddr | null {
  const fam = sockaddrFamily(bytes);
  if (fam === AF.AF_INET) return bytes.length >= SOCKADDR_IN_LEN ? readIn(bytes) : null;
  if (fam === AF.AF_INET6) return bytes.length >= SIN6_LEN_RFC2133 ? readIn6(bytes) : null;
  return null;
}

function readIn(b: Uint8Array): SockAddr {
  return { family: 'AF_INET', addr: IpAddr.read(4, b, 4), port: (b[2] << 8) | b[3] };
}

function readIn6(b: Uint8Array): SockAddr {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    family: 'AF_INET6',
    addr: IpAddr.read(6, b, 8),
    port: dv.getUint16(2, false),
    flowinfo: dv.getUint32(4, false) >>> 0,
    scopeId: b.length >= SOCKADDR_IN6_LEN ? dv.getUint32(24, true) >>> 0 : 0,
  };
}

const fail = (errno: ErrnoName): { ok: false; errno: ErrnoName } => ({ ok: false, errno });

/**
 * bind(2)'s address checks for an AF_INET or AF_INET6 socket (before any address or port
 * availability check). AF_INET: inet_bind_sk wants >= 16 bytes (EINVAL), then __inet_bind takes
 * AF_INET, or AF_UNSPEC with INADDR_ANY for old programs, else EAFNOSUPPORT. AF_INET6:
 * inet6_bind_sk wants >= 24 bytes (EINVAL), then __inet6_bind wants AF_INET6 (EAFNOSUPPORT).
 * IPv4 ping sockets (ping_check_bind_addr) follow the AF_INET rules; IPv6 ping sockets want a
 * whole 28-byte sockaddr_in6 (EINVAL), then AF_INET6 (EAFNOSUPPORT).
 */
export function parseBindAddr(sockFamily: InetFamilyName, bytes: Uint8Array, kind: SocketKind = 'stream'): SockAddrResult {
  if (sockFamily === 'AF_INET') {
    if (bytes.length < SOCKADDR_IN_LEN) return fail('EINVAL');
    const fam = sockaddrFamily(bytes);
    if (fam === AF.AF_INET) return { ok: true, sa: readIn(bytes) };
    const anyAddr = bytes[4] === 0 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0;
    if (fam === AF.AF_UNSPEC && anyAddr) return { ok: true, sa: readIn(bytes) };
    return fail('EAFNOSUPPORT');
  }
  if (bytes.length < (kind === 'ping' ? SOCKADDR_IN6_LEN : SIN6_LEN_RFC2133)) return fail('EINVAL');
  if (sockaddrFamily(bytes) !== AF.AF_INET6) return fail('EAFNOSUPPORT');
  return { ok: true, sa: readIn6(bytes) };
}

/** Which protocol's address rules apply: TCP, UDP, or ICMP echo (ping) sockets. */
export type SocketKind = 'stream' | 'dgram' | 'ping';

/**
 * connect(2)'s address checks. Fewer than 2 bytes: EINVAL (__inet_stream_connect,
 * inet_dgram_connect). AF_UNSPEC means "disconnect" for every inet socket, stream or datagram.
 * Stream AF_INET (tcp_v4_connect): < 16 bytes EINVAL, family not AF_INET EAFNOSUPPORT.
 * Stream AF_INET6 (tcp_v6_connect): < 24 bytes EINVAL, family not AF_INET6 EAFNOSUPPORT.
 * Datagram AF_INET (__ip4_datagram_connect): as stream AF_INET.
 * Datagram AF_INET6 (__ip6_datagram_connect): an AF_INET sockaddr is taken (IPv4 peer) unless
 * the socket is V6ONLY (EAFNOSUPPORT); then < 24 bytes EINVAL, other families EAFNOSUPPORT.
 * IPv6 ping (ip6_datagram_connect_v6_only): any family but AF_INET6 is EAFNOSUPPORT, checked
 * before the length; then as datagram AF_INET6. IPv4 ping is datagram AF_INET.
 * A v4-mapped peer on a V6ONLY socket is the protocol's business (ENETUNREACH), not checked here.
 */
export function parseConnectAddr(
  sockFamily: InetFamilyName,
  kind: SocketKind,
  bytes: Uint8Array,
  v6only = false,
): TargetResult {
  if (bytes.length < SA_FAMILY_LEN) return fail('EINVAL');
  const fam = sockaddrFamily(bytes);
  if (fam === AF.AF_UNSPEC) return { ok: true, unspec: true };
  const stream = kind === 'stream';
  if (sockFamily === 'AF_INET6' && kind === 'ping' && fam !== AF.AF_INET6) return fail('EAFNOSUPPORT');
  if (sockFamily === 'AF_INET') {
    if (bytes.length < SOCKADDR_IN_LEN) return fail('EINVAL');
    if (fam !== AF.AF_INET) return fail('EAFNOSUPPORT');
    return { ok: true, sa: readIn(bytes) };
  }
  if (!stream && fam === AF.AF_INET) {
    if (v6only) return fail('EAFNOSUPPORT');
    if (bytes.length < SOCKADDR_IN_LEN) return fail('EINVAL');
    return { ok: true, sa: readIn(bytes) };
  }
  if (bytes.length < SIN6_LEN_RFC2133) return fail('EINVAL');
  if (fam !== AF.AF_INET6) return fail('EAFNOSUPPORT');
  return { ok: true, sa: readIn6(bytes) };
}

/**
 * sendto/sendmsg msg_name checks for datagram sockets (stream sockets ignore the address).
 * UDP AF_INET (udp_sendmsg): < 16 bytes EINVAL; AF_UNSPEC is read as AF_INET (old programs);
 * other families EAFNOSUPPORT. Ping AF_INET (ping_v4_sendmsg): < 16 EINVAL, not AF_INET
 * EAFNOSUPPORT; ping AF_INET6: < 28 EINVAL, not AF_INET6 EAFNOSUPPORT. UDP AF_INET6 (udpv6_sendmsg): < 2 bytes EINVAL; AF_INET6 needs 24 bytes; AF_INET
 * goes the IPv4 way (ENETUNREACH if V6ONLY); AF_UNSPEC means "no address"; others EINVAL.
 */
export function parseSendtoAddr(
  sockFamily: InetFamilyName,
  proto: 'udp' | 'ping',
  bytes: Uint8Array,
  v6only = false,
): TargetResult {
  const fam = sockaddrFamily(bytes);
  if (sockFamily === 'AF_INET') {
    if (bytes.length < SOCKADDR_IN_LEN) return fail('EINVAL');
    if (fam === AF.AF_INET || (proto === 'udp' && fam === AF.AF_UNSPEC)) return { ok: true, sa: readIn(bytes) };
    return fail('EAFNOSUPPORT');
  }
  if (proto === 'ping') {
    // ping_v6_sendmsg wants a whole sockaddr_in6 (28 bytes: no RFC 2133 leniency), then AF_INET6.
    if (bytes.length < SOCKADDR_IN6_LEN) return fail('EINVAL');
    if (fam !== AF.AF_INET6) return fail('EAFNOSUPPORT');
    return { ok: true, sa: readIn6(bytes) };
  }
  if (bytes.length < SA_FAMILY_LEN) return fail('EINVAL');
  if (fam === AF.AF_INET6) {
    if (bytes.length < SIN6_LEN_RFC2133) return fail('EINVAL');
    return { ok: true, sa: readIn6(bytes) };
  }
  if (fam === AF.AF_INET) {
    if (v6only) return fail('ENETUNREACH');
    if (bytes.length < SOCKADDR_IN_LEN) return fail('EINVAL');
    return { ok: true, sa: readIn(bytes) };
  }
  if (fam === AF.AF_UNSPEC) return { ok: true, unspec: true };
  return fail('EINVAL');
}

/**
 * move_addr_to_kernel, for the address of bind(2), connect(2) and sendto(2): a length below 0 or
 * above sizeof(struct sockaddr_storage) is EINVAL before any protocol looks at it. 0 is allowed
 * here (the protocol then finds it too short).
 */
export function checkUserAddrlen(len: number): ErrnoName | null {
  return len < 0 || len > SOCKADDR_STORAGE_LEN ? 'EINVAL' : null;
}

/**
 * sendmsg(2)'s msg_namelen (__copy_msghdr): no name or length 0 means "no address"; a length
 * above sizeof(struct sockaddr_storage) is cut to it, not refused (unlike sendto's addrlen).
 * Returns the length the protocol sees, 0 meaning no address, or null for a negative length
 * (EINVAL).
 */
export function sendmsgNameLen(len: number): number | null {
  if (len < 0) return null;
  return Math.min(len, SOCKADDR_STORAGE_LEN);
}

/**
 * What the kernel writes back for getsockname/getpeername/accept/recvfrom (move_addr_to_user):
 * at most the caller's buffer length of the address, and the full length as the returned addrlen,
 * so a caller can tell it was truncated. A negative user length is EINVAL.
 */
export function sockaddrForUser(sa: SockAddr, userLen: number): { ok: true; bytes: Uint8Array; len: number } | { ok: false; errno: ErrnoName } {
  if (userLen < 0) return fail('EINVAL');
  const full = encodeSockaddr(sa);
  return { ok: true, bytes: full.subarray(0, Math.min(userLen, full.length)), len: full.length };
}

/** The address an AF_INET6 socket reports for an IPv4 peer or local address: ::ffff:a.b.c.d. */
export function toV6Sockaddr(sa: SockAddr): SockAddr {
  if (sa.family === 'AF_INET6') return sa;
  return { family: 'AF_INET6', addr: sa.addr.mapToV6(), port: sa.port, flowinfo: 0, scopeId: 0 };
}

/**
 * The IPv4 endpoint an AF_INET6 address stands for, if it is v4-mapped (a dual-stack socket
 * then runs IPv4 underneath), else null.
 */
export function v4EndpointOf(sa: SockAddr): SockAddr | null {
  if (sa.family === 'AF_INET') return sa;
  const v4 = sa.addr.unmapV4();
  return v4 ? { family: 'AF_INET', addr: v4, port: sa.port } : null;
}

/**
 * Binding an AF_INET6 socket to a specific IPv6 address that is not v4-mapped makes it
 * V6ONLY (__inet6_bind sets sk_ipv6only): it can never carry IPv4. :: and ::ffff:a.b.c.d leave
 * the flag as it was.
 */
export function bindImpliesV6only(sa: SockAddr): boolean {
  return sa.family === 'AF_INET6' && !sa.addr.isUnspecified() && !sa.addr.isV4Mapped();
}

/** Equality of the fields a socket identity depends on (family, address, port, scope). */
export function sockaddrEquals(a: SockAddr, b: SockAddr): boolean {
  return a.family === b.family && a.port === b.port && a.addr.equals(b.addr) && (a.scopeId ?? 0) === (b.scopeId ?? 0);
}

/** The text form used in logs and the conformance tables: "127.0.0.1:80", "[::1]:80". */
export function formatSockaddr(sa: SockAddr): string {
  return sa.family === 'AF_INET6' ? `[${sa.addr.key}${sa.scopeId ? `%${sa.scopeId}` : ''}]:${sa.port}` : `${sa.addr.key}:${sa.port}`;
}
