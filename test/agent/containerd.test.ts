// containerd (Debian's 1.6, with its runc shim) in front of the agent: `ctr run --seccomp-profile`
// loads the profile that `moat agent --print-profile` writes, keeps its listenerPath (the same
// loader the CRI plugin uses for Kubernetes Localhost profiles), and the container's nc reaches a
// peer through moat. The test runs its own containerd on a private socket, root and state.

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent, agentSeccompProfile, sandboxServe } from '../../src/kernel/agent/index.js';
import { privilegedTest, isRoot } from '../helpers/privileged.js';
import { cleanup, have, ip, makeContainerNet, makeRootfs, tempDir, waitFor } from './runc-harness.js';

const run = promisify(execFile);
test.after.always(() => cleanup());

const tag = String(process.pid % 100000);

if (isRoot && !(have('containerd') && have('ctr') && have('containerd-shim-runc-v2'))) {
  test('containerd installed', (t) => t.fail('containerd is not installed (apt-get install containerd)'));
} else {
  privilegedTest('containerd: ctr run with the agent\'s profile hands the listener over; the container reaches the peer through moat', async (t) => {
    const dir = tempDir('ctrd');
    const address = join(dir, 'containerd.sock');
    writeFileSync(
      join(dir, 'config.toml'),
      [
        'version = 2',
        `root = "${join(dir, 'root')}"`,
        `state = "${join(dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${address}"`,
        '[ttrpc]',
        `  address = "${address}.ttrpc"`,
        '',
      ].join('\n'),
    );
    const children: ChildProcess[] = [];
    const socketPath = join(dir, 'agent.sock');
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'default.yaml'), 'default: deny\nallow:\n  - cidr: 10.213.71.1/32\n    ports: [8000]\n');
    const lines: string[] = [];
    const agent = new Agent({ socketPath, policyDir: join(dir, 'policies'), serve: sandboxServe((l) => lines.push(l)), log: (l) => lines.push(l) }).start();
    const id = `moat-c${tag}`;
    try {
      const ctrd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: 'ignore' });
      children.push(ctrd);
      await waitFor(() => existsSync(address), 'containerd to listen');
      const n = await makeContainerNet(`${tag}d`, 71);
      children.push(spawn('ip', ['netns', 'exec', n.peer, '/bin/busybox', 'nc', '-l', '-p', '8000', '-e', '/bin/busybox', 'echo', 'hello-peer'], { stdio: 'ignore' }));
      const rootfs = makeRootfs(dir);
      writeFileSync(join(dir, 'profile.json'), JSON.stringify(agentSeccompProfile({ listenerPath: socketPath, listenerMetadata: 'policy=default' })));
      await new Promise((r) => setTimeout(r, 300));
      const r = await run(
        'ctr',
        ['--address', address, 'run', '--rm', '--rootfs', '--with-ns', `network:${n.netnsPath}`, '--seccomp', '--seccomp-profile', join(dir, 'profile.json'), rootfs, id,
          '/bin/busybox', 'sh', '-c', `nc -w 3 ${n.peerIp} 8000; echo rc=$?; nc -w 2 ${n.peerIp} 8001 2>&1; echo rc2=$?`],
        { timeout: 60_000, encoding: 'utf8' },
      );
      t.regex(r.stdout, /hello-peer/);
      t.regex(r.stdout, /rc=0/);
      t.regex(r.stdout, /rc2=1/, 'port 8001 is not allowed by the policy');
      t.true(lines.some((l) => l.startsWith(`admitted container=${id} `) && l.includes('policy=default')), lines.join('\n'));
      await waitFor(() => agent.stats.networksReleased === 1, 'the network released');
      t.regex(await ip(['-n', n.netns, '-4', '-br', 'address', 'show', 'dev', 'eth0']), /10\.213\.71\.2\/24/);
    } finally {
      await run('ctr', ['--address', address, 'task', 'kill', '-s', 'KILL', id]).catch(() => undefined);
      await run('ctr', ['--address', address, 'container', 'rm', id]).catch(() => undefined);
      for (const c of children.reverse()) c.kill('SIGKILL');
      await agent.stop();
    }
  });
}
