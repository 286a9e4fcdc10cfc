// Wire-layer throughput: whole frames decoded (Ethernet -> IP -> TCP/UDP/ICMP, DNS on port 53)
// with every checksum verified, plus the hot pieces on their own (checksum, TCP parse and
// emit, DNS parse). Frames come from the capture fixtures (pcap-fixtures/*.pcap*, read with
// src/net-plumbing/pcap); when there are none, from frames built here with the wire emitters.
// Baseline in the same run: tcpdump -vv (which also verifies TCP/UDP checksums) reading the
// same frames, repeated, from a temporary file. Every loop is bounded in count and time.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readPcapBuffer, LinkType } from '../src/net-plumbing/pcap/index.js';
import {
  EtherType,
  IpAddr,
  IpProto,
  TcpFlags,
  buildDnsQuery,
  buildDnsResponse,
  dissectFrame,
  emitEthernet,
  emitIpv4,
  emitIpv6,
  emitTcp,
  emitUdp,
  encodeDns,
  foldSum,
  newTcpSegment,
  parseDns,
  parseTcpInto,
  sumWords,
  tcpChecksum,
  tcpHeaderLen,
  udpChecksum,
  DnsType,
  EthernetPacket,
  Ipv4Packet,
  UdpPacket,
  type TcpRepr,
} from '../src/netstack/wire/index.js';

export interface WireBenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

export interface BenchFrame {
  data: Uint8Array;
  medium: 'ethernet' | 'ip';
}

const TIME_BUDGET_NS = 600_000_000n; // per measure
const MAX_ROUNDS = 2_000_000;

/** Runs `fn` (which handles `unitsPerCall` units) until the time budget; returns units/s. */
function rate(fn: () => void, unitsPerCall: number): number {
  for (let i = 0; i < 200; i++) fn(); // warm up the JIT
  const start = process.hrtime.bigint();
  let calls = 0;
  let now = start;
  while (calls < MAX_ROUNDS) {
    fn();
    calls++;
    if ((calls & 63) === 0) {
      now = process.hrtime.bigint();
      if (now - start >= TIME_BUDGET_NS) break;
    }
  }
  now = process.hrtime.bigint();
  return (calls * unitsPerCall) / (Number(now - start) / 1e9);
}

/** Frames from every capture in `dir` with a link type the wire layer decodes. */
export function loadFixtureFrames(dir: string): BenchFrame[] {
  const out: BenchFrame[] = [];
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) {
    if (!/\.pcap(ng)?(\.gz)?$/.test(f)) continue;
    let buf: Uint8Array = readFileSync(join(dir, f));
    if (f.endsWith('.gz')) buf = gunzipSync(buf);
    let records;
    try {
      records = readPcapBuffer(buf, { allowTruncated: true });
    } catch {
      continue; // a damaged fixture is the pcap tests' business, not this benchmark's
    }
    for (const r of records) {
      const d = r.data;
      switch (r.linkType) {
        case LinkType.EN10MB:
          out.push({ data: d, medium: 'ethernet' });
          break;
        case LinkType.RAW:
        case LinkType.IPV4:
        case LinkType.IPV6:
          out.push({ data: d, medium: 'ip' });
          break;
        case LinkType.NULL:
          out.push({ data: d.subarray(4), medium: 'ip' });
          break;
        case LinkType.LINUX_SLL:
          out.push({ data: d.subarray(16), medium: 'ip' });
          break;
        case LinkType.LINUX_SLL2:
          out.push({ data: d.subarray(20), medium: 'ip' });
          break;
      }
    }
  }
  return out;
}

const MAC_A = Uint8Array.of(2, 0, 0, 0, 0, 0xa);
const MAC_B = Uint8Array.of(2, 0, 0, 0, 0, 0xb);

/** A small realistic mix built with the emitters: TCP data and ACKs over v4/v6, DNS over UDP. */
export function syntheticFrames(): BenchFrame[] {
  const out: BenchFrame[] = [];
  const a4 = IpAddr.parse('10.99.0.1');
  const b4 = IpAddr.parse('10.99.0.2');
  const a6 = IpAddr.parse('fd00:99::1');
  const b6 = IpAddr.parse('fd00:99::2');
  for (const v6 of [false, true]) {
    for (const payloadLen of [0, 1448, 0, 536]) {
      const tcp: TcpRepr = {
        srcPort: 443,
        dstPort: 50123,
        seq: 0xfffff000,
        ack: 12345,
        flags: TcpFlags.ACK | (payloadLen ? TcpFlags.PSH : 0),
        window: 502,
        timestamp: { tsVal: 1, tsEcr: 2 },
      };
      const hl = tcpHeaderLen(tcp);
      const ipLen = v6 ? 40 : 20;
      const frame = new Uint8Array(14 + ipLen + hl + payloadLen);
      emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: v6 ? EtherType.IPV6 : EtherType.IPV4 }, frame);
      if (v6) emitIpv6({ src: a6, dst: b6, nextHeader: IpProto.TCP, hopLimit: 64, payloadLen: hl + payloadLen }, frame, 14);
      else emitIpv4({ src: a4, dst: b4, protocol: IpProto.TCP, ttl: 64, dontFragment: true, payloadLen: hl + payloadLen }, frame, 14);
      const seg = frame.subarray(14 + ipLen);
      emitTcp(tcp, seg);
      for (let i = hl; i < seg.length; i++) seg[i] = i & 0xff;
      const c = tcpChecksum(v6 ? a6 : a4, v6 ? b6 : b4, seg);
      seg[16] = c >> 8;
      seg[17] = c & 0xff;
      out.push({ data: frame, medium: 'ethernet' });
    }
  }
  const q = buildDnsQuery({ id: 7, name: 'www.example.com', type: DnsType.A, ednsUdpPayloadSize: 1232 });
  const r = buildDnsResponse(q, {
    answers: [
      { name: 'www.example.com', type: DnsType.CNAME, class: 1, ttl: 300, data: { kind: 'cname', name: 'example.com' } },
      { name: 'example.com', type: DnsType.A, class: 1, ttl: 300, data: { kind: 'a', address: IpAddr.parse('93.184.215.14') } },
    ],
    ednsUdpPayloadSize: 1232,
  });
  for (const [m, fromServer] of [
    [q, false],
    [r, true],
  ] as const) {
    const dns = encodeDns(m) as Uint8Array;
    const frame = new Uint8Array(14 + 20 + 8 + dns.length);
    emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: EtherType.IPV4 }, frame);
    const [s, d] = fromServer ? [b4, a4] : [a4, b4];
    emitIpv4({ src: s, dst: d, protocol: IpProto.UDP, ttl: 64, payloadLen: 8 + dns.length }, frame, 14);
    emitUdp({ srcPort: fromServer ? 53 : 40000, dstPort: fromServer ? 40000 : 53, payloadLen: dns.length }, frame, 34);
    frame.set(dns, 42);
    const c = udpChecksum(s, d, frame.subarray(34));
    frame[40] = c >> 8;
    frame[41] = c & 0xff;
    out.push({ data: frame, medium: 'ethernet' });
  }
  return out;
}

/** tcpdump -vv over `frames` repeated to about `target` frames; null when unavailable. */
function tcpdumpRate(frames: BenchFrame[], target: number): number | null {
  const eth = frames.filter((f) => f.medium === 'ethernet');
  if (!eth.length) return null;
  const probe = spawnSync('tcpdump', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (probe.status !== 0) return null;
  let once = 0;
  for (const f of eth) once += 16 + f.data.length;
  // enough frames that process start-up does not dominate, but at most 64 MB on disk
  const reps = Math.max(1, Math.min(Math.ceil(target / eth.length), Math.floor((64 << 20) / once)));
  const size = 24 + once * reps;
  const file = new Uint8Array(size);
  const dv = new DataView(file.buffer);
  // classic pcap, microsecond stamps, LINKTYPE_ETHERNET
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, 1, true);
  let p = 24;
  let n = 0;
  for (let r = 0; r < reps; r++) {
    for (const f of eth) {
      dv.setUint32(p, 1_700_000_000 + Math.floor(n / 1e6), true);
      dv.setUint32(p + 4, n % 1e6, true);
      dv.setUint32(p + 8, f.data.length, true);
      dv.setUint32(p + 12, f.data.length, true);
      file.set(f.data, p + 16);
      p += 16 + f.data.length;
      n++;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'moat-bench-wire-'));
  try {
    const path = join(dir, 'frames.pcap');
    writeFileSync(path, file);
    const t0 = process.hrtime.bigint();
    const res = spawnSync('tcpdump', ['-vv', '-nn', '-r', path], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 60_000 });
    const t1 = process.hrtime.bigint();
    if (res.status !== 0) return null;
    return n / (Number(t1 - t0) / 1e9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Measures over the given frames (any mix of media). */
export async function benchWireFrames(frames: BenchFrame[], source: string): Promise<WireBenchRow[]> {
  const rows: WireBenchRow[] = [];
  let bytes = 0;
  let failed = 0;
  for (const f of frames) {
    bytes += f.data.length;
    if (dissectFrame(f.data, f.medium).error) failed++;
  }
  const decode = () => {
    for (let i = 0; i < frames.length; i++) dissectFrame(frames[i].data, frames[i].medium);
  };
  const fps = rate(decode, frames.length);
  const baseline = tcpdumpRate(frames, 200_000);
  rows.push({
    name: 'frames decoded, all checksums verified',
    value: fps,
    unit: 'frames/s',
    baseline: baseline ? { name: 'tcpdump -vv -r (incl. process start)', value: baseline } : undefined,
    note: `${frames.length} frames from ${source}${failed ? `, ${failed} refused` : ''}`,
  });
  rows.push({ name: 'decode throughput', value: (fps * (bytes / frames.length)) / 1e6, unit: 'MB/s' });

  const buf = new Uint8Array(1500);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 131) & 0xff;
  let sink = 0;
  const csRate = rate(() => {
    sink ^= foldSum(sumWords(buf));
  }, buf.length);
  rows.push({ name: 'internet checksum (1500-byte buffer)', value: csRate / 1e6, unit: 'MB/s', note: `sink ${sink & 1}` });

  // TCP parse + verify over the TCP segments present
  const segs: { seg: Uint8Array; src: Uint8Array; dst: Uint8Array }[] = [];
  const dnsMsgs: Uint8Array[] = [];
  for (const f of frames) {
    if (f.medium !== 'ethernet') continue;
    const eth = EthernetPacket.view(f.data);
    if (typeof eth === 'string' || eth.ethertype !== EtherType.IPV4) continue;
    const ip = Ipv4Packet.view(eth.payload);
    if (typeof ip === 'string' || ip.isFragment) continue;
    if (ip.protocol === IpProto.TCP) segs.push({ seg: ip.payload, src: ip.srcBytes, dst: ip.dstBytes });
    if (ip.protocol === IpProto.UDP) {
      const u = UdpPacket.view(ip.payload);
      if (typeof u !== 'string' && (u.srcPort === 53 || u.dstPort === 53)) dnsMsgs.push(u.payload);
    }
  }
  if (segs.length) {
    const out = newTcpSegment();
    rows.push({
      name: 'TCP segment parse + checksum verify (parseTcpInto)',
      value: rate(() => {
        for (let i = 0; i < segs.length; i++) parseTcpInto(out, segs[i].seg, segs[i].src, segs[i].dst);
      }, segs.length),
      unit: 'segments/s',
      note: `${segs.length} IPv4 TCP segments`,
    });
  }
  const repr: TcpRepr = { srcPort: 443, dstPort: 50123, seq: 1, ack: 2, flags: TcpFlags.ACK, window: 502, timestamp: { tsVal: 1, tsEcr: 2 } };
  const hdr = new Uint8Array(60);
  const payload = buf.subarray(0, 1448);
  const a = IpAddr.parse('10.99.0.1');
  const b = IpAddr.parse('10.99.0.2');
  rows.push({
    name: 'TCP header emit + full checksum (1448-byte payload)',
    value: rate(() => {
      repr.seq = (repr.seq + 1448) >>> 0;
      const hl = emitTcp(repr, hdr);
      const c = tcpChecksum(a, b, hdr.subarray(0, hl), payload);
      hdr[16] = c >> 8;
      hdr[17] = c & 0xff;
    }, 1),
    unit: 'segments/s',
  });
  if (!dnsMsgs.length) {
    for (const f of syntheticFrames()) {
      const u = UdpPacket.view(f.data.subarray(34));
      if (f.data[23] === IpProto.UDP && typeof u !== 'string') dnsMsgs.push(u.payload);
    }
  }
  rows.push({
    name: 'DNS message parse',
    value: rate(() => {
      for (let i = 0; i < dnsMsgs.length; i++) parseDns(dnsMsgs[i]);
    }, dnsMsgs.length),
    unit: 'messages/s',
    note: `${dnsMsgs.length} messages`,
  });
  return rows;
}

/** The bench runner's entry point: fixture captures when there are any, else built frames. */
export async function benchWire(fixturesDir: string): Promise<WireBenchRow[]> {
  let frames = loadFixtureFrames(fixturesDir);
  let source = `${fixturesDir}/*.pcap*`;
  if (!frames.length) {
    frames = syntheticFrames();
    source = 'frames built by the wire emitters (no fixture captures found)';
  }
  return benchWireFrames(frames, source);
}
