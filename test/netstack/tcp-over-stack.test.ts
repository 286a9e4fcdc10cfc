// TCP (src/netstack/tcp/, another module) plugged into real Stacks through the `transports`
// option: the NetworkLayer contract end to end, including forwarding, PMTU and loss.

import test from 'ava';
import { createHash } from 'node:crypto';
import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack, type StackOptions } from '../../src/netstack/stack.js';
import { StaticNeighbors } from '../../src/netstack/nic.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { ImpairedLink } from '../../src/netstack/links/impairment.js';
import { TcpProtocol } from '../../src/netstack/tcp/index.js';
import type { TcpEndpoint } from '../../src/netstack/tcp/index.js';
import { ip, pattern } from './topo.js';

function tcpStack(clock: VirtualClock, seed: number, neighbors: StaticNeighbors, extra: Partial<StackOptions> = {}) {
  let tcp!: TcpProtocol;
  const s = new Stack({
    clock,
    rng: new SeededRng(seed),
    neighbors,
    transports: (net) => [(tcp = new TcpProtocol(net))],
    ...extra,
  });
  return { s, tcp };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Sends `data` from client to server and returns what the server read. */
function transfer(clock: VirtualClock, client: TcpEndpoint, server: TcpEndpoint, data: Uint8Array, limitMs: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let got = 0;
  let off = 0;
  for (let step = 0; step < limitMs && got < data.length; step++) {
    while (off < data.length) {
      const n = client.write(data.subarray(off, Math.min(data.length, off + 65536)));
      if (typeof n === 'string' || n === 0) break;
      off += n;
    }
    clock.advance(1);
    for (let r = server.read(); r && typeof r !== 'string'; r = server.read()) {
      chunks.push(r.slice());
      got += r.length;
    }
  }
  const out = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function connect(clock: VirtualClock, a: TcpProtocol, b: TcpProtocol, dst: string, port: number) {
  const l = b.endpoint();
  if (l.bind(ip(dst).family === 4 ? ip('0.0.0.0') : ip('::'), port)) throw new Error('bind');
  if (l.listen(8)) throw new Error('listen');
  const c = a.endpoint();
  const r = c.connect(ip(dst), port);
  if (r) throw new Error(`connect: ${r}`);
  let server: TcpEndpoint | null = null;
  for (let i = 0; i < 5000 && !(server && c.stateName === 'ESTABLISHED'); i++) {
    clock.advance(1);
    const s = l.accept();
    if (typeof s !== 'string') server = s;
  }
  if (!server) throw new Error(`no connection: ${c.stateName}`);
  return { c, server };
}

for (const family of [4, 6] as const) {
  test(`TCP v${family} over two Stacks: 1 MiB intact`, (t) => {
    const clock = new VirtualClock();
    const neighbors = new StaticNeighbors();
    const wire = new Wire(clock);
    const A = tcpStack(clock, 1, neighbors);
    const B = tcpStack(clock, 2, neighbors);
    neighbors.learn(A.s.addNic(wire.port(), { addresses: ['10.0.0.1/24', 'fd00::1/64'] }));
    neighbors.learn(B.s.addNic(wire.port(), { addresses: ['10.0.0.2/24', 'fd00::2/64'] }));
    const { c, server } = connect(clock, A.tcp, B.tcp, family === 4 ? '10.0.0.2' : 'fd00::2', 80);
    const data = pattern(1 << 20, 5);
    const got = transfer(clock, c, server, data, 60_000);
    t.is(got.length, data.length);
    t.is(sha(got), sha(data));
  });
}

test('TCP through a router with a 1280-byte far side and 2% loss: PMTU and recovery', (t) => {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const w1 = new Wire(clock);
  const w2 = new Wire(clock);
  const A = tcpStack(clock, 1, neighbors);
  const R = new Stack({ clock, rng: new SeededRng(2), neighbors, forwarding: true });
  const B = tcpStack(clock, 3, neighbors);
  const na = A.s.addNic(new ImpairedLink(w1.port(), clock, { loss: 0.02, seed: 3 }), { addresses: ['fd01::1/64'] });
  const r1 = R.addNic(w1.port(), { addresses: ['fd01::fe/64'] });
  const r2 = R.addNic(w2.port(), { addresses: ['fd02::fe/64'] });
  // Only the router's far interface is small: B advertises an MSS for 1500, so A must learn.
  r2.setMtu(1280);
  const nb = B.s.addNic(w2.port(), { addresses: ['fd02::1/64'] });
  for (const n of [na, r1, r2, nb]) neighbors.learn(n);
  A.s.addRoute('::/0', na, 'fd01::fe');
  B.s.addRoute('::/0', nb, 'fd02::fe');
  const { c, server } = connect(clock, A.tcp, B.tcp, 'fd02::1', 443);
  const data = pattern(300_000, 9);
  const got = transfer(clock, c, server, data, 120_000);
  t.is(sha(got), sha(data));
  t.true(R.stats.get('ipv6.dropped.too-big') > 0, 'full-size segments hit the small link');
  t.true(A.s.stats.get('icmp6.pmtu-learned') > 0);
  const rt = A.s.route(ip('fd02::1'));
  t.true(typeof rt !== 'string' && rt.mtu === 1280, 'A learned the path MTU');
});
