// Wireshark's dissectors as an independent judge of the frames moat's neighbor module emits:
// two Stacks exchange ARP, DAD, NS/NA and RS over a Wire in virtual time, one side's link is
// sniffed to a pcap, and tshark must find every ICMPv6 checksum good and nothing malformed.
// Skips (with the reason) when tshark is not installed.

import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { Stack } from '../../../src/netstack/stack.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import { SnifferLink } from '../../../src/netstack/links/sniffer.js';
import { PcapWriter } from '../../../src/net-plumbing/pcap/writer.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';

const run = promisify(execFile);
const TSHARK = ['/usr/bin/tshark', '/usr/local/bin/tshark'].find((p) => existsSync(p));

(TSHARK ? test : test.skip)(`tshark dissects moat's ARP and NDP frames as well formed${TSHARK ? '' : ' [skipped: tshark not installed]'}`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-nbr-pcap-'));
  const file = join(dir, 'neighbor.pcap');
  try {
    const clock = new VirtualClock(1_000_000);
    const wire = new Wire(clock, { latencyMs: 0.1 });
    const sink = new PcapWriter(file);
    const a = new Stack({ clock, rng: new SeededRng(3) });
    const b = new Stack({ clock, rng: new SeededRng(4) });
    const na = a.addNic(new SnifferLink(wire.port(), clock, sink), { addresses: ['10.9.0.1/24', 'fd00:9::1/64'] });
    b.addNic(wire.port(), { addresses: ['10.9.0.2/24', 'fd00:9::2/64'] });
    clock.advance(5000); // announcements, DAD, RSs
    for (const [fam, dst] of [[4, '10.9.0.2'], [6, 'fd00:9::2']] as const) {
      const ep = fam === 4 ? a.echo4.endpoint() : a.echo6.endpoint();
      ep.send(Uint8Array.of(fam === 4 ? 8 : 128, 0, 0, 0, 0, 0, 0, 1), IpAddr.parse(dst));
      clock.advance(10);
      t.not(ep.recv(), 'EAGAIN');
    }
    clock.advance(10_000); // NUD: DELAY -> PROBE -> unicast NS/NA
    t.true(na.ndp!.entries().length > 0);
    await sink.close();

    const { stdout } = await run(TSHARK!, ['-n', '-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'arp.opcode', '-e', 'icmpv6.type', '-e', 'icmpv6.checksum.status', '-e', '_ws.malformed', '-e', '_ws.expert.severity'], {
      timeout: 60_000,
    });
    const rows = stdout.trim().split('\n').map((l) => l.split('|'));
    const arpOps = new Set(rows.map((r) => r[0]).filter(Boolean));
    const icmpTypes = new Set(rows.map((r) => r[1]).filter(Boolean));
    t.deepEqual([...arpOps].sort(), ['1', '2']);
    for (const ty of ['128', '129', '133', '135', '136']) t.true(icmpTypes.has(ty), `ICMPv6 type ${ty} seen`);
    for (const r of rows) {
      if (r[1]) t.is(r[2], '1', `ICMPv6 type ${r[1]} checksum good`);
      t.is(r[3], '', 'not malformed');
      // Expert info at warning (0x00600000) or error level would mean a dissector complaint.
      for (const sev of (r[4] ?? '').split(',').filter(Boolean)) t.true(Number(sev) < 0x00600000, `expert severity ${sev}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
