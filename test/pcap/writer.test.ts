// The writers: golden bytes written by hand from the format drafts, round trips through the
// reader, file and stream targets, and the programmer errors they refuse.

import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LinkType,
  PcapWriter,
  PcapngWriter,
  readPcap,
  readPcapBuffer,
  readPcapBufferWithParser,
} from '../../src/net-plumbing/pcap/index.js';
import type { PacketSink, PcapRecord } from '../../src/net-plumbing/pcap/index.js';
import { collector, payload } from './build.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

test('PcapWriter golden bytes: header and one µs record, by hand from the format draft', async (t) => {
  const c = collector();
  const w = new PcapWriter(c.stream, { linkType: LinkType.EN10MB, snapLength: 65535 });
  w.writeFrame(1_700_000_000_123_456_789n, Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x01));
  await w.close();
  t.deepEqual(
    c.bytes(),
    hex(`
      d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000
      00f15365 40e20100 05000000 05000000 deadbeef01`),
  );
});

test('PcapngWriter golden bytes: SHB (shb_userappl moat), IDB (if_name, if_tsresol=9), EPB with opt_comment', async (t) => {
  const c = collector();
  const w = new PcapngWriter(c.stream, { interfaces: [{ name: 'wire', linkType: LinkType.EN10MB, snapLength: 65535 }] });
  w.writeFrame(1_700_000_000_123_456_789n, Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x01), 0, 'hi');
  await w.close();
  t.deepEqual(
    c.bytes(),
    hex(`
      0a0d0d0a 28000000 4d3c2b1a 0100 0000 ffffffffffffffff
        0400 0400 6d6f6174  00000000  28000000
      01000000 28000000 0100 0000 ffff0000
        0200 0400 77697265  0900 0100 09000000  00000000  28000000
      06000000 34000000 00000000 fe9c9717 15cd853d 05000000 05000000 deadbeef 01000000
        0100 0200 68690000  00000000  34000000`),
  );
});

test('PcapWriter round trip, µs and ns, link types, snaplen cuts but keeps the original length', async (t) => {
  for (const precision of ['us', 'ns'] as const) {
    for (const linkType of [LinkType.EN10MB, LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL]) {
      const c = collector();
      const w = new PcapWriter(c.stream, { linkType, precision, snapLength: 100 });
      const frames = [0, 1, 99, 100, 101, 1514, 9000].map((n, i) => ({
        ts: 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567_891n,
        data: payload(n, i),
      }));
      for (const f of frames) w.writeFrame(f.ts, f.data, 7, 'ignored by classic pcap');
      await w.close();
      const { records, parser } = readPcapBufferWithParser(c.bytes());
      t.is(parser.precision, precision);
      t.is(parser.interfaces[0].snapLength, 100);
      t.is(records.length, frames.length);
      records.forEach((r, i) => {
        const f = frames[i];
        t.is(r.linkType, linkType);
        t.is(r.interfaceId, 0);
        t.is(r.comment, undefined);
        t.is(r.timestampNs, precision === 'ns' ? f.ts : (f.ts / 1000n) * 1000n);
        t.is(r.originalLength, f.data.length);
        t.deepEqual(r.data, f.data.subarray(0, 100));
      });
    }
  }
});

test('PcapngWriter round trip: interfaces with names and link types, comments, an interface added later', async (t) => {
  const c = collector();
  const w = new PcapngWriter(c.stream, {
    interfaces: [
      { name: 'veth0', linkType: LinkType.EN10MB },
      { name: 'lo', linkType: LinkType.RAW, description: 'loopback', snapLength: 0 },
    ],
    hardware: 'test',
    os: 'Linux',
    comment: 'section',
  });
  const sent: { ts: bigint; data: Uint8Array; ifId: number; comment?: string }[] = [];
  for (let i = 0; i < 300; i++) {
    if (i === 100) t.is(w.addInterface({ name: 'tap-später', linkType: LinkType.LINUX_SLL2, snapLength: 64 }), 2);
    const ifId = i < 100 ? i % 2 : i % 3;
    const f = { ts: 0xffff_ffffn * BigInt(i) + 7n, data: payload((i * 37) % 2000, i), ifId, ...(i % 5 === 0 ? { comment: `frame ${i} ✓` } : {}) };
    sent.push(f);
    w.writeFrame(f.ts, f.data, f.ifId, f.comment);
  }
  t.is(w.interfaceCount, 3);
  await w.close();
  const { records, parser } = readPcapBufferWithParser(c.bytes());
  t.deepEqual(
    parser.interfaces.map((i) => [i.name, i.linkType, i.snapLength, i.unitsPerSecond]),
    [
      ['veth0', 1, 262144, 1_000_000_000n],
      ['lo', 101, 0, 1_000_000_000n],
      ['tap-später', 276, 64, 1_000_000_000n],
    ],
  );
  t.is(parser.interfaces[1].description, 'loopback');
  t.is(records.length, sent.length);
  records.forEach((r, i) => {
    const f = sent[i];
    t.is(r.interfaceId, f.ifId);
    t.is(r.timestampNs, f.ts);
    t.is(r.comment, f.comment);
    t.is(r.originalLength, f.data.length);
    t.deepEqual(r.data, f.ifId === 2 ? f.data.subarray(0, 64) : f.data);
  });
});

test('writers to a file path; flush makes the bytes visible; both are PacketSinks', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-pcap-'));
  try {
    const sinks: [string, PacketSink & { flush(): Promise<void> }][] = [
      [join(dir, 'a.pcap'), new PcapWriter(join(dir, 'a.pcap'), { precision: 'ns' })],
      [join(dir, 'a.pcapng'), new PcapngWriter(join(dir, 'a.pcapng'), { interfaces: [{ name: 'x' }] })],
    ];
    for (const [path, sink] of sinks) {
      for (let i = 0; i < 2000; i++) sink.writeFrame(BigInt(i) * 1000n, payload(64 + (i % 64), i), 0, i === 3 ? 'three' : undefined);
      await sink.flush();
      t.is(readPcapBuffer(readFileSync(path)).length, 2000);
      sink.writeFrame(1n << 40n, payload(10, 0));
      await sink.close();
      await sink.close(); // idempotent
      const got: PcapRecord[] = [];
      for await (const r of readPcap(path)) got.push(r);
      t.is(got.length, 2001);
      t.is(got[2000].timestampNs, 1n << 40n);
      t.deepEqual(got[1999].data, payload(64 + (1999 % 64), 1999));
      t.throws(() => sink.writeFrame(0n, payload(1, 1)), { message: /after close/ });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('programmer errors: unknown interface, negative or unrepresentable timestamps', async (t) => {
  const c = collector();
  const ng = new PcapngWriter(c.stream, { interfaces: [{}] });
  t.throws(() => ng.writeFrame(0n, payload(1, 1), 1), { instanceOf: RangeError });
  t.throws(() => ng.writeFrame(-1n, payload(1, 1)), { instanceOf: RangeError });
  t.throws(() => ng.writeFrame(1n << 64n, payload(1, 1)), { instanceOf: RangeError });
  ng.writeFrame((1n << 64n) - 1n, payload(1, 1));
  await ng.close();
  t.deepEqual(
    readPcapBuffer(c.bytes()).map((r) => r.timestampNs),
    [(1n << 64n) - 1n],
  );
  const pc = new PcapWriter(collector().stream);
  t.throws(() => pc.writeFrame(0x1_0000_0000n * 1_000_000_000n, payload(1, 1)), { instanceOf: RangeError });
  pc.writeFrame(0xffff_ffffn * 1_000_000_000n + 999_999_999n, payload(1, 1)); // the last second u32 holds
});

test('endStream: false leaves the caller\'s stream open', async (t) => {
  const c = collector();
  const w = new PcapWriter(c.stream, { endStream: false });
  w.writeFrame(1n, payload(3, 3));
  await w.close();
  t.false(c.stream.writableEnded);
  c.stream.write(Uint8Array.of(1, 2, 3));
  t.is(c.bytes().length, 24 + 16 + 3 + 3);
});

test('a file that cannot be opened: close() rejects with the error, frames after it are counted', async (t) => {
  const w = new PcapngWriter('/nonexistent-moat-dir/x.pcapng', { interfaces: [{}] });
  await new Promise((r) => setImmediate(r));
  await t.throwsAsync(w.flush(), { code: 'ENOENT' });
  w.writeFrame(1n, payload(10, 1));
  t.is(w.droppedAfterError, 1);
  await t.throwsAsync(w.close(), { code: 'ENOENT' });
});
