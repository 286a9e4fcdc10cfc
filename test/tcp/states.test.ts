import test from 'ava';
import { ALL_STATES, fixtureIn } from './helpers/fixtures.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';
import { TestNet, formatTrace } from './helpers/net.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { stateAfterFinAcked, stateAfterRecvFin, stateAfterSendFin, TcpState } from '../../src/netstack/tcp/state.js';

for (const s of ALL_STATES) {
  test(`fixture reaches ${s}`, (t) => {
    const f = fixtureIn(s);
    t.is(f.ep.stateName, s);
  });
}

test('pure transitions of RFC 9293 §3.10.4 and §3.10.7.4', (t) => {
  t.is(stateAfterSendFin(TcpState.ESTABLISHED), TcpState.FIN_WAIT_1);
  t.is(stateAfterSendFin(TcpState.CLOSE_WAIT), TcpState.LAST_ACK);
  t.is(stateAfterSendFin(TcpState.FIN_WAIT_2), null);
  t.is(stateAfterRecvFin(TcpState.FIN_WAIT_1, false), TcpState.CLOSING);
  t.is(stateAfterRecvFin(TcpState.FIN_WAIT_1, true), TcpState.TIME_WAIT);
  t.is(stateAfterRecvFin(TcpState.FIN_WAIT_2, true), TcpState.TIME_WAIT);
  t.is(stateAfterFinAcked(TcpState.CLOSING), TcpState.TIME_WAIT);
  t.is(stateAfterFinAcked(TcpState.LAST_ACK), TcpState.CLOSED);
});

test('active close: client FIN first, client ends in TIME_WAIT for 2*MSL', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { mslMs: 1000 });
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  let peerClosed = false;
  server.on({ onPeerClosed: () => (peerClosed = true) });
  client.close();
  t.true(net.runUntil(() => server.stateName === 'CLOSE_WAIT'));
  t.true(peerClosed);
  t.is(server.read(), null);
  t.true(net.runUntil(() => client.stateName === 'FIN_WAIT_2'));
  server.close();
  t.true(net.runUntil(() => client.stateName === 'TIME_WAIT'));
  const twStart = net.clock.now();
  t.true(net.runUntil(() => client.stateName === 'CLOSED', 10_000));
  t.is(net.clock.now() - twStart, 2000);
  t.is(server.stateName, 'CLOSED');
});

test('passive close: server FIN first', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2', { mslMs: 500 });
  const { client, server } = connectPair(net, a, b);
  server.close();
  t.true(net.runUntil(() => client.stateName === 'CLOSE_WAIT'));
  client.close();
  t.true(net.runUntil(() => client.stateName === 'CLOSED' && server.stateName === 'TIME_WAIT'));
  t.true(net.runUntil(() => server.stateName === 'CLOSED'));
});

test('simultaneous close goes through CLOSING to TIME_WAIT on both sides', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  const seen = new Set<string>();
  client.close();
  server.close();
  net.runUntil(() => {
    seen.add(client.stateName);
    return client.stateName === 'TIME_WAIT' && server.stateName === 'TIME_WAIT';
  });
  t.true(seen.has('CLOSING'));
  t.is(client.stateName, 'TIME_WAIT');
  t.is(server.stateName, 'TIME_WAIT');
});

test('simultaneous open: two active opens meet and both become ESTABLISHED', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.trace = [];
  const x = a.tcp.endpoint();
  const y = b.tcp.endpoint();
  t.is(x.bind(IpAddr.ANY4, 5000), undefined);
  t.is(y.bind(IpAddr.ANY4, 6000), undefined);
  t.is(x.connect(b.addr, 6000), undefined);
  t.is(y.connect(a.addr, 5000), undefined);
  const seen = new Set<string>();
  t.true(net.runUntil(() => {
    seen.add(x.stateName);
    return x.stateName === 'ESTABLISHED' && y.stateName === 'ESTABLISHED';
  }, 10_000), formatTrace(net.trace));
  t.true(seen.has('SYN_RECEIVED'));
  const sink = new Sink(y);
  new Writer(x, pattern(50_000));
  t.true(net.runUntil(() => sink.eof));
  t.is(sink.digest(), sha256(pattern(50_000)));
});

test('half-close: the side that sent FIN keeps receiving data', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  client.shutdown('write');
  t.true(net.runUntil(() => server.stateName === 'CLOSE_WAIT'));
  t.is(client.write(new Uint8Array(10)), 'EPIPE');
  const data = pattern(300_000, 3);
  const sink = new Sink(client);
  new Writer(server, data);
  t.true(net.runUntil(() => sink.eof));
  t.is(sink.digest(), sha256(data));
  t.true(net.runUntil(() => client.stateName === 'TIME_WAIT' && server.stateName === 'CLOSED'));
});

test('connect to a closed port is refused by RST', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const c = a.tcp.endpoint();
  let err = '';
  c.on({ onError: (_e, code) => (err = code) });
  c.connect(b.addr, 9);
  t.true(net.runUntil(() => c.stateName === 'CLOSED'));
  t.is(err, 'ECONNREFUSED');
  t.is(b.tcp.stats.noEndpoint, 1);
});

test('close with unread data sends RST (RFC 2525) and the peer sees ECONNRESET', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  let err = '';
  client.on({ onError: (_e, code) => (err = code) });
  client.write(new Uint8Array(100));
  t.true(net.runUntil(() => server.readable === 100));
  server.close();
  t.is(server.stateName, 'CLOSED');
  t.true(net.runUntil(() => client.stateName === 'CLOSED'));
  t.is(err, 'ECONNRESET');
});

test('linger 0: close aborts with RST', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  client.setLinger(0);
  client.close();
  t.is(client.stateName, 'CLOSED');
  t.true(net.runUntil(() => server.stateName === 'CLOSED'));
  t.is(server.read(), 'ECONNRESET');
});

test('a reset is reported once to read, then end of stream; writes then see EPIPE; SO_ERROR reads and clears', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  server.abort();
  t.true(net.runUntil(() => client.stateName === 'CLOSED'));
  t.is(client.read(), 'ECONNRESET');
  t.is(client.read(), null);
  t.is(client.write(new Uint8Array(1)), 'EPIPE');
  t.is(client.takeSoError(), null, 'already reported');

  const p = connectPair(net, a, b, 81);
  p.server.abort();
  t.true(net.runUntil(() => p.client.stateName === 'CLOSED'));
  t.is(p.client.takeSoError(), 'ECONNRESET');
  t.is(p.client.takeSoError(), null);
  t.is(p.client.read(), null);
});
