// Test topologies over the in-process wire, in virtual time: two stacks on one segment, and
// three with a router between two segments. Neighbors are static unless `dynamic` is asked for
// (the neighbor module is tested on its own in test/netstack/neighbor/).

import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack, type StackOptions } from '../../src/netstack/stack.js';
import { StaticNeighbors, type Nic } from '../../src/netstack/nic.js';
import { Wire, type WirePortOptions } from '../../src/netstack/links/wire.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import type { LinkEndpoint } from '../../src/netstack/link.js';

export const ip = (s: string) => IpAddr.parse(s);

export interface Pair {
  clock: VirtualClock;
  wire: Wire;
  neighbors: StaticNeighbors;
  a: Stack;
  b: Stack;
  na: Nic;
  nb: Nic;
}

export function pair(
  opts: {
    wrapA?: (l: LinkEndpoint, clock: VirtualClock) => LinkEndpoint;
    wrapB?: (l: LinkEndpoint, clock: VirtualClock) => LinkEndpoint;
    port?: WirePortOptions;
    stack?: Partial<StackOptions>;
  } = {},
): Pair {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const mk = (seed: number) => new Stack({ clock, rng: new SeededRng(seed), neighbors, ...opts.stack });
  const a = mk(1);
  const b = mk(2);
  const pa = wire.port(opts.port);
  const pb = wire.port(opts.port);
  const na = a.addNic(opts.wrapA ? opts.wrapA(pa, clock) : pa, { addresses: ['10.0.0.1/24', 'fd00::1/64'] });
  const nb = b.addNic(opts.wrapB ? opts.wrapB(pb, clock) : pb, { addresses: ['10.0.0.2/24', 'fd00::2/64'] });
  neighbors.learn(na);
  neighbors.learn(nb);
  return { clock, wire, neighbors, a, b, na, nb };
}

export interface Routed {
  clock: VirtualClock;
  a: Stack;
  r: Stack;
  b: Stack;
  wire1: Wire;
  wire2: Wire;
}

/**
 * A (10.0.1.1, fd01::1) -- wire1 -- R (10.0.1.254, fd01::fe | 10.0.2.254, fd02::fe) -- wire2 --
 * B (10.0.2.1, fd02::1). `farMtu` is the MTU of wire2 (R's far side and B).
 */
export function routed(opts: { farMtu?: number; stack?: Partial<StackOptions> } = {}): Routed {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire1 = new Wire(clock);
  const wire2 = new Wire(clock);
  const a = new Stack({ clock, rng: new SeededRng(1), neighbors, ...opts.stack });
  const r = new Stack({ clock, rng: new SeededRng(2), neighbors, forwarding: true, ...opts.stack });
  const b = new Stack({ clock, rng: new SeededRng(3), neighbors, ...opts.stack });
  const far = { mtu: opts.farMtu ?? 1500 };
  const na = a.addNic(wire1.port(), { addresses: ['10.0.1.1/24', 'fd01::1/64'] });
  const nr1 = r.addNic(wire1.port(), { addresses: ['10.0.1.254/24', 'fd01::fe/64'] });
  const nr2 = r.addNic(wire2.port(far), { addresses: ['10.0.2.254/24', 'fd02::fe/64'] });
  const nb = b.addNic(wire2.port(far), { addresses: ['10.0.2.1/24', 'fd02::1/64'] });
  for (const n of [na, nr1, nr2, nb]) neighbors.learn(n);
  a.addRoute('0.0.0.0/0', na, '10.0.1.254');
  a.addRoute('::/0', na, 'fd01::fe');
  b.addRoute('0.0.0.0/0', nb, '10.0.2.254');
  b.addRoute('::/0', nb, 'fd02::fe');
  return { clock, a, r, b, wire1, wire2 };
}

/** An ICMP echo request as a ping-socket user writes it (the stack fills in the identifier). */
export function echoRequest(family: 4 | 6, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = family === 4 ? 8 : 128;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  return m;
}

export function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
