// `moat demo` (what `npm start` runs). Until the sandbox (`moat run`) exists, it shows moat's
// stack doing the main job on a self-contained default, no network beyond this machine:
//   as root: a peer namespace with nginx serving a page and dnsmasq answering web.moat.test
//   (A and AAAA), moat's stack on the address-less veth end in a namespace of its own
//   (AF_PACKET), the name resolved through moat's UDP, the page fetched over moat's TCP (v4 and
//   v6), pings, a summary, a pcapng of the run decoded by `moat decode`; then everything it
//   created is removed (also on Ctrl-C). Only the pcapng stays, for you to open.
//   without root: says what it needs, then runs the in-process variant: two moat stacks on an
//   in-process Ethernet segment, an HTTP server on one, the fetch from the other.

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Stack } from '../netstack/stack.js';
import { Wire } from '../netstack/links/wire.js';
import { SnifferLink } from '../netstack/links/sniffer.js';
import { IpAddr } from '../netstack/wire/ip-address.js';
import { DnsType } from '../netstack/wire/dns.js';
import { TcpProtocol } from '../netstack/tcp/index.js';
import { RealClock } from '../net-plumbing/clock.js';
import { CryptoRng } from '../net-plumbing/rng.js';
import { PcapngWriter } from '../net-plumbing/pcap/writer.js';
import { createNetns, createVethPair, deleteNetns, disableIpv6, ip, setLinkUp } from '../net-plumbing/netns.js';
import { decodeFile } from './decode/command.js';
import { startHost, type Host } from './host/host.js';
import { Services } from './host/services.js';
import { dnsAddresses, dnsQuery, httpRequest, ping, type HttpResponse } from './host/probes.js';
import { startDnsmasq, startNginx } from './host/peer-services.js';

const NAME = 'web.moat.test';
const say = (s = '') => process.stdout.write(`${s}\n`);
const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

/** Undo steps, run in reverse order once (normal end, failure, or Ctrl-C). */
class Cleanup {
  private readonly steps: { what: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<string[]> | null = null;
  add(what: string, fn: () => Promise<void> | void): void {
    this.steps.push({ what, fn });
  }
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const done: string[] = [];
      for (const s of this.steps.reverse()) {
        try {
          await s.fn();
          done.push(s.what);
        } catch (e) {
          done.push(`${s.what} (failed: ${(e as Error).message})`);
        }
      }
      return done;
    })();
    return this.running;
  }
}

function httpLine(label: string, r: HttpResponse): string {
  return (
    `${label}: ${r.statusLine}, body ${r.bodyBytes} bytes, connect ${ms(r.connectMs)}, total ${ms(r.totalMs)}, ` +
    `tcpInfo rtt ${ms(r.info.rtt)} retransmits ${r.info.totalRetrans} mss ${r.info.sndMss} cwnd ${r.info.cwnd}`
  );
}

async function showPcap(file: string): Promise<void> {
  const lines: string[] = [];
  const r = await decodeFile(file, { count: 8 }, (l) => lines.push(l));
  say(`pcap      ${file}`);
  say(`          first ${r.frames} frames as \`moat decode ${file}\` prints them:`);
  for (const l of lines) say(`            ${l.length > 150 ? `${l.slice(0, 147)}...` : l}`);
}

function counterLine(stack: Stack, tcp: TcpProtocol): string {
  const s = stack.stats;
  const nic = stack.nicList().find((n) => n !== stack.loopbackNic);
  const pick = (k: string) => `${k} ${s.get(k as never)}`;
  return [
    nic ? `frames in ${nic.counters.rxFrames} out ${nic.counters.txFrames}` : '',
    pick('ipv4.received'),
    pick('ipv6.received'),
    `arp ${s.sum('arp.')} ndp ${s.sum('ndp.')}`,
    `tcp segs in ${tcp.stats.segsIn} out ${tcp.stats.segsOut} retransmits ${tcp.stats.fastRetransmits + tcp.stats.rtos}`,
  ]
    .filter((x) => x)
    .join(', ');
}

/** The real thing: Linux servers in a namespace, moat on a veth through AF_PACKET. */
async function namespaceDemo(cleanup: Cleanup): Promise<void> {
  const id = `demo${process.pid}`;
  const peerNs = `moat-${id}-peer`;
  const dutNs = `moat-${id}-dut`;
  const peerIf = `moat-${id}p`.slice(0, 15);
  const dutIf = `moat-${id}d`.slice(0, 15);
  const peer4 = '10.213.77.1';
  const peer6 = 'fd13:77::1';
  const moat = ['10.213.77.2/24', 'fd13:77::2/64'];
  const dir = mkdtempSync(join(tmpdir(), 'moat-demo-'));
  cleanup.add(`removed ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // nginx's workers (nobody) read the page from here
  const pcap = join(tmpdir(), `moat-demo-${process.pid}.pcapng`);

  for (const ns of [peerNs, dutNs]) {
    await createNetns(ns);
    cleanup.add(`deleted namespace ${ns}`, () => deleteNetns(ns));
  }
  await disableIpv6(dutNs);
  await createVethPair(peerIf, dutIf, { netnsA: peerNs, netnsB: dutNs });
  await ip(['address', 'add', `${peer4}/24`, 'dev', peerIf], { netns: peerNs });
  await ip(['address', 'add', `${peer6}/64`, 'dev', peerIf, 'nodad'], { netns: peerNs });
  await setLinkUp(peerIf, { netns: peerNs });
  await setLinkUp(dutIf, { netns: dutNs });
  const page = `<!doctype html>\n<html><body><h1>Hello from nginx</h1><p>in namespace ${peerNs}, fetched by moat's own TCP/IP stack.</p></body></html>\n`;
  const nginx = await startNginx({ netns: peerNs, dir: join(dir, 'nginx'), port: 80, listen: [`${peer4}:80`, `[${peer6}]:80`], files: { 'index.html': page } });
  cleanup.add(`stopped nginx (pid ${nginx.pid})`, () => nginx.stop());
  const dns = await startDnsmasq({ netns: peerNs, dir, listen: [peer4, peer6], records: { [NAME]: [peer4, peer6] } });
  cleanup.add(`stopped dnsmasq (pid ${dns.pid})`, () => dns.stop());
  say(`set-up    namespace ${peerNs}: Linux with nginx and dnsmasq on ${peer4} and ${peer6}`);
  say(`          namespace ${dutNs}: veth end ${dutIf}, no addresses, IPv6 off: moat's stack takes it over`);

  const host: Host = await startHost({ link: { kind: 'packet', ifname: dutIf, netns: dutNs }, addresses: moat, pcap });
  cleanup.add('closed moat\'s stack and its pcap', () => host.close());
  say(`          moat's stack: ${moat.join(' ')} on ${host.linkName} (AF_PACKET, vnet_hdr offloads), mac ${host.mac}`);
  say();

  const server = IpAddr.parse(peer4);
  const a = await dnsQuery(host.stack, server, NAME, DnsType.A);
  const aaaa = await dnsQuery(host.stack, server, NAME, DnsType.AAAA);
  const v4 = dnsAddresses(a).find((x) => x.family === 4);
  const v6 = dnsAddresses(aaaa).find((x) => x.family === 6);
  say(`1 DNS     ${NAME} A    -> ${v4 ?? '(none)'}   (moat's UDP to dnsmasq at ${peer4}:53)`);
  say(`2 DNS     ${NAME} AAAA -> ${v6 ?? '(none)'}`);
  if (!v4 || !v6) throw new Error(`dnsmasq did not answer ${NAME} with both addresses`);
  const r4 = await httpRequest(host.tcp, v4, 80, { host: NAME });
  say(httpLine(`3 HTTP    GET http://${NAME}/ over IPv4`, r4));
  const r6 = await httpRequest(host.tcp, v6, 80, { host: NAME });
  say(httpLine(`4 HTTP    GET http://${NAME}/ over IPv6`, r6));
  say(`          page: ${JSON.stringify(new TextDecoder().decode(r4.body).match(/<h1>[^<]*<\/h1>/)?.[0] ?? '')}`);
  const p4 = await ping(host.stack, v4, 56);
  say(`5 ping    ${v4}: 64 bytes, rtt ${ms(p4.rttMs)}, ttl ${p4.ttl}`);
  const p6 = await ping(host.stack, v6, 56);
  say(`6 ping    ${v6}: 64 bytes, rtt ${ms(p6.rttMs)}, hop limit ${p6.ttl}`);
  const pf = await ping(host.stack, v4, 10_000);
  say(`7 ping    ${v4}: 10008 bytes (fragmented both ways), rtt ${ms(pf.rttMs)}`);
  say();
  say(`counters  ${counterLine(host.stack, host.tcp)}`);
  await host.close();
  await showPcap(pcap);
}

/** Without root: two moat stacks on an in-process Ethernet segment. */
async function inProcessDemo(): Promise<void> {
  const clock = new RealClock({ unref: true });
  const wire = new Wire(clock, { latencyMs: 0.05 });
  const mk = () => {
    let tcp!: TcpProtocol;
    const stack = new Stack({ clock, rng: new CryptoRng(), transports: (n) => [(tcp = new TcpProtocol(n))] });
    return { stack, tcp };
  };
  const server = mk();
  const client = mk();
  const pcap = join(tmpdir(), `moat-demo-${process.pid}.pcapng`);
  const writer = new PcapngWriter(pcap, { interfaces: [{ name: 'wire', description: 'moat demo: in-process Ethernet segment' }] });
  server.stack.addNic(wire.port({ name: 'server' }), { addresses: ['10.213.78.1/24', 'fd13:78::1/64'] });
  client.stack.addNic(new SnifferLink(wire.port({ name: 'client' }), clock, writer, { epochOffsetMs: Date.now() - performance.now() }), {
    addresses: ['10.213.78.2/24', 'fd13:78::2/64'],
  });
  const services = new Services(server.stack, server.tcp);
  services.start([{ name: 'http', port: 80 }]);
  say('set-up    two moat stacks joined by an in-process Ethernet segment (no kernel networking at all):');
  say('          "server" 10.213.78.1 fd13:78::1 runs moat host\'s HTTP server; "client" 10.213.78.2 fd13:78::2 fetches');
  say();
  // Duplicate address detection keeps new IPv6 addresses tentative for about a second.
  const deadline = performance.now() + 15_000;
  while (client.stack.nicList().some((n) => n.ipv6Addresses().some((a) => a.tentative)) || server.stack.nicList().some((n) => n.ipv6Addresses().some((a) => a.tentative))) {
    if (performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    // Generous timeouts: this variant must show something on a loaded machine too.
    const r4 = await httpRequest(client.tcp, IpAddr.parse('10.213.78.1'), 80, { host: 'server', timeoutMs: 30_000 });
    say(httpLine('1 HTTP    GET http://10.213.78.1/ over IPv4', r4));
    const r6 = await httpRequest(client.tcp, IpAddr.parse('fd13:78::1'), 80, { host: 'server', timeoutMs: 30_000 });
    say(httpLine('2 HTTP    GET http://[fd13:78::1]/ over IPv6', r6));
    const big = await httpRequest(client.tcp, IpAddr.parse('10.213.78.1'), 80, { path: '/bytes/2000000', keepBody: false, timeoutMs: 30_000 });
    say(`3 HTTP    GET /bytes/2000000: ${big.statusLine}, ${big.bodyBytes} bytes in ${ms(big.totalMs)} (${(big.bodyBytes / 1e3 / big.totalMs).toFixed(0)} MB/s)`);
    const p = await ping(client.stack, IpAddr.parse('fd13:78::1'), 56, 10_000);
    say(`4 ping    fd13:78::1: 64 bytes, rtt ${ms(p.rttMs)}`);
    say();
    say(`counters  client: ${counterLine(client.stack, client.tcp)}`);
  } finally {
    services.close();
    client.stack.close();
    server.stack.close();
    await writer.close();
  }
  await showPcap(pcap);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a self-contained demonstration of moat\'s TCP/IP stack against real Linux servers in a namespace (what `npm start` runs)')
    .option('--in-process', 'skip the namespaces: two moat stacks in this process (what runs without root)')
    .action(async (opts: { inProcess?: boolean }) => {
      say('moat demo: moat\'s own TCP/IP stack (TypeScript, raw Ethernet frames) doing the job a sandboxed program\'s');
      say('socket calls will ask of it once `moat run` exists: resolve a name, fetch a page, ping.');
      say();
      const root = typeof process.getuid === 'function' && process.getuid() === 0;
      if (!root || opts.inProcess) {
        if (!root) {
          say('This demo needs root (CAP_NET_ADMIN and CAP_NET_RAW) to create network namespaces, a veth pair and an');
          say('AF_PACKET socket, and to run nginx and dnsmasq in a namespace. Run `sudo npm start` for the real thing.');
          say('Running the in-process variant instead.');
          say();
        }
        await inProcessDemo();
        return;
      }
      const cleanup = new Cleanup();
      let interrupted = false;
      const onSignal = (sig: NodeJS.Signals) => {
        // A second Ctrl-C while cleaning up must not leave half of it behind: ignored.
        if (interrupted) return;
        interrupted = true;
        say(`\n${sig}: cleaning up`);
        void cleanup.run().then((done) => {
          for (const d of done) say(`          ${d}`);
          process.exit(130);
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await namespaceDemo(cleanup);
      } catch (e) {
        process.stderr.write(`moat demo: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        const done = await cleanup.run();
        say(`cleanup   ${done.join('; ')}`);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
