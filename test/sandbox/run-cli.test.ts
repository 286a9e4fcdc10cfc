// `moat run` as users drive it (root): the default `--link auto` (a veth and namespace of its
// own, routed and masqueraded by the host), `--publish`, `--pcap` with per-flow comments, and a
// multi-threaded guest whose blocked accept() never holds up another thread's calls.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { privilegedTest, isRoot } from '../helpers/privileged.js';
import { addAddress, createNetns, createVethPair, deleteLink, deleteNetns, ip, setLinkUp } from '../../src/net-plumbing/netns.js';
import { inNetns, moatRun, moatStart, PY_READ_BODY, topology, type Topology } from './topology.js';

test.serial.before(async (t) => {
  if (!isRoot) return;
  (t.context as { topo?: Topology }).topo = await topology();
});
test.serial.after.always(async (t) => {
  await (t.context as { topo?: Topology }).topo?.stop();
});
const topo = (t: { context: unknown }): Topology => (t.context as { topo: Topology }).topo;

privilegedTest('--link auto: the guest reaches a server outside through the host, masqueraded; nothing is left behind', async (t) => {
  const id = `${process.pid % 100000}`;
  const ns = `moat-out-${id}`;
  const hostIf = `moat-xo${id}`.slice(0, 15);
  const nsIf = `moat-xi${id}`.slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), 'moat-auto-'));
  try {
    await createNetns(ns);
    await createVethPair(hostIf, nsIf);
    await ip(['link', 'set', nsIf, 'netns', ns]);
    await addAddress(hostIf, '10.213.97.1/24');
    await setLinkUp(hostIf);
    await addAddress(nsIf, '10.213.97.2/24', { netns: ns });
    await setLinkUp(nsIf, { netns: ns });
    await setLinkUp('lo', { netns: ns });
    await ip(['-n', ns, 'route', 'add', 'default', 'via', '10.213.97.1']);
    // The outside server says who connected (the masqueraded source).
    const py = 'import socket\nl = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("10.213.97.2", 8000)); l.listen(4); l.settimeout(40)\nc, a = l.accept(); c.recv(1000); c.sendall(("HTTP/1.0 200 OK\\r\\n\\r\\nfrom " + a[0] + "\\n").encode()); c.close()';
    const outside = inNetns(ns, ['python3', '-c', py], 45_000);
    await new Promise((r) => setTimeout(r, 300));
    // --dns names the outside namespace: no query may leave this machine.
    const r = await moatRun(['--dns', '10.213.97.2'], ['curl', '-sS', '-m', '20', 'http://10.213.97.2:8000/'], { timeoutMs: 60_000 });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, 'from 10.213.97.1\n');
    await outside;
    const left = execFileSync('ip', ['-o', 'link', 'show']).toString();
    t.notRegex(left, /moat-h[a-z0-9]+@|moat-s[a-z0-9]+@/, 'the auto link is removed');
    t.false(execFileSync('ip', ['netns', 'list']).toString().includes('moat-run-'));
    t.false(execFileSync('/usr/sbin/nft', ['list', 'tables']).toString().includes('moat-run-'));
  } finally {
    await deleteNetns(ns).catch(() => undefined);
    await deleteLink(hostIf).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

privilegedTest('--publish forwards a host port (TCP and UDP) to the guest', async (t) => {
  const x = topo(t);
  const py = [
    'import socket, threading',
    'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))',
    'def echo():',
    '    d, a = u.recvfrom(100); u.sendto(b"udp:" + d, a)',
    'threading.Thread(target=echo).start()',
    'l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("0.0.0.0", 8080)); l.listen(5)',
    'c, a = l.accept(); c.recv(100); c.sendall(b"published\\n"); c.close()',
  ].join('\n');
  const hostPort = 20000 + (process.pid % 10000);
  const args = x.runArgs.filter((a) => a !== '--inbound' && a !== 'allow');
  const guest = moatStart([...args, '--publish', `${hostPort}:8080`, '--publish', `${hostPort + 1}:5353/udp`], ['python3', '-c', py]);
  try {
    let body = '';
    for (let i = 0; i < 40 && body === ''; i++) {
      await new Promise((r) => setTimeout(r, 250));
      body = await new Promise<string>((resolve) => {
        const c = createConnection({ host: '127.0.0.1', port: hostPort });
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('connect', () => c.write('hi'));
        c.on('close', () => resolve(got));
        c.on('error', () => resolve(''));
      });
    }
    t.is(body, 'published\n');
    const udp = execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.sendto(b"hi", ("127.0.0.1", ${hostPort + 1})); print(s.recvfrom(100)[0].decode())`]).toString();
    t.is(udp.trim(), 'udp:hi');
  } finally {
    guest.kill();
  }
  await guest.done;
});

privilegedTest('--pcap: a pcapng whose first frame of each flow names the guest pid and command', async (t) => {
  const x = topo(t);
  const dir = mkdtempSync(join(tmpdir(), 'moat-pcap-'));
  try {
    const pcap = join(dir, 'run.pcapng');
    const r = await moatRun([...x.runArgs, '--pcap', pcap], ['sh', '-c', 'curl -4 -sS -m 20 http://web.test/ && curl -6 -sS -m 20 http://web.test/']);
    t.is(r.code, 0, r.stderr);
    const comments = execFileSync('tshark', ['-r', pcap, '-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment']).toString();
    t.regex(comments, /pid \d+ curl tcp 10\.213\.98\.2:\d+ > 10\.213\.98\.1:80/);
    t.regex(comments, /pid \d+ curl tcp \[fd98:213::2\]:\d+ > \[fd98:213::1\]:80/);
    // The guest's DNS queries stay inside moat (its forwarder answers them); only moat's own
    // upstream queries reach the wire, and those belong to no guest process.
    t.notRegex(comments, /curl udp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

privilegedTest('a multi-threaded guest: a blocked accept() in one thread, connects and transfers in others', async (t) => {
  const x = topo(t);
  const py = [
    'import socket, threading',
    'l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4); port = l.getsockname()[1]',
    'got = []',
    'def server():',
    '    c, _ = l.accept()',
    '    got.append(c.recv(100))',
    'th = threading.Thread(target=server); th.start()',
    // While the server thread waits in accept(), this thread fetches from the peer.
    `s = socket.create_connection(("${x.peer4}", 80), timeout=10); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")`,
    ...PY_READ_BODY,
    'c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"to the blocked thread")',
    'th.join(10); print(got[0].decode())',
  ].join('\n');
  const r = await moatRun(x.runArgs, ['python3', '-c', py]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${x.page}to the blocked thread\n`);
  await inNetns(x.peerNs, ['true']);
});

privilegedTest('--audit: the forwarder\'s lines for a guest\'s DNS queries name the guest pid and command', async (t) => {
  const x = topo(t);
  const dir = mkdtempSync(join(tmpdir(), 'moat-audit-'));
  try {
    const audit = join(dir, 'audit.jsonl');
    const r = await moatRun([...x.runArgs, '--allow', 'web.test', '--audit', audit], ['curl', '-4', '-sS', '-m', '10', 'http://peer.test/']);
    t.is(r.code, 6, r.stderr);
    const lines = execFileSync('cat', [audit]).toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const dns = lines.filter((l) => l.hook === 'DNS' && l.hostname === 'peer.test');
    t.true(dns.length > 0, JSON.stringify(lines));
    for (const l of dns) t.like(l, { verdict: 'reject', command: 'curl' });
    t.true(dns.every((l) => typeof l.pid === 'number' && (l.pid as number) > 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

privilegedTest('owner matches: --rule with -m owner --cmd-owner refuses one program and lets another through', async (t) => {
  const x = topo(t);
  const args = [...x.runArgs, '--rule', '-I OUTPUT -p tcp --dport 80 -m owner --cmd-owner wget -j REJECT --reject-with tcp-reset'];
  const r = await moatRun(args, ['sh', '-c', 'wget -q -T 5 -O /dev/null http://web.test/; echo wget=$?; curl -4 -sS -m 10 -o /dev/null -w "curl=%{http_code}\\n" http://web.test/']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /wget=[1-9]/);
  t.regex(r.stdout, /curl=200/);
});
