// The agent socket end to end without a runtime: a guest started by moat's exec helper gives a
// real seccomp listener, which the test hands to the agent exactly as runc does (connect, the
// container process state as JSON, the fd by SCM_RIGHTS, close). Then every malformed variant
// over the same socket: each is rejected with a log line, its fds closed, and the agent lives on.

import test from 'ava';
import { Socket } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { native } from '../../src/net-plumbing/native.js';
import { spawnGuest } from '../../src/kernel/supervisor/index.js';
import type { SpawnedGuest } from '../../src/kernel/supervisor/index.js';
import { Agent, supervisorServe } from '../../src/kernel/agent/index.js';
import type { ContainerInfo } from '../../src/kernel/agent/index.js';
import { privilegedTest } from '../helpers/privileged.js';
import { guestBinary, cleanupGuests, Lines } from '../kernel/supervisor/guest-harness.js';

test.after.always(() => cleanupGuests());

const dir = mkdtempSync(join(tmpdir(), 'moat-agent-sock-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function state(pid: number, over: Record<string, unknown> = {}, st: Record<string, unknown> = {}): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ ociVersion: '1.0.2', fds: ['seccompFd'], pid, state: { ociVersion: '1.0.2', id: 'ctr-1', status: 'creating', pid, bundle: '/b', ...st }, ...over }),
  );
}

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function makeAgent(opts: { allowUids?: number[]; timeoutMs?: number } = {}) {
  const lines: string[] = [];
  const served: ContainerInfo[] = [];
  const socketPath = join(dir, `agent-${++n}.sock`);
  const agent = new Agent({
    socketPath,
    takeover: false,
    log: (l) => lines.push(l),
    serve: supervisorServe((c) => {
      served.push(c);
      return { errno: 'EACCES' };
    }),
    ...(opts.allowUids ? { allowUids: opts.allowUids } : {}),
    ...(opts.timeoutMs ? { connectionTimeoutMs: opts.timeoutMs } : {}),
  }).start();
  return { agent, lines, served, socketPath };
}

privilegedTest('a listener handed over like runc does is served: the guest\'s socket() gets the serve function\'s EACCES', async (t) => {
  const { agent, lines, served, socketPath } = makeAgent();
  try {
    const g = await spawnGuest({ file: guestBinary('netprobe'), args: ['socket-write'], stdio: ['ignore', 'pipe', 'inherit'] });
    const out = new Lines(g.child.stdout as Readable);
    t.is(native().unixSendFds(socketPath, state(g.pid, { metadata: 'policy=x' }), [g.listenerFd]), 'ok');
    native().closeFd(g.listenerFd); // the agent has its own copy now, as with a runtime
    const exit = await g.exited;
    await out.finished();
    t.deepEqual(out.all, ['socket=-1 EACCES']);
    t.is(exit.code, 1);
    await until(() => agent.stats.sessionsEnded === 1 && agent.stats.networksReleased === 1, 'session end');
    t.is(served.length, 1);
    t.is(served[0]!.id, 'ctr-1');
    t.is(served[0]!.pid, g.pid);
    t.is(served[0]!.metadata, 'policy=x');
    t.true(lines.some((l) => /^admitted container=ctr-1 .*policy=\(deny-all\)/.test(l)), lines.join('\n'));
    t.true(lines.some((l) => /^ended container=ctr-1 .*how=hangup/.test(l)), lines.join('\n'));
  } finally {
    await agent.stop();
  }
});

privilegedTest('two listeners for processes in one network namespace share one stack (runc exec)', async (t) => {
  const { agent, socketPath } = makeAgent();
  const guests: SpawnedGuest[] = [];
  try {
    // Two guests, each with its own listener, in the test's own namespace (no new netns).
    const g1 = await spawnGuest({ file: guestBinary('netprobe'), args: ['signal', 'wait'], stdio: ['pipe', 'pipe', 'inherit'], newNetns: false });
    const g2 = await spawnGuest({ file: guestBinary('netprobe'), args: ['signal', 'wait'], stdio: ['pipe', 'pipe', 'inherit'], newNetns: false });
    guests.push(g1, g2);
    const nets: unknown[] = [];
    agent.on('admitted', (_c: ContainerInfo, net: unknown) => nets.push(net));
    t.is(native().unixSendFds(socketPath, state(g1.pid), [g1.listenerFd]), 'ok');
    await until(() => agent.stats.admitted === 1, 'first admission');
    t.is(native().unixSendFds(socketPath, state(g2.pid, {}, { status: 'running', pid: g1.pid }), [g2.listenerFd]), 'ok');
    await until(() => agent.stats.admitted === 2, 'second admission');
    native().closeFd(g1.listenerFd);
    native().closeFd(g2.listenerFd);
    t.is(agent.stats.networksCreated, 1);
    t.is(nets[0], nets[1]);
    t.is(agent.networkList().length, 1);
    t.is(agent.networkList()[0]!.containers.get('ctr-1')!.listeners, 2);
    g2.child.stdin!.end('x');
    await g2.exited;
    await until(() => agent.stats.sessionsEnded === 1, 'exec session end');
    // The exec process is gone; the container (and its network) stays.
    t.is(agent.networkList().length, 1);
    t.is(agent.networkList()[0]!.containers.get('ctr-1')!.listeners, 1);
    g1.child.kill('SIGKILL');
    await g1.exited;
    await until(() => agent.stats.networksReleased === 1, 'network release');
    t.is(agent.networkList().length, 0);
  } finally {
    for (const g of guests) g.child.kill('SIGKILL');
    await agent.stop();
  }
});

privilegedTest('malformed hand-overs are rejected with a log line, their fds closed, and the agent keeps serving', async (t) => {
  const { agent, lines, socketPath } = makeAgent({ timeoutMs: 300 });
  try {
    const base = openFdCount();
    const [pa, pb] = native().socketpair('stream');
    const send = (data: Uint8Array | string, fds: number[]) =>
      native().unixSendFds(socketPath, typeof data === 'string' ? new TextEncoder().encode(data) : data, fds);
    const cases: [string, () => unknown][] = [
      ['not-json', () => send('{"ociVersion":', [pa])],
      ['fd-count-mismatch', () => send(state(process.pid), [])],
      ['fd-count-mismatch', () => send(state(process.pid), [pa, pb])],
      ['no-seccompFd', () => send(state(process.pid, { fds: ['x'] }), [pa])],
      ['bad-pid', () => send(state(-5), [pa])],
      ['not-a-seccomp-listener', () => send(state(process.pid), [pa])],
      ['process-gone', () => {
        // A seccomp listener whose process is gone: a real listener, a pid that does not exist.
        return undefined;
      }],
      ['transport:fds-truncated', () => send(state(process.pid), Array.from({ length: 20 }, () => pa))],
    ];
    let expected = 0;
    for (const [reason, act] of cases) {
      if (reason === 'process-gone') continue;
      act();
      expected++;
      await until(() => (agent.stats.rejected[reason] ?? 0) >= 1 && Object.values(agent.stats.rejected).reduce((a, b) => a + b, 0) === expected, reason);
    }
    // A client that never closes its connection is dropped at the timeout.
    const lingering = new Socket();
    lingering.on('error', () => {}); // the agent drops it: a reset here is expected
    await new Promise<void>((resolve, reject) => lingering.connect(socketPath, resolve).on('error', reject));
    lingering.write('{"ociVersion":"1.0.2"');
    await until(() => (agent.stats.rejected['transport:timeout'] ?? 0) === 1, 'timeout');
    lingering.destroy();
    // More than 1 MiB.
    const big = new Socket();
    await new Promise<void>((resolve, reject) => big.connect(socketPath, resolve).on('error', reject));
    big.on('error', () => {});
    big.write(Buffer.alloc(1_100_000, 0x20));
    await until(() => (agent.stats.rejected['transport:too-large'] ?? 0) === 1, 'too-large');
    big.destroy();
    native().closeFd(pa);
    native().closeFd(pb);
    await until(() => openFdCount() <= base, 'every received fd closed');
    t.true(openFdCount() <= base, 'no fd leaked by the rejections');
    t.is(lines.filter((l) => l.startsWith('rejected ')).length, expected + 2);
    t.true(lines.some((l) => /^rejected reason=not-a-seccomp-listener .*detail=.*socket:/.test(l)), lines.join('\n'));
    // Still serving after all that.
    const g = await spawnGuest({ file: guestBinary('netprobe'), args: ['socket-write'], stdio: ['ignore', 'pipe', 'inherit'] });
    const out = new Lines(g.child.stdout as Readable);
    t.is(send(state(g.pid), [g.listenerFd]), 'ok');
    native().closeFd(g.listenerFd);
    await g.exited;
    await out.finished();
    t.deepEqual(out.all, ['socket=-1 EACCES']);
  } finally {
    await agent.stop();
  }
});

privilegedTest('a listener whose process is already gone, and a peer uid not allowed, are rejected', async (t) => {
  const { agent, socketPath } = makeAgent();
  const strict = makeAgent({ allowUids: [4242] });
  try {
    const g = await spawnGuest({ file: guestBinary('netprobe'), args: ['socket-write'], stdio: ['ignore', 'ignore', 'inherit'] });
    g.child.kill('SIGKILL');
    await g.exited;
    await new Promise((r) => setTimeout(r, 50));
    t.is(native().unixSendFds(socketPath, state(g.pid), [g.listenerFd]), 'ok');
    await until(() => (agent.stats.rejected['process-gone'] ?? 0) === 1, 'process-gone');
    t.is(native().unixSendFds(strict.socketPath, state(process.pid), [g.listenerFd]), 'ok');
    await until(() => (strict.agent.stats.rejected['peer-uid'] ?? 0) === 1, 'peer-uid');
    native().closeFd(g.listenerFd);
    t.is(agent.stats.admitted + strict.agent.stats.admitted, 0);
  } finally {
    await agent.stop();
    await strict.agent.stop();
  }
});

privilegedTest('a record is taken when its JSON is complete, even if the runtime keeps the connection open (runc 1.1 exec does)', async (t) => {
  const { agent, socketPath } = makeAgent({ timeoutMs: 60_000 });
  const c = new Socket();
  c.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => c.connect(socketPath, resolve).on('error', reject));
    // Braces inside strings do not end the document early; the closing brace of the object does.
    c.write('{"ociVersion":"1.0.2","pid":1,"metadata":"a}b{\\"}","fds":["seccompFd"],');
    await new Promise((r) => setTimeout(r, 100));
    t.is(agent.stats.connections, 0, 'not complete yet');
    c.write('"state":{"id":"x","status":"creating"}}');
    await until(() => agent.stats.connections === 1, 'the record');
    t.is(agent.stats.rejected['fd-count-mismatch'], 1);
  } finally {
    c.destroy();
    await agent.stop();
  }
});

privilegedTest('a container in the host network namespace is refused when takeover is on (it would strip the node\'s addresses)', async (t) => {
  const lines: string[] = [];
  const socketPath = join(dir, `agent-${++n}.sock`);
  const agent = new Agent({ socketPath, log: (l) => lines.push(l), serve: supervisorServe(() => ({ errno: 'EACCES' })) }).start();
  try {
    const g = await spawnGuest({ file: guestBinary('netprobe'), args: ['socket-write'], stdio: ['ignore', 'pipe', 'inherit'], newNetns: false });
    const out = new Lines(g.child.stdout as Readable);
    t.is(native().unixSendFds(socketPath, state(g.pid), [g.listenerFd]), 'ok');
    native().closeFd(g.listenerFd);
    await g.exited;
    await out.finished();
    t.is(agent.stats.rejected['host-network'], 1);
    t.is(agent.stats.networksCreated, 0);
    t.deepEqual(out.all, ['socket=-1 ENOSYS'], 'the listener was closed: the kernel answers ENOSYS');
    t.true(lines.some((l) => /^rejected reason=host-network /.test(l)));
  } finally {
    await agent.stop();
  }
});

privilegedTest('300 random hand-overs (random bytes, 0-3 fds of the wrong kind): all rejected, no fd leaked, the agent still serves', async (t) => {
  const { agent, socketPath } = makeAgent({ timeoutMs: 500 });
  try {
    const base = openFdCount();
    const [pa, pb] = native().socketpair('stream');
    let seed = 7;
    const rnd = (m: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % m;
    const N = 300;
    for (let i = 0; i < N; i++) {
      const len = 1 + rnd(200);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = rnd(256);
      // Half look like a state record with a twist, half are noise.
      const data = i % 2 ? b : new TextEncoder().encode(`{"ociVersion":"1.0.2","pid":${rnd(3) ? process.pid : -1},"fds":["seccompFd"],"state":{"id":"${'x'.repeat(rnd(5))}","status":"creating"},"z":"${Buffer.from(b).toString('base64')}"}`);
      const fds = Array.from({ length: rnd(4) }, () => (rnd(2) ? pa : pb));
      t.is(native().unixSendFds(socketPath, data, fds), 'ok');
      // unixSendFds blocks while the backlog is full, and the agent accepts on this same loop.
      if (i % 16 === 15) await until(() => agent.stats.connections === i + 1, 'a batch');
    }
    await until(() => agent.stats.connections === N, 'every record', 30_000);
    t.is(agent.stats.admitted, 0);
    t.is(Object.values(agent.stats.rejected).reduce((a, b) => a + b, 0), N);
    native().closeFd(pa);
    native().closeFd(pb);
    await until(() => openFdCount() <= base, 'every received fd closed');
    const g = await spawnGuest({ file: guestBinary('netprobe'), args: ['socket-write'], stdio: ['ignore', 'pipe', 'inherit'] });
    const out = new Lines(g.child.stdout as Readable);
    t.is(native().unixSendFds(socketPath, state(g.pid), [g.listenerFd]), 'ok');
    native().closeFd(g.listenerFd);
    await g.exited;
    await out.finished();
    t.deepEqual(out.all, ['socket=-1 EACCES']);
  } finally {
    await agent.stop();
  }
});
