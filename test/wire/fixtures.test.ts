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

test('fixture captures: TCP headers of clean captures re-emit byte for byte', (t) => {
  let n = 0;
  for (const cap of captures()) {
    if (!CLEAN.has(cap.name)) continue;
    for (const f of cap.frames) {
      const eth = EthernetPacket.view(f.data);
      if (isWireError(eth) || eth.ethertype !== EtherType.IPV4) continue;
      const ip = Ipv4Packet.view(eth.payload);
      if (isWireError(ip) || ip.protocol !== IpProto.TCP || ip.isFragment) continue;
      const seg = ip.payload;
      const r = parseTcp(seg, ip.srcBytes, ip.dstBytes);
      if (isWireError(r)) return t.fail(r);
      const out = new Uint8Array(tcpHeaderLen(r));
      emitTcp(r, out);
      const c = tcpChecksum(ip.srcBytes, ip.dstBytes, out, r.payload);
      out[16] = c >> 8;
      out[17] = c & 0xff;
      t.is(toHex(out), toHex(seg.subarray(0, out.length)));
      n++;
    }
  }
  if (!n) t.pass('no clean IPv4 TCP fixtures present');
});
