// ARP for Ethernet and IPv4. Read: RFC 826 (packet format, reception algorithm), RFC 5227
// (probes with sender IP 0.0.0.0, announcements / gratuitous ARP with sender == target IP).

import type { WireError } from './error.js';
import { IpAddr } from './ip-address.js';
import { copyBytes, readU16, writeU16 } from './bytes.js';
import { EtherType, type MacAddr } from './ethernet.js';

export const ARP_HTYPE_ETHERNET = 1;
export const ArpOp = { REQUEST: 1, REPLY: 2 } as const;
/** Length of an Ethernet/IPv4 ARP packet (frames are padded to 60 bytes after it). */
export const ARP_LEN = 28;

/** Any ARP packet: hardware and protocol address lengths are read from the header. */
export class ArpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  static view(buf: Uint8Array): ArpPacket | WireError {
    if (buf.length < 8) return 'truncated';
    if (buf.length < 8 + 2 * (buf[4] + buf[5])) return 'truncated';
    return new ArpPacket(buf);
  }
  get htype(): number {
    return readU16(this.buffer, 0);
  }
  get ptype(): number {
    return readU16(this.buffer, 2);
  }
  get hlen(): number {
    return this.buffer[4];
  }
  get plen(): number {
    return this.buffer[5];
  }
  get op(): number {
    return readU16(this.buffer, 6);
  }
  get senderHw(): Uint8Array {
    return this.buffer.subarray(8, 8 + this.hlen);
  }
  get senderProto(): Uint8Array {
    const o = 8 + this.hlen;
    return this.buffer.subarray(o, o + this.plen);
  }
  get targetHw(): Uint8Array {
    const o = 8 + this.hlen + this.plen;
    return this.buffer.subarray(o, o + this.hlen);
  }
  get targetProto(): Uint8Array {
    const o = 8 + 2 * this.hlen + this.plen;
    return this.buffer.subarray(o, o + this.plen);
  }
}

export interface ArpRepr {
  /** ArpOp.REQUEST or ArpOp.REPLY (other values parse; the neighbour layer ignores them). */
  op: number;
  senderMac: MacAddr;
  senderIp: IpAddr;
  targetMac: MacAddr;
  targetIp: IpAddr;
}

/** Parses Ethernet/IPv4 ARP; other hardware or protocol types are 'unsupported'. */
export function parseArp(buf: Uint8Array): ArpRepr | WireError {
  const p = ArpPacket.view(buf);
  if (typeof p === 'string') return p;
  if (p.htype !== ARP_HTYPE_ETHERNET || p.ptype !== EtherType.IPV4 || p.hlen !== 6 || p.plen !== 4) return 'unsupported';
  return {
    op: p.op,
    senderMac: copyBytes(buf, 8, 14),
    senderIp: IpAddr.read(4, buf, 14),
    targetMac: copyBytes(buf, 18, 24),
    targetIp: IpAddr.read(4, buf, 24),
  };
}

export function arpBufferLen(_repr?: ArpRepr): number {
  return ARP_LEN;
}

export function emitArp(repr: ArpRepr, buf: Uint8Array, off = 0): number {
  writeU16(buf, off, ARP_HTYPE_ETHERNET);
  writeU16(buf, off + 2, EtherType.IPV4);
  buf[off + 4] = 6;
  buf[off + 5] = 4;
  writeU16(buf, off + 6, repr.op);
  buf.set(repr.senderMac.subarray(0, 6), off + 8);
  buf.set(repr.senderIp.bytes, off + 14);
  buf.set(repr.targetMac.subarray(0, 6), off + 18);
  buf.set(repr.targetIp.bytes, off + 24);
  return ARP_LEN;
}
