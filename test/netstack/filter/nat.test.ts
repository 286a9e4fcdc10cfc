// NAT through conntrack: DNAT, SNAT, MASQUERADE, REDIRECT on TCP, UDP, ICMP echo and ICMP errors,
// v4 and v6. Every rewritten datagram is re-parsed and every checksum recomputed in full; where
// possible the rewritten bytes are compared with a datagram built from scratch with the
// translated addresses, which proves incremental (RFC 1624) == full recomputation.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { FilterEngine, type Verdict } from '../../../src/netstack/filter/engine.js';
import { natRewrite } from '../../../src/netstack/filter/nat.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { IpProto } from '../../../src/netstack/wire/ip-proto.js';
import type { HookPoint } from '../../../src/netstack/filter/packet.js';
import { F, checksumProblems, echo, flow, icmpError, input, ip, tcp, udp } from './packets.js';

function router(nat: string, nicAddr = '203.0.113.1') {
  const e = new FilterEngine({
    clock: new VirtualClock(0),
    nicAddress: (_nic, family) => (family === 4 ? ip(nicAddr) : ip('2001:db8::1')),
  });
  e.load(parseIptablesSave(`*nat\n${nat}\nCOMMIT\n`));
  const path = (hooks: HookPoint[]) => (d: Uint8Array): Verdict => {
    for (const h of hooks) {
      const v = e.run(h, input(d, { inIface: 'lan0', outIface: 'wan0' }));
      if (v !== 'accept') return v;
    }
    return 'accept';
  };
  return {
    e,
    fwd: path(['PREROUTING', 'FORWARD', 'POSTROUTING']),
    send: path(['OUTPUT', 'POSTROUTING']),
    recv: path(['PREROUTING', 'INPUT']),
  };
}

test('DNAT v4 TCP: the request is rewritten to the inside server, the reply back to the public address; bytes equal a datagram built with the translated tuple', (t) => {
  const { e, fwd } = router('-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080');
  const syn = tcp('198.51.100.7', 5555, '203.0.113.1', 80, F.SYN, { seq: 7 });
  t.is(fwd(syn), 'accept');
  t.deepEqual(syn, tcp('198.51.100.7', 5555, '10.0.0.2', 8080, F.SYN, { seq: 7 }));
  t.deepEqual(checksumProblems(syn), []);
  const synack = tcp('10.0.0.2', 8080, '198.51.100.7', 5555, F.SYN | F.ACK, { seq: 99, ack: 8 });
  t.is(fwd(synack), 'accept');
  t.deepEqual(synack, tcp('203.0.113.1', 80, '198.51.100.7', 5555, F.SYN | F.ACK, { seq: 99, ack: 8 }));
  const ack = tcp('198.51.100.7', 5555, '203.0.113.1', 80, F.ACK, { seq: 8, ack: 100, payload: new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n') });
  t.is(fwd(ack), 'accept');
  t.is(flow(ack), '198.51.100.7:5555 > 10.0.0.2:8080');
  t.deepEqual(checksumProblems(ack), []);
  t.is(e.tables.nat.chain('PREROUTING').rules[0].counters.packets, 1, 'the nat table saw only the first packet');
  // Another client is translated independently.
  const other = tcp('198.51.100.8', 5555, '203.0.113.1', 80, F.SYN);
  fwd(other);
  t.is(flow(other), '198.51.100.8:5555 > 10.0.0.2:8080');
});

test('SNAT v6 UDP to a port range: clashing flows get different ports, replies find their way back', (t) => {
  const { fwd } = router('-A POSTROUTING -s fd00::/64 -p udp -j SNAT --to-source [2001:db8::1]:1024-1030');
  const a = udp('fd00::2', 5000, '2001:db8::99', 53);
  const b = udp('fd00::3', 5000, '2001:db8::99', 53);
  t.is(fwd(a), 'accept');
  t.is(fwd(b), 'accept');
  t.is(flow(a), '[2001:db8::1]:1024 > [2001:db8::99]:53', 'port 5000 is outside the range: the first free one');
  t.is(flow(b), '[2001:db8::1]:1025 > [2001:db8::99]:53');
  t.deepEqual(a, udp('2001:db8::1', 1024, '2001:db8::99', 53));
  const rb = udp('2001:db8::99', 53, '2001:db8::1', 1025);
  t.is(fwd(rb), 'accept');
  t.deepEqual(rb, udp('2001:db8::99', 53, 'fd00::3', 5000));
  const ra = udp('2001:db8::99', 53, '2001:db8::1', 1024);
  fwd(ra);
  t.is(flow(ra), '[2001:db8::99]:53 > [fd00::2]:5000');
});

test('SNAT with no free port drops the first packet (counted) and leaves no entry', (t) => {
  const { e, fwd } = router('-A POSTROUTING -p udp -j SNAT --to-source 203.0.113.1:2000');
  t.is(fwd(udp('10.0.0.2', 1, '8.8.8.8', 53)), 'accept');
  const v = fwd(udp('10.0.0.3', 1, '8.8.8.8', 53));
  t.deepEqual(v, { drop: 'nat', rule: null });
  t.is(e.conntrack!.counters.get('nat-no-port'), 1);
  t.is(e.conntrack!.size, 1);
});

test('MASQUERADE keeps the source port when free and picks another on a clash', (t) => {
  const { fwd } = router('-A POSTROUTING -o wan+ -j MASQUERADE');
  const a = tcp('10.0.0.2', 40000, '93.184.216.34', 443, F.SYN);
  const b = tcp('10.0.0.3', 40000, '93.184.216.34', 443, F.SYN);
  fwd(a);
  fwd(b);
  t.deepEqual(a, tcp('203.0.113.1', 40000, '93.184.216.34', 443, F.SYN));
  t.is(flow(b), '203.0.113.1:1024 > 93.184.216.34:443');
  t.deepEqual(checksumProblems(b), []);
  const reply = tcp('93.184.216.34', 443, '203.0.113.1', 1024, F.SYN | F.ACK);
  fwd(reply);
  t.deepEqual(reply, tcp('93.184.216.34', 443, '10.0.0.3', 40000, F.SYN | F.ACK));
});

test('MASQUERADE without an interface address drops', (t) => {
  const e = new FilterEngine({ clock: new VirtualClock(0) });
  e.load(parseIptablesSave('*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n'));
  t.not(e.run('POSTROUTING', input(udp('10.0.0.2', 1, '8.8.8.8', 53))), 'accept');
  t.is(e.counters.get('nat-no-address'), 1);
});

test('REDIRECT at OUTPUT goes to loopback; the answer comes back from the original destination', (t) => {
  const { send, recv } = router('-A OUTPUT -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3128');
  const syn = tcp('10.0.0.1', 40000, '93.184.216.34', 80, F.SYN);
  t.is(send(syn), 'accept');
  t.deepEqual(syn, tcp('10.0.0.1', 40000, '127.0.0.1', 3128, F.SYN));
  const synack = tcp('127.0.0.1', 3128, '10.0.0.1', 40000, F.SYN | F.ACK);
  t.is(recv(synack), 'accept');
  t.deepEqual(synack, tcp('93.184.216.34', 80, '10.0.0.1', 40000, F.SYN | F.ACK));
});

test('REDIRECT at PREROUTING goes to the incoming interface address (v6)', (t) => {
  const { recv } = router('-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080');
  const syn = tcp('2001:db8::7', 1234, '2001:db8::50', 80, F.SYN);
  t.is(recv(syn), 'accept');
  t.deepEqual(syn, tcp('2001:db8::7', 1234, '2001:db8::1', 8080, F.SYN));
});

test('a zero IPv4 UDP checksum (none) stays zero through SNAT; a non-zero one is maintained', (t) => {
  const { fwd } = router('-A POSTROUTING -j SNAT --to-source 203.0.113.9');
  const d = udp('10.0.0.2', 7, '8.8.8.8', 53);
  d[20 + 6] = 0;
  d[20 + 7] = 0;
  fwd(d);
  t.is(flow(d), '203.0.113.9:7 > 8.8.8.8:53');
  t.is((d[26] << 8) | d[27], 0);
  t.deepEqual(checksumProblems(d), []);
  const d2 = udp('10.0.0.2', 8, '8.8.8.8', 53);
  fwd(d2);
  t.deepEqual(d2, udp('203.0.113.9', 8, '8.8.8.8', 53));
});

test('ICMP echo through SNAT (v4 and v6): the identifier is kept, the reply is translated back', (t) => {
  const { fwd } = router('-A POSTROUTING -j MASQUERADE');
  const req = echo('10.0.0.2', '1.1.1.1', 0x4242);
  fwd(req);
  t.deepEqual(req, echo('203.0.113.1', '1.1.1.1', 0x4242));
  const rep = echo('1.1.1.1', '203.0.113.1', 0x4242, true);
  t.is(fwd(rep), 'accept');
  t.deepEqual(rep, echo('1.1.1.1', '10.0.0.2', 0x4242, true));
  const req6 = echo('fd00::2', '2001:db8::99', 9);
  fwd(req6);
  t.deepEqual(req6, echo('2001:db8::1', '2001:db8::99', 9));
  t.deepEqual(checksumProblems(req6), []);
});

test('ICMP errors are translated with their quote: outer and inner addresses and ports, inner and outer checksums (v4)', (t) => {
  const { fwd } = router('-A POSTROUTING -p udp -j SNAT --to-source 203.0.113.1:6000');
  const inside = udp('10.0.0.2', 5000, '8.8.8.8', 53);
  const wire = inside.slice();
  fwd(wire);
  t.is(flow(wire), '203.0.113.1:6000 > 8.8.8.8:53');
  const err = icmpError('8.8.8.8', '203.0.113.1', wire);
  t.is(fwd(err), 'accept');
  t.deepEqual(checksumProblems(err), []);
  t.deepEqual(err, icmpError('8.8.8.8', '10.0.0.2', inside), 'the guest sees an error quoting exactly what it sent');
});

test('ICMPv6 errors through DNAT (pseudo-header checksums of outer and quoted packets)', (t) => {
  const { fwd } = router('-A PREROUTING -d 2001:db8::1/128 -p tcp --dport 443 -j DNAT --to-destination [fd00::2]:8443');
  const syn = tcp('2001:db8::77', 4000, '2001:db8::1', 443, F.SYN);
  fwd(syn);
  t.is(flow(syn), '[2001:db8::77]:4000 > [fd00::2]:8443');
  // The server's SYN/ACK toward the client is answered by an ICMPv6 error from a router near the client.
  const synack = tcp('fd00::2', 8443, '2001:db8::77', 4000, F.SYN | F.ACK);
  const onWire = synack.slice();
  fwd(onWire);
  t.is(flow(onWire), '[2001:db8::1]:443 > [2001:db8::77]:4000');
  const err = icmpError('2001:db8::fe', '2001:db8::1', onWire, 1, 3);
  t.is(fwd(err), 'accept');
  t.deepEqual(checksumProblems(err), []);
  t.deepEqual(err, icmpError('2001:db8::fe', 'fd00::2', synack, 1, 3));
});

test('natRewrite on its own: TCP v4 address and port, checked against a fresh build', (t) => {
  const d = tcp('10.0.0.2', 1000, '10.0.0.3', 2000, F.ACK | F.PSH, { seq: 0xfffffff0, ack: 5, payload: Uint8Array.of(0xff, 0xff, 0, 1, 2) });
  t.true(natRewrite(d, 4, 20, IpProto.TCP, false, 'src', ip('192.0.2.200'), 65535));
  t.deepEqual(d, tcp('192.0.2.200', 65535, '10.0.0.3', 2000, F.ACK | F.PSH, { seq: 0xfffffff0, ack: 5, payload: Uint8Array.of(0xff, 0xff, 0, 1, 2) }));
  t.false(natRewrite(d, 4, 20, IpProto.TCP, false, 'src', ip('fd00::1'), 1), 'family mismatch refused');
});
