// Forwarding (RFC 1812 §5 for IPv4, RFC 8200 §3 and RFC 4443 for IPv6): TTL/hop limit, the
// route, "fragmentation needed" / "packet too big" before the hooks, FORWARD and POSTROUTING,
// router fragmentation (IPv4 only), and datagrams that arrived with receive offloads (partial
// checksums, GRO aggregates) handed on or finished here. Read RFC 1812 §5.2-§5.3 first.

import type { IpAddr } from './wire/ip-address.js';
import { finishPartialChecksum, foldSum, pseudoHeaderSum } from './wire/checksum.js';
import type { FrameOffload } from './link.js';
import type { Nic } from './nic.js';
import { setIpv4Checksum, type Ipv4Header } from './ipv4.js';
import { IPV6_HEADER, type Ipv6Header } from './ipv6.js';
import { ICMP4, ICMP4_UNREACH, ICMP6, ICMP6_UNREACH, type OffendingPacket4 } from './icmp.js';
import { segmentTcp } from './gso.js';
import { hook, reparse4, reparse6 } from './ip-hooks.js';
import { TCP_CSUM_OFFSET, finishChecksum, fragment4 } from './ip-output.js';
import type { ResolvedRoute, Stack } from './stack.js';

export function forwardIpv4(s: Stack, nic: Nic, h0: Ipv4Header, pkt: Uint8Array, linkBroadcast: boolean, offload: FrameOffload | undefined): void {
  let h = h0;
  if (!s.forward4) return s.stats.count('ipv4.dropped.not-for-us');
  // RFC 1812 §5.3.4/§4.2.2.11: no forwarding of link broadcasts, multicast (no mrouting), or
  // link-local sources (RFC 3927 §7).
  if (linkBroadcast || h.dst.isMulticast() || h.dst.bytes[0] === 0) return s.stats.count('ipv4.dropped.not-forwardable');
  if (h.src.isLinkLocal() || h.dst.isLinkLocal()) return s.stats.count('ipv4.dropped.link-local-scope');
  const off: OffendingPacket4 = { h, packet: pkt, multicastOrBroadcast: false };
  // RFC 1812 §5.3.1: a TTL that would reach zero ends here, with time exceeded.
  if (h.ttl <= 1) {
    s.stats.count('ipv4.dropped.ttl-exceeded');
    s.icmp.error4(off, ICMP4.TIME_EXCEEDED, 0);
    return;
  }
  const rt = s.routes.lookup(h.dst);
  const out = rt ? s.nics.get(rt.nicId) : undefined;
  if (!rt || !out || !out.up) {
    s.stats.count('ipv4.dropped.no-route');
    s.icmp.error4(off, ICMP4.DEST_UNREACH, ICMP4_UNREACH.NET);
    return;
  }
  if (h.totalLen > out.mtu && h.df && !offload?.gsoType) {
    // RFC 1191 §4: tell the sender the next-hop MTU (before the hooks, as Linux's ip_forward:
    // the quote must show the packet as the sender sent it, not as NAT left it).
    s.stats.count('ipv4.dropped.frag-needed');
    s.icmp.error4(off, ICMP4.DEST_UNREACH, ICMP4_UNREACH.FRAG_NEEDED, out.mtu & 0xffff);
    return;
  }
  if (s.filter) {
    for (const point of ['FORWARD', 'POSTROUTING'] as const) {
      if (!hook(s, { hook: point, ctx: s.pktCtx ?? undefined, family: 4, src: h.src, dst: h.dst, protocol: h.protocol, transport: pkt.subarray(h.hdrLen), fragment: h.fragOffset !== 0, length: h.totalLen, inNic: nic.nicId, outNic: out.nicId, packet: pkt })) return;
    }
    const h2 = reparse4(s, h, pkt); // SNAT at POSTROUTING
    if (!h2) return;
    h = h2;
  }
  const kind = rt.gateway === null && s.isBroadcastV4(h.dst, out) ? 'broadcast' : 'unicast';
  const r: ResolvedRoute = { nic: out, nextHop: rt.gateway ?? h.dst, gateway: rt.gateway, src: h.src, mtu: out.mtu, kind };
  if (offload?.gsoType) return forwardOffloaded(s, nic, out, 4, pkt, h.hdrLen, r.nextHop, kind, offload, h.src, h.dst);
  if (h.totalLen > out.mtu) {
    // Options are not copied into router-made fragments (a known simplification).
    s.stats.count('ipv4.forwarded');
    fragment4(s, r, { tos: h.tos, id: h.id, ttl: h.ttl - 1, protocol: h.protocol, src: h.src, dst: h.dst }, pkt.subarray(h.hdrLen), h.fragOffset, h.mf);
    return;
  }
  forwardOffloaded(s, nic, out, 4, pkt, h.hdrLen, r.nextHop, kind, offload, h.src, h.dst);
}

export function forwardIpv6(s: Stack, nic: Nic, h0: Ipv6Header, pkt: Uint8Array, linkMulticast: boolean, offload: FrameOffload | undefined): void {
  let h = h0;
  if (!s.forward6) return s.stats.count('ipv6.dropped.not-for-us');
  if (linkMulticast || h.dst.isMulticast()) return s.stats.count('ipv6.dropped.not-forwardable');
  const off = { h, packet: pkt, multicastOrBroadcast: false };
  // RFC 4291 §2.5.6: link-local addresses never cross a router.
  if (h.src.isLinkLocal() || h.dst.isLinkLocal() || h.src.isUnspecified()) {
    s.stats.count('ipv6.dropped.link-local-scope');
    if (!h.src.isUnspecified()) s.icmp.error6(off, ICMP6.DEST_UNREACH, ICMP6_UNREACH.BEYOND_SCOPE);
    return;
  }
  // RFC 8200 §3: hop limit decremented by each forwarding node; RFC 4443 §3.3 on zero.
  if (h.hopLimit <= 1) {
    s.stats.count('ipv6.dropped.hop-limit-exceeded');
    s.icmp.error6(off, ICMP6.TIME_EXCEEDED, 0);
    return;
  }
  const rt = s.routes.lookup(h.dst);
  const out = rt ? s.nics.get(rt.nicId) : undefined;
  if (!rt || !out || !out.up) {
    s.stats.count('ipv6.dropped.no-route');
    s.icmp.error6(off, ICMP6.DEST_UNREACH, ICMP6_UNREACH.NO_ROUTE);
    return;
  }
  if (pkt.length > out.mtu && !offload?.gsoType) {
    // RFC 8200 §5: routers never fragment; RFC 4443 §3.2 packet too big with the MTU (before
    // the hooks, so the quote is what the sender sent).
    s.stats.count('ipv6.dropped.too-big');
    s.icmp.error6(off, ICMP6.PACKET_TOO_BIG, 0, out.mtu);
    return;
  }
  if (s.filter) {
    for (const point of ['FORWARD', 'POSTROUTING'] as const) {
      if (!hook(s, { hook: point, ctx: s.pktCtx ?? undefined, family: 6, src: h.src, dst: h.dst, protocol: h.nextHeader, transport: pkt.subarray(IPV6_HEADER), fragment: false, length: h.end, inNic: nic.nicId, outNic: out.nicId, packet: pkt })) return;
    }
    const h2 = reparse6(s, h, pkt);
    if (!h2) return;
    h = h2;
  }
  if (offload?.gsoType) return forwardOffloaded(s, nic, out, 6, pkt, IPV6_HEADER, rt.gateway ?? h.dst, 'unicast', offload, h.src, h.dst);
  forwardOffloaded(s, nic, out, 6, pkt, IPV6_HEADER, rt.gateway ?? h.dst, 'unicast', offload, h.src, h.dst);
}

/**
 * Sends a datagram being forwarded (checks done), keeping what the receive offload promised:
 * a partial checksum is handed on to an offloading link or finished here; a GSO aggregate is
 * handed on to a link that takes it or cut into segments here (Linux does the same when it
 * forwards GRO packets: skb_gso_segment before a device without TSO).
 */
function forwardOffloaded(
  s: Stack,
  inNic: Nic,
  out: Nic,
  family: 4 | 6,
  pkt: Uint8Array,
  ipLen: number,
  nextHop: IpAddr,
  kind: 'unicast' | 'broadcast' | 'multicast',
  offload: FrameOffload | undefined,
  src: IpAddr,
  dst: IpAddr,
): void {
  const L = out.linkHeaderLen;
  const caps = out.caps;
  const partial = offload?.csumStart !== undefined && offload.csumOffset !== undefined && !offload.csumValid;
  const ipStart = partial ? offload!.csumStart! - inNic.linkHeaderLen : 0;
  const gsoOk = caps.gsoMaxSize >= pkt.length && caps.txChecksumOffload && out.medium === 'ethernet';
  if (offload?.gsoType && offload.gsoSize && !gsoOk) {
    const tcp = family === 4 ? pkt[9] === 6 : pkt[6] === 6;
    if (!tcp || pkt.length < ipLen + 20) return s.stats.count(`ipv${family}.dropped.gso-not-tcp`);
    const thl = (pkt[ipLen + 12] >> 4) * 4;
    if (thl < 20 || ipLen + thl > pkt.length || ipLen + thl + offload.gsoSize > out.mtu) {
      return s.stats.count(`ipv${family}.dropped.gso-too-big`);
    }
    const segs = segmentTcp(pkt.subarray(ipLen, ipLen + thl), pkt.subarray(ipLen + thl), offload.gsoSize);
    s.stats.count('gso.software-forward');
    const id = family === 4 ? (pkt[4] << 8) | pkt[5] : 0;
    for (let i = 0; i < segs.length; i++) {
      const tlen = thl + segs[i].payload.length;
      const frame = new Uint8Array(L + ipLen + tlen);
      frame.set(pkt.subarray(0, ipLen), L);
      frame.set(segs[i].header, L + ipLen);
      frame.set(segs[i].payload, L + ipLen + thl);
      if (family === 4) {
        frame[L + 2] = (ipLen + tlen) >>> 8;
        frame[L + 3] = (ipLen + tlen) & 0xff;
        frame[L + 4] = ((id + i) >>> 8) & 0xff; // RFC 6864: IDs advance per segment, as TSO does
        frame[L + 5] = (id + i) & 0xff;
        frame[L + 8] -= 1;
        setIpv4Checksum(frame, L, ipLen);
      } else {
        frame[L + 4] = tlen >>> 8;
        frame[L + 5] = tlen & 0xff;
        frame[L + 7] -= 1;
      }
      let segOff: FrameOffload | undefined;
      if (caps.txChecksumOffload) {
        const ps = foldSum(pseudoHeaderSum(src, dst, 6, tlen));
        frame[L + ipLen + TCP_CSUM_OFFSET] = ps >>> 8;
        frame[L + ipLen + TCP_CSUM_OFFSET + 1] = ps & 0xff;
        segOff = { csumStart: L + ipLen, csumOffset: TCP_CSUM_OFFSET };
      } else {
        finishChecksum(frame, L + ipLen, TCP_CSUM_OFFSET, 6, src, dst, tlen);
      }
      s.stats.count(`ipv${family}.forwarded`);
      out.transmit(frame, family, nextHop, kind, segOff, s.unreachable);
    }
    return;
  }
  const frame = new Uint8Array(L + pkt.length);
  frame.set(pkt, L);
  if (family === 4) {
    frame[L + 8] -= 1;
    setIpv4Checksum(frame, L, ipLen);
  } else {
    frame[L + 7] -= 1;
  }
  let outOff: FrameOffload | undefined;
  if (partial) {
    const start = L + ipStart;
    if (caps.txChecksumOffload) {
      outOff = offload!.gsoType
        ? { ...offload!, csumStart: start, hdrLen: offload!.hdrLen !== undefined ? offload!.hdrLen - inNic.linkHeaderLen + L : undefined }
        : { csumStart: start, csumOffset: offload!.csumOffset };
    } else {
      finishPartialChecksum(frame, start, offload!.csumOffset!);
    }
  }
  s.stats.count(`ipv${family}.forwarded`);
  out.transmit(frame, family, nextHop, kind, outOff, s.unreachable);
}
