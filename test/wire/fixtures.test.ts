// Bytes cut from the shared capture fixtures (pcap-fixtures/, made by real Linux tools in
// namespaces; read with src/net-plumbing/pcap): every frame decodes without throwing, and in
// the captures whose expect.json reports no bad checksum, every checksum verifies, DNS
// round-trips and every TCP header re-emits byte for byte.
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

interface Capture {
  name: string;
  /** Its <name>.expect.json says tshark found no bad checksum (offloads were off). */
  clean: boolean;
  frames: { data: Uint8Array; linkType: number }[];
}

function captures(): Capture[] {
  if (!existsSync(dir)) return [];
  const out: Capture[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/\.pcap(ng)?(\.gz)?$/.test(name)) continue;
    let buf: Uint8Array = readFileSync(join(dir, name));
    if (name.endsWith('.gz')) buf = gunzipSync(buf);
    // plain Uint8Array, so views parsed out of it compare equal to views of re-encoded bytes
    buf = new Uint8Array(buf);
    let records;
    try {
      records = readPcapBuffer(buf, { allowTruncated: true });
    } catch {
      continue; // a damaged capture is the pcap reader's tests' business
    }
    const expectPath = join(dir, name.replace(/\.gz$/, '').replace(/\.pcap(ng)?$/, '.expect.json'));
    let clean = false;
    try {
      clean = JSON.parse(readFileSync(expectPath, 'utf8')).badChecksums === 0;
    } catch {
      clean = false;
    }
    out.push({ name, clean, frames: records.map((r) => ({ data: r.data, linkType: r.linkType })) });
  }
  return out;
}

test('fixture captures: every frame decodes without throwing; clean captures decode without error', (t) => {
  const all = captures();
  if (!all.length) return t.pass('no fixture captures present');
  let frames = 0;
  let clean = 0;
  for (const cap of all) {
    if (cap.clean) clean++;
    for (const [i, f] of cap.frames.entries()) {
      if (f.linkType !== LinkType.EN10MB) continue;
      const s = dissectFrame(f.data);
      frames++;
      if (cap.clean && s.error) t.fail(`${cap.name} frame ${i + 1}: ${s.errorLayer} ${s.error}`);
    }
  }
  t.true(frames > 0);
  t.log(`${frames} Ethernet frames in ${all.length} captures, ${clean} of them clean`);
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
    if (!cap.clean) continue;
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
    if (!cap.clean) continue;
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
