// The agent with real OCI runtimes: runc and crun (Debian's) start busybox containers whose bundle
// traps the socket calls with SCMP_ACT_NOTIFY and names the agent's socket as listenerPath. The
// container's network namespace is set up as a CNI plugin would (veth to a peer namespace,
// address, default route); the agent takes its interface over, so the container's address is
// answered by moat's stack, and gives it back when the container exits. The container's own
// processes (busybox nc and httpd) fetch from the peer, are refused by policy, and serve a port
// that the peer reaches at the container's address, every socket call served by moat.

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, sandboxServe, type PodNetwork } from '../../src/kernel/agent/index.js';
import { privilegedTest, isRoot } from '../helpers/privileged.js';
import { cleanup, containerOutput, have, inNetns, ip, makeBundle, makeContainerNet, makeRootfs, RuntimeCli, tempDir, waitFor, type Runtime } from './runc-harness.js';

test.after.always(() => cleanup());

const tag = String(process.pid % 100000);

function startAgent(policies: Record<string, string>) {
  const dir = tempDir('runc');
  const policyDir = join(dir, 'policies');
  mkdirSync(policyDir);
  for (const [name, text] of Object.entries(policies)) writeFileSync(join(policyDir, `${name}.yaml`), text);
  const lines: string[] = [];
  const audit: string[] = [];
  const agent = new Agent({
    socketPath: join(dir, 'agent.sock'),
    policyDir,
    serve: sandboxServe((l) => lines.push(l)),
    log: (l) => lines.push(l),
    audit: (l) => audit.push(l),
  }).start();
  return { agent, dir, lines, audit, socketPath: join(dir, 'agent.sock') };
}

function httpd(netns: string, port: number, dir: string): ChildProcess {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), 'hello from the peer\n');
  return spawn('ip', ['netns', 'exec', netns, '/bin/busybox', 'httpd', '-f', '-p', String(port), '-h', dir], { stdio: 'ignore' });
}

async function kernelAddresses(netns: string): Promise<string> {
  return (await ip(['-n', netns, '-4', '-br', 'address', 'show', 'dev', 'eth0'])).trim();
}

function onNetwork(agent: Agent): Promise<PodNetwork> {
  return new Promise((resolve) => agent.once('network-up', resolve));
}

for (const runtime of ['runc', 'crun'] as Runtime[]) {
  const title = (s: string) => `${runtime}: ${s}`;
  if (isRoot && !have(runtime)) {
    test(title('runtime installed'), (t) => t.fail(`${runtime} is not installed (apt-get install runc crun busybox-static)`));
    continue;
  }
  privilegedTest(title("the container fetches from the peer and serves a port through moat at the address CNI gave it; policy by listenerMetadata refuses the other; the interface is given back on exit"), async (t) => {
    const sub = runtime === 'runc' ? 11 : 12;
    const { agent, dir, lines, audit, socketPath } = startAgent({
      open: 'default: allow\ninbound: allow\nlog: all\n',
      closed: 'default: deny\ninbound: deny\nlog: denied\n',
    });
    const cli = new RuntimeCli(runtime, join(dir, 'state'));
    const rootfs = makeRootfs(dir);
    const children: ChildProcess[] = [];
    const ids: string[] = [];
    try {
      const open = await makeContainerNet(`${tag}${runtime[0]}o`, sub);
      const closed = await makeContainerNet(`${tag}${runtime[0]}c`, sub + 20);
      children.push(httpd(open.peer, 8000, join(dir, 'www-o')), httpd(closed.peer, 8000, join(dir, 'www-c')));
      // busybox-static's wget crashes at start on Debian 12 (SIGSEGV before any socket call): nc it is.
      const script = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 PEER 8000 2>&1; echo nc-exit=$?; exec httpd -f -p 8080 -h /www`;
      const bo = makeBundle(join(dir, 'b-open'), rootfs, { args: ['sh', '-c', script.replace('PEER', open.peerIp)], netnsPath: open.netnsPath, listenerPath: socketPath, listenerMetadata: 'policy=open' });
      const bc = makeBundle(join(dir, 'b-closed'), rootfs, { args: ['sh', '-c', script.replace('PEER', closed.peerIp)], netnsPath: closed.netnsPath, listenerPath: socketPath, listenerMetadata: 'policy=closed' });
      t.regex(await kernelAddresses(open.netns), /10\.213\.\d+\.2\/24/, 'the "CNI" address is on the kernel interface before the container starts');

      const upOpen = onNetwork(agent);
      const idOpen = `moat-t${tag}${runtime[0]}o`;
      ids.push(idOpen);
      await cli.runDetached(idOpen, bo);
      const netOpen = await upOpen;
      const upClosed = onNetwork(agent);
      const idClosed = `moat-t${tag}${runtime[0]}c`;
      ids.push(idClosed);
      await cli.runDetached(idClosed, bc);
      const netClosed = await upClosed;

      // The container's own fetch from the peer, through moat: allowed by "open", refused by "closed".
      const outOpen = await waitFor(() => /nc-exit=\d+/.test(containerOutput(bo)) && containerOutput(bo), "the open container's nc");
      t.regex(outOpen, /hello from the peer/);
      t.regex(outOpen, /nc-exit=0/);
      const outClosed = await waitFor(() => /nc-exit=\d+/.test(containerOutput(bc)) && containerOutput(bc), "the closed container's nc");
      t.notRegex(outClosed, /hello from the peer/);
      t.regex(outClosed, /nc-exit=1/);
      t.true(
        audit.some((l) => {
          const o = JSON.parse(l) as { container: string; verdict: string; dst: string; dport?: number };
          return o.container === idClosed && o.verdict !== 'accept' && o.dst === closed.peerIp && o.dport === 8000;
        }),
        `an audit line names the container whose connection was refused:\n${audit.join('\n')}`,
      );

      // The takeover: the kernel no longer holds the address; moat's stack answers for it.
      t.is(netOpen.taken?.ifname, 'eth0');
      t.deepEqual(netOpen.taken?.addresses, [`${open.containerIp}/24`]);
      t.deepEqual(netOpen.taken?.routes, [{ family: 4, dst: '0.0.0.0/0', gateway: open.peerIp }]);
      t.notRegex(await kernelAddresses(open.netns), /10\.213/);
      t.is(netOpen.policy.name, 'open');
      t.is(netClosed.policy.name, 'closed');
      const pingOpen = await inNetns(open.peer, ['ping', '-c', '1', '-W', '3', open.containerIp]);
      t.is(pingOpen.code, 0, `ping answered by moat for the open container: ${pingOpen.stdout}${pingOpen.stderr}`);
      const pingClosed = await inNetns(closed.peer, ['ping', '-c', '1', '-W', '1', closed.containerIp]);
      t.not(pingClosed.code, 0, "inbound: deny drops the peer's ping");

      // The container's httpd serves a port that the peer reaches at the container's address.
      const got = await waitFor(async () => {
        const r = await inNetns(open.peer, ['curl', '-sS', '-m', '3', `http://${open.containerIp}:8080/`]);
        return r.code === 0 && r;
      }, "the container's httpd from the peer");
      t.is(got.stdout, 'served from the container\n');
      const refused = await inNetns(closed.peer, ['curl', '-sS', '-m', '2', `http://${closed.containerIp}:8080/`]);
      t.not(refused.code, 0, 'inbound: deny: the closed container is not reachable');

      // Exit: the session ends, the stack goes, the address comes back to the kernel.
      const down = new Promise((r) => agent.once('network-down', r));
      await cli.kill(idOpen);
      await down;
      t.regex(await kernelAddresses(open.netns), new RegExp(`${open.containerIp.replace(/\./g, '\\.')}/24`));
      t.regex(await ip(['-n', open.netns, 'route', 'show', 'default']), new RegExp(`via ${open.peerIp.replace(/\./g, '\\.')}`));
      t.true(lines.some((l) => /^network-down .*restored/.test(l)), lines.join('\n'));
    } finally {
      for (const id of ids) {
        await cli.kill(id);
        await cli.delete(id);
      }
      for (const c of children) c.kill('SIGKILL');
      await agent.stop();
    }
  });
}
