// The neighbor module inside real Stacks (src/netstack/stack.ts, nic.ts) joined by an
// in-process Wire, in virtual time: ARP and NDP frames go through the NIC's Ethernet framing and
// the IP layers, so this checks the NeighborHost contract end to end, not just the state machines.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { Stack } from '../../../src/netstack/stack.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import type { Nic } from '../../../src/netstack/nic.js';

const ip = (s: string) => IpAddr.parse(s);
const hexMac = (m: Uint8Array | null) => (m ? [...m].map((x) => x.toString(16).padStart(2, '0')).join(':') : 'null');

function twoStacks() {
  const clock = new VirtualClock(1_000_000);
  const wire = new Wire(clock, { latencyMs: 0.1 });
  const a = new Stack({ clock, rng: new SeededRng(11) });
  const b = new Stack({ clock, rng: new SeededRng(22) });
  const na = a.addNic(wire.port({ mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x0a) }), { name: 'a0', addresses: ['10.0.0.1/24'] });
  const nb = b.addNic(wire.port({ mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x0b) }), { name: 'b0', addresses: ['10.0.0.2/24'] });
  return { clock, wire, a, b, na, nb };
}

function ping(stack: Stack, family: 4 | 6, dst: string) {
  const ep = family === 4 ? stack.echo4.endpoint() : stack.echo6.endpoint();
  const msg = Uint8Array.of(family === 4 ? 8 : 128, 0, 0, 0, 0, 0, 0, 1, 0x68, 0x69);
  const r = ep.send(msg, ip(dst));
  return { ep, r };
}

function entry(nic: Nic, family: 4 | 6, addr: string) {
  const r = family === 4 ? nic.arp! : nic.ndp!;
  const e = r.entries().find((x) => x.ip.equals(ip(addr)));
  return e ? `${e.state} ${hexMac(e.mac)}` : 'none';
}

test('IPv4 ping between two stacks resolves by ARP through the real NICs', (t) => {
  const { clock, a, na, nb } = twoStacks();
  clock.advance(5000); // the NICs' RFC 5227 announcements and NDP start-up settle
  const { ep, r } = ping(a, 4, '10.0.0.2');
  t.is(r, 10);
  t.is(entry(na, 4, '10.0.0.2'), 'INCOMPLETE null');
  clock.advance(10);
  const reply = ep.recv();
  t.not(reply, 'EAGAIN');
  t.is(entry(na, 4, '10.0.0.2'), 'REACHABLE 52:54:00:00:00:0b');
  t.regex(entry(nb, 4, '10.0.0.1'), /^(STALE|DELAY|REACHABLE) 52:54:00:00:00:0a$/);
  t.is(a.stats.get('arp.tx.request'), 1);
});

test('IPv6: link-local addresses pass DAD, RSs go out, and a ping to a DAD-checked address resolves by NDP', (t) => {
  const { clock, a, b, na, nb } = twoStacks();
  nb.addAddress('fd00::b/64');
  na.addAddress('fd00::a/64');
  const tentative = () => nb.ipv6Addresses().filter((x) => x.tentative).map((x) => x.cidr.addr.key);
  t.deepEqual(tentative().sort(), ['fd00::b', 'fe80::5054:ff:fe00:b']);
  clock.advance(3000);
  t.deepEqual(tentative(), []);
  t.is(b.stats.get('ndp.dad.ok'), 2);
  t.true(a.stats.get('ndp.tx.rs') >= 1);
  const { ep, r } = ping(a, 6, 'fd00::b');
  t.is(r, 10);
  clock.advance(10);
  t.not(ep.recv(), 'EAGAIN');
  t.is(entry(na, 6, 'fd00::b'), 'REACHABLE 52:54:00:00:00:0b');
  t.is(a.stats.get('ndp.drop.bad-checksum'), 0);
  t.is(b.stats.get('ndp.drop.bad-checksum'), 0);
});

test('IPv6 DAD between stacks: the second claimant of an address loses it', (t) => {
  const { clock, a, b, na, nb } = twoStacks();
  na.addAddress('fd00::1/64');
  clock.advance(3000);
  nb.addAddress('fd00::1/64');
  clock.advance(3000);
  t.true(na.ipv6Addresses().some((x) => x.cidr.addr.key === 'fd00::1' && !x.tentative));
  t.false(nb.ipv6Addresses().some((x) => x.cidr.addr.key === 'fd00::1'));
  t.is(b.stats.get('ndp.dad.conflict'), 1);
  t.is(a.stats.get('ndp.dad.conflict'), 0);
});
