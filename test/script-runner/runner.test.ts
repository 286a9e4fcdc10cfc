// Tests of the script runner itself: failures point at the line, parse errors at line and
// column, timing tolerance, relative/absolute/wildcard/range times, blocking calls, and the
// things moat does not support are refused by name.

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

test('a correct script passes', (t) => {
  const r = runScriptText(ESTABLISHED, 'ok.pkt');
  t.true(r.passed, formatFailure(r));
  t.is(r.failure, null);
});

test('a wrong ack fails at its line with expected versus actual packets', (t) => {
  const r = runScriptText(`${LISTEN.replace('> S. 0:0(0) ack 1', '> S. 0:0(0) ack 2')}`, 'bad-ack.pkt');
  t.false(r.passed);
  t.is(r.failure!.line, 5);
  t.is(r.failure!.message, 'tcp ack: expected 2 vs actual 1');
  t.is(r.failure!.expected, '0.000000 > S. 0:0(0) ack 2 <mss 1460,nop,wscale 7>');
  t.regex(r.failure!.actual!, /^0\.000000 > S\. 0:0\(0\) ack 1 win \d+ <mss 1460,nop,wscale 7>$/);
  t.regex(formatFailure(r), /^bad-ack\.pkt:5:1: tcp ack: expected 2 vs actual 1\n {2}expected: .*\n {2}actual: {3}.*$/);
});

test('wrong flags, options, window and payload length are each reported', (t) => {
  const cases: [string, RegExp][] = [
    ['> . 0:0(0) ack 1 <mss 1460,nop,wscale 7>', /tcp flags: expected \. vs actual S\./],
    ['> S. 0:0(0) ack 1 <mss 1000,nop,wscale 7>', /bad outbound TCP options \(mss value\)/],
    ['> S. 0:0(0) ack 1 <mss 1460>', /bad outbound TCP options/],
    ['> S. 0:0(0) ack 1', /bad outbound TCP options/],
    ['> S. 0:0(0) ack 1 win 1 <mss 1460,nop,wscale 7>', /tcp window: expected 1 vs actual \d+/],
  ];
  for (const [line, re] of cases) {
    const r = runScriptText(LISTEN.replace('> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>', line), 'x.pkt');
    t.false(r.passed, line);
    t.is(r.failure!.line, 5, line);
    t.regex(r.failure!.message, re, line);
  }
  const ok = runScriptText(LISTEN.replace('> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>', '> S. 0:0(0) ack 1 <...>'), 'x.pkt');
  t.true(ok.passed, '<...> skips the option check');
  const len = runScriptText(`${ESTABLISHED}+0 write(4, ..., 100) = 100\n+0 > P. 1:51(50) ack 1\n`, 'x.pkt');
  t.is(len.failure!.message, 'tcp payload length: expected 50 vs actual 100');
  t.is(len.failure!.line, 9);
});

test('a packet that is never sent fails with the time it was due', (t) => {
  const r = runScriptText(`${ESTABLISHED}+0 > P. 1:11(10) ack 1\n`, 'missing.pkt');
  t.false(r.passed);
  t.is(r.failure!.line, 8);
  t.is(r.failure!.message, 'expected outbound packet was not sent by 0.104000 (nor in the 10 s after)');
  t.is(r.failure!.actual, '(no packet)');
});

test('a wrong syscall result names the call, both values and the line', (t) => {
  const r = runScriptText(`${ESTABLISHED}+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 10) = 10\n`, 'r.pkt');
  t.false(r.passed);
  t.is(r.failure!.line, 9);
  t.is(r.failure!.message, 'read() returned -1 EAGAIN, expected 10');
  const e = runScriptText(`0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 listen(3, 1) = -1 EOPNOTSUPP\n`, 'e.pkt');
  t.true(e.passed, formatFailure(e));
  const fl = runScriptText(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n`, 'e.pkt');
  t.true(fl.passed, formatFailure(fl));
  const e2 = runScriptText(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 write(3, ..., 1) = -1 ENOTCONN\n`, 'e.pkt');
  t.is(e2.failure!.message, 'write() returned -1 EPIPE, expected -1 ENOTCONN');
});

test('parse errors name the line and the column', (t) => {
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

test('timing: within the default 4000 us tolerance passes, beyond fails with both times', (t) => {
  t.true(runScriptText(RETRANSMIT('1.000'), 't.pkt').passed);
  t.true(runScriptText(RETRANSMIT('1.004'), 't.pkt').passed);
  t.true(runScriptText(RETRANSMIT('0.996'), 't.pkt').passed);
  const late = runScriptText(RETRANSMIT('0.995'), 't.pkt');
  t.false(late.passed);
  t.is(late.failure!.line, 6);
  t.is(late.failure!.message, 'outbound packet timing: sent at 1.000000, expected at 0.995000 (tolerance 4000 us)');
  const early = runScriptText(RETRANSMIT('1.005'), 't.pkt');
  t.false(early.passed);
  t.is(early.failure!.message, 'outbound packet timing: sent at 1.000000, expected at 1.005000 (tolerance 4000 us)');
});

test('timing: --tolerance_usecs in the script or the options widens the window', (t) => {
  t.true(runScriptText(`--tolerance_usecs=10000\n${RETRANSMIT('1.009')}`, 't.pkt').passed);
  t.true(runScriptText(RETRANSMIT('1.009'), 't.pkt', { toleranceUsecs: 10_000 }).passed);
  t.true(runScriptText(`// moat: tolerance_usecs=10000\n${RETRANSMIT('1.009')}`, 't.pkt').passed);
  t.false(runScriptText(RETRANSMIT('1.011'), 't.pkt', { toleranceUsecs: 10_000 }).passed);
  const zero = runScriptText(RETRANSMIT('1.001'), 't.pkt', { toleranceUsecs: 0 });
  t.false(zero.passed);
});

test('timing: relative, wildcard and range times', (t) => {
  t.true(runScriptText(RETRANSMIT('+1'), 't.pkt').passed, 'relative to the previous packet');
  t.false(runScriptText(RETRANSMIT('+.5'), 't.pkt').passed);
  t.true(runScriptText(RETRANSMIT('*'), 't.pkt').passed, '* matches any time');
  t.true(runScriptText(RETRANSMIT('0.5~2'), 't.pkt').passed, 'a window');
  t.false(runScriptText(RETRANSMIT('1.5~2'), 't.pkt').passed);
  // After a packet, relative times count from when it really left (1.0, not 0.995).
  const src = `${LISTEN}0.997 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n+2 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n`;
  t.true(runScriptText(src, 't.pkt').passed);
});

test('blocking calls: start...end returns at end, a call that blocks without "..." fails', (t) => {
  const ok = runScriptText(`${LISTEN}0...0.2 accept(3, ..., ...) = 4\n+.2 < . 1:1(0) ack 1 win 257\n`, 'b.pkt');
  t.true(ok.passed, formatFailure(ok));
  const wrongEnd = runScriptText(`${LISTEN}0...0.5 accept(3, ..., ...) = 4\n+.2 < . 1:1(0) ack 1 win 257\n`, 'b.pkt');
  t.false(wrongEnd.passed);
  t.is(wrongEnd.failure!.line, 6);
  t.is(wrongEnd.failure!.message, 'blocking accept() returned at 0.200000, expected at 0.500000 (tolerance 4000 us)');
  const never = runScriptText(`${LISTEN}+0 accept(3, ..., ...) = 4\n`, 'b.pkt');
  t.false(never.passed);
  t.is(never.failure!.line, 6);
});

test('unsupported calls, options, lines and flags are refused by name', (t) => {
  const cases: [string, RegExp][] = [
    ['0 epoll_create(1) = 3\n', /system call epoll_create\(\) is not supported/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 4) = 0\n', /setsockopt SOL_SOCKET\/SO_BINDTODEVICE/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_TCP, TCP_INFO, ..., ...) = 0\n', /getsockopt SOL_TCP\/TCP_INFO/],
    ['0 `sysctl -q net.ipv4.tcp_sack=0`\n', /shell command/],
    ['%{\nprint(1)\n}%\n', /python blocks/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_rto == 300000 }%\n', /python blocks/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{\nprint(tcpi_rto)\n}%\n', /python blocks/],
    ['--foo=1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n', /option --foo is not supported/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 recv(3, ..., 10, MSG_PEEK) = 0\n', /recv flags MSG_PEEK/],
  ];
  for (const [src, re] of cases) {
    const r = runScriptText(src, 'u.pkt');
    t.false(r.passed, src);
    t.regex(r.failure!.message, re, src);
  }
});

test('timestamps: the stack\'s TSval is learned, its TSecr checked, and inbound TSecr mapped', (t) => {
  const base = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 1000 ecr 0>
`;
  t.true(runScriptText(`${base}+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,TS val 7 ecr 1000>\n+.1 < . 1:1(0) ack 1 win 100 <nop,nop,TS val 1100 ecr 7>\n+0 accept(3, ..., ...) = 4\n`, 'ts.pkt').passed);
  const bad = runScriptText(`${base}+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,TS val 7 ecr 999>\n`, 'ts.pkt');
  t.is(bad.failure!.message, 'tcp TS ecr: expected 999 vs actual 1000');
});

test('the run is captured: both directions, in order, with virtual timestamps', (t) => {
  const r = runScriptText(RETRANSMIT('1'), 'cap.pkt');
  t.true(r.passed);
  t.deepEqual(r.frames.map((f) => [f.dir, f.usecs]), [['in', 0], ['out', 0], ['out', 1_000_000]]);
  t.is(r.frames[0]!.data[12], 0x08, 'Ethernet carrying IPv4');
});

test('moat script: PASS/FAIL lines, the summary and one pcap per script', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-script-test-'));
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

test('IPv6 via the directive and the option', (t) => {
  const v6 = LISTEN.replace(/mss 1460/g, 'mss 1440');
  t.true(runScriptText(`// moat: ipv6\n${v6}`, 'v6.pkt').passed);
  t.true(runScriptText(`--ip_version=ipv6\n${v6}`, 'v6.pkt').passed);
  t.true(runScriptText(v6, 'v6.pkt', { ipVersion: 6 }).passed);
  t.false(runScriptText(v6, 'v6.pkt').passed, 'IPv4 announces 1460');
  const r = runScriptText(v6, 'v6.pkt', { ipVersion: 6 });
  t.is(r.frames[0]!.data[12], 0x86);
});

test('ICMP lines: an injected error reaches the socket; an expected ICMP is matched by type and code', (t) => {
  const refused = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS
+0 > S 0:0(0) <...>
+.1 < icmp unreachable port_unreachable
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
`;
  const r = runScriptText(refused, 'i.pkt');
  t.true(r.passed, formatFailure(r));
  const wrong = runScriptText('0 < udp (10)\n+0 > icmp unreachable host_unreachable\n', 'i.pkt');
  t.is(wrong.failure!.message, 'icmp code: expected 1 vs actual 3');
  t.is(wrong.failure!.actual, '0.000000 > icmp type 3 code 3 (46 bytes)');
  const notIcmp = runScriptText(`${ESTABLISHED}+0 write(4, ..., 10) = 10\n+0 > icmp unreachable\n`, 'i.pkt');
  t.is(notIcmp.failure!.message, 'expected an ICMP packet, got TCP');
});

test('a script packet larger than the MSS matches the segments it was cut into (packetdrill aggregation)', (t) => {
  const base = `${ESTABLISHED}+0 write(4, ..., 4380) = 4380\n`;
  const whole = runScriptText(`${base}+0 > P. 1:4381(4380) ack 1\n+.1 < . 1:1(0) ack 4381 win 257\n`, 'agg.pkt');
  t.true(whole.passed, formatFailure(whole));
  const cut = runScriptText(`${base}+0 > . 1:1461(1460) ack 1\n+0 > P. 1461:4381(2920) ack 1\n`, 'agg.pkt');
  t.true(cut.passed, formatFailure(cut));
  const tooLong = runScriptText(`${base}+0 > P. 1:5001(5000) ack 1\n`, 'agg.pkt');
  t.is(tooLong.failure!.message, 'tcp payload length: expected 5000 vs actual 4380');
  t.regex(tooLong.failure!.actual!, /P\. 1:4381\(4380\) ack 1 .*\(aggregated\)$/);
  const wrongFlags = runScriptText(`${base}+0 > . 1:4381(4380) ack 1\n`, 'agg.pkt');
  t.is(wrongFlags.failure!.message, 'tcp flags: expected . vs actual P.');
});
