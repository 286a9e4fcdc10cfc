import test from 'ava';
import { pair, routed, ip, echoRequest, pattern } from './topo.js';
import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack } from '../../src/netstack/stack.js';
import { StaticNeighbors } from '../../src/netstack/nic.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { RouteTable } from '../../src/netstack/route.js';
import { IcmpRateLimiter } from '../../src/netstack/icmp.js';
import { IpCidr } from '../../src/netstack/wire/ip-address.js';
import { finishPartialChecksum, foldSum, partialChecksum, pseudoHeaderSum, sumWords, transportChecksum, verifyTransportChecksum } from '../../src/netstack/wire/checksum.js';
import type { IpDelivery, NetworkLayer, TransportError, TransportProtocol } from '../../src/netstack/transport.js';
import type { Frame } from '../../src/netstack/link.js';
import { isNetError } from '../../src/netstack/errors.js';

test('route table: longest prefix first, then lowest metric; removal', (t) => {
  const rt = new RouteTable();
  rt.add({ dest: '0.0.0.0/0', gateway: ip('10.0.0.1'), nicId: 1 });
  rt.add({ dest: '10.1.0.0/16', nicId: 2 });
  rt.add({ dest: '10.1.2.0/24', nicId: 3, metric: 10 });
  rt.add({ dest: '10.1.2.9/24', nicId: 4, metric: 5 }); // host bits are cleared
  t.is(rt.lookup(ip('10.1.2.3'))?.nicId, 4);
  t.is(rt.lookup(ip('10.1.2.3'), 3)?.nicId, 3, 'restricted to one NIC');
  t.is(rt.lookup(ip('10.1.9.9'))?.nicId, 2);
  t.is(rt.lookup(ip('8.8.8.8'))?.gateway?.key, '10.0.0.1');
  t.is(rt.lookup(ip('2001:db8::1')), null, 'families never mix');
  t.is(rt.remove((r) => r.nicId === 4), 1);
  t.is(rt.lookup(ip('10.1.2.3'))?.nicId, 3);
  t.is(rt.list()[0].dest.toString(), '10.1.2.0/24');
});

test('ICMP rate limiter: per-destination burst of 6 then one per second; global budget', (t) => {
  let now = 0;
  const rl = new IcmpRateLimiter(() => now, { globalPerSec: 1000, globalBurst: 50, perDestIntervalMs: 1000, perDestBurst: 6, maxDests: 10 });
  const d = ip('192.0.2.1');
  let n = 0;
  for (let i = 0; i < 20; i++) if (rl.allow(d)) n++;
  t.is(n, 6);
  now = 999;
  t.false(rl.allow(d));
  now = 1000;
  t.true(rl.allow(d));
  // Global: 50 distinct destinations drain the burst.
  const g = new IcmpRateLimiter(() => 0, { globalPerSec: 1000, globalBurst: 50, perDestIntervalMs: 1000, perDestBurst: 6, maxDests: 1000 });
  let m = 0;
  for (let i = 0; i < 100; i++) if (g.allow(ip(`192.0.2.${i}`))) m++;
  t.is(m, 50);
});

test('port unreachable errors are rate-limited per destination inside the stack', (t) => {
  const { clock, a, b } = pair();
  const c = a.udp.endpoint(4);
  for (let i = 0; i < 20; i++) c.send(pattern(4), { addr: ip('10.0.0.2'), port: 9 });
  clock.advance(1);
  t.is(b.stats.get('icmp4.out.type-3'), 6);
  t.is(b.stats.get('icmp4.error-suppressed.rate-limited'), 14);
});

test('one writeFrames per NIC per processing step (batched flush)', (t) => {
  const { clock, a, na } = pair();
  const calls: number[] = [];
  const orig = na.link.writeFrames.bind(na.link);
  na.link.writeFrames = (frames: readonly Frame[]) => {
    calls.push(frames.length);
    return orig(frames);
  };
  const c = a.udp.endpoint(4);
  for (let i = 0; i < 10; i++) c.send(pattern(10), { addr: ip('10.0.0.2'), port: 9 });
  t.deepEqual(calls, [], 'nothing leaves during the API turn');
  clock.advance(0);
  t.deepEqual(calls, [10]);
  t.is(na.counters.txFrames, 10);
  t.is(na.counters.txBytes, 10 * (14 + 20 + 8 + 10));
  // A fragmented datagram is one batch too.
  c.send(pattern(5000), { addr: ip('10.0.0.2'), port: 9 });
  clock.advance(0);
  t.deepEqual(calls, [10, 4]);
});

test('the wire delivers only as virtual time moves', (t) => {
  const clock = new VirtualClock();
  const wire = new Wire(clock, { latencyMs: 5 });
  const p1 = wire.port();
  const p2 = wire.port();
  const p3 = wire.port();
  const got: string[] = [];
  p1.attach({ deliverFrames: (f) => got.push(`p1:${f.length}`) });
  p2.attach({ deliverFrames: (f) => got.push(`p2:${f.length}:${f[0].data[0]}`) });
  p3.attach({ deliverFrames: (f) => got.push(`p3:${f.length}`) });
  const buf = new Uint8Array(60);
  buf[0] = 42;
  t.is(p1.writeFrames([{ data: buf }, { data: new Uint8Array(60) }]), 2);
  buf[0] = 0; // the wire copied
  clock.advance(4.9);
  t.deepEqual(got, []);
  clock.advance(0.1);
  t.deepEqual(got, ['p2:2:42', 'p3:2'], 'a hub: every other port, never the sender');
  t.is(p1.writeFrames([{ data: new Uint8Array(1515) }]), 0, 'larger than MTU + Ethernet header');
  t.is(wire.framesDroppedTooBig, 1);
});

/** A stand-in transport that records what the stack hands it. */
class Recorder implements TransportProtocol {
  got: IpDelivery[] = [];
  errors: TransportError[] = [];
  net!: NetworkLayer;
  constructor(readonly protocol: number) {}
  deliver(d: IpDelivery) {
    this.got.push({ ...d, payload: d.payload.slice(), packet: d.packet.slice() });
    return 'delivered' as const;
  }
  deliverError(e: TransportError) {
    this.errors.push(e);
  }
}

function tcpHeader(seq: number, flags: number): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = 0x30;
  h[1] = 0x39; // 12345
  h[2] = 0x00;
  h[3] = 0x50;
  h[4] = seq >>> 24;
  h[5] = (seq >>> 16) & 0xff;
  h[6] = (seq >>> 8) & 0xff;
  h[7] = seq & 0xff;
  h[12] = 0x50;
  h[13] = flags;
  return h;
}

for (const offload of [false, true]) {
  test(`transports plug in by number; GSO ${offload ? 'handed to the link' : 'done in software'}`, (t) => {
    const clock = new VirtualClock();
    const wire = new Wire(clock);
    const recA = new Recorder(6);
    const recB = new Recorder(6);
    const port = offload ? { txChecksumOffload: true, rxChecksumOffload: true, gsoMaxSize: 65536 } : {};
    const neighbors = new StaticNeighbors();
    const mk = (seed: number, rec: Recorder) =>
      new Stack({
        clock,
        rng: new SeededRng(seed),
        neighbors,
        transports: (net) => {
          rec.net = net;
          return [rec];
        },
      });
    const a = mk(1, recA);
    const b = mk(2, recB);
    neighbors.learn(a.addNic(wire.port(port), { addresses: ['10.0.0.1/24'] }));
    neighbors.learn(b.addNic(wire.port(port), { addresses: ['10.0.0.2/24'] }));
    t.is(a.transport(6), recA);
    const src = ip('10.0.0.1');
    const dst = ip('10.0.0.2');
    const route = recA.net.route(dst);
    if (isNetError(route)) return t.fail(route);
    t.is(route.gsoMaxSize, offload ? 65536 : 0);
    const payload = pattern(4500);
    const header = tcpHeader(1000, 0x18 | 0x01 | 0x80); // PSH FIN CWR, ACK unset
    const ps = partialChecksum(src, dst, 6, header.length + payload.length);
    header[16] = ps >> 8;
    header[17] = ps & 0xff;
    const r = recA.net.sendIp({ src, dst, protocol: 6, header, payload, checksumOffset: 16, gso: { kind: 'tcp', mss: 1000 }, dontFragment: true });
    t.is(r, undefined);
    clock.advance(1);
    if (offload) {
      t.is(recB.got.length, 1, 'one aggregate crosses a GSO-capable link');
      t.true(recB.got[0].checksumVerified, 'a partial checksum from the link counts as verified');
      t.deepEqual(recB.got[0].payload.subarray(20), payload);
      return;
    }
    t.is(a.stats.get('gso.software'), 1);
    t.is(recB.got.length, 5);
    let expectSeq = 1000;
    const joined: number[] = [];
    recB.got.forEach((d, i) => {
      const s = d.payload;
      t.is(foldSum(pseudoHeaderSum(d.src, d.dst, 6, s.length) + sumWords(s)), 0xffff, `segment ${i} checksum`);
      const seq = ((s[4] << 24) | (s[5] << 16) | (s[6] << 8) | s[7]) >>> 0;
      t.is(seq, expectSeq);
      expectSeq += s.length - 20;
      const last = i === recB.got.length - 1;
      t.is((s[13] & 0x01) !== 0, last, 'FIN only on the last');
      t.is((s[13] & 0x08) !== 0, last, 'PSH only on the last');
      t.is((s[13] & 0x80) !== 0, i === 0, 'CWR only on the first');
      joined.push(...s.subarray(20));
    });
    t.deepEqual(Uint8Array.from(joined), payload);
  });
}

test('unknown protocols: ICMP protocol unreachable (v4) and parameter problem code 1 (v6)', (t) => {
  const { clock, a, b } = pair();
  const rec = new Recorder(200);
  a.registerTransport(rec);
  for (const [src, dst] of [
    ['10.0.0.1', '10.0.0.2'],
    ['fd00::1', 'fd00::2'],
  ]) {
    const header = new Uint8Array(8);
    header[0] = 0x12; // quoted ports, as if a transport
    t.is(a.sendIp({ src: ip(src), dst: ip(dst), protocol: 200, header }), undefined);
  }
  clock.advance(1);
  t.is(b.stats.get('ipv4.dropped.unknown-protocol'), 1);
  t.is(b.stats.get('ipv6.dropped.unknown-protocol'), 1);
  t.deepEqual(
    rec.errors.map((e) => [e.kind, e.code, e.dst.key]),
    [
      ['protocol-unreachable', 'ENOPROTOOPT', '10.0.0.2'],
      ['parameter-problem', 'EPROTO', 'fd00::2'],
    ],
  );
  t.is(rec.errors[1].icmpCode, 1);
});

test('filter hooks: OUTPUT drop fails with EPERM, INPUT and FORWARD drops are counted per reason', (t) => {
  const seen: string[] = [];
  const { clock, a, r, b } = routed({
    stack: {
      filter: {
        OUTPUT: (p) => {
          const port = p.protocol === 17 ? (p.transport[2] << 8) | p.transport[3] : 0;
          if (port === 666) return { drop: 'port-666' };
          if (port === 667) return { drop: 'reject', error: 'ECONNREFUSED' };
          return 'accept';
        },
        INPUT: (p) => {
          seen.push(`${p.hook}:${p.src.key}`);
          return p.protocol === 17 && ((p.transport[2] << 8) | p.transport[3]) === 777 ? { drop: 'port-777' } : 'accept';
        },
        FORWARD: (p) => (p.protocol === 1 && p.dst.key === '10.0.2.1' ? { drop: 'no-ping' } : 'accept'),
      },
    },
  });
  const srv = b.udp.endpoint(4);
  srv.bind(null, 777);
  const c = a.udp.endpoint(4);
  t.is(c.send(pattern(4), { addr: ip('10.0.2.1'), port: 666 }), 'EPERM');
  t.is(a.stats.get('filter.OUTPUT.dropped.port-666'), 1);
  t.is(c.send(pattern(4), { addr: ip('10.0.2.1'), port: 667 }), 'ECONNREFUSED', 'a reject names its error');
  t.is(c.send(pattern(4), { addr: ip('10.0.2.1'), port: 777 }), 4);
  clock.advance(1);
  t.is(srv.recv(), 'EAGAIN');
  t.is(b.stats.get('filter.INPUT.dropped.port-777'), 1);
  t.true(seen.includes('INPUT:10.0.1.1'));
  const e = a.echo4.endpoint();
  e.send(echoRequest(4, 1, pattern(4)), ip('10.0.2.1'));
  clock.advance(1);
  t.is(e.recv(), 'EAGAIN');
  t.is(r.stats.get('filter.FORWARD.dropped.no-ping'), 1);
});

test('forwarding is off by default: a host drops what is not for it', (t) => {
  const { clock, a, r } = routed({ stack: { forwarding: false } });
  const c = a.udp.endpoint(4);
  c.send(pattern(4), { addr: ip('10.0.2.1'), port: 7 });
  clock.advance(1);
  t.is(r.stats.get('ipv4.dropped.not-for-us'), 1);
  t.is(r.stats.get('ipv4.forwarded'), 0);
});

test('router without a route answers net unreachable; the sender socket hears it', (t) => {
  const { clock, a, r } = routed();
  const c = a.udp.endpoint(4);
  c.recvErr = true;
  c.send(pattern(4), { addr: ip('192.0.2.9'), port: 7 });
  clock.advance(1);
  t.is(r.stats.get('ipv4.dropped.no-route'), 1);
  t.is(c.readErrorQueue()?.kind, 'net-unreachable');
});

test('with the real neighbor module (ARP, NDP with DAD), ping v4 and v6 work', (t) => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const a = new Stack({ clock, rng: new SeededRng(1) });
  const b = new Stack({ clock, rng: new SeededRng(2) });
  const na = a.addNic(wire.port(), { addresses: ['10.0.0.1/24', 'fd00::1/64'] });
  b.addNic(wire.port(), { addresses: ['10.0.0.2/24', 'fd00::2/64'] });
  clock.advance(5000); // DAD on the link-local and static IPv6 addresses
  t.true(na.ipv6Addresses().some((x) => x.cidr.addr.isLinkLocal() && !x.tentative), 'a link-local address after DAD');
  const e4 = a.echo4.endpoint();
  const e6 = a.echo6.endpoint();
  t.false(isNetError(e4.send(echoRequest(4, 1, pattern(8)), ip('10.0.0.2'))));
  t.false(isNetError(e6.send(echoRequest(6, 1, pattern(8)), ip('fd00::2'))));
  clock.advance(100);
  t.not(e4.recv(), 'EAGAIN');
  t.not(e6.recv(), 'EAGAIN');
  const ll = b.nicList()[1].ipv6Addresses().find((x) => x.cidr.addr.isLinkLocal());
  if (!ll) return t.fail('no link-local on B');
  t.false(isNetError(e6.send(echoRequest(6, 2, pattern(8)), ll.cidr.addr)));
  clock.advance(100);
  const r = e6.recv();
  t.not(r, 'EAGAIN');
  if (typeof r !== 'string') t.is(r.from.key, ll.cidr.addr.key);
  void IpCidr;
});

test('software GSO on a link with checksum offload: each segment carries its own partial sum', (t) => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const neighbors = new StaticNeighbors();
  const rec = new Recorder(6);
  const a = new Stack({ clock, neighbors, transports: (net) => ((rec.net = net), [rec]) });
  const b = new Stack({ clock, neighbors, rng: new SeededRng(2) });
  const na = a.addNic(wire.port({ txChecksumOffload: true }), { addresses: ['10.0.0.1/24'] });
  neighbors.learn(na);
  neighbors.learn(b.addNic(wire.port(), { addresses: ['10.0.0.2/24'] }));
  const sent: Frame[] = [];
  const orig = na.link.writeFrames.bind(na.link);
  na.link.writeFrames = (fs) => {
    for (const f of fs) sent.push({ data: f.data.slice(), offload: f.offload });
    return orig(fs);
  };
  const src = ip('10.0.0.1');
  const dst = ip('10.0.0.2');
  const payload = pattern(2500);
  // This time the transport computed a complete checksum for the aggregate (no checksumOffset).
  const header = tcpHeader(7, 0x10);
  const c = transportChecksum(src, dst, 6, header, payload);
  header[16] = c >> 8;
  header[17] = c & 0xff;
  t.is(a.sendIp({ src, dst, protocol: 6, header, payload, gso: { kind: 'tcp', mss: 1000 } }), undefined);
  clock.advance(0);
  t.is(sent.length, 3);
  for (const f of sent) {
    t.deepEqual(f.offload, { csumStart: 34, csumOffset: 16 });
    finishPartialChecksum(f.data, 34, 16);
    t.true(verifyTransportChecksum(src, dst, 6, f.data.subarray(34)), 'the device would produce a valid sum');
  }
});

test('software GSO when the transport filled the whole checksum: segments are re-summed', (t) => {
  const { clock, a, b } = pair();
  const rec = new Recorder(6);
  b.registerTransport(rec);
  const src = ip('10.0.0.1');
  const dst = ip('10.0.0.2');
  const payload = pattern(2500);
  const header = tcpHeader(7, 0x10);
  const c = transportChecksum(src, dst, 6, header, payload);
  header[16] = c >> 8;
  header[17] = c & 0xff;
  t.is(a.sendIp({ src, dst, protocol: 6, header, payload, gso: { kind: 'tcp', mss: 1000 } }), undefined);
  clock.advance(1);
  t.is(rec.got.length, 3);
  for (const d of rec.got) t.true(verifyTransportChecksum(d.src, d.dst, 6, d.payload));
});

for (const farOffload of [false, true]) {
  test(`a router forwards a GSO aggregate: ${farOffload ? 'handed on whole' : 'segmented in software'}`, (t) => {
    const clock = new VirtualClock();
    const neighbors = new StaticNeighbors();
    const w1 = new Wire(clock);
    const w2 = new Wire(clock);
    const off = { txChecksumOffload: true, rxChecksumOffload: true, gsoMaxSize: 65536 };
    const recA = new Recorder(6);
    const recB = new Recorder(6);
    const a = new Stack({ clock, neighbors, transports: (net) => ((recA.net = net), [recA]) });
    const r = new Stack({ clock, neighbors, rng: new SeededRng(2), forwarding: true });
    const b = new Stack({ clock, neighbors, rng: new SeededRng(3), transports: () => [recB] });
    const na = a.addNic(w1.port(off), { addresses: ['10.0.1.1/24'] });
    const r1 = r.addNic(w1.port(off), { addresses: ['10.0.1.254/24'] });
    const r2 = r.addNic(w2.port(farOffload ? off : {}), { addresses: ['10.0.2.254/24'] });
    const nb = b.addNic(w2.port(farOffload ? off : {}), { addresses: ['10.0.2.1/24'] });
    for (const n of [na, r1, r2, nb]) neighbors.learn(n);
    a.addRoute('0.0.0.0/0', na, '10.0.1.254');
    const src = ip('10.0.1.1');
    const dst = ip('10.0.2.1');
    const payload = pattern(4000);
    const header = tcpHeader(100, 0x18);
    const ps = partialChecksum(src, dst, 6, header.length + payload.length);
    header[16] = ps >> 8;
    header[17] = ps & 0xff;
    t.is(recA.net.sendIp({ src, dst, protocol: 6, header, payload, checksumOffset: 16, gso: { kind: 'tcp', mss: 1460 }, dontFragment: true }), undefined);
    clock.advance(1);
    t.is(r.stats.get('ipv4.dropped.frag-needed'), 0, 'an aggregate is not "too big"');
    if (farOffload) {
      t.is(recB.got.length, 1);
      t.true(recB.got[0].checksumVerified);
      t.is(recB.got[0].ttl, 63);
      t.deepEqual(recB.got[0].payload.subarray(20), payload);
      return;
    }
    t.is(r.stats.get('gso.software-forward'), 1);
    t.deepEqual(recB.got.map((d) => d.payload.length - 20), [1460, 1460, 1080]);
    for (const d of recB.got) {
      t.true(verifyTransportChecksum(d.src, d.dst, 6, d.payload));
      t.is(d.ttl, 63);
    }
    t.deepEqual(Uint8Array.from(recB.got.flatMap((d) => [...d.payload.subarray(20)])), payload);
  });
}

test('removing a NIC takes its routes and addresses out of service', (t) => {
  const { clock, a, na } = pair();
  a.addRoute('0.0.0.0/0', na, '10.0.0.2');
  t.true(a.removeNic(na));
  t.false(a.removeNic(na));
  t.false(a.removeNic(a.loopbackNic!), 'loopback stays');
  t.is(a.routes.list().filter((r) => r.nicId === na.nicId).length, 0);
  t.false(a.isLocalAddress(ip('10.0.0.1')));
  t.is(a.udp.endpoint(4).send(pattern(1), { addr: ip('10.0.0.2'), port: 1 }), 'ENETUNREACH');
  clock.advance(1);
});

test('a neighbor that never answers: EHOSTUNREACH for our socket, host unreachable from a router', (t) => {
  // Real ARP/NDP (3 probes, 1 s apart) against an address nobody has.
  const clock = new VirtualClock();
  const w1 = new Wire(clock);
  const w2 = new Wire(clock);
  const a = new Stack({ clock, rng: new SeededRng(1), ndp: { dupAddrDetectTransmits: 0, routerSolicit: false } });
  const r = new Stack({ clock, rng: new SeededRng(2), forwarding: true, ndp: { dupAddrDetectTransmits: 0, routerSolicit: false } });
  const na = a.addNic(w1.port(), { addresses: ['10.0.1.1/24', 'fd01::1/64'] });
  r.addNic(w1.port(), { addresses: ['10.0.1.254/24', 'fd01::fe/64'] });
  r.addNic(w2.port(), { addresses: ['10.0.2.254/24', 'fd02::fe/64'] });
  a.addRoute('0.0.0.0/0', na, '10.0.1.254');
  a.addRoute('::/0', na, 'fd01::fe');
  clock.advance(10);
  const local = a.udp.endpoint(4);
  local.connect(ip('10.0.1.99'), 7); // on-link, nobody home
  const viaRouter = a.udp.endpoint(6);
  viaRouter.recvErr = true;
  viaRouter.connect(ip('fd02::99'), 7); // behind the router, nobody home
  local.recvErr = true;
  local.send(pattern(4));
  viaRouter.send(pattern(4));
  clock.advance(5000);
  t.is(local.readErrorQueue()?.kind, 'host-unreachable');
  const e = viaRouter.readErrorQueue();
  t.is(e?.kind, 'host-unreachable');
  t.is(e?.from.key, 'fd01::fe', 'the router said so');
  t.is(r.stats.get('neighbor.dropped.unresolved-v6'), 1);
});
