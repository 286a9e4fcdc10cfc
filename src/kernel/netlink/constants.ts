// Linux's netlink/rtnetlink uapi constants, named once. Read netlink(7), rtnetlink(7), RFC 3549
// (Linux Netlink as an IP Services Protocol) first; the numbers come from include/uapi/linux/
// netlink.h, rtnetlink.h, if_link.h, if_addr.h, if.h, if_arp.h, neighbour.h and fib_rules.h.

import { AF, MSG, SO, SOCK, SOL } from '../socket-abi.js';

// The generic socket numbers are src/kernel/socket-abi.ts's; only their names are repeated here
// for the netlink code's convenience.
export const AF_NETLINK = AF.AF_NETLINK;
export const NETLINK_ROUTE = 0;
export const SOCK_RAW = SOCK.SOCK_RAW;
export const SOCK_DGRAM = SOCK.SOCK_DGRAM;

/** struct sockaddr_nl: sa_family u16, pad u16, nl_pid u32, nl_groups u32. */
export const SOCKADDR_NL_SIZE = 12;

// ---- netlink.h: the message header ----
export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
/** Types below this are control messages (netlink_rcv_skb skips them, acking if asked). */
export const NLMSG_MIN_TYPE = 0x10;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
// GET requests
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_ATOMIC = 0x400;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// NEW requests
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
// acks (NLMSG_ERROR)
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** enum nlmsgerr_attrs: the extended-ack TLVs after a struct nlmsgerr. */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
/** The type of a missing attribute (NL_SET_ERR_ATTR_MISS). */
export const NLMSGERR_ATTR_MISS_TYPE = 5;

// ---- socket options ----
export const SOL_SOCKET = SOL.SOL_SOCKET;
/** SOL_NETLINK (include/linux/socket.h): the netlink level socket-abi.ts does not list. */
export const SOL_NETLINK = 270;
export const SO_TYPE = SO.SO_TYPE;
export const SO_ERROR = SO.SO_ERROR;
export const SO_SNDBUF = SO.SO_SNDBUF;
export const SO_RCVBUF = SO.SO_RCVBUF;
export const SO_PASSCRED = SO.SO_PASSCRED;
export const SO_SNDBUFFORCE = SO.SO_SNDBUFFORCE;
export const SO_RCVBUFFORCE = SO.SO_RCVBUFFORCE;
export const SO_PROTOCOL = SO.SO_PROTOCOL;
export const SO_DOMAIN = SO.SO_DOMAIN;

export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_PKTINFO = 3;
export const NETLINK_BROADCAST_ERROR = 4;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_RX_RING = 6;
export const NETLINK_TX_RING = 7;
export const NETLINK_LISTEN_ALL_NSID = 8;
export const NETLINK_LIST_MEMBERSHIPS = 9;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

// ---- recvmsg/sendmsg flags ----
export const MSG_OOB = MSG.MSG_OOB;
export const MSG_PEEK = MSG.MSG_PEEK;
export const MSG_CTRUNC = MSG.MSG_CTRUNC;
export const MSG_TRUNC = MSG.MSG_TRUNC;
export const MSG_DONTWAIT = MSG.MSG_DONTWAIT;

// ---- rtnetlink.h: message types ----
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
export const RTM_NEWQDISC = 36;
export const RTM_GETQDISC = 38;
export const RTM_GETNETCONF = 82;
export const RTM_NEWLINKPROP = 108;
export const RTM_DELLINKPROP = 109;
/** The first rtnetlink type; (type - RTM_BASE) & 3 is its kind (0 NEW, 1 DEL, 2 GET, 3 SET). */
export const RTM_BASE = 16;

// ---- struct sizes ----
export const RTGENMSG_SIZE = 1;
export const IFINFOMSG_SIZE = 16;
export const IFADDRMSG_SIZE = 8;
export const RTMSG_SIZE = 12;
export const NLMSGERR_SIZE = 4 + NLMSG_HDRLEN;
export const RTA_HDRLEN = 4;
/** NLA_F_NESTED / NLA_F_NET_BYTEORDER ride in the top bits of an attribute's type. */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

// ---- if_link.h: IFLA_* ----
export const IFLA_UNSPEC = 0;
export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_QDISC = 6;
export const IFLA_STATS = 7;
export const IFLA_MASTER = 10;
export const IFLA_TXQLEN = 13;
export const IFLA_MAP = 14;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKMODE = 17;
export const IFLA_LINKINFO = 18;
export const IFLA_IFALIAS = 20;
export const IFLA_STATS64 = 23;
export const IFLA_AF_SPEC = 26;
export const IFLA_GROUP = 27;
export const IFLA_EXT_MASK = 29;
export const IFLA_PROMISCUITY = 30;
export const IFLA_NUM_TX_QUEUES = 31;
export const IFLA_NUM_RX_QUEUES = 32;
export const IFLA_CARRIER = 33;
export const IFLA_CARRIER_CHANGES = 35;
export const IFLA_LINK_NETNSID = 37;
export const IFLA_PROTO_DOWN = 39;
export const IFLA_GSO_MAX_SEGS = 40;
export const IFLA_GSO_MAX_SIZE = 41;
export const IFLA_TARGET_NETNSID = 46;
export const IFLA_CARRIER_UP_COUNT = 47;
export const IFLA_CARRIER_DOWN_COUNT = 48;
export const IFLA_MIN_MTU = 50;
export const IFLA_MAX_MTU = 51;
export const IFLA_ALT_IFNAME = 53;
export const IFLA_PERM_ADDRESS = 54;
export const IFLA_GRO_MAX_SIZE = 58;
export const IFLA_TSO_MAX_SIZE = 59;
export const IFLA_TSO_MAX_SEGS = 60;
export const IFLA_ALLMULTI = 61;
export const IFLA_GSO_IPV4_MAX_SIZE = 63;
export const IFLA_GRO_IPV4_MAX_SIZE = 64;

export const IFLA_INFO_KIND = 1;

/** IFLA_EXT_MASK bits (RTEXT_FILTER_*). */
export const RTEXT_FILTER_VF = 1;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

/** enum IF_OPER_* (RFC 2863 ifOperStatus, as Linux numbers it). */
export const IF_OPER_UNKNOWN = 0;
export const IF_OPER_NOTPRESENT = 1;
export const IF_OPER_DOWN = 2;
export const IF_OPER_LOWERLAYERDOWN = 3;
export const IF_OPER_TESTING = 4;
export const IF_OPER_DORMANT = 5;
export const IF_OPER_UP = 6;

// ---- if.h: interface flags ----
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_DEBUG = 0x4;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_NOTRAILERS = 0x20;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_ALLMULTI = 0x200;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;
export const IFF_DORMANT = 0x20000;

// ---- if_arp.h ----
export const ARPHRD_ETHER = 1;
export const ARPHRD_NONE = 0xfffe;
export const ARPHRD_LOOPBACK = 772;

// ---- if_addr.h: IFA_* ----
export const IFA_UNSPEC = 0;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_ANYCAST = 5;
export const IFA_CACHEINFO = 6;
export const IFA_MULTICAST = 7;
export const IFA_FLAGS = 8;
export const IFA_RT_PRIORITY = 9;
export const IFA_TARGET_NETNSID = 10;
export const IFA_PROTO = 11;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;

/** IFA_PROTO values (IFAPROT_*): who made an address. */
export const IFAPROT_UNSPEC = 0;
export const IFAPROT_KERNEL_LO = 1;
export const IFAPROT_KERNEL_RA = 2;
export const IFAPROT_KERNEL_LL = 3;

/** struct ifa_cacheinfo's "forever". */
export const INFINITY_LIFE_TIME = 0xffffffff;

// ---- rtnetlink.h: RTA_*, rtm_* values ----
export const RTA_UNSPEC = 0;
export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_IIF = 3;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_METRICS = 8;
export const RTA_MULTIPATH = 9;
export const RTA_FLOW = 11;
export const RTA_CACHEINFO = 12;
export const RTA_TABLE = 15;
export const RTA_MARK = 16;
export const RTA_MFC_STATS = 17;
export const RTA_VIA = 18;
export const RTA_PREF = 20;
export const RTA_UID = 25;
export const RTA_IP_PROTO = 27;
export const RTA_SPORT = 28;
export const RTA_DPORT = 29;
export const RTA_NH_ID = 30;

export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RTN_THROW = 9;
export const RTN_NAT = 10;
export const RTN_XRESOLVE = 11;
export const RTN_MAX = 11;

export const RTPROT_UNSPEC = 0;
export const RTPROT_REDIRECT = 1;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
export const RTPROT_RA = 9;
export const RTPROT_DHCP = 16;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_COMPAT = 252;
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

export const RTM_F_NOTIFY = 0x100;
export const RTM_F_CLONED = 0x200;
export const RTM_F_EQUALIZE = 0x400;
export const RTM_F_PREFIX = 0x800;
export const RTM_F_LOOKUP_TABLE = 0x1000;
export const RTM_F_FIB_MATCH = 0x2000;
/** RTCF_LOCAL (include/uapi/linux/in_route.h): rides in the high bits of rtm_flags of a lookup answer. */
export const RTCF_LOCAL = 0x80000000;

/** RTA_PREF values (ICMPV6_ROUTER_PREF_*: RFC 4191 §2.1). */
export const ICMPV6_ROUTER_PREF_LOW = 0x3;
export const ICMPV6_ROUTER_PREF_MEDIUM = 0x0;
export const ICMPV6_ROUTER_PREF_HIGH = 0x1;

export const AF_UNSPEC = AF.AF_UNSPEC;
export const AF_INET = AF.AF_INET;
export const AF_INET6 = AF.AF_INET6;

// ---- neighbour.h: NDA_*, NUD_*, NTF_* ----
export const NDMSG_SIZE = 12;
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_CACHEINFO = 3;
export const NDA_PROBES = 4;
export const NDA_IFINDEX = 8;
export const NDA_MASTER = 9;

export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
/** States whose link-layer address is valid (NUD_VALID). */
export const NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

export const NTF_USE = 0x01;
export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;
export const NTF_PROXY = 0x08;
export const NTF_ROUTER = 0x80;

// ---- fib_rules.h: FRA_*, FR_ACT_* ----
export const FIB_RULE_HDR_SIZE = 12;
export const FRA_PRIORITY = 6;
export const FRA_SUPPRESS_PREFIXLEN = 14;
export const FRA_TABLE = 15;
export const FRA_PROTOCOL = 21;
export const FR_ACT_TO_TBL = 1;
/** Multicast routing's rule families (RTNL_FAMILY_IPMR, RTNL_FAMILY_IP6MR). */
export const RTNL_FAMILY_IPMR = 128;
export const RTNL_FAMILY_IP6MR = 129;

// ---- rtnetlink.h: multicast groups (enum rtnetlink_groups); nl_groups bit = 1 << (group - 1) ----
export const RTNLGRP_LINK = 1;
export const RTNLGRP_NEIGH = 3;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;
