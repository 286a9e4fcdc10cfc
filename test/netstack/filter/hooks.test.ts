// The engine behind the stack's FilterHooks, end to end over the in-process wire: a stateful
// INPUT policy on one stack, UDP both ways, a REJECT whose reply is handed to the owner.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { FilterEngine } from '../../../src/netstack/filter/engine.js';
import { createFilterHooks } from '../../../src/netstack/filter/hooks.js';
import { MemoryAuditSink } from '../../../src/netstack/filter/audit.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { FilterInput } from '../../../src/netstack/filter/packet.js';
import { pair, pattern, ip } from '../topo.js';

test('stateful INPUT through the stack hooks: replies to our flows arrive, new inbound flows are dropped and counted', (t) => {
  const { clock, a, b } = pair();
  const audit = new MemoryAuditSink();
  const engine = new FilterEngine({ clock, audit, auditDecisions: true });
  engine.load(
    parseIptablesSave(
      [
        '*filter',
        ':INPUT DROP [0:0]',
        '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
        '-A INPUT -p udp --dport 9999 -j REJECT --reject-with icmp-admin-prohibited',
        'COMMIT',
      ].join('\n'),
    ),
  );
  const rejects: Uint8Array[] = [];
  b.filter = createFilterHooks(engine, { nicName: (id) => b.nic(id)?.name, onReject: (r) => rejects.push(r) });

  const sa = a.udp.endpoint(4);
  t.is(sa.bind(null, 7000), undefined);
  const sb = b.udp.endpoint(4);
  t.is(sb.bind(null, 8000), undefined);

  // a -> b: NEW inbound, dropped by the policy.
  t.is(sa.send(pattern(10), { addr: ip('10.0.0.2'), port: 8000 }), 10);
  clock.advance(1);
  t.is(sb.recv(), 'EAGAIN');
  t.is(b.stats.get('filter.INPUT.dropped.policy'), 1);

  // b -> a, then a answers: ESTABLISHED, delivered.
  t.is(sb.send(pattern(5), { addr: ip('10.0.0.1'), port: 7000 }), 5);
  clock.advance(1);
  const got = sa.recv();
  t.true(typeof got !== 'string');
  t.is(sa.send(pattern(6), { addr: ip('10.0.0.2'), port: 8000 }), 6);
  clock.advance(1);
  const back = sb.recv();
  if (typeof back === 'string') return t.fail(back);
  t.is(back.data.length, 6);

  // REJECT: the stack drops, the adapter hands over an ICMP admin-prohibited reply.
  sa.send(pattern(3), { addr: ip('10.0.0.2'), port: 9999 });
  clock.advance(1);
  t.is(b.stats.get('filter.INPUT.dropped.reject'), 1);
  t.is(rejects.length, 1);
  const r = new FilterInput();
  t.true(r.setDatagram(rejects[0]));
  t.is(r.src.key, '10.0.0.2');
  t.is(r.dst.key, '10.0.0.1');
  t.is(r.transport[0], 3);
  t.is(r.transport[1], 13);

  // The decision log: one drop by policy, one reject, and accepted NEW flows at OUTPUT.
  const verdicts = audit.records.map((x) => `${x.hook}:${x.verdict}:${x.rule}`);
  t.true(verdicts.includes('INPUT:drop:filter/INPUT:policy'));
  t.true(verdicts.includes('INPUT:reject:filter/INPUT#2'));
  t.true(verdicts.includes('OUTPUT:accept:filter/OUTPUT:policy'));
  t.is(engine.conntrack!.size, 1, 'only the flow b started is tracked');
});

test('the adapter steps over IPv6 extension headers in the datagram the stack hands over', (t) => {
  const engine = new FilterEngine({ clock: new VirtualClock(0) });
  engine.load(parseIptablesSave('*filter\n-A PREROUTING -p udp --dport 53 -j DROP\nCOMMIT\n'.replace('*filter', '*raw')));
  const hooks = createFilterHooks(engine);
  // IPv6 header, Hop-by-Hop (8 bytes, next header UDP) + UDP header to port 53.
  const packet = new Uint8Array(56);
  packet[0] = 0x60;
  packet[5] = 16;
  packet[6] = 0;
  packet[7] = 64;
  packet.set(ip('fd00::1').bytes, 8);
  packet.set(ip('fd00::2').bytes, 24);
  packet.set(Uint8Array.of(17, 0, 1, 4, 0, 0, 0, 0, 0x13, 0x88, 0, 53, 0, 8, 0, 0), 40);
  const transport = packet.subarray(40);
  const pkt = { hook: 'PREROUTING' as const, family: 6 as const, src: ip('fd00::1'), dst: ip('fd00::2'), protocol: 0, transport, fragment: false, length: 56, packet };
  t.deepEqual(hooks.PREROUTING!(pkt), { drop: 'rule', rule: engine.tables.raw.chain('PREROUTING').rules[0] });
  transport[11] = 54;
  t.is(hooks.PREROUTING!(pkt), 'accept');
});

test('without the datagram (older callers) the adapter matches on the header fields it was given', (t) => {
  const engine = new FilterEngine({ clock: new VirtualClock(0) });
  engine.load(parseIptablesSave('*filter\n-A INPUT -p udp --dport 53 -j DROP\nCOMMIT\n'));
  const hooks = createFilterHooks(engine);
  const transport = Uint8Array.of(0x13, 0x88, 0, 53, 0, 8, 0, 0);
  const pkt = { hook: 'INPUT' as const, family: 6 as const, src: ip('fd00::1'), dst: ip('fd00::2'), protocol: 17, transport, fragment: false, length: 48 };
  t.deepEqual(hooks.INPUT!({ ...pkt, hook: 'INPUT' }), { drop: 'rule', rule: engine.tables.filter.chain('INPUT').rules[0] });
  transport[3] = 54;
  t.is(hooks.INPUT!({ ...pkt, hook: 'INPUT' }), 'accept');
});

test('the mark set at PREROUTING is seen at INPUT (it travels in the packet context)', (t) => {
  const { clock, a, b } = pair();
  const engine = new FilterEngine({ clock });
  engine.load(parseIptablesSave('*mangle\n-A PREROUTING -p udp --dport 7 -j MARK --set-mark 5\nCOMMIT\n*filter\n-A INPUT -m mark --mark 5 -j DROP\nCOMMIT\n'));
  b.filter = createFilterHooks(engine, { stack: b });
  const r7 = b.udp.endpoint(4);
  r7.bind(null, 7);
  const r8 = b.udp.endpoint(4);
  r8.bind(null, 8);
  const s = a.udp.endpoint(4);
  s.send(pattern(4), { addr: ip('10.0.0.2'), port: 7 });
  s.send(pattern(4), { addr: ip('10.0.0.2'), port: 8 });
  clock.advance(1);
  t.is(r7.recv(), 'EAGAIN');
  t.true(typeof r8.recv() !== 'string');
  t.is(engine.tables.filter.chain('INPUT').rules[0].counters.packets, 1);
});
