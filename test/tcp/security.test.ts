import test from 'ava';
import { TestNet } from './helpers/net.js';
import { craft } from './helpers/craft.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';
import { ACK, RST, SYN } from '../../src/netstack/tcp/segment.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { fixtureIn } from './helpers/fixtures.js';

function established() {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const p = connectPair(net, a, b);
  net.trace = [];
  return { net, a, b, ...p };
}

test('RST with the exact sequence number resets the connection (RFC 5961 §3.2)', (t) => {
  const { net, a, b, client } = established();
  let err = '';
  client.on({ onError: (_e, code) => (err = code) });
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: client.rcvNxt, flags: RST }));
  t.is(client.stateName, 'CLOSED');
  t.is(err, 'ECONNRESET');
});

test('in-window RST that is not exact draws a challenge ACK and changes nothing', (t) => {
  const { net, a, b, client } = established();
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: (client.rcvNxt + 1000) >>> 0, flags: RST }));
  t.is(client.stateName, 'ESTABLISHED');
  t.is(a.tcp.stats.challengeAcks, 1);
  const acks = net.trace!.filter((e) => e.event === 'sent' && e.flags === ACK);
  t.is(acks.length, 1);
  t.is(acks[0].ack, client.rcvNxt);
});

test('out-of-window RST is dropped silently', (t) => {
  const { net, a, b, client } = established();
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: (client.rcvNxt + 0x40000000) >>> 0, flags: RST }));
  t.is(client.stateName, 'ESTABLISHED');
  t.is(a.tcp.stats.challengeAcks, 0);
  t.is(net.trace!.filter((e) => e.event === 'sent').length, 0);
});

test('SYN on an established connection draws a challenge ACK (RFC 5961 §4.2)', (t) => {
  const { net, a, b, client } = established();
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: 12345, flags: SYN }));
  t.is(client.stateName, 'ESTABLISHED');
  t.is(a.tcp.stats.challengeAcks, 1);
});

test('ACK of data never sent is answered with an ACK and ignored; old ACK beyond MAX.SND.WND draws a challenge (RFC 5961 §5.2)', (t) => {
  const { net, a, b, client } = established();
  const una = client.sndUna;
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: client.rcvNxt, ack: (una + 5000) >>> 0, flags: ACK }));
  t.is(client.sndUna, una);
  t.is(a.tcp.stats.ackOfUnsent, 1);
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: client.rcvNxt, ack: (una - 0x20000000) >>> 0, flags: ACK }));
  t.is(a.tcp.stats.challengeAcks, 1);
  t.is(client.stateName, 'ESTABLISHED');
});

test('challenge ACKs are rate limited stack-wide (RFC 5961 §7)', (t) => {
  const { net, a, b, client } = established();
  for (let i = 0; i < 1500; i++) {
    net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: (client.rcvNxt + 10 + i) >>> 0, flags: RST }));
  }
  t.is(a.tcp.stats.challengeAcks, 1000);
  t.is(a.tcp.stats.challengeAcksSuppressed, 500);
});

test('PAWS drops a segment with an old timestamp (RFC 7323 §5)', (t) => {
  const { net, a, b, client } = established();
  net.run(5000);
  const before = client.readable;
  net.inject(a, b.addr, craft(b.addr, a.addr, {
    srcPort: 80, dstPort: client.localPort, seq: client.rcvNxt, ack: client.sndNxt, flags: ACK,
    hasTs: true, tsVal: (client.tsRecent - 1000) >>> 0, tsEcr: 0, payload: new Uint8Array(10),
  }));
  t.is(client.readable, before);
  t.is(a.tcp.stats.pawsDrops, 1);
});

test('a bad checksum is dropped and counted', (t) => {
  const { net, a, b, client } = established();
  const bytes = craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: client.rcvNxt, flags: RST });
  bytes[16] ^= 0xff;
  net.inject(a, b.addr, bytes);
  t.is(client.stateName, 'ESTABLISHED');
  t.is(a.tcp.stats.badChecksum, 1);
  net.inject(a, b.addr, bytes.subarray(0, 10));
  t.is(a.tcp.stats.malformed, 1);
});

test('RST handling in every state: an exact RST closes, and nothing throws', (t) => {
  for (const s of ['SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT'] as const) {
    const f = fixtureIn(s);
    const ep = f.ep;
    const other = ep.remoteAddr!;
    const host = ep.localAddr!.equals(f.a.addr) ? f.a : f.b;
    const flags = s === 'SYN_SENT' ? RST | ACK : RST;
    const seq = s === 'SYN_SENT' ? 0 : ep.rcvNxt;
    const ack = s === 'SYN_SENT' ? ep.sndNxt : 0;
    f.net.inject(host, other, craft(other, ep.localAddr!, { srcPort: ep.remotePort, dstPort: ep.localPort, seq, ack, flags }));
    // RFC 1337: TIME_WAIT ignores RST
    t.is(ep.stateName, s === 'TIME_WAIT' ? 'TIME_WAIT' : 'CLOSED', s);
  }
});

test('ICMP port unreachable during SYN_SENT fails the connect with ECONNREFUSED', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.blackhole(a, b);
  net.trace = [];
  const c = a.tcp.endpoint();
  let err = '';
  c.on({ onError: (_e, code) => (err = code) });
  c.connect(b.addr, 80);
  const syn = net.trace[0].raw;
  a.icmpError({
    kind: 'port-unreachable', code: 'ECONNREFUSED', from: b.addr, icmpType: 3, icmpCode: 3,
    src: a.addr, dst: b.addr, protocol: 6, quoted: syn.subarray(0, 8),
  });
  t.is(c.stateName, 'CLOSED');
  t.is(err, 'ECONNREFUSED');
});

test('ICMP fragmentation-needed lowers the MSS and the transfer continues (PMTU)', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const { client, server } = connectPair(net, a, b);
  // a router on the path with MTU 1280: drops bigger packets and reports it once
  let reported = false;
  net.setLink(a, b, {
    delayMs: 5,
    dropIf: (_n, pkt) => {
      if (pkt.bytes.length + 20 <= 1280) return false;
      if (!reported) {
        reported = true;
        a.timers.after(2, () => a.icmpError({
          kind: 'fragmentation-needed', code: 'EMSGSIZE', from: IpAddr.parse('10.0.0.254'), icmpType: 3, icmpCode: 4, mtu: 1280,
          src: a.addr, dst: b.addr, protocol: 6, quoted: pkt.bytes.slice(0, 8),
        }));
      }
      return true;
    },
  });
  const data = pattern(500_000, 4);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof, 60_000));
  t.is(sink.digest(), sha256(data));
  t.is(client.tcpInfo().sndMss, 1280 - 40 - 12);
  t.is(a.tcp.stats.pmtuUpdates, 1);
});

test('ICMP errors quoting a sequence number outside the window are ignored (RFC 5927)', (t) => {
  const { a, b, client } = established();
  const q = new Uint8Array(8);
  q[0] = client.localPort >> 8; q[1] = client.localPort & 0xff; q[2] = 0; q[3] = 80;
  const bad = (client.sndUna + 0x10000000) >>> 0;
  q[4] = bad >>> 24; q[5] = (bad >>> 16) & 0xff; q[6] = (bad >>> 8) & 0xff; q[7] = bad & 0xff;
  a.icmpError({ kind: 'fragmentation-needed', code: 'EMSGSIZE', from: b.addr, icmpType: 3, icmpCode: 4, mtu: 600, src: a.addr, dst: b.addr, protocol: 6, quoted: q });
  t.is(a.tcp.stats.icmpOutOfWindow, 1);
  t.is(client.tcpInfo().sndMss, 1448);
});

test('checksum offload: segments carry a partial checksum that the link finishes', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  a.checksumOffload = true;
  const { client, server } = connectPair(net, a, b);
  const data = pattern(100_000, 6);
  const sink = new Sink(server);
  new Writer(client, data);
  t.true(net.runUntil(() => sink.eof));
  t.is(sink.digest(), sha256(data));
  t.is(b.tcp.stats.badChecksum, 0);
});

test('ICMP host unreachable on an established connection is a soft error (RFC 1122 §4.2.3.9)', (t) => {
  const { a, b, client, server, net } = established();
  const q = new Uint8Array(8);
  q[0] = client.localPort >> 8; q[1] = client.localPort & 0xff; q[2] = 0; q[3] = 80;
  client.write(new Uint8Array(100));
  const seq = client.sndUna;
  q[4] = seq >>> 24; q[5] = (seq >>> 16) & 0xff; q[6] = (seq >>> 8) & 0xff; q[7] = seq & 0xff;
  a.icmpError({ kind: 'host-unreachable', code: 'EHOSTUNREACH', from: IpAddr.parse('10.0.0.254'), icmpType: 3, icmpCode: 1, src: a.addr, dst: b.addr, protocol: 6, quoted: q });
  t.is(client.stateName, 'ESTABLISHED');
  t.is(client.tcpInfo().softError, 'EHOSTUNREACH');
  const sink = new Sink(server);
  t.true(net.runUntil(() => sink.bytes === 100));
});

test('no ACK war: empty out-of-window segments are answered at most every 500 ms', (t) => {
  const { net, a, b, client } = established();
  for (let i = 0; i < 100; i++) {
    net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: (client.rcvNxt + 0x1000000) >>> 0, ack: client.sndNxt, flags: ACK }));
  }
  t.is(net.trace!.filter((e) => e.event === 'sent').length, 1);
  t.is(a.tcp.stats.oowAcksSuppressed, 99);
  net.run(500);
  net.inject(a, b.addr, craft(b.addr, a.addr, { srcPort: 80, dstPort: client.localPort, seq: (client.rcvNxt + 0x1000000) >>> 0, ack: client.sndNxt, flags: ACK }));
  t.is(net.trace!.filter((e) => e.event === 'sent').length, 2);
});

// RFC 1122 §4.2.3.9 calls host unreachable soft, but Linux's tcp_v4_err ends a SYN_SENT
// socket on it (measured: connect() fails at once with EHOSTUNREACH); moat follows Linux.
test('ICMP host unreachable during SYN_SENT fails the connect at once, as on Linux', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { synRetries: 2 });
  const b = net.addHost('10.0.0.2');
  net.blackhole(a, b);
  net.trace = [];
  const c = a.tcp.endpoint();
  let err = '';
  c.on({ onError: (_e, code) => (err = code) });
  c.connect(b.addr, 80);
  const syn = net.trace[0].raw;
  a.icmpError({
    kind: 'host-unreachable', code: 'EHOSTUNREACH', from: IpAddr.parse('10.0.0.254'), icmpType: 3, icmpCode: 1,
    src: a.addr, dst: b.addr, protocol: 6, quoted: syn.subarray(0, 8),
  });
  t.is(c.stateName, 'CLOSED');
  t.is(err, 'EHOSTUNREACH');
  net.runUntil(() => false, 10_000);
  t.is(net.trace.filter((e) => e.flags === 0x02).length, 1, 'no SYN retransmission after the error');
});

test('ICMP administratively prohibited (a REJECT) during SYN_SENT fails the connect at once', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.blackhole(a, b);
  net.trace = [];
  const c = a.tcp.endpoint();
  c.connect(b.addr, 80);
  a.icmpError({
    kind: 'admin-prohibited', code: 'EHOSTUNREACH', from: IpAddr.parse('10.0.0.254'), icmpType: 3, icmpCode: 13,
    src: a.addr, dst: b.addr, protocol: 6, quoted: net.trace[0].raw.subarray(0, 8),
  });
  t.is(c.stateName, 'CLOSED');
  t.is(c.read(), 'EHOSTUNREACH');
});
