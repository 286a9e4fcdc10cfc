// Policy files and flags compiled into filter rules and a DNS allowlist, exercised with packets
// in virtual time: metadata blocked by default, host allowlists learned from DNS answers with
// TTLs and CNAME chains, deny over allow, limits, errors with field and line.

import test from 'ava';
import { DNS_FORWARDER_OWNER } from '../../../src/netstack/dns/forwarder.js';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { AuditSummary, MemoryAuditSink, TeeAuditSink } from '../../../src/netstack/filter/audit.js';
import { isReject, type Verdict } from '../../../src/netstack/filter/engine.js';
import { FilterInput } from '../../../src/netstack/filter/packet.js';
import { parseIptablesSave } from '../../../src/netstack/filter/save.js';
import { DnsClass, DnsType, type DnsRecord } from '../../../src/netstack/wire/dns.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { emitIpv4 } from '../../../src/netstack/wire/ipv4.js';
import { emitIpv6 } from '../../../src/netstack/wire/ipv6.js';
import {
  PolicyError,
  applyPolicyFlags,
  compilePolicy,
  createPolicyEngine,
  emptyPolicy,
  parseHostFlag,
  parsePolicy,
  type CompileOptions,
  type Policy,
} from '../../../src/kernel/policy/policy.js';

const ip = (s: string) => IpAddr.parse(s);

/** A TCP SYN (or UDP datagram) from the guest, as the OUTPUT hook would see it. */
function out(dst: string, dport: number, proto: 'tcp' | 'udp' = 'tcp', owner = { pid: 100, command: 'curl' }): FilterInput {
  const d = ip(dst);
  const src = d.family === 4 ? ip('10.0.0.1') : ip('fd00::1');
  const l4 = new Uint8Array(proto === 'tcp' ? 20 : 8);
  l4[0] = 0x9c;
  l4[1] = 0x40;
  l4[2] = dport >> 8;
  l4[3] = dport & 0xff;
  if (proto === 'tcp') {
    l4[12] = 0x50;
    l4[13] = 0x02;
  } else l4[5] = 8;
  const hl = d.family === 4 ? 20 : 40;
  const buf = new Uint8Array(hl + l4.length);
  const p = proto === 'tcp' ? 6 : 17;
  if (d.family === 4) emitIpv4({ src, dst: d, protocol: p, ttl: 64, payloadLen: l4.length }, buf, 0);
  else emitIpv6({ src, dst: d, nextHeader: p, hopLimit: 64, payloadLen: l4.length }, buf, 0);
  buf.set(l4, hl);
  const fi = new FilterInput();
  if (!fi.setDatagram(buf)) throw new Error('bad test packet');
  fi.owner = owner;
  return fi;
}

function runtime(p: Policy, opts: CompileOptions = {}) {
  const clock = new VirtualClock(0);
  const audit = new MemoryAuditSink();
  const summary = new AuditSummary();
  const c = compilePolicy(p, opts);
  const rt = createPolicyEngine(c, { clock, audit: new TeeAuditSink([audit, summary]) });
  const verdict = (d: string, port: number, proto: 'tcp' | 'udp' = 'tcp', owner?: { pid?: number; command: string }): string => {
    const v: Verdict = rt.engine.run('OUTPUT', out(d, port, proto, owner as { pid: number; command: string } | undefined));
    return v === 'accept' ? 'accept' : isReject(v) ? 'reject' : 'drop';
  };
  return { clock, audit, summary, c, ...rt, verdict };
}

const A = (name: string, addr: string, ttl = 300): DnsRecord => ({ name, type: addr.includes(':') ? DnsType.AAAA : DnsType.A, class: DnsClass.IN, ttl, data: { kind: addr.includes(':') ? 'aaaa' : 'a', address: ip(addr) } });
const CNAME = (name: string, target: string, ttl = 300): DnsRecord => ({ name, type: DnsType.CNAME, class: DnsClass.IN, ttl, data: { kind: 'cname', name: target } });

test('metadata, link-local and host addresses are blocked by a default-allow policy; other traffic passes', (t) => {
  const { verdict, audit } = runtime(emptyPolicy(), { hostAddresses: [ip('192.168.1.10')] });
  t.is(verdict('169.254.169.254', 80), 'reject');
  t.is(verdict('fd00:ec2::254', 80), 'reject');
  t.is(verdict('169.254.1.1', 80), 'reject');
  t.is(verdict('fe80::1', 22), 'reject');
  t.is(verdict('192.168.1.10', 22), 'reject', 'the host itself');
  t.is(verdict('93.184.216.34', 443), 'accept');
  t.is(verdict('127.0.0.1', 8080), 'accept', 'the guest loopback');
  // log: denied (the default) records only the rejects.
  t.is(audit.records.length, 5);
  t.like(audit.records[0], { verdict: 'reject', dst: '169.254.169.254', dport: 80, pid: 100, command: 'curl', rule: 'filter/OUTPUT#14' });
});

test('an explicit allow of the metadata address opens it; allowing 0.0.0.0/0 or a hostname does not', (t) => {
  const p = parsePolicy('allow:\n  - host: 169.254.169.254\n    ports: [80]\n  - cidr: 0.0.0.0/0\n  - host: metadata.internal\n');
  const { verdict, allowlist } = runtime(p);
  t.is(verdict('169.254.169.254', 80), 'accept');
  t.is(verdict('169.254.169.254', 81), 'reject');
  t.is(verdict('169.254.1.1', 80), 'reject');
  allowlist.learn('metadata.internal', [ip('169.254.169.254')], 60);
  t.is(verdict('169.254.169.254', 22), 'reject', 'DNS cannot rebind a name onto a protected address');
});

test('--allow HOST:PORT makes the default deny; DNS answers (through a CNAME chain) open the host for their TTL', (t) => {
  const p = applyPolicyFlags(emptyPolicy(), { allow: ['example.com:443'] });
  t.is(p.default, 'deny');
  const { clock, verdict, allowlist, audit, summary } = runtime(p, { dnsServers: [ip('10.0.0.53')] });
  t.true(allowlist.allowsName('example.com'));
  t.true(allowlist.allowsName('EXAMPLE.COM.'));
  t.false(allowlist.allowsName('www.example.com'));
  t.false(allowlist.allowsName('evil.com'));
  t.is(verdict('10.0.0.53', 53, 'udp', DNS_FORWARDER_OWNER), 'accept', "the forwarder's own queries reach its upstream");
  // A guest's query to the same server is not let by (in moat run it never gets this far: the
  // nat OUTPUT redirect sends it to the forwarder first).
  t.is(verdict('10.0.0.53', 53, 'udp'), 'reject', 'a guest cannot ask the upstream around the forwarder');
  t.is(verdict('93.184.216.34', 443), 'reject', 'nothing learned yet');
  const added = allowlist.learnAnswer('example.com', [
    CNAME('example.com', 'edge.example.net', 120),
    CNAME('edge.example.net', 'a1.cdn.test', 600),
    A('a1.cdn.test', '93.184.216.34', 60),
    A('a1.cdn.test', '2606:2800:220:1::248', 3600),
    A('unrelated.test', '6.6.6.6'),
  ]);
  t.is(added, 2);
  t.is(verdict('93.184.216.34', 443), 'accept');
  t.is(verdict('2606:2800:220:1::248', 443), 'accept');
  t.is(verdict('93.184.216.34', 80), 'reject', 'only the allowed port');
  t.is(verdict('6.6.6.6', 443), 'reject', 'records off the chain are not learned');
  t.is(allowlist.hostnameOf(ip('93.184.216.34')), 'example.com');
  const rej = audit.records.find((r) => r.dst === '93.184.216.34' && r.dport === 80)!;
  t.is(rej.hostname, 'example.com', 'audit records carry the name learned from DNS');
  clock.advance(60_000);
  t.is(verdict('93.184.216.34', 443), 'reject', 'the A record expired after min(TTL along the chain) = 60 s');
  clock.advance(60_000);
  t.is(verdict('2606:2800:220:1::248', 443), 'reject', 'the AAAA expired with the first CNAME (120 s)');
  const s = summary.summary().find((h) => h.host === 'example.com')!;
  t.deepEqual({ denied: s.denied, ports: s.ports }, { denied: 3, ports: [80, 443] });
});

test('TTL clamps: a 0-second answer lives minTtl, a week-long one maxTtl', (t) => {
  const p = parsePolicy('default: deny\nallow:\n  - host: "*.example.com"\ndns:\n  minTtl: 10\n  maxTtl: 100\n');
  const { clock, verdict, allowlist } = runtime(p);
  allowlist.learn('a.example.com', [ip('1.2.3.4')], 0);
  allowlist.learn('b.example.com', [ip('1.2.3.5')], 604800);
  clock.advance(9_999);
  t.is(verdict('1.2.3.4', 1), 'accept');
  clock.advance(1);
  t.is(verdict('1.2.3.4', 1), 'reject');
  clock.advance(90_000);
  t.is(verdict('1.2.3.5', 1), 'reject');
  t.false(allowlist.allowsName('example.com'), '*.example.com does not cover example.com itself');
  t.true(allowlist.allowsName('deep.a.example.com'));
});

test('deny wins over allow, for names and for addresses', (t) => {
  const p = applyPolicyFlags(emptyPolicy(), { allow: ['*.example.com', '10.0.0.0/8'], deny: ['bad.example.com', '10.6.6.0/24:22'] });
  const { verdict, allowlist } = runtime(p);
  t.true(allowlist.allowsName('good.example.com'));
  t.false(allowlist.allowsName('bad.example.com'));
  t.is(verdict('10.1.1.1', 22), 'accept');
  t.is(verdict('10.6.6.6', 22), 'reject');
  t.is(verdict('10.6.6.6', 23), 'accept');
  allowlist.learn('bad.example.com', [ip('10.9.9.9')], 60);
  t.is(verdict('10.9.9.9', 443), 'reject', 'a denied name blocks its addresses even inside an allowed CIDR');
});

test('a default-allow policy with a hostname deny list', (t) => {
  const p = parsePolicy('deny:\n  - host: tracker.test\n');
  const { verdict, allowlist } = runtime(p);
  t.false(allowlist.allowsName('tracker.test'));
  t.true(allowlist.allowsName('anything.else'));
  allowlist.learn('tracker.test', [ip('5.5.5.5')], 60);
  t.is(verdict('5.5.5.5', 443), 'reject');
  t.is(verdict('5.5.5.6', 443), 'accept');
});

test('limits: maxConnections bounds the conntrack table; maxConnectionsPerHost rejects the connection over the limit', (t) => {
  const { engine, verdict } = runtime(parsePolicy('limits:\n  maxConnections: 100\n  maxConnectionsPerHost: 2\n'));
  t.is(engine.conntrack!.maxEntries, 100);
  const flow = (dst: string, sport: number) => {
    const p = out(dst, 443);
    p.transport[0] = sport >> 8;
    p.transport[1] = sport & 0xff;
    const v = engine.run('OUTPUT', p);
    return v === 'accept' ? 'accept' : 'reject';
  };
  t.is(flow('1.1.1.1', 1000), 'accept');
  t.is(flow('1.1.1.1', 1001), 'accept');
  t.is(flow('1.1.1.1', 1002), 'reject');
  t.is(flow('1.1.1.2', 1002), 'accept', 'another host has its own count');
  t.is(flow('1.1.1.1', 1000), 'accept', 'an existing flow is not limited');
  t.is(engine.conntrack!.connectionsTo(ip('1.1.1.1')), 2, 'the rejected attempt left no entry');
  void verdict;
});

test('the compiled rules print as iptables-save text that parses back to the same tables', (t) => {
  const p = parsePolicy('default: deny\nallow:\n  - host: example.com\n    ports: [443, 8443]\n    protocol: tcp\n  - cidr: 10.0.0.0/8\n    protocol: udp\n    ports: ["5000-5010"]\n');
  const c = compilePolicy(p, { dnsServers: [ip('10.0.0.53')] });
  t.true(c.text.includes('-A OUTPUT -p tcp -m multiport --dports 443,8443 -m set --match-set allow-host-1 dst -m comment --comment "allow policy:3" -j ACCEPT'), c.text);
  t.true(c.text.includes('-A OUTPUT -d 10.0.0.0/8 -p udp -m udp --dport 5000:5010'));
  t.true(c.text.includes(':OUTPUT DROP [0:0]'));
  t.true(c.text.includes('-A OUTPUT -d 169.254.169.254/32 -m comment --comment "blocked: cloud metadata" -j REJECT --reject-with icmp-admin-prohibited'));
  t.deepEqual(parseIptablesSave(c.text), c.tables);
});

test('JSON policy files are read like YAML', (t) => {
  const y = parsePolicy('default: deny\nallow:\n  - host: example.com\n    ports: [443]\n');
  const j = parsePolicy('{"default": "deny", "allow": [{"host": "example.com", "ports": [443]}]}');
  t.deepEqual(
    compilePolicy(j).text,
    compilePolicy(y).text.replaceAll('policy:3', 'policy:1'),
  );
});

test('policy errors name the field and the line', (t) => {
  const cases: [string, string, number, RegExp][] = [
    ['default: maybe\n', 'default', 1, /one of allow, deny/],
    ['defualt: deny\n', 'defualt', 1, /unknown field "defualt"/],
    ['allow:\n  - host: example.com\n    ports: [443, 70000]\n', 'allow[0].ports[1]', 3, /bad port "70000"/],
    ['allow:\n  - host: example.com\n  - host: "bad host!"\n', 'allow[1].host', 3, /not a host name/],
    ['allow:\n  - host: a.test\n    cidr: 10.0.0.0/8\n', 'allow[0]', 2, /host or cidr/],
    ['allow:\n  - cidr: 10.0.0.0/33\n', 'allow[0].cidr', 2, /not an address or CIDR/],
    ['allow:\n  - host: a.test\n    protocol: icmp\n    ports: [1]\n', 'allow[0].protocol', 3, /icmp has no ports/],
    ['allow:\n  - protocol: tcp\n', 'allow[0]', 2, /needs host, cidr or ports/],
    ['allow:\n  - host: a.test\n    prot: tcp\n', 'allow[0].prot', 3, /unknown field "prot"/],
    ['allow: example.com\n', 'allow', 1, /list of entries/],
    ['limits:\n  maxConnections: -1\n', 'limits.maxConnections', 2, /integer from 1/],
    ['dns:\n  minTtl: 100\n  maxTtl: 10\n', 'dns', 2, /minTtl is above maxTtl/],
    ['allow:\n  - host: a.test\n\tports: [1]\n', '', 3, /tab/],
    ['{"allow": [{"host": "a.test", "ports": ["x"]}]}', 'allow[0].ports[0]', 1, /bad port "x"/],
  ];
  for (const [text, field, line, re] of cases) {
    const e = t.throws(() => parsePolicy(text, 'p.yaml'), { instanceOf: PolicyError }, text);
    if (!e) continue;
    t.is(e.field, field, text);
    t.is(e.line, line, text);
    t.regex(e.message, re, text);
    t.true(e.message.startsWith(`p.yaml:${line}: `), e.message);
  }
});

test('--allow/--deny forms: names, wildcards, addresses, CIDRs, [v6]:port, /proto; errors name the flag', (t) => {
  t.like(parseHostFlag('--allow', 'example.com'), { host: 'example.com', protocol: 'any' });
  t.like(parseHostFlag('--allow', '*.example.com:443'), { host: '*.example.com', ports: [{ lo: 443, hi: 443 }] });
  t.is(parseHostFlag('--allow', '10.0.0.1').cidr?.toString(), '10.0.0.1/32');
  t.is(parseHostFlag('--allow', '10.1.2.3/8:80-90').cidr?.toString(), '10.0.0.0/8');
  t.deepEqual(parseHostFlag('--allow', '10.1.2.3/8:80-90').ports, [{ lo: 80, hi: 90 }]);
  t.is(parseHostFlag('--deny', 'fd00::1').cidr?.toString(), 'fd00::1/128');
  const v6 = parseHostFlag('--allow', '[2001:db8::/32]:443/tcp');
  t.is(v6.cidr?.toString(), '2001:db8::/32');
  t.is(v6.protocol, 'tcp');
  t.deepEqual(v6.ports, [{ lo: 443, hi: 443 }]);
  t.throws(() => parseHostFlag('--allow', 'example.com:99999'), { message: /--allow: bad port/ });
  t.throws(() => parseHostFlag('--deny', 'bad_host!'), { message: /--deny: not a host name/ });
  t.is(applyPolicyFlags(emptyPolicy(), { deny: ['x.test'] }).default, 'allow', 'only --allow switches to deny-by-default');
});

test('learn() record by record: a CNAME recorded with learnCname makes the canonical name learn under the alias', (t) => {
  const p = applyPolicyFlags(emptyPolicy(), { allow: ['api.example.com:443'] });
  const { verdict, allowlist } = runtime(p);
  t.is(allowlist.learn('cdn-edge.test', [ip('7.7.7.7')], 300), 0, 'unrelated name: nothing learned');
  allowlist.learnCname('api.example.com', 'api.example.com.cdn.test');
  allowlist.learnCname('api.example.com.cdn.test', 'edge7.cdn.test');
  t.is(allowlist.learn('edge7.cdn.test', [ip('7.7.7.7')], 300), 1);
  t.is(verdict('7.7.7.7', 443), 'accept');
  t.is(allowlist.hostnameOf(ip('7.7.7.7')), 'api.example.com');
  t.false(allowlist.allowsName('edge7.cdn.test'), 'the canonical name itself is not resolvable directly');
});

test('IPv6 neighbor discovery passes a deny-everything policy in both directions; other ICMPv6 to link-local does not', (t) => {
  const p = parsePolicy('default: deny\ninbound: deny\n');
  const { engine } = runtime(p);
  const icmp6 = (src: string, dst: string, type: number) => {
    const buf = new Uint8Array(40 + 24);
    emitIpv6({ src: ip(src), dst: ip(dst), nextHeader: 58, hopLimit: 255, payloadLen: 24 }, buf, 0);
    buf[40] = type;
    const fi = new FilterInput();
    fi.setDatagram(buf);
    return fi;
  };
  t.is(engine.run('OUTPUT', icmp6('fe80::1', 'ff02::1:ff00:2', 135)), 'accept', 'NS to the solicited-node group');
  t.is(engine.run('OUTPUT', icmp6('fe80::1', 'fe80::2', 135)), 'accept', 'unicast NS (NUD)');
  t.is(engine.run('INPUT', icmp6('fe80::2', 'fe80::1', 136)), 'accept', 'NA in');
  t.is(engine.run('INPUT', icmp6('fe80::fe', 'ff02::1', 134)), 'accept', 'RA in');
  t.not(engine.run('OUTPUT', icmp6('fe80::1', 'fe80::2', 128)), 'accept', 'an echo request to link-local is still blocked');
  t.not(engine.run('INPUT', icmp6('fe80::2', 'fe80::1', 128)), 'accept', 'inbound echo: inbound deny');
});
