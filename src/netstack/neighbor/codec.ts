// Building the NDP and ARP messages this directory sends, over the wire/ codecs (wire/ndp.ts,
// wire/arp.ts, wire/icmpv6.ts), and the IPv6 addresses NDP derives: solicited-node groups
// (RFC 4291 §2.7.1), modified EUI-64 interface identifiers (RFC 4291 App. A), link-local
// addresses (RFC 4862 §5.3).

import { IpAddr } from '../wire/ip-address.js';
import { emitArp } from '../wire/arp.js';
import { ARP_LEN } from '../wire/arp.js';
import { emitNdp, ndpBufferLen, type NdpPrefixInfo, type NdpRdnss, type NdpRepr } from '../wire/ndp.js';
import { Icmpv6Packet } from '../wire/icmpv6.js';
import { IpProto } from '../wire/ip-proto.js';

export const ICMPV6_NEXT_HEADER = IpProto.ICMPV6;

export function buildArp(op: number, sha: Uint8Array, spa: IpAddr, tha: Uint8Array, tpa: IpAddr): Uint8Array {
  const b = new Uint8Array(ARP_LEN);
  emitArp({ op, senderMac: sha, senderIp: spa, targetMac: tha, targetIp: tpa }, b, 0);
  return b;
}

function build(repr: NdpRepr): Uint8Array {
  const b = new Uint8Array(ndpBufferLen(repr));
  emitNdp(repr, b, 0);
  return b;
}

/** RFC 3971 §5.3.2 Nonce option, which RFC 7527 §4.1 puts in DAD solicitations. */
export const NDP_OPT_NONCE = 14;

/**
 * RFC 4861 §4.3 Neighbor Solicitation; `slla` null for DAD (RFC 4862 §5.4.2: source ::), which
 * carries a 6-byte `nonce` instead (RFC 7527 §4.1).
 */
export function buildNs(target: IpAddr, slla: Uint8Array | null, nonce?: Uint8Array): Uint8Array {
  return build({
    kind: 'neighbor-solicit',
    target,
    options: { sourceLinkAddr: slla, unknown: nonce ? [{ type: NDP_OPT_NONCE, data: nonce }] : [] },
  });
}

/** RFC 4861 §4.4 Neighbor Advertisement. */
export function buildNa(
  f: { router: boolean; solicited: boolean; override: boolean },
  target: IpAddr,
  tlla: Uint8Array | null,
): Uint8Array {
  return build({ kind: 'neighbor-advert', ...f, target, options: { targetLinkAddr: tlla } });
}

/** RFC 4861 §4.1 Router Solicitation; no SLLA when sent from :: (§4.1 "MUST NOT"). */
export function buildRs(slla: Uint8Array | null): Uint8Array {
  return build({ kind: 'router-solicit', options: { sourceLinkAddr: slla } });
}

/** RFC 4861 §4.2 Router Advertisement (hosts never send one; tests and a router role do). */
export function buildRa(ra: {
  curHopLimit?: number;
  managed?: boolean;
  other?: boolean;
  routerLifetimeS: number;
  reachableTimeMs?: number;
  retransTimerMs?: number;
  slla?: Uint8Array | null;
  mtu?: number | null;
  prefixes?: NdpPrefixInfo[];
  rdnss?: NdpRdnss[];
}): Uint8Array {
  return build({
    kind: 'router-advert',
    curHopLimit: ra.curHopLimit ?? 0,
    managed: ra.managed ?? false,
    other: ra.other ?? false,
    routerLifetime: ra.routerLifetimeS,
    reachableTime: ra.reachableTimeMs ?? 0,
    retransTimer: ra.retransTimerMs ?? 0,
    options: { sourceLinkAddr: ra.slla ?? null, mtu: ra.mtu ?? null, prefixes: ra.prefixes ?? [], rdnss: ra.rdnss ?? [] },
  });
}

export function verifyIcmpv6Checksum(src: IpAddr, dst: IpAddr, icmp: Uint8Array): boolean {
  const p = Icmpv6Packet.view(icmp);
  return typeof p !== 'string' && p.verifyChecksum(src, dst);
}

/** RFC 4443 §2.3: the checksum covers the IPv6 pseudo-header. */
export function fillIcmpv6Checksum(src: IpAddr, dst: IpAddr, icmp: Uint8Array): Uint8Array {
  const p = Icmpv6Packet.view(icmp);
  if (typeof p === 'string') throw new RangeError(`ICMPv6 message of ${icmp.length} bytes is too short`);
  p.fillChecksum(src, dst);
  return icmp;
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
