// IPv4 (RFC 791) and IPv6 (RFC 8200) headers, IPv4 options, IPv6 extension-header chains.
import test from 'ava';
import {
  Ipv4OptionType,
  Ipv4Packet,
  emitIpv4,
  ipv4HeaderLen,
  ipv4OptionsCopiedOnFragment,
  parseIpv4,
  parseIpv4Options,
  type Ipv4Repr,
} from '../../src/netstack/wire/ipv4.js';
import { Ipv6Packet, emitIpv6, parseIpv6, type Ipv6Repr } from '../../src/netstack/wire/ipv6.js';
import {
  Ipv6OptionAction,
  Ipv6OptionType,
  emitIpv6Fragment,
  emitIpv6OptionsHeader,
  emitIpv6Routing,
  ipv6OptionAction,
  ipv6OptionsHeaderLen,
  ipv6RoutingHeaderLen,
  parseIpv6Options,
  walkIpv6Extensions,
  type Ipv6ExtChain,
} from '../../src/netstack/wire/ipv6-ext.js';
import { IpProto } from '../../src/netstack/wire/ip-proto.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import {
  hex,
  toHex,
  ICMP4_ECHO_REQUEST,
  ICMP6_ECHO_REQUEST,
  IPV4_FRAG1,
  IPV4_FRAG2,
  IPV6_FRAG1,
  IPV6_FRAG2,
  MLDV2_HBH,
} from './golden.js';

const ip4 = (f: Uint8Array) => f.subarray(14);

test('IPv4: a real echo request header, field by field', (t) => {
  const p = Ipv4Packet.view(ip4(ICMP4_ECHO_REQUEST));
  if (isWireError(p)) return t.fail(p);
  t.is(p.version, 4);
  t.is(p.headerLen, 20);
  t.is(p.tos, 0);
  t.is(p.totalLen, 84);
  t.is(p.ident, 0x1379);
  t.true(p.dontFragment);
  t.false(p.moreFragments);
  t.is(p.fragmentOffset, 0);
  t.false(p.isFragment);
  t.is(p.ttl, 64);
  t.is(p.protocol, IpProto.ICMP);
  t.is(p.checksum, 0x1268);
  t.true(p.verifyChecksum());
  t.is(p.src.key, '10.99.0.1');
  t.is(p.dst.key, '10.99.0.2');
  t.is(p.payload.length, 64);
  t.is(p.options.length, 0);
});

test('IPv4: parse -> emit reproduces the real header byte for byte', (t) => {
  for (const f of [ICMP4_ECHO_REQUEST, IPV4_FRAG1, IPV4_FRAG2]) {
    const r = parseIpv4(ip4(f));
    if (isWireError(r)) return t.fail(r);
    const out = new Uint8Array(ipv4HeaderLen(r));
    t.is(emitIpv4(r, out), 20);
    t.is(toHex(out), toHex(ip4(f).subarray(0, 20)));
  }
});

test('IPv4 fragments: MF and offsets in bytes', (t) => {
  const a = Ipv4Packet.view(ip4(IPV4_FRAG1)) as Ipv4Packet;
  const b = Ipv4Packet.view(ip4(IPV4_FRAG2)) as Ipv4Packet;
  t.true(a.moreFragments);
  t.is(a.fragmentOffset, 0);
  t.true(a.isFragment);
  t.false(b.moreFragments);
  t.is(b.fragmentOffset, 1480);
  t.true(b.isFragment);
  t.is(a.ident, b.ident);
  t.is(a.payload.length + b.payload.length, 2008); // 8 ICMP + 2000 data
});

test('IPv4: trailing link padding is not payload', (t) => {
  const padded = new Uint8Array(ip4(ICMP4_ECHO_REQUEST).length + 10);
  padded.set(ip4(ICMP4_ECHO_REQUEST));
  const p = Ipv4Packet.view(padded) as Ipv4Packet;
  t.is(p.payload.length, 64);
  t.is(p.datagram.length, 84);
  const r = parseIpv4(padded) as Ipv4Repr;
  t.is(r.payloadLen, 64);
});

test('IPv4 errors: truncated, version, IHL, total length, checksum', (t) => {
  const good = ip4(ICMP4_ECHO_REQUEST);
  t.is(Ipv4Packet.view(good.subarray(0, 19)), 'truncated');
  t.is(Ipv4Packet.view(good.subarray(0, 83)), 'truncated');
  const v6 = good.slice();
  v6[0] = 0x65;
  t.is(Ipv4Packet.view(v6), 'bad-version');
  const ihl = good.slice();
  ihl[0] = 0x44;
  t.is(Ipv4Packet.view(ihl), 'bad-header-length');
  const ihlLong = good.slice(0, 40);
  ihlLong[0] = 0x4f; // 60-byte header in a 40-byte buffer
  t.is(Ipv4Packet.view(ihlLong), 'truncated');
  const tl = good.slice();
  tl[2] = 0;
  tl[3] = 19;
  t.is(Ipv4Packet.view(tl), 'bad-length');
  const cs = good.slice();
  cs[8] = 63;
  t.is(parseIpv4(cs), 'bad-checksum');
  t.false(isWireError(parseIpv4(cs, { verifyChecksum: false })));
});

test('IPv4: setTtl and setSrc keep the checksum right (RFC 1624)', (t) => {
  const b = ip4(ICMP4_ECHO_REQUEST).slice();
  const p = Ipv4Packet.view(b) as Ipv4Packet;
  p.setTtl(63);
  t.is(p.ttl, 63);
  t.true(p.verifyChecksum());
  p.setSrc(IpAddr.parse('192.168.200.7').bytes);
  p.setDst(IpAddr.parse('0.0.0.0').bytes);
  t.true(p.verifyChecksum());
  const c = p.checksum;
  p.fillChecksum();
  t.is(p.checksum, c);
  // fragmenting a copy of the header: every setter keeps the checksum valid
  p.setTotalLen(548);
  p.setIdent(0xffff);
  p.setFragment(1480, true);
  p.setTos(0xb8);
  t.true(p.verifyChecksum());
  t.like(p, { totalLen: 548, ident: 0xffff, fragmentOffset: 1480, moreFragments: true, dontFragment: true, tos: 0xb8 });
  p.setFragment(0, false, false);
  t.true(p.verifyChecksum());
  t.false(p.isFragment || p.dontFragment);
});

test('IPv4: edge values round-trip through emit/parse', (t) => {
  const r: Ipv4Repr = {
    src: IpAddr.parse('255.255.255.255'),
    dst: IpAddr.parse('0.0.0.0'),
    protocol: 255,
    ttl: 255,
    tos: 0xff,
    ident: 0xffff,
    dontFragment: true,
    moreFragments: true,
    fragmentOffset: 0x1fff * 8,
    payloadLen: 0xffff - 20,
  };
  const buf = new Uint8Array(0xffff);
  emitIpv4(r, buf);
  const back = parseIpv4(buf);
  t.deepEqual(back, { ...r, options: undefined });
  t.throws(() => emitIpv4({ ...r, payloadLen: 0xffff }, buf), { instanceOf: RangeError });
  t.throws(() => emitIpv4({ ...r, fragmentOffset: 12 }, buf), { instanceOf: RangeError });
});

test('IPv4 options: emit pads with EOL, walk finds them, bad lengths are bad-option', (t) => {
  // Router Alert (RFC 2113) + NOP + Record Route with room for one address
  const opts = hex('94040000 01 01 0707 04 00000000'); // 13 bytes: emit pads to 16
  const r: Ipv4Repr = { src: IpAddr.parse('10.0.0.1'), dst: IpAddr.parse('224.0.0.22'), protocol: 2, ttl: 1, payloadLen: 0, options: opts };
  t.is(ipv4HeaderLen(r), 36);
  const buf = new Uint8Array(36);
  emitIpv4(r, buf);
  t.is(toHex(buf.subarray(20)), '94040000' + '0101' + '070704' + '00000000' + '000000');
  t.is(buf[0], 0x49);
  const back = parseIpv4(buf);
  if (isWireError(back)) return t.fail(back);
  const walked = parseIpv4Options(back.options!);
  if (isWireError(walked)) return t.fail(walked);
  t.deepEqual(
    walked.map((o) => [o.type, toHex(o.data), o.offset]),
    [
      [Ipv4OptionType.ROUTER_ALERT, '0000', 0],
      [Ipv4OptionType.RECORD_ROUTE, '0400000000', 6],
    ],
  );
  t.is(parseIpv4Options(hex('07')), 'bad-option'); // no length byte
  t.is(parseIpv4Options(hex('0701')), 'bad-option'); // length < 2
  t.is(parseIpv4Options(hex('070900000000')), 'bad-option'); // overruns
  t.deepEqual(parseIpv4Options(hex('00ffffff')), []); // nothing after EOL is read
  const bad = buf.slice();
  bad[21] = 0x30; // router alert length 48
  const p = Ipv4Packet.view(bad) as Ipv4Packet;
  p.fillChecksum();
  t.is(parseIpv4(bad), 'bad-option');
  // only the copied options (high bit of the type) go into later fragments
  t.is(toHex(ipv4OptionsCopiedOnFragment(opts)), '94040000');
  t.throws(() => emitIpv4({ ...r, options: new Uint8Array(41) }, new Uint8Array(100)));
});

test('IPv4 quoted view accepts a header whose datagram was cut', (t) => {
  const cut = ip4(ICMP4_ECHO_REQUEST).subarray(0, 28);
  t.is(Ipv4Packet.view(cut), 'truncated');
  const q = Ipv4Packet.viewQuoted(cut);
  if (isWireError(q)) return t.fail(q);
  t.is(q.protocol, IpProto.ICMP);
  t.is(q.payload.length, 8);
  t.is(Ipv4Packet.viewQuoted(cut.subarray(0, 19)), 'truncated');
});

const ip6 = (f: Uint8Array) => f.subarray(14);

test('IPv6: a real echo request header, field by field, and emit reproduces it', (t) => {
  const p = Ipv6Packet.view(ip6(ICMP6_ECHO_REQUEST));
  if (isWireError(p)) return t.fail(p);
  t.is(p.version, 6);
  t.is(p.trafficClass, 0);
  t.is(p.flowLabel, 0x8583e);
  t.is(p.payloadLen, 64);
  t.is(p.nextHeader, IpProto.ICMPV6);
  t.is(p.hopLimit, 64);
  t.is(p.src.key, 'fd00:99::1');
  t.is(p.dst.key, 'fd00:99::2');
  t.is(p.payload.length, 64);
  const r = parseIpv6(ip6(ICMP6_ECHO_REQUEST)) as Ipv6Repr;
  const out = new Uint8Array(40);
  t.is(emitIpv6(r, out), 40);
  t.is(toHex(out), toHex(ip6(ICMP6_ECHO_REQUEST).subarray(0, 40)));
});

test('IPv6: edge values round-trip; errors', (t) => {
  const r: Ipv6Repr = {
    src: IpAddr.parse('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'),
    dst: IpAddr.parse('::'),
    nextHeader: 255,
    hopLimit: 255,
    trafficClass: 0xff,
    flowLabel: 0xfffff,
    payloadLen: 0xffff,
  };
  const buf = new Uint8Array(40 + 0xffff);
  emitIpv6(r, buf);
  t.deepEqual(parseIpv6(buf), r);
  t.is(Ipv6Packet.view(buf.subarray(0, 40 + 0xfffe)), 'truncated');
  t.is(Ipv6Packet.view(buf.subarray(0, 39)), 'truncated');
  buf[0] = 0x45;
  t.is(Ipv6Packet.view(buf), 'bad-version');
  t.throws(() => emitIpv6({ ...r, payloadLen: 0x10000 }, buf));
});

function walk(frame: Uint8Array): Ipv6ExtChain {
  const p = Ipv6Packet.view(ip6(frame)) as Ipv6Packet;
  const c = walkIpv6Extensions(p.nextHeader, p.payload);
  if (isWireError(c)) throw new Error(c);
  return c;
}

test('IPv6 ext: real MLDv2 report behind Hop-by-Hop with Router Alert', (t) => {
  const c = walk(MLDV2_HBH);
  t.is(c.upperProtocol, IpProto.ICMPV6);
  t.is(c.upperOffset, 8);
  t.is(c.nextHeaderFieldOffset, 0);
  t.is(c.hopByHopOffset, 2);
  const opts = parseIpv6Options(c.hopByHop!);
  if (isWireError(opts)) return t.fail(opts);
  t.deepEqual(
    opts.map((o) => [o.type, toHex(o.data), o.offset]),
    [[Ipv6OptionType.ROUTER_ALERT, '0000', 0]],
  );
  t.is(c.fragment, null);
});

test('IPv6 ext: real fragments stop the walk at the Fragment header', (t) => {
  const a = walk(IPV6_FRAG1);
  t.deepEqual(a.fragment, { nextHeader: IpProto.ICMPV6, offset: 0, moreFragments: true, ident: 0xc3a43c62 });
  t.is(a.fragmentOffset, 0);
  t.is(a.upperOffset, 8);
  t.is(a.upperProtocol, IpProto.ICMPV6);
  const b = walk(IPV6_FRAG2);
  t.deepEqual(b.fragment, { nextHeader: IpProto.ICMPV6, offset: 1448, moreFragments: false, ident: 0xc3a43c62 });
  // the fragment header emitter reproduces the captured one
  const out = new Uint8Array(8);
  emitIpv6Fragment(b.fragment!, out);
  t.is(toHex(out), toHex(ip6(IPV6_FRAG2).subarray(40, 48)));
});

test('IPv6 ext: a hand-built chain HBH -> DstOpts -> Routing -> Fragment, emitted and walked', (t) => {
  const buf = new Uint8Array(200);
  let p = 0;
  p += emitIpv6OptionsHeader({ nextHeader: IpProto.DSTOPTS, options: [{ type: 0x3e, data: hex('aabbcc') }] }, buf, p);
  t.is(p, 8);
  const dstAt = p;
  p += emitIpv6OptionsHeader({ nextHeader: IpProto.ROUTING, options: [{ type: 0x1e, data: new Uint8Array(9) }] }, buf, p);
  t.is(p - dstAt, 16);
  const rtAt = p;
  const rt = { nextHeader: IpProto.FRAGMENT, routingType: 2, segmentsLeft: 1, data: new Uint8Array(20) };
  t.is(ipv6RoutingHeaderLen(rt), 24);
  p += emitIpv6Routing(rt, buf, p);
  const fragAt = p;
  p += emitIpv6Fragment({ nextHeader: IpProto.TCP, offset: 8, moreFragments: false, ident: 0xffffffff }, buf, p);
  const c = walkIpv6Extensions(IpProto.HOPOPTS, buf.subarray(0, p + 20));
  if (isWireError(c)) return t.fail(c);
  t.is(c.hopByHopOffset, 2);
  t.deepEqual(c.destOptionsOffsets, [dstAt + 2]);
  t.is(c.routingOffset, rtAt);
  t.is(c.routing!.routingType, 2);
  t.is(c.routing!.segmentsLeft, 1);
  t.is(c.fragmentOffset, fragAt);
  t.deepEqual(c.fragment, { nextHeader: IpProto.TCP, offset: 8, moreFragments: false, ident: 0xffffffff });
  t.is(c.upperProtocol, IpProto.TCP);
  t.is(c.upperOffset, fragAt + 8);
  // the padded options parse back (Pad1/PadN skipped)
  t.deepEqual(
    (parseIpv6Options(c.hopByHop!) as { type: number; data: Uint8Array }[]).map((o) => [o.type, toHex(o.data)]),
    [[0x3e, 'aabbcc']],
  );
  t.is(toHex(buf.subarray(0, 8)), '3c00' + '3e03aabbcc' + '00'); // 1 byte of padding: Pad1
});

test('IPv6 ext: no extension headers, AH/ESP/No Next Header end the walk', (t) => {
  const plain = walkIpv6Extensions(IpProto.UDP, new Uint8Array(8));
  t.like(plain as Ipv6ExtChain, { upperProtocol: IpProto.UDP, upperOffset: 0, nextHeaderFieldOffset: -1 });
  for (const nh of [IpProto.ESP, IpProto.AH, IpProto.NONE]) {
    const buf = new Uint8Array(16);
    emitIpv6OptionsHeader({ nextHeader: nh, options: [] }, buf, 0);
    t.like(walkIpv6Extensions(IpProto.DSTOPTS, buf) as Ipv6ExtChain, { upperProtocol: nh, upperOffset: 8 });
  }
});

test('IPv6 ext errors: HBH not first, truncated headers, bad options, endless chains', (t) => {
  const buf = new Uint8Array(16);
  emitIpv6OptionsHeader({ nextHeader: IpProto.HOPOPTS, options: [] }, buf, 0);
  emitIpv6OptionsHeader({ nextHeader: IpProto.TCP, options: [] }, buf, 8);
  t.is(walkIpv6Extensions(IpProto.DSTOPTS, buf), 'malformed');
  t.is(walkIpv6Extensions(IpProto.DSTOPTS, buf.subarray(0, 1)), 'truncated');
  t.is(walkIpv6Extensions(IpProto.DSTOPTS, buf.subarray(0, 7)), 'truncated');
  t.is(walkIpv6Extensions(IpProto.FRAGMENT, buf.subarray(0, 7)), 'truncated');
  const badOpt = hex('06 00 3e 09 00 00 00 00'); // option claims 9 bytes in a 6-byte area
  t.is(walkIpv6Extensions(IpProto.HOPOPTS, badOpt), 'bad-option');
  t.is(parseIpv6Options(hex('01')), 'bad-option');
  // 20 chained destination-options headers: refused, not walked forever
  const many = new Uint8Array(8 * 20);
  for (let i = 0; i < 20; i++) emitIpv6OptionsHeader({ nextHeader: IpProto.DSTOPTS, options: [] }, many, 8 * i);
  t.is(walkIpv6Extensions(IpProto.DSTOPTS, many), 'malformed');
});

test('IPv6 option action bits (RFC 8200 §4.2)', (t) => {
  t.is(ipv6OptionAction(0x05), Ipv6OptionAction.SKIP);
  t.is(ipv6OptionAction(0x4f), Ipv6OptionAction.DISCARD);
  t.is(ipv6OptionAction(0x8f), Ipv6OptionAction.DISCARD_SEND_ICMP);
  t.is(ipv6OptionAction(Ipv6OptionType.JUMBO), Ipv6OptionAction.DISCARD_SEND_ICMP_IF_NOT_MULTICAST);
  t.is(ipv6OptionsHeaderLen({ nextHeader: 6, options: [{ type: 5, data: new Uint8Array(2) }] }), 8);
  t.is(ipv6OptionsHeaderLen({ nextHeader: 6, options: [{ type: 5, data: new Uint8Array(5) }] }), 16);
});
