// Root: capture a few packets with tcpdump and dumpcap on a veth between two namespaces made
// here, then check that moat's reader sees what tshark sees and that moat's writers produce
// the bytes those tools produced. (The committed golden files in data/ cover the same ground
// without root; this keeps them honest against the installed tool versions.)

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { LinkType, PcapWriter, PcapngWriter, readPcapBuffer, readPcapBufferWithParser } from '../../src/net-plumbing/pcap/index.js';
import { privilegedTest } from '../helpers/privileged.js';
import { collector, epochToNs } from './build.js';

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tools = ['tcpdump', 'dumpcap', 'tshark', 'ping', 'ip'].filter((c) => !have(c));

/** Runs a capture of exactly `count` packets in `ns` while `traffic` runs; bounded by a timeout. */
async function capture(ns: string, args: string[], traffic: () => void): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (let i = 0; i < 100 && !/listening on|Capturing on/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  traffic();
  const timer = setTimeout(() => child.kill('SIGTERM'), 10_000);
  const code = await done;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${args[0]} exited ${code}: ${err}`);
}

function body(t: ExecutionContext): Promise<void> {
  return (async () => {
    const a = `moat-t${process.pid}-pa`;
    const b = `moat-t${process.pid}-pb`;
    const dir = mkdtempSync(join(tmpdir(), 'moat-pcap-live-'));
    const run = (...args: string[]): void => void execFileSync(args[0], args.slice(1), { stdio: 'ignore' });
    try {
      run('ip', 'netns', 'add', a);
      run('ip', 'netns', 'add', b);
      run('ip', '-n', a, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1', 'netns', b);
      run('ip', '-n', a, 'addr', 'add', '10.213.77.249/30', 'dev', 'p0');
      run('ip', '-n', b, 'addr', 'add', '10.213.77.250/30', 'dev', 'p1');
      run('ip', '-n', a, 'link', 'set', 'p0', 'up');
      run('ip', '-n', b, 'link', 'set', 'p1', 'up');
      const ping = (): void => run('ip', 'netns', 'exec', a, 'ping', '-n', '-q', '-c', '2', '-i', '0.2', '-W', '2', '10.213.77.250');
      ping(); // ARP settles first, so the captures hold ICMP only

      for (const precision of ['us', 'ns'] as const) {
        const f = join(dir, `t-${precision}.pcap`);
        await capture(a, ['tcpdump', '-n', '-U', '--immediate-mode', '-Z', 'root', '-i', 'p0', '-s', '0', '-c', '3',
          `--time-stamp-precision=${precision === 'us' ? 'micro' : 'nano'}`, '-w', f, 'icmp'], ping);
        const bytes = new Uint8Array(readFileSync(f));
        const { records, parser } = readPcapBufferWithParser(bytes);
        t.is(records.length, 3);
        const theirs = execFileSync('tshark', ['-n', '-r', f, '-T', 'fields', '-e', 'frame.time_epoch'], { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString().trim().split('\n').map(epochToNs);
        t.deepEqual(records.map((r) => r.timestampNs), theirs);
        const c = collector();
        const w = new PcapWriter(c.stream, { precision, linkType: parser.interfaces[0].linkType, snapLength: parser.interfaces[0].snapLength });
        for (const r of records) w.writeFrame(r.timestampNs, r.data);
        await w.close();
        t.deepEqual(c.bytes(), bytes, `tcpdump ${precision}`);
      }

      const ng = join(dir, 't.pcapng');
      await capture(a, ['dumpcap', '-q', '-i', 'p0', '-c', '3', '-f', 'icmp', '-w', ng], ping);
      const bytes = new Uint8Array(readFileSync(ng));
      const { records, parser } = readPcapBufferWithParser(bytes);
      t.is(records.length, 3);
      t.is(parser.interfaces[0].name, 'p0');
      const c = collector();
      const w = new PcapngWriter(c.stream, { interfaces: [{ name: 'p0', linkType: LinkType.EN10MB }] });
      for (const r of records) w.writeFrame(r.timestampNs, r.data);
      await w.close();
      const ours = c.bytes();
      const mine = readPcapBuffer(ours);
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      records.forEach((r, i) => {
        const len = dv.getUint32(r.offset + 4, true);
        t.deepEqual(ours.subarray(mine[i].offset, mine[i].offset + len), bytes.subarray(r.offset, r.offset + len), `EPB ${i}`);
      });
    } finally {
      for (const ns of [a, b]) {
        try {
          run('ip', 'netns', 'del', ns);
        } catch {
          /* was not created */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  })();
}

if (tools.length > 0) {
  test.skip(`live tcpdump/dumpcap captures rewritten byte for byte [skipped: missing ${tools.join(', ')}]`, () => {});
} else {
  privilegedTest('live tcpdump (µs, ns) and dumpcap (pcapng) captures: read as tshark reads them, rewritten byte for byte', body);
}
