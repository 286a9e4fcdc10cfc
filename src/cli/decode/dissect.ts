// A full, structured decoding of one captured frame for `moat decode` and for the tests that
// compare moat's wire layer with tshark. Every layer goes through src/netstack/wire/ (moat's
// own codecs: the point is to exercise them on real captures). Never throws: a layer that does
// not parse ends the decoding with `error` naming the layer and the reason.

import {
  EthernetPacket, EtherType, formatMac, parseArp, ArpOp,
  Ipv4Packet, Ipv6Packet, walkIpv6Extensions, IpProto,
  TcpPacket, parseTcpInto, newTcpSegment, UdpPacket,
  parseIcmpv4, parseIcmpv6, parseDns, DNS_PORT, verifyInternetChecksum,
} from '../../netstack/wire/index.js';
import type { DnsMessage, TcpSegment, WireError } from '../../netstack/wire/index.js';

export type ChecksumStatus = 'ok' | 'bad' | 'unverified';

export interface DecodedTcpOptions {
  mss: number | null;
  windowScale: number | null;
  sackPermitted: boolean;
  sackBlocks: { left: number; right: number }[];
  timestamp: { tsVal: number; tsEcr: number } | null;
  unknownKinds: number[];
}

export interface DecodedFrame {
  length: number;
  captured: number;
  eth?: { src: string; dst: string; ethertype: number; vlans: number[] };
  arp?: { op: 'request' | 'reply' | number; senderMac: string; senderIp: string; targetMac: string; targetIp: string };
  ip?: {
    version: 4 | 6;
    src: string;
    dst: string;
    /** TTL or hop limit. */
    ttl: number;
    tos: number;
    /** Upper protocol after extension headers. */
    protocol: number;
    /** Total length (v4) or payload length + 40 (v6). */
    length: number;
    id?: number;
    dontFragment?: boolean;
    flowLabel?: number;
    checksum?: ChecksumStatus;
    fragment?: { ident: number; offset: number; more: boolean };
    extensionHeaders?: string[];
  };
  tcp?: {
    srcPort: number; dstPort: number; seq: number; ack: number; flags: number; window: number;
    urgent: number; headerLen: number; payloadLen: number; checksum: ChecksumStatus; options: DecodedTcpOptions;
  };
  udp?: { srcPort: number; dstPort: number; length: number; checksum: ChecksumStatus; payloadLen: number };
  icmp?: {
    version: 4 | 6; type: number; code: number; kind: string; checksum: ChecksumStatus;
    ident?: number; seq?: number; dataLen?: number; mtu?: number; target?: string;
  };
  dns?: DnsMessage;
  error?: { layer: string; reason: WireError };
}

const scratch: TcpSegment = newTcpSegment();

function fail(d: DecodedFrame, layer: string, reason: WireError): DecodedFrame {
  d.error = { layer, reason };
  return d;
}

/** Decodes an Ethernet frame (or a bare IP packet when `medium` is 'ip'). */
export function decodeFrame(frame: Uint8Array, originalLength = frame.length, medium: 'ethernet' | 'ip' = 'ethernet'): DecodedFrame {
  const d: DecodedFrame = { length: originalLength, captured: frame.length };
  let ethertype: number;
  let l3: Uint8Array;
  if (medium === 'ethernet') {
    const eth = EthernetPacket.view(frame);
    if (typeof eth === 'string') return fail(d, 'ethernet', eth);
    const vlans: number[] = [];
    for (let i = 0; (eth.headerLen - 14) / 4 > i; i++) vlans.push(eth.tag(i).vid);
    ethertype = eth.ethertype;
    d.eth = { src: formatMac(eth.src), dst: formatMac(eth.dst), ethertype, vlans };
    l3 = eth.payload;
  } else {
    if (frame.length < 1) return fail(d, 'ip', 'truncated');
    ethertype = frame[0] >>> 4 === 6 ? EtherType.IPV6 : EtherType.IPV4;
    l3 = frame;
  }

  if (ethertype === EtherType.ARP) {
    const a = parseArp(l3);
    if (typeof a === 'string') return fail(d, 'arp', a);
    d.arp = {
      op: a.op === ArpOp.REQUEST ? 'request' : a.op === ArpOp.REPLY ? 'reply' : a.op,
      senderMac: formatMac(a.senderMac), senderIp: a.senderIp.key,
      targetMac: formatMac(a.targetMac), targetIp: a.targetIp.key,
    };
    return d;
  }

  let src: Uint8Array;
  let dst: Uint8Array;
  let l4: Uint8Array;
  let protocol: number;
  if (ethertype === EtherType.IPV4) {
    const ip = Ipv4Packet.view(l3);
    if (typeof ip === 'string') return fail(d, 'ipv4', ip);
    protocol = ip.protocol;
    d.ip = {
      version: 4, src: ip.src.key, dst: ip.dst.key, ttl: ip.ttl, tos: ip.tos, protocol, length: ip.totalLen,
      id: ip.ident, dontFragment: ip.dontFragment, checksum: ip.verifyChecksum() ? 'ok' : 'bad',
    };
    if (ip.isFragment) d.ip.fragment = { ident: ip.ident, offset: ip.fragmentOffset, more: ip.moreFragments };
    src = ip.srcBytes;
    dst = ip.dstBytes;
    l4 = ip.payload;
    if (ip.fragmentOffset !== 0) return d; // no transport header in a non-first fragment
  } else if (ethertype === EtherType.IPV6) {
    const ip = Ipv6Packet.view(l3);
    if (typeof ip === 'string') return fail(d, 'ipv6', ip);
    const chain = walkIpv6Extensions(ip.nextHeader, ip.payload);
    d.ip = {
      version: 6, src: ip.src.key, dst: ip.dst.key, ttl: ip.hopLimit, tos: ip.trafficClass,
      protocol: ip.nextHeader, length: ip.payloadLen + 40, flowLabel: ip.flowLabel,
    };
    if (typeof chain === 'string') return fail(d, 'ipv6-ext', chain);
    const ext: string[] = [];
    if (chain.hopByHop) ext.push('hop-by-hop');
    if (chain.routing) ext.push('routing');
    for (let i = 0; i < chain.destOptions.length; i++) ext.push('dest-options');
    if (chain.fragment) ext.push('fragment');
    if (ext.length) d.ip.extensionHeaders = ext;
    protocol = chain.upperProtocol;
    d.ip.protocol = chain.fragment ? chain.fragment.nextHeader : protocol;
    src = ip.srcBytes;
    dst = ip.dstBytes;
    l4 = ip.payload.subarray(chain.upperOffset);
    if (chain.fragment) {
      d.ip.fragment = { ident: chain.fragment.ident, offset: chain.fragment.offset, more: chain.fragment.moreFragments };
      if (chain.fragment.offset !== 0) return d;
      protocol = chain.fragment.nextHeader;
      l4 = ip.payload.subarray(chain.fragmentOffset + 8);
    }
  } else {
    return d;
  }
  // The first fragment carries the transport header but not the whole datagram: decode the
  // header, and leave checksums unverified (they cover the reassembled datagram).
  const whole = !d.ip.fragment;

  switch (protocol) {
    case IpProto.TCP: {
      const p = TcpPacket.view(l4);
      if (typeof p === 'string') return fail(d, 'tcp', p);
      const r = parseTcpInto(scratch, l4, src, dst, { verifyChecksum: false });
      if (typeof r === 'string') return fail(d, 'tcp', r);
      d.tcp = {
        srcPort: r.srcPort, dstPort: r.dstPort, seq: r.seq, ack: r.ack, flags: r.flags, window: r.window,
        urgent: r.urgent, headerLen: p.headerLen, payloadLen: r.payload.length,
        checksum: whole ? (p.verifyChecksum(src, dst) ? 'ok' : 'bad') : 'unverified',
        options: {
          mss: r.mss, windowScale: r.windowScale, sackPermitted: r.sackPermitted,
          sackBlocks: (r.sackBlocks ?? []).map((b) => ({ left: b.left, right: b.right })),
          timestamp: r.timestamp ? { tsVal: r.timestamp.tsVal, tsEcr: r.timestamp.tsEcr } : null,
          unknownKinds: (r.unknownOptions ?? []).map((o) => o.kind),
        },
      };
      // DNS over TCP (RFC 1035 §4.2.2): a 2-byte length prefix; decode when the whole
      // message sits in this segment.
      if (whole && (r.srcPort === DNS_PORT || r.dstPort === DNS_PORT) && r.payload.length >= 2) {
        const n = (r.payload[0] << 8) | r.payload[1];
        if (r.payload.length >= n + 2) {
          const m = parseDns(r.payload.subarray(2, 2 + n));
          if (typeof m === 'string') return fail(d, 'dns', m);
          d.dns = m;
        }
      }
      return d;
    }
    case IpProto.UDP: {
      const u = UdpPacket.view(l4);
      if (typeof u === 'string') return fail(d, 'udp', u);
      d.udp = {
        srcPort: u.srcPort, dstPort: u.dstPort, length: u.length, payloadLen: u.payload.length,
        checksum: !whole ? 'unverified' : u.verifyChecksum(src, dst) ? 'ok' : 'bad',
      };
      if (whole && (u.srcPort === DNS_PORT || u.dstPort === DNS_PORT)) {
        const m = parseDns(u.payload);
        if (typeof m === 'string') return fail(d, 'dns', m);
        d.dns = m;
      }
      return d;
    }
    case IpProto.ICMP: {
      if (l4.length < 8) return fail(d, 'icmpv4', 'truncated');
      const r = parseIcmpv4(l4, { verifyChecksum: false });
      if (typeof r === 'string') return fail(d, 'icmpv4', r);
      d.icmp = { version: 4, type: l4[0], code: l4[1], kind: r.kind, checksum: whole ? (verifyInternetChecksum(l4) ? 'ok' : 'bad') : 'unverified' };
      if (r.kind === 'echo-request' || r.kind === 'echo-reply') Object.assign(d.icmp, { ident: r.ident, seq: r.seq, dataLen: r.data.length });
      if (r.kind === 'dest-unreachable' && r.nextHopMtu) d.icmp.mtu = r.nextHopMtu;
      return d;
    }
    case IpProto.ICMPV6: {
      if (l4.length < 8) return fail(d, 'icmpv6', 'truncated');
      const r = parseIcmpv6(l4, src, dst, { verifyChecksum: false });
      if (typeof r === 'string') return fail(d, 'icmpv6', r);
      const ok = parseIcmpv6(l4, src, dst);
      d.icmp = {
        version: 6, type: l4[0], code: l4[1], kind: r.kind,
        checksum: !whole ? 'unverified' : ok === 'bad-checksum' ? 'bad' : 'ok',
      };
      if (r.kind === 'echo-request' || r.kind === 'echo-reply') Object.assign(d.icmp, { ident: r.ident, seq: r.seq, dataLen: r.data.length });
      if (r.kind === 'packet-too-big') d.icmp.mtu = r.mtu;
      if (r.kind === 'neighbor-solicit' || r.kind === 'neighbor-advert') d.icmp.target = r.target.key;
      return d;
    }
    default:
      return d;
  }
}
