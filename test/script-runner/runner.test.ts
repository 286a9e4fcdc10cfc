// Tests of the script runner itself: failures point at the line, parse errors at line and
// column, timing tolerance, relative/absolute/wildcard/range times, blocking calls, and the
// things moat does not support are refused by name.

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFailure, parseScript, runScriptText, ScriptSyntaxError } from '../../src/kernel/script/index.js';
import { runScriptFiles } from '../../src/cli/script.js';
import { readPcapBuffer } from '../../src/net-plumbing/pcap/index.js';

const LISTEN = `0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
`;
const ESTABLISHED = `${LISTEN}+.1 < . 1:1(0) ack 1 win 257
+0  accept(3, ..., ...) = 4
`;

test('a correct script passes', async (t) => {
  const r = await runScriptText(ESTABLISHED, 'ok.pkt');
  t.true(r.passed, formatFailure(r));
  t.is(r.failure, null);
});

test('a wrong ack fails at its line with expected versus actual packets', async (t) => {
  const r = await runScriptText(`${LISTEN.replace('> S. 0:0(0) ack 1', '> S. 0:0(0) ack 2')}`, 'bad-ack.pkt');
  t.false(r.passed);
  t.is(r.failure!.line, 5);
  t.is(r.failure!.message, 'tcp ack: expected 2 vs actual 1');
  t.is(r.failure!.expected, '0.000000 > S. 0:0(0) ack 2 <mss 1460,nop,wscale 7>');
  t.regex(r.failure!.actual!, /^0\.000000 > S\. 0:0\(0\) ack 1 win \d+ <mss 1460,nop,wscale 7>$/);
  t.regex(formatFailure(r), /^bad-ack\.pkt:5:1: tcp ack: expected 2 vs actual 1\n {2}expected: .*\n {2}actual: {3}.*$/);
});

test('wrong flags, options, window and payload length are each reported', async (t) => {
  const cases: [string, RegExp][] = [
    ['> . 0:0(0) ack 1 <mss 1460,nop,wscale 7>', /tcp flags: expected \. vs actual S\./],
    ['> S. 0:0(0) ack 1 <mss 1000,nop,wscale 7>', /bad outbound TCP options \(mss value\)/],
    ['> S. 0:0(0) ack 1 <mss 1460>', /bad outbound TCP options/],
    ['> S. 0:0(0) ack 1', /bad outbound TCP options/],
    ['> S. 0:0(0) ack 1 win 1 <mss 1460,nop,wscale 7>', /tcp window: expected 1 vs actual \d+/],
  ];
  for (const [line, re] of cases) {
    const r = await runScriptText(LISTEN.replace('> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>', line), 'x.pkt');
    t.false(r.passed, line);
    t.is(r.failure!.line, 5, line);
    t.regex(r.failure!.message, re, line);
  }
  const ok = await runScriptText(LISTEN.replace('> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>', '> S. 0:0(0) ack 1 <...>'), 'x.pkt');
  t.true(ok.passed, '<...> skips the option check');
  const len = await runScriptText(`${ESTABLISHED}+0 write(4, ..., 100) = 100\n+0 > P. 1:51(50) ack 1\n`, 'x.pkt');
  t.is(len.failure!.message, 'tcp payload length: expected 50 vs actual 100');
  t.is(len.failure!.line, 9);
});

test('a packet that is never sent fails with the time it was due', async (t) => {
  const r = await runScriptText(`${ESTABLISHED}+0 > P. 1:11(10) ack 1\n`, 'missing.pkt');
  t.false(r.passed);
  t.is(r.failure!.line, 8);
  t.is(r.failure!.message, 'expected outbound packet was not sent by 0.104000 (nor in the 10 s after)');
  t.is(r.failure!.actual, '(no packet)');
});

test('a wrong syscall result names the call, both values and the line', async (t) => {
  const r = await runScriptText(`${ESTABLISHED}+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 10) = 10\n`, 'r.pkt');
  t.false(r.passed);
  t.is(r.failure!.line, 9);
  t.is(r.failure!.message, 'read() returned -1 EAGAIN, expected 10');
  const e = await runScriptText(`0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 listen(3, 1) = -1 EOPNOTSUPP\n`, 'e.pkt');
  t.true(e.passed, formatFailure(e));
  const fl = await runScriptText(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n`, 'e.pkt');
  t.true(fl.passed, formatFailure(fl));
  const e2 = await runScriptText(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 write(3, ..., 1) = -1 ENOTCONN\n`, 'e.pkt');
  t.is(e2.failure!.message, 'write() returned -1 EPIPE, expected -1 ENOTCONN');
});

test('parse errors name the line and the column', async (t) => {
  const cases: [string, number, number, RegExp][] = [
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0  < S 0:0(0) win 65535 <mss 1460,bogus 3>\n', 2, 36, /TCP option "bogus" is not supported/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 < S 0:5(0) win 1\n', 3, 8, /sequence range 0:5 does not hold 0 bytes/],
    ['0 socket(..., SOCK_STREAM IPPROTO_TCP) = 3\n', 1, 27, /expected "," or "\)" between arguments/],
    ['// comment\n   +x close(3) = 0\n', 2, 5, /expected a time/],
    ['0 close(3)\n', 1, 11, /expected "=" and the expected result/],
    ['0 < S 0:0(0) ack 1\n', 1, 14, /"ack" needs the ACK flag/],
    ['0 < [ect0] S 0:0(0) win 1\n', 1, 5, /IP header markings like \[ect0\] are not supported/],
    ['0 < gre 1\n', 1, 5, /"gre" packets are not supported by moat's runner \(tcp, udp and icmp are\)/],
    ['0 < icmp unreachable bogus_code\n', 1, 22, /ICMP code "bogus_code" is not supported/],
  ];
  for (const [src, line, col, re] of cases) {
    const e = t.throws(() => parseScript(src, 'p.pkt'), { instanceOf: ScriptSyntaxError });
    t.is(e!.line, line, src);
    t.is(e!.col, col, src);
    t.regex(e!.message, re, src);
    t.true(e!.message.startsWith(`p.pkt:${line}:${col}: syntax error: `), e!.message);
  }
});

// The SYN-ACK is retransmitted exactly 1 s after the first one (virtual time).
const RETRANSMIT = (at: string) => `${LISTEN}${at} > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n`;

test('timing: within the default 4000 us tolerance passes, beyond fails with both times', async (t) => {
  t.true((await runScriptText(RETRANSMIT('1.000'), 't.pkt')).passed);
  t.true((await runScriptText(RETRANSMIT('1.004'), 't.pkt')).passed);
  t.true((await runScriptText(RETRANSMIT('0.996'), 't.pkt')).passed);
  const late = await runScriptText(RETRANSMIT('0.995'), 't.pkt');
  t.false(late.passed);
  t.is(late.failure!.line, 6);
  t.is(late.failure!.message, 'outbound packet timing: sent at 1.000000, expected at 0.995000 (tolerance 4000 us)');
  const early = await runScriptText(RETRANSMIT('1.005'), 't.pkt');
  t.false(early.passed);
  t.is(early.failure!.message, 'outbound packet timing: sent at 1.000000, expected at 1.005000 (tolerance 4000 us)');
});

test('timing: --tolerance_usecs in the script or the options widens the window', async (t) => {
  t.true((await runScriptText(`--tolerance_usecs=10000\n${RETRANSMIT('1.009')}`, 't.pkt')).passed);
  t.true((await runScriptText(RETRANSMIT('1.009'), 't.pkt', { toleranceUsecs: 10_000 })).passed);
  t.true((await runScriptText(`// moat: tolerance_usecs=10000\n${RETRANSMIT('1.009')}`, 't.pkt')).passed);
  t.false((await runScriptText(RETRANSMIT('1.011'), 't.pkt', { toleranceUsecs: 10_000 })).passed);
  const zero = await runScriptText(RETRANSMIT('1.001'), 't.pkt', { toleranceUsecs: 0 });
  t.false(zero.passed);
});

test('timing: relative, wildcard and range times', async (t) => {
  t.true((await runScriptText(RETRANSMIT('+1'), 't.pkt')).passed, 'relative to the previous packet');
  t.false((await runScriptText(RETRANSMIT('+.5'), 't.pkt')).passed);
  t.true((await runScriptText(RETRANSMIT('*'), 't.pkt')).passed, '* matches any time');
  t.true((await runScriptText(RETRANSMIT('0.5~2'), 't.pkt')).passed, 'a window');
  t.false((await runScriptText(RETRANSMIT('1.5~2'), 't.pkt')).passed);
  // After a packet, relative times count from when it really left (1.0, not 0.995).
  const src = `${LISTEN}0.997 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n+2 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n`;
  t.true((await runScriptText(src, 't.pkt')).passed);
});

test('blocking calls: start...end returns at end, a call that blocks without "..." fails', async (t) => {
  const ok = await runScriptText(`${LISTEN}0...0.2 accept(3, ..., ...) = 4\n+.2 < . 1:1(0) ack 1 win 257\n`, 'b.pkt');
  t.true(ok.passed, formatFailure(ok));
  const wrongEnd = await runScriptText(`${LISTEN}0...0.5 accept(3, ..., ...) = 4\n+.2 < . 1:1(0) ack 1 win 257\n`, 'b.pkt');
  t.false(wrongEnd.passed);
  t.is(wrongEnd.failure!.line, 6);
  t.is(wrongEnd.failure!.message, 'blocking accept() returned at 0.200000, expected at 0.500000 (tolerance 4000 us)');
  const never = await runScriptText(`${LISTEN}+0 accept(3, ..., ...) = 4\n`, 'b.pkt');
  t.false(never.passed);
  t.is(never.failure!.line, 6);
});

test('unsupported calls, options, lines and flags are refused by name', async (t) => {
  const cases: [string, RegExp][] = [
    ['0 epoll_create(1) = 3\n', /system call epoll_create\(\) is not supported/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_ATTACH_FILTER, ..., 16) = 0\n', /setsockopt SOL_SOCKET\/SO_ATTACH_FILTER \(supported: SO_REUSEADDR, /],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_TCP, TCP_FASTOPEN, [0], [4]) = 0\n', /getsockopt SOL_TCP\/TCP_FASTOPEN/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_TCP, 23, [0], [4]) = 0\n', /getsockopt SOL_TCP\/TCP_FASTOPEN/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFD, FD_CLOEXEC) = 0\n', /fcntl command F_SETFD \(supported: F_GETFL, F_SETFL\)/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 ioctl(3, SIOCATMARK, [0]) = 0\n', /ioctl SIOCATMARK/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 send(3, ..., 10, MSG_OOB) = 10\n', /send flags MSG_OOB/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendmsg(3, ..., 0) = 10\n', /system call sendmsg\(\) is not supported/],
    ['0 `sysctl -q net.ipv4.tcp_sack=0`\n', /shell command/],
    ['%{\nprint(1)\n}%\n', /python blocks/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_rto == 300000 }%\n', /python blocks/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{\nprint(tcpi_rto)\n}%\n', /python blocks/],
    ['--foo=1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n', /option --foo is not supported/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 recv(3, ..., 10, MSG_OOB) = 0\n', /recv flags MSG_OOB \(supported: 0, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_PEEK, MSG_WAITALL, MSG_TRUNC\)/],
  ];
  for (const [src, re] of cases) {
    const r = await runScriptText(src, 'u.pkt');
    t.false(r.passed, src);
    t.regex(r.failure!.message, re, src);
  }
});

test('timestamps: the stack\'s TSval is learned, its TSecr checked, and inbound TSecr mapped', async (t) => {
  const base = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 1000 ecr 0>
`;
  t.true((await runScriptText(`${base}+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,TS val 7 ecr 1000>\n+.1 < . 1:1(0) ack 1 win 100 <nop,nop,TS val 1100 ecr 7>\n+0 accept(3, ..., ...) = 4\n`, 'ts.pkt')).passed);
  const bad = await runScriptText(`${base}+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,TS val 7 ecr 999>\n`, 'ts.pkt');
  t.is(bad.failure!.message, 'tcp TS ecr: expected 999 vs actual 1000');
});

test('the run is captured: both directions, in order, with virtual timestamps', async (t) => {
  const r = await runScriptText(RETRANSMIT('1'), 'cap.pkt');
  t.true(r.passed);
  t.deepEqual(r.frames.map((f) => [f.dir, f.usecs]), [['in', 0], ['out', 0], ['out', 1_000_000]]);
  t.is(r.frames[0]!.data[12], 0x08, 'Ethernet carrying IPv4');
});

test('moat script: PASS/FAIL lines, the summary and one pcap per script', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-script-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.pkt');
  const bad = join(dir, 'bad.pkt');
  writeFileSync(good, RETRANSMIT('1'));
  writeFileSync(bad, RETRANSMIT('2'));
  const lines: string[] = [];
  const r = await runScriptFiles([good, bad], { pcapDir: join(dir, 'pcaps') }, (l) => lines.push(l));
  t.is(r.passed, 1);
  t.is(r.failed, 1);
  t.is(lines[0], `PASS ${good}`);
  t.true(lines[1]!.startsWith(`FAIL ${bad}\n  ${bad}:6:1: outbound packet timing: sent at 1.000000, expected at 2.000000`), lines[1]);
  t.is(lines[2], '1 passed, 1 failed');
  const broken = join(dir, 'broken.pkt');
  writeFileSync(broken, '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win 1 <mss>\n');
  const more: string[] = [];
  await runScriptFiles([broken], { pcapDir: join(dir, 'pcaps') }, (l) => more.push(l));
  t.is(more[0], `FAIL ${broken}\n  ${broken}:2:25: syntax error: expected an MSS value, found ">"`);
  t.is(more[1], '0 passed, 1 failed');
  t.is(lines[3], `pcaps in ${join(dir, 'pcaps')}`);
  for (const name of ['good', 'bad']) {
    const p = join(dir, 'pcaps', `${name}.pcap`);
    t.true(existsSync(p));
    const recs = readPcapBuffer(readFileSync(p));
    t.is(recs.length, 3);
    t.is(recs[2]!.timestampNs, 1_000_000_000n);
  }
});

test('IPv6 via the directive and the option', async (t) => {
  const v6 = LISTEN.replace(/mss 1460/g, 'mss 1440');
  t.true((await runScriptText(`// moat: ipv6\n${v6}`, 'v6.pkt')).passed);
  t.true((await runScriptText(`--ip_version=ipv6\n${v6}`, 'v6.pkt')).passed);
  t.true((await runScriptText(v6, 'v6.pkt', { ipVersion: 6 })).passed);
  t.false((await runScriptText(v6, 'v6.pkt')).passed, 'IPv4 announces 1460');
  const r = await runScriptText(v6, 'v6.pkt', { ipVersion: 6 });
  t.is(r.frames[0]!.data[12], 0x86);
});

test('ICMP lines: an injected error reaches the socket; an expected ICMP is matched by type and code', async (t) => {
  const refused = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS
+0 > S 0:0(0) <...>
+.1 < icmp unreachable port_unreachable
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
`;
  const r = await runScriptText(refused, 'i.pkt');
  t.true(r.passed, formatFailure(r));
  const wrong = await runScriptText('0 < udp (10)\n+0 > icmp unreachable host_unreachable\n', 'i.pkt');
  t.is(wrong.failure!.message, 'icmp code: expected 1 vs actual 3');
  t.is(wrong.failure!.actual, '0.000000 > icmp type 3 code 3 (46 bytes)');
  const notIcmp = await runScriptText(`${ESTABLISHED}+0 write(4, ..., 10) = 10\n+0 > icmp unreachable\n`, 'i.pkt');
  t.is(notIcmp.failure!.message, 'expected an ICMP packet, got TCP');
});

test('a script packet larger than the MSS matches the segments it was cut into (packetdrill aggregation)', async (t) => {
  const base = `${ESTABLISHED}+0 write(4, ..., 4380) = 4380\n`;
  const whole = await runScriptText(`${base}+0 > P. 1:4381(4380) ack 1\n+.1 < . 1:1(0) ack 4381 win 257\n`, 'agg.pkt');
  t.true(whole.passed, formatFailure(whole));
  const cut = await runScriptText(`${base}+0 > . 1:1461(1460) ack 1\n+0 > P. 1461:4381(2920) ack 1\n`, 'agg.pkt');
  t.true(cut.passed, formatFailure(cut));
  const tooLong = await runScriptText(`${base}+0 > P. 1:5001(5000) ack 1\n`, 'agg.pkt');
  t.is(tooLong.failure!.message, 'tcp payload length: expected 5000 vs actual 4380');
  t.regex(tooLong.failure!.actual!, /P\. 1:4381\(4380\) ack 1 .*\(aggregated\)$/);
  const wrongFlags = await runScriptText(`${base}+0 > . 1:4381(4380) ack 1\n`, 'agg.pkt');
  t.is(wrongFlags.failure!.message, 'tcp flags: expected . vs actual P.');
});

// Syscall lines are calls of the socket layer: Linux's rules for option values, errno and
// outputs come from it, so scripts see what a trapped program would.

const TCP = '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n';

test('socket options are real option bytes through the layer: doubled buffers, linger, timeouts, strings, errno', async (t) => {
  const src = `${TCP}+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [4000], 4) = 0
+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [8000], [4]) = 0
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=5}, 8) = 0
+0 getsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=5}, [8]) = 0
+0 setsockopt(3, SOL_SOCKET, SO_RCVTIMEO, {tv_sec=1, tv_usec=500000}, 16) = 0
+0 getsockopt(3, SOL_SOCKET, SO_RCVTIMEO, {tv_sec=1, tv_usec=500000}, [16]) = 0
+0 setsockopt(3, SOL_TCP, TCP_CONGESTION, "reno", 4) = 0
+0 getsockopt(3, SOL_TCP, TCP_CONGESTION, "reno", [16]) = 0
+0 setsockopt(3, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 5) = -1 ENODEV (No such device)
+0 setsockopt(3, SOL_SOCKET, SO_BINDTODEVICE, "script0", 8) = 0
+0 getsockopt(3, SOL_SOCKET, SO_BINDTODEVICE, "script0", ...) = 0
+0 getsockopt(3, SOL_SOCKET, SO_BINDTODEVICE, "script0", [8]) = -1 EINVAL (Invalid argument)
+0 setsockopt(3, IPPROTO_TCP, TCP_MAXSEG, [10], 4) = -1 EINVAL (Invalid argument)
+0 setsockopt(3, SOL_IP, IP_TTL, [33], 1) = 0
+0 getsockopt(3, SOL_IP, IP_TTL, [33], [4]) = 0
+0 getsockopt(3, SOL_SOCKET, SO_PROTOCOL, [IPPROTO_TCP], [4]) = 0
+0 getsockopt(3, SOL_SOCKET, SO_TYPE, [SOCK_STREAM], [2]) = 0
0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 4
+0 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = -1 ENOPROTOOPT (Protocol not available)
+0 getsockopt(4, SOL_TCP, TCP_NODELAY, [0], [4]) = -1 EOPNOTSUPP (Operation not supported)
`;
  const r = await runScriptText(src, 'o.pkt');
  t.true(r.passed, formatFailure(r));
  const wrong = await runScriptText(`${TCP}+0 getsockopt(3, SOL_SOCKET, SO_TYPE, [SOCK_DGRAM], [4]) = 0\n`, 'o.pkt');
  t.is(wrong.failure!.message, 'getsockopt SOL_SOCKET/SO_TYPE value: expected [SOCK_DGRAM] vs actual 1');
  t.is(wrong.failure!.line, 2);
  const len = await runScriptText(`${TCP}+0 getsockopt(3, SOL_SOCKET, SO_TYPE, [SOCK_STREAM], [2]) = 0\n`, 'o.pkt');
  t.true(len.passed, formatFailure(len));
  const badLen = await runScriptText(`${TCP}+0 getsockopt(3, SOL_SOCKET, SO_TYPE, [SOCK_STREAM], [8]) = 0\n`, 'o.pkt');
  t.is(badLen.failure!.message, 'getsockopt SOL_SOCKET/SO_TYPE optlen: expected 8 vs actual 4');
  const linger = await runScriptText(`${TCP}+0 getsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, [8]) = 0\n`, 'o.pkt');
  t.is(linger.failure!.message, 'getsockopt SOL_SOCKET/SO_LINGER value: expected l_onoff=1 vs actual l_onoff=0');
});

test('every option of the socket layer can be set and read from a script', async (t) => {
  const { SOCKOPTS } = await import('../../src/kernel/sockopt-codec.js');
  const { SUPPORTED_SOCKOPTS } = await import('../../src/kernel/script/index.js');
  t.deepEqual([...SUPPORTED_SOCKOPTS].sort(), SOCKOPTS.map((s) => s.name).sort());
  for (const s of SOCKOPTS) {
    const domain = s.level === 'SOL_IPV6' ? 'AF_INET6' : '...';
    const lines = `0 socket(${domain}, SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, ${s.level}, ${s.name}, ..., ...) = ...\n+0 getsockopt(3, ${s.level}, ${s.name}, ..., ...) = ...\n`;
    const r = await runScriptText(lines, `${s.name}.pkt`);
    t.true(r.passed, `${s.name}: ${formatFailure(r)}`);
  }
});

test('TCP_INFO fields are compared by name', async (t) => {
  const ok = await runScriptText(`${ESTABLISHED}+0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=1, tcpi_snd_mss=1460, tcpi_snd_wscale=7, tcpi_rto=...}, ...) = 0\n`, 'i.pkt');
  t.true(ok.passed, formatFailure(ok));
  const bad = await runScriptText(`${ESTABLISHED}+0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=7}, ...) = 0\n`, 'i.pkt');
  t.is(bad.failure!.message, 'getsockopt SOL_TCP/TCP_INFO value: expected tcpi_state=7 vs actual tcpi_state=1');
});

test('receive flags, FIONREAD and SO_RCVTIMEO: MSG_PEEK leaves the data, MSG_WAITALL blocks for all of it', async (t) => {
  const src = `${ESTABLISHED}+0 < P. 1:101(100) ack 1 win 257
+0 ioctl(4, FIONREAD, [100]) = 0
+0 recv(4, ..., 1000, MSG_PEEK) = 100
+0 ioctl(4, FIONREAD, [100]) = 0
+0 recv(4, ..., 1000, MSG_DONTWAIT) = 100
+0 recv(4, ..., 1000, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)
+0...+.2 recv(4, ..., 200, MSG_WAITALL) = 200
+.1 < P. 101:201(100) ack 1 win 257
+.1 < P. 201:301(100) ack 1 win 257
+0 setsockopt(4, SOL_SOCKET, SO_RCVTIMEO, {tv_sec=0, tv_usec=300000}, 16) = 0
+0...+.3 read(4, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)
`;
  const r = await runScriptText(src, 'f.pkt');
  t.true(r.passed, formatFailure(r));
  const peekCount = await runScriptText(`${ESTABLISHED}+0 < P. 1:101(100) ack 1 win 257\n+0 ioctl(4, FIONREAD, [99]) = 0\n`, 'f.pkt');
  t.is(peekCount.failure!.message, 'ioctl FIONREAD value: expected 99 vs actual 100');
});

test('socket addresses: "..." is packetdrill\'s default, a written sockaddr is used and outputs are compared', async (t) => {
  const peer = '{sa_family=AF_INET, sin_port=htons(9090), sin_addr=inet_addr("192.0.2.1")}';
  const src = `${TCP}+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ${peer}, 16) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>
+0 > . 1:1(0) ack 1
+0 getpeername(3, ${peer}, [16]) = 0
+0 getsockname(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("192.168.0.1")}, [16]) = ...
`;
  const r = await runScriptText(src, 'a.pkt');
  t.false(r.passed, 'the local port is an ephemeral one');
  t.regex(r.failure!.message, /^getsockname address: expected 192\.168\.0\.1:0 vs actual 192\.168\.0\.1:\d+$/);
  t.is(r.failure!.line, 8);
  t.is(r.frames.filter((f) => f.dir === 'out').length, 2, 'the SYN and the ACK went to the written address');
  const ok = await runScriptText(src.replace(/\+0 getsockname.*\n/, ''), 'a.pkt');
  t.true(ok.passed, formatFailure(ok));
  const wrongPeer = await runScriptText(src.replace('getpeername(3, {sa_family=AF_INET, sin_port=htons(9090)', 'getpeername(3, {sa_family=AF_INET, sin_port=htons(9091)'), 'a.pkt');
  t.is(wrongPeer.failure!.message, 'getpeername address: expected 192.0.2.1:9091 vs actual 192.0.2.1:9090');
  const short = await runScriptText(`${TCP}+0 bind(3, ..., 15) = -1 EINVAL (Invalid argument)\n+0 bind(3, ..., ...) = 0\n+0 bind(3, ..., ...) = -1 EINVAL (Invalid argument)\n`, 'a.pkt');
  t.true(short.passed, formatFailure(short));
});

test('poll over several fds sleeps until one is ready or the timeout; dup shares the file', async (t) => {
  const src = `${LISTEN}0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 4
0...0.1 poll([{fd=3, events=POLLIN, revents=POLLIN}, {fd=4, events=POLLIN, revents=0}], 2, 1000) = 1
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 5
+0...+.25 poll([{fd=3, events=POLLIN, revents=0}, {fd=4, events=POLLIN, revents=0}], 2, 250) = 0
+.25 dup(5) = 6
+0 fcntl(6, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 fcntl(5, F_GETFL) = 0x802
+0 close(5) = 0
+0 read(6, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)
+0 poll([{fd=5, events=POLLIN, revents=POLLNVAL}], 1, 0) = 1
`;
  const r = await runScriptText(src, 'p.pkt');
  t.true(r.passed, formatFailure(r));
});

test('send flags and writev: MSG_MORE holds a small write back until the next send, writev sends its iovecs as one', async (t) => {
  const src = `${ESTABLISHED}+0 send(4, ..., 100, MSG_MORE) = 100
+.05 send(4, ..., 100, 0) = 100
+0 > P. 1:201(200) ack 1
+.01 < . 1:1(0) ack 201 win 257
+0 writev(4, [{..., 300}, {..., 200}], 2) = 500
+0 > P. 201:701(500) ack 1
`;
  const r = await runScriptText(src, 'm.pkt');
  t.true(r.passed, formatFailure(r));
  // Alone, the held data waits for the cork ceiling, 200 ms (tcp(7) TCP_CORK; MSG_MORE corks).
  const alone = await runScriptText(`${ESTABLISHED}+0 send(4, ..., 100, MSG_MORE) = 100\n+0 > P. 1:101(100) ack 1\n`, 'm.pkt');
  t.is(alone.failure!.message, 'outbound packet timing: sent at 0.300000, expected at 0.100000 (tolerance 4000 us)');
});
