// Interface takeover on its own (src/net-plumbing/takeover.ts): a namespace configured like a
// dual-stack CNI result (IPv4 and IPv6 addresses, default routes for both, an extra static
// route) is recorded, emptied (no IPv4 address, IPv6 off: no link-local, no NDP), and restored to
// the same addresses and routes. Then the agent's stack on it answers ping and ping6 from the peer.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { recordInterface, restoreInterface, takeOverInterface, findContainerInterface } from '../../src/net-plumbing/takeover.js';
import { PacketLink } from '../../src/net-plumbing/links/packet-link.js';
import { createStack } from '../../src/kernel/node/stack.js';
import { privilegedTest } from '../helpers/privileged.js';
import { cleanup, inNetns, ip, makeContainerNet, waitFor } from './runc-harness.js';

const run = promisify(execFile);
test.after.always(() => cleanup());
const tag = String(process.pid % 100000);

async function dualStack(sub: number) {
  const n = await makeContainerNet(`${tag}t${sub}`, sub);
  await run('ip', ['netns', 'exec', n.netns, 'sysctl', '-q', '-w', 'net.ipv6.conf.eth0.disable_ipv6=0']);
  await ip(['-n', n.netns, 'address', 'add', `fd00:213:${sub}::2/64`, 'dev', 'eth0', 'nodad']);
  await ip(['-n', n.peer, 'address', 'add', `fd00:213:${sub}::1/64`, 'dev', (await ip(['-n', n.peer, '-br', 'link'])).split('\n').find((l) => l.startsWith('moat-'))!.split(/[@\s]/)[0]!, 'nodad']);
  await ip(['-n', n.netns, '-6', 'route', 'add', 'default', 'via', `fd00:213:${sub}::1`]);
  await ip(['-n', n.netns, 'route', 'add', '192.0.2.0/24', 'via', n.peerIp, 'metric', '7']);
  return n;
}

privilegedTest('takeover records IPv4 and IPv6 addresses and routes, empties the interface, and restores it as it was', async (t) => {
  const n = await dualStack(81);
  const path = n.netnsPath;
  t.is(await findContainerInterface(path), 'eth0');
  const before = await recordInterface(path, 'eth0');
  const taken = await takeOverInterface({ netnsPath: path });
  t.deepEqual(taken, before);
  t.deepEqual(taken.addresses.sort(), [`10.213.81.2/24`, `fd00:213:81::2/64`]);
  t.deepEqual(
    taken.routes.map((r) => `${r.dst}>${r.gateway ?? ''}:${r.metric ?? ''}`).sort(),
    [`0.0.0.0/0>10.213.81.1:`, `192.0.2.0/24>10.213.81.1:7`, `::/0>fd00:213:81::1:1024`].sort(),
  );
  t.false(taken.ipv6WasDisabled);
  t.is(taken.mtu, 1500);
  t.regex(taken.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  // Empty: no address of either family (not even link-local), the link still up.
  t.is((await ip(['-n', n.netns, '-j', 'address', 'show', 'dev', 'eth0'])).includes('"local"'), false);
  t.regex(await ip(['-n', n.netns, 'link', 'show', 'dev', 'eth0']), /state UP|,UP/);
  t.is((await run('ip', ['netns', 'exec', n.netns, 'sysctl', '-n', 'net.ipv6.conf.eth0.disable_ipv6'])).stdout.trim(), '1');
  t.is(await restoreInterface(taken), 'restored');
  const after = await recordInterface(path, 'eth0');
  t.deepEqual({ ...after, addresses: after.addresses.sort() }, { ...before, addresses: before.addresses.sort() });
});

privilegedTest("moat's stack on the taken interface answers ping and ping6 for the container's addresses", async (t) => {
  const n = await dualStack(82);
  const taken = await takeOverInterface({ netnsPath: n.netnsPath });
  const link = new PacketLink({ ifname: taken.ifname, netns: n.netnsPath });
  const moat = createStack({ link, ip: taken.addresses });
  try {
    for (const r of taken.routes) moat.stack.addRoute(r.dst, moat.nic, r.gateway ?? null, r.metric ?? 0);
    await moat.ready().catch(() => undefined);
    const p4 = await inNetns(n.peer, ['ping', '-c', '1', '-W', '2', '10.213.82.2']);
    t.is(p4.code, 0, p4.stdout + p4.stderr);
    const p6 = await waitFor(async () => {
      const r = await inNetns(n.peer, ['ping', '-6', '-c', '1', '-W', '1', 'fd00:213:82::2']);
      return r.code === 0 && r;
    }, 'ping6 answered', 10_000);
    t.regex(p6.stdout, /1 received|1 packets received/);
  } finally {
    moat.close();
    await restoreInterface(taken);
  }
});
