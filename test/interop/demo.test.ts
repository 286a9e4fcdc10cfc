// `moat demo` (npm start) as a user runs it: as root, the namespace demo with nginx and
// dnsmasq, its readable summary, a pcap, and nothing moat-* left behind (also after Ctrl-C);
// as an unprivileged user, the in-process variant, exit 0.

import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { isRoot, privilegedTest } from '../helpers/privileged.js';
import { listMoatResources } from '../../src/net-plumbing/netns.js';
import { MOAT_BIN, run } from './net.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function leftAfter(pid: number): Promise<string[]> {
  const r = await listMoatResources({ prefix: `moat-demo${pid}` });
  return [...r.netns, ...r.links];
}

privilegedTest('moat demo as root: DNS through moat\'s UDP, HTTP over moat\'s TCP (v4, v6), pings, pcap; nothing left behind', async (t) => {
  const child = spawn(process.execPath, [MOAT_BIN, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(killer);
  t.is(code, 0, `${out}\n${err}`);
  t.regex(out, /\n1 DNS {5}web\.moat\.test A {4}-> 10\.213\.77\.1 /);
  t.regex(out, /\n2 DNS {5}web\.moat\.test AAAA -> fd13:77::1\n/);
  t.regex(out, /\n3 HTTP {4}GET http:\/\/web\.moat\.test\/ over IPv4: HTTP\/1\.1 200 OK, body \d+ bytes, .*tcpInfo rtt [\d.]+ ms retransmits \d+/);
  t.regex(out, /\n4 HTTP {4}GET http:\/\/web\.moat\.test\/ over IPv6: HTTP\/1\.1 200 OK/);
  t.regex(out, /page: "<h1>Hello from nginx<\/h1>"/);
  t.regex(out, /\n5 ping {4}10\.213\.77\.1: 64 bytes, rtt/);
  t.regex(out, /\n6 ping {4}fd13:77::1: 64 bytes/);
  t.regex(out, /\n7 ping {4}10\.213\.77\.1: 10008 bytes/);
  t.regex(out, /\ncounters {2}frames in \d+ out \d+/);
  const pcap = /\npcap {6}(\S+)\n/.exec(out)?.[1];
  t.truthy(pcap && existsSync(pcap), 'the pcap it names exists');
  t.regex(out, /first \d+ frames as `moat decode/);
  // The first lines shown depend on how NDP and ARP interleave; the whole capture must hold
  // moat's own ARP request for the peer.
  const decoded = pcap ? execFileSync(process.execPath, [MOAT_BIN, 'decode', pcap], { encoding: 'utf8' }) : '';
  t.regex(decoded, / ARP, Request who-has 10\.213\.77\.1 tell 10\.213\.77\.2/);
  t.regex(out, /\ncleanup {3}.*deleted namespace moat-demo\d+-peer/);
  for (const m of out.matchAll(/stopped (?:nginx|dnsmasq) \(pid (\d+)\)/g)) t.false(alive(Number(m[1])), `pid ${m[1]} is gone`);
  t.deepEqual(await leftAfter(child.pid!), []);
  if (pcap) rmSync(pcap, { force: true });
});

privilegedTest('moat demo interrupted by Ctrl-C (SIGINT) still removes everything it created', async (t) => {
  const child = spawn(process.execPath, [MOAT_BIN, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let sent = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    // Interrupt once the namespaces, nginx and dnsmasq exist and moat's stack is up.
    if (!sent && out.includes("moat's stack:")) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(killer);
  // The demo may have finished before the signal landed; either way it must clean up.
  t.true(code === 130 || code === 0, `exit ${code}: ${out}`);
  if (code === 130) t.regex(out, /SIGINT: cleaning up/);
  t.deepEqual(await leftAfter(child.pid!), []);
  rmSync(`/tmp/moat-demo-${child.pid}.pcapng`, { force: true });
});

test('moat demo without root: says what it needs, runs the in-process variant, exits 0', async (t) => {
  // As root, drop to nobody; otherwise we already are unprivileged.
  const r = isRoot
    ? await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, MOAT_BIN, 'demo'], 60_000)
    : await run(process.execPath, [MOAT_BIN, 'demo'], 60_000);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /This demo needs root \(CAP_NET_ADMIN and CAP_NET_RAW\)/);
  t.regex(r.stdout, /Running the in-process variant instead\./);
  t.regex(r.stdout, /\n1 HTTP {4}GET http:\/\/10\.213\.78\.1\/ over IPv4: HTTP\/1\.1 200 OK, body 262 bytes/);
  t.regex(r.stdout, /\n2 HTTP {4}GET http:\/\/\[fd13:78::1\]\/ over IPv6: HTTP\/1\.1 200 OK/);
  t.regex(r.stdout, /\n3 HTTP {4}GET \/bytes\/2000000: HTTP\/1\.1 200 OK, 2000000 bytes/);
  t.regex(r.stdout, /\n4 ping {4}fd13:78::1: 64 bytes/);
  const pcap = /\npcap {6}(\S+)\n/.exec(r.stdout)?.[1];
  t.truthy(pcap && existsSync(pcap));
  if (pcap) rmSync(pcap, { force: true });
});
