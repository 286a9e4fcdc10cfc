import test from 'ava';
import { TestNet } from './helpers/net.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';

test('delayed ACK: quick ACKs at the start, then about one ACK per two segments', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  net.trace = [];
  const data = pattern(2_000_000, 1);
  const sink = new Sink(server);
  new Writer(client, data, false);
  t.true(net.runUntil(() => sink.bytes === data.length, 60_000));
  const sent = net.trace.filter((e) => e.event === 'sent');
  const dataSegs = sent.filter((e) => e.from.startsWith('10.0.0.1') && e.len > 0).length;
  const acks = sent.filter((e) => e.from.startsWith('10.0.0.2') && e.len === 0);
  t.true(acks.length < dataSegs * 0.65, `${acks.length} ACKs for ${dataSegs} segments`);
  t.true(acks.length > dataSegs * 0.4, `${acks.length} ACKs for ${dataSegs} segments`);
  // the first 16 segments are acknowledged one by one (quick-ack)
  const firstAcks = acks.slice(0, 10).map((e) => e.ack);
  const firstSeq = net.trace.find((e) => e.len > 0)!.seq;
  t.deepEqual(firstAcks.map((x) => ((x - firstSeq) >>> 0) / 1448), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('a lone small segment is acknowledged after the delayed-ACK timeout (40 ms)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { quickAckSegments: 0 });
  const b = net.addHost('10.0.0.2', { quickAckSegments: 0 });
  const { client, server } = connectPair(net, a, b);
  new Sink(server);
  client.write(new Uint8Array(10)); // the first read also opens the window from the SYN's 64 KiB
  net.run(1000);
  net.trace = [];
  client.write(new Uint8Array(10));
  net.run(200);
  const sent = net.trace.filter((e) => e.event === 'sent');
  t.is(sent.length, 2);
  t.is(sent[1].t - sent[0].t, 5 + 40, 'arrives after 5 ms, ACKed 40 ms later');
});

test('receive-buffer auto-tuning grows the window on a long fat pipe', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.setBoth(a, b, { delayMs: 50, rateBytesPerMs: 12_500, queueBytes: 2_000_000 });
  const { client, server } = connectPair(net, a, b);
  const before = server.tcpInfo().rcvSpace;
  const data = pattern(20_000_000, 2);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof, 600_000));
  t.is(sink.digest(), sha256(data));
  const after = server.tcpInfo().rcvSpace;
  t.true(after >= 8 * before, `${before} -> ${after}`);
  // 100 Mbit/s * 100 ms needs ~1.25 MB in flight: well beyond the initial 128 KiB window
  t.true(client.tcpInfo().sndWnd > 1_250_000, `${client.tcpInfo().sndWnd}`);
});

test('write reports back-pressure and the writable event resumes it', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  client.setSndBuf(10_000);
  const n = client.write(new Uint8Array(50_000));
  t.is(n, 10_000);
  t.is(client.write(new Uint8Array(1)), 0);
  let writable = 0;
  client.on({ onWritable: () => writable++ });
  new Sink(server);
  net.run(1000);
  t.true(writable >= 1);
  t.true(client.writable > 0);
});

test('stack-wide buffer memory limit: writes are cut and counted', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { maxBufferMemory: 5000 });
  const b = net.addHost('10.0.0.2');
  const { client } = connectPair(net, a, b);
  net.blackhole(a, b);
  t.is(client.write(new Uint8Array(8000)), 5000);
  t.is(client.write(new Uint8Array(10)), 0);
  t.is(a.tcp.stats.memoryLimitHits, 2);
});

test('stack-wide connection limit: connect fails with ENOBUFS and is counted', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { maxConnections: 2 });
  const b = net.addHost('10.0.0.2');
  t.is(a.tcp.endpoint().connect(b.addr, 80), undefined);
  t.is(a.tcp.endpoint().connect(b.addr, 80), undefined);
  t.is(a.tcp.endpoint().connect(b.addr, 80), 'ENOBUFS');
  t.is(a.tcp.stats.connLimitHits, 1);
});

test('tcpInfo reports a consistent snapshot after a transfer', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.setBoth(a, b, { delayMs: 10, loss: 0.02, lossDataOnly: true });
  const { client, server } = connectPair(net, a, b);
  const data = pattern(1_000_000, 3);
  const sink = new Sink(server);
  new Writer(client, data, false);
  t.true(net.runUntil(() => sink.bytes === data.length && client.tcpInfo().bytesAcked === data.length, 600_000));
  const ci = client.tcpInfo();
  const si = server.tcpInfo();
  t.is(ci.state, 'ESTABLISHED');
  t.is(ci.bytesAcked, 1_000_000);
  t.is(si.bytesReceived, 1_000_000);
  t.true(ci.rtt >= 20 && ci.rtt < 100, `${ci.rtt}`);
  t.true(ci.rto >= 200);
  t.true(ci.totalRetrans > 0);
  t.is(ci.unacked, 0);
  t.is(ci.congestion, 'cubic');
  t.is(ci.caState, 'open');
});

test('GSO: with an offloading route, full segments leave as aggregates and arrive intact', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  a.checksumOffload = true;
  a.gsoMaxSize = 65536;
  net.setBoth(a, b, { delayMs: 5, loss: 0.01, lossDataOnly: true });
  const { client, server } = connectPair(net, a, b);
  net.trace = [];
  const data = pattern(3_000_000, 4);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof, 600_000));
  t.is(sink.digest(), sha256(data));
  t.true(a.gsoAggregates > 50, `${a.gsoAggregates} aggregates`);
  t.true(a.tcp.stats.gsoSends === a.gsoAggregates);
  // on the wire every segment is at most one MSS
  t.true(net.trace.every((e) => e.len <= 1448));
});

test('out-of-order data is capped per connection and counted; stack memory accounting returns to zero', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2', { oooCapPerConn: 4000 });
  const { client, server } = connectPair(net, a, b);
  // the first data segment is lost (once): everything after it waits in reassembly
  let first = true;
  net.setLink(a, b, { delayMs: 5, dropIf: (_n, p) => (p.dataLen > 0 && first ? ((first = false), true) : false) });
  const data = pattern(200_000, 5);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof, 120_000));
  t.is(sink.digest(), sha256(data));
  t.true(b.tcp.stats.oooDrops > 0, 'reassembly refused data over its cap');
  t.is(b.tcp.oooMemory, 0);
  client.close();
  server.close();
  net.run(200_000);
  t.is(b.tcp.memory, 0);
  t.is(a.tcp.memory, 0);
});
