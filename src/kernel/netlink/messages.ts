// The world as rtnetlink messages: RTM_NEWLINK (net/core/rtnetlink.c rtnl_fill_ifinfo),
// RTM_NEWADDR (net/ipv4/devinet.c inet_fill_ifaddr, net/ipv6/addrconf.c inet6_fill_ifaddr) and
// RTM_NEWROUTE (net/ipv4/fib_semantics.c fib_dump_info, net/ipv6/route.c rt6_fill_node), with
// their attributes in the order Linux 6.x puts them. Read rtnetlink(7) and RFC 3549 §3.1.
// Attributes a parser would not miss (XDP, AF_SPEC, devlink, DPLL) are left out: see README.md.

import { NlMsgBuilder, writeIfAddrMsg, writeIfInfoMsg, writeRtMsg } from './codec.js';
import {
  AF_INET,
  AF_INET6,
  IFADDRMSG_SIZE,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_CACHEINFO,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFA_PROTO,
  IFF_LOOPBACK,
  IFF_LOWER_UP,
  IFINFOMSG_SIZE,
  IFLA_ADDRESS,
  IFLA_ALLMULTI,
  IFLA_BROADCAST,
  IFLA_CARRIER,
  IFLA_CARRIER_CHANGES,
  IFLA_CARRIER_DOWN_COUNT,
  IFLA_CARRIER_UP_COUNT,
  IFLA_GRO_IPV4_MAX_SIZE,
  IFLA_GRO_MAX_SIZE,
  IFLA_GROUP,
  IFLA_GSO_IPV4_MAX_SIZE,
  IFLA_GSO_MAX_SEGS,
  IFLA_GSO_MAX_SIZE,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_LINKMODE,
  IFLA_MAX_MTU,
  IFLA_MIN_MTU,
  IFLA_MTU,
  IFLA_NUM_RX_QUEUES,
  IFLA_NUM_TX_QUEUES,
  IFLA_OPERSTATE,
  IFLA_PROMISCUITY,
  IFLA_PROTO_DOWN,
  IFLA_QDISC,
  IFLA_STATS,
  IFLA_STATS64,
  IFLA_TSO_MAX_SEGS,
  IFLA_TSO_MAX_SIZE,
  IFLA_TXQLEN,
  INFINITY_LIFE_TIME,
  RTA_CACHEINFO,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_SRC,
  RTA_TABLE,
  RTA_UID,
  RTCF_LOCAL,
  RTM_F_CLONED,
  RTN_LOCAL,
  RT_TABLE_MAIN,
  RTEXT_FILTER_SKIP_STATS,
  RTMSG_SIZE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RT_TABLE_COMPAT,
  ICMPV6_ROUTER_PREF_MEDIUM,
} from './constants.js';
import type { NetlinkAddress, NetlinkInterface, NetlinkLinkStats, NetlinkNeighbor, NetlinkRoute } from './world.js';
import {
  FIB_RULE_HDR_SIZE,
  FRA_PRIORITY,
  FRA_PROTOCOL,
  FRA_SUPPRESS_PREFIXLEN,
  FRA_TABLE,
  FR_ACT_TO_TBL,
  NDA_CACHEINFO,
  NDA_DST,
  NDA_LLADDR,
  NDA_PROBES,
  NDMSG_SIZE,
  NUD_VALID,
  RTM_NEWNEIGH,
  RTM_NEWRULE,
  RTN_MULTICAST,
  RTN_UNICAST,
  RTPROT_KERNEL,
} from './constants.js';

/** Header fields every reply shares: the request's sequence number, the requester's port, and flags (NLM_F_MULTI in dumps). */
export interface ReplyHeader {
  seq: number;
  pid: number;
  flags: number;
}

function statsBytes(s: NetlinkLinkStats | undefined, wide: boolean): Uint8Array {
  // struct rtnl_link_stats64 (25 u64) / struct rtnl_link_stats (24 u32): the first eight
  // fields are the ones moat counts; the error breakdowns stay zero.
  const n = wide ? 25 : 24;
  const out = new Uint8Array(n * (wide ? 8 : 4));
  if (!s) return out;
  const dv = new DataView(out.buffer);
  const vals = [s.rxPackets, s.txPackets, s.rxBytes, s.txBytes, s.rxErrors ?? 0, s.txErrors ?? 0, s.rxDropped ?? 0, s.txDropped ?? 0];
  vals.forEach((v, i) => {
    if (wide) dv.setBigUint64(i * 8, BigInt(Math.max(0, Math.floor(v))), true);
    else dv.setUint32(i * 4, Math.max(0, Math.floor(v)) >>> 0, true);
  });
  return out;
}

/** RTM_NEWLINK (or `type`: RTM_DELLINK) for one interface. `extMask` is the request's IFLA_EXT_MASK (RTEXT_FILTER_SKIP_STATS drops the counters). */
export function linkMessage(i: NetlinkInterface, h: ReplyHeader, extMask = 0, type = RTM_NEWLINK): Uint8Array {
  const b = new NlMsgBuilder(type, h.flags, h.seq, h.pid, 768);
  b.fixed(IFINFOMSG_SIZE, (buf, off) => writeIfInfoMsg(buf, off, { family: 0, type: i.type, index: i.index, flags: i.flags, change: 0 }));
  const loop = (i.flags & IFF_LOOPBACK) !== 0;
  const carrier = (i.flags & IFF_LOWER_UP) !== 0 ? 1 : 0;
  const changes = i.carrierChanges ?? (carrier ? 1 : 0);
  b.string(IFLA_IFNAME, i.name)
    .u32(IFLA_TXQLEN, i.txqlen)
    .u8(IFLA_OPERSTATE, i.operstate)
    .u8(IFLA_LINKMODE, 0)
    .u32(IFLA_MTU, i.mtu)
    .u32(IFLA_MIN_MTU, i.minMtu ?? (loop ? 0 : 68))
    .u32(IFLA_MAX_MTU, i.maxMtu ?? (loop ? 0 : 65535))
    .u32(IFLA_GROUP, 0)
    .u32(IFLA_PROMISCUITY, 0)
    .u32(IFLA_ALLMULTI, 0)
    .u32(IFLA_NUM_TX_QUEUES, 1)
    .u32(IFLA_GSO_MAX_SEGS, 65535)
    .u32(IFLA_GSO_MAX_SIZE, 65536)
    .u32(IFLA_GRO_MAX_SIZE, 65536)
    .u32(IFLA_GSO_IPV4_MAX_SIZE, 65536)
    .u32(IFLA_GRO_IPV4_MAX_SIZE, 65536)
    .u32(IFLA_TSO_MAX_SIZE, 524280)
    .u32(IFLA_TSO_MAX_SEGS, 65535)
    .u32(IFLA_NUM_RX_QUEUES, 1)
    .u8(IFLA_CARRIER, carrier)
    .u32(IFLA_CARRIER_CHANGES, changes)
    .u32(IFLA_CARRIER_UP_COUNT, (changes + 1) >> 1)
    .u32(IFLA_CARRIER_DOWN_COUNT, changes >> 1)
    .u8(IFLA_PROTO_DOWN, 0);
  if (i.mac) b.bytes(IFLA_ADDRESS, i.mac);
  if (i.broadcastMac) b.bytes(IFLA_BROADCAST, i.broadcastMac);
  if (!(extMask & RTEXT_FILTER_SKIP_STATS)) {
    b.bytes(IFLA_STATS64, statsBytes(i.stats, true));
    b.bytes(IFLA_STATS, statsBytes(i.stats, false));
  }
  if (i.kind !== undefined) {
    const nest = b.nestStart(IFLA_LINKINFO);
    b.string(IFLA_INFO_KIND, i.kind);
    b.nestEnd(nest);
  }
  if (i.link !== undefined && i.link !== i.index) b.u32(IFLA_LINK, i.link);
  b.string(IFLA_QDISC, i.qdisc ?? 'noqueue');
  return b.finish();
}

function cacheinfo(a: NetlinkAddress): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, (a.preferredLft ?? INFINITY_LIFE_TIME) >>> 0, true);
  dv.setUint32(4, (a.validLft ?? INFINITY_LIFE_TIME) >>> 0, true);
  dv.setUint32(8, (a.createdCs ?? 0) >>> 0, true);
  dv.setUint32(12, (a.updatedCs ?? 0) >>> 0, true);
  return out;
}

/** RTM_NEWADDR (or `type`: RTM_DELADDR) for one address of interface `i`. */
export function addressMessage(i: NetlinkInterface, a: NetlinkAddress, h: ReplyHeader, type = RTM_NEWADDR): Uint8Array {
  const v4 = a.addr.family === 4;
  const b = new NlMsgBuilder(type, h.flags, h.seq, h.pid, 128);
  b.fixed(IFADDRMSG_SIZE, (buf, off) =>
    writeIfAddrMsg(buf, off, { family: v4 ? AF_INET : AF_INET6, prefixLen: a.prefixLen, flags: a.flags & 0xff, scope: a.scope, index: i.index }),
  );
  if (v4) {
    // inet_fill_ifaddr: IFA_ADDRESS is the peer on point-to-point links, IFA_LOCAL our address.
    b.bytes(IFA_ADDRESS, (a.peer ?? a.addr).bytes).bytes(IFA_LOCAL, a.addr.bytes);
    if (a.broadcast) b.bytes(IFA_BROADCAST, a.broadcast.bytes);
    const label = a.label ?? i.name;
    if (label) b.string(IFA_LABEL, label);
    if (a.proto) b.u8(IFA_PROTO, a.proto);
    b.u32(IFA_FLAGS, a.flags).bytes(IFA_CACHEINFO, cacheinfo(a));
  } else {
    if (a.peer) b.bytes(IFA_LOCAL, a.addr.bytes).bytes(IFA_ADDRESS, a.peer.bytes);
    else b.bytes(IFA_ADDRESS, a.addr.bytes);
    b.bytes(IFA_CACHEINFO, cacheinfo(a)).u32(IFA_FLAGS, a.flags);
    if (a.proto) b.u8(IFA_PROTO, a.proto);
  }
  return b.finish();
}

/** RTM_NEWROUTE (or `type`: RTM_DELROUTE) for one route. */
export function routeMessage(r: NetlinkRoute, h: ReplyHeader, type = RTM_NEWROUTE): Uint8Array {
  const v4 = r.family === 4;
  const b = new NlMsgBuilder(type, h.flags, h.seq, h.pid, 160);
  b.fixed(RTMSG_SIZE, (buf, off) =>
    writeRtMsg(buf, off, {
      family: v4 ? AF_INET : AF_INET6,
      dstLen: r.dst.prefixLen,
      srcLen: 0,
      tos: 0,
      table: r.table < 256 ? r.table : RT_TABLE_COMPAT,
      protocol: r.protocol,
      scope: r.scope,
      type: r.type,
      flags: 0,
    }),
  );
  b.u32(RTA_TABLE, r.table);
  if (r.dst.prefixLen > 0) b.bytes(RTA_DST, r.dst.addr.bytes);
  if (v4) {
    if (r.priority) b.u32(RTA_PRIORITY, r.priority);
    if (r.prefsrc) b.bytes(RTA_PREFSRC, r.prefsrc.bytes);
    if (r.gateway) b.bytes(RTA_GATEWAY, r.gateway.bytes);
    b.u32(RTA_OIF, r.oif);
  } else {
    if (r.prefsrc) b.bytes(RTA_PREFSRC, r.prefsrc.bytes);
    b.u32(RTA_PRIORITY, r.priority);
    if (r.gateway) b.bytes(RTA_GATEWAY, r.gateway.bytes);
    b.u32(RTA_OIF, r.oif);
    b.bytes(RTA_CACHEINFO, new Uint8Array(32));
    b.u8(RTA_PREF, r.pref ?? ICMPV6_ROUTER_PREF_MEDIUM);
  }
  return b.finish();
}

/**
 * The answer to a route lookup (`ip route get`), as rt_fill_info (IPv4) and rt6_fill_node
 * (IPv6) make it. IPv4 reports table main (with no policy rules Linux merges local into main),
 * protocol 0, RTM_F_CLONED and RTCF_LOCAL for our own addresses, and the loopback as output device
 * for them; IPv6 reports the route's own protocol and metric, and an all-zero RTA_SRC /128.
 */
export function routeLookupMessage(r: NetlinkRoute, dst: Uint8Array, src: Uint8Array | undefined, oif: number, h: ReplyHeader): Uint8Array {
  const v4 = r.family === 4;
  const b = new NlMsgBuilder(RTM_NEWROUTE, h.flags, h.seq, h.pid, 192);
  const local = r.type === RTN_LOCAL;
  b.fixed(RTMSG_SIZE, (buf, off) =>
    writeRtMsg(buf, off, {
      family: v4 ? AF_INET : AF_INET6,
      dstLen: v4 ? 32 : 128,
      srcLen: v4 ? 0 : 128,
      tos: 0,
      table: v4 ? RT_TABLE_MAIN : r.table < 256 ? r.table : RT_TABLE_COMPAT,
      protocol: v4 ? 0 : r.protocol,
      scope: 0,
      type: r.type,
      flags: v4 ? (RTM_F_CLONED | (local ? RTCF_LOCAL : 0)) >>> 0 : 0,
    }),
  );
  if (v4) {
    b.u32(RTA_TABLE, RT_TABLE_MAIN).bytes(RTA_DST, dst).u32(RTA_OIF, oif);
    if (src) b.bytes(RTA_PREFSRC, src);
    if (r.gateway) b.bytes(RTA_GATEWAY, r.gateway.bytes);
    b.u32(RTA_UID, 0).bytes(RTA_CACHEINFO, new Uint8Array(32));
  } else {
    b.u32(RTA_TABLE, r.table).bytes(RTA_DST, dst).bytes(RTA_SRC, new Uint8Array(16));
    if (src) b.bytes(RTA_PREFSRC, src);
    b.u32(RTA_PRIORITY, r.priority);
    if (r.gateway) b.bytes(RTA_GATEWAY, r.gateway.bytes);
    b.u32(RTA_OIF, oif).bytes(RTA_CACHEINFO, new Uint8Array(32)).u8(RTA_PREF, r.pref ?? ICMPV6_ROUTER_PREF_MEDIUM);
  }
  return b.finish();
}

/** RTM_NEWNEIGH (or `type`: RTM_DELNEIGH) for one neighbour cache entry (net/core/neighbour.c neigh_fill_info). */
export function neighborMessage(n: NetlinkNeighbor, h: ReplyHeader, type = RTM_NEWNEIGH): Uint8Array {
  const v4 = n.dst.family === 4;
  const b = new NlMsgBuilder(type, h.flags, h.seq, h.pid, 96);
  b.fixed(NDMSG_SIZE, (buf, off) => {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    buf[off] = v4 ? AF_INET : AF_INET6;
    dv.setInt32(off + 4, n.ifindex, true);
    dv.setUint16(off + 8, n.state, true);
    buf[off + 10] = n.flags ?? 0;
    buf[off + 11] = n.dst.isMulticast() ? RTN_MULTICAST : RTN_UNICAST;
  });
  b.bytes(NDA_DST, n.dst.bytes);
  if (n.lladdr && n.state & NUD_VALID) b.bytes(NDA_LLADDR, n.lladdr);
  b.u32(NDA_PROBES, n.probes ?? 0);
  // struct nda_cacheinfo: confirmed, used, updated (ms ago, as clock_t), refcnt.
  b.bytes(NDA_CACHEINFO, new Uint8Array(16));
  return b.finish();
}

/** A default policy rule: `priority: from all lookup <table>` (net/core/fib_rules.c fib_nl_fill_rule). */
export function ruleMessage(family: number, priority: number, table: number, h: ReplyHeader): Uint8Array {
  const b = new NlMsgBuilder(RTM_NEWRULE, h.flags, h.seq, h.pid, 64);
  b.fixed(FIB_RULE_HDR_SIZE, (buf, off) => {
    buf[off] = family;
    buf[off + 4] = table < 256 ? table : RT_TABLE_COMPAT;
    buf[off + 7] = FR_ACT_TO_TBL;
  });
  b.u32(FRA_TABLE, table).u32(FRA_SUPPRESS_PREFIXLEN, 0xffffffff).u8(FRA_PROTOCOL, RTPROT_KERNEL);
  if (priority) b.u32(FRA_PRIORITY, priority);
  return b.finish();
}
