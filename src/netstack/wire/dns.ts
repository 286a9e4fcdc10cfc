// DNS messages. Read: RFC 1035 §4.1 (header, question, RR formats), §3.1 and §4.1.4 (names,
// compression pointers), §2.3.4 (63-byte labels, 255-byte names), §3.3 (CNAME, MX, NS, PTR,
// SOA, TXT), §5.1 (master-file escapes, used for the text form of names); RFC 3596 (AAAA);
// RFC 2782 (SRV: its target is never compressed, RFC 3597 §4); RFC 6891 §6 (EDNS0 OPT);
// RFC 4035 §3.2 / RFC 6840 (AD, CD bits); RFC 2308 (negative answers).
//
// Names are strings in master-file text form without the trailing dot ("" is the root);
// bytes that are not printable, and "." and "\" inside a label, are escaped (\DDD, \., \\),
// so decoding then encoding is lossless.
//
// Compression loops: RFC 1035 does not forbid a pointer to a later offset, but every
// legitimate encoder points backwards. Each pointer here must point strictly before the
// previous jump's target (the first: before the start of the name), so the offsets strictly
// decrease and any walk ends; label count and name length are capped as well.

import type { WireError } from './error.js';
import { IpAddr } from './ip-address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

export const DNS_HEADER_LEN = 12;
export const DNS_PORT = 53;
/** RFC 1035 §2.3.4 */
export const DNS_MAX_LABEL_LEN = 63;
export const DNS_MAX_NAME_LEN = 255;
/** RFC 1035 §4.2.1: without EDNS, UDP messages are at most 512 bytes. */
export const DNS_UDP_MAX_LEN = 512;

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const DnsClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;
export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;
export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export interface DnsQuestion {
  name: string;
  type: number;
  /** Default IN. Bit 15 is mDNS's unicast-response bit; kept as is. */
  class: number;
}

export type DnsRData =
  | { kind: 'a'; address: IpAddr }
  | { kind: 'aaaa'; address: IpAddr }
  | { kind: 'cname' | 'ns' | 'ptr'; name: string }
  | { kind: 'mx'; preference: number; exchange: string }
  /** Character-strings, each at most 255 bytes. */
  | { kind: 'txt'; strings: Uint8Array[] }
  | {
      kind: 'soa';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: string }
  /** Any other type (and OPT outside the additional section), kept as raw RDATA. */
  | { kind: 'raw'; bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  /** Seconds (u32; RFC 2181 §8 says treat values with bit 31 set as 0: left to the cache). */
  ttl: number;
  data: DnsRData;
}

/** RFC 6891 §6.1.3: the OPT pseudo-record's fields, given a meaning. */
export interface DnsEdns {
  udpPayloadSize: number;
  /** Upper 8 bits of the 12-bit RCODE. */
  extendedRcode: number;
  version: number;
  /** DO bit (RFC 3225). */
  dnssecOk: boolean;
  /** EDNS options (cookie, client subnet, padding ...), raw. */
  options: { code: number; data: Uint8Array }[];
}

export interface DnsMessage {
  id: number;
  /** Response (true) or query. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** RFC 4035 §3.2.3 Authentic Data. */
  ad: boolean;
  /** RFC 4035 §3.2.2 Checking Disabled. */
  cd: boolean;
  /** The low 4 bits; with EDNS the full code is edns.extendedRcode << 4 | rcode. */
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  /** Additional records other than OPT (which becomes `edns`). */
  additionals: DnsRecord[];
  edns: DnsEdns | null;
}

/** A checked view of the 12-byte header (for forwarders that rewrite ids without parsing). */
export class DnsPacket {
  private constructor(readonly buffer: Uint8Array) {}
  static view(buf: Uint8Array): DnsPacket | WireError {
    if (buf.length < DNS_HEADER_LEN) return 'truncated';
    return new DnsPacket(buf);
  }
  get id(): number {
    return readU16(this.buffer, 0);
  }
  get flags(): number {
    return readU16(this.buffer, 2);
  }
  get qr(): boolean {
    return (this.buffer[2] & 0x80) !== 0;
  }
  get opcode(): number {
    return (this.buffer[2] >>> 3) & 0x0f;
  }
  get tc(): boolean {
    return (this.buffer[2] & 0x02) !== 0;
  }
  get rd(): boolean {
    return (this.buffer[2] & 0x01) !== 0;
  }
  get rcode(): number {
    return this.buffer[3] & 0x0f;
  }
  get questionCount(): number {
    return readU16(this.buffer, 4);
  }
  get answerCount(): number {
    return readU16(this.buffer, 6);
  }
  get authorityCount(): number {
    return readU16(this.buffer, 8);
  }
  get additionalCount(): number {
    return readU16(this.buffer, 10);
  }
  setId(id: number): void {
    writeU16(this.buffer, 0, id);
  }
}

// ---- names ----

function isPlain(c: number): boolean {
  // Printable ASCII except space, '.', '\', and the characters master files treat specially.
  return c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c && c !== 0x22 && c !== 0x28 && c !== 0x29 && c !== 0x3b && c !== 0x40 && c !== 0x24;
}

function labelToText(b: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    const c = b[i];
    if (isPlain(c)) s += String.fromCharCode(c);
    else if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/** A decoded name and where the bytes that follow it start. */
export interface DnsNameRead {
  name: string;
  /** Offset just past the name at its original position (after the first pointer, if any). */
  end: number;
}

/** Reads a possibly compressed name at `off` of the whole message `msg` (RFC 1035 §4.1.4). */
export function readDnsName(msg: Uint8Array, off: number): DnsNameRead | WireError {
  let pos = off;
  let end = -1;
  // Offsets reached through pointers strictly decrease (see the file header).
  let limit = off;
  let wireLen = 0;
  let labels = 0;
  let name = '';
  for (;;) {
    if (pos >= msg.length) return 'truncated';
    const len = msg[pos];
    if (len === 0) {
      if (end < 0) end = pos + 1;
      wireLen += 1;
      if (wireLen > DNS_MAX_NAME_LEN) return 'malformed';
      return { name, end };
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (pos + 1 >= msg.length) return 'truncated';
      const target = ((len & 0x3f) << 8) | msg[pos + 1];
      if (end < 0) end = pos + 2;
      if (target >= limit) return 'malformed';
      limit = target;
      pos = target;
      continue;
    }
    // 0x40 and 0x80 are RFC 6891 §5 extended / reserved label types: not supported.
    if (top !== 0) return 'malformed';
    if (pos + 1 + len > msg.length) return 'truncated';
    wireLen += 1 + len;
    if (wireLen >= DNS_MAX_NAME_LEN || ++labels > 127) return 'malformed';
    if (name.length) name += '.';
    name += labelToText(msg, pos + 1, len);
    pos += 1 + len;
  }
}

/**
 * Splits a text name into label byte strings (handling \DDD and \X escapes), checking RFC 1035
 * §2.3.4 limits. "" and "." are the root. A trailing dot is allowed.
 */
export function dnsNameToLabels(name: string): Uint8Array[] | WireError {
  if (name === '' || name === '.') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let total = 1;
  const n = name.length;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (cur.length === 0) return 'malformed'; // empty label ("a..b", ".a")
      labels.push(Uint8Array.from(cur));
      total += 1 + cur.length;
      cur = [];
      continue;
    }
    if (c === 0x5c) {
      if (i + 1 >= n) return 'malformed';
      const d = name.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        c = Number(d);
        if (c > 255) return 'malformed';
        i += 3;
      } else {
        c = name.charCodeAt(++i);
      }
    }
    if (c > 0xff) return 'malformed'; // names are bytes: non-Latin-1 text needs IDNA first
    cur.push(c);
    if (cur.length > DNS_MAX_LABEL_LEN) return 'malformed';
  }
  if (cur.length) {
    labels.push(Uint8Array.from(cur));
    total += 1 + cur.length;
  }
  if (total > DNS_MAX_NAME_LEN) return 'malformed';
  return labels;
}

/** Wire length of a name without compression, or an error if it is not a valid name. */
export function dnsNameWireLen(name: string): number | WireError {
  const labels = dnsNameToLabels(name);
  if (typeof labels === 'string') return labels;
  let n = 1;
  for (const l of labels) n += 1 + l.length;
  return n;
}

/** Compression state for one message being emitted: suffix text -> offset of its first label. */
export type DnsCompressor = Map<string, number> | null;

function suffixKey(labels: Uint8Array[], from: number): string {
  let s = '';
  for (let i = from; i < labels.length; i++) s += labelToText(labels[i], 0, labels[i].length).toLowerCase() + '.';
  return s;
}

/**
 * Writes a name at `off` of the message buffer whose header starts at `msgStart`; with a
 * compressor, known suffixes become pointers and new ones are remembered (pointers reach
 * only the first 16 KiB). Returns the new offset.
 */
export function writeDnsName(
  name: string,
  buf: Uint8Array,
  off: number,
  comp: DnsCompressor = null,
  msgStart = 0,
): number | WireError {
  const labels = dnsNameToLabels(name);
  if (typeof labels === 'string') return labels;
  let p = off;
  for (let i = 0; i < labels.length; i++) {
    if (comp) {
      const key = suffixKey(labels, i);
      const at = comp.get(key);
      if (at !== undefined) {
        writeU16(buf, p, 0xc000 | at);
        return p + 2;
      }
      const rel = p - msgStart;
      if (rel < 0x4000) comp.set(key, rel);
    }
    const l = labels[i];
    if (p + 1 + l.length > buf.length) return 'truncated';
    buf[p] = l.length;
    buf.set(l, p + 1);
    p += 1 + l.length;
  }
  if (p >= buf.length) return 'truncated';
  buf[p] = 0;
  return p + 1;
}

// ---- parse ----

function parseRData(msg: Uint8Array, type: number, start: number, len: number): DnsRData | WireError {
  const end = start + len;
  const nameExact = (at: number): DnsNameRead | WireError => {
    const r = readDnsName(msg, at);
    if (typeof r === 'string') return r;
    return r.end > end ? 'malformed' : r;
  };
  switch (type) {
    case DnsType.A:
      return len === 4 ? { kind: 'a', address: IpAddr.read(4, msg, start) } : 'malformed';
    case DnsType.AAAA:
      return len === 16 ? { kind: 'aaaa', address: IpAddr.read(6, msg, start) } : 'malformed';
    case DnsType.CNAME:
    case DnsType.NS:
    case DnsType.PTR: {
      const r = nameExact(start);
      if (typeof r === 'string') return r;
      if (r.end !== end) return 'malformed';
      return { kind: type === DnsType.CNAME ? 'cname' : type === DnsType.NS ? 'ns' : 'ptr', name: r.name };
    }
    case DnsType.MX: {
      if (len < 3) return 'malformed';
      const r = nameExact(start + 2);
      if (typeof r === 'string') return r;
      if (r.end !== end) return 'malformed';
      return { kind: 'mx', preference: readU16(msg, start), exchange: r.name };
    }
    case DnsType.TXT: {
      const strings: Uint8Array[] = [];
      let p = start;
      while (p < end) {
        const l = msg[p];
        if (p + 1 + l > end) return 'malformed';
        strings.push(msg.subarray(p + 1, p + 1 + l));
        p += 1 + l;
      }
      return { kind: 'txt', strings };
    }
    case DnsType.SOA: {
      const m = nameExact(start);
      if (typeof m === 'string') return m;
      const r = nameExact(m.end);
      if (typeof r === 'string') return r;
      if (r.end + 20 !== end) return 'malformed';
      const q = r.end;
      return {
        kind: 'soa',
        mname: m.name,
        rname: r.name,
        serial: readU32(msg, q),
        refresh: readU32(msg, q + 4),
        retry: readU32(msg, q + 8),
        expire: readU32(msg, q + 12),
        minimum: readU32(msg, q + 16),
      };
    }
    case DnsType.SRV: {
      if (len < 7) return 'malformed';
      const r = nameExact(start + 6);
      if (typeof r === 'string') return r;
      if (r.end !== end) return 'malformed';
      return { kind: 'srv', priority: readU16(msg, start), weight: readU16(msg, start + 2), port: readU16(msg, start + 4), target: r.name };
    }
    default:
      return { kind: 'raw', bytes: msg.subarray(start, end) };
  }
}

function parseEdns(msg: Uint8Array, cls: number, ttl: number, start: number, len: number): DnsEdns | WireError {
  const options: { code: number; data: Uint8Array }[] = [];
  let p = start;
  const end = start + len;
  while (p < end) {
    if (p + 4 > end) return 'malformed';
    const l = readU16(msg, p + 2);
    if (p + 4 + l > end) return 'malformed';
    options.push({ code: readU16(msg, p), data: msg.subarray(p + 4, p + 4 + l) });
    p += 4 + l;
  }
  return {
    udpPayloadSize: cls,
    extendedRcode: ttl >>> 24,
    version: (ttl >>> 16) & 0xff,
    dnssecOk: (ttl & 0x8000) !== 0,
    options,
  };
}

/**
 * Parses a whole message. RDATA of unknown types, TXT strings and EDNS options are views into
 * `buf` (copy to keep). More than one OPT record is 'malformed' (RFC 6891 §6.1.1).
 */
export function parseDns(buf: Uint8Array): DnsMessage | WireError {
  const h = DnsPacket.view(buf);
  if (typeof h === 'string') return h;
  const f = h.flags;
  const m: DnsMessage = {
    id: h.id,
    qr: (f & 0x8000) !== 0,
    opcode: (f >>> 11) & 0x0f,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0x0f,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    edns: null,
  };
  let p = DNS_HEADER_LEN;
  for (let i = 0, n = h.questionCount; i < n; i++) {
    const r = readDnsName(buf, p);
    if (typeof r === 'string') return r;
    if (r.end + 4 > buf.length) return 'truncated';
    m.questions.push({ name: r.name, type: readU16(buf, r.end), class: readU16(buf, r.end + 2) });
    p = r.end + 4;
  }
  const sections = [m.answers, m.authorities, m.additionals];
  const counts = [h.answerCount, h.authorityCount, h.additionalCount];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]; i++) {
      const r = readDnsName(buf, p);
      if (typeof r === 'string') return r;
      const q = r.end;
      if (q + 10 > buf.length) return 'truncated';
      const type = readU16(buf, q);
      const cls = readU16(buf, q + 2);
      const ttl = readU32(buf, q + 4);
      const rdlen = readU16(buf, q + 8);
      if (q + 10 + rdlen > buf.length) return 'truncated';
      if (type === DnsType.OPT && s === 2) {
        // RFC 6891 §6.1.1: OPT's owner is the root, and there is at most one.
        if (m.edns || r.name !== '') return 'malformed';
        const e = parseEdns(buf, cls, ttl, q + 10, rdlen);
        if (typeof e === 'string') return e;
        m.edns = e;
      } else {
        const data = parseRData(buf, type, q + 10, rdlen);
        if (typeof data === 'string') return data;
        sections[s].push({ name: r.name, type, class: cls, ttl, data });
      }
      p = q + 10 + rdlen;
    }
  }
  return m;
}

// ---- emit ----

function rdataMaxLen(d: DnsRData): number {
  switch (d.kind) {
    case 'a':
      return 4;
    case 'aaaa':
      return 16;
    case 'cname':
    case 'ns':
    case 'ptr':
      return DNS_MAX_NAME_LEN;
    case 'mx':
      return 2 + DNS_MAX_NAME_LEN;
    case 'txt': {
      let n = 0;
      for (const s of d.strings) n += 1 + s.length;
      return n;
    }
    case 'soa':
      return 2 * DNS_MAX_NAME_LEN + 20;
    case 'srv':
      return 6 + DNS_MAX_NAME_LEN;
    case 'raw':
      return d.bytes.length;
  }
}

/**
 * An upper bound of the emitted length (uncompressed, names counted at their real length);
 * size buffers with it. 'malformed' if a name is invalid.
 */
export function dnsBufferLen(m: DnsMessage): number | WireError {
  let n = DNS_HEADER_LEN;
  for (const q of m.questions) {
    const l = dnsNameWireLen(q.name);
    if (typeof l === 'string') return l;
    n += l + 4;
  }
  for (const sec of [m.answers, m.authorities, m.additionals]) {
    for (const r of sec) {
      const l = dnsNameWireLen(r.name);
      if (typeof l === 'string') return l;
      n += l + 10 + Math.min(rdataMaxLen(r.data), 0xffff);
    }
  }
  if (m.edns) {
    n += 11;
    for (const o of m.edns.options) n += 4 + o.data.length;
  }
  return n;
}

function typeOfRData(d: DnsRData, declared: number): number {
  switch (d.kind) {
    case 'a':
      return DnsType.A;
    case 'aaaa':
      return DnsType.AAAA;
    case 'cname':
      return DnsType.CNAME;
    case 'ns':
      return DnsType.NS;
    case 'ptr':
      return DnsType.PTR;
    case 'mx':
      return DnsType.MX;
    case 'txt':
      return DnsType.TXT;
    case 'soa':
      return DnsType.SOA;
    case 'srv':
      return DnsType.SRV;
    case 'raw':
      return declared;
  }
}

function writeRecord(r: DnsRecord, buf: Uint8Array, p: number, comp: DnsCompressor, ms: number): number | WireError {
  const nameEnd = writeDnsName(r.name, buf, p, comp, ms);
  if (typeof nameEnd === 'string') return nameEnd;
  let q: number = nameEnd;
  if (q + 10 > buf.length) return 'truncated';
  const d = r.data;
  writeU16(buf, q, typeOfRData(d, r.type));
  writeU16(buf, q + 2, r.class);
  writeU32(buf, q + 4, r.ttl);
  const lenAt = q + 8;
  q += 10;
  const start = q;
  const need = (n: number) => q + n <= buf.length;
  let w: number | WireError;
  switch (d.kind) {
    case 'a':
    case 'aaaa':
      if (!need(d.address.bytes.length)) return 'truncated';
      if ((d.kind === 'a') !== (d.address.family === 4)) return 'malformed';
      buf.set(d.address.bytes, q);
      q += d.address.bytes.length;
      break;
    case 'cname':
    case 'ns':
    case 'ptr':
      w = writeDnsName(d.name, buf, q, comp, ms);
      if (typeof w === 'string') return w;
      q = w;
      break;
    case 'mx':
      if (!need(2)) return 'truncated';
      writeU16(buf, q, d.preference);
      w = writeDnsName(d.exchange, buf, q + 2, comp, ms);
      if (typeof w === 'string') return w;
      q = w;
      break;
    case 'txt':
      for (const s of d.strings) {
        if (s.length > 255) return 'malformed';
        if (!need(1 + s.length)) return 'truncated';
        buf[q] = s.length;
        buf.set(s, q + 1);
        q += 1 + s.length;
      }
      break;
    case 'soa':
      w = writeDnsName(d.mname, buf, q, comp, ms);
      if (typeof w === 'string') return w;
      w = writeDnsName(d.rname, buf, w, comp, ms);
      if (typeof w === 'string') return w;
      q = w;
      if (!need(20)) return 'truncated';
      writeU32(buf, q, d.serial);
      writeU32(buf, q + 4, d.refresh);
      writeU32(buf, q + 8, d.retry);
      writeU32(buf, q + 12, d.expire);
      writeU32(buf, q + 16, d.minimum);
      q += 20;
      break;
    case 'srv':
      if (!need(6)) return 'truncated';
      writeU16(buf, q, d.priority);
      writeU16(buf, q + 2, d.weight);
      writeU16(buf, q + 4, d.port);
      // RFC 2782: the target is not compressed.
      w = writeDnsName(d.target, buf, q + 6, null, ms);
      if (typeof w === 'string') return w;
      q = w;
      break;
    case 'raw':
      if (!need(d.bytes.length)) return 'truncated';
      buf.set(d.bytes, q);
      q += d.bytes.length;
      break;
  }
  if (q - start > 0xffff) return 'malformed';
  writeU16(buf, lenAt, q - start);
  return q;
}

export interface DnsEmitOptions {
  /** Compress names (RFC 1035 §4.1.4). Default true. */
  compress?: boolean;
}

/**
 * Writes the message at `off`; returns its length, or 'truncated' when `buf` is too small,
 * 'malformed' for an invalid name or value. Size `buf` with dnsBufferLen.
 */
export function emitDns(m: DnsMessage, buf: Uint8Array, off = 0, opts?: DnsEmitOptions): number | WireError {
  if (buf.length < off + DNS_HEADER_LEN) return 'truncated';
  const comp: DnsCompressor = !opts || opts.compress !== false ? new Map() : null;
  writeU16(buf, off, m.id);
  const flags =
    (m.qr ? 0x8000 : 0) |
    ((m.opcode & 0x0f) << 11) |
    (m.aa ? 0x0400 : 0) |
    (m.tc ? 0x0200 : 0) |
    (m.rd ? 0x0100 : 0) |
    (m.ra ? 0x0080 : 0) |
    (m.ad ? 0x0020 : 0) |
    (m.cd ? 0x0010 : 0) |
    (m.rcode & 0x0f);
  writeU16(buf, off + 2, flags);
  if (m.questions.length > 0xffff || m.answers.length > 0xffff || m.authorities.length > 0xffff) return 'malformed';
  const arcount = m.additionals.length + (m.edns ? 1 : 0);
  if (arcount > 0xffff) return 'malformed';
  writeU16(buf, off + 4, m.questions.length);
  writeU16(buf, off + 6, m.answers.length);
  writeU16(buf, off + 8, m.authorities.length);
  writeU16(buf, off + 10, arcount);
  let p: number | WireError = off + DNS_HEADER_LEN;
  for (const q of m.questions) {
    p = writeDnsName(q.name, buf, p, comp, off);
    if (typeof p === 'string') return p;
    if (p + 4 > buf.length) return 'truncated';
    writeU16(buf, p, q.type);
    writeU16(buf, p + 2, q.class);
    p += 4;
  }
  for (const sec of [m.answers, m.authorities, m.additionals]) {
    for (const r of sec) {
      p = writeRecord(r, buf, p, comp, off);
      if (typeof p === 'string') return p;
    }
  }
  if (m.edns) {
    const e = m.edns;
    let n = 0;
    for (const o of e.options) n += 4 + o.data.length;
    if (p + 11 + n > buf.length) return 'truncated';
    if (n > 0xffff) return 'malformed';
    buf[p] = 0; // root owner
    writeU16(buf, p + 1, DnsType.OPT);
    writeU16(buf, p + 3, e.udpPayloadSize);
    writeU32(buf, p + 5, (((e.extendedRcode & 0xff) << 24) | ((e.version & 0xff) << 16) | (e.dnssecOk ? 0x8000 : 0)) >>> 0);
    writeU16(buf, p + 9, n);
    p += 11;
    for (const o of e.options) {
      writeU16(buf, p, o.code);
      writeU16(buf, p + 2, o.data.length);
      buf.set(o.data, p + 4);
      p += 4 + o.data.length;
    }
  }
  return p - off;
}

/** Emits into a new, exactly sized array (for the control path, not per packet). */
export function encodeDns(m: DnsMessage, opts?: DnsEmitOptions): Uint8Array | WireError {
  const max = dnsBufferLen(m);
  if (typeof max === 'string') return max;
  const buf = new Uint8Array(max);
  const n = emitDns(m, buf, 0, opts);
  if (typeof n === 'string') return n;
  return buf.slice(0, n);
}

// ---- builders ----

export interface DnsQueryParams {
  id: number;
  name: string;
  type: number;
  class?: number;
  /** Recursion desired. Default true. */
  rd?: boolean;
  cd?: boolean;
  /** Adds an OPT record advertising this UDP payload size (RFC 6891 §6.2.3). */
  ednsUdpPayloadSize?: number;
  dnssecOk?: boolean;
}

export function buildDnsQuery(q: DnsQueryParams): DnsMessage {
  return {
    id: q.id & 0xffff,
    qr: false,
    opcode: DnsOpcode.QUERY,
    aa: false,
    tc: false,
    rd: q.rd ?? true,
    ra: false,
    ad: false,
    cd: q.cd ?? false,
    rcode: DnsRcode.NOERROR,
    questions: [{ name: q.name, type: q.type, class: q.class ?? DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns:
      q.ednsUdpPayloadSize !== undefined
        ? { udpPayloadSize: q.ednsUdpPayloadSize, extendedRcode: 0, version: 0, dnssecOk: q.dnssecOk ?? false, options: [] }
        : null,
  };
}

export interface DnsResponseParams {
  rcode?: number;
  answers?: DnsRecord[];
  authorities?: DnsRecord[];
  additionals?: DnsRecord[];
  /** Default false: a forwarder is not authoritative. */
  aa?: boolean;
  /** Recursion available. Default true. */
  ra?: boolean;
  tc?: boolean;
  /** Echo an OPT record with this payload size when the query had one (RFC 6891 §7). */
  ednsUdpPayloadSize?: number;
}

/**
 * A response to `query`: same id, opcode, RD and CD, the question section echoed
 * (RFC 1035 §4.1.1; RFC 2308 §2 for negative answers).
 */
export function buildDnsResponse(query: DnsMessage, p: DnsResponseParams = {}): DnsMessage {
  const rcode = p.rcode ?? DnsRcode.NOERROR;
  return {
    id: query.id,
    qr: true,
    opcode: query.opcode,
    aa: p.aa ?? false,
    tc: p.tc ?? false,
    rd: query.rd,
    ra: p.ra ?? true,
    ad: false,
    cd: query.cd,
    rcode: rcode & 0x0f,
    questions: query.questions.map((q) => ({ ...q })),
    answers: p.answers ?? [],
    authorities: p.authorities ?? [],
    additionals: p.additionals ?? [],
    edns:
      query.edns && p.ednsUdpPayloadSize !== undefined
        ? { udpPayloadSize: p.ednsUdpPayloadSize, extendedRcode: rcode >>> 4, version: 0, dnssecOk: query.edns.dnssecOk, options: [] }
        : null,
  };
}

/** NXDOMAIN / REFUSED / SERVFAIL ... with the question echoed and no records. */
export function buildDnsErrorResponse(query: DnsMessage, rcode: number): DnsMessage {
  return buildDnsResponse(query, { rcode });
}

/**
 * A header-only error reply for a query that could not be parsed (FORMERR, RFC 1035 §4.1.1):
 * only the id, opcode and RD are taken from the raw header. Returns 12 new bytes.
 */
export function buildDnsHeaderOnlyError(raw: DnsPacket, rcode: number): Uint8Array {
  const out = new Uint8Array(DNS_HEADER_LEN);
  writeU16(out, 0, raw.id);
  writeU16(out, 2, 0x8000 | (raw.opcode << 11) | (raw.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0x0f));
  return out;
}

/**
 * Encodes a response for a UDP reply of at most `maxLen` bytes (512 without EDNS, RFC 1035
 * §4.2.1; else the requester's EDNS payload size, RFC 6891 §6.2.5). When it does not fit,
 * the records are dropped and TC is set (RFC 2181 §9: the client retries over TCP); the
 * question and the OPT record stay. Returns new bytes.
 */
export function encodeDnsForUdp(m: DnsMessage, maxLen: number): Uint8Array | WireError {
  const full = encodeDns(m);
  if (typeof full === 'string' || full.length <= maxLen) return full;
  const cut = encodeDns({ ...m, tc: true, answers: [], authorities: [], additionals: [] });
  if (typeof cut === 'string') return cut;
  return cut.length <= maxLen ? cut : 'truncated';
}
