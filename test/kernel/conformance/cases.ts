// The socket conformance table: call sequences and what Linux answers. Every expectation here
// was written from the kernel sources (named in the case notes) and is checked against the
// running kernel by linux.test.ts, in a network namespace whose sysctls that test pins; moat's
// socket layer must then give the same answers. Addresses: loopback only, plus 10.213.6.99, an
// address on a veth in the test namespace where packets vanish (for timeouts).
// The language (ops, addresses, patterns) is in README.md; types and the matcher in table.ts.

import type { AddrSpec, Case, Op } from './table.js';

const L4 = '127.0.0.1';
const L6 = '::1';
const MAPPED = '::ffff:127.0.0.1';
/** On the namespace's veth (moat-cv0, 10.213.6.1/24), with a permanent neighbour entry: a SYN there is never answered. */
const NOWHERE = '10.213.6.99';

type Fam = 'AF_INET' | 'AF_INET6';
const famOf = (ip: string): Fam => (ip.includes(':') ? 'AF_INET6' : 'AF_INET');

// ---- op builders ------------------------------------------------------------------------------

function sock(id: string, domain: Fam = 'AF_INET', type = 'SOCK_STREAM', more: Partial<Extract<Op, { op: 'socket' }>> = {}): Op {
  return { op: 'socket', id, domain, type, ...more };
}
const tcp = (id: string, domain: Fam = 'AF_INET', flags?: string[]): Op => sock(id, domain, 'SOCK_STREAM', flags ? { flags } : {});
const udp = (id: string, domain: Fam = 'AF_INET'): Op => sock(id, domain, 'SOCK_DGRAM');
const bind = (fd: string, addr: AddrSpec | string, expect: unknown = 0): Op => ({ op: 'bind', fd, addr: typeof addr === 'string' ? { ip: addr, port: 0 } : addr, expect });
const listen = (fd: string, backlog = 16, expect: unknown = 0): Op => ({ op: 'listen', fd, backlog, expect });
const connect = (fd: string, addr: AddrSpec, expect: unknown = 0): Op => ({ op: 'connect', fd, addr, expect });
const accept = (fd: string, id: string, expect?: unknown, flags?: string[]): Op => ({ op: 'accept', fd, id, expect, ...(flags ? { flags } : {}) });
const close = (fd: string): Op => ({ op: 'close', fd, expect: 0 });
const setInt = (fd: string, level: string, name: string | number, v: number, expect: unknown = 0, more: object = {}): Op => ({ op: 'setsockopt', fd, level, name, int: v, expect, ...more });
/** getsockopt of an int; a number expectation means "a full 4-byte value equal to it". */
const getInt = (fd: string, level: string, name: string | number, expect: unknown, more: object = {}): Op => ({
  op: 'getsockopt', fd, level, name, as: 'int', expect: typeof expect === 'number' || (typeof expect === 'object' && expect !== null && '$env' in expect) ? { len: 4, int: expect } : expect, ...more,
});
const send = (fd: string, data: string, expect: unknown = data.length, more: object = {}): Op => ({ op: 'send', fd, data, expect, ...more });
const recv = (fd: string, n: number, expect: unknown, more: object = {}): Op => ({ op: 'recv', fd, n, expect, ...more });
const poll = (fd: string, events: string[], expect: unknown, timeoutMs = 0): Op => ({ op: 'poll', fd, events, timeoutMs, expect });
const wait = (fd: string, events: string[], expect: unknown, timeoutMs = 2000): Op => ({ op: 'wait', fd, events, timeoutMs, expect });
const name = (fd: string, expect: unknown, save?: string): Op => ({ op: 'getsockname', fd, expect, ...(save ? { save } : {}) });
const peer = (fd: string, expect: unknown, save?: string): Op => ({ op: 'getpeername', fd, expect, ...(save ? { save } : {}) });
const ioctl = (fd: string, req: string | number, expect: unknown): Op => ({ op: 'ioctl', fd, req, expect });
const shutdown = (fd: string, how: string, expect: unknown = 0): Op => ({ op: 'shutdown', fd, how, expect });
const of = (id: string, more: AddrSpec = {}): AddrSpec => ({ of: id, ...more });

const IO = ['POLLIN', 'POLLOUT'];
const IOR = ['POLLIN', 'POLLOUT', 'POLLRDHUP'];
const v4 = (addr: string, port: unknown = '$nonzero'): object => ({ family: 'AF_INET', addr, port, len: 16 });
const v6 = (addr: string, port: unknown = '$nonzero'): object => ({ family: 'AF_INET6', addr, port, flowinfo: 0, scopeId: 0, len: 28 });
const ERR = (e: string): number => ({ ECONNREFUSED: 111, ETIMEDOUT: 110, ECONNRESET: 104, EPIPE: 32 } as Record<string, number>)[e];

/** A listener `l` on ip:0, a client `c` connected to it, and the accepted socket `s`. */
function tcpPair(ip = L4, clientFam: Fam = famOf(ip), target: AddrSpec = of('l')): Op[] {
  return [tcp('l', famOf(ip)), bind('l', ip), listen('l'), tcp('c', clientFam), connect('c', target), accept('l', 's')];
}

/** Two UDP sockets bound to ip:0: `a` and `b`. */
function udpPair(ip = L4): Op[] {
  return [udp('a', famOf(ip)), bind('a', ip), udp('b', famOf(ip)), bind('b', ip)];
}

// ---- option round trips ----------------------------------------------------------------------------

export interface IntOpt {
  level: string;
  name: string;
  type?: 'SOCK_STREAM' | 'SOCK_DGRAM';
  domain?: Fam;
  dflt: unknown;
  /** [value set, value a get then reports] */
  trips: [number, unknown][];
  invalid?: number[];
  note?: string;
}

export const INT_OPTS: IntOpt[] = [
  { level: 'SOL_SOCKET', name: 'SO_REUSEADDR', dflt: 0, trips: [[1, 1], [7, 1], [0, 0]] },
  { level: 'SOL_SOCKET', name: 'SO_REUSEPORT', dflt: 0, trips: [[1, 1], [-1, 1], [0, 0]] },
  { level: 'SOL_SOCKET', name: 'SO_KEEPALIVE', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_SOCKET', name: 'SO_BROADCAST', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_SOCKET', name: 'SO_RCVLOWAT', dflt: 1, trips: [[10, 10], [0, 1]], note: 'sk_setsockopt: 0 means 1' },
  {
    level: 'SOL_SOCKET', name: 'SO_SNDBUF', dflt: 16384, trips: [[4096, 8192], [0, 4608], [1, 4608]],
    note: 'doubled, at least SOCK_MIN_SNDBUF (2 * (2048 + 256)); TCP default is tcp_wmem[1] (pinned 16384)',
  },
  {
    level: 'SOL_SOCKET', name: 'SO_RCVBUF', dflt: 131072, trips: [[4096, 8192], [0, 2304], [1, 2304]],
    note: 'doubled, at least SOCK_MIN_RCVBUF (2048 + 256); TCP default is tcp_rmem[1] (pinned 131072)',
  },
  { level: 'SOL_TCP', name: 'TCP_NODELAY', dflt: 0, trips: [[1, 1], [2, 1], [0, 0]] },
  { level: 'SOL_TCP', name: 'TCP_CORK', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_TCP', name: 'TCP_KEEPIDLE', dflt: 7200, trips: [[60, 60], [1, 1], [32767, 32767]], invalid: [0, -1, 32768] },
  { level: 'SOL_TCP', name: 'TCP_KEEPINTVL', dflt: 75, trips: [[10, 10], [32767, 32767]], invalid: [0, 32768] },
  { level: 'SOL_TCP', name: 'TCP_KEEPCNT', dflt: 9, trips: [[1, 1], [127, 127]], invalid: [0, 128] },
  { level: 'SOL_TCP', name: 'TCP_SYNCNT', dflt: 2, trips: [[5, 5], [127, 127]], invalid: [0, 128], note: 'default is net.ipv4.tcp_syn_retries, pinned to 2' },
  {
    level: 'SOL_TCP', name: 'TCP_MAXSEG', dflt: 536, trips: [[1000, 1000], [88, 88], [32767, 32767], [0, 536]], invalid: [87, 32768, -1],
    note: 'unconnected: reports user_mss if set, else TCP_MSS_DEFAULT 536; range TCP_MIN_MSS..MAX_TCP_WINDOW',
  },
  { level: 'SOL_TCP', name: 'TCP_USER_TIMEOUT', dflt: 0, trips: [[1000, 1000], [0, 0], [0x7fffffff, 0x7fffffff]], invalid: [-1] },
  { level: 'SOL_TCP', name: 'TCP_QUICKACK', dflt: 1, trips: [[0, 0], [1, 1]], note: 'get reports !pingpong' },
  { level: 'SOL_TCP', name: 'TCP_LINGER2', dflt: 60, trips: [[10, 10], [0, 60], [-1, -1], [1000, 120]], note: '0 reports tcp_fin_timeout (60); capped at TCP_FIN_TIMEOUT_MAX' },
  { level: 'SOL_TCP', name: 'TCP_DEFER_ACCEPT', dflt: 0, trips: [[1, 1], [5, 7], [3, 3], [0, 0], [-3, 0]], note: 'stored as SYN-ACK retransmissions: 5 s needs 3 (1+2+4 = 7 s)' },
  { level: 'SOL_TCP', name: 'TCP_WINDOW_CLAMP', dflt: 0, trips: [[5000, 5000], [100, 1152], [0, 0]], note: 'at least SOCK_MIN_RCVBUF / 2' },
  { level: 'SOL_TCP', name: 'TCP_NOTSENT_LOWAT', dflt: 0, trips: [[1000, 1000], [-1, -1], [0, 0]], note: 'reads the per-socket value: 0 (use the sysctl) until set; stored as u32' },
  { level: 'SOL_IP', name: 'IP_MULTICAST_TTL', type: 'SOCK_DGRAM', dflt: 1, trips: [[5, 5], [-1, 1], [0, 0], [255, 255]], invalid: [256, -2] },
  { level: 'SOL_IP', name: 'IP_MULTICAST_LOOP', type: 'SOCK_DGRAM', dflt: 1, trips: [[0, 0], [7, 1]] },
  { level: 'SOL_SOCKET', name: 'SO_OOBINLINE', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_SOCKET', name: 'SO_DONTROUTE', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_IP', name: 'IP_TTL', dflt: 64, trips: [[1, 1], [255, 255], [-1, 64]], invalid: [0, 256, -2], note: '-1 = ip_default_ttl' },
  { level: 'SOL_IP', name: 'IP_TOS', type: 'SOCK_DGRAM', dflt: 0, trips: [[0x10, 0x10], [0xff, 0xff], [0x1ff, 0xff]] },
  { level: 'SOL_IP', name: 'IP_TOS', dflt: 0, trips: [[0x10, 0x10], [0xff, 0xfc], [0x03, 0]], note: 'TCP keeps the ECN bits for itself (RFC 3168)' },
  { level: 'SOL_IP', name: 'IP_PKTINFO', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1], [9, 1], [0, 0]] },
  { level: 'SOL_IP', name: 'IP_RECVERR', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_IP', name: 'IP_RECVERR', dflt: 0, trips: [[1, 1]] },
  { level: 'SOL_IP', name: 'IP_RECVTTL', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1]] },
  { level: 'SOL_IP', name: 'IP_MTU_DISCOVER', dflt: 1, trips: [[0, 0], [2, 2], [5, 5]], invalid: [6, -1], note: 'default IP_PMTUDISC_WANT (ip_no_pmtu_disc = 0)' },
  { level: 'SOL_IP', name: 'IP_MTU_DISCOVER', type: 'SOCK_DGRAM', dflt: 1, trips: [[3, 3]] },
  { level: 'SOL_IPV6', name: 'IPV6_V6ONLY', domain: 'AF_INET6', dflt: 0, trips: [[1, 1], [5, 1], [0, 0]], note: 'default net.ipv6.bindv6only = 0' },
  { level: 'SOL_IPV6', name: 'IPV6_UNICAST_HOPS', domain: 'AF_INET6', dflt: 64, trips: [[1, 1], [0, 0], [255, 255], [-1, 64]], invalid: [256, -2] },
  { level: 'SOL_IPV6', name: 'IPV6_TCLASS', domain: 'AF_INET6', type: 'SOCK_DGRAM', dflt: 0, trips: [[0xff, 0xff], [-1, 0]], invalid: [256, -2] },
  { level: 'SOL_IPV6', name: 'IPV6_TCLASS', domain: 'AF_INET6', dflt: 0, trips: [[0xff, 0xfc], [0x20, 0x20]] },
  { level: 'SOL_IPV6', name: 'IPV6_RECVPKTINFO', domain: 'AF_INET6', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1], [0, 0]] },
  { level: 'SOL_IPV6', name: 'IPV6_RECVERR', domain: 'AF_INET6', type: 'SOCK_DGRAM', dflt: 0, trips: [[1, 1]] },
  { level: 'SOL_IPV6', name: 'IPV6_MTU_DISCOVER', domain: 'AF_INET6', dflt: 1, trips: [[2, 2], [5, 5]], invalid: [6, -1] },
];

function intOptCases(o: IntOpt): Case[] {
  const type = o.type ?? 'SOCK_STREAM';
  const domain = o.domain ?? 'AF_INET';
  const tag = `${o.name} (${domain === 'AF_INET6' ? 'v6 ' : ''}${type === 'SOCK_STREAM' ? 'tcp' : 'udp'})`;
  const out: Case[] = [{
    name: `${tag}: default, then set/get round trips`,
    note: o.note,
    ops: [sock('a', domain, type), getInt('a', o.level, o.name, o.dflt), ...o.trips.flatMap(([v, got]) => [setInt('a', o.level, o.name, v), getInt('a', o.level, o.name, got)])],
  }];
  if (o.invalid) {
    out.push({
      name: `${tag}: out-of-range values are EINVAL and change nothing`,
      ops: [sock('a', domain, type), ...o.invalid.map((v) => setInt('a', o.level, o.name, v, 'EINVAL')), getInt('a', o.level, o.name, o.dflt)],
    });
  }
  return out;
}

// ---- the cases -----------------------------------------------------------------------------------

const socketCases: Case[] = [
  {
    name: 'socket: TCP over IPv4 reports its type, domain and protocol',
    ops: [tcp('a'), getInt('a', 'SOL_SOCKET', 'SO_TYPE', 1), getInt('a', 'SOL_SOCKET', 'SO_DOMAIN', 2), getInt('a', 'SOL_SOCKET', 'SO_PROTOCOL', 6), getInt('a', 'SOL_SOCKET', 'SO_ACCEPTCONN', 0), getInt('a', 'SOL_SOCKET', 'SO_ERROR', 0)],
  },
  {
    name: 'socket: UDP over IPv6 reports its type, domain and protocol',
    ops: [udp('a', 'AF_INET6'), getInt('a', 'SOL_SOCKET', 'SO_TYPE', 2), getInt('a', 'SOL_SOCKET', 'SO_DOMAIN', 10), getInt('a', 'SOL_SOCKET', 'SO_PROTOCOL', 17)],
  },
  { name: 'socket: explicit IPPROTO_TCP for a stream socket', ops: [sock('a', 'AF_INET', 'SOCK_STREAM', { proto: 'IPPROTO_TCP' }), getInt('a', 'SOL_SOCKET', 'SO_PROTOCOL', 6)] },
  { name: 'socket: stream with IPPROTO_UDP is EPROTONOSUPPORT', ops: [sock('a', 'AF_INET', 'SOCK_STREAM', { proto: 'IPPROTO_UDP', expect: 'EPROTONOSUPPORT' })] },
  { name: 'socket: datagram with IPPROTO_TCP is EPROTONOSUPPORT', ops: [sock('a', 'AF_INET6', 'SOCK_DGRAM', { proto: 'IPPROTO_TCP', expect: 'EPROTONOSUPPORT' })] },
  { name: 'socket: an unknown family is EAFNOSUPPORT', ops: [{ op: 'socket', id: 'a', domain: 'AF_UNSPEC', type: 'SOCK_STREAM', expect: 'EAFNOSUPPORT' }] },
  { name: 'socket: SOCK_SEQPACKET over IPv4 is ESOCKTNOSUPPORT', ops: [sock('a', 'AF_INET', 'SOCK_SEQPACKET', { expect: 'ESOCKTNOSUPPORT' })] },
  { name: 'socket: SOCK_NONBLOCK|SOCK_CLOEXEC are accepted as type flags', ops: [sock('a', 'AF_INET', 'SOCK_DGRAM', { flags: ['SOCK_NONBLOCK', 'SOCK_CLOEXEC'] }), recv('a', 10, 'EAGAIN')] },
  { name: 'socket: other type flag bits are EINVAL', ops: [sock('a', 'AF_INET', 'SOCK_STREAM', { flags: ['MSG_WAITALL'], expect: 'EINVAL' })] },
  { name: 'socket: ping socket (SOCK_DGRAM, IPPROTO_ICMP) with ping_group_range open', ops: [sock('a', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), getInt('a', 'SOL_SOCKET', 'SO_PROTOCOL', 1), getInt('a', 'SOL_SOCKET', 'SO_TYPE', 2)] },
];

const sockoptCases: Case[] = [
  ...INT_OPTS.flatMap(intOptCases),
  {
    name: 'SO_SNDBUF: values above wmem_max (and negative ones, read as u32) clamp to 2 * wmem_max',
    ops: [tcp('a'), setInt('a', 'SOL_SOCKET', 'SO_SNDBUF', 1 << 30), getInt('a', 'SOL_SOCKET', 'SO_SNDBUF', { $env: 'wmem_max', mul: 2 }), setInt('a', 'SOL_SOCKET', 'SO_SNDBUF', -1), getInt('a', 'SOL_SOCKET', 'SO_SNDBUF', { $env: 'wmem_max', mul: 2 })],
  },
  {
    name: 'SO_RCVBUF: values above rmem_max clamp to 2 * rmem_max',
    ops: [udp('a'), setInt('a', 'SOL_SOCKET', 'SO_RCVBUF', 1 << 30), getInt('a', 'SOL_SOCKET', 'SO_RCVBUF', { $env: 'rmem_max', mul: 2 })],
  },
  {
    name: 'SO_SNDBUF/SO_RCVBUF: UDP defaults are net.core.wmem_default/rmem_default',
    ops: [udp('a'), getInt('a', 'SOL_SOCKET', 'SO_SNDBUF', { $env: 'wmem_default' }), getInt('a', 'SOL_SOCKET', 'SO_RCVBUF', { $env: 'rmem_default' })],
  },
  {
    name: 'SOL_SOCKET int options: optlen below 4 is EINVAL, above 4 reads 4 bytes',
    ops: [tcp('a'), setInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 1, 'EINVAL', { optlen: 3 }), setInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 1, 'EINVAL', { optlen: 0 }), getInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 0), setInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 1, 0, { optlen: 8 }), getInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 1)],
  },
  {
    name: 'SOL_SOCKET getsockopt: the value is cut to the caller optlen; negative optlen is EINVAL',
    ops: [tcp('a'), getInt('a', 'SOL_SOCKET', 'SO_TYPE', { len: 2, hex: '0100' }, { optlen: 2 }), getInt('a', 'SOL_SOCKET', 'SO_TYPE', { len: 0, hex: '' }, { optlen: 0 }), getInt('a', 'SOL_SOCKET', 'SO_TYPE', { len: 4, int: 1 }, { optlen: 64 }), getInt('a', 'SOL_SOCKET', 'SO_TYPE', 'EINVAL', { optlen: -1 })],
  },
  {
    name: 'SOL_SOCKET: read-only options (SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_ERROR) cannot be set',
    ops: [tcp('a'), ...['SO_TYPE', 'SO_DOMAIN', 'SO_PROTOCOL', 'SO_ACCEPTCONN', 'SO_ERROR'].map((n) => setInt('a', 'SOL_SOCKET', n, 1, 'ENOPROTOOPT'))],
  },
  {
    name: 'SO_SNDLOWAT cannot be set and reads 1',
    ops: [tcp('a'), setInt('a', 'SOL_SOCKET', 'SO_SNDLOWAT', 100, 'ENOPROTOOPT'), getInt('a', 'SOL_SOCKET', 'SO_SNDLOWAT', 1)],
  },
  {
    name: 'unknown option names at each level are ENOPROTOOPT',
    ops: [tcp('a'), udp('u'), setInt('a', 'SOL_SOCKET', 9999, 1, 'ENOPROTOOPT'), getInt('a', 'SOL_SOCKET', 9999, 'ENOPROTOOPT'), setInt('a', 'SOL_TCP', 9999, 1, 'ENOPROTOOPT'), getInt('a', 'SOL_TCP', 9999, 'ENOPROTOOPT'), setInt('a', 'SOL_IP', 9999, 1, 'ENOPROTOOPT'), setInt('u', 'SOL_IP', 9999, 1, 'ENOPROTOOPT')],
  },
  {
    name: 'TCP options on a UDP socket and IPv6 options on an IPv4 socket: set ENOPROTOOPT, get EOPNOTSUPP',
    note: 'the level falls through to ip_setsockopt (ENOPROTOOPT) and ip_getsockopt (EOPNOTSUPP)',
    ops: [udp('u'), tcp('a'), setInt('u', 'SOL_TCP', 'TCP_NODELAY', 1, 'ENOPROTOOPT'), getInt('u', 'SOL_TCP', 'TCP_NODELAY', 'EOPNOTSUPP'), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1, 'ENOPROTOOPT'), getInt('a', 'SOL_IPV6', 'IPV6_UNICAST_HOPS', 'EOPNOTSUPP')],
  },
  {
    name: 'IP-level options work on IPv6 sockets (they carry IPv4 for v4-mapped peers)',
    ops: [tcp('a', 'AF_INET6'), udp('u', 'AF_INET6'), setInt('a', 'SOL_IP', 'IP_TTL', 33), getInt('a', 'SOL_IP', 'IP_TTL', 33), setInt('u', 'SOL_IP', 'IP_TOS', 0x20), getInt('u', 'SOL_IP', 'IP_TOS', 0x20)],
  },
  {
    name: 'SO_LINGER: default off; on with a time round trips',
    ops: [tcp('a'), { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger', expect: { len: 8, linger: [0, 0] } }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 5], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger', expect: { len: 8, linger: [1, 5] } }],
  },
  {
    name: 'SO_LINGER: turning it off keeps the stored time, and a fresh off ignores l_linger',
    note: 'sk_setsockopt only clears SOCK_LINGER when l_onoff is 0',
    ops: [tcp('a'), { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [0, 7], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger', expect: { linger: [0, 0] } }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 5], expect: 0 }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [0, 9], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger', expect: { linger: [0, 5] } }],
  },
  {
    name: 'SO_LINGER: optlen below sizeof(struct linger) is EINVAL; a short get is cut',
    ops: [tcp('a'), { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 5], optlen: 4, expect: 'EINVAL' }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger', optlen: 4, expect: { len: 4, hex: '00000000' } }],
  },
  {
    name: 'SO_RCVTIMEO: default none; a whole-jiffy time round trips',
    ops: [tcp('a'), { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', as: 'timeval', expect: { len: 16, timeval: [0, 0] } }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [1, 500000], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', as: 'timeval', expect: { len: 16, timeval: [1, 500000] } }],
  },
  {
    name: 'SO_RCVTIMEO: microseconds round up to a jiffy; a negative time means no timeout',
    note: 'sock_set_timeout stores jiffies (HZ is in the env); tv_sec < 0 stores 0',
    ops: [udp('a'), { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [0, 1], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', as: 'timeval', expect: { timeval: [0, { $env: 'usec_per_jiffy' }] } }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [-1, 0], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', as: 'timeval', expect: { timeval: [0, 0] } }],
  },
  {
    name: 'SO_RCVTIMEO/SO_SNDTIMEO: tv_usec outside 0..999999 is EDOM; a short optlen is EINVAL',
    ops: [tcp('a'), { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [0, 1000000], expect: 'EDOM' }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_SNDTIMEO', timeval: [1, -1], expect: 'EDOM' }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_SNDTIMEO', timeval: [1, 0], optlen: 8, expect: 'EINVAL' }],
  },
  {
    name: 'SO_SNDTIMEO round trips',
    ops: [tcp('a'), { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_SNDTIMEO', timeval: [2, 0], expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_SNDTIMEO', as: 'timeval', expect: { len: 16, timeval: [2, 0] } }],
  },
  {
    name: 'SO_RCVTIMEO makes a blocking recv fail with EAGAIN',
    ops: [udp('a'), bind('a', L4), { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [0, 100000], expect: 0 }, recv('a', 10, 'EAGAIN')],
  },
  {
    name: 'SO_BINDTODEVICE: a name round trips with its NUL; unknown is ENODEV; a short get buffer is EINVAL; "" unbinds',
    ops: [udp('a'), { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', as: 'str', expect: { len: 0 } }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', str: 'lo', expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', as: 'str', expect: { len: 3, str: 'lo' } }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', as: 'str', optlen: 8, expect: 'EINVAL' }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', str: 'moat-none0', expect: 'ENODEV' }, { op: 'setsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', str: '', expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_SOCKET', name: 'SO_BINDTODEVICE', as: 'str', expect: { len: 0 } }],
  },
  {
    name: 'TCP_WINDOW_CLAMP 0 on a connected socket is EINVAL',
    ops: [...tcpPair(), setInt('c', 'SOL_TCP', 'TCP_WINDOW_CLAMP', 0, 'EINVAL')],
  },
  {
    name: 'SO_ACCEPTCONN is 1 only while listening',
    ops: [tcp('a'), bind('a', L4), getInt('a', 'SOL_SOCKET', 'SO_ACCEPTCONN', 0), listen('a'), getInt('a', 'SOL_SOCKET', 'SO_ACCEPTCONN', 1)],
  },
  {
    name: 'SO_PRIORITY 0..6 without CAP_NET_ADMIN; as root any value round trips',
    ops: [tcp('a'), getInt('a', 'SOL_SOCKET', 'SO_PRIORITY', 0), setInt('a', 'SOL_SOCKET', 'SO_PRIORITY', 6), getInt('a', 'SOL_SOCKET', 'SO_PRIORITY', 6)],
  },
  {
    name: 'TCP int options: optlen below 4 is EINVAL; a get is cut to min(optlen, 4)',
    ops: [tcp('a'), setInt('a', 'SOL_TCP', 'TCP_NODELAY', 1, 'EINVAL', { optlen: 2 }), getInt('a', 'SOL_TCP', 'TCP_KEEPIDLE', { len: 2, hex: '201c' }, { optlen: 2 }), getInt('a', 'SOL_TCP', 'TCP_KEEPIDLE', { len: 4, int: 7200 }, { optlen: 100 })],
  },
  {
    name: 'TCP_INFO cannot be set; on a fresh socket it reports TCP_CLOSE',
    ops: [tcp('a'), setInt('a', 'SOL_TCP', 'TCP_INFO', 1, 'ENOPROTOOPT'), { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { len: { $gte: 232 }, tcpi: { state: 7, ca_state: 0, retransmits: 0, unacked: 0, snd_mss: 536, rcv_mss: 0, pmtu: 0, total_retrans: 0 } } }],
  },
  {
    name: 'TCP_INFO: a short optlen cuts the struct; the listener state is TCP_LISTEN',
    ops: [tcp('a'), bind('a', L4), listen('a'), { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', optlen: 8, expect: { len: 8, tcpi: { state: 10 } } }],
  },
  {
    name: 'TCP_INFO on an established loopback connection',
    note: 'loopback negotiates timestamps, SACK and window scaling; the IPv4 path MTU is capped at IP_MAX_MTU 65535',
    ops: [...tcpPair(), send('c', 'hello'), wait('s', ['POLLIN'], ['POLLIN']), { op: 'getsockopt', fd: 's', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { state: 1, ca_state: 0, options: 7, pmtu: 65535, retransmits: 0, total_retrans: 0, bytes_received: 5 } } }],
  },
  {
    name: 'TCP_CONGESTION: default (pinned reno), set cubic, unknown name ENOENT, empty EINVAL',
    note: 'a namespace may only default to a non-restricted algorithm (reno); CAP_NET_ADMIN may set any loaded one',
    ops: [tcp('a'), { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', as: 'str', expect: { len: 16, str: 'reno' } }, { op: 'setsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', str: 'cubic', expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', as: 'str', expect: { len: 16, str: 'cubic' } }, { op: 'setsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', str: 'no-such-cc', expect: 'ENOENT' }, { op: 'setsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', str: 'reno', optlen: 0, expect: 'EINVAL' }],
  },
  {
    name: 'TCP_CONGESTION: a get with a small optlen is cut; optlen need not include the NUL',
    ops: [tcp('a'), { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', as: 'str', optlen: 3, expect: { len: 3, str: 'ren' } }, { op: 'setsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', str: 'cubicXYZ', optlen: 5, expect: 0 }, { op: 'getsockopt', fd: 'a', level: 'SOL_TCP', name: 'TCP_CONGESTION', as: 'str', expect: { str: 'cubic' } }],
  },
  {
    name: 'TCP_MAXSEG on an established loopback connection is bounded by half the peer window',
    note: 'tcp_bound_to_half_wnd: the first window is 65483 (tcp_rmem[1] 131072, pinned), so the MSS is 32741',
    ops: [...tcpPair(), getInt('c', 'SOL_TCP', 'TCP_MAXSEG', 32741)],
  },
  {
    name: 'TCP_USER_TIMEOUT and keepalive options also work on IPv6 TCP sockets',
    ops: [tcp('a', 'AF_INET6'), setInt('a', 'SOL_TCP', 'TCP_USER_TIMEOUT', 250), getInt('a', 'SOL_TCP', 'TCP_USER_TIMEOUT', 250), setInt('a', 'SOL_TCP', 'TCP_KEEPCNT', 3), getInt('a', 'SOL_TCP', 'TCP_KEEPCNT', 3)],
  },
  {
    name: 'IP options accept a 1-byte optlen (an unsigned char)',
    note: 'do_ip_setsockopt reads an int when optlen >= 4, else one byte',
    ops: [udp('a'), setInt('a', 'SOL_IP', 'IP_TTL', 0x20, 0, { optlen: 1 }), getInt('a', 'SOL_IP', 'IP_TTL', 32), setInt('a', 'SOL_IP', 'IP_TOS', 0x48, 0, { optlen: 1 }), getInt('a', 'SOL_IP', 'IP_TOS', 0x48)],
  },
  {
    name: 'IP getsockopt with optlen 1..3 returns one byte when the value fits',
    ops: [udp('a'), getInt('a', 'SOL_IP', 'IP_TTL', { len: 1, int: 64 }, { optlen: 1 }), getInt('a', 'SOL_IP', 'IP_TTL', { len: 1, int: 64 }, { optlen: 3 }), getInt('a', 'SOL_IP', 'IP_TTL', { len: 0 }, { optlen: 0 })],
  },
  {
    name: 'IP_TTL with optlen 0 is EINVAL',
    ops: [udp('a'), setInt('a', 'SOL_IP', 'IP_TTL', 5, 'EINVAL', { optlen: 0 })],
  },
  {
    name: 'IPv6 int options: optlen below 4 is EINVAL',
    ops: [udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1, 'EINVAL', { optlen: 2 }), setInt('a', 'SOL_IPV6', 'IPV6_UNICAST_HOPS', 5, 'EINVAL', { optlen: 1 }), getInt('a', 'SOL_IPV6', 'IPV6_UNICAST_HOPS', { len: 2 }, { optlen: 2 })],
  },
  {
    name: 'IPV6_V6ONLY cannot change once the socket is bound; binding a non-mapped address sets it',
    note: '__inet6_bind makes a socket bound to a specific IPv6 (not v4-mapped) address v6-only',
    ops: [tcp('a', 'AF_INET6'), bind('a', L6), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 0, 'EINVAL'), getInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1)],
  },
  {
    name: 'IPV6_V6ONLY stays 0 after binding :: or a v4-mapped address, and cannot be set then',
    ops: [tcp('a', 'AF_INET6'), bind('a', '::'), getInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 0), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1, 'EINVAL'), udp('b', 'AF_INET6'), bind('b', MAPPED), getInt('b', 'SOL_IPV6', 'IPV6_V6ONLY', 0)],
  },
  {
    name: 'IP_MTU: ENOTCONN until connected; then the route MTU, capped at IP_MAX_MTU 65535',
    ops: [udp('a'), getInt('a', 'SOL_IP', 'IP_MTU', 'ENOTCONN'), udp('b'), bind('b', L4), connect('a', of('b')), getInt('a', 'SOL_IP', 'IP_MTU', 65535)],
  },
  {
    name: 'IPV6_MTU on a connected IPv6 UDP socket is the loopback MTU (not capped like IPv4)',
    ops: [udp('a', 'AF_INET6'), udp('b', 'AF_INET6'), bind('b', L6), connect('a', of('b')), getInt('a', 'SOL_IPV6', 'IPV6_MTU', 65536)],
  },
];

const bindCases: Case[] = [
  { name: 'bind: 127.0.0.1 port 0 picks an ephemeral port', ops: [tcp('a'), bind('a', L4), name('a', v4(L4, { $range: [32768, 60999] }))] },
  { name: 'bind: a second bind on the same socket is EINVAL', ops: [tcp('a'), bind('a', L4), bind('a', L4, 'EINVAL')] },
  { name: 'bind: addrlen 15 for AF_INET is EINVAL', ops: [tcp('a'), bind('a', { ip: L4, len: 15 }, 'EINVAL'), name('a', v4('0.0.0.0', 0))] },
  { name: 'bind: addrlen 0 is EINVAL', ops: [udp('a'), bind('a', { ip: L4, len: 0 }, 'EINVAL')] },
  { name: 'bind: AF_INET6 family on an AF_INET socket is EAFNOSUPPORT', ops: [tcp('a'), bind('a', { ip: L4, family: 'AF_INET6' }, 'EAFNOSUPPORT')] },
  { name: 'bind: AF_UNSPEC with INADDR_ANY is taken as AF_INET (compatibility)', ops: [tcp('a'), bind('a', { ip: '0.0.0.0', family: 'AF_UNSPEC' }), name('a', v4('0.0.0.0'))] },
  { name: 'bind: AF_UNSPEC with another address is EAFNOSUPPORT', ops: [tcp('a'), bind('a', { ip: L4, family: 'AF_UNSPEC' }, 'EAFNOSUPPORT')] },
  { name: 'bind: a non-local address is EADDRNOTAVAIL', ops: [tcp('a'), bind('a', '192.0.2.1', 'EADDRNOTAVAIL'), udp('u'), bind('u', '192.0.2.1', 'EADDRNOTAVAIL')] },
  { name: 'bind: a non-local address is allowed with IP_FREEBIND', ops: [tcp('a'), setInt('a', 'SOL_IP', 'IP_FREEBIND', 1), bind('a', '192.0.2.1'), name('a', v4('192.0.2.1'))] },
  { name: 'bind: any 127/8 address is local on lo', ops: [udp('a'), bind('a', '127.0.0.9'), name('a', v4('127.0.0.9'))] },
  { name: 'bind: 0.0.0.0 port 0', ops: [tcp('a'), bind('a', '0.0.0.0'), name('a', v4('0.0.0.0'))] },
  { name: 'bind: two sockets on port 0 get different ports', ops: [udp('a'), bind('a', L4), name('a', '$ok', 'A'), udp('b'), bind('b', L4), name('b', { port: { $not: '$var:A.port' } })] },
  { name: 'bind: a TCP port in use is EADDRINUSE', ops: [tcp('a'), bind('a', L4), tcp('b'), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE')] },
  { name: 'bind: 0.0.0.0 conflicts with 127.0.0.1 on the same TCP port', ops: [tcp('a'), bind('a', '0.0.0.0'), tcp('b'), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE')] },
  { name: 'bind: different 127/8 addresses may share a TCP port', ops: [tcp('a'), bind('a', '127.0.0.2'), tcp('b'), bind('b', { ip: '127.0.0.3', port: { of: 'a' } })] },
  { name: 'bind: SO_REUSEADDR on both, neither listening: the second bind succeeds', ops: [tcp('a'), setInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('a', L4), tcp('b'), setInt('b', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('b', { ip: L4, port: { of: 'a' } }), listen('a'), listen('b', 16, 'EADDRINUSE')] },
  { name: 'bind: SO_REUSEADDR does not share a port with a listener', ops: [tcp('a'), setInt('a', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('a', L4), listen('a'), tcp('b'), setInt('b', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE')] },
  { name: 'bind: SO_REUSEPORT on both: two listeners share the port', ops: [tcp('a'), setInt('a', 'SOL_SOCKET', 'SO_REUSEPORT', 1), bind('a', L4), listen('a'), tcp('b'), setInt('b', 'SOL_SOCKET', 'SO_REUSEPORT', 1), bind('b', { ip: L4, port: { of: 'a' } }), listen('b')] },
  { name: 'bind: SO_REUSEPORT only on the second is EADDRINUSE', ops: [tcp('a'), bind('a', L4), tcp('b'), setInt('b', 'SOL_SOCKET', 'SO_REUSEPORT', 1), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE')] },
  { name: 'bind: UDP port in use is EADDRINUSE; SO_REUSEADDR on both shares it', ops: [udp('a'), bind('a', L4), udp('b'), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE'), udp('c'), setInt('c', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('c', L4), udp('d'), setInt('d', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('d', { ip: L4, port: { of: 'c' } })] },
  { name: 'bind: TCP and UDP have separate port spaces', ops: [tcp('a'), bind('a', L4), udp('b'), bind('b', { ip: L4, port: { of: 'a' } })] },
  { name: 'bind: [::]:p (dual-stack) conflicts with 127.0.0.1:p', ops: [tcp('a', 'AF_INET6'), bind('a', '::'), tcp('b'), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE')] },
  { name: 'bind: [::]:p with IPV6_V6ONLY leaves 127.0.0.1:p free', ops: [tcp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1), bind('a', '::'), tcp('b'), bind('b', { ip: L4, port: { of: 'a' } })] },
  { name: 'bind: an IPv6 socket binds a v4-mapped address and reports it', ops: [tcp('a', 'AF_INET6'), bind('a', MAPPED), name('a', v6(MAPPED))] },
  { name: 'bind: a v4-mapped address on a V6ONLY socket is EINVAL', ops: [udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1), bind('a', MAPPED, 'EINVAL')] },
  { name: 'bind: IPv6 addrlen 23 is EINVAL, 24 (RFC 2133, no scope id) is accepted', ops: [udp('a', 'AF_INET6'), bind('a', { ip: L6, len: 23 }, 'EINVAL'), bind('a', { ip: L6, len: 24 }), name('a', v6(L6))] },
  { name: 'bind: an AF_INET sockaddr on an IPv6 socket: short is EINVAL, padded is EAFNOSUPPORT', ops: [udp('a', 'AF_INET6'), bind('a', { ip: L4 }, 'EINVAL'), bind('a', { ip: L4, len: 28 }, 'EAFNOSUPPORT')] },
  { name: 'bind: a link-local IPv6 address without a scope id is EINVAL', ops: [udp('a', 'AF_INET6'), bind('a', 'fe80::1', 'EINVAL')] },
  { name: 'bind: ::1 port 0 reports flowinfo 0, scope 0, 28 bytes', ops: [tcp('a', 'AF_INET6'), bind('a', L6), name('a', v6(L6))] },
  { name: 'bind: a non-local IPv6 address is EADDRNOTAVAIL', ops: [tcp('a', 'AF_INET6'), bind('a', '2001:db8::1', 'EADDRNOTAVAIL')] },
  { name: 'bind: a privileged port works as root', ops: [tcp('a'), bind('a', { ip: L4, port: 1023 }), name('a', v4(L4, 1023))] },
];

const nameCases: Case[] = [
  { name: 'getsockname/getpeername: fresh TCP socket', ops: [tcp('a'), name('a', v4('0.0.0.0', 0)), peer('a', 'ENOTCONN')] },
  { name: 'getsockname/getpeername: fresh IPv6 UDP socket', ops: [udp('a', 'AF_INET6'), name('a', v6('::', 0)), peer('a', 'ENOTCONN')] },
  { name: 'getsockname/getpeername: listening socket', ops: [tcp('a'), bind('a', L4), listen('a'), name('a', v4(L4)), peer('a', 'ENOTCONN')] },
  { name: 'getsockname: listen without bind autobinds to 0.0.0.0 and a port', ops: [tcp('a'), listen('a'), name('a', v4('0.0.0.0'))] },
  {
    name: 'getsockname/getpeername: both ends of a connection mirror each other',
    ops: [tcp('l'), bind('l', L4), listen('l'), name('l', '$ok', 'L'), tcp('c'), connect('c', of('l')), name('c', v4(L4), 'C'), peer('c', v4(L4, '$var:L.port')), { op: 'accept', fd: 'l', id: 's', expect: { peer: { family: 'AF_INET', addr: L4, port: '$var:C.port', len: 16 } } }, name('s', v4(L4, '$var:L.port')), peer('s', v4(L4, '$var:C.port'))],
  },
  {
    name: 'getsockname: a short addrlen cuts the address and reports the full length',
    ops: [tcp('a'), bind('a', L4), { op: 'getsockname', fd: 'a', addrlen: 4, expect: { len: 16, hex: { $not: '' } } }, { op: 'getsockname', fd: 'a', addrlen: 0, expect: { len: 16, hex: '' } }],
  },
  {
    name: 'accept: a short addrlen cuts the peer address and reports the full length',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c'), connect('c', of('l')), { op: 'accept', fd: 'l', id: 's', addrlen: 2, expect: { peer: { len: 16, hex: '0200' } } }],
  },
  {
    name: 'getpeername: a connection in SYN_SENT has no peer yet; its local address is chosen',
    ops: [tcp('a', 'AF_INET', ['SOCK_NONBLOCK']), connect('a', { ip: NOWHERE, port: 9 }, 'EINPROGRESS'), peer('a', 'ENOTCONN'), name('a', v4('10.213.6.1'))],
  },
  {
    name: 'getpeername: after the peer closes (CLOSE_WAIT) the peer is still known',
    ops: [...tcpPair(), close('s'), wait('c', ['POLLIN'], ['POLLIN']), recv('c', 10, { n: 0 }), peer('c', v4(L4))],
  },
  {
    name: 'getpeername: after a reset the socket is closed and has no peer',
    ops: [...tcpPair(), { op: 'setsockopt', fd: 's', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 0], expect: 0 }, close('s'), wait('c', ['POLLIN'], { $contains: ['POLLERR'] }), peer('c', 'ENOTCONN'), name('c', v4(L4))],
  },
  {
    name: 'getpeername: still set after shutdown(SHUT_RDWR)',
    ops: [...tcpPair(), shutdown('c', 'SHUT_RDWR'), peer('c', v4(L4))],
  },
  {
    name: 'getsockname/getpeername: IPv6 connection over ::1',
    ops: [...tcpPair(L6), name('c', v6(L6)), peer('c', v6(L6)), peer('s', v6(L6))],
  },
  {
    name: 'v4-mapped: an IPv6 client reaches an IPv4 listener and sees mapped addresses; the server sees plain IPv4',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c', 'AF_INET6'), connect('c', { ip: MAPPED, of: 'l' }), name('c', v6(MAPPED)), peer('c', v6(MAPPED)), { op: 'accept', fd: 'l', id: 's', expect: { peer: v4(L4) } }],
  },
  {
    name: 'v4-mapped: a dual-stack IPv6 listener on :: accepts an IPv4 client and reports it v4-mapped',
    ops: [tcp('l', 'AF_INET6'), bind('l', '::'), listen('l'), tcp('c'), connect('c', { ip: L4, of: 'l' }), { op: 'accept', fd: 'l', id: 's', expect: { peer: v6(MAPPED) } }, name('s', v6(MAPPED))],
  },
  {
    name: 'v4-mapped: a V6ONLY socket cannot connect to a v4-mapped address (ENETUNREACH)',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c', 'AF_INET6'), setInt('c', 'SOL_IPV6', 'IPV6_V6ONLY', 1), connect('c', { ip: MAPPED, of: 'l' }, 'ENETUNREACH')],
  },
  {
    name: 'v4-mapped: a V6ONLY listener on :: refuses IPv4 clients',
    ops: [tcp('l', 'AF_INET6'), setInt('l', 'SOL_IPV6', 'IPV6_V6ONLY', 1), bind('l', '::'), listen('l'), tcp('c'), connect('c', { ip: L4, of: 'l' }, 'ECONNREFUSED')],
  },
];

const connectCases: Case[] = [
  {
    name: 'connect: to a closed port is ECONNREFUSED; SO_ERROR is then clear',
    ops: [tcp('x'), bind('x', L4), tcp('c'), connect('c', of('x'), 'ECONNREFUSED'), getInt('c', 'SOL_SOCKET', 'SO_ERROR', 0), peer('c', 'ENOTCONN')],
  },
  {
    name: 'connect: IPv6 to a closed port is ECONNREFUSED',
    ops: [tcp('x', 'AF_INET6'), bind('x', L6), tcp('c', 'AF_INET6'), connect('c', of('x'), 'ECONNREFUSED')],
  },
  {
    name: 'connect: non-blocking to a closed port: EINPROGRESS, then POLLOUT|POLLERR|POLLHUP and SO_ERROR ECONNREFUSED once',
    ops: [tcp('x'), bind('x', L4), tcp('c', 'AF_INET', ['SOCK_NONBLOCK']), connect('c', of('x'), 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT', 'POLLERR', 'POLLHUP']), getInt('c', 'SOL_SOCKET', 'SO_ERROR', ERR('ECONNREFUSED')), getInt('c', 'SOL_SOCKET', 'SO_ERROR', 0)],
  },
  {
    name: 'connect: non-blocking to a listener: EINPROGRESS, writable, SO_ERROR 0; connect again 0, then EISCONN',
    note: 'the socket stays SS_CONNECTING until a connect call sees the handshake done: that call returns 0',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c', 'AF_INET', ['SOCK_NONBLOCK']), connect('c', of('l'), 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT']), getInt('c', 'SOL_SOCKET', 'SO_ERROR', 0), connect('c', of('l'), 0), connect('c', of('l'), 'EISCONN')],
  },
  {
    name: 'connect: non-blocking, unanswered: EINPROGRESS, again EALREADY, not writable',
    ops: [tcp('c', 'AF_INET', ['SOCK_NONBLOCK']), connect('c', { ip: NOWHERE, port: 80 }, 'EINPROGRESS'), connect('c', { ip: NOWHERE, port: 80 }, 'EALREADY'), poll('c', IOR, []), getInt('c', 'SOL_SOCKET', 'SO_ERROR', 0), { op: 'getsockopt', fd: 'c', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { state: 2 } } }],
  },
  {
    name: 'connect: to nowhere with TCP_USER_TIMEOUT 300ms is ETIMEDOUT',
    ops: [tcp('c'), setInt('c', 'SOL_TCP', 'TCP_USER_TIMEOUT', 300), connect('c', { ip: NOWHERE, port: 80 }, 'ETIMEDOUT'), getInt('c', 'SOL_SOCKET', 'SO_ERROR', 0)],
  },
  {
    name: 'connect: to nowhere with TCP_SYNCNT 1 is ETIMEDOUT (after one retransmission)',
    ops: [tcp('c'), setInt('c', 'SOL_TCP', 'TCP_SYNCNT', 1), connect('c', { ip: NOWHERE, port: 81 }, 'ETIMEDOUT')],
  },
  {
    name: 'connect: non-blocking to nowhere times out: POLLOUT|POLLERR|POLLHUP and SO_ERROR ETIMEDOUT',
    ops: [tcp('c', 'AF_INET', ['SOCK_NONBLOCK']), setInt('c', 'SOL_TCP', 'TCP_USER_TIMEOUT', 300), connect('c', { ip: NOWHERE, port: 80 }, 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT', 'POLLERR', 'POLLHUP'], 5000), getInt('c', 'SOL_SOCKET', 'SO_ERROR', ERR('ETIMEDOUT'))],
  },
  {
    name: 'connect: a blocking connect interrupted by SO_SNDTIMEO is EINPROGRESS (and goes on)',
    note: '__inet_stream_connect returns -EINPROGRESS when the send timeout runs out',
    ops: [tcp('c'), { op: 'setsockopt', fd: 'c', level: 'SOL_SOCKET', name: 'SO_SNDTIMEO', timeval: [0, 200000], expect: 0 }, connect('c', { ip: NOWHERE, port: 80 }, 'EINPROGRESS'), connect('c', { ip: NOWHERE, port: 80 }, 'EALREADY')],
  },
  { name: 'connect: on a listening socket is EISCONN', ops: [tcp('l'), bind('l', L4), listen('l'), connect('l', of('l'), 'EISCONN')] },
  { name: 'connect: on a connected socket is EISCONN', ops: [...tcpPair(), connect('c', of('l'), 'EISCONN')] },
  { name: 'connect: addrlen 1 is EINVAL; AF_INET addrlen 15 is EINVAL', ops: [tcp('c'), connect('c', { ip: L4, port: 1, len: 1 }, 'EINVAL'), connect('c', { ip: L4, port: 1, len: 15 }, 'EINVAL')] },
  { name: 'connect: AF_INET6 sockaddr on an AF_INET TCP socket is EAFNOSUPPORT', ops: [tcp('c'), connect('c', { ip: L4, port: 1, family: 'AF_INET6' }, 'EAFNOSUPPORT')] },
  { name: 'connect: AF_INET sockaddr on an AF_INET6 TCP socket: EINVAL (short) or EAFNOSUPPORT', ops: [tcp('c', 'AF_INET6'), connect('c', { ip: L4, port: 1 }, 'EINVAL'), connect('c', { ip: L4, port: 1, len: 28 }, 'EAFNOSUPPORT')] },
  { name: 'connect: AF_UNSPEC on an unconnected TCP socket succeeds', ops: [tcp('c'), connect('c', { family: 'AF_UNSPEC' })] },
  {
    name: 'connect: AF_UNSPEC on a connected TCP socket disconnects it (peer sees a reset)',
    ops: [...tcpPair(), connect('c', { family: 'AF_UNSPEC' }), peer('c', 'ENOTCONN'), wait('s', ['POLLIN'], { $contains: ['POLLIN', 'POLLERR'] }), recv('s', 10, 'ECONNRESET')],
  },
  {
    name: 'connect: to 0.0.0.0 reaches the local listener',
    ops: [tcp('l'), bind('l', '0.0.0.0'), listen('l'), tcp('c'), connect('c', { ip: '0.0.0.0', of: 'l' }), peer('c', v4(L4))],
  },
  {
    name: 'connect: IPv6 to :: reaches the local listener on ::1',
    ops: [tcp('l', 'AF_INET6'), bind('l', L6), listen('l'), tcp('c', 'AF_INET6'), connect('c', { ip: '::', of: 'l' }), peer('c', v6(L6))],
  },
  {
    name: 'connect: after ECONNREFUSED the same socket may connect again',
    ops: [tcp('x'), bind('x', L4), tcp('c'), connect('c', of('x'), 'ECONNREFUSED'), listen('x'), connect('c', of('x'))],
  },
  {
    name: 'connect: the client bound first keeps its local address and port',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c'), bind('c', '127.0.0.5'), name('c', '$ok', 'C'), connect('c', of('l')), name('c', v4('127.0.0.5', '$var:C.port'))],
  },
];

const listenCases: Case[] = [
  { name: 'listen: on a UDP socket is EOPNOTSUPP', ops: [udp('a'), listen('a', 16, 'EOPNOTSUPP')] },
  { name: 'listen: on a connected socket is EINVAL', ops: [...tcpPair(), listen('c', 16, 'EINVAL')] },
  { name: 'listen: twice is fine (the backlog changes)', ops: [tcp('a'), bind('a', L4), listen('a', 1), listen('a', 64)] },
  { name: 'accept: on a socket that is not listening is EINVAL', ops: [tcp('a'), bind('a', L4), accept('a', 'b', 'EINVAL')] },
  { name: 'accept: on a UDP socket is EOPNOTSUPP', ops: [udp('a'), accept('a', 'b', 'EOPNOTSUPP')] },
  { name: 'accept: non-blocking on an empty queue is EAGAIN; the listener polls not readable', ops: [tcp('a', 'AF_INET', ['SOCK_NONBLOCK']), bind('a', L4), listen('a'), accept('a', 'b', 'EAGAIN'), poll('a', IOR, [])] },
  {
    name: 'accept: a pending connection makes the listener readable; accept4 SOCK_NONBLOCK gives a non-blocking socket',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c'), connect('c', of('l')), wait('l', ['POLLIN'], ['POLLIN']), accept('l', 's', undefined, ['SOCK_NONBLOCK']), recv('s', 10, 'EAGAIN'), poll('l', ['POLLIN'], [])],
  },
  {
    name: 'listen backlog 0: one connection completes, the next SYN is dropped while the queue is full',
    note: 'sk_acceptq_is_full is ack_backlog > max_ack_backlog, so backlog 0 holds one',
    ops: [tcp('l'), bind('l', L4), listen('l', 0), tcp('c1', 'AF_INET', ['SOCK_NONBLOCK']), connect('c1', of('l'), 'EINPROGRESS'), wait('c1', ['POLLOUT'], ['POLLOUT']), wait('l', ['POLLIN'], ['POLLIN']), tcp('c2', 'AF_INET', ['SOCK_NONBLOCK']), connect('c2', of('l'), 'EINPROGRESS'), wait('c2', ['POLLOUT'], [], 300), accept('l', 's1')],
  },
  {
    name: 'listen: FIONREAD on a listener is EINVAL',
    ops: [tcp('a'), bind('a', L4), listen('a'), ioctl('a', 'FIONREAD', 'EINVAL')],
  },
  {
    name: 'listen: closing a listener resets connections still in its queue',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c'), connect('c', of('l')), wait('l', ['POLLIN'], ['POLLIN']), close('l'), wait('c', ['POLLIN'], { $contains: ['POLLERR'] }), recv('c', 10, 'ECONNRESET')],
  },
  {
    name: 'TIME_WAIT: a listener port whose accepted socket closed first is EADDRINUSE to a plain bind',
    ops: [tcp('l'), bind('l', L4), listen('l'), name('l', '$ok', 'P'), tcp('c'), connect('c', of('l')), accept('l', 's'), close('s'), wait('c', ['POLLIN'], ['POLLIN']), close('c'), close('l'), { op: 'sleep', ms: 50 }, tcp('n'), bind('n', of('P'), 'EADDRINUSE')],
  },
  {
    name: 'TIME_WAIT: SO_REUSEADDR (on the old listener and the new socket) rebinds and listens',
    ops: [tcp('l'), setInt('l', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('l', L4), listen('l'), name('l', '$ok', 'P'), tcp('c'), connect('c', of('l')), accept('l', 's'), close('s'), wait('c', ['POLLIN'], ['POLLIN']), close('c'), close('l'), { op: 'sleep', ms: 50 }, tcp('n'), setInt('n', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('n', of('P')), listen('n')],
  },
  {
    name: 'TIME_WAIT: SO_REUSEADDR on the new socket alone is not enough (EADDRINUSE)',
    note: 'the TIME_WAIT socket inherits sk_reuse from the listener; inet_csk_bind_conflict wants both',
    ops: [tcp('l'), bind('l', L4), listen('l'), name('l', '$ok', 'P'), tcp('c'), connect('c', of('l')), accept('l', 's'), close('s'), wait('c', ['POLLIN'], ['POLLIN']), close('c'), close('l'), { op: 'sleep', ms: 50 }, tcp('n'), setInt('n', 'SOL_SOCKET', 'SO_REUSEADDR', 1), bind('n', of('P'), 'EADDRINUSE')],
  },
  {
    name: 'TIME_WAIT: TCP_INFO of the closing side is gone, the client side reached CLOSE',
    ops: [...tcpPair(), close('s'), wait('c', ['POLLIN'], ['POLLIN']), recv('c', 10, { n: 0 }), { op: 'getsockopt', fd: 'c', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { state: 8 } } }],
  },
];

const streamCases: Case[] = [
  { name: 'stream: send and receive', ops: [...tcpPair(), send('c', 'hello'), recv('s', 100, { n: 5, data: 'hello', flags: [] })] },
  { name: 'stream: IPv6 send and receive', ops: [...tcpPair(L6), send('s', 'from server'), recv('c', 100, { n: 11, data: 'from server' })] },
  { name: 'stream: MSG_PEEK leaves the data', ops: [...tcpPair(), send('c', 'hello'), wait('s', ['POLLIN'], ['POLLIN']), recv('s', 2, { n: 2, data: 'he' }, { flags: ['MSG_PEEK'] }), recv('s', 100, { n: 5, data: 'hello' })] },
  { name: 'stream: a short read leaves the rest', ops: [...tcpPair(), send('c', 'abcdef'), { op: 'recv', fd: 's', n: 6, flags: ['MSG_WAITALL'], expect: { n: 6 } }, send('c', 'xyz'), recv('s', 1, { data: 'x' }), recv('s', 10, { data: 'yz' })] },
  { name: 'stream: MSG_WAITALL gathers two sends', ops: [...tcpPair(), send('c', 'abc'), send('c', 'def'), recv('s', 6, { n: 6, data: 'abcdef' }, { flags: ['MSG_WAITALL'] })] },
  { name: 'stream: MSG_WAITALL returns short at end of stream', ops: [...tcpPair(), send('c', 'abc'), shutdown('c', 'SHUT_WR'), recv('s', 10, { n: 3, data: 'abc' }, { flags: ['MSG_WAITALL'] }), recv('s', 10, { n: 0 })] },
  { name: 'stream: MSG_DONTWAIT on an empty blocking socket is EAGAIN', ops: [...tcpPair(), recv('s', 10, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'stream: O_NONBLOCK via fcntl makes recv EAGAIN', ops: [...tcpPair(), { op: 'nonblock', fd: 's', expect: 0 }, recv('s', 10, 'EAGAIN')] },
  { name: 'stream: MSG_MORE holds data until a send without it', ops: [...tcpPair(), send('c', 'ab', 2, { flags: ['MSG_MORE'] }), send('c', 'cd'), recv('s', 4, { n: 4, data: 'abcd' }, { flags: ['MSG_WAITALL'] })] },
  { name: 'stream: TCP_CORK then uncork delivers the data', ops: [...tcpPair(), setInt('c', 'SOL_TCP', 'TCP_CORK', 1), send('c', 'corked'), setInt('c', 'SOL_TCP', 'TCP_CORK', 0), recv('s', 6, { n: 6, data: 'corked' }, { flags: ['MSG_WAITALL'] })] },
  { name: 'stream: a zero-length send returns 0', ops: [...tcpPair(), send('c', '', 0), recv('s', 10, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'stream: recv with a zero-length buffer returns 0', ops: [...tcpPair(), send('c', 'x'), wait('s', ['POLLIN'], ['POLLIN']), recv('s', 0, { n: 0 }), ioctl('s', 'FIONREAD', 1)] },
  { name: 'stream: FIONREAD counts queued bytes; SIOCOUTQ on an idle socket is 0', ops: [...tcpPair(), ioctl('s', 'FIONREAD', 0), send('c', 'hello world'), wait('s', ['POLLIN'], ['POLLIN']), ioctl('s', 'FIONREAD', 11), { op: 'sleep', ms: 20 }, ioctl('c', 'SIOCOUTQ', 0), ioctl('c', 'SIOCOUTQNSD', 0)] },
  { name: 'stream: send on an unconnected socket is EPIPE (MSG_NOSIGNAL)', ops: [tcp('a'), send('a', 'x', 'EPIPE', { flags: ['MSG_NOSIGNAL'] })] },
  { name: 'stream: recv on an unconnected socket is ENOTCONN', ops: [tcp('a'), recv('a', 10, 'ENOTCONN')] },
  { name: 'stream: recv on a listener is ENOTCONN', ops: [tcp('a'), bind('a', L4), listen('a'), recv('a', 10, 'ENOTCONN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'stream: sendto with an address on a connected socket ignores the address', ops: [...tcpPair(), send('c', 'hi', 2, { addr: { ip: '127.0.0.77', port: 1 } }), recv('s', 10, { data: 'hi' })] },
  {
    name: 'stream: a full send buffer: non-blocking send EAGAIN, not writable, SIOCOUTQ and peer FIONREAD non-zero',
    ops: [...tcpPair(), { op: 'nonblock', fd: 'c', expect: 0 }, setInt('c', 'SOL_SOCKET', 'SO_SNDBUF', 8192), setInt('s', 'SOL_SOCKET', 'SO_RCVBUF', 8192), { op: 'fill', fd: 'c', chunk: 4096, max: 16 << 20, expect: '$nonzero' }, send('c', 'x', 'EAGAIN'), poll('c', ['POLLOUT'], []), ioctl('c', 'SIOCOUTQ', '$nonzero'), ioctl('s', 'FIONREAD', '$nonzero'), { op: 'drain', fd: 's', expect: '$nonzero' }, wait('c', ['POLLOUT'], ['POLLOUT'])],
  },
  {
    name: 'stream: SO_SNDTIMEO makes a blocking send on a full buffer fail with EAGAIN',
    ops: [...tcpPair(), setInt('c', 'SOL_SOCKET', 'SO_SNDBUF', 8192), setInt('s', 'SOL_SOCKET', 'SO_RCVBUF', 8192), { op: 'fill', fd: 'c', chunk: 4096, max: 16 << 20, expect: '$nonzero' }, { op: 'sleep', ms: 100 }, { op: 'fill', fd: 'c', chunk: 4096, max: 16 << 20, expect: '$any' }, { op: 'setsockopt', fd: 'c', level: 'SOL_SOCKET', name: 'SO_SNDTIMEO', timeval: [0, 100000], expect: 0 }, send('c', 'x'.repeat(4096), 'EAGAIN')],
  },
];

const shutdownCases: Case[] = [
  {
    name: 'shutdown(SHUT_WR): the peer reads EOF and polls POLLIN|POLLRDHUP; the writer gets EPIPE',
    ops: [...tcpPair(), shutdown('c', 'SHUT_WR'), wait('s', ['POLLIN'], ['POLLIN']), poll('s', IOR, ['POLLIN', 'POLLOUT', 'POLLRDHUP']), recv('s', 10, { n: 0 }), send('c', 'x', 'EPIPE', { flags: ['MSG_NOSIGNAL'] }), poll('c', IOR, ['POLLOUT'])],
  },
  {
    name: 'shutdown(SHUT_WR): the half-closed side can still receive',
    ops: [...tcpPair(), shutdown('c', 'SHUT_WR'), send('s', 'still here'), recv('c', 100, { n: 10, data: 'still here' })],
  },
  {
    name: 'shutdown(SHUT_RD): reads return 0 at once and poll reports POLLIN|POLLRDHUP',
    ops: [...tcpPair(), shutdown('c', 'SHUT_RD'), recv('c', 10, { n: 0 }), poll('c', IOR, ['POLLIN', 'POLLOUT', 'POLLRDHUP']), send('c', 'out'), recv('s', 10, { data: 'out' })],
  },
  {
    name: 'shutdown(SHUT_RD): data that arrives later is still queued and readable on Linux',
    ops: [...tcpPair(), shutdown('c', 'SHUT_RD'), send('s', 'late'), wait('c', ['POLLIN'], ['POLLIN']), { op: 'sleep', ms: 20 }, recv('c', 10, { $one_of: [{ n: 4, data: 'late' }, { n: 0 }] })],
  },
  {
    name: 'shutdown(SHUT_RDWR): both directions; the peer sees EOF',
    ops: [...tcpPair(), shutdown('c', 'SHUT_RDWR'), recv('c', 10, { n: 0 }), send('c', 'x', 'EPIPE', { flags: ['MSG_NOSIGNAL'] }), wait('s', ['POLLIN'], ['POLLIN']), recv('s', 10, { n: 0 })],
  },
  {
    name: 'shutdown: both sides SHUT_WR: POLLHUP on both',
    ops: [...tcpPair(), shutdown('c', 'SHUT_WR'), shutdown('s', 'SHUT_WR'), wait('c', ['POLLIN'], { $contains: ['POLLIN'] }), wait('s', ['POLLIN'], { $contains: ['POLLIN'] }), { op: 'sleep', ms: 20 }, poll('c', IOR, ['POLLIN', 'POLLOUT', 'POLLHUP', 'POLLRDHUP']), poll('s', IOR, ['POLLIN', 'POLLOUT', 'POLLHUP', 'POLLRDHUP'])],
  },
  { name: 'shutdown: on an unconnected TCP socket is ENOTCONN', ops: [tcp('a'), shutdown('a', 'SHUT_RDWR', 'ENOTCONN')] },
  { name: 'shutdown: how = 3 is EINVAL', ops: [...tcpPair(), { op: 'shutdown', fd: 'c', how: 3, expect: 'EINVAL' }] },
  { name: 'shutdown: on a listener (SHUT_RD) stops it: accept is EINVAL', ops: [tcp('l'), bind('l', L4), listen('l'), shutdown('l', 'SHUT_RD'), accept('l', 'x', 'EINVAL')] },
  {
    name: 'close: the peer reads EOF, its first send is accepted, after the reset sends are EPIPE',
    ops: [...tcpPair(), close('s'), wait('c', ['POLLIN'], ['POLLIN']), recv('c', 10, { n: 0 }), send('c', 'a', 1, { flags: ['MSG_NOSIGNAL'] }), wait('c', ['POLLERR'], { $contains: ['POLLERR', 'POLLHUP'] }), send('c', 'b', 'EPIPE', { flags: ['MSG_NOSIGNAL'] })],
  },
  {
    name: 'close with SO_LINGER {1, 0} resets: the peer gets ECONNRESET, then EOF',
    ops: [...tcpPair(), { op: 'setsockopt', fd: 's', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 0], expect: 0 }, close('s'), wait('c', ['POLLERR'], ['POLLERR', 'POLLHUP']), poll('c', IOR, ['POLLIN', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLRDHUP']), getInt('c', 'SOL_SOCKET', 'SO_ERROR', ERR('ECONNRESET')), recv('c', 10, { n: 0 })],
  },
  {
    name: 'close with unread data resets the connection (RFC 2525 §2.17)',
    ops: [...tcpPair(), send('c', 'unread'), wait('s', ['POLLIN'], ['POLLIN']), close('s'), wait('c', ['POLLIN'], { $contains: ['POLLERR'] }), recv('c', 10, 'ECONNRESET')],
  },
];

const pollCases: Case[] = [
  { name: 'poll: a fresh TCP socket is POLLOUT|POLLHUP', ops: [tcp('a'), poll('a', IOR, ['POLLOUT', 'POLLHUP'])] },
  { name: 'poll: a bound, unconnected TCP socket is POLLOUT|POLLHUP', ops: [tcp('a'), bind('a', L4), poll('a', IOR, ['POLLOUT', 'POLLHUP'])] },
  { name: 'poll: a fresh UDP socket is writable only', ops: [udp('a'), poll('a', IOR, ['POLLOUT'])] },
  { name: 'poll: an idle connection is writable only', ops: [...tcpPair(), poll('c', IOR, ['POLLOUT']), poll('s', IOR, ['POLLOUT'])] },
  { name: 'poll: data makes the receiver POLLIN; the normal-band bits show when asked', ops: [...tcpPair(), send('c', 'x'), wait('s', ['POLLIN'], ['POLLIN']), poll('s', ['POLLIN', 'POLLRDNORM', 'POLLOUT', 'POLLWRNORM'], ['POLLIN', 'POLLOUT', 'POLLRDNORM', 'POLLWRNORM'])] },
  { name: 'poll: POLLERR and POLLHUP are reported even when not asked for', ops: [tcp('x'), bind('x', L4), tcp('c', 'AF_INET', ['SOCK_NONBLOCK']), connect('c', of('x'), 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT', 'POLLERR', 'POLLHUP']), poll('c', [], ['POLLERR', 'POLLHUP'])] },
  { name: 'poll: SO_RCVLOWAT above the queued bytes keeps the socket unreadable', ops: [...tcpPair(), setInt('s', 'SOL_SOCKET', 'SO_RCVLOWAT', 4), send('c', 'ab'), { op: 'sleep', ms: 20 }, poll('s', ['POLLIN'], []), send('c', 'cd'), wait('s', ['POLLIN'], ['POLLIN'])] },
];

const udpCases: Case[] = [
  { name: 'udp: sendto/recvfrom report the sender address', ops: [...udpPair(), name('a', '$ok', 'A'), send('a', 'ping', 4, { addr: of('b') }), recv('b', 100, { n: 4, data: 'ping', flags: [], from: v4(L4, '$var:A.port') }, { namelen: 128 })] },
  { name: 'udp: IPv6 sendto/recvfrom', ops: [...udpPair(L6), name('a', '$ok', 'A'), send('a', 'ping6', 5, { addr: of('b') }), recv('b', 100, { n: 5, from: v6(L6, '$var:A.port') }, { namelen: 128 })] },
  { name: 'udp: a datagram larger than the buffer is cut and flagged MSG_TRUNC', ops: [...udpPair(), send('a', '0123456789', 10, { addr: of('b') }), recv('b', 4, { n: 4, data: '0123', flags: ['MSG_TRUNC'] }), recv('b', 100, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'udp: recv with MSG_TRUNC returns the full datagram length', ops: [...udpPair(), send('a', '0123456789', 10, { addr: of('b') }), recv('b', 4, { n: 10, data: '0123', flags: ['MSG_TRUNC'] }, { flags: ['MSG_TRUNC'] })] },
  { name: 'udp: MSG_PEEK leaves the datagram; datagram boundaries are kept', ops: [...udpPair(), send('a', 'one', 3, { addr: of('b') }), send('a', 'two!', 4, { addr: of('b') }), recv('b', 100, { n: 3, data: 'one' }, { flags: ['MSG_PEEK'] }), recv('b', 100, { n: 3, data: 'one' }), recv('b', 100, { n: 4, data: 'two!' })] },
  { name: 'udp: FIONREAD is the size of the next datagram', ops: [...udpPair(), ioctl('b', 'FIONREAD', 0), send('a', 'abc', 3, { addr: of('b') }), send('a', 'defgh', 5, { addr: of('b') }), wait('b', ['POLLIN'], ['POLLIN']), ioctl('b', 'FIONREAD', 3)] },
  { name: 'udp: SIOCOUTQ is 0 once sent', ops: [...udpPair(), send('a', 'abc', 3, { addr: of('b') }), { op: 'sleep', ms: 20 }, ioctl('a', 'SIOCOUTQ', 0)] },
  { name: 'udp: a zero-length datagram', ops: [...udpPair(), send('a', '', 0, { addr: of('b') }), wait('b', ['POLLIN'], ['POLLIN']), recv('b', 100, { n: 0, flags: [] })] },
  { name: 'udp: poll is POLLOUT when empty and POLLIN|POLLOUT with a datagram', ops: [...udpPair(), poll('b', IOR, ['POLLOUT']), send('a', 'x', 1, { addr: of('b') }), wait('b', ['POLLIN'], ['POLLIN']), poll('b', IOR, ['POLLIN', 'POLLOUT'])] },
  { name: 'udp: send without an address on an unconnected socket is EDESTADDRREQ', ops: [udp('a'), send('a', 'x', 'EDESTADDRREQ')] },
  { name: 'udp: a connected socket sends without an address; getpeername reports the peer', ops: [...udpPair(), connect('a', of('b')), peer('a', v4(L4)), send('a', 'hi'), recv('b', 10, { data: 'hi' })] },
  { name: 'udp: a connected socket drops datagrams from other sources', ops: [...udpPair(), udp('x'), bind('x', L4), connect('b', of('a')), send('x', 'noise', 5, { addr: of('b') }), send('a', 'real', 4, { addr: of('b') }), recv('b', 10, { data: 'real' })] },
  { name: 'udp: connect(AF_UNSPEC) dissolves the association', ops: [...udpPair(), connect('a', of('b')), connect('a', { family: 'AF_UNSPEC' }), peer('a', 'ENOTCONN'), send('a', 'x', 'EDESTADDRREQ'), name('a', v4(L4))] },
  { name: 'udp: connect(AF_UNSPEC) with a 2-byte addrlen works; 1 byte is EINVAL', ops: [...udpPair(), connect('a', of('b')), connect('a', { family: 'AF_UNSPEC', len: 1 }, 'EINVAL'), connect('a', { family: 'AF_UNSPEC', len: 2 }), peer('a', 'ENOTCONN')] },
  { name: 'udp: a connected socket learns ECONNREFUSED from ICMP port unreachable', ops: [udp('x'), bind('x', L4), name('x', '$ok', 'X'), close('x'), udp('a'), connect('a', of('X')), send('a', 'x'), wait('a', ['POLLIN'], { $contains: ['POLLERR'] }), recv('a', 10, 'ECONNREFUSED'), getInt('a', 'SOL_SOCKET', 'SO_ERROR', 0)] },
  { name: 'udp: SO_ERROR returns and clears a pending ECONNREFUSED', ops: [udp('x'), bind('x', L4), name('x', '$ok', 'X'), close('x'), udp('a'), connect('a', of('X')), send('a', 'x'), wait('a', ['POLLIN'], { $contains: ['POLLERR'] }), getInt('a', 'SOL_SOCKET', 'SO_ERROR', ERR('ECONNREFUSED')), getInt('a', 'SOL_SOCKET', 'SO_ERROR', 0), poll('a', IOR, ['POLLOUT'])] },
  { name: 'udp: an unconnected socket does not see port unreachable errors', ops: [udp('x'), bind('x', L4), name('x', '$ok', 'X'), close('x'), udp('a'), send('a', 'x', 1, { addr: of('X') }), { op: 'sleep', ms: 20 }, recv('a', 10, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'udp: an unbound socket is autobound by its first send', ops: [udp('a'), name('a', v4('0.0.0.0', 0)), udp('b'), bind('b', L4), send('a', 'x', 1, { addr: of('b') }), name('a', v4('0.0.0.0'))] },
  { name: 'udp: sendto addrlen 15 is EINVAL; AF_INET6 family is EAFNOSUPPORT', ops: [...udpPair(), send('a', 'x', 'EINVAL', { addr: of('b', { len: 15 }) }), send('a', 'x', 'EAFNOSUPPORT', { addr: of('b', { family: 'AF_INET6' }) })] },
  { name: 'udp: sendto with AF_UNSPEC family is read as AF_INET', ops: [...udpPair(), send('a', 'old', 3, { addr: of('b', { family: 'AF_UNSPEC' }) }), recv('b', 10, { data: 'old' })] },
  { name: 'udp: an IPv6 socket sends to an AF_INET sockaddr (dual stack)', ops: [udp('a', 'AF_INET6'), udp('b'), bind('b', L4), send('a', 'v4', 2, { addr: { ip: L4, of: 'b' } }), recv('b', 10, { data: 'v4', from: v4(L4) }, { namelen: 128 })] },
  { name: 'udp: an IPv6 socket with V6ONLY cannot send to a v4-mapped address (ENETUNREACH)', ops: [udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1), udp('b'), bind('b', L4), send('a', 'x', 'ENETUNREACH', { addr: { ip: MAPPED, of: 'b' } })] },
  { name: 'udp: an IPv6 socket receives from IPv4 with a v4-mapped source', ops: [udp('b', 'AF_INET6'), bind('b', '::'), udp('a'), send('a', 'm', 1, { addr: { ip: L4, of: 'b' } }), recv('b', 10, { from: v6(MAPPED) }, { namelen: 128 })] },
  { name: 'udp: an IPv6 socket connects with an AF_INET sockaddr', ops: [udp('b'), bind('b', L4), udp('a', 'AF_INET6'), connect('a', { ip: L4, of: 'b' }), peer('a', v6(MAPPED)), send('a', 'c'), recv('b', 10, { data: 'c' })] },
  { name: 'udp: a V6ONLY socket refuses an AF_INET connect with EAFNOSUPPORT', ops: [udp('b'), bind('b', L4), udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_V6ONLY', 1), connect('a', { ip: L4, of: 'b' }, 'EAFNOSUPPORT')] },
  { name: 'udp: a datagram over 65507 bytes is EMSGSIZE', ops: [...udpPair(), { op: 'send', fd: 'a', size: 65508, addr: of('b'), expect: 'EMSGSIZE' }, { op: 'send', fd: 'a', size: 65507, addr: of('b'), expect: 65507 }] },
  { name: 'udp: a directed broadcast needs SO_BROADCAST (EACCES)', ops: [udp('a'), send('a', 'x', 'EACCES', { addr: { ip: '10.213.6.255', port: 9 } }), setInt('a', 'SOL_SOCKET', 'SO_BROADCAST', 1), send('a', 'x', 1, { addr: { ip: '10.213.6.255', port: 9 } })] },
  { name: 'udp: shutdown on an unconnected socket is ENOTCONN', ops: [udp('a'), shutdown('a', 'SHUT_RD', 'ENOTCONN')] },
  { name: 'udp: shutdown(SHUT_RD) on a connected socket makes recv return 0', ops: [...udpPair(), connect('a', of('b')), shutdown('a', 'SHUT_RD'), recv('a', 10, { n: 0 }), poll('a', IOR, ['POLLIN', 'POLLOUT', 'POLLRDHUP'])] },
  { name: 'udp: shutdown(SHUT_WR) on a connected socket makes send EPIPE', ops: [...udpPair(), connect('a', of('b')), shutdown('a', 'SHUT_WR'), send('a', 'x', 'EPIPE', { flags: ['MSG_NOSIGNAL'] })] },
  { name: 'udp: MSG_MORE corks until a send without it (one datagram)', ops: [...udpPair(), connect('a', of('b')), send('a', 'ab', 2, { flags: ['MSG_MORE'] }), send('a', 'cd'), recv('b', 10, { n: 4, data: 'abcd' })] },
];

const cmsgCases: Case[] = [
  {
    name: 'recvmsg IP_PKTINFO: the interface, the local address and the header destination',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_PKTINFO', 1), bind('b', '0.0.0.0'), udp('a'), send('a', 'x', 1, { addr: { ip: '127.0.0.3', of: 'b' } }), recv('b', 10, { n: 1, flags: [], cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', pktinfo: { ifindex: 1, spec_dst: '127.0.0.3', addr: '127.0.0.3' } }] }, { controllen: 64 })],
  },
  {
    name: 'sendmsg IP_PKTINFO: ipi_spec_dst picks the source address',
    ops: [udp('b'), bind('b', L4), udp('a'), send('a', 'x', 1, { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', pktinfo: { ifindex: 0, spec_dst: '127.0.0.2', addr: '0.0.0.0' } }] }), recv('b', 10, { from: v4('127.0.0.2') }, { namelen: 128 })],
  },
  {
    name: 'recvmsg: a control buffer too small for IP_PKTINFO sets MSG_CTRUNC and keeps the bare header',
    note: 'put_cmsg writes a header whose cmsg_len is cut to the buffer (16), with no data',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_PKTINFO', 1), bind('b', L4), udp('a'), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { n: 1, flags: ['MSG_CTRUNC'], cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', hex: '' }] }, { controllen: 16 }), send('a', 'y', 1, { addr: of('b') }), recv('b', 10, { n: 1, flags: ['MSG_CTRUNC'], cmsg: [] }, { controllen: 15 })],
  },
  {
    name: 'recvmsg IP_RECVTTL: the TTL the datagram arrived with',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_RECVTTL', 1), bind('b', L4), udp('a'), setInt('a', 'SOL_IP', 'IP_TTL', 17), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { cmsg: [{ level: 'SOL_IP', type: 'IP_TTL', int: 17 }] }, { controllen: 64 })],
  },
  {
    name: 'recvmsg IP_RECVTOS: the TOS byte the datagram carried',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_RECVTOS', 1), bind('b', L4), udp('a'), setInt('a', 'SOL_IP', 'IP_TOS', 0x28), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { cmsg: [{ level: 'SOL_IP', type: 'IP_TOS', int: 0x28 }] }, { controllen: 64 })],
  },
  {
    name: 'recvmsg IPV6_RECVPKTINFO: destination address and interface',
    ops: [udp('b', 'AF_INET6'), setInt('b', 'SOL_IPV6', 'IPV6_RECVPKTINFO', 1), bind('b', L6), udp('a', 'AF_INET6'), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { cmsg: [{ level: 'SOL_IPV6', type: 'IPV6_PKTINFO', pktinfo: { addr: L6, ifindex: 1 } }] }, { controllen: 64 })],
  },
  {
    name: 'recvmsg IPV6_RECVHOPLIMIT: the hop limit the datagram arrived with',
    ops: [udp('b', 'AF_INET6'), setInt('b', 'SOL_IPV6', 'IPV6_RECVHOPLIMIT', 1), bind('b', L6), udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_UNICAST_HOPS', 9), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { cmsg: [{ level: 'SOL_IPV6', type: 'IPV6_HOPLIMIT', int: 9 }] }, { controllen: 64 })],
  },
  {
    name: 'sendmsg IP_TTL as ancillary data overrides the socket TTL for one datagram',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_RECVTTL', 1), bind('b', L4), udp('a'), send('a', 'x', 1, { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_TTL', int: 3 }] }), recv('b', 10, { cmsg: [{ level: 'SOL_IP', type: 'IP_TTL', int: 3 }] }, { controllen: 64 })],
  },
  {
    name: 'sendmsg: an unknown SOL_IP cmsg type is EINVAL',
    ops: [...udpPair(), send('a', 'x', 'EINVAL', { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_MTU', int: 1 }] })],
  },
  {
    name: 'recvmsg without IP_PKTINFO returns no control messages',
    ops: [...udpPair(), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { cmsg: [], flags: [] }, { controllen: 64 })],
  },
];

// An ICMP echo request: type 8, code 0, checksum 0 (the kernel fills it), id 0 (the kernel uses
// the socket's "port"), sequence 1, then "ping".
const ECHO4 = '\x08\x00\x00\x00\x00\x00\x00\x01ping';
const ECHO6 = '\x80\x00\x00\x00\x00\x00\x00\x01ping';

const pingCases: Case[] = [
  {
    name: 'ping: an echo request to 127.0.0.1 gets an echo reply from 127.0.0.1',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), send('p', ECHO4, 12, { addr: { ip: L4, port: 0 } }), recv('p', 100, { n: 12, from: v4(L4, 0) }, { namelen: 128 })],
  },
  {
    name: 'ping: the reply is an echo reply (type 0) with the same sequence and data',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), send('p', ECHO4, 12, { addr: { ip: L4, port: 0 } }), recv('p', 2, { n: 2, data: '\x00\x00', flags: ['MSG_TRUNC'] })],
  },
  {
    name: 'ping: the socket is autobound to an identifier on send',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), name('p', v4('0.0.0.0', 0)), send('p', ECHO4, 12, { addr: { ip: L4, port: 0 } }), name('p', v4('0.0.0.0'))],
  },
  {
    name: 'ping: bind picks the identifier; port 0 picks one',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), bind('p', { ip: L4, port: 4242 }), name('p', v4(L4, 4242)), sock('q', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), bind('q', L4), name('q', v4(L4))],
  },
  {
    name: 'ping: only echo requests may be sent; a short message is EINVAL',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), send('p', '\x00\x00\x00\x00\x00\x00\x00\x01', 'EINVAL', { addr: { ip: L4, port: 0 } }), send('p', '\x08\x00\x00', 'EINVAL', { addr: { ip: L4, port: 0 } })],
  },
  {
    name: 'ping: sendto with an AF_INET6 family on an IPv4 ping socket is EAFNOSUPPORT',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), send('p', ECHO4, 'EAFNOSUPPORT', { addr: { ip: L4, port: 0, family: 'AF_INET6' } })],
  },
  {
    name: 'ping: connected ping socket sends without an address',
    ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), connect('p', { ip: L4, port: 0 }), send('p', ECHO4, 12), recv('p', 100, { n: 12 })],
  },
  {
    name: 'ping: ICMPv6 echo to ::1',
    ops: [sock('p', 'AF_INET6', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMPV6' }), send('p', ECHO6, 12, { addr: { ip: L6, port: 0 } }), recv('p', 100, { n: 12, data: { $not: '' }, from: { family: 'AF_INET6', addr: L6 } }, { namelen: 128 })],
  },
];

const moreCases: Case[] = [
  {
    name: 'getsockopt with optlen -1: EINVAL at SOL_SOCKET, SOL_TCP and SOL_IP; SOL_IPV6 reads it unsigned (4 bytes)',
    ops: [tcp('a', 'AF_INET6'), getInt('a', 'SOL_TCP', 'TCP_KEEPIDLE', 'EINVAL', { optlen: -1 }), getInt('a', 'SOL_IP', 'IP_TTL', 'EINVAL', { optlen: -1 }), getInt('a', 'SOL_IPV6', 'IPV6_UNICAST_HOPS', { len: 4, int: 64 }, { optlen: -1 }), udp('u'), getInt('u', 'SOL_IP', 'IP_TTL', 'EINVAL', { optlen: -1 }), getInt('u', 'SOL_SOCKET', 'SO_TYPE', 'EINVAL', { optlen: -1 })],
  },
  {
    name: 'recvmsg: a control buffer with room for part of IP_PKTINFO gets the part and MSG_CTRUNC',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_PKTINFO', 1), bind('b', L4), udp('a'), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { flags: ['MSG_CTRUNC'], cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', hex: '01000000' }] }, { controllen: 20 })],
  },
  {
    name: 'recvmsg: IP control messages come in a fixed order (PKTINFO, TTL, TOS)',
    note: 'ip_cmsg_recv_offset walks its flags in that order whatever order the options were set',
    ops: [udp('b'), setInt('b', 'SOL_IP', 'IP_RECVTOS', 1), setInt('b', 'SOL_IP', 'IP_RECVTTL', 1), setInt('b', 'SOL_IP', 'IP_PKTINFO', 1), bind('b', L4), udp('a'), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { flags: [], cmsg: [{ type: 'IP_PKTINFO' }, { type: 'IP_TTL', int: 64 }, { type: 'IP_TOS', int: 0 }] }, { controllen: 128 })],
  },
  {
    name: 'IP_RECVERR: an unconnected UDP socket queues port unreachable; MSG_ERRQUEUE returns it with the offender',
    ops: [udp('x'), bind('x', L4), name('x', '$ok', 'X'), close('x'), udp('a'), setInt('a', 'SOL_IP', 'IP_RECVERR', 1), send('a', 'lost', 4, { addr: of('X') }), wait('a', ['POLLIN'], { $contains: ['POLLERR'] }), recv('a', 100, { n: 4, data: 'lost', flags: ['MSG_ERRQUEUE'], from: v4(L4, '$var:X.port'), cmsg: [{ level: 'SOL_IP', type: 'IP_RECVERR', ee: { errno: 111, origin: 2, type: 3, code: 3, info: 0, data: 0 }, offender: { family: 'AF_INET', addr: L4, port: 0 } }] }, { flags: ['MSG_ERRQUEUE'], namelen: 128, controllen: 128 }), recv('a', 100, 'EAGAIN', { flags: ['MSG_ERRQUEUE'] })],
  },
  {
    name: 'IP_RECVERR: the error is also pending as sk_err for the next call (ECONNREFUSED)',
    ops: [udp('x'), bind('x', L4), name('x', '$ok', 'X'), close('x'), udp('a'), setInt('a', 'SOL_IP', 'IP_RECVERR', 1), send('a', 'lost', 4, { addr: of('X') }), wait('a', ['POLLIN'], { $contains: ['POLLERR'] }), recv('a', 100, 'ECONNREFUSED', { flags: ['MSG_DONTWAIT'] }), recv('a', 100, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })],
  },
  {
    name: 'IPV6_RECVERR: ICMPv6 port unreachable on an unconnected IPv6 UDP socket',
    ops: [udp('x', 'AF_INET6'), bind('x', L6), name('x', '$ok', 'X'), close('x'), udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_RECVERR', 1), send('a', 'lost', 4, { addr: of('X') }), wait('a', ['POLLIN'], { $contains: ['POLLERR'] }), recv('a', 100, { n: 4, flags: ['MSG_ERRQUEUE'], cmsg: [{ level: 'SOL_IPV6', type: 'IPV6_RECVERR', ee: { errno: 111, origin: 3, type: 1, code: 4 }, offender: { family: 'AF_INET6', addr: L6 } }] }, { flags: ['MSG_ERRQUEUE'], controllen: 128 })],
  },
  { name: 'MSG_ERRQUEUE on an empty error queue is EAGAIN', ops: [udp('a'), setInt('a', 'SOL_IP', 'IP_RECVERR', 1), recv('a', 10, 'EAGAIN', { flags: ['MSG_ERRQUEUE'] })] },
  {
    name: 'accept: the new socket inherits the listener options (keepalive, nodelay, buffers, TOS, timeouts, linger)',
    ops: [tcp('l'), setInt('l', 'SOL_SOCKET', 'SO_KEEPALIVE', 1), setInt('l', 'SOL_TCP', 'TCP_NODELAY', 1), setInt('l', 'SOL_SOCKET', 'SO_SNDBUF', 8192), setInt('l', 'SOL_SOCKET', 'SO_RCVBUF', 8192), setInt('l', 'SOL_IP', 'IP_TOS', 0x20), setInt('l', 'SOL_TCP', 'TCP_KEEPIDLE', 33), setInt('l', 'SOL_TCP', 'TCP_USER_TIMEOUT', 4000), { op: 'setsockopt', fd: 'l', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 3], expect: 0 }, bind('l', L4), listen('l'), tcp('c'), connect('c', of('l')), accept('l', 's'), getInt('s', 'SOL_SOCKET', 'SO_KEEPALIVE', 1), getInt('s', 'SOL_TCP', 'TCP_NODELAY', 1), getInt('s', 'SOL_SOCKET', 'SO_SNDBUF', 16384), getInt('s', 'SOL_SOCKET', 'SO_RCVBUF', 16384), getInt('s', 'SOL_IP', 'IP_TOS', 0x20), getInt('s', 'SOL_TCP', 'TCP_KEEPIDLE', 33), getInt('s', 'SOL_TCP', 'TCP_USER_TIMEOUT', 4000), { op: 'getsockopt', fd: 's', level: 'SOL_SOCKET', name: 'SO_LINGER', as: 'linger', expect: { linger: [1, 3] } }, getInt('s', 'SOL_SOCKET', 'SO_ACCEPTCONN', 0)],
  },
  { name: 'udp: a connected socket may still sendto another address', ops: [...udpPair(), udp('x'), bind('x', L4), connect('a', of('b')), send('a', 'elsewhere', 9, { addr: of('x') }), recv('x', 20, { data: 'elsewhere' }), recv('b', 20, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'stream: sendto with an address on an unconnected TCP socket is EPIPE (no implicit connect)', ops: [tcp('l'), bind('l', L4), listen('l'), tcp('a'), send('a', 'x', 'EPIPE', { addr: of('l'), flags: ['MSG_NOSIGNAL'] })] },
  { name: 'udp: MSG_PEEK|MSG_TRUNC reports the full length and leaves the datagram', ops: [...udpPair(), send('a', '0123456789', 10, { addr: of('b') }), recv('b', 3, { n: 10, data: '012', flags: ['MSG_TRUNC'] }, { flags: ['MSG_PEEK', 'MSG_TRUNC'] }), recv('b', 100, { n: 10, data: '0123456789', flags: [] })] },
  { name: 'udp: a zero-length read consumes the datagram and flags MSG_TRUNC', ops: [...udpPair(), send('a', 'gone', 4, { addr: of('b') }), wait('b', ['POLLIN'], ['POLLIN']), recv('b', 0, { n: 0, flags: ['MSG_TRUNC'] }), recv('b', 10, 'EAGAIN', { flags: ['MSG_DONTWAIT'] })] },
  { name: 'udp: a queued zero-length datagram: FIONREAD 0 but readable', ops: [...udpPair(), send('a', '', 0, { addr: of('b') }), wait('b', ['POLLIN'], ['POLLIN']), ioctl('b', 'FIONREAD', 0), recv('b', 10, { n: 0, flags: [] })] },
  { name: 'udp: an IPv6 dual-stack socket on [::]:p holds the IPv4 port too', ops: [udp('a', 'AF_INET6'), bind('a', '::'), udp('b'), bind('b', { ip: L4, port: { of: 'a' } }, 'EADDRINUSE')] },
  { name: 'ioctl: SIOCOUTQ on a listener is EINVAL; FIONREAD on a fresh TCP socket is 0', ops: [tcp('l'), bind('l', L4), listen('l'), ioctl('l', 'SIOCOUTQ', 'EINVAL'), tcp('a'), ioctl('a', 'FIONREAD', 0), ioctl('a', 'SIOCOUTQ', 0)] },
  { name: 'ioctl: a terminal ioctl (TCGETS) on a socket is ENOTTY', ops: [tcp('a'), ioctl('a', 0x5401, 'ENOTTY'), udp('u'), ioctl('u', 0x5401, 'ENOTTY')] },
  { name: 'shutdown(SHUT_WR) on a listener does nothing: it still accepts', ops: [tcp('l'), bind('l', L4), listen('l'), shutdown('l', 'SHUT_WR'), tcp('c'), connect('c', of('l')), accept('l', 's')] },
  { name: 'stream: MSG_PEEK|MSG_DONTWAIT on an empty connection is EAGAIN', ops: [...tcpPair(), recv('c', 10, 'EAGAIN', { flags: ['MSG_PEEK', 'MSG_DONTWAIT'] })] },
  { name: 'stream: after the peer closed, reads return 0 for ever and poll adds POLLRDHUP', ops: [...tcpPair(), close('c'), wait('s', ['POLLIN'], ['POLLIN']), recv('s', 10, { n: 0 }), recv('s', 10, { n: 0 }), poll('s', IOR, ['POLLIN', 'POLLOUT', 'POLLRDHUP'])] },
  { name: 'stream: buffered data is read before the end of stream', ops: [...tcpPair(), send('c', 'last words'), close('c'), wait('s', ['POLLIN'], ['POLLIN']), { op: 'sleep', ms: 20 }, recv('s', 100, { n: 10, data: 'last words' }), recv('s', 100, { n: 0 })] },
  {
    name: 'lifecycle: readiness of both ends at each step of a TCP connection',
    ops: [
      tcp('l'), bind('l', L4), listen('l'), tcp('c', 'AF_INET', ['SOCK_NONBLOCK']), poll('c', IOR, ['POLLOUT', 'POLLHUP']),
      connect('c', of('l'), 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT']), wait('l', ['POLLIN'], ['POLLIN']), accept('l', 's'),
      poll('c', IOR, ['POLLOUT']), poll('s', IOR, ['POLLOUT']), poll('l', IOR, []),
      send('s', 'a'), wait('c', ['POLLIN'], ['POLLIN']), poll('c', IOR, ['POLLIN', 'POLLOUT']), recv('c', 10, { data: 'a' }), poll('c', IOR, ['POLLOUT']),
      shutdown('s', 'SHUT_WR'), wait('c', ['POLLIN'], ['POLLIN']), poll('c', IOR, ['POLLIN', 'POLLOUT', 'POLLRDHUP']), poll('s', IOR, ['POLLOUT']),
      shutdown('c', 'SHUT_WR'), wait('c', ['POLLHUP'], { $contains: ['POLLHUP'] }), poll('c', IOR, ['POLLIN', 'POLLOUT', 'POLLHUP', 'POLLRDHUP']),
      wait('s', ['POLLHUP'], { $contains: ['POLLHUP'] }), poll('s', IOR, ['POLLIN', 'POLLOUT', 'POLLHUP', 'POLLRDHUP']),
      { op: 'getsockopt', fd: 'c', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { state: 7 } } },
      { op: 'getsockopt', fd: 's', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { state: 7 } } },
      peer('c', 'ENOTCONN'), peer('s', 'ENOTCONN'),
    ],
  },
  {
    name: 'lifecycle: IPv6 non-blocking connect, data both ways, and shutdown',
    ops: [tcp('l', 'AF_INET6'), bind('l', L6), listen('l'), tcp('c', 'AF_INET6', ['SOCK_NONBLOCK']), connect('c', of('l'), 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT']), accept('l', 's'), send('c', 'q'), recv('s', 10, { data: 'q' }), send('s', 'r'), wait('c', ['POLLIN'], ['POLLIN']), recv('c', 10, { data: 'r' }), shutdown('c', 'SHUT_WR'), recv('s', 10, { n: 0 }), poll('s', IOR, ['POLLIN', 'POLLOUT', 'POLLRDHUP'])],
  },
  {
    name: 'connect: IPv6 non-blocking to a closed port: SO_ERROR ECONNREFUSED',
    ops: [tcp('x', 'AF_INET6'), bind('x', L6), tcp('c', 'AF_INET6', ['SOCK_NONBLOCK']), connect('c', of('x'), 'EINPROGRESS'), wait('c', ['POLLOUT'], ['POLLOUT', 'POLLERR', 'POLLHUP']), getInt('c', 'SOL_SOCKET', 'SO_ERROR', ERR('ECONNREFUSED')), recv('c', 10, { n: 0 })],
  },
  {
    name: 'accept: two pending connections keep the listener readable until both are taken',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c1'), connect('c1', of('l')), tcp('c2'), connect('c2', of('l')), wait('l', ['POLLIN'], ['POLLIN']), accept('l', 's1'), wait('l', ['POLLIN'], ['POLLIN']), accept('l', 's2'), poll('l', ['POLLIN'], [])],
  },
  {
    name: 'accept: a connection reset while queued is still accepted; the new socket then reports ECONNRESET',
    ops: [tcp('l'), bind('l', L4), listen('l'), tcp('c'), { op: 'setsockopt', fd: 'c', level: 'SOL_SOCKET', name: 'SO_LINGER', linger: [1, 0], expect: 0 }, connect('c', of('l')), wait('l', ['POLLIN'], ['POLLIN']), close('c'), { op: 'sleep', ms: 20 }, accept('l', 's'), recv('s', 10, 'ECONNRESET')],
  },
  {
    name: 'stream: TCP_CORK holds a short write unsent (SIOCOUTQNSD) until uncorked',
    ops: [...tcpPair(), setInt('c', 'SOL_TCP', 'TCP_CORK', 1), send('c', 'abc'), ioctl('c', 'SIOCOUTQ', 3), ioctl('c', 'SIOCOUTQNSD', 3), { op: 'sleep', ms: 20 }, ioctl('s', 'FIONREAD', 0), setInt('c', 'SOL_TCP', 'TCP_CORK', 0), wait('s', ['POLLIN'], ['POLLIN']), ioctl('s', 'FIONREAD', 3)],
  },
  {
    name: 'stream: MSG_WAITALL with SO_RCVTIMEO returns what arrived when the time runs out',
    ops: [...tcpPair(), { op: 'setsockopt', fd: 's', level: 'SOL_SOCKET', name: 'SO_RCVTIMEO', timeval: [0, 100000], expect: 0 }, send('c', 'abc'), recv('s', 10, { n: 3, data: 'abc' }, { flags: ['MSG_WAITALL'] })],
  },
  {
    name: 'stream: MSG_DONTWAIT wins over MSG_WAITALL',
    ops: [...tcpPair(), send('c', 'abc'), wait('s', ['POLLIN'], ['POLLIN']), { op: 'sleep', ms: 10 }, recv('s', 10, { n: 3 }, { flags: ['MSG_WAITALL', 'MSG_DONTWAIT'] })],
  },
  {
    name: 'TCP_INFO: the sender counts the data it sent',
    ops: [...tcpPair(), send('c', 'hello'), recv('s', 10, { n: 5 }), { op: 'sleep', ms: 50 }, { op: 'getsockopt', fd: 'c', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { state: 1, bytes_sent: 5, data_segs_out: 1, total_retrans: 0, notsent_bytes: 0, unacked: 0 } } }, { op: 'getsockopt', fd: 's', level: 'SOL_TCP', name: 'TCP_INFO', as: 'tcp_info', expect: { tcpi: { bytes_received: 5, data_segs_in: 1 } } }],
  },
  { name: 'bind: on a connected TCP socket is EINVAL', ops: [...tcpPair(), bind('c', L4, 'EINVAL')] },
  { name: 'bind: UDP SO_REUSEPORT on both shares the port', ops: [udp('a'), setInt('a', 'SOL_SOCKET', 'SO_REUSEPORT', 1), bind('a', L4), udp('b'), setInt('b', 'SOL_SOCKET', 'SO_REUSEPORT', 1), bind('b', { ip: L4, port: { of: 'a' } })] },
  {
    name: 'recvmsg IPV6_RECVTCLASS: the traffic class the datagram carried',
    ops: [udp('b', 'AF_INET6'), setInt('b', 'SOL_IPV6', 'IPV6_RECVTCLASS', 1), bind('b', L6), udp('a', 'AF_INET6'), setInt('a', 'SOL_IPV6', 'IPV6_TCLASS', 0x48), send('a', 'x', 1, { addr: of('b') }), recv('b', 10, { cmsg: [{ level: 'SOL_IPV6', type: 'IPV6_TCLASS', int: 0x48 }] }, { controllen: 64 })],
  },
  { name: 'udp: IPv6 MSG_TRUNC and MSG_PEEK', ops: [...udpPair(L6), send('a', 'abcdefgh', 8, { addr: of('b') }), recv('b', 2, { n: 2, data: 'ab', flags: ['MSG_TRUNC'] }, { flags: ['MSG_PEEK'] }), recv('b', 100, { n: 8, data: 'abcdefgh', flags: [] })] },
  { name: 'udp: SO_KEEPALIVE and TCP-only ideas are harmless on UDP (SO_KEEPALIVE sets, reads back)', ops: [udp('a'), setInt('a', 'SOL_SOCKET', 'SO_KEEPALIVE', 1), getInt('a', 'SOL_SOCKET', 'SO_KEEPALIVE', 1)] },
  { name: 'udp: IPv6 sendto checks: family AF_UNIX EINVAL, AF_INET6 shorter than 24 EINVAL, 1 byte EINVAL', ops: [...udpPair(L6), send('a', 'x', 'EINVAL', { addr: of('b', { family: 'AF_UNIX' }) }), send('a', 'x', 'EINVAL', { addr: of('b', { len: 20 }) }), send('a', 'x', 'EINVAL', { addr: of('b', { len: 1 }) }), send('a', 'x', 1, { addr: of('b', { len: 24 }) })] },
  { name: 'udp: IPv6 sendto AF_UNSPEC means no address: the peer if connected, else EDESTADDRREQ', ops: [...udpPair(L6), send('a', 'x', 'EDESTADDRREQ', { addr: { family: 'AF_UNSPEC', len: 28 } }), connect('a', of('b')), send('a', 'y', 1, { addr: { family: 'AF_UNSPEC', len: 28 } }), recv('b', 10, { data: 'y' })] },
  { name: 'connect: IPv6 TCP with a 24-byte (RFC 2133) sockaddr works', ops: [tcp('l', 'AF_INET6'), bind('l', L6), listen('l'), tcp('c', 'AF_INET6'), connect('c', of('l', { len: 24 })), peer('c', v6(L6))] },
  { name: 'ping: IPv6 sendto wants a full 28-byte AF_INET6 sockaddr', ops: [sock('p', 'AF_INET6', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMPV6' }), send('p', ECHO6, 'EINVAL', { addr: { ip: L6, port: 0, len: 24 } }), send('p', ECHO6, 'EAFNOSUPPORT', { addr: { ip: L6, port: 0, family: 'AF_INET' } }), send('p', ECHO6, 12, { addr: { ip: L6, port: 0 } })] },
  { name: 'ping: IPv4 sendto with AF_UNSPEC is EAFNOSUPPORT (unlike UDP)', ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), send('p', ECHO4, 'EAFNOSUPPORT', { addr: { ip: L4, port: 0, family: 'AF_UNSPEC' } }), send('p', ECHO4, 'EINVAL', { addr: { ip: L4, port: 0, len: 15 } })] },
  { name: 'ping: bind accepts AF_UNSPEC with INADDR_ANY, like TCP and UDP', ops: [sock('p', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), bind('p', { ip: '0.0.0.0', port: 0, family: 'AF_UNSPEC' }), sock('q', 'AF_INET', 'SOCK_DGRAM', { proto: 'IPPROTO_ICMP' }), bind('q', { ip: L4, port: 0, family: 'AF_UNSPEC' }, 'EAFNOSUPPORT')] },
  {
    name: 'sendmsg IPV6_PKTINFO: the source address and interface for one datagram',
    ops: [...udpPair(L6), send('a', 'x', 1, { addr: of('b'), cmsg: [{ level: 'SOL_IPV6', type: 'IPV6_PKTINFO', pktinfo: { addr: L6, ifindex: 1 } }] }), recv('b', 10, { from: v6(L6) }, { namelen: 128 })],
  },
  {
    name: 'sendmsg IP_PKTINFO with a non-local source address is ENETUNREACH',
    note: 'ip_route_output_key_hash_rcu finds no device owning the source and fails with its default -ENETUNREACH',
    ops: [...udpPair(), send('a', 'x', 'ENETUNREACH', { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_PKTINFO', pktinfo: { ifindex: 0, spec_dst: '192.0.2.1', addr: '0.0.0.0' } }] })],
  },
  {
    name: 'sendmsg IPV6_PKTINFO with a non-local source address is EINVAL',
    ops: [...udpPair(L6), send('a', 'x', 'EINVAL', { addr: of('b'), cmsg: [{ level: 'SOL_IPV6', type: 'IPV6_PKTINFO', pktinfo: { addr: '2001:db8::1', ifindex: 0 } }] })],
  },
  {
    name: 'sendmsg IP_TTL ancillary data must be exactly an int in 1..255 (EINVAL otherwise)',
    ops: [...udpPair(), send('a', 'x', 'EINVAL', { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_TTL', hex: '05' }] }), send('a', 'x', 'EINVAL', { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_TTL', int: 0 }] }), send('a', 'x', 1, { addr: of('b'), cmsg: [{ level: 'SOL_IP', type: 'IP_TTL', int: 255 }] })],
  },
];

export const CASES: Case[] = [
  ...socketCases, ...sockoptCases, ...bindCases, ...nameCases, ...connectCases, ...listenCases,
  ...streamCases, ...shutdownCases, ...pollCases, ...udpCases, ...cmsgCases, ...pingCases, ...moreCases,
];
