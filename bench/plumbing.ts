// Plumbing benchmarks (root only): TCP throughput between a Linux peer and moat's stack over
// real links, beside Linux <-> Linux over a veth measured in the same run (the baseline):
//   Linux -> moat and moat -> Linux, over a veth (AF_PACKET) and over a tap, each with vnet_hdr
//   GSO/checksum offloads on and off; MB/s and CPU seconds per GB.
// moat's stack runs in this process (startHost), so its CPU is process.cpuUsage(); the Linux
// side's is utime+stime of the peer's server process from /proc/PID/stat (the kernel's softirq
// work done on other tasks' time is not in either number). The same node programs drive
// both cases: a client in the peer namespace that sends to a discard service, or reads a
// never-ending HTTP body, for DURATION_S seconds. Every namespace is moat-bp<pid>-* and is
// deleted at the end, also after a failure.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createNetns, createVethPair, deleteNetns, disableIpv6, ip, setLinkUp } from '../src/net-plumbing/netns.js';
import { startHost, type Host, type LinkSpec } from '../src/cli/host/host.js';

const DURATION_S = 5;

export interface PlumbingRow {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

interface Measure {
  mbps: number;
  cpuPerGb: number;
  bytes: number;
}

/** The node programs in the peer (client) and in the Linux baseline namespace (server). */
const CLIENT = `
import net from 'node:net';
const [mode, host, port, secs] = process.argv.slice(1);
const buf = Buffer.alloc(4 << 20, 0x6d);
let bytes = 0; const t0 = performance.now();
const s = net.connect(Number(port), host);
const done = () => { console.log(JSON.stringify({ bytes, seconds: (performance.now() - t0) / 1000 })); process.exit(0); };
s.on('error', (e) => { console.error(String(e)); process.exit(1); });
if (mode === 'send') {
  s.on('connect', () => {
    const pump = () => {
      while (performance.now() - t0 < secs * 1000) { bytes += buf.length; if (!s.write(buf)) return s.once('drain', pump); }
      s.end();
    };
    pump();
  });
  s.on('data', () => {}); s.on('close', done);
} else {
  s.on('connect', () => s.write('GET /bytes/1000000000000 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));
  s.on('data', (d) => { bytes += d.length; if (performance.now() - t0 > secs * 1000) { s.destroy(); done(); } });
}
setTimeout(() => { console.error('client timed out'); process.exit(1); }, (Number(secs) + 20) * 1000);
`;

const SERVER = `
import net from 'node:net';
const buf = Buffer.alloc(4 << 20, 0x6d);
const discard = net.createServer((s) => { s.on('data', () => {}); s.on('end', () => s.end()); s.on('error', () => {}); });
const source = net.createServer((s) => {
  s.on('error', () => {});
  s.once('data', () => { const pump = () => { while (!s.destroyed && s.write(buf)); if (!s.destroyed) s.once('drain', pump); }; s.write('HTTP/1.1 200 OK\\r\\nContent-Length: 1000000000000\\r\\n\\r\\n'); pump(); });
});
const [host] = process.argv.slice(1);
discard.listen(9, host, () => source.listen(80, host, () => console.log('ready')));
setTimeout(() => process.exit(0), 600000);
`;

function nodeIn(netns: string, script: string, args: string[]) {
  return spawn('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function runClient(netns: string, mode: 'send' | 'recv', host: string, port: number): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const c = nodeIn(netns, CLIENT, [mode, host, String(port), String(DURATION_S)]);
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`client ${mode} ${host}:${port} failed (${code}): ${err}`));
      resolve(JSON.parse(out) as { bytes: number; seconds: number });
    });
  });
}

function procCpuSeconds(pid: number): number {
  // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks (USER_HZ = 100 on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function moatCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function measureMoat(host: Host, peerNs: string, dst: string, dir: 'in' | 'out'): Promise<Measure> {
  const c0 = moatCpuSeconds();
  const r = await runClient(peerNs, dir === 'in' ? 'send' : 'recv', dst, dir === 'in' ? 9 : 80);
  const cpu = moatCpuSeconds() - c0;
  void host;
  return { mbps: r.bytes / 1e6 / r.seconds, cpuPerGb: cpu / (r.bytes / 1e9), bytes: r.bytes };
}

async function measureLinux(serverPid: number, peerNs: string, dst: string, dir: 'in' | 'out'): Promise<Measure> {
  const c0 = procCpuSeconds(serverPid);
  const r = await runClient(peerNs, dir === 'in' ? 'send' : 'recv', dst, dir === 'in' ? 9 : 80);
  const cpu = procCpuSeconds(serverPid) - c0;
  return { mbps: r.bytes / 1e6 / r.seconds, cpuPerGb: cpu / (r.bytes / 1e9), bytes: r.bytes };
}

export async function benchPlumbing(): Promise<PlumbingRow[]> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    process.stderr.write('[bench] plumbing: needs root (namespaces, veth, tap, AF_PACKET); skipped\n');
    return [];
  }
  const id = `bp${process.pid}`;
  const peerNs = `moat-${id}-peer`;
  const dutNs = `moat-${id}-dut`;
  const lxNs = `moat-${id}-lx`;
  const name = (x: string) => `moat-${id}${x}`.slice(0, 15);
  const made: string[] = [];
  const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];
  const rows: PlumbingRow[] = [];
  try {
    for (const ns of [peerNs, dutNs, lxNs]) {
      await createNetns(ns);
      made.push(ns);
    }
    await disableIpv6(dutNs);
    // peer <-> moat (veth), peer <-> Linux baseline (veth), peer <-> moat (tap, in the peer namespace).
    await createVethPair(name('p'), name('d'), { netnsA: peerNs, netnsB: dutNs });
    await createVethPair(name('q'), name('l'), { netnsA: peerNs, netnsB: lxNs });
    await ip(['address', 'add', '10.213.120.1/24', 'dev', name('p')], { netns: peerNs });
    await ip(['address', 'add', '10.213.121.1/24', 'dev', name('q')], { netns: peerNs });
    await ip(['address', 'add', '10.213.121.2/24', 'dev', name('l')], { netns: lxNs });
    for (const [ns, i] of [[peerNs, name('p')], [peerNs, name('q')], [dutNs, name('d')], [lxNs, name('l')]] as const) await setLinkUp(i, { netns: ns });

    // The Linux baseline first.
    const server = nodeIn(lxNs, SERVER, ['10.213.121.2']);
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('baseline server not ready within 10 s')), 10_000);
      let out = '';
      server.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.on('exit', (c) => reject(new Error(`baseline server exited (${c})`)));
    });
    const base = {
      in: await measureLinux(server.pid!, peerNs, '10.213.121.2', 'in'),
      out: await measureLinux(server.pid!, peerNs, '10.213.121.2', 'out'),
    };
    server.kill('SIGKILL');

    const configs: { label: string; link: LinkSpec; offload: boolean; addr: string; setup?: () => Promise<void> }[] = [
      { label: 'veth (AF_PACKET), offloads', link: { kind: 'packet', ifname: name('d'), netns: dutNs }, offload: true, addr: '10.213.120.2' },
      { label: 'veth (AF_PACKET), no offloads', link: { kind: 'packet', ifname: name('d'), netns: dutNs }, offload: false, addr: '10.213.120.2' },
      { label: 'tap, offloads', link: { kind: 'tap', ifname: name('t'), netns: peerNs }, offload: true, addr: '10.213.122.2' },
      { label: 'tap, no offloads', link: { kind: 'tap', ifname: name('t'), netns: peerNs }, offload: false, addr: '10.213.122.2' },
    ];
    for (const cfg of configs) {
      // Without vnet_hdr moat cannot be told that a frame's checksum is still to be filled in
      // (CHECKSUM_PARTIAL over a veth), so the Linux end computes it: tx checksumming off.
      if (cfg.link.kind === 'packet') await run(['ip', 'netns', 'exec', peerNs, 'ethtool', '-K', name('p'), 'tx', cfg.offload ? 'on' : 'off', 'tso', cfg.offload ? 'on' : 'off']);
      const cidr = cfg.link.kind === 'tap' ? '10.213.122.2/24' : '10.213.120.2/24';
      const host = await startHost({ link: cfg.link, addresses: [cidr], offload: cfg.offload, services: [{ name: 'discard', port: 9 }, { name: 'http', port: 80 }] });
      try {
        if (cfg.link.kind === 'tap') {
          await ip(['address', 'add', '10.213.122.1/24', 'dev', name('t')], { netns: peerNs });
          await setLinkUp(name('t'), { netns: peerNs });
        }
        for (const dir of ['in', 'out'] as const) {
          const m = await measureMoat(host, peerNs, cfg.addr, dir);
          const what = dir === 'in' ? 'Linux -> moat' : 'moat -> Linux';
          const b = base[dir];
          const bname = dir === 'in' ? 'Linux -> Linux, veth' : 'Linux -> Linux, veth (reverse)';
          rows.push({ name: `${what}, ${cfg.label}: throughput`, value: m.mbps, unit: 'MB/s', baseline: { name: bname, value: b.mbps }, note: `${(m.bytes / 1e6).toFixed(0)} MB in ~${DURATION_S} s` });
          rows.push({ name: `${what}, ${cfg.label}: CPU per GB`, value: m.cpuPerGb, unit: 's/GB', baseline: { name: `${bname} (server process)`, value: b.cpuPerGb } });
        }
      } finally {
        await host.close();
      }
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    for (const ns of made.reverse()) await deleteNetns(ns).catch(() => {});
  }
  return rows;
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')}: ${err}`))));
  });
}

// Run directly: node dist/bench/plumbing.js
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const rows = await benchPlumbing();
  for (const r of rows) {
    const ratio = r.baseline && r.baseline.value ? ` (${(r.value / r.baseline.value).toFixed(2)}x of ${r.baseline.name} ${r.baseline.value.toFixed(2)})` : '';
    process.stdout.write(`${r.name}: ${r.value.toFixed(2)} ${r.unit}${ratio}\n`);
  }
}
