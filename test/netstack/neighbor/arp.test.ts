// ARP over a virtual LAN in virtual time: resolution with queued packets, overflow, failure,
// NUD ageing and unicast re-verification, gratuitous ARP, malformed input. Frames are the exact
// bytes createArp emitted.

import test from 'ava';
import { FakeHost, Lan, ETH_ARP, ip, mac, macOf, macText, stateOf } from './lan.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function pair(opts?: Parameters<FakeHost['withArp']>[1]) {
  const lan = new Lan();
  const a = new FakeHost(lan, 1, '02:00:00:00:00:01').withArp('10.0.0.1/24', opts);
  const b = new FakeHost(lan, 2, '02:00:00:00:00:02').withArp('10.0.0.2/24', opts);
  return { lan, a, b };
}

test('resolution queues packets and releases them in order; request and reply are exact RFC 826 frames', (t) => {
  const { lan, a, b } = pair();
  t.is(a.sendIp4(ip('10.0.0.2'), 'p1'), 'queued');
  t.is(a.sendIp4(ip('10.0.0.2'), 'p2'), 'queued');
  t.is(a.sendIp4(ip('10.0.0.2'), 'p3'), 'queued');
  t.is(stateOf(a.arp!, '10.0.0.2'), 'INCOMPLETE');
  // One request only, however many packets wait.
  t.is(a.sentFrames.length, 1);
  const req = a.sentFrames[0];
  t.is(macText(req.dstMac), 'ff:ff:ff:ff:ff:ff');
  t.is(req.etherType, ETH_ARP);
  t.is(hex(req.payload), '0001' + '0800' + '06' + '04' + '0001' + '020000000001' + '0a000001' + '000000000000' + '0a000002');

  lan.advance(10);
  t.deepEqual(b.received, ['p1', 'p2', 'p3']);
  const reply = b.sentFrames[0];
  t.is(macText(reply.dstMac), '02:00:00:00:00:01');
  t.is(hex(reply.payload), '0001080006040002' + '020000000002' + '0a000002' + '020000000001' + '0a000001');
  // A asked and got an answer addressed to it: REACHABLE. B learned A from a request aimed at
  // it (RFC 826 "add the triple"): STALE, like Linux's neigh_event_ns.
  t.is(stateOf(a.arp!, '10.0.0.2'), 'REACHABLE');
  t.is(macOf(a.arp!, '10.0.0.2'), '02:00:00:00:00:02');
  t.is(stateOf(b.arp!, '10.0.0.1'), 'STALE');
  t.is(macOf(b.arp!, '10.0.0.1'), '02:00:00:00:00:01');
  t.is(a.sendIp4(ip('10.0.0.2'), 'p4'), 'sent');
  lan.advance(10);
  t.deepEqual(b.received, ['p1', 'p2', 'p3', 'p4']);
  t.is(a.sentFrames.filter((f) => f.etherType === ETH_ARP).length, 1);
});

test('a full queue fails the oldest packet and keeps the newest', (t) => {
  const { lan, a, b } = pair({ queueLength: 3 });
  const failed: string[] = [];
  for (const tag of ['p1', 'p2', 'p3', 'p4', 'p5']) a.sendIp4(ip('10.0.0.2'), tag, () => failed.push(tag));
  t.deepEqual(failed, ['p1', 'p2']);
  t.is(a.n('arp.drop.queue-overflow'), 2);
  lan.advance(10);
  t.deepEqual(b.received, ['p3', 'p4', 'p5']);
});

test('no reply: 3 broadcast requests 1 s apart, then every queued packet fails and the entry goes', (t) => {
  const { lan, a } = pair();
  const failed: string[] = [];
  const t0 = lan.clock.now();
  a.sendIp4(ip('10.0.0.9'), 'x1', () => failed.push('x1'));
  a.sendIp4(ip('10.0.0.9'), 'x2', () => failed.push('x2'));
  lan.advance(2999);
  t.deepEqual(failed, []);
  const reqs = () => a.sentFrames.filter((f) => f.etherType === ETH_ARP);
  t.is(reqs().length, 3);
  t.true(reqs().every((f) => macText(f.dstMac) === 'ff:ff:ff:ff:ff:ff'));
  lan.advance(1);
  t.is(lan.clock.now() - t0, 3000);
  t.deepEqual(failed, ['x1', 'x2']);
  t.is(a.n('arp.resolve-failed'), 1);
  t.is(stateOf(a.arp!, '10.0.0.9'), 'none');
  // A later packet starts over.
  a.sendIp4(ip('10.0.0.9'), 'x3', () => failed.push('x3'));
  t.is(reqs().length, 4);
  lan.advance(10_000);
  t.is(reqs().length, 6);
  t.deepEqual(failed, ['x1', 'x2', 'x3']);
});

test('REACHABLE ages to STALE; use moves it to DELAY, then PROBE sends unicast requests and a reply makes it REACHABLE', (t) => {
  const { lan, a, b } = pair();
  a.sendIp4(ip('10.0.0.2'), 'p1');
  lan.advance(10);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'REACHABLE');
  // ReachableTime is 0.5..1.5 x 30 s.
  lan.advance(45_000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'STALE');
  const before = a.sentFrames.length;
  t.is(a.sendIp4(ip('10.0.0.2'), 'p2'), 'sent'); // a STALE entry is still used
  t.is(stateOf(a.arp!, '10.0.0.2'), 'DELAY');
  lan.advance(4999);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'DELAY');
  lan.advance(1);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'PROBE');
  const probe = a.sentFrames[a.sentFrames.length - 1];
  t.is(a.sentFrames.length, before + 2);
  t.is(probe.etherType, ETH_ARP);
  t.is(macText(probe.dstMac), '02:00:00:00:00:02'); // RFC 1122 §2.3.2.1: unicast re-verification
  lan.advance(10);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'REACHABLE');
  t.deepEqual(b.received, ['p1', 'p2']);
});

test('a neighbor that went away: PROBE sends 3 unicast requests, then the entry is deleted', (t) => {
  const { lan, a } = pair();
  a.sendIp4(ip('10.0.0.2'), 'p1');
  lan.advance(10);
  lan.filter = (f) => f.srcMac[5] === 2; // B is gone
  lan.advance(45_000);
  a.sendIp4(ip('10.0.0.2'), 'p2');
  lan.advance(5000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'PROBE');
  lan.advance(2999);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'PROBE');
  const probes = a.sentFrames.filter((f) => f.etherType === ETH_ARP && macText(f.dstMac) === '02:00:00:00:00:02');
  t.is(probes.length, 3);
  lan.advance(1);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'none');
  t.is(a.n('arp.nud-failed'), 1);
});

test('unused STALE entries are forgotten after the stale timeout', (t) => {
  const { lan, a } = pair({ staleTimeoutMs: 60_000 });
  a.sendIp4(ip('10.0.0.2'), 'p1');
  lan.advance(10);
  lan.advance(45_000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'STALE');
  lan.advance(15_000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'STALE');
  lan.advance(60_000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'none');
});

test('gratuitous ARP (RFC 5227 announce) moves a peer cache to the new MAC; uninvolved hosts learn nothing', (t) => {
  const { lan, a, b } = pair();
  const c = new FakeHost(lan, 3, '02:00:00:00:00:03').withArp('10.0.0.3/24');
  a.sendIp4(ip('10.0.0.2'), 'p1');
  lan.advance(10);
  t.is(macOf(a.arp!, '10.0.0.2'), '02:00:00:00:00:02');
  // 10.0.0.2 moves to a new NIC (failover): it announces itself.
  lan.hosts.splice(lan.hosts.indexOf(b), 1);
  const b2 = new FakeHost(lan, 4, '02:00:00:00:00:22').withArp('10.0.0.2/24');
  b2.arp!.announce(ip('10.0.0.2'));
  const ann = b2.sentFrames[0];
  t.is(macText(ann.dstMac), 'ff:ff:ff:ff:ff:ff');
  t.is(hex(ann.payload), '0001080006040001' + '020000000022' + '0a000002' + '000000000000' + '0a000002');
  lan.advance(10);
  t.is(macOf(a.arp!, '10.0.0.2'), '02:00:00:00:00:22');
  t.is(stateOf(a.arp!, '10.0.0.2'), 'STALE');
  t.is(stateOf(c.arp!, '10.0.0.2'), 'none');
  // ANNOUNCE_NUM = 2, ANNOUNCE_INTERVAL = 2 s.
  lan.advance(1989);
  t.is(b2.sentFrames.length, 1);
  lan.advance(1);
  t.is(b2.sentFrames.length, 2);
  lan.advance(10_000);
  t.is(b2.sentFrames.length, 2);
  a.sendIp4(ip('10.0.0.2'), 'after-move');
  lan.advance(10);
  t.deepEqual(b2.received, ['after-move']);
});

test('someone else announcing one of our addresses: counted, and defended once per 10 s (RFC 5227 §2.4 b)', (t) => {
  const { lan, a, b } = pair();
  const intruder = new FakeHost(lan, 5, '02:00:00:00:00:66').withArp('10.0.0.66/24');
  b.sendIp4(ip('10.0.0.1'), 'before');
  lan.advance(10);
  intruder.arp!.announce(ip('10.0.0.1')); // two announcements, 2 s apart
  lan.advance(1);
  t.is(a.n('arp.conflict'), 1);
  t.is(stateOf(a.arp!, '10.0.0.1'), 'none');
  // A answered with its own announcement at once, so B's cache points back at A.
  const defence = a.sentFrames[a.sentFrames.length - 1];
  t.is(macText(defence.dstMac), 'ff:ff:ff:ff:ff:ff');
  t.is(hex(defence.payload), '0001080006040001' + '020000000001' + '0a000001' + '000000000000' + '0a000001');
  lan.advance(10);
  t.is(macOf(b.arp!, '10.0.0.1'), '02:00:00:00:00:01');
  lan.advance(5000);
  t.is(a.n('arp.conflict'), 2);
  t.is(a.n('arp.tx.defend'), 1); // the second conflict fell inside DEFEND_INTERVAL
});

test('the cache is bounded: the oldest STALE entry makes room, and nothing else is evicted', (t) => {
  const { a } = pair({ maxEntries: 3 });
  const learnFrom = (last: number) =>
    a.arp!.handleArp(Buffer.from('0001080006040001' + `0200000000${last.toString(16).padStart(2, '0')}` + `0a0000${last.toString(16).padStart(2, '0')}` + '000000000000' + '0a000001', 'hex'));
  learnFrom(0x10);
  learnFrom(0x11);
  a.arp!.addStatic(ip('10.0.0.99'), mac('02:00:00:00:00:99'));
  learnFrom(0x12); // evicts 10.0.0.16, the oldest STALE
  t.deepEqual(a.arp!.entries().map((e) => e.ip.key).sort(), ['10.0.0.17', '10.0.0.18', '10.0.0.99']);
  t.is(a.n('arp.cache-evicted'), 1);
  // Only PERMANENT and INCOMPLETE left: a new resolution fails at once.
  a.arp!.remove!(ip('10.0.0.17'));
  a.arp!.remove!(ip('10.0.0.18'));
  const failed: string[] = [];
  a.sendIp4(ip('10.0.0.50'), 'r1', () => failed.push('r1'));
  a.sendIp4(ip('10.0.0.51'), 'r2', () => failed.push('r2'));
  a.sendIp4(ip('10.0.0.52'), 'r3', () => failed.push('r3'));
  t.deepEqual(failed, ['r3']);
  t.is(a.n('arp.drop.cache-full'), 1);
});

test('an RFC 5227 probe (sender 0.0.0.0) for our address is answered and teaches nothing', (t) => {
  const { lan, a, b } = pair();
  const probe = Buffer.from('0001080006040001' + '020000000002' + '00000000' + '000000000000' + '0a000001', 'hex');
  a.arp!.handleArp(probe);
  t.is(stateOf(a.arp!, '0.0.0.0'), 'none');
  t.is(a.sentFrames.length, 1);
  t.is(macText(a.sentFrames[0].dstMac), '02:00:00:00:00:02');
  t.is(hex(a.sentFrames[0].payload), '0001080006040002' + '020000000001' + '0a000001' + '020000000002' + '00000000');
  lan.advance(10);
  t.is(b.n('arp.ignored.not-for-us'), 1);
});

test('static entries answer at once and are not overridden by ARP traffic', (t) => {
  const { lan, a, b } = pair();
  a.arp!.addStatic(ip('10.0.0.2'), mac('02:00:00:00:00:99'));
  t.is(a.sendIp4(ip('10.0.0.2'), 'p1'), 'sent');
  t.is(a.sentFrames.length, 1);
  b.arp!.announce(ip('10.0.0.2'));
  lan.advance(5000);
  t.is(macOf(a.arp!, '10.0.0.2'), '02:00:00:00:00:99');
  t.is(stateOf(a.arp!, '10.0.0.2'), 'PERMANENT');
  lan.advance(600_000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'PERMANENT');
});

test('confirm() from an upper layer keeps an entry REACHABLE', (t) => {
  const { lan, a } = pair();
  a.sendIp4(ip('10.0.0.2'), 'p1');
  lan.advance(10);
  for (let i = 0; i < 12; i++) {
    lan.advance(10_000);
    a.arp!.confirm(ip('10.0.0.2'));
    t.is(stateOf(a.arp!, '10.0.0.2'), 'REACHABLE');
  }
  lan.advance(45_000);
  t.is(stateOf(a.arp!, '10.0.0.2'), 'STALE');
  t.is(a.sentFrames.length, 2); // one request, one data frame: no probing while confirmed
});

test('broadcast and multicast destinations map without ARP (RFC 1112 §6.4)', (t) => {
  const { a } = pair();
  const r = (s: string) => macText(a.arp!.resolve(ip(s), () => t.fail(), () => t.fail()));
  t.is(r('255.255.255.255'), 'ff:ff:ff:ff:ff:ff');
  t.is(r('10.0.0.255'), 'ff:ff:ff:ff:ff:ff');
  t.is(r('224.0.0.251'), '01:00:5e:00:00:fb');
  t.is(r('239.255.128.1'), '01:00:5e:7f:80:01');
  t.is(a.sentFrames.length, 0);
  // Not a broadcast: resolved like any neighbor.
  t.is(a.arp!.resolve(ip('10.0.0.254'), () => {}, () => {}), null);
  t.is(a.sentFrames.length, 1);
});

test('malformed ARP is counted per reason and never throws', (t) => {
  const { a } = pair();
  const good = '0001080006040001' + '020000000002' + '0a000002' + '000000000000' + '0a000001';
  const cases: [string, string][] = [
    [good.slice(0, 54), 'arp.drop.truncated'],
    ['0006' + good.slice(4), 'arp.drop.unsupported'], // IEEE 802 hardware type
    [good.slice(0, 8) + '0804' + good.slice(12), 'arp.drop.unsupported'], // hlen 8
    [good.slice(0, 12) + '0003' + good.slice(16), 'arp.drop.bad-op'],
    [good.slice(0, 16) + 'ffffffffffff' + good.slice(28), 'arp.drop.bad-sender-mac'],
    [good.slice(0, 16) + '020000000001' + good.slice(28), 'arp.drop.own-sender'],
    [good.slice(0, 28) + 'e00000fb' + good.slice(36), 'arp.drop.bad-sender-ip'],
    [good.slice(0, 28) + '0a0000ff' + good.slice(36), 'arp.drop.bad-sender-ip'],
  ];
  for (const [h, reason] of cases) {
    t.notThrows(() => a.arp!.handleArp(Buffer.from(h, 'hex')));
    t.true(a.n(reason) >= 1, reason);
  }
  t.is(a.arp!.entries().length, 0);
  t.is(a.sentFrames.length, 0);
  // Trailing Ethernet padding is fine.
  a.arp!.handleArp(Buffer.from(good + '00'.repeat(18), 'hex'));
  t.is(stateOf(a.arp!, '10.0.0.2'), 'STALE');
  t.is(a.sentFrames.length, 1);
});

test('stop() fails queued packets and silences the resolver', (t) => {
  const { lan, a } = pair();
  const failed: string[] = [];
  a.sendIp4(ip('10.0.0.9'), 'x', () => failed.push('x'));
  a.arp!.stop!();
  t.deepEqual(failed, ['x']);
  lan.advance(10_000);
  t.is(a.sentFrames.length, 1);
});

test('carrier down flushes learned entries (static ones stay); carrier up announces our addresses', (t) => {
  const { lan, a } = pair();
  a.sendIp4(ip('10.0.0.2'), 'p1');
  lan.advance(10);
  a.arp!.addStatic(ip('10.0.0.7'), mac('02:00:00:00:00:07'));
  a.arp!.linkStateChanged!(false);
  t.deepEqual(a.arp!.entries().map((e) => e.ip.key), ['10.0.0.7']);
  const before = a.sentFrames.length;
  a.arp!.linkStateChanged!(true);
  const ann = a.sentFrames[before];
  t.is(hex(ann.payload), '0001080006040001' + '020000000001' + '0a000001' + '000000000000' + '0a000001');
});
