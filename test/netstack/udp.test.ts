import test from 'ava';
import { pair, routed, ip, pattern } from './topo.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import type { UdpEndpoint } from '../../src/netstack/udp.js';
import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack as StackClass } from '../../src/netstack/stack.js';
import { StaticNeighbors } from '../../src/netstack/nic.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { writeIpv4Header } from '../../src/netstack/ipv4.js';
import { writeIpv6Header } from '../../src/netstack/ipv6.js';
import type { Stack } from '../../src/netstack/stack.js';

/** A UDP echo server: every datagram goes back to its sender. */
function echoServer(s: Stack, family: 4 | 6, port: number): UdpEndpoint {
  const ep = s.udp.endpoint(family);
  if (ep.bind(null, port) !== undefined) throw new Error('bind failed');
  ep.onReadable = () => {
    for (let d = ep.recv(); typeof d !== 'string'; d = ep.recv()) ep.send(d.data, { addr: d.from, port: d.port });
  };
  return ep;
}

for (const family of [4, 6] as const) {
  const A = family === 4 ? '10.0.0.1' : 'fd00::1';
  const B = family === 4 ? '10.0.0.2' : 'fd00::2';

  test(`UDP echo v${family}: datagram, source address and port round trip`, (t) => {
    const { clock, a, b } = pair();
    echoServer(b, family, 7);
    const c = a.udp.endpoint(family);
    const msg = pattern(1000);
    t.is(c.send(msg, { addr: ip(B), port: 7 }), 1000);
    const local = c.localAddress();
    t.true(local.port >= 32768 && local.port <= 60999, 'ephemeral port from the Linux range');
    clock.advance(1);
    const d = c.recv();
    if (typeof d === 'string') return t.fail('no echo');
    t.deepEqual(d.data, msg);
    t.is(d.from.key, B);
    t.is(d.port, 7);
    t.is(d.dst.key, A);
    t.true(d.receivedAt > 0 && d.receivedAt <= clock.now(), 'arrival time from the stack clock');
  });

  test(`UDP echo v${family} through a router`, (t) => {
    const { clock, a, b } = routed();
    echoServer(b, family, 7);
    const c = a.udp.endpoint(family);
    const dst = family === 4 ? '10.0.2.1' : 'fd02::1';
    t.is(c.connect(ip(dst), 7), undefined);
    t.is(c.send(pattern(300)), 300);
    clock.advance(1);
    const d = c.recv();
    if (typeof d === 'string') return t.fail('no echo');
    t.deepEqual(d.data, pattern(300));
    t.is(d.ttl, 63);
  });

  test(`ICMP port unreachable reaches a connected UDP v${family} socket as ECONNREFUSED`, (t) => {
    const { clock, a, b } = pair();
    const c = a.udp.endpoint(family);
    let errors = 0;
    c.onError = () => errors++;
    t.is(c.connect(ip(B), 9999), undefined);
    t.is(c.send(pattern(10)), 10);
    clock.advance(1);
    t.is(b.stats.get(`icmp${family}.out.type-${family === 4 ? 3 : 1}`), 1, 'B answered with port unreachable');
    t.is(errors, 1);
    t.is(c.send(pattern(10)), 'ECONNREFUSED', 'the next send reports it (Linux)');
    t.is(c.send(pattern(10)), 10, 'and it is reported once');
  });

  test(`an unconnected UDP v${family} socket does not see port unreachable without RECVERR`, (t) => {
    const { clock, a } = pair();
    const c = a.udp.endpoint(family);
    c.send(pattern(10), { addr: ip(B), port: 9999 });
    clock.advance(1);
    t.is(c.takeError(), null);
    c.recvErr = true;
    c.send(pattern(10), { addr: ip(B), port: 9999 });
    clock.advance(2000); // past the per-destination ICMP rate limit
    c.send(pattern(10), { addr: ip(B), port: 9999 });
    clock.advance(1);
    const e = c.readErrorQueue();
    t.truthy(e);
    t.is(e?.kind, 'port-unreachable');
    t.is(e?.from.key, B);
  });
}

test('TTL expiry at the router: ICMP time exceeded reaches the sender socket (v4 and v6)', (t) => {
  const { clock, a, r } = routed();
  for (const [family, dst, router] of [
    [4, '10.0.2.1', '10.0.1.254'],
    [6, 'fd02::1', 'fd01::fe'],
  ] as const) {
    const c = a.udp.endpoint(family);
    c.recvErr = true;
    c.ttl = 1;
    t.is(c.connect(ip(dst), 33434), undefined);
    t.is(c.send(pattern(20)), 20);
    clock.advance(1);
    const e = c.readErrorQueue();
    if (!e) return t.fail(`no error for v${family}`);
    t.is(e.kind, 'time-exceeded');
    t.is(e.from.key, router);
    t.is(e.dst.key, dst);
    t.is(e.code, 'EHOSTUNREACH');
    t.is(c.takeError(), 'EHOSTUNREACH', 'RECVERR also sets SO_ERROR');
  }
  t.is(r.stats.get('ipv4.dropped.ttl-exceeded'), 1);
  t.is(r.stats.get('ipv6.dropped.hop-limit-exceeded'), 1);
});

test('ping with TTL 1 gets time exceeded on its error queue', (t) => {
  const { clock, a } = routed();
  const e = a.echo4.endpoint();
  e.ttl = 1;
  e.recvErr = true;
  const m = new Uint8Array(16);
  m[0] = 8;
  e.send(m, ip('10.0.2.1'));
  clock.advance(1);
  t.is(e.readErrorQueue()?.kind, 'time-exceeded');
});

test('bind rules: EADDRINUSE, SO_REUSEADDR, SO_REUSEPORT, specific vs wildcard', (t) => {
  const { a } = pair();
  const e1 = a.udp.endpoint(4);
  const e2 = a.udp.endpoint(4);
  t.is(e1.bind(null, 5000), undefined);
  t.is(e2.bind(null, 5000), 'EADDRINUSE');
  t.is(e2.bind(ip('10.0.0.1'), 5000), 'EADDRINUSE', 'a specific address overlaps the wildcard');
  t.is(e2.bind(ip('10.9.9.9'), 5001), 'EADDRNOTAVAIL');
  t.is(e2.bind(ip('fd00::1'), 5001), 'EAFNOSUPPORT');
  const r1 = a.udp.endpoint(4);
  const r2 = a.udp.endpoint(4);
  r1.reuseAddr = true;
  r2.reuseAddr = true;
  t.is(r1.bind(null, 6000), undefined);
  t.is(r2.bind(null, 6000), undefined);
  const p1 = a.udp.endpoint(4);
  const p2 = a.udp.endpoint(4);
  const p3 = a.udp.endpoint(4);
  p1.reusePort = p2.reusePort = true;
  t.is(p1.bind(null, 7000), undefined);
  t.is(p2.bind(null, 7000), undefined);
  t.is(p3.bind(null, 7000), 'EADDRINUSE', 'without the option the port is taken');
  const s1 = a.udp.endpoint(4);
  const s2 = a.udp.endpoint(4);
  t.is(s1.bind(ip('10.0.0.1'), 8000), undefined);
  t.is(s2.bind(ip('127.0.0.1'), 8000), undefined, 'different specific addresses coexist');
  t.is(s1.bind(null, 8001), 'EINVAL', 'already bound');
});

test('dual stack: an IPv6 wildcard socket receives IPv4 as v4-mapped; v6only refuses it and frees the v4 port', (t) => {
  const { clock, a, b } = pair();
  const srv = b.udp.endpoint(6);
  t.is(srv.bind(null, 53), undefined);
  const v4 = b.udp.endpoint(4);
  t.is(v4.bind(null, 53), 'EADDRINUSE', 'dual-stack :: covers 0.0.0.0');
  const c = a.udp.endpoint(4);
  c.send(pattern(5), { addr: ip('10.0.0.2'), port: 53 });
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail('nothing received');
  t.is(d.from.key, '::ffff:10.0.0.1');
  t.is(d.dst.key, '::ffff:10.0.0.2');
  // Answer through the mapped address: goes out as IPv4.
  t.is(srv.send(pattern(3), { addr: d.from, port: d.port }), 3);
  clock.advance(1);
  const back = c.recv();
  if (typeof back === 'string') return t.fail('no answer');
  t.is(back.from.key, '10.0.0.2');

  const only = b.udp.endpoint(6);
  t.is(only.setV6Only(true), undefined);
  t.is(only.bind(null, 54), undefined);
  const v4b = b.udp.endpoint(4);
  t.is(v4b.bind(null, 54), undefined, 'v6only leaves the IPv4 port free');
  c.send(pattern(5), { addr: ip('10.0.0.2'), port: 54 });
  clock.advance(1);
  t.is(only.recv(), 'EAGAIN');
  t.not(v4b.recv(), 'EAGAIN');
  t.is(only.send(pattern(1), { addr: ip('::ffff:10.0.0.1'), port: 9 }), 'ENETUNREACH');
});

test('connected sockets only receive from their peer; more specific sockets win', (t) => {
  const { clock, a, b } = pair();
  const wild = b.udp.endpoint(4);
  t.is(wild.bind(null, 4000), undefined);
  const conn = b.udp.endpoint(4);
  conn.reuseAddr = wild.reuseAddr = true;
  // wild was bound before reuseAddr was set; rebind a fresh pair instead.
  const w2 = b.udp.endpoint(4);
  const c2 = b.udp.endpoint(4);
  w2.reuseAddr = c2.reuseAddr = true;
  t.is(w2.bind(null, 4001), undefined);
  t.is(c2.bind(null, 4001), undefined);
  const cli = a.udp.endpoint(4);
  t.is(cli.bind(null, 1111), undefined);
  t.is(c2.connect(ip('10.0.0.1'), 1111), undefined);
  const other = a.udp.endpoint(4);
  t.is(other.bind(null, 2222), undefined);
  cli.send(pattern(4), { addr: ip('10.0.0.2'), port: 4001 });
  other.send(pattern(4), { addr: ip('10.0.0.2'), port: 4001 });
  clock.advance(1);
  const got = c2.recv();
  t.not(got, 'EAGAIN');
  if (typeof got !== 'string') t.is(got.port, 1111);
  t.is(c2.recv(), 'EAGAIN');
  const w = w2.recv();
  t.not(w, 'EAGAIN');
  if (typeof w !== 'string') t.is(w.port, 2222);
});

test('SO_REUSEPORT spreads flows over the group, a flow sticks to one socket', (t) => {
  const { clock, a, b } = pair();
  const group = [0, 1, 2, 3].map(() => {
    const e = b.udp.endpoint(4);
    e.reusePort = true;
    t.is(e.bind(null, 9000), undefined);
    return e;
  });
  const clients = Array.from({ length: 16 }, () => a.udp.endpoint(4));
  for (const c of clients) for (let i = 0; i < 3; i++) c.send(pattern(4), { addr: ip('10.0.0.2'), port: 9000 });
  clock.advance(1);
  const counts = group.map((g) => {
    let n = 0;
    const ports = new Set<number>();
    for (let d = g.recv(); typeof d !== 'string'; d = g.recv()) {
      n++;
      ports.add(d.port);
    }
    return { n, ports };
  });
  t.is(counts.reduce((s, c) => s + c.n, 0), 48);
  t.true(counts.filter((c) => c.n > 0).length >= 2, 'more than one socket got flows');
  for (const c of counts) t.is(c.n, c.ports.size * 3, 'all three datagrams of a flow went to the same socket');
});

test('broadcast needs SO_BROADCAST and reaches every wildcard socket', (t) => {
  const { clock, a, b } = pair();
  const r1 = b.udp.endpoint(4);
  const r2 = b.udp.endpoint(4);
  r1.reuseAddr = r2.reuseAddr = true;
  r1.bind(null, 67);
  r2.bind(null, 67);
  const s = a.udp.endpoint(4);
  t.is(s.send(pattern(8), { addr: IpAddr.BROADCAST4, port: 67 }), 'EACCES');
  s.broadcast = true;
  t.is(s.send(pattern(8), { addr: IpAddr.BROADCAST4, port: 67 }), 8);
  t.is(s.send(pattern(8), { addr: ip('10.0.0.255'), port: 67 }), 8, 'directed broadcast');
  clock.advance(1);
  let n1 = 0;
  let n2 = 0;
  while (r1.recv() !== 'EAGAIN') n1++;
  while (r2.recv() !== 'EAGAIN') n2++;
  t.is(n1, 2);
  t.is(n2, 2);
  t.is(b.stats.get('icmp4.error-suppressed.broadcast'), 0, 'no one to refuse');
});

test('bounded receive queue: overflow is dropped and counted', (t) => {
  const { clock, a, b } = pair();
  const srv = b.udp.endpoint(4, { rcvBuf: 10_000 });
  srv.bind(null, 5353);
  const c = a.udp.endpoint(4);
  for (let i = 0; i < 20; i++) c.send(pattern(1000), { addr: ip('10.0.0.2'), port: 5353 });
  clock.advance(1);
  let n = 0;
  while (srv.recv() !== 'EAGAIN') n++;
  t.is(n, 8, 'admitted while at most 10000 bytes (1000 + 256 accounting each) were queued');
  t.is(srv.drops, 20 - n);
  t.is(b.stats.get('udp.dropped.queue-full'), 20 - n);
});

test('UDP checksum: corrupted datagrams (v4 and v6) are dropped and counted', (t) => {
  const { clock, a, b } = pair({
    wrapA: (l) => ({
      caps: l.caps,
      mac: l.mac,
      name: l.name,
      attach: (d) => l.attach(d),
      close: () => l.close(),
      writeFrames(frames) {
        // Flip one payload byte of every UDP frame (the last byte).
        for (const f of frames) {
          const ethType = (f.data[12] << 8) | f.data[13];
          const proto = ethType === 0x0800 ? f.data[14 + 9] : f.data[14 + 6];
          if (proto === 17) f.data[f.data.length - 1] ^= 0xff;
        }
        return l.writeFrames(frames);
      },
    }),
  });
  const srv = b.udp.endpoint(6);
  srv.bind(null, 1234);
  a.udp.endpoint(4).send(pattern(9), { addr: ip('10.0.0.2'), port: 1234 });
  a.udp.endpoint(6).send(pattern(9), { addr: ip('fd00::2'), port: 1234 });
  clock.advance(1);
  t.is(srv.recv(), 'EAGAIN');
  t.is(b.stats.get('udp.dropped.bad-checksum'), 2);
});

test('UDP over loopback: 127.0.0.1 and ::1, large datagrams without fragmentation', (t) => {
  const { clock, a } = pair();
  const srv = a.udp.endpoint(6);
  srv.bind(null, 8080);
  const c4 = a.udp.endpoint(4);
  const c6 = a.udp.endpoint(6);
  c4.send(pattern(60000), { addr: ip('127.0.0.1'), port: 8080 });
  c6.send(pattern(60000), { addr: ip('::1'), port: 8080 });
  clock.advance(1);
  const d1 = srv.recv();
  const d2 = srv.recv();
  if (typeof d1 === 'string' || typeof d2 === 'string') return t.fail('missing');
  t.is(d1.from.key, '::ffff:127.0.0.1');
  t.is(d2.from.key, '::1');
  t.deepEqual(d1.data, pattern(60000));
  t.is(a.stats.get('ipv4.frag.created'), 0);
  t.is(a.stats.get('ipv4.frag.created') + a.stats.get('ipv6.frag.created'), 0);
});

test('send errors: EMSGSIZE, EDESTADDRREQ, ENETUNREACH', (t) => {
  const { a } = pair();
  const c = a.udp.endpoint(4);
  t.is(c.send(new Uint8Array(65508), { addr: ip('10.0.0.2'), port: 1 }), 'EMSGSIZE');
  t.is(c.send(pattern(1)), 'EDESTADDRREQ');
  t.is(c.send(pattern(1), { addr: ip('192.0.2.1'), port: 1 }), 'ENETUNREACH');
  c.dontFragment = true;
  t.is(c.send(new Uint8Array(2000), { addr: ip('10.0.0.2'), port: 1 }), 'EMSGSIZE');
});

test('loopback: a connected UDP socket to a closed port on 127.0.0.1 / ::1 gets ECONNREFUSED from recv', (t) => {
  const { clock, a } = pair();
  for (const dst of ['127.0.0.1', '::1']) {
    const c = a.udp.endpoint(dst === '::1' ? 6 : 4);
    t.is(c.connect(ip(dst), 9), undefined);
    for (let i = 0; i < 10; i++) {
      t.is(c.send(pattern(4)), 4);
      clock.advance(1);
      t.is(c.recv(), 'ECONNREFUSED', 'every time: no rate limit towards ourselves');
      t.is(c.recv(), 'EAGAIN');
    }
  }
});

test('a zero UDP checksum means "none" over IPv4 and is dropped over IPv6 (RFC 8200 §8.1)', (t) => {
  const { clock, b, na, nb } = pair();
  const srv = b.udp.endpoint(6);
  srv.bind(null, 7);
  const frame = (family: 4 | 6) => {
    const ipLen = family === 4 ? 20 : 40;
    const f = new Uint8Array(14 + ipLen + 8 + 4);
    f.set(nb.mac, 0);
    f.set(na.mac, 6);
    f[12] = family === 4 ? 0x08 : 0x86;
    f[13] = family === 4 ? 0x00 : 0xdd;
    if (family === 4) writeIpv4Header(f, 14, { tos: 0, totalLen: 32, id: 1, df: false, mf: false, fragOffset: 0, ttl: 64, protocol: 17, src: ip('10.0.0.1'), dst: ip('10.0.0.2') });
    else writeIpv6Header(f, 14, { trafficClass: 0, flowLabel: 0, payloadLen: 12, nextHeader: 17, hopLimit: 64, src: ip('fd00::1'), dst: ip('fd00::2') });
    const u = 14 + ipLen;
    f[u + 1] = 99; // source port 99
    f[u + 3] = 7;
    f[u + 5] = 12; // length; checksum stays 0
    f.set([1, 2, 3, 4], u + 8);
    return { data: f };
  };
  nb.deliverFrames([frame(4), frame(6)]);
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail(d);
  t.is(d.from.key, '::ffff:10.0.0.1');
  t.deepEqual([...d.data], [1, 2, 3, 4]);
  t.is(srv.recv(), 'EAGAIN');
  t.is(b.stats.get('udp.dropped.zero-checksum'), 1);
});

test('our own broadcasts reach our own sockets too (Linux loops them back)', (t) => {
  const { clock, a, b } = pair();
  const mine = a.udp.endpoint(4);
  mine.bind(null, 68);
  const theirs = b.udp.endpoint(4);
  theirs.bind(null, 68);
  const s = a.udp.endpoint(4);
  s.broadcast = true;
  t.is(s.send(pattern(6), { addr: IpAddr.BROADCAST4, port: 68 }), 6);
  clock.advance(1);
  const d = mine.recv();
  if (typeof d === 'string') return t.fail(d);
  t.is(d.from.key, '10.0.0.1');
  t.is(d.dst.key, '255.255.255.255');
  t.not(theirs.recv(), 'EAGAIN');
  t.is(a.stats.get('udp.dropped.bad-checksum'), 0);
});

test('the same link-local prefix on two NICs: the scope (nicId) picks the way out', (t) => {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const w1 = new Wire(clock);
  const w2 = new Wire(clock);
  const a = new StackClass({ clock, neighbors });
  const b = new StackClass({ clock, neighbors, rng: new SeededRng(2) });
  a.addNic(w1.port(), { addresses: ['fe80::a1/64'] });
  const a2 = a.addNic(w2.port(), { addresses: ['fe80::a2/64'] });
  neighbors.learn(b.addNic(w2.port(), { addresses: ['fe80::b/64'] }));
  const srv = b.udp.endpoint(6);
  srv.bind(null, 7);
  const c = a.udp.endpoint(6);
  c.send(pattern(3), { addr: ip('fe80::b'), port: 7 }); // first fe80::/64 route: the wrong wire
  clock.advance(1);
  t.is(srv.recv(), 'EAGAIN');
  t.is(w1.framesSent, 1, 'it left by the first NIC');
  t.is(c.send(pattern(3), { addr: ip('fe80::b'), port: 7, nicId: a2.nicId }), 3);
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail(d);
  t.is(d.from.key, 'fe80::a2', 'source from the scoped NIC');
  const bound = a.udp.endpoint(6);
  bound.boundNic = a2.nicId;
  t.is(bound.send(pattern(3), { addr: ip('fe80::b'), port: 7 }), 3);
  clock.advance(1);
  t.not(srv.recv(), 'EAGAIN');
});

test('multicast: groups joined on the stack receive, others do not; TTL 1 by default', (t) => {
  const { clock, a, b } = pair();
  for (const [family, group] of [
    [4, '239.1.2.3'],
    [6, 'ff15::1234'],
  ] as const) {
    const port = 5000 + family;
    const r = a.udp.endpoint(family);
    t.is(r.bind(null, port), undefined);
    const s = b.udp.endpoint(family);
    t.is(s.send(pattern(7), { addr: ip(group), port }), 7);
    clock.advance(1);
    t.is(r.recv(), 'EAGAIN', 'not a member yet');
    a.joinGroup(ip(group));
    s.send(pattern(7), { addr: ip(group), port });
    clock.advance(1);
    const d = r.recv();
    if (typeof d === 'string') return t.fail(`v${family}: ${d}`);
    t.is(d.dst.key, group);
    t.is(d.ttl, 1);
  }
});
