// ICMPv6. Read: RFC 4443 §2.1 (types), §2.3 (checksum over the IPv6 pseudo-header), §2.4
// (error rules: quote as much as fits in the minimum MTU, never answer an error with an error),
// §3 (errors: unreachable, packet too big, time exceeded, parameter problem), §4 (echo).
// Neighbor Discovery (types 133-137) is parsed by ndp.ts; MLD and others are kept raw.

import type { WireError } from './error.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { type AddrLike, foldSum, pseudoHeaderSum, sumWords } from './checksum.js';
import { IpProto } from './ip-proto.js';
import { IPV6_MIN_MTU, IPV6_HEADER_LEN } from './ipv6.js';
import { type NdpRepr, NdpType, emitNdp, isNdpType, ndpBufferLen, parseNdp } from './ndp.js';

export const ICMPV6_HEADER_LEN = 8;
/** Offset of the checksum field (for CHECKSUM_PARTIAL). */
export const ICMPV6_CHECKSUM_OFFSET = 2;

export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MLD_QUERY: 130,
  MLD_REPORT: 131,
  MLD_DONE: 132,
  ...NdpType,
  MLDV2_REPORT: 143,
} as const;

export const Icmpv6Unreachable = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS: 3,
  PORT: 4,
  POLICY_FAILED: 5,
  REJECT_ROUTE: 6,
} as const;
export const Icmpv6TimeExceeded = { HOP_LIMIT: 0, REASSEMBLY: 1 } as const;
export const Icmpv6ParamProblem = { HEADER_FIELD: 0, NEXT_HEADER: 1, OPTION: 2, FIRST_FRAGMENT_INCOMPLETE: 3 } as const;

/** RFC 4443 §2.4(c): the error packet must not exceed the minimum IPv6 MTU. */
export const ICMPV6_MAX_QUOTE = IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN;

/** True for error messages (types 0-127, RFC 4443 §2.1): never answered with an error. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export class Icmpv6Packet {
  private constructor(readonly buffer: Uint8Array) {}
  static view(buf: Uint8Array): Icmpv6Packet | WireError {
    // Every message has type, code, checksum and 4 more bytes (even RS: its reserved word).
    if (buf.length < ICMPV6_HEADER_LEN) return 'truncated';
    return new Icmpv6Packet(buf);
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
  get restOfHeader(): number {
    return readU32(this.buffer, 4);
  }
  get echoIdent(): number {
    return readU16(this.buffer, 4);
  }
  get echoSeq(): number {
    return readU16(this.buffer, 6);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(ICMPV6_HEADER_LEN);
  }
  verifyChecksum(src: AddrLike, dst: AddrLike): boolean {
    return foldSum(pseudoHeaderSum(src, dst, IpProto.ICMPV6, this.buffer.length) + sumWords(this.buffer)) === 0xffff;
  }
  fillChecksum(src: AddrLike, dst: AddrLike): void {
    writeU16(this.buffer, 2, 0);
    const s = pseudoHeaderSum(src, dst, IpProto.ICMPV6, this.buffer.length) + sumWords(this.buffer);
    writeU16(this.buffer, 2, ~foldSum(s) & 0xffff);
  }
}

export type Icmpv6Repr =
  | { kind: 'echo-request' | 'echo-reply'; ident: number; seq: number; data: Uint8Array }
  | { kind: 'dest-unreachable'; code: number; quoted: Uint8Array }
  | { kind: 'packet-too-big'; mtu: number; quoted: Uint8Array }
  | { kind: 'time-exceeded'; code: number; quoted: Uint8Array }
  /** `pointer`: offset in the quoted packet of the offending octet (RFC 4443 §3.4). */
  | { kind: 'parameter-problem'; code: number; pointer: number; quoted: Uint8Array }
  | NdpRepr
  | { kind: 'other'; type: number; code: number; rest: number; data: Uint8Array };

export interface Icmpv6ParseOptions {
  verifyChecksum?: boolean;
}

/** Parses an ICMPv6 message (`buf` = the upper-layer bytes) and checks its pseudo-header checksum. */
export function parseIcmpv6(buf: Uint8Array, src: AddrLike, dst: AddrLike, opts?: Icmpv6ParseOptions): Icmpv6Repr | WireError {
  const p = Icmpv6Packet.view(buf);
  if (typeof p === 'string') return p;
  if ((!opts || opts.verifyChecksum !== false) && !p.verifyChecksum(src, dst)) return 'bad-checksum';
  const data = p.payload;
  const type = p.type;
  switch (type) {
    case Icmpv6Type.ECHO_REQUEST:
    case Icmpv6Type.ECHO_REPLY:
      return { kind: type === Icmpv6Type.ECHO_REQUEST ? 'echo-request' : 'echo-reply', ident: p.echoIdent, seq: p.echoSeq, data };
    case Icmpv6Type.DEST_UNREACHABLE:
      return { kind: 'dest-unreachable', code: p.code, quoted: data };
    case Icmpv6Type.PACKET_TOO_BIG:
      return { kind: 'packet-too-big', mtu: p.restOfHeader, quoted: data };
    case Icmpv6Type.TIME_EXCEEDED:
      return { kind: 'time-exceeded', code: p.code, quoted: data };
    case Icmpv6Type.PARAMETER_PROBLEM:
      return { kind: 'parameter-problem', code: p.code, pointer: p.restOfHeader, quoted: data };
    default:
      if (isNdpType(type)) return parseNdp(buf);
      return { kind: 'other', type, code: p.code, rest: p.restOfHeader, data };
  }
}

export function icmpv6BufferLen(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
    case 'other':
      return ICMPV6_HEADER_LEN + repr.data.length;
    case 'dest-unreachable':
    case 'packet-too-big':
    case 'time-exceeded':
    case 'parameter-problem':
      return ICMPV6_HEADER_LEN + repr.quoted.length;
    default:
      return ndpBufferLen(repr);
  }
}

/**
 * Writes the whole message at `off` with its checksum over the IPv6 pseudo-header of
 * (src, dst); returns its length.
 */
export function emitIcmpv6(repr: Icmpv6Repr, buf: Uint8Array, off: number, src: AddrLike, dst: AddrLike): number {
  let len: number;
  const head = (type: number, code: number, rest: number, body: Uint8Array) => {
    buf[off] = type;
    buf[off + 1] = code;
    writeU16(buf, off + 2, 0);
    writeU32(buf, off + 4, rest >>> 0);
    buf.set(body, off + ICMPV6_HEADER_LEN);
    return ICMPV6_HEADER_LEN + body.length;
  };
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      len = head(
        repr.kind === 'echo-request' ? Icmpv6Type.ECHO_REQUEST : Icmpv6Type.ECHO_REPLY,
        0,
        ((repr.ident & 0xffff) << 16) | (repr.seq & 0xffff),
        repr.data,
      );
      break;
    case 'dest-unreachable':
      len = head(Icmpv6Type.DEST_UNREACHABLE, repr.code, 0, repr.quoted);
      break;
    case 'packet-too-big':
      len = head(Icmpv6Type.PACKET_TOO_BIG, 0, repr.mtu, repr.quoted);
      break;
    case 'time-exceeded':
      len = head(Icmpv6Type.TIME_EXCEEDED, repr.code, 0, repr.quoted);
      break;
    case 'parameter-problem':
      len = head(Icmpv6Type.PARAMETER_PROBLEM, repr.code, repr.pointer, repr.quoted);
      break;
    case 'other':
      len = head(repr.type, repr.code, repr.rest, repr.data);
      break;
    default:
      len = emitNdp(repr, buf, off);
  }
  const s = pseudoHeaderSum(src, dst, IpProto.ICMPV6, len) + sumWords(buf, off, off + len);
  writeU16(buf, off + 2, ~foldSum(s) & 0xffff);
  return len;
}

/** The part of an offending packet an ICMPv6 error quotes (RFC 4443 §2.4(c)). A view. */
export function icmpv6Quote(packet: Uint8Array, max = ICMPV6_MAX_QUOTE): Uint8Array {
  return packet.subarray(0, Math.min(packet.length, max));
}
