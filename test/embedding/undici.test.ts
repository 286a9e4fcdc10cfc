// undici (v6) over moat through its documented `connect` hook: request() and fetch() on a
// keep-alive pool, the server being Node's http on the other moat stack.

import test from 'ava';
import http from 'node:http';
import { once } from 'node:events';
import { Agent, request, fetch } from 'undici';
import type { Socket } from '../../src/index.js';
import { pair, pattern, sha256, type Pair } from './helpers.js';

function moatAgent(p: Pair): Agent {
  return new Agent({
    // One connection per origin, so that reuse (keep-alive) is what the count shows.
    connections: 1,
    connect: (opts, cb) => {
      const s: Socket = p.b.net.connect({ host: opts.hostname, port: Number(opts.port) || 80 });
      const onError = (e: Error) => cb(e, null);
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        cb(null, s as never);
      });
    },
  });
}

test('undici request and fetch over moat, one connection reused', async (t) => {
  const p = pair();
  try {
    const body = pattern(3 * 1024 * 1024, 5);
    const hs = http.createServer((req, res) => {
      if (req.url === '/big') {
        res.setHeader('content-length', body.length);
        res.end(body);
      } else res.end(`hi ${req.method} ${req.url}`);
    });
    let conns = 0;
    const ms = p.a.net.createServer((s) => {
      conns++;
      hs.emit('connection', s);
    });
    ms.listen(80);
    await once(ms, 'listening');
    const dispatcher = moatAgent(p);
    const r1 = await request('http://10.0.0.1/one', { dispatcher });
    t.is(r1.statusCode, 200);
    t.is(await r1.body.text(), 'hi GET /one');
    const r2 = await fetch('http://10.0.0.1/big', { dispatcher });
    const got = Buffer.from(await r2.arrayBuffer());
    t.is(sha256(got), sha256(body));
    const r3 = await fetch('http://[fd00::1]/post', { dispatcher, method: 'POST', body: 'x' });
    t.is(await r3.text(), 'hi POST /post');
    t.is(conns, 2, 'one keep-alive connection per origin (10.0.0.1 and fd00::1)');
    await dispatcher.close();
  } finally {
    p.close();
  }
});

test('undici sees moat connection errors with Node codes', async (t) => {
  const p = pair();
  try {
    const dispatcher = moatAgent(p);
    const e = await t.throwsAsync(request('http://10.0.0.1:81/', { dispatcher }));
    t.like(e, { code: 'ECONNREFUSED', syscall: 'connect', address: '10.0.0.1', port: 81 });
    await dispatcher.close();
  } finally {
    p.close();
  }
});
