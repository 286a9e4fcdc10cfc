// DNS (RFC 1035, 3596, 2782, 6891): real dnsmasq answers, compression (and its loops),
// name limits, every RR type round-tripping, and the forwarder's builders.
import test from 'ava';
import {
  DnsClass,
  DnsPacket,
  DnsRcode,
  DnsType,
  buildDnsErrorResponse,
  buildDnsHeaderOnlyError,
  buildDnsQuery,
  buildDnsResponse,
  dnsBufferLen,
  dnsNameToLabels,
  emitDns,
  encodeDns,
  encodeDnsForUdp,
  parseDns,
  readDnsName,
  writeDnsName,
  type DnsMessage,
  type DnsRecord,
} from '../../src/netstack/wire/dns.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { isWireError } from '../../src/netstack/wire/error.js';
import {
  hex,
  toHex,
  DNS_AAAA_RESPONSE,
  DNS_A_QUERY,
  DNS_A_RESPONSE,
  DNS_CNAME_RESPONSE,
  DNS_MX_RESPONSE,
  DNS_SRV_RESPONSE,
  DNS_TXT_RESPONSE,
} from './golden.js';

const dnsOf = (frame: Uint8Array) => frame.subarray(42); // Ethernet + IPv4 + UDP
const parse = (b: Uint8Array): DnsMessage => {
  const m = parseDns(b);
  if (isWireError(m)) throw new Error(m);
  return m;
};

test('a real query from dig: header bits, question, EDNS0 with a cookie', (t) => {
  const m = parse(dnsOf(DNS_A_QUERY));
  t.like(m, { id: 20410, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: true, cd: false, rcode: 0 });
  t.deepEqual(m.questions, [{ name: 'example.test', type: DnsType.A, class: DnsClass.IN }]);
  t.is(m.additionals.length, 0); // the OPT record became `edns`
  t.like(m.edns!, { udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: false });
  t.is(m.edns!.options.length, 1);
  t.is(m.edns!.options[0].code, 10); // COOKIE (RFC 7873)
  t.is(m.edns!.options[0].data.length, 8);
  // re-encoding reproduces the query exactly
  t.is(toHex(encodeDns(m) as Uint8Array), toHex(dnsOf(DNS_A_QUERY)));
});

test('real answers: A, AAAA, CNAME, TXT, MX, SRV', (t) => {
  const a = parse(dnsOf(DNS_A_RESPONSE));
  t.like(a, { id: 20410, qr: true, aa: true, rd: true, ra: true, rcode: 0 });
  t.deepEqual(a.answers, [{ name: 'example.test', type: DnsType.A, class: 1, ttl: 0, data: { kind: 'a', address: IpAddr.parse('10.1.2.3') } }]);
  const aaaa = parse(dnsOf(DNS_AAAA_RESPONSE));
  t.deepEqual(aaaa.answers[0].data, { kind: 'aaaa', address: IpAddr.parse('fd00::123') });
  const cname = parse(dnsOf(DNS_CNAME_RESPONSE));
  t.deepEqual(cname.answers[0], { name: 'alias.example.test', type: DnsType.CNAME, class: 1, ttl: 0, data: { kind: 'cname', name: 'example.test' } });
  const txt = parse(dnsOf(DNS_TXT_RESPONSE));
  const td = txt.answers[0].data;
  if (td.kind !== 'txt') return t.fail(td.kind);
  t.deepEqual(td.strings.map((s) => new TextDecoder().decode(s)), ['hello world', 'second']);
  const mx = parse(dnsOf(DNS_MX_RESPONSE));
  t.deepEqual(mx.answers[0].data, { kind: 'mx', preference: 10, exchange: 'mail.example.test' });
  const srv = parse(dnsOf(DNS_SRV_RESPONSE));
  t.is(srv.questions[0].name, '_sip._udp.example.test');
  t.deepEqual(srv.answers[0].data, { kind: 'srv', priority: 1, weight: 2, port: 5060, target: 'sip.example.test' });
});

test('re-encoding real answers: identical bytes where dnsmasq compressed the same way, equal meaning elsewhere', (t) => {
  for (const f of [DNS_A_RESPONSE, DNS_AAAA_RESPONSE, DNS_TXT_RESPONSE]) {
    t.is(toHex(encodeDns(parse(dnsOf(f))) as Uint8Array), toHex(dnsOf(f)));
  }
  for (const f of [DNS_CNAME_RESPONSE, DNS_MX_RESPONSE, DNS_SRV_RESPONSE]) {
    const m = parse(dnsOf(f));
    const compressed = encodeDns(m) as Uint8Array;
    const plain = encodeDns(m, { compress: false }) as Uint8Array;
    t.deepEqual(parse(compressed), m);
    t.deepEqual(parse(plain), m);
    t.true(compressed.length < plain.length);
  }
  // SRV targets are never compressed (RFC 2782), so the SRV answer keeps its full target
  const srv = encodeDns(parse(dnsOf(DNS_SRV_RESPONSE))) as Uint8Array;
  t.true(toHex(srv).includes(toHex(hex('03736970076578616d706c650474657374 00'))));
});

/** A message with one question whose name is the given bytes (header qdcount = 1). */
function withName(nameBytes: string): Uint8Array {
  return hex('abcd 0100 0001 0000 0000 0000' + nameBytes + '0001 0001');
}

test('compression loops and forward pointers are refused; backward chains are followed', (t) => {
  t.is(parseDns(withName('c00c')), 'malformed'); // points at itself
  t.is(parseDns(withName('c00e 00')), 'malformed'); // points forward
  t.is(parseDns(withName('0161 c00c')), 'malformed'); // "a" then back to "a": a loop
  t.is(parseDns(withName('c3ff')), 'malformed'); // far past the end (forward)
  // two questions: the second points into the first, which is fine
  const ok = hex('0001 0000 0002 0000 0000 0000' + '0362626203636f6d00 00010001' + '0161c00c 00010001');
  const m = parse(ok);
  t.deepEqual(m.questions.map((q) => q.name), ['bbb.com', 'a.bbb.com']);
  // a chain of two backward jumps: "x" -> "a" -> "bbb.com"
  const chain = hex('0001 0000 0003 0000 0000 0000' + '0362626203636f6d00 00010001' + '0161c00c 00010001' + '0178c019 00010001');
  t.deepEqual(parse(chain).questions.map((q) => q.name), ['bbb.com', 'a.bbb.com', 'x.a.bbb.com']);
  // two names pointing at each other: the first jump (forward, to the second) is refused
  const pingpong = hex('0001 0000 0002 0000 0000 0000' + 'c012 00010001' + 'c00c 00010001');
  t.is(parseDns(pingpong), 'malformed');
  // and read from the second name, the walk back to the first meets a forward pointer
  t.is(readDnsName(pingpong, 18), 'malformed');
});

test('name limits: 63-byte labels, 255-byte names, extended label types, truncation', (t) => {
  const label = (n: number) => n.toString(16).padStart(2, '0') + '61'.repeat(n);
  t.false(isWireError(parseDns(withName(label(63) + '00'))));
  t.is(parseDns(withName('40' + '61'.repeat(64) + '00')), 'malformed'); // 0x40: extended label type
  t.is(parseDns(withName('80' + '00')), 'malformed');
  // 3 * 64 + 62 + 1 = 255 bytes: the longest legal name
  const max = label(63).repeat(3) + label(61) + '00';
  t.is((readDnsName(hex(max), 0) as { name: string }).name.length, 63 * 3 + 61 + 3);
  t.is(readDnsName(hex(label(63).repeat(3) + label(62) + '00'), 0), 'malformed');
  t.is(readDnsName(hex(label(63).repeat(5) + '00'), 0), 'malformed');
  t.is(readDnsName(hex('05616161'), 0), 'truncated');
  t.is(readDnsName(hex('0161'), 0), 'truncated');
  t.is(readDnsName(hex('c0'), 0), 'truncated');
  // the encoder enforces the same limits
  t.is(dnsNameToLabels('a'.repeat(64) + '.com'), 'malformed');
  t.is(dnsNameToLabels(('a'.repeat(63) + '.').repeat(4)), 'malformed');
  t.is(dnsNameToLabels('a..b'), 'malformed');
  t.is(dnsNameToLabels('.a'), 'malformed');
  t.is(dnsNameToLabels('caf\u00e9\u4e16.com'), 'malformed');
  t.deepEqual(dnsNameToLabels('example.com.'), dnsNameToLabels('example.com'));
  t.deepEqual(dnsNameToLabels(''), []);
});

test('names with odd bytes are escaped losslessly (RFC 1035 §5.1)', (t) => {
  const buf = new Uint8Array(64);
  for (const name of ['a\\.b.c', 'sp\\032ace.x', '\\000\\255\\\\.y', '_srv._tcp.x']) {
    const end = writeDnsName(name, buf, 0) as number;
    t.deepEqual(readDnsName(buf, 0), { name, end });
  }
  t.deepEqual(
    (dnsNameToLabels('a\\.b.c') as Uint8Array[]).map((l) => toHex(l)),
    ['612e62', '63'],
  );
  // "\X" for a plain character means the character itself; the canonical form drops the escape
  const end = writeDnsName('\\a.b', buf, 0) as number;
  t.deepEqual(readDnsName(buf, 0), { name: 'a.b', end });
});

test('buildDnsQuery: hand-made golden bytes', (t) => {
  const q = buildDnsQuery({ id: 0x1234, name: 'example.com', type: DnsType.A });
  t.is(
    toHex(encodeDns(q) as Uint8Array),
    '1234' + '0100' + '0001000000000000' + '076578616d706c6503636f6d00' + '0001' + '0001',
  );
  const e = buildDnsQuery({ id: 1, name: 'x.test', type: DnsType.AAAA, ednsUdpPayloadSize: 1232, dnssecOk: true, cd: true });
  const b = encodeDns(e) as Uint8Array;
  // OPT at the end: root, type 41, class = payload size, TTL with the DO bit, no RDATA
  t.is(toHex(b.subarray(b.length - 11)), '00' + '0029' + '04d0' + '00008000' + '0000');
  t.deepEqual(parse(b), e);
});

test('error responses for the forwarder: NXDOMAIN and REFUSED echo the question; FORMERR from a bare header', (t) => {
  const q = parse(dnsOf(DNS_A_QUERY));
  const nx = buildDnsErrorResponse(q, DnsRcode.NXDOMAIN);
  const b = encodeDns(nx) as Uint8Array;
  t.is(toHex(b.subarray(0, 12)), '4fba' + '8183' + '0001000000000000');
  t.is(toHex(b.subarray(12)), '076578616d706c6504746573740000010001');
  const refused = encodeDns(buildDnsErrorResponse(q, DnsRcode.REFUSED)) as Uint8Array;
  t.is(toHex(refused.subarray(2, 4)), '8185');
  t.deepEqual(parse(refused).questions, q.questions);
  // with EDNS echoed
  const withOpt = buildDnsResponse(q, { rcode: DnsRcode.SERVFAIL, ednsUdpPayloadSize: 1232 });
  t.like(parse(encodeDns(withOpt) as Uint8Array).edns!, { udpPayloadSize: 1232 });
  // FORMERR: only the header survives
  const raw = DnsPacket.view(hex('beef 0900 0001 0000 0000 0000 ff')) as DnsPacket; // opcode 1, RD
  t.is(toHex(buildDnsHeaderOnlyError(raw, DnsRcode.FORMERR)), 'beef' + '8981' + '0000000000000000');
  const hdr = DnsPacket.view(b) as DnsPacket;
  hdr.setId(0xffff);
  t.is(hdr.id, 0xffff);
  t.is(hdr.questionCount, 1);
  t.true(hdr.qr);
  t.is(hdr.rcode, DnsRcode.NXDOMAIN);
});

test('every record kind, EDNS with options and an extended RCODE, round-trip with and without compression', (t) => {
  const rr = (name: string, type: number, data: DnsRecord['data'], ttl = 0xffffffff): DnsRecord => ({ name, type, class: DnsClass.IN, ttl, data });
  const m: DnsMessage = {
    id: 0xffff,
    qr: true,
    opcode: 0,
    aa: true,
    tc: true,
    rd: false,
    ra: true,
    ad: true,
    cd: true,
    rcode: 0xf,
    questions: [{ name: 'zone.example', type: DnsType.ANY, class: DnsClass.ANY }],
    answers: [
      rr('zone.example', DnsType.A, { kind: 'a', address: IpAddr.parse('0.0.0.0') }, 0),
      rr('zone.example', DnsType.AAAA, { kind: 'aaaa', address: IpAddr.parse('::ffff:1.2.3.4') }),
      rr('www.zone.example', DnsType.CNAME, { kind: 'cname', name: 'zone.example' }),
      rr('zone.example', DnsType.NS, { kind: 'ns', name: 'ns1.zone.example' }),
      rr('4.3.2.1.in-addr.arpa', DnsType.PTR, { kind: 'ptr', name: 'host.zone.example' }),
      rr('zone.example', DnsType.MX, { kind: 'mx', preference: 0xffff, exchange: '' }),
      rr('zone.example', DnsType.TXT, { kind: 'txt', strings: [new Uint8Array(0), new Uint8Array(255).fill(0x41)] }),
      rr('zone.example', DnsType.SRV, { kind: 'srv', priority: 0, weight: 0xffff, port: 65535, target: 'zone.example' }),
      rr('zone.example', 99, { kind: 'raw', bytes: hex('00010203') }),
      rr('zone.example', 0xffff, { kind: 'raw', bytes: new Uint8Array(0) }),
    ],
    authorities: [
      rr('zone.example', DnsType.SOA, {
        kind: 'soa',
        mname: 'ns1.zone.example',
        rname: 'hostmaster.zone.example',
        serial: 0xffffffff,
        refresh: 0,
        retry: 1,
        expire: 2,
        minimum: 3,
      }),
    ],
    additionals: [rr('ns1.zone.example', DnsType.A, { kind: 'a', address: IpAddr.parse('10.0.0.53') })],
    edns: { udpPayloadSize: 4096, extendedRcode: 0xff, version: 0, dnssecOk: true, options: [{ code: 12, data: new Uint8Array(3) }] },
  };
  for (const compress of [true, false]) {
    const b = encodeDns(m, { compress });
    if (isWireError(b)) return t.fail(b);
    t.true(b.length <= (dnsBufferLen(m) as number));
    t.deepEqual(parse(b), m, `compress=${compress}`);
  }
  // too small a buffer is reported, not thrown
  t.is(emitDns(m, new Uint8Array(100)), 'truncated');
  t.is(emitDns(m, new Uint8Array(5)), 'truncated');
  // an A record with an IPv6 address cannot be encoded
  t.is(encodeDns({ ...m, answers: [rr('x', 1, { kind: 'a', address: IpAddr.parse('::1') })] }), 'malformed');
  t.is(encodeDns({ ...m, questions: [{ name: 'a..b', type: 1, class: 1 }] }), 'malformed');
});

test('record-level errors: bad RDATA lengths, names overrunning RDATA, two OPT records, OPT not at the root', (t) => {
  const head = (an: number, ar: number) => `0001 8180 0000 ${an.toString(16).padStart(4, '0')} 0000 ${ar.toString(16).padStart(4, '0')}`;
  t.is(parseDns(hex(head(1, 0) + '00 0001 0001 00000000 0003 010203')), 'malformed'); // A with 3 bytes
  t.is(parseDns(hex(head(1, 0) + '00 001c 0001 00000000 0004 01020304')), 'malformed'); // AAAA with 4
  t.is(parseDns(hex(head(1, 0) + '00 0005 0001 00000000 0002 0161 00')), 'malformed'); // CNAME name runs past RDATA
  t.is(parseDns(hex(head(1, 0) + '00 0010 0001 00000000 0002 0561')), 'malformed'); // TXT string past RDATA
  t.is(parseDns(hex(head(1, 0) + '00 0001 0001 00000000 0004 0102')), 'truncated'); // RDATA past the end
  t.is(parseDns(hex(head(1, 0) + '00 0001 0001 0000')), 'truncated');
  const opt = '00 0029 1000 00000000 0000';
  t.false(isWireError(parseDns(hex(head(0, 1) + opt))));
  t.is(parseDns(hex(head(0, 2) + opt + opt)), 'malformed');
  t.is(parseDns(hex(head(0, 1) + '0161 00 0029 1000 00000000 0000')), 'malformed');
  t.is(parseDns(hex(head(0, 1) + '00 0029 1000 00000000 0003 000a00')), 'malformed'); // option header cut
  t.is(parseDns(new Uint8Array(11)), 'truncated');
  // counts promising more than there is
  t.is(parseDns(hex('0001 0100 0005 0000 0000 0000 00 0001 0001')), 'truncated');
});

test('encodeDnsForUdp: fits as is, or drops the records and sets TC', (t) => {
  const q = buildDnsQuery({ id: 9, name: 'big.example', type: DnsType.TXT, ednsUdpPayloadSize: 1232 });
  const many: DnsRecord[] = Array.from({ length: 10 }, () => ({
    name: 'big.example',
    type: DnsType.TXT,
    class: 1,
    ttl: 60,
    data: { kind: 'txt' as const, strings: [new Uint8Array(200).fill(0x61)] },
  }));
  const r = buildDnsResponse(q, { answers: many, ednsUdpPayloadSize: 1232 });
  const full = encodeDnsForUdp(r, 65535) as Uint8Array;
  t.false(parse(full).tc);
  t.is(parse(full).answers.length, 10);
  for (const limit of [512, 1232]) {
    const small = encodeDnsForUdp(r, limit) as Uint8Array;
    t.true(small.length <= limit);
    const back = parse(small);
    t.true(back.tc);
    t.is(back.answers.length, 0);
    t.deepEqual(back.questions, q.questions);
    t.like(back.edns!, { udpPayloadSize: 1232 });
  }
  t.is(encodeDnsForUdp(r, 20), 'truncated');
});
