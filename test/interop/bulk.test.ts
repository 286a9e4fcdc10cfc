// 1 GiB over TCP in each direction between a Linux peer (curl) and `moat host` (CLI), compared
// by sha256: moat -> Linux is `curl /bytes/1073741824 | sha256sum`, Linux -> moat is a
// generator piped into `curl -T - /sha256` (chunked upload; moat answers the digest). The data
// is the deterministic pattern of src/cli/host/pattern.ts, generated on the fly: nothing is
// stored. Once over a direct veth with offloads, once through a router namespace that drops 1%
// of forwarded packets (nftables numgen; no netem here). tshark reads each run's pcap
// (snaplen 128: headers only).

import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { privilegedTest } from '../helpers/privileged.js';
import { patternSha256 } from '../../src/cli/host/pattern.js';
import { directTopology, leftovers, routedTopology, routerDrops, run, spawnHost, tsharkMalformed, type Topology } from './net.js';

const GIB = 1 << 30;
let expected: string | null = null;
const sha = () => (expected ??= patternSha256(GIB));

function generator(dir: string): string {
  const mod = pathToFileURL(fileURLToPath(new URL('../../src/cli/host/pattern.js', import.meta.url))).href;
  const f = join(dir, 'gen.mjs');
  writeFileSync(f, `import { writePattern } from '${mod}';\nawait writePattern(process.stdout, Number(process.argv[2]));\n`);
  return f;
}

async function bulkBothWays(t: ExecutionContext, topo: Topology, extraHostArgs: string[], label: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-interop-bulk-'));
  const pcap = join(dir, 'bulk.pcapng');
  const gen = generator(dir);
  const host = await spawnHost([
    '--link', `packet:${topo.dutIf}@${topo.dutNs}`,
    ...topo.moatCidrs.flatMap((c) => ['--ip', c]),
    ...topo.gateways.flatMap((g) => ['--gateway', g]),
    '--serve', 'http',
    '--pcap', pcap,
    '--snaplen', '128',
    ...extraHostArgs,
  ]);
  try {
    const bash = (cmd: string, ms: number) => run('ip', ['netns', 'exec', topo.peerNs, 'bash', '-o', 'pipefail', '-c', cmd], ms);
    let t0 = performance.now();
    const down = await bash(`curl -sS -m 170 http://${topo.moat4}/bytes/${GIB} | sha256sum`, 180_000);
    const downS = (performance.now() - t0) / 1000;
    t.is(down.code, 0, down.stderr);
    t.is(down.stdout.split(' ')[0], sha(), 'moat -> Linux: same sha256');
    t0 = performance.now();
    const up = await bash(`${process.execPath} ${gen} ${GIB} | curl -sS -m 170 -T - http://${topo.moat4}/sha256`, 180_000);
    const upS = (performance.now() - t0) / 1000;
    t.is(up.code, 0, up.stderr);
    t.is(up.stdout.trim(), sha(), 'Linux -> moat: same sha256');
    t.log(`${label}: moat -> Linux ${(GIB / 1e6 / downS).toFixed(0)} MB/s (${downS.toFixed(1)} s), Linux -> moat ${(GIB / 1e6 / upS).toFixed(0)} MB/s (${upS.toFixed(1)} s)`);
    if (topo.fwdNs) t.log(`${label}: the router dropped ${await routerDrops(topo)} packets`);
  } finally {
    const r = await host.stop();
    t.is(r.code, 0, r.stderr);
    const retrans = /\n {2}tcp\.(?:fastRetransmits|rtos) \d+/g;
    t.log(`${label}: ${(r.stdout.match(retrans) ?? []).map((s) => s.trim()).join(', ') || 'no retransmissions'}`);
  }
  // Frames are cut at 128 bytes, so the HTTP dissector (which wants the payload) is off;
  // Ethernet, IP and TCP headers are all there and checked.
  t.is(await tsharkMalformed(pcap, ['--disable-protocol', 'http']), '', 'no malformed frames');
  rmSync(dir, { recursive: true, force: true });
}

privilegedTest('1 GiB each way between Linux and moat host over a veth (offloads on), equal sha256', async (t) => {
  t.timeout(240_000);
  const topo = await directTopology('bk', 98);
  try {
    await bulkBothWays(t, topo, [], 'veth');
  } finally {
    await topo.close();
  }
  t.deepEqual(await leftovers('bk'), []);
});

privilegedTest('1 GiB each way through a router dropping 1% of packets, equal sha256', async (t) => {
  t.timeout(240_000);
  const topo = await routedTopology('bl', 1, 100);
  try {
    // No vnet_hdr: moat's frames are single segments, so the router drops 1% of segments
    // (a GSO aggregate would be dropped whole).
    await bulkBothWays(t, topo, ['--no-offload'], '1% loss');
    t.true((await routerDrops(topo)) > 1000, 'the router did drop packets');
  } finally {
    await topo.close();
  }
  t.deepEqual(await leftovers('bl'), []);
});
