// `moat decode FILE`: prints every frame of a pcap or pcapng file, one line each, decoded by
// moat's own wire layer. Damage in the file is reported with its offset; malformed frames are
// printed as such and decoding goes on.

import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { readPcap, LinkType, PcapFormatError } from '../../net-plumbing/pcap/index.js';
import { decodeFrame } from './dissect.js';
import { formatFrame, formatTime } from './format.js';
import type { FormatOptions } from './format.js';

export interface DecodeOptions {
  macs?: boolean;
  time?: 'time' | 'epoch' | 'relative';
  count?: number;
  json?: boolean;
}

/**
 * How to find the frame moat decodes inside a record of this link type: Ethernet as is, bare
 * IP as is, Linux cooked captures (SLL, SLL2) with their pseudo-header stripped when they hold IP.
 */
function unwrap(linkType: number, data: Uint8Array): { medium: 'ethernet' | 'ip'; frame: Uint8Array } | null {
  switch (linkType) {
    case LinkType.EN10MB:
      return { medium: 'ethernet', frame: data };
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return { medium: 'ip', frame: data };
    case LinkType.LINUX_SLL:
    case LinkType.LINUX_SLL2: {
      const hdr = linkType === LinkType.LINUX_SLL ? 16 : 20;
      const protoAt = linkType === LinkType.LINUX_SLL ? 14 : 0;
      if (data.length < hdr) return null;
      const proto = (data[protoAt] << 8) | data[protoAt + 1];
      return proto === 0x0800 || proto === 0x86dd ? { medium: 'ip', frame: data.subarray(hdr) } : null;
    }
    default:
      return null;
  }
}

/** Decodes `file`, writing lines to `out`. Returns the number of frames printed. */
export async function decodeFile(file: string, opts: DecodeOptions, out: (line: string) => void): Promise<{ frames: number; malformed: number }> {
  let n = 0;
  let malformed = 0;
  let firstNs: bigint | undefined;
  const fo: FormatOptions = { macs: opts.macs, timeFormat: opts.time };
  for await (const rec of readPcap(file, { allowTruncated: true })) {
    if (opts.count !== undefined && n >= opts.count) break;
    n++;
    firstNs ??= rec.timestampNs;
    const ts = formatTime(rec.timestampNs, { ...fo, firstNs });
    const inner = unwrap(rec.linkType, rec.data);
    if (!inner) {
      out(`${ts} [link type ${rec.linkType} not decoded], length ${rec.originalLength}`);
      continue;
    }
    const d = decodeFrame(inner.frame, rec.originalLength, inner.medium);
    if (d.error) malformed++;
    if (opts.json) {
      out(JSON.stringify({ frame: n, timeNs: rec.timestampNs.toString(), ...d }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
    } else {
      out(`${ts} ${formatFrame(d, fo)}`);
    }
  }
  return { frames: n, malformed };
}

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('print each frame of a pcap/pcapng file, decoded by moat\'s own wire layer (like tcpdump -nn -v)')
    .argument('<file>', 'capture file (pcap or pcapng)')
    .option('-e, --macs', 'print link-level (MAC) addresses')
    .option('-c, --count <n>', 'stop after n frames', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--count takes a whole number >= 0');
      return n;
    })
    .option('--time <format>', 'time stamps: time (UTC time of day), epoch, relative', (v) => {
      if (v !== 'time' && v !== 'epoch' && v !== 'relative') throw new InvalidArgumentError('--time takes time, epoch or relative');
      return v;
    })
    .option('--json', 'one JSON object per frame instead of text')
    .action(async (file: string, opts: DecodeOptions) => {
      if (!existsSync(file)) throw new Error(`decode: no such file: ${file}`);
      try {
        const r = await decodeFile(file, opts, (l) => process.stdout.write(l + '\n'));
        if (!opts.json) process.stderr.write(`${r.frames} frames, ${r.malformed} malformed\n`);
      } catch (e) {
        if (e instanceof PcapFormatError) throw new Error(`decode: ${file}: ${e.message}`);
        throw e;
      }
    });
}
