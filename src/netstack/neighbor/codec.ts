// Private codecs for the messages this directory sends and receives: ARP over Ethernet/IPv4
// (RFC 826) and the NDP messages of RFC 4861 §4 with the options of §4.6. Kept small and
// local so that neighbor/ does not depend on codecs still being written in wire/; they follow
// wire/'s conventions (parsers return a value or a reason string, never throw).

import { IpAddr } from '../wire/ip-address.js';
import { readU16, readU32, writeU16, writeU32 } from '../wire/bytes.js';
import { transportChecksum, verifyTransportChecksum } from '../wire/checksum.js';

// ---- ARP (RFC 826) ---------------------------------------------------------------------------

export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
export const ARP_LEN = 28;

export interface ArpPacket {
  op: number;
  sha: Uint8Array;
  spa: IpAddr;
  tha: Uint8Array;
  tpa: IpAddr;
}

/** Ethernet/IPv4 ARP only: hardware type 1, protocol 0x0800, lengths 6 and 4. */
export function parseArpPacket(b: Uint8Array): ArpPacket | 'truncated' | 'unsupported' {
  if (b.length < ARP_LEN) return 'truncated';
  if (readU16(b, 0) !== 1 || readU16(b, 2) !== 0x0800 || b[4] !== 6 || b[5] !== 4) return 'unsupported';
  return {
    op: readU16(b, 6),
    sha: b.subarray(8, 14),
    spa: IpAddr.read(4, b, 14),
    tha: b.subarray(18, 24),
    tpa: IpAddr.read(4, b, 24),
  };
}

export function buildArp(op: number, sha: Uint8Array, spa: IpAddr, tha: Uint8Array, tpa: IpAddr): Uint8Array {
  const b = new Uint8Array(ARP_LEN);
  writeU16(b, 0, 1);
  writeU16(b, 2, 0x0800);
  b[4] = 6;
  b[5] = 4;
  writeU16(b, 6, op);
  b.set(sha, 8);
  spa.write(b, 14);
  b.set(tha, 18);
  tpa.write(b, 24);
  return b;
}

// ---- NDP (RFC 4861 §4) -----------------------------------------------------------------------

export const ICMPV6_NEXT_HEADER = 58;
export const NDP_RS = 133;
export const NDP_RA = 134;
export const NDP_NS = 135;
export const NDP_NA = 136;
export const NDP_REDIRECT = 137;

const OPT_SLLA = 1;
const OPT_TLLA = 2;
const OPT_PREFIX = 3;
const OPT_MTU = 5;

export interface PrefixInfo {
  prefixLen: number;
  onLink: boolean;
  autonomous: boolean;
  validLifetimeS: number;
  preferredLifetimeS: number;
  prefix: IpAddr;
}

export interface NdpOpts {
  slla: Uint8Array | null;
  tlla: Uint8Array | null;
  mtu: number | null;
  prefixes: PrefixInfo[];
}

export type NdpMessage =
  | { type: typeof NDP_RS; opts: NdpOpts }
  | {
      type: typeof NDP_RA;
      curHopLimit: number;
      managed: boolean;
      other: boolean;
      routerLifetimeS: number;
      reachableTimeMs: number;
      retransTimerMs: number;
      opts: NdpOpts;
    }
  | { type: typeof NDP_NS; target: IpAddr; opts: NdpOpts }
  | { type: typeof NDP_NA; router: boolean; solicited: boolean; override: boolean; target: IpAddr; opts: NdpOpts }
  | { type: typeof NDP_REDIRECT };

export type NdpError = 'truncated' | 'bad-code' | 'bad-option' | 'not-ndp';

/** §4.6: options fill the rest of the message; a zero length is invalid and voids the message. */
function parseOpts(b: Uint8Array, off: number): NdpOpts | NdpError {
  const o: NdpOpts = { slla: null, tlla: null, mtu: null, prefixes: [] };
  while (off < b.length) {
    if (off + 2 > b.length) return 'bad-option';
    const type = b[off];
    const len = b[off + 1] * 8;
    if (len === 0 || off + len > b.length) return 'bad-option';
    switch (type) {
      case OPT_SLLA:
      case OPT_TLLA:
        // §4.6.1 for Ethernet (RFC 2464 §8): length 1, a 6-byte address.
        if (len !== 8) return 'bad-option';
        if (type === OPT_SLLA) o.slla = b.subarray(off + 2, off + 8);
        else o.tlla = b.subarray(off + 2, off + 8);
        break;
      case OPT_PREFIX: {
        // §4.6.2: always length 4.
        if (len !== 32) return 'bad-option';
        const prefixLen = b[off + 2];
        if (prefixLen > 128) return 'bad-option';
        o.prefixes.push({
          prefixLen,
          onLink: (b[off + 3] & 0x80) !== 0,
          autonomous: (b[off + 3] & 0x40) !== 0,
          validLifetimeS: readU32(b, off + 4),
          preferredLifetimeS: readU32(b, off + 8),
          prefix: IpAddr.read(6, b, off + 16),
        });
        break;
      }
      case OPT_MTU:
        // §4.6.4: length 1.
        if (len !== 8) return 'bad-option';
        o.mtu = readU32(b, off + 4);
        break;
      default:
        // §4.6: "silently ignore any options they do not recognize".
        break;
    }
    off += len;
  }
  return o;
}

/** Parses an ICMPv6 NDP message (ICMPv6 header included). The checksum is checked separately. */
export function parseNdp(b: Uint8Array): NdpMessage | NdpError {
  if (b.length < 4) return 'truncated';
  const type = b[0];
  if (type < NDP_RS || type > NDP_REDIRECT) return 'not-ndp';
  // §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: ICMP Code is 0.
  if (b[1] !== 0) return 'bad-code';
  switch (type) {
    case NDP_RS: {
      if (b.length < 8) return 'truncated';
      const opts = parseOpts(b, 8);
      return typeof opts === 'string' ? opts : { type: NDP_RS, opts };
    }
    case NDP_RA: {
      if (b.length < 16) return 'truncated';
      const opts = parseOpts(b, 16);
      if (typeof opts === 'string') return opts;
      return {
        type: NDP_RA,
        curHopLimit: b[4],
        managed: (b[5] & 0x80) !== 0,
        other: (b[5] & 0x40) !== 0,
        routerLifetimeS: readU16(b, 6),
        reachableTimeMs: readU32(b, 8),
        retransTimerMs: readU32(b, 12),
        opts,
      };
    }
    case NDP_NS: {
      if (b.length < 24) return 'truncated';
      const opts = parseOpts(b, 24);
      return typeof opts === 'string' ? opts : { type: NDP_NS, target: IpAddr.read(6, b, 8), opts };
    }
    case NDP_NA: {
      if (b.length < 24) return 'truncated';
      const opts = parseOpts(b, 24);
      if (typeof opts === 'string') return opts;
      return {
        type: NDP_NA,
        router: (b[4] & 0x80) !== 0,
        solicited: (b[4] & 0x40) !== 0,
        override: (b[4] & 0x20) !== 0,
        target: IpAddr.read(6, b, 8),
        opts,
      };
    }
    default:
      if (b.length < 40) return 'truncated';
      return { type: NDP_REDIRECT };
  }
}

export function verifyIcmpv6Checksum(src: IpAddr, dst: IpAddr, icmp: Uint8Array): boolean {
  return verifyTransportChecksum(src, dst, ICMPV6_NEXT_HEADER, icmp);
}

/** RFC 4443 §2.3: the checksum covers the IPv6 pseudo-header; the field must be zero before. */
export function fillIcmpv6Checksum(src: IpAddr, dst: IpAddr, icmp: Uint8Array): Uint8Array {
  writeU16(icmp, 2, 0);
  writeU16(icmp, 2, transportChecksum(src, dst, ICMPV6_NEXT_HEADER, icmp));
  return icmp;
}

function putLla(b: Uint8Array, off: number, type: number, mac: Uint8Array): void {
  b[off] = type;
  b[off + 1] = 1;
  b.set(mac, off + 2);
}

/** §4.3 Neighbor Solicitation; `slla` null for DAD (source ::, §7.2.2 / RFC 4862 §5.4.2). */
export function buildNs(target: IpAddr, slla: Uint8Array | null): Uint8Array {
  const b = new Uint8Array(24 + (slla ? 8 : 0));
  b[0] = NDP_NS;
  target.write(b, 8);
  if (slla) putLla(b, 24, OPT_SLLA, slla);
  return b;
}

/** §4.4 Neighbor Advertisement with a target link-layer address option. */
export function buildNa(f: { router: boolean; solicited: boolean; override: boolean }, target: IpAddr, tlla: Uint8Array | null): Uint8Array {
  const b = new Uint8Array(24 + (tlla ? 8 : 0));
  b[0] = NDP_NA;
  b[4] = (f.router ? 0x80 : 0) | (f.solicited ? 0x40 : 0) | (f.override ? 0x20 : 0);
  target.write(b, 8);
  if (tlla) putLla(b, 24, OPT_TLLA, tlla);
  return b;
}

/** §4.1 Router Solicitation; no SLLA when sent from :: (§4.1 "MUST NOT be included"). */
export function buildRs(slla: Uint8Array | null): Uint8Array {
  const b = new Uint8Array(8 + (slla ? 8 : 0));
  b[0] = NDP_RS;
  if (slla) putLla(b, 8, OPT_SLLA, slla);
  return b;
}

/** §4.2 Router Advertisement (hosts do not send these; tests and a future router role do). */
export function buildRa(ra: {
  curHopLimit?: number;
  managed?: boolean;
  other?: boolean;
  routerLifetimeS: number;
  reachableTimeMs?: number;
  retransTimerMs?: number;
  slla?: Uint8Array | null;
  mtu?: number | null;
  prefixes?: PrefixInfo[];
}): Uint8Array {
  const prefixes = ra.prefixes ?? [];
  const len = 16 + (ra.slla ? 8 : 0) + (ra.mtu != null ? 8 : 0) + prefixes.length * 32;
  const b = new Uint8Array(len);
  b[0] = NDP_RA;
  b[4] = ra.curHopLimit ?? 0;
  b[5] = (ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0);
  writeU16(b, 6, ra.routerLifetimeS);
  writeU32(b, 8, ra.reachableTimeMs ?? 0);
  writeU32(b, 12, ra.retransTimerMs ?? 0);
  let off = 16;
  if (ra.slla) {
    putLla(b, off, OPT_SLLA, ra.slla);
    off += 8;
  }
  if (ra.mtu != null) {
    b[off] = OPT_MTU;
    b[off + 1] = 1;
    writeU32(b, off + 4, ra.mtu);
    off += 8;
  }
  for (const p of prefixes) {
    b[off] = OPT_PREFIX;
    b[off + 1] = 4;
    b[off + 2] = p.prefixLen;
    b[off + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    writeU32(b, off + 4, p.validLifetimeS);
    writeU32(b, off + 8, p.preferredLifetimeS);
    p.prefix.write(b, off + 16);
    off += 32;
  }
  return b;
}

// ---- IPv6 addresses used by NDP ----------------------------------------------------------------

export const ALL_NODES = IpAddr.parse('ff02::1');
export const ALL_ROUTERS = IpAddr.parse('ff02::2');

/** RFC 4291 §2.7.1: ff02::1:ffXX:XXXX from the low 24 bits of the address. */
export function solicitedNode(addr: IpAddr): IpAddr {
  const b = new Uint8Array(16);
  b[0] = 0xff;
  b[1] = 0x02;
  b[11] = 0x01;
  b[12] = 0xff;
  b[13] = addr.bytes[13];
  b[14] = addr.bytes[14];
  b[15] = addr.bytes[15];
  return IpAddr.v6(b);
}

export function isSolicitedNode(addr: IpAddr): boolean {
  const b = addr.bytes;
  if (addr.family !== 6 || b[0] !== 0xff || b[1] !== 0x02 || b[11] !== 0x01 || b[12] !== 0xff) return false;
  for (let i = 2; i < 11; i++) if (b[i] !== 0) return false;
  return true;
}

/** RFC 4291 App. A: modified EUI-64 from a 48-bit MAC (insert ff:fe, flip the U/L bit). */
export function eui64InterfaceId(mac: Uint8Array): Uint8Array {
  return Uint8Array.of(mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]);
}

/** The upper 64 bits of `prefix` followed by the modified EUI-64 of `mac`. */
export function addressFromPrefix(prefix: IpAddr, mac: Uint8Array): IpAddr {
  const b = new Uint8Array(16);
  b.set(prefix.bytes.subarray(0, 8), 0);
  b.set(eui64InterfaceId(mac), 8);
  return IpAddr.v6(b);
}

/** RFC 4862 §5.3: fe80::/64 + interface identifier. */
export function linkLocalFromMac(mac: Uint8Array): IpAddr {
  return addressFromPrefix(IpAddr.parse('fe80::'), mac);
}
