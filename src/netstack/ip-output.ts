// IP output for locally generated datagrams: routing, the OUTPUT and POSTROUTING hooks, GSO
// (handed to the device or cut here), the IPv4/IPv6 header, fragmentation by the source, IP
// identification. Read first: RFC 791 §3.2 (fragmentation), RFC 8200 §4.5 (the Fragment
// header, source only), RFC 6864 and RFC 7739 (identification), RFC 1122 §3.3.

import { IpAddr } from './wire/ip-address.js';
import { finishPartialChecksum, foldSum, pseudoHeaderSum, sumWords } from './wire/checksum.js';
import type { FrameOffload } from './link.js';
import type { NetResult } from './errors.js';
import type { IpSendParams } from './transport.js';
import { isIpv4Reject, parseIpv4Header, writeIpv4Header } from './ipv4.js';
import { IPV6_FRAG_HEADER, IPV6_HEADER, NH_FRAGMENT, parseIpv6Header, writeFragmentHeader, writeIpv6Header } from './ipv6.js';
import { fragmentRanges } from './fragment.js';
import { segmentTcp } from './gso.js';
import { hookVerdict, sameBytes } from './ip-hooks.js';
import type { HookPoint, ResolvedRoute, Stack } from './stack.js';

const EMPTY = new Uint8Array(0);
/** RFC 9293 §3.1: the TCP checksum field's offset. */
export const TCP_CSUM_OFFSET = 16;

/** A transport datagram from this host (see Stack.sendIp): route, OUTPUT/POSTROUTING, GSO, emit. */
export function sendIp(s: Stack, p: IpSendParams): NetResult<void> {
  if (p.src.family !== p.dst.family) return 'EINVAL';
  let r = s.resolveRoute(p.dst, p.src.isUnspecified() ? null : p.src, p.nicId);
  if (typeof r === 'string') {
    s.stats.count(`ipv${p.dst.family}.out.no-route`);
    return r;
  }
  if (s.filter && (s.filter.OUTPUT || s.filter.POSTROUTING)) {
    const f = filterOutput(s, p, r);
    if (typeof f === 'string') return f;
    p = f.p;
    r = f.r;
  }
  const payload = p.payload ?? EMPTY;
  const family = p.dst.family;
  const ttl = p.ttl ?? s.defaultTtl;
  const tos = p.tos ?? 0;
  const caps = r.nic.caps;
  const ipHdr = family === 4 ? 20 : IPV6_HEADER;
  const gso = p.gso;
  if (gso && payload.length > gso.mss) {
    const total = ipHdr + p.header.length + payload.length;
    const hw = caps.gsoMaxSize > 0 && caps.txChecksumOffload && total <= caps.gsoMaxSize && total <= 65535 && p.checksumOffset !== undefined;
    if (hw) {
      const L = r.nic.linkHeaderLen;
      const offload: FrameOffload = {
        csumStart: L + ipHdr,
        csumOffset: p.checksumOffset,
        gsoType: family === 4 ? 'tcpv4' : 'tcpv6',
        gsoSize: gso.mss,
        hdrLen: L + ipHdr + p.header.length,
      };
      return emit(s, r, p, p.header, payload, ttl, tos, offload, p.checksumOffset);
    }
    // DESIGN.md: segment in software when the link cannot.
    s.stats.count('gso.software');
    for (const seg of segmentTcp(p.header, payload, gso.mss)) {
      // Every segment needs its own checksum, whoever computed the aggregate's (TCP's field is at 16).
      const res = emit(s, r, p, seg.header, seg.payload, ttl, tos, undefined, p.checksumOffset ?? TCP_CSUM_OFFSET);
      if (typeof res === 'string') return res;
    }
    return;
  }
  return emit(s, r, p, p.header, payload, ttl, tos, undefined, p.checksumOffset);
}

/**
 * OUTPUT and POSTROUTING for a locally generated datagram. The hooks see it whole (built here,
 * so they may rewrite it); what they leave is what gets sent, routed again if OUTPUT moved
 * the destination (Linux's ip_route_me_harder after NAT).
 */
function filterOutput(s: Stack, p: IpSendParams, r: ResolvedRoute): NetResult<{ p: IpSendParams; r: ResolvedRoute }> {
  // A send can happen while an arriving packet is being processed (an answer from a socket
  // callback, an ICMP error): keep that packet's context.
  const outer = s.pktCtx;
  s.pktCtx = { mark: 0, conn: undefined, info: 0 };
  try {
    return filterOutputHooks(s, p, r);
  } finally {
    s.pktCtx = outer;
  }
}

function filterOutputHooks(s: Stack, p: IpSendParams, r: ResolvedRoute): NetResult<{ p: IpSendParams; r: ResolvedRoute }> {
  const family = p.dst.family;
  const ipHdr = family === 4 ? 20 : IPV6_HEADER;
  const payload = p.payload ?? EMPTY;
  const tlen = p.header.length + payload.length;
  if (ipHdr + tlen > 65535 + (family === 6 ? IPV6_HEADER : 0)) return 'EMSGSIZE';
  const dg = new Uint8Array(ipHdr + tlen);
  const ttl = p.ttl ?? s.defaultTtl;
  if (family === 4) {
    writeIpv4Header(dg, 0, { tos: p.tos ?? 0, totalLen: dg.length, id: 0, df: !!p.dontFragment, mf: false, fragOffset: 0, ttl, protocol: p.protocol, src: p.src, dst: p.dst });
  } else {
    writeIpv6Header(dg, 0, { trafficClass: p.tos ?? 0, flowLabel: 0, payloadLen: tlen, nextHeader: p.protocol, hopLimit: ttl, src: p.src, dst: p.dst });
  }
  dg.set(p.header, ipHdr);
  dg.set(payload, ipHdr + p.header.length);
  const aOff = family === 4 ? 12 : 8;
  const aLen = family === 4 ? 4 : 16;
  let src = p.src;
  let dst = p.dst;
  const transport = dg.subarray(ipHdr);
  const partial = p.checksumOffset !== undefined;
  for (let k = 0; k < 2; k++) {
    const point: HookPoint = k === 0 ? 'OUTPUT' : 'POSTROUTING';
    const v = hookVerdict(s, {
      hook: point,
      ctx: s.pktCtx ?? undefined,
      family,
      src,
      dst,
      protocol: p.protocol,
      transport,
      fragment: false,
      length: dg.length,
      outNic: r.nic.nicId,
      owner: p.owner,
      packet: dg,
      checksumPartial: partial,
    });
    if (v !== 'accept') return v.error ?? 'EPERM';
    const nsrc = sameBytes(dg, aOff, src.bytes) ? src : IpAddr.read(family, dg, aOff);
    const ndst = sameBytes(dg, aOff + aLen, dst.bytes) ? dst : IpAddr.read(family, dg, aOff + aLen);
    if (point === 'OUTPUT' && ndst !== dst) {
      const r2 = s.resolveRoute(ndst, s.isLocalAddress(nsrc) ? nsrc : null, p.nicId);
      if (typeof r2 === 'string') return r2;
      r = r2;
      s.stats.count('filter.OUTPUT.rerouted');
    }
    src = nsrc;
    dst = ndst;
  }
  const header = dg.subarray(ipHdr, ipHdr + p.header.length);
  return { p: { ...p, src, dst, header, payload: dg.subarray(ipHdr + p.header.length) }, r };
}

/** A complete datagram built elsewhere (see Stack.sendRawIp): routed, not filtered, not fragmented. */
export function sendRawIp(s: Stack, datagram: Uint8Array): NetResult<void> {
  const v = datagram.length > 0 ? datagram[0] >> 4 : 0;
  let dst: IpAddr;
  let len: number;
  if (v === 4) {
    const h = parseIpv4Header(datagram);
    if (isIpv4Reject(h)) return 'EINVAL';
    dst = h.dst;
    len = h.totalLen;
  } else if (v === 6) {
    const h = parseIpv6Header(datagram);
    if (typeof h === 'string') return 'EINVAL';
    dst = h.dst;
    len = h.end;
  } else {
    return 'EINVAL';
  }
  const r = s.resolveRoute(dst, null);
  if (typeof r === 'string') return r;
  if (len > r.mtu) return 'EMSGSIZE';
  const L = r.nic.linkHeaderLen;
  const frame = new Uint8Array(L + len);
  frame.set(datagram.subarray(0, len), L);
  s.stats.count(`ipv${v}.sent-raw`);
  r.nic.transmit(frame, v as 4 | 6, r.nextHop, r.kind);
}

/** One transport datagram: checksum, IP header(s), fragmentation, link. */
function emit(
  s: Stack,
  r: ResolvedRoute,
  p: IpSendParams,
  header: Uint8Array,
  payload: Uint8Array,
  ttl: number,
  tos: number,
  offload: FrameOffload | undefined,
  /** Where the transport checksum field is when the stack must finish it (else undefined). */
  csumOffset: number | undefined,
): NetResult<void> {
  const family = p.dst.family;
  const ipHdr = family === 4 ? 20 : IPV6_HEADER;
  const tlen = header.length + payload.length;
  const fits = ipHdr + tlen <= r.mtu || offload?.gsoType !== undefined;
  if (family === 4 && !fits && p.dontFragment) {
    s.stats.count('ipv4.out.too-big-df');
    return 'EMSGSIZE';
  }
  if (family === 4 ? ipHdr + tlen > 65535 : tlen > 65535) return 'EMSGSIZE';
  const L = r.nic.linkHeaderLen;
  if (fits) {
    const frame = new Uint8Array(L + ipHdr + tlen);
    const t = L + ipHdr;
    frame.set(header, t);
    frame.set(payload, t + header.length);
    if (csumOffset !== undefined && !offload) {
      if (r.nic.caps.txChecksumOffload) {
        // CHECKSUM_PARTIAL for the device: the pseudo-header sum of this datagram's length
        // (rewritten: a software-GSO segment is shorter than what the transport summed).
        const ps = p.protocol === 1 ? 0 : foldSum(pseudoHeaderSum(p.src, p.dst, p.protocol, tlen));
        frame[t + csumOffset] = ps >>> 8;
        frame[t + csumOffset + 1] = ps & 0xff;
        offload = { csumStart: t, csumOffset };
      } else {
        finishChecksum(frame, t, csumOffset, p.protocol, p.src, p.dst, tlen);
      }
    }
    if (family === 4) {
      writeIpv4Header(frame, L, { tos, totalLen: 20 + tlen, id: nextIpId(s, p.src, p.dst, p.protocol), df: !!p.dontFragment, mf: false, fragOffset: 0, ttl, protocol: p.protocol, src: p.src, dst: p.dst });
    } else {
      writeIpv6Header(frame, L, { trafficClass: tos, flowLabel: 0, payloadLen: tlen, nextHeader: p.protocol, hopLimit: ttl, src: p.src, dst: p.dst });
    }
    s.stats.count(`ipv${family}.sent`);
    if (r.kind !== 'unicast') loopCopy(s, frame.subarray(L), L, offload);
    r.nic.transmit(frame, family, r.nextHop, r.kind, offload, s.unreachable);
    return;
  }
  // Too big for the path: fragment (RFC 791 §3.2; RFC 8200 §4.5, the source only).
  const body = new Uint8Array(tlen);
  body.set(header, 0);
  body.set(payload, header.length);
  if (csumOffset !== undefined) finishChecksum(body, 0, csumOffset, p.protocol, p.src, p.dst, tlen);
  if (family === 4) {
    fragment4(s, r, { tos, id: nextIpId(s, p.src, p.dst, p.protocol), ttl, protocol: p.protocol, src: p.src, dst: p.dst }, body, 0, false);
  } else {
    fragment6(s, r, body, p.protocol, ttl, tos, p.src, p.dst);
  }
  return;
}

/**
 * Broadcasts and multicasts we send also reach our own sockets, as on Linux (ip_mc_output's
 * loopback copy; IP_MULTICAST_LOOP defaults to on).
 */
function loopCopy(s: Stack, ipPacket: Uint8Array, linkHeaderLen: number, offload: FrameOffload | undefined): void {
  const lo = s.loopbackNic;
  if (!lo) return;
  const copy = ipPacket.slice();
  // Loopback has no checksum offload: finish a partial sum (offsets count the link header).
  if (offload?.csumStart !== undefined && offload.csumOffset !== undefined) {
    finishPartialChecksum(copy, offload.csumStart - linkHeaderLen, offload.csumOffset);
  }
  lo.transmit(copy, copy[0] >> 4 === 4 ? 4 : 6, IpAddr.ANY4, 'unicast');
}

export function fragment4(
  s: Stack,
  r: ResolvedRoute,
  f: { tos: number; id: number; ttl: number; protocol: number; src: IpAddr; dst: IpAddr },
  body: Uint8Array,
  baseOffset: number,
  lastMf: boolean,
): void {
  const L = r.nic.linkHeaderLen;
  const ranges = fragmentRanges(body.length, r.mtu - 20);
  s.stats.count('ipv4.frag.created', ranges.length);
  for (let i = 0; i < ranges.length; i++) {
    const [off, len] = ranges[i];
    const frame = new Uint8Array(L + 20 + len);
    frame.set(body.subarray(off, off + len), L + 20);
    const mf = i < ranges.length - 1 || lastMf;
    writeIpv4Header(frame, L, { ...f, totalLen: 20 + len, df: false, mf, fragOffset: baseOffset + off });
    s.stats.count('ipv4.sent');
    r.nic.transmit(frame, 4, r.nextHop, r.kind, undefined, s.unreachable);
  }
}

function fragment6(s: Stack, r: ResolvedRoute, body: Uint8Array, protocol: number, hopLimit: number, tc: number, src: IpAddr, dst: IpAddr): void {
  const L = r.nic.linkHeaderLen;
  // RFC 8200 §4.5: the identification is unique per (src, dst) for the datagram's lifetime.
  const bucket = idBucket(s, src, dst, 44) & 1023;
  const ident = (s.fragIds[bucket] = (s.fragIds[bucket] + 1) >>> 0);
  const ranges = fragmentRanges(body.length, Math.max(r.mtu, 1280) - IPV6_HEADER - IPV6_FRAG_HEADER);
  s.stats.count('ipv6.frag.created', ranges.length);
  for (let i = 0; i < ranges.length; i++) {
    const [off, len] = ranges[i];
    const frame = new Uint8Array(L + IPV6_HEADER + IPV6_FRAG_HEADER + len);
    writeIpv6Header(frame, L, { trafficClass: tc, flowLabel: 0, payloadLen: IPV6_FRAG_HEADER + len, nextHeader: NH_FRAGMENT, hopLimit, src, dst });
    writeFragmentHeader(frame, L + IPV6_HEADER, protocol, off, i < ranges.length - 1, ident);
    frame.set(body.subarray(off, off + len), L + IPV6_HEADER + IPV6_FRAG_HEADER);
    s.stats.count('ipv6.sent');
    r.nic.transmit(frame, 6, r.nextHop, r.kind, undefined, s.unreachable);
  }
}

/** Computes the transport checksum in software (CHECKSUM_PARTIAL or a re-segmented header). */
export function finishChecksum(buf: Uint8Array, start: number, csumOffset: number, protocol: number, src: IpAddr, dst: IpAddr, len: number): void {
  const at = start + csumOffset;
  buf[at] = 0;
  buf[at + 1] = 0;
  // ICMPv4 has no pseudo-header (RFC 792); TCP, UDP, ICMPv6 do.
  const pseudo = protocol === 1 ? 0 : pseudoHeaderSum(src, dst, protocol, len);
  let c = ~foldSum(pseudo + sumWords(buf, start, start + len)) & 0xffff;
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  if (c === 0 && protocol === 17) c = 0xffff;
  buf[at] = c >>> 8;
  buf[at + 1] = c & 0xff;
}

/**
 * RFC 6864 §4 / RFC 7739: IDs unique per (src, dst, protocol) for a datagram's lifetime, and
 * not one global counter (an observer could count our traffic to others: the idle scan).
 * Buckets start at random values and are chosen by a keyed hash, as Linux's ip_idents.
 */
function nextIpId(s: Stack, src: IpAddr, dst: IpAddr, protocol: number): number {
  return s.ipIds[idBucket(s, src, dst, protocol) & 2047]++;
}

/** A keyed hash of a flow's addresses (FNV-1a over the bytes, seeded with a secret). */
function idBucket(s: Stack, src: IpAddr, dst: IpAddr, protocol: number): number {
  let h = s.ipIdKey ^ protocol;
  const a = src.bytes;
  const b = dst.bytes;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i], 0x01000193);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}
