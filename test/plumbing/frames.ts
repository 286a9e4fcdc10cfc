// Hand-built frames for the link tests (the wire codecs are someone else's; these tests must
// not depend on them). RFC 826 (ARP), RFC 791 (IPv4), RFC 793 (TCP), RFC 1071 (checksum).

export function macBytes(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
}

export function macString(m: Uint8Array): string {
  return Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function ip4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

export function ip4String(b: Uint8Array): string {
  return Array.from(b).join('.');
}

/** RFC 1071 ones'-complement sum (not folded into 16 bits, not inverted). */
export function sum16(b: Uint8Array, start = 0, end = b.length, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (b[i] << 8) | b[i + 1];
  if ((end - start) & 1) acc += b[end - 1] << 8;
  return acc;
}

export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536);
  return acc;
}

export function ethernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

export function arp(op: 1 | 2, sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array): Uint8Array {
  const a = new Uint8Array(28);
  a.set([0, 1, 8, 0, 6, 4, 0, op], 0);
  a.set(sha, 8);
  a.set(spa, 14);
  a.set(tha, 18);
  a.set(tpa, 24);
  return a;
}

export interface ArpView {
  op: number;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

export function parseArp(frame: Uint8Array): ArpView | null {
  if (frame.length < 42 || frame[12] !== 0x08 || frame[13] !== 0x06) return null;
  const a = frame.subarray(14);
  return {
    op: (a[6] << 8) | a[7],
    sha: macString(a.subarray(8, 14)),
    spa: ip4String(a.subarray(14, 18)),
    tha: macString(a.subarray(18, 24)),
    tpa: ip4String(a.subarray(24, 28)),
  };
}

export interface Ipv4View {
  proto: number;
  src: string;
  dst: string;
  totalLength: number;
  ihl: number;
  id: number;
  mf: boolean;
  fragOffset: number;
  /** The IP header's own checksum verifies. */
  headerOk: boolean;
}

export function parseIpv4(frame: Uint8Array): Ipv4View | null {
  if (frame.length < 34 || frame[12] !== 0x08 || frame[13] !== 0x00) return null;
  const ip = frame.subarray(14);
  const ihl = (ip[0] & 0x0f) * 4;
  return {
    proto: ip[9],
    src: ip4String(ip.subarray(12, 16)),
    dst: ip4String(ip.subarray(16, 20)),
    totalLength: (ip[2] << 8) | ip[3],
    ihl,
    id: (ip[4] << 8) | ip[5],
    mf: (ip[6] & 0x20) !== 0,
    fragOffset: (((ip[6] & 0x1f) << 8) | ip[7]) * 8,
    headerOk: fold(sum16(ip, 0, ihl)) === 0xffff,
  };
}

export interface TcpView {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  dataOffset: number;
  payloadLength: number;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export function parseTcp(frame: Uint8Array): TcpView | null {
  const ip = parseIpv4(frame);
  if (!ip || ip.proto !== 6) return null;
  const t = frame.subarray(14 + ip.ihl);
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const dataOffset = (t[12] >> 4) * 4;
  return {
    sport: dv.getUint16(0),
    dport: dv.getUint16(2),
    seq: dv.getUint32(0 + 4) >>> 0,
    ack: dv.getUint32(8) >>> 0,
    flags: t[13],
    dataOffset,
    payloadLength: ip.totalLength - ip.ihl - dataOffset,
  };
}

/** The IPv4 pseudo-header sum (RFC 793 section 3.1) for `len` transport bytes. */
export function pseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  return sum16(src) + sum16(dst) + proto + len;
}

export interface TcpSegment {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  /** Send MSS option (SYNs). */
  mss?: number;
  payload?: Uint8Array;
  /**
   * 'full': a complete TCP checksum. 'partial': only the folded pseudo-header sum, as a stack
   * leaves it for NEEDS_CSUM (the link's FrameOffload finishes it).
   */
  checksum: 'full' | 'partial';
}

/** An Ethernet + IPv4 + TCP frame. */
export function tcpFrame(s: TcpSegment): Uint8Array {
  const opts = s.mss !== undefined ? Uint8Array.of(2, 4, s.mss >> 8, s.mss & 0xff) : new Uint8Array(0);
  const payload = s.payload ?? new Uint8Array(0);
  const thl = 20 + opts.length;
  const tcpLen = thl + payload.length;
  const ip = new Uint8Array(20 + tcpLen);
  const dv = new DataView(ip.buffer);
  ip[0] = 0x45;
  dv.setUint16(2, 20 + tcpLen);
  dv.setUint16(6, 0x4000); // DF
  ip[8] = 64;
  ip[9] = 6;
  const src = ip4(s.src);
  const dst = ip4(s.dst);
  ip.set(src, 12);
  ip.set(dst, 16);
  dv.setUint16(10, ~fold(sum16(ip, 0, 20)) & 0xffff);
  dv.setUint16(20, s.sport);
  dv.setUint16(22, s.dport);
  dv.setUint32(24, s.seq >>> 0);
  dv.setUint32(28, s.ack >>> 0);
  ip[32] = (thl / 4) << 4;
  ip[33] = s.flags;
  dv.setUint16(34, s.window ?? 65535);
  ip.set(opts, 40);
  ip.set(payload, 20 + thl);
  const ps = pseudoSum(src, dst, 6, tcpLen);
  if (s.checksum === 'full') dv.setUint16(36, ~fold(sum16(ip, 20, ip.length, ps)) & 0xffff);
  else dv.setUint16(36, fold(ps));
  return ethernet(s.dstMac, s.srcMac, 0x0800, ip);
}

/** Does the TCP/UDP checksum of this IPv4 frame verify? */
export function transportChecksumOk(frame: Uint8Array): boolean {
  const ip = parseIpv4(frame);
  if (!ip) return false;
  const l4 = frame.subarray(14 + ip.ihl, 14 + ip.totalLength);
  const ps = pseudoSum(frame.subarray(26, 30), frame.subarray(30, 34), ip.proto, l4.length);
  return fold(sum16(l4, 0, l4.length, ps)) === 0xffff;
}
