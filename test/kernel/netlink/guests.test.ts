// Real programs as guests: `ip`, python3 and node ask rtnetlink about their interfaces; their
// netlink sockets are trapped by the seccomp supervisor and served by NetlinkRouteSocket over a
// world built from a moat Stack (worldFromStack). They must print moat0 with 10.9.8.7/24, an
// interface that exists nowhere on the host. Root: the guest gets its own network namespace.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { native } from '../../../src/net-plumbing/native.js';
import { GuestFds, Supervisor, spawnGuest } from '../../../src/kernel/supervisor/index.js';
import { AF_NETLINK } from '../../../src/kernel/supervisor/index.js';
import type { SyscallAnswer, TrappedCall } from '../../../src/kernel/supervisor/index.js';
import { NETLINK_ROUTE } from '../../../src/kernel/netlink/constants.js';
import { NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import { NetlinkPairWatcher, isNonblockingFlags, openNetlinkSocket, serveNetlinkCall } from '../../../src/kernel/netlink/serve.js';
import { worldFromStack } from '../../../src/kernel/netlink/world.js';
import type { Stack } from '../../../src/netstack/stack.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import type { NetlinkWorld } from '../../../src/kernel/netlink/world.js';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedTest } from '../../helpers/privileged.js';
import { moatStack } from './stack-fixture.js';

/** What the sandbox dispatcher will do for netlink fds, in test form: inode -> socket. */
class NetlinkServer {
  readonly ports = new NetlinkPortTable();
  readonly sockets = new Map<bigint, { sock: NetlinkRouteSocket; watcher: NetlinkPairWatcher }>();
  readonly fds = new GuestFds();
  readonly stops: Array<() => void> = [];
  readonly created: NetlinkRouteSocket[] = [];
  served = 0;
  continued = 0;

  constructor(private readonly world: ConstructorParameters<typeof NetlinkRouteSocket>[0]['world']) {}

  handle = async (call: TrappedCall): Promise<SyscallAnswer> => {
    const n = native();
    if (call.name === 'socket') {
      // Other families, and other netlink protocols, are not this test's: the kernel runs them.
      if (call.argInt(0) !== AF_NETLINK || call.argInt(2) !== NETLINK_ROUTE) return { continue: true };
      const opened = openNetlinkSocket(call, { world: this.world, ports: this.ports });
      if (typeof opened === 'string') return { errno: opened };
      this.sockets.set(opened.ino, { sock: opened.sock, watcher: opened.watcher });
      this.stops.push(() => opened.watcher.close());
      this.created.push(opened.sock);
      return opened.answer;
    }
    if (call.name === 'socketpair') return { continue: true };
    const dup = this.fds.dup(call, call.argInt(0));
    if (typeof dup === 'string') return dup === 'EBADF' ? { errno: 'EBADF' } : { continue: true };
    const entry = this.sockets.get(dup.ino);
    // Calls on the guest's other fds (pipes, its own unix sockets): the kernel runs them.
    if (!entry) {
      n.closeFd(dup.fd);
      this.continued++;
      return { continue: true };
    }
    this.served++;
    try {
      const nonblocking = isNonblockingFlags(n.fdStatusFlags(dup.fd));
      return await serveNetlinkCall(entry.sock, call, { nonblocking, watcher: entry.watcher, guestDup: dup.fd });
    } finally {
      n.closeFd(dup.fd);
    }
  };

  close(): void {
    this.fds.close();
    for (const stop of this.stops.splice(0)) stop();
  }
}

async function runServed(
  file: string,
  args: string[],
  world?: (w: NetlinkWorld) => NetlinkWorld,
  setup?: (stack: Stack) => void,
): Promise<{ out: string; err: string; code: number | null; server: NetlinkServer; released: boolean }> {
  const { stack } = moatStack();
  setup?.(stack);
  const server = new NetlinkServer(() => (world ? world(worldFromStack(stack)) : worldFromStack(stack)));
  const guest = await spawnGuest({ file, args, stdio: ['ignore', 'pipe', 'pipe'], trapFamilies: [AF_NETLINK] });
  const sup = new Supervisor(guest.listenerFd, server.handle, { sweepIntervalMs: 0 }).start();
  let out = '';
  let err = '';
  (guest.child.stdout as Readable).setEncoding('utf8').on('data', (d: string) => (out += d));
  (guest.child.stderr as Readable).setEncoding('utf8').on('data', (d: string) => (err += d));
  const killer = setTimeout(() => guest.child.kill('SIGKILL'), 30_000);
  try {
    const exit = await guest.exited;
    await sup.ended;
    // The guest is gone: moat's ends of the pairs hang up (bounded wait for those events).
    for (let i = 0; i < 200 && !server.created.every((x) => x.isClosed); i++) await new Promise((r) => setTimeout(r, 10));
    const released = server.created.length > 0 && server.created.every((x) => x.isClosed && !server.ports.has(x.pid));
    return { out, err, code: exit.code, server, released };
  } finally {
    clearTimeout(killer);
    sup.stop();
    server.close();
  }
}

const guestDir = mkdtempSync(join(tmpdir(), 'moat-nl-guests-'));
chmodSync(guestDir, 0o755);
test.after.always(() => rmSync(guestDir, { recursive: true, force: true }));

/** Compiles test/kernel/netlink/guests/<name>.c once. */
const compiled = new Map<string, string>();
function guest(name: string): string {
  const have = compiled.get(name);
  if (have) return have;
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'test', 'kernel', 'netlink', 'guests', `${name}.c`);
  const out = join(guestDir, name);
  execFileSync('cc', ['-O1', '-Wall', '-o', out, src]);
  compiled.set(name, out);
  return out;
}

/** Runs `bin` in a fresh namespace of its own, unserved: what Linux itself answers. */
function onLinux(bin: string, suffix: string): string {
  const ns = `moat-nl${suffix}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    return execFileSync('ip', ['netns', 'exec', ns, bin], { encoding: 'utf8', timeout: 30_000 });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

const hostHasMoat0 = (() => {
  try {
    return execFileSync('ip', ['-j', 'addr'], { encoding: 'utf8' }).includes('10.9.8.7');
  } catch {
    return false;
  }
})();

test('the host has no moat0 with 10.9.8.7 (so the guests below can only have it from moat)', (t) => {
  t.false(hostHasMoat0);
});

interface IpAddrJson {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string; broadcast?: string; label?: string }>;
}

privilegedTest('ip -j addr in a guest shows lo and moat0 with moat\'s addresses', async (t) => {
  const r = await runServed('ip', ['-j', 'addr']);
  t.is(r.code, 0, r.err);
  const links = JSON.parse(r.out) as IpAddrJson[];
  t.deepEqual(links.map((l) => [l.ifindex, l.ifname]), [[1, 'lo'], [2, 'moat0']]);
  const moat0 = links[1]!;
  t.is(moat0.address, '02:00:00:00:00:01');
  t.is(moat0.mtu, 1500);
  t.is(moat0.operstate, 'UP');
  t.deepEqual(moat0.flags, ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
  const addrs = moat0.addr_info.map((a) => `${a.family} ${a.local}/${a.prefixlen} ${a.scope}`);
  t.deepEqual(addrs, ['inet 10.9.8.7/24 global', 'inet6 fd00:9::7/64 global', 'inet6 fe80::ff:fe00:1/64 link']);
  t.is(moat0.addr_info[0]!.broadcast, '10.9.8.255');
  t.deepEqual(links[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen} ${a.scope}`), ['127.0.0.1/8 host', '::1/128 host']);
  t.true(r.server.served > 0);
});

privilegedTest('ip -j route and ip -j -6 route in a guest show moat\'s routes', async (t) => {
  const r4 = await runServed('ip', ['-j', 'route']);
  t.is(r4.code, 0, r4.err);
  const routes4 = JSON.parse(r4.out) as Array<Record<string, unknown>>;
  t.deepEqual(routes4, [
    { dst: 'default', gateway: '10.9.8.1', dev: 'moat0', flags: [] },
    { dst: '10.9.8.0/24', dev: 'moat0', protocol: 'kernel', scope: 'link', prefsrc: '10.9.8.7', flags: [] },
  ]);
  const r6 = await runServed('ip', ['-j', '-6', 'route']);
  t.is(r6.code, 0, r6.err);
  const routes6 = (JSON.parse(r6.out) as Array<{ dst: string; dev: string; gateway?: string; metric?: number }>).map((x) => `${x.dst} ${x.gateway ?? '-'} ${x.dev} ${x.metric}`);
  t.deepEqual(routes6, ['fd00:9::/64 - moat0 256', 'fe80::/64 - moat0 256', 'default fd00:9::1 moat0 1024']);
});

privilegedTest('ip -j link show moat0 and ip route get in a guest', async (t) => {
  const r = await runServed('ip', ['-j', 'link', 'show', 'moat0']);
  t.is(r.code, 0, r.err);
  const l = JSON.parse(r.out) as Array<{ ifname: string; address: string; link_type: string }>;
  t.deepEqual(l.map((x) => [x.ifname, x.address, x.link_type]), [['moat0', '02:00:00:00:00:01', 'ether']]);
  const g = await runServed('ip', ['-j', 'route', 'get', '192.0.2.1']);
  t.is(g.code, 0, g.err);
  const got = JSON.parse(g.out) as Array<{ dst: string; gateway: string; dev: string; prefsrc: string }>;
  t.like(got[0], { dst: '192.0.2.1', gateway: '10.9.8.1', dev: 'moat0', prefsrc: '10.9.8.7' });
  const missing = await runServed('ip', ['link', 'show', 'eth0']);
  t.not(missing.code, 0);
  t.regex(missing.err, /does not exist/);
});

privilegedTest('python3 socket.if_nameindex() in a guest lists lo and moat0', async (t) => {
  const r = await runServed('python3', ['-c', 'import socket; print(socket.if_nameindex())']);
  t.is(r.code, 0, r.err);
  t.is(r.out.trim(), "[(1, 'lo'), (2, 'moat0')]");
  t.true(r.released, 'every netlink socket was closed (its port id released) when the guest closed it');
});

privilegedTest('node os.networkInterfaces() in a guest shows moat0 with 10.9.8.7/24', async (t) => {
  const r = await runServed(process.execPath, ['-e', 'console.log(JSON.stringify(require("os").networkInterfaces()))']);
  t.is(r.code, 0, r.err);
  const ifs = JSON.parse(r.out) as Record<string, Array<{ address: string; netmask: string; family: string; mac: string; internal: boolean; cidr: string }>>;
  t.deepEqual(Object.keys(ifs).sort(), ['lo', 'moat0']);
  t.deepEqual(
    ifs.moat0!.map((a) => [a.cidr, a.mac, a.internal]),
    [
      ['10.9.8.7/24', '02:00:00:00:00:01', false],
      ['fd00:9::7/64', '02:00:00:00:00:01', false],
      ['fe80::ff:fe00:1/64', '02:00:00:00:00:01', false],
    ],
  );
  t.deepEqual(ifs.lo!.map((a) => a.cidr), ['127.0.0.1/8', '::1/128']);
});

privilegedTest('a C guest: glibc getifaddrs, if_nameindex, getaddrinfo(AI_ADDRCONFIG) and a Go-style page-sized dump', async (t) => {
  const r = await runServed(guest('ifprobe'), []);
  t.is(r.code, 0, r.err);
  t.deepEqual(r.out.trim().split('\n'), [
    'iflink lo flags=0x10049',
    'iflink moat0 flags=0x11043',
    'ifaddr lo inet 127.0.0.1 255.0.0.0',
    'ifaddr moat0 inet 10.9.8.7 255.255.255.0',
    'ifaddr lo inet6 ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'ifaddr moat0 inet6 fd00:9::7 ffff:ffff:ffff:ffff::',
    'ifaddr moat0 inet6 fe80::ff:fe00:1 ffff:ffff:ffff:ffff::',
    'if_nameindex 1 lo',
    'if_nameindex 2 moat0',
    'addrconfig v4=1 v6=1',
    'go-style dump addrs=5',
  ]);
});

privilegedTest('getaddrinfo(AI_ADDRCONFIG) follows the world: with no IPv6 address but ::1, AF_INET6 is refused', async (t) => {
  // This glibc's __check_pf counts any IPv6 address but ::1 (link-local too), so all go.
  const v4only = (w: NetlinkWorld): NetlinkWorld => ({
    ...w,
    interfaces: w.interfaces.map((i) => ({ ...i, addresses: i.addresses.filter((a) => a.addr.family === 4 || a.addr.isLoopback()) })),
  });
  const r = await runServed(guest('ifprobe'), [], v4only);
  t.is(r.code, 0, r.err);
  t.true(r.out.includes('addrconfig v4=1 v6=0\n'), r.out);
});

privilegedTest('an event-loop guest: epoll reports the netlink fd readable while answers wait, and not after', async (t) => {
  const r = await runServed(guest('pollprobe'), []);
  t.is(r.code, 0, r.err);
  t.deepEqual(r.out.trim().split('\n'), ['ready-before-request=0', 'links=2 done=1', 'ready-after=0']);
  t.true(r.released);
});

privilegedTest('ip -j neigh and ip -j rule in a guest show moat\'s neighbour cache and the default rules', async (t) => {
  const r = await runServed('ip', ['-j', 'neigh'], undefined, (stack) => {
    stack.nicByName('moat0')!.arp!.addStatic(IpAddr.parse('10.9.8.1'), Uint8Array.of(2, 0, 0, 0, 0, 9));
  });
  t.is(r.code, 0, r.err);
  t.deepEqual(JSON.parse(r.out), [{ dst: '10.9.8.1', dev: 'moat0', lladdr: '02:00:00:00:00:09', state: ['PERMANENT'] }]);
  const rules = await runServed('ip', ['-j', 'rule']);
  t.is(rules.code, 0, rules.err);
  t.deepEqual(
    (JSON.parse(rules.out) as Array<{ priority: number; table: string }>).map((x) => `${x.priority} ${x.table}`),
    ['0 local', '32766 main', '32767 default'],
  );
});

privilegedTest('autobind uses the binding process: a socket bound by a forked child gets the child\'s pid, as on Linux', async (t) => {
  const bin = guest('forkbind');
  const linux = onLinux(bin, 'fb');
  const r = await runServed(bin, []);
  t.is(r.code, 0, r.err);
  t.is(r.out, linux);
  t.deepEqual(linux.trim().split('\n'), ['child-bound-port-is-child-pid=1', 'parent-port-is-parent-pid=1', 'third-port-is-negative=1']);
});

privilegedTest('socket(AF_NETLINK, ...): types, flags and errors as on Linux', async (t) => {
  const bin = guest('socketerrs');
  const linux = onLinux(bin, 'se');
  const r = await runServed(bin, []);
  t.is(r.code, 0, r.err);
  t.is(r.out, linux);
  t.true(linux.includes('stream=-1 ESOCKTNOSUPPORT'), linux);
});
