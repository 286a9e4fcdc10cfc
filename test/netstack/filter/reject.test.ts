// REJECT replies: TCP RST per RFC 9293 §3.10.7.1 and ICMP/ICMPv6 unreachables, re-parsed with
// the wire codecs and checksum-verified; and the cases where no reply may be sent.

import test from 'ava';
import { buildRejectReply } from '../../../src/netstack/filter/reject.js';
import { parseTcp } from '../../../src/netstack/wire/tcp.js';
import { parseIcmpv4 } from '../../../src/netstack/wire/icmpv4.js';
import { parseIcmpv6 } from '../../../src/netstack/wire/icmpv6.js';
import { foldSum, sumWords } from '../../../src/netstack/wire/checksum.js';
import { FilterInput } from '../../../src/netstack/filter/packet.js';
import { F, checksumProblems, echo, icmpError, tcp, udp } from './packets.js';

function parse(d: Uint8Array): FilterInput {
  const p = new FilterInput();
  if (!p.setDatagram(d)) throw new Error('reply did not parse');
  return p;
}

test('tcp-reset to a SYN: seq 0, ACK = seq + 1, addresses and ports swapped', (t) => {
  const r = buildRejectReply(tcp('10.0.0.1', 40000, '10.0.0.9', 22, F.SYN, { seq: 0xffffffff }), 'tcp-reset')!;
  t.truthy(r);
  t.deepEqual(checksumProblems(r), []);
  const p = parse(r);
  t.is(p.src.key, '10.0.0.9');
  t.is(p.dst.key, '10.0.0.1');
  const s = parseTcp(p.transport, p.src, p.dst);
  if (typeof s === 'string') return t.fail(s);
  t.is(s.srcPort, 22);
  t.is(s.dstPort, 40000);
  t.is(s.flags, F.RST | F.ACK);
  t.is(s.seq, 0);
  t.is(s.ack, 0, 'sequence arithmetic wraps at 2^32');
});

test('tcp-reset to a segment with ACK and data: seq = its ACK, no ACK flag (v6)', (t) => {
  const r = buildRejectReply(tcp('fd00::1', 40000, 'fd00::9', 443, F.ACK | F.PSH, { seq: 10, ack: 5000, payload: new Uint8Array(30) }), 'tcp-reset')!;
  t.deepEqual(checksumProblems(r), []);
  const p = parse(r);
  const s = parseTcp(p.transport, p.src, p.dst);
  if (typeof s === 'string') return t.fail(s);
  t.is(s.flags, F.RST);
  t.is(s.seq, 5000);
  t.is(p.family, 6);
});

test('tcp-reset to FIN+data counts FIN and data in the ACK', (t) => {
  const r = buildRejectReply(tcp('10.0.0.1', 1, '10.0.0.9', 2, F.FIN, { seq: 100, payload: new Uint8Array(7) }), 'tcp-reset')!;
  const p = parse(r);
  const s = parseTcp(p.transport, p.src, p.dst);
  if (typeof s === 'string') return t.fail(s);
  t.is(s.ack, 108);
});

test('ICMP unreachables with each code, quoting the offending datagram', (t) => {
  const off = udp('10.0.0.1', 5000, '10.0.0.9', 53);
  const codes: [Parameters<typeof buildRejectReply>[1], number][] = [
    ['icmp-net-unreachable', 0],
    ['icmp-host-unreachable', 1],
    ['icmp-proto-unreachable', 2],
    ['icmp-port-unreachable', 3],
    ['icmp-net-prohibited', 9],
    ['icmp-host-prohibited', 10],
    ['icmp-admin-prohibited', 13],
  ];
  for (const [k, code] of codes) {
    const r = buildRejectReply(off, k)!;
    t.deepEqual(checksumProblems(r), [], k);
    const p = parse(r);
    t.is(p.src.key, '10.0.0.9');
    t.is(p.dst.key, '10.0.0.1');
    const m = parseIcmpv4(p.transport);
    if (typeof m === 'string') return t.fail(m);
    t.is(m.kind, 'dest-unreachable');
    if (m.kind !== 'dest-unreachable') return;
    t.is(m.code, code, k);
    t.deepEqual(m.quoted, off);
  }
});

test('ICMPv6 unreachables with each code; v4 names map onto v6 and back', (t) => {
  const off = udp('fd00::1', 5000, 'fd00::9', 53);
  const cases: [Parameters<typeof buildRejectReply>[1], number][] = [
    ['icmp6-no-route', 0],
    ['icmp6-adm-prohibited', 1],
    ['icmp6-addr-unreachable', 3],
    ['icmp6-port-unreachable', 4],
    ['icmp-port-unreachable', 4],
    ['icmp-admin-prohibited', 1],
  ];
  for (const [k, code] of cases) {
    const r = buildRejectReply(off, k)!;
    t.deepEqual(checksumProblems(r), [], k);
    const p = parse(r);
    const m = parseIcmpv6(p.transport, p.src, p.dst);
    if (typeof m === 'string') return t.fail(m);
    t.is(m.kind, 'dest-unreachable');
    if (m.kind === 'dest-unreachable') {
      t.is(m.code, code, k);
      t.deepEqual(m.quoted, off);
    }
  }
  const r4 = parse(buildRejectReply(udp('10.0.0.1', 1, '10.0.0.2', 2), 'icmp6-adm-prohibited')!);
  t.is(r4.transport[1], 13);
});

test('no reply to an ICMP error, a RST, a broadcast, a multicast, a non-first fragment, or tcp-reset for UDP', (t) => {
  const u = udp('10.0.0.1', 5000, '10.0.0.9', 53);
  t.is(buildRejectReply(icmpError('10.0.0.9', '10.0.0.1', u), 'icmp-port-unreachable'), null);
  t.is(buildRejectReply(tcp('10.0.0.1', 1, '10.0.0.9', 2, F.RST), 'tcp-reset'), null);
  t.is(buildRejectReply(udp('10.0.0.1', 1, '255.255.255.255', 2), 'icmp-port-unreachable'), null);
  t.is(buildRejectReply(udp('10.0.0.1', 1, '224.0.0.251', 5353), 'icmp-port-unreachable'), null);
  t.is(buildRejectReply(udp('fd00::1', 1, 'ff02::fb', 5353), 'icmp6-port-unreachable'), null);
  t.is(buildRejectReply(u, 'tcp-reset'), null);
  const frag = u.slice();
  frag[7] = 0x10;
  t.is(buildRejectReply(frag, 'icmp-port-unreachable'), null);
  t.truthy(buildRejectReply(echo('10.0.0.1', '10.0.0.9', 1), 'icmp-host-prohibited'), 'an echo request is answered');
  t.is(buildRejectReply(new Uint8Array(10), 'icmp-port-unreachable'), null, 'garbage');
});

test('the quote is cut at 576 bytes for IPv4', (t) => {
  const big = udp('10.0.0.1', 1, '10.0.0.9', 2, new Uint8Array(1400));
  const r = buildRejectReply(big, 'icmp-port-unreachable')!;
  t.is(r.length, 576);
  t.is(foldSum(sumWords(r, 20)), 0xffff, 'ICMP checksum over the cut quote');
  t.deepEqual(r.subarray(28), big.subarray(0, 548));
});
