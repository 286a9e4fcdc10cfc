// Bad input never crashes the decoders: every truncation of every frame of every fixture goes
// through moat's frame decoders (the tools' full decoder and the wire layer's dissector), which
// must return a result, never throw, and report every cut inside the headers as malformed.

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { readPcapBuffer, LinkType } from '../../src/net-plumbing/pcap/index.js';
import { decodeFrame } from '../../src/cli/decode/dissect.js';
import { dissectFrame } from '../../src/netstack/wire/dissect.js';

const dir = join(packageRoot(), 'pcap-fixtures');
const fixtures = readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

for (const name of fixtures) {
  test(`${name}: every truncation of every frame decodes without throwing`, (t) => {
    let cuts = 0;
    let frames = 0;
    for (const rec of readPcapBuffer(readFileSync(join(dir, name)))) {
      if (rec.linkType !== LinkType.EN10MB) continue;
      frames++;
      const whole = decodeFrame(rec.data);
      t.is(whole.error, undefined, `frame ${frames} decodes whole`);
      for (let n = 0; n < rec.data.length; n++) {
        const cut = rec.data.subarray(0, n);
        const d = decodeFrame(cut);
        const s = dissectFrame(cut);
        cuts++;
        // A cut inside the Ethernet header is always malformed, whatever follows.
        if (n < 14 && (!d.error || !s.error)) t.fail(`${name} frame ${frames} cut at ${n} not reported as malformed`);
      }
    }
    t.true(frames > 0 && cuts > frames);
  });
}
