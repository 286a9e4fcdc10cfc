// `moat script FILE.pkt...`: runs packetdrill-style scripts against an in-process moat stack in
// virtual time (src/kernel/script/), prints PASS/FAIL per script (on FAIL the first mismatch,
// expected versus actual, with its line), "N passed, M failed", and writes a pcap of each run.

import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PcapWriter } from '../net-plumbing/pcap/index.js';
import { formatFailure, parseScript, runScript, ScriptSyntaxError, type RunOptions, type RunResult } from '../kernel/script/index.js';

export interface ScriptCliOptions {
  pcapDir?: string;
  toleranceUsecs?: number;
  ipVersion?: 'ipv4' | 'ipv6';
  verbose?: boolean;
}

export interface ScriptFileResult {
  file: string;
  passed: boolean;
  text: string;
  pcap: string | null;
  result: RunResult | null;
}

/** Writes the frames of a run as a classic pcap (Ethernet, µs; virtual time from the epoch). */
export async function writeRunPcap(path: string, r: RunResult): Promise<void> {
  const w = new PcapWriter(path);
  for (const f of r.frames) w.writeFrame(BigInt(f.usecs) * 1000n, f.data);
  await w.close();
}

/** Runs one file; never throws for script problems (they are FAILs). */
export async function runScriptFile(file: string, opts: ScriptCliOptions, pcapDir: string): Promise<ScriptFileResult> {
  let src: string;
  try {
    src = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, passed: false, text: `FAIL ${file}\n  cannot read: ${(e as Error).message}`, pcap: null, result: null };
  }
  const ro: RunOptions = {};
  if (opts.toleranceUsecs !== undefined) ro.toleranceUsecs = opts.toleranceUsecs;
  if (opts.ipVersion) ro.ipVersion = opts.ipVersion === 'ipv6' ? 6 : 4;
  let r: RunResult;
  try {
    r = await runScript(parseScript(src, file), ro);
  } catch (e) {
    if (e instanceof ScriptSyntaxError) return { file, passed: false, text: `FAIL ${file}\n  ${e.message}`, pcap: null, result: null };
    throw e;
  }
  const pcap = join(pcapDir, `${basename(file).replace(/\.pkt$/, '')}.pcap`);
  await writeRunPcap(pcap, r);
  let text = r.passed ? `PASS ${file}` : `FAIL ${file}\n  ${formatFailure(r).replace(/\n/g, '\n  ')}`;
  if (opts.verbose && r.trailing.length) text += `\n  (unmatched packets after the last line: ${r.trailing.join('; ')})`;
  return { file, passed: r.passed, text, pcap, result: r };
}

export async function runScriptFiles(files: string[], opts: ScriptCliOptions, out: (line: string) => void): Promise<{ passed: number; failed: number; pcapDir: string }> {
  const pcapDir = opts.pcapDir ?? mkdtempSync(join(tmpdir(), 'moat-script-'));
  mkdirSync(pcapDir, { recursive: true });
  let passed = 0;
  let failed = 0;
  for (const f of files) {
    const r = await runScriptFile(f, opts, pcapDir);
    out(r.text);
    if (r.passed) passed++;
    else failed++;
  }
  out(`${passed} passed, ${failed} failed`);
  out(`pcaps in ${pcapDir}`);
  return { passed, failed, pcapDir };
}

export function registerScript(program: Command): void {
  program
    .command('script')
    .description('run packetdrill-style .pkt scripts against an in-process moat stack in virtual time')
    .argument('<files...>', '.pkt scripts')
    .option('--pcap-dir <dir>', 'where to write one pcap per script (default: a new temp dir, printed)')
    .option('--tolerance_usecs <n>', 'timing tolerance in microseconds (default 4000)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--tolerance_usecs takes a whole number >= 0');
      return n;
    })
    .option('--ip_version <v>', 'ipv4 or ipv6 (overrides the scripts)', (v) => {
      if (v !== 'ipv4' && v !== 'ipv6') throw new InvalidArgumentError('--ip_version takes ipv4 or ipv6');
      return v;
    })
    .option('-v, --verbose', 'also list packets sent after the last script line')
    .action(async (files: string[], o: { pcapDir?: string; tolerance_usecs?: number; ip_version?: 'ipv4' | 'ipv6'; verbose?: boolean }) => {
      const opts: ScriptCliOptions = { pcapDir: o.pcapDir, toleranceUsecs: o.tolerance_usecs, ipVersion: o.ip_version, verbose: o.verbose };
      const r = await runScriptFiles(files, opts, (l) => process.stdout.write(l + '\n'));
      if (r.failed > 0) process.exitCode = 1;
    });
}
