// The hook points let a filter rewrite packets (NAT): the stack hands hooks the whole datagram,
// re-reads addresses afterwards and routes again where Linux does. These tests play the
// filter's part with hand-written rewrites.

import test from 'ava';
import { pair, routed, ip, pattern } from './topo.js';
import { checksumAdjustBytes } from '../../src/netstack/wire/checksum.js';
import { setIpv4Checksum, writeIpv4Header } from '../../src/netstack/ipv4.js';
import type { FilterPacket } from '../../src/netstack/stack.js';
import type { IpAddr } from '../../src/netstack/wire/ip-address.js';

/** Rewrites an IPv4 address in place (src at 12, dst at 16) keeping both checksums valid. */
function rewrite4(p: FilterPacket, which: 'src' | 'dst', to: IpAddr): void {
  const pkt = p.packet!;
  const off = which === 'src' ? 12 : 16;
  const old = pkt.slice(off, off + 4);
  pkt.set(to.bytes, off);
  setIpv4Checksum(pkt, 0, (pkt[0] & 15) * 4);
  fixTransport(p, old, to.bytes);
}

function fixTransport(p: FilterPacket, oldBytes: Uint8Array, newBytes: Uint8Array): void {
  if (p.checksumPartial) return; // the stack recomputes partial sums
  const t = p.transport;
  const at = p.protocol === 17 ? 6 : p.protocol === 6 ? 16 : -1;
  if (at < 0) return;
  const c = (t[at] << 8) | t[at + 1];
  if (p.protocol === 17 && c === 0) return;
  const n = checksumAdjustBytes(c, oldBytes, newBytes);
  t[at] = n >> 8;
  t[at + 1] = n & 0xff;
}

function setPort(p: FilterPacket, which: 'src' | 'dst', port: number): void {
  const t = p.transport;
  const off = which === 'src' ? 0 : 2;
  const old = t.slice(off, off + 2);
  t[off] = port >> 8;
  t[off + 1] = port & 0xff;
  fixTransport(p, old, t.subarray(off, off + 2));
}

test('DNAT at PREROUTING: a redirect to another local port (REDIRECT --to-ports)', (t) => {
  const { clock, a, b } = pair();
  b.filter = {
    PREROUTING: (p) => {
      if (p.protocol === 17 && ((p.transport[2] << 8) | p.transport[3]) === 8080) setPort(p, 'dst', 7);
      return 'accept';
    },
  };
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  a.udp.endpoint(4).send(pattern(9), { addr: ip('10.0.0.2'), port: 8080 });
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail(d);
  t.deepEqual(d.data, pattern(9));
  t.is(b.stats.get('udp.dropped.bad-checksum'), 0);
});

test('DNAT at OUTPUT re-routes: a local packet to a virtual address goes to the real one', (t) => {
  const { clock, a, b } = pair();
  a.filter = {
    OUTPUT: (p) => {
      if (p.dst.key === '192.0.2.80') rewrite4(p, 'dst', ip('10.0.0.2'));
      return 'accept';
    },
  };
  a.addRoute('192.0.2.0/24', a.nicList()[1], '10.0.0.254'); // a route that leads nowhere
  const srv = b.udp.endpoint(4);
  srv.bind(null, 53);
  t.is(a.udp.endpoint(4).send(pattern(5), { addr: ip('192.0.2.80'), port: 53 }), 5);
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail(d);
  t.deepEqual(d.data, pattern(5));
  t.is(a.stats.get('filter.OUTPUT.rerouted'), 1);
});

test('SNAT at POSTROUTING on a router (masquerade): the far side sees the router', (t) => {
  const { clock, a, r, b } = routed();
  r.filter = {
    POSTROUTING: (p) => {
      if (p.src.key === '10.0.1.1' && p.outNic === r.nicList()[2].nicId) rewrite4(p, 'src', ip('10.0.2.254'));
      return 'accept';
    },
  };
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  a.udp.endpoint(4).send(pattern(20), { addr: ip('10.0.2.1'), port: 7 });
  clock.advance(1);
  const d = srv.recv();
  if (typeof d === 'string') return t.fail(d);
  t.is(d.from.key, '10.0.2.254');
  t.deepEqual(d.data, pattern(20));
  t.is(b.stats.get('udp.dropped.bad-checksum'), 0);
});

test('a hook that breaks the IPv4 header checksum gets its packet dropped and counted', (t) => {
  const { clock, a, b } = pair();
  b.filter = {
    PREROUTING: (p) => {
      p.packet![16] = 10; // dst rewritten without fixing the checksum
      p.packet![19] = 9;
      return 'accept';
    },
  };
  a.udp.endpoint(4).send(pattern(1), { addr: ip('10.0.0.2'), port: 7 });
  clock.advance(1);
  t.is(b.stats.get('filter.dropped.mangled-bad-checksum'), 1);
});

test('one context object travels with a packet from hook to hook (marks, conntrack)', (t) => {
  const { clock, a, r, b } = routed();
  const seen: string[] = [];
  r.filter = {
    PREROUTING: (p) => {
      p.ctx!.mark = 42;
      p.ctx!.conn = `flow-${p.src.key}`;
      return 'accept';
    },
    FORWARD: (p) => (seen.push(`F:${p.ctx?.mark}:${p.ctx?.conn}`), 'accept'),
    POSTROUTING: (p) => (seen.push(`P:${p.ctx?.mark}:${p.ctx?.conn}`), 'accept'),
  };
  a.filter = {
    OUTPUT: (p) => ((p.ctx!.mark = 7), 'accept'),
    POSTROUTING: (p) => (seen.push(`A:${p.ctx?.mark}`), 'accept'),
  };
  const srv = b.udp.endpoint(4);
  srv.bind(null, 7);
  a.udp.endpoint(4).send(pattern(3), { addr: ip('10.0.2.1'), port: 7 });
  clock.advance(1);
  t.deepEqual(seen, ['A:7', 'F:42:flow-10.0.1.1', 'P:42:flow-10.0.1.1']);
  t.not(srv.recv(), 'EAGAIN');
});

test('sendRawIp injects a finished datagram (a REJECT reply "from" the rejected destination)', (t) => {
  const { clock, a, b } = pair();
  const got = b.udp.endpoint(4);
  got.bind(null, 5000);
  // A UDP datagram from 10.0.0.77 (not A's address) to B, built by hand.
  const dg = new Uint8Array(20 + 8 + 2);
  writeIpv4Header(dg, 0, { tos: 0, totalLen: 30, id: 9, df: false, mf: false, fragOffset: 0, ttl: 64, protocol: 17, src: ip('10.0.0.77'), dst: ip('10.0.0.2') });
  dg[21] = 99;
  dg[22] = 0x13;
  dg[23] = 0x88;
  dg[25] = 10;
  t.is(a.sendRawIp(dg), undefined);
  t.is(a.sendRawIp(Uint8Array.of(1, 2, 3)), 'EINVAL');
  clock.advance(1);
  const d = got.recv();
  if (typeof d === 'string') return t.fail(d);
  t.is(d.from.key, '10.0.0.77');
  t.is(d.port, 99);
});
