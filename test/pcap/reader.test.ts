// The pcap/pcapng reader on files built by hand field by field (build.ts), in both byte orders:
// link types, resolutions, offsets, sections, SPB/OPB/unknown blocks, and chunked streaming.

import test from 'ava';
import { Readable } from 'node:stream';
import {
  LinkType,
  PcapFormatError,
  readPcap,
  readPcapBuffer,
  readPcapBufferWithParser,
} from '../../src/net-plumbing/pcap/index.js';
import type { PcapRecord } from '../../src/net-plumbing/pcap/index.js';
import {
  Bytes,
  block,
  chunked,
  classicHeader,
  classicRecord,
  concat,
  epb,
  idb,
  opb,
  opt,
  payload,
  shb,
  spb,
} from './build.js';

const p1 = payload(60, 1);
const p2 = payload(1514, 2);
const p3 = payload(13, 3);

for (const be of [false, true]) {
  const order = be ? 'big-endian' : 'little-endian';

  test(`classic µs pcap, ${order}: fields, timestamps and views`, (t) => {
    const file = concat(
      classicHeader(be, false, LinkType.EN10MB, 262144),
      classicRecord(be, 1700000000, 123456, p1),
      classicRecord(be, 1700000001, 999999, p2, 9000),
    );
    const { records, parser } = readPcapBufferWithParser(file);
    t.is(parser.format, 'pcap');
    t.is(parser.bigEndian, be);
    t.is(parser.precision, 'us');
    t.is(parser.interfaces[0].snapLength, 262144);
    t.is(records.length, 2);
    t.is(records[0].timestampNs, 1700000000_123456000n);
    t.is(records[1].timestampNs, 1700000001_999999000n);
    t.is(records[1].capturedLength, 1514);
    t.is(records[1].originalLength, 9000);
    t.deepEqual(records[1].data, p2);
    t.is(records[0].linkType, LinkType.EN10MB);
    t.is(records[1].offset, 24 + 16 + 60);
    // A view, not a copy: the bytes live in the file buffer.
    t.is(records[0].data.buffer, file.buffer);
  });

  test(`classic ns pcap (a1b23c4d), ${order}, link types RAW/SLL/SLL2/NULL`, (t) => {
    for (const lt of [LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL]) {
      const file = concat(classicHeader(be, true, lt), classicRecord(be, 5, 999999999, p3));
      const { records, parser } = readPcapBufferWithParser(file);
      t.is(parser.precision, 'ns');
      t.is(records[0].linkType, lt);
      t.is(records[0].timestampNs, 5_999999999n);
    }
  });

  test(`pcapng, ${order}: several interfaces with their own link types and resolutions`, (t) => {
    const file = concat(
      shb(be, [opt(be, 4, 'handmade')]),
      idb(be, LinkType.EN10MB, 0, [opt(be, 2, 'eth0'), opt(be, 3, 'the wire')]), // default 10^-6
      idb(be, LinkType.RAW, 65535, [opt(be, 9, [9]), opt(be, 2, 'tun0')]), // 10^-9
      idb(be, LinkType.LINUX_SLL2, 0, [opt(be, 9, [0x80 | 20])]), // 2^-20
      idb(be, LinkType.LINUX_SLL, 0, [opt(be, 9, [3]), opt(be, 14, new Bytes(be).u64(1000n).done())]), // ms + 1000 s
      epb(be, 0, 1700000000_000001n, p1),
      epb(be, 1, 1700000000_000000001n, p3, 13, [opt(be, 1, 'first comment'), opt(be, 1, 'second')]),
      epb(be, 2, 3n << 20n | 1n, p1),
      epb(be, 3, 1500n, p3),
    );
    const { records, parser } = readPcapBufferWithParser(file);
    t.is(parser.format, 'pcapng');
    t.is(parser.bigEndian, be);
    t.deepEqual(
      parser.interfaces.map((i) => [i.linkType, i.name, i.unitsPerSecond]),
      [
        [1, 'eth0', 1_000_000n],
        [101, 'tun0', 1_000_000_000n],
        [276, undefined, 1n << 20n],
        [113, undefined, 1000n],
      ],
    );
    t.is(parser.interfaces[0].description, 'the wire');
    t.deepEqual(
      records.map((r) => [r.interfaceId, r.linkType, r.timestampNs]),
      [
        [0, 1, 1700000000_000001000n],
        [1, 101, 1700000000_000000001n],
        // 2^-20 s units: 3 s + 1 unit = 3 s + 953.67 ns, truncated
        [2, 276, 3_000000953n],
        // 1500 ms + 1000 s offset
        [3, 113, 1001_500000000n],
      ],
    );
    t.is(records[1].comment, 'first comment');
    t.is(records[0].comment, undefined);
    t.deepEqual(records[1].data, p3);
  });
}

test('pcapng: several sections with different byte orders restart interface numbering', (t) => {
  const file = concat(
    shb(false),
    idb(false, LinkType.EN10MB, 0),
    epb(false, 0, 10n, p1),
    shb(true),
    idb(true, LinkType.RAW, 0, [opt(true, 9, [9])]),
    idb(true, LinkType.NULL, 0),
    epb(true, 1, 20n, p3),
    epb(true, 0, 30n, p2),
    shb(false),
    idb(false, LinkType.LINUX_SLL, 0),
    epb(false, 0, 40n, p1),
  );
  const { records, parser } = readPcapBufferWithParser(file);
  t.is(parser.sections, 3);
  t.is(parser.allInterfaces.length, 4);
  t.deepEqual(
    records.map((r) => [r.sectionIndex, r.interfaceId, r.linkType, r.timestampNs]),
    [
      [0, 0, LinkType.EN10MB, 10_000n],
      [1, 1, LinkType.NULL, 20_000n],
      [1, 0, LinkType.RAW, 30n],
      [2, 0, LinkType.LINUX_SLL, 40_000n],
    ],
  );
});

test('pcapng: SPB, obsolete packet block, and unknown blocks skipped by length', (t) => {
  for (const be of [false, true]) {
    const file = concat(
      shb(be),
      idb(be, LinkType.EN10MB, 32),
      block(be, 0x00000bad, new Bytes(be).u32(1).u32(2).u32(3).done()), // unknown type
      block(be, 5, new Bytes(be).u32(0).u32(0).u32(0).done()), // ISB
      spb(be, p1.subarray(0, 32), 60), // snaplen 32: data is the first 32 bytes
      opb(be, 0, 77n, p3),
      block(be, 0x40000bad, new Uint8Array(0)), // custom-ish, empty body
      epb(be, 0, 88n, p3),
    );
    const records = readPcapBuffer(file);
    t.is(records.length, 3);
    t.false(records[0].hasTimestamp);
    t.is(records[0].capturedLength, 32);
    t.is(records[0].originalLength, 60);
    t.deepEqual(records[0].data, p1.subarray(0, 32));
    t.is(records[1].timestampNs, 77_000n);
    t.deepEqual(records[1].data, p3);
    t.is(records[2].timestampNs, 88_000n);
  }
});

function summary(rs: PcapRecord[]): unknown[] {
  return rs.map((r) => [r.interfaceId, r.sectionIndex, r.timestampNs, Array.from(r.data), r.comment, r.offset]);
}

test('streaming: every chunk size gives the records of the whole-buffer parse', async (t) => {
  const file = concat(
    shb(true),
    idb(true, LinkType.EN10MB, 0, [opt(true, 9, [9])]),
    epb(true, 0, 1n, p1, 60, [opt(true, 1, 'x')]),
    epb(true, 0, 2n, p2),
    shb(false),
    idb(false, LinkType.RAW, 0),
    epb(false, 0, 3n, p3),
  );
  const want = summary(readPcapBuffer(file));
  for (const size of [1, 2, 3, 5, 7, 16, 100, 1000, file.length]) {
    const got: PcapRecord[] = [];
    for await (const r of readPcap(chunked(file, size))) got.push(r);
    t.deepEqual(summary(got), want, `chunk size ${size}`);
  }
  const fromReadable: PcapRecord[] = [];
  for await (const r of readPcap(Readable.from([Buffer.from(file.subarray(0, 50)), Buffer.from(file.subarray(50))]))) {
    fromReadable.push(r);
  }
  t.deepEqual(summary(fromReadable), want);
});

test('streaming: errors surface after the records before them', async (t) => {
  const good = concat(classicHeader(false, false, 1), classicRecord(false, 1, 2, p1));
  const file = concat(good, new Bytes(false).u32(1).u32(2).u32(0x7fffffff).u32(0).done());
  const seen: number[] = [];
  const err = await t.throwsAsync(async () => {
    for await (const r of readPcap(chunked(file, 1 << 20))) seen.push(r.capturedLength);
  });
  t.deepEqual(seen, [60]);
  t.true(err instanceof PcapFormatError);
  t.is((err as PcapFormatError).code, 'bad-length');
  t.is((err as PcapFormatError).offset, good.length);
});

test('a string chunk (stream with an encoding) is a TypeError, not a silent misparse', async (t) => {
  await t.throwsAsync(
    async () => {
      for await (const _ of readPcap(Readable.from(['abcd']))) void _;
    },
    { instanceOf: TypeError },
  );
});
