// `moat replay FILE.pcap --dut IP:PORT`: replays the recorded peer of a TCP conversation against
// moat's stack in process (src/kernel/script/replay.ts) and reports where moat's packets diverge
// from the recorded device's. Exit status 1 when anything diverges or the data is not intact.

import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { IpAddr } from '../netstack/index.js';
import { LinkType, readPcapBuffer } from '../net-plumbing/pcap/index.js';
import { formatReplay, replay, type ReplayResult } from '../kernel/script/index.js';
import { writeRunPcap } from './script.js';

export function parseDut(v: string): { addr: IpAddr; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
  const addr = m ? IpAddr.tryParse(m[1]!) : null;
  const port = m ? Number(m[2]) : NaN;
  if (!addr || !(port > 0 && port < 65536)) throw new InvalidArgumentError('--dut takes IP:PORT ([IPv6]:PORT for IPv6)');
  return { addr, port };
}

export async function replayFile(file: string, dut: { addr: IpAddr; port: number }, pcapDir: string | undefined, out: (l: string) => void): Promise<ReplayResult> {
  const recs = readPcapBuffer(readFileSync(file));
  const frames = recs.filter((r) => r.linkType === LinkType.EN10MB).map((r) => ({ usecs: Number(r.timestampNs / 1000n), data: r.data }));
  if (!frames.length) {
    out('replay: no Ethernet frames in the capture (only Ethernet captures are supported)');
    return replay([], { dut });
  }
  const r = replay(frames, { dut });
  for (const l of formatReplay(r)) out(l);
  if (!r.error) {
    const dir = pcapDir ?? mkdtempSync(join(tmpdir(), 'moat-replay-'));
    const p = join(dir, `${basename(file).replace(/\.pcap(ng)?$/, '')}.replay.pcap`);
    await writeRunPcap(p, { file, passed: r.ok, failure: null, frames: r.frames, trailing: [], eventsRun: 0 });
    out(`pcap of the replay: ${p}`);
  }
  return r;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('replay the peer of a recorded TCP conversation against moat\'s stack (in process) and report divergences')
    .argument('<file>', 'pcap or pcapng capture (Ethernet)')
    .requiredOption('--dut <ip:port>', 'the recorded device whose role moat plays (the side that accepted the connection)', parseDut)
    .option('--pcap-dir <dir>', 'where to write the pcap of the replay (default: a new temp dir, printed)')
    .action(async (file: string, o: { dut: { addr: IpAddr; port: number }; pcapDir?: string }) => {
      const r = await replayFile(file, o.dut, o.pcapDir, (l) => process.stdout.write(l + '\n'));
      if (!r.ok) process.exitCode = 1;
    });
}
