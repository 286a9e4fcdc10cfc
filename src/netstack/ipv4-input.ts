// IPv4 input: header checks and martians, PREROUTING (with reassembly first when a filter
// wants whole datagrams, as Linux's nf_defrag_ipv4), the local-or-forward decision, fragment
// reassembly, INPUT, and delivery to ICMP or a transport with the ICMP errors a host owes.
// Read first: RFC 791, RFC 1122 §3.2.1-§3.2.2 (what a host checks and answers), RFC 815.

import type { FrameOffload } from './link.js';
import type { IpDelivery } from './transport.js';
import type { Nic } from './nic.js';
import { isIpv4Reject, isMartianSourceV4, parseIpv4Header, setIpv4Checksum, type Ipv4Header } from './ipv4.js';
import { ICMP4, ICMP4_UNREACH } from './icmp.js';
import { hook, reparse4 } from './ip-hooks.js';
import { forwardIpv4 } from './forward.js';
import type { Stack } from './stack.js';

/** A datagram from a NIC: checks, PREROUTING, then ours (reassembly, INPUT, transport) or forwarded. */
export function inputIpv4(s: Stack, nic: Nic, raw: Uint8Array, offload: FrameOffload | undefined, linkBroadcast: boolean): void {
  s.stats.count('ipv4.received');
  let h = parseIpv4Header(raw);
  if (isIpv4Reject(h)) {
    s.stats.count(`ipv4.dropped.${h.drop}`);
    // RFC 1122 §3.2.2.5: a host should answer a malformed option with parameter problem.
    if (h.pointer !== undefined) {
      const h0 = parseIpv4Header(raw, false, false);
      if (!isIpv4Reject(h0) && s.dstKind4(nic, h0.dst) === 'unicast' && !linkBroadcast) {
        s.icmp.error4({ h: h0, packet: raw.subarray(0, h0.totalLen), multicastOrBroadcast: false }, ICMP4.PARAM_PROBLEM, 0, h.pointer << 24);
      }
    }
    return;
  }
  if (isMartianSourceV4(h.src)) return s.stats.count('ipv4.dropped.martian-source');
  if (nic !== s.loopbackNic) {
    if (h.src.bytes[0] === 127 || h.dst.bytes[0] === 127) return s.stats.count('ipv4.dropped.martian-loopback');
    // Linux (accept_local=0): our own address as the source of a packet from outside is spoofed.
    if (s.isLocalAddress(h.src)) return s.stats.count('ipv4.dropped.martian-local-source');
  }
  // Hooks may rewrite the datagram (NAT), and a link's frame may be shared: give them a copy.
  const pkt0 = s.filter ? raw.slice(0, h.totalLen) : raw.subarray(0, h.totalLen);
  if (s.filter) s.pktCtx = { mark: 0, conn: undefined, info: 0 };
  let isFragment = h.mf || h.fragOffset !== 0;
  // RFC 791: no datagram is longer than 65535 bytes, so no fragment may reach past it (the
  // "ping of death" shape); Linux drops these as oversized too.
  if (isFragment && h.fragOffset + h.totalLen - h.hdrLen > 65535 - 20) return s.stats.count('ipv4.dropped.oversized-fragment');
  let pkt = pkt0;
  if (s.filter?.PREROUTING && isFragment) {
    // Linux's nf_defrag_ipv4: with conntrack, fragments are reassembled before PREROUTING so
    // the filter sees whole datagrams (ports, NAT); a forwarded one is fragmented again on
    // the way out.
    const whole = reassemble4(s, h, pkt);
    if (!whole) return;
    h = whole.h;
    pkt = whole.pkt;
    isFragment = false;
    offload = undefined; // the offload described the last fragment's frame
  }
  if (s.filter?.PREROUTING) {
    if (!hook(s, { hook: 'PREROUTING', ctx: s.pktCtx ?? undefined, family: 4, src: h.src, dst: h.dst, protocol: h.protocol, transport: pkt.subarray(h.hdrLen), fragment: h.fragOffset !== 0, length: h.totalLen, inNic: nic.nicId, packet: pkt })) return;
    const h2 = reparse4(s, h, pkt);
    if (!h2) return;
    h = h2;
  }
  const kind = s.dstKind4(nic, h.dst);
  if (kind === null) return forwardIpv4(s, nic, h, pkt, linkBroadcast, offload);
  const bcast = kind !== 'unicast' || linkBroadcast;
  if (isFragment) {
    const whole = reassemble4(s, h, pkt);
    if (!whole) return;
    return deliverIpv4(s, nic, whole.h, whole.pkt, bcast, false);
  }
  const verified = !!offload && nic.caps.rxChecksumOffload && (offload.csumValid === true || offload.csumStart !== undefined);
  deliverIpv4(s, nic, h, pkt, bcast, verified);
}

/** Adds a fragment; the whole datagram once the last piece is in, else null. */
function reassemble4(s: Stack, h: Ipv4Header, pkt: Uint8Array): { h: Ipv4Header; pkt: Uint8Array } | null {
  // RFC 791 §3.2: fragments of one datagram share src, dst, protocol and id.
  const key = `${h.src.key}|${h.dst.key}|${h.protocol}|${h.id}`;
  const done = s.reasm4.add(key, h.fragOffset, h.mf, pkt.subarray(h.hdrLen), pkt.subarray(0, h.hdrLen));
  if (!done) return null;
  const whole = new Uint8Array(done.header.length + done.payload.length);
  whole.set(done.header, 0);
  whole.set(done.payload, done.header.length);
  whole[2] = whole.length >>> 8;
  whole[3] = whole.length & 0xff;
  whole[6] &= 0x40; // keep DF, clear MF and the offset
  whole[7] = 0;
  setIpv4Checksum(whole, 0, done.header.length);
  const h2 = parseIpv4Header(whole);
  if (isIpv4Reject(h2)) {
    s.stats.count(`ipv4.dropped.reassembled-${h2.drop}`);
    return null;
  }
  return { h: h2, pkt: whole };
}

function deliverIpv4(s: Stack, nic: Nic, h0: Ipv4Header, pkt: Uint8Array, bcast: boolean, verified: boolean): void {
  let h = h0;
  const payload = pkt.subarray(h.hdrLen);
  if (s.filter) {
    if (!hook(s, { hook: 'INPUT', ctx: s.pktCtx ?? undefined, family: 4, src: h.src, dst: h.dst, protocol: h.protocol, transport: payload, fragment: false, length: pkt.length, inNic: nic.nicId, packet: pkt })) return;
    // INPUT may translate the source (the reply of a connection DNATed at OUTPUT, SNAT in nat/INPUT).
    const h2 = reparse4(s, h, pkt);
    if (!h2) return;
    h = h2;
  }
  s.stats.count('ipv4.delivered');
  if (h.protocol === 1) {
    s.icmp.input4(h.src, h.dst, payload, h.ttl, nic.nicId, bcast, verified);
    return;
  }
  const t = s.transports.get(h.protocol);
  if (!t) {
    s.stats.count('ipv4.dropped.unknown-protocol');
    s.icmp.error4({ h, packet: pkt, multicastOrBroadcast: bcast }, ICMP4.DEST_UNREACH, ICMP4_UNREACH.PROTOCOL);
    return;
  }
  const d: IpDelivery = {
    src: h.src,
    dst: h.dst,
    protocol: h.protocol,
    payload,
    ttl: h.ttl,
    tos: h.tos,
    nicId: nic.nicId,
    checksumVerified: verified,
    packet: pkt,
    multicastOrBroadcast: bcast,
  };
  if (t.deliver(d) === 'no-endpoint') {
    s.icmp.error4({ h, packet: pkt, multicastOrBroadcast: bcast }, ICMP4.DEST_UNREACH, ICMP4_UNREACH.PORT);
  }
}

export function reassemblyTimeout4(s: Stack, first: Uint8Array): void {
  const h = parseIpv4Header(withTotalLength(first), false);
  if (isIpv4Reject(h)) return;
  // RFC 792: time exceeded, code 1 (fragment reassembly time exceeded).
  s.icmp.error4({ h: { ...h, fragOffset: 0 }, packet: first, multicastOrBroadcast: false }, ICMP4.TIME_EXCEEDED, 1);
}

/** We kept the first fragment's header only: make it a well-formed datagram to quote. */
function withTotalLength(first: Uint8Array): Uint8Array {
  const b = first.slice();
  const len = b.length;
  b[2] = len >>> 8;
  b[3] = len & 0xff;
  return b;
}
