// Every frame of every fixture, decoded by moat's wire layer, compared field by field with
// tshark's decoding of the same file (`tshark -T json -e ...`). tshark is an independent
// implementation: agreement on real captures is the strongest check the codecs have.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { readPcapBuffer, LinkType } from '../../src/net-plumbing/pcap/index.js';
import { decodeFrame } from '../../src/cli/decode/dissect.js';
import type { DecodedFrame } from '../../src/cli/decode/dissect.js';

const FIELDS = [
  'frame.number', 'eth.src', 'eth.dst',
  'arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4',
  'ip.src', 'ip.dst', 'ip.ttl', 'ip.id', 'ip.len', 'ip.proto', 'ip.flags.df', 'ip.flags.mf', 'ip.frag_offset', 'ip.checksum.status',
  'ipv6.src', 'ipv6.dst', 'ipv6.hlim', 'ipv6.plen', 'ipv6.fraghdr.offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.ident',
  'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.window_size_value', 'tcp.len', 'tcp.hdr_len',
  'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.sack_perm', 'tcp.options.sack_le', 'tcp.options.sack_re',
  'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr', 'tcp.checksum.status',
  'udp.srcport', 'udp.dstport', 'udp.length', 'udp.checksum.status',
  'icmp.type', 'icmp.code', 'icmp.ident', 'icmp.seq', 'icmp.mtu',
  'icmpv6.type', 'icmpv6.code', 'icmpv6.echo.identifier', 'icmpv6.echo.sequence_number', 'icmpv6.nd.ns.target_address',
  'dns.id', 'dns.flags.response', 'dns.flags.rcode', 'dns.qry.name', 'dns.qry.type', 'dns.count.answers', 'dns.a', 'dns.aaaa', 'dns.cname',
  '_ws.malformed',
];

const PREFS = [
  'tcp.relative_sequence_numbers:FALSE', 'tcp.analyze_sequence_numbers:FALSE', 'tcp.desegment_tcp_streams:FALSE',
  'tcp.check_checksum:TRUE', 'udp.check_checksum:TRUE', 'ip.check_checksum:TRUE',
  'ip.defragment:FALSE', 'ipv6.defragment:FALSE',
];

type Layers = Record<string, string[]>;

function haveTshark(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function tsharkLayers(file: string): Layers[] {
  const args = ['-n', '-r', file, '-T', 'json'];
  for (const p of PREFS) args.push('-o', p);
  for (const f of FIELDS) args.push('-e', f);
  const out = execFileSync('tshark', args, { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return (JSON.parse(out) as { _source: { layers: Layers } }[]).map((x) => x._source.layers);
}

const int = (s: string | undefined): number | undefined => (s === undefined ? undefined : s.startsWith('0x') ? parseInt(s, 16) : Number(s));
const flag = (s: string | undefined): boolean | undefined => (s === undefined ? undefined : s === '1' || s === 'True' || s === 'true');

/** Compares one frame; returns the mismatches as "field: moat X, tshark Y". */
function compare(d: DecodedFrame, L: Layers): string[] {
  const bad: string[] = [];
  const first = (f: string) => L[f]?.[0];
  const eq = (name: string, ours: unknown, theirs: unknown) => {
    if (theirs === undefined) return;
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) bad.push(`${name}: moat ${JSON.stringify(ours)}, tshark ${JSON.stringify(theirs)}`);
  };
  if (L['_ws.malformed'] === undefined && d.error) bad.push(`moat says malformed (${d.error.layer}: ${d.error.reason}), tshark does not`);
  if (d.eth) {
    eq('eth.src', d.eth.src, first('eth.src'));
    eq('eth.dst', d.eth.dst, first('eth.dst'));
  }
  if (first('arp.opcode') !== undefined) {
    if (!d.arp) bad.push('tshark decodes ARP, moat does not');
    else {
      eq('arp.opcode', d.arp.op === 'request' ? 1 : d.arp.op === 'reply' ? 2 : d.arp.op, int(first('arp.opcode')));
      eq('arp.src.proto_ipv4', d.arp.senderIp, first('arp.src.proto_ipv4'));
      eq('arp.dst.proto_ipv4', d.arp.targetIp, first('arp.dst.proto_ipv4'));
    }
  }
  const isIcmpError = (d.icmp && !['echo-request', 'echo-reply'].includes(d.icmp.kind) && d.icmp.version === 4 && d.icmp.type !== 0 && d.icmp.type !== 8) || false;
  if (first('ip.src') !== undefined) {
    if (!d.ip || d.ip.version !== 4) bad.push('tshark decodes IPv4, moat does not');
    else {
      eq('ip.src', d.ip.src, first('ip.src'));
      eq('ip.dst', d.ip.dst, first('ip.dst'));
      eq('ip.ttl', d.ip.ttl, int(first('ip.ttl')));
      eq('ip.id', d.ip.id, int(first('ip.id')));
      eq('ip.len', d.ip.length, int(first('ip.len')));
      eq('ip.proto', d.ip.protocol, int(first('ip.proto')));
      eq('ip.flags.df', d.ip.dontFragment, flag(first('ip.flags.df')));
      eq('ip.flags.mf', d.ip.fragment?.more ?? false, flag(first('ip.flags.mf')));
      // tshark's ip.frag_offset counts 8-byte units, as the field does; moat's is in bytes.
      eq('ip.frag_offset', (d.ip.fragment?.offset ?? 0) / 8, int(first('ip.frag_offset')));
      const st = first('ip.checksum.status');
      if (st === '0' || st === '1') eq('ip.checksum.status', d.ip.checksum, st === '1' ? 'ok' : 'bad');
    }
  }
  if (first('ipv6.src') !== undefined) {
    if (!d.ip || d.ip.version !== 6) bad.push('tshark decodes IPv6, moat does not');
    else {
      eq('ipv6.src', d.ip.src, first('ipv6.src'));
      eq('ipv6.dst', d.ip.dst, first('ipv6.dst'));
      eq('ipv6.hlim', d.ip.ttl, int(first('ipv6.hlim')));
      eq('ipv6.plen', d.ip.length - 40, int(first('ipv6.plen')));
      if (first('ipv6.fraghdr.ident') !== undefined) {
        eq('ipv6.fragment.id', d.ip.fragment?.ident, int(first('ipv6.fraghdr.ident')));
        eq('ipv6.fragment.offset', d.ip.fragment?.offset, int(first('ipv6.fraghdr.offset'))! * 8);
        eq('ipv6.fragment.more', d.ip.fragment?.more, flag(first('ipv6.fraghdr.more')));
      }
    }
  }
  // Transport fields of the outer packet only (tshark also lists those of a quoted packet).
  if (first('tcp.srcport') !== undefined && !isIcmpError && !(d.icmp && d.icmp.version === 6)) {
    const t = d.tcp;
    if (!t) bad.push('tshark decodes TCP, moat does not');
    else {
      eq('tcp.srcport', t.srcPort, int(first('tcp.srcport')));
      eq('tcp.dstport', t.dstPort, int(first('tcp.dstport')));
      eq('tcp.seq_raw', t.seq, int(first('tcp.seq_raw')));
      eq('tcp.ack_raw', t.ack, int(first('tcp.ack_raw')));
      eq('tcp.flags', t.flags, int(first('tcp.flags')));
      eq('tcp.window_size_value', t.window, int(first('tcp.window_size_value')));
      eq('tcp.len', t.payloadLen, int(first('tcp.len')));
      eq('tcp.hdr_len', t.headerLen, int(first('tcp.hdr_len')));
      eq('tcp.options.mss_val', t.options.mss, int(first('tcp.options.mss_val')) ?? null);
      eq('tcp.options.wscale.shift', t.options.windowScale, int(first('tcp.options.wscale.shift')) ?? null);
      eq('tcp.options.sack_perm', t.options.sackPermitted, L['tcp.options.sack_perm'] !== undefined);
      eq('tcp.options.sack_le', t.options.sackBlocks.map((b) => b.left), (L['tcp.options.sack_le'] ?? []).map(Number));
      eq('tcp.options.sack_re', t.options.sackBlocks.map((b) => b.right), (L['tcp.options.sack_re'] ?? []).map(Number));
      eq('tcp.options.timestamp.tsval', t.options.timestamp?.tsVal ?? null, int(first('tcp.options.timestamp.tsval')) ?? null);
      eq('tcp.options.timestamp.tsecr', t.options.timestamp?.tsEcr ?? null, int(first('tcp.options.timestamp.tsecr')) ?? null);
      const st = first('tcp.checksum.status');
      if ((st === '0' || st === '1') && t.checksum !== 'unverified') eq('tcp.checksum.status', t.checksum, st === '1' ? 'ok' : 'bad');
    }
  }
  if (first('udp.srcport') !== undefined && !isIcmpError && !(d.icmp && d.icmp.version === 6)) {
    const u = d.udp;
    if (!u) bad.push('tshark decodes UDP, moat does not');
    else {
      eq('udp.srcport', u.srcPort, int(first('udp.srcport')));
      eq('udp.dstport', u.dstPort, int(first('udp.dstport')));
      eq('udp.length', u.length, int(first('udp.length')));
      const st = first('udp.checksum.status');
      if ((st === '0' || st === '1') && u.checksum !== 'unverified') eq('udp.checksum.status', u.checksum, st === '1' ? 'ok' : 'bad');
    }
  }
  if (first('icmp.type') !== undefined) {
    if (!d.icmp || d.icmp.version !== 4) bad.push('tshark decodes ICMP, moat does not');
    else {
      eq('icmp.type', d.icmp.type, int(first('icmp.type')));
      eq('icmp.code', d.icmp.code, int(first('icmp.code')));
      if (d.icmp.ident !== undefined) {
        eq('icmp.ident', d.icmp.ident, int(first('icmp.ident')));
        eq('icmp.seq', d.icmp.seq, int(first('icmp.seq')));
      }
    }
  }
  if (first('icmpv6.type') !== undefined) {
    if (!d.icmp || d.icmp.version !== 6) bad.push('tshark decodes ICMPv6, moat does not');
    else {
      eq('icmpv6.type', d.icmp.type, int(first('icmpv6.type')));
      eq('icmpv6.code', d.icmp.code, int(first('icmpv6.code')));
      if (d.icmp.ident !== undefined) {
        eq('icmpv6.echo.identifier', d.icmp.ident, int(first('icmpv6.echo.identifier')));
        eq('icmpv6.echo.sequence_number', d.icmp.seq, int(first('icmpv6.echo.sequence_number')));
      }
      if (d.icmp.target) eq('icmpv6.nd.ns.target_address', d.icmp.target, first('icmpv6.nd.ns.target_address'));
    }
  }
  if (first('dns.id') !== undefined && !isIcmpError) {
    const m = d.dns;
    if (!m) bad.push('tshark decodes DNS, moat does not');
    else {
      eq('dns.id', m.id, int(first('dns.id')));
      eq('dns.flags.response', m.qr, flag(first('dns.flags.response')));
      eq('dns.flags.rcode', m.rcode, int(first('dns.flags.rcode')));
      eq('dns.qry.name', m.questions.map((q) => q.name), L['dns.qry.name'] ?? []);
      eq('dns.qry.type', m.questions.map((q) => q.type), (L['dns.qry.type'] ?? []).map(Number));
      eq('dns.count.answers', m.answers.length, int(first('dns.count.answers')));
      const of = (k: string) => m.answers.filter((a) => a.data.kind === k);
      eq('dns.a', of('a').map((a) => (a.data as { address: { key: string } }).address.key), L['dns.a'] ?? []);
      eq('dns.aaaa', of('aaaa').map((a) => (a.data as { address: { key: string } }).address.key), L['dns.aaaa'] ?? []);
      eq('dns.cname', of('cname').map((a) => (a.data as { name: string }).name), L['dns.cname'] ?? []);
    }
  }
  return bad;
}

const dir = join(packageRoot(), 'pcap-fixtures');
const fixtures = readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

test('there are fixtures to compare', (t) => {
  t.true(fixtures.length >= 5, `fixtures: ${fixtures.join(', ')}`);
});

for (const name of fixtures) {
  test(`${name}: every frame agrees with tshark`, (t) => {
    if (!haveTshark()) {
      if (process.env.MOAT_REQUIRE_PRIVILEGED === '1') return t.fail('tshark is not installed (CI installs it: .ci/run)');
      return t.pass('tshark not installed: comparison skipped (apt-get install tshark)');
    }
    const file = join(dir, name);
    const records = readPcapBuffer(readFileSync(file));
    const layers = tsharkLayers(file);
    t.is(records.length, layers.length, 'frame count');
    const problems: string[] = [];
    let compared = 0;
    records.forEach((rec, i) => {
      if (rec.linkType !== LinkType.EN10MB) return;
      const d = decodeFrame(rec.data, rec.originalLength);
      const bad = compare(d, layers[i]);
      compared++;
      if (bad.length && problems.length < 20) problems.push(`frame ${i + 1}: ${bad.join('; ')}`);
    });
    t.true(compared > 0);
    t.deepEqual(problems, [], problems.join('\n'));
  });
}
