// Findings in src/netstack/tcp (owned by TCP's author) that the embedding layer ran into. An open
// one is `test.failing` (it passes while the defect is there and turns red once it is fixed, as
// a reminder to make it a plain test); a fixed one stays here as a plain test.

import test from 'ava';
import { Stack, StaticNeighbors, Wire, VirtualClock, SeededRng, IpAddr } from '../../src/netstack/index.js';
import { TcpProtocol, type TcpEndpoint } from '../../src/netstack/tcp/index.js';

// The receive queue should never hold more than the receive buffer. Cause, found by
// instrumenting advertiseWindow (src/netstack/tcp/sender.ts:30-42): when no new space has
// opened (free <= cur), wnd = cur; cur = RCV.ADV - RCV.NXT is rarely a multiple of 2^wscale
// (RCV.NXT moves by segment sizes), so `field++` ("round up rather than shrink", :36) makes the
// new edge up to 2^wscale - 1 bytes beyond the old one, and `seqGt(edge, rcvAdv)` (:39) keeps
// it. Every ACK sent while the reader is stalled ratchets the edge right; the receiver trims
// only at rcvAdv (receiver.ts:370) with no per-socket rcvBuf check, so the queue creeps past
// SO_RCVBUF (seen: 131304 queued+window with a 131072 buffer after a few ACKs; +178 KB over a
// 6 MiB buffer later). Linux rounds up too (tcp_select_window) but bounds the queue by memory
// (tcp_try_rmem_schedule), which moat lacks per socket. A fix: move the edge only when free >
// cur (advertise ceil(cur / 2^wscale) without recording it), or drop/trim beyond rcvBuf.
// Fixed: advertiseWindow records only offers rounded down from free space (and a rounded-up
// repeat only when the buffer has room for it), and receiveData drops data beyond the buffer;
// regression tests in test/tcp/rcvwindow.test.ts.
test('tcp: an unread receive queue stays within rcvBuf (virtual time, bulk sender, reader draining every 500 ms)', (t) => {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  let ta!: TcpProtocol;
  let tb!: TcpProtocol;
  const A = new Stack({ clock, rng: new SeededRng(1), neighbors, transports: (n) => [(ta = new TcpProtocol(n))] });
  const B = new Stack({ clock, rng: new SeededRng(2), neighbors, transports: (n) => [(tb = new TcpProtocol(n))] });
  neighbors.learn(A.addNic(wire.port(), { addresses: ['10.0.0.1/24'] }));
  neighbors.learn(B.addNic(wire.port(), { addresses: ['10.0.0.2/24'] }));
  const l = tb.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(8);
  const c = ta.endpoint();
  c.connect(IpAddr.parse('10.0.0.2'), 80);
  let s: TcpEndpoint | null = null;
  for (let i = 0; i < 1000 && !s; i++) {
    clock.advance(1);
    const x = l.accept();
    if (typeof x !== 'string') s = x;
  }
  t.truthy(s);
  const buf = new Uint8Array(1 << 20);
  let worst = 0;
  let where = '';
  for (let step = 0; step < 3000; step++) {
    for (;;) {
      const n = c.write(buf);
      if (typeof n === 'string' || n === 0) break;
    }
    clock.advance(1);
    if (step % 500 === 499) for (let r = s!.read(); r && typeof r !== 'string'; r = s!.read());
    const over = s!.recvQueue.length + s!.ooo.bytes - s!.rcvBuf;
    if (over > worst) {
      worst = over;
      where = `step ${step}: queued ${s!.recvQueue.length}, rcvBuf ${s!.rcvBuf}`;
    }
  }
  A.close();
  B.close();
  t.is(worst, 0, `queue exceeded rcvBuf by ${worst} bytes (${where})`);
});
