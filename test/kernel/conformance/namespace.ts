// The network namespace the conformance runs use: loopback up, a veth subnet where packets
// vanish (10.213.6.0/24: SYNs to 10.213.6.99 are never answered), sysctls pinned so the
// expectations do not depend on the host. Created fresh per run and always deleted.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

// dist/test/kernel/conformance -> test/kernel/conformance (the .py is not compiled).
const here = dirname(fileURLToPath(import.meta.url));
export const RUNNER = join(here, '..', '..', '..', '..', 'test', 'kernel', 'conformance', 'linux_runner.py');

/** Sysctls the expectations depend on, pinned in the namespace (all are per-namespace). */
export const PINNED_SYSCTLS: Record<string, string> = {
  'net.ipv4.tcp_syn_retries': '2',
  'net.ipv4.ping_group_range': '0 2147483647',
  // A namespace may only default to a non-restricted algorithm; reno always is.
  'net.ipv4.tcp_congestion_control': 'reno',
  'net.ipv4.tcp_wmem': '4096 16384 4194304',
  'net.ipv4.tcp_rmem': '4096 131072 6291456',
  'net.ipv4.ip_default_ttl': '64',
  'net.ipv4.ip_no_pmtu_disc': '0',
  'net.ipv4.tcp_keepalive_time': '7200',
  'net.ipv4.tcp_keepalive_intvl': '75',
  'net.ipv4.tcp_keepalive_probes': '9',
  'net.ipv4.ip_nonlocal_bind': '0',
  'net.ipv4.tcp_syncookies': '1',
  'net.ipv6.bindv6only': '0',
  'net.ipv6.conf.all.hop_limit': '64',
  'net.ipv4.ip_local_port_range': '32768 60999',
  'net.ipv4.tcp_fin_timeout': '60',
  'net.ipv4.tcp_notsent_lowat': '4294967295',
};

export function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Kernel HZ from the build config (socket timeouts are stored in jiffies). */
export function kernelHz(): number | undefined {
  const fromText = (text: string): number | undefined => {
    const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  if (existsSync('/proc/config.gz')) {
    const hz = fromText(gunzipSync(readFileSync('/proc/config.gz')).toString('utf8'));
    if (hz) return hz;
  }
  const boot = `/boot/config-${sh('uname', '-r').trim()}`;
  return existsSync(boot) ? fromText(readFileSync(boot, 'utf8')) : undefined;
}

export interface ConformanceNs {
  name: string;
  /** The values {"$env": name} patterns read. */
  env: Record<string, number>;
  /** argv prefix that runs a command inside the namespace. */
  exec: string[];
}

/** Creates the namespace, runs `fn`, deletes the namespace whatever happens. */
export async function withConformanceNs<T>(suffix: string, fn: (ns: ConformanceNs) => Promise<T> | T): Promise<T> {
  const hz = kernelHz();
  if (!hz) throw new Error('cannot read CONFIG_HZ from /proc/config.gz or /boot/config-*');
  const name = `moat-conf-${process.pid}-${suffix}`;
  sh('ip', 'netns', 'add', name);
  try {
    const inNs = (...args: string[]): string => sh('ip', 'netns', 'exec', name, ...args);
    inNs('ip', 'link', 'set', 'lo', 'up');
    // moat-cv0 carries 10.213.6.1/24; its veth peer is up with no address, so frames to the
    // permanent (made-up) neighbour MAC of 10.213.6.99 are dropped there as not its own. No ARP
    // runs, so no "host unreachable" ever replaces a timeout.
    inNs('ip', 'link', 'add', 'moat-cv0', 'type', 'veth', 'peer', 'name', 'moat-cv1');
    inNs('ip', 'addr', 'add', '10.213.6.1/24', 'dev', 'moat-cv0');
    inNs('ip', 'link', 'set', 'moat-cv0', 'up');
    inNs('ip', 'link', 'set', 'moat-cv1', 'up');
    inNs('ip', 'neigh', 'add', '10.213.6.99', 'lladdr', '02:00:00:00:00:99', 'dev', 'moat-cv0', 'nud', 'permanent');
    for (const [k, v] of Object.entries(PINNED_SYSCTLS)) inNs('sysctl', '-q', '-w', `${k}=${v}`);
    const readSys = (k: string): number => Number(inNs('cat', `/proc/sys/${k.replace(/\./g, '/')}`).trim());
    const env: Record<string, number> = {
      wmem_max: readSys('net.core.wmem_max'), rmem_max: readSys('net.core.rmem_max'),
      wmem_default: readSys('net.core.wmem_default'), rmem_default: readSys('net.core.rmem_default'),
      hz, usec_per_jiffy: 1_000_000 / hz,
    };
    return await fn({ name, env, exec: ['ip', 'netns', 'exec', name] });
  } finally {
    try {
      sh('ip', 'netns', 'del', name);
    } catch {
      // already gone
    }
  }
}
