// ICMP for IPv4. Read: RFC 792 (messages), RFC 1122 §3.2.2 (host requirements: which errors
// to send and never send), RFC 1191 §4 (next-hop MTU in "fragmentation needed"), RFC 1812
// §4.3.2.3 (quote as much of the datagram as fits in 576 bytes), RFC 4884 (extensions; the
// length byte is kept but extension objects are not interpreted).

import type { WireError } from './error.js';
import { IpAddr } from './ip-address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { foldSum, sumParts, sumWords } from './checksum.js';

export const ICMPV4_HEADER_LEN = 8;

export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  ROUTER_ADVERT: 9,
  ROUTER_SOLICIT: 10,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
} as const;

/** Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const Icmpv4Unreachable = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAG_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  SOURCE_HOST_ISOLATED: 8,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  NET_TOS: 11,
  HOST_TOS: 12,
  ADMIN_PROHIBITED: 13,
  HOST_PRECEDENCE: 14,
  PRECEDENCE_CUTOFF: 15,
} as const;

export const Icmpv4TimeExceeded = { TTL: 0, REASSEMBLY: 1 } as const;
export const Icmpv4Redirect = { NET: 0, HOST: 1, TOS_NET: 2, TOS_HOST: 3 } as const;
export const Icmpv4ParamProblem = { POINTER: 0, MISSING_OPTION: 1, BAD_LENGTH: 2 } as const;

/** RFC 1812 §4.3.2.3: the whole error stays within 576 bytes (20 IP + 8 ICMP + quote). */
export const ICMPV4_MAX_QUOTE = 576 - 20 - ICMPV4_HEADER_LEN;

export class Icmpv4Packet {
  private constructor(readonly buffer: Uint8Array) {}
  static view(buf: Uint8Array): Icmpv4Packet | WireError {
    if (buf.length < ICMPV4_HEADER_LEN) return 'truncated';
    return new Icmpv4Packet(buf);
  }
  get type(): number {
    return this.buffer[0];
  }
  get code(): number {
    return this.buffer[1];
  }
  get checksum(): number {
    return readU16(this.buffer, 2);
  }
  /** Bytes 4..7, whose meaning depends on the type. */
  get restOfHeader(): number {
    return readU32(this.buffer, 4);
  }
  get echoIdent(): number {
    return readU16(this.buffer, 4);
  }
  get echoSeq(): number {
    return readU16(this.buffer, 6);
  }
  /** Everything after the 8-byte header: echo data, or the quoted datagram of an error. */
  get payload(): Uint8Array {
    return this.buffer.subarray(ICMPV4_HEADER_LEN);
  }
  verifyChecksum(): boolean {
    return foldSum(sumWords(this.buffer)) === 0xffff;
  }
  fillChecksum(): void {
    writeU16(this.buffer, 2, 0);
    writeU16(this.buffer, 2, ~foldSum(sumWords(this.buffer)) & 0xffff);
  }
  setEchoIdent(id: number): void {
    writeU16(this.buffer, 4, id);
  }
  setType(t: number): void {
    this.buffer[0] = t;
  }
  setChecksum(c: number): void {
    writeU16(this.buffer, 2, c);
  }
}

export type Icmpv4Repr =
  | { kind: 'echo-request' | 'echo-reply'; ident: number; seq: number; data: Uint8Array }
  /** `nextHopMtu` is meaningful for code FRAG_NEEDED (RFC 1191; 0 from pre-1191 routers). */
  | { kind: 'dest-unreachable'; code: number; nextHopMtu: number; quoted: Uint8Array }
  | { kind: 'time-exceeded'; code: number; quoted: Uint8Array }
  /** `pointer`: offset of the offending octet in the quoted header (RFC 792). */
  | { kind: 'parameter-problem'; code: number; pointer: number; quoted: Uint8Array }
  | { kind: 'redirect'; code: number; gateway: IpAddr; quoted: Uint8Array }
  /** Any other type, kept raw. */
  | { kind: 'other'; type: number; code: number; rest: number; data: Uint8Array };

export interface Icmpv4ParseOptions {
  verifyChecksum?: boolean;
}

/** Parses an ICMP message (`buf` = the IP payload). Data and quotes are views into `buf`. */
export function parseIcmpv4(buf: Uint8Array, opts?: Icmpv4ParseOptions): Icmpv4Repr | WireError {
  const p = Icmpv4Packet.view(buf);
  if (typeof p === 'string') return p;
  if ((!opts || opts.verifyChecksum !== false) && !p.verifyChecksum()) return 'bad-checksum';
  const data = p.payload;
  switch (p.type) {
    case Icmpv4Type.ECHO_REQUEST:
    case Icmpv4Type.ECHO_REPLY:
      return {
        kind: p.type === Icmpv4Type.ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        ident: p.echoIdent,
        seq: p.echoSeq,
        data,
      };
    case Icmpv4Type.DEST_UNREACHABLE:
      return { kind: 'dest-unreachable', code: p.code, nextHopMtu: readU16(buf, 6), quoted: data };
    case Icmpv4Type.TIME_EXCEEDED:
      return { kind: 'time-exceeded', code: p.code, quoted: data };
    case Icmpv4Type.PARAMETER_PROBLEM:
      return { kind: 'parameter-problem', code: p.code, pointer: buf[4], quoted: data };
    case Icmpv4Type.REDIRECT:
      return { kind: 'redirect', code: p.code, gateway: IpAddr.read(4, buf, 4), quoted: data };
    default:
      return { kind: 'other', type: p.type, code: p.code, rest: p.restOfHeader, data };
  }
}

function body(repr: Icmpv4Repr): Uint8Array {
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
    case 'other':
      return repr.data;
    default:
      return repr.quoted;
  }
}

export function icmpv4BufferLen(repr: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN + body(repr).length;
}

/** Writes the whole message (header, data or quote, checksum) at `off`; returns its length. */
export function emitIcmpv4(repr: Icmpv4Repr, buf: Uint8Array, off = 0): number {
  let type: number;
  let code = 0;
  let rest = 0;
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      type = repr.kind === 'echo-request' ? Icmpv4Type.ECHO_REQUEST : Icmpv4Type.ECHO_REPLY;
      rest = ((repr.ident & 0xffff) << 16) | (repr.seq & 0xffff);
      break;
    case 'dest-unreachable':
      type = Icmpv4Type.DEST_UNREACHABLE;
      code = repr.code;
      rest = repr.nextHopMtu & 0xffff;
      break;
    case 'time-exceeded':
      type = Icmpv4Type.TIME_EXCEEDED;
      code = repr.code;
      break;
    case 'parameter-problem':
      type = Icmpv4Type.PARAMETER_PROBLEM;
      code = repr.code;
      rest = (repr.pointer & 0xff) << 24;
      break;
    case 'redirect':
      type = Icmpv4Type.REDIRECT;
      code = repr.code;
      rest = repr.gateway.toU32();
      break;
    case 'other':
      type = repr.type;
      code = repr.code;
      rest = repr.rest;
      break;
  }
  const data = body(repr);
  buf[off] = type;
  buf[off + 1] = code;
  writeU16(buf, off + 2, 0);
  writeU32(buf, off + 4, rest >>> 0);
  buf.set(data, off + ICMPV4_HEADER_LEN);
  const len = ICMPV4_HEADER_LEN + data.length;
  writeU16(buf, off + 2, ~sumParts([buf.subarray(off, off + len)]) & 0xffff);
  return len;
}

/**
 * The part of an offending datagram an ICMPv4 error quotes: as much as fits in `max` bytes
 * (RFC 1812 §4.3.2.3; RFC 792 requires at least the IP header and 8 bytes). A view.
 */
export function icmpv4Quote(datagram: Uint8Array, max = ICMPV4_MAX_QUOTE): Uint8Array {
  return datagram.subarray(0, Math.min(datagram.length, max));
}
