// What the rule engine sees of one packet: a superset of the stack's FilterPacket (stack.ts)
// with the fields netfilter's skb gives its matches and targets: interface names, the mark,
// the whole IP datagram (NAT rewrites it in place), and the conntrack entry once resolved.
// One FilterInput is reused per caller, so a packet costs no allocation in the engine.
// Read: RFC 791 §3.1, RFC 8200 §4 (where the transport header starts).

import type { IpAddr } from '../wire/ip-address.js';
import { IpAddr as Addr } from '../wire/ip-address.js';
import { isIpv6ExtensionHeader, walkIpv6Extensions } from '../wire/ipv6-ext.js';
import type { FlowOwner } from '../transport.js';
import type { HookPoint } from '../stack.js';
import type { CtEntry } from './conntrack.js';

export type { HookPoint };

/** Conntrack state bits, as iptables' --ctstate names them. */
export const CtState = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  UNTRACKED: 16,
} as const;

/** Direction of a packet relative to its conntrack entry. */
export const CtDir = { ORIGINAL: 0, REPLY: 1 } as const;

export class FilterInput {
  hook: HookPoint = 'PREROUTING';
  family: 4 | 6 = 4;
  src: IpAddr = Addr.ANY4;
  dst: IpAddr = Addr.ANY4;
  protocol = 0;
  /** Transport header and data (ports at offset 0); fragment data when `fragment`. */
  transport: Uint8Array = EMPTY;
  fragment = false;
  /** Length of the whole IP datagram (counters count it). */
  length = 0;
  inNic = 0;
  outNic = 0;
  /** Interface names for -i/-o; empty when unknown (then only a negated match can succeed). */
  inIface = '';
  outIface = '';
  owner: FlowOwner | undefined = undefined;
  /** skb->mark: set by MARK, matched by -m mark. Survives across hooks only when the caller keeps it. */
  mark = 0;
  /** The whole IP datagram, writable: needed for NAT and REJECT replies. Null when the caller has only headers. */
  datagram: Uint8Array | null = null;
  /** Offset of `transport` inside `datagram`. */
  l4Offset = 0;
  /** Resolved by the engine's conntrack step (null: untracked or not yet looked up). */
  ct: CtEntry | null = null;
  ctDir = 0;
  ctState = 0;
  /** Set once conntrack has been consulted for this packet (per hook call unless the caller keeps the object). */
  ctDone = false;
  /** Per-packet cache the engine fills before walking rules (IPv4 addresses as signed 32-bit, ports or -1). */
  src4 = 0;
  dst4 = 0;
  sport = -1;
  dport = -1;

  /** Resets per-packet state so the object can describe the next packet. */
  reset(): this {
    this.fragment = false;
    this.inNic = 0;
    this.outNic = 0;
    this.inIface = '';
    this.outIface = '';
    this.owner = undefined;
    this.mark = 0;
    this.datagram = null;
    this.l4Offset = 0;
    this.ct = null;
    this.ctDir = 0;
    this.ctState = 0;
    this.ctDone = false;
    return this;
  }

  /**
   * Fills the fields from a whole IP datagram (tests, the NAT path, future stack integration).
   * Returns false (and leaves the input unusable) when the datagram cannot be read: the engine
   * treats such packets as INVALID rather than throwing.
   */
  setDatagram(d: Uint8Array, srcHint?: IpAddr, dstHint?: IpAddr): boolean {
    this.datagram = d;
    this.length = d.length;
    if (d.length < 1) return false;
    const v = d[0] >> 4;
    if (v === 4) {
      if (d.length < 20) return false;
      const hl = (d[0] & 15) * 4;
      const total = (d[2] << 8) | d[3];
      if (hl < 20 || total < hl || total > d.length) return false;
      this.family = 4;
      // The caller usually knows the addresses already: reuse them (no allocation) when they match.
      this.src = readAddr(4, d, 12, srcHint);
      this.dst = readAddr(4, d, 16, dstHint);
      this.protocol = d[9];
      this.fragment = (((d[6] << 8) | d[7]) & 0x1fff) !== 0;
      this.l4Offset = hl;
      this.transport = d.subarray(hl, total);
      this.length = total;
      return true;
    }
    if (v === 6) {
      if (d.length < 40) return false;
      const end = 40 + ((d[4] << 8) | d[5]);
      if (end > d.length) return false;
      this.family = 6;
      this.src = readAddr(6, d, 8, srcHint);
      this.dst = readAddr(6, d, 24, dstHint);
      this.length = end;
      let proto = d[6];
      let off = 40;
      // RFC 8200 §4.1: extension headers come first; the engine matches on the upper layer.
      if (isIpv6ExtensionHeader(proto)) {
        const chain = walkIpv6Extensions(proto, d.subarray(40, end));
        if (typeof chain === 'string') return false;
        if (chain.fragment) {
          this.fragment = chain.fragment.offset !== 0;
          proto = chain.fragment.nextHeader;
          off = 40 + chain.fragmentOffset + 8;
        } else {
          proto = chain.upperProtocol;
          off = 40 + chain.upperOffset;
        }
      }
      this.protocol = proto;
      this.l4Offset = off;
      this.transport = d.subarray(off, end);
      return true;
    }
    return false;
  }
}

const EMPTY = new Uint8Array(0);

function readAddr(family: 4 | 6, d: Uint8Array, off: number, hint: IpAddr | undefined): IpAddr {
  if (hint && hint.family === family) {
    const b = hint.bytes;
    let same = true;
    for (let i = 0; i < b.length; i++) {
      if (d[off + i] !== b[i]) {
        same = false;
        break;
      }
    }
    if (same) return hint;
  }
  return Addr.read(family, d, off);
}

/** Source port of a TCP/UDP/SCTP/UDPLITE packet (first 2 bytes of the transport header); -1 if absent. */
export function srcPort(p: FilterInput): number {
  const t = p.transport;
  return t.length >= 4 && !p.fragment ? (t[0] << 8) | t[1] : -1;
}
export function dstPort(p: FilterInput): number {
  const t = p.transport;
  return t.length >= 4 && !p.fragment ? (t[2] << 8) | t[3] : -1;
}
