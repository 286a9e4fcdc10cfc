// Sockets and servers keep the process alive the way Node's handles do, and unref() lets it
// go: a program embedding moat exits when nothing ref'd is left (the stack's own timers are
// unref'd), and stays up while a ref'd server listens.

import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));

function run(body: string): Promise<{ code: number | null; out: string }> {
  const script = `import { createStack, createWirePair } from ${JSON.stringify(entry)};
const [la, lb] = createWirePair();
const A = createStack({ link: la, ip: ['10.0.0.1/24'] });
const B = createStack({ link: lb, ip: ['10.0.0.2/24'] });
${body}`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) process.stderr.write(stderr);
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: stdout });
    });
  });
}

test('unref() on a listening server and a connected socket lets the process exit', async (t) => {
  const r = await run(`
const srv = A.net.createServer((s) => s.unref()).listen(80, () => {
  const c = B.net.connect(80, '10.0.0.1', () => {
    srv.unref();
    c.unref();
    console.log('connected');
  });
});`);
  t.is(r.code, 0);
  t.is(r.out, 'connected\n');
});

test("a ref'd server keeps the process alive past an unref'd timer", async (t) => {
  const r = await run(`
const srv = A.net.createServer().listen(80);
setTimeout(() => { console.log('still alive'); srv.close(); }, 100).unref();`);
  t.is(r.code, 0);
  t.is(r.out, 'still alive\n');
});

test('a bound dgram socket keeps the process alive until closed', async (t) => {
  const r = await run(`
const u = B.dgram.createSocket('udp4');
u.bind(5000, () => {
  setTimeout(() => { console.log('udp alive'); u.close(); }, 100).unref();
});`);
  t.is(r.code, 0);
  t.is(r.out, 'udp alive\n');
});
