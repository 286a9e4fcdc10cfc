// moat's TCP over the real netstack (Stack, Wire, ImpairedLink, loopback), in virtual time:
// the same behaviours as the in-process tests, but through IP, neighbors, ICMP and offloads.

import test from 'ava';
import { createHash } from 'node:crypto';
import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack } from '../../src/netstack/stack.js';
import { StaticNeighbors } from '../../src/netstack/nic.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { ImpairedLink } from '../../src/netstack/links/impairment.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { TcpProtocol, type TcpEndpoint } from '../../src/netstack/tcp/index.js';
import { pattern } from './helpers/apps.js';

const ip = (s: string) => IpAddr.parse(s);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function runUntil(clock: VirtualClock, pred: () => boolean, limitMs: number): boolean {
  const end = clock.now() + limitMs;
  while (!pred()) {
    const next = clock.nextDeadline();
    if (next === Infinity || next > end) return pred();
    clock.advanceTo(next);
  }
  return true;
}

function twoStacks(opts: { loss?: number; tcpOnB?: boolean; offload?: boolean } = {}) {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock, { latencyMs: 2 });
  let ta!: TcpProtocol;
  let tb = null as TcpProtocol | null;
  const a = new Stack({ clock, rng: new SeededRng(1), neighbors, transports: (n) => [(ta = new TcpProtocol(n))] });
  const b = new Stack({ clock, rng: new SeededRng(2), neighbors, transports: (n) => (opts.tcpOnB === false ? [] : [(tb = new TcpProtocol(n))]) });
  const portOpts = opts.offload ? { txChecksumOffload: true, rxChecksumOffload: true, gsoMaxSize: 65536 } : {};
  const pa = opts.loss ? new ImpairedLink(wire.port(portOpts), clock, { loss: opts.loss, seed: 5, direction: 'both' }) : wire.port(portOpts);
  const na = a.addNic(pa, { addresses: ['10.0.0.1/24', 'fd00::1/64'] });
  const nb = b.addNic(wire.port(portOpts), { addresses: ['10.0.0.2/24', 'fd00::2/64'] });
  neighbors.learn(na);
  neighbors.learn(nb);
  return { clock, a, b, ta, tb };
}

function accept(clock: VirtualClock, l: TcpEndpoint, c: TcpEndpoint): TcpEndpoint {
  let s: TcpEndpoint | null = null;
  const ok = runUntil(clock, () => {
    const x = l.accept();
    if (typeof x !== 'string') s = x;
    return s !== null && c.stateName === 'ESTABLISHED';
  }, 30_000);
  if (!ok || !s) throw new Error(`no connection (${c.stateName})`);
  return s;
}

function pump(clock: VirtualClock, from: TcpEndpoint, to: TcpEndpoint, data: Uint8Array, limitMs: number): string {
  const h = createHash('sha256');
  let off = 0;
  let eof = false;
  const write = () => {
    while (off < data.length) {
      const n = from.write(data.subarray(off, off + 65536));
      if (typeof n === 'string' || n === 0) return;
      off += n;
    }
    from.shutdown('write');
  };
  const read = () => {
    for (;;) {
      const r = to.read();
      if (r === null) {
        eof = true;
        return;
      }
      if (typeof r === 'string') return;
      h.update(r);
    }
  };
  from.on({ onWritable: write });
  to.on({ onReadable: read, onPeerClosed: read });
  write();
  if (!runUntil(clock, () => eof, limitMs)) throw new Error('transfer did not finish');
  return h.digest('hex');
}

for (const fam of ['v4', 'v6'] as const) {
  test(`over two Stacks (${fam}) with 2% loss: 8 MB intact, then a clean close`, (t) => {
    const { clock, ta, tb } = twoStacks({ loss: 0.02 });
    const l = tb!.endpoint();
    t.is(l.bind(fam === 'v4' ? IpAddr.ANY4 : IpAddr.ANY6, 443), undefined);
    t.is(l.listen(4), undefined);
    const c = ta.endpoint();
    t.is(c.connect(ip(fam === 'v4' ? '10.0.0.2' : 'fd00::2'), 443), undefined);
    const s = accept(clock, l, c);
    const data = pattern(8 << 20, 12);
    t.is(pump(clock, c, s, data, 3_600_000), sha(data));
    t.true(c.tcpInfo().totalRetrans > 0);
    s.close();
    c.close();
    t.true(runUntil(clock, () => s.stateName === 'CLOSED' || s.stateName === 'TIME_WAIT', 60_000));
    t.true(runUntil(clock, () => c.stateName === 'CLOSED' || c.stateName === 'TIME_WAIT', 60_000));
    t.is(c.tcpInfo().sndMss, fam === 'v4' ? 1448 : 1428);
  });
}

test('over loopback in one Stack: both ends on 127.0.0.1', (t) => {
  const clock = new VirtualClock();
  let tcp!: TcpProtocol;
  new Stack({ clock, rng: new SeededRng(3), transports: (n) => [(tcp = new TcpProtocol(n))] });
  const l = tcp.endpoint();
  l.bind(ip('127.0.0.1'), 8080);
  l.listen(4);
  const c = tcp.endpoint();
  t.is(c.connect(ip('127.0.0.1'), 8080), undefined);
  const s = accept(clock, l, c);
  const data = pattern(4 << 20, 13);
  t.is(pump(clock, s, c, data, 600_000), sha(data));
});

test('a peer without TCP answers protocol-unreachable: the connect fails at once', (t) => {
  const { clock, ta } = twoStacks({ tcpOnB: false });
  const c = ta.endpoint();
  let err = '';
  c.on({ onError: (_e, code) => (err = code) });
  c.connect(ip('10.0.0.2'), 80);
  t.true(runUntil(clock, () => c.stateName === 'CLOSED', 5000));
  t.not(err, '');
  t.is(ta.stats.icmpErrors, 1);
});

test('over two Stacks: connect to a closed port gets RST -> ECONNREFUSED', (t) => {
  const { clock, ta } = twoStacks();
  const c = ta.endpoint();
  let err = '';
  c.on({ onError: (_e, code) => (err = code) });
  c.connect(ip('10.0.0.2'), 81);
  t.true(runUntil(clock, () => c.stateName === 'CLOSED', 5000));
  t.is(err, 'ECONNREFUSED');
});

test('over two Stacks with checksum offload and TSO on the links: aggregates go out, data arrives intact', (t) => {
  const { clock, ta, tb } = twoStacks({ offload: true });
  const l = tb!.endpoint();
  l.bind(IpAddr.ANY4, 443);
  l.listen(4);
  const c = ta.endpoint();
  c.connect(ip('10.0.0.2'), 443);
  const s = accept(clock, l, c);
  const data = pattern(8 << 20, 14);
  t.is(pump(clock, c, s, data, 600_000), sha(data));
  t.true(ta.stats.gsoSends > 0, `${ta.stats.gsoSends} aggregates`);
});
