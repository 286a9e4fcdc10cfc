// Filter engine cost per packet: 0, 10 and 1,000 non-matching rules (the packet walks them all
// to the policy), a rule matching a 10,000-entry address set, and conntrack on an established
// flow. Each case runs a bounded number of packets (count and time) over a prebuilt datagram.
// Then the whole path: UDP datagrams between two in-process Stacks with the engine behind both
// stacks' hooks (conntrack, a stateful policy) against the same stacks without a filter.

import { VirtualClock } from '../src/netstack/clock.js';
import { FilterEngine } from '../src/netstack/filter/engine.js';
import { FilterInput } from '../src/netstack/filter/packet.js';
import { parseIptablesSave } from '../src/netstack/filter/save.js';
import { IpAddr } from '../src/netstack/wire/ip-address.js';
import { emitIpv4 } from '../src/netstack/wire/ipv4.js';
import { SeededRng } from '../src/netstack/random.js';
import { Stack } from '../src/netstack/stack.js';
import { StaticNeighbors } from '../src/netstack/nic.js';
import { Wire } from '../src/netstack/links/wire.js';
import { createFilterHooks } from '../src/netstack/filter/hooks.js';

/** Datagrams per second of wall time, a -> b over a Wire, 200-byte payloads, bounded in count and time. */
function stackRate(withFilter: boolean): number {
  const clock = new VirtualClock(0);
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const a = new Stack({ clock, rng: new SeededRng(1), neighbors });
  const b = new Stack({ clock, rng: new SeededRng(2), neighbors });
  neighbors.learn(a.addNic(wire.port(), { addresses: ['10.0.0.1/24'] }));
  neighbors.learn(b.addNic(wire.port(), { addresses: ['10.0.0.2/24'] }));
  if (withFilter) {
    const ea = new FilterEngine({ clock });
    ea.load(parseIptablesSave('*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n-A OUTPUT -p udp --dport 9 -j ACCEPT\nCOMMIT\n'));
    a.filter = createFilterHooks(ea, { stack: a });
    const eb = new FilterEngine({ clock });
    eb.load(parseIptablesSave('*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n-A INPUT -p udp --dport 9 -j ACCEPT\nCOMMIT\n'));
    b.filter = createFilterHooks(eb, { stack: b });
  }
  const rx = b.udp.endpoint(4);
  rx.bind(null, 9);
  const tx = a.udp.endpoint(4);
  tx.connect(IpAddr.parse('10.0.0.2'), 9);
  const payload = new Uint8Array(200);
  let got = 0;
  const round = () => {
    for (let i = 0; i < 100; i++) tx.send(payload);
    clock.advance(1);
    while (typeof rx.recv() !== 'string') got++;
  };
  for (let i = 0; i < 50; i++) round(); // warm-up (JIT)
  got = 0;
  const t0 = performance.now();
  for (let i = 0; i < 2000 && performance.now() - t0 < 1500; i++) round();
  return (got * 1000) / (performance.now() - t0);
}

function synPacket(dst: string, dport: number, flags = 0x02): Uint8Array {
  const d = new Uint8Array(40);
  emitIpv4({ src: IpAddr.parse('10.0.0.1'), dst: IpAddr.parse(dst), protocol: 6, ttl: 64, payloadLen: 20 }, d, 0);
  d[20] = 0x9c;
  d[21] = 0x40;
  d[22] = dport >> 8;
  d[23] = dport & 0xff;
  d[32] = 0x50;
  d[33] = flags;
  return d;
}

function rules(n: number): string {
  const lines = ['*filter', ':OUTPUT ACCEPT [0:0]'];
  for (let i = 0; i < n; i++) lines.push(`-A OUTPUT -d 172.${16 + (i >> 8)}.${i & 255}.0/24 -p tcp -m tcp --dport ${1000 + (i % 5000)} -j DROP`);
  lines.push('COMMIT');
  return lines.join('\n');
}

/** ns per engine.run over `iters` packets, at most `maxMs` of wall time. */
function measure(run: () => void, iters: number, maxMs: number): number {
  for (let i = 0; i < Math.min(iters, 10_000); i++) run(); // warm-up (JIT)
  const t0 = performance.now();
  let n = 0;
  while (n < iters) {
    for (let k = 0; k < 1000; k++) run();
    n += 1000;
    if (performance.now() - t0 > maxMs) break;
  }
  return ((performance.now() - t0) * 1e6) / n;
}

type Row = { name: string; value: number; unit: string; baseline?: { name: string; value: number }; note?: string };

export async function benchFilter(): Promise<Row[]> {
  const rows: Row[] = [];
  const pkt = synPacket('93.184.216.34', 443);
  for (const n of [0, 10, 1000]) {
    const e = new FilterEngine({ clock: new VirtualClock(0), conntrack: false });
    e.load(parseIptablesSave(rules(n)));
    const p = new FilterInput();
    p.setDatagram(pkt);
    const ns = measure(() => {
      p.ctDone = false;
      e.run('OUTPUT', p);
    }, n >= 1000 ? 200_000 : 2_000_000, 1500);
    rows.push({ name: `filter OUTPUT, ${n} rules walked`, value: ns, unit: 'ns/packet' });
  }
  {
    const clock = new VirtualClock(0);
    const e = new FilterEngine({ clock, conntrack: false });
    e.load(parseIptablesSave('*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -m set --match-set big dst -j ACCEPT\nCOMMIT\n'));
    const s = e.sets.get('big')!;
    for (let i = 0; i < 10_000; i++) s.add(IpAddr.fromU32((0x5db8d800 + i * 7) >>> 0), 3600);
    s.add(IpAddr.parse('93.184.216.34'), 3600);
    const p = new FilterInput();
    p.setDatagram(pkt);
    const ns = measure(() => e.run('OUTPUT', p), 2_000_000, 1500);
    rows.push({ name: 'filter OUTPUT, set match in a 10,000-entry address set', value: ns, unit: 'ns/packet' });
  }
  {
    // Conntrack: an established TCP flow, each packet looked up (the string-keyed Map).
    const clock = new VirtualClock(0);
    const e = new FilterEngine({ clock });
    e.load(parseIptablesSave('*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\nCOMMIT\n'));
    const syn = new FilterInput();
    syn.setDatagram(pkt);
    e.run('OUTPUT', syn);
    const reply = new Uint8Array(40);
    emitIpv4({ src: IpAddr.parse('93.184.216.34'), dst: IpAddr.parse('10.0.0.1'), protocol: 6, ttl: 64, payloadLen: 20 }, reply, 0);
    reply.set([0x01, 0xbb, 0x9c, 0x40], 20);
    reply[32] = 0x50;
    reply[33] = 0x12;
    const p = new FilterInput();
    p.setDatagram(reply);
    e.run('PREROUTING', p);
    reply[33] = 0x10;
    p.setDatagram(reply);
    const ns = measure(() => {
      p.ctDone = false;
      e.run('INPUT', p);
    }, 1_000_000, 1500);
    rows.push({ name: 'filter INPUT with conntrack, established TCP flow', value: ns, unit: 'ns/packet' });
  }
  {
    const plain = stackRate(false);
    const filtered = stackRate(true);
    rows.push({ name: 'UDP between two Stacks, no filter', value: plain, unit: 'datagrams/s' });
    rows.push({
      name: 'UDP between two Stacks, engine on both (conntrack, stateful policy)',
      value: filtered,
      unit: 'datagrams/s',
      baseline: { name: 'no filter', value: plain },
      note: 'hooks copy each datagram once (NAT may rewrite it)',
    });
  }
  return rows;
}
