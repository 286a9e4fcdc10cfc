// createAutoLink: the subnet arithmetic, the nftables ruleset and the refcounted sysctls (no root,
// fake sysctls in a temporary directory); then, as root, the real thing: a fake "outside" (a
// peer namespace moat-out-<pid> joined to the host by a veth of its own, the host routing
// between it and the auto link) and moat's stack on the auto link's end reaching it by TCP, UDP
// and ping with the host's address as the source the peer sees (masquerade), v4 and v6.
// NETWORK RULE: moat's stack talks only to the peer namespace this test creates; the IPv6 uplink
// is the test's own veth, so nothing is set on the host's real interfaces but ip_forward.

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  acquireForwarding,
  AutoLinkError,
  autoLinkRuleset,
  checkAutoLinkId,
  createAutoLink,
  forceForwardingKey,
  forwardDropChains,
  hostDnsServers,
  IPV4_FORWARD,
  parseNameservers,
  prefixesOverlap,
  procSysctl,
  releaseForwarding,
  releaseStaleForwarding,
  subnet4,
  subnet6,
  withStateLock,
  type AutoLink,
  type ForwardingDeps,
  type SysctlIo,
} from '../../src/net-plumbing/auto-link.js';
import {
  cleanupMoat,
  createNetns,
  createVethPair,
  deleteLink,
  deleteNetns,
  ip,
  listMoatNftTables,
  listMoatResources,
  listNetns,
  MOAT_RUNS_DIR,
  nft,
  setLinkUp,
} from '../../src/net-plumbing/netns.js';
import { PacketLink } from '../../src/net-plumbing/links/packet-link.js';
import { createStack, type MoatStack } from '../../src/index.js';
import { IpAddr, IpCidr } from '../../src/netstack/wire/ip-address.js';
import { ping } from '../../src/cli/host/probes.js';
import { privilegedTest } from '../helpers/privileged.js';

// --- no root ---------------------------------------------------------------------------------

test('subnets: the index-th /30 and /64 of the pools, and overlap in both directions', (t) => {
  const pool4 = IpCidr.parse('10.237.0.0/16');
  const pool6 = IpCidr.parse('fd6d:6f61:74::/48');
  t.is(subnet4(pool4, 0).toString(), '10.237.0.0/30');
  t.is(subnet4(pool4, 1).toString(), '10.237.0.4/30');
  t.is(subnet4(pool4, 16383).toString(), '10.237.255.252/30');
  t.is(subnet6(pool6, 0).toString(), 'fd6d:6f61:74::/64');
  t.is(subnet6(pool6, 0x2b9e).toString(), 'fd6d:6f61:74:2b9e::/64');
  const p = (s: string) => IpCidr.parse(s);
  t.true(prefixesOverlap(p('10.237.0.4/30'), p('10.0.0.0/8')), 'inside a wider route');
  t.true(prefixesOverlap(p('10.0.0.0/8'), p('10.237.0.4/30')), 'symmetric');
  t.true(prefixesOverlap(p('10.237.0.4/30'), p('10.237.0.6/32')), 'a host address inside');
  t.false(prefixesOverlap(p('10.237.0.4/30'), p('10.237.0.8/30')), 'the next /30');
  t.false(prefixesOverlap(p('10.237.0.4/30'), p('fd6d:6f61:74::/48')), 'families never overlap');
  t.true(prefixesOverlap(p('fd6d:6f61:74:5::/64'), p('fc00::/7')));
  t.false(prefixesOverlap(p('fd6d:6f61:74:5::/64'), p('fd00::/64')));
});

test('the run\'s nftables table: masquerade off the host end, forward accepts out and answers, drops the rest in', (t) => {
  const text = autoLinkRuleset('moat-run-ab1', 'moat-hab1', IpCidr.parse('10.237.0.6/30'), IpCidr.parse('fd6d:6f61:74:1::2/64'));
  t.is(
    text,
    [
      'table inet moat-run-ab1 {',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    oifname != "moat-hab1" ip saddr 10.237.0.4/30 masquerade',
      '    oifname != "moat-hab1" ip6 saddr fd6d:6f61:74:1::/64 masquerade',
      '  }',
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      '    iifname "moat-hab1" accept',
      '    oifname "moat-hab1" ct state established,related accept',
      '    oifname "moat-hab1" counter drop',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  t.false(autoLinkRuleset('moat-run-ab1', 'moat-hab1', IpCidr.parse('10.237.0.6/30'), null).includes('ip6'));
});

test('auto link ids must fit moat-h<id> in IFNAMSIZ and be plain', (t) => {
  t.is(checkAutoLinkId('abc123xyz'), 'abc123xyz');
  t.throws(() => checkAutoLinkId('abc123xyz0'), { instanceOf: RangeError });
  t.throws(() => checkAutoLinkId(''), { instanceOf: RangeError });
  t.throws(() => checkAutoLinkId('a-b'), { instanceOf: RangeError });
  t.throws(() => checkAutoLinkId('AB'), { instanceOf: RangeError });
});

/** Sysctls in a map; keys that are absent read as null (a vanished interface). */
function fakeSysctls(init: Record<string, string>): SysctlIo & { values: Map<string, string>; writes: string[] } {
  const values = new Map(Object.entries(init));
  const writes: string[] = [];
  return {
    values,
    writes,
    async read(key) {
      return values.get(key) ?? null;
    },
    async write(key, value) {
      if (!values.has(key)) throw new Error(`no sysctl ${key}`);
      writes.push(`${key}=${value}`);
      values.set(key, value);
    },
  };
}

function fakeDeps(sysctl: SysctlIo, alive: Set<number>): ForwardingDeps & { dir: string } {
  return { dir: mkdtempSync(join(tmpdir(), 'moat-fwd-')), sysctl, alive: (pid) => alive.has(pid) };
}

const UP = forceForwardingKey('eth9');

test('forwarding sysctls: set once, restored when the last live run leaves, not before', async (t) => {
  const sys = fakeSysctls({ [IPV4_FORWARD]: '0', [UP]: '0' });
  const deps = fakeDeps(sys, new Set([100, 200]));
  try {
    const a = { id: 'a', pid: 100 };
    const b = { id: 'b', pid: 200 };
    t.deepEqual([...(await acquireForwarding(a, [IPV4_FORWARD, UP], deps))], [[IPV4_FORWARD, '0'], [UP, '0']]);
    t.deepEqual([...(await acquireForwarding(b, [IPV4_FORWARD], deps))], [[IPV4_FORWARD, '0']], 'b sees the value from before moat, not a\'s 1');
    t.deepEqual(sys.writes, [`${IPV4_FORWARD}=1`, `${UP}=1`], 'each written once');
    t.deepEqual(await releaseForwarding(a, deps), [`${UP}=0`], 'the uplink was a\'s alone; ip_forward is still b\'s');
    t.is(sys.values.get(IPV4_FORWARD), '1');
    t.deepEqual(await releaseForwarding(a, deps), [], 'releasing twice changes nothing');
    t.deepEqual(await releaseForwarding(b, deps), [`${IPV4_FORWARD}=0`]);
    t.is(sys.values.get(IPV4_FORWARD), '0');
    t.false(existsSync(join(deps.dir, 'forwarding.json')), 'no state left once nobody uses it');
  } finally {
    rmSync(deps.dir, { recursive: true, force: true });
  }
});

test('forwarding sysctls: a host that already forwarded keeps forwarding; a value changed by someone else is theirs', async (t) => {
  const sys = fakeSysctls({ [IPV4_FORWARD]: '1', [UP]: '0' });
  const deps = fakeDeps(sys, new Set([100]));
  try {
    const a = { id: 'a', pid: 100 };
    await acquireForwarding(a, [IPV4_FORWARD, UP], deps);
    t.deepEqual(sys.writes, [`${UP}=1`]);
    sys.values.set(UP, '0'); // e.g. all.forwarding was written 0, which clears every force_forwarding
    t.deepEqual(await releaseForwarding(a, deps), [], 'ip_forward was 1 before moat; the uplink is no longer moat\'s 1');
    t.deepEqual(sys.writes, [`${UP}=1`], 'nothing written on release');
  } finally {
    rmSync(deps.dir, { recursive: true, force: true });
  }
});

test('forwarding sysctls: runs that died are dropped; the original survives them; a vanished interface is forgotten', async (t) => {
  const sys = fakeSysctls({ [IPV4_FORWARD]: '0', [UP]: '0' });
  const alive = new Set([100, 200]);
  const deps = fakeDeps(sys, alive);
  try {
    await acquireForwarding({ id: 'a', pid: 100 }, [IPV4_FORWARD, UP], deps);
    alive.delete(100); // a crashed: ip_forward stays 1 with nobody live to need it
    sys.values.delete(UP); // and its uplink went away
    t.deepEqual(await acquireForwarding({ id: 'b', pid: 200 }, [IPV4_FORWARD], deps), new Map([[IPV4_FORWARD, '0']]), 'still the value from before a');
    const state = JSON.parse(readFileSync(join(deps.dir, 'forwarding.json'), 'utf8')) as Record<string, { users: { id: string }[] }>;
    t.deepEqual(state[IPV4_FORWARD]!.users.map((u) => u.id), ['b'], 'the dead run was dropped');
    t.deepEqual(await releaseStaleForwarding(deps), [], 'the uplink entry goes without a write; ip_forward is b\'s');
    t.is(sys.values.get(IPV4_FORWARD), '1');
    alive.delete(200);
    t.deepEqual(await releaseStaleForwarding(deps), [`${IPV4_FORWARD}=0`], 'cleanup after b died too');
    t.false(existsSync(join(deps.dir, 'forwarding.json')));
  } finally {
    rmSync(deps.dir, { recursive: true, force: true });
  }
});

test('the state lock serialises its holders and breaks a lock whose owner died', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-lock-'));
  try {
    // A lock left by a process that no longer exists (pid 2^22+1 is above pid_max).
    mkdirSync(join(dir, 'lock'));
    writeFileSync(join(dir, 'lock', 'pid'), String(4194305));
    const order: string[] = [];
    const hold = (name: string) =>
      withStateLock(dir, async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${name}-`);
      });
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    t.is(order.length, 6);
    for (let i = 0; i < 6; i += 2) t.is(order[i]!.slice(0, -1), order[i + 1]!.slice(0, -1), `no overlap: ${order.join(' ')}`);
    t.false(existsSync(join(dir, 'lock')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DNS: loopback resolvers (systemd-resolved\'s stub) are skipped for the upstream list', async (t) => {
  t.deepEqual(
    parseNameservers('# c\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\n nameserver  fd00::53 \nsearch x\nnameserver bogus\n').map(String),
    ['10.0.0.53', 'fd00::53'],
  );
  const dir = mkdtempSync(join(tmpdir(), 'moat-dns-'));
  try {
    const stub = join(dir, 'stub.conf');
    const upstream = join(dir, 'upstream.conf');
    writeFileSync(stub, 'nameserver 127.0.0.53\noptions edns0\n');
    writeFileSync(upstream, 'nameserver 192.0.2.53\nnameserver 2001:db8::53\n');
    t.deepEqual((await hostDnsServers([stub, upstream])).map(String), ['192.0.2.53', '2001:db8::53']);
    t.deepEqual((await hostDnsServers([upstream, stub])).map(String), ['192.0.2.53', '2001:db8::53'], 'a usable first file wins');
    t.deepEqual(await hostDnsServers([stub, join(dir, 'missing')]), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- root ------------------------------------------------------------------------------------

const SUFFIX = String(process.pid);
const OUT_NS = `moat-out-${SUFFIX}`;
const OUT_HOST_IF = `moat-o${SUFFIX}`.slice(0, 15);
const OUT_PEER_IF = `moat-p${SUFFIX}`.slice(0, 15);
const NET = 20 + (process.pid % 200);
const HOST4 = `10.215.${NET}.1`;
const PEER4 = `10.215.${NET}.2`;
const HOST6 = `fd13:215:${NET.toString(16)}::1`;
const PEER6 = `fd13:215:${NET.toString(16)}::2`;

function readForwardingUsers(): { id: string; pid: number }[] {
  try {
    const s = JSON.parse(readFileSync('/run/moat/forwarding.json', 'utf8')) as Record<string, { users: { id: string; pid: number }[] }>;
    return Object.values(s).flatMap((e) => e.users);
  } catch {
    return [];
  }
}

/** The outside: a namespace with its own subnet, joined to the host by a veth (host side addressed). */
async function makeOutside(): Promise<() => Promise<void>> {
  await createNetns(OUT_NS);
  try {
    await createVethPair(OUT_HOST_IF, OUT_PEER_IF, { netnsB: OUT_NS });
    await ip(['address', 'add', `${HOST4}/24`, 'dev', OUT_HOST_IF]);
    await ip(['address', 'add', `${HOST6}/64`, 'dev', OUT_HOST_IF, 'nodad']);
    await ip(['address', 'add', `${PEER4}/24`, 'dev', OUT_PEER_IF], { netns: OUT_NS });
    await ip(['address', 'add', `${PEER6}/64`, 'dev', OUT_PEER_IF, 'nodad'], { netns: OUT_NS });
    await setLinkUp(OUT_HOST_IF);
    await setLinkUp(OUT_PEER_IF, { netns: OUT_NS });
  } catch (e) {
    await deleteNetns(OUT_NS).catch(() => {});
    throw e;
  }
  return async () => {
    await deleteNetns(OUT_NS).catch(() => {});
    await deleteLink(OUT_HOST_IF).catch(() => {});
  };
}

const PEER_SERVER = `
import net from 'node:net';
import dgram from 'node:dgram';
let n = 0;
const ready = () => { if (++n === 4) console.log('ready'); };
for (const host of [${JSON.stringify(PEER4)}, ${JSON.stringify(PEER6)}]) {
  // Each answers with the source address it saw: the masqueraded one.
  net.createServer((s) => s.end(s.remoteAddress + '\\n')).listen(8080, host, ready);
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  u.on('message', (m, r) => u.send(r.address + ' ' + m, r.port, r.address));
  u.bind(7777, host, ready);
}
setTimeout(() => process.exit(0), 60000);
`;

function startPeerServer(): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', OUT_NS, process.execPath, '--input-type=module', '-e', PEER_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the peer servers did not start within 10 s')), 10_000);
    child.on('exit', (c) => reject(new Error(`the peer servers exited (${c})`)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

function bounded<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function tcpSourceSeen(stack: MoatStack, host: string): Promise<string> {
  return bounded(`TCP to ${host}:8080`, 10_000, new Promise<string>((resolve, reject) => {
    let got = '';
    const s = stack.net.connect(8080, host);
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('end', () => resolve(got.trim()));
    s.on('error', reject);
  }));
}

function udpSourceSeen(stack: MoatStack, host: string): Promise<string> {
  const fam = host.includes(':') ? 'udp6' : 'udp4';
  const u = stack.dgram.createSocket(fam);
  return bounded(`UDP to ${host}:7777`, 10_000, new Promise<string>((resolve) => {
    u.on('message', (m: Buffer) => resolve(m.toString()));
    u.send(Buffer.from('moat'), 7777, host);
  })).finally(() => u.close());
}

async function gone(link: AutoLink): Promise<string[]> {
  const left: string[] = [];
  if ((await listNetns()).includes(link.netns)) left.push(`netns ${link.netns}`);
  if ((await ip(['-j', 'link', 'show'])).includes(`"${link.hostIfname}"`)) left.push(`link ${link.hostIfname}`);
  if ((await listMoatNftTables(link.table)).includes(link.table)) left.push(`table ${link.table}`);
  if (existsSync(join(MOAT_RUNS_DIR, `${link.id}.json`))) left.push('record');
  return left;
}

privilegedTest('moat\'s stack on an auto link reaches an outside namespace by TCP, UDP and ping, v4 and v6, masqueraded', async (t) => {
  const closeOutside = await makeOutside();
  const others = readForwardingUsers().filter((u) => u.pid !== process.pid);
  const forwardBefore = await procSysctl.read(IPV4_FORWARD);
  const uplinkKey = forceForwardingKey(OUT_HOST_IF);
  let server: ChildProcess | null = null;
  let link: AutoLink | null = null;
  let stack: MoatStack | null = null;
  try {
    t.is(await procSysctl.read(uplinkKey), '0', `this 6.18 kernel has ${uplinkKey}`);
    server = await startPeerServer();
    link = await createAutoLink({ id: `t${SUFFIX}`.slice(0, 9), ipv6: true, uplinks6: [OUT_HOST_IF] });
    t.truthy(link.v6, `IPv6 is forwarded through force_forwarding: ${link.warnings.join('; ')}`);
    t.is(link.netns, `moat-run-${link.id}`);
    t.is(link.hostIfname, `moat-h${link.id}`);
    t.deepEqual(link.warnings, []);
    t.is(await procSysctl.read(IPV4_FORWARD), '1');
    t.is(await procSysctl.read(forceForwardingKey(link.hostIfname)), '1');
    t.is(await procSysctl.read(uplinkKey), '1');
    t.is(await procSysctl.read('net/ipv6/conf/all/forwarding'), '0', 'host-wide IPv6 forwarding untouched');
    const addrs = JSON.parse(await ip(['-j', 'address', 'show', 'dev', link.ifname], { netns: link.netns })) as { addr_info: unknown[]; mtu: number }[];
    t.deepEqual(addrs[0]!.addr_info, [], 'the stack end holds no address (not even link-local)');

    const pl = new PacketLink({ ifname: link.ifname, netns: link.netns });
    t.is(pl.caps.mtu, link.mtu, 'the veth has the MTU the link reports');
    t.is(link.mac, Array.from(pl.mac, (b) => b.toString(16).padStart(2, '0')).join(':'));
    stack = createStack({ link: pl, ip: [...link.ip], gateway: [...link.gateway] });
    await stack.ready();

    t.is(await tcpSourceSeen(stack, PEER4), HOST4, 'the peer saw the host\'s address on its link (IPv4 masquerade)');
    t.is(await tcpSourceSeen(stack, PEER6), HOST6, 'IPv6 masquerade');
    t.is(await udpSourceSeen(stack, PEER4), `${HOST4} moat`);
    t.is(await udpSourceSeen(stack, PEER6), `${HOST6} moat`);
    for (const dst of [PEER4, PEER6]) {
      const r = await ping(stack.stack, IpAddr.parse(dst), 56, 5000);
      t.is(r.ttl, 63, `${dst}'s echo reply came through one router (the host)`);
    }

    // Why the uplink needs force_forwarding too: ip6_forward asks the interface a packet ARRIVED
    // on, so without it the replies from outside stop at the host (observed on 6.18).
    await procSysctl.write(uplinkKey, '0');
    await t.throwsAsync(ping(stack.stack, IpAddr.parse(PEER6), 56, 1500), { message: /no answer/ });
    await procSysctl.write(uplinkKey, '1');
    t.is((await ping(stack.stack, IpAddr.parse(PEER6), 56, 5000)).ttl, 63);

    // The outside cannot open a connection to the stack: the run's forward chain drops it.
    const srv = stack.net.createServer((s) => s.end('should not happen\n'));
    await new Promise<void>((r) => srv.listen(9090, link!.v4.stack.addr.toString(), () => r()));
    await ip(['route', 'add', '10.237.0.0/16', 'via', HOST4], { netns: OUT_NS });
    const probe = await new Promise<string>((resolve) => {
      const c = spawn('ip', ['netns', 'exec', OUT_NS, process.execPath, '-e', `
        const s = require('node:net').connect({ port: 9090, host: ${JSON.stringify(link!.v4.stack.addr.toString())} });
        s.on('data', () => { console.log('connected'); process.exit(0); });
        s.on('error', (e) => { console.log(e.code); process.exit(0); });
        setTimeout(() => { console.log('no answer'); process.exit(0); }, 1500);`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('exit', () => resolve(out.trim()));
    });
    srv.close();
    t.is(probe, 'no answer', 'a SYN from outside was dropped');
    const chain = await nft(['list', 'chain', 'inet', link.table, 'forward']);
    t.regex(chain, /counter packets [1-9]\d* bytes \d+ drop/, chain);
  } finally {
    stack?.close();
    server?.kill('SIGKILL');
    await link?.destroy();
    t.is(await procSysctl.read(uplinkKey), '0', 'the uplink\'s force_forwarding is given back');
    await closeOutside();
  }
  t.deepEqual(await gone(link!), []);
  if (others.length === 0) {
    t.is(await procSysctl.read(IPV4_FORWARD), forwardBefore, 'ip_forward is back to what it was');
  } else {
    t.is(await procSysctl.read(IPV4_FORWARD), '1', `other runs (${others.map((o) => o.id).join(' ')}) still need ip_forward`);
  }
});

privilegedTest('two auto links at once get different subnets; ip_forward stays on until the last one goes', async (t) => {
  const others = readForwardingUsers().filter((u) => u.pid !== process.pid);
  const forwardBefore = await procSysctl.read(IPV4_FORWARD);
  const [a, b] = await Promise.all([createAutoLink({ ipv6: true, uplinks6: [] }), createAutoLink({ ipv6: true, uplinks6: [] })]);
  try {
    t.not(a!.id, b!.id);
    t.not(a!.v4.stack.network().key, b!.v4.stack.network().key);
    t.false(prefixesOverlap(a!.v4.stack, b!.v4.stack));
    t.truthy(a!.v6 && b!.v6);
    t.false(prefixesOverlap(a!.v6!.stack, b!.v6!.stack));
    t.is(a!.v4.stack.prefixLen, 30);
    t.is(a!.v6!.stack.prefixLen, 64);
    t.true(IpCidr.parse('10.237.0.0/16').contains(a!.v4.stack.addr));
    t.true(IpCidr.parse('fd6d:6f61:74::/48').contains(a!.v6!.stack.addr));
    const users = readForwardingUsers().map((u) => u.id);
    t.true(users.includes(a!.id) && users.includes(b!.id), users.join(' '));
    await a!.destroy();
    t.deepEqual(await gone(a!), []);
    t.is(await procSysctl.read(IPV4_FORWARD), '1', 'b still needs it');
  } finally {
    await a!.destroy();
    await b!.destroy();
  }
  t.deepEqual(await gone(b!), []);
  if (others.length === 0) t.is(await procSysctl.read(IPV4_FORWARD), forwardBefore);
});

privilegedTest('an explicit id already taken is refused, and nothing is left behind', async (t) => {
  const id = `d${SUFFIX}`.slice(0, 9);
  await createNetns(`moat-run-${id}`);
  try {
    const err = await t.throwsAsync(createAutoLink({ id, ipv6: false }));
    t.true(err instanceof AutoLinkError, String(err));
    t.regex(err!.message, /exists/);
    t.false(existsSync(join(MOAT_RUNS_DIR, `${id}.json`)));
  } finally {
    await deleteNetns(`moat-run-${id}`).catch(() => {});
  }
});

privilegedTest('cleanup leaves a live run alone and removes a dead one\'s namespace, link, table, record and ip_forward', async (t) => {
  const others = readForwardingUsers().filter((u) => u.pid !== process.pid);
  const forwardBefore = await procSysctl.read(IPV4_FORWARD);
  const id = `c${SUFFIX}`.slice(0, 9);
  const entry = fileURLToPath(new URL('../../src/net-plumbing/auto-link.js', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { createAutoLink } = await import(${JSON.stringify(entry)});
    const l = await createAutoLink({ id: ${JSON.stringify(id)}, ipv6: false });
    console.log('up ' + l.netns);
    setTimeout(() => {}, 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const scopes = [{ prefix: `moat-run-${id}` }, { prefix: `moat-h${id}` }];
  try {
    await bounded('the child\'s auto link', 15_000, new Promise<void>((resolve, reject) => {
      child.on('exit', (c) => reject(new Error(`child exited ${c}`)));
      child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('up ') && resolve());
    }));
    t.deepEqual(await listMoatResources(scopes[0]), { netns: [], links: [] }, 'a live run\'s resources are not listed');
    t.deepEqual(await listMoatResources({ ...scopes[0], includeLive: true }), { netns: [`moat-run-${id}`], links: [], nftTables: [`moat-run-${id}`] });
    t.deepEqual((await listMoatResources({ ...scopes[1], includeLive: true })).links, [`moat-h${id}`]);

    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    t.deepEqual(await listMoatResources(scopes[0]), { netns: [`moat-run-${id}`], links: [], nftTables: [`moat-run-${id}`] }, 'now they are leftovers');
    const r1 = await cleanupMoat(scopes[0]);
    t.deepEqual(r1.failed, []);
    t.deepEqual(r1.deleted, { netns: [`moat-run-${id}`], links: [], nftTables: [`moat-run-${id}`] });
    await cleanupMoat(scopes[1]); // the host end went with the namespace; nothing to do
    const fake = { id, netns: `moat-run-${id}`, hostIfname: `moat-h${id}`, table: `moat-run-${id}` } as AutoLink;
    t.deepEqual(await gone(fake), []);
    t.false(readForwardingUsers().some((u) => u.id === id), 'the dead run no longer holds ip_forward');
    if (others.length === 0) t.is(await procSysctl.read(IPV4_FORWARD), forwardBefore, 'ip_forward restored by cleanup');
  } finally {
    child.kill('SIGKILL');
    for (const s of scopes) await cleanupMoat({ ...s, includeLive: true }).catch(() => {});
  }
});

privilegedTest('forward chains with policy drop in other tables are reported (they still judge the run\'s packets)', async (t) => {
  const ns = `moat-fw-${SUFFIX}`;
  await createNetns(ns);
  try {
    t.deepEqual(await forwardDropChains({ netns: ns }), []);
    await nft(['-f', '-'], {
      netns: ns,
      input: [
        'table inet filter {',
        '  chain gate { type filter hook forward priority 0; policy drop; }',
        '  chain open { type filter hook forward priority 10; policy accept; }',
        '}',
        '',
      ].join('\n'),
    });
    await nft(['-f', '-'], { netns: ns, input: 'table ip nat {\n  chain post { type nat hook postrouting priority 100; policy accept; }\n}\n' });
    t.deepEqual(await forwardDropChains({ netns: ns }), ['inet filter gate']);
  } finally {
    await deleteNetns(ns).catch(() => {});
  }
});
