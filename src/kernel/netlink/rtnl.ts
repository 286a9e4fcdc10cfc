// The rtnetlink "kernel": turns one datagram of requests into answers, the way
// net/netlink/af_netlink.c netlink_rcv_skb and net/core/rtnetlink.c rtnetlink_rcv_msg walk it,
// over a NetlinkWorld instead of the host's devices. Read rtnetlink(7), netlink(7) ("NETLINK_
// GET_STRICT_CHK", "NETLINK_EXT_ACK") and RFC 3549 §2.3.2 (requests, acks, dumps) first.
//
// Pure: no sockets, no clock. The guest holds no CAP_NET_ADMIN over moat's stack, so every
// request that is not a GET is refused with EPERM before any handler runs, as Linux does for an
// unprivileged caller.

import { ERRNO } from '../errno.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import {
  attrString,
  attrU32,
  buildDone,
  buildError,
  findAttr,
  parseAttrs,
  parseIfAddrMsg,
  parseIfInfoMsg,
  parseMessages,
  parseRtMsg,
} from './codec.js';
import type { NlAttr, ParsedNlMsg } from './codec.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFADDRMSG_SIZE,
  IFA_F_TENTATIVE,
  IFA_TARGET_NETNSID,
  IFF_LOOPBACK,
  IFINFOMSG_SIZE,
  IFLA_ALT_IFNAME,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_TARGET_NETNSID,
  NLMSG_MIN_TYPE,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_FILTERED,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  RTA_DPORT,
  RTA_DST,
  RTA_IIF,
  RTA_IP_PROTO,
  RTA_MARK,
  RTA_OIF,
  RTA_SPORT,
  RTA_SRC,
  RTA_TABLE,
  RTA_UID,
  RTMSG_SIZE,
  RTM_F_CLONED,
  RTM_F_FIB_MATCH,
  RTM_F_LOOKUP_TABLE,
  RTM_F_NOTIFY,
  RTM_F_PREFIX,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTN_BROADCAST,
  RTN_LOCAL,
  RT_TABLE_DEFAULT,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTM_GETNEIGH,
  RTM_GETRULE,
  RTM_BASE,
  NDMSG_SIZE,
  NDA_DST,
  NDA_IFINDEX,
  NDA_MASTER,
  NTF_PROXY,
  NTF_ROUTER,
  FIB_RULE_HDR_SIZE,
  RTNL_FAMILY_IPMR,
  RTNL_FAMILY_IP6MR,
} from './constants.js';
import { addressMessage, linkMessage, neighborMessage, routeLookupMessage, routeMessage, ruleMessage } from './messages.js';
import type { ReplyHeader } from './messages.js';
import type { NetlinkInterface, NetlinkNeighbor, NetlinkRoute, NetlinkWorld } from './world.js';

/** RTM_MAX in Linux 6.x (RTM_GETTUNNEL is 122; RTM_MAX rounds __RTM_MAX up to a multiple of 4, minus 1). */
export const RTM_MAX = 123;

/** What the socket's options say about how to answer. */
export interface RtnlContext {
  /** The requesting socket's port id (nlmsg_pid of every answer). */
  portId: number;
  /** NETLINK_GET_STRICT_CHK. */
  strict: boolean;
  /** NETLINK_EXT_ACK: errors carry a message. */
  extAck: boolean;
  /** NETLINK_CAP_ACK: errors echo only the request's header. */
  capAck: boolean;
  /** A dump is still being read on this socket (a second one is EBUSY). */
  dumpRunning: boolean;
  world: NetlinkWorld;
}

/**
 * What one request produced: whole datagrams (replies, acks, errors: one each, as Linux sends
 * them), or a dump whose messages the socket packs into datagrams as the guest reads, followed
 * by NLMSG_DONE in a datagram of its own (Linux 6.10+ RTNL_FLAG_DUMP_SPLIT_NLM_DONE for links,
 * addresses and routes).
 */
export type RtnlOutput = { kind: 'datagram'; bytes: Uint8Array } | { kind: 'dump'; messages: Uint8Array[]; done: Uint8Array };

/** Why requests were refused or ignored, counted (never thrown). */
export interface RtnlCounters {
  requests: number;
  dumps: number;
  ignoredShort: number;
  ignoredNotRequest: number;
  ignoredControl: number;
  eperm: number;
  eopnotsupp: number;
  einval: number;
  enodev: number;
  ebusy: number;
}

export function newRtnlCounters(): RtnlCounters {
  return { requests: 0, dumps: 0, ignoredShort: 0, ignoredNotRequest: 0, ignoredControl: 0, eperm: 0, eopnotsupp: 0, einval: 0, enodev: 0, ebusy: 0 };
}

class RtnlError {
  constructor(
    readonly errno: number,
    readonly msg?: string,
    /** The attribute whose absence is the error (NLMSGERR_ATTR_MISS_TYPE). */
    readonly missType?: number,
  ) {}
}

function fail(errno: number, msg?: string, missType?: number): RtnlError {
  return new RtnlError(errno, msg, missType);
}

/** A dump request whose strict validation failed is answered by NLMSG_DONE carrying the error. */
class DumpError {
  constructor(
    readonly errno: number,
    readonly msg: string,
  ) {}
}

type HandlerResult = RtnlError | { messages: Uint8Array[] } | { dump: Uint8Array[]; flags: number; doneError?: DumpError };

/**
 * Processes every request in one datagram the guest sent. Never throws on any input: malformed
 * messages are answered (EINVAL) or skipped exactly where Linux answers or skips them.
 */
export function processDatagram(datagram: Uint8Array, ctx: RtnlContext, counters: RtnlCounters = newRtnlCounters()): RtnlOutput[] {
  const out: RtnlOutput[] = [];
  let dumpRunning = ctx.dumpRunning;
  for (const m of parseMessages(datagram)) {
    counters.requests++;
    const ackWanted = (m.flags & NLM_F_ACK) !== 0;
    const ack = (errno: number, msg?: string, missType?: number) => {
      const err = -errno;
      // netlink_ack: a success ack echoes only the header (CAPPED); an error echoes the whole
      // request unless NETLINK_CAP_ACK; the extended-ack TLVs ride along with NETLINK_EXT_ACK.
      const capped = errno === 0 || ctx.capAck;
      const opts: { capped: boolean; extAckMsg?: string; missType?: number } = { capped };
      if (ctx.extAck && msg !== undefined) opts.extAckMsg = msg;
      if (ctx.extAck && missType !== undefined) opts.missType = missType;
      out.push({ kind: 'datagram', bytes: buildError(m, err, ctx.portId, opts) });
    };
    // netlink_rcv_skb: only requests are handled; control messages are skipped (acked if asked).
    if ((m.flags & NLM_F_REQUEST) === 0) {
      counters.ignoredNotRequest++;
      if (ackWanted) ack(0);
      continue;
    }
    if (m.type < NLMSG_MIN_TYPE) {
      counters.ignoredControl++;
      if (ackWanted) ack(0);
      continue;
    }
    const r = handle(m, { ...ctx, dumpRunning });
    if (r instanceof RtnlError) {
      countError(counters, r.errno);
      ack(r.errno, r.msg, r.missType);
      continue;
    }
    if ('dump' in r) {
      counters.dumps++;
      dumpRunning = true;
      const e = r.doneError;
      if (e) countError(counters, e.errno);
      const done = e
        ? buildDone(m.seq, ctx.portId, NLM_F_MULTI, -e.errno, ctx.extAck ? e.msg : undefined)
        : buildDone(m.seq, ctx.portId, NLM_F_MULTI | r.flags);
      out.push({ kind: 'dump', messages: r.dump, done });
      // A dump is never acked separately: its NLMSG_DONE is the end (netlink_rcv_skb skips on -EINTR).
      continue;
    }
    if (r.messages.length === 0) counters.ignoredShort++;
    for (const b of r.messages) out.push({ kind: 'datagram', bytes: b });
    if (ackWanted) ack(0);
  }
  return out;
}

function countError(c: RtnlCounters, errno: number): void {
  if (errno === ERRNO.EPERM) c.eperm++;
  else if (errno === ERRNO.EOPNOTSUPP) c.eopnotsupp++;
  else if (errno === ERRNO.EINVAL) c.einval++;
  else if (errno === ERRNO.ENODEV) c.enodev++;
  else if (errno === ERRNO.EBUSY) c.ebusy++;
}

type Dumper = (m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number) => { dump: Uint8Array[]; flags: number } | DumpError;

const DUMPERS: Record<number, Dumper> = {
  [RTM_GETLINK]: (m, ctx, h) => dumpLinks(m, ctx, h),
  [RTM_GETADDR]: dumpAddrs,
  [RTM_GETROUTE]: dumpRoutes,
  [RTM_GETNEIGH]: dumpNeighs,
  [RTM_GETRULE]: dumpRules,
};

function handle(m: ParsedNlMsg, ctx: RtnlContext): HandlerResult {
  // rtnetlink_rcv_msg, in its order: type range, the 1-byte rtgenmsg minimum, capability, handler.
  if (m.type > RTM_MAX) return fail(ERRNO.EOPNOTSUPP);
  if (m.payload.length < 1) return { messages: [] };
  const kind = (m.type - RTM_BASE) & 3;
  if (kind !== 2) return fail(ERRNO.EPERM);
  const isDump = (m.flags & NLM_F_DUMP) === NLM_F_DUMP;
  const h: ReplyHeader = { seq: m.seq, pid: ctx.portId, flags: isDump ? NLM_F_MULTI : 0 };
  const family = m.payload[0];
  if (isDump) {
    const dumper = DUMPERS[m.type];
    if (!dumper) return fail(ERRNO.EOPNOTSUPP);
    // netlink_dump_start refuses a second dump while one is being read, before validating it.
    if (ctx.dumpRunning) return fail(ERRNO.EBUSY);
    const r = dumper(m, ctx, h, family);
    if (r instanceof DumpError) return { dump: [], flags: 0, doneError: r };
    return r;
  }
  switch (m.type) {
    case RTM_GETLINK:
      return getLink(m, ctx, h);
    case RTM_GETROUTE:
      return getRoute(m, ctx, h, family);
    case RTM_GETNEIGH:
      return getNeigh(m, ctx, h, family);
    default:
      // RTM_GETADDR has no doit in Linux either.
      return fail(ERRNO.EOPNOTSUPP);
  }
}

// ---- links ----

function dumpLinks(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader): { dump: Uint8Array[]; flags: number } | DumpError {
  // rtnl_valid_dump_ifinfo_req
  let attrs: NlAttr[] | null = null;
  if (ctx.strict) {
    const ifm = parseIfInfoMsg(m.payload);
    if (!ifm) return new DumpError(ERRNO.EINVAL, 'Invalid header for link dump');
    if (ifm.pad || ifm.type || ifm.flags || ifm.change) return new DumpError(ERRNO.EINVAL, 'Invalid values in header for link dump request');
    if (ifm.index) return new DumpError(ERRNO.EINVAL, 'Filter by device index not supported for link dumps');
    attrs = parseAttrs(m.payload.subarray(IFINFOMSG_SIZE));
    if (!attrs) return new DumpError(ERRNO.EINVAL, 'Attribute failed policy validation');
    for (const a of attrs) {
      if (![IFLA_TARGET_NETNSID, IFLA_EXT_MASK, IFLA_MASTER, IFLA_LINKINFO].includes(a.type)) {
        return new DumpError(ERRNO.EINVAL, 'Unsupported attribute in link dump request');
      }
    }
  } else {
    attrs = parseAttrs(m.payload.subarray(m.payload.length >= IFINFOMSG_SIZE ? IFINFOMSG_SIZE : 1)) ?? [];
  }
  const extMask = attrU32(findAttr(attrs, IFLA_EXT_MASK)) ?? 0;
  const master = attrU32(findAttr(attrs, IFLA_MASTER));
  const linkinfo = findAttr(attrs, IFLA_LINKINFO);
  const kindFilter = linkinfo ? attrString(findAttr(parseAttrs(linkinfo.value) ?? [], IFLA_INFO_KIND)) : undefined;
  let flags = 0;
  let list = sortedInterfaces(ctx.world);
  if (master !== undefined && master !== 0) {
    flags = NLM_F_DUMP_FILTERED;
    list = []; // moat has no bridges or bonds: nothing is enslaved
  }
  if (kindFilter !== undefined) {
    flags = NLM_F_DUMP_FILTERED;
    list = list.filter((i) => i.kind === kindFilter);
  }
  return { dump: list.map((i) => linkMessage(i, h, extMask)), flags };
}

function sortedInterfaces(w: NetlinkWorld): NetlinkInterface[] {
  return [...w.interfaces].sort((a, b) => a.index - b.index);
}

function getLink(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader): HandlerResult {
  const ifm = parseIfInfoMsg(m.payload);
  if (!ifm) return fail(ERRNO.EINVAL, ctx.strict ? 'Invalid header for get link' : undefined);
  if (ctx.strict && (ifm.pad || ifm.type || ifm.flags || ifm.change)) return fail(ERRNO.EINVAL, 'Invalid values in header for get link request');
  const attrs = parseAttrs(m.payload.subarray(IFINFOMSG_SIZE));
  if (!attrs) return fail(ERRNO.EINVAL);
  if (ctx.strict) {
    for (const a of attrs) {
      if (![IFLA_IFNAME, IFLA_ALT_IFNAME, IFLA_EXT_MASK, IFLA_TARGET_NETNSID].includes(a.type)) return fail(ERRNO.EINVAL, 'Unsupported attribute in get link request');
    }
  }
  const extMask = attrU32(findAttr(attrs, IFLA_EXT_MASK)) ?? 0;
  let dev: NetlinkInterface | undefined;
  if (ifm.index > 0) {
    dev = ctx.world.interfaces.find((i) => i.index === ifm.index);
  } else {
    const name = attrString(findAttr(attrs, IFLA_IFNAME)) ?? attrString(findAttr(attrs, IFLA_ALT_IFNAME));
    if (name === undefined) return fail(ERRNO.EINVAL);
    dev = ctx.world.interfaces.find((i) => i.name === name);
  }
  if (!dev) return fail(ERRNO.ENODEV);
  return { messages: [linkMessage(dev, h, extMask)] };
}

// ---- addresses ----

function dumpAddrs(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number): { dump: Uint8Array[]; flags: number } | DumpError {
  const families = family === AF_INET ? [4] : family === AF_INET6 ? [6] : [4, 6];
  let index = 0;
  let flags = 0;
  if (ctx.strict) {
    // inet_valid_dump_ifaddr_req / inet6_valid_dump_ifaddr_req (the first family's words when both run).
    const who = families[0] === 4 ? 'ipv4' : 'ipv6';
    const ifa = parseIfAddrMsg(m.payload);
    if (!ifa) return new DumpError(ERRNO.EINVAL, `${who}: Invalid header for address dump request`);
    if (ifa.prefixLen || ifa.flags || ifa.scope) return new DumpError(ERRNO.EINVAL, `${who}: Invalid values in header for address dump request`);
    const attrs = parseAttrs(m.payload.subarray(IFADDRMSG_SIZE));
    if (!attrs) return new DumpError(ERRNO.EINVAL, `${who}: Attribute failed policy validation`);
    for (const a of attrs) if (a.type !== IFA_TARGET_NETNSID) return new DumpError(ERRNO.EINVAL, `${who}: Unsupported attribute in dump request`);
    if (ifa.index) {
      flags = NLM_F_DUMP_FILTERED;
      index = ifa.index;
      if (!ctx.world.interfaces.some((i) => i.index === index)) return new DumpError(ERRNO.ENODEV, `${who}: device not found`);
    }
  }
  const h2 = { ...h, flags: h.flags | flags };
  const out: Uint8Array[] = [];
  for (const fam of families) {
    for (const i of sortedInterfaces(ctx.world)) {
      if (index && i.index !== index) continue;
      const addrs = i.addresses.filter((a) => a.addr.family === fam);
      // ipv6_link_dev_addr keeps IPv6 addresses ordered by scope (global first).
      if (fam === 6) addrs.sort((a, b) => a.scope - b.scope);
      for (const a of addrs) out.push(addressMessage(i, a, h2));
    }
  }
  return { dump: out, flags };
}

// ---- routes ----

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function firstDiffBits(a: Uint8Array, b: Uint8Array, bits: number): number {
  for (let bit = 0; bit < bits; bit++) {
    const m = 0x80 >> (bit & 7);
    const x = a[bit >> 3] & m;
    const y = b[bit >> 3] & m;
    if (x !== y) return x ? 1 : -1;
  }
  return 0;
}

/**
 * The order a dump walks routes in: tables ascending; IPv4's LC-trie in preorder (a prefix before
 * the prefixes inside it), IPv6's fib6 tree in postorder (more specific first, ::/0 last).
 */
function routeOrder(a: NetlinkRoute, b: NetlinkRoute): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.table !== b.table) return a.table - b.table;
  const an = a.dst.network().bytes;
  const bn = b.dst.network().bytes;
  if (a.family === 4) {
    const c = cmpBytes(an, bn);
    if (c !== 0) return c;
    if (a.dst.prefixLen !== b.dst.prefixLen) return a.dst.prefixLen - b.dst.prefixLen;
  } else {
    const c = firstDiffBits(an, bn, Math.min(a.dst.prefixLen, b.dst.prefixLen));
    if (c !== 0) return c;
    if (a.dst.prefixLen !== b.dst.prefixLen) return b.dst.prefixLen - a.dst.prefixLen;
  }
  return a.priority - b.priority || a.oif - b.oif;
}

function dumpRoutes(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number): { dump: Uint8Array[]; flags: number } | DumpError {
  const families = family === AF_INET ? [4] : family === AF_INET6 ? [6] : [4, 6];
  let table = 0;
  let protocol = 0;
  let type = 0;
  let oif = 0;
  let cloned = false;
  let flags = 0;
  let msgFlags = 0;
  if (ctx.strict) {
    // ip_valid_fib_dump_req
    const rtm = parseRtMsg(m.payload);
    if (!rtm) return new DumpError(ERRNO.EINVAL, 'Invalid header for FIB dump request');
    if (rtm.dstLen || rtm.srcLen || rtm.tos || rtm.scope) return new DumpError(ERRNO.EINVAL, 'Invalid values in header for FIB dump request');
    if (rtm.flags & ~(RTM_F_CLONED | RTM_F_PREFIX)) return new DumpError(ERRNO.EINVAL, 'Invalid flags for FIB dump request');
    cloned = (rtm.flags & RTM_F_CLONED) !== 0;
    table = rtm.table;
    protocol = rtm.protocol;
    type = rtm.type;
    const attrs = parseAttrs(m.payload.subarray(RTMSG_SIZE));
    if (!attrs) return new DumpError(ERRNO.EINVAL, 'Attribute failed policy validation');
    for (const a of attrs) {
      if (a.type === RTA_TABLE) table = attrU32(a) ?? table;
      else if (a.type === RTA_OIF) {
        oif = attrU32(a) ?? 0;
        if (oif && !ctx.world.interfaces.some((i) => i.index === oif)) return new DumpError(ERRNO.ENODEV, 'Unknown device');
      } else return new DumpError(ERRNO.EINVAL, 'Unsupported attribute in dump request');
    }
    // Strict dumps mark every route DUMP_FILTERED; NLMSG_DONE only when a filter was given.
    msgFlags = NLM_F_DUMP_FILTERED;
    if (table || protocol || type || oif || cloned) flags = NLM_F_DUMP_FILTERED;
    if (table && table !== RT_TABLE_MAIN && table !== RT_TABLE_LOCAL && families.length === 1 && families[0] === 4) {
      return new DumpError(ERRNO.ENOENT, 'ipv4: FIB table does not exist');
    }
  } else {
    const rtm = parseRtMsg(m.payload);
    if (rtm) cloned = (rtm.flags & RTM_F_CLONED) !== 0;
  }
  const h2 = { ...h, flags: h.flags | msgFlags };
  // RTM_F_CLONED asks for cached/exception routes; moat has none to show.
  if (cloned) return { dump: [], flags };
  const list = ctx.world.routes
    .filter((r) => families.includes(r.family))
    .filter((r) => (!table || r.table === table) && (!protocol || r.protocol === protocol) && (!type || r.type === type) && (!oif || r.oif === oif))
    .sort(routeOrder);
  return { dump: list.map((r) => routeMessage(r, h2)), flags };
}

function getRoute(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number): HandlerResult {
  // Only inet and inet6 register a GETROUTE doit; PF_UNSPEC's handler has none.
  if (family !== AF_INET && family !== AF_INET6) return fail(ERRNO.EOPNOTSUPP);
  const v4 = family === AF_INET;
  const who = v4 ? 'ipv4' : 'ipv6';
  const rtm = parseRtMsg(m.payload);
  if (!rtm) return fail(ERRNO.EINVAL, ctx.strict ? `${who}: Invalid header for route get request` : undefined);
  const attrs = parseAttrs(m.payload.subarray(RTMSG_SIZE));
  if (!attrs) return fail(ERRNO.EINVAL);
  const full = v4 ? 32 : 128;
  if (ctx.strict) {
    if ((rtm.srcLen && rtm.srcLen !== full) || (rtm.dstLen && rtm.dstLen !== full) || rtm.table || rtm.protocol || rtm.scope || rtm.type) {
      return fail(ERRNO.EINVAL, `${who}: Invalid values in header for route get request`);
    }
    if (rtm.flags & ~(RTM_F_NOTIFY | RTM_F_LOOKUP_TABLE | RTM_F_FIB_MATCH)) return fail(ERRNO.EINVAL, `${who}: Unsupported rtm_flags for route get request`);
    for (const a of attrs) {
      if (![RTA_IIF, RTA_OIF, RTA_SRC, RTA_DST, RTA_IP_PROTO, RTA_SPORT, RTA_DPORT, RTA_MARK, RTA_UID].includes(a.type)) {
        return fail(ERRNO.EINVAL, `${who}: Unsupported attribute in route get request`);
      }
    }
  }
  const dstAttr = findAttr(attrs, RTA_DST);
  const len = v4 ? 4 : 16;
  if (dstAttr && dstAttr.value.length < len) return fail(ERRNO.EINVAL);
  const dstBytes = dstAttr ? dstAttr.value.subarray(0, len) : new Uint8Array(len);
  const dst = v4 ? IpAddr.v4(dstBytes) : IpAddr.v6(dstBytes);
  const oif = attrU32(findAttr(attrs, RTA_OIF)) ?? 0;
  const route = lookup(ctx.world, dst, oif);
  if (!route) return fail(ERRNO.ENETUNREACH);
  const src = sourceFor(ctx.world, route, dst);
  // Our own addresses are reached through the loopback device (IPv4's rt_fill_info shows lo).
  const lo = ctx.world.interfaces.find((i) => (i.flags & IFF_LOOPBACK) !== 0);
  const out = v4 && route.type === RTN_LOCAL && lo ? lo.index : route.oif;
  return { messages: [routeLookupMessage(route, dst.bytes, src?.bytes, out, h)] };
}

/** The local table first (our own and broadcast addresses), then main: longest prefix, lowest metric. */
function lookup(w: NetlinkWorld, dst: IpAddr, oif: number): NetlinkRoute | undefined {
  const candidates = w.routes.filter((r) => r.family === dst.family && r.dst.contains(dst) && (!oif || r.oif === oif));
  const local = candidates.filter((r) => r.table === RT_TABLE_LOCAL && (r.type === RTN_LOCAL || r.type === RTN_BROADCAST));
  const pick = (rs: NetlinkRoute[]) => rs.sort((a, b) => b.dst.prefixLen - a.dst.prefixLen || a.priority - b.priority)[0];
  return pick(local) ?? pick(candidates.filter((r) => r.table === RT_TABLE_MAIN));
}

function sourceFor(w: NetlinkWorld, r: NetlinkRoute, dst: IpAddr): IpAddr | undefined {
  if (r.prefsrc) return r.prefsrc;
  if (r.type === RTN_LOCAL) return dst;
  const dev = w.interfaces.find((i) => i.index === r.oif);
  if (!dev) return undefined;
  const usable = dev.addresses.filter((a) => a.addr.family === dst.family && !(a.flags & IFA_F_TENTATIVE));
  if (dst.family === 6) {
    const wantLinkLocal = dst.isLinkLocal();
    return (usable.find((a) => a.addr.isLinkLocal() === wantLinkLocal) ?? usable[0])?.addr;
  }
  return usable[0]?.addr;
}


// ---- neighbours ----

function neighOrder(a: NetlinkNeighbor, b: NetlinkNeighbor): number {
  return a.dst.family - b.dst.family || a.ifindex - b.ifindex || cmpBytes(a.dst.bytes, b.dst.bytes);
}

function dumpNeighs(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number): { dump: Uint8Array[]; flags: number } | DumpError {
  // neigh_valid_dump_req
  let dev = 0;
  let proxy = false;
  const hdr = m.payload.length >= NDMSG_SIZE ? m.payload : null;
  if (ctx.strict) {
    if (!hdr) return new DumpError(ERRNO.EINVAL, 'Invalid header for neighbor dump request');
    const dv = new DataView(hdr.buffer, hdr.byteOffset, NDMSG_SIZE);
    if (hdr[1] || dv.getUint16(2, true) || dv.getInt32(4, true) || dv.getUint16(8, true) || hdr[11]) {
      return new DumpError(ERRNO.EINVAL, 'Invalid values in header for neighbor dump request');
    }
    if (hdr[10]! & ~NTF_PROXY) return new DumpError(ERRNO.EINVAL, 'Invalid flags in header for neighbor dump request');
  }
  if (hdr) {
    proxy = hdr[10] === NTF_PROXY;
    const attrs = parseAttrs(hdr.subarray(NDMSG_SIZE));
    if (!attrs) {
      if (ctx.strict) return new DumpError(ERRNO.EINVAL, 'Attribute failed policy validation');
    } else {
      for (const a of attrs) {
        if (a.type === NDA_IFINDEX) dev = attrU32(a) ?? 0;
        else if (a.type === NDA_MASTER) dev = -1; // moat has no bridges: nothing is enslaved
        else if (ctx.strict) return new DumpError(ERRNO.EINVAL, 'Unsupported attribute in neighbor dump request');
      }
    }
  }
  const flags = dev ? NLM_F_DUMP_FILTERED : 0;
  const h2 = { ...h, flags: h.flags | flags };
  // Proxy entries (NTF_PROXY): moat has none.
  if (proxy) return { dump: [], flags: 0 };
  const fams = family === AF_INET ? [4] : family === AF_INET6 ? [6] : family === AF_UNSPEC ? [4, 6] : [];
  const list = (ctx.world.neighbors ?? [])
    .filter((n) => fams.includes(n.dst.family) && (!dev || n.ifindex === dev))
    .sort(neighOrder);
  return { dump: list.map((n) => neighborMessage(n, h2)), flags: 0 };
}

function getNeigh(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number): HandlerResult {
  // neigh_valid_get_req: always strict.
  const hdr = m.payload;
  if (hdr.length < NDMSG_SIZE) return fail(ERRNO.EINVAL, 'Invalid header for neighbor get request');
  const dv = new DataView(hdr.buffer, hdr.byteOffset, NDMSG_SIZE);
  if (hdr[1] || dv.getUint16(2, true) || dv.getUint16(8, true) || hdr[11]) return fail(ERRNO.EINVAL, 'Invalid values in header for neighbor get request');
  if (hdr[10]! & ~(NTF_PROXY | NTF_ROUTER)) return fail(ERRNO.EINVAL, 'Invalid flags in header for neighbor get request');
  const attrs = parseAttrs(hdr.subarray(NDMSG_SIZE));
  if (!attrs) return fail(ERRNO.EINVAL);
  for (const a of attrs) if (a.type !== NDA_DST) return fail(ERRNO.EINVAL, 'Unsupported attribute in neighbor get request');
  const keyLen = family === AF_INET ? 4 : family === AF_INET6 ? 16 : 0;
  const dstAttr = findAttr(attrs, NDA_DST);
  if (dstAttr && dstAttr.value.length !== keyLen) return fail(ERRNO.EINVAL, 'Invalid network address in neighbor get request');
  if (!keyLen) return fail(ERRNO.EAFNOSUPPORT, 'Unsupported family in header for neighbor get request');
  if (!dstAttr) return fail(ERRNO.EINVAL, undefined, NDA_DST);
  const ifindex = dv.getInt32(4, true);
  if (ifindex && !ctx.world.interfaces.some((i) => i.index === ifindex)) return fail(ERRNO.ENODEV, 'Unknown device ifindex');
  if (hdr[10]! & NTF_PROXY) return fail(ERRNO.ENOENT, 'Proxy neighbour entry not found');
  const dst = keyLen === 4 ? IpAddr.v4(dstAttr.value) : IpAddr.v6(dstAttr.value);
  const n = (ctx.world.neighbors ?? []).find((x) => x.ifindex === ifindex && x.dst.equals(dst));
  if (!n) return fail(ERRNO.ENOENT, 'Neighbour entry not found');
  return { messages: [neighborMessage(n, h)] };
}

// ---- policy rules ----

/** Linux's default rules per family (fib_default_rules_init, ip6mr/ipmr rules), in the order rules_ops lists them. */
const DEFAULT_RULES: Array<[family: number, priority: number, table: number]> = [
  [AF_INET, 0, RT_TABLE_LOCAL],
  [AF_INET, 32766, RT_TABLE_MAIN],
  [AF_INET, 32767, RT_TABLE_DEFAULT],
  [RTNL_FAMILY_IPMR, 32767, RT_TABLE_DEFAULT],
  [RTNL_FAMILY_IP6MR, 32767, RT_TABLE_MAIN],
  [AF_INET6, 0, RT_TABLE_LOCAL],
  [AF_INET6, 32766, RT_TABLE_MAIN],
];

function dumpRules(m: ParsedNlMsg, ctx: RtnlContext, h: ReplyHeader, family: number): { dump: Uint8Array[]; flags: number } | DumpError {
  if (ctx.strict) {
    // fib_valid_dumprule_req
    if (m.payload.length < FIB_RULE_HDR_SIZE) return new DumpError(ERRNO.EINVAL, 'Invalid header for fib rule dump request');
    const p = m.payload;
    if (p[1] || p[2] || p[3] || p[4] || p[5] || p[6] || p[7] || new DataView(p.buffer, p.byteOffset + 8, 4).getUint32(0, true)) {
      return new DumpError(ERRNO.EINVAL, 'Invalid values in header for fib rule dump request');
    }
    if (p.length > FIB_RULE_HDR_SIZE) return new DumpError(ERRNO.EINVAL, 'Invalid data after header in fib rule dump request');
  }
  const rules = DEFAULT_RULES.filter(([f]) => family === AF_UNSPEC || f === family);
  if (family !== AF_UNSPEC && rules.length === 0) return new DumpError(ERRNO.EAFNOSUPPORT, 'Unsupported family for fib rule dump');
  return { dump: rules.map(([f, prio, table]) => ruleMessage(f, prio, table, h)), flags: 0 };
}
