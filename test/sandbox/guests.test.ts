// Real programs as guests under `moat run` (root): every socket call they make is served by
// moat's stack on an AF_PACKET link into a namespace of the test's, with nginx and dnsmasq on a
// Linux peer. Each test checks what the program itself printed or what the peer saw.

import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { privilegedTest, isRoot } from '../helpers/privileged.js';
import { inNetns, moatRun, moatStart, PY_READ_BODY, topology, type Topology } from './topology.js';

test.serial.before(async (t) => {
  if (!isRoot) return;
  (t.context as { topo?: Topology }).topo = await topology();
});
test.serial.after.always(async (t) => {
  await (t.context as { topo?: Topology }).topo?.stop();
});

const topo = (t: { context: unknown }): Topology => {
  const x = (t.context as { topo?: Topology }).topo;
  if (!x) throw new Error('no topology');
  return x;
};

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const BIG_SHA = sha(new Uint8Array(1 << 20).map((_, i) => i & 0xff));

/** Retries a peer-side command until it succeeds (the guest's server may not listen yet). */
async function untilOk(fn: () => Promise<{ code: number | null; stdout: string }>, tries = 40): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const r = await fn();
    if (r.code === 0) return r.stdout;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error('the peer never got an answer from the guest');
}

privilegedTest('curl fetches a page by name over IPv4 (DNS through moat\'s forwarder)', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['curl', '-4', '-sS', '-m', '20', 'http://web.test/']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, x.page);
});

privilegedTest('curl fetches a page by name over IPv6', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['curl', '-6', '-sS', '-m', '20', 'http://web.test/']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, x.page);
});

privilegedTest('a 1 MiB download through moat arrives intact (sha256)', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['sh', '-c', 'curl -sS -m 30 http://web.test/big | sha256sum']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.split(' ')[0], BIG_SHA);
});

privilegedTest('wget fetches the page', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['wget', '-q', '-T', '20', '-O', '-', 'http://web.test/']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, x.page);
});

privilegedTest('python3 urllib fetches the page; asyncio opens a connection', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['python3', '-c', 'import urllib.request as u; print(u.urlopen("http://web.test/", timeout=20).read().decode(), end="")']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, x.page);
  const code = [
    'import asyncio',
    'async def main():',
    '    r, w = await asyncio.open_connection("web.test", 80)',
    '    w.write(b"GET / HTTP/1.0\\r\\nHost: web.test\\r\\n\\r\\n")',
    '    await w.drain()',
    '    data = await r.read()',
    '    print(data.split(b"\\r\\n\\r\\n", 1)[1].decode(), end="")',
    '    w.close()',
    'asyncio.run(main())',
  ].join('\n');
  const a = await moatRun(x.runArgs, ['python3', '-c', code]);
  t.is(a.code, 0, a.stderr);
  t.is(a.stdout, x.page);
});

privilegedTest('node: http.get and fetch', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, [process.execPath, '-e', 'fetch("http://web.test/").then(r => r.text()).then(s => process.stdout.write(s))']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, x.page);
  const h = await moatRun(x.runArgs, [process.execPath, '-e', 'require("http").get("http://web.test/", (res) => res.pipe(process.stdout))']);
  t.is(h.code, 0, h.stderr);
  t.is(h.stdout, x.page);
});

privilegedTest('servers in the sandbox are reached from the peer: python3 socket server, node http server', async (t) => {
  const x = topo(t);
  const py = [
    'import socket',
    's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    's.bind(("0.0.0.0", 8080)); s.listen(4)',
    'c, a = s.accept()',
    'c.recv(1000)',
    'c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 9\\r\\n\\r\\nfrom py\\n\\n")',
    'c.close(); print("peer", a[0])',
  ].join('\n');
  const guest = moatRun(x.runArgs, ['python3', '-c', py]);
  const body = await untilOk(() => inNetns(x.peerNs, ['curl', '-sS', '-m', '3', `http://${x.stack4}:8080/`]));
  t.is(body, 'from py\n\n');
  const g = await guest;
  t.is(g.code, 0, g.stderr);
  t.is(g.stdout.trim(), `peer ${x.peer4}`);

  const js = 'const s = require("http").createServer((q, r) => { r.end("from node\\n"); s.close(); }); s.listen(8081, "::")';
  const nodeGuest = moatRun(x.runArgs, [process.execPath, '-e', js]);
  t.is(await untilOk(() => inNetns(x.peerNs, ['curl', '-sS', '-m', '3', `http://[${x.stack6}]:8081/`])), 'from node\n');
  t.is((await nodeGuest).code, 0);
});

privilegedTest('nginx as a guest serves the peer', async (t) => {
  const x = topo(t);
  const dir = `${x.dir}/guest-nginx`;
  const conf = `user root root; daemon off; master_process off; worker_processes 1; pid ${dir}/pid; error_log ${dir}/err warn; events {} http { access_log off; client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s; server { listen 8082; location / { return 200 "guest nginx\\n"; } } }`;
  const guest = moatStart(x.runArgs, ['sh', '-c', `mkdir -p ${dir} && printf '%s' '${conf}' > ${dir}/nginx.conf && exec nginx -c ${dir}/nginx.conf -p ${dir}`], { timeoutMs: 30_000 });
  try {
    const body = await untilOk(() => inNetns(x.peerNs, ['curl', '-sS', '-m', '3', `http://${x.stack4}:8082/`]));
    t.is(body, 'guest nginx\n');
    const second = await inNetns(x.peerNs, ['curl', '-sS', '-m', '3', `http://${x.stack4}:8082/again`]);
    t.is(second.stdout, 'guest nginx\n');
  } finally {
    // nginx serves until stopped: moat run forwards the signal and exits with the guest.
    guest.kill('SIGTERM');
  }
  const end = await guest.done;
  t.not(end.code, null);
});

privilegedTest('getent hosts and dig resolve through the forwarder; UDP recvfrom reports the server', async (t) => {
  const x = topo(t);
  const g = await moatRun(x.runArgs, ['getent', 'hosts', 'web.test']);
  t.is(g.code, 0, g.stderr);
  t.regex(g.stdout, /(10\.213\.98\.1|fd98:213::1)\s+web\.test/);
  {
    // dig asks 192.0.2.53 directly: the forwarder answers for it (every guest query is redirected).
    const d = await moatRun(x.runArgs, ['dig', '+short', '+time=5', '+tries=1', '@192.0.2.53', 'peer.test', 'A']);
    t.is(d.code, 0, d.stderr);
    t.is(d.stdout.trim(), '10.213.98.1');
  }
});

privilegedTest('the guest reaches nothing of the host: raw sockets EPERM, io_uring ENOSYS, 127.0.0.1 is moat\'s', async (t) => {
  const x = topo(t);
  const host = createServer((c) => {
    c.end('host!');
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
  const port = (host.address() as { port: number }).port;
  let hostSaw = 0;
  host.on('connection', () => hostSaw++);
  try {
    const code = [
      'import socket, ctypes, errno',
      'try:',
      '    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print("raw ok")',
      'except PermissionError: print("raw EPERM")',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'buf = ctypes.create_string_buffer(120)',
      'r = libc.syscall(425, 8, buf)',
      'print("io_uring", r, errno.errorcode.get(ctypes.get_errno()))',
      'try:',
      `    socket.create_connection(("127.0.0.1", ${port}), timeout=5); print("loopback connected")`,
      'except ConnectionRefusedError: print("loopback refused")',
    ].join('\n');
    const r = await moatRun(x.runArgs, ['python3', '-c', code]);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(r.stdout.trim().split('\n'), ['raw EPERM', 'io_uring -1 ENOSYS', 'loopback refused']);
    t.is(hostSaw, 0);
  } finally {
    host.close();
  }
});

privilegedTest('the guest\'s exit status is moat run\'s', async (t) => {
  const x = topo(t);
  t.is((await moatRun(x.runArgs, ['sh', '-c', 'exit 7'])).code, 7);
  t.is((await moatRun(x.runArgs, ['true'])).code, 0);
  // A command that cannot run: 127 not found, as a shell says; the message names it.
  const missing = await moatRun(x.runArgs, ['/nonexistent/moat-guest']);
  t.is(missing.code, 127);
  t.regex(missing.stderr, /\/nonexistent\/moat-guest.*ENOENT|No such file/);
});

privilegedTest('iperf3 both ways between a guest and the peer', async (t) => {
  const x = topo(t);
  const server = inNetns(x.peerNs, ['iperf3', '-s', '-1', '-B', x.peer4], 40_000);
  await new Promise((r) => setTimeout(r, 500));
  const up = await moatRun(x.runArgs, ['iperf3', '-c', x.peer4, '-t', '2', '-J'], { timeoutMs: 40_000 });
  t.is(up.code, 0, up.stderr);
  const sent = JSON.parse(up.stdout) as { end: { sum_received: { bytes: number } } };
  t.true(sent.end.sum_received.bytes > 1_000_000, `received ${sent.end.sum_received.bytes}`);
  await server;
  const server2 = inNetns(x.peerNs, ['iperf3', '-s', '-1', '-B', x.peer4], 40_000);
  await new Promise((r) => setTimeout(r, 500));
  const down = await moatRun(x.runArgs, ['iperf3', '-c', x.peer4, '-t', '2', '-R', '-J'], { timeoutMs: 40_000 });
  t.is(down.code, 0, down.stderr);
  const got = JSON.parse(down.stdout) as { end: { sum_received: { bytes: number } } };
  t.true(got.end.sum_received.bytes > 1_000_000, `received ${got.end.sum_received.bytes}`);
  await server2;
});

privilegedTest('ip addr, if_nameindex and os.networkInterfaces inside the sandbox see moat\'s interfaces (rtnetlink emulation)', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['ip', '-j', 'addr']);
  t.is(r.code, 0, r.stderr);
  const links = JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[];
  t.deepEqual(links.map((l) => l.ifname), ['lo', 'moat0']);
  const moat0 = links[1]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
  t.true(moat0.includes(`${x.stack4}/24`) && moat0.includes(`${x.stack6}/64`), moat0.join(' '));
  const py = await moatRun(x.runArgs, ['python3', '-c', 'import socket; print([n for _, n in socket.if_nameindex()])']);
  t.is(py.stdout.trim(), "['lo', 'moat0']");
  const js = await moatRun(x.runArgs, [process.execPath, '-e', 'const n = require("os").networkInterfaces(); console.log(JSON.stringify(n.moat0.map((a) => a.address).sort()))']);
  t.is(js.code, 0, js.stderr);
  t.true((JSON.parse(js.stdout) as string[]).includes(x.stack4));
});

privilegedTest('what a guest writes right before shutdown(SHUT_WR) or exit reaches the peer, then its FIN', async (t) => {
  const x = topo(t);
  // A server that answers, shuts down writing at once, and exits right after.
  const py = [
    'import socket',
    'l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    'l.bind(("0.0.0.0", 8083)); l.listen(4)',
    'c, a = l.accept(); c.recv(1000)',
    'c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\n" + b"x" * 300000)',
    'c.shutdown(socket.SHUT_WR)',
  ].join('\n');
  const guest = moatRun(x.runArgs, ['python3', '-c', py]);
  const size = await untilOk(() => inNetns(x.peerNs, ['curl', '-sS', '-m', '5', '-o', '/dev/null', '-w', '%{size_download}', `http://${x.stack4}:8083/`]));
  t.is(size.trim(), '300000');
  t.is((await guest).code, 0);
  // A client that writes its last bytes and exits at once: the peer still gets them and a FIN.
  const server = inNetns(x.peerNs, ['python3', '-c', `import socket\nl = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("${x.peer4}", 9099)); l.listen(1); l.settimeout(20)\nc, _ = l.accept(); c.settimeout(10); n = 0\nwhile True:\n    d = c.recv(65536)\n    if not d: break\n    n += len(d)\nprint(n)`]);
  await new Promise((r) => setTimeout(r, 500));
  const c = await moatRun(x.runArgs, ['python3', '-c', `import socket\ns = socket.create_connection(("${x.peer4}", 9099)); s.sendall(b"y" * 200000)`]);
  t.is(c.code, 0, c.stderr);
  const got = await server;
  t.is(got.stdout.trim(), '200000', got.stderr);
});

privilegedTest('a client that half-closes (shutdown(SHUT_WR)) after its request still reads the whole answer', async (t) => {
  const x = topo(t);
  const py = [
    'import socket',
    `s = socket.create_connection(("${x.peer4}", 80), timeout=10)`,
    's.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); s.shutdown(socket.SHUT_WR)',
    ...PY_READ_BODY,
  ].join('\n');
  const r = await moatRun(x.runArgs, ['python3', '-c', py]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, x.page);
});

privilegedTest('SO_RCVTIMEO on a guest TCP socket ends a blocking recv with EAGAIN (the timeout holds on the pair)', async (t) => {
  const x = topo(t);
  const py = [
    'import socket, struct, time',
    `s = socket.create_connection(("${x.peer4}", 80))`,
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 400000))',
    't0 = time.time()',
    'try:',
    '    s.recv(100); print("data")',
    'except BlockingIOError: print("EAGAIN", round(time.time() - t0, 1))',
  ].join('\n');
  const r = await moatRun(x.runArgs, ['python3', '-c', py]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'EAGAIN 0.4');
});

privilegedTest('a guest asking moat\'s own upstream DNS server directly is still answered by the forwarder (the allowlist holds)', async (t) => {
  const x = topo(t);
  // The topology's --dns is 10.213.98.1: the guest asks it by address, for an allowed name and
  // for one the policy does not allow. Both queries are redirected to the forwarder.
  const args = [...x.runArgs, '--allow', 'web.test'];
  const allowed = await moatRun(args, ['dig', '+short', '+time=5', '+tries=1', `@${x.peer4}`, 'web.test', 'A']);
  t.is(allowed.code, 0, allowed.stderr);
  t.is(allowed.stdout.trim(), x.peer4);
  const denied = await moatRun(args, ['dig', '+time=5', '+tries=1', `@${x.peer4}`, 'peer.test', 'A']);
  t.is(denied.code, 0, denied.stderr);
  t.regex(denied.stdout, /status: NXDOMAIN/);
  // And the name learned that way opens its address: the fetch by name works under the allowlist.
  const page = await moatRun(args, ['curl', '-4', '-sS', '-m', '20', 'http://web.test/']);
  t.is(page.stdout, x.page, page.stderr);
});

privilegedTest('ping (a file-capability binary) runs in the sandbox on a ping socket, v4 and v6, and reads the TTL from its control message', async (t) => {
  const x = topo(t);
  const r = await moatRun(x.runArgs, ['sh', '-c', `ping -c 2 -W 3 ${x.peer4} && ping -6 -c 1 -W 3 ${x.peer6}`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`64 bytes from ${x.peer4.replace(/\./g, '\\.')}: icmp_seq=1 ttl=64`));
  t.regex(r.stdout, /2 packets transmitted, 2 received/);
  t.regex(r.stdout, /1 packets transmitted, 1 received/);
});

privilegedTest('UDP recvmsg in the sandbox returns the source and the control messages asked for (IP_PKTINFO, IP_RECVTTL)', async (t) => {
  const x = topo(t);
  const py = [
    'import socket, struct',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    'IP_PKTINFO, IP_RECVTTL, IP_TTL = 8, 12, 2  # linux/in.h (Python 3.11 names only some)',
    's.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1); s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)',
    `s.settimeout(10); s.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x03web\\x04test\\x00\\x00\\x01\\x00\\x01", ("${x.peer4}", 53))`,
    'data, anc, flags, addr = s.recvmsg(512, 256)',
    'print(addr[0], addr[1], len(data) > 12)',
    'for level, typ, d in anc:',
    '    if typ == IP_PKTINFO: print("pktinfo", socket.inet_ntoa(d[8:12]))',
    '    if typ == IP_TTL: print("ttl", struct.unpack("i", d)[0])',
  ].join('\n');
  const r = await moatRun(x.runArgs, ['python3', '-c', py]);
  t.is(r.code, 0, r.stderr);
  // The guest's query to the upstream is answered by moat's forwarder on its behalf, from that address.
  t.deepEqual(r.stdout.trim().split('\n'), [`${x.peer4} 53 True`, `pktinfo ${x.stack4}`, 'ttl 64']);
});

privilegedTest('a file-capability program gains nothing in the sandbox (no_new_privs): its capability sets stay empty', async (t) => {
  const x = topo(t);
  // A copy of the system python3 with cap_net_raw+ep: exec is allowed, the capability not granted.
  const bin = `${x.dir}/capprobe`;
  const { execFileSync } = await import('node:child_process');
  execFileSync('cp', ['/usr/bin/python3', bin]);
  execFileSync('setcap', ['cap_net_raw+ep', bin]);
  const r = await moatRun(x.runArgs, [bin, '-c', 'print([l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm"))])']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), "['0000000000000000', '0000000000000000']");
});
