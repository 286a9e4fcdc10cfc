// Real Linux servers in a peer namespace, for the demo and the interop tests: nginx serving
// files and dnsmasq answering names. Each runs in the foreground from a config in a directory
// the caller owns (pid file there too) and is stopped by its own PID, never by name.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PeerServer {
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

function startIn(netns: string, argv: string[], what: string, readyCheck: () => Promise<boolean>, timeoutMs = 5000): Promise<PeerServer> {
  // `ip netns exec` execs the program: the child's PID is the server's.
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  return new Promise<PeerServer>((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    let gone = false;
    child.once('exit', (code) => {
      gone = true;
      reject(new Error(`${what} exited (${code}): ${stderr.trim()}`));
    });
    child.once('error', (e) => reject(new Error(`${what}: ${e.message}`)));
    const poll = async () => {
      if (gone) return;
      if (await readyCheck()) return resolve({ pid: child.pid!, stop });
      if (Date.now() > deadline) {
        await stop();
        return reject(new Error(`${what} did not become ready within ${timeoutMs} ms: ${stderr.trim()}`));
      }
      setTimeout(poll, 50);
    };
    void poll();
  });
}

function listening(netns: string, port: number, proto: 'tcp' | 'udp'): () => Promise<boolean> {
  return () =>
    new Promise((resolve) => {
      const c = spawn('ip', ['netns', 'exec', netns, 'ss', '-Hln', proto === 'tcp' ? '-t' : '-u', `sport = :${port}`], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('exit', () => resolve(out.trim().length > 0));
      c.on('error', () => resolve(false));
    });
}

export interface NginxOptions {
  netns: string;
  /** A directory of the caller's (config, pid file, logs, document root go there); nginx's workers run as nobody, so every directory above it must be searchable (o+x). */
  dir: string;
  /** listen directives: "10.0.0.1:8080", "[fd00::1]:8080". */
  listen: string[];
  port: number;
  /** Files under the document root. */
  files: Record<string, string | Uint8Array>;
}

export async function startNginx(o: NginxOptions): Promise<PeerServer> {
  const www = join(o.dir, 'www');
  mkdirSync(www, { recursive: true });
  for (const [name, data] of Object.entries(o.files)) writeFileSync(join(www, name), data);
  // The workers run as nobody: they must be able to reach the files.
  for (const p of [o.dir, www]) chmodSync(p, 0o755);
  for (const name of Object.keys(o.files)) chmodSync(join(www, name), 0o644);
  const tmp = (n: string) => join(o.dir, n);
  const conf = [
    'daemon off;',
    'worker_processes 1;',
    `pid ${tmp('nginx.pid')};`,
    `error_log ${tmp('error.log')} warn;`,
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    '  default_type application/octet-stream;',
    `  client_body_temp_path ${tmp('client_body')};`,
    `  proxy_temp_path ${tmp('proxy')};`,
    `  fastcgi_temp_path ${tmp('fastcgi')};`,
    `  uwsgi_temp_path ${tmp('uwsgi')};`,
    `  scgi_temp_path ${tmp('scgi')};`,
    '  server {',
    ...o.listen.map((l) => `    listen ${l};`),
    `    root ${www};`,
    '    location = / { default_type text/html; }',
    '  }',
    '}',
    '',
  ].join('\n');
  const file = join(o.dir, 'nginx.conf');
  writeFileSync(file, conf);
  return startIn(o.netns, ['nginx', '-c', file, '-p', o.dir], 'nginx', listening(o.netns, o.port, 'tcp'));
}

export interface DnsmasqOptions {
  netns: string;
  dir: string;
  /** Addresses to listen on (port 53). */
  listen: string[];
  /** name -> addresses (A and AAAA records). */
  records: Record<string, string[]>;
}

export async function startDnsmasq(o: DnsmasqOptions): Promise<PeerServer> {
  const argv = [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    `--pid-file=${join(o.dir, 'dnsmasq.pid')}`,
    ...o.listen.map((a) => `--listen-address=${a}`),
    ...Object.entries(o.records).flatMap(([name, addrs]) => addrs.map((a) => `--host-record=${name},${a}`)),
  ];
  return startIn(o.netns, argv, 'dnsmasq', listening(o.netns, 53, 'udp'));
}
