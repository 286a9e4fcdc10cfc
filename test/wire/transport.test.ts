// UDP (RFC 768, RFC 8200 §8.1) and TCP (RFC 9293, RFC 7323, RFC 2018): real segments, exact
// re-emission, edge values, option corner cases.
import test from 'ava';
import {
  UdpPacket,
  emitUdp,
  parseUdp,
  udpChecksum,
  UDP_HEADER_LEN,
  type UdpDatagram,
} from '../../src/netstack/wire/udp.js';
import {
  TcpFlags,
  TcpOptionKind,
  TcpPacket,
  emitTcp,
  formatTcpFlags,
  newTcpSegment,
  parseTcp,
  parseTcpInto,
  tcpChecksum,
  tcpHeaderLen,
  tcpSegmentLen,
  type TcpRepr,
  type TcpSegment,
} from '../../src/netstack/wire/tcp.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import { partialChecksum, finishPartialChecksum } from '../../src/netstack/wire/checksum.js';
import { IpProto } from '../../src/netstack/wire/ip-proto.js';
import {
  hex,
  toHex,
  DNS_A_QUERY,
  TCP4_ACK,
  TCP4_DATA,
  TCP4_FIN,
  TCP4_RST,
  TCP4_SYN,
  TCP4_SYNACK,
  TCP6_DATA,
  TCP6_SYN,
} from './golden.js';

const A4 = IpAddr.parse('10.99.0.1');
const B4 = IpAddr.parse('10.99.0.2');
const A6 = IpAddr.parse('fd00:99::1');
const B6 = IpAddr.parse('fd00:99::2');

/** The transport bytes of a captured frame and its addresses. */
function l4(frame: Uint8Array): { seg: Uint8Array; src: Uint8Array; dst: Uint8Array } {
  if (frame[14] >>> 4 === 4) return { seg: frame.subarray(34), src: frame.subarray(26, 30), dst: frame.subarray(30, 34) };
  return { seg: frame.subarray(54), src: frame.subarray(22, 38), dst: frame.subarray(38, 54) };
}

test('UDP: a real DNS query datagram', (t) => {
  const { seg, src, dst } = l4(DNS_A_QUERY);
  const u = UdpPacket.view(seg);
  if (isWireError(u)) return t.fail(u);
  t.is(u.srcPort, 43551);
  t.is(u.dstPort, 53);
  t.is(u.length, 61);
  t.is(u.checksum, 0x2fa1);
  t.true(u.verifyChecksum(src, dst));
  const d = parseUdp(seg, A4, B4);
  if (isWireError(d)) return t.fail(d);
  t.is(d.payload.length, 53);
  t.is(d.payload.buffer, seg.buffer);
  // rebuild: header from the repr, checksum over header + payload given apart
  const h = new Uint8Array(UDP_HEADER_LEN);
  t.is(emitUdp(d, h), 8);
  const c = udpChecksum(A4, B4, h, d.payload);
  h[6] = c >> 8;
  h[7] = c & 0xff;
  t.is(toHex(h), toHex(seg.subarray(0, 8)));
  // via the view on a contiguous copy
  const copy = seg.slice();
  (UdpPacket.view(copy) as UdpPacket).fillChecksum(src, dst);
  t.is(toHex(copy), toHex(seg));
});

test('UDP checksum rules: zero is "none" over IPv4, refused over IPv6; bad sums refused', (t) => {
  const seg = l4(DNS_A_QUERY).seg.slice();
  seg[6] = seg[7] = 0;
  t.false(isWireError(parseUdp(seg, A4, B4)));
  const dgram = new Uint8Array(12);
  emitUdp({ srcPort: 1, dstPort: 2, payloadLen: 4 }, dgram);
  dgram.set(hex('01020304'), 8);
  t.is(parseUdp(dgram, A6, B6), 'bad-checksum');
  const c = udpChecksum(A6, B6, dgram);
  dgram[6] = c >> 8;
  dgram[7] = c & 0xff;
  t.false(isWireError(parseUdp(dgram, A6, B6)));
  t.is(parseUdp(dgram, A6, A6), 'bad-checksum');
  t.false(isWireError(parseUdp(dgram, A6, A6, { verifyChecksum: false })));
});

test('UDP: a computed checksum of 0 is sent as 0xffff (RFC 768)', (t) => {
  // Find a payload word that makes the sum come out to all ones, so the checksum computes to 0.
  const d = new Uint8Array(10);
  emitUdp({ srcPort: 1000, dstPort: 2000, payloadLen: 2 }, d);
  const c0 = udpChecksum(A4, B4, d); // with payload 0000
  // Adding word w to the sum subtracts w from the checksum; w = c0 drives it to zero.
  d[8] = c0 >> 8;
  d[9] = c0 & 0xff;
  t.is(udpChecksum(A4, B4, d), 0xffff);
  d[6] = 0xff;
  d[7] = 0xff;
  t.true((UdpPacket.view(d) as UdpPacket).verifyChecksum(A4, B4));
});

test('UDP: edge ports, lengths and errors', (t) => {
  for (const port of [0, 1, 0x7fff, 0xffff]) {
    const buf = new Uint8Array(8);
    emitUdp({ srcPort: port, dstPort: 0xffff - port, payloadLen: 0 }, buf);
    const c = udpChecksum(A4, B4, buf);
    buf[6] = c >> 8;
    buf[7] = c & 0xff;
    t.like(parseUdp(buf, A4, B4) as UdpDatagram, { srcPort: port, dstPort: 0xffff - port });
  }
  t.is(UdpPacket.view(new Uint8Array(7)), 'truncated');
  t.is(UdpPacket.view(hex('0001000200070000')), 'bad-length');
  t.is(UdpPacket.view(hex('0001000200090000')), 'truncated');
  // trailing bytes beyond Length are not payload
  const p = UdpPacket.view(hex('000100020009000041ffff')) as UdpPacket;
  t.is(toHex(p.payload), '41');
  t.throws(() => emitUdp({ srcPort: 1, dstPort: 2, payloadLen: 0xffff }, new Uint8Array(8)));
});

test('TCP: a real SYN, field by field', (t) => {
  const { seg, src, dst } = l4(TCP4_SYN);
  const p = TcpPacket.view(seg);
  if (isWireError(p)) return t.fail(p);
  t.is(p.srcPort, 59200);
  t.is(p.dstPort, 8080);
  t.is(p.seqNumber, 603672157);
  t.is(p.ackNumber, 0);
  t.is(p.headerLen, 40);
  t.true(p.syn);
  t.false(p.ack);
  t.is(p.flags, TcpFlags.SYN);
  t.is(p.window, 64240);
  t.is(p.segmentLen, 1);
  t.true(p.verifyChecksum(src, dst));
  const r = parseTcp(seg, src, dst);
  if (isWireError(r)) return t.fail(r);
  t.is(r.mss, 1460);
  t.true(r.sackPermitted);
  t.deepEqual(r.timestamp, { tsVal: 1831006634, tsEcr: 0 });
  t.is(r.windowScale, 10);
  t.is(r.sackBlocks, null);
  t.is(r.unknownOptions, null);
  t.is(r.payload.length, 0);
});

test('TCP: parse -> emit -> checksum reproduces real segments exactly (Linux option layout)', (t) => {
  for (const frame of [TCP4_SYN, TCP4_SYNACK, TCP4_ACK, TCP4_DATA, TCP4_FIN, TCP4_RST, TCP6_SYN, TCP6_DATA]) {
    const { seg, src, dst } = l4(frame);
    const r = parseTcp(seg, src, dst);
    if (isWireError(r)) return t.fail(r);
    const hl = tcpHeaderLen(r);
    const out = new Uint8Array(hl);
    t.is(emitTcp(r, out), hl);
    const c = tcpChecksum(src, dst, out, r.payload);
    out[16] = c >> 8;
    out[17] = c & 0xff;
    t.is(toHex(out), toHex(seg.subarray(0, hl)), formatTcpFlags(r.flags));
  }
});

test('TCP: flags of real segments, payload views, segment length', (t) => {
  const data = parseTcp(l4(TCP4_DATA).seg, A4, B4) as TcpSegment;
  t.is(formatTcpFlags(data.flags), 'P.');
  t.is(new TextDecoder().decode(data.payload), 'ping');
  t.deepEqual(data.timestamp, { tsVal: 1831006634, tsEcr: 2366792754 });
  t.is(tcpSegmentLen(data.flags, data.payload.length), 4);
  const fin = TcpPacket.view(l4(TCP4_FIN).seg) as TcpPacket;
  t.true(fin.fin && fin.ack);
  t.is(fin.segmentLen, 1);
  const rst = parseTcp(l4(TCP4_RST).seg, B4, A4) as TcpSegment;
  t.is(rst.flags, TcpFlags.RST | TcpFlags.ACK);
  t.is(rst.window, 0);
  t.is(rst.ack, 297850206);
  t.is(tcpSegmentLen(TcpFlags.SYN | TcpFlags.FIN, 10), 12);
  const v6 = parseTcp(l4(TCP6_SYN).seg, A6, B6) as TcpSegment;
  t.is(v6.mss, 1440);
  t.is(parseTcp(l4(TCP6_SYN).seg, A6, A6), 'bad-checksum');
});

const edgeCases: TcpRepr[] = [
  { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0 },
  { srcPort: 0xffff, dstPort: 0xffff, seq: 0xffffffff, ack: 0xffffffff, flags: 0x1ff, window: 0xffff, urgent: 0xffff },
  { srcPort: 1, dstPort: 65534, seq: 0x80000000, ack: 0x7fffffff, flags: TcpFlags.NS | TcpFlags.CWR | TcpFlags.ECE, window: 1 },
  { srcPort: 443, dstPort: 50000, seq: 1, ack: 2, flags: TcpFlags.SYN, window: 65535, mss: 0xffff, windowScale: 14, sackPermitted: true },
  { srcPort: 443, dstPort: 50000, seq: 1, ack: 2, flags: TcpFlags.SYN, window: 65535, mss: 0, windowScale: 0, sackPermitted: true, timestamp: { tsVal: 0xffffffff, tsEcr: 0 } },
  { srcPort: 443, dstPort: 50000, seq: 1, ack: 2, flags: TcpFlags.ACK, window: 3, sackPermitted: true },
  {
    srcPort: 2,
    dstPort: 3,
    seq: 0xfffffff0,
    ack: 5,
    flags: TcpFlags.ACK,
    window: 100,
    timestamp: { tsVal: 1, tsEcr: 0xffffffff },
    sackBlocks: [
      { left: 0xfffffff0, right: 0x10 },
      { left: 0, right: 0xffffffff },
      { left: 7, right: 8 },
    ],
  },
  {
    srcPort: 2,
    dstPort: 3,
    seq: 0,
    ack: 0,
    flags: TcpFlags.ACK,
    window: 100,
    sackBlocks: [
      { left: 1, right: 2 },
      { left: 3, right: 4 },
      { left: 5, right: 6 },
      { left: 7, right: 8 },
    ],
  },
  // TCP Fast Open cookie (RFC 7413), an unknown option kept raw
  { srcPort: 2, dstPort: 3, seq: 9, ack: 0, flags: TcpFlags.SYN, window: 100, mss: 1400, unknownOptions: [{ kind: TcpOptionKind.FAST_OPEN, data: hex('0102030405060708') }] },
];

test('TCP: edge values and every option combination round-trip through emit/parse', (t) => {
  for (const r of edgeCases) {
    const payload = hex('deadbeef01');
    const hl = tcpHeaderLen(r);
    t.is(hl % 4, 0);
    const seg = new Uint8Array(hl + payload.length);
    emitTcp(r, seg);
    seg.set(payload, hl);
    (TcpPacket.view(seg) as TcpPacket).fillChecksum(A6, B6);
    const back = parseTcp(seg, A6, B6);
    if (isWireError(back)) return t.fail(back);
    t.deepEqual(
      { ...back, payload: toHex(back.payload), unknownOptions: back.unknownOptions?.map((o) => [o.kind, toHex(o.data)]) ?? null },
      {
        urgent: 0,
        mss: null,
        windowScale: null,
        sackPermitted: false,
        sackBlocks: null,
        timestamp: null,
        ...r,
        unknownOptions: r.unknownOptions?.map((o) => [o.kind, toHex(o.data)]) ?? null,
        payload: 'deadbeef01',
      },
    );
  }
});

test('TCP: option space is limited to 40 bytes (throws: a programmer error)', (t) => {
  t.throws(
    () =>
      emitTcp(
        {
          srcPort: 1,
          dstPort: 2,
          seq: 0,
          ack: 0,
          flags: TcpFlags.ACK,
          window: 0,
          timestamp: { tsVal: 1, tsEcr: 2 },
          sackBlocks: [
            { left: 1, right: 2 },
            { left: 3, right: 4 },
            { left: 5, right: 6 },
            { left: 7, right: 8 },
          ],
        },
        new Uint8Array(100),
      ),
    { instanceOf: RangeError },
  );
});

function withOptions(opts: string): Uint8Array {
  const o = hex(opts);
  const hl = 20 + o.length;
  const seg = new Uint8Array(hl);
  seg[12] = (hl / 4) << 4;
  seg.set(o, 20);
  return seg;
}

test('TCP option parsing: malformed lengths, lenient known kinds, EOL, padding', (t) => {
  const nv = { verifyChecksum: false };
  t.is(parseTcp(withOptions('02000000'), A4, B4, nv), 'bad-option'); // length 0
  t.is(parseTcp(withOptions('02010000'), A4, B4, nv), 'bad-option'); // length 1
  t.is(parseTcp(withOptions('0208000000000000'.slice(0, 8)), A4, B4, nv), 'bad-option'); // overruns
  t.is(parseTcp(withOptions('01010102'), A4, B4, nv), 'bad-option'); // kind without its length byte
  // MSS with length 3 is not an MSS: kept raw, the segment still parses
  const odd = parseTcp(withOptions('0203050101010101'), A4, B4, nv) as TcpSegment;
  t.is(odd.mss, null);
  t.deepEqual(odd.unknownOptions!.map((o) => [o.kind, toHex(o.data)]), [[2, '05']]);
  // SACK with a length that is not 2 + 8n
  const sack = parseTcp(withOptions('0505010203010101'), A4, B4, nv) as TcpSegment;
  t.is(sack.sackBlocks, null);
  t.is(sack.unknownOptions!.length, 1);
  // options after EOL are ignored
  const eol = parseTcp(withOptions('00020405b4000000'), A4, B4, nv) as TcpSegment;
  t.is(eol.mss, null);
  // RFC 7323 §2.3: a shift above 14 is reported as sent (the TCP layer clamps it)
  const ws = parseTcp(withOptions('01030310'), A4, B4, nv) as TcpSegment;
  t.is(ws.windowScale, 16);
});

test('TCP view errors: short, data offset < 5, data offset past the end', (t) => {
  t.is(TcpPacket.view(new Uint8Array(19)), 'truncated');
  const s = new Uint8Array(20);
  s[12] = 0x40;
  t.is(TcpPacket.view(s), 'bad-header-length');
  s[12] = 0x60;
  t.is(TcpPacket.view(s), 'truncated');
});

test('TCP: parseTcpInto reuses one object; setters; partial checksum', (t) => {
  const out = newTcpSegment();
  const a = parseTcpInto(out, l4(TCP4_SYN).seg, A4, B4);
  t.is(a, out);
  const ts = out.timestamp;
  parseTcpInto(out, l4(TCP4_ACK).seg, A4, B4);
  t.is(out.timestamp, ts); // same object, new values
  t.deepEqual(out.timestamp, { tsVal: 1831006634, tsEcr: 2366792754 });
  t.is(out.mss, null); // cleared from the previous segment
  parseTcpInto(out, l4(TCP4_RST).seg, B4, A4);
  t.is(out.timestamp, null);
  const seg = l4(TCP4_DATA).seg.slice();
  const p = TcpPacket.view(seg) as TcpPacket;
  p.setFlags(TcpFlags.NS | TcpFlags.FIN | TcpFlags.ACK);
  t.true(p.ns && p.fin && p.ack && !p.psh);
  t.is(p.headerLen, 32);
  p.setSeqNumber(0xffffffff);
  p.setAckNumber(0);
  p.setWindow(0xffff);
  p.setSrcPort(0);
  p.setDstPort(0xffff);
  // CHECKSUM_PARTIAL, finished as a NIC would
  p.setChecksum(partialChecksum(A4, B4, IpProto.TCP, seg.length));
  finishPartialChecksum(seg, 0, 16);
  const r = parseTcp(seg, A4, B4);
  if (isWireError(r)) return t.fail(r);
  t.like(r, { seq: 0xffffffff, ack: 0, window: 0xffff, srcPort: 0, dstPort: 0xffff });
});
