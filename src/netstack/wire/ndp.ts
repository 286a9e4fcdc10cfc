// Neighbor Discovery messages and options (carried in ICMPv6; icmpv6.ts dispatches here).
// Read: RFC 4861 §4 (message formats: RS §4.1, RA §4.2, NS §4.3, NA §4.4, Redirect §4.5),
// §4.6 (options; §4.6.2 prefix information), §6.1/§7.1.1 (validation: code 0, length 0
// options are invalid); RFC 4862 §5.5.3 (L/A flags, lifetimes); RFC 4191 (RA preference);
// RFC 8106 §5.1 (RDNSS). Checks that need the IP header (hop limit 255, source address
// rules) belong to the neighbour layer.

import type { WireError } from './error.js';
import { IpAddr } from './ip-address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

export const NdpType = {
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
  REDIRECT: 137,
} as const;

export const NdpOptionType = {
  SOURCE_LINK_ADDR: 1,
  TARGET_LINK_ADDR: 2,
  PREFIX_INFO: 3,
  REDIRECTED_HEADER: 4,
  MTU: 5,
  NONCE: 14, // RFC 3971 §5.3.2, used by DAD (RFC 7527 §4.1); kept raw
  ROUTE_INFO: 24, // RFC 4191 (kept raw)
  RDNSS: 25,
  DNSSL: 31, // RFC 8106 (kept raw)
} as const;

/** RFC 4861 §4.6.2 with RFC 4862 §5.5.3 semantics. Lifetimes in seconds; 0xffffffff = infinity. */
export interface NdpPrefixInfo {
  prefixLen: number;
  /** L: the prefix is on-link. */
  onLink: boolean;
  /** A: usable for stateless address autoconfiguration. */
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
  prefix: IpAddr;
}

/** RFC 8106 §5.1. Lifetime in seconds (0xffffffff = infinity, 0 = stop using). */
export interface NdpRdnss {
  lifetime: number;
  servers: IpAddr[];
}

export interface NdpRawOption {
  type: number;
  /** The bytes after type and length (8n - 2 of them; emit zero-pads shorter data). */
  data: Uint8Array;
}

/**
 * The options of one message. Parse sets every field (null / [] when absent); for emit, absent
 * fields are not sent. Link-layer addresses are 6 bytes on Ethernet.
 */
export interface NdpOptions {
  sourceLinkAddr?: Uint8Array | null;
  targetLinkAddr?: Uint8Array | null;
  prefixes?: NdpPrefixInfo[];
  mtu?: number | null;
  rdnss?: NdpRdnss[];
  /** Redirected Header option: the quoted packet (RFC 4861 §4.6.3). */
  redirectedHeader?: Uint8Array | null;
  /** Options not interpreted here, kept raw (RFC 4861 §4.6: receivers ignore unknown options). */
  unknown?: NdpRawOption[];
}

export type NdpRepr =
  | { kind: 'router-solicit'; options: NdpOptions }
  | {
      kind: 'router-advert';
      /** 0 = unspecified. */
      curHopLimit: number;
      /** M: addresses via DHCPv6. */
      managed: boolean;
      /** O: other configuration via DHCPv6. */
      other: boolean;
      /** RFC 4191 §2.2 Prf bits as sent: 0 medium, 1 high, 3 low (2 reserved). */
      preference?: number;
      /** Seconds; 0 = not a default router. */
      routerLifetime: number;
      /** Milliseconds; 0 = unspecified. */
      reachableTime: number;
      /** Milliseconds; 0 = unspecified. */
      retransTimer: number;
      options: NdpOptions;
    }
  | { kind: 'neighbor-solicit'; target: IpAddr; options: NdpOptions }
  | { kind: 'neighbor-advert'; router: boolean; solicited: boolean; override: boolean; target: IpAddr; options: NdpOptions }
  | { kind: 'redirect'; target: IpAddr; destination: IpAddr; options: NdpOptions };

/** Minimum message lengths, ICMP header included (RFC 4861 §6.1.1, §7.1.1, §8.1). */
function minLen(type: number): number {
  switch (type) {
    case NdpType.ROUTER_SOLICIT:
      return 8;
    case NdpType.ROUTER_ADVERT:
      return 16;
    case NdpType.NEIGHBOR_SOLICIT:
    case NdpType.NEIGHBOR_ADVERT:
      return 24;
    default:
      return 40;
  }
}

export function isNdpType(type: number): boolean {
  return type >= NdpType.ROUTER_SOLICIT && type <= NdpType.REDIRECT;
}

/**
 * Parses an NDP message: `msg` is the whole ICMPv6 message (type at byte 0), checksum already
 * verified. Code must be 0 (RFC 4861 §6.1.1 etc.), else 'malformed'.
 */
export function parseNdp(msg: Uint8Array): NdpRepr | WireError {
  const type = msg[0];
  if (!isNdpType(type)) return 'unsupported';
  if (msg.length < minLen(type)) return 'truncated';
  if (msg[1] !== 0) return 'malformed';
  const options = parseNdpOptions(msg.subarray(minLen(type)));
  if (typeof options === 'string') return options;
  switch (type) {
    case NdpType.ROUTER_SOLICIT:
      return { kind: 'router-solicit', options };
    case NdpType.ROUTER_ADVERT:
      return {
        kind: 'router-advert',
        curHopLimit: msg[4],
        managed: (msg[5] & 0x80) !== 0,
        other: (msg[5] & 0x40) !== 0,
        preference: (msg[5] >>> 3) & 3,
        routerLifetime: readU16(msg, 6),
        reachableTime: readU32(msg, 8),
        retransTimer: readU32(msg, 12),
        options,
      };
    case NdpType.NEIGHBOR_SOLICIT:
      return { kind: 'neighbor-solicit', target: IpAddr.read(6, msg, 8), options };
    case NdpType.NEIGHBOR_ADVERT:
      return {
        kind: 'neighbor-advert',
        router: (msg[4] & 0x80) !== 0,
        solicited: (msg[4] & 0x40) !== 0,
        override: (msg[4] & 0x20) !== 0,
        target: IpAddr.read(6, msg, 8),
        options,
      };
    default:
      return { kind: 'redirect', target: IpAddr.read(6, msg, 8), destination: IpAddr.read(6, msg, 24), options };
  }
}

/** Walks an NDP option area (RFC 4861 §4.6). A zero length or an overrun is 'bad-option'. */
export function parseNdpOptions(area: Uint8Array): NdpOptions | WireError {
  const o: NdpOptions = {
    sourceLinkAddr: null,
    targetLinkAddr: null,
    prefixes: [],
    mtu: null,
    rdnss: [],
    redirectedHeader: null,
    unknown: [],
  };
  let i = 0;
  while (i < area.length) {
    if (i + 2 > area.length) return 'bad-option';
    const type = area[i];
    const len = area[i + 1] * 8;
    // RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero."
    if (len === 0 || i + len > area.length) return 'bad-option';
    const opt = area.subarray(i, i + len);
    switch (type) {
      case NdpOptionType.SOURCE_LINK_ADDR:
        o.sourceLinkAddr = opt.subarray(2);
        break;
      case NdpOptionType.TARGET_LINK_ADDR:
        o.targetLinkAddr = opt.subarray(2);
        break;
      case NdpOptionType.PREFIX_INFO:
        if (len !== 32) return 'bad-option';
        o.prefixes!.push({
          prefixLen: opt[2],
          onLink: (opt[3] & 0x80) !== 0,
          autonomous: (opt[3] & 0x40) !== 0,
          validLifetime: readU32(opt, 4),
          preferredLifetime: readU32(opt, 8),
          prefix: IpAddr.read(6, opt, 16),
        });
        break;
      case NdpOptionType.REDIRECTED_HEADER:
        o.redirectedHeader = opt.subarray(8);
        break;
      case NdpOptionType.MTU:
        if (len !== 8) return 'bad-option';
        o.mtu = readU32(opt, 4);
        break;
      case NdpOptionType.RDNSS: {
        // RFC 8106 §5.1: length 3 + 2 per address, at least one address.
        if (len < 24 || (len - 8) % 16 !== 0) return 'bad-option';
        const servers: IpAddr[] = [];
        for (let k = 8; k < len; k += 16) servers.push(IpAddr.read(6, opt, k));
        o.rdnss!.push({ lifetime: readU32(opt, 4), servers });
        break;
      }
      default:
        o.unknown!.push({ type, data: opt.subarray(2) });
    }
    i += len;
  }
  return o;
}

function linkAddrOptLen(addr: Uint8Array): number {
  return (2 + addr.length + 7) & ~7;
}

export function ndpOptionsLen(o: NdpOptions): number {
  let n = 0;
  if (o.sourceLinkAddr) n += linkAddrOptLen(o.sourceLinkAddr);
  if (o.targetLinkAddr) n += linkAddrOptLen(o.targetLinkAddr);
  if (o.prefixes) n += 32 * o.prefixes.length;
  if (o.mtu != null) n += 8;
  if (o.rdnss) for (const r of o.rdnss) n += 8 + 16 * r.servers.length;
  if (o.redirectedHeader) n += (8 + o.redirectedHeader.length + 7) & ~7;
  if (o.unknown) for (const u of o.unknown) n += (2 + u.data.length + 7) & ~7;
  return n;
}

function emitRaw(type: number, data: Uint8Array, dataOff: number, buf: Uint8Array, p: number): number {
  const len = (dataOff + data.length + 7) & ~7;
  if (len > 255 * 8) throw new RangeError('NDP option too long');
  buf[p] = type;
  buf[p + 1] = len / 8;
  buf.fill(0, p + 2, p + dataOff);
  buf.set(data, p + dataOff);
  buf.fill(0, p + dataOff + data.length, p + len);
  return len;
}

/** Writes the options at `off` in a fixed order; returns their length. */
export function emitNdpOptions(o: NdpOptions, buf: Uint8Array, off: number): number {
  let p = off;
  if (o.sourceLinkAddr) p += emitRaw(NdpOptionType.SOURCE_LINK_ADDR, o.sourceLinkAddr, 2, buf, p);
  if (o.targetLinkAddr) p += emitRaw(NdpOptionType.TARGET_LINK_ADDR, o.targetLinkAddr, 2, buf, p);
  if (o.prefixes) {
    for (const pi of o.prefixes) {
      buf[p] = NdpOptionType.PREFIX_INFO;
      buf[p + 1] = 4;
      buf[p + 2] = pi.prefixLen;
      buf[p + 3] = (pi.onLink ? 0x80 : 0) | (pi.autonomous ? 0x40 : 0);
      writeU32(buf, p + 4, pi.validLifetime);
      writeU32(buf, p + 8, pi.preferredLifetime);
      writeU32(buf, p + 12, 0);
      buf.set(pi.prefix.bytes, p + 16);
      p += 32;
    }
  }
  if (o.mtu != null) {
    buf[p] = NdpOptionType.MTU;
    buf[p + 1] = 1;
    writeU16(buf, p + 2, 0);
    writeU32(buf, p + 4, o.mtu);
    p += 8;
  }
  if (o.rdnss) {
    for (const r of o.rdnss) {
      const len = 8 + 16 * r.servers.length;
      buf[p] = NdpOptionType.RDNSS;
      buf[p + 1] = len / 8;
      writeU16(buf, p + 2, 0);
      writeU32(buf, p + 4, r.lifetime);
      for (let k = 0; k < r.servers.length; k++) buf.set(r.servers[k].bytes, p + 8 + 16 * k);
      p += len;
    }
  }
  if (o.redirectedHeader) p += emitRaw(NdpOptionType.REDIRECTED_HEADER, o.redirectedHeader, 8, buf, p);
  if (o.unknown) for (const u of o.unknown) p += emitRaw(u.type, u.data, 2, buf, p);
  return p - off;
}

export function ndpBufferLen(repr: NdpRepr): number {
  const fixed = repr.kind === 'router-solicit' ? 8 : repr.kind === 'router-advert' ? 16 : repr.kind === 'redirect' ? 40 : 24;
  return fixed + ndpOptionsLen(repr.options);
}

/** Writes the whole message with a zero checksum (icmpv6.ts fills it); returns its length. */
export function emitNdp(repr: NdpRepr, buf: Uint8Array, off = 0): number {
  buf[off + 1] = 0;
  writeU16(buf, off + 2, 0);
  writeU32(buf, off + 4, 0);
  let fixed = 8;
  switch (repr.kind) {
    case 'router-solicit':
      buf[off] = NdpType.ROUTER_SOLICIT;
      break;
    case 'router-advert':
      buf[off] = NdpType.ROUTER_ADVERT;
      buf[off + 4] = repr.curHopLimit;
      buf[off + 5] = (repr.managed ? 0x80 : 0) | (repr.other ? 0x40 : 0) | (((repr.preference ?? 0) & 3) << 3);
      writeU16(buf, off + 6, repr.routerLifetime);
      writeU32(buf, off + 8, repr.reachableTime);
      writeU32(buf, off + 12, repr.retransTimer);
      fixed = 16;
      break;
    case 'neighbor-solicit':
      buf[off] = NdpType.NEIGHBOR_SOLICIT;
      buf.set(repr.target.bytes, off + 8);
      fixed = 24;
      break;
    case 'neighbor-advert':
      buf[off] = NdpType.NEIGHBOR_ADVERT;
      buf[off + 4] = (repr.router ? 0x80 : 0) | (repr.solicited ? 0x40 : 0) | (repr.override ? 0x20 : 0);
      buf.set(repr.target.bytes, off + 8);
      fixed = 24;
      break;
    case 'redirect':
      buf[off] = NdpType.REDIRECT;
      buf.set(repr.target.bytes, off + 8);
      buf.set(repr.destination.bytes, off + 24);
      fixed = 40;
      break;
  }
  return fixed + emitNdpOptions(repr.options, buf, off + fixed);
}
