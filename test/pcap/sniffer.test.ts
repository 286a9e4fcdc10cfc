// The netstack's SnifferLink writing through moat's pcapng writer: the PacketSink contract
// between src/netstack/links/sniffer.ts and src/net-plumbing/pcap/writer.ts, end to end.

import test from 'ava';
import { VirtualClock } from '../../src/netstack/clock.js';
import type { Frame } from '../../src/netstack/link.js';
import { SnifferLink } from '../../src/netstack/links/sniffer.js';
import type { PacketSink as StackSink } from '../../src/netstack/links/sniffer.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { LinkType, PcapWriter, PcapngWriter, readPcapBuffer } from '../../src/net-plumbing/pcap/index.js';
import type { PacketSink } from '../../src/net-plumbing/pcap/index.js';
import { collector, payload } from './build.js';

test('two sniffed ports of an in-process wire into one pcapng: interfaces, directions, virtual-time stamps', async (t) => {
  const clock = new VirtualClock(1000);
  const wire = new Wire(clock, { latencyMs: 0.5 });
  const c = collector();
  const pcapng = new PcapngWriter(c.stream, {
    interfaces: [
      { name: 'port-a', linkType: LinkType.EN10MB },
      { name: 'port-b', linkType: LinkType.EN10MB },
    ],
  });
  // Both sink interfaces must accept the writer as it is.
  const sink: StackSink = pcapng;
  const sinkToo: PacketSink = sink;
  // Small enough that the sniffer's float ms -> ns conversion is exact (see the report: a
  // wall-clock-sized offset loses nanoseconds there).
  const epochOffsetMs = 5_000;
  const a = new SnifferLink(wire.port({ name: 'a' }), clock, sinkToo, { interfaceId: 0, epochOffsetMs, directionComments: true });
  const b = new SnifferLink(wire.port({ name: 'b' }), clock, sinkToo, { interfaceId: 1, epochOffsetMs, directionComments: true });
  const gotAtB: Uint8Array[] = [];
  a.attach({ deliverFrames: () => {} });
  b.attach({ deliverFrames: (fs: readonly Frame[]) => fs.forEach((f) => gotAtB.push(f.data.slice())) });

  const f1 = payload(60, 1);
  const f2 = payload(1514, 2);
  t.is(a.writeFrames([{ data: f1 }, { data: f2 }]), 2);
  clock.advance(1);
  t.is(gotAtB.length, 2);
  await pcapng.close();

  const recs = readPcapBuffer(c.bytes());
  t.deepEqual(
    recs.map((r) => [r.interfaceId, r.comment, r.timestampNs, r.data.length]),
    [
      [0, 'out', 6_000_000_000n, 60],
      [0, 'out', 6_000_000_000n, 1514],
      [1, 'in', 6_000_500_000n, 60],
      [1, 'in', 6_000_500_000n, 1514],
    ],
  );
  t.deepEqual(recs[3].data, f2);
});

test('a classic PcapWriter is a sink too (interface ids and comments are dropped)', async (t) => {
  const clock = new VirtualClock(0);
  const wire = new Wire(clock);
  const c = collector();
  const w = new PcapWriter(c.stream, { precision: 'ns' });
  const a = new SnifferLink(wire.port(), clock, w, { interfaceId: 3, directionComments: true });
  a.attach({ deliverFrames: () => {} });
  clock.advance(2.5);
  a.writeFrames([{ data: payload(42, 9) }]);
  await w.close();
  const recs = readPcapBuffer(c.bytes());
  t.deepEqual(
    recs.map((r) => [r.interfaceId, r.comment, r.timestampNs]),
    [[0, undefined, 2_500_000n]],
  );
});
