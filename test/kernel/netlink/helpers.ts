// Test support for the rtnetlink emulation: building requests, a namespace that mirrors a known
// world, asking the real kernel in it (rtnl_kernel.py), asking the emulation, and decoding both
// into comparable shapes.

import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_CACHEINFO,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFA_PROTO,
  IFLA_ADDRESS,
  IFLA_BROADCAST,
  IFLA_CARRIER,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MAX_MTU,
  IFLA_MIN_MTU,
  IFLA_MTU,
  IFLA_OPERSTATE,
  IFLA_QDISC,
  IFLA_TXQLEN,
  NLMSG_DONE,
  NLMSG_ERROR,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTM_NEWNEIGH,
  RTM_NEWRULE,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  SOL_NETLINK,
} from '../../../src/kernel/netlink/constants.js';
import { attrString, findAttr, parseAttrs, parseIfAddrMsg, parseIfInfoMsg, parseMessages, parseNlMsgErr, parseRtMsg } from '../../../src/kernel/netlink/codec.js';
import { NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import type { NetlinkWorld } from '../../../src/kernel/netlink/world.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/kernel/netlink -> test/kernel/netlink (the .py is not compiled). */
export const KERNEL_SCRIPT = join(here, '..', '..', '..', '..', 'test', 'kernel', 'netlink', 'rtnl_kernel.py');

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
export function unhex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

/** A request: nlmsghdr + body (pid 0). */
export function request(type: number, flags: number, seq: number, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(16 + body.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, b.length, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, seq, true);
  b.set(body, 16);
  return b;
}

export function ifinfo(index = 0, family = 0): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = family;
  new DataView(b.buffer).setInt32(4, index, true);
  return b;
}
export function ifaddr(family = 0, index = 0, prefixLen = 0): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = family;
  b[1] = prefixLen;
  new DataView(b.buffer).setUint32(4, index, true);
  return b;
}
export function rtmsg(family = 0, table = 0, extra: Partial<{ dstLen: number; protocol: number; type: number; scope: number; flags: number }> = {}): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = family;
  b[1] = extra.dstLen ?? 0;
  b[4] = table;
  b[5] = extra.protocol ?? 0;
  b[6] = extra.scope ?? 0;
  b[7] = extra.type ?? 0;
  new DataView(b.buffer).setUint32(8, extra.flags ?? 0, true);
  return b;
}
export function attr(type: number, value: Uint8Array): Uint8Array {
  const len = 4 + value.length;
  const b = new Uint8Array((len + 3) & ~3);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, len, true);
  dv.setUint16(2, type, true);
  b.set(value, 4);
  return b;
}
export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface Ask {
  bytes: Uint8Array;
  strict?: boolean;
  extAck?: boolean;
  capAck?: boolean;
  recvLen?: number;
}

export interface Answer {
  pid: number;
  datagrams: Uint8Array[];
  error?: string;
}

/** Asks the real kernel inside namespace `ns` (optionally without CAP_NET_ADMIN, as a guest is). */
export function askKernel(ns: string, asks: readonly Ask[], opts: { noNetAdmin?: boolean } = {}): Answer[] {
  const input = JSON.stringify(asks.map((a) => ({ hex: hex(a.bytes), strict: !!a.strict, extAck: !!a.extAck, capAck: !!a.capAck, recvLen: a.recvLen ?? 32768 })));
  const cmd = ['ip', 'netns', 'exec', ns, ...(opts.noNetAdmin ? ['setpriv', '--bounding-set=-net_admin'] : []), 'python3', KERNEL_SCRIPT];
  const out = execFileSync(cmd[0]!, cmd.slice(1), { input, encoding: 'utf8', timeout: 60_000 });
  return (JSON.parse(out) as Array<{ pid: number; datagrams: string[]; error?: string }>).map((r) => ({
    pid: r.pid,
    datagrams: r.datagrams.map(unhex),
    ...(r.error ? { error: r.error } : {}),
  }));
}

/** Asks the emulation, one fresh socket per request, as askKernel does. */
export function askEmulation(world: NetlinkWorld, asks: readonly Ask[], tgid = 4242): Answer[] {
  const ports = new NetlinkPortTable();
  return asks.map((a) => {
    const s = new NetlinkRouteSocket({ world, ports, tgid });
    if (a.strict) s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, u32(1));
    if (a.extAck) s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, u32(1));
    if (a.capAck) s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, u32(1));
    s.bind(new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const pid = s.pid;
    const sent = s.sendmsg(a.bytes, 0, null);
    const datagrams: Uint8Array[] = [];
    if (typeof sent === 'string') {
      s.close();
      return { pid, datagrams, error: sent };
    }
    for (let i = 0; i < 200; i++) {
      const r = s.recvmsg(a.recvLen ?? 32768, 0);
      if (typeof r === 'string') break;
      datagrams.push(r.data);
    }
    s.close();
    return { pid, datagrams };
  });
}

/** The parts of a message the comparison looks at (statistics and timestamps left out). */
export interface Shape {
  type: number;
  flags: number;
  seq: number;
  /** nlmsg_pid equals the requesting socket's port id. */
  toRequester: boolean;
  header?: Record<string, number>;
  attrs?: Record<string, string>;
  error?: number;
  done?: number;
}

const LINK_ATTRS: Record<number, string> = {
  [IFLA_IFNAME]: 'IFLA_IFNAME',
  [IFLA_MTU]: 'IFLA_MTU',
  [IFLA_ADDRESS]: 'IFLA_ADDRESS',
  [IFLA_BROADCAST]: 'IFLA_BROADCAST',
  [IFLA_OPERSTATE]: 'IFLA_OPERSTATE',
  [IFLA_TXQLEN]: 'IFLA_TXQLEN',
  [IFLA_LINK]: 'IFLA_LINK',
  [IFLA_QDISC]: 'IFLA_QDISC',
  [IFLA_CARRIER]: 'IFLA_CARRIER',
  [IFLA_MIN_MTU]: 'IFLA_MIN_MTU',
  [IFLA_MAX_MTU]: 'IFLA_MAX_MTU',
};
const ADDR_ATTRS: Record<number, string> = {
  [IFA_ADDRESS]: 'IFA_ADDRESS',
  [IFA_LOCAL]: 'IFA_LOCAL',
  [IFA_LABEL]: 'IFA_LABEL',
  [IFA_BROADCAST]: 'IFA_BROADCAST',
  [IFA_FLAGS]: 'IFA_FLAGS',
  [IFA_PROTO]: 'IFA_PROTO',
};
const ROUTE_ATTRS: Record<number, string> = {
  [RTA_DST]: 'RTA_DST',
  [RTA_GATEWAY]: 'RTA_GATEWAY',
  [RTA_OIF]: 'RTA_OIF',
  [RTA_TABLE]: 'RTA_TABLE',
  [RTA_PREFSRC]: 'RTA_PREFSRC',
  [RTA_PRIORITY]: 'RTA_PRIORITY',
  [RTA_PREF]: 'RTA_PREF',
};

function pick(payload: Uint8Array, names: Record<number, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of parseAttrs(payload) ?? []) {
    const n = names[a.type];
    if (n) out[n] = hex(a.value);
  }
  return out;
}

/** Every message of every datagram, as a Shape. */
export function shapes(ans: Answer): Shape[] {
  const out: Shape[] = [];
  for (const d of ans.datagrams) {
    for (const m of parseMessages(d)) {
      const s: Shape = { type: m.type, flags: m.flags, seq: m.seq, toRequester: m.pid === ans.pid };
      if (m.type === RTM_NEWLINK) {
        const h = parseIfInfoMsg(m.payload)!;
        s.header = { family: h.family, type: h.type, index: h.index, flags: h.flags, change: h.change };
        s.attrs = pick(m.payload.subarray(16), LINK_ATTRS);
        const li = findAttr(parseAttrs(m.payload.subarray(16)) ?? [], IFLA_LINKINFO);
        if (li) s.attrs.IFLA_INFO_KIND = attrString(findAttr(parseAttrs(li.value) ?? [], IFLA_INFO_KIND)) ?? '';
      } else if (m.type === RTM_NEWADDR) {
        const h = parseIfAddrMsg(m.payload)!;
        s.header = { ...h };
        s.attrs = pick(m.payload.subarray(8), ADDR_ATTRS);
        const ci = findAttr(parseAttrs(m.payload.subarray(8)) ?? [], IFA_CACHEINFO);
        // prefered and valid lifetimes; the timestamps depend on when the address was made.
        if (ci) s.attrs.IFA_CACHEINFO_LFT = hex(ci.value.subarray(0, 8));
      } else if (m.type === RTM_NEWROUTE) {
        const h = parseRtMsg(m.payload)!;
        s.header = { ...h };
        s.attrs = pick(m.payload.subarray(12), ROUTE_ATTRS);
      } else if (m.type === RTM_NEWNEIGH) {
        const dv = new DataView(m.payload.buffer, m.payload.byteOffset, 12);
        s.header = { family: m.payload[0]!, ifindex: dv.getInt32(4, true), state: dv.getUint16(8, true), flags: m.payload[10]!, type: m.payload[11]! };
        s.attrs = pick(m.payload.subarray(12), { 1: 'NDA_DST', 2: 'NDA_LLADDR', 4: 'NDA_PROBES' });
      } else if (m.type === RTM_NEWRULE) {
        s.header = { ...parseRtMsg(m.payload)! };
        s.attrs = pick(m.payload.subarray(12), { 6: 'FRA_PRIORITY', 14: 'FRA_SUPPRESS_PREFIXLEN', 15: 'FRA_TABLE', 21: 'FRA_PROTOCOL' });
      } else if (m.type === NLMSG_ERROR) {
        s.error = parseNlMsgErr(m.payload, m.flags)?.error ?? NaN;
      } else if (m.type === NLMSG_DONE) {
        s.done = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true);
      }
      out.push(s);
    }
  }
  return out;
}

/** The datagrams with every nlmsg_pid equal to the requester's port set to 0 (for byte comparison). */
export function normalizedBytes(ans: Answer): string[] {
  return ans.datagrams.map((d) => {
    const c = Uint8Array.from(d);
    for (const m of parseMessages(c)) {
      const off = m.raw.byteOffset - c.byteOffset;
      const dv = new DataView(c.buffer);
      if (dv.getUint32(off + 12, true) === ans.pid >>> 0) dv.setUint32(off + 12, 0, true);
    }
    return hex(c);
  });
}

export function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A namespace mirroring the world these tests expect: lo up; a veth pair moat0 (02:00:00:00:00:01,
 * 10.9.8.7/24, fd00:9::7/64, link-local fe80::ff:fe00:1) and moat1 (02:00:00:00:00:02, no
 * addresses); default routes via 10.9.8.1 and fd00:9::1, whose neighbour entries are
 * 02:00:00:00:00:09 (permanent, stale). DAD is off so nothing is tentative.
 */
export async function withMirrorNs<T>(suffix: string, fn: (ns: string, index: { moat0: number; moat1: number }) => Promise<T> | T): Promise<T> {
  const ns = `moat-nl-${process.pid}-${suffix}`;
  sh('ip', 'netns', 'add', ns);
  try {
    const x = (...a: string[]) => sh('ip', 'netns', 'exec', ns, ...a);
    x('sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
    x('ip', 'link', 'set', 'lo', 'up');
    x('ip', 'link', 'add', 'moat0', 'address', '02:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'moat1', 'address', '02:00:00:00:00:02');
    x('ip', 'link', 'set', 'moat1', 'addrgenmode', 'none');
    x('ip', 'addr', 'add', '10.9.8.7/24', 'dev', 'moat0');
    x('ip', 'addr', 'add', 'fd00:9::7/64', 'dev', 'moat0');
    x('ip', 'link', 'set', 'moat0', 'up');
    x('ip', 'link', 'set', 'moat1', 'up');
    x('ip', 'route', 'add', 'default', 'via', '10.9.8.1');
    x('ip', '-6', 'route', 'add', 'default', 'via', 'fd00:9::1');
    x('ip', 'neigh', 'add', '10.9.8.1', 'lladdr', '02:00:00:00:00:09', 'dev', 'moat0', 'nud', 'permanent');
    x('ip', 'neigh', 'add', 'fd00:9::1', 'lladdr', '02:00:00:00:00:09', 'dev', 'moat0', 'nud', 'stale');
    // Wait (bounded) for the veth carrier, the link-local address and its local route.
    for (let i = 0; i < 50; i++) {
      const out = x('ip', '-6', 'addr', 'show', 'dev', 'moat0');
      const local = x('ip', '-6', 'route', 'show', 'table', 'local');
      if (out.includes('fe80::ff:fe00:1') && !out.includes('tentative') && local.includes('fe80::ff:fe00:1') && x('ip', 'link', 'show', 'moat0').includes('state UP')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const links = JSON.parse(x('ip', '-j', 'link', 'show')) as Array<{ ifindex: number; ifname: string }>;
    const idx = (n: string) => links.find((l) => l.ifname === n)!.ifindex;
    return await fn(ns, { moat0: idx('moat0'), moat1: idx('moat1') });
  } finally {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {
      /* already gone */
    }
  }
}
