// sockaddr codec: golden bytes for sockaddr_in/in6, and the per-call validation rules (the same
// ones the conformance table checks on Linux: bind/connect/sendto cases in conformance/cases.ts).

import test from 'ava';
import {
  bindImpliesV6only, checkUserAddrlen, decodeSockaddr, encodeSockaddr, formatSockaddr, parseBindAddr, parseConnectAddr, parseSendtoAddr,
  sendmsgNameLen, sockaddrEquals, sockaddrFamily, sockaddrForUser, toV6Sockaddr, v4EndpointOf,
} from '../../src/kernel/sockaddr.js';
import type { SockAddr } from '../../src/kernel/sockaddr.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const sa4 = (ip: string, port: number): SockAddr => ({ family: 'AF_INET', addr: IpAddr.parse(ip), port });
const sa6 = (ip: string, port: number, flowinfo = 0, scopeId = 0): SockAddr => ({ family: 'AF_INET6', addr: IpAddr.parse(ip), port, flowinfo, scopeId });
/** A sockaddr with its family field replaced and its length cut or padded, as the table's AddrSpec. */
function mangled(sa: SockAddr, family?: number, len?: number): Uint8Array {
  let b = encodeSockaddr(sa);
  if (family !== undefined) {
    b[0] = family & 0xff;
    b[1] = family >> 8;
  }
  if (len !== undefined) {
    const out = new Uint8Array(len);
    out.set(b.subarray(0, len));
    b = out;
  }
  return b;
}

test('sockaddr_in golden bytes: host-order family, network-order port and address, 8 zero bytes', (t) => {
  t.is(hex(encodeSockaddr(sa4('127.0.0.1', 8080))), '02001f907f0000010000000000000000');
  t.is(hex(encodeSockaddr(sa4('255.255.255.255', 0xffff))), '0200ffffffffffff0000000000000000');
});

test('sockaddr_in6 golden bytes: flowinfo network order, scope id host order', (t) => {
  t.is(hex(encodeSockaddr(sa6('::1', 443, 0x12345, 3))), `0a0001bb00012345${'00'.repeat(15)}0103000000`);
  t.is(encodeSockaddr(sa6('fe80::1', 1)).length, 28);
});

test('decode round trips both families, including edge ports and scope ids', (t) => {
  for (const sa of [sa4('0.0.0.0', 0), sa4('10.1.2.3', 65535), sa6('::', 0), sa6('fe80::abcd', 1, 0xfffff, 0xffffffff), sa6('::ffff:127.0.0.1', 80)]) {
    const back = decodeSockaddr(encodeSockaddr(sa));
    t.truthy(back);
    t.true(sockaddrEquals(back!, sa));
    t.is(back!.flowinfo, sa.flowinfo);
  }
});

test('decode: a 24-byte (RFC 2133) sockaddr_in6 reads scope 0; short or foreign ones give null', (t) => {
  const d = decodeSockaddr(encodeSockaddr(sa6('::1', 7, 0, 9)).subarray(0, 24));
  t.is(d?.scopeId, 0);
  t.is(d?.port, 7);
  t.is(decodeSockaddr(encodeSockaddr(sa4('1.2.3.4', 5)).subarray(0, 15)), null);
  t.is(decodeSockaddr(bytes('0100')), null);
  t.is(decodeSockaddr(new Uint8Array(1)), null);
  t.is(sockaddrFamily(new Uint8Array(1)), -1);
});

test('encode refuses a family/address mismatch and a bad port (programmer errors)', (t) => {
  t.throws(() => encodeSockaddr({ family: 'AF_INET', addr: IpAddr.parse('::1'), port: 1 }));
  t.throws(() => encodeSockaddr(sa4('1.2.3.4', 70000)));
});

test('bind rules: AF_INET needs 16 bytes and AF_INET (or AF_UNSPEC with INADDR_ANY)', (t) => {
  t.deepEqual(parseBindAddr('AF_INET', mangled(sa4('127.0.0.1', 0), undefined, 15)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseBindAddr('AF_INET', new Uint8Array(0)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseBindAddr('AF_INET', mangled(sa4('127.0.0.1', 0), 10)), { ok: false, errno: 'EAFNOSUPPORT' });
  t.deepEqual(parseBindAddr('AF_INET', mangled(sa4('127.0.0.1', 0), 0)), { ok: false, errno: 'EAFNOSUPPORT' });
  const compat = parseBindAddr('AF_INET', mangled(sa4('0.0.0.0', 99), 0));
  t.true(compat.ok && compat.sa.family === 'AF_INET' && compat.sa.port === 99);
  const longer = parseBindAddr('AF_INET', mangled(sa4('127.0.0.1', 5), undefined, 128));
  t.true(longer.ok && longer.sa.addr.key === '127.0.0.1');
});

test('bind rules: AF_INET6 needs 24 bytes, then AF_INET6', (t) => {
  t.deepEqual(parseBindAddr('AF_INET6', mangled(sa6('::1', 0), undefined, 23)), { ok: false, errno: 'EINVAL' });
  const rfc2133 = parseBindAddr('AF_INET6', mangled(sa6('::1', 0), undefined, 24));
  t.true(rfc2133.ok && rfc2133.sa.scopeId === 0);
  t.deepEqual(parseBindAddr('AF_INET6', encodeSockaddr(sa4('127.0.0.1', 0))), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseBindAddr('AF_INET6', mangled(sa4('127.0.0.1', 0), undefined, 28)), { ok: false, errno: 'EAFNOSUPPORT' });
});

test('connect rules: < 2 bytes EINVAL, AF_UNSPEC disconnects, then the per-protocol checks', (t) => {
  t.deepEqual(parseConnectAddr('AF_INET', 'stream', new Uint8Array(1)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseConnectAddr('AF_INET', 'stream', new Uint8Array(2)), { ok: true, unspec: true });
  t.deepEqual(parseConnectAddr('AF_INET6', 'dgram', new Uint8Array(2)), { ok: true, unspec: true });
  t.deepEqual(parseConnectAddr('AF_INET', 'stream', mangled(sa4('127.0.0.1', 1), undefined, 15)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseConnectAddr('AF_INET', 'stream', mangled(sa4('127.0.0.1', 1), 10)), { ok: false, errno: 'EAFNOSUPPORT' });
  t.deepEqual(parseConnectAddr('AF_INET6', 'stream', encodeSockaddr(sa4('127.0.0.1', 1))), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseConnectAddr('AF_INET6', 'stream', mangled(sa4('127.0.0.1', 1), undefined, 28)), { ok: false, errno: 'EAFNOSUPPORT' });
});

test('connect rules: an IPv6 datagram socket takes an AF_INET peer unless V6ONLY', (t) => {
  const r = parseConnectAddr('AF_INET6', 'dgram', encodeSockaddr(sa4('127.0.0.1', 53)));
  t.true(r.ok && 'sa' in r && r.sa.family === 'AF_INET' && r.sa.port === 53);
  t.deepEqual(parseConnectAddr('AF_INET6', 'dgram', encodeSockaddr(sa4('127.0.0.1', 53)), true), { ok: false, errno: 'EAFNOSUPPORT' });
  const v6 = parseConnectAddr('AF_INET6', 'dgram', encodeSockaddr(sa6('::1', 53)));
  t.true(v6.ok && 'sa' in v6 && v6.sa.addr.key === '::1');
});

test('IPv6 ping sockets: bind wants 28 bytes; connect checks the family before the length', (t) => {
  t.deepEqual(parseBindAddr('AF_INET6', mangled(sa6('::', 0), undefined, 24), 'ping'), { ok: false, errno: 'EINVAL' });
  t.true(parseBindAddr('AF_INET6', encodeSockaddr(sa6('::', 0)), 'ping').ok);
  t.deepEqual(parseConnectAddr('AF_INET6', 'ping', mangled(sa6('::1', 0), 2, 2)), { ok: false, errno: 'EAFNOSUPPORT' });
  t.deepEqual(parseConnectAddr('AF_INET6', 'ping', mangled(sa6('::1', 0), undefined, 2)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseConnectAddr('AF_INET6', 'ping', mangled(sa6('::1', 0), 0, 2)), { ok: true, unspec: true });
  t.true(parseConnectAddr('AF_INET6', 'ping', encodeSockaddr(sa6('::1', 0))).ok);
});

test('generic addrlen rules: bind/connect/sendto refuse > 128; sendmsg cuts msg_namelen to 128', (t) => {
  t.is(checkUserAddrlen(128), null);
  t.is(checkUserAddrlen(0), null);
  t.is(checkUserAddrlen(129), 'EINVAL');
  t.is(checkUserAddrlen(-1), 'EINVAL');
  t.is(sendmsgNameLen(129), 128);
  t.is(sendmsgNameLen(0), 0);
  t.is(sendmsgNameLen(-1), null);
});

test('sendto rules: UDP over IPv4 reads AF_UNSPEC as AF_INET, ping does not', (t) => {
  t.deepEqual(parseSendtoAddr('AF_INET', 'udp', mangled(sa4('127.0.0.1', 9), undefined, 15)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseSendtoAddr('AF_INET', 'udp', mangled(sa4('127.0.0.1', 9), 10)), { ok: false, errno: 'EAFNOSUPPORT' });
  const unspec = parseSendtoAddr('AF_INET', 'udp', mangled(sa4('127.0.0.1', 9), 0));
  t.true(unspec.ok && 'sa' in unspec && unspec.sa.addr.key === '127.0.0.1');
  t.deepEqual(parseSendtoAddr('AF_INET', 'ping', mangled(sa4('127.0.0.1', 0), 0)), { ok: false, errno: 'EAFNOSUPPORT' });
  t.deepEqual(parseSendtoAddr('AF_INET', 'ping', mangled(sa4('127.0.0.1', 0), 10)), { ok: false, errno: 'EAFNOSUPPORT' });
  t.deepEqual(parseSendtoAddr('AF_INET6', 'ping', mangled(sa6('::1', 0), undefined, 24)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseSendtoAddr('AF_INET6', 'ping', mangled(sa6('::1', 0), 2)), { ok: false, errno: 'EAFNOSUPPORT' });
  t.true(parseSendtoAddr('AF_INET6', 'ping', encodeSockaddr(sa6('::1', 0))).ok);
});

test('sendto rules: UDP over IPv6 takes AF_INET (not when V6ONLY), AF_UNSPEC means no address, others EINVAL', (t) => {
  const v4 = parseSendtoAddr('AF_INET6', 'udp', encodeSockaddr(sa4('127.0.0.1', 9)));
  t.true(v4.ok && 'sa' in v4 && v4.sa.family === 'AF_INET');
  t.deepEqual(parseSendtoAddr('AF_INET6', 'udp', encodeSockaddr(sa4('127.0.0.1', 9)), true), { ok: false, errno: 'ENETUNREACH' });
  t.deepEqual(parseSendtoAddr('AF_INET6', 'udp', mangled(sa6('::1', 9), 0)), { ok: true, unspec: true });
  t.deepEqual(parseSendtoAddr('AF_INET6', 'udp', mangled(sa6('::1', 9), 1)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseSendtoAddr('AF_INET6', 'udp', mangled(sa6('::1', 9), undefined, 20)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(parseSendtoAddr('AF_INET6', 'udp', new Uint8Array(1)), { ok: false, errno: 'EINVAL' });
});

test('sockaddrForUser cuts to the caller buffer and reports the full length', (t) => {
  const r = sockaddrForUser(sa4('127.0.0.1', 0x1234), 4);
  t.true(r.ok && hex(r.bytes) === '02001234' && r.len === 16);
  const z = sockaddrForUser(sa6('::1', 1), 0);
  t.true(z.ok && z.bytes.length === 0 && z.len === 28);
  t.deepEqual(sockaddrForUser(sa4('127.0.0.1', 1), -1), { ok: false, errno: 'EINVAL' });
});

test('v4-mapped helpers and V6ONLY-by-bind', (t) => {
  const m = toV6Sockaddr(sa4('127.0.0.1', 80));
  t.is(formatSockaddr(m), '[::ffff:127.0.0.1]:80');
  t.is(formatSockaddr(v4EndpointOf(m)!), '127.0.0.1:80');
  t.is(v4EndpointOf(sa6('::1', 80)), null);
  t.true(bindImpliesV6only(sa6('::1', 0)));
  t.false(bindImpliesV6only(sa6('::', 0)));
  t.false(bindImpliesV6only(sa6('::ffff:127.0.0.1', 0)));
  t.false(bindImpliesV6only(sa4('127.0.0.1', 0)));
  t.is(formatSockaddr(sa6('fe80::1', 5, 0, 2)), '[fe80::1%2]:5');
});
