// Hostile input: mutated and truncated datagrams through every hook with conntrack, NAT and
// REJECT rules, and IPv6 extension headers in front of the transport header. Nothing throws;
// what cannot be parsed is INVALID or dropped.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { FilterEngine, isReject } from '../../../src/netstack/filter/engine.js';
import { FilterInput } from '../../../src/netstack/filter/packet.js';
import { buildRejectReply } from '../../../src/netstack/filter/reject.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { IpProto } from '../../../src/netstack/wire/ip-proto.js';
import { F, echo, icmpError, tcp, udp } from './packets.js';

const RULES = `*nat
-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080
-A PREROUTING -6 -p tcp --dport 80 -j DNAT --to-destination [fd00::2]:8080
-A POSTROUTING -j MASQUERADE
COMMIT
*filter
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -p udp --dport 9 -j REJECT
-A FORWARD -p tcp --dport 9 -j REJECT --reject-with tcp-reset
-A FORWARD -m set --match-set s dst -j ACCEPT
COMMIT
`;

test('3,000 mutated datagrams through PREROUTING, FORWARD, POSTROUTING: no exception', (t) => {
  const rng = new SeededRng(7);
  const e = new FilterEngine({ clock: new VirtualClock(0), nicAddress: (_n, f) => (f === 4 ? FilterInputAddr4 : FilterInputAddr6) });
  e.load(parseIptablesSave(RULES));
  const seeds = [
    tcp('198.51.100.7', 5555, '203.0.113.1', 80, F.SYN),
    tcp('2001:db8::7', 5555, '2001:db8::1', 80, F.SYN | F.ACK, { payload: new Uint8Array(40) }),
    udp('10.0.0.2', 5000, '8.8.8.8', 9),
    udp('fd00::2', 5000, '2001:db8::9', 53),
    echo('10.0.0.2', '1.1.1.1', 3),
    icmpError('8.8.8.8', '203.0.113.1', udp('203.0.113.1', 5000, '8.8.8.8', 53)),
    icmpError('2001:db8::9', '2001:db8::1', tcp('2001:db8::1', 80, '2001:db8::7', 5555, F.ACK), 1, 4),
  ];
  let parsed = 0;
  let rejects = 0;
  for (let i = 0; i < 3000; i++) {
    const seed = seeds[i % seeds.length];
    // A third truncated, a third with bytes flipped past the IP header, a third flipped anywhere.
    const mode = i % 3;
    const d = mode === 0 ? seed.slice(0, 20 + (rng.u32() % (seed.length - 19))) : seed.slice();
    const from = mode === 1 ? (d[0] >> 4 === 6 ? 40 : 20) : 0;
    const flips = 1 + (rng.u32() % 6);
    for (let k = 0; k < flips; k++) d[from + (rng.u32() % (d.length - from))] = rng.u32() & 0xff;
    t.notThrows(() => {
      for (const hook of ['PREROUTING', 'FORWARD', 'POSTROUTING'] as const) {
        const p = new FilterInput();
        if (!p.setDatagram(d)) return;
        parsed++;
        const v = e.run(hook, p);
        if (v !== 'accept') {
          if (isReject(v)) {
            rejects++;
            buildRejectReply(d, v.reject);
          }
          return;
        }
      }
    });
  }
  t.true(parsed > 1000, `parsed ${parsed}`);
  t.true(rejects > 0);
});

const FilterInputAddr4 = (() => {
  const p = new FilterInput();
  p.setDatagram(udp('203.0.113.1', 1, '1.1.1.1', 1));
  return p.src;
})();
const FilterInputAddr6 = (() => {
  const p = new FilterInput();
  p.setDatagram(udp('2001:db8::1', 1, '2001:db8::2', 1));
  return p.src;
})();

test('IPv6: the transport header is found after extension headers; a fragment header marks non-first fragments', (t) => {
  const base = udp('fd00::1', 5000, 'fd00::9', 53);
  // Insert a Hop-by-Hop header (8 bytes: next header UDP, length 0, PadN 4) after the fixed header.
  const withHbh = new Uint8Array(base.length + 8);
  withHbh.set(base.subarray(0, 40), 0);
  withHbh[6] = IpProto.HOPOPTS;
  withHbh[5] += 8;
  withHbh.set([IpProto.UDP, 0, 1, 4, 0, 0, 0, 0], 40);
  withHbh.set(base.subarray(40), 48);
  const p = new FilterInput();
  t.true(p.setDatagram(withHbh));
  t.is(p.protocol, IpProto.UDP);
  t.is(p.l4Offset, 48);
  t.is((p.transport[2] << 8) | p.transport[3], 53);
  // A fragment header with offset 8: not the first fragment.
  const frag = new Uint8Array(base.length + 8);
  frag.set(base.subarray(0, 40), 0);
  frag[6] = IpProto.FRAGMENT;
  frag[5] += 8;
  frag.set([IpProto.UDP, 0, 0, 8, 0, 0, 0, 1], 40);
  frag.set(base.subarray(40), 48);
  const q = new FilterInput();
  t.true(q.setDatagram(frag));
  t.true(q.fragment);
  t.is(q.protocol, IpProto.UDP);
  const e = new FilterEngine({ clock: new VirtualClock(0) });
  e.load(parseIptablesSave('*filter\n-A OUTPUT -p udp --dport 53 -j DROP\n-A OUTPUT -m conntrack --ctstate UNTRACKED -j REJECT\nCOMMIT\n'));
  const v = e.run('OUTPUT', q);
  t.true(v !== 'accept' && isReject(v), 'a non-first fragment: no port match, conntrack UNTRACKED');
  const r = new FilterInput();
  r.setDatagram(withHbh);
  t.not(e.run('OUTPUT', r), 'accept');
});
