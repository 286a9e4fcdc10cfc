// Script packets <-> bytes: building the frames a `<` line injects and matching what the stack
// sends against a `>` line with packetdrill's rules (its README, "Packet matching"):
//   - sequence numbers are relative: inbound seqs are sent as written (the remote ISN is 0) and
//     the stack's ISN is learned from its first SYN; outbound seq/ack/SACK are mapped back;
//   - flags, seq, payload length and (with ACK) ack must be equal; `win` is checked only when
//     written; options are checked kind by kind in order unless the line says `<...>`; the
//     outbound TS val is not checked (packetdrill's --tcp_ts_tick_usecs=0 default) but its ecr is;
//     the inbound TS ecr is shifted by the stack's TS val offset learned from its first TS.
// RFCs: 9293 (TCP header), 7323 (timestamps, window scale), 2018 (SACK), 768 (UDP).

import { IpAddr } from '../../netstack/index.js';
import { emitIpv4, parseIpv4 } from '../../netstack/wire/ipv4.js';
import { emitIpv6, parseIpv6 } from '../../netstack/wire/ipv6.js';
import { tcpChecksum, TcpFlags, TcpOptionKind } from '../../netstack/wire/tcp.js';
import { udpChecksum } from '../../netstack/wire/udp.js';
import { internetChecksum, transportChecksum, verifyTransportChecksum } from '../../netstack/wire/checksum.js';
import type { IcmpPacketSpec, PacketSpec, TcpOptionSpec, TcpPacketSpec } from './parser.js';

const PROTO_TCP = 6;
const PROTO_UDP = 17;

/** Connection-wide mapping between script space and live values. */
export interface SeqMap {
  localIsn: number | null;
  /** TS val offset: live = script + tsOffset. */
  tsOffset: number | null;
}

export interface Endpoints {
  local: IpAddr;
  remote: IpAddr;
  localPort: number;
  remotePort: number;
}

const FLAG_CHARS: [string, number][] = [
  ['F', TcpFlags.FIN],
  ['S', TcpFlags.SYN],
  ['R', TcpFlags.RST],
  ['P', TcpFlags.PSH],
  ['.', TcpFlags.ACK],
  ['U', TcpFlags.URG],
  ['E', TcpFlags.ECE],
  ['W', TcpFlags.CWR],
];

export function flagBits(text: string): number {
  let f = 0;
  for (const ch of text) for (const [c, b] of FLAG_CHARS) if (c === ch) f |= b;
  return f;
}

export function flagText(bits: number): string {
  let s = '';
  for (const [c, b] of FLAG_CHARS) if (bits & b) s += c;
  return s || '(none)';
}

function encodeOptions(opts: TcpOptionSpec[], map: SeqMap): Uint8Array {
  const bytes: number[] = [];
  const u32 = (v: number) => bytes.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  for (const o of opts) {
    switch (o.kind) {
      case 'nop':
        bytes.push(TcpOptionKind.NOP);
        break;
      case 'eol':
        bytes.push(TcpOptionKind.EOL);
        break;
      case 'mss':
        bytes.push(TcpOptionKind.MSS, 4, (o.v >>> 8) & 0xff, o.v & 0xff);
        break;
      case 'wscale':
        bytes.push(TcpOptionKind.WINDOW_SCALE, 3, o.v & 0xff);
        break;
      case 'sackOK':
        bytes.push(TcpOptionKind.SACK_PERMITTED, 2);
        break;
      case 'sack':
        bytes.push(TcpOptionKind.SACK, 2 + 8 * o.blocks.length);
        // SACK blocks of an inbound packet acknowledge the stack's data: relative to its ISN.
        for (const [l, r] of o.blocks) {
          u32((l + (map.localIsn ?? 0)) >>> 0);
          u32((r + (map.localIsn ?? 0)) >>> 0);
        }
        break;
      case 'ts':
        bytes.push(TcpOptionKind.TIMESTAMP, 10);
        u32(o.val);
        // An ecr of 0 means "no echo" (RFC 7323 §3.2, SYN): not shifted.
        u32(o.ecr === 0 ? 0 : (o.ecr + (map.tsOffset ?? 0)) >>> 0);
        break;
    }
  }
  while (bytes.length % 4) bytes.push(TcpOptionKind.EOL);
  return Uint8Array.from(bytes);
}

function ipWrap(ep: Endpoints, proto: number, l4: Uint8Array): Uint8Array {
  if (ep.local.family === 4) {
    const out = new Uint8Array(20 + l4.length);
    emitIpv4({ src: ep.remote, dst: ep.local, protocol: proto, ttl: 64, payloadLen: l4.length, dontFragment: true }, out, 0);
    out.set(l4, 20);
    return out;
  }
  const out = new Uint8Array(40 + l4.length);
  emitIpv6({ src: ep.remote, dst: ep.local, nextHeader: proto, hopLimit: 64, payloadLen: l4.length }, out, 0);
  out.set(l4, 40);
  return out;
}

// ICMP types and codes (RFC 792, RFC 4443 §3).
const ICMP4_TYPE = { unreachable: 3, time_exceeded: 11, packet_too_big: 3 } as const;
const ICMP6_TYPE = { unreachable: 1, time_exceeded: 3, packet_too_big: 2 } as const;
const ICMP4_CODE: Record<string, number> = { net_unreachable: 0, host_unreachable: 1, protocol_unreachable: 2, port_unreachable: 3, frag_needed: 4, admin_prohibited: 13, ttl_exceeded: 0 };
const ICMP6_CODE: Record<string, number> = { net_unreachable: 0, admin_prohibited: 1, host_unreachable: 3, port_unreachable: 4, protocol_unreachable: 4, ttl_exceeded: 0 };

function icmpTypeCode(spec: IcmpPacketSpec, family: 4 | 6): [number, number | null] {
  const tooBig = spec.type === 'packet_too_big' || spec.code === 'frag_needed';
  if (family === 4) return [tooBig ? 3 : ICMP4_TYPE[spec.type], tooBig ? 4 : spec.code === null ? null : ICMP4_CODE[spec.code]!];
  // RFC 4443 §3.2: "fragmentation needed" is its own message, Packet Too Big (type 2, code 0).
  return tooBig ? [2, 0] : [ICMP6_TYPE[spec.type], spec.code === null ? null : ICMP6_CODE[spec.code]!];
}

/**
 * An ICMP error from the remote end quoting `quoted` (RFC 792: the IP header and 8 bytes;
 * RFC 4443 §2.4(c): as much as fits; here the IP header and 8 bytes both ways).
 */
function buildIcmp(spec: IcmpPacketSpec, ep: Endpoints, map: SeqMap, lastOut: Uint8Array | null): Uint8Array {
  const fam = ep.local.family;
  let quote: Uint8Array;
  if (spec.inner) {
    const l4 = new Uint8Array(20 + spec.inner.len);
    const dv = new DataView(l4.buffer);
    dv.setUint16(0, ep.localPort);
    dv.setUint16(2, spec.remotePort ?? ep.remotePort);
    dv.setUint32(4, (spec.inner.seq + (map.localIsn ?? 0)) >>> 0);
    l4[12] = 5 << 4;
    l4[13] = TcpFlags.ACK;
    const rev: Endpoints = { local: ep.remote, remote: ep.local, localPort: 0, remotePort: 0 };
    quote = ipWrap(rev, PROTO_TCP, l4);
  } else {
    quote = lastOut ?? new Uint8Array(fam === 4 ? 20 : 40);
  }
  const ihl = fam === 4 ? (quote[0]! & 15) * 4 : 40;
  quote = quote.subarray(0, Math.min(quote.length, ihl + 8));
  const [type, code] = icmpTypeCode(spec, fam);
  const msg = new Uint8Array(8 + quote.length);
  msg[0] = type;
  msg[1] = code ?? 0;
  const dv = new DataView(msg.buffer);
  if (spec.mtu !== null) {
    if (fam === 4) dv.setUint16(6, spec.mtu);
    else dv.setUint32(4, spec.mtu);
  }
  msg.set(quote, 8);
  dv.setUint16(2, fam === 4 ? internetChecksum(msg) : transportChecksum(ep.remote, ep.local, 58, msg));
  return ipWrap(ep, fam === 4 ? 1 : 58, msg);
}

/** The IP datagram a `<` line stands for (`lastOut`: the stack's last datagram, for ICMP quotes). */
export function buildInbound(spec: PacketSpec, ep: Endpoints, map: SeqMap, lastOut: Uint8Array | null = null): Uint8Array {
  if (spec.proto === 'icmp') return buildIcmp(spec, ep, map, lastOut);
  const rport = spec.remotePort ?? ep.remotePort;
  if (spec.proto === 'udp') {
    const l4 = new Uint8Array(8 + spec.len);
    const dv = new DataView(l4.buffer);
    dv.setUint16(0, rport);
    dv.setUint16(2, ep.localPort);
    dv.setUint16(4, l4.length);
    dv.setUint16(6, udpChecksum(ep.remote, ep.local, l4.subarray(0, 8), l4.subarray(8)) || 0xffff);
    return ipWrap(ep, PROTO_UDP, l4);
  }
  const opts = encodeOptions(spec.options ?? [], map);
  const hl = 20 + opts.length;
  const l4 = new Uint8Array(hl + spec.len);
  const dv = new DataView(l4.buffer);
  const flags = flagBits(spec.flags);
  dv.setUint16(0, rport);
  dv.setUint16(2, ep.localPort);
  dv.setUint32(4, spec.seq >>> 0);
  dv.setUint32(8, flags & TcpFlags.ACK && spec.ack !== null ? (spec.ack + (map.localIsn ?? 0)) >>> 0 : 0);
  l4[12] = (hl / 4) << 4;
  l4[13] = flags & 0xff;
  // packetdrill requires no `win` on inbound lines; moat sends 65535 when none is written.
  dv.setUint16(14, spec.win ?? 65535);
  dv.setUint16(18, spec.urg ?? 0);
  l4.set(opts, 20);
  dv.setUint16(16, tcpChecksum(ep.remote, ep.local, l4.subarray(0, hl), l4.subarray(hl)));
  return ipWrap(ep, PROTO_TCP, l4);
}

/** An outbound datagram taken apart: its live values. */
export interface LivePacket {
  proto: 'tcp' | 'udp' | 'other';
  family: 4 | 6;
  src: IpAddr;
  dst: IpAddr;
  srcPort: number;
  dstPort: number;
  flags: number;
  seq: number;
  ack: number;
  win: number;
  urg: number;
  /** Options in wire order, raw. */
  options: { kind: number; data: Uint8Array }[];
  payloadLen: number;
  checksumOk: boolean;
  protoNumber: number;
  /** ICMP/ICMPv6 type and code (-1 for other protocols). */
  icmpType: number;
  icmpCode: number;
}

function walkOptions(area: Uint8Array): { kind: number; data: Uint8Array }[] {
  const out: { kind: number; data: Uint8Array }[] = [];
  for (let i = 0; i < area.length; ) {
    const k = area[i]!;
    if (k === TcpOptionKind.EOL) break;
    if (k === TcpOptionKind.NOP) {
      out.push({ kind: k, data: area.subarray(i + 1, i + 1) });
      i++;
      continue;
    }
    const len = area[i + 1] ?? 0;
    if (len < 2 || i + len > area.length) {
      out.push({ kind: -1, data: area.subarray(i) });
      break;
    }
    out.push({ kind: k, data: area.subarray(i + 2, i + len) });
    i += len;
  }
  return out;
}

/** Parses an IP datagram the stack sent; null when it is not IP at all. */
export function parseOutbound(ip: Uint8Array): LivePacket | null {
  let src: IpAddr, dst: IpAddr, proto: number, l4: Uint8Array, family: 4 | 6;
  if (ip.length > 0 && ip[0]! >> 4 === 4) {
    const r = parseIpv4(ip);
    if (typeof r === 'string') return null;
    const ihl = (ip[0]! & 15) * 4;
    src = r.src;
    dst = r.dst;
    proto = r.protocol;
    l4 = ip.subarray(ihl, ihl + r.payloadLen);
    family = 4;
  } else {
    const r = parseIpv6(ip);
    if (typeof r === 'string') return null;
    src = r.src;
    dst = r.dst;
    proto = r.nextHeader;
    l4 = ip.subarray(40, 40 + r.payloadLen);
    family = 6;
  }
  const base: LivePacket = {
    proto: 'other', family, src, dst, srcPort: 0, dstPort: 0, flags: 0, seq: 0, ack: 0, win: 0, urg: 0,
    options: [], payloadLen: l4.length, checksumOk: true, protoNumber: proto, icmpType: -1, icmpCode: -1,
  };
  if ((proto === 1 || proto === 58) && l4.length >= 8) {
    return { ...base, icmpType: l4[0]!, icmpCode: l4[1]!, checksumOk: proto === 1 ? internetChecksum(l4) === 0 : verifyTransportChecksum(src, dst, 58, l4) };
  }
  if (proto === PROTO_TCP && l4.length >= 20) {
    const dv = new DataView(l4.buffer, l4.byteOffset, l4.byteLength);
    const hl = (l4[12]! >> 4) * 4;
    return {
      ...base,
      proto: 'tcp',
      srcPort: dv.getUint16(0),
      dstPort: dv.getUint16(2),
      seq: dv.getUint32(4) >>> 0,
      ack: dv.getUint32(8) >>> 0,
      flags: l4[13]!,
      win: dv.getUint16(14),
      urg: dv.getUint16(18),
      options: walkOptions(l4.subarray(20, Math.min(hl, l4.length))),
      payloadLen: Math.max(0, l4.length - hl),
      checksumOk: verifyTransportChecksum(src, dst, PROTO_TCP, l4),
    };
  }
  if (proto === PROTO_UDP && l4.length >= 8) {
    const dv = new DataView(l4.buffer, l4.byteOffset, l4.byteLength);
    return {
      ...base,
      proto: 'udp',
      srcPort: dv.getUint16(0),
      dstPort: dv.getUint16(2),
      payloadLen: l4.length - 8,
      checksumOk: dv.getUint16(6) === 0 || verifyTransportChecksum(src, dst, PROTO_UDP, l4),
    };
  }
  return base;
}

const u32 = (d: Uint8Array, o: number) => ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;

/** Options of a live packet in script notation, with seqs mapped into script space. */
function optionsText(p: LivePacket, map: SeqMap): string {
  const parts: string[] = [];
  for (const o of p.options) {
    switch (o.kind) {
      case TcpOptionKind.NOP:
        parts.push('nop');
        break;
      case TcpOptionKind.MSS:
        parts.push(o.data.length === 2 ? `mss ${(o.data[0]! << 8) | o.data[1]!}` : 'mss ?');
        break;
      case TcpOptionKind.WINDOW_SCALE:
        parts.push(`wscale ${o.data[0] ?? '?'}`);
        break;
      case TcpOptionKind.SACK_PERMITTED:
        parts.push('sackOK');
        break;
      case TcpOptionKind.SACK: {
        const b: string[] = [];
        for (let i = 0; i + 8 <= o.data.length; i += 8) b.push(`${u32(o.data, i)}:${u32(o.data, i + 4)}`);
        parts.push(`sack ${b.join(' ')}`);
        break;
      }
      case TcpOptionKind.TIMESTAMP:
        if (o.data.length === 8) {
          const val = u32(o.data, 0);
          parts.push(`TS val ${map.tsOffset === null ? val : (val - map.tsOffset) >>> 0} ecr ${u32(o.data, 4)}`);
        } else parts.push('TS ?');
        break;
      default:
        parts.push(`opt${o.kind}`);
    }
  }
  return parts.join(',');
}

/** A live packet as a script line (seq/ack relative), for expected-versus-actual messages. */
export function liveText(p: LivePacket, map: SeqMap): string {
  if (p.proto === 'udp') return `udp (${p.payloadLen})`;
  if (p.icmpType >= 0) return `icmp type ${p.icmpType} code ${p.icmpCode} (${p.payloadLen} bytes)`;
  if (p.proto === 'other') return `protocol ${p.protoNumber} packet (${p.payloadLen} bytes)`;
  const isn = map.localIsn ?? 0;
  const s = (p.seq - isn) >>> 0;
  let t = `${flagText(p.flags)} ${s}:${(s + p.payloadLen) >>> 0}(${p.payloadLen})`;
  if (p.flags & TcpFlags.ACK) t += ` ack ${p.ack}`;
  t += ` win ${p.win}`;
  if (p.options.length) t += ` <${optionsText(p, map)}>`;
  return t;
}

export function specText(p: PacketSpec): string {
  const port = p.remotePort !== null ? `remote_port ${p.remotePort} ` : '';
  if (p.proto === 'udp') return `${port}udp (${p.len})`;
  if (p.proto === 'icmp') {
    let t = `${port}icmp ${p.type}`;
    if (p.code) t += ` ${p.code}`;
    if (p.mtu !== null) t += ` mtu ${p.mtu}`;
    if (p.inner) t += ` [${p.inner.seq}:${p.inner.end}(${p.inner.len})]`;
    return t;
  }
  let t = `${port}${p.flags} ${p.seq}:${p.end}(${p.len})`;
  if (p.ack !== null) t += ` ack ${p.ack}`;
  if (p.win !== null) t += ` win ${p.win}`;
  if (p.urg !== null) t += ` urg ${p.urg}`;
  if (p.options === null) t += ' <...>';
  else if (p.options.length) {
    t += ` <${p.options
      .map((o) => {
        switch (o.kind) {
          case 'mss':
          case 'wscale':
            return `${o.kind} ${o.v}`;
          case 'sack':
            return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(' ')}`;
          case 'ts':
            return `TS val ${o.val} ecr ${o.ecr}`;
          default:
            return o.kind;
        }
      })
      .join(',')}>`;
  }
  return t;
}

const SPEC_KIND: Record<TcpOptionSpec['kind'], number> = {
  nop: TcpOptionKind.NOP,
  eol: TcpOptionKind.EOL,
  mss: TcpOptionKind.MSS,
  wscale: TcpOptionKind.WINDOW_SCALE,
  sackOK: TcpOptionKind.SACK_PERMITTED,
  sack: TcpOptionKind.SACK,
  ts: TcpOptionKind.TIMESTAMP,
};

/**
 * Checks a live packet against a `>` line. Learns the stack's ISN from its SYN and its TS val
 * offset from its first timestamp (mutating `map`). Returns null on a match, else the first
 * field that differs.
 */
export function matchOutbound(spec: PacketSpec, p: LivePacket, ep: Endpoints, map: SeqMap): string | null {
  if (spec.proto === 'icmp') {
    if (p.icmpType < 0) return `expected an ICMP packet, got ${p.proto === 'other' ? `protocol ${p.protoNumber}` : p.proto.toUpperCase()}`;
    if (!p.checksumOk) return 'bad ICMP checksum';
    const [type, code] = icmpTypeCode(spec, p.family);
    if (p.icmpType !== type) return `icmp type: expected ${type} vs actual ${p.icmpType}`;
    if (code !== null && p.icmpCode !== code) return `icmp code: expected ${code} vs actual ${p.icmpCode}`;
    return null;
  }
  if (spec.proto === 'udp') {
    if (p.proto !== 'udp') return `expected a UDP packet, got ${p.proto === 'tcp' ? 'TCP' : `protocol ${p.protoNumber}`}`;
    if (!p.checksumOk) return 'bad UDP checksum';
    if (p.payloadLen !== spec.len) return `udp payload length: expected ${spec.len} vs actual ${p.payloadLen}`;
    return null;
  }
  if (p.proto !== 'tcp') return `expected a TCP packet, got ${p.proto === 'udp' ? 'UDP' : `protocol ${p.protoNumber}`}`;
  if (!p.checksumOk) return 'bad TCP checksum';
  const rport = spec.remotePort ?? ep.remotePort;
  if (p.dstPort !== rport && ep.remotePort !== 0) return `tcp destination port: expected ${rport} vs actual ${p.dstPort}`;
  const want = flagBits(spec.flags);
  if (p.flags !== want) return `tcp flags: expected ${flagText(want)} vs actual ${flagText(p.flags)}`;
  if (p.flags & TcpFlags.SYN) map.localIsn = (p.seq - spec.seq) >>> 0;
  const isn = map.localIsn ?? (map.localIsn = (p.seq - spec.seq) >>> 0);
  const seq = (p.seq - isn) >>> 0;
  if (seq !== spec.seq) return `tcp seq: expected ${spec.seq} vs actual ${seq}`;
  if (p.payloadLen !== spec.len) return `tcp payload length: expected ${spec.len} vs actual ${p.payloadLen}`;
  if (p.flags & TcpFlags.ACK && spec.ack !== null && p.ack !== spec.ack) return `tcp ack: expected ${spec.ack} vs actual ${p.ack}`;
  if (spec.win !== null && p.win !== spec.win) return `tcp window: expected ${spec.win} vs actual ${p.win}`;
  if (spec.urg !== null && p.urg !== spec.urg) return `tcp urgent pointer: expected ${spec.urg} vs actual ${p.urg}`;
  return spec.options === null ? null : matchOptions(spec, p, map);
}

function matchOptions(spec: TcpPacketSpec, p: LivePacket, map: SeqMap): string | null {
  const want = spec.options!;
  const got = p.options;
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const w = want[i];
    const g = got[i];
    if (!w || !g || SPEC_KIND[w.kind] !== g.kind) return 'bad outbound TCP options';
    switch (w.kind) {
      case 'mss':
        if (g.data.length !== 2 || ((g.data[0]! << 8) | g.data[1]!) !== w.v) return 'bad outbound TCP options (mss value)';
        break;
      case 'wscale':
        if (g.data.length !== 1 || g.data[0] !== w.v) return 'bad outbound TCP options (wscale value)';
        break;
      case 'sackOK':
        if (g.data.length !== 0) return 'bad outbound TCP options (sackOK length)';
        break;
      case 'sack': {
        if (g.data.length !== 8 * w.blocks.length) return 'bad outbound TCP options (SACK block count)';
        for (let b = 0; b < w.blocks.length; b++) {
          if (u32(g.data, 8 * b) !== w.blocks[b]![0] || u32(g.data, 8 * b + 4) !== w.blocks[b]![1]) return 'bad outbound TCP options (SACK blocks)';
        }
        break;
      }
      case 'ts': {
        if (g.data.length !== 8) return 'bad outbound TCP options (TS length)';
        const val = u32(g.data, 0);
        if (map.tsOffset === null) map.tsOffset = (val - w.val) >>> 0;
        if (u32(g.data, 4) !== w.ecr) return `tcp TS ecr: expected ${w.ecr} vs actual ${u32(g.data, 4)}`;
        break;
      }
      default:
        break;
    }
  }
  return null;
}

export { IpAddr };
