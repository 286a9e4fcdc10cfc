// `moat demo` (what `npm start` runs): moat doing its main job on a self-contained topology, no
// network beyond this machine.
//   as root: a peer namespace with a web server (nginx, else python3 -m http.server) and a DNS
//   server (dnsmasq) answering web.moat.test and other.moat.test; a second namespace holding the
//   address-less veth end that moat's stack takes over (AF_PACKET). Then a sandboxed client (curl,
//   else node's fetch) runs under `moat run` with a policy that allows web.moat.test:80 and
//   nothing else: it fetches the page by name (allowed), then asks for a name the policy does not
//   allow (NXDOMAIN from moat's DNS forwarder) and for an address it never learned through DNS
//   (refused by the default deny). Each request is shown with its audit line; then the flows per
//   host, and the pcap whose per-flow comments name the guest process (read back here, and by
//   tshark when installed). Everything it created is removed at the end, also on Ctrl-C; only the
//   pcap stays, for you to open.
//   without root: says what it needs, then runs the in-process variant: two moat stacks on an
//   in-process Ethernet segment, an HTTP server on one, the fetch from the other.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { Stack } from '../netstack/stack.js';
import { Wire } from '../netstack/links/wire.js';
import { SnifferLink } from '../netstack/links/sniffer.js';
import { IpAddr } from '../netstack/wire/ip-address.js';
import { TcpProtocol } from '../netstack/tcp/index.js';
import { AuditSummary, type AuditRecord } from '../netstack/filter/audit.js';
import { RealClock } from '../net-plumbing/clock.js';
import { CryptoRng } from '../net-plumbing/rng.js';
import { packageRoot } from '../net-plumbing/native.js';
import { PcapngWriter } from '../net-plumbing/pcap/writer.js';
import { readPcap } from '../net-plumbing/pcap/index.js';
import { createNetns, createVethPair, deleteNetns, disableIpv6, ip, setLinkUp } from '../net-plumbing/netns.js';
import { decodeFile } from './decode/command.js';
import { Services } from './host/services.js';
import { httpRequest, ping, type HttpResponse } from './host/probes.js';
import { startDnsmasq, startNginx, type PeerServer } from './host/peer-services.js';

const WEB = 'web.moat.test';
const OTHER = 'other.moat.test';
/** The web server and the DNS server. */
const PEER = '10.213.77.1';
/** The same web server under a second address: only OTHER resolves to it. */
const PEER_OTHER = '10.213.77.3';
const MOAT_CIDR = '10.213.77.2/24';
/** Bound on the whole sandboxed run (three requests of at most 10 s each, and start-up). */
const RUN_LIMIT_MS = 60_000;

const say = (s = '') => process.stdout.write(`${s}\n`);
const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

/** Undo steps, run in reverse order once (normal end, failure, or Ctrl-C). */
class Cleanup {
  private readonly steps: { what: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<string[]> | null = null;
  add(what: string, fn: () => Promise<void> | void): void {
    this.steps.push({ what, fn });
  }
  /** Cleaning up has begun (the end, or Ctrl-C): whatever is still running should stop talking. */
  get started(): boolean {
    return this.running !== null;
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

/** Where the sandbox demo's capture goes (and stays, for you to open). */
const pcapPath = () => join(tmpdir(), `moat-demo-${process.pid}.pcapng`);

/** The program on PATH, or null. */
function onPath(prog: string): string | null {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    const p = join(d, prog);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

function tcpListening(netns: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' }, (err, out) => resolve(!err && out.trim().length > 0));
  });
}

/** `python3 -m http.server` in the namespace (when nginx is missing), stopped by its PID. */
async function startPythonWeb(netns: string, www: string, port: number): Promise<PeerServer> {
  // `ip netns exec` execs the program: the child's PID is the server's.
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, 'python3', '-m', 'http.server', String(port), '--directory', www], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`python3 -m http.server exited (${child.exitCode})`);
    if (await tcpListening(netns, port)) return { pid: child.pid!, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error('python3 -m http.server did not start listening within 10 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the sandboxed client needs; `node` is always there (this very program). */
function clientCommand(kind: 'curl' | 'node', dir: string, url: string): string[] {
  if (kind === 'curl') return ['curl', '-sS', '--max-time', '10', url];
  return [process.execPath, join(dir, 'fetch.mjs'), url];
}

// The node client when curl is missing: the page on stdout, the error (with its cause's code, as
// node reports ENOTFOUND or ECONNREFUSED) on stderr.
const FETCH_MJS = `const url = process.argv[2];
// Also when the connection ends without an error reaching fetch (nothing left to wait on).
const guard = setTimeout(() => {
  process.stderr.write('node fetch: no answer within 10 s\\n');
  process.exit(1);
}, 10000);
try {
  const r = await fetch(url, { signal: AbortSignal.timeout(10000) });
  process.stdout.write(await r.text());
  process.exitCode = r.ok ? 0 : 22;
} catch (e) {
  const c = e.cause ?? {};
  process.stderr.write(\`node fetch: \${e.message}\${c.code ? ': ' + c.code : ''}\${c.message ? ' (' + c.message + ')' : ''}\\n\`);
  process.exitCode = 1;
}
clearTimeout(guard);
`;

interface Step {
  n: number;
  url: string;
  why: string;
  expect: 'allowed' | 'denied';
  /** Which audit records belong to this request. */
  mine: (r: AuditRecord) => boolean;
}

const STEPS: Step[] = [
  { n: 1, url: `http://${WEB}/`, why: 'the name the policy allows', expect: 'allowed', mine: (r) => r.hostname === WEB },
  { n: 2, url: `http://${OTHER}/`, why: 'a name the policy does not allow: the forwarder answers NXDOMAIN', expect: 'denied', mine: (r) => r.hostname === OTHER },
  { n: 3, url: `http://${PEER_OTHER}/`, why: 'an address never learned through DNS: refused by the default deny', expect: 'denied', mine: (r) => r.dst === PEER_OTHER },
];

const POLICY = `# moat demo: the egress policy of the sandboxed client (moat run --policy).
default: deny          # what is not allowed below is refused
log: all               # an audit line for every decision, allowed ones too
allow:
  - host: ${WEB}
    ports: [80]
    protocol: tcp
`;

/** Runs the guest script: each request's stdout, stderr and exit status go to files the demo reads. */
function guestScript(client: 'curl' | 'node', dir: string): string {
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const lines = ['#!/bin/sh', '# moat demo: the sandboxed client, three requests one after the other.', `cd ${q(dir)}`, 'step() { n=$1; shift; "$@" >"$n.out" 2>"$n.err"; echo $? >"$n.rc"; }'];
  for (const s of STEPS) lines.push(`step ${s.n} ${clientCommand(client, dir, s.url).map(q).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function oneLine(s: string, max = 150): string {
  const t = s.trim().replace(/\s*\n\s*/g, ' | ');
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

/** Waits for a child's exit; after `limitMs` it is stopped (SIGTERM, then SIGKILL) and the wait goes on. */
function exitOf(child: ChildProcess, limitMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }, limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, timedOut });
    });
  });
}

export interface SandboxDemoOptions {
  /** The sandboxed client: curl (default when installed) or node's fetch. */
  client?: 'curl' | 'node';
  /** The peer's web server: nginx (default when installed) or python3 -m http.server. */
  web?: 'nginx' | 'python';
}

/** The real thing: a guest under `moat run`, Linux servers in a peer namespace. Resolves false when a request did not go as the policy says. */
async function sandboxDemo(cleanup: Cleanup, o: SandboxDemoOptions): Promise<boolean> {
  const missing: string[] = [];
  for (const p of ['ip', 'ss', 'dnsmasq', 'sh']) if (!onPath(p)) missing.push(p);
  const web = o.web ?? (onPath('nginx') ? 'nginx' : 'python');
  if (web === 'nginx' ? !onPath('nginx') : !onPath('python3')) missing.push(web === 'nginx' ? 'nginx' : 'nginx or python3');
  const client = o.client ?? (onPath('curl') ? 'curl' : 'node');
  if (client === 'curl' && !onPath('curl')) missing.push('curl');
  if (missing.length) {
    throw new Error(
      `missing ${missing.join(', ')}: this demo needs iproute2 (ip, ss), dnsmasq, a shell, nginx or python3 for the web server, ` +
        'and curl or node for the sandboxed client (e.g. apt-get install iproute2 dnsmasq nginx curl)',
    );
  }

  const id = `demo${process.pid}`;
  const peerNs = `moat-${id}-peer`;
  const dutNs = `moat-${id}-dut`;
  // Interface names stay within 15 bytes for any PID.
  const peerIf = `moat-d${process.pid}p`;
  const dutIf = `moat-d${process.pid}d`;
  const dir = mkdtempSync(join(tmpdir(), 'moat-demo-'));
  cleanup.add(`removed ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // nginx's workers (nobody) read the page from here
  const pcap = pcapPath();
  rmSync(pcap, { force: true });

  for (const ns of [peerNs, dutNs]) {
    await createNetns(ns);
    cleanup.add(`deleted namespace ${ns}`, () => deleteNetns(ns));
  }
  await disableIpv6(dutNs);
  await createVethPair(peerIf, dutIf, { netnsA: peerNs, netnsB: dutNs });
  for (const a of [PEER, PEER_OTHER]) await ip(['address', 'add', `${a}/24`, 'dev', peerIf], { netns: peerNs });
  await setLinkUp(peerIf, { netns: peerNs });
  await setLinkUp(dutIf, { netns: dutNs });
  const page = `<!doctype html>\n<html><body><h1>Hello from ${web === 'nginx' ? 'nginx' : 'python'}</h1><p>in namespace ${peerNs}, fetched by a sandboxed ${client} through moat's own TCP/IP stack.</p></body></html>\n`;
  let server: PeerServer;
  if (web === 'nginx') {
    server = await startNginx({ netns: peerNs, dir: join(dir, 'nginx'), port: 80, listen: ['80'], files: { 'index.html': page } });
  } else {
    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'index.html'), page);
    server = await startPythonWeb(peerNs, www, 80);
  }
  const webName = web === 'nginx' ? 'nginx' : 'python3 -m http.server';
  cleanup.add(`stopped ${webName} (pid ${server.pid})`, () => server.stop());
  const dns = await startDnsmasq({ netns: peerNs, dir, listen: [PEER], records: { [WEB]: [PEER], [OTHER]: [PEER_OTHER] } });
  cleanup.add(`stopped dnsmasq (pid ${dns.pid})`, () => dns.stop());
  say(`set-up    namespace ${peerNs}: Linux with ${webName} on ${PEER}:80 and ${PEER_OTHER}:80,`);
  say(`          dnsmasq on ${PEER}:53 answering ${WEB} A ${PEER} and ${OTHER} A ${PEER_OTHER}`);
  say(`          namespace ${dutNs}: veth end ${dutIf}, no addresses, IPv6 off: moat's stack takes it over (AF_PACKET)`);

  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
  const audit = join(dir, 'audit.jsonl');
  const script = join(dir, 'guest.sh');
  writeFileSync(script, guestScript(client, dir));
  if (client === 'node') writeFileSync(join(dir, 'fetch.mjs'), FETCH_MJS);
  say(`policy    ${policyFile}:`);
  for (const l of POLICY.trimEnd().split('\n')) say(`            ${l}`);
  say();

  const args = [
    'run',
    '--link',
    `packet:${dutIf}@${dutNs}`,
    '--ip',
    MOAT_CIDR,
    '--dns',
    PEER,
    '--policy',
    policyFile,
    '--audit',
    audit,
    '--pcap',
    pcap,
    '--',
    'sh',
    script,
  ];
  say(`$ moat ${args.join(' ')}`);
  say(`          the guest: ${client === 'curl' ? 'curl' : 'node (fetch)'} in an empty network namespace under seccomp; every inet socket call it makes`);
  say("          is served by moat's stack, and every DNS query it sends goes to moat's forwarder, which asks dnsmasq");
  say();
  const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'moat.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(`stopped moat run (pid ${child.pid})`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // It forwards the signal to the guest and returns when the guest is gone.
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await new Promise((r) => child.once('exit', r));
    clearTimeout(t);
  });
  let runOut = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (runOut += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (runOut += d));
  const exit = await exitOf(child, RUN_LIMIT_MS);
  // Interrupted: the cleanup stopped `moat run`; its partial results are not worth showing.
  if (cleanup.started) return true;
  if (exit.code !== 0) {
    say(`moat run  ${exit.timedOut ? `stopped after ${RUN_LIMIT_MS / 1000} s; ` : ''}exit ${exit.code ?? exit.signal}`);
    for (const l of runOut.trimEnd().split('\n')) if (l) say(`          ${l}`);
  }

  const records: { rec: AuditRecord; line: string }[] = [];
  for (const line of readText(audit).split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push({ rec: JSON.parse(line) as AuditRecord, line });
    } catch {
      say(`audit     unreadable line: ${oneLine(line)}`);
    }
  }
  let asPolicySays = exit.code === 0;
  for (const s of STEPS) {
    const rcText = readText(join(dir, `${s.n}.rc`)).trim();
    const rc = rcText === '' ? null : Number(rcText);
    const out = readText(join(dir, `${s.n}.out`));
    const err = readText(join(dir, `${s.n}.err`));
    const outcome = rc === 0 ? 'allowed' : 'denied';
    const ok = rc !== null && outcome === s.expect && (s.expect === 'denied' || out.includes('<h1>'));
    if (!ok) asPolicySays = false;
    const label = rc === null ? 'NOT RUN' : outcome.toUpperCase();
    say(`${s.n} ${label.padEnd(8)} ${client === 'curl' ? 'curl' : 'fetch'} ${s.url}   (${s.why})`);
    if (rc === null) say('          the guest never got to it');
    else if (rc === 0) say(`          exit 0, ${Buffer.byteLength(out)} bytes: ${JSON.stringify(out.match(/<h1>[^<]*<\/h1>/)?.[0] ?? oneLine(out, 60))}`);
    else say(`          exit ${rc}: ${oneLine(err) || '(no message)'}`);
    const mine = records.filter((r) => s.mine(r.rec));
    if (mine.length === 0) say('          audit  (no line)');
    else if (mine.length > 1 && mine.every((r) => r.rec.hook === 'DNS')) say(`          audit  one line per query (the client asks for A and AAAA):`);
    for (const r of mine) say(`          audit  ${r.line}`);
    if (!ok) say(`          UNEXPECTED: the policy says this request is ${s.expect}`);
  }
  say();

  const summary = new AuditSummary();
  for (const r of records) summary.record(r.rec);
  const role = (host: string): string =>
    host === '127.0.0.1' || host === '::1'
      ? "the guest's DNS queries, redirected to moat's forwarder"
      : host === PEER
        ? 'the forwarder asking dnsmasq'
        : '';
  say(`flows     ${records.length} decisions in the audit log, per remote host:`);
  for (const h of summary.summary()) {
    const extra = role(h.host);
    say(`            ${h.host.padEnd(16)} allowed ${String(h.allowed).padStart(2)}  denied ${String(h.denied).padStart(2)}  ports ${h.ports.join(',') || '-'}${extra ? `   (${extra})` : ''}`);
  }

  let frames = 0;
  const comments: string[] = [];
  if (existsSync(pcap)) {
    for await (const rec of readPcap(pcap, { allowTruncated: true })) {
      frames++;
      if (rec.comment) comments.push(`frame ${frames}: ${rec.comment}`);
    }
  }
  say(`pcap      ${pcap}: ${frames} frames; the first frame of each flow the guest made names its process:`);
  if (comments.length === 0) say('            (no flow comment)');
  for (const c of comments) say(`            ${c}`);
  if (comments.length === 0) asPolicySays = false;
  if (onPath('tshark')) {
    const seen = await new Promise<string>((resolve) =>
      execFile('tshark', ['-r', pcap, '-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment'], { encoding: 'utf8' }, (e, out) => resolve(e ? '' : out)),
    );
    const first = seen.split('\n').find((l) => l.trim());
    say(`          tshark -r ${pcap} -Y frame.comment: ${first ? JSON.stringify(first.trim()) : '(nothing)'}`);
  }
  say(`          open it with wireshark, \`tshark -r ${pcap}\` or \`moat decode ${pcap}\``);
  return asPolicySays;
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
    .description('a self-contained demonstration: a sandboxed client under `moat run` with an egress policy, against real Linux servers in a namespace (what `npm start` runs)')
    .option('--in-process', 'skip the namespaces and the sandbox: two moat stacks in this process (what runs without root)')
    .option('--client <curl|node>', 'the sandboxed client (default: curl when installed, else node fetch)', (v: string) => {
      if (v !== 'curl' && v !== 'node') throw new InvalidArgumentError('curl or node');
      return v;
    })
    .option('--web <nginx|python>', "the peer's web server (default: nginx when installed, else python3 -m http.server)", (v: string) => {
      if (v !== 'nginx' && v !== 'python') throw new InvalidArgumentError('nginx or python');
      return v;
    })
    .action(async (opts: { inProcess?: boolean; client?: 'curl' | 'node'; web?: 'nginx' | 'python' }) => {
      say("moat demo: a program in moat's sandbox. Its every socket call is served by moat's own TCP/IP stack");
      say('(TypeScript, raw Ethernet frames on a veth), under an egress policy that names what it may reach.');
      say();
      const root = typeof process.getuid === 'function' && process.getuid() === 0;
      if (!root || opts.inProcess) {
        if (!root) {
          say('The sandbox demo needs root: CAP_SYS_ADMIN for the guest\'s empty network namespace and seccomp listener,');
          say('CAP_NET_ADMIN and CAP_NET_RAW to create namespaces, a veth pair and an AF_PACKET socket, and to run the web');
          say('server and dnsmasq in a namespace. Run `sudo npm start` for the real thing.');
          say('Running the in-process variant instead: moat\'s stack without the sandbox.');
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
          // The capture of an interrupted run is not worth keeping.
          const pcap = pcapPath();
          if (existsSync(pcap)) {
            rmSync(pcap, { force: true });
            say(`          removed the unfinished ${pcap}`);
          }
          process.exit(130);
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        if (!(await sandboxDemo(cleanup, opts))) process.exitCode = 1;
      } catch (e) {
        process.stderr.write(`moat demo: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        if (!interrupted) {
          const done = await cleanup.run();
          say(`cleanup   ${done.join('; ')}`);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }
    });
}
