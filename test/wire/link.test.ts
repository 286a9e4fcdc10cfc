// Ethernet II (with 802.1Q / 802.1ad tags), MAC helpers and ARP: real frames and hand-made
// golden bytes.
import test from 'ava';
import {
  EthernetPacket,
  EtherType,
  MAC_BROADCAST,
  emitEthernet,
  ethernetHeaderLen,
  formatMac,
  isBroadcastMac,
  isMulticastMac,
  isUnicastMac,
  macEquals,
  multicastMacV4,
  multicastMacV6,
  parseEthernet,
  parseMac,
  type EthernetRepr,
} from '../../src/netstack/wire/ethernet.js';
import { ArpOp, ArpPacket, emitArp, parseArp, ARP_LEN, arpBufferLen } from '../../src/netstack/wire/arp.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import { hex, toHex, ARP_REPLY, ARP_REQUEST, ICMP6_ECHO_REQUEST, NS, TCP4_DATA } from './golden.js';
import { dissectFrame } from '../../src/netstack/wire/dissect.js';

test('MAC text form round-trips and rejects junk', (t) => {
  const m = parseMac('02:00:00:AB:cd:0a')!;
  t.is(formatMac(m), '02:00:00:ab:cd:0a');
  t.deepEqual(parseMac('2-0-0-ab-cd-a'), m);
  for (const bad of ['', '02:00:00:ab:cd', '02:00:00:ab:cd:0a:01', '02:00:00:ab:cd:0g', '002:00:00:ab:cd:0a']) {
    t.is(parseMac(bad), null, bad);
  }
});

test('MAC classes and multicast mappings (RFC 1112 §6.4, RFC 2464 §7)', (t) => {
  t.true(isBroadcastMac(MAC_BROADCAST));
  t.true(isMulticastMac(MAC_BROADCAST));
  t.true(isUnicastMac(parseMac('02:00:00:00:00:0a')!));
  t.false(isBroadcastMac(parseMac('ff:ff:ff:ff:ff:fe')!));
  t.is(formatMac(multicastMacV4(IpAddr.parse('239.1.2.3'))), '01:00:5e:01:02:03');
  // only the low 23 bits survive: 224.129.2.3 maps onto the same MAC
  t.is(formatMac(multicastMacV4(IpAddr.parse('224.129.2.3'))), '01:00:5e:01:02:03');
  t.is(formatMac(multicastMacV6(IpAddr.parse('ff02::1:ff00:2'))), '33:33:ff:00:00:02');
  t.is(formatMac(multicastMacV6(IpAddr.parse('ff02::1'))), '33:33:00:00:00:01');
  // the real NS frame was sent to the solicited-node group's MAC
  const eth = EthernetPacket.view(NS) as EthernetPacket;
  t.true(macEquals(eth.dst, multicastMacV6(IpAddr.parse('ff02::1:ff00:2'))));
});

test('a real untagged frame: addresses, EtherType, payload view', (t) => {
  const eth = EthernetPacket.view(ICMP6_ECHO_REQUEST);
  if (isWireError(eth)) return t.fail(eth);
  t.is(formatMac(eth.dst), '02:00:00:00:00:0b');
  t.is(formatMac(eth.src), '02:00:00:00:00:0a');
  t.is(eth.ethertype, EtherType.IPV6);
  t.is(eth.headerLen, 14);
  t.is(eth.vid, -1);
  t.is(eth.payload.byteOffset, ICMP6_ECHO_REQUEST.byteOffset + 14);
  t.is(eth.payload.buffer, ICMP6_ECHO_REQUEST.buffer); // a view, not a copy
  const repr = parseEthernet(ICMP6_ECHO_REQUEST) as EthernetRepr;
  const out = new Uint8Array(14);
  t.is(emitEthernet(repr, out), 14);
  t.is(toHex(out), toHex(ICMP6_ECHO_REQUEST.subarray(0, 14)));
});

// Hand-made: broadcast from 02:..:0a, one C-tag PCP 5, DEI 1, VID 7, IPv4 inside.
const DOT1Q = hex('ffffffffffff 02000000000a 8100 b007 0800 45');
// QinQ: S-tag (0x88a8) VID 100, then C-tag PCP 3 VID 7, IPv6 inside.
const QINQ = hex('02000000000b 02000000000a 88a8 0064 8100 6007 86dd 60');

test('802.1Q tag: parse and emit golden bytes', (t) => {
  const eth = EthernetPacket.view(DOT1Q);
  if (isWireError(eth)) return t.fail(eth);
  t.is(eth.tagCount, 1);
  t.is(eth.ethertype, EtherType.IPV4);
  t.is(eth.headerLen, 18);
  t.is(eth.vid, 7);
  t.deepEqual(eth.tag(0), { tpid: 0x8100, pcp: 5, dei: true, vid: 7 });
  t.deepEqual(Array.from(eth.payload), [0x45]);
  const repr: EthernetRepr = {
    dst: MAC_BROADCAST,
    src: parseMac('02:00:00:00:00:0a')!,
    ethertype: EtherType.IPV4,
    vlans: [{ tpid: EtherType.VLAN, pcp: 5, dei: true, vid: 7 }],
  };
  t.is(ethernetHeaderLen(repr), 18);
  const out = new Uint8Array(18);
  t.is(emitEthernet(repr, out), 18);
  t.is(toHex(out), toHex(DOT1Q.subarray(0, 18)));
});

test('QinQ (802.1ad outer tag): parse, emit, round trip', (t) => {
  const repr = parseEthernet(QINQ);
  if (isWireError(repr)) return t.fail(repr);
  t.is(repr.ethertype, EtherType.IPV6);
  t.deepEqual(repr.vlans, [
    { tpid: 0x88a8, pcp: 0, dei: false, vid: 100 },
    { tpid: 0x8100, pcp: 3, dei: false, vid: 7 },
  ]);
  t.is((EthernetPacket.view(QINQ) as EthernetPacket).vid, 7);
  const out = new Uint8Array(22);
  t.is(emitEthernet(repr, out, 0), 22);
  t.is(toHex(out), toHex(QINQ.subarray(0, 22)));
  // emit at an offset leaves the bytes before it alone
  const off = new Uint8Array(30).fill(0xee);
  emitEthernet(repr, off, 8);
  t.is(toHex(off.subarray(0, 8)), 'ee'.repeat(8));
  t.is(toHex(off.subarray(8)), toHex(QINQ.subarray(0, 22)));
});

test('Ethernet errors: short frames, a tag cut short, three tags', (t) => {
  t.is(EthernetPacket.view(new Uint8Array(13)), 'truncated');
  t.is(EthernetPacket.view(DOT1Q.subarray(0, 17)), 'truncated');
  t.is(EthernetPacket.view(hex('ffffffffffff 02000000000a 8100 0007 8100 0007 8100 0007 0800')), 'unsupported');
  // exactly the header: a valid frame with an empty payload
  const e = EthernetPacket.view(DOT1Q.subarray(0, 18)) as EthernetPacket;
  t.is(e.payload.length, 0);
});

test('ARP request and reply: real bytes parse and re-emit identically', (t) => {
  for (const frame of [ARP_REQUEST, ARP_REPLY]) {
    const body = frame.subarray(14);
    const r = parseArp(body);
    if (isWireError(r)) return t.fail(r);
    const out = new Uint8Array(arpBufferLen(r));
    t.is(emitArp(r, out), ARP_LEN);
    t.is(toHex(out), toHex(body));
  }
  const req = parseArp(ARP_REQUEST.subarray(14));
  if (isWireError(req)) return t.fail(req);
  t.is(req.op, ArpOp.REQUEST);
  t.is(formatMac(req.senderMac), '02:00:00:00:00:0a');
  t.is(req.senderIp.key, '10.99.0.1');
  t.is(formatMac(req.targetMac), '00:00:00:00:00:00');
  t.is(req.targetIp.key, '10.99.0.2');
  const rep = parseArp(ARP_REPLY.subarray(14));
  if (isWireError(rep)) return t.fail(rep);
  t.is(rep.op, ArpOp.REPLY);
  t.is(formatMac(rep.senderMac), '02:00:00:00:00:0b');
  t.is(rep.senderIp.key, '10.99.0.2');
});

test('ARP: Ethernet minimum-size padding is ignored; other hardware types are unsupported', (t) => {
  const padded = new Uint8Array(60);
  padded.set(ARP_REQUEST);
  const r = parseArp((EthernetPacket.view(padded) as EthernetPacket).payload);
  t.false(isWireError(r));
  const other = ARP_REQUEST.slice(14);
  other[1] = 6; // IEEE 802 hardware
  t.is(parseArp(other), 'unsupported');
  const v = ArpPacket.view(other) as ArpPacket;
  t.is(v.htype, 6);
  t.is(v.hlen, 6);
  t.is(formatMac(v.senderHw), '02:00:00:00:00:0a');
  // hardware/protocol lengths that claim more bytes than there are
  const long = ARP_REQUEST.slice(14);
  long[4] = 200;
  t.is(ArpPacket.view(long), 'truncated');
});

test('a real TCP frame with an 802.1Q tag inserted decodes through every layer', (t) => {
  const tagged = new Uint8Array(TCP4_DATA.length + 4);
  tagged.set(TCP4_DATA.subarray(0, 12));
  tagged.set(hex('8100 0007'), 12);
  tagged.set(TCP4_DATA.subarray(12), 16);
  const s = dissectFrame(tagged);
  t.like(s, { vid: 7, network: 'ipv4', transport: 'tcp', srcPort: 59200, dstPort: 8080, error: null });
});

test('values parsed out of a Node Buffer are copies, not views of the frame', (t) => {
  const frame = Buffer.from(ARP_REQUEST);
  const eth = parseEthernet(frame) as EthernetRepr;
  const arp = parseArp(frame.subarray(14));
  if (isWireError(arp)) return t.fail(arp);
  frame.fill(0);
  t.is(formatMac(eth.src), '02:00:00:00:00:0a');
  t.is(formatMac(arp.senderMac), '02:00:00:00:00:0a');
  t.is(arp.senderIp.key, '10.99.0.1');
  t.is(arp.senderIp.bytes[0], 10);
  t.false(Buffer.isBuffer(arp.senderIp.bytes));
  t.false(Buffer.isBuffer(eth.src));
});
