// Socket option codec: value layouts (golden bytes), optlen rules, clamping and range rules.
// The same rules are checked against Linux by the conformance table (conformance/cases.ts); the
// numbers here (4608, 2304, 32767, ...) are the ones Linux answered there.

import test from 'ava';
import { IPOPT, IPV6OPT, SO, SOL, TCPOPT } from '../../src/kernel/socket-abi.js';
import {
  LINUX_DEFAULT_LIMITS, SOCKOPTS, applyLinger, clampRcvbuf, clampSndbuf, cmsgsForUser, cmsgsValid, decodeCmsgs,
  decodeCString, decodeIn6Pktinfo, decodeInPktinfo, decodeLinger, decodeTcpInfo, decodeTimeval, encodeCmsgs,
  encodeCongestionName, encodeGetInt, encodeIn6Pktinfo, encodeInPktinfo, encodeInt, encodeLinger, encodeTcpInfo,
  encodeTimeval, findSockopt, foreignLevelErrno, jiffiesToTimeval, readCongestionName, readSetInt, reportedPathMtu,
  sockoptByName, timevalToJiffies, truncateGet, TCP_INFO_FIELDS, TCP_INFO_KNOWN_LEN,
  SO_EE_ORIGIN, decodeSockExtendedErr, encodeSockExtendedErr, getsockoptLen, retransToSecs, secsToRetrans, setsockoptInt,
} from '../../src/kernel/sockopt-codec.js';
import type { SetContext, SockoptLimits } from '../../src/kernel/sockopt-codec.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const LIM: SockoptLimits = { ...LINUX_DEFAULT_LIMITS, wmemMax: 4194304, rmemMax: 4194304 };
const STREAM: SetContext = { stream: true, bound: false };
const DGRAM: SetContext = { stream: false, bound: false };
function set(name: string, v: number, ctx = STREAM): unknown {
  const s = sockoptByName(name);
  if (!s?.set) throw new Error(`${name} is not settable`);
  const r = s.set(v, LIM, ctx);
  return r.ok ? r.value : r.errno;
}

test('every option has a unique (level, name) and the numbers of socket-abi.ts', (t) => {
  const keys = new Set(SOCKOPTS.map((s) => `${s.levelNum}:${s.nameNum}`));
  t.is(keys.size, SOCKOPTS.length);
  t.is(findSockopt(SOL.SOL_TCP, TCPOPT.TCP_INFO)?.name, 'TCP_INFO');
  t.is(findSockopt(SOL.SOL_SOCKET, SO.SO_RCVTIMEO)?.kind, 'timeval');
  t.is(findSockopt(SOL.SOL_IP, IPOPT.IP_TTL)?.name, 'IP_TTL');
  t.is(findSockopt(SOL.SOL_IPV6, IPV6OPT.IPV6_V6ONLY)?.name, 'IPV6_V6ONLY');
  t.is(findSockopt(SOL.SOL_SOCKET, 9999), undefined);
  for (const ro of ['SO_TYPE', 'SO_DOMAIN', 'SO_PROTOCOL', 'SO_ACCEPTCONN', 'SO_ERROR', 'SO_SNDLOWAT', 'TCP_INFO', 'IP_MTU']) {
    t.is(sockoptByName(ro)?.set, undefined, `${ro} is read-only`);
  }
});

test('SO_SNDBUF/SO_RCVBUF: doubled, clamped to [SOCK_MIN, 2 * max], negative read as u32', (t) => {
  t.is(clampSndbuf(4096, LIM), 8192);
  t.is(clampSndbuf(0, LIM), 4608);
  t.is(clampSndbuf(1, LIM), 4608);
  t.is(clampSndbuf(1 << 30, LIM), 8388608);
  t.is(clampSndbuf(-1, LIM), 8388608);
  t.is(clampRcvbuf(4096, LIM), 8192);
  t.is(clampRcvbuf(0, LIM), 2304);
  t.is(clampRcvbuf(0x7fffffff, { ...LIM, rmemMax: 0x7fffffff }), 0x7ffffffe);
});

test('range rules of TCP options', (t) => {
  t.is(set('TCP_KEEPIDLE', 0), 'EINVAL');
  t.is(set('TCP_KEEPIDLE', 32767), 32767);
  t.is(set('TCP_KEEPIDLE', 32768), 'EINVAL');
  t.is(set('TCP_KEEPINTVL', -1), 'EINVAL');
  t.is(set('TCP_KEEPCNT', 127), 127);
  t.is(set('TCP_KEEPCNT', 128), 'EINVAL');
  t.is(set('TCP_SYNCNT', 0), 'EINVAL');
  t.is(set('TCP_MAXSEG', 87), 'EINVAL');
  t.is(set('TCP_MAXSEG', 88), 88);
  t.is(set('TCP_MAXSEG', 0), 0);
  t.is(set('TCP_MAXSEG', 32768), 'EINVAL');
  t.is(set('TCP_USER_TIMEOUT', -1), 'EINVAL');
  t.is(set('TCP_USER_TIMEOUT', 0x7fffffff), 0x7fffffff);
  t.is(set('TCP_NODELAY', 2), 1);
});

test('IP/IPv6 rules: TTL -1 is the default, TOS keeps ECN bits on stream sockets, V6ONLY fixed once bound', (t) => {
  t.is(set('IP_TTL', -1), 64);
  t.is(set('IP_TTL', 0), 'EINVAL');
  t.is(set('IP_TTL', 256), 'EINVAL');
  t.is(set('IP_TOS', 0xff), 0xfc);
  t.is(set('IP_TOS', 0xfc, { ...STREAM, current: 0x01 }), 0xfd);
  t.is(set('IP_TOS', 0xff, DGRAM), 0xff);
  t.is(set('IP_TOS', 0x1ff, DGRAM), 0xff);
  t.is(set('IP_MTU_DISCOVER', 5), 5);
  t.is(set('IP_MTU_DISCOVER', 6), 'EINVAL');
  t.is(set('IPV6_V6ONLY', 5), 1);
  t.is(set('IPV6_V6ONLY', 1, { ...STREAM, bound: true }), 'EINVAL');
  t.is(set('IPV6_UNICAST_HOPS', 0), 0);
  t.is(set('IPV6_UNICAST_HOPS', -1), 64);
  t.is(set('IPV6_UNICAST_HOPS', -2), 'EINVAL');
  t.is(set('IPV6_TCLASS', -1, DGRAM), 0);
  t.is(set('IPV6_TCLASS', 0xff), 0xfc);
  t.is(set('SO_RCVLOWAT', 0), 1);
  t.is(set('SO_RCVLOWAT', -5), 0x7fffffff);
  t.is(foreignLevelErrno('set'), 'ENOPROTOOPT');
  t.is(foreignLevelErrno('get'), 'EOPNOTSUPP');
  t.is(reportedPathMtu(4, 65536), 65535);
  t.is(reportedPathMtu(6, 65536), 65536);
});

test('setsockopt optlen: 4 bytes for most levels; SOL_IP also takes one byte', (t) => {
  t.deepEqual(readSetInt('SOL_SOCKET', 'SO_REUSEADDR', new Uint8Array(3)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readSetInt('SOL_SOCKET', 'SO_REUSEADDR', Uint8Array.of(1, 0, 0, 0, 9, 9, 9, 9)), { ok: true, value: 1 });
  t.deepEqual(readSetInt('SOL_TCP', 'TCP_NODELAY', new Uint8Array(2)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readSetInt('SOL_IPV6', 'IPV6_V6ONLY', new Uint8Array(2)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readSetInt('SOL_IP', 'IP_TTL', Uint8Array.of(0x20)), { ok: true, value: 32 });
  t.deepEqual(readSetInt('SOL_IP', 'IP_TOS', Uint8Array.of(0xff, 0xff)), { ok: true, value: 255 });
  t.deepEqual(readSetInt('SOL_IP', 'IP_TTL', new Uint8Array(0)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readSetInt('SOL_IP', 'IP_TTL', encodeInt(-1)), { ok: true, value: -1 });
});

test('getsockopt optlen: cut to the buffer; SOL_IP answers one byte; SOL_IPV6 reads optlen unsigned', (t) => {
  const g = (level: Parameters<typeof encodeGetInt>[0], v: number, n: number): string => {
    const r = encodeGetInt(level, v, n);
    return r.ok ? hex(r.bytes) : r.errno;
  };
  t.is(g('SOL_SOCKET', 1, 2), '0100');
  t.is(g('SOL_SOCKET', 1, 0), '');
  t.is(g('SOL_SOCKET', 1, 64), '01000000');
  t.is(g('SOL_SOCKET', 1, -1), 'EINVAL');
  t.is(g('SOL_TCP', 7200, 2), '201c');
  t.is(g('SOL_TCP', 7200, -1), 'EINVAL');
  t.is(g('SOL_IP', 64, -1), 'EINVAL');
  t.is(g('SOL_IPV6', 64, -1), '40000000');
  t.is(g('SOL_IP', 64, 1), '40');
  t.is(g('SOL_IP', 64, 3), '40');
  t.is(g('SOL_IP', 300, 2), '2c01');
  t.is(g('SOL_IP', -1, 1), 'ff');
  const cut = truncateGet(encodeLinger({ onoff: 1, linger: 5 }), 4);
  t.true(cut.ok && hex(cut.bytes) === '01000000');
  t.deepEqual(truncateGet(new Uint8Array(8), -1), { ok: false, errno: 'EINVAL' });
});

test('struct linger: layout, short buffers, and what a later get reports', (t) => {
  t.is(hex(encodeLinger({ onoff: 1, linger: 5 })), '0100000005000000');
  t.deepEqual(decodeLinger(encodeLinger({ onoff: 0, linger: -1 })), { onoff: 0, linger: -1 });
  t.is(decodeLinger(new Uint8Array(7)), null);
  t.deepEqual(applyLinger({ onoff: 0, linger: 0 }, { onoff: 0, linger: 7 }), { onoff: 0, linger: 0 });
  t.deepEqual(applyLinger({ onoff: 1, linger: 5 }, { onoff: 0, linger: 9 }), { onoff: 0, linger: 5 });
  t.deepEqual(applyLinger({ onoff: 0, linger: 5 }, { onoff: 3, linger: 2 }), { onoff: 1, linger: 2 });
});

test('struct timeval: 16 bytes, jiffy rounding, EDOM and EINVAL', (t) => {
  t.is(hex(encodeTimeval({ sec: 1, usec: 500000 })), '010000000000000020a1070000000000');
  t.deepEqual(decodeTimeval(encodeTimeval({ sec: -1, usec: 0 })), { sec: -1, usec: 0 });
  const j = (sec: number, usec: number): unknown => {
    const r = timevalToJiffies(encodeTimeval({ sec, usec }), 250);
    return r.ok ? r.jiffies : r.errno;
  };
  t.is(j(1, 500000), 375);
  t.deepEqual(jiffiesToTimeval(375, 250), { sec: 1, usec: 500000 });
  t.is(j(0, 1), 1);
  t.deepEqual(jiffiesToTimeval(1, 250), { sec: 0, usec: 4000 });
  t.is(j(-1, 0), 0);
  t.is(j(0, 1000000), 'EDOM');
  t.is(j(1, -1), 'EDOM');
  t.deepEqual(timevalToJiffies(new Uint8Array(8), 250), { ok: false, errno: 'EINVAL' });
});

test('TCP_CONGESTION names: at most 15 bytes read, up to NUL; a get is NUL padded to 16', (t) => {
  t.deepEqual(readCongestionName(new TextEncoder().encode('cubicXYZ').subarray(0, 5)), { ok: true, name: 'cubic' });
  t.deepEqual(readCongestionName(new Uint8Array(0)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readCongestionName(new TextEncoder().encode('a'.repeat(40))), { ok: true, name: 'a'.repeat(15) });
  t.deepEqual(readCongestionName(Uint8Array.of(0x72, 0x65, 0x6e, 0x6f, 0, 0x78)), { ok: true, name: 'reno' });
  const b = encodeCongestionName('reno');
  t.is(b.length, 16);
  t.is(hex(b), `72656e6f${'00'.repeat(12)}`);
  t.is(decodeCString(b.subarray(0, 3)), 'ren');
});

test('struct tcp_info: field offsets, bitfields, round trip and truncation', (t) => {
  const info: Record<string, number> = {};
  TCP_INFO_FIELDS.forEach(([name, , w], i) => {
    info[name] = w === 1 ? (i + 1) & 0xff : w === 2 ? 0x1234 + i : w === 4 ? 0xfedc0000 + i : 2 ** 40 + i;
  });
  Object.assign(info, { snd_wscale: 7, rcv_wscale: 14, delivery_rate_app_limited: 1, fastopen_client_fail: 2 });
  const b = encodeTcpInfo(info);
  t.is(b.length, TCP_INFO_KNOWN_LEN);
  t.is(b[6], 0xe7);
  t.is(b[7], 0x05);
  t.is(new DataView(b.buffer).getUint32(68, true), info.rtt);
  t.is(new DataView(b.buffer).getUint32(100, true), info.total_retrans);
  t.deepEqual(decodeTcpInfo(b), info);
  const head = decodeTcpInfo(b.subarray(0, 8));
  t.deepEqual(Object.keys(head).sort(), ['backoff', 'ca_state', 'delivery_rate_app_limited', 'fastopen_client_fail', 'options', 'probes', 'rcv_wscale', 'retransmits', 'snd_wscale', 'state']);
  t.false('pacing_rate' in decodeTcpInfo(b.subarray(0, 104)));
  t.is(decodeTcpInfo(b.subarray(0, 104)).total_retrans, info.total_retrans);
});

test('in_pktinfo and in6_pktinfo layouts', (t) => {
  const p = encodeInPktinfo({ ifindex: 1, specDst: Uint8Array.of(127, 0, 0, 2), addr: Uint8Array.of(127, 0, 0, 3) });
  t.is(hex(p), '010000007f0000027f000003');
  t.deepEqual(decodeInPktinfo(p), { ifindex: 1, specDst: Uint8Array.of(127, 0, 0, 2), addr: Uint8Array.of(127, 0, 0, 3) });
  t.is(decodeInPktinfo(p.subarray(0, 11)), null);
  const addr = new Uint8Array(16);
  addr[15] = 1;
  const p6 = encodeIn6Pktinfo({ addr, ifindex: 1 });
  t.is(hex(p6), `${'00'.repeat(15)}0101000000`);
  t.deepEqual(decodeIn6Pktinfo(p6), { addr, ifindex: 1 });
});

test('cmsg framing: 16-byte headers, data padded to 8, walk and validate', (t) => {
  const msgs = [
    { level: 0, type: 8, data: encodeInPktinfo({ ifindex: 1, specDst: new Uint8Array(4), addr: new Uint8Array(4) }) },
    { level: 0, type: 2, data: encodeInt(64) },
  ];
  const b = encodeCmsgs(msgs);
  t.is(b.length, 32 + 24);
  t.is(hex(b.subarray(0, 16)), '1c000000000000000000000008000000');
  const back = decodeCmsgs(b);
  t.deepEqual(back.map((m) => [m.level, m.type, hex(m.data)]), msgs.map((m) => [m.level, m.type, hex(m.data)]));
  t.true(cmsgsValid(b));
  const bad = Uint8Array.from(b);
  bad[0] = 0xff;
  t.false(cmsgsValid(bad));
  t.deepEqual(decodeCmsgs(bad), []);
});

test('cmsgsForUser: a short control buffer cuts the message and sets MSG_CTRUNC (as Linux answered)', (t) => {
  const pkt = { level: 0, type: 8, data: encodeInPktinfo({ ifindex: 1, specDst: Uint8Array.of(127, 0, 0, 1), addr: Uint8Array.of(127, 0, 0, 1) }) };
  const full = cmsgsForUser([pkt], 64);
  t.false(full.ctrunc);
  t.is(full.bytes.length, 32);
  const hdrOnly = cmsgsForUser([pkt], 16);
  t.true(hdrOnly.ctrunc);
  t.is(hex(hdrOnly.bytes), '10000000000000000000000008000000');
  const none = cmsgsForUser([pkt], 15);
  t.true(none.ctrunc);
  t.is(none.bytes.length, 0);
  const part = cmsgsForUser([pkt], 20);
  t.true(part.ctrunc);
  t.is(hex(part.bytes), '1400000000000000000000000800000001000000');
  const two = cmsgsForUser([pkt, { level: 0, type: 2, data: encodeInt(64) }], 40);
  t.true(two.ctrunc);
  t.is(decodeCmsgs(two.bytes).length, 1);
});

test('setsockoptInt: level optlen rules come before read-only and range checks', (t) => {
  const s = (name: string, bytes: Uint8Array, ctx = STREAM): unknown => {
    const r = setsockoptInt(sockoptByName(name)!, bytes, LIM, ctx);
    return r.ok ? r.value : r.errno;
  };
  t.is(s('SO_TYPE', new Uint8Array(2)), 'EINVAL');
  t.is(s('SO_TYPE', encodeInt(1)), 'ENOPROTOOPT');
  t.is(s('TCP_INFO', new Uint8Array(2)), 'EINVAL');
  t.is(s('IP_MTU', new Uint8Array(0)), 'ENOPROTOOPT');
  t.is(s('IP_PKTINFO', new Uint8Array(0), DGRAM), 0);
  t.is(s('IP_FREEBIND', new Uint8Array(0), DGRAM), 'EINVAL');
  t.is(s('IP_TTL', Uint8Array.of(10, 0), DGRAM), 10);
  t.is(s('IPV6_MTU', encodeInt(1279)), 'EINVAL');
  t.is(s('IPV6_MTU', encodeInt(1280)), 1280);
  t.is(s('TCP_KEEPCNT', encodeInt(128)), 'EINVAL');
});

test('getsockoptLen: per-kind lengths, and SO_BINDTODEVICE bound or not', (t) => {
  const g = (name: string, optlen: number, value = 0): unknown => {
    const r = getsockoptLen(sockoptByName(name)!, optlen, value);
    return r.ok ? r.len : r.errno;
  };
  t.is(g('SO_LINGER', 4), 4);
  t.is(g('SO_LINGER', 64), 8);
  t.is(g('SO_RCVTIMEO', 64), 16);
  t.is(g('TCP_CONGESTION', 64), 16);
  t.is(g('TCP_CONGESTION', -1), 'EINVAL');
  t.is(g('IPV6_TCLASS', -1), 4);
  t.is(g('IP_TTL', 2, 64), 1);
  t.is(g('SO_BINDTODEVICE', 1), 0);
  t.is(g('SO_BINDTODEVICE', 8, 2), 'EINVAL');
  t.is(g('SO_BINDTODEVICE', 16, 2), 3);
  t.is(g('SO_BINDTODEVICE', -1), 'EINVAL');
});

test('TCP_DEFER_ACCEPT seconds <-> retransmissions, capped at 255 retransmissions', (t) => {
  t.is(secsToRetrans(0), 0);
  t.is(secsToRetrans(-3), 0);
  t.is(secsToRetrans(1), 1);
  t.is(secsToRetrans(5), 3);
  t.is(retransToSecs(3), 7);
  t.is(retransToSecs(secsToRetrans(200)), 247);
  t.is(secsToRetrans(0x7fffffff), 255);
  t.is(retransToSecs(255), 1 + 2 + 4 + 8 + 16 + 32 + 64 + 120 * 248);
});

test('sock_extended_err layout: errno, origin/type/code bytes, info, data, then the offender', (t) => {
  const offender = Uint8Array.of(2, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const b = encodeSockExtendedErr({ errno: 111, origin: SO_EE_ORIGIN.ICMP, type: 3, code: 3, info: 0, data: 0, offender });
  t.is(hex(b.subarray(0, 16)), '6f000000020303000000000000000000');
  t.deepEqual(decodeSockExtendedErr(b), { errno: 111, origin: 2, type: 3, code: 3, info: 0, data: 0, offender });
  t.is(decodeSockExtendedErr(b.subarray(0, 15)), null);
});
