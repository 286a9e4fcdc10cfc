// `npm run bench`: runs every benchmark module that exists and prints one report.
// Speed and memory targets live here, never in timed test assertions. Comparisons (the Linux
// kernel, tcpdump, other userspace stacks) are measured in the same run, so ratios are honest
// on whatever machine runs them.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/net-plumbing/native.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared against, measured in the same run. */
  baseline?: { name: string; value: number };
  note?: string;
}

interface BenchModule {
  title: string;
  file: string; // compiled module beside this one
  fn: string; // exported async function name
  args?: () => unknown[];
}

const root = packageRoot();
const here = dirname(fileURLToPath(import.meta.url));

const MODULES: BenchModule[] = [
  { title: 'wire: decode + checksum verify', file: 'wire.js', fn: 'benchWire', args: () => [join(root, 'pcap-fixtures')] },
  { title: 'tcp: in-process stacks', file: 'tcp.js', fn: 'benchTcp' },
  { title: 'filter: rule engine', file: 'filter.js', fn: 'benchFilter' },
  { title: 'plumbing: veth/tap TCP vs Linux (root)', file: 'plumbing.js', fn: 'benchPlumbing' },
  { title: 'sandbox: moat run vs Linux, slirp4netns, pasta, gVisor (root)', file: 'sandbox.js', fn: 'benchSandbox' },
];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const lines: string[] = [`# moat benchmarks`, ``, `${new Date().toISOString()} · node ${process.version} · ${process.arch}`, ``];
  let failures = 0;
  for (const m of MODULES) {
    if (only.length && !only.some((o) => m.title.startsWith(o) || m.file.startsWith(o))) continue;
    const path = join(here, m.file);
    if (!existsSync(path)) {
      lines.push(`## ${m.title}`, ``, `not built (${m.file} missing)`, ``);
      continue;
    }
    process.stderr.write(`[bench] ${m.title} ...\n`);
    try {
      const mod = (await import(path)) as Record<string, (...a: unknown[]) => Promise<BenchRow[]>>;
      const rows = await mod[m.fn](...(m.args ? m.args() : []));
      lines.push(`## ${m.title}`, ``, `| measure | value | unit | baseline (same run) | ratio | note |`, `|---|---:|---|---|---:|---|`);
      for (const r of rows) {
        const base = r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)}` : '';
        const ratio = r.baseline && r.baseline.value ? `${(r.value / r.baseline.value).toFixed(2)}×` : '';
        lines.push(`| ${r.name} | ${fmt(r.value)} | ${r.unit} | ${base} | ${ratio} | ${r.note ?? ''} |`);
      }
      lines.push('');
    } catch (e) {
      failures++;
      lines.push(`## ${m.title}`, ``, `FAILED: ${e instanceof Error ? e.stack : String(e)}`, ``);
    }
  }
  const report = lines.join('\n');
  process.stdout.write(report + '\n');
  const outDir = join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.md'), report + '\n');
  process.stderr.write(`[bench] report written to bench/results/latest.md\n`);
  if (failures) process.exitCode = 1;
}

await main();
