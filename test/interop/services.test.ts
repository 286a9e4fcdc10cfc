// moat host's built-in services in virtual time (no root): two stacks on an in-process wire,
// the Services on one, a raw TCP client on the other. HTTP/1.1 framing (RFC 9112): pipelined
// requests answered in order, keep-alive, HEAD, 404/405/400, HTTP/1.0 closing, chunked uploads
// cut at every byte, Expect: 100-continue; echo (RFC 862) and chargen (RFC 864) over TCP, echo
// over UDP.

import test from 'ava';
import { createHash } from 'node:crypto';
import { VirtualClock } from '../../src/netstack/clock.js';
import { SeededRng } from '../../src/netstack/random.js';
import { Stack } from '../../src/netstack/stack.js';
import { StaticNeighbors } from '../../src/netstack/nic.js';
import { Wire } from '../../src/netstack/links/wire.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { TcpProtocol, type TcpEndpoint } from '../../src/netstack/tcp/index.js';
import { Services } from '../../src/cli/host/services.js';
import { parseRequestHead, HOME_PAGE } from '../../src/cli/host/http.js';
import { patternSha256, patternSource, patternView, PATTERN_PERIOD } from '../../src/cli/host/pattern.js';
import { parseServices, parseLinkSpec, parseCidrList } from '../../src/cli/host/command.js';

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

function world() {
  const clock = new VirtualClock();
  const neighbors = new StaticNeighbors();
  const wire = new Wire(clock);
  const mk = (seed: number) => {
    let tcp!: TcpProtocol;
    const s = new Stack({ clock, rng: new SeededRng(seed), neighbors, transports: (n) => [(tcp = new TcpProtocol(n))] });
    return { s, tcp };
  };
  const server = mk(1);
  const client = mk(2);
  neighbors.learn(server.s.addNic(wire.port(), { addresses: ['10.0.0.1/24', 'fd00::1/64'] }));
  neighbors.learn(client.s.addNic(wire.port(), { addresses: ['10.0.0.2/24', 'fd00::2/64'] }));
  const services = new Services(server.s, server.tcp);
  services.start([
    { name: 'echo', port: 7 },
    { name: 'discard', port: 9 },
    { name: 'chargen', port: 19 },
    { name: 'http', port: 80 },
  ]);
  return { clock, server, client, services };
}

type World = ReturnType<typeof world>;

/** Connects, sends each piece in its own write (a step apart), and reads until EOF or `stepLimit` ms. */
function exchange(w: World, port: number, pieces: Uint8Array[], opts: { stepLimit?: number; stopWhen?: (got: string) => boolean; dst?: string } = {}) {
  const c: TcpEndpoint = w.client.tcp.endpoint();
  const r = c.connect(IpAddr.parse(opts.dst ?? '10.0.0.1'), port);
  if (r) throw new Error(`connect: ${r}`);
  for (let i = 0; i < 100 && c.stateName !== 'ESTABLISHED'; i++) w.clock.advance(1);
  const chunks: Uint8Array[] = [];
  let eof = false;
  let i = 0;
  for (let step = 0; step < (opts.stepLimit ?? 5000) && !eof; step++) {
    if (i < pieces.length) {
      const n = c.write(pieces[i]);
      if (n === pieces[i].length) i++;
      else if (typeof n === 'number' && n > 0) pieces[i] = pieces[i].subarray(n);
    }
    w.clock.advance(1);
    for (let d = c.read(); ; d = c.read()) {
      if (d === null) {
        eof = true;
        break;
      }
      if (typeof d === 'string') break;
      chunks.push(d.slice());
    }
    if (opts.stopWhen?.(dec.decode(Buffer.concat(chunks)))) break;
  }
  return { text: dec.decode(Buffer.concat(chunks)), bytes: Buffer.concat(chunks), eof, ep: c };
}

test('parseRequestHead: request line and fields (RFC 9112 §3, §5)', (t) => {
  const r = parseRequestHead('GET /x?y=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2');
  t.is(r?.method, 'GET');
  t.is(r?.target, '/x?y=1');
  t.is(r?.version, '1.1');
  t.is(r?.headers.get('host'), 'a');
  t.is(r?.headers.get('x-a'), '1, 2');
  t.is(parseRequestHead('GET / HTTP/1.0')?.version, '1.0');
  t.is(parseRequestHead('GET / HTTP/2.0'), null);
  t.is(parseRequestHead('GET  / HTTP/1.1'), null);
  t.is(parseRequestHead('GET / HTTP/1.1\r\nBad Name: x'), null, 'whitespace in a field name');
  t.is(parseRequestHead('GET / HTTP/1.1\r\n folded'), null, 'obsolete line folding');
});

test('HTTP: three pipelined requests on one connection are answered in order (GET, HEAD, 404), then close', (t) => {
  const w = world();
  const req = 'GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\nGET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
  const r = exchange(w, 80, [enc.encode(req)]);
  t.true(r.eof, 'the server closed after Connection: close');
  const parts = r.text.split(/(?=HTTP\/1\.1 )/);
  t.is(parts.length, 3);
  t.true(parts[0].startsWith('HTTP/1.1 200 OK\r\n'));
  t.true(parts[0].endsWith(`\r\n\r\n${HOME_PAGE}`));
  t.regex(parts[1], /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 100\r\n\r\n$/, 'HEAD: headers only');
  t.regex(parts[2], /^HTTP\/1\.1 404 Not Found\r\n[^]*Connection: close\r\n\r\n404 Not Found\n$/);
  t.is(w.services.stats.http.requests, 3);
});

test('HTTP: GET /bytes/N streams exactly the pattern, keep-alive afterwards', (t) => {
  const w = world();
  const n = 1_000_003;
  const r = exchange(w, 80, [enc.encode(`GET /bytes/${n} HTTP/1.1\r\nHost: a\r\n\r\n`)], { stopWhen: (s) => s.length >= n + 80 });
  const head = r.text.indexOf('\r\n\r\n') + 4;
  t.regex(r.text.slice(0, head), /Content-Length: 1000003\r\n/);
  const body = r.bytes.subarray(head);
  t.is(body.length, n);
  t.is(createHash('sha256').update(body).digest('hex'), patternSha256(n));
  t.false(r.eof, 'HTTP/1.1 keeps the connection open');
  t.is(r.ep.stateName, 'ESTABLISHED');
});

test('HTTP: a chunked POST /sha256 cut at every byte gives the body\'s digest; Expect: 100-continue answered first', (t) => {
  const w = world();
  const body = enc.encode('moat chunked upload, '.repeat(20));
  const chunked = `${(60).toString(16)}\r\n${dec.decode(body.subarray(0, 60))}\r\n${(body.length - 60).toString(16)};ext=1\r\n${dec.decode(body.subarray(60))}\r\n0\r\nTrailer: x\r\n\r\n`;
  const msg = enc.encode(`POST /sha256 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${chunked}`);
  const pieces = Array.from(msg, (b) => Uint8Array.of(b));
  const r = exchange(w, 80, pieces);
  t.true(r.text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n'), r.text.slice(0, 80));
  t.regex(r.text, new RegExp(`X-Body-Bytes: ${body.length}\r\n`));
  t.true(r.text.endsWith(`\r\n\r\n${createHash('sha256').update(body).digest('hex')}\n`));
});

test('HTTP: Content-Length upload, HTTP/1.0 closes, wrong method 405, garbage 400 and close', (t) => {
  const w = world();
  const body = patternView(0, 5000);
  const post = exchange(w, 80, [enc.encode(`PUT /sha256 HTTP/1.0\r\nContent-Length: ${body.length}\r\n\r\n`), body.slice()]);
  t.true(post.eof, 'HTTP/1.0 without keep-alive closes');
  t.true(post.text.endsWith(`${createHash('sha256').update(body).digest('hex')}\n`));
  const m = exchange(w, 80, [enc.encode('DELETE / HTTP/1.1\r\nConnection: close\r\n\r\n')]);
  t.regex(m.text, /^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*Allow: GET, HEAD\r\n/);
  const bad = exchange(w, 80, [enc.encode('HELLO THERE\r\n\r\n')]);
  t.regex(bad.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.true(bad.eof);
  const te = exchange(w, 80, [enc.encode('POST /sha256 HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n')]);
  t.regex(te.text, /^HTTP\/1\.1 501 Not Implemented\r\n/);
});

test('TCP echo returns 2 MB intact over IPv6 (RFC 862), chargen lines follow RFC 864, discard answers nothing', (t) => {
  const w = world();
  const data = new Uint8Array(2_000_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
  const pieces: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += 100_000) pieces.push(data.subarray(o, o + 100_000));
  const e = exchange(w, 7, pieces, { dst: 'fd00::1', stopWhen: (s) => s.length >= data.length });
  t.is(e.bytes.length, data.length);
  t.true(Buffer.from(e.bytes).equals(Buffer.from(data)));
  const cg = exchange(w, 19, [], { stopWhen: (s) => s.length > 74 * 96 });
  const lines = cg.text.split('\r\n');
  t.is(lines[0].length, 72);
  t.is(lines[0][0], ' ');
  t.is(lines[1][0], '!');
  t.is(lines[95], lines[0], 'the cycle repeats after 95 lines');
  const d = exchange(w, 9, [enc.encode('x'.repeat(10_000))], { stepLimit: 200 });
  t.is(d.bytes.length, 0);
});

test('UDP echo answers from the port it was sent to; discard does not answer', (t) => {
  const w = world();
  const u = w.client.s.udp.endpoint(4);
  t.is(u.bind(null, 4000), undefined);
  u.send(enc.encode('ping-7'), { addr: IpAddr.parse('10.0.0.1'), port: 7 });
  u.send(enc.encode('ping-9'), { addr: IpAddr.parse('10.0.0.1'), port: 9 });
  w.clock.advance(10);
  const got = u.recv();
  t.false(typeof got === 'string');
  if (typeof got !== 'string') {
    t.is(dec.decode(got.data), 'ping-7');
    t.is(got.port, 7);
  }
  t.is(u.recv(), 'EAGAIN');
  t.is(w.services.stats.udpDatagrams.discard, 1);
});

test('pattern: views are the stream at any offset, and the source covers exactly N bytes', (t) => {
  const next = patternSource(PATTERN_PERIOD * 2 + 5);
  const all: Uint8Array[] = [];
  for (let v = next(); v; v = next()) all.push(v.slice());
  const s = Buffer.concat(all);
  t.is(s.length, PATTERN_PERIOD * 2 + 5);
  t.true(Buffer.from(patternView(PATTERN_PERIOD - 3, 10)).equals(s.subarray(PATTERN_PERIOD - 3, PATTERN_PERIOD + 7)));
  t.true(s.subarray(0, 5).equals(s.subarray(PATTERN_PERIOD * 2, PATTERN_PERIOD * 2 + 5)));
  t.is(createHash('sha256').update(s).digest('hex'), patternSha256(s.length));
});

test('flag parsers: link specs, CIDRs, services', (t) => {
  t.deepEqual(parseLinkSpec('packet:veth1@moat-x-dut'), { kind: 'packet', ifname: 'veth1', netns: 'moat-x-dut' });
  t.deepEqual(parseLinkSpec('tap:moat-tap0'), { kind: 'tap', ifname: 'moat-tap0', netns: undefined });
  t.deepEqual(parseLinkSpec('pcap:eth9'), { kind: 'pcap', ifname: 'eth9', netns: undefined });
  t.deepEqual(parseCidrList('10.0.0.2/24,fd00::2/64', ['1.2.3.4/8']), ['1.2.3.4/8', '10.0.0.2/24', 'fd00::2/64']);
  t.throws(() => parseCidrList('224.0.0.1/4'), { message: /cannot be a host address/ });
  t.deepEqual(parseServices('echo,http:8080'), [{ name: 'echo', port: 7 }, { name: 'http', port: 8080 }]);
  t.deepEqual(parseServices('none'), []);
});
