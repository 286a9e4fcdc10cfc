// Ethernet II framing with IEEE 802.1Q VLAN tags (and 802.1ad QinQ outer tags), plus MAC
// address helpers. Read: IEEE 802.3 §3.2 (frame), IEEE 802.1Q §9.6 (tag: TPID, PCP, DEI, VID),
// RFC 1112 §6.4 (IPv4 multicast MAC 01:00:5e + low 23 bits), RFC 2464 §7 (IPv6 multicast MAC
// 33:33 + low 32 bits). The FCS is never present (links strip it).

import type { WireError } from './error.js';
import type { IpAddr } from './ip-address.js';
import { copyBytes, readU16, writeU16 } from './bytes.js';

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
} as const;

export const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;
/** Tags we unwrap before giving up: QinQ has two; more is not something real links send. */
const MAX_VLAN_TAGS = 2;

/** A MAC address: 6 bytes. */
export type MacAddr = Uint8Array;

export const MAC_BROADCAST: MacAddr = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const MAC_ZERO: MacAddr = new Uint8Array(6);

/** "aa:bb:cc:dd:ee:ff" (lower case). */
export function formatMac(mac: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    if (i) s += ':';
    s += (mac[i] < 16 ? '0' : '') + mac[i].toString(16);
  }
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" or "aa-bb-..." (one or two hex digits per byte); null if not a MAC. */
export function parseMac(text: string): MacAddr | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i])) return null;
    out[i] = parseInt(parts[i], 16);
  }
  return out;
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5];
}
export function isBroadcastMac(mac: Uint8Array): boolean {
  return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) === 0xff;
}
/** The I/G bit (IEEE 802 §8.2): set for multicast and broadcast. */
export function isMulticastMac(mac: Uint8Array): boolean {
  return (mac[0] & 1) === 1;
}
export function isUnicastMac(mac: Uint8Array): boolean {
  return (mac[0] & 1) === 0;
}

/** RFC 1112 §6.4: 01:00:5e followed by the low 23 bits of the IPv4 group address. */
export function multicastMacV4(group: Uint8Array | IpAddr): MacAddr {
  const b = group instanceof Uint8Array ? group : group.bytes;
  return Uint8Array.of(0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]);
}
/** RFC 2464 §7: 33:33 followed by the low 32 bits of the IPv6 multicast address. */
export function multicastMacV6(group: Uint8Array | IpAddr): MacAddr {
  const b = group instanceof Uint8Array ? group : group.bytes;
  return Uint8Array.of(0x33, 0x33, b[12], b[13], b[14], b[15]);
}

/** One 802.1Q / 802.1ad tag. */
export interface VlanTag {
  /** 0x8100 (C-tag) or 0x88a8 (S-tag, the outer one in QinQ). */
  tpid: number;
  /** Priority code point, 0..7. */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN id, 0..4095 (0: priority-tagged only). */
  vid: number;
}

function isTpid(t: number): boolean {
  return t === EtherType.VLAN || t === EtherType.QINQ;
}

/** A checked view of an Ethernet II frame. After `view`, every accessor is in bounds. */
export class EthernetPacket {
  private constructor(
    readonly buffer: Uint8Array,
    /** Number of VLAN tags between the source address and the EtherType. */
    readonly tagCount: number,
  ) {}

  static view(buf: Uint8Array): EthernetPacket | WireError {
    if (buf.length < ETHERNET_HEADER_LEN) return 'truncated';
    let tags = 0;
    let off = 12;
    while (isTpid(readU16(buf, off))) {
      if (tags === MAX_VLAN_TAGS) return 'unsupported';
      tags++;
      off += VLAN_TAG_LEN;
      if (buf.length < off + 2) return 'truncated';
    }
    return new EthernetPacket(buf, tags);
  }

  get dst(): Uint8Array {
    return this.buffer.subarray(0, 6);
  }
  get src(): Uint8Array {
    return this.buffer.subarray(6, 12);
  }
  /** The EtherType of the payload (after any VLAN tags). Values < 0x0600 are 802.3 lengths. */
  get ethertype(): number {
    return readU16(this.buffer, 12 + this.tagCount * VLAN_TAG_LEN);
  }
  get headerLen(): number {
    return ETHERNET_HEADER_LEN + this.tagCount * VLAN_TAG_LEN;
  }
  /** Tag i (0 = outermost). */
  tag(i: number): VlanTag {
    const off = 12 + i * VLAN_TAG_LEN;
    const tci = readU16(this.buffer, off + 2);
    return { tpid: readU16(this.buffer, off), pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
  }
  /** VLAN id of the innermost tag, or -1 when untagged. */
  get vid(): number {
    return this.tagCount ? readU16(this.buffer, 12 + (this.tagCount - 1) * VLAN_TAG_LEN + 2) & 0x0fff : -1;
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen);
  }
  setDst(mac: Uint8Array): void {
    this.buffer.set(mac.subarray(0, 6), 0);
  }
  setSrc(mac: Uint8Array): void {
    this.buffer.set(mac.subarray(0, 6), 6);
  }
}

export interface EthernetRepr {
  dst: MacAddr;
  src: MacAddr;
  ethertype: number;
  /** Outermost first; empty or absent when untagged. */
  vlans?: VlanTag[];
}

export function parseEthernet(buf: Uint8Array): EthernetRepr | WireError {
  const p = EthernetPacket.view(buf);
  if (typeof p === 'string') return p;
  const vlans: VlanTag[] = [];
  for (let i = 0; i < p.tagCount; i++) vlans.push(p.tag(i));
  return { dst: copyBytes(buf, 0, 6), src: copyBytes(buf, 6, 12), ethertype: p.ethertype, vlans };
}

export function ethernetHeaderLen(repr: EthernetRepr): number {
  return ETHERNET_HEADER_LEN + (repr.vlans ? repr.vlans.length * VLAN_TAG_LEN : 0);
}

/** Writes the header at `off`; returns its length. The payload goes right after it. */
export function emitEthernet(repr: EthernetRepr, buf: Uint8Array, off = 0): number {
  buf.set(repr.dst.subarray(0, 6), off);
  buf.set(repr.src.subarray(0, 6), off + 6);
  let p = off + 12;
  if (repr.vlans) {
    for (const t of repr.vlans) {
      writeU16(buf, p, t.tpid);
      writeU16(buf, p + 2, ((t.pcp & 7) << 13) | (t.dei ? 0x1000 : 0) | (t.vid & 0x0fff));
      p += VLAN_TAG_LEN;
    }
  }
  writeU16(buf, p, repr.ethertype);
  return p + 2 - off;
}
