import test from 'ava';
import { TestNet, type Impairments } from './helpers/net.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';

// 100 MB per test; measured at about 2-4 s of real time each on the 2-core machine.
const SIZE = 100 << 20;
const data = pattern(SIZE, 99);
const digest = sha256(data);

function bulk(t: import('ava').ExecutionContext, imp: Impairments, seed: number, config = {}) {
  const net = new TestNet(seed);
  const a = net.addHost('10.0.0.1', config);
  const b = net.addHost('10.0.0.2', config);
  net.setBoth(a, b, imp);
  // The handshake itself is not what these tests are about; loss starts after it.
  const { client, server } = connectPair(net, a, b);
  const sink = new Sink(server);
  new Writer(client, data);
  const ok = net.runUntil(() => sink.eof || sink.error !== null, 24 * 3_600_000);
  t.true(ok);
  t.is(sink.error, null);
  t.is(sink.bytes, SIZE);
  t.is(sink.digest(), digest);
  t.true(net.runUntil(() => client.tcpInfo().bytesAcked === SIZE, 60_000));
  const info = client.tcpInfo();
  t.log(`virtual ${(net.clock.now() / 1000).toFixed(1)} s, retrans ${info.totalRetrans} segs, rtos ${a.tcp.stats.rtos}, fast ${a.tcp.stats.fastRetransmits}, dropped ${net.dropped}`);
  return { net, a, b, client, server };
}

test('100 MB over a clean 100 Mbit/s link', (t) => {
  const { client } = bulk(t, { delayMs: 10, rateBytesPerMs: 12_500, queueBytes: 256_000 }, 1);
  t.is(client.tcpInfo().bytesAcked, SIZE);
});

test('100 MB with 1% loss, 1% reordering, 1% duplication', (t) => {
  const { client } = bulk(t, { delayMs: 5, loss: 0.01, reorder: 0.01, reorderDelayMs: 3, dup: 0.01, rateBytesPerMs: 12_500, queueBytes: 500_000 }, 2);
  t.true(client.tcpInfo().totalRetrans > 0);
});

test('100 MB with 5% loss, reordering and duplication', (t) => {
  bulk(t, { delayMs: 5, loss: 0.05, reorder: 0.02, reorderDelayMs: 4, dup: 0.02 }, 3);
});

test('100 MB with 1% loss under NewReno and no SACK', (t) => {
  bulk(t, { delayMs: 5, loss: 0.01, reorder: 0.01, dup: 0.01 }, 4, { congestion: 'newreno', sack: false });
});
