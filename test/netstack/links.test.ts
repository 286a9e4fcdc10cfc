import test from 'ava';
import { VirtualClock } from '../../src/netstack/clock.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { ImpairedLink } from '../../src/netstack/links/impairment.js';
import { SnifferLink, type PacketSink } from '../../src/netstack/links/sniffer.js';
import { LoopbackLink } from '../../src/netstack/links/loopback.js';
import type { Frame } from '../../src/netstack/link.js';
import { pair, ip, pattern } from './topo.js';

function frames(n: number): Frame[] {
  return Array.from({ length: n }, (_, i) => {
    const d = new Uint8Array(100);
    d[0] = i & 0xff;
    d[1] = i >> 8;
    return { data: d };
  });
}

function run(seed: number, opts: ConstructorParameters<typeof ImpairedLink>[2]) {
  const clock = new VirtualClock();
  const wire = new Wire(clock, { latencyMs: 0 });
  const tx = new ImpairedLink(wire.port(), clock, { ...opts, seed });
  const rx = wire.port();
  const got: number[] = [];
  const at: number[] = [];
  tx.attach({ deliverFrames: () => {} });
  rx.attach({
    deliverFrames: (fs) => {
      for (const f of fs) {
        got.push(f.data[0] | (f.data[1] << 8));
        at.push(clock.now());
      }
    },
  });
  tx.writeFrames(frames(1000));
  clock.advance(10_000);
  return { got, at, c: tx.counters };
}

test('impairment: seeded and reproducible; loss, duplication and reordering at about the asked rates', (t) => {
  const o = { loss: 0.1, duplicate: 0.05, reorder: 0.1, reorderDelayMs: 1 };
  const r1 = run(5, o);
  const r2 = run(5, o);
  const r3 = run(6, o);
  t.deepEqual(r1.got, r2.got, 'same seed, same story');
  t.notDeepEqual(r1.got, r3.got);
  t.true(r1.c.lost > 60 && r1.c.lost < 140, `lost ${r1.c.lost}`);
  t.true(r1.c.duplicated > 20 && r1.c.duplicated < 90, `duplicated ${r1.c.duplicated}`);
  t.is(r1.got.length, 1000 - r1.c.lost + r1.c.duplicated);
  // Frames overtaken by later ones (ignoring duplicates, which repeat a number).
  let overtaken = 0;
  let max = -1;
  for (const n of r1.got) {
    if (n < max) overtaken++;
    max = Math.max(max, n);
  }
  t.true(overtaken > 50, `reordered (${overtaken} frames overtaken)`);
  t.true(r1.c.reordered >= overtaken - 5 && r1.c.reordered <= overtaken + 5, 'the counter matches what was seen');
});

test('impairment: delay and rate limit in virtual time, bounded queue', (t) => {
  const r = run(1, { delayMs: 20, rateBytesPerSec: 100_000, queueLimit: 500 });
  // 100-byte frames at 100 kB/s: one per ms, after a 20 ms delay; the queue keeps 500.
  t.is(r.got.length, 500);
  t.is(r.c.queueDropped, 500);
  t.is(r.at[0], 20);
  t.is(r.at[499], 500);
});

test('sniffer: every frame both ways, with virtual-time timestamps in ns', async (t) => {
  const records: { ts: bigint; len: number; dir?: string }[] = [];
  let closed = false;
  const sink: PacketSink = {
    writeFrame: (ts, data, _if, comment) => records.push({ ts, len: data.length, dir: comment }),
    close: async () => {
      closed = true;
    },
  };
  const { clock, a } = pair({ wrapA: (l, c) => new SnifferLink(l, c, sink, { directionComments: true }) });
  const srv = a.udp.endpoint(4);
  srv.bind(null, 1);
  clock.advance(1000);
  const c = a.udp.endpoint(4);
  c.send(pattern(10), { addr: ip('10.0.0.2'), port: 9 }); // B answers port unreachable
  clock.advance(1);
  t.deepEqual(records.map((r) => r.dir), ['out', 'in']);
  t.is(records[0].ts, 1_000_000_000n);
  t.true(records[1].ts > records[0].ts);
  t.is(records[0].len, 14 + 20 + 8 + 10);
  await sink.close();
  t.true(closed);
});

test('loopback: frames come back one step later, copied', (t) => {
  const clock = new VirtualClock();
  const lo = new LoopbackLink(clock);
  const got: number[] = [];
  lo.attach({ deliverFrames: (fs) => fs.forEach((f) => got.push(f.data[0])) });
  const d = Uint8Array.of(0x45, 1, 2);
  lo.writeFrames([{ data: d }]);
  d[0] = 0;
  t.deepEqual(got, []);
  clock.advance(0);
  t.deepEqual(got, [0x45]);
  t.is(lo.caps.medium, 'ip');
  lo.close();
  t.is(lo.writeFrames([{ data: d }]), 0);
});

test('impairment on the receive side only: what arrives is dropped before the stack sees it', (t) => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const tx = wire.port();
  const rx = new ImpairedLink(wire.port(), clock, { loss: 1, direction: 'rx' });
  const got: number[] = [];
  rx.attach({ deliverFrames: (fs) => got.push(fs.length) });
  tx.attach({ deliverFrames: () => {} });
  tx.writeFrames(frames(10));
  t.is(rx.writeFrames(frames(3)), 3, 'the send side is untouched');
  clock.advance(10);
  t.deepEqual(got, []);
  t.is(rx.counters.lost, 10);
});

test('a closed stack refuses to send and closes its links', (t) => {
  const { a, na } = pair();
  let closed = false;
  const orig = na.link.close.bind(na.link);
  na.link.close = () => {
    closed = true;
    orig();
  };
  a.close();
  t.true(closed);
  t.is(a.udp.endpoint(4).send(pattern(1), { addr: ip('10.0.0.2'), port: 1 }), 'ENETDOWN');
});
