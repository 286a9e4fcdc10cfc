// `moat agent` as a process: the CLI serves a runc container through moat, writes audit lines
// naming the container, gives the interface back on SIGTERM; after a SIGKILL it cannot (the
// documented failure mode in deploy/README.md). And the deploy/ profile is what the CLI prints.

import test from 'ava';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { agentSeccompProfile } from '../../src/kernel/agent/profile.js';
import { privilegedTest } from '../helpers/privileged.js';
import { cleanup, containerOutput, ip, makeBundle, makeContainerNet, makeRootfs, RuntimeCli, tempDir, waitFor } from './runc-harness.js';

test.after.always(() => cleanup());

const tag = String(process.pid % 100000);
const moatBin = () => join(packageRoot(), 'bin', 'moat.js');

test('deploy/: the seccomp profile file and the DaemonSet ConfigMap are what `moat agent --print-profile` prints', (t) => {
  const root = packageRoot();
  const printed = execFileSync('node', [moatBin(), 'agent', '--socket', '/run/moat/agent.sock', '--print-profile'], { encoding: 'utf8' });
  t.deepEqual(JSON.parse(printed), agentSeccompProfile({ listenerPath: '/run/moat/agent.sock' }));
  t.is(readFileSync(join(root, 'deploy', 'seccomp', 'moat-agent.json'), 'utf8'), printed);
  const indented = printed.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');
  t.true(readFileSync(join(root, 'deploy', 'daemonset.yaml'), 'utf8').includes(indented), 'daemonset.yaml embeds the same profile');
});

function startCli(dir: string, socketPath: string): { child: ChildProcess; stderr: () => string } {
  let err = '';
  const child = spawn('node', [moatBin(), 'agent', '--socket', socketPath, '--policy-dir', join(dir, 'policies'), '--audit', join(dir, 'audit.jsonl')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, stderr: () => err };
}

privilegedTest('the moat agent CLI serves a runc container, audits by container name, restores the interface on SIGTERM; a SIGKILLed agent leaves it taken', async (t) => {
  const dir = tempDir('cli');
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'default.yaml'), 'default: deny\ninbound: allow\nlog: denied\nallow:\n  - cidr: 10.213.51.1/32\n    ports: [8000]\n');
  const socketPath = join(dir, 'agent.sock');
  const cli = new RuntimeCli('runc', join(dir, 'state'));
  const rootfs = makeRootfs(dir);
  const ids = [`moat-t${tag}k1`, `moat-t${tag}k2`];
  const children: ChildProcess[] = [];
  try {
    const n1 = await makeContainerNet(`${tag}k1`, 51);
    const peerHttpd = spawn('ip', ['netns', 'exec', n1.peer, '/bin/busybox', 'nc', '-l', '-p', '8000', '-e', '/bin/busybox', 'echo', 'hello-from-peer'], { stdio: 'ignore' });
    children.push(peerHttpd);
    const a = startCli(dir, socketPath);
    children.push(a.child);
    await waitFor(() => existsSync(socketPath) && /listening on/.test(a.stderr()), 'the agent to listen');
    const script = `nc -w 3 ${n1.peerIp} 8000 2>&1; echo first=$?; nc -w 2 ${n1.peerIp} 9000 2>&1; echo second=$?; sleep 60`;
    const b1 = makeBundle(join(dir, 'b1'), rootfs, { args: ['sh', '-c', script], netnsPath: n1.netnsPath, listenerPath: socketPath });
    await cli.runDetached(ids[0]!, b1);
    const out = await waitFor(() => /second=\d/.test(containerOutput(b1)) && containerOutput(b1), 'the container');
    t.regex(out, /hello-from-peer/);
    t.regex(out, /first=0/);
    t.regex(out, /second=1/, 'port 9000 is not in the policy');
    const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    t.true(audit.some((r) => r.container === ids[0] && r.dport === 9000 && r.verdict !== 'accept'), JSON.stringify(audit));
    t.notRegex(await ip(['-n', n1.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0']), /10\.213/);
    // SIGTERM: an orderly stop gives the interface back.
    a.child.kill('SIGTERM');
    await new Promise((r) => a.child.once('exit', r));
    t.is(a.child.exitCode, 0, a.stderr());
    t.regex(await ip(['-n', n1.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0']), /10\.213\.51\.2\/24/);
    t.regex(a.stderr(), /network-down .*restored/);

    // SIGKILL: nothing runs to give the interface back; the container has no network at all.
    const b = startCli(dir, socketPath);
    children.push(b.child);
    await waitFor(() => /listening on/.test(b.stderr()), 'the second agent');
    const n2 = await makeContainerNet(`${tag}k2`, 52);
    const b2 = makeBundle(join(dir, 'b2'), rootfs, { args: ['sh', '-c', `nc -w 1 ${n2.peerIp} 8000 2>&1; echo first=$?; sleep 2; nc -w 1 ${n2.peerIp} 8000 2>&1; echo second=$?; sleep 60`], netnsPath: n2.netnsPath, listenerPath: socketPath });
    await cli.runDetached(ids[1]!, b2);
    await waitFor(() => /first=\d/.test(containerOutput(b2)), 'the second container served');
    b.child.kill('SIGKILL');
    await new Promise((r) => b.child.once('exit', r));
    const out2 = await waitFor(() => /second=\d/.test(containerOutput(b2)) && containerOutput(b2), 'the call after the agent died');
    t.regex(out2, /Function not implemented/);
    t.notRegex(await ip(['-n', n2.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0']), /10\.213/, 'the address stays removed after a SIGKILL');
  } finally {
    for (const id of ids) {
      await cli.kill(id);
      await cli.delete(id);
    }
    for (const c of children) c.kill('SIGKILL');
  }
});
