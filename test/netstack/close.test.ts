import test from 'ava';
import { VirtualClock } from '../../src/netstack/clock.js';
import { Stack } from '../../src/netstack/stack.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';

// A closed stack leaves no timer behind: ARP retries and NDP (DAD, router solicitation)
// timers would otherwise keep a real event loop alive and fire into a dead stack.
test('closing a stack cancels its neighbor timers (ARP and NDP)', (t) => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const s = new Stack({ clock });
  const nic = s.addNic(wire.port({ name: 'a' }), { addresses: ['10.0.0.1/24', 'fd00::1/64'] });
  // A send to an unanswered neighbor leaves an ARP retry timer armed.
  const ep = s.udp.endpoint(4);
  t.is(ep.send(new Uint8Array(4), { addr: IpAddr.parse('10.0.0.2'), port: 9 }), 4);
  clock.advance(10);
  t.true(clock.nextDeadline() < Infinity, 'resolution and NDP timers are armed');
  t.truthy(nic);
  s.close();
  t.is(clock.nextDeadline(), Infinity, 'nothing left armed after close');
});
