// Damaged capture files: a cut at every byte, random byte damage, and each structural fault
// must end in PcapFormatError (typed code, byte offset), never another exception or a hang.

import test from 'ava';
import {
  LinkType,
  PcapFormatError,
  PcapParser,
  readPcap,
  readPcapBuffer,
  readPcapBufferWithParser,
} from '../../src/net-plumbing/pcap/index.js';
import {
  Bytes,
  block,
  chunked,
  classicHeader,
  classicRecord,
  concat,
  epb,
  idb,
  opt,
  payload,
  shb,
} from './build.js';

const p1 = payload(61, 4);
const p2 = payload(20, 5);

// Each file as its parts (header, records or blocks): a cut between two parts is a shorter
// valid file, a cut anywhere else is a truncation.
const smallParts: Record<string, Uint8Array[]> = {
  'classic µs LE': [classicHeader(false, false, 1), classicRecord(false, 1, 2, p1), classicRecord(false, 3, 4, p2)],
  'classic ns BE': [classicHeader(true, true, 101), classicRecord(true, 1, 2, p2), classicRecord(true, 3, 4, p1)],
  'pcapng 2 sections': [
    shb(false, [opt(false, 4, 'x')]),
    idb(false, LinkType.EN10MB, 0, [opt(false, 9, [9])]),
    epb(false, 0, 5n, p1, 61, [opt(false, 1, 'c')]),
    shb(true),
    idb(true, LinkType.RAW, 0),
    epb(true, 0, 6n, p2),
  ],
};
const smallFiles: Record<string, Uint8Array> = Object.fromEntries(
  Object.entries(smallParts).map(([k, parts]) => [k, concat(...parts)]),
);

for (const [name, parts] of Object.entries(smallParts)) {
  const file = concat(...parts);
  const boundaries: number[] = [];
  for (const part of parts) boundaries.push((boundaries.at(-1) ?? 0) + part.length);
  test(`${name}: cut at every byte, only PcapFormatError('truncated'), and the whole records before the cut`, async (t) => {
    const full = readPcapBuffer(file);
    const recordEnds = full.map((r) => boundaries.find((b) => b > r.offset) ?? -1);
    for (let cut = 0; cut < file.length; cut++) {
      const prefix = file.subarray(0, cut);
      let err: unknown;
      try {
        readPcapBuffer(prefix);
      } catch (e) {
        err = e;
      }
      const wholeRecords = recordEnds.filter((e) => e <= cut).length;
      const onBoundary = boundaries.includes(cut);
      if (onBoundary) {
        t.is(err, undefined, `cut ${cut}`);
      } else {
        t.true(err instanceof PcapFormatError, `cut ${cut}: ${String(err)}`);
        t.is((err as PcapFormatError).code, 'truncated', `cut ${cut}`);
        t.true((err as PcapFormatError).offset <= cut, `cut ${cut}`);
      }
      // Tolerant mode returns the whole records and says where the cut is.
      const { records, parser } = readPcapBufferWithParser(prefix, { allowTruncated: true });
      t.is(records.length, wholeRecords, `cut ${cut}`);
      t.is(parser.truncation === undefined, onBoundary, `cut ${cut}`);
      // Streaming byte by byte agrees.
      const streamed: number[] = [];
      let streamErr: unknown;
      try {
        for await (const r of readPcap(chunked(prefix, 1))) streamed.push(r.offset);
      } catch (e) {
        streamErr = e;
      }
      t.is(streamed.length, wholeRecords, `cut ${cut}`);
      t.is(streamErr === undefined, onBoundary, `cut ${cut}`);
      if (streamErr !== undefined) t.true(streamErr instanceof PcapFormatError);
    }
  });
}

test('random damage anywhere never throws anything but PcapFormatError', (t) => {
  let x = 12345;
  const rnd = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x % n;
  };
  let errors = 0;
  for (const file of Object.values(smallFiles)) {
    for (let i = 0; i < 3000; i++) {
      const f = file.slice();
      for (let k = 0, n = 1 + rnd(4); k < n; k++) f[rnd(f.length)] = rnd(256);
      try {
        readPcapBuffer(f.subarray(0, rnd(f.length + 1)), { maxBlockLength: 1 << 16 });
      } catch (e) {
        if (!(e instanceof PcapFormatError)) t.fail(`threw ${String(e)}`);
        errors++;
      }
    }
  }
  t.true(errors > 0);
});

function codeOf(f: () => unknown): { code: string; offset: number } {
  try {
    f();
  } catch (e) {
    if (e instanceof PcapFormatError) return { code: e.code, offset: e.offset };
    throw e;
  }
  return { code: 'none', offset: -1 };
}

test('structural damage: typed codes with the byte offset', (t) => {
  const hdr = classicHeader(false, false, 1);
  t.deepEqual(codeOf(() => readPcapBuffer(new Uint8Array(0))), { code: 'truncated', offset: 0 });
  t.deepEqual(codeOf(() => readPcapBuffer(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))), { code: 'bad-magic', offset: 0 });
  // Absurd record length: refused at once, without waiting for 3 GB.
  const huge = concat(hdr, new Bytes(false).u32(0).u32(0).u32(0xc0000000).u32(0).done());
  t.deepEqual(codeOf(() => readPcapBuffer(huge)), { code: 'bad-length', offset: 24 });

  const s = shb(false);
  const i0 = idb(false, 1, 0);
  const e0 = epb(false, 0, 1n, p1);
  t.deepEqual(codeOf(() => readPcapBuffer(concat(s, i0, e0))), { code: 'none', offset: -1 });
  // Trailing length differs from the leading one.
  const bent = e0.slice();
  bent[bent.length - 4] ^= 4;
  t.deepEqual(codeOf(() => readPcapBuffer(concat(s, i0, bent))), { code: 'length-mismatch', offset: s.length + i0.length });
  // Length not a multiple of 4 / smaller than a block / > 256 MiB.
  for (const len of [13, 8, 0x10000004, 0xfffffffc]) {
    const b = e0.slice();
    new DataView(b.buffer).setUint32(4, len, true);
    t.deepEqual(codeOf(() => readPcapBuffer(concat(s, i0, b))), { code: 'bad-length', offset: s.length + i0.length }, `len ${len}`);
  }
  // Packet on an interface no IDB described.
  t.is(codeOf(() => readPcapBuffer(concat(s, i0, epb(false, 1, 1n, p1)))).code, 'unknown-interface');
  // Interfaces do not survive a new section.
  t.is(codeOf(() => readPcapBuffer(concat(s, i0, shb(false), epb(false, 0, 1n, p1)))).code, 'unknown-interface');
  // Captured length beyond the block.
  const over = epb(false, 0, 1n, p1);
  new DataView(over.buffer).setUint32(20, 200, true);
  t.is(codeOf(() => readPcapBuffer(concat(s, i0, over))).code, 'bad-length');
  // An option that runs past the end of its block.
  const badOpt = block(false, 1, new Bytes(false).u16(1).u16(0).u32(0).u16(2).u16(40).u32(0).done());
  t.is(codeOf(() => readPcapBuffer(concat(s, badOpt))).code, 'bad-option');
  // if_tsresol must be one byte.
  t.is(codeOf(() => readPcapBuffer(concat(s, idb(false, 1, 0, [opt(false, 9, [6, 6])])))).code, 'bad-option');
  // Unknown byte-order magic; unsupported major version.
  const badBom = s.slice();
  badBom[8] = 0x11;
  t.is(codeOf(() => readPcapBuffer(badBom)).code, 'bad-section');
  const v2 = s.slice();
  new DataView(v2.buffer).setUint16(12, 2, true);
  t.is(codeOf(() => readPcapBuffer(v2)).code, 'bad-section');
});

test('a parser that failed keeps failing, and push after end is a programmer error', (t) => {
  const p = new PcapParser();
  t.throws(() => p.push(Uint8Array.of(0, 0, 0, 0)), { instanceOf: PcapFormatError });
  t.throws(() => p.push(Uint8Array.of(0)), { instanceOf: PcapFormatError });
  const q = new PcapParser();
  q.push(classicHeader(false, false, 1));
  q.end();
  t.throws(() => q.push(Uint8Array.of(0)), { instanceOf: Error, message: /after end/ });
});

test('records before damage in the same chunk are returned, the error comes next', (t) => {
  const file = concat(classicHeader(false, false, 1), classicRecord(false, 1, 2, p1), new Bytes(false).u32(0).u32(0).u32(0xf0000000).u32(0).done());
  const p = new PcapParser();
  t.is(p.push(file).length, 1);
  t.throws(() => p.end(), { instanceOf: PcapFormatError });
});
