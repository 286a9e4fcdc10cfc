import test from 'ava';
import { TestNet } from './helpers/net.js';
import { craft } from './helpers/craft.js';
import { pattern, Sink, Writer, sha256, connectPair } from './helpers/apps.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { SYN } from '../../src/netstack/tcp/segment.js';
import type { TcpEndpoint } from '../../src/netstack/tcp/endpoint.js';
import { checkCookie, makeCookie } from '../../src/netstack/tcp/syncookies.js';
import { IsnGenerator } from '../../src/netstack/tcp/isn.js';
import { SeededRng } from '../../src/netstack/random.js';

test('SYN flood into a backlog-8 listener: cookies let a legitimate client in', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const l = b.tcp.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(8);
  // 500 spoofed SYNs from addresses that never answer
  for (let i = 0; i < 500; i++) {
    const src = IpAddr.parse(`192.0.2.${(i % 250) + 1}`);
    net.inject(b, src, craft(src, b.addr, { srcPort: 1024 + i, dstPort: 80, seq: i * 7919, flags: SYN, mss: 1460 }));
  }
  t.is(l.listener!.synQueue, 8);
  t.is(b.tcp.stats.synCookiesSent, 492);
  t.is(b.tcp.conns.size, 8, 'no state for the cookie SYNs');
  const c = a.tcp.endpoint();
  c.connect(b.addr, 80);
  let s: TcpEndpoint | null = null;
  t.true(net.runUntil(() => {
    const x = l.accept();
    if (typeof x !== 'string') s = x;
    return s !== null && c.stateName === 'ESTABLISHED';
  }, 10_000));
  t.is(b.tcp.stats.synCookiesValid, 1);
  const info = c.tcpInfo();
  t.true(info.timestamps && info.sackEnabled, 'options survive the cookie via TSecr');
  t.is(info.sndWscale, 7);
  const data = pattern(2_000_000, 2);
  const sink = new Sink(s!);
  new Writer(c, data);
  t.true(net.runUntil(() => sink.eof, 120_000));
  t.is(sink.digest(), sha256(data));
  // the half-open flood entries expire after their SYN-ACK retries
  net.run(200_000);
  t.is(l.listener!.synQueue, 0);
});

test('a forged cookie ACK is answered with RST and creates nothing', (t) => {
  const net = new TestNet();
  const b = net.addHost('10.0.0.2');
  const l = b.tcp.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(8);
  const src = IpAddr.parse('192.0.2.9');
  net.inject(b, src, craft(src, b.addr, { srcPort: 5555, dstPort: 80, seq: 1000, ack: 123456, flags: 0x10 }));
  t.is(b.tcp.stats.synCookiesFailed, 1);
  t.is(b.tcp.stats.resetsSent, 1);
  t.is(l.listener!.acceptQueue.length, 0);
});

test('cookies encode the MSS and expire', (t) => {
  const g = new IsnGenerator(new SeededRng(5));
  const x = IpAddr.parse('10.1.1.1');
  const y = IpAddr.parse('10.1.1.2');
  const c = makeCookie(g, 1000, x, 80, y, 4000, 777, 1460);
  t.is(checkCookie(g, 1000, x, 80, y, 4000, 777, c), 1460);
  t.is(checkCookie(g, 100_000, x, 80, y, 4000, 777, c), 1460);
  t.is(checkCookie(g, 1000 + 64_000 * 4, x, 80, y, 4000, 777, c), -1);
  t.is(checkCookie(g, 1000, x, 80, y, 4001, 777, c), -1);
  t.is(checkCookie(g, 1000, x, 80, y, 4000, 778, c), -1);
  t.is(checkCookie(g, 1000, x, 80, y, 4000, 777, (c ^ 1) >>> 0), -1);
});

test('accept queue full: further SYNs are dropped until the application accepts (backlog N holds N+1, as Linux)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const l = b.tcp.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(2);
  const clients = [0, 1, 2, 3].map(() => a.tcp.endpoint());
  for (const c of clients.slice(0, 3)) c.connect(b.addr, 80);
  net.run(100);
  t.is(l.listener!.acceptQueue.length, 3, 'sk_acceptq_is_full is `>`: listen(fd, 2) keeps 3');
  clients[3].connect(b.addr, 80);
  net.run(100);
  t.is(b.tcp.stats.listenOverflows, 1, 'SYN dropped while the accept queue is full');
  t.is(clients[3].stateName, 'SYN_SENT');
  t.not(l.accept(), 'EAGAIN');
  // the last client's retransmitted SYN (1 s later) gets in once there is room
  t.true(net.runUntil(() => l.listener!.acceptQueue.length === 3, 10_000));
  t.true(clients.every((c) => c.stateName === 'ESTABLISHED'));
});

test('bind: EADDRINUSE, SO_REUSEADDR with TIME_WAIT, SO_REUSEPORT listeners share a port', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { mslMs: 1000 });
  const b = net.addHost('10.0.0.2');
  const x = a.tcp.endpoint();
  t.is(x.bind(IpAddr.ANY4, 7000), undefined);
  t.is(a.tcp.endpoint().bind(IpAddr.ANY4, 7000), 'EADDRINUSE');
  t.is(a.tcp.endpoint().bind(IpAddr.parse('10.9.9.9'), 7001), 'EADDRNOTAVAIL');
  x.close();
  // reuseport group
  const l1 = b.tcp.endpoint({ reusePort: true });
  const l2 = b.tcp.endpoint({ reusePort: true });
  t.is(l1.bind(IpAddr.ANY4, 80), undefined);
  t.is(l2.bind(IpAddr.ANY4, 80), undefined);
  t.is(l1.listen(16), undefined);
  t.is(l2.listen(16), undefined);
  const cs = Array.from({ length: 20 }, () => a.tcp.endpoint());
  for (const c of cs) c.connect(b.addr, 80);
  net.run(100);
  const n1 = l1.listener!.acceptQueue.length;
  const n2 = l2.listener!.acceptQueue.length;
  t.is(n1 + n2, 20);
  t.true(n1 > 0 && n2 > 0, `spread ${n1}/${n2}`);
  // TIME_WAIT holds the port against plain bind, not against SO_REUSEADDR when the old socket
  // had it too (Linux inet_csk_bind_conflict: the timewait entry keeps its owner's sk_reuse)
  const p = connectPair(net, a, b, 81);
  const port = p.client.localPort;
  p.client.setReuseAddr(true);
  p.client.close();
  p.server.close();
  t.true(net.runUntil(() => p.client.stateName === 'TIME_WAIT'));
  t.is(a.tcp.endpoint().bind(IpAddr.ANY4, port), 'EADDRINUSE');
  t.is(a.tcp.endpoint({ reuseAddr: true }).bind(IpAddr.ANY4, port), undefined);
});

test('a new SYN reopens a TIME_WAIT pair when its timestamp is newer (RFC 6191)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const l = b.tcp.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(8);
  const c1 = a.tcp.endpoint();
  c1.bind(IpAddr.ANY4, 40000);
  c1.connect(b.addr, 80);
  let s1: TcpEndpoint | null = null;
  net.runUntil(() => {
    const x = l.accept();
    if (typeof x !== 'string') s1 = x;
    return s1 !== null;
  });
  s1!.close(); // server closes first: the server keeps TIME_WAIT
  t.true(net.runUntil(() => c1.stateName === 'CLOSE_WAIT'));
  c1.close();
  t.true(net.runUntil(() => c1.stateName === 'CLOSED' && s1!.stateName === 'TIME_WAIT'));
  net.run(1000);
  const c2 = a.tcp.endpoint();
  t.is(c2.bind(IpAddr.ANY4, 40000), undefined);
  c2.connect(b.addr, 80);
  let s2: TcpEndpoint | null = null;
  t.true(net.runUntil(() => {
    const x = l.accept();
    if (typeof x !== 'string') s2 = x;
    return s2 !== null && c2.stateName === 'ESTABLISHED';
  }, 5000));
  t.is(b.tcp.stats.timeWaitReopened, 1);
  t.is(s1!.stateName, 'CLOSED');
});

test('connect reuses a TIME_WAIT 4-tuple after a second when timestamps are on (tcp_tw_reuse)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const p = connectPair(net, a, b);
  const port = p.client.localPort;
  p.client.setReuseAddr(true);
  p.client.close();
  t.true(net.runUntil(() => p.server.stateName === 'CLOSE_WAIT'));
  p.server.close();
  t.true(net.runUntil(() => p.client.stateName === 'TIME_WAIT'));
  const c2 = a.tcp.endpoint({ reuseAddr: true });
  t.is(c2.bind(IpAddr.ANY4, port), undefined);
  t.is(c2.connect(b.addr, 80), 'EADDRINUSE', 'too fresh');
  net.run(1000);
  const c3 = a.tcp.endpoint({ reuseAddr: true });
  t.is(c3.bind(IpAddr.ANY4, port), undefined);
  t.is(c3.connect(b.addr, 80), undefined);
  t.is(a.tcp.stats.timeWaitReused, 1);
  t.true(net.runUntil(() => c3.stateName === 'ESTABLISHED'));
});
