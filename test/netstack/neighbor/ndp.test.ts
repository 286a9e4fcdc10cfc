// IPv6 Neighbor Discovery over a virtual LAN in virtual time: address resolution and NUD
// (RFC 4861 §7), DAD (RFC 4862 §5.4), RS/RA with SLAAC and default routers (RFC 4861 §6.3,
// RFC 4862 §5.5), malformed input. ICMPv6 messages are the exact bytes createNdp emitted.

import test from 'ava';
import { FakeHost, Lan, ip, mac, macOf, macText, stateOf, type Ip6Packet } from './lan.js';
import { buildNa, buildNs, buildRa, fillIcmpv6Checksum } from '../../../src/netstack/neighbor/codec.js';
import { linkLocalFromMac, solicitedNode, type NdpOptions } from '../../../src/netstack/neighbor/index.js';
import { verifyTransportChecksum } from '../../../src/netstack/wire/checksum.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const MAC_A = '52:54:00:12:34:56';
const LL_A = 'fe80::5054:ff:fe12:3456';
const MAC_B = '52:54:00:ab:cd:ef';
const LL_B = 'fe80::5054:ff:feab:cdef';

/** Two hosts with their link-local addresses already valid (no DAD), ready to talk. */
function pair(opts?: NdpOptions) {
  const lan = new Lan();
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp(opts);
  const b = new FakeHost(lan, 2, MAC_B).addV6(`${LL_B}/64`).withNdp(opts);
  const got: string[] = [];
  b.onIp6 = (p) => {
    if (p.nextHeader === 253) got.push(new TextDecoder().decode(p.payload));
  };
  const send = (tag: string) =>
    a.sendIpv6({ src: ip(LL_A), dst: ip(LL_B), hopLimit: 64, nextHeader: 253, payload: new TextEncoder().encode(tag) });
  return { lan, a, b, got, send };
}

function ndpSent(h: FakeHost, type: number): Ip6Packet[] {
  return h.sentIp6.filter((p) => p.nextHeader === 58 && p.payload[0] === type);
}

test('golden: modified EUI-64 link-local (RFC 4291 App. A) and its solicited-node group', (t) => {
  t.is(linkLocalFromMac(mac('52:54:00:12:34:56')).key, 'fe80::5054:ff:fe12:3456');
  // U/L bit already set in the MAC flips to 0.
  t.is(linkLocalFromMac(mac('02:00:00:00:00:01')).key, 'fe80::ff:fe00:1');
  t.is(solicitedNode(ip('fe80::5054:ff:fe12:3456')).key, 'ff02::1:ff12:3456');
  t.is(solicitedNode(ip('2001:db8::1:2:3')).key, 'ff02::1:ff02:3');
});

test('golden NS: multicast to the solicited-node group (33:33:ff:..), SLLA option, hop limit 255', (t) => {
  const { lan, a } = pair();
  t.is(a.ndp!.resolve(ip('fe80::1'), () => {}, () => {}), null);
  t.is(a.sentIp6.length, 1);
  const ns = a.sentIp6[0];
  t.is(ns.src.key, LL_A);
  t.is(ns.dst.key, 'ff02::1:ff00:1');
  t.is(ns.hopLimit, 255);
  t.is(ns.nextHeader, 58);
  t.is(
    hex(ns.payload),
    '87' + '00' + '7222' + '00000000' + 'fe800000000000000000000000000001' + '01' + '01' + '525400123456',
  );
  t.true(verifyTransportChecksum(ns.src, ns.dst, 58, ns.payload));
  t.is(macText(lan.log[0].dstMac), '33:33:ff:00:00:01');
});

test('resolution: NS/NA exchange, queued packets released in order, both caches filled', (t) => {
  const { lan, a, b, got, send } = pair();
  send('p1');
  send('p2');
  send('p3');
  t.is(stateOf(a.ndp!, LL_B), 'INCOMPLETE');
  t.is(ndpSent(a, 135).length, 1);
  lan.advance(10);
  t.deepEqual(got, ['p1', 'p2', 'p3']);
  t.is(stateOf(a.ndp!, LL_B), 'REACHABLE'); // solicited NA
  t.is(macOf(a.ndp!, LL_B), MAC_B);
  // B's reply: solicited, override, TLLA; sent to A's unicast address (learned from the SLLA).
  const na = ndpSent(b, 136)[0];
  t.is(na.src.key, LL_B);
  t.is(na.dst.key, LL_A);
  t.is(hex(na.payload.subarray(4)), '60000000' + 'fe80000000000000505400fffeabcdef' + '0201' + '525400abcdef');
  t.true(verifyTransportChecksum(na.src, na.dst, 58, na.payload));
  // §7.2.3: B learned A as STALE from the NS, and sending the NA through it started DELAY.
  t.is(stateOf(b.ndp!, LL_A), 'DELAY');
  t.is(macOf(b.ndp!, LL_A), MAC_A);
  // DELAY -> PROBE: B verifies A by unicast, A answers, B is REACHABLE.
  lan.advance(5000);
  t.is(stateOf(b.ndp!, LL_A), 'REACHABLE');
  const probe = ndpSent(b, 135)[0];
  t.is(probe.dst.key, LL_A);
  send('p4');
  lan.advance(10);
  t.deepEqual(got, ['p1', 'p2', 'p3', 'p4']);
});

test('NUD: STALE -> DELAY -> PROBE -> REACHABLE on a solicited unicast NA', (t) => {
  const { lan, a, got, send } = pair();
  send('p1');
  lan.advance(10);
  t.is(stateOf(a.ndp!, LL_B), 'REACHABLE');
  lan.advance(45_000);
  t.is(stateOf(a.ndp!, LL_B), 'STALE');
  send('p2');
  t.is(stateOf(a.ndp!, LL_B), 'DELAY');
  lan.advance(4999);
  t.is(stateOf(a.ndp!, LL_B), 'DELAY');
  const nsBefore = ndpSent(a, 135).length;
  lan.advance(1);
  t.is(stateOf(a.ndp!, LL_B), 'PROBE');
  const probes = ndpSent(a, 135);
  t.is(probes.length, nsBefore + 1);
  const p = probes[probes.length - 1];
  t.is(p.dst.key, LL_B); // unicast, not the solicited-node group
  t.is(macText(lan.log[lan.log.length - 1].dstMac), MAC_B);
  lan.advance(10);
  t.is(stateOf(a.ndp!, LL_B), 'REACHABLE');
  t.deepEqual(got, ['p1', 'p2']);
});

test('NUD: an unanswered PROBE is deleted after MAX_UNICAST_SOLICIT probes', (t) => {
  const { lan, a, send } = pair();
  send('p1');
  lan.advance(10);
  lan.filter = (f) => macText(f.srcMac) === MAC_B;
  lan.advance(45_000);
  send('p2');
  lan.advance(5000);
  t.is(stateOf(a.ndp!, LL_B), 'PROBE');
  lan.advance(2999);
  t.is(a.sentIp6.filter((p) => p.payload[0] === 135 && p.dst.key === LL_B).length, 3);
  t.is(stateOf(a.ndp!, LL_B), 'PROBE');
  lan.advance(1);
  t.is(stateOf(a.ndp!, LL_B), 'none');
  t.is(a.n('ndp.nud-failed'), 1);
});

test('resolution failure after MAX_MULTICAST_SOLICIT fails queued packets; overflow fails the oldest', (t) => {
  const { lan, a } = pair({ queueLength: 2 });
  const failed: string[] = [];
  for (const tag of ['q1', 'q2', 'q3']) a.ndp!.resolve(ip('fe80::99'), () => t.fail(), () => failed.push(tag));
  t.deepEqual(failed, ['q1']);
  t.is(a.n('ndp.drop.queue-overflow'), 1);
  lan.advance(2999);
  t.is(ndpSent(a, 135).length, 3);
  t.deepEqual(failed, ['q1']);
  lan.advance(1);
  t.deepEqual(failed, ['q1', 'q2', 'q3']);
  t.is(a.n('ndp.resolve-failed'), 1);
});

test('confirm() keeps an entry REACHABLE without any probing', (t) => {
  const { lan, a, send } = pair();
  send('p1');
  lan.advance(10);
  for (let i = 0; i < 20; i++) {
    lan.advance(10_000);
    a.ndp!.confirm(ip(LL_B));
    send(`k${i}`);
    t.is(stateOf(a.ndp!, LL_B), 'REACHABLE');
  }
  t.is(ndpSent(a, 135).length, 1); // the first resolution only: no NUD probe while confirmed
  lan.advance(45_000);
  t.is(stateOf(a.ndp!, LL_B), 'STALE');
});

test('multicast destinations map to 33:33 + low 32 bits without NDP', (t) => {
  const { a } = pair();
  t.is(macText(a.ndp!.resolve(ip('ff02::1'), () => {}, () => {})), '33:33:00:00:00:01');
  t.is(macText(a.ndp!.resolve(ip('ff05::1:3'), () => {}, () => {})), '33:33:00:01:00:03');
  t.is(a.sentIp6.length, 0);
});

test('NA processing (§7.2.5): override, non-override and unsolicited cases', (t) => {
  const { lan, a, send } = pair();
  send('p1');
  lan.advance(10);
  t.is(stateOf(a.ndp!, LL_B), 'REACHABLE');
  const na = (f: { solicited: boolean; override: boolean }, target: string, tlla: string | null, dst = LL_A) => {
    const m = buildNa({ router: false, ...f }, ip(target), tlla ? mac(tlla) : null);
    fillIcmpv6Checksum(ip(target), ip(dst), m);
    a.ndp!.handleNdp(ip(target), ip(dst), 255, m);
  };
  // Non-override with a different address: REACHABLE becomes STALE, the address is kept.
  na({ solicited: false, override: false }, LL_B, '02:00:00:00:00:bb');
  t.is(stateOf(a.ndp!, LL_B), 'STALE');
  t.is(macOf(a.ndp!, LL_B), MAC_B);
  // Override, unsolicited, new address: taken, STALE.
  na({ solicited: false, override: true }, LL_B, '02:00:00:00:00:bb', 'ff02::1');
  t.is(macOf(a.ndp!, LL_B), '02:00:00:00:00:bb');
  t.is(stateOf(a.ndp!, LL_B), 'STALE');
  // Solicited without TLLA: confirms reachability of the cached address.
  na({ solicited: true, override: false }, LL_B, null);
  t.is(stateOf(a.ndp!, LL_B), 'REACHABLE');
  t.is(macOf(a.ndp!, LL_B), '02:00:00:00:00:bb');
  // No entry: ignored and counted.
  na({ solicited: false, override: true }, 'fe80::77', '02:00:00:00:00:77', 'ff02::1');
  t.is(stateOf(a.ndp!, 'fe80::77'), 'none');
  t.is(a.n('ndp.na.unsolicited-ignored'), 1);
  // Solicited NA to a multicast destination is invalid (§7.1.2).
  na({ solicited: true, override: true }, LL_B, '02:00:00:00:00:cc', 'ff02::1');
  t.is(a.n('ndp.drop.na-solicited-to-multicast'), 1);
  t.is(macOf(a.ndp!, LL_B), '02:00:00:00:00:bb');
});

test('DAD success: tentative link-local, NS from :: (golden), then usable, then RS from it', (t) => {
  const lan = new Lan();
  const a = new FakeHost(lan, 1, MAC_A).withNdp();
  a.ndp!.start();
  t.deepEqual(a.hasV6(LL_A), { tentative: true, cidr: a.v6[0].cidr, origin: 'link-local', validLifetimeS: Infinity, preferredLifetimeS: Infinity });
  lan.advance(1000); // random delay up to MAX_RTR_SOLICITATION_DELAY
  const dad = ndpSent(a, 135);
  t.is(dad.length, 1);
  t.is(dad[0].src.key, '::');
  t.is(dad[0].dst.key, 'ff02::1:ff12:3456');
  // No SLLA (source ::); an RFC 7527 nonce option (type 14, length 1) with 6 random bytes.
  const body = hex(dad[0].payload);
  t.is(body.slice(0, 4), '8700');
  t.is(body.slice(8, 48), '00000000' + 'fe80000000000000505400fffe123456');
  t.is(body.slice(48, 52), '0e01');
  t.is(dad[0].payload.length, 32);
  t.true(verifyTransportChecksum(dad[0].src, dad[0].dst, 58, dad[0].payload));
  // Our own NS reflected by the link is not a conflict (RFC 7527 §4.2); a stranger's is.
  a.ndp!.handleNdp(dad[0].src, dad[0].dst, 255, dad[0].payload);
  t.is(a.n('ndp.dad.looped-back'), 1);
  t.true(a.hasV6(LL_A)!.tentative);
  t.true(a.hasV6(LL_A)!.tentative);
  lan.advance(1000);
  t.false(a.hasV6(LL_A)!.tentative);
  t.is(a.n('ndp.dad.ok'), 1);
  // RS after DAD, from the link-local address with SLLA, to all-routers.
  lan.advance(1000);
  const rs = ndpSent(a, 133);
  t.is(rs.length, 1);
  t.is(rs[0].src.key, LL_A);
  t.is(rs[0].dst.key, 'ff02::2');
  t.is(hex(rs[0].payload.subarray(4)), '00000000' + '0101525400123456');
  t.true(verifyTransportChecksum(rs[0].src, rs[0].dst, 58, rs[0].payload));
  // MAX_RTR_SOLICITATIONS = 3, RTR_SOLICITATION_INTERVAL = 4 s, nothing after.
  lan.advance(60_000);
  t.is(ndpSent(a, 133).length, 3);
});

test('DAD conflict: a host whose address is in use gets an NA from the owner and drops the address', (t) => {
  const { lan, a, b } = pair();
  a.addV6('fd00::1/64');
  b.addV6('fd00::1/64', true);
  b.ndp!.startDad(ip('fd00::1'));
  lan.advance(3000);
  t.is(b.hasV6('fd00::1'), undefined);
  t.is(b.n('ndp.dad.conflict'), 1);
  t.is(b.n('ndp.dad.conflict-na'), 1);
  t.deepEqual(b.ndp!.duplicateAddresses!().map((x) => x.key), ['fd00::1']);
  // The owner answered the DAD probe to all-nodes, unsolicited (§7.2.4), and kept its address.
  const na = ndpSent(a, 136)[0];
  t.is(na.dst.key, 'ff02::1');
  t.is(na.payload[4], 0x20); // O only
  t.false(a.hasV6('fd00::1')!.tentative);
  t.is(a.n('ndp.dad.conflict'), 0);
});

test('DAD conflict: two hosts probing the same tentative address at once both give it up', (t) => {
  const { lan, a, b } = pair({ maxRtrSolicitationDelayMs: 0 });
  a.addV6('fd00::5/64', true);
  b.addV6('fd00::5/64', true);
  a.ndp!.startDad(ip('fd00::5'));
  b.ndp!.startDad(ip('fd00::5'));
  lan.advance(5000);
  t.is(a.hasV6('fd00::5'), undefined);
  t.is(b.hasV6('fd00::5'), undefined);
  t.is(a.n('ndp.dad.conflict-ns'), 1);
  t.is(b.n('ndp.dad.conflict-ns'), 1);
});

test('DAD conflict: a prober that starts while another is still tentative makes the other yield', (t) => {
  const { lan, a, b } = pair({ maxRtrSolicitationDelayMs: 0 });
  a.addV6('fd00::6/64', true);
  a.ndp!.startDad(ip('fd00::6')); // A's NS goes out now; A owns the address after 1 s of silence
  lan.advance(500);
  b.addV6('fd00::6/64', true);
  b.ndp!.startDad(ip('fd00::6'));
  lan.advance(5000);
  // RFC 4862 §5.4.3 has no tie-break: B's NS from :: reaches A while A is tentative, so A gives
  // the address up; B never heard A's earlier NS (it had no such address then) and keeps it.
  t.is(a.hasV6('fd00::6'), undefined);
  t.is(a.n('ndp.dad.conflict-ns'), 1);
  t.false(b.hasV6('fd00::6')!.tentative);
  t.is(b.n('ndp.dad.ok'), 1);
});

test('DAD conflict: a prober that starts after the owner finished DAD hears it defend', (t) => {
  const { lan, a, b } = pair();
  a.addV6('fd00::5/64', true);
  a.ndp!.startDad(ip('fd00::5'));
  lan.advance(2001); // delay <= 1 s, NS, RetransTimer 1 s: A owns the address
  b.addV6('fd00::5/64', true);
  b.ndp!.startDad(ip('fd00::5'));
  lan.advance(5000);
  t.false(a.hasV6('fd00::5')!.tentative);
  t.is(a.n('ndp.dad.ok'), 1);
  t.is(b.hasV6('fd00::5'), undefined);
  t.is(b.n('ndp.dad.conflict-na'), 1); // A, by then the owner, defended with an NA
});

test('a DAD NS from another node (other nonce, or none) for our tentative address is a conflict', (t) => {
  const { a } = pair();
  a.addV6('fd00::8/64', true);
  a.ndp!.startDad(ip('fd00::8'));
  const m = buildNs(ip('fd00::8'), null, Uint8Array.of(1, 2, 3, 4, 5, 6));
  fillIcmpv6Checksum(ip('::'), solicitedNode(ip('fd00::8')), m);
  a.ndp!.handleNdp(ip('::'), solicitedNode(ip('fd00::8')), 255, m);
  t.is(a.hasV6('fd00::8'), undefined);
  t.is(a.n('ndp.dad.conflict-ns'), 1);
  t.is(a.n('ndp.dad.looped-back'), 0);
});

test('NS for a tentative address from a unicast source is ignored (RFC 4862 §5.4.3)', (t) => {
  const { a } = pair();
  a.addV6('fd00::7/64', true);
  const m = buildNs(ip('fd00::7'), mac(MAC_B));
  fillIcmpv6Checksum(ip(LL_B), solicitedNode(ip('fd00::7')), m);
  a.ndp!.handleNdp(ip(LL_B), solicitedNode(ip('fd00::7')), 255, m);
  t.true(a.hasV6('fd00::7')!.tentative);
  t.is(a.n('ndp.ns.tentative-target-ignored'), 1);
  t.is(a.sentIp6.length, 0);
});

/** A router stand-in: answers RSs with the RA that `ra()` builds, and NSs through its own NDP. */
function withRouter(lan: Lan, ra: () => Parameters<typeof buildRa>[0]) {
  const r = new FakeHost(lan, 9, '02:00:00:00:00:fe').addV6('fe80::1/64').withNdp({ linkLocal: false, routerSolicit: false });
  r.isRouter = true;
  const sendRa = (dst = 'ff02::1', body = ra()) => {
    const m = buildRa(body);
    fillIcmpv6Checksum(ip('fe80::1'), ip(dst), m);
    r.sendIpv6({ src: ip('fe80::1'), dst: ip(dst), hopLimit: 255, nextHeader: 58, payload: m });
  };
  r.onIp6 = (p) => {
    if (p.nextHeader === 58 && p.payload[0] === 133) sendRa();
  };
  return { r, sendRa };
}

const PREFIX = ip('2001:db8:1::');
const SLAAC_A = '2001:db8:1:0:5054:ff:fe12:3456';

test('RS then RA: default router, MTU, hop limit, SLAAC address after DAD', (t) => {
  const lan = new Lan();
  const { r } = withRouter(lan, () => ({
    curHopLimit: 32,
    routerLifetimeS: 1800,
    slla: mac('02:00:00:00:00:fe'),
    mtu: 1400,
    prefixes: [{ prefix: PREFIX, prefixLen: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 }],
    rdnss: [{ lifetime: 1200, servers: [ip('2001:db8::53'), ip('2001:db8::35')] }],
  }));
  const a = new FakeHost(lan, 1, MAC_A).withNdp();
  a.ndp!.start();
  lan.advance(5000);
  t.is(ndpSent(a, 133).length, 1);
  t.is(ndpSent(r, 134).length, 1);
  t.deepEqual([...a.routers], [['fe80::1', 1800]]);
  t.deepEqual(a.ndp!.defaultRouters!().map((x) => x.key), ['fe80::1']);
  t.is(a.mtu, 1400);
  t.is(a.curHopLimit, 32);
  t.deepEqual([...a.onLink], [['2001:db8:1::/64', 86400]]);
  t.deepEqual([...a.dns], [['2001:db8::53', 1200], ['2001:db8::35', 1200]]);
  // §6.3.4: the router's SLLA lands in the cache (STALE, IsRouter).
  t.is(stateOf(a.ndp!, 'fe80::1'), 'STALE');
  t.is(macOf(a.ndp!, 'fe80::1'), '02:00:00:00:00:fe');
  const s = a.hasV6(SLAAC_A) as { tentative: boolean; origin?: string; validLifetimeS?: number; preferredLifetimeS?: number };
  t.truthy(s);
  t.is(s.origin, 'slaac');
  t.false(s.tentative); // DAD done within the 5 s
  t.is(s.validLifetimeS, 86400);
  t.is(s.preferredLifetimeS, 14400);
  t.is(a.v6.find((x) => x.cidr.addr.key === SLAAC_A)!.cidr.prefixLen, 64);
  // §6.3.7: the RA ended solicitation.
  lan.advance(60_000);
  t.is(ndpSent(a, 133).length, 1);
});

test('RA with router lifetime 0 removes the router; an unrefreshed router expires', (t) => {
  const lan = new Lan();
  let lifetime = 600;
  const { sendRa } = withRouter(lan, () => ({ routerLifetimeS: lifetime }));
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp({ linkLocal: false });
  sendRa();
  lan.advance(10);
  t.is(a.routers.get('fe80::1'), 600);
  lifetime = 0;
  sendRa();
  lan.advance(10);
  t.false(a.routers.has('fe80::1'));
  t.is(a.n('ndp.router.removed'), 1);
  lifetime = 30;
  sendRa();
  lan.advance(29_000);
  t.true(a.routers.has('fe80::1'));
  lan.advance(1001); // the RA arrived 1 ms after it was sent
  t.false(a.routers.has('fe80::1'));
  t.is(a.n('ndp.router.expired'), 1);
});

test('SLAAC lifetimes: the 2-hour rule (RFC 4862 §5.5.3 e), deprecation and expiry', (t) => {
  const lan = new Lan();
  let valid = 86400;
  let pref = 3600;
  const { sendRa } = withRouter(lan, () => ({
    routerLifetimeS: 0,
    prefixes: [{ prefix: PREFIX, prefixLen: 64, onLink: false, autonomous: true, validLifetime: valid, preferredLifetime: pref }],
  }));
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp({ linkLocal: false, dupAddrDetectTransmits: 0 });
  sendRa();
  lan.advance(10);
  const addr = () => a.v6.find((x) => x.cidr.addr.key === SLAAC_A) as { validLifetimeS?: number; preferredLifetimeS?: number } | undefined;
  t.is(addr()!.validLifetimeS, 86400);
  // A short lifetime (60 s) from an RA cannot cut a remaining day: reset to 2 hours (e.3).
  valid = 60;
  pref = 30;
  sendRa();
  lan.advance(10);
  t.is(addr()!.validLifetimeS, 7200);
  t.is(addr()!.preferredLifetimeS, 30);
  lan.advance(30_000);
  t.is(a.n('ndp.slaac.address-deprecated'), 1);
  t.is(addr()!.preferredLifetimeS, 0);
  // With under 2 hours left, a shorter lifetime is ignored (e.2).
  lan.advance(7200_000 - 31_000 - 3600_000); // about an hour left
  sendRa();
  lan.advance(10);
  t.true(addr()!.validLifetimeS! < 3650 && addr()!.validLifetimeS! > 3550, `${addr()!.validLifetimeS}`);
  t.is(addr()!.preferredLifetimeS, 30); // the preferred lifetime is always taken
  // A longer one is taken (e.1).
  valid = 5000;
  pref = 5000;
  sendRa();
  lan.advance(10);
  t.is(addr()!.validLifetimeS, 5000);
  lan.advance(4_999_000);
  t.truthy(addr());
  lan.advance(1000);
  t.is(addr(), undefined);
  t.is(a.n('ndp.slaac.address-expired'), 1);
});

test('SLAAC ignores non-/64 prefixes, preferred > valid, link-local prefixes and A=0', (t) => {
  const lan = new Lan();
  const { sendRa } = withRouter(lan, () => ({
    routerLifetimeS: 0,
    prefixes: [
      { prefix: ip('2001:db8:2::'), prefixLen: 48, onLink: false, autonomous: true, validLifetime: 100, preferredLifetime: 50 },
      { prefix: ip('2001:db8:3::'), prefixLen: 64, onLink: false, autonomous: true, validLifetime: 100, preferredLifetime: 200 },
      { prefix: ip('fe80::'), prefixLen: 64, onLink: true, autonomous: true, validLifetime: 100, preferredLifetime: 50 },
      { prefix: ip('2001:db8:4::'), prefixLen: 64, onLink: true, autonomous: false, validLifetime: 100, preferredLifetime: 50 },
    ],
  }));
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp({ linkLocal: false });
  sendRa();
  lan.advance(5000);
  t.deepEqual(a.v6.map((x) => x.cidr.addr.key), [LL_A]);
  t.is(a.n('ndp.slaac.drop.bad-prefix-length'), 1);
  t.is(a.n('ndp.slaac.drop.preferred-exceeds-valid'), 1);
  t.is(a.n('ndp.ra.prefix-link-local-ignored'), 1);
  t.deepEqual([...a.onLink.keys()], ['2001:db8:4::/64']);
});

test('a SLAAC address found duplicate is removed and not formed again by the next RA', (t) => {
  const lan = new Lan();
  const { sendRa } = withRouter(lan, () => ({
    routerLifetimeS: 600,
    prefixes: [{ prefix: PREFIX, prefixLen: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 }],
  }));
  // Another node already uses what would be A's SLAAC address.
  new FakeHost(lan, 7, '02:00:00:00:00:77').addV6(`${SLAAC_A}/64`).withNdp({ linkLocal: false });
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp({ linkLocal: false });
  sendRa();
  lan.advance(5000);
  t.is(a.hasV6(SLAAC_A), undefined);
  t.is(a.n('ndp.dad.conflict'), 1);
  sendRa();
  lan.advance(5000);
  t.is(a.hasV6(SLAAC_A), undefined);
  t.is(a.n('ndp.slaac.skip-duplicate'), 1);
});

test('RAs not from a link-local source are dropped (§6.1.2)', (t) => {
  const { a } = pair();
  const m = buildRa({ routerLifetimeS: 1800 });
  fillIcmpv6Checksum(ip('2001:db8::1'), ip('ff02::1'), m);
  a.ndp!.handleNdp(ip('2001:db8::1'), ip('ff02::1'), 255, m);
  t.is(a.routers.size, 0);
  t.is(a.n('ndp.drop.ra-source-not-link-local'), 1);
});

test('malformed NDP is counted per reason, never thrown, and changes nothing', (t) => {
  const { a } = pair();
  const src = ip(LL_B);
  const dst = ip(LL_A);
  const ns = () => buildNs(ip(LL_A), mac(MAC_B));
  const feed = (m: Uint8Array, hop = 255, fill = true) => {
    if (fill) fillIcmpv6Checksum(src, dst, m);
    t.notThrows(() => a.ndp!.handleNdp(src, dst, hop, m));
  };
  feed(ns(), 254);
  t.is(a.n('ndp.drop.bad-hop-limit'), 1);
  const badSum = ns();
  fillIcmpv6Checksum(src, dst, badSum);
  badSum[3] ^= 1;
  feed(badSum, 255, false);
  t.is(a.n('ndp.drop.bad-checksum'), 1);
  const zeroLen = ns();
  zeroLen[25] = 0; // option length 0
  feed(zeroLen);
  t.is(a.n('ndp.drop.bad-option'), 1);
  const overrun = ns();
  overrun[25] = 2; // option claims 16 bytes, 8 are there
  feed(overrun);
  t.is(a.n('ndp.drop.bad-option'), 2);
  const llaLen2 = new Uint8Array(40);
  llaLen2.set(ns().subarray(0, 24));
  llaLen2[24] = 1;
  llaLen2[25] = 2; // SLLA of 16 bytes: not Ethernet (RFC 2464 §8)
  feed(llaLen2);
  t.is(a.n('ndp.drop.bad-option'), 3);
  feed(ns().slice(0, 20));
  t.is(a.n('ndp.drop.truncated'), 1);
  feed(Uint8Array.of(135, 0), 255, false);
  t.is(a.n('ndp.drop.truncated'), 2);
  const code = ns();
  code[1] = 1;
  feed(code);
  t.is(a.n('ndp.drop.bad-code'), 1);
  const mcastTarget = buildNs(ip('ff02::1'), mac(MAC_B));
  feed(mcastTarget);
  t.is(a.n('ndp.drop.ns-multicast-target'), 1);
  const truncatedRa = buildRa({ routerLifetimeS: 1800 }).slice(0, 12);
  feed(truncatedRa);
  t.is(a.n('ndp.drop.truncated'), 3);
  // DAD NS (from ::) must go to a solicited-node group and carry no SLLA (§7.1.1).
  const dadSlla = buildNs(ip(LL_A), mac(MAC_B));
  fillIcmpv6Checksum(ip('::'), solicitedNode(ip(LL_A)), dadSlla);
  a.ndp!.handleNdp(ip('::'), solicitedNode(ip(LL_A)), 255, dadSlla);
  t.is(a.n('ndp.drop.ns-dad-with-slla'), 1);
  // A multicast source, and our own NS reflected back.
  const fromGroup = ns();
  fillIcmpv6Checksum(ip('ff02::1'), dst, fromGroup);
  a.ndp!.handleNdp(ip('ff02::1'), dst, 255, fromGroup);
  t.is(a.n('ndp.drop.multicast-source'), 1);
  const own = ns();
  fillIcmpv6Checksum(dst, dst, own);
  a.ndp!.handleNdp(dst, dst, 255, own);
  t.is(a.n('ndp.drop.ns-own-source'), 1);
  // A type that is not ND reaching handleNdp, and a redirect (not implemented, counted).
  const echo = Uint8Array.of(128, 0, 0, 0, 0, 1, 0, 1);
  feed(echo);
  t.is(a.n('ndp.drop.not-ndp'), 1);
  const redirect = new Uint8Array(40);
  redirect[0] = 137;
  feed(redirect);
  t.is(a.n('ndp.redirect.ignored'), 1);
  t.is(a.ndp!.entries().length, 0);
  t.is(a.sentIp6.length, 0);
  // The same NS, well formed, is answered.
  feed(ns());
  t.is(a.sentIp6.length, 1);
  t.is(stateOf(a.ndp!, LL_B), 'DELAY'); // learned STALE, then used for the NA
});

test('static neighbors resolve at once and ignore advertisements', (t) => {
  const { lan, a, b, got, send } = pair();
  a.ndp!.addStatic(ip(LL_B), mac(MAC_B));
  send('s1');
  t.is(ndpSent(a, 135).length, 0);
  lan.advance(10);
  t.deepEqual(got, ['s1']);
  const m = buildNa({ router: false, solicited: false, override: true }, ip(LL_B), mac('02:00:00:00:00:bb'));
  fillIcmpv6Checksum(ip(LL_B), ip('ff02::1'), m);
  a.ndp!.handleNdp(ip(LL_B), ip('ff02::1'), 255, m);
  t.is(macOf(a.ndp!, LL_B), MAC_B);
  t.is(stateOf(a.ndp!, LL_B), 'PERMANENT');
  void b;
});

test('stop() cancels DAD, RS and lifetimes and fails queued packets', (t) => {
  const lan = new Lan();
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp();
  a.addV6('fd00::9/64', true);
  a.ndp!.startDad(ip('fd00::9'));
  const failed: number[] = [];
  a.ndp!.resolve(ip('fe80::42'), () => t.fail(), () => failed.push(1));
  const sent = a.sentIp6.length;
  a.ndp!.stop();
  t.deepEqual(failed, [1]);
  lan.advance(600_000);
  t.is(a.sentIp6.length, sent);
  t.true(a.hasV6('fd00::9')!.tentative);
  t.is(lan.timers.size, 0);
});

test('RA Retrans Timer and Reachable Time replace the defaults (§6.3.4); infinite lifetimes stay infinite', (t) => {
  const lan = new Lan();
  const { sendRa } = withRouter(lan, () => ({
    routerLifetimeS: 600,
    reachableTimeMs: 4000,
    retransTimerMs: 250,
    prefixes: [{ prefix: PREFIX, prefixLen: 64, onLink: true, autonomous: true, validLifetime: 0xffffffff, preferredLifetime: 0xffffffff }],
  }));
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp({ linkLocal: false, dupAddrDetectTransmits: 0 });
  sendRa();
  lan.advance(10);
  const s = a.v6.find((x) => x.cidr.addr.key === SLAAC_A)!;
  t.is(s.validLifetimeS, Infinity);
  t.is(s.preferredLifetimeS, Infinity);
  t.deepEqual([...a.onLink], [['2001:db8:1::/64', Infinity]]);
  // Resolution now retries every 250 ms.
  const t0 = lan.clock.now();
  const failed: number[] = [];
  a.ndp!.resolve(ip('fe80::99'), () => t.fail(), () => failed.push(lan.clock.now() - t0));
  lan.advance(2000);
  t.deepEqual(failed, [750]);
  // ReachableTime is 0.5..1.5 x 4 s: a resolved neighbor is STALE within 6 s.
  a.ndp!.resolve(ip('fe80::1'), () => {}, () => t.fail());
  lan.advance(10);
  t.is(stateOf(a.ndp!, 'fe80::1'), 'REACHABLE');
  lan.advance(6000);
  t.is(stateOf(a.ndp!, 'fe80::1'), 'STALE');
  lan.advance(24 * 3600_000);
  t.truthy(a.hasV6(SLAAC_A));
});

test('a SLAAC address removed behind the module (by hand, by the NIC) is formed again by the next RA', (t) => {
  const lan = new Lan();
  const { sendRa } = withRouter(lan, () => ({
    routerLifetimeS: 600,
    prefixes: [{ prefix: PREFIX, prefixLen: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 }],
  }));
  const a = new FakeHost(lan, 1, MAC_A).addV6(`${LL_A}/64`).withNdp({ linkLocal: false });
  sendRa();
  lan.advance(3000);
  t.false(a.hasV6(SLAAC_A)!.tentative);
  a.removeIpv6Address(ip(SLAAC_A));
  sendRa();
  lan.advance(10);
  t.true(a.hasV6(SLAAC_A)!.tentative); // new, so DAD runs again
  lan.advance(3000);
  t.false(a.hasV6(SLAAC_A)!.tentative);
  t.is(a.n('ndp.slaac.address-added'), 2);
  t.is(a.n('ndp.dad.ok'), 2);
});

test('an RA heard before the link-local address leaves DAD makes router solicitation unnecessary', (t) => {
  const lan = new Lan();
  const { sendRa } = withRouter(lan, () => ({ routerLifetimeS: 600 }));
  const a = new FakeHost(lan, 1, MAC_A).withNdp();
  a.ndp!.start();
  sendRa(); // unsolicited, while fe80::5054:ff:fe12:3456 is still tentative
  lan.advance(30_000);
  t.false(a.hasV6(LL_A)!.tentative);
  t.is(a.routers.get('fe80::1'), 600);
  t.is(ndpSent(a, 133).length, 0);
});

test('carrier down flushes learned neighbors; carrier up runs DAD on every address, then RS', (t) => {
  const { lan, a, send } = pair();
  a.addV6('fd00::a/64');
  a.ndp!.addStatic(ip('fe80::5'), mac('02:00:00:00:00:05'));
  send('p1');
  lan.advance(10);
  t.is(stateOf(a.ndp!, LL_B), 'REACHABLE');
  a.ndp!.start(); // link-local already valid: straight to RS
  lan.advance(1000);
  const rsBefore = ndpSent(a, 133).length;
  a.ndp!.linkStateChanged!(false);
  t.is(stateOf(a.ndp!, LL_B), 'none');
  t.is(stateOf(a.ndp!, 'fe80::5'), 'PERMANENT');
  lan.advance(60_000);
  t.is(ndpSent(a, 133).length, rsBefore); // nothing sent while down
  a.ndp!.linkStateChanged!(true);
  t.true(a.hasV6(LL_A)!.tentative);
  t.true(a.hasV6('fd00::a')!.tentative);
  lan.advance(2001);
  t.false(a.hasV6(LL_A)!.tentative);
  t.false(a.hasV6('fd00::a')!.tentative);
  t.deepEqual(ndpSent(a, 135).filter((p) => p.src.isUnspecified()).map((p) => p.dst.key).sort(), ['ff02::1:ff00:a', 'ff02::1:ff12:3456']);
  lan.advance(1000);
  t.is(ndpSent(a, 133).length, rsBefore + 1);
});
