import test from 'ava';
import { pair, ip, pattern } from './topo.js';
import { parseIpv4Header, isIpv4Reject, writeIpv4Header, setIpv4Checksum } from '../../src/netstack/ipv4.js';
import { walkExtensions, writeIpv6Header, parseIpv6Header, solicitedNode, commonPrefixLen } from '../../src/netstack/ipv6.js';
import { segmentTcp } from '../../src/netstack/gso.js';
import type { Nic } from '../../src/netstack/nic.js';
import { isNetError } from '../../src/netstack/errors.js';

test('IPv4 header: golden bytes of an emitted header, and the checks of RFC 1122 §3.2.1', (t) => {
  // The worked example of the IPv4 header checksum (checksum 0xb861).
  const b = new Uint8Array(0x73);
  writeIpv4Header(b, 0, { tos: 0, totalLen: 0x73, id: 0, df: true, mf: false, fragOffset: 0, ttl: 64, protocol: 17, src: ip('192.168.0.1'), dst: ip('192.168.0.199') });
  t.is(Buffer.from(b.subarray(0, 20)).toString('hex'), '45000073000040004011b861c0a80001c0a800c7');
  const h = parseIpv4Header(b);
  if (isIpv4Reject(h)) return t.fail(h.drop);
  t.is(h.id, 0);
  t.true(h.df);
  t.is(h.src.key, '192.168.0.1');
  const bad = b.slice();
  bad[10] ^= 1;
  t.deepEqual(parseIpv4Header(bad), { drop: 'bad-checksum' });
  const ihl = b.slice();
  ihl[0] = 0x44;
  t.deepEqual(parseIpv4Header(ihl), { drop: 'bad-header-length' });
  const tl = b.slice();
  tl[2] = 1; // 0x173 bytes announced, 0x73 present
  setIpv4Checksum(tl, 0, 20);
  t.deepEqual(parseIpv4Header(tl), { drop: 'bad-total-length' });
  // Options: a length byte running past the header earns a pointer.
  const o = new Uint8Array(24);
  writeIpv4Header(o, 0, { tos: 0, totalLen: 24, id: 1, df: false, mf: false, fragOffset: 0, ttl: 1, protocol: 17, src: ip('10.0.0.1'), dst: ip('10.0.0.2') });
  o[0] = 0x46;
  o[20] = 7; // record route
  o[21] = 9;
  setIpv4Checksum(o, 0, 24);
  t.deepEqual(parseIpv4Header(o), { drop: 'bad-options', pointer: 21 });
  o[20] = 131; // LSRR
  o[21] = 3;
  setIpv4Checksum(o, 0, 24);
  t.deepEqual(parseIpv4Header(o), { drop: 'source-route' });
});

test('a bad IPv4 option is answered with parameter problem pointing at it', (t) => {
  const { clock, a, na, nb } = pair();
  const f = new Uint8Array(14 + 24 + 8);
  f.set(nb.mac, 0);
  f.set(na.mac, 6);
  f[12] = 8;
  writeIpv4Header(f, 14, { tos: 0, totalLen: 32, id: 1, df: false, mf: false, fragOffset: 0, ttl: 64, protocol: 17, src: ip('10.0.0.1'), dst: ip('10.0.0.2') });
  f[14] = 0x46;
  f[34] = 68; // timestamp option with a bad length
  f[35] = 1;
  setIpv4Checksum(f, 14, 24);
  const e = a.udp.endpoint(4);
  e.recvErr = true;
  nb.deliverFrames([{ data: f }]);
  clock.advance(1);
  t.is(a.stats.get('icmp4.in.type-12'), 1);
});

/** A raw IPv6 frame from A to B with the given extension bytes then `upper` bytes. */
function v6Frame(na: Nic, nb: Nic, firstNh: number, ext: Uint8Array, dst = 'fd00::2'): Uint8Array {
  const f = new Uint8Array(14 + 40 + ext.length);
  f.set(nb.mac, 0);
  f.set(na.mac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  writeIpv6Header(f, 14, { trafficClass: 0, flowLabel: 0, payloadLen: ext.length, nextHeader: firstNh, hopLimit: 64, src: ip('fd00::1'), dst: ip(dst) });
  f.set(ext, 54);
  return f;
}

test('IPv6 extension headers: option actions, routing type 0, misplaced hop-by-hop (RFC 8200 §4)', (t) => {
  const { clock, a, b, na, nb } = pair();
  // Destination options with an unknown option of action 10 (discard + ICMP code 2).
  const dst10 = Uint8Array.of(59, 0, 0x80, 2, 0, 0, 1, 0);
  // Action 01: discard silently.
  const dst01 = Uint8Array.of(59, 0, 0x40, 2, 0, 0, 1, 0);
  // Action 00: skip, then no next header.
  const dst00 = Uint8Array.of(59, 0, 0x1e, 2, 0, 0, 1, 0);
  // Routing header type 0 with segments left 1 (RFC 5095): param problem code 0 at the type.
  const rh0 = new Uint8Array(24);
  rh0[0] = 59;
  rh0[1] = 2;
  rh0[2] = 0;
  rh0[3] = 1;
  // Hop-by-hop after a destination options header: code 1 at the Next Header naming it.
  const hbhLate = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0, 59, 0, 1, 4, 0, 0, 0, 0);
  nb.deliverFrames([
    { data: v6Frame(na, nb, 60, dst10) },
    { data: v6Frame(na, nb, 60, dst01) },
    { data: v6Frame(na, nb, 60, dst00) },
    { data: v6Frame(na, nb, 43, rh0) },
    { data: v6Frame(na, nb, 60, hbhLate) },
  ]);
  clock.advance(1);
  t.is(b.stats.get('ipv6.dropped.unknown-option'), 2);
  t.is(b.stats.get('ipv6.no-next-header'), 1);
  t.is(b.stats.get('ipv6.dropped.routing-header'), 1);
  t.is(b.stats.get('ipv6.dropped.misplaced-hop-by-hop'), 1);
  t.is(a.stats.get('icmp6.in.type-4'), 3, 'three parameter problems');
  // The pointer of the routing one is the routing type byte: 40 + 2.
  const w = walkExtensions(v6Frame(na, nb, 43, rh0).subarray(14), 43, 40, 6, 64, false);
  t.deepEqual(w, { kind: 'param-problem', code: 0, pointer: 42, reason: 'routing-header', evenIfMulticast: false });
  // An unknown option of action 11 to a multicast destination: no ICMP.
  const dst11 = Uint8Array.of(59, 0, 0xc0, 2, 0, 0, 1, 0);
  nb.deliverFrames([{ data: v6Frame(na, nb, 60, dst11, 'ff02::1') }]);
  clock.advance(1);
  t.is(a.stats.get('icmp6.in.type-4'), 3);
});

test('IPv6 helpers: header parse, solicited-node address, common prefix', (t) => {
  const b = new Uint8Array(48);
  writeIpv6Header(b, 0, { trafficClass: 0xab, flowLabel: 0x12345, payloadLen: 8, nextHeader: 17, hopLimit: 255, src: ip('fe80::1'), dst: ip('ff02::1') });
  const h = parseIpv6Header(b);
  if (typeof h === 'string') return t.fail(h);
  t.is(h.trafficClass, 0xab);
  t.is(h.flowLabel, 0x12345);
  t.is(h.end, 48);
  t.is(parseIpv6Header(b.subarray(0, 47)), 'bad-payload-length');
  t.is(solicitedNode(ip('2001:db8::12:3456')).key, 'ff02::1:ff12:3456');
  t.is(commonPrefixLen(ip('2001:db8::1'), ip('2001:db8::2')), 126);
  t.is(commonPrefixLen(ip('fd00::1'), ip('fd00::1')), 128);
});

test('segmentTcp: headers copied per segment, sequence advanced, views of the payload', (t) => {
  const h = new Uint8Array(32);
  h[12] = 0x80;
  h[4] = 0xff;
  h[5] = 0xff;
  h[6] = 0xff;
  h[7] = 0xf0; // wraps past 2^32
  h[13] = 0x19; // FIN PSH ACK
  const p = pattern(2500);
  const segs = segmentTcp(h, p, 1000);
  t.is(segs.length, 3);
  t.deepEqual(segs.map((s) => s.payload.length), [1000, 1000, 500]);
  t.deepEqual(
    segs.map((s) => ((s.header[4] << 24) | (s.header[5] << 16) | (s.header[6] << 8) | s.header[7]) >>> 0),
    [0xfffffff0, (0xfffffff0 + 1000) >>> 0, (0xfffffff0 + 2000) >>> 0],
  );
  t.deepEqual(segs.map((s) => s.header[13]), [0x10, 0x10, 0x19]);
  t.is(segs[1].payload.buffer, p.buffer, 'payload is not copied');
  t.is(segmentTcp(h, new Uint8Array(0), 1000).length, 1);
});

test('source address selection: same scope, longest prefix; routes per NIC', (t) => {
  const { a, na } = pair();
  na.addAddress('2001:db8:1::1/64');
  na.addAddress('fe80::1/64');
  const pick = (d: string) => {
    const r = a.route(ip(d));
    return isNetError(r) ? r : r.src.key;
  };
  t.is(pick('2001:db8:1::99'), '2001:db8:1::1');
  t.is(pick('fd00::2'), 'fd00::1');
  t.is(pick('fe80::2'), 'fe80::1');
  t.is(pick('10.0.0.2'), '10.0.0.1');
  t.is(pick('10.0.0.1'), '10.0.0.1', 'our own address goes through loopback');
  t.is(a.route(ip('10.0.0.1')).valueOf() && (a.route(ip('10.0.0.1')) as { nicId: number }).nicId, a.loopbackNic!.nicId);
  t.is(pick('192.0.2.1'), 'ENETUNREACH');
  t.is(a.route(ip('10.0.0.2'), ip('10.9.9.9')), 'EADDRNOTAVAIL');
  t.true(na.removeAddress(ip('2001:db8:1::1')));
  t.is(pick('2001:db8:1::99'), 'ENETUNREACH', 'the connected route went with the address');
});

test('IPv4 martians: our own address or loopback as a source from outside is dropped', (t) => {
  const { clock, b, na, nb } = pair();
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  const frame = (src: string, dst: string) => {
    const f = new Uint8Array(14 + 28);
    f.set(nb.mac, 0);
    f.set(na.mac, 6);
    f[12] = 8;
    writeIpv4Header(f, 14, { tos: 0, totalLen: 28, id: 1, df: false, mf: false, fragOffset: 0, ttl: 64, protocol: 17, src: ip(src), dst: ip(dst) });
    f[35] = 1;
    f[37] = 7;
    f[39] = 8;
    return { data: f };
  };
  nb.deliverFrames([frame('10.0.0.2', '10.0.0.2'), frame('127.0.0.1', '10.0.0.2'), frame('224.0.0.9', '10.0.0.2'), frame('10.0.0.1', '10.0.0.2')]);
  clock.advance(1);
  t.is(b.stats.get('ipv4.dropped.martian-local-source'), 1);
  t.is(b.stats.get('ipv4.dropped.martian-loopback'), 1);
  t.is(b.stats.get('ipv4.dropped.martian-source'), 1);
  t.not(srv.recv(), 'EAGAIN', 'the honest one passes');
  t.is(srv.recv(), 'EAGAIN');
});
