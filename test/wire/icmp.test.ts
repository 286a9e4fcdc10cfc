// ICMPv4 (RFC 792, RFC 1191), ICMPv6 (RFC 4443) and NDP (RFC 4861, RFC 4862, RFC 8106):
// real messages re-emitted exactly, hand-made errors and router advertisements.
import test from 'ava';
import {
  Icmpv4Packet,
  Icmpv4Type,
  Icmpv4Unreachable,
  ICMPV4_MAX_QUOTE,
  emitIcmpv4,
  icmpv4BufferLen,
  icmpv4Quote,
  parseIcmpv4,
  type Icmpv4Repr,
} from '../../src/netstack/wire/icmpv4.js';
import {
  Icmpv6Packet,
  Icmpv6Type,
  ICMPV6_MAX_QUOTE,
  emitIcmpv6,
  icmpv6BufferLen,
  icmpv6Quote,
  isIcmpv6Error,
  parseIcmpv6,
  type Icmpv6Repr,
} from '../../src/netstack/wire/icmpv6.js';
import { NdpOptionType, parseNdp, parseNdpOptions, type NdpRepr } from '../../src/netstack/wire/ndp.js';
import { Ipv4Packet } from '../../src/netstack/wire/ipv4.js';
import { Ipv6Packet } from '../../src/netstack/wire/ipv6.js';
import { UdpPacket } from '../../src/netstack/wire/udp.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { IpProto } from '../../src/netstack/wire/ip-proto.js';
import { formatMac, parseMac } from '../../src/netstack/wire/ethernet.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import {
  hex,
  toHex,
  ICMP4_ECHO_REPLY,
  ICMP4_ECHO_REQUEST,
  ICMP4_PORT_UNREACHABLE,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_PORT_UNREACHABLE,
  NA,
  NS,
  NS_DAD,
  RS,
} from './golden.js';

const A6 = IpAddr.parse('fd00:99::1');
const B6 = IpAddr.parse('fd00:99::2');

function v6parts(frame: Uint8Array) {
  return { msg: frame.subarray(54), src: frame.subarray(22, 38), dst: frame.subarray(38, 54) };
}

test('ICMPv4 echo: a real request parses; the reply emitted from it equals the real reply', (t) => {
  const req = parseIcmpv4(ICMP4_ECHO_REQUEST.subarray(34));
  if (isWireError(req) || req.kind !== 'echo-request') return t.fail(String(req));
  t.is(req.ident, 11781);
  t.is(req.seq, 1);
  t.is(req.data.length, 56);
  const reply: Icmpv4Repr = { kind: 'echo-reply', ident: req.ident, seq: req.seq, data: req.data };
  const out = new Uint8Array(icmpv4BufferLen(reply));
  t.is(emitIcmpv4(reply, out), 64);
  t.is(toHex(out), toHex(ICMP4_ECHO_REPLY.subarray(34)));
  const bad = ICMP4_ECHO_REQUEST.slice(34);
  bad[10] ^= 0x40;
  t.is(parseIcmpv4(bad), 'bad-checksum');
  t.is(parseIcmpv4(bad, { verifyChecksum: false }) && (parseIcmpv4(bad, { verifyChecksum: false }) as Icmpv4Repr).kind, 'echo-request');
  t.is(Icmpv4Packet.view(bad.subarray(0, 7)), 'truncated');
});

test('ICMPv4 port unreachable: the quote leads back to the UDP flow', (t) => {
  const m = parseIcmpv4(ICMP4_PORT_UNREACHABLE.subarray(34));
  if (isWireError(m) || m.kind !== 'dest-unreachable') return t.fail(String(m));
  t.is(m.code, Icmpv4Unreachable.PORT);
  const q = Ipv4Packet.viewQuoted(m.quoted);
  if (isWireError(q)) return t.fail(q);
  t.is(q.protocol, IpProto.UDP);
  t.is(q.src.key, '10.99.0.1');
  t.is(q.dst.key, '10.99.0.2');
  const u = UdpPacket.view(q.payload) as UdpPacket;
  t.is(u.dstPort, 5353);
  // re-emitting the parsed error reproduces it
  const out = new Uint8Array(icmpv4BufferLen(m));
  emitIcmpv4(m, out);
  t.is(toHex(out), toHex(ICMP4_PORT_UNREACHABLE.subarray(34)));
});

test('ICMPv4 errors round-trip: frag-needed MTU (RFC 1191), time exceeded, parameter problem, redirect', (t) => {
  const quoted = ICMP4_ECHO_REQUEST.subarray(14, 14 + 28);
  const cases: Icmpv4Repr[] = [
    { kind: 'dest-unreachable', code: Icmpv4Unreachable.FRAG_NEEDED, nextHopMtu: 1400, quoted },
    { kind: 'dest-unreachable', code: Icmpv4Unreachable.ADMIN_PROHIBITED, nextHopMtu: 0, quoted },
    { kind: 'time-exceeded', code: 1, quoted },
    { kind: 'parameter-problem', code: 0, pointer: 255, quoted },
    { kind: 'redirect', code: 1, gateway: IpAddr.parse('10.99.0.254'), quoted },
    { kind: 'echo-request', ident: 0xffff, seq: 0xffff, data: new Uint8Array(0) },
    { kind: 'other', type: Icmpv4Type.TIMESTAMP, code: 0, rest: 0xffffffff, data: hex('0102030405060708090a0b0c') },
  ];
  for (const r of cases) {
    const buf = new Uint8Array(icmpv4BufferLen(r) + 1); // odd-length slack does not matter
    const n = emitIcmpv4(r, buf);
    t.deepEqual(parseIcmpv4(buf.subarray(0, n)), r);
  }
  // golden: frag-needed, next-hop MTU 1400 in the low half of the second word
  const buf = new Uint8Array(8 + 28);
  emitIcmpv4(cases[0], buf);
  t.is(toHex(buf.subarray(0, 8)), '0304' + toHex(buf.subarray(2, 4)) + '00000578');
  t.true((Icmpv4Packet.view(buf) as Icmpv4Packet).verifyChecksum());
  t.is(icmpv4Quote(new Uint8Array(2000)).length, ICMPV4_MAX_QUOTE);
  t.is(ICMPV4_MAX_QUOTE + 28, 576);
});

test('ICMPv6 echo: real request parses; the reply emitted from it equals the real reply', (t) => {
  const { msg, src, dst } = v6parts(ICMP6_ECHO_REQUEST);
  const req = parseIcmpv6(msg, src, dst);
  if (isWireError(req) || req.kind !== 'echo-request') return t.fail(String(req));
  t.is(req.ident, 11782);
  t.is(req.seq, 1);
  const reply: Icmpv6Repr = { kind: 'echo-reply', ident: req.ident, seq: req.seq, data: req.data };
  const out = new Uint8Array(icmpv6BufferLen(reply));
  emitIcmpv6(reply, out, 0, B6, A6);
  t.is(toHex(out), toHex(ICMP6_ECHO_REPLY.subarray(54)));
  // the pseudo-header matters: wrong addresses fail
  t.is(parseIcmpv6(msg, dst, dst), 'bad-checksum');
});

test('ICMPv6 port unreachable quotes the IPv6 packet; packet too big and parameter problem round-trip', (t) => {
  const { msg, src, dst } = v6parts(ICMP6_PORT_UNREACHABLE);
  const m = parseIcmpv6(msg, src, dst);
  if (isWireError(m) || m.kind !== 'dest-unreachable') return t.fail(String(m));
  t.is(m.code, 4);
  const q = Ipv6Packet.viewQuoted(m.quoted) as Ipv6Packet;
  t.is(q.nextHeader, IpProto.UDP);
  t.is((UdpPacket.view(q.payload) as UdpPacket).dstPort, 5353);
  const out = new Uint8Array(icmpv6BufferLen(m));
  emitIcmpv6(m, out, 0, src, dst);
  t.is(toHex(out), toHex(msg));
  const quoted = ICMP6_ECHO_REQUEST.subarray(14);
  const cases: Icmpv6Repr[] = [
    { kind: 'packet-too-big', mtu: 1280, quoted },
    { kind: 'packet-too-big', mtu: 0xffffffff, quoted },
    { kind: 'time-exceeded', code: 0, quoted },
    { kind: 'parameter-problem', code: 1, pointer: 0xffffffff, quoted },
    { kind: 'other', type: Icmpv6Type.MLD_QUERY, code: 0, rest: 0x12345678, data: new Uint8Array(16) },
  ];
  for (const r of cases) {
    const buf = new Uint8Array(icmpv6BufferLen(r));
    emitIcmpv6(r, buf, 0, A6, B6);
    t.deepEqual(parseIcmpv6(buf, A6, B6), r);
  }
  const ptb = new Uint8Array(icmpv6BufferLen(cases[0]));
  emitIcmpv6(cases[0], ptb, 0, A6, B6);
  t.is(toHex(ptb.subarray(0, 8)), '0200' + toHex(ptb.subarray(2, 4)) + '00000500');
  t.true(isIcmpv6Error(1));
  t.false(isIcmpv6Error(Icmpv6Type.ECHO_REQUEST));
  t.is(icmpv6Quote(new Uint8Array(5000)).length, ICMPV6_MAX_QUOTE);
  t.is(ICMPV6_MAX_QUOTE + 48, 1280);
});

test('NDP: real NS, NA, RS and DAD NS parse and re-emit byte for byte', (t) => {
  const expectations: [Uint8Array, (r: NdpRepr) => void][] = [
    [
      NS,
      (r) => {
        if (r.kind !== 'neighbor-solicit') return t.fail(r.kind);
        t.is(r.target.key, 'fd00:99::2');
        t.is(formatMac(r.options.sourceLinkAddr!), '02:00:00:00:00:0a');
      },
    ],
    [
      NA,
      (r) => {
        if (r.kind !== 'neighbor-advert') return t.fail(r.kind);
        t.false(r.router);
        t.true(r.solicited);
        t.true(r.override);
        t.is(r.target.key, 'fd00:99::2');
        t.is(formatMac(r.options.targetLinkAddr!), '02:00:00:00:00:0b');
      },
    ],
    [
      RS,
      (r) => {
        if (r.kind !== 'router-solicit') return t.fail(r.kind);
        t.is(formatMac(r.options.sourceLinkAddr!), '02:00:00:00:00:0a');
      },
    ],
    [
      NS_DAD,
      (r) => {
        if (r.kind !== 'neighbor-solicit') return t.fail(r.kind);
        t.is(r.target.key, 'fe80::ff:fe00:b');
        t.is(r.options.sourceLinkAddr, null); // DAD: no SLLA from the unspecified address
        // the Nonce option (RFC 3971 §5.3.2, type 14) is not interpreted: kept raw
        t.deepEqual(r.options.unknown!.map((u) => [u.type, toHex(u.data)]), [[14, '2af164d60f20']]);
      },
    ],
  ];
  for (const [frame, check] of expectations) {
    const { msg, src, dst } = v6parts(frame);
    const r = parseIcmpv6(msg, src, dst);
    if (isWireError(r)) return t.fail(r);
    check(r as NdpRepr);
    const out = new Uint8Array(icmpv6BufferLen(r));
    t.is(emitIcmpv6(r, out, 0, src, dst), msg.length);
    t.is(toHex(out), toHex(msg));
  }
});

const RA: NdpRepr = {
  kind: 'router-advert',
  curHopLimit: 64,
  managed: true,
  other: false,
  preference: 1,
  routerLifetime: 1800,
  reachableTime: 30000,
  retransTimer: 1000,
  options: {
    sourceLinkAddr: parseMac('02:00:00:00:00:01')!,
    targetLinkAddr: null,
    prefixes: [
      { prefixLen: 64, onLink: true, autonomous: true, validLifetime: 0xffffffff, preferredLifetime: 604800, prefix: IpAddr.parse('fd00:99::') },
      { prefixLen: 48, onLink: false, autonomous: false, validLifetime: 0, preferredLifetime: 0, prefix: IpAddr.parse('2001:db8::') },
    ],
    mtu: 1500,
    rdnss: [{ lifetime: 600, servers: [IpAddr.parse('fd00:99::53'), IpAddr.parse('2001:db8::53')] }],
    redirectedHeader: null,
    unknown: [{ type: 31, data: hex('000000000258076578616d706c650474657374000000') }], // DNSSL, raw
  },
};

test('NDP router advertisement: hand-made golden bytes and round trip', (t) => {
  const r: Icmpv6Repr = RA;
  const src = IpAddr.parse('fe80::1');
  const dst = IpAddr.parse('ff02::1');
  const buf = new Uint8Array(icmpv6BufferLen(r));
  t.is(buf.length, 16 + 8 + 64 + 8 + 40 + 24);
  emitIcmpv6(r, buf, 0, src, dst);
  // fixed part: type 134, code 0, checksum, hop limit 64, M=1 O=0 Prf=01, lifetime 1800,
  // reachable 30000 ms, retrans 1000 ms
  t.is(toHex(buf.subarray(0, 2)), '8600');
  t.is(toHex(buf.subarray(4, 16)), '40' + '88' + '0708' + '00007530' + '000003e8');
  // SLLA option
  t.is(toHex(buf.subarray(16, 24)), '0101020000000001');
  // first prefix: L and A set (RFC 4862 §5.5.3), infinite valid lifetime
  t.is(toHex(buf.subarray(24, 56)), '0304' + '40' + 'c0' + 'ffffffff' + '00093a80' + '00000000' + 'fd000099000000000000000000000000');
  // MTU option after both prefixes
  t.is(toHex(buf.subarray(88, 96)), '0501' + '0000' + '000005dc');
  // RDNSS: length 5 (8 + 2 * 16 bytes), lifetime 600
  t.is(toHex(buf.subarray(96, 104)), '1905' + '0000' + '00000258');
  t.true((Icmpv6Packet.view(buf) as Icmpv6Packet).verifyChecksum(src, dst));
  t.deepEqual(parseIcmpv6(buf, src, dst), r);
});

test('NDP redirect with a redirected-header option round-trips', (t) => {
  const r: Icmpv6Repr = {
    kind: 'redirect',
    target: IpAddr.parse('fe80::2'),
    destination: IpAddr.parse('2001:db8::9'),
    options: { targetLinkAddr: parseMac('02:00:00:00:00:02')!, redirectedHeader: ICMP6_ECHO_REQUEST.subarray(14, 14 + 48) },
  };
  const buf = new Uint8Array(icmpv6BufferLen(r));
  t.is(buf.length, 40 + 8 + 56);
  emitIcmpv6(r, buf, 0, A6, B6);
  const back = parseIcmpv6(buf, A6, B6);
  if (isWireError(back) || back.kind !== 'redirect') return t.fail(String(back));
  t.is(back.destination.key, '2001:db8::9');
  t.is(toHex(back.options.redirectedHeader!), toHex(ICMP6_ECHO_REQUEST.subarray(14, 62)));
  t.is(formatMac(back.options.targetLinkAddr!), '02:00:00:00:00:02');
});

test('NDP errors: zero-length option, overrun, wrong prefix/MTU/RDNSS lengths, code != 0, short messages', (t) => {
  t.is(parseNdpOptions(hex('0100000000000000')), 'bad-option');
  t.is(parseNdpOptions(hex('0102020000000000')), 'bad-option');
  t.is(parseNdpOptions(hex('01')), 'bad-option');
  t.is(parseNdpOptions(hex('0301' + '00'.repeat(6))), 'bad-option');
  t.is(parseNdpOptions(hex('0502' + '00'.repeat(14))), 'bad-option');
  t.is(parseNdpOptions(hex('1901' + '00'.repeat(6))), 'bad-option');
  t.is(parseNdpOptions(hex('1904' + '00'.repeat(30))), 'bad-option');
  const ns = NS.slice(54);
  ns[1] = 1;
  t.is(parseNdp(ns), 'malformed');
  t.is(parseNdp(NS.subarray(54, 54 + 23)), 'truncated');
  t.is(parseNdp(RS.subarray(54, 54 + 7)), 'truncated');
  t.is(parseNdp(hex('80000000')), 'unsupported');
  t.is(NdpOptionType.RDNSS, 25);
});
