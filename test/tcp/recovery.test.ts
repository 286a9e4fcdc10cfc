import test from 'ava';
import { TestNet, formatTrace, type SentPacket } from './helpers/net.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';

test('SYN retransmissions back off 1, 2, 4 ... s and the connect times out (RFC 6298 §5.5)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.blackhole(a, b);
  net.trace = [];
  const c = a.tcp.endpoint();
  let err = '';
  let errAt = -1;
  c.on({ onError: (_e, code) => { err = code; errAt = net.clock.now(); } });
  c.connect(b.addr, 80);
  t.true(net.runUntil(() => c.stateName === 'CLOSED', 600_000));
  const synTimes = net.trace.filter((e) => e.event === 'dropped' && e.flags === 0x02).map((e) => e.t);
  t.deepEqual(synTimes, [0, 1000, 3000, 7000, 15000, 31000, 63000]);
  t.is(err, 'ETIMEDOUT');
  t.is(errAt, 127000);
});

test('data RTO: a tail loss probe, then doubling from SRTT + max(4*RTTVAR, 200 ms) up to the 120 s cap, then ETIMEDOUT', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { retries2: 12 });
  const b = net.addHost('10.0.0.2');
  const { client } = connectPair(net, a, b);
  const rto0 = client.tcpInfo().rto;
  t.is(rto0, 10 + 200); // one 10 ms handshake sample: SRTT 10, RTTVAR 5
  net.blackhole(a, b);
  net.trace = [];
  const t0 = net.clock.now();
  let err = '';
  client.on({ onError: (_e, code) => (err = code) });
  client.write(new Uint8Array(1000));
  t.true(net.runUntil(() => client.stateName === 'CLOSED', 3_600_000));
  const times = net.trace.filter((e) => e.event === 'dropped' && e.len === 1000).map((e) => e.t - t0);
  // A tail loss probe first (RFC 8985 §7.2: PTO = 2*SRTT + 200 ms with one segment in flight,
  // capped by the RTO), then the RTO series restarted from the probe.
  const pto = Math.min(2 * 10 + 200, rto0);
  const expected = [0, pto];
  let at = pto;
  for (let i = 0; i < 12; i++) {
    at += Math.min(120_000, rto0 * 2 ** i);
    expected.push(at);
  }
  t.deepEqual(times, expected);
  t.is(err, 'ETIMEDOUT');
  t.true(times[times.length - 1] - times[times.length - 2] === 120_000, 'backoff capped at 120 s');
});

test('zero window: the sender probes with backoff and resumes when the reader drains', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b, 80, (_c, l) => l.setRcvBuf(16_384));
  const sink = new Sink(server);
  sink.paused = true;
  const data = pattern(200_000, 5);
  new Writer(client, data);
  net.trace = [];
  net.run(20_000);
  // The window closed (to less than one segment: the right edge never moves left, RFC 7323 §2.4)
  // and sender SWS avoidance sends nothing into the sliver.
  t.true(client.tcpInfo().sndWnd < 1448);
  t.true(server.readable >= 16_384 - 1448 && server.readable <= 16_384 + 1448, `${server.readable}`);
  const probes = net.trace.filter((e) => e.event === 'sent' && e.from.startsWith('10.0.0.1') && e.len === 0 && e.flags === 0x10);
  t.true(a.tcp.stats.zeroWindowProbes >= 5, `${a.tcp.stats.zeroWindowProbes}`);
  // persist intervals grow
  const gaps = probes.slice(1).map((p, i) => p.t - probes[i].t);
  t.true(gaps.length >= 4);
  t.true(gaps[gaps.length - 1] > gaps[0]);
  sink.paused = false;
  sink.drain();
  t.true(net.runUntil(() => sink.eof, 600_000));
  t.is(sink.digest(), sha256(data));
});

/** Drops the first transmission of data segments whose index (by sequence) is in `idx`. */
function patternLoss(idx: Set<number>) {
  let base = -1;
  const seen = new Set<number>();
  return (_n: number, pkt: SentPacket) => {
    if (pkt.dataLen === 0) return false;
    const b = pkt.bytes;
    const seq = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
    if (base < 0) base = seq;
    if (seen.has(seq)) return false;
    seen.add(seq);
    return idx.has(Math.floor(((seq - base) >>> 0) / 1448));
  };
}

test('SACK recovery retransmits fewer bytes than NewReno on the same loss pattern', (t) => {
  const lost = new Set<number>();
  // ten holes in one window, then a burst of eight in a later one
  for (const i of [40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 120, 121, 122, 123, 124, 125, 126, 127]) lost.add(i);
  const run = (sack: boolean) => {
    const net = new TestNet(8);
    const cfg = { sack, congestion: 'newreno' as const };
    const a = net.addHost('10.0.0.1', cfg);
    const b = net.addHost('10.0.0.2', cfg);
    const { client, server } = connectPair(net, a, b);
    net.setLink(a, b, { delayMs: 20, dropIf: patternLoss(lost) });
    net.setLink(b, a, { delayMs: 20 });
    const data = pattern(400_000, 9);
    const sink = new Sink(server);
    new Writer(client, data);
    t.true(net.runUntil(() => sink.eof, 600_000));
    t.is(sink.digest(), sha256(data));
    return { info: client.tcpInfo(), time: net.clock.now(), rtos: a.tcp.stats.rtos };
  };
  const withSack = run(true);
  const without = run(false);
  t.log(`SACK: ${withSack.info.bytesRetrans} B retransmitted, ${withSack.rtos} RTOs, ${withSack.time} ms; NewReno: ${without.info.bytesRetrans} B, ${without.rtos} RTOs, ${without.time} ms`);
  t.true(withSack.info.bytesRetrans < without.info.bytesRetrans);
  t.is(withSack.info.bytesRetrans, lost.size * 1448, 'with SACK (and RACK), exactly the lost segments are resent');
  t.is(withSack.rtos, 0);
  t.true(withSack.time < without.time);
});

test('keepalive: probes after idle, ETIMEDOUT after keepCnt unanswered probes', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client } = connectPair(net, a, b);
  client.setKeepAlive(true, 1000, 500, 3);
  // while the peer answers, the connection lives on
  net.run(10_000);
  t.is(client.stateName, 'ESTABLISHED');
  net.blackhole(b, a);
  net.trace = [];
  const cut = net.clock.now();
  let err = '';
  let at = 0;
  client.on({ onError: (_e, code) => { err = code; at = net.clock.now(); } });
  t.true(net.runUntil(() => client.stateName === 'CLOSED', 60_000));
  t.is(err, 'ETIMEDOUT');
  const probes = net.trace.filter((e) => e.event === 'sent' && e.from.startsWith('10.0.0.1') && e.flags === 0x10);
  t.is(probes.length, 3);
  t.is(probes[1].t - probes[0].t, 500);
  t.is(at - probes[2].t, 500);
  t.true(at - cut <= 1000 + 3 * 500);
  t.is(a.tcp.stats.keepaliveTimeouts, 1);
});

test('TCP_USER_TIMEOUT ends a connection whose data goes unacknowledged', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client } = connectPair(net, a, b);
  client.setUserTimeout(5000);
  net.blackhole(a, b);
  const t0 = net.clock.now();
  client.write(new Uint8Array(10));
  t.true(net.runUntil(() => client.stateName === 'CLOSED', 60_000));
  t.is(client.read(), 'ETIMEDOUT');
  t.true(net.clock.now() - t0 >= 5000 && net.clock.now() - t0 < 12_000);
});

test('Nagle holds small writes while data is unacknowledged; NODELAY sends at once', (t) => {
  const count = (noDelay: boolean) => {
    const net = new TestNet();
    const a = net.addHost('10.0.0.1');
    const b = net.addHost('10.0.0.2');
    const { client, server } = connectPair(net, a, b);
    client.setNoDelay(noDelay);
    net.trace = [];
    for (let i = 0; i < 10; i++) client.write(new Uint8Array(10));
    const sink = new Sink(server);
    net.run(1000);
    t.is(sink.bytes, 100);
    return net.trace.filter((e) => e.event === 'sent' && e.len > 0).length;
  };
  t.is(count(false), 2);
  t.is(count(true), 10);
});

test('CORK flushes a partial segment after the 200 ms ceiling', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client } = connectPair(net, a, b);
  client.setCork(true);
  net.trace = [];
  const t0 = net.clock.now();
  client.write(new Uint8Array(100));
  net.run(150);
  t.is(net.trace.filter((e) => e.len > 0).length, 0);
  net.run(100);
  const sent = net.trace.filter((e) => e.event === 'sent' && e.len > 0);
  t.is(sent.length, 1);
  t.is(sent[0].t - t0, 200);
});

test('CORK holds partial segments until uncorked', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  client.setCork(true);
  net.trace = [];
  client.write(new Uint8Array(100));
  client.write(new Uint8Array(100));
  net.run(100);
  t.is(net.trace.filter((e) => e.len > 0).length, 0);
  client.setCork(false);
  const sink = new Sink(server);
  net.run(100);
  t.is(sink.bytes, 200);
  t.is(net.trace.filter((e) => e.event === 'sent' && e.len > 0).length, 1);
  void formatTrace;
});

test('tail loss probe repairs a lost last segment without waiting for the RTO (RFC 8985 §7)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  // the last two segments are lost: PTO = 2*SRTT (+ a small floor) with more than one in flight
  net.setLink(a, b, { delayMs: 5, dropIf: patternLoss(new Set([8, 9])) });
  const sink = new Sink(server);
  const t0 = net.clock.now();
  client.write(new Uint8Array(10 * 1448));
  t.true(net.runUntil(() => sink.bytes === 10 * 1448 && client.tcpInfo().unacked === 0, 5000));
  t.is(a.tcp.stats.tailLossProbes, 1);
  t.is(a.tcp.stats.rtos, 0);
  t.is(a.tcp.stats.tlpRecoveries, 1, 'the probe repaired a loss: congestion response');
  t.true(net.clock.now() - t0 < 100, `${net.clock.now() - t0} ms`);
});

test('RACK marks a lost retransmission lost again without an RTO', (t) => {
  // segment 20 is lost twice: the first retransmission too
  let seen = 0;
  let base = -1;
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  net.setLink(a, b, {
    delayMs: 5,
    dropIf: (_n, pkt) => {
      if (pkt.dataLen === 0) return false;
      const x = pkt.bytes;
      const seq = ((x[4] << 24) | (x[5] << 16) | (x[6] << 8) | x[7]) >>> 0;
      if (base < 0) base = seq;
      if ((seq - base) >>> 0 === 20 * 1448 && seen < 2) {
        seen++;
        return true;
      }
      return false;
    },
  });
  const data = pattern(300_000, 8);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof, 60_000));
  t.is(sink.digest(), sha256(data));
  t.is(seen, 2);
  t.is(a.tcp.stats.rtos, 0);
});

test('D-SACK undo: on a path that reorders but never loses, spurious retransmissions are undone (RFC 3708)', (t) => {
  const run = (dsackUndo: boolean) => {
    const net = new TestNet(2);
    const a = net.addHost('10.0.0.1', { dsackUndo });
    const b = net.addHost('10.0.0.2', { dsackUndo });
    net.setBoth(a, b, { delayMs: 5, reorder: 0.02, reorderDelayMs: 12, rateBytesPerMs: 12_500, queueBytes: 500_000 });
    const { client, server } = connectPair(net, a, b);
    const data = pattern(5_000_000, 1);
    const sink = new Sink(server);
    new Writer(client, data);
    t.true(net.runUntil(() => sink.eof, 600_000));
    t.is(sink.digest(), sha256(data));
    t.is(net.dropped, 0);
    return { time: net.clock.now(), undos: a.tcp.stats.spuriousUndos, retrans: client.tcpInfo().totalRetrans, dsacks: client.tcpInfo().dsacks };
  };
  const on = run(true);
  const off = run(false);
  t.log(`undo on: ${on.time.toFixed(0)} ms, ${on.retrans} retransmissions, ${on.undos} undos; off: ${off.time.toFixed(0)} ms, ${off.retrans} retransmissions`);
  t.true(on.undos > 0);
  t.is(on.dsacks, on.retrans, 'every retransmission was spurious and reported by D-SACK');
  t.true(on.time < off.time);
});
