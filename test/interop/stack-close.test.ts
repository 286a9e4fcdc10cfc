// Found while writing the interop suite: Stack.close() used to leave the stack's TimerQueue
// armed, so a TCP connection in TIME_WAIT (60 s) kept its Clock's wakeup pending after close.
// With RealClock that is a ref'd setTimeout: a process that closed its stack could not exit.

import test from 'ava';
import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack } from '../../src/netstack/stack.js';
import { StaticNeighbors } from '../../src/netstack/nic.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { TcpProtocol, type TcpEndpoint } from '../../src/netstack/tcp/index.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';

test('Stack.close() cancels its timers (a TIME_WAIT connection must not keep the clock armed)', (t) => {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const mk = (seed: number) => {
    let tcp!: TcpProtocol;
    const s = new Stack({ clock, rng: new SeededRng(seed), neighbors, transports: (n) => [(tcp = new TcpProtocol(n))] });
    return { s, tcp };
  };
  const A = mk(1);
  const B = mk(2);
  neighbors.learn(A.s.addNic(wire.port(), { addresses: ['10.0.0.1/24'] }));
  neighbors.learn(B.s.addNic(wire.port(), { addresses: ['10.0.0.2/24'] }));
  const l = B.tcp.endpoint();
  l.bind(IpAddr.ANY4, 80);
  l.listen(8);
  const c = A.tcp.endpoint();
  c.connect(IpAddr.parse('10.0.0.2'), 80);
  let server: TcpEndpoint | null = null;
  for (let i = 0; i < 1000 && !server; i++) {
    clock.advance(1);
    const s = l.accept();
    if (typeof s !== 'string') server = s;
  }
  t.truthy(server);
  c.close(); // the active closer ends in TIME_WAIT
  clock.advance(10);
  server!.close();
  clock.advance(10);
  t.is(c.stateName, 'TIME_WAIT');
  A.s.close();
  B.s.close();
  t.is(clock.nextDeadline(), Infinity, 'no wakeup left armed after both stacks were closed');
});
