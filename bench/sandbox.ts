// `moat run` against the stacks it competes with, on this machine, in one run (issue #7), root only:
//  - iperf3 single stream, a guest client to a server in the peer namespace, up and down (-R):
//    moat run (its userspace stack on an AF_PACKET veth), the Linux kernel (the same iperf3 in a
//    plain namespace over a veth), slirp4netns, pasta and gVisor runsc (netstack on a veth, ptrace
//    platform), each run the way ../shared/tools/peer-stacks-bench.sh runs it here;
//  - wrk (2 threads, 50 connections) in the peer namespace against nginx serving a 612 B file as a
//    guest of moat run, and as a plain process in a namespace (the kernel): keep-alive, and one TCP
//    connection per request ('Connection: close');
//  - connect() latency: a guest doing sequential TCP connects to a listener in the peer namespace
//    (python3, perf_counter_ns around connect() only), mean / p50 / p99 in µs, against the kernel.
// iperf3 rows also give the stack process's CPU (% of one core over the guest command's life: the
// moat run process, start-up included; slirp4netns; pasta; the runsc sandbox process without its
// ptrace stubs); the kernel's work is softirq time, in no process.
// Every namespace is moat-bs<pid>-*, created here and deleted at the end (also after a failure);
// every address lives only in them (10.213.130-134.0/24). Every load command is bounded in time and
// the whole module by DEADLINE_S; a system that cannot run here gets a row that says why. The
// background CPU (other work on the machine, % of one core, sampled for 0.3 s before each test)
// is in each row's note, because the machine is shared.
// Run alone: node dist/bench/sandbox.js   (or: npm run bench -- sandbox)

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, createVethPair, deleteNetns, disableIpv6, ip, setLinkUp } from '../src/net-plumbing/netns.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

const DUR = 5; // seconds of each iperf3 / wrk test
const CONNECTS = 1000; // measured connects per system (after WARMUP)
const WARMUP = 20;
const DEADLINE_S = 240; // the whole module; later tests are skipped (and say so) past it
const WRK = ['-t2', '-c50', `-d${DUR}s`, '--timeout', '2s'];
const PY = '/usr/bin/python3'; // not a PATH shim: the same interpreter in every namespace and guest

const here = dirname(fileURLToPath(import.meta.url));
const RUN_JS = join(here, '..', 'src', 'cli', 'run.js');

// ------------------------------------------------------------------ processes

interface Proc {
  child: ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();

function start(argv: readonly string[]): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const p: Proc = { child, out: '', err: '', exited: Promise.resolve(null) };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (p.out = (p.out + d).slice(-200_000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.err = (p.err + d).slice(-20_000)));
  p.exited = new Promise((resolve) => {
    child.on('error', (e) => {
      p.err += String(e);
      live.delete(child);
      resolve(-1);
    });
    child.on('exit', (code, sig) => {
      live.delete(child);
      resolve(code ?? (sig ? 128 : null));
    });
  });
  return p;
}

/** Stops one process we started: SIGTERM (moat run forwards it to its guest), SIGKILL after graceMs. */
async function stop(p: Proc, graceMs = 3000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = await Promise.race([p.exited.then(() => 'done'), sleep(graceMs).then(() => 'late')]);
  if (t === 'late') {
    p.child.kill('SIGKILL');
    await Promise.race([p.exited, sleep(2000)]);
  }
}

/** Runs argv to completion, or stops it after timeoutMs. */
async function runFor(argv: readonly string[], timeoutMs: number, onStart?: (p: Proc) => void): Promise<{ code: number | null; out: string; err: string; timedOut: boolean }> {
  const p = start(argv);
  onStart?.(p);
  const r = await Promise.race([p.exited.then((c) => ({ c, timedOut: false })), sleep(timeoutMs).then(() => ({ c: null, timedOut: true }))]);
  if (r.timedOut) await stop(p);
  return { code: r.c, out: p.out, err: p.err, timedOut: r.timedOut };
}

/** utime + stime of one process (not of its reaped children), in seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
  } catch {
    return undefined;
  }
}

/** Samples a stack process's CPU while a test runs; stop() gives % of one core (undefined: unknown). */
function cpuSampler(pid: number | undefined): { stop(): number | undefined } {
  if (!pid) return { stop: () => undefined };
  const t0 = performance.now();
  const first = cpuSeconds(pid);
  let last = first;
  let tLast = t0;
  const sample = () => {
    const c = cpuSeconds(pid);
    if (c !== undefined) {
      last = c;
      tLast = performance.now();
    }
  };
  const timer = setInterval(sample, 200);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      if (first === undefined || last === undefined || tLast <= t0) return undefined;
      return Math.round((100 * (last - first)) / ((tLast - t0) / 1000));
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: () => boolean | Promise<boolean>, ms: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await sleep(stepMs);
  }
  return what();
}

function have(cmd: string): boolean {
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin'].some((d) => existsSync(join(d, cmd)));
}

const inNs = (ns: string, ...argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];

/** Other load on this (shared) machine: % of one core busy over 0.3 s, while no test runs. */
async function backgroundCpu(): Promise<number> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + f[4]!;
    const total = f.reduce((a, b) => a + b, 0);
    return { idle, total };
  };
  const a = read();
  await sleep(300);
  const b = read();
  const ncpu = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length || 1;
  const dt = b.total - a.total;
  return dt > 0 ? Math.round((100 * ncpu * (dt - (b.idle - a.idle))) / dt) : 0;
}

let quietBudgetMs = 30_000;

/**
 * The background load before a test, after waiting (at most 5 s per test, 30 s per run) for it to
 * fall below half a core: other work on a shared machine skews every number, so it is reported.
 */
async function quietThenBackground(): Promise<number> {
  const t0 = Date.now();
  let bg = await backgroundCpu();
  while (bg > 50 && Date.now() - t0 < 5000 && quietBudgetMs - (Date.now() - t0) > 0) bg = await backgroundCpu();
  quietBudgetMs -= Date.now() - t0;
  return bg;
}

// ------------------------------------------------------------------ measures

interface Result {
  value: number; // NaN when it did not run
  note: string;
}

function iperfResult(text: string, code: number | null, timedOut: boolean): Result {
  const i = text.indexOf('{');
  const j = text.lastIndexOf('}');
  if (i < 0 || j < i) return { value: NaN, note: `no iperf3 JSON (${timedOut ? 'timed out' : `exit ${code}`}): ${oneLine(text).slice(-160)}` };
  try {
    const d = JSON.parse(text.slice(i, j + 1)) as {
      error?: string;
      intervals?: { sum: { bytes: number; seconds: number } }[];
      end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } };
    };
    if (d.error) return { value: NaN, note: `iperf3: ${d.error.slice(0, 120)}` };
    const r = d.end?.sum_received?.bits_per_second;
    if (r === undefined) return { value: NaN, note: 'iperf3 JSON without end.sum_received' };
    const retr = d.end?.sum_sent?.retransmits;
    return { value: r / 1e9, note: retr === undefined ? '' : `retr ${retr}` };
  } catch (e) {
    return { value: NaN, note: `iperf3 JSON unreadable: ${String(e).slice(0, 80)}` };
  }
}

function wrkResult(text: string, code: number | null, timedOut: boolean): Result {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!m) return { value: NaN, note: `wrk: ${timedOut ? 'timed out' : `exit ${code}`}: ${oneLine(text).slice(-160)}` };
  const notes: string[] = [];
  const total = /(\d+) requests in ([\d.]+)s/.exec(text);
  if (total) notes.push(`${total[1]} requests`);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (se) notes.push(`socket errors c${se[1]}/r${se[2]}/w${se[3]}/timeout ${se[4]}`);
  const n2 = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (n2) notes.push(`non-2xx ${n2[1]}`);
  return { value: Number(m[1]), note: notes.join(', ') };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The connect-latency client (python3: the same interpreter cost for every system). */
const CONNECT_CLIENT = `
import socket, sys, time, json
host, port, n, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lat = []; errs = 0; end = time.monotonic() + 25
for i in range(n + warm):
    if time.monotonic() > end: break
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    t0 = time.perf_counter_ns()
    try:
        s.connect((host, port))
        t1 = time.perf_counter_ns()
        if i >= warm: lat.append((t1 - t0) / 1000)
    except OSError:
        errs += 1
    s.close()
lat.sort()
if not lat: print(json.dumps({"n": 0, "errors": errs})); sys.exit(1)
print(json.dumps({"n": len(lat), "errors": errs, "mean": sum(lat) / len(lat), "p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))]}))
`;

/** Accepts and closes, for the connect test (bounded: exits after 120 s). */
const CONNECT_SERVER = `
import socket, sys, signal
signal.alarm(120)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(4096)
print("ready", flush=True)
while True:
    c, a = l.accept(); c.close()
`;

interface ConnectResult {
  mean: number;
  p50: number;
  p99: number;
  note: string;
}

function connectResult(text: string, code: number | null, timedOut: boolean): ConnectResult {
  const line = text.split('\n').find((l) => l.startsWith('{'));
  if (!line) return { mean: NaN, p50: NaN, p99: NaN, note: `client ${timedOut ? 'timed out' : `exit ${code}`}: ${oneLine(text).slice(-160)}` };
  const d = JSON.parse(line) as { n: number; errors: number; mean?: number; p50?: number; p99?: number };
  if (!d.n) return { mean: NaN, p50: NaN, p99: NaN, note: `no connect succeeded (${d.errors} errors)` };
  return { mean: d.mean!, p50: d.p50!, p99: d.p99!, note: `${d.n} connects${d.errors ? `, ${d.errors} failed` : ''}` };
}

// ------------------------------------------------------------------ the bench

export async function benchSandbox(): Promise<BenchRow[]> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    process.stderr.write('[bench] sandbox: needs root (namespaces, veth, AF_PACKET, seccomp); skipped\n');
    return [];
  }
  const t0 = Date.now();
  const timeLeft = () => (Date.now() - t0) / 1000 < DEADLINE_S;
  const id = `bs${process.pid}`;
  const NS = { srv: `moat-${id}-srv`, dut: `moat-${id}-dut`, lx: `moat-${id}-lx`, slirp: `moat-${id}-slirp`, pasta: `moat-${id}-pasta`, gv: `moat-${id}-gv` };
  const ifn = (x: string) => `m${id}${x}`.slice(0, 15);
  // srv (the Linux peer: servers, wrk) <-> dut (moat's AF_PACKET end), lx (kernel; host side of slirp/pasta), gv (gVisor's veth)
  const A = {
    srvMoat: '10.213.130.1', moat: '10.213.130.2',
    srvLx: '10.213.131.1', lx: '10.213.131.2',
    srvGv: '10.213.132.1', gv: '10.213.132.2',
  };
  const work = mkdtempSync(join(tmpdir(), 'moat-bench-sandbox-'));
  const made: string[] = [];
  const rows: BenchRow[] = [];
  const skipped: string[] = [];
  const runscRoot = join(work, 'runsc-root');
  let gvContainer: string | null = null;
  let port = 5300;

  try {
    if (!existsSync(RUN_JS)) throw new Error(`${RUN_JS} missing: npm run build first`);
    for (const t of ['iperf3', 'python3', 'ss']) if (!have(t)) throw new Error(`${t} is not installed (apt-get install ${t})`);
    for (const ns of Object.values(NS)) {
      await createNetns(ns);
      made.push(ns);
    }
    await disableIpv6(NS.dut);
    await createVethPair(ifn('s0'), ifn('d0'), { netnsA: NS.srv, netnsB: NS.dut });
    await createVethPair(ifn('s1'), ifn('l0'), { netnsA: NS.srv, netnsB: NS.lx });
    await createVethPair(ifn('s2'), ifn('g0'), { netnsA: NS.srv, netnsB: NS.gv });
    await ip(['address', 'add', `${A.srvMoat}/24`, 'dev', ifn('s0')], { netns: NS.srv });
    await ip(['address', 'add', `${A.srvLx}/24`, 'dev', ifn('s1')], { netns: NS.srv });
    await ip(['address', 'add', `${A.srvGv}/24`, 'dev', ifn('s2')], { netns: NS.srv });
    await ip(['address', 'add', `${A.lx}/24`, 'dev', ifn('l0')], { netns: NS.lx });
    await ip(['address', 'add', `${A.gv}/24`, 'dev', ifn('g0')], { netns: NS.gv });
    for (const [ns, i] of [[NS.srv, 's0'], [NS.srv, 's1'], [NS.srv, 's2'], [NS.dut, 'd0'], [NS.lx, 'l0'], [NS.gv, 'g0']] as const) await setLinkUp(ifn(i), { netns: ns });
    // ns-srv never forwards: nothing here has a way out. lx's default route (to srv) is what
    // pasta wants to see before it starts ("no external routable interface" otherwise).
    await ip(['route', 'add', 'default', 'via', A.srvLx], { netns: NS.lx });
    await runFor(inNs(NS.srv, 'sysctl', '-qw', 'net.ipv4.ip_forward=0'), 5000);

    // moat run's guest, through run() of src/cli/run.ts (the code `moat run` calls), in its own process.
    const policyFile = join(work, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ inbound: 'allow' })); // moat run's default drops new inbound connections
    const launcher = `const [runJs, spec, ...cmd] = process.argv.slice(1); const { run } = await import(runJs); process.exitCode = await run(cmd, JSON.parse(spec));`;
    const moatRun = (...cmd: string[]) => [
      process.execPath, '--input-type=module', '-e', launcher, RUN_JS,
      JSON.stringify({ link: { kind: 'packet', ifname: ifn('d0'), netns: NS.dut }, ip: [`${A.moat}/24`], policy: policyFile }),
      ...cmd,
    ];

    // ---------------------------------------------------------- iperf3
    interface System {
      name: string;
      /** Prefix that runs a command as a guest of this system; null: not available (why in `why`). */
      runner: string[] | null;
      server: string; // the iperf3 server's address as this system reaches it
      why?: string;
      setup?: () => Promise<string | null>; // error text, or null
      teardown?: () => Promise<void>;
      checkPeer?: boolean;
      /** The process that is the stack (its CPU is reported), given the guest command's process. */
      stackPid?: (guest: Proc) => number | undefined;
    }
    let gvSandboxPid: number | undefined;
    const stackProcs: Proc[] = [];
    const systems: System[] = [
      { name: 'Linux kernel (veth)', runner: inNs(NS.lx), server: A.srvLx },
      { name: 'moat run', runner: moatRun(), server: A.srvMoat, checkPeer: true, stackPid: (g) => g.child.pid },
      {
        name: 'slirp4netns',
        runner: inNs(NS.slirp),
        server: A.srvLx,
        stackPid: () => stackProcs[0]?.child.pid,
        setup: async () => {
          if (!have('slirp4netns')) return 'slirp4netns is not installed (apt-get install slirp4netns)';
          const p = start(inNs(NS.lx, 'slirp4netns', '--configure', '--mtu=1500', '--cidr=10.213.133.0/24', '--disable-host-loopback', '--netns-type=path', `/var/run/netns/${NS.slirp}`, 'tap0'));
          stackProcs.push(p);
          const ok = await waitFor(async () => (await ip(['-4', 'addr', 'show', 'tap0'], { netns: NS.slirp }).catch(() => '')).includes('inet'), 5000, 100);
          return ok ? null : `slirp4netns did not configure tap0 within 5 s: ${oneLine(p.err).slice(-160)}`;
        },
        teardown: async () => {
          for (const p of stackProcs.splice(0)) await stop(p);
        },
      },
      {
        name: 'pasta',
        runner: inNs(NS.pasta),
        server: A.srvLx,
        stackPid: () => stackProcs[0]?.child.pid,
        setup: async () => {
          if (!have('pasta')) return 'pasta is not installed (apt-get install passt)';
          // --runas 0: as root pasta otherwise drops to nobody and cannot enter the namespaces.
          const p = start(inNs(NS.lx, 'pasta', '-f', '-q', '-4', '--runas', '0', '--config-net', '-I', 'tap0', '-a', '10.213.134.2', '-n', '24', '-g', '10.213.134.1', '--no-map-gw',
            '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--netns', `/var/run/netns/${NS.pasta}`));
          stackProcs.push(p);
          const ok = await waitFor(async () => (await ip(['-4', 'addr', 'show', 'tap0'], { netns: NS.pasta }).catch(() => '')).includes('inet'), 5000, 100);
          return ok ? null : `pasta did not configure tap0 within 5 s: ${oneLine(p.err).slice(-160)}`;
        },
        teardown: async () => {
          for (const p of stackProcs.splice(0)) await stop(p);
        },
      },
      {
        name: 'gVisor runsc (netstack)',
        runner: null,
        server: A.srvGv,
        stackPid: () => gvSandboxPid,
        setup: async () => {
          if (!have('runsc')) return 'runsc is not installed (apt-get install runsc)';
          const cid = `moat-${id}`;
          const bundle = join(work, 'gv-bundle');
          writeGvisorSpec(bundle, `/var/run/netns/${NS.gv}`, DUR * 4 + 60);
          mkdirSync(runscRoot, { recursive: true });
          // runsc 20221219 thinks it is in the root netns when /proc/sys/net/core/rmem_default exists,
          // which it does in every netns since Linux 6.x: an empty tmpfs over it, in a private mount
          // namespace, hides it (as peer-stacks-bench.sh does).
          const r = await runFor(inNs(NS.gv, 'unshare', '-m', '--propagation', 'private', 'sh', '-c',
            `mount -t tmpfs none /proc/sys/net/core && exec runsc --root '${runscRoot}' --platform=ptrace --network=sandbox --ignore-cgroups run -detach -bundle '${bundle}' ${cid}`), 30_000);
          gvContainer = cid;
          const st = await runFor(inNs(NS.gv, 'runsc', '--root', runscRoot, 'state', cid), 10_000);
          if (!st.out.includes('"running"')) return `runsc run failed: ${oneLine(r.out + r.err + st.err).slice(-200)}`;
          const pid = /"pid":\s*(\d+)/.exec(st.out)?.[1];
          gvSandboxPid = pid ? Number(pid) : undefined;
          systems.find((s) => s.name.startsWith('gVisor'))!.runner = inNs(NS.gv, 'runsc', '--root', runscRoot, 'exec', cid);
          return null;
        },
        teardown: async () => {
          if (gvContainer) await destroyGvisor(NS.gv, runscRoot, gvContainer);
          gvContainer = null;
        },
      },
    ];

    const iperf = new Map<string, { up: Result; down: Result }>();
    for (const sys of systems) {
      const res = { up: { value: NaN, note: '' } as Result, down: { value: NaN, note: '' } as Result };
      iperf.set(sys.name, res);
      if (!timeLeft()) {
        res.up.note = res.down.note = `skipped: bench deadline (${DEADLINE_S} s) reached`;
        continue;
      }
      const why = sys.setup ? await sys.setup().catch((e: unknown) => `setup failed: ${String(e)}`) : null;
      if (why || !sys.runner) {
        res.up.note = res.down.note = `not measured: ${why ?? sys.why ?? 'no runner'}`;
        skipped.push(`${sys.name}: ${why}`);
        await sys.teardown?.().catch(() => {});
        continue;
      }
      try {
        for (const dir of ['up', 'down'] as const) {
          if (!timeLeft()) {
            res[dir].note = 'skipped: bench deadline reached';
            continue;
          }
          // A fresh one-off server per test: a run that leaves the peer's control connection open
          // (see checkPeer) cannot make the next one "busy".
          const p = port++;
          const srv = start(inNs(NS.srv, 'iperf3', '-s', '-1', '-p', String(p)));
          await waitFor(async () => (await runFor(inNs(NS.srv, 'ss', '-Htln', `( sport = :${p} )`), 3000)).out.includes(`:${p}`), 5000, 100);
          const bg = await quietThenBackground();
          let cpu: { stop(): number | undefined } = { stop: () => undefined };
          const r = await runFor([...sys.runner, 'iperf3', '-c', sys.server, '-p', String(p), '-t', String(DUR), '-J', '--connect-timeout', '3000', ...(dir === 'down' ? ['-R'] : [])], (DUR + 25) * 1000, (g) => {
            cpu = cpuSampler(sys.stackPid?.(g));
          });
          const stackCpu = cpu.stop();
          const m = iperfResult(r.out, r.code, r.timedOut);
          const notes = [m.note, stackCpu === undefined ? '' : `stack process CPU ${stackCpu}% of a core`, `bg ${bg}%`];
          if (Number.isNaN(m.value) && r.err) notes.push(oneLine(r.err).slice(-160));
          if (sys.checkPeer) {
            // Connections of this test the peer still holds open one second after the guest exited.
            await sleep(1000);
            const ss = await runFor(inNs(NS.srv, 'ss', '-Htan', `( sport = :${p} )`), 5000);
            const open = ss.out.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((s) => s && s !== 'LISTEN' && s !== 'TIME-WAIT');
            if (open.length) notes.push(`peer left with ${open.join('/')} after the guest exited`);
          }
          res[dir] = { value: m.value, note: notes.filter(Boolean).join('; ') };
          await stop(srv, 500);
          process.stderr.write(`[bench] sandbox: ${sys.name} iperf3 ${dir}: ${m.value.toFixed(2)} Gbit/s ${res[dir].note}\n`);
        }
      } finally {
        await sys.teardown?.().catch(() => {});
      }
    }
    const kIperf = iperf.get('Linux kernel (veth)')!;
    const mIperf = iperf.get('moat run')!;
    for (const dir of ['up', 'down'] as const) {
      const label = dir === 'up' ? 'iperf3 guest → peer' : 'iperf3 peer → guest (-R)';
      rows.push(throughputRow(`${label}: moat run`, mIperf[dir], 'Linux kernel (veth)', kIperf[dir]));
      for (const peer of systems.slice(2)) {
        const p = iperf.get(peer.name)![dir];
        rows.push(throughputRow(`${label}: moat run vs ${peer.name}`, mIperf[dir], peer.name, p));
      }
    }

    // ---------------------------------------------------------- wrk against nginx as a guest
    const haveWrk = have('wrk');
    const haveNginx = have('nginx');
    if (!haveWrk || !haveNginx || !timeLeft()) {
      const why = !haveWrk ? 'wrk is not installed (apt-get install wrk)' : !haveNginx ? 'nginx is not installed (apt-get install nginx-light)' : `bench deadline (${DEADLINE_S} s) reached`;
      rows.push({ name: 'HTTP keep-alive, nginx under moat run', value: NaN, unit: 'req/s', note: `not measured: ${why}` });
      rows.push({ name: 'HTTP Connection: close, nginx under moat run', value: NaN, unit: 'req/s', note: `not measured: ${why}` });
      skipped.push(`wrk/nginx: ${why}`);
    } else {
      const www = join(work, 'www');
      mkdirSync(join(work, 'tmp'), { recursive: true });
      mkdirSync(www, { recursive: true });
      writeFileSync(join(www, 'index.html'), Buffer.alloc(612, 0x61)); // 612 B, as nginx's default page
      const conf = (name: string) => {
        const f = join(work, `nginx-${name}.conf`);
        // One process (no master), in the foreground, as root (the guest has no capabilities: no chown to nobody).
        writeFileSync(f, `user root root; daemon off; master_process off; worker_processes 1;
pid ${work}/nginx-${name}.pid;
error_log ${work}/nginx-${name}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 65;
  client_body_temp_path ${work}/tmp; proxy_temp_path ${work}/tmp; fastcgi_temp_path ${work}/tmp;
  uwsgi_temp_path ${work}/tmp; scgi_temp_path ${work}/tmp;
  server { listen 80 backlog=4096; root ${www}; location / { } }
}
`);
        return f;
      };
      const http = new Map<string, { ka: Result; close: Result }>();
      for (const [name, runner, addr] of [['kernel', inNs(NS.lx), A.lx], ['moat', moatRun(), A.moat]] as const) {
        const res = { ka: { value: NaN, note: '' } as Result, close: { value: NaN, note: '' } as Result };
        http.set(name, res);
        const srv = start([...runner, 'nginx', '-c', conf(name)]);
        try {
          // Listening = a TCP connect from the peer succeeds (a request could stall: see the report).
          const up = await waitFor(async () => (await runFor(inNs(NS.srv, PY, '-c', `import socket; socket.create_connection(("${addr}", 80), 0.5).close()`), 3000)).code === 0, 10_000, 200);
          if (!up) {
            res.ka.note = res.close.note = `nginx did not listen within 10 s: ${oneLine(srv.err + readTail(join(work, `nginx-${name}-error.log`))).slice(-200)}`;
            continue;
          }
          for (const kind of ['ka', 'close'] as const) {
            const bg = await quietThenBackground();
            // moat: the moat run process (stack, pumps, supervisor; nginx is its child); kernel: nginx.
            const cpu = cpuSampler(srv.child.pid);
            const r = await runFor(inNs(NS.srv, 'wrk', ...WRK, ...(kind === 'close' ? ['-H', 'Connection: close'] : []), `http://${addr}/index.html`), (DUR + 15) * 1000);
            const c = cpu.stop();
            const m = wrkResult(r.out + r.err, r.code, r.timedOut);
            const who = name === 'moat' ? 'moat run process' : 'nginx process';
            res[kind] = { value: m.value, note: [m.note, c === undefined ? '' : `${who} CPU ${c}% of a core`, `bg ${bg}%`].filter(Boolean).join('; ') };
            process.stderr.write(`[bench] sandbox: nginx ${name} wrk ${kind}: ${m.value} req/s ${res[kind].note}\n`);
          }
        } finally {
          await stop(srv);
        }
      }
      const k = http.get('kernel')!;
      const m = http.get('moat')!;
      rows.push(reqRow('HTTP keep-alive (wrk -t2 -c50), nginx under moat run', m.ka, 'nginx, Linux kernel', k.ka));
      rows.push(reqRow("HTTP 'Connection: close' (new TCP connection per request), nginx under moat run", m.close, 'nginx, Linux kernel', k.close));
    }

    // ---------------------------------------------------------- connect() latency
    if (!timeLeft()) {
      rows.push({ name: 'connect() latency, moat run', value: NaN, unit: 'µs', note: `not measured: bench deadline (${DEADLINE_S} s) reached` });
    } else {
      const p = port++;
      const listener = start(inNs(NS.srv, PY, '-c', CONNECT_SERVER, String(p)));
      try {
        await waitFor(() => listener.out.includes('ready'), 5000);
        const lat = new Map<string, ConnectResult>();
        for (const [name, runner, addr] of [['kernel', inNs(NS.lx), A.srvLx], ['moat', moatRun(), A.srvMoat]] as const) {
          const bg = await quietThenBackground();
          const r = await runFor([...runner, PY, '-c', CONNECT_CLIENT, addr, String(p), String(CONNECTS), String(WARMUP)], 40_000);
          const c = connectResult(r.out, r.code, r.timedOut);
          c.note = [c.note, `bg ${bg}%`, Number.isNaN(c.mean) ? oneLine(r.err).slice(-160) : ''].filter(Boolean).join('; ');
          lat.set(name, c);
          process.stderr.write(`[bench] sandbox: connect ${name}: mean ${c.mean.toFixed(0)} µs p99 ${c.p99.toFixed(0)} µs ${c.note}\n`);
        }
        const k = lat.get('kernel')!;
        const m = lat.get('moat')!;
        for (const stat of ['mean', 'p50', 'p99'] as const) {
          rows.push({
            name: `connect() latency ${stat}, guest → peer listener, moat run`,
            value: m[stat],
            unit: 'µs',
            baseline: Number.isNaN(k[stat]) ? undefined : { name: 'Linux kernel (veth)', value: k[stat] },
            note: stat === 'mean' ? `moat: ${m.note}; kernel: ${k.note}` : undefined,
          });
        }
      } finally {
        await stop(listener, 500);
      }
    }
    rows.push({ name: 'sandbox bench wall time', value: (Date.now() - t0) / 1000, unit: 's', note: skipped.length ? `not measured: ${skipped.join('; ')}` : undefined });
  } finally {
    if (gvContainer) await destroyGvisor(NS.gv, runscRoot, gvContainer).catch(() => {});
    for (const c of [...live]) c.kill('SIGKILL');
    for (const ns of made.reverse()) await deleteNetns(ns).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

function throughputRow(name: string, moat: Result, baseName: string, base: Result): BenchRow {
  return {
    name,
    value: moat.value,
    unit: 'Gbit/s',
    baseline: Number.isNaN(base.value) ? undefined : { name: baseName, value: base.value },
    note: [moat.note && `moat: ${moat.note}`, `${baseName}: ${Number.isNaN(base.value) ? '' : base.value.toFixed(2) + ' Gbit/s, '}${base.note}`].filter(Boolean).join('; '),
  };
}

function reqRow(name: string, moat: Result, baseName: string, base: Result): BenchRow {
  return {
    name,
    value: moat.value,
    unit: 'req/s',
    baseline: Number.isNaN(base.value) ? undefined : { name: baseName, value: base.value },
    note: `moat: ${moat.note}; kernel: ${base.note}`,
  };
}

function readTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-300);
  } catch {
    return '';
  }
}

/** An OCI bundle whose rootfs is the host's / (read-only), in the given netns, sleeping `life` s. */
function writeGvisorSpec(bundle: string, netnsPath: string, life: number): void {
  mkdirSync(bundle, { recursive: true });
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
  const spec = {
    ociVersion: '1.0.0',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['/bin/sleep', String(life)],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/tmp'],
      cwd: '/tmp',
      terminal: false,
      capabilities: { bounding: caps, effective: caps, inheritable: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 65536, soft: 65536 }],
    },
    root: { path: '/', readonly: true },
    hostname: 'moat-bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: netnsPath }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
  };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 1));
}

async function destroyGvisor(ns: string, root: string, cid: string): Promise<void> {
  const st = await runFor(inNs(ns, 'runsc', '--root', root, 'state', cid), 10_000);
  const pid = /"pid":\s*(\d+)/.exec(st.out)?.[1];
  await runFor(inNs(ns, 'runsc', '--root', root, 'kill', cid, 'KILL'), 10_000);
  await sleep(300);
  await runFor(inNs(ns, 'runsc', '--root', root, 'delete', '-force', cid), 10_000);
  // The sandbox process runsc started for this container, if it outlived delete.
  if (pid) {
    try {
      process.kill(Number(pid), 0);
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// Run directly: node dist/bench/sandbox.js
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const rows = await benchSandbox();
  for (const r of rows) {
    const ratio = r.baseline && r.baseline.value ? ` (${(r.value / r.baseline.value).toFixed(2)}x of ${r.baseline.name} ${r.baseline.value.toFixed(2)})` : '';
    process.stdout.write(`${r.name}: ${r.value.toFixed(2)} ${r.unit}${ratio}${r.note ? ` — ${r.note}` : ''}\n`);
  }
}
