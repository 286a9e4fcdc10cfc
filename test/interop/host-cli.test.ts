// `moat host` through the CLI (node bin/moat.js host ...) on an AF_PACKET link, probed by a
// Linux peer in a namespace this test creates: ping v4/v6 (10 KB fragmented too), ARP and NDP
// answered, UDP echo, curl v4/v6 against the built-in HTTP server (GET, HEAD, 404, keep-alive,
// uploads), TCP echo/chargen/discard; then SIGINT: exit 0, counters printed, and tshark finds
// nothing malformed in the host's pcap. Also tap: and pcap: links, the refusal of an interface
// that has addresses, and flag errors.

import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, privilegedTest } from '../helpers/privileged.js';
import { MOAT_BIN, directTopology, leftovers, nsSh, run, spawnHost, tsharkCount, tsharkMalformed, type SpawnedHost, type Topology } from './net.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-interop-host-'));
let topo: Topology | null = null;
let host: SpawnedHost | null = null;
const pcap = join(dir, 'host.pcapng');

async function up(): Promise<{ topo: Topology; host: SpawnedHost }> {
  topo ??= await directTopology('hc', 90);
  if (host) return { topo, host };
  host = await spawnHost([
    '--link', `packet:${topo.dutIf}@${topo.dutNs}`,
    ...topo.moatCidrs.flatMap((c) => ['--ip', c]),
    '--serve', 'echo:7,discard:9,chargen:19,http:80',
    '--pcap', pcap,
  ]);
  return { topo, host };
}

test.after.always(async () => {
  await host?.stop().catch(() => {});
  await topo?.close();
  rmSync(dir, { recursive: true, force: true });
});

const nodeIn = (ns: string, script: string, timeoutMs = 15_000) =>
  run('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], timeoutMs);

privilegedTest('Linux pings moat: v4 and v6, and 10 KB pings that travel fragmented', async (t) => {
  const { topo } = await up();
  for (const [addr, size] of [[topo.moat4, 56], [topo.moat6, 56], [topo.moat4, 10_000], [topo.moat6, 10_000]] as const) {
    const r = await nsSh(topo.peerNs, `ping -c 3 -i 0.2 -W 3 -s ${size} ${addr}`);
    t.is(r.code, 0, `ping -s ${size} ${addr}: ${r.stdout}${r.stderr}`);
    t.regex(r.stdout, /3 packets transmitted, 3 received/);
    t.regex(r.stdout, new RegExp(`${size + 8} bytes from ${addr.replace(/\./g, '\\.')}`));
  }
});

privilegedTest('ARP and NDP: Linux resolved moat\'s addresses to the MAC moat runs on', async (t) => {
  const { topo, host } = await up();
  const mac = /mac ([0-9a-f:]{17})/.exec(host.stdout())![1];
  // Make sure both families were resolved at least once, even if this test runs alone.
  await nsSh(topo.peerNs, `ping -c 1 -W 3 ${topo.moat4}; ping -c 1 -W 3 ${topo.moat6}`);
  const r = await run('ip', ['-n', topo.peerNs, '-j', 'neigh', 'show', 'dev', topo.peerIf]);
  const neigh = JSON.parse(r.stdout) as { dst: string; lladdr?: string; state?: string[] }[];
  for (const a of [topo.moat4, topo.moat6]) {
    const e = neigh.find((n) => n.dst === a);
    t.truthy(e, `Linux has a neighbor entry for ${a}: ${r.stdout}`);
    t.is(e?.lladdr, mac);
  }
});

privilegedTest('UDP: Linux gets its datagrams echoed (v4 and v6) and the discard port swallows them', async (t) => {
  const { topo } = await up();
  const r = await nodeIn(
    topo.peerNs,
    `import dgram from 'node:dgram';
     const out = {};
     for (const [fam, addr] of [['udp4', '${topo.moat4}'], ['udp6', '${topo.moat6}']]) {
       const s = dgram.createSocket(fam);
       const msg = Buffer.from('moat udp ' + fam + ' ' + 'x'.repeat(1000));
       const got = await new Promise((res) => {
         const timer = setTimeout(() => res(null), 3000);
         s.on('message', (m, rinfo) => { clearTimeout(timer); res({ same: m.equals(msg), from: rinfo.address, port: rinfo.port }); });
         s.send(msg, 7, addr);
       });
       s.send(Buffer.from('to discard'), 9, addr);
       out[fam] = got;
       await new Promise((r) => setTimeout(r, 100));
       s.close();
     }
     console.log(JSON.stringify(out));`,
  );
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, { same: boolean; from: string; port: number } | null>;
  t.deepEqual(out.udp4, { same: true, from: topo.moat4, port: 7 });
  t.deepEqual(out.udp6, { same: true, from: topo.moat6, port: 7 });
});

privilegedTest('curl (v4 and v6) from Linux to moat host\'s HTTP server: page, HEAD, 404, keep-alive, uploads', async (t) => {
  const { topo } = await up();
  for (const h of [topo.moat4, `[${topo.moat6}]`]) {
    const page = await nsSh(topo.peerNs, `curl -sS -m 10 -i http://${h}/`);
    t.is(page.code, 0, page.stderr);
    t.regex(page.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    t.regex(page.stdout, /\r\nServer: moat\r\n/);
    t.regex(page.stdout, /<h1>moat<\/h1>/);

    const head = await nsSh(topo.peerNs, `curl -sS -m 10 -I http://${h}/bytes/5000`);
    t.regex(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    t.regex(head.stdout, /\r\nContent-Length: 5000\r\n/);

    const missing = await nsSh(topo.peerNs, `curl -sS -m 10 -o /dev/null -w '%{http_code}' http://${h}/no/such/page`);
    t.is(missing.stdout, '404');

    // Two requests on one connection: curl says it re-used it, and both answers are whole.
    const keep = await nsSh(topo.peerNs, `curl -sS -m 10 -v -o /dev/null -o /dev/null -w '%{size_download} ' http://${h}/ http://${h}/bytes/100000`);
    t.is(keep.code, 0, keep.stderr);
    t.regex(keep.stderr, /Re-using existing connection|Reusing existing/i);
    t.is(keep.stdout.trim(), '262 100000');

    const body = 'moat upload test '.repeat(5000);
    const expected = createHash('sha256').update(body).digest('hex');
    const post = await nsSh(topo.peerNs, `printf '%s' '${body}' | curl -sS -m 10 --data-binary @- http://${h}/sha256`);
    t.is(post.stdout.trim(), expected, post.stderr);
    const chunked = await nsSh(topo.peerNs, `printf '%s' '${body}' | curl -sS -m 10 -T - http://${h}/sha256`);
    t.is(chunked.stdout.trim(), expected, chunked.stderr);

    const bytes = await nsSh(topo.peerNs, `curl -sS -m 10 http://${h}/bytes/3000000 | sha256sum`);
    const { patternSha256 } = await import('../../src/cli/host/pattern.js');
    t.is(bytes.stdout.split(' ')[0], patternSha256(3_000_000));
  }
});

privilegedTest('TCP echo, chargen and discard answer a Linux client', async (t) => {
  const { topo } = await up();
  const r = await nodeIn(
    topo.peerNs,
    `import net from 'node:net';
     const echo = await new Promise((res) => {
       const data = Buffer.alloc(300000, 'e'); let got = 0; const chunks = [];
       const c = net.connect(7, '${topo.moat6}', () => c.end(data));
       c.on('data', (d) => chunks.push(d)); c.on('end', () => res(Buffer.concat(chunks).equals(data))); c.on('error', (e) => res(String(e)));
     });
     const chargen = await new Promise((res) => {
       const c = net.connect(19, '${topo.moat4}'); let buf = '';
       c.setEncoding('latin1');
       c.on('data', (d) => { buf += d; if (buf.length > 2000) { c.destroy(); res(buf.split('\\r\\n').slice(0, 2)); } });
       c.on('error', (e) => res(String(e)));
     });
     const discard = await new Promise((res) => {
       const c = net.connect(9, '${topo.moat4}', () => c.end(Buffer.alloc(100000)));
       let got = 0; c.on('data', (d) => (got += d.length)); c.on('end', () => res(got)); c.on('error', (e) => res(String(e)));
     });
     console.log(JSON.stringify({ echo, chargen, discard }));`,
  );
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { echo: boolean; chargen: string[]; discard: number };
  t.true(out.echo, 'what came back equals what was sent');
  // RFC 864: 72 printable characters per line, each line starting one character later.
  t.is(out.chargen[0], ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg');
  t.is(out.chargen[1], '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh');
  t.is(out.discard, 0);
});

privilegedTest('SIGINT stops moat host: exit 0, counters printed, pcap clean for tshark, moat\'s ARP and NDP answers in it', async (t) => {
  const { topo, host: h } = await up();
  const res = await h.stop();
  host = null;
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /moat host: stopped \(SIGINT\); counters:/);
  t.regex(res.stdout, /\n {2}http\.requests \d+/);
  t.regex(res.stdout, /\n {2}nic\.rxFrames \d+/);
  t.regex(res.stdout, /\n {2}service\.echo\.udp-datagrams \d+/);
  t.is(await tsharkMalformed(pcap), '', 'no malformed frames');
  const mac = /mac ([0-9a-f:]{17})/.exec(res.stdout)![1];
  t.true((await tsharkCount(pcap, `arp.opcode == 2 && eth.src == ${mac}`)) > 0, 'moat answered ARP');
  t.true((await tsharkCount(pcap, `icmpv6.type == 136 && eth.src == ${mac}`)) > 0, 'moat answered NDP');
  t.true((await tsharkCount(pcap, 'ip.flags.mf == 1 && ip.proto == 1')) > 0, 'fragmented ICMP seen');
  t.true((await tsharkCount(pcap, 'ipv6.fraghdr.more == 1')) > 0, 'fragmented ICMPv6 seen');
  t.true((await tsharkCount(pcap, 'http.response.code == 200')) > 0);
});

privilegedTest('moat host refuses an interface that still has addresses (unless --force), naming them', async (t) => {
  topo ??= await directTopology('hc', 90);
  const r = await run(process.execPath, [MOAT_BIN, 'host', '--link', `packet:${topo.peerIf}@${topo.peerNs}`, '--ip', '10.213.90.9/24'], 15_000);
  t.is(r.code, 2);
  t.regex(r.stderr, /still has addresses \(10\.213\.90\.1\/24/);
  t.regex(r.stderr, /--force/);
});

privilegedTest('--link tap:NAME: the kernel end is the peer; curl and ping work, and the tap is gone afterwards', async (t) => {
  topo ??= await directTopology('hc', 90);
  const tap = `moat-hct${process.pid}`.slice(0, 15);
  // The tap is created in the peer namespace, so Linux there is moat's peer through it.
  const h = await spawnHost(['--link', `tap:${tap}@${topo.peerNs}`, '--ip', '10.213.91.2/24', '--ip', 'fd13:91::2/64', '--serve', 'http:80']);
  try {
    const cfg = await nsSh(topo.peerNs, `ip addr add 10.213.91.1/24 dev ${tap} && ip addr add fd13:91::1/64 dev ${tap} nodad && ip link set ${tap} up`);
    t.is(cfg.code, 0, cfg.stderr);
    const p = await nsSh(topo.peerNs, 'ping -c 2 -i 0.2 -W 3 10.213.91.2 && ping -c 2 -i 0.2 -W 3 fd13:91::2');
    t.is(p.code, 0, p.stdout + p.stderr);
    const c = await nsSh(topo.peerNs, 'curl -sS -m 10 http://10.213.91.2/bytes/2000000 | wc -c; curl -sS -m 10 http://[fd13:91::2]/ | grep -c "<h1>moat</h1>"');
    t.is(c.stdout, '2000000\n1\n', c.stderr);
  } finally {
    const r = await h.stop();
    t.is(r.code, 0, r.stderr);
  }
  const gone = await run('ip', ['-n', topo.peerNs, 'link', 'show', tap]);
  t.not(gone.code, 0, 'the tap went away with moat');
});

privilegedTest('--link pcap:IF (libpcap) inside the namespace: ping and curl', async (t) => {
  topo ??= await directTopology('hc', 90);
  // Another pair in the same two namespaces; the peer end stops offloading checksums (libpcap
  // sees the peer's frames before the checksum is filled in).
  const p = `moat-hcq${process.pid}p`.slice(0, 15);
  const d = `moat-hcq${process.pid}d`.slice(0, 15);
  const mk = await run('ip', ['-n', topo.peerNs, 'link', 'add', p, 'type', 'veth', 'peer', 'name', d, 'netns', topo.dutNs]);
  t.is(mk.code, 0, mk.stderr);
  await nsSh(topo.peerNs, `ip addr add 10.213.92.1/24 dev ${p} && ip link set ${p} up && ethtool -K ${p} tx off >/dev/null`);
  await nsSh(topo.dutNs, `ip link set ${d} up`);
  const h = await spawnHost(['--link', `pcap:${d}`, '--ip', '10.213.92.2/24', '--serve', 'http'], { netns: topo.dutNs });
  try {
    const r = await nsSh(topo.peerNs, 'ping -c 2 -i 0.2 -W 3 10.213.92.2 && curl -sS -m 10 http://10.213.92.2/bytes/500000 | wc -c');
    t.is(r.code, 0, r.stdout + r.stderr);
    t.regex(r.stdout, /\n500000\n$/);
  } finally {
    const r = await h.stop();
    t.is(r.code, 0, r.stderr);
  }
});

test('moat host rejects bad flags with a message naming the problem', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--link', 'ether:eth0', '--ip', '10.0.0.2/24'], /expected packet:IF\[@NETNS\], tap:NAME\[@NETNS\] or pcap:IF, got "ether:eth0"/],
    [['--link', 'packet:this-name-is-too-long', '--ip', '10.0.0.2/24'], /is not an interface name/],
    [['--link', 'pcap:eth0@ns', '--ip', '10.0.0.2/24'], /pcap: links take no @NETNS/],
    [['--link', 'packet:x', '--ip', '10.0.0.300/24'], /"10\.0\.0\.300\/24" is not an address with a prefix length/],
    [['--link', 'packet:x', '--ip', '10.0.0.2'], /"10\.0\.0\.2" is not an address with a prefix length/],
    [['--link', 'packet:x', '--ip', '10.0.0.2/24', '--gateway', 'nope'], /"nope" is not a unicast IP address/],
    [['--link', 'packet:x', '--ip', '10.0.0.2/24', '--serve', 'ftp:21'], /"ftp:21" is not a service/],
    [['--link', 'packet:x', '--ip', '10.0.0.2/24', '--serve', 'http:99999'], /port 99999 of http is out of range/],
    [['--link', 'packet:x', '--ip', '10.0.0.2/24', '--serve', 'http:80,echo:80'], /port 80 is used twice/],
    [['--link', 'packet:x', '--ip', '10.0.0.2/24', '--snaplen', '10'], /snaplen below 64/],
    [['--ip', '10.0.0.2/24'], /required option '--link <spec>' not specified/],
  ];
  for (const [args, re] of cases) {
    const r = await run(process.execPath, [MOAT_BIN, 'host', ...args], 15_000);
    t.not(r.code, 0, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
  }
  const missing = await run(process.execPath, [MOAT_BIN, 'host', '--link', `packet:nosuch0@moat-nosuch-${process.pid}`, '--ip', '10.0.0.2/24'], 15_000);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /moat host: no interface nosuch0 in namespace moat-nosuch-\d+/);
});

privilegedTest('nothing moat-hc* is left behind by this file', async (t) => {
  await host?.stop();
  host = null;
  await topo?.close();
  topo = null;
  t.deepEqual(await leftovers('hc'), []);
});

void isRoot;
