import test from 'ava';
import { VirtualClock } from '../../src/netstack/clock.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { SnifferLink } from '../../src/netstack/links/sniffer.js';
import type { PacketSink } from '../../src/netstack/links/sniffer.js';

// A real wall-clock epoch offset (~1.7e12 ms) times 1e6 is past 2^53: the sniffer must not
// lose the nanoseconds of the stack clock's fraction.
test('sniffer timestamps keep nanosecond precision with a wall-clock epoch offset', (t) => {
  const clock = new VirtualClock(0.0005); // 500 ns after the start
  const stamps: bigint[] = [];
  const sink: PacketSink = {
    writeFrame: (ns) => void stamps.push(ns),
    close: async () => {},
  };
  const epochOffsetMs = 1_700_000_001_000;
  const wire = new Wire(clock);
  const link = new SnifferLink(wire.port({ name: 'a' }), clock, sink, { epochOffsetMs });
  link.writeFrames([{ data: new Uint8Array(60) }]);
  t.deepEqual(stamps, [1_700_000_001_000_000_500n]);
});
