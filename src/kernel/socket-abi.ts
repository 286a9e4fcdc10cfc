// The socket ABI of x86_64 Linux as numbers: address families, socket types and flags,
// protocols, option levels and names, message flags, shutdown modes, poll bits and socket
// ioctls. One module, so the supervisor, the socket layer and the conformance runners agree.
// Sources: include/uapi/linux/socket.h, include/linux/socket.h, include/uapi/asm-generic/
// socket.h (x86_64 uses the generic values), include/uapi/linux/in.h, in6.h, tcp.h,
// include/uapi/asm-generic/poll.h, ioctls.h, include/uapi/linux/sockios.h, include/net/tcp_states.h.
// No RFC: this is the Linux ABI, not a protocol.

export const AF = {
  AF_UNSPEC: 0, AF_UNIX: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17,
} as const;
export type AfName = keyof typeof AF;

export const SOCK = {
  SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_RAW: 3, SOCK_RDM: 4, SOCK_SEQPACKET: 5, SOCK_PACKET: 10,
} as const;
export type SockTypeName = keyof typeof SOCK;
/** socket(2) type flags: O_NONBLOCK and O_CLOEXEC on x86_64. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
/** The type bits of socket(2)'s type argument (the rest are flags). */
export const SOCK_TYPE_MASK = 0xf;

export const IPPROTO = {
  IPPROTO_IP: 0, IPPROTO_ICMP: 1, IPPROTO_TCP: 6, IPPROTO_UDP: 17, IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58, IPPROTO_SCTP: 132, IPPROTO_UDPLITE: 136, IPPROTO_RAW: 255, IPPROTO_MPTCP: 262,
} as const;
export type IpprotoName = keyof typeof IPPROTO;

/** Option levels: SOL_IP/SOL_TCP/... are the protocol numbers; SOL_SOCKET is 1 on x86_64. */
export const SOL = {
  SOL_IP: 0, SOL_SOCKET: 1, SOL_TCP: 6, SOL_UDP: 17, SOL_IPV6: 41, SOL_ICMPV6: 58, SOL_RAW: 255,
  // The IPPROTO_ spellings programs use as levels.
  IPPROTO_IP: 0, IPPROTO_TCP: 6, IPPROTO_UDP: 17, IPPROTO_IPV6: 41,
} as const;
export type SolName = keyof typeof SOL;

export const SO = {
  SO_DEBUG: 1, SO_REUSEADDR: 2, SO_TYPE: 3, SO_ERROR: 4, SO_DONTROUTE: 5, SO_BROADCAST: 6,
  SO_SNDBUF: 7, SO_RCVBUF: 8, SO_KEEPALIVE: 9, SO_OOBINLINE: 10, SO_NO_CHECK: 11, SO_PRIORITY: 12,
  SO_LINGER: 13, SO_BSDCOMPAT: 14, SO_REUSEPORT: 15, SO_PASSCRED: 16, SO_PEERCRED: 17,
  SO_RCVLOWAT: 18, SO_SNDLOWAT: 19,
  // x86_64 has a 64-bit time_t, so SO_RCVTIMEO/SO_SNDTIMEO are the _OLD numbers (struct timeval
  // of two longs) and SO_TIMESTAMP is SO_TIMESTAMP_OLD.
  SO_RCVTIMEO: 20, SO_SNDTIMEO: 21, SO_RCVTIMEO_OLD: 20, SO_SNDTIMEO_OLD: 21,
  SO_BINDTODEVICE: 25, SO_ATTACH_FILTER: 26, SO_DETACH_FILTER: 27, SO_PEERNAME: 28,
  SO_TIMESTAMP: 29, SO_TIMESTAMP_OLD: 29, SO_ACCEPTCONN: 30, SO_PEERSEC: 31, SO_SNDBUFFORCE: 32,
  SO_RCVBUFFORCE: 33, SO_PASSSEC: 34, SO_TIMESTAMPNS: 35, SO_MARK: 36, SO_TIMESTAMPING: 37,
  SO_PROTOCOL: 38, SO_DOMAIN: 39, SO_RXQ_OVFL: 40, SO_WIFI_STATUS: 41, SO_PEEK_OFF: 42,
  SO_NOFCS: 43, SO_LOCK_FILTER: 44, SO_SELECT_ERR_QUEUE: 45, SO_BUSY_POLL: 46,
  SO_MAX_PACING_RATE: 47, SO_BPF_EXTENSIONS: 48, SO_INCOMING_CPU: 49, SO_ATTACH_BPF: 50,
  SO_COOKIE: 57, SO_PEERGROUPS: 59, SO_ZEROCOPY: 60, SO_TXTIME: 61, SO_BINDTOIFINDEX: 62,
  SO_TIMESTAMP_NEW: 63, SO_TIMESTAMPNS_NEW: 64, SO_TIMESTAMPING_NEW: 65, SO_RCVTIMEO_NEW: 66,
  SO_SNDTIMEO_NEW: 67, SO_DETACH_REUSEPORT_BPF: 68, SO_PREFER_BUSY_POLL: 69,
  SO_BUSY_POLL_BUDGET: 70, SO_NETNS_COOKIE: 71, SO_BUF_LOCK: 72, SO_RESERVE_MEM: 73,
  SO_TXREHASH: 74, SO_RCVMARK: 75, SO_PASSPIDFD: 76, SO_PEERPIDFD: 77,
} as const;
export type SoName = keyof typeof SO;

export const TCPOPT = {
  TCP_NODELAY: 1, TCP_MAXSEG: 2, TCP_CORK: 3, TCP_KEEPIDLE: 4, TCP_KEEPINTVL: 5, TCP_KEEPCNT: 6,
  TCP_SYNCNT: 7, TCP_LINGER2: 8, TCP_DEFER_ACCEPT: 9, TCP_WINDOW_CLAMP: 10, TCP_INFO: 11,
  TCP_QUICKACK: 12, TCP_CONGESTION: 13, TCP_MD5SIG: 14, TCP_THIN_LINEAR_TIMEOUTS: 16,
  TCP_THIN_DUPACK: 17, TCP_USER_TIMEOUT: 18, TCP_REPAIR: 19, TCP_REPAIR_QUEUE: 20,
  TCP_QUEUE_SEQ: 21, TCP_REPAIR_OPTIONS: 22, TCP_FASTOPEN: 23, TCP_TIMESTAMP: 24,
  TCP_NOTSENT_LOWAT: 25, TCP_CC_INFO: 26, TCP_SAVE_SYN: 27, TCP_SAVED_SYN: 28,
  TCP_REPAIR_WINDOW: 29, TCP_FASTOPEN_CONNECT: 30, TCP_ULP: 31, TCP_MD5SIG_EXT: 32,
  TCP_FASTOPEN_KEY: 33, TCP_FASTOPEN_NO_COOKIE: 34, TCP_ZEROCOPY_RECEIVE: 35, TCP_INQ: 36,
  TCP_TX_DELAY: 37,
} as const;
export type TcpOptName = keyof typeof TCPOPT;

export const UDPOPT = { UDP_CORK: 1, UDP_ENCAP: 100, UDP_NO_CHECK6_TX: 101, UDP_NO_CHECK6_RX: 102, UDP_SEGMENT: 103, UDP_GRO: 104 } as const;
export type UdpOptName = keyof typeof UDPOPT;

export const IPOPT = {
  IP_TOS: 1, IP_TTL: 2, IP_HDRINCL: 3, IP_OPTIONS: 4, IP_ROUTER_ALERT: 5, IP_RECVOPTS: 6,
  IP_RETOPTS: 7, IP_PKTINFO: 8, IP_PKTOPTIONS: 9, IP_MTU_DISCOVER: 10, IP_RECVERR: 11,
  IP_RECVTTL: 12, IP_RECVTOS: 13, IP_MTU: 14, IP_FREEBIND: 15, IP_IPSEC_POLICY: 16,
  IP_XFRM_POLICY: 17, IP_PASSSEC: 18, IP_TRANSPARENT: 19, IP_ORIGDSTADDR: 20, IP_RECVORIGDSTADDR: 20,
  IP_MINTTL: 21, IP_NODEFRAG: 22, IP_CHECKSUM: 23, IP_BIND_ADDRESS_NO_PORT: 24,
  IP_RECVFRAGSIZE: 25, IP_RECVERR_RFC4884: 26, IP_MULTICAST_IF: 32, IP_MULTICAST_TTL: 33,
  IP_MULTICAST_LOOP: 34, IP_ADD_MEMBERSHIP: 35, IP_DROP_MEMBERSHIP: 36, IP_UNBLOCK_SOURCE: 37,
  IP_BLOCK_SOURCE: 38, IP_ADD_SOURCE_MEMBERSHIP: 39, IP_DROP_SOURCE_MEMBERSHIP: 40,
  IP_MSFILTER: 41, IP_MULTICAST_ALL: 49, IP_UNICAST_IF: 50, IP_LOCAL_PORT_RANGE: 51, IP_PROTOCOL: 52,
} as const;
export type IpOptName = keyof typeof IPOPT;

/** IP_MTU_DISCOVER / IPV6_MTU_DISCOVER values. */
export const PMTUDISC = {
  IP_PMTUDISC_DONT: 0, IP_PMTUDISC_WANT: 1, IP_PMTUDISC_DO: 2, IP_PMTUDISC_PROBE: 3,
  IP_PMTUDISC_INTERFACE: 4, IP_PMTUDISC_OMIT: 5,
} as const;

export const IPV6OPT = {
  IPV6_ADDRFORM: 1, IPV6_2292PKTINFO: 2, IPV6_2292HOPOPTS: 3, IPV6_2292DSTOPTS: 4,
  IPV6_2292RTHDR: 5, IPV6_2292PKTOPTIONS: 6, IPV6_CHECKSUM: 7, IPV6_2292HOPLIMIT: 8,
  IPV6_NEXTHOP: 9, IPV6_FLOWINFO: 11, IPV6_UNICAST_HOPS: 16, IPV6_MULTICAST_IF: 17,
  IPV6_MULTICAST_HOPS: 18, IPV6_MULTICAST_LOOP: 19, IPV6_JOIN_GROUP: 20, IPV6_ADD_MEMBERSHIP: 20,
  IPV6_LEAVE_GROUP: 21, IPV6_DROP_MEMBERSHIP: 21, IPV6_ROUTER_ALERT: 22, IPV6_MTU_DISCOVER: 23,
  IPV6_MTU: 24, IPV6_RECVERR: 25, IPV6_V6ONLY: 26, IPV6_JOIN_ANYCAST: 27, IPV6_LEAVE_ANYCAST: 28,
  IPV6_MULTICAST_ALL: 29, IPV6_ROUTER_ALERT_ISOLATE: 30, IPV6_RECVERR_RFC4884: 31,
  IPV6_FLOWLABEL_MGR: 32, IPV6_FLOWINFO_SEND: 33, IPV6_IPSEC_POLICY: 34, IPV6_XFRM_POLICY: 35,
  IPV6_HDRINCL: 36, IPV6_RECVPKTINFO: 49, IPV6_PKTINFO: 50, IPV6_RECVHOPLIMIT: 51,
  IPV6_HOPLIMIT: 52, IPV6_RECVHOPOPTS: 53, IPV6_HOPOPTS: 54, IPV6_RTHDRDSTOPTS: 55,
  IPV6_RECVRTHDR: 56, IPV6_RTHDR: 57, IPV6_RECVDSTOPTS: 58, IPV6_DSTOPTS: 59, IPV6_RECVPATHMTU: 60,
  IPV6_PATHMTU: 61, IPV6_DONTFRAG: 62, IPV6_RECVTCLASS: 66, IPV6_TCLASS: 67,
  IPV6_AUTOFLOWLABEL: 70, IPV6_ADDR_PREFERENCES: 72, IPV6_MINHOPCOUNT: 73,
  IPV6_ORIGDSTADDR: 74, IPV6_RECVORIGDSTADDR: 74, IPV6_TRANSPARENT: 75, IPV6_UNICAST_IF: 76,
  IPV6_RECVFRAGSIZE: 77, IPV6_FREEBIND: 78,
} as const;
export type Ipv6OptName = keyof typeof IPV6OPT;

/** SOL_RAW options (ping and raw sockets). */
export const RAWOPT = { ICMP_FILTER: 1 } as const;

export const MSG = {
  MSG_OOB: 0x1, MSG_PEEK: 0x2, MSG_DONTROUTE: 0x4, MSG_CTRUNC: 0x8, MSG_PROBE: 0x10,
  MSG_TRUNC: 0x20, MSG_DONTWAIT: 0x40, MSG_EOR: 0x80, MSG_WAITALL: 0x100, MSG_FIN: 0x200,
  MSG_SYN: 0x400, MSG_CONFIRM: 0x800, MSG_RST: 0x1000, MSG_ERRQUEUE: 0x2000,
  MSG_NOSIGNAL: 0x4000, MSG_MORE: 0x8000, MSG_WAITFORONE: 0x10000, MSG_BATCH: 0x40000,
  MSG_SOCK_DEVMEM: 0x2000000, MSG_ZEROCOPY: 0x4000000, MSG_FASTOPEN: 0x20000000,
  MSG_CMSG_CLOEXEC: 0x40000000,
} as const;
export type MsgName = keyof typeof MSG;

export const SHUT = { SHUT_RD: 0, SHUT_WR: 1, SHUT_RDWR: 2 } as const;
export type ShutName = keyof typeof SHUT;

export const POLL = {
  POLLIN: 0x1, POLLPRI: 0x2, POLLOUT: 0x4, POLLERR: 0x8, POLLHUP: 0x10, POLLNVAL: 0x20,
  POLLRDNORM: 0x40, POLLRDBAND: 0x80, POLLWRNORM: 0x100, POLLWRBAND: 0x200, POLLMSG: 0x400,
  POLLREMOVE: 0x1000, POLLRDHUP: 0x2000,
} as const;
export type PollName = keyof typeof POLL;

/** Socket ioctls (asm-generic/ioctls.h, linux/sockios.h). SIOCINQ is FIONREAD, SIOCOUTQ is TIOCOUTQ. */
export const IOCTL = {
  FIONREAD: 0x541b, SIOCINQ: 0x541b, TIOCOUTQ: 0x5411, SIOCOUTQ: 0x5411, FIONBIO: 0x5421,
  FIOASYNC: 0x5452, SIOCOUTQNSD: 0x894b, SIOCATMARK: 0x8905, SIOCGSTAMP: 0x8906,
  SIOCGSTAMPNS: 0x8907, SIOCGIFNAME: 0x8910, SIOCGIFCONF: 0x8912, SIOCGIFFLAGS: 0x8913,
  SIOCGIFADDR: 0x8915, SIOCGIFBRDADDR: 0x8919, SIOCGIFNETMASK: 0x891b, SIOCGIFMTU: 0x8921, SIOCGIFHWADDR: 0x8927, SIOCGIFINDEX: 0x8933,
} as const;
export type IoctlName = keyof typeof IOCTL;

/** sk_state values as TCP_INFO's tcpi_state reports them (include/net/tcp_states.h). */
export const TCP_STATE = {
  TCP_ESTABLISHED: 1, TCP_SYN_SENT: 2, TCP_SYN_RECV: 3, TCP_FIN_WAIT1: 4, TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6, TCP_CLOSE: 7, TCP_CLOSE_WAIT: 8, TCP_LAST_ACK: 9, TCP_LISTEN: 10,
  TCP_CLOSING: 11, TCP_NEW_SYN_RECV: 12, TCP_BOUND_INACTIVE: 13,
} as const;
export type TcpStateName = keyof typeof TCP_STATE;

/** tcpi_options bits (include/uapi/linux/tcp.h). */
export const TCPI_OPT = {
  TCPI_OPT_TIMESTAMPS: 1, TCPI_OPT_SACK: 2, TCPI_OPT_WSCALE: 4, TCPI_OPT_ECN: 8,
  TCPI_OPT_ECN_SEEN: 16, TCPI_OPT_SYN_DATA: 32, TCPI_OPT_USEC_TS: 64, TCPI_OPT_TFO_CHILD: 128,
} as const;

/** Maps a flag word to the names of its set bits, in table order; unknown bits become "0x..". */
export function flagNames<T extends Record<string, number>>(table: T, value: number, includeUnknown = true): string[] {
  const out: string[] = [];
  let rest = value >>> 0;
  const seen = new Set<number>();
  for (const [name, bit] of Object.entries(table)) {
    if (bit === 0 || seen.has(bit) || (value & bit) !== bit) continue;
    seen.add(bit);
    out.push(name);
    rest &= ~bit >>> 0;
  }
  if (rest !== 0 && includeUnknown) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** ORs named flags; throws on an unknown name (a programmer error in a table or a call). */
export function flagValue<T extends Record<string, number>>(table: T, names: readonly string[]): number {
  let v = 0;
  for (const n of names) {
    const bit = (table as Record<string, number>)[n];
    if (bit === undefined) throw new TypeError(`unknown flag ${n}`);
    v |= bit;
  }
  return v >>> 0;
}

/** Looks a constant up by name in one table; undefined when absent. */
export function constOf<T extends Record<string, number>>(table: T, name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(table, name) ? (table as Record<string, number>)[name] : undefined;
}
