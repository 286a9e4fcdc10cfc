// The codec: golden bytes cut from the kernel's own answers (the mirror namespace of
// kernel.test.ts), header round trips with edge values, attribute alignment, and parsing rules
// for damaged input.

import test from 'ava';
import {
  NlMsgBuilder,
  align4,
  attrString,
  attrU32,
  buildDone,
  buildError,
  concat,
  decodeSockaddrNl,
  encodeSockaddrNl,
  findAttr,
  parseAttrs,
  parseIfAddrMsg,
  parseIfInfoMsg,
  parseMessages,
  parseNlMsgErr,
  parseRtMsg,
  writeIfAddrMsg,
  writeIfInfoMsg,
  writeRtMsg,
} from '../../../src/kernel/netlink/codec.js';
import { IFLA_IFNAME, NLM_F_DUMP_FILTERED, NLM_F_MULTI, RTM_GETLINK } from '../../../src/kernel/netlink/constants.js';
import { address, ethernetInterface, kernelRoutes } from '../../../src/kernel/netlink/world.js';
import { addressMessage, routeMessage } from '../../../src/kernel/netlink/messages.js';
import { hex, request, unhex, ifinfo } from './helpers.js';

test('align4 rounds up to 4', (t) => {
  t.deepEqual([0, 1, 2, 3, 4, 5, 16, 17].map(align4), [0, 4, 4, 4, 4, 8, 16, 20]);
});

test('RTM_NEWADDR for 10.9.8.7/24 on moat0 is byte for byte what Linux sent', (t) => {
  // From Linux 6.18: an AF_INET address dump filtered by ifindex 3 (NLM_F_MULTI|NLM_F_DUMP_FILTERED), seq 13, port 0x422b.
  const kernel =
    '50000000140022000d0000002b4200000218800003000000080001000a090807080002000a0908070a0003006d6f617430000000080008008000000014000600ffffffffffffffff411a0f00411a0f00';
  const i = ethernetInterface(3, 'moat0', Uint8Array.of(2, 0, 0, 0, 0, 1), []);
  const a = address('10.9.8.7/24', { createdCs: 0x0f1a41, updatedCs: 0x0f1a41 });
  t.is(hex(addressMessage(i, a, { seq: 13, pid: 0x422b, flags: NLM_F_MULTI | NLM_F_DUMP_FILTERED })), kernel);
});

test('RTM_NEWROUTE for the connected 10.9.8.0/24 is byte for byte what Linux sent', (t) => {
  // rtmsg {AF_INET, /24, table main, proto kernel, scope link, unicast}; RTA_TABLE, RTA_DST, RTA_PREFSRC, RTA_OIF.
  const kernel = '3c00000018002200030000002b42000002180000fe02fd010000000008000f00fe000000080001000a090800080007000a09080708000400' + '03000000';
  const i = ethernetInterface(3, 'moat0', Uint8Array.of(2, 0, 0, 0, 0, 1), [address('10.9.8.7/24')]);
  const r = kernelRoutes([i]).find((x) => x.table === 254)!;
  t.is(hex(routeMessage(r, { seq: 3, pid: 0x422b, flags: NLM_F_MULTI | NLM_F_DUMP_FILTERED })), kernel);
});

test('an error echoes the request; a capped one only its header, with its original nlmsg_len', (t) => {
  const req = parseMessages(request(RTM_GETLINK, 1, 9, ifinfo(42)))[0]!;
  // Linux: ENODEV for ifindex 42 (seq 9, port 0x422b).
  t.is(hex(buildError(req, -19, 0x422b)), '3400000002000000090000002b420000edffffff20000000120001000900000000000000000000002a0000000000000000000000');
  t.is(hex(buildError(req, -19, 0x422b, { capped: true })), '2400000002000001090000002b420000edffffff20000000120001000900000000000000');
  const parsed = parseNlMsgErr(unhex('edffffff20000000120001000900000000000000'), 0x100)!;
  t.is(parsed.error, -19);
  t.is(parsed.msg?.len, 32);
  t.is(parsed.msg?.type, RTM_GETLINK);
});

test('NLMSG_DONE carries an int, and the extended-ack message as NLMSGERR_ATTR_MSG', (t) => {
  t.is(hex(buildDone(1, 7, NLM_F_MULTI)), '1400000003000200010000000700000000000000');
  // Linux: strict link dump with a 3-byte header (seq 11, port 0x422b).
  t.is(hex(buildDone(11, 0x422b, NLM_F_MULTI, -22, 'Invalid header for link dump')), '38000000030002020b0000002b420000eaffffff21000100496e76616c69642068656164657220666f72206c696e6b2064756d7000000000');
});

test('family headers round-trip, edge values included', (t) => {
  const b = new Uint8Array(16);
  writeIfInfoMsg(b, 0, { family: 17, type: 0xffff, index: -1, flags: 0xffffffff, change: 0xffffffff });
  t.deepEqual(parseIfInfoMsg(b), { family: 17, pad: 0, type: 0xffff, index: -1, flags: 0xffffffff, change: 0xffffffff });
  const a = new Uint8Array(8);
  writeIfAddrMsg(a, 0, { family: 10, prefixLen: 128, flags: 0xff, scope: 255, index: 0xffffffff });
  t.deepEqual(parseIfAddrMsg(a), { family: 10, prefixLen: 128, flags: 0xff, scope: 255, index: 0xffffffff });
  const r = new Uint8Array(12);
  const rt = { family: 2, dstLen: 32, srcLen: 0, tos: 0xff, table: 255, protocol: 2, scope: 254, type: 11, flags: 0x80000000 };
  writeRtMsg(r, 0, rt);
  t.deepEqual(parseRtMsg(r), rt);
  t.is(parseIfInfoMsg(b.subarray(0, 15)), null);
  t.is(parseIfAddrMsg(a.subarray(0, 7)), null);
  t.is(parseRtMsg(r.subarray(0, 11)), null);
});

test('attributes are padded to 4 bytes with zeros, nests carry NLA_F_NESTED and their length', (t) => {
  const b = new NlMsgBuilder(16, 2, 5, 6);
  b.fixed(1, (buf, off) => (buf[off] = 9));
  b.string(IFLA_IFNAME, 'lo');
  const nest = b.nestStart(18);
  b.string(1, 'veth');
  b.nestEnd(nest);
  b.u8(33, 1);
  const m = b.finish();
  t.is(hex(m), '34000000100002000500000006000000' + '09000000' + '07000300' + '6c6f0000' + '10001280' + '0900010076657468' + '00000000' + '05002100' + '01000000');
  const attrs = parseAttrs(parseMessages(m)[0]!.payload.subarray(4))!;
  t.is(attrString(findAttr(attrs, IFLA_IFNAME)), 'lo');
  const li = findAttr(attrs, 18)!;
  t.true(li.nested);
  t.is(attrString(findAttr(parseAttrs(li.value)!, 1)), 'veth');
  t.is(attrU32(findAttr(attrs, 33)), undefined, 'a 1-byte attribute is not a u32');
});

test('parseMessages stops where Linux stops: short header, nlmsg_len below 16 or past the end', (t) => {
  const one = request(RTM_GETLINK, 1, 1, ifinfo(1));
  t.is(parseMessages(one).length, 1);
  t.is(parseMessages(concat([one, one])).length, 2);
  t.is(parseMessages(one.subarray(0, 15)).length, 0);
  const bad = Uint8Array.from(one);
  bad[0] = 8;
  t.is(parseMessages(bad).length, 0);
  bad[0] = 33;
  t.is(parseMessages(bad).length, 0);
  // A last message whose aligned length runs past the datagram still counts (the walk clamps).
  const odd = request(RTM_GETLINK, 1, 1, Uint8Array.of(0, 0, 0, 0, 0));
  t.is(odd.length, 21);
  t.is(parseMessages(odd).length, 1);
});

test('parseAttrs rejects an attribute shorter than its header or longer than the rest', (t) => {
  t.deepEqual(parseAttrs(new Uint8Array(0)), []);
  t.is(parseAttrs(Uint8Array.of(3, 0, 1, 0)), null);
  t.is(parseAttrs(Uint8Array.of(9, 0, 1, 0, 0, 0, 0, 0)), null);
  t.deepEqual(parseAttrs(Uint8Array.of(4, 0, 1, 0, 0, 0))?.length, 1, 'trailing bytes shorter than a header are ignored');
});

test('sockaddr_nl: 12 bytes, family 16', (t) => {
  t.is(hex(encodeSockaddrNl(0xfffff000, 5)), '10000000' + '00f0ffff' + '05000000');
  t.deepEqual(decodeSockaddrNl(unhex('100000002a00000001000000')), { family: 16, pid: 42, groups: 1 });
  t.is(decodeSockaddrNl(new Uint8Array(11)), null);
});
