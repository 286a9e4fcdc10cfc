// Runs the conformance table on real Linux sockets, inside a network namespace this test creates
// (loopback up, a dummy interface where packets vanish, sysctls pinned), and asserts that Linux
// gives every result the table expects: the table is a statement about Linux, checked here on
// the running kernel, before moat is held to it.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { privilegedTest } from '../../helpers/privileged.js';
import { buildTable } from './emit-table.js';
import { judgeCase } from './table.js';
import type { CaseOutcome } from './table.js';

// dist/test/kernel/conformance -> test/kernel/conformance (the .py is not compiled).
const here = dirname(fileURLToPath(import.meta.url));
const RUNNER = join(here, '..', '..', '..', '..', 'test', 'kernel', 'conformance', 'linux_runner.py');

/** Sysctls the expectations depend on, pinned in the namespace (all are per-namespace). */
export const PINNED_SYSCTLS: Record<string, string> = {
  'net.ipv4.tcp_syn_retries': '2',
  'net.ipv4.ping_group_range': '0 2147483647',
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
};

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Kernel HZ from the build config (timeouts are stored in jiffies). */
function kernelHz(): number | undefined {
  const tryText = (text: string): number | undefined => {
    const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  if (existsSync('/proc/config.gz')) {
    const hz = tryText(gunzipSync(readFileSync('/proc/config.gz')).toString('utf8'));
    if (hz) return hz;
  }
  const boot = `/boot/config-${sh('uname', '-r').trim()}`;
  return existsSync(boot) ? tryText(readFileSync(boot, 'utf8')) : undefined;
}

test('the table has at least 150 cases with unique names', (t) => {
  const { cases } = buildTable();
  t.true(cases.length >= 150, `only ${cases.length} cases`);
  const names = new Set(cases.map((c) => c.name));
  t.is(names.size, cases.length, 'duplicate case names');
});

privilegedTest('Linux agrees with every expectation of the socket conformance table', (t) => {
  t.timeout(180_000);
  const ns = `moat-conf-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'moat-conf-'));
  const hz = kernelHz();
  if (!hz) {
    t.fail('cannot read CONFIG_HZ from /proc/config.gz or /boot/config-*');
    return;
  }
  try {
    sh('ip', 'netns', 'add', ns);
    const inNs = (...args: string[]): string => sh('ip', 'netns', 'exec', ns, ...args);
    inNs('ip', 'link', 'set', 'lo', 'up');
    // A subnet whose packets go nowhere: SYNs to 10.213.6.99 are never answered (timeouts).
    // moat-cv0 carries 10.213.6.1/24; its veth peer is up with no address, so frames sent to
    // the permanent (made-up) neighbour MAC of 10.213.6.99 are dropped there as not its own.
    // No ARP runs, so no "host unreachable" ever replaces the timeout.
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

    const table = buildTable();
    const tablePath = join(dir, 'cases.json');
    writeFileSync(tablePath, JSON.stringify(table));
    const out = execFileSync('ip', ['netns', 'exec', ns, 'python3', RUNNER, tablePath], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 170_000 });
    const report = JSON.parse(out) as { kernel: string; constMismatches: Record<string, unknown>; cases: CaseOutcome[] };
    t.deepEqual(report.constMismatches, {}, 'socket-abi.ts constants differ from Python\'s socket module');
    t.is(report.cases.length, table.cases.length);

    const failures: string[] = [];
    report.cases.forEach((outcome, i) => {
      const problems = judgeCase(table.cases[i], outcome, env);
      if (problems.length) failures.push(`${outcome.name}\n    ${problems.join('\n    ')}`);
    });
    t.log(`kernel ${report.kernel}: ${table.cases.length - failures.length}/${table.cases.length} cases agree`);
    t.deepEqual(failures, [], `Linux disagrees with the table:\n${failures.join('\n')}`);
  } finally {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
