// stack.dns through the stack: a small authoritative server written with stack.dgram and
// stack.net on the other stack answers A/AAAA; lookup (families, all), resolve4/resolve6
// (with TTLs), NXDOMAIN as ENOTFOUND, and the TCP fallback when the UDP answer is truncated.

import test from 'ava';
import { once } from 'node:events';
import { IpAddr } from '../../src/index.js';
import { DnsType, buildDnsResponse, encodeDns, encodeDnsForUdp, parseDns, type DnsMessage, type DnsRecord } from '../../src/netstack/wire/dns.js';
import { pair, type Pair } from './helpers.js';

const ZONE: Record<string, string[]> = {
  'www.test': ['10.0.0.1', 'fd00::1'],
  'v4only.test': ['10.0.0.7'],
  // 40 A records: about 660 bytes, over the 512-byte UDP limit, so the answer is truncated.
  'big.test': Array.from({ length: 40 }, (_, i) => `10.1.0.${i + 1}`),
};

function answer(q: DnsMessage): DnsMessage {
  const name = q.questions[0].name.replace(/\.$/, '');
  const addrs = ZONE[name];
  if (!addrs) return buildDnsResponse(q, { rcode: 3, aa: true });
  const type = q.questions[0].type;
  const answers: DnsRecord[] = addrs
    .map((a) => IpAddr.parse(a))
    .filter((a) => (type === DnsType.A ? a.family === 4 : type === DnsType.AAAA ? a.family === 6 : false))
    .map((a) => ({ name, type, class: 1, ttl: 300, data: a.family === 4 ? { kind: 'a' as const, address: a } : { kind: 'aaaa' as const, address: a } }));
  return buildDnsResponse(q, { answers, aa: true });
}

async function dnsServer(p: Pair) {
  const counts = { udp: 0, tcp: 0 };
  // One dual-stack IPv6 socket serves both families (IPv4 clients appear v4-mapped).
  {
    const u = p.a.dgram.createSocket('udp6');
    u.on('message', (m: Buffer, r) => {
      const q = parseDns(m);
      if (typeof q === 'string') return;
      counts.udp++;
      const out = encodeDnsForUdp(answer(q), 512);
      if (typeof out !== 'string') u.send(out, r.port, r.address);
    });
    u.bind(53);
    await once(u, 'listening');
  }
  const tcp = p.a.net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = parseDns(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      if (typeof q === 'string') return void s.destroy();
      counts.tcp++;
      const out = encodeDns(answer(q)) as Uint8Array;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length);
      s.end(Buffer.concat([len, out]));
    });
  });
  tcp.listen(53);
  await once(tcp, 'listening');
  return counts;
}

test('lookup and resolve through a server on the other stack (IPv4 transport)', async (t) => {
  const p = pair({}, { dns: { servers: ['10.0.0.1'] } });
  try {
    const counts = await dnsServer(p);
    const dns = p.b.dns;
    t.deepEqual(await dns.promises.lookup('www.test', { family: 4 }), { address: '10.0.0.1', family: 4 });
    t.deepEqual(await dns.promises.lookup('www.test', { family: 6 }), { address: 'fd00::1', family: 6 });
    t.deepEqual(await dns.promises.lookup('www.test', { all: true }), [
      { address: '10.0.0.1', family: 4 },
      { address: 'fd00::1', family: 6 },
    ]);
    t.deepEqual(await dns.promises.resolve4('www.test'), ['10.0.0.1']);
    t.deepEqual(await dns.promises.resolve6('www.test', { ttl: true }), [{ address: 'fd00::1', ttl: 300 }]);
    const cbResult = await new Promise<[Error | null, string, number | undefined]>((r) => dns.lookup('v4only.test', (e, a, f) => r([e, a, f])));
    t.deepEqual(cbResult, [null, '10.0.0.7', 4]);
    t.true(counts.udp >= 6);
    t.is(counts.tcp, 0);
  } finally {
    p.close();
  }
});

test('NXDOMAIN: lookup ENOTFOUND as getaddrinfo reports it, resolve4 ENOTFOUND; no AAAA: ENODATA', async (t) => {
  const p = pair({}, { dns: { servers: ['[fd00::1]:53'] } });
  try {
    await dnsServer(p);
    const e1 = await t.throwsAsync(p.b.dns.promises.lookup('nope.test'));
    t.is(e1!.message, 'getaddrinfo ENOTFOUND nope.test');
    t.like(e1, { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'nope.test', errno: -3008 });
    const e2 = await t.throwsAsync(p.b.dns.promises.resolve4('nope.test'));
    t.like(e2, { code: 'ENOTFOUND', syscall: 'queryA' });
    const e3 = await t.throwsAsync(p.b.dns.promises.resolve6('v4only.test'));
    t.like(e3, { code: 'ENODATA', syscall: 'queryAaaa' });
  } finally {
    p.close();
  }
});

test('a truncated UDP answer is asked again over TCP and all 40 records come back', async (t) => {
  const p = pair({}, { dns: { servers: ['10.0.0.1'] } });
  try {
    const counts = await dnsServer(p);
    const addrs = await p.b.dns.promises.resolve4('big.test');
    t.deepEqual(addrs, ZONE['big.test']);
    t.is(p.b.dns.stats.truncated, 1);
    t.is(counts.tcp, 1);
    // net.connect by name uses the same resolver.
    const srv = p.a.net.createServer((s) => s.end('by name'));
    srv.listen(8000);
    await once(srv, 'listening');
    const c = p.b.net.connect(8000, 'www.test');
    c.setEncoding('utf8');
    let got = '';
    c.on('data', (d: string) => (got += d));
    await once(c, 'end');
    t.is(got, 'by name');
  } finally {
    p.close();
  }
});

test('unreachable server: ECONNREFUSED after the tries; no server configured: lookup ENOTFOUND', async (t) => {
  const p = pair({}, { dns: { servers: ['10.0.0.1:5300'], timeout: 100, tries: 2 } });
  try {
    // Nothing listens on 5300: each try ends with ICMP port unreachable (ECONNREFUSED).
    const e = await t.throwsAsync(p.b.dns.promises.resolve4('www.test'));
    t.like(e, { code: 'ECONNREFUSED', syscall: 'queryA' });
    const q = pair();
    try {
      const e2 = await t.throwsAsync(q.b.dns.promises.lookup('www.test'));
      t.like(e2, { code: 'ENOTFOUND' });
    } finally {
      q.close();
    }
  } finally {
    p.close();
  }
});
