// Rule specs -> one match closure per rule. Each match reads the FilterInput fields or a few
// transport bytes directly; nothing is allocated per packet. CIDRs become (u32 net, mask)
// pairs for IPv4 and byte-prefix compares for IPv6. Semantics: iptables-extensions(8).

import type { FilterInput } from './packet.js';
import type { AddressSet, SetRegistry } from './addrset.js';
import type { RuleSpec } from './rules.js';
import type { Conntrack } from './conntrack.js';
import { IpProto } from '../wire/ip-proto.js';
import { prefixEquals, type IpCidr } from '../wire/ip-address.js';

export type Match = (p: FilterInput) => boolean;

const TRUE: Match = () => true;

function u32(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

function cidrMatch(cidr: IpCidr, neg: boolean, which: 'src' | 'dst'): Match {
  const fam = cidr.family;
  if (fam === 4) {
    const mask = cidr.prefixLen === 0 ? 0 : (0xffffffff << (32 - cidr.prefixLen)) >>> 0;
    const net = (u32(cidr.addr.bytes) & mask) >>> 0;
    // A v4 CIDR never matches a v6 packet, negated or not: iptables and ip6tables are separate tables.
    return which === 'src'
      ? (p) => p.family === 4 && (((u32(p.src.bytes) & mask) >>> 0) === net) !== neg
      : (p) => p.family === 4 && (((u32(p.dst.bytes) & mask) >>> 0) === net) !== neg;
  }
  const bytes = cidr.addr.bytes;
  const len = cidr.prefixLen;
  return which === 'src'
    ? (p) => p.family === 6 && prefixEquals(p.src.bytes, bytes, len) !== neg
    : (p) => p.family === 6 && prefixEquals(p.dst.bytes, bytes, len) !== neg;
}

/** iptables -i/-o: "eth+" matches every name starting "eth"; "+" alone matches any. */
export function ifaceMatcher(name: string): (n: string) => boolean {
  if (name.endsWith('+')) {
    const pre = name.slice(0, -1);
    return (n) => n.length > 0 && n.startsWith(pre);
  }
  return (n) => n === name;
}

function hasPorts(proto: number): boolean {
  return proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP || proto === IpProto.UDPLITE;
}

/** Compiles every match of a rule into one closure (conjunction, cheapest tests first). */
export function compileMatch(r: RuleSpec, sets: SetRegistry, ct: Conntrack | null = null): Match {
  const ms: Match[] = [];
  if (r.family !== undefined) {
    const f = r.family;
    ms.push((p) => p.family === f);
  }
  if (r.protocol) {
    const { proto, neg } = r.protocol;
    ms.push((p) => (p.protocol === proto) !== neg);
  }
  if (r.src) ms.push(cidrMatch(r.src.cidr, r.src.neg, 'src'));
  if (r.dst) ms.push(cidrMatch(r.dst.cidr, r.dst.neg, 'dst'));
  if (r.inIface) {
    const m = ifaceMatcher(r.inIface.name);
    const neg = r.inIface.neg;
    ms.push((p) => m(p.inIface) !== neg);
  }
  if (r.outIface) {
    const m = ifaceMatcher(r.outIface.name);
    const neg = r.outIface.neg;
    ms.push((p) => m(p.outIface) !== neg);
  }
  // Port matches need a first fragment of a port-carrying protocol: iptables' tcp/udp matches
  // never match non-first fragments, negated or not (xt_tcpudp: "par->fragoff != 0 -> false").
  if (r.sport) {
    const { lo, hi } = r.sport.range;
    const neg = r.sport.neg;
    ms.push((p) => {
      const t = p.transport;
      if (p.fragment || t.length < 4 || !hasPorts(p.protocol)) return false;
      const v = (t[0] << 8) | t[1];
      return (v >= lo && v <= hi) !== neg;
    });
  }
  if (r.dport) {
    const { lo, hi } = r.dport.range;
    const neg = r.dport.neg;
    ms.push((p) => {
      const t = p.transport;
      if (p.fragment || t.length < 4 || !hasPorts(p.protocol)) return false;
      const v = (t[2] << 8) | t[3];
      return (v >= lo && v <= hi) !== neg;
    });
  }
  if (r.multiport) {
    const n = r.multiport.ports.length;
    const lo = Int32Array.from(r.multiport.ports, (x) => x.lo);
    const hi = Int32Array.from(r.multiport.ports, (x) => x.hi);
    const dir = r.multiport.dir;
    const neg = r.multiport.neg;
    const inList = (v: number): boolean => {
      for (let i = 0; i < n; i++) if (v >= lo[i] && v <= hi[i]) return true;
      return false;
    };
    ms.push((p) => {
      const t = p.transport;
      if (p.fragment || t.length < 4 || !hasPorts(p.protocol)) return false;
      const s = (t[0] << 8) | t[1];
      const d = (t[2] << 8) | t[3];
      const hit = dir === 'src' ? inList(s) : dir === 'dst' ? inList(d) : inList(s) || inList(d);
      return hit !== neg;
    });
  }
  if (r.tcpFlags) {
    const { mask, comp, neg } = r.tcpFlags;
    ms.push((p) => {
      const t = p.transport;
      if (p.protocol !== IpProto.TCP || p.fragment || t.length < 14) return false;
      return ((t[13] & mask) === comp) !== neg;
    });
  }
  if (r.icmpType) {
    const { type, code, neg, v6 } = r.icmpType;
    const proto = v6 ? IpProto.ICMPV6 : IpProto.ICMP;
    ms.push((p) => {
      const t = p.transport;
      if (p.protocol !== proto || p.fragment || t.length < 2) return false;
      // type 255 with code -1 is iptables' "any".
      const hit = (type === 255 && code < 0) || (t[0] === type && (code < 0 || t[1] === code));
      return hit !== neg;
    });
  }
  if (r.ctstate) {
    const { mask, neg } = r.ctstate;
    ms.push((p) => ((p.ctState & mask) !== 0) !== neg);
  }
  if (r.sets) {
    for (const s of r.sets) {
      const set: AddressSet = sets.get(s.name) ?? sets.create(s.name);
      const neg = s.neg;
      ms.push(s.dir === 'src' ? (p) => set.has(p.src) !== neg : (p) => set.has(p.dst) !== neg);
    }
  }
  if (r.owner) {
    const { uid, pid, command, neg } = r.owner;
    // xt_owner: only locally generated packets have an owner; without one the match fails, even negated.
    ms.push((p) => {
      const o = p.owner;
      if (!o) return false;
      const hit =
        (uid === undefined || o.uid === uid) && (pid === undefined || o.pid === pid) && (command === undefined || o.command === command);
      return hit !== neg;
    });
  }
  if (r.mark) {
    const { value, mask, neg } = r.mark;
    ms.push((p) => (((p.mark & mask) >>> 0) === value) !== neg);
  }
  if (r.connlimit) {
    const { above, dir, neg } = r.connlimit;
    // xt_connlimit counts tracked connections, this packet's own (new) entry included; an
    // untracked packet never matches.
    ms.push((p) => {
      if (!ct || !p.ct) return false;
      const n = dir === 'src' ? ct.connectionsFrom(p.src) : ct.connectionsTo(p.dst);
      return n > above !== neg;
    });
  }
  switch (ms.length) {
    case 0:
      return TRUE;
    case 1:
      return ms[0];
    case 2: {
      const [a, b] = ms;
      return (p) => a(p) && b(p);
    }
    case 3: {
      const [a, b, c] = ms;
      return (p) => a(p) && b(p) && c(p);
    }
    default: {
      const arr = ms;
      const n = arr.length;
      return (p) => {
        for (let i = 0; i < n; i++) if (!arr[i](p)) return false;
        return true;
      };
    }
  }
}
