// The world of the policy tests: a peer namespace (the "outside": a Linux stack with nginx on
// every address and dnsmasq) and an address-less namespace whose veth end moat's stack takes
// with AF_PACKET. The peer holds 10.213.79.1 (web + DNS, the stack's gateway), 10.213.79.3 (the
// same web server under an address only other.pt.test resolves to) and, on its loopback,
// 169.254.169.254 (a stand-in for a cloud metadata service, reachable through the gateway, so
// that only moat's policy stands between the guest and it). Guests run under
// `node bin/moat.js run`, so the CLI itself is under test. Names are moat-pt<pid><seq>-*,
// deleted by stop(); the servers are stopped by PID.

import test, { type ExecutionContext } from 'ava';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, createVethPair, deleteNetns, disableIpv6, ip, setLinkUp } from '../../src/net-plumbing/netns.js';
import { readPcap } from '../../src/net-plumbing/pcap/index.js';
import { startDnsmasq, startNginx, type PeerServer } from '../../src/cli/host/peer-services.js';
import type { AuditRecord } from '../../src/netstack/filter/audit.js';
import { isRoot, privilegedTest } from '../helpers/privileged.js';

// One way to run the CLI for every sandbox test.
export { MOAT_BIN, moatRun, type Ran } from './topology.js';

export const NET = {
  web: '10.213.79.1',
  other: '10.213.79.3',
  stack: '10.213.79.2',
  metadata: '169.254.169.254',
} as const;

export const NAMES = {
  web: 'web.pt.test',
  other: 'other.pt.test',
  /** DNS rebinding: a name whose answer is the metadata address. */
  rebind: 'rebind.pt.test',
} as const;

export interface PolicyTopology {
  peerNs: string;
  dutNs: string;
  /** The page nginx serves at / on every address. */
  page: string;
  /** `moat run` arguments that put the stack on this topology (address, gateway, DNS upstream). */
  runArgs: string[];
  /** A scratch directory of the test's (policy files, audit logs, pcaps, guest scripts). */
  dir: string;
  stop(): Promise<void>;
}

let seq = 0;

export async function policyTopology(): Promise<PolicyTopology> {
  const id = `${process.pid}${seq++}`;
  const peerNs = `moat-pt${id}-peer`;
  const dutNs = `moat-pt${id}-dut`;
  const peerIf = `moat-pt${id}p`.slice(0, 15);
  const dutIf = `moat-pt${id}d`.slice(0, 15);
  if (peerIf === dutIf) throw new Error(`interface names collide: ${peerIf}`);
  const dir = mkdtempSync(join(tmpdir(), 'moat-policy-test-'));
  chmodSync(dir, 0o755); // nginx's workers (nobody) read the page from below here
  const servers: PeerServer[] = [];
  const stop = async (): Promise<void> => {
    for (const s of servers) await s.stop().catch(() => undefined);
    await deleteNetns(peerNs).catch(() => undefined);
    await deleteNetns(dutNs).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await createNetns(peerNs);
    await createNetns(dutNs);
    await createVethPair(peerIf, dutIf, { netnsA: peerNs, netnsB: dutNs });
    await disableIpv6(dutNs);
    await setLinkUp('lo', { netns: peerNs });
    for (const a of [NET.web, NET.other]) await ip(['address', 'add', `${a}/24`, 'dev', peerIf], { netns: peerNs });
    await ip(['address', 'add', `${NET.metadata}/32`, 'dev', 'lo'], { netns: peerNs });
    await setLinkUp(peerIf, { netns: peerNs });
    await setLinkUp(dutIf, { netns: dutNs });
    const page = `policy test page ${id}\n`;
    servers.push(await startNginx({ netns: peerNs, dir: join(dir, 'nginx'), listen: ['80'], port: 80, files: { 'index.html': page } }));
    servers.push(
      await startDnsmasq({
        netns: peerNs,
        dir,
        listen: [NET.web],
        records: { [NAMES.web]: [NET.web], [NAMES.other]: [NET.other], [NAMES.rebind]: [NET.metadata] },
      }),
    );
    return {
      peerNs,
      dutNs,
      page,
      dir,
      stop,
      runArgs: ['--link', `packet:${dutIf}@${dutNs}`, '--ip', `${NET.stack}/24`, '--gateway', NET.web, '--dns', NET.web],
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The audit file's records, each with its raw line; a line that is not JSON fails the parse loudly. */
export function readAudit(file: string): { rec: AuditRecord; line: string }[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => ({ rec: JSON.parse(line) as AuditRecord, line }));
}

/** IPv4 frames of a pcap (Ethernet): destination address, TCP/UDP ports, the frame's comment. */
export async function pcapFlows(file: string): Promise<{ dst: string; proto: number; dport: number; comment?: string }[]> {
  const out: { dst: string; proto: number; dport: number; comment?: string }[] = [];
  for await (const r of readPcap(file)) {
    const f = r.data;
    if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00) continue;
    const ihl = (f[14]! & 0xf) * 4;
    const proto = f[23]!;
    const dst = Array.from(f.subarray(30, 34)).join('.');
    const t = 14 + ihl;
    const dport = (proto === 6 || proto === 17) && f.length >= t + 4 ? (f[t + 2]! << 8) | f[t + 3]! : -1;
    out.push({ dst, proto, dport, comment: r.comment });
  }
  return out;
}

/** A python3 guest that connects once and prints the outcome: "connected", "timeout" or the errno name. */
export const CONNECT_PY = `import errno, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
if len(sys.argv) > 3:
    s.settimeout(float(sys.argv[3]))
try:
    s.connect((host, port))
    s.getpeername()
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
`;
