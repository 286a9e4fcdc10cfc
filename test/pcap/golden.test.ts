// Golden files written by tcpdump and tshark (test/pcap/data, made by make-golden.sh): moat's
// reader must see what tshark sees in them, and moat's writers must write the same bytes
// that those tools wrote for the same packets.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LinkType,
  PcapWriter,
  PcapngWriter,
  readPcapBuffer,
  readPcapBufferWithParser,
} from '../../src/net-plumbing/pcap/index.js';
import { DATA_DIR, collector, epochToNs, payload } from './build.js';

interface Expect {
  frames: number;
  timeEpoch: string[];
  capturedLengths: number[];
  originalLengths: number[];
}

function load(name: string): { bytes: Uint8Array; expect: Expect } {
  return {
    bytes: new Uint8Array(readFileSync(join(DATA_DIR, name))),
    expect: JSON.parse(readFileSync(join(DATA_DIR, name.replace(/\.[^.]+$/, '.expect.json')), 'utf8')) as Expect,
  };
}

let tshark = false;
try {
  execFileSync('tshark', ['--version'], { stdio: 'ignore' });
  tshark = true;
} catch {
  tshark = false;
}

for (const [name, precision] of [
  ['tcpdump-us.pcap', 'us'],
  ['tcpdump-ns.pcap', 'ns'],
] as const) {
  test(`${name}: read as tshark read it, and PcapWriter rewrites it byte for byte`, async (t) => {
    const { bytes, expect } = load(name);
    const { records, parser } = readPcapBufferWithParser(bytes);
    t.is(parser.precision, precision);
    t.is(records.length, expect.frames);
    t.deepEqual(
      records.map((r) => r.timestampNs),
      expect.timeEpoch.map(epochToNs),
    );
    t.deepEqual(
      records.map((r) => r.capturedLength),
      expect.capturedLengths,
    );
    const c = collector();
    const w = new PcapWriter(c.stream, {
      linkType: parser.interfaces[0].linkType,
      snapLength: parser.interfaces[0].snapLength,
      precision,
    });
    for (const r of records) w.writeFrame(r.timestampNs, r.data);
    await w.close();
    t.deepEqual(c.bytes(), bytes);
  });
}

test('tshark.pcapng (dumpcap): interface, ns timestamps, ISB skipped; PcapngWriter writes the same EPB bytes', async (t) => {
  const { bytes, expect } = load('tshark.pcapng');
  const { records, parser } = readPcapBufferWithParser(bytes);
  t.is(parser.format, 'pcapng');
  t.is(parser.interfaces.length, 1);
  t.is(parser.interfaces[0].name, 'g0');
  t.is(parser.interfaces[0].linkType, LinkType.EN10MB);
  t.is(records.length, expect.frames);
  t.deepEqual(
    records.map((r) => r.timestampNs),
    expect.timeEpoch.map(epochToNs),
  );
  t.deepEqual(
    records.map((r) => r.originalLength),
    expect.originalLengths,
  );

  const c = collector();
  const w = new PcapngWriter(c.stream, { interfaces: [{ name: 'g0', linkType: LinkType.EN10MB }] });
  for (const r of records) w.writeFrame(r.timestampNs, r.data);
  await w.close();
  const ours = c.bytes();
  const mine = readPcapBuffer(ours);
  t.is(mine.length, records.length);
  // dumpcap writes option-less EPBs with 10^-9 units, as moat does: the blocks must match.
  records.forEach((r, i) => {
    const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(r.offset + 4, true);
    t.deepEqual(ours.subarray(mine[i].offset, mine[i].offset + len), bytes.subarray(r.offset, r.offset + len));
  });
});

(tshark ? test : test.skip)('tshark reads what PcapngWriter and PcapWriter write, with names, comments, timestamps', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-pcap-'));
  try {
    const frames = [0, 1, 2, 3, 4, 5].map((i) => ({
      ts: 1_790_000_000_000_000_000n + BigInt(i) * 1_000_000_123n,
      data: payload(60 + i * 100, i),
      ifId: i % 2,
      comment: i % 2 === 0 ? `moat frame ${i}` : undefined,
    }));
    const ng = join(dir, 'ours.pcapng');
    const w = new PcapngWriter(ng, {
      interfaces: [
        { name: 'wire-a', linkType: LinkType.EN10MB },
        { name: 'wire-b', linkType: LinkType.RAW },
      ],
    });
    for (const f of frames) w.writeFrame(f.ts, f.data, f.ifId, f.comment);
    await w.close();
    const out = execFileSync(
      'tshark',
      ['-n', '-r', ng, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_id', '-e', 'frame.interface_name',
        '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.comment'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    ).toString();
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    t.is(rows.length, frames.length);
    rows.forEach((row, i) => {
      const f = frames[i];
      t.is(Number(row[0]), f.ifId);
      t.is(row[1], f.ifId ? 'wire-b' : 'wire-a');
      t.is(epochToNs(row[2]), f.ts);
      t.is(Number(row[3]), f.data.length);
      t.is(row[4], f.comment ?? '');
    });
    // Classic with ns timestamps: tshark must see the same times.
    const pc = join(dir, 'ours.pcap');
    const cw = new PcapWriter(pc, { precision: 'ns', linkType: LinkType.RAW });
    for (const f of frames) cw.writeFrame(f.ts, f.data);
    await cw.close();
    const times = execFileSync('tshark', ['-n', '-r', pc, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.encap_type'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim()
      .split('\n')
      .map((l) => epochToNs(l.split('\t')[0]));
    t.deepEqual(
      times,
      frames.map((f) => f.ts),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

let editcap = false;
try {
  execFileSync('editcap', ['-h'], { stdio: 'ignore' });
  editcap = true;
} catch {
  editcap = false;
}

(editcap ? test : test.skip)('editcap -F pcapng of the tcpdump files reads as the same records', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-pcap-'));
  try {
    for (const name of ['tcpdump-us.pcap', 'tcpdump-ns.pcap']) {
      const out = join(dir, `${name}ng`);
      execFileSync('editcap', ['-F', 'pcapng', join(DATA_DIR, name), out], { stdio: 'ignore' });
      const classic = readPcapBuffer(readFileSync(join(DATA_DIR, name)));
      const { records, parser } = readPcapBufferWithParser(readFileSync(out));
      t.is(parser.format, 'pcapng');
      t.deepEqual(
        records.map((r) => [r.linkType, r.timestampNs, Buffer.from(r.data).toString('hex'), r.originalLength]),
        classic.map((r) => [r.linkType, r.timestampNs, Buffer.from(r.data).toString('hex'), r.originalLength]),
        name,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
