// IPv6 input: header checks and martians, PREROUTING (datagrams to us reassembled first when a
// filter wants them whole, as Linux's nf_defrag_ipv6), the local-or-forward decision, the
// extension header walk, fragment reassembly (atomic fragments alone, RFC 6946), INPUT, and
// delivery to ICMPv6 or a transport. Read first: RFC 8200 §4, RFC 4443 §3, RFC 4291 §2.7.

import type { FrameOffload } from './link.js';
import type { IpDelivery } from './transport.js';
import type { Nic } from './nic.js';
import { IPV6_FRAG_HEADER, IPV6_HEADER, NH_FRAGMENT, NH_ICMPV6, NH_NONE, parseIpv6Header, walkExtensions, type Ipv6Header } from './ipv6.js';
import { ICMP6, ICMP6_UNREACH } from './icmp.js';
import { hook, reparse6 } from './ip-hooks.js';
import { forwardIpv6 } from './forward.js';
import type { Stack } from './stack.js';

/** A datagram from a NIC: checks, PREROUTING, then ours (extension headers, reassembly, INPUT) or forwarded. */
export function inputIpv6(s: Stack, nic: Nic, raw: Uint8Array, offload: FrameOffload | undefined, linkMulticast: boolean): void {
  s.stats.count('ipv6.received');
  let h = parseIpv6Header(raw);
  if (typeof h === 'string') return s.stats.count(`ipv6.dropped.${h}`);
  // RFC 4291 §2.7: multicast is never a source.
  if (h.src.isMulticast()) return s.stats.count('ipv6.dropped.martian-source');
  if (nic !== s.loopbackNic && (h.src.isLoopback() || h.dst.isLoopback())) return s.stats.count('ipv6.dropped.martian-loopback');
  let pkt = s.filter ? raw.slice(0, h.end) : raw.subarray(0, h.end);
  if (s.filter) s.pktCtx = { mark: 0, conn: undefined, info: 0 };
  if (s.filter?.PREROUTING && h.nextHeader !== NH_NONE && s.dstKind6(nic, h.dst) === 'unicast') {
    // nf_defrag_ipv6 for datagrams to us: the filter sees them whole (ports, conntrack, NAT).
    // Forwarded fragments pass one by one (a router must not make a datagram bigger than what
    // was sent, and the whole would not fit the next link's MTU: RFC 8200 §5).
    const w = walkExtensions(pkt, h.nextHeader, IPV6_HEADER, 6, h.end, false);
    const data = w.kind === 'fragment' ? h.end - (w.offset + IPV6_FRAG_HEADER) : 0;
    // Malformed fragments are left to the normal path, which answers them (RFC 8200 §4.5).
    if (w.kind === 'fragment' && !(w.fragOffset === 0 && !w.more) && !(w.more && (data & 7) !== 0)) {
      const r = reassemble6(s, h, pkt, w);
      if (!r) return;
      h = r.h;
      pkt = r.pkt;
      offload = undefined;
    }
  }
  if (s.filter?.PREROUTING) {
    // A non-initial fragment (Fragment header first, the usual place) carries no ports.
    const frag = h.nextHeader === NH_FRAGMENT && pkt.length >= 48 && ((pkt[42] << 8) | pkt[43]) >= 8;
    if (!hook(s, { hook: 'PREROUTING', ctx: s.pktCtx ?? undefined, family: 6, src: h.src, dst: h.dst, protocol: h.nextHeader, transport: pkt.subarray(IPV6_HEADER), fragment: frag, length: h.end, inNic: nic.nicId, packet: pkt })) return;
    const h2 = reparse6(s, h, pkt);
    if (!h2) return;
    h = h2;
  }
  const kind = s.dstKind6(nic, h.dst);
  if (kind === 'not-member') return s.stats.count('ipv6.dropped.not-member');
  if (kind === null) return forwardIpv6(s, nic, h, pkt, linkMulticast, offload);
  const multi = kind !== 'unicast';
  const verified = !!offload && nic.caps.rxChecksumOffload && (offload.csumValid === true || offload.csumStart !== undefined);
  walkIpv6(s, nic, h, pkt, h.nextHeader, IPV6_HEADER, 6, multi, verified);
}

function walkIpv6(s: Stack, nic: Nic, h: Ipv6Header, pkt: Uint8Array, nh: number, off: number, nhField: number, multi: boolean, verified: boolean): void {
  const w = walkExtensions(pkt, nh, off, nhField, h.end, multi);
  switch (w.kind) {
    case 'drop':
      return s.stats.count(`ipv6.dropped.${w.reason}`);
    case 'param-problem':
      s.stats.count(`ipv6.dropped.${w.reason}`);
      s.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi && !w.evenIfMulticast }, ICMP6.PARAM_PROBLEM, w.code, w.pointer);
      return;
    case 'fragment': {
      const data = pkt.subarray(w.offset + IPV6_FRAG_HEADER, h.end);
      // RFC 8200 §4.5: a non-final fragment whose length is not a multiple of 8 earns a
      // parameter problem pointing at the payload length.
      if (w.more && (data.length & 7) !== 0) {
        s.stats.count('ipv6.frag.dropped.bad-length');
        s.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi }, ICMP6.PARAM_PROBLEM, 0, 4);
        return;
      }
      if (w.fragOffset === 0 && !w.more) {
        // RFC 8200 §4.5 / RFC 6946: an atomic fragment is processed at once, alone.
        return walkIpv6(s, nic, h, pkt, w.nextHeader, w.offset + IPV6_FRAG_HEADER, w.offset, multi, verified);
      }
      const r = reassemble6(s, h, pkt, w);
      if (!r) return;
      return walkIpv6(s, nic, r.h, r.pkt, r.next, r.unfrag, r.field, multi, false);
    }
    case 'upper':
      return deliverIpv6(s, nic, h, pkt, w.protocol, w.offset, w.nhField, multi, verified);
  }
}

/** Adds a fragment (w: where its Fragment header is); the whole datagram once complete, else null. */
function reassemble6(
  s: Stack,
  h: Ipv6Header,
  pkt: Uint8Array,
  w: { offset: number; ident: number; fragOffset: number; more: boolean },
): { h: Ipv6Header; pkt: Uint8Array; next: number; unfrag: number; field: number } | null {
  const data = pkt.subarray(w.offset + IPV6_FRAG_HEADER, h.end);
  const key = `${h.src.key}|${h.dst.key}|${w.ident}`;
  // Keep the unfragmentable part plus the Fragment header (its Next Header names the payload).
  const done = s.reasm6.add(key, w.fragOffset, w.more, data, pkt.subarray(0, w.offset + IPV6_FRAG_HEADER));
  if (!done) return null;
  const unfrag = done.header.length - IPV6_FRAG_HEADER;
  const next = done.header[unfrag];
  const whole = new Uint8Array(unfrag + done.payload.length);
  whole.set(done.header.subarray(0, unfrag), 0);
  whole.set(done.payload, unfrag);
  if (whole.length - IPV6_HEADER > 65535) {
    s.stats.count('ipv6.frag.dropped.too-big');
    return null;
  }
  whole[4] = (whole.length - IPV6_HEADER) >>> 8;
  whole[5] = (whole.length - IPV6_HEADER) & 0xff;
  // Point the header before the (removed) Fragment header at its payload.
  const pw = walkExtensions(whole, whole[6], IPV6_HEADER, 6, unfrag, false);
  const field = pw.kind === 'upper' ? pw.nhField : 6;
  whole[field] = next;
  const h2 = parseIpv6Header(whole);
  if (typeof h2 === 'string') {
    s.stats.count(`ipv6.dropped.reassembled-${h2}`);
    return null;
  }
  return { h: h2, pkt: whole, next, unfrag, field };
}

function deliverIpv6(s: Stack, nic: Nic, h0: Ipv6Header, pkt: Uint8Array, protocol: number, off: number, nhField: number, multi: boolean, verified: boolean): void {
  let h = h0;
  if (protocol === NH_NONE) return s.stats.count('ipv6.no-next-header');
  const payload = pkt.subarray(off, h.end);
  if (s.filter) {
    if (!hook(s, { hook: 'INPUT', ctx: s.pktCtx ?? undefined, family: 6, src: h.src, dst: h.dst, protocol, transport: payload, fragment: false, length: h.end, inNic: nic.nicId, packet: pkt })) return;
    const h2 = reparse6(s, h, pkt);
    if (!h2) return;
    h = h2;
  }
  s.stats.count('ipv6.delivered');
  if (protocol === NH_ICMPV6) {
    s.icmp.input6(h.src, h.dst, payload, h.hopLimit, nic.nicId, multi, verified);
    return;
  }
  const t = s.transports.get(protocol);
  if (!t) {
    // RFC 8200 §4: unrecognised Next Header, parameter problem code 1 pointing at it.
    s.stats.count('ipv6.dropped.unknown-protocol');
    s.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi }, ICMP6.PARAM_PROBLEM, 1, nhField);
    return;
  }
  const d: IpDelivery = {
    src: h.src,
    dst: h.dst,
    protocol,
    payload,
    ttl: h.hopLimit,
    tos: h.trafficClass,
    nicId: nic.nicId,
    checksumVerified: verified,
    packet: pkt,
    multicastOrBroadcast: multi,
  };
  if (t.deliver(d) === 'no-endpoint') {
    s.icmp.error6({ h, packet: pkt, multicastOrBroadcast: multi }, ICMP6.DEST_UNREACH, ICMP6_UNREACH.PORT);
  }
}

export function reassemblyTimeout6(s: Stack, stored: Uint8Array): void {
  // We kept the first fragment's headers only: make them a well-formed packet to quote.
  const first = stored.slice();
  first[4] = (first.length - IPV6_HEADER) >>> 8;
  first[5] = (first.length - IPV6_HEADER) & 0xff;
  const h = parseIpv6Header(first);
  if (typeof h === 'string') return;
  // RFC 8200 §4.5: time exceeded code 1, about the first fragment.
  s.icmp.error6({ h: { ...h, end: first.length }, packet: first, multicastOrBroadcast: h.dst.isMulticast() }, ICMP6.TIME_EXCEEDED, 1);
}
