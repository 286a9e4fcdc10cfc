// Reading capture files: whole buffers synchronously, files and streams as async iterators.
// The format work is in parser.ts; this file only moves bytes into it.
//
// Read first: draft-ietf-opsawg-pcap, draft-ietf-opsawg-pcapng (see format.ts).

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { PcapParser } from './parser.js';
import type { PcapReadOptions } from './parser.js';
import type { PcapRecord } from './format.js';

/** A file path, a Node Readable (binary mode), or any async iterable of byte chunks. */
export type PcapSource = string | Readable | AsyncIterable<Uint8Array>;

/**
 * Parses a whole capture held in memory. The records' `data` are views into `buf`.
 * Throws PcapFormatError on damage, and on a truncated end unless `allowTruncated`.
 */
export function readPcapBuffer(buf: Uint8Array, options: PcapReadOptions = {}): PcapRecord[] {
  return readPcapBufferWithParser(buf, options).records;
}

/** Like readPcapBuffer, and also hands back the parser (interfaces, format, truncation). */
export function readPcapBufferWithParser(
  buf: Uint8Array,
  options: PcapReadOptions = {},
): { records: PcapRecord[]; parser: PcapParser } {
  const parser = new PcapParser(options);
  const records = parser.push(buf);
  parser.end();
  return { records, parser };
}

/**
 * Streams a capture: `for await (const rec of readPcap('x.pcapng')) ...`. Memory stays at
 * about one block plus one read chunk. `reader.parser` shows interfaces and format as they
 * are learned.
 */
export class PcapStreamReader implements AsyncIterable<PcapRecord> {
  readonly parser: PcapParser;
  private used = false;

  constructor(
    private readonly source: PcapSource,
    options: PcapReadOptions = {},
  ) {
    this.parser = new PcapParser(options);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PcapRecord, void, undefined> {
    if (this.used) throw new Error('a PcapStreamReader can be iterated once');
    this.used = true;
    const owned = typeof this.source === 'string';
    const stream = owned ? createReadStream(this.source as string, { highWaterMark: 1 << 20 }) : this.source;
    try {
      for await (const chunk of stream as AsyncIterable<unknown>) {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError('pcap source yielded a non-binary chunk (is an encoding set on the stream?)');
        }
        for (const rec of this.parser.push(chunk)) yield rec;
      }
      this.parser.end();
    } finally {
      if (owned) (stream as Readable).destroy();
    }
  }
}

export function readPcap(source: PcapSource, options: PcapReadOptions = {}): PcapStreamReader {
  return new PcapStreamReader(source, options);
}
