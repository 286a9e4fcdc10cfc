// The agent's lifecycle with runc: `runc exec` processes bring their own listener for the same
// container and share its stack; Kubernetes pod annotations choose the policy and name the pod in
// audit lines; several containers at once; and the documented failure mode of an agent restart
// (containers it served lose their trapped calls: ENOSYS; new containers are served again).

import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, denyServe, type PodNetwork } from '../../src/kernel/agent/index.js';
import { privilegedTest, isRoot } from '../helpers/privileged.js';
import { cleanup, containerOutput, have, ip, makeBundle, makeContainerNet, makeRootfs, RuntimeCli, tempDir, waitFor } from './runc-harness.js';

test.after.always(() => cleanup());

const tag = String(process.pid % 100000);

function agentIn(dir: string, policies: Record<string, string>, socketPath = join(dir, 'agent.sock')) {
  const policyDir = join(dir, 'policies');
  mkdirSync(policyDir, { recursive: true });
  for (const [name, text] of Object.entries(policies)) writeFileSync(join(policyDir, `${name}.yaml`), text);
  const lines: string[] = [];
  const audit: string[] = [];
  const agent = new Agent({ socketPath, policyDir, serve: denyServe('EPERM'), log: (l) => lines.push(l), audit: (l) => audit.push(l) }).start();
  return { agent, lines, audit, socketPath };
}

const loop = (peer: string) => `while true; do printf 'GET /\\r\\n\\r\\n' | nc -w 1 ${peer} 8000 2>&1; sleep 0.2; done`;

if (isRoot && !have('runc')) test('runc installed', (t) => t.fail('runc is not installed (apt-get install runc busybox-static)'));

privilegedTest('runc exec brings its own listener: same container, same stack; pod annotations choose the policy and name the pod in audit lines', async (t) => {
  const dir = tempDir('life');
  const { agent, lines, audit, socketPath } = agentIn(dir, {
    shop_cart_app: 'default: deny\ninbound: allow\nlog: all\n',
    default: 'default: allow\ninbound: deny\n',
  });
  const cli = new RuntimeCli('runc', join(dir, 'state'));
  const id = `moat-t${tag}x`;
  try {
    const cn = await makeContainerNet(`${tag}x`, 31);
    const bundle = makeBundle(join(dir, 'b'), makeRootfs(dir), {
      args: ['sh', '-c', 'sleep 120'],
      netnsPath: cn.netnsPath,
      listenerPath: socketPath,
      annotations: { 'io.kubernetes.cri.sandbox-namespace': 'shop', 'io.kubernetes.cri.sandbox-name': 'cart', 'io.kubernetes.cri.container-name': 'app' },
    });
    const up = new Promise<PodNetwork>((r) => agent.once('admitted', (_c: unknown, net: PodNetwork) => r(net)));
    await cli.runDetached(id, bundle);
    const net = await up;
    t.is(net.policy.name, 'shop_cart_app');
    t.is(net.policy.why, 'annotations');
    const first = [...net.containers.values()][0]!;
    t.is(first.info.label, 'shop/cart/app');
    t.deepEqual(first.info.pod, { namespace: 'shop', name: 'cart' });

    // runc exec: a new process with its own listener, served on the same network.
    const ex = await cli.exec(id, ['sh', '-c', `printf x | nc ${cn.peerIp} 8000 2>&1; echo rc=$?`]);
    t.regex(ex.stdout, /socket: Operation not permitted/, lines.join('\n'));
    t.regex(ex.stdout, /rc=1/);
    t.is(agent.stats.admitted, 2);
    t.is(agent.stats.networksCreated, 1, 'one stack for the container and its exec process');
    await waitFor(() => agent.stats.sessionsEnded === 1, 'the exec session to end');
    t.is(agent.networkList().length, 1, 'the container is still running: its network stays');
    t.true(lines.filter((l) => l.startsWith('admitted container=shop/cart/app ')).length === 2, lines.join('\n'));

    // Audit lines name the container and the pod (the policy denies everything outbound).
    const r = await new Promise<string>((resolve) => {
      const s = net.moat.net.connect(8000, cn.peerIp);
      s.on('connect', () => resolve('connected'));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    t.not(r, 'connected');
    const rec = audit.map((l) => JSON.parse(l) as Record<string, unknown>).find((o) => o.dst === cn.peerIp);
    t.truthy(rec, audit.join('\n'));
    t.is(rec!.container, 'app');
    t.is(rec!.pod, 'shop/cart');
    t.not(rec!.verdict, 'accept');
  } finally {
    await cli.kill(id);
    await cli.delete(id);
    await agent.stop();
  }
});

privilegedTest('agent restart: containers it served get ENOSYS from then on, their interface is given back on an orderly stop; new containers are served', async (t) => {
  const dir = tempDir('restart');
  const socketPath = join(dir, 'agent.sock');
  let a = agentIn(dir, { default: 'default: allow\ninbound: allow\n' }, socketPath);
  const cli = new RuntimeCli('runc', join(dir, 'state'));
  const rootfs = makeRootfs(dir);
  const ids = [`moat-t${tag}r1`, `moat-t${tag}r2`];
  try {
    const n1 = await makeContainerNet(`${tag}r1`, 41);
    const b1 = makeBundle(join(dir, 'b1'), rootfs, { args: ['sh', '-c', loop(n1.peerIp)], netnsPath: n1.netnsPath, listenerPath: socketPath });
    await cli.runDetached(ids[0]!, b1);
    await waitFor(() => /Operation not permitted/.test(containerOutput(b1)), 'the first container served');
    t.notRegex((await ip(['-n', n1.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0'])), /10\.213/);
    await a.agent.stop();
    // The listener is closed with the agent: the kernel now fails every trapped call with ENOSYS.
    await waitFor(() => /Function not implemented/.test(containerOutput(b1)), 'ENOSYS after the agent stopped');
    // An orderly stop gave the interface back (a SIGKILLed agent could not: see deploy/README.md).
    t.regex(await ip(['-n', n1.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0']), /10\.213\.41\.2\/24/);
    // A new agent on the same path: the old container is not served again (its listener is gone)...
    a = agentIn(dir, { default: 'default: allow\ninbound: allow\n' }, socketPath);
    const before = containerOutput(b1).length;
    await new Promise((r) => setTimeout(r, 600));
    t.regex(containerOutput(b1).slice(before), /Function not implemented/);
    t.is(a.agent.stats.admitted, 0);
    // ...and a new container is.
    const n2 = await makeContainerNet(`${tag}r2`, 42);
    const b2 = makeBundle(join(dir, 'b2'), rootfs, { args: ['sh', '-c', loop(n2.peerIp)], netnsPath: n2.netnsPath, listenerPath: socketPath });
    await cli.runDetached(ids[1]!, b2);
    await waitFor(() => /Operation not permitted/.test(containerOutput(b2)), 'the new container served');
    t.is(a.agent.stats.admitted, 1);
  } finally {
    for (const id of ids) {
      await cli.kill(id);
      await cli.delete(id);
    }
    await a.agent.stop();
  }
});

privilegedTest('eight containers at once: each its own network and stack, all served, all given back', async (t) => {
  const dir = tempDir('many');
  const { agent, socketPath } = agentIn(dir, { default: 'default: deny\ninbound: allow\n' });
  const cli = new RuntimeCli('runc', join(dir, 'state'));
  const rootfs = makeRootfs(dir);
  const N = 8;
  const ids = Array.from({ length: N }, (_, i) => `moat-t${tag}m${i}`);
  try {
    const nets = await Promise.all(ids.map((_, i) => makeContainerNet(`${tag}m${i}`, 100 + i)));
    const bundles = ids.map((_, i) => makeBundle(join(dir, `b${i}`), rootfs, { args: ['sh', '-c', `${loop(nets[i]!.peerIp)}`], netnsPath: nets[i]!.netnsPath, listenerPath: socketPath }));
    await Promise.all(ids.map((id, i) => cli.runDetached(id, bundles[i]!)));
    await waitFor(() => bundles.every((b) => /Operation not permitted/.test(containerOutput(b))), 'every container served');
    t.is(agent.networkList().length, N);
    t.is(new Set(agent.networkList().map((n) => n.key)).size, N);
    for (let i = 0; i < N; i++) {
      const net = agent.networkList().find((n) => n.taken?.addresses[0] === `10.213.${100 + i}.2/24`);
      t.truthy(net, `container ${i} has its own network with its own address`);
    }
    await Promise.all(ids.map((id) => cli.kill(id)));
    await waitFor(() => agent.stats.networksReleased === N, 'every network released');
    for (const n of nets) t.regex(await ip(['-n', n.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0']), /10\.213\.\d+\.2\/24/);
  } finally {
    for (const id of ids) {
      await cli.kill(id);
      await cli.delete(id);
    }
    await agent.stop();
  }
});
