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
