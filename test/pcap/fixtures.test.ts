// Every capture in pcap-fixtures/ (real traffic captured by tcpdump and dumpcap, see its
// README) read by moat's reader: frame count, timestamps, lengths and interfaces must be what
// tshark said when the fixtures were made (<name>.expect.json), and what tshark says now when it
// is installed.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPcap, readPcapBuffer } from '../../src/net-plumbing/pcap/index.js';
import type { PcapRecord } from '../../src/net-plumbing/pcap/index.js';
import { FIXTURE_DIR, epochToNs } from './build.js';

interface Expect {
  file: string;
  format: 'pcap' | 'pcapng';
  precision?: 'us' | 'ns';
  interfaces: { linkType: number; name?: string; section?: number }[];
  frames: number;
  timeEpoch: string[];
  capturedLengths: number[];
  originalLengths: number[];
  interfaceIds: number[];
}

const expectFiles = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.expect.json')).sort();

let tshark = false;
try {
  execFileSync('tshark', ['--version'], { stdio: 'ignore' });
  tshark = true;
} catch {
  tshark = false;
}

test('the fixture set is there: HTTP v4/v6, DNS, ping v4/v6, lossy TCP, a pcapng', (t) => {
  const names = expectFiles.map((f) => JSON.parse(readFileSync(join(FIXTURE_DIR, f), 'utf8')).file as string);
  for (const want of ['http-v4.pcap', 'http-v6.pcap', 'dns.pcap', 'ping-v4.pcap', 'ping-v6.pcap', 'tcp-loss.pcap']) {
    t.true(names.includes(want), want);
  }
  t.true(names.some((n) => n.endsWith('.pcapng')));
});

for (const ef of expectFiles) {
  const expect = JSON.parse(readFileSync(join(FIXTURE_DIR, ef), 'utf8')) as Expect;
  const path = join(FIXTURE_DIR, expect.file);

  test(`${expect.file}: streamed records match the tshark expectation file`, async (t) => {
    const reader = readPcap(path);
    const recs: PcapRecord[] = [];
    for await (const r of reader) recs.push(r);
    t.is(reader.parser.format, expect.format);
    if (expect.precision) t.is(reader.parser.precision, expect.precision);
    t.is(recs.length, expect.frames);
    t.deepEqual(
      recs.map((r) => r.timestampNs),
      expect.timeEpoch.map(epochToNs),
    );
    t.deepEqual(
      recs.map((r) => r.capturedLength),
      expect.capturedLengths,
    );
    t.deepEqual(
      recs.map((r) => r.originalLength),
      expect.originalLengths,
    );
    t.deepEqual(
      recs.map((r) => r.interfaceId),
      expect.interfaceIds,
    );
    t.deepEqual(
      reader.parser.allInterfaces.map((i) => [i.linkType, i.name]),
      expect.interfaces.map((i) => [i.linkType, i.name]),
    );
    t.true(recs.every((r) => r.data.length === r.capturedLength && r.hasTimestamp));
    // The whole-buffer parse agrees with the stream.
    const whole = readPcapBuffer(readFileSync(path));
    t.deepEqual(
      whole.map((r) => [r.offset, r.timestampNs]),
      recs.map((r) => [r.offset, r.timestampNs]),
    );
  });

  (tshark ? test : test.skip)(`${expect.file}: timestamps match tshark -T fields -e frame.time_epoch`, (t) => {
    const out = execFileSync('tshark', ['-n', '-r', path, '-T', 'fields', '-e', 'frame.time_epoch'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 << 20,
    }).toString();
    const theirs = out.trim().split('\n').map(epochToNs);
    const ours = readPcapBuffer(readFileSync(path)).map((r) => r.timestampNs);
    t.is(ours.length, theirs.length);
    t.deepEqual(ours, theirs);
  });
}

test('streaming the largest fixtures in odd-sized chunks gives the same records as one buffer', async (t) => {
  for (const name of ['tcp-loss.pcap', 'routed.pcapng']) {
    const bytes = new Uint8Array(readFileSync(join(FIXTURE_DIR, name)));
    const whole = readPcapBuffer(bytes);
    let seed = 7;
    async function* odd(): AsyncGenerator<Uint8Array> {
      for (let o = 0; o < bytes.length; ) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const n = 1 + (seed % 9000);
        yield bytes.subarray(o, o + n);
        o += n;
      }
    }
    let i = 0;
    let same = true;
    for await (const r of readPcap(odd())) {
      const w = whole[i++];
      same &&= w.offset === r.offset && w.timestampNs === r.timestampNs && Buffer.compare(w.data, r.data) === 0;
    }
    t.is(i, whole.length, name);
    t.true(same, name);
  }
});
