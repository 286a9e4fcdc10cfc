// The emulation against the real kernel: a namespace with lo and a veth pair with known
// addresses and default routes (helpers.ts withMirrorNs), the same world in TypeScript
// (world-fixture.ts), the same requests to both; the answers must match message by message
// (types, flags, headers, the attributes that matter) and, for errors and acks, byte for byte.

import test from 'ava';
import { privilegedTest } from '../../helpers/privileged.js';
import {
  AF_INET,
  AF_INET6,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTA_DST,
  RTA_OIF,
  RTA_TABLE,
  RTM_DELLINK,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_GETNEIGH,
  RTM_GETRULE,
  RTM_NEWNEIGH,
  RTM_NEWADDR,
  RTM_NEWROUTE,
  RTM_SETLINK,
} from '../../../src/kernel/netlink/constants.js';
import { askEmulation, askKernel, attr, cat, ifaddr, ifinfo, normalizedBytes, request, rtmsg, shapes, u32, withMirrorNs } from './helpers.js';
import type { Ask } from './helpers.js';
import { mirrorWorld } from './world-fixture.js';

const AF_PACKET_FOR_TEST = 17;
function ndmsg(family: number, ifindex = 0, state = 0): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = family;
  new DataView(b.buffer).setInt32(4, ifindex, true);
  new DataView(b.buffer).setUint16(8, state, true);
  return b;
}
const R = NLM_F_REQUEST;
const DUMP = R | NLM_F_DUMP;
const v6 = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const str = (s: string) => new TextEncoder().encode(`${s}\0`);

/** Requests whose answers carry links, addresses and routes (compared by shape). */
function dataAsks(idx: { moat0: number; moat1: number }): Array<[string, Ask]> {
  return [
    ['link dump, strict, IFLA_EXT_MASK (ip)', { bytes: request(RTM_GETLINK, DUMP, 1, cat(ifinfo(), attr(IFLA_EXT_MASK, u32(1)))), strict: true }],
    ['link dump, rtgenmsg AF_PACKET + pad (glibc getifaddrs)', { bytes: request(RTM_GETLINK, DUMP, 2, Uint8Array.of(AF_PACKET_FOR_TEST, 0, 0, 0)) }],
    ['address dump AF_UNSPEC (glibc getifaddrs)', { bytes: request(RTM_GETADDR, DUMP, 3, Uint8Array.of(0, 0, 0, 0)) }],
    ['address dump AF_INET, strict', { bytes: request(RTM_GETADDR, DUMP, 4, ifaddr(AF_INET)), strict: true }],
    ['address dump AF_INET6, strict', { bytes: request(RTM_GETADDR, DUMP, 5, ifaddr(AF_INET6)), strict: true }],
    ['address dump filtered by ifindex, strict', { bytes: request(RTM_GETADDR, DUMP, 6, ifaddr(0, idx.moat0)), strict: true }],
    ['route dump AF_INET, strict (ip route)', { bytes: request(RTM_GETROUTE, DUMP, 7, rtmsg(AF_INET)), strict: true }],
    ['route dump AF_INET6, strict', { bytes: request(RTM_GETROUTE, DUMP, 8, rtmsg(AF_INET6)), strict: true }],
    ['route dump AF_UNSPEC, not strict', { bytes: request(RTM_GETROUTE, DUMP, 9, rtmsg(0)) }],
    ['route dump table main in rtm_table, strict', { bytes: request(RTM_GETROUTE, DUMP, 10, rtmsg(AF_INET, 254)), strict: true }],
    ['route dump table local in RTA_TABLE, strict', { bytes: request(RTM_GETROUTE, DUMP, 11, cat(rtmsg(AF_INET6), attr(RTA_TABLE, u32(255)))), strict: true }],
    ['route dump by RTA_OIF, strict', { bytes: request(RTM_GETROUTE, DUMP, 12, cat(rtmsg(AF_INET), attr(RTA_OIF, u32(idx.moat0)))), strict: true }],
    ['get link by index with ACK', { bytes: request(RTM_GETLINK, R | NLM_F_ACK, 13, ifinfo(idx.moat0)), strict: true }],
    ['get link by name', { bytes: request(RTM_GETLINK, R, 14, cat(ifinfo(), attr(IFLA_IFNAME, str('moat1')))), strict: true }],
    ['get link lo, not strict', { bytes: request(RTM_GETLINK, R, 15, ifinfo(1)) }],
    ['route get 192.0.2.1 (via the default route)', { bytes: request(RTM_GETROUTE, R, 17, cat(rtmsg(AF_INET, 0, { dstLen: 32 }), attr(RTA_DST, Uint8Array.of(192, 0, 2, 1)))), strict: true }],
    ['route get 10.9.8.7 (our own address)', { bytes: request(RTM_GETROUTE, R, 18, cat(rtmsg(AF_INET, 0, { dstLen: 32 }), attr(RTA_DST, Uint8Array.of(10, 9, 8, 7)))), strict: true }],
    ['route get 10.9.8.3 (on link)', { bytes: request(RTM_GETROUTE, R, 19, cat(rtmsg(AF_INET, 0, { dstLen: 32 }), attr(RTA_DST, Uint8Array.of(10, 9, 8, 3)))), strict: true }],
    ['route get 127.0.0.1', { bytes: request(RTM_GETROUTE, R, 20, cat(rtmsg(AF_INET, 0, { dstLen: 32 }), attr(RTA_DST, Uint8Array.of(127, 0, 0, 1)))) }],
    ['route get 2001:db8::1 (via the IPv6 default route)', { bytes: request(RTM_GETROUTE, R, 21, cat(rtmsg(AF_INET6, 0, { dstLen: 128 }), attr(RTA_DST, v6('20010db8000000000000000000000001')))), strict: true }],
    ['route get fd00:9::3 (on link)', { bytes: request(RTM_GETROUTE, R, 22, cat(rtmsg(AF_INET6, 0, { dstLen: 128 }), attr(RTA_DST, v6('fd000009000000000000000000000003')))), strict: true }],
    ['route get fe80::3 out of moat0', { bytes: request(RTM_GETROUTE, R, 23, cat(rtmsg(AF_INET6, 0, { dstLen: 128 }), attr(RTA_DST, v6('fe800000000000000000000000000003')), attr(RTA_OIF, u32(idx.moat0)))), strict: true }],
    ['rule dump AF_UNSPEC, strict (ip rule)', { bytes: request(RTM_GETRULE, DUMP, 24, rtmsg(0)), strict: true }],
    ['rule dump AF_INET6, not strict', { bytes: request(RTM_GETRULE, DUMP, 25, Uint8Array.of(AF_INET6, 0, 0, 0)) }],
    ['neighbour get 10.9.8.1 on moat0', { bytes: request(RTM_GETNEIGH, R, 26, cat(ndmsg(AF_INET, idx.moat0), attr(1, Uint8Array.of(10, 9, 8, 1)))), strict: true }],
    ['link dump with NLM_F_ACK (no separate ack)', { bytes: request(RTM_GETLINK, DUMP | NLM_F_ACK, 16, ifinfo()) }],
  ];
}

/** Requests answered by errors, acks, NLMSG_DONE or nothing (compared byte for byte, port id aside). */
function errorAsks(): Array<[string, Ask]> {
  return [
    ['neighbour get without an address', { bytes: request(RTM_GETNEIGH, R, 50, ndmsg(AF_INET, 3)), extAck: true }],
    ['neighbour get of a missing entry', { bytes: request(RTM_GETNEIGH, R, 51, cat(ndmsg(AF_INET, 3), attr(1, Uint8Array.of(10, 9, 8, 99)))), extAck: true }],
    ['neighbour get with a 6-byte IPv4 address', { bytes: request(RTM_GETNEIGH, R, 52, cat(ndmsg(AF_INET, 3), attr(1, Uint8Array.of(10, 9, 8, 99, 0, 0)))), extAck: true }],
    ['neighbour get on a missing device', { bytes: request(RTM_GETNEIGH, R, 53, cat(ndmsg(AF_INET, 42), attr(1, Uint8Array.of(10, 9, 8, 1)))), extAck: true }],
    ['strict neighbour dump with a state, EXT_ACK', { bytes: request(RTM_GETNEIGH, DUMP, 54, cat(ndmsg(0, 0, 0x80))), strict: true, extAck: true }],
    ['strict rule dump with a table, EXT_ACK', { bytes: request(RTM_GETRULE, DUMP, 55, rtmsg(AF_INET, 254)), strict: true, extAck: true }],
    ['strict rule dump with an attribute, EXT_ACK', { bytes: request(RTM_GETRULE, DUMP, 56, cat(rtmsg(AF_INET), attr(6, u32(5)))), strict: true, extAck: true }],
    ['rule get (no doit)', { bytes: request(RTM_GETRULE, R | NLM_F_ACK, 57, rtmsg(AF_INET)) }],
    ['type above RTM_MAX', { bytes: request(200, R | NLM_F_ACK, 20, ifinfo()) }],
    ['unknown type 99 (not a GET: EPERM first)', { bytes: request(99, R | NLM_F_ACK, 21, ifinfo()) }],
    ['RTM_NEWADDR', { bytes: request(RTM_NEWADDR, R | NLM_F_ACK | 0x600, 22, cat(ifaddr(AF_INET, 3, 24), attr(2, Uint8Array.of(10, 9, 8, 9)))) }],
    ['RTM_NEWROUTE', { bytes: request(RTM_NEWROUTE, R | NLM_F_ACK | 0x600, 23, rtmsg(AF_INET, 254)) }],
    ['RTM_SETLINK', { bytes: request(RTM_SETLINK, R | NLM_F_ACK, 24, ifinfo(1)) }],
    ['RTM_DELLINK, capped', { bytes: request(RTM_DELLINK, R | NLM_F_ACK, 25, ifinfo(1)), capAck: true }],
    ['get link of a missing index', { bytes: request(RTM_GETLINK, R, 26, ifinfo(42)), strict: true }],
    ['get link of a missing index, NETLINK_CAP_ACK', { bytes: request(RTM_GETLINK, R, 27, ifinfo(42)), capAck: true }],
    ['get link of a missing name', { bytes: request(RTM_GETLINK, R, 28, cat(ifinfo(), attr(IFLA_IFNAME, str('eth0')))) }],
    ['get link with neither index nor name', { bytes: request(RTM_GETLINK, R, 29, ifinfo()) }],
    ['get link with a 3-byte body', { bytes: request(RTM_GETLINK, R, 30, Uint8Array.of(0, 0, 0)) }],
    ['get link with an empty body (ignored)', { bytes: request(RTM_GETLINK, R, 31, new Uint8Array(0)) }],
    ['get link with an empty body and ACK', { bytes: request(RTM_GETLINK, R | NLM_F_ACK, 32, new Uint8Array(0)) }],
    ['strict link dump, short header', { bytes: request(RTM_GETLINK, DUMP, 33, Uint8Array.of(0, 0, 0)), strict: true }],
    ['strict link dump, short header, EXT_ACK', { bytes: request(RTM_GETLINK, DUMP, 34, Uint8Array.of(0, 0, 0)), strict: true, extAck: true }],
    ['strict link dump by index, EXT_ACK', { bytes: request(RTM_GETLINK, DUMP, 35, ifinfo(2)), strict: true, extAck: true }],
    ['strict link dump with a foreign attribute, EXT_ACK', { bytes: request(RTM_GETLINK, DUMP, 36, cat(ifinfo(), attr(IFLA_IFNAME, str('lo')))), strict: true, extAck: true }],
    ['strict address dump with a prefix length, EXT_ACK', { bytes: request(RTM_GETADDR, DUMP, 37, ifaddr(AF_INET, 0, 24)), strict: true, extAck: true }],
    ['strict IPv6 address dump with a prefix length, EXT_ACK', { bytes: request(RTM_GETADDR, DUMP, 38, ifaddr(AF_INET6, 0, 64)), strict: true, extAck: true }],
    ['strict route dump with rtm_dst_len, EXT_ACK', { bytes: request(RTM_GETROUTE, DUMP, 39, rtmsg(AF_INET, 0, { dstLen: 24 })), strict: true, extAck: true }],
    ['strict route dump with a foreign attribute, EXT_ACK', { bytes: request(RTM_GETROUTE, DUMP, 40, cat(rtmsg(AF_INET), attr(1, u32(0)))), strict: true, extAck: true }],
    ['NLMSG_NOOP with ACK', { bytes: request(1, R | NLM_F_ACK, 41, new Uint8Array(0)) }],
    ['NLMSG_DONE with ACK', { bytes: request(3, R | NLM_F_ACK, 42, new Uint8Array(0)) }],
    ['not a request, with ACK', { bytes: request(RTM_GETLINK, NLM_F_ACK, 43, ifinfo(1)) }],
    ['a 12-byte datagram (no header)', { bytes: new Uint8Array(12) }],
    ['nlmsg_len past the datagram', { bytes: request(RTM_GETLINK, R | NLM_F_ACK, 44, ifinfo(1)).map((b, i) => (i === 0 ? 200 : b)) }],
    ['two requests in one datagram', { bytes: cat(request(200, R | NLM_F_ACK, 45, ifinfo()), request(RTM_SETLINK, R, 46, ifinfo(1))) }],
  ];
}

privilegedTest('links, addresses and routes: the emulation answers as Linux does in the mirror namespace', async (t) => {
  await withMirrorNs('data', (name, idx) => {
    const asks = dataAsks(idx);
    const kernel = askKernel(name, asks.map(([, a]) => a));
    const emu = askEmulation(mirrorWorld(idx), asks.map(([, a]) => a));
    asks.forEach(([title], i) => {
      t.deepEqual(shapes(emu[i]!), shapes(kernel[i]!), title);
      t.true(shapes(kernel[i]!).length > 0, `${title}: the kernel answered`);
    });
  });
});

privilegedTest('neighbour dumps: the unicast entries the namespace has, as Linux shows them', async (t) => {
  await withMirrorNs('neigh', (name, idx) => {
    const asks: Ask[] = [
      { bytes: request(RTM_GETNEIGH, DUMP, 1, ndmsg(0)), strict: true },
      { bytes: request(RTM_GETNEIGH, DUMP, 2, Uint8Array.of(AF_INET6, 0, 0, 0)) },
      { bytes: request(RTM_GETNEIGH, DUMP, 3, cat(ndmsg(AF_INET), attr(8, u32(idx.moat0)))), strict: true },
    ];
    const kernel = askKernel(name, asks);
    const emu = askEmulation(mirrorWorld(idx), asks);
    // Linux also lists the multicast groups' NOARP entries (ff02::...), which moat does not model.
    const unicast = (xs: ReturnType<typeof shapes>) => xs.filter((x) => x.type !== RTM_NEWNEIGH || x.header?.type === 1);
    asks.forEach((_, i) => {
      t.deepEqual(unicast(shapes(emu[i]!)), unicast(shapes(kernel[i]!)), `request ${i}`);
      t.true(shapes(emu[i]!).some((x) => x.type === RTM_NEWNEIGH), `request ${i} found neighbours`);
    });
  });
});

privilegedTest('errors, acks, ignored and malformed requests: byte for byte as Linux without CAP_NET_ADMIN', async (t) => {
  await withMirrorNs('err', (name, idx) => {
    const asks = errorAsks();
    const kernel = askKernel(name, asks.map(([, a]) => a), { noNetAdmin: true });
    const emu = askEmulation(mirrorWorld(idx), asks.map(([, a]) => a));
    asks.forEach(([title], i) => {
      t.deepEqual(normalizedBytes(emu[i]!), normalizedBytes(kernel[i]!), title);
    });
  });
});

test('the mirror world has the kernel-made routes the namespace has', (t) => {
  const w = mirrorWorld();
  const text = w.routes.map((r) => `${r.table}:${r.type}:${r.dst.toString()}:${r.oif}`).sort();
  t.deepEqual(text, [
    '254:1:0.0.0.0/0:3',
    '254:1:10.9.8.0/24:3',
    '254:1:::/0:3',
    '254:1:fd00:9::/64:3',
    '254:1:fe80::/64:3',
    '255:2:10.9.8.7/32:3',
    '255:2:127.0.0.0/8:1',
    '255:2:127.0.0.1/32:1',
    '255:2:::1/128:1',
    '255:2:fd00:9::7/128:3',
    '255:2:fe80::ff:fe00:1/128:3',
    '255:3:10.9.8.255/32:3',
    '255:3:127.255.255.255/32:1',
    '255:5:ff00::/8:2',
    '255:5:ff00::/8:3',
  ]);
});
