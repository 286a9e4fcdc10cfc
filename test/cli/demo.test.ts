// `moat demo` (npm start) as a user runs it. As root: a sandboxed client under `moat run` with a
// policy allowing one name, against nginx (or python3) and dnsmasq in a peer namespace: the
// allowed page's body, the denied name and the denied address with their audit lines, the flow
// summary, the pcap whose flow comment names the guest process (checked again here with moat's
// pcap reader and tshark), and nothing moat-* left behind, also after Ctrl-C. Without root:
// what it needs, then the in-process variant.

import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, privilegedTest } from '../helpers/privileged.js';
import { listMoatResources } from '../../src/net-plumbing/netns.js';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { readPcap } from '../../src/net-plumbing/pcap/index.js';

const MOAT = join(packageRoot(), 'bin', 'moat.js');

interface Ran {
  code: number | null;
  out: string;
  err: string;
  pid: number;
}

/** Runs `moat demo ARGS` (bounded), optionally acting on its output as it arrives. */
function demo(args: string[], opts: { prefix?: string[]; onOut?: (out: string, kill: (s: NodeJS.Signals) => void) => void; limitMs?: number } = {}): Promise<Ran> {
  const argv = [...(opts.prefix ?? []), process.execPath, MOAT, 'demo', ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    opts.onOut?.(out, (s) => child.kill(s));
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.limitMs ?? 90_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out, err, pid: child.pid! });
    }),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The namespaces (moat-demo<pid>-*) and links (moat-d<pid>*) of that demo still around. */
async function leftAfter(pid: number): Promise<string[]> {
  const a = await listMoatResources({ prefix: `moat-demo${pid}-` });
  const b = await listMoatResources({ prefix: `moat-d${pid}` });
  return [...a.netns, ...a.links, ...b.netns, ...b.links];
}

function hasTshark(): Promise<boolean> {
  return new Promise((r) => execFile('tshark', ['--version'], (e) => r(!e)));
}

function auditLines(out: string, step: number): Record<string, unknown>[] {
  const block = out.split(/\n(?=\d )/).find((b) => b.startsWith(`${step} `)) ?? '';
  return [...block.matchAll(/ audit {2}(\{.*\})$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
}

async function checkSandboxRun(t: import('ava').ExecutionContext, r: Ran, client: 'curl' | 'fetch', server: 'nginx' | 'python'): Promise<void> {
  t.is(r.code, 0, `${r.out}\n${r.err}`);
  // 1: the page, by name, through the sandbox; its audit line is the policy's allow rule.
  t.regex(r.out, new RegExp(`\\n1 ALLOWED  ${client} http://web\\.moat\\.test/ .*\\n {10}exit 0, \\d+ bytes: "<h1>Hello from ${server}</h1>"`));
  const a1 = auditLines(r.out, 1);
  t.true(
    a1.some((a) => a.hook === 'OUTPUT' && a.verdict === 'accept' && a.hostname === 'web.moat.test' && a.dst === '10.213.77.1' && a.dport === 80 && /policy\.yaml:5$/.test(String(a.prefix))),
    JSON.stringify(a1),
  );
  // 2: a name the policy does not allow: NXDOMAIN from moat's forwarder, as the client reports it.
  t.regex(r.out, new RegExp(`\\n2 DENIED   ${client} http://other\\.moat\\.test/ .*\\n {10}exit [1-9]\\d*: .*(Could not resolve host: other\\.moat\\.test|ENOTFOUND)`));
  const a2 = auditLines(r.out, 2);
  t.true(a2.length >= 1 && a2.every((a) => a.hook === 'DNS' && a.verdict === 'reject' && a.rule === 'dns/allowlist:nxdomain' && a.hostname === 'other.moat.test'), JSON.stringify(a2));
  // 3: an address never learned through DNS: the default deny.
  t.regex(r.out, new RegExp(`\\n3 DENIED   ${client} http://10\\.213\\.77\\.3/ .*\\n {10}exit [1-9]\\d*`));
  const a3 = auditLines(r.out, 3);
  t.true(a3.some((a) => a.hook === 'OUTPUT' && a.verdict === 'reject' && a.dst === '10.213.77.3' && a.prefix === 'default deny'), JSON.stringify(a3));
  t.notRegex(r.out, /UNEXPECTED/);
  // The flows per host.
  t.regex(r.out, /\nflows {5}\d+ decisions in the audit log, per remote host:/);
  t.regex(r.out, /\n {12}web\.moat\.test +allowed +1 +denied +0 +ports 80\n/);
  t.regex(r.out, /\n {12}10\.213\.77\.3 +allowed +0 +denied +1 +ports 80\n/);
  // The pcap, and its flow comment naming the guest process, read back by moat's reader (and tshark).
  const pcapLine = /\npcap {6}(\S+): (\d+) frames;/.exec(r.out);
  const pcap = pcapLine?.[1];
  t.truthy(pcap && existsSync(pcap), 'the pcap it names exists');
  const proc = client === 'curl' ? 'curl' : 'node';
  const shown = new RegExp(`\\n {12}frame \\d+: pid (\\d+) ${proc} tcp 10\\.213\\.77\\.2:(\\d+) > 10\\.213\\.77\\.1:80\\n`).exec(r.out);
  t.truthy(shown, 'the flow comment is shown');
  if (pcap && shown) {
    const comments: string[] = [];
    let frames = 0;
    for await (const rec of readPcap(pcap)) {
      frames++;
      if (rec.comment) comments.push(rec.comment);
    }
    t.is(frames, Number(pcapLine![2]));
    t.true(comments.includes(`pid ${shown[1]} ${proc} tcp 10.213.77.2:${shown[2]} > 10.213.77.1:80`), JSON.stringify(comments));
    // The same port as the allowed request's audit line: the comment names the flow that was allowed.
    t.true(a1.some((a) => a.sport === Number(shown[2])), `sport ${shown[2]} in ${JSON.stringify(a1)}`);
    if (await hasTshark()) {
      const ts = await new Promise<string>((res) =>
        execFile('tshark', ['-r', pcap, '-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment'], { encoding: 'utf8' }, (_e, o) => res(o)),
      );
      t.true(ts.includes(`pid ${shown[1]} ${proc} tcp`), ts);
    }
    rmSync(pcap, { force: true });
  }
  // Cleanup: every server stopped by PID, both namespaces gone.
  t.regex(r.out, /\ncleanup {3}stopped moat run \(pid \d+\);.*deleted namespace moat-demo\d+-dut; deleted namespace moat-demo\d+-peer; removed /);
  for (const m of r.out.matchAll(/stopped (?:nginx|dnsmasq|python3 -m http\.server|moat run) \(pid (\d+)\)/g)) t.false(alive(Number(m[1])), `pid ${m[1]} is gone`);
  t.deepEqual(await leftAfter(r.pid), []);
}

privilegedTest('moat demo as root: sandboxed curl under moat run fetches by name, a denied name and a denied address, audit lines, pcap comment; nothing left', async (t) => {
  const r = await demo([]);
  const curl = /\n1 ALLOWED  curl /.test(r.out);
  t.log(curl ? 'client: curl' : 'client: node (curl not installed)');
  await checkSandboxRun(t, r, curl ? 'curl' : 'fetch', /Hello from nginx/.test(r.out) ? 'nginx' : 'python');
});

privilegedTest('moat demo --client node --web python: the fallbacks when curl and nginx are missing', async (t) => {
  const r = await demo(['--client', 'node', '--web', 'python']);
  await checkSandboxRun(t, r, 'fetch', 'python');
});

privilegedTest('moat demo interrupted by Ctrl-C (SIGINT) while the sandbox runs still removes everything it created', async (t) => {
  let sent = false;
  const r = await demo([], {
    onOut: (out, kill) => {
      // Once the namespaces, the servers and the `moat run` child exist.
      if (!sent && out.includes('$ moat run')) {
        sent = true;
        kill('SIGINT');
      }
    },
  });
  t.true(sent);
  // The demo may have finished before the signal landed; either way it must clean up.
  t.true(r.code === 130 || r.code === 0, `exit ${r.code}: ${r.out}\n${r.err}`);
  if (r.code === 130) {
    t.regex(r.out, /SIGINT: cleaning up\n(?:.*\n)*? {10}stopped moat run \(pid \d+\)/);
    t.false(existsSync(`/tmp/moat-demo-${r.pid}.pcapng`), 'the unfinished capture is removed');
  }
  for (const m of r.out.matchAll(/stopped (?:nginx|dnsmasq|python3 -m http\.server|moat run) \(pid (\d+)\)/g)) t.false(alive(Number(m[1])), `pid ${m[1]} is gone`);
  t.deepEqual(await leftAfter(r.pid), []);
  rmSync(`/tmp/moat-demo-${r.pid}.pcapng`, { force: true });
});

test('moat demo without root: says what it needs, runs the in-process variant, exits 0', async (t) => {
  // As root, drop to nobody; otherwise we already are unprivileged.
  const r = await demo([], { prefix: isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [], limitMs: 60_000 });
  t.is(r.code, 0, `${r.out}\n${r.err}`);
  t.regex(r.out, /The sandbox demo needs root: CAP_SYS_ADMIN .*\n.*CAP_NET_ADMIN and CAP_NET_RAW/);
  t.regex(r.out, /Running the in-process variant instead/);
  t.regex(r.out, /\n1 HTTP {4}GET http:\/\/10\.213\.78\.1\/ over IPv4: HTTP\/1\.1 200 OK, body 262 bytes/);
  t.regex(r.out, /\n2 HTTP {4}GET http:\/\/\[fd13:78::1\]\/ over IPv6: HTTP\/1\.1 200 OK/);
  t.regex(r.out, /\n3 HTTP {4}GET \/bytes\/2000000: HTTP\/1\.1 200 OK, 2000000 bytes/);
  const pcap = /\npcap {6}(\S+)\n/.exec(r.out)?.[1];
  t.truthy(pcap && existsSync(pcap));
  if (pcap) rmSync(pcap, { force: true });
});
