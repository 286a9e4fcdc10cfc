// A pure codec for netlink messages: struct nlmsghdr, struct nlmsgerr, rtattr/nlattr TLVs with
// 4-byte alignment, and the rtnetlink family headers ifinfomsg, ifaddrmsg, rtmsg. Read netlink(7),
// rtnetlink(7) and RFC 3549 §2.2 (the message format) first; include/net/netlink.h documents the
// alignment rules (NLMSG_ALIGN, NLA_ALIGN). No state, no I/O: parsing untrusted bytes never
// throws, it returns null or stops where the bytes stop making sense, as the kernel does.

import {
  AF_NETLINK,
  IFADDRMSG_SIZE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  IFINFOMSG_SIZE,
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLMSG_ALIGNTO,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSG_HDRLEN,
  RTA_HDRLEN,
  RTMSG_SIZE,
} from './constants.js';

/** NLMSG_ALIGN / NLA_ALIGN. */
export function align4(n: number): number {
  return (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** One netlink message: its header fields and a view of its payload (what follows the 16-byte header). */
export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/** A message header read from bytes, with the whole message (header included) as `raw`. */
export interface ParsedNlMsg extends NlMsg {
  /** nlmsg_len as sent. */
  len: number;
  /** The message's bytes, header included (nlmsg_len of them). */
  raw: Uint8Array;
}

/**
 * Splits a datagram into messages the way netlink_rcv_skb (net/netlink/af_netlink.c) walks it:
 * a header shorter than 16 bytes, an nlmsg_len below 16 or past the end stops the walk (the rest
 * is ignored silently, as Linux does); each message advances by NLMSG_ALIGN(len), clamped to
 * what is left.
 */
export function parseMessages(buf: Uint8Array): ParsedNlMsg[] {
  const out: ParsedNlMsg[] = [];
  let off = 0;
  while (buf.length - off >= NLMSG_HDRLEN) {
    const dv = view(buf.subarray(off));
    const len = dv.getUint32(0, true) >>> 0;
    if (len < NLMSG_HDRLEN || len > buf.length - off) break;
    out.push({
      len,
      type: dv.getUint16(4, true),
      flags: dv.getUint16(6, true),
      seq: dv.getUint32(8, true) >>> 0,
      pid: dv.getUint32(12, true) >>> 0,
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
      raw: buf.subarray(off, off + len),
    });
    off += Math.min(align4(len), buf.length - off);
  }
  return out;
}

/** One attribute: its type without the NLA_F_* bits, whether NLA_F_NESTED was set, and a view of its value. */
export interface NlAttr {
  type: number;
  nested: boolean;
  value: Uint8Array;
}

/**
 * Reads the attributes in `buf` (nla_for_each_attr). Returns null if they are malformed (an
 * nla_len below 4 or past the end: __nla_validate's "attribute has invalid length"); trailing
 * bytes shorter than an attribute header are ignored, as nla_parse does.
 */
export function parseAttrs(buf: Uint8Array): NlAttr[] | null {
  const out: NlAttr[] = [];
  let off = 0;
  while (buf.length - off >= RTA_HDRLEN) {
    const dv = view(buf.subarray(off));
    const len = dv.getUint16(0, true);
    const rawType = dv.getUint16(2, true);
    if (len < RTA_HDRLEN || len > buf.length - off) return null;
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, value: buf.subarray(off + RTA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** The first attribute of `type`, or undefined. */
export function findAttr(attrs: readonly NlAttr[], type: number): NlAttr | undefined {
  for (const a of attrs) if (a.type === type) return a;
  return undefined;
}

export function attrU32(a: NlAttr | undefined): number | undefined {
  return a && a.value.length >= 4 ? view(a.value).getUint32(0, true) >>> 0 : undefined;
}
export function attrU8(a: NlAttr | undefined): number | undefined {
  return a && a.value.length >= 1 ? a.value[0] : undefined;
}
/** A NUL-terminated (or not) string attribute, up to its first NUL. */
export function attrString(a: NlAttr | undefined): string | undefined {
  if (!a) return undefined;
  const nul = a.value.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? a.value : a.value.subarray(0, nul));
}

// ---- family headers ----

/** struct ifinfomsg (16 bytes). */
export interface IfInfoMsg {
  family: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}
/** struct ifaddrmsg (8 bytes). */
export interface IfAddrMsg {
  family: number;
  prefixLen: number;
  flags: number;
  scope: number;
  index: number;
}
/** struct rtmsg (12 bytes). */
export interface RtMsg {
  family: number;
  dstLen: number;
  srcLen: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

/** The 1-byte padding after ifi_family is part of the ABI; strict checking wants it zero. */
export function parseIfInfoMsg(p: Uint8Array): (IfInfoMsg & { pad: number }) | null {
  if (p.length < IFINFOMSG_SIZE) return null;
  const dv = view(p);
  return { family: p[0], pad: p[1], type: dv.getUint16(2, true), index: dv.getInt32(4, true), flags: dv.getUint32(8, true) >>> 0, change: dv.getUint32(12, true) >>> 0 };
}
export function writeIfInfoMsg(out: Uint8Array, off: number, m: IfInfoMsg): void {
  const dv = view(out);
  out[off] = m.family;
  out[off + 1] = 0;
  dv.setUint16(off + 2, m.type, true);
  dv.setInt32(off + 4, m.index, true);
  dv.setUint32(off + 8, m.flags >>> 0, true);
  dv.setUint32(off + 12, m.change >>> 0, true);
}

export function parseIfAddrMsg(p: Uint8Array): IfAddrMsg | null {
  if (p.length < IFADDRMSG_SIZE) return null;
  return { family: p[0], prefixLen: p[1], flags: p[2], scope: p[3], index: view(p).getUint32(4, true) >>> 0 };
}
export function writeIfAddrMsg(out: Uint8Array, off: number, m: IfAddrMsg): void {
  out[off] = m.family;
  out[off + 1] = m.prefixLen;
  out[off + 2] = m.flags & 0xff;
  out[off + 3] = m.scope;
  view(out).setUint32(off + 4, m.index >>> 0, true);
}

export function parseRtMsg(p: Uint8Array): RtMsg | null {
  if (p.length < RTMSG_SIZE) return null;
  return {
    family: p[0],
    dstLen: p[1],
    srcLen: p[2],
    tos: p[3],
    table: p[4],
    protocol: p[5],
    scope: p[6],
    type: p[7],
    flags: view(p).getUint32(8, true) >>> 0,
  };
}
export function writeRtMsg(out: Uint8Array, off: number, m: RtMsg): void {
  out[off] = m.family;
  out[off + 1] = m.dstLen;
  out[off + 2] = m.srcLen;
  out[off + 3] = m.tos;
  out[off + 4] = m.table;
  out[off + 5] = m.protocol;
  out[off + 6] = m.scope;
  out[off + 7] = m.type;
  view(out).setUint32(off + 8, m.flags >>> 0, true);
}

/** struct nlmsgerr: the error (negative errno, 0 for an ack) and the header of the message it answers. */
export interface NlMsgErr {
  error: number;
  /** The offending message: its header and, unless capped, its payload. */
  msg: ParsedNlMsg | null;
  /** Extended-ack TLVs after the echoed message (NLM_F_ACK_TLVS). */
  tlvs: NlAttr[];
}

/** Parses an NLMSG_ERROR payload (`flags` are the NLMSG_ERROR message's own, for CAPPED/ACK_TLVS). */
export function parseNlMsgErr(p: Uint8Array, flags: number): NlMsgErr | null {
  if (p.length < 4 + NLMSG_HDRLEN) return null;
  const error = view(p).getInt32(0, true);
  const inner = p.subarray(4);
  const innerLen = view(inner).getUint32(0, true) >>> 0;
  const capped = (flags & NLM_F_CAPPED) !== 0;
  const echoed = capped ? NLMSG_HDRLEN : Math.min(innerLen, inner.length);
  const msgs = parseMessages(inner.subarray(0, echoed));
  let msg: ParsedNlMsg | null = msgs[0] ?? null;
  if (!msg && capped) {
    const dv = view(inner);
    msg = { len: innerLen, type: dv.getUint16(4, true), flags: dv.getUint16(6, true), seq: dv.getUint32(8, true) >>> 0, pid: dv.getUint32(12, true) >>> 0, payload: new Uint8Array(0), raw: inner.subarray(0, NLMSG_HDRLEN) };
  }
  const tlvs = (flags & NLM_F_ACK_TLVS) !== 0 ? (parseAttrs(inner.subarray(align4(echoed))) ?? []) : [];
  return { error, msg, tlvs };
}

// ---- emitting ----

/**
 * Builds one message: a header, a fixed family header, then attributes, each padded to 4 bytes
 * (the pad bytes are zero, as nla_put leaves them). Nested attributes: `nestStart`/`nestEnd`.
 */
export class NlMsgBuilder {
  private buf: Uint8Array;
  private dv: DataView;
  private len = NLMSG_HDRLEN;

  constructor(type: number, flags: number, seq: number, pid: number, capacity = 256) {
    this.buf = new Uint8Array(Math.max(capacity, 64));
    this.dv = view(this.buf);
    this.dv.setUint16(4, type, true);
    this.dv.setUint16(6, flags, true);
    this.dv.setUint32(8, seq >>> 0, true);
    this.dv.setUint32(12, pid >>> 0, true);
  }

  private reserve(n: number): number {
    const need = this.len + align4(n);
    if (need > this.buf.length) {
      const nb = new Uint8Array(Math.max(need, this.buf.length * 2));
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
      this.dv = view(nb);
    }
    const at = this.len;
    this.len = need;
    return at;
  }

  /** Appends `n` zero bytes (padded to 4) and returns their offset, for a fixed header. */
  fixed(n: number, write: (buf: Uint8Array, off: number) => void): this {
    const at = this.reserve(n);
    write(this.buf, at);
    return this;
  }

  bytes(type: number, value: Uint8Array): this {
    const at = this.reserve(RTA_HDRLEN + value.length);
    this.dv.setUint16(at, RTA_HDRLEN + value.length, true);
    this.dv.setUint16(at + 2, type, true);
    this.buf.set(value, at + RTA_HDRLEN);
    return this;
  }
  u8(type: number, v: number): this {
    return this.bytes(type, Uint8Array.of(v & 0xff));
  }
  u16(type: number, v: number): this {
    const b = new Uint8Array(2);
    view(b).setUint16(0, v, true);
    return this.bytes(type, b);
  }
  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    view(b).setUint32(0, v >>> 0, true);
    return this.bytes(type, b);
  }
  /** A NUL-terminated string (nla_put_string). */
  string(type: number, s: string): this {
    const enc = new TextEncoder().encode(s);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return this.bytes(type, b);
  }
  /** Opens a nested attribute; returns a token for nestEnd. */
  nestStart(type: number): number {
    const at = this.reserve(RTA_HDRLEN);
    this.dv.setUint16(at + 2, type | NLA_F_NESTED, true);
    return at;
  }
  nestEnd(token: number): this {
    this.dv.setUint16(token, this.len - token, true);
    return this;
  }

  /** The finished message (nlmsg_len set). */
  finish(): Uint8Array {
    this.dv.setUint32(0, this.len, true);
    return this.buf.subarray(0, this.len);
  }
}

/** NLMSG_ERROR for `req` (its header, and its payload unless `capped`), plus extended-ack TLVs. */
export function buildError(
  req: { raw: Uint8Array; seq: number },
  error: number,
  pid: number,
  opts: { capped: boolean; extAckMsg?: string; missType?: number } = { capped: false },
): Uint8Array {
  const echoed = opts.capped ? req.raw.subarray(0, NLMSG_HDRLEN) : req.raw;
  let flags = opts.capped ? NLM_F_CAPPED : 0;
  if (opts.extAckMsg !== undefined || opts.missType !== undefined) flags |= NLM_F_ACK_TLVS;
  const b = new NlMsgBuilder(NLMSG_ERROR, flags, req.seq, pid, 64 + echoed.length);
  // A capped echo keeps the original's nlmsg_len.
  b.fixed(4 + echoed.length, (buf, off) => {
    view(buf).setInt32(off, error, true);
    buf.set(echoed, off + 4);
  });
  if (opts.extAckMsg !== undefined) b.string(NLMSGERR_ATTR_MSG, opts.extAckMsg);
  if (opts.missType !== undefined) b.u32(NLMSGERR_ATTR_MISS_TYPE, opts.missType);
  return b.finish();
}

/** NLMSG_DONE closing a dump: an int (0 or a negative errno), with the extended-ack message if any. */
export function buildDone(seq: number, pid: number, flags: number, error = 0, extAckMsg?: string): Uint8Array {
  const b = new NlMsgBuilder(NLMSG_DONE, flags | (extAckMsg !== undefined ? NLM_F_ACK_TLVS : 0), seq, pid, 64);
  b.fixed(4, (buf, off) => view(buf).setInt32(off, error, true));
  if (extAckMsg !== undefined) b.string(NLMSGERR_ATTR_MSG, extAckMsg);
  return b.finish();
}

/** Concatenates messages into one datagram (each is already a multiple of 4 bytes long). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += align4(p.length);
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += align4(p.length);
  }
  return out;
}

/** struct sockaddr_nl (12 bytes): family AF_NETLINK, nl_pid, nl_groups. */
export function encodeSockaddrNl(pid: number, groups = 0): Uint8Array {
  const b = new Uint8Array(12);
  const dv = view(b);
  dv.setUint16(0, AF_NETLINK, true);
  dv.setUint32(4, pid >>> 0, true);
  dv.setUint32(8, groups >>> 0, true);
  return b;
}

/** Reads a struct sockaddr_nl; null if it is shorter than 12 bytes (its family is returned for the caller to check). */
export function decodeSockaddrNl(b: Uint8Array): { family: number; pid: number; groups: number } | null {
  if (b.length < 12) return null;
  const dv = view(b);
  return { family: dv.getUint16(0, true), pid: dv.getUint32(4, true) >>> 0, groups: dv.getUint32(8, true) >>> 0 };
}
