// moat's stack in this process (startHost, an AF_PACKET link) as the CLIENT of a Linux peer in a
// namespace this test creates: moat pings Linux (v4/v6, 10 KB fragmented), resolves it with ARP
// and NDP (its own requests are in the pcap), sends UDP to a Linux echo server, and fetches
// pages and a 1 MiB file from nginx (v4 and v6). tshark checks the pcap of the whole run.

import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { privilegedTest } from '../helpers/privileged.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { startHost, type Host } from '../../src/cli/host/host.js';
import { httpRequest, ping, udpRoundTrip } from '../../src/cli/host/probes.js';
import { startNginx, type PeerServer } from '../../src/cli/host/peer-services.js';
import { directTopology, leftovers, run, tsharkCount, tsharkMalformed, type Topology } from './net.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-interop-client-'));
// nginx's workers run as nobody and must reach the document root.
chmodSync(dir, 0o755);
const pcap = join(dir, 'client.pcapng');
let topo: Topology | null = null;
let host: Host | null = null;
const servers: PeerServer[] = [];
const udpEcho: { kill(): void }[] = [];

async function up(): Promise<{ topo: Topology; host: Host }> {
  topo ??= await directTopology('cl', 96);
  host ??= await startHost({ link: { kind: 'packet', ifname: topo.dutIf, netns: topo.dutNs }, addresses: topo.moatCidrs, pcap });
  return { topo, host };
}

test.after.always(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  for (const u of udpEcho) u.kill();
  await host?.close();
  await topo?.close();
  rmSync(dir, { recursive: true, force: true });
});

privilegedTest('moat pings Linux: v4 and v6, 56 bytes and 10 KB (fragmented both ways)', async (t) => {
  const { topo, host } = await up();
  for (const [addr, size] of [[topo.peer4, 56], [topo.peer6, 56], [topo.peer4, 10_000], [topo.peer6, 10_000]] as const) {
    const r = await ping(host.stack, IpAddr.parse(addr), size, 5000);
    t.is(r.bytes, size);
    t.is(r.ttl, 64, `Linux's reply to ${addr} has TTL/hop limit 64`);
  }
  t.true(host.stack.stats.get('ipv4.frag.reassembled') >= 1, 'moat reassembled Linux\'s fragmented reply');
  t.true(host.stack.stats.get('ipv6.frag.reassembled') >= 1);
});

privilegedTest('ARP and NDP: moat resolved Linux with its own requests; Linux learned moat from them', async (t) => {
  const { topo, host } = await up();
  await ping(host.stack, IpAddr.parse(topo.peer4));
  const r = await run('ip', ['-n', topo.peerNs, '-j', 'neigh', 'show', 'dev', topo.peerIf]);
  const neigh = JSON.parse(r.stdout) as { dst: string; lladdr?: string }[];
  t.is(neigh.find((n) => n.dst === topo.moat4)?.lladdr, host.mac);
  t.true(host.stack.stats.sum('arp.') > 0, JSON.stringify(host.stack.stats.snapshot()));
});

privilegedTest('UDP: moat sends to a Linux echo server and gets its datagrams back (v4 and v6)', async (t) => {
  const { topo, host } = await up();
  const { spawn } = await import('node:child_process');
  const child = spawn('ip', ['netns', 'exec', topo.peerNs, process.execPath, '--input-type=module', '-e', `
    import dgram from 'node:dgram';
    for (const [fam, addr] of [['udp4', '${topo.peer4}'], ['udp6', '${topo.peer6}']]) {
      const s = dgram.createSocket(fam);
      s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('linux:'), m]), r.port, r.address));
      s.bind(7777, addr, () => console.log('bound ' + fam));
    }
    setTimeout(() => process.exit(0), 30000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  udpEcho.push({ kill: () => child.kill('SIGKILL') });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Linux UDP echo server did not bind within 10 s')), 10_000);
    child.on('exit', (c) => reject(new Error(`the Linux UDP echo server exited (${c})`)));
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('bound udp4') && out.includes('bound udp6')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (const addr of [topo.peer4, topo.peer6]) {
    const msg = new TextEncoder().encode(`hello from moat to ${addr}`);
    const back = await udpRoundTrip(host.stack, IpAddr.parse(addr), 7777, msg, 5000);
    t.is(new TextDecoder().decode(back), `linux:hello from moat to ${addr}`);
  }
  child.kill('SIGKILL');
});

privilegedTest('moat\'s TCP as the client of nginx in the peer: a page and a 1 MiB file, v4 and v6', async (t) => {
  const { topo, host } = await up();
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  const ngDir = join(dir, 'nginx');
  servers.push(
    await startNginx({
      netns: topo.peerNs,
      dir: ngDir,
      port: 8080,
      listen: [`${topo.peer4}:8080`, `[${topo.peer6}]:8080`],
      files: { 'index.html': '<html><body>nginx in the peer namespace</body></html>\n', 'big.bin': big },
    }),
  );
  for (const addr of [topo.peer4, topo.peer6]) {
    const dst = IpAddr.parse(addr);
    const page = await httpRequest(host.tcp, dst, 8080, { path: '/' });
    t.regex(page.statusLine, /^HTTP\/1\.1 200 OK$/);
    t.regex(page.headers.get('server') ?? '', /^nginx/);
    t.is(new TextDecoder().decode(page.body), '<html><body>nginx in the peer namespace</body></html>\n');
    const file = await httpRequest(host.tcp, dst, 8080, { path: '/big.bin', keepBody: false, onBody: undefined });
    t.is(file.status, 200);
    t.is(file.bodyBytes, big.length);
    const h = createHash('sha256');
    const again = await httpRequest(host.tcp, dst, 8080, { path: '/big.bin', keepBody: false, onBody: (c) => h.update(c) });
    t.is(h.digest('hex'), createHash('sha256').update(big).digest('hex'));
    t.true(again.info.rtt >= 0);
    const missing = await httpRequest(host.tcp, dst, 8080, { path: '/nope' });
    t.is(missing.status, 404);
  }
});

privilegedTest('the client run\'s pcap: moat\'s ARP request and NDP solicitation, no malformed frames', async (t) => {
  const { host: h } = await up();
  const mac = h.mac;
  await h.close();
  host = null;
  t.is(await tsharkMalformed(pcap), '');
  t.true((await tsharkCount(pcap, `arp.opcode == 1 && eth.src == ${mac}`)) > 0, 'moat asked ARP');
  t.true((await tsharkCount(pcap, `icmpv6.type == 135 && eth.src == ${mac}`)) > 0, 'moat sent a neighbor solicitation');
  t.true((await tsharkCount(pcap, 'icmpv6.type == 136')) > 0, 'Linux advertised');
  t.true((await tsharkCount(pcap, 'http.request.method == "GET"')) >= 8);
});

privilegedTest('nothing moat-cl* is left behind by this file', async (t) => {
  for (const s of servers.splice(0)) await s.stop();
  await host?.close();
  host = null;
  await topo?.close();
  topo = null;
  t.deepEqual(await leftovers('cl'), []);
});
