// Connection tracking in virtual time: states, timeouts, RELATED ICMP errors, table limits, and
// the classic "allow what we started" ruleset.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { FilterEngine, type Verdict } from '../../../src/netstack/filter/engine.js';
import { TCP_STATE_NAMES, TcpCtState, formatConntrack } from '../../../src/netstack/filter/conntrack.js';
import { CtState, type FilterInput } from '../../../src/netstack/filter/packet.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { F, echo, icmpError, input, tcp, udp } from './packets.js';

const STATEFUL = [
  '*filter',
  ':INPUT DROP [0:0]',
  '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  '-A INPUT -m conntrack --ctstate INVALID -j DROP',
  'COMMIT',
].join('\n');

function setup(rules = STATEFUL, maxEntries?: number) {
  const clock = new VirtualClock(0);
  const e = new FilterEngine({ clock, conntrack: { maxEntries } });
  e.load(parseIptablesSave(rules));
  /** A locally generated packet: OUTPUT then POSTROUTING, each with a fresh input (as the stack adapter does). */
  const send = (d: Uint8Array): Verdict => {
    const v = e.run('OUTPUT', input(d));
    return v === 'accept' ? e.run('POSTROUTING', input(d)) : v;
  };
  /** A received packet: PREROUTING then INPUT. */
  const recv = (d: Uint8Array): Verdict => {
    const v = e.run('PREROUTING', input(d));
    return v === 'accept' ? e.run('INPUT', input(d)) : v;
  };
  const stateOf = (d: Uint8Array, hook: 'OUTPUT' | 'INPUT' = 'INPUT'): FilterInput => {
    const p = input(d);
    e.conntrack!.resolve(p, false);
    p.hook = hook;
    return p;
  };
  return { clock, e, ct: e.conntrack!, send, recv, stateOf };
}

const ME = '10.0.0.1';
const WEB = '93.184.216.34';

test('NEW -> ESTABLISHED: replies to our connection pass the ESTABLISHED rule, a NEW inbound connection is dropped', (t) => {
  const { ct, send, recv } = setup();
  t.is(send(tcp(ME, 40001, WEB, 443, F.SYN, { seq: 100 })), 'accept');
  t.is(ct.size, 1);
  const [entry] = ct.all();
  t.is(TCP_STATE_NAMES[entry.tcpState], 'SYN_SENT');
  t.true(entry.confirmed, 'confirmed when the first packet left POSTROUTING');
  t.is(recv(tcp(WEB, 443, ME, 40001, F.SYN | F.ACK, { seq: 900, ack: 101 })), 'accept');
  t.is(TCP_STATE_NAMES[entry.tcpState], 'SYN_RECV');
  t.is(send(tcp(ME, 40001, WEB, 443, F.ACK, { seq: 101, ack: 901 })), 'accept');
  t.is(TCP_STATE_NAMES[entry.tcpState], 'ESTABLISHED');
  t.true(entry.assured);
  t.is(recv(tcp(WEB, 443, ME, 40001, F.ACK | F.PSH, { seq: 901, ack: 101, payload: new Uint8Array(100) })), 'accept');
  t.deepEqual(entry.packets, [2, 2]);
  // Someone else opens a connection to us: NEW, and INPUT's policy drops it.
  t.deepEqual(recv(tcp(WEB, 443, ME, 22, F.SYN)), { drop: 'policy', rule: null });
  t.is(ct.size, 1, 'the dropped first packet took its unconfirmed entry with it');
  // A stray ACK is INVALID.
  const v = recv(tcp(WEB, 443, ME, 40002, F.ACK));
  t.true(v !== 'accept' && v.drop === 'rule');
  t.is(ct.counters.get('invalid.tcp-no-syn'), 1);
});

test('TCP close: FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT with their timeouts; RST closes; a SYN reopens', (t) => {
  const { clock, ct, send, recv, stateOf } = setup();
  send(tcp(ME, 40001, WEB, 80, F.SYN));
  recv(tcp(WEB, 80, ME, 40001, F.SYN | F.ACK));
  send(tcp(ME, 40001, WEB, 80, F.ACK));
  const [e] = ct.all();
  const st = () => TCP_STATE_NAMES[e.tcpState];
  send(tcp(ME, 40001, WEB, 80, F.FIN | F.ACK));
  t.is(st(), 'FIN_WAIT');
  recv(tcp(WEB, 80, ME, 40001, F.ACK));
  t.is(st(), 'CLOSE_WAIT');
  recv(tcp(WEB, 80, ME, 40001, F.FIN | F.ACK));
  t.is(st(), 'LAST_ACK');
  send(tcp(ME, 40001, WEB, 80, F.ACK));
  t.is(st(), 'TIME_WAIT');
  t.is(e.expires, clock.now() + 120_000);
  clock.advance(119_999);
  t.is(stateOf(tcp(WEB, 80, ME, 40001, F.ACK)).ctState, CtState.ESTABLISHED);
  clock.advance(1);
  t.is(stateOf(tcp(WEB, 80, ME, 40001, F.ACK)).ctState, CtState.INVALID, 'expired: the ACK matches nothing');
  t.is(ct.size, 0);
  // RST
  send(tcp(ME, 40002, WEB, 80, F.SYN));
  recv(tcp(WEB, 80, ME, 40002, F.RST | F.ACK));
  const [e2] = ct.all();
  t.is(e2.tcpState, TcpCtState.CLOSE);
  t.is(e2.expires, clock.now() + 10_000);
  // A new SYN on the closed tuple starts over.
  t.is(send(tcp(ME, 40002, WEB, 80, F.SYN)), 'accept');
  t.is(e2.tcpState, TcpCtState.SYN_SENT);
  t.is(stateOf(tcp(ME, 40002, WEB, 80, F.SYN), 'OUTPUT').ctState, CtState.NEW);
});

test('SYN_SENT times out after 120 s; an unanswered SYN/ACK in the original direction is invalid', (t) => {
  const { clock, ct, send } = setup();
  send(tcp(ME, 40001, WEB, 80, F.SYN));
  t.is(send(tcp(ME, 40001, WEB, 80, F.ACK)), 'accept', 'OUTPUT has no rules: accepted although INVALID');
  t.is(ct.counters.get('invalid.tcp-state'), 1);
  clock.advance(120_000);
  t.is(ct.gc(), 1);
  t.is(ct.size, 0);
});

test('UDP: unreplied 30 s, assured 120 s after a reply', (t) => {
  const { clock, ct, send, recv } = setup();
  send(udp(ME, 5000, '10.9.9.9', 53));
  const [e] = ct.all();
  t.is(e.expires, 30_000);
  clock.advance(20_000);
  t.is(recv(udp('10.9.9.9', 53, ME, 5000)), 'accept');
  t.true(e.assured);
  t.is(e.expires, 20_000 + 120_000);
  clock.advance(119_000);
  t.is(recv(udp('10.9.9.9', 53, ME, 5000)), 'accept');
  clock.advance(121_000);
  t.not(recv(udp('10.9.9.9', 53, ME, 5000)), 'accept', 'expired: the "reply" is NEW now and INPUT drops it');
  // Unreplied flows expire after 30 s.
  send(udp(ME, 5001, '10.9.9.9', 53));
  clock.advance(30_000);
  t.not(recv(udp('10.9.9.9', 53, ME, 5001)), 'accept');
  t.true((ct.counters.get('expired') ?? 0) >= 2);
});

test('ICMP echo: the reply is ESTABLISHED by identifier; an unsolicited reply is INVALID', (t) => {
  const { ct, send, recv } = setup();
  send(echo(ME, '10.9.9.9', 77));
  t.is(recv(echo('10.9.9.9', ME, 77, true)), 'accept');
  t.not(recv(echo('10.9.9.9', ME, 78, true)), 'accept');
  t.is(ct.counters.get('invalid.icmp-unsolicited-reply'), 1);
  send(echo('fd00::1', 'fd00::9', 5));
  t.is(recv(echo('fd00::9', 'fd00::1', 5, true)), 'accept');
});

test('ICMP errors quoting a tracked flow are RELATED (v4 and v6); quoting an unknown flow is INVALID', (t) => {
  const { ct, send, recv, stateOf } = setup();
  const out = udp(ME, 5000, '10.9.9.9', 53);
  send(out);
  const err = icmpError('10.9.9.9', ME, out);
  t.is(stateOf(err).ctState, CtState.RELATED);
  t.is(recv(err), 'accept');
  const router = icmpError('10.0.0.254', ME, out, 11, 0); // time exceeded from a router on the path
  t.is(recv(router), 'accept');
  const other = icmpError('10.9.9.9', ME, udp(ME, 5001, '10.9.9.9', 53));
  t.not(recv(other), 'accept');
  t.is(ct.counters.get('invalid.icmp-error-unrelated'), 1);
  const out6 = tcp('fd00::1', 41000, 'fd00::9', 443, F.SYN);
  send(out6);
  t.is(recv(icmpError('fd00::9', 'fd00::1', out6, 1, 4)), 'accept');
  t.is(ct.counters.get('related'), 3, 'counted once per packet, at its first hook');
});

test('limits: early drop of an unassured entry, then "full" when all are assured', (t) => {
  const { ct, send, recv } = setup(STATEFUL, 2);
  send(udp(ME, 1, '10.9.9.9', 53));
  send(udp(ME, 2, '10.9.9.9', 53));
  t.is(ct.size, 2);
  send(udp(ME, 3, '10.9.9.9', 53));
  t.is(ct.size, 2);
  t.is(ct.counters.get('early-drop'), 1);
  // Make both remaining flows assured (replied).
  recv(udp('10.9.9.9', 53, ME, 2));
  recv(udp('10.9.9.9', 53, ME, 3));
  const v = send(udp(ME, 4, '10.9.9.9', 53));
  t.is(v, 'accept', 'OUTPUT has no rule against INVALID');
  t.is(ct.counters.get('full'), 1);
  t.is(ct.size, 2);
});

test('a flow dropped at its first packet leaves no entry; the same flow later allowed is tracked anew', (t) => {
  const { ct, send } = setup('*filter\n-A OUTPUT -p udp --dport 9 -j DROP\nCOMMIT\n');
  t.not(send(udp(ME, 1, '10.9.9.9', 9)), 'accept');
  t.is(ct.size, 0);
  t.is(send(udp(ME, 1, '10.9.9.9', 10)), 'accept');
  t.is(ct.size, 1);
  t.is(ct.counters.get('new'), 2);
});

test('5,000 flows: every reply finds its own entry, expiry and removal keep the hash chains intact', (t) => {
  const { clock, ct, send, stateOf } = setup();
  for (let i = 0; i < 5000; i++) {
    if (i === 2500) clock.advance(10_000);
    send(udp(i % 2 ? ME : 'fd00::1', 1024 + i, i % 2 ? `10.9.${i >> 8}.${i & 255}` : `fd00::${(i + 1).toString(16)}`, 53));
  }
  t.is(ct.size, 5000);
  let ok = 0;
  for (let i = 0; i < 5000; i += 7) {
    const p = stateOf(udp(i % 2 ? `10.9.${i >> 8}.${i & 255}` : `fd00::${(i + 1).toString(16)}`, 53, i % 2 ? ME : 'fd00::1', 1024 + i));
    if (p.ctState === CtState.ESTABLISHED && p.ct!.orig.sport === 1024 + i) ok++;
  }
  t.is(ok, Math.ceil(5000 / 7));
  clock.advance(20_000); // the first 2,500 (30 s timeout) expire, the rest have 10 s left
  t.is(ct.gc(), 2500);
  t.is(stateOf(udp('10.9.0.1', 53, ME, 1025)).ctState, CtState.NEW, 'expired flow: a new one now');
  const last = stateOf(udp('10.9.19.135', 53, ME, 6023)); // flow 4999 survived
  t.is(last.ctState, CtState.ESTABLISHED);
  t.is(last.ct!.orig.sport, 6023);
});

test('conntrack -L style listing: tuples, state, timeouts, flags, counters', (t) => {
  const { clock, ct, send, recv } = setup('*nat\n-A POSTROUTING -p udp -j SNAT --to-source 203.0.113.1:7000\nCOMMIT\n');
  send(tcp(ME, 40001, WEB, 443, F.SYN));
  recv(tcp(WEB, 443, ME, 40001, F.SYN | F.ACK));
  send(tcp(ME, 40001, WEB, 443, F.ACK));
  const d = udp(ME, 5000, '10.9.9.9', 53);
  send(d);
  clock.advance(1500);
  t.deepEqual(formatConntrack(ct, clock.now()), [
    `tcp 6 431999 ESTABLISHED src=10.0.0.1 dst=93.184.216.34 sport=40001 dport=443 packets=2 bytes=80 src=93.184.216.34 dst=10.0.0.1 sport=443 dport=40001 packets=1 bytes=40 [ASSURED]`,
    `udp 17 29 src=10.0.0.1 dst=10.9.9.9 sport=5000 dport=53 packets=1 bytes=${d.length} [UNREPLIED] src=10.9.9.9 dst=203.0.113.1 sport=53 dport=7000 packets=0 bytes=0`,
  ]);
});
