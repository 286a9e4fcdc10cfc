// The receive window against the receive buffer: the right edge we record (RCV.ADV) never lies
// beyond the space the buffer has (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4: new offers rounded
// down to the window scale), the edge on the wire never moves left, the SYN-ACK's unscaled
// window is the one recorded on both the SYN-queue and the SYN-cookie paths (RFC 7323 §2.2),
// and data beyond the buffer is dropped and counted (as Linux's tcp_try_rmem_schedule).

import test from 'ava';
import { TestNet, type Host } from './helpers/net.js';
import { craft } from './helpers/craft.js';
import { connectPair, pattern, sha256, Sink, Writer } from './helpers/apps.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { parseTcp } from '../../src/netstack/wire/tcp.js';
import { seqAdd, seqDiff, seqLe, seqLt } from '../../src/netstack/wire/seq.js';
import { ACK, SYN } from '../../src/netstack/tcp/segment.js';
import type { TcpEndpoint } from '../../src/netstack/tcp/endpoint.js';

/**
 * Watches every window `from` advertises to `to`: the furthest right edge ever offered, and
 * retractions of the edge on the wire. RFC 7323 §2.4 allows one by less than 2^wscale (when
 * repeating a window that is not a multiple of the scale would otherwise reach past the
 * buffer), never by more.
 */
class EdgeWatch {
  edge: number | null = null;
  smallRetractions = 0;
  bigRetractions = 0;
  synAckWindow = -1;
  constructor(net: TestNet, from: Host, to: Host, wscale: () => number) {
    net.onSend = (pkt, host) => {
      if (host !== from || !pkt.dst.equals(to.addr)) return;
      const s = parseTcp(pkt.bytes, pkt.src, pkt.dst, { verifyChecksum: false });
      if (typeof s === 'string' || !(s.flags & ACK)) return;
      if (s.flags & SYN) {
        this.synAckWindow = s.window;
        this.edge = seqAdd(s.ack, s.window);
        return;
      }
      const e = seqAdd(s.ack, s.window * 2 ** wscale());
      if (this.edge !== null && seqLt(e, this.edge)) {
        if (seqDiff(this.edge, e) < 2 ** wscale()) this.smallRetractions++;
        else this.bigRetractions++;
      }
      if (this.edge === null || seqLt(this.edge, e)) this.edge = e;
    };
  }
  /** RFC 7323 §2.4 rule 1: the receiver honours every edge it ever offered. */
  honoured(s: TcpEndpoint): boolean {
    return this.edge === null || seqLe(this.edge, s.rcvAdv);
  }
}

/** Bytes the buffer is holding, and the bytes the recorded window lets the peer add. */
function over(s: TcpEndpoint): { queue: number; recorded: number } {
  const held = s.recvQueue.length + s.ooo.bytes;
  return { queue: held - s.rcvBuf, recorded: s.recvQueue.length + Math.max(0, seqDiff(s.rcvAdv, s.rcvNxt)) - s.rcvBuf };
}

const stalledReader = test.macro({
  exec(t, bytes: number, keepUpMs: number, minBuf: number) {
    const net = new TestNet(3);
    const a = net.addHost('10.0.0.1');
    const b = net.addHost('10.0.0.2');
    let server: TcpEndpoint | null = null;
    const watch = new EdgeWatch(net, b, a, () => server?.rcvWscale ?? 0);
    const p = connectPair(net, a, b);
    server = p.server;
    t.is(server.rcvWscale, 7, 'a scale at which rounding matters');
    const data = pattern(bytes, 5);
    new Writer(p.client, data);
    const sink = new Sink(server);
    sink.paused = true;
    let worstQueue = 0;
    let worstRecorded = 0;
    let maxBuf = 0;
    let dishonoured = 0;
    for (let step = 0; step < 60_000 && !sink.eof; step++) {
      net.run(1);
      if (!watch.honoured(server)) dishonoured++;
      const o = over(server);
      worstQueue = Math.max(worstQueue, o.queue);
      worstRecorded = Math.max(worstRecorded, o.recorded);
      maxBuf = Math.max(maxBuf, server.rcvBuf);
      // The reader keeps up for a while (auto-tuning grows the buffer), then wakes only every
      // 500 ms and takes everything (as in the embedding layer's finding).
      if (step < keepUpMs || step % 500 === 499) {
        sink.paused = false;
        sink.drain();
        sink.paused = true;
      }
    }
    t.log(`rcvBuf grew to ${maxBuf}; ${watch.smallRetractions} retractions by less than 2^wscale; ${b.tcp.stats.rcvQueueDrops} drops`);
    t.true(sink.eof, `the transfer completes (${sink.bytes} bytes read)`);
    t.is(sink.digest(), sha256(data));
    t.true(maxBuf >= minBuf, `the buffer reached ${maxBuf}`);
    t.is(worstQueue, 0, `queue exceeded rcvBuf by ${worstQueue} bytes`);
    t.is(worstRecorded, 0, `recorded window reached ${worstRecorded} bytes past rcvBuf`);
    t.is(watch.bigRetractions, 0, 'the advertised right edge never moved left by 2^wscale or more');
    t.is(dishonoured, 0, 'every edge ever advertised stays acceptable');
    t.is(b.tcp.stats.rcvQueueDrops, 0, 'a well-behaved sender never had data dropped for lack of buffer');
  },
  title: (what = '') => `a stalled reader ${what}: the recorded right edge and the queue stay within rcvBuf, no retraction of 2^wscale, data intact`,
});

test('from the start (128 KiB)', stalledReader, 4_000_000, 0, 131_072);
test('after auto-tuning to 6 MiB', stalledReader, 24_000_000, 2000, 6_291_456);

test('the SYN-ACK window (unscaled) is what a SYN_RECEIVED connection records', (t) => {
  const net = new TestNet(4);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  let server: TcpEndpoint | null = null;
  const watch = new EdgeWatch(net, b, a, () => server?.rcvWscale ?? 0);
  const p = connectPair(net, a, b);
  server = p.server;
  // Whole segments of the MSS less the timestamp option (tcp_openreq_init_rwin): 45 x 1448.
  t.is(watch.synAckWindow, 65160);
  t.is(seqDiff(server.rcvAdv, server.rcvNxt), 65160);
  t.is(server.tcpInfo().rcvWnd, 65160);
});

/** A client connection let in by a SYN cookie (the SYN queue is full of spoofed SYNs). */
function cookieConnection(net: TestNet, a: Host, b: Host): { c: TcpEndpoint; s: TcpEndpoint } {
  const l = b.tcp.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(4);
  for (let i = 0; i < 10; i++) {
    const src = IpAddr.parse(`192.0.2.${i + 1}`);
    net.inject(b, src, craft(src, b.addr, { srcPort: 2000 + i, dstPort: 80, seq: i * 7919, flags: SYN, mss: 1460 }));
  }
  const c = a.tcp.endpoint();
  c.connect(b.addr, 80);
  let s: TcpEndpoint | null = null;
  net.runUntil(() => {
    const x = l.accept();
    if (typeof x !== 'string') s = x;
    return s !== null && c.stateName === 'ESTABLISHED';
  }, 10_000);
  if (!s) throw new Error('cookie handshake did not complete');
  return { c, s };
}

test('a SYN-cookie connection records the unscaled SYN-ACK window, not 2^wscale times it', (t) => {
  const net = new TestNet(5);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  let server: TcpEndpoint | null = null;
  const watch = new EdgeWatch(net, b, a, () => server?.rcvWscale ?? 0);
  const { c, s } = cookieConnection(net, a, b);
  server = s;
  t.is(b.tcp.stats.synCookiesValid, 1);
  t.is(s.rcvWscale, 7);
  // A cookie SYN-ACK is sized as any other: 45 x (1460 - 12), the peer offered timestamps.
  t.is(watch.synAckWindow, 65160);
  t.is(seqDiff(s.rcvAdv, s.rcvNxt), 65160, 'the edge the SYN-ACK advertised');
  // The reader never reads: the peer fills the buffer and no more.
  const data = pattern(16_000_000, 6);
  const w = new Writer(c, data);
  let worstQueue = 0;
  let worstRecorded = 0;
  let dishonoured = 0;
  for (let step = 0; step < 3000; step++) {
    net.run(1);
    if (!watch.honoured(s)) dishonoured++;
    const o = over(s);
    worstQueue = Math.max(worstQueue, o.queue);
    worstRecorded = Math.max(worstRecorded, o.recorded);
  }
  t.is(worstQueue, 0, `queue exceeded rcvBuf by ${worstQueue} bytes`);
  t.is(worstRecorded, 0, `recorded window reached ${worstRecorded} bytes past rcvBuf`);
  t.true(s.recvQueue.length > s.rcvBuf - 2 * 1448, 'the buffer filled');
  t.is(watch.bigRetractions, 0);
  t.is(dishonoured, 0);
  t.is(b.tcp.stats.rcvQueueDrops, 0, 'nothing advertised was beyond the buffer');
  // Reading resumes: everything arrives intact.
  const sink = new Sink(s);
  t.true(net.runUntil(() => sink.eof, 300_000));
  t.true(w.done);
  t.is(sink.digest(), sha256(data));
});

test('data beyond the buffer inside an advertised window (SO_RCVBUF shrunk) is dropped, counted, and recovered', (t) => {
  const net = new TestNet(6);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const p = connectPair(net, a, b);
  const s = p.server;
  t.is(seqDiff(s.rcvAdv, s.rcvNxt), 65160, 'almost 64 KiB already offered (45 segments of 1448)');
  s.setRcvBuf(8192);
  const data = pattern(300_000, 8);
  new Writer(p.client, data);
  const sink = new Sink(s);
  sink.paused = true;
  let worst = 0;
  for (let step = 0; step < 2000; step++) {
    net.run(1);
    worst = Math.max(worst, s.recvQueue.length + s.ooo.bytes - s.rcvBuf);
  }
  t.is(worst, 0, `queue exceeded rcvBuf by ${worst} bytes`);
  t.is(s.recvQueue.length, 8192, 'the buffer is full and no fuller');
  t.true(b.tcp.stats.rcvQueueDrops > 0, 'the excess was dropped and counted');
  sink.paused = false;
  sink.drain();
  t.true(net.runUntil(() => sink.eof, 600_000));
  t.is(sink.digest(), sha256(data));
});

test('an out-of-order segment beyond the buffer is dropped and counted; one inside it is kept', (t) => {
  const net = new TestNet(7);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const p = connectPair(net, a, b);
  const s = p.server;
  net.blackhole(a, b); // the client's own segments stay away; we play it
  s.setRcvBuf(4096);
  const at = (off: number, n: number) =>
    craft(a.addr, b.addr, {
      srcPort: p.client.localPort, dstPort: 80, seq: seqAdd(s.rcvNxt, off), ack: s.sndNxt, flags: ACK,
      payload: pattern(n, off), window: 65535,
    });
  const drops0 = b.tcp.stats.rcvQueueDrops;
  net.inject(b, a.addr, at(1000, 1000)); // [1000, 2000): fits in 4096
  t.is(s.ooo.bytes, 1000);
  net.inject(b, a.addr, at(3000, 2000)); // [3000, 5000): the part past 4096 does not fit
  t.is(s.ooo.bytes, 1000 + 1096, 'kept up to the buffer edge');
  t.is(b.tcp.stats.rcvQueueDrops, drops0 + 1);
  net.inject(b, a.addr, at(6000, 1000)); // wholly beyond the buffer
  t.is(s.ooo.bytes, 2096);
  t.is(b.tcp.stats.rcvQueueDrops, drops0 + 2);
  t.true(s.recvQueue.length + s.ooo.bytes <= s.rcvBuf);
});
