import test from 'ava';
import { TestNet, formatTrace } from './helpers/net.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';

test('handshake negotiates MSS, window scale, SACK and timestamps', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.trace = [];
  const { client, server } = connectPair(net, a, b);
  const ci = client.tcpInfo();
  const si = server.tcpInfo();
  t.is(ci.state, 'ESTABLISHED');
  t.is(si.state, 'ESTABLISHED');
  t.true(ci.sackEnabled && ci.timestamps);
  t.is(ci.sndMss, 1460 - 12);
  t.is(ci.sndWscale, si.rcvWscale);
  t.is(ci.rcvWscale, 7);
  const syn = net.trace.filter((e) => e.event === 'sent')[0];
  t.is(syn.flags, 0x02);
  t.log(formatTrace(net.trace, 6));
});

test('1 MB transfer arrives intact and both sides close', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  const data = pattern(1 << 20);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof, 120_000));
  t.is(sink.bytes, data.length);
  t.is(sink.digest(), sha256(data));
  server.close();
  client.close();
  net.runUntil(() => server.stateName === 'CLOSED', 10_000);
  t.is(server.stateName, 'CLOSED');
  t.is(client.stateName, 'TIME_WAIT');
});

test('MSS follows the route MTU on each side, IPv6 and TCP_MAXSEG included', (t) => {
  const net = new TestNet();
  const a = net.addHost('fd00::1', undefined, 1280);
  const b = net.addHost('fd00::2', undefined, 9000);
  const { client, server } = connectPair(net, a, b);
  // a: advertises 1280 - 60 = 1220; b: 9000 - 60 = 8940; each sends min(own, peer's) less 12 for timestamps
  t.is(client.tcpInfo().rcvMss, 1220);
  t.is(server.tcpInfo().rcvMss, 8940);
  t.is(client.tcpInfo().sndMss, 1220 - 12);
  t.is(server.tcpInfo().sndMss, 1220 - 12);
  const data = pattern(500_000, 3);
  const sink = new Sink(client);
  new Writer(server, data);
  t.true(net.runUntil(() => sink.eof));
  t.is(sink.digest(), sha256(data));

  const net2 = new TestNet();
  const c = net2.addHost('10.0.0.1');
  const d = net2.addHost('10.0.0.2');
  const p = connectPair(net2, c, d, 80, (cl) => cl.setMaxSeg(1000));
  t.is(p.client.tcpInfo().rcvMss, 1000);
  t.is(p.server.tcpInfo().sndMss, 1000 - 12);
});

test('without timestamps, SACK or window scaling on one side, the connection still works without them', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { timestamps: false, sack: false, windowScaling: false });
  const b = net.addHost('10.0.0.2');
  net.setBoth(a, b, { delayMs: 5, loss: 0.02, lossDataOnly: true });
  const { client, server } = connectPair(net, a, b);
  const si = server.tcpInfo();
  t.false(si.timestamps || si.sackEnabled);
  t.is(si.sndWscale, 0);
  t.is(si.rcvWscale, 0);
  t.is(si.sndMss, 1460);
  const data = pattern(1_000_000, 4);
  const sink = new Sink(client);
  new Writer(server, data);
  t.true(net.runUntil(() => sink.eof, 600_000));
  t.is(sink.digest(), sha256(data));
});
