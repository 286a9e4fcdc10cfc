import test from 'ava';
import { routed, ip, pattern } from './topo.js';
import { PmtuCache } from '../../src/netstack/pmtu.js';
import { isNetError } from '../../src/netstack/errors.js';

test('IPv6 path MTU learned from a router with a smaller MTU on its far side (RFC 8201)', (t) => {
  const { clock, a, r, b } = routed({ farMtu: 1280 });
  const srv = b.udp.endpoint(6);
  srv.bind(null, 7);
  const c = a.udp.endpoint(6);
  c.recvErr = true;
  const dst = ip('fd02::1');
  const before = a.route(dst);
  if (isNetError(before)) return t.fail(before);
  t.is(before.mtu, 1500);
  t.is(c.send(pattern(1400), { addr: dst, port: 7 }), 1400);
  clock.advance(1);
  t.is(srv.recv(), 'EAGAIN', 'the first datagram died at the router');
  t.is(r.stats.get('ipv6.dropped.too-big'), 1);
  const after = a.route(dst);
  if (isNetError(after)) return t.fail(after);
  t.is(after.mtu, 1280, 'learned from packet too big');
  const e = c.readErrorQueue();
  t.is(e?.kind, 'fragmentation-needed');
  t.is(e?.mtu, 1280);
  // The next one is fragmented by the source to fit and arrives.
  t.is(c.send(pattern(1400), { addr: dst, port: 7 }), 1400);
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail('second datagram lost');
  t.deepEqual(d.data, pattern(1400));
  t.true(a.stats.get('ipv6.frag.created') >= 2);
  // It expires (RFC 8201 §4: probe again later; Linux mtu_expires 10 min).
  clock.advance(600_001);
  const later = a.route(dst);
  if (isNetError(later)) return t.fail(later);
  t.is(later.mtu, 1500);
});

test('IPv4 path MTU learned from fragmentation needed (RFC 1191) with DF set', (t) => {
  const { clock, a, r, b } = routed({ farMtu: 1000 });
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  const c = a.udp.endpoint(4);
  c.dontFragment = true;
  c.recvErr = true;
  const dst = ip('10.0.2.1');
  t.is(c.send(pattern(1400), { addr: dst, port: 7 }), 1400);
  clock.advance(1);
  t.is(r.stats.get('ipv4.dropped.frag-needed'), 1);
  const rt = a.route(dst);
  if (isNetError(rt)) return t.fail(rt);
  t.is(rt.mtu, 1000);
  t.is(c.readErrorQueue()?.mtu, 1000);
  t.is(c.send(pattern(1400), { addr: dst, port: 7 }), 'EMSGSIZE', 'DF and too big for the path: refused at once');
  t.is(c.send(pattern(900), { addr: dst, port: 7 }), 900);
  c.dontFragment = false;
  t.is(c.send(pattern(1400), { addr: dst, port: 7 }), 1400);
  clock.advance(1);
  const got = [srv.recv(), srv.recv()];
  t.true(got.every((g) => g !== 'EAGAIN'));
  t.is(a.stats.get('ipv4.frag.created'), 2, 'the source fragmented to the learned MTU');
  t.is(r.stats.get('ipv4.frag.created'), 0, 'so the router had nothing to cut');
});

test('PmtuCache: only decreases, clamps to the family minimum, expires', (t) => {
  let now = 0;
  const c = new PmtuCache(() => now, { expiryMs: 1000 });
  const v4 = ip('192.0.2.1');
  const v6 = ip('2001:db8::1');
  t.is(c.learn(v4, 1400, 1500), 1400);
  t.is(c.learn(v4, 1450, 1500), 1400, 'no increase from a message');
  t.is(c.learn(v4, 20, 1500), 68, 'RFC 791 floor');
  t.is(c.learn(v6, 600, 1500), 1280, 'RFC 8200 floor');
  t.is(c.learn(ip('192.0.2.2'), 9000, 1500), 1500, 'never above the link');
  t.is(c.get(ip('192.0.2.2')), null);
  now = 1001;
  t.is(c.get(v4), null);
});
