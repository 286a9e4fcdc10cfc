// A moat Stack with an interface named moat0 (02:00:00:00:00:01; 10.9.8.7/24, fd00:9::7/64,
// SLAAC-style link-local by NDP) and default routes via 10.9.8.1 and fd00:9::1: an interface that
// exists nowhere on the host, for worldFromStack and the end-to-end guests.

import { Stack } from '../../../src/netstack/stack.js';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import type { Nic } from '../../../src/netstack/nic.js';

export function moatStack(opts: { settle?: boolean } = {}): { stack: Stack; clock: VirtualClock; nic: Nic } {
  const clock = new VirtualClock();
  const stack = new Stack({ clock });
  const wire = new Wire(clock);
  const nic = stack.addNic(wire.port({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), name: 'moat0' }), {
    name: 'moat0',
    addresses: ['10.9.8.7/24', 'fd00:9::7/64'],
  });
  stack.addRoute('0.0.0.0/0', nic, '10.9.8.1');
  stack.addRoute('::/0', nic, 'fd00:9::1', 1024);
  // DAD (RFC 4862 §5.4) takes about a second of virtual time; then nothing is tentative.
  if (opts.settle ?? true) clock.advance(10_000);
  return { stack, clock, nic };
}
