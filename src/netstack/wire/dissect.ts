// A whole-frame decoder: Ethernet (or bare IP) -> ARP / IPv4 / IPv6 (+ extension headers) ->
// TCP / UDP / ICMPv4 / ICMPv6 (+ NDP) -> DNS on port 53, verifying every checksum on the way.
// For tools (pcap summaries, the wire benchmark, robustness tests), not for the stack's own
// receive path, which dispatches layer by layer. Never throws on any input.

import type { WireError } from './error.js';
import { EthernetPacket, EtherType } from './ethernet.js';
import { parseArp } from './arp.js';
import { Ipv4Packet } from './ipv4.js';
import { Ipv6Packet } from './ipv6.js';
import { walkIpv6Extensions } from './ipv6-ext.js';
import { IpProto } from './ip-proto.js';
import { parseTcpInto, newTcpSegment, type TcpSegment } from './tcp.js';
import { UdpPacket } from './udp.js';
import { parseIcmpv4 } from './icmpv4.js';
import { parseIcmpv6 } from './icmpv6.js';
import { parseDns, DNS_PORT } from './dns.js';

export interface FrameSummary {
  ethertype: number;
  /** Innermost VLAN id, -1 when untagged. */
  vid: number;
  network: 'arp' | 'ipv4' | 'ipv6' | 'other';
  /** Upper-layer protocol number, -1 when there is none. */
  protocol: number;
  /** The IP datagram is a fragment: its transport is not decoded (it needs reassembly). */
  fragment: boolean;
  transport: 'tcp' | 'udp' | 'icmpv4' | 'icmpv6' | 'other' | 'none';
  srcPort: number;
  dstPort: number;
  /** A DNS message on port 53 was decoded. */
  dns: boolean;
  /** The first error met, and the layer it was met at. */
  error: WireError | null;
  errorLayer: string | null;
}

function fail(s: FrameSummary, layer: string, e: WireError): FrameSummary {
  s.error = e;
  s.errorLayer = layer;
  return s;
}

const scratchTcp: TcpSegment = newTcpSegment();

/** Decodes one frame. `medium` 'ip' means no link header (a bare IPv4/IPv6 packet). */
export function dissectFrame(frame: Uint8Array, medium: 'ethernet' | 'ip' = 'ethernet'): FrameSummary {
  const s: FrameSummary = {
    ethertype: -1,
    vid: -1,
    network: 'other',
    protocol: -1,
    fragment: false,
    transport: 'none',
    srcPort: -1,
    dstPort: -1,
    dns: false,
    error: null,
    errorLayer: null,
  };
  let l3: Uint8Array;
  if (medium === 'ethernet') {
    const eth = EthernetPacket.view(frame);
    if (typeof eth === 'string') return fail(s, 'ethernet', eth);
    s.ethertype = eth.ethertype;
    s.vid = eth.vid;
    l3 = eth.payload;
  } else {
    if (frame.length < 1) return fail(s, 'ip', 'truncated');
    s.ethertype = frame[0] >>> 4 === 6 ? EtherType.IPV6 : EtherType.IPV4;
    l3 = frame;
  }
  let src: Uint8Array;
  let dst: Uint8Array;
  let l4: Uint8Array;
  if (s.ethertype === EtherType.ARP) {
    s.network = 'arp';
    const a = parseArp(l3);
    return typeof a === 'string' ? fail(s, 'arp', a) : s;
  } else if (s.ethertype === EtherType.IPV4) {
    s.network = 'ipv4';
    const ip = Ipv4Packet.view(l3);
    if (typeof ip === 'string') return fail(s, 'ipv4', ip);
    if (!ip.verifyChecksum()) return fail(s, 'ipv4', 'bad-checksum');
    s.protocol = ip.protocol;
    src = ip.srcBytes;
    dst = ip.dstBytes;
    l4 = ip.payload;
    if (ip.isFragment) {
      s.fragment = true;
      return s;
    }
  } else if (s.ethertype === EtherType.IPV6) {
    s.network = 'ipv6';
    const ip = Ipv6Packet.view(l3);
    if (typeof ip === 'string') return fail(s, 'ipv6', ip);
    const chain = walkIpv6Extensions(ip.nextHeader, ip.payload);
    if (typeof chain === 'string') return fail(s, 'ipv6-ext', chain);
    s.protocol = chain.upperProtocol;
    src = ip.srcBytes;
    dst = ip.dstBytes;
    l4 = ip.payload.subarray(chain.upperOffset);
    if (chain.fragment) {
      s.fragment = true;
      return s;
    }
  } else {
    return s;
  }
  switch (s.protocol) {
    case IpProto.TCP: {
      s.transport = 'tcp';
      const r = parseTcpInto(scratchTcp, l4, src, dst);
      if (typeof r === 'string') return fail(s, 'tcp', r);
      s.srcPort = r.srcPort;
      s.dstPort = r.dstPort;
      return s;
    }
    case IpProto.UDP: {
      s.transport = 'udp';
      const u = UdpPacket.view(l4);
      if (typeof u === 'string') return fail(s, 'udp', u);
      if (!u.verifyChecksum(src, dst)) return fail(s, 'udp', 'bad-checksum');
      s.srcPort = u.srcPort;
      s.dstPort = u.dstPort;
      if (s.srcPort === DNS_PORT || s.dstPort === DNS_PORT) {
        const d = parseDns(u.payload);
        if (typeof d === 'string') return fail(s, 'dns', d);
        s.dns = true;
      }
      return s;
    }
    case IpProto.ICMP: {
      s.transport = 'icmpv4';
      const r = parseIcmpv4(l4);
      return typeof r === 'string' ? fail(s, 'icmpv4', r) : s;
    }
    case IpProto.ICMPV6: {
      s.transport = 'icmpv6';
      const r = parseIcmpv6(l4, src, dst);
      return typeof r === 'string' ? fail(s, 'icmpv6', r) : s;
    }
    default:
      s.transport = 'other';
      return s;
  }
}
