// Bytes cut from the shared capture fixtures (pcap-fixtures/, made by real Linux tools in
// namespaces; read with src/net-plumbing/pcap): every frame decodes without throwing, and in
// the captures known to be clean every checksum verifies and every TCP header re-emits
// byte for byte.
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readPcapBuffer, LinkType } from '../../src/net-plumbing/pcap/index.js';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { dissectFrame } from '../../src/netstack/wire/dissect.js';
import { EthernetPacket, EtherType } from '../../src/netstack/wire/ethernet.js';
import { Ipv4Packet } from '../../src/netstack/wire/ipv4.js';
import { Ipv6Packet } from '../../src/netstack/wire/ipv6.js';
import { walkIpv6Extensions } from '../../src/netstack/wire/ipv6-ext.js';
import { UdpPacket } from '../../src/netstack/wire/udp.js';
import { encodeDns, parseDns } from '../../src/netstack/wire/dns.js';
import { IpProto } from '../../src/netstack/wire/ip-proto.js';
import { emitTcp, parseTcp, tcpChecksum, tcpHeaderLen } from '../../src/netstack/wire/tcp.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import { toHex } from './golden.js';

const dir = join(packageRoot(), 'pcap-fixtures');
/** Captures taken with offloads off and no deliberate damage (see make-fixtures.sh). */
const CLEAN = new Set(['http-v4.pcap', 'http-v6.pcap', 'dns.pcap', 'ping-v4.pcap', 'ping-v6.pcap']);

function captures(): { name: string; frames: { data: Uint8Array; linkType: number }[] }[] {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/\.pcap(ng)?(\.gz)?$/.test(name)) continue;
    let buf: Uint8Array = readFileSync(join(dir, name));
    if (name.endsWith('.gz')) buf = gunzipSync(buf);
    // plain Uint8Array, so views parsed out of it compare equal to views of re-encoded bytes
    buf = new Uint8Array(buf);
    out.push({ name, frames: readPcapBuffer(buf, { allowTruncated: true }).map((r) => ({ data: r.data, linkType: r.linkType })) });
  }
  return out;
}

test('fixture captures: every frame decodes without throwing; clean captures decode without error', (t) => {
  const all = captures();
  if (!all.length) return t.pass('no fixture captures present');
  let frames = 0;
  for (const cap of all) {
    for (const [i, f] of cap.frames.entries()) {
      if (f.linkType !== LinkType.EN10MB) continue;
      const s = dissectFrame(f.data);
      frames++;
      if (CLEAN.has(cap.name) && s.error) t.fail(`${cap.name} frame ${i + 1}: ${s.errorLayer} ${s.error}`);
    }
  }
  t.true(frames > 0);
});

/** The transport bytes of an unfragmented IPv4/IPv6 frame, with protocol and addresses. */
function transportOf(frame: Uint8Array): { protocol: number; seg: Uint8Array; src: Uint8Array; dst: Uint8Array } | null {
  const eth = EthernetPacket.view(frame);
  if (isWireError(eth)) return null;
  if (eth.ethertype === EtherType.IPV4) {
    const ip = Ipv4Packet.view(eth.payload);
    if (isWireError(ip) || ip.isFragment) return null;
    return { protocol: ip.protocol, seg: ip.payload, src: ip.srcBytes, dst: ip.dstBytes };
  }
  if (eth.ethertype === EtherType.IPV6) {
    const ip = Ipv6Packet.view(eth.payload);
    if (isWireError(ip)) return null;
    const c = walkIpv6Extensions(ip.nextHeader, ip.payload);
    if (isWireError(c) || c.fragment) return null;
    return { protocol: c.upperProtocol, seg: ip.payload.subarray(c.upperOffset), src: ip.srcBytes, dst: ip.dstBytes };
  }
  return null;
}

test('fixture captures: DNS messages of clean captures survive parse -> encode -> parse', (t) => {
  let n = 0;
  for (const cap of captures()) {
    if (!CLEAN.has(cap.name)) continue;
    for (const f of cap.frames) {
      const tr = transportOf(f.data);
      if (!tr || tr.protocol !== IpProto.UDP) continue;
      const u = UdpPacket.view(tr.seg);
      if (isWireError(u) || (u.srcPort !== 53 && u.dstPort !== 53)) continue;
      const m = parseDns(u.payload);
      if (isWireError(m)) return t.fail(m);
      const again = encodeDns(m);
      if (isWireError(again)) return t.fail(again);
      t.deepEqual(parseDns(again), m);
      n++;
    }
  }
  if (!n) t.pass('no DNS in the fixtures present');
});

test('fixture captures: TCP headers of clean captures re-emit byte for byte', (t) => {
  let n = 0;
  for (const cap of captures()) {
    if (!CLEAN.has(cap.name)) continue;
    for (const f of cap.frames) {
      const ip = transportOf(f.data);
      if (!ip || ip.protocol !== IpProto.TCP) continue;
      const seg = ip.seg;
      const r = parseTcp(seg, ip.src, ip.dst);
      if (isWireError(r)) return t.fail(r);
      const out = new Uint8Array(tcpHeaderLen(r));
      emitTcp(r, out);
      const c = tcpChecksum(ip.src, ip.dst, out, r.payload);
      out[16] = c >> 8;
      out[17] = c & 0xff;
      t.is(toHex(out), toHex(seg.subarray(0, out.length)));
      n++;
    }
  }
  if (!n) t.pass('no clean TCP fixtures present');
});
