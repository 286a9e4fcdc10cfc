// Address sets: TTL expiry on the injected clock, refresh semantics, size limit, 10,000 entries.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { AddressSet } from '../../../src/netstack/filter/addrset.js';
import { FilterEngine } from '../../../src/netstack/filter/engine.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { input, ip, tcp } from './packets.js';

test('entries expire after their TTL on the stack clock; a permanent entry stays', (t) => {
  const clock = new VirtualClock(0);
  const s = new AddressSet('x', clock);
  s.add(ip('10.0.0.1'), 30);
  s.add(ip('fd00::1'), 0);
  t.true(s.has(ip('10.0.0.1')));
  t.is(s.ttlOf(ip('10.0.0.1')), 30);
  clock.advance(29_999);
  t.true(s.has(ip('10.0.0.1')));
  clock.advance(1);
  t.false(s.has(ip('10.0.0.1')));
  t.is(s.size, 1, 'the expired entry was reclaimed on lookup');
  t.true(s.has(ip('fd00::1')));
  t.is(s.ttlOf(ip('fd00::1')), Infinity);
  clock.advance(1e9);
  t.true(s.has(ip('fd00::1')));
});

test('a refresh extends but never shortens an entry; sweep reclaims in bounded steps', (t) => {
  const clock = new VirtualClock(0);
  const s = new AddressSet('x', clock, 60);
  s.add(ip('10.0.0.1'));
  s.add(ip('10.0.0.1'), 10);
  t.is(s.ttlOf(ip('10.0.0.1')), 60);
  s.add(ip('10.0.0.1'), 300);
  t.is(s.ttlOf(ip('10.0.0.1')), 300);
  for (let i = 0; i < 10; i++) s.add(IpAddr.fromU32(0x0b000000 + i), 5);
  clock.advance(5000);
  t.is(s.sweep(4), 4);
  t.is(s.sweep(), 6);
  t.is(s.size, 1);
  t.deepEqual([...s.members()].map((a) => a.key), ['10.0.0.1']);
});

test('maxElements refuses additions when full of live entries', (t) => {
  const clock = new VirtualClock(0);
  const s = new AddressSet('x', clock, 0, 2);
  t.true(s.add(ip('10.0.0.1'), 10));
  t.true(s.add(ip('10.0.0.2')));
  t.false(s.add(ip('10.0.0.3')));
  clock.advance(10_000);
  t.true(s.add(ip('10.0.0.3')), 'an expired entry made room');
});

test('a 10,000-entry set: every member matches through a rule, non-members do not, half expire on time', (t) => {
  const clock = new VirtualClock(0);
  const e = new FilterEngine({ clock, conntrack: false });
  e.load(parseIptablesSave('*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -m set --match-set big dst -j ACCEPT\nCOMMIT\n'));
  const s = e.sets.get('big')!;
  for (let i = 0; i < 10_000; i++) {
    const a = i % 2 ? IpAddr.fromU32(0x0a000000 + i) : IpAddr.parse(`2001:db8::${i.toString(16)}`);
    s.add(a, i < 5000 ? 60 : 600);
  }
  t.is(s.size, 10_000);
  let accepted = 0;
  for (let i = 0; i < 10_000; i += 97) {
    const dst = i % 2 ? IpAddr.fromU32(0x0a000000 + i).key : `2001:db8::${i.toString(16)}`;
    const src = i % 2 ? '10.255.0.1' : 'fd00::1';
    if (e.run('OUTPUT', input(tcp(src, 1, dst, 443, 2))) === 'accept') accepted++;
  }
  t.is(accepted, Math.ceil(10_000 / 97));
  t.not(e.run('OUTPUT', input(tcp('10.255.0.1', 1, '10.1.0.0', 443, 2))), 'accept');
  clock.advance(60_000);
  t.false(s.has(IpAddr.fromU32(0x0a000000 + 1)));
  t.true(s.has(IpAddr.fromU32(0x0a000000 + 5001)));
  s.sweep();
  t.is(s.size, 5000);
});
