// attachPolicy on a real stack in virtual time: a policy file's allow entry becomes reachable
// once its name is resolved through the redirected forwarder, everything else is refused, and
// denied DNS names and connections land in the audit log.

import test from 'ava';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { Stack } from '../../../src/netstack/stack.js';
import { StaticNeighbors } from '../../../src/netstack/nic.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import { TcpProtocol, type TcpEndpoint } from '../../../src/netstack/tcp/index.js';
import { MemoryAuditSink } from '../../../src/netstack/filter/audit.js';
import { attachPolicy } from '../../../src/kernel/policy/attach.js';
import { parsePolicy } from '../../../src/kernel/policy/policy.js';
import { DnsClass, DnsRcode, DnsType, buildDnsQuery, buildDnsResponse, encodeDns, parseDns, type DnsMessage } from '../../../src/netstack/wire/dns.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';

const ip = (s: string) => IpAddr.parse(s);

test('attachPolicy: resolve-then-connect for an allowed name, NXDOMAIN and refusals audited for the rest', (t) => {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  let tcp!: TcpProtocol;
  let wtcp!: TcpProtocol;
  const guest = new Stack({ clock, rng: new SeededRng(1), neighbors, transports: (n) => [(tcp = new TcpProtocol(n))] });
  const world = new Stack({ clock, rng: new SeededRng(2), neighbors, transports: (n) => [(wtcp = new TcpProtocol(n))] });
  const ng = guest.addNic(wire.port({ name: 'eth0' }), { addresses: ['10.1.0.2/16'] });
  neighbors.learn(ng);
  neighbors.learn(world.addNic(wire.port({ name: 'eth0' }), { addresses: ['10.1.0.53/16', '10.1.0.80/16', '10.1.0.81/16'] }));
  guest.addRoute('0.0.0.0/0', ng, '10.1.0.254');
  // The world: a DNS server for two names and web servers on both addresses.
  const dns = world.udp.endpoint(4);
  dns.bind(ip('10.1.0.53'), 53);
  dns.onReadable = () => {
    for (let d = dns.recv(); typeof d !== 'string'; d = dns.recv()) {
      const q = parseDns(d.data) as DnsMessage;
      const name = q.questions[0].name;
      const addr = name === 'api.example.com' ? '10.1.0.80' : '10.1.0.81';
      const a = encodeDns(buildDnsResponse(q, { answers: [{ name, type: DnsType.A, class: DnsClass.IN, ttl: 300, data: { kind: 'a', address: ip(addr) } }] })) as Uint8Array;
      dns.send(a, { addr: d.from, port: d.port });
    }
  };
  const webs = ['10.1.0.80', '10.1.0.81'].map((a) => {
    const l = wtcp.endpoint();
    l.bind(ip(a), 443);
    l.listen(4);
    return l;
  });

  const audit = new MemoryAuditSink();
  const policy = parsePolicy('default: deny\nallow:\n  - host: api.example.com\n    ports: [443]\n    protocol: tcp\n', 'p.yaml');
  const att = attachPolicy(guest, policy, { upstream: [ip('10.1.0.53')], audit });
  if (typeof att === 'string') return t.fail(att);

  const resolve = (name: string): DnsMessage => {
    const ep = guest.udp.endpoint(4);
    ep.bind(null, 0);
    ep.send(encodeDns(buildDnsQuery({ id: 42, name, type: DnsType.A })) as Uint8Array, { addr: ip('198.51.100.1'), port: 53 });
    for (let i = 0; i < 3000; i++) {
      const d = ep.recv();
      if (typeof d !== 'string') return parseDns(d.data) as DnsMessage;
      clock.advance(1);
    }
    throw new Error('no answer');
  };
  const dial = (dst: string): TcpEndpoint => {
    const c = tcp.endpoint();
    c.connect(ip(dst), 443);
    for (let i = 0; i < 3000 && c.stateName !== 'ESTABLISHED' && !c.error; i++) clock.advance(1);
    return c;
  };

  t.is(dial('10.1.0.80').stateName, 'CLOSED', 'not resolved yet: refused');
  const ok = resolve('api.example.com');
  t.is(ok.rcode, DnsRcode.NOERROR);
  t.is(dial('10.1.0.80').stateName, 'ESTABLISHED');
  t.truthy(webs[0].accept() instanceof Object);

  const no = resolve('tracker.example.net');
  t.is(no.rcode, DnsRcode.NXDOMAIN);
  t.is(dial('10.1.0.81').stateName, 'CLOSED');
  t.is(webs[1].accept(), 'EAGAIN');

  const recs = audit.records;
  t.true(recs.some((r) => r.hook === 'DNS' && r.hostname === 'tracker.example.net' && r.verdict === 'reject'));
  t.true(recs.some((r) => r.hook === 'OUTPUT' && r.dst === '10.1.0.81' && r.verdict === 'reject'));
  t.false(recs.some((r) => r.verdict === 'accept'), 'log: denied (the default) keeps only refusals');
  t.is(att.forwarder!.stats.upstreamQueries, 1, 'the denied name never went upstream');
});
