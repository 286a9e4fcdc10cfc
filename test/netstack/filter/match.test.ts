// Every match and target of the rule engine on crafted IPv4/IPv6 datagrams; chain traversal
// (jump, goto, return), policies and counters.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { FilterEngine, isReject, type Verdict } from '../../../src/netstack/filter/engine.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { MemoryAuditSink } from '../../../src/netstack/filter/audit.js';
import type { HookPoint } from '../../../src/netstack/filter/packet.js';
import { F, echo, input, ip, tcp, udp } from './packets.js';

function engine(text: string, opts: { conntrack?: boolean; audit?: MemoryAuditSink } = {}): FilterEngine {
  const e = new FilterEngine({ clock: new VirtualClock(1000), conntrack: opts.conntrack ? {} : false, audit: opts.audit });
  e.load(parseIptablesSave(text));
  return e;
}

function outcome(v: Verdict): string {
  if (v === 'accept') return 'accept';
  return isReject(v) ? `reject:${v.reject}` : `drop:${v.drop}`;
}

/** One rule in filter/OUTPUT with target DROP; returns whether the packet was dropped. */
function dropsWith(rule: string, d: Uint8Array, o: Parameters<typeof input>[1] = {}, hook: HookPoint = 'OUTPUT'): boolean {
  const e = engine(`*filter\n-A ${hook} ${rule} -j DROP\nCOMMIT\n`);
  return e.run(hook, input(d, o)) !== 'accept';
}

const T4 = tcp('10.1.2.3', 40000, '192.168.7.9', 443, F.SYN);
const T6 = tcp('fd00::5', 40000, '2001:db8::9', 443, F.SYN);
const U4 = udp('10.1.2.3', 5353, '192.168.7.9', 53);
const U6 = udp('fd00::5', 5353, '2001:db8::9', 53);

test('source and destination CIDR, v4 and v6, with negation; a v4 CIDR never matches a v6 packet', (t) => {
  t.true(dropsWith('-s 10.0.0.0/8', T4));
  t.false(dropsWith('-s 10.0.0.0/16', T4));
  t.true(dropsWith('! -s 10.0.0.0/16', T4));
  t.true(dropsWith('-d 192.168.7.9', T4));
  t.true(dropsWith('-d 192.168.0.0/16', T4));
  t.false(dropsWith('-d 192.168.7.8/32', T4));
  t.true(dropsWith('-s 0.0.0.0/0', T4));
  t.true(dropsWith('-s fd00::/8', T6));
  t.false(dropsWith('-s fd01::/16', T6));
  t.true(dropsWith('! -d 2001:db8::a/127', T6));
  t.true(dropsWith('-d 2001:db8::8/127', T6), '::9 is in ::8/127');
  t.false(dropsWith('-d 2001:db8::a/127', T6));
  t.true(dropsWith('-d 2001:db8::/33', T6));
  t.false(dropsWith('-s 10.0.0.0/8', T6));
  t.false(dropsWith('! -s 10.0.0.0/8', T6), 'a negated v4 CIDR does not match v6 either');
  t.false(dropsWith('-s fd00::/8', T4));
  t.true(dropsWith('-6', T6));
  t.false(dropsWith('-6', T4));
});

test('in/out interface with the + wildcard and negation', (t) => {
  t.true(dropsWith('-o eth0', T4, { outIface: 'eth0' }));
  t.false(dropsWith('-o eth0', T4, { outIface: 'eth1' }));
  t.true(dropsWith('-o eth+', T4, { outIface: 'eth1' }));
  t.false(dropsWith('-o eth+', T4, { outIface: 'veth1' }));
  t.true(dropsWith('! -o eth+', T4, { outIface: 'veth1' }));
  t.true(dropsWith('-i moat-tap+', T4, { inIface: 'moat-tap3' }, 'INPUT'));
  t.false(dropsWith('-i lo', T4, { inIface: 'moat-tap3' }, 'INPUT'));
  t.true(dropsWith('-i +', T4, { inIface: 'x' }, 'INPUT'));
});

test('protocol, ports, ranges, multiport', (t) => {
  t.true(dropsWith('-p tcp', T4));
  t.false(dropsWith('-p udp', T4));
  t.true(dropsWith('! -p udp', T4));
  t.true(dropsWith('-p 6', T6));
  t.true(dropsWith('-p tcp --dport 443', T4));
  t.true(dropsWith('-p tcp -m tcp --dport 400:500', T6));
  t.false(dropsWith('-p tcp --dport 444:500', T4));
  t.true(dropsWith('-p tcp ! --dport 444:500', T4));
  t.true(dropsWith('-p tcp --sport 40000', T4));
  t.true(dropsWith('-p tcp --sport 39000:', T4));
  t.false(dropsWith('-p tcp --sport :39999', T4));
  t.true(dropsWith('-p udp --dport 53', U4));
  t.true(dropsWith('-p udp --dport 53', U6));
  t.false(dropsWith('-p udp --dport 53', T4), 'port match on a TCP packet under -p udp');
  t.true(dropsWith('-p tcp -m multiport --dports 80,443,8000:8080', T4));
  t.false(dropsWith('-p tcp -m multiport --dports 80,8443', T4));
  t.true(dropsWith('-p tcp -m multiport ! --dports 80,8443', T4));
  t.true(dropsWith('-p udp -m multiport --ports 1,53', U6));
  t.true(dropsWith('-p udp -m multiport --sports 5000:6000', U4));
  t.false(dropsWith('-p udp -m multiport --sports 53', U4));
});

test('TCP flags: --tcp-flags mask comp and --syn', (t) => {
  const synack = tcp('10.1.2.3', 1, '10.1.2.4', 2, F.SYN | F.ACK);
  const ack = tcp('10.1.2.3', 1, '10.1.2.4', 2, F.ACK);
  t.true(dropsWith('-p tcp --syn', T4));
  t.false(dropsWith('-p tcp --syn', synack));
  t.true(dropsWith('-p tcp ! --syn', ack));
  t.true(dropsWith('-p tcp --tcp-flags SYN,ACK SYN,ACK', synack));
  t.false(dropsWith('-p tcp --tcp-flags SYN,ACK SYN,ACK', T4));
  t.true(dropsWith('-p tcp --tcp-flags ALL ACK', ack));
  t.true(dropsWith('-p tcp --tcp-flags ALL NONE', tcp('10.1.2.3', 1, '10.1.2.4', 2, 0)));
  t.true(dropsWith('-p tcp --tcp-flags FIN,SYN,RST,ACK SYN', T6));
});

test('ICMP and ICMPv6 types and codes', (t) => {
  const req4 = echo('10.0.0.1', '10.0.0.2', 7);
  const rep4 = echo('10.0.0.1', '10.0.0.2', 7, true);
  const req6 = echo('fd00::1', 'fd00::2', 7);
  t.true(dropsWith('-p icmp --icmp-type echo-request', req4));
  t.true(dropsWith('-p icmp -m icmp --icmp-type 8', req4));
  t.true(dropsWith('-p icmp --icmp-type 8/0', req4));
  t.false(dropsWith('-p icmp --icmp-type 8/1', req4));
  t.false(dropsWith('-p icmp --icmp-type echo-request', rep4));
  t.true(dropsWith('-p icmp ! --icmp-type echo-request', rep4));
  t.true(dropsWith('-p icmp --icmp-type any', rep4));
  t.true(dropsWith('-p ipv6-icmp --icmpv6-type echo-request', req6));
  t.true(dropsWith('-p icmpv6 -m icmp6 --icmpv6-type 128', req6));
  t.false(dropsWith('-p ipv6-icmp --icmpv6-type echo-reply', req6));
  t.false(dropsWith('-p icmp --icmp-type 8', req6), 'an ICMPv4 type never matches ICMPv6');
});

test('owner: pid, uid, command from the FlowOwner; packets without an owner never match', (t) => {
  const owner = { pid: 4242, uid: 1000, command: 'curl' };
  t.true(dropsWith('-m owner --uid-owner 1000', T4, { owner }));
  t.true(dropsWith('-m owner --pid-owner 4242 --cmd-owner curl', T4, { owner }));
  t.false(dropsWith('-m owner --cmd-owner wget', T4, { owner }));
  t.true(dropsWith('-m owner ! --cmd-owner wget', T4, { owner }));
  t.false(dropsWith('-m owner ! --cmd-owner wget', T4), 'no owner: even the negation fails (xt_owner)');
});

test('mark: MARK in mangle is seen by -m mark in filter at the same hook', (t) => {
  const e = engine(
    '*mangle\n-A OUTPUT -p udp --dport 53 -j MARK --set-xmark 0x2a/0xff\nCOMMIT\n*filter\n-A OUTPUT -m mark --mark 0x2a/0xff -j REJECT\nCOMMIT\n',
  );
  const p = input(U4, { mark: 0x100 });
  t.is(outcome(e.run('OUTPUT', p)), 'reject:icmp-port-unreachable');
  t.is(p.mark, 0x12a, 'bits outside the mask are kept');
  t.is(outcome(e.run('OUTPUT', input(T4))), 'accept');
  t.true(dropsWith('-m mark ! --mark 0x1', T4, { mark: 2 }));
  t.false(dropsWith('-m mark --mark 0x1', T4, { mark: 2 }));
});

test('address set match by source and destination', (t) => {
  const e = engine('*filter\n-A OUTPUT -m set --match-set allowed dst -j ACCEPT\n-A OUTPUT -m set ! --match-set trusted src -j DROP\nCOMMIT\n');
  const allowed = e.sets.get('allowed')!;
  const trusted = e.sets.get('trusted')!;
  allowed.add(ip('192.168.7.9'));
  t.is(outcome(e.run('OUTPUT', input(T4))), 'accept');
  t.is(outcome(e.run('OUTPUT', input(T6))), 'drop:rule');
  trusted.add(ip('fd00::5'));
  t.is(outcome(e.run('OUTPUT', input(T6))), 'accept');
});

test('conntrack state match', (t) => {
  const e = engine('*filter\n-A INPUT -m conntrack --ctstate INVALID -j DROP\n-A INPUT -m state --state NEW -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n', { conntrack: true });
  t.is(outcome(e.run('INPUT', input(tcp('10.0.0.2', 1, '10.0.0.1', 22, F.ACK)))), 'drop:rule', 'ACK with no connection is INVALID');
  t.is(outcome(e.run('INPUT', input(tcp('10.0.0.2', 1, '10.0.0.1', 22, F.SYN)))), 'reject:icmp-admin-prohibited');
});

test('targets: ACCEPT stops the table, DROP, REJECT with each kind, RETURN, LOG into the audit sink', (t) => {
  const audit = new MemoryAuditSink();
  const e = engine(
    [
      '*filter',
      '-A OUTPUT -p tcp --dport 80 -j LOG --log-prefix "web: "',
      '-A OUTPUT -p tcp --dport 80 -j ACCEPT',
      '-A OUTPUT -p tcp --dport 80 -j DROP',
      '-A OUTPUT -p tcp --dport 81 -j REJECT --reject-with tcp-reset',
      '-A OUTPUT -p tcp --dport 82 -j REJECT --reject-with icmp-host-unreachable',
      '-A OUTPUT -p tcp --dport 83 -j REJECT --reject-with icmp6-adm-prohibited',
      '-A OUTPUT -p tcp --dport 84 -j RETURN',
      '-A OUTPUT -p tcp -j DROP',
      'COMMIT',
    ].join('\n'),
    { audit },
  );
  const owner = { pid: 77, command: 'curl', uid: 0 };
  t.is(outcome(e.run('OUTPUT', input(tcp('10.0.0.1', 5000, '10.9.9.9', 80, F.SYN), { owner }))), 'accept');
  t.is(audit.records.length, 1);
  t.like(audit.records[0], { verdict: 'log', prefix: 'web: ', pid: 77, command: 'curl', protocol: 'tcp', src: '10.0.0.1', dst: '10.9.9.9', sport: 5000, dport: 80, rule: 'filter/OUTPUT#1', time: 1000 });
  t.is(outcome(e.run('OUTPUT', input(tcp('10.0.0.1', 5000, '10.9.9.9', 81, F.SYN)))), 'reject:tcp-reset');
  t.is(outcome(e.run('OUTPUT', input(tcp('10.0.0.1', 5000, '10.9.9.9', 82, F.SYN)))), 'reject:icmp-host-unreachable');
  t.is(outcome(e.run('OUTPUT', input(tcp('fd00::1', 5000, 'fd00::9', 83, F.SYN)))), 'reject:icmp6-adm-prohibited');
  t.is(outcome(e.run('OUTPUT', input(tcp('10.0.0.1', 5000, '10.9.9.9', 84, F.SYN)))), 'accept', 'RETURN in a built-in chain applies the policy');
  t.is(outcome(e.run('OUTPUT', input(tcp('10.0.0.1', 5000, '10.9.9.9', 85, F.SYN)))), 'drop:rule');
});

test('jump, return and goto', (t) => {
  const e = engine(
    [
      '*filter',
      ':OUTPUT DROP [0:0]',
      ':web - [0:0]',
      ':dns - [0:0]',
      ':deep - [0:0]',
      '-A OUTPUT -p tcp -j web',
      '-A OUTPUT -p udp -g dns',
      '-A OUTPUT -p udp --dport 53 -j ACCEPT',
      '-A OUTPUT -p tcp --dport 8080 -j ACCEPT',
      '-A web -p tcp --dport 443 -j ACCEPT',
      '-A web -p tcp --dport 8080 -j RETURN',
      '-A web -p tcp --dport 22 -j deep',
      '-A web -j REJECT --reject-with icmp-admin-prohibited',
      '-A deep -s 10.0.0.0/8 -j RETURN',
      '-A deep -j DROP',
      '-A dns -d 10.0.0.53 -j ACCEPT',
      'COMMIT',
    ].join('\n'),
  );
  const run = (d: Uint8Array) => outcome(e.run('OUTPUT', input(d)));
  t.is(run(tcp('10.0.0.1', 1, '1.1.1.1', 443, F.SYN)), 'accept', 'ACCEPT inside a user chain');
  t.is(run(tcp('10.0.0.1', 1, '1.1.1.1', 8080, F.SYN)), 'accept', 'RETURN resumes the caller after the jump');
  t.is(run(tcp('10.0.0.1', 1, '1.1.1.1', 22, F.SYN)), 'reject:icmp-admin-prohibited', 'nested RETURN goes back one level');
  t.is(run(tcp('172.16.0.1', 1, '1.1.1.1', 22, F.SYN)), 'drop:rule');
  t.is(run(udp('10.0.0.1', 1, '10.0.0.53', 53)), 'accept');
  t.is(run(udp('10.0.0.1', 1, '10.0.0.54', 53)), 'drop:policy', 'end of a goto chain returns past the caller: the policy, not rule 3');
  const out = e.tables.filter.chain('OUTPUT');
  t.is(out.rules[2].counters.packets, 0, 'the rule after the goto never ran');
  t.is(out.counters.packets, 1);
});

test('loops are refused when rules are added', (t) => {
  const e = engine('*filter\n:a - [0:0]\n:b - [0:0]\n-A a -j b\nCOMMIT\n');
  t.throws(() => e.tables.filter.append('b', { target: { kind: 'JUMP', chain: 'a' } }), { message: /loop/ });
  t.throws(() => e.tables.filter.append('a', { target: { kind: 'JUMP', chain: 'a' } }), { message: /loop/ });
  t.throws(() => e.tables.filter.deleteChain('b'), { message: /referenced/ });
});

test('policies and counters per rule and per policy, bytes are datagram lengths', (t) => {
  const e = engine('*filter\n:INPUT DROP [0:0]\n-A INPUT -p udp --dport 53 -j ACCEPT\n-A INPUT -p tcp\nCOMMIT\n');
  const u = udp('10.0.0.2', 1, '10.0.0.1', 53);
  const tc = tcp('10.0.0.2', 1, '10.0.0.1', 22, F.SYN);
  t.is(outcome(e.run('INPUT', input(u))), 'accept');
  t.is(outcome(e.run('INPUT', input(u))), 'accept');
  t.is(outcome(e.run('INPUT', input(tc))), 'drop:policy');
  t.is(outcome(e.run('OUTPUT', input(tc))), 'accept', 'OUTPUT keeps its ACCEPT policy');
  const c = e.tables.filter.chain('INPUT');
  t.deepEqual(c.rules[0].counters, { packets: 2, bytes: 2 * u.length });
  t.deepEqual(c.rules[1].counters, { packets: 1, bytes: tc.length }, 'a rule without a target still counts');
  t.deepEqual(c.counters, { packets: 1, bytes: tc.length });
  e.tables.filter.setPolicy('INPUT', 'ACCEPT');
  t.is(outcome(e.run('INPUT', input(tc))), 'accept');
  e.tables.filter.zero();
  t.deepEqual(c.counters, { packets: 0, bytes: 0 });
});

test('tables run in Linux order at a hook: raw, mangle, nat, filter at OUTPUT', (t) => {
  const e = engine('*raw\n-A OUTPUT -p udp --dport 9 -j DROP\nCOMMIT\n*filter\n-A OUTPUT -p udp -j REJECT\nCOMMIT\n');
  t.is(outcome(e.run('OUTPUT', input(udp('10.0.0.1', 1, '10.0.0.2', 9)))), 'drop:rule', 'raw decides before filter');
  t.is(outcome(e.run('OUTPUT', input(udp('10.0.0.1', 1, '10.0.0.2', 10)))), 'reject:icmp-port-unreachable');
});

test('non-first fragments never match port rules, negated or not', (t) => {
  const d = udp('10.0.0.1', 1, '10.0.0.2', 53);
  d[6] = 0x00;
  d[7] = 0x10; // fragment offset 128 bytes
  t.false(dropsWith('-p udp --dport 53', d));
  t.false(dropsWith('-p udp ! --dport 53', d));
  t.true(dropsWith('-p udp', d));
});

test('connlimit: connections per source or destination address, counted from conntrack', (t) => {
  const e = engine(
    '*filter\n-A OUTPUT -p tcp --syn -m connlimit --connlimit-above 2 --connlimit-daddr -j REJECT --reject-with tcp-reset\n-A INPUT -m connlimit --connlimit-upto 1 --connlimit-saddr -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n',
    { conntrack: true },
  );
  const syn = (sport: number, dst = '10.9.9.9') => outcome(e.run('OUTPUT', input(tcp('10.0.0.1', sport, dst, 443, F.SYN))));
  t.is(syn(1), 'accept');
  t.is(syn(2), 'accept');
  t.is(syn(3), 'reject:tcp-reset');
  t.is(syn(3, '10.9.9.8'), 'accept');
  t.is(e.conntrack!.connectionsTo(ip('10.9.9.9')), 2);
  t.is(outcome(e.run('INPUT', input(udp('10.7.7.7', 1, '10.0.0.1', 53)))), 'accept');
  t.is(outcome(e.run('INPUT', input(udp('10.7.7.7', 2, '10.0.0.1', 53)))), 'drop:rule', 'a second flow from the same source is over --connlimit-upto 1');
});
