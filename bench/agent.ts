// `moat agent` with real runc containers (root; apt-get install runc busybox-static iperf3):
//  - start-up: `runc run` of a container whose first socket call must be answered, with the agent
//    (NOTIFY profile, interface takeover, answer) and without (no seccomp section, the kernel
//    answers), median of several runs;
//  - memory: the agent's RSS and heap with 50 idle containers served at once, per container;
//  - iperf3 from a container to a peer namespace, without the agent, and with it once the sandbox
//    core (serveGuest) serves the calls; until then that row says why it is missing.
// Run: node dist/bench/agent.js  (or add { file: 'agent.js', fn: 'benchAgent' } to bench/run.ts).
// Traffic stays inside namespaces made here; every loop is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, resolveDefaultServe, type ServeFunction } from '../src/kernel/agent/index.js';
import { cleanup, containerOutput, have, inNetns, makeBundle, makeContainerNet, makeRootfs, RuntimeCli, tempDir, waitFor, withoutSeccomp } from '../test/agent/runc-harness.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function timeRuns(cli: RuntimeCli, bundle: string, idBase: string, runs: number, between: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id = `${idBase}${i}`;
    const t0 = performance.now();
    await cli.cmd(['run', '--bundle', bundle, id], 30_000);
    out.push(performance.now() - t0);
    await cli.delete(id);
    await between();
  }
  return out;
}

/** Adds read-only bind mounts of the host's /usr and /lib* so that iperf3 runs in the busybox rootfs. */
function withHostBinaries(bundle: string): void {
  const p = join(bundle, 'config.json');
  const c = JSON.parse(readFileSync(p, 'utf8')) as { mounts: unknown[]; process: { env: string[] } };
  for (const d of ['/usr', '/lib', '/lib64']) c.mounts.push({ destination: d, type: 'bind', source: d, options: ['rbind', 'ro'] });
  c.process.env = ['PATH=/bin:/usr/bin'];
  writeFileSync(p, JSON.stringify(c, null, 2));
}

export async function benchAgent(): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0) return [{ name: 'agent benchmarks', value: NaN, unit: '', note: 'needs root' }];
  if (!have('runc')) return [{ name: 'agent benchmarks', value: NaN, unit: '', note: 'runc not installed' }];
  const rows: BenchRow[] = [];
  const dir = tempDir('bench');
  const socketPath = join(dir, 'agent.sock');
  const log: string[] = [];
  const { serve, kind } = await resolveDefaultServe((l) => log.push(l));
  // Without a policy directory every container would get the fail-closed deny-all policy.
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'default.yaml'), 'default: allow\ninbound: allow\n');
  const agent = new Agent({ socketPath, policyDir: join(dir, 'policies'), serve: serve as ServeFunction, log: (l) => log.push(l) }).start();
  const cli = new RuntimeCli('runc', join(dir, 'state'));
  const rootfs = makeRootfs(dir);
  const tag = String(process.pid % 100000);
  const procs: ChildProcess[] = [];
  try {
    const only = process.env.MOAT_BENCH_AGENT_ONLY;
    // ---- start-up ----
    if (!only || only === 'startup') {
    const n = await makeContainerNet(`${tag}s`, 200);
    const script = `printf x | nc -w 2 ${n.peerIp} 9 2>/dev/null; true`;
    const withAgent = makeBundle(join(dir, 'b-agent'), rootfs, { args: ['sh', '-c', script], netnsPath: n.netnsPath, listenerPath: socketPath });
    const plain = makeBundle(join(dir, 'b-plain'), rootfs, { args: ['sh', '-c', script], netnsPath: n.netnsPath, listenerPath: socketPath });
    withoutSeccomp(plain);
    const RUNS = 9;
    const waitReleased = async () => {
      await waitFor(() => agent.networkList().length === 0, 'network released', 10_000);
    };
    const base = await timeRuns(cli, plain, `moat-b${tag}p`, RUNS, async () => {});
    const agentTimes = await timeRuns(cli, withAgent, `moat-b${tag}a`, RUNS, waitReleased);
    rows.push({
      name: 'container start-up to first answered socket call (runc run, median)',
      value: median(agentTimes),
      unit: 'ms',
      baseline: { name: 'without the agent', value: median(base) },
      note: `${RUNS} runs each; with: NOTIFY profile + interface takeover + answer (${kind}); without: no seccomp section`,
    });
    }

    // ---- memory with 50 idle containers ----
    if (!only || only === 'memory') {
    const N = 50;
    global.gc?.();
    const before = process.memoryUsage();
    const ids = Array.from({ length: N }, (_, i) => `moat-b${tag}m${i}`);
    const nets: Awaited<ReturnType<typeof makeContainerNet>>[] = [];
    for (let i = 0; i < N; i++) nets.push(await makeContainerNet(`${tag}m${i}`, i));
    const bundles = ids.map((_, i) =>
      makeBundle(join(dir, `m${i}`), rootfs, { args: ['sh', '-c', `printf x | nc -w 1 ${nets[i]!.peerIp} 9 2>&1; echo served; sleep 600`], netnsPath: nets[i]!.netnsPath, listenerPath: socketPath }),
    );
    const t0 = performance.now();
    await Promise.all(ids.map((id, i) => cli.runDetached(id, bundles[i]!)));
    await waitFor(() => bundles.every((b) => /served/.test(containerOutput(b))), `${N} containers served`, 120_000);
    const startAll = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    global.gc?.();
    const after = process.memoryUsage();
    rows.push({ name: `${N} containers started at once until each was served`, value: startAll, unit: 'ms', note: `${agent.networkList().length} networks up` });
    rows.push({ name: 'agent RSS per idle container', value: (after.rss - before.rss) / N / 1024, unit: 'KiB', note: `RSS ${(before.rss / 1048576).toFixed(0)} -> ${(after.rss / 1048576).toFixed(0)} MiB with ${N}; AF_PACKET ring 32 slots; kernel socket buffers not counted` });
    rows.push({ name: 'agent JS heap per idle container', value: (after.heapUsed - before.heapUsed) / N / 1024, unit: 'KiB', note: global.gc ? 'after gc' : 'run with --expose-gc for a cleaner figure' });
    rows.push({ name: 'agent external (Buffers, rings) per idle container', value: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / N / 1024, unit: 'KiB' });
    await Promise.all(ids.map((id) => cli.kill(id)));
    await waitFor(() => agent.networkList().length === 0, 'all released', 60_000);
    await Promise.all(ids.map((id) => cli.delete(id)));
    }

    // ---- iperf3 ----
    if (have('iperf3') && (!only || only === 'iperf3')) {
      const ni = await makeContainerNet(`${tag}i`, 201);
      const server = spawn('ip', ['netns', 'exec', ni.peer, 'iperf3', '-s', '-1', '-B', ni.peerIp], { stdio: 'ignore' });
      procs.push(server);
      await new Promise((r) => setTimeout(r, 500));
      const ib = makeBundle(join(dir, 'iperf'), rootfs, { args: ['iperf3', '-c', ni.peerIp, '-t', '3', '-J'], netnsPath: ni.netnsPath, listenerPath: socketPath });
      withHostBinaries(ib);
      withoutSeccomp(ib);
      const r = await cli.cmd(['run', '--bundle', ib, `moat-b${tag}i0`], 60_000).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
      await cli.delete(`moat-b${tag}i0`);
      let bps = NaN;
      try {
        bps = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
      } catch {
        /* reported as NaN */
      }
      rows.push({ name: 'iperf3 container -> peer, without the agent (kernel stack)', value: bps / 1e9, unit: 'Gbit/s', note: '3 s, 1 stream, veth' });
      if (kind === 'sandbox') {
        const server2 = spawn('ip', ['netns', 'exec', ni.peer, 'iperf3', '-s', '-1', '-B', ni.peerIp], { stdio: 'ignore' });
        procs.push(server2);
        await new Promise((res) => setTimeout(res, 500));
        const ib2 = makeBundle(join(dir, 'iperf2'), rootfs, { args: ['iperf3', '-c', ni.peerIp, '-t', '3', '-J'], netnsPath: ni.netnsPath, listenerPath: socketPath });
        withHostBinaries(ib2);
        const r2 = await cli.cmd(['run', '--bundle', ib2, `moat-b${tag}i1`], 60_000).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
        await cli.delete(`moat-b${tag}i1`);
        let bps2 = NaN;
        try {
          bps2 = (JSON.parse(r2.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
        } catch {
          /* NaN */
        }
        let why = '';
        if (!Number.isFinite(bps2)) {
          try {
            why = (JSON.parse(r2.stdout) as { error?: string }).error ?? '';
          } catch {
            why = r2.stdout.slice(0, 300);
          }
        }
        rows.push({ name: 'iperf3 container -> peer, with the agent (moat stack)', value: bps2 / 1e9, unit: 'Gbit/s', baseline: { name: 'without', value: bps / 1e9 }, ...(why ? { note: `iperf3: ${why}` } : {}) });
      } else {
        rows.push({ name: 'iperf3 container -> peer, with the agent', value: NaN, unit: 'Gbit/s', note: 'not measurable yet: the sandbox core (serveGuest) has not landed, so the agent answers socket calls with EPERM' });
      }
      const ping = await inNetns(ni.peer, ['true']);
      void ping;
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await agent.stop();
    await cleanup();
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchAgent();
  for (const r of rows) {
    const base = r.baseline ? ` (baseline ${r.baseline.name}: ${r.baseline.value.toFixed(2)})` : '';
    process.stdout.write(`${r.name}: ${Number.isFinite(r.value) ? r.value.toFixed(2) : 'n/a'} ${r.unit}${base}${r.note ? ` — ${r.note}` : ''}\n`);
  }
}
