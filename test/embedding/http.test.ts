// Node's own http client and server, unchanged, over two moat stacks joined by the in-process
// wire (real clock): keep-alive reuse, chunked bodies, 50 MB each way with sha256 compared, and
// back-pressure end to end (a slow reader makes the writer wait, and no side buffers without
// bound).

import test from 'ava';
import http from 'node:http';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createStack, createWirePair, ImpairedLink, RealClock, type Socket } from '../../src/index.js';
import { pair, pattern, sha256, type Pair } from './helpers.js';

/** An http.Server fed by a moat net.Server on port 80 of stack A. */
async function httpOn(p: Pair, handler: http.RequestListener) {
  const hs = http.createServer(handler);
  const conns: Socket[] = [];
  const ms = p.a.net.createServer((s) => {
    conns.push(s);
    hs.emit('connection', s);
  });
  ms.listen(80);
  await once(ms, 'listening');
  return { hs, ms, conns };
}

function request(p: Pair, opts: http.RequestOptions, body?: Buffer): Promise<{ res: http.IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '10.0.0.1', port: 80, createConnection: ((o: { host: string; port: number }, cb: () => void) => p.b.net.createConnection({ host: o.host, port: o.port }, cb)) as never, ...opts },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('GET over moat: status, headers, body; socket addresses as net reports them', async (t) => {
  const p = pair();
  try {
    let remote = '';
    const { conns } = await httpOn(p, (req, res) => {
      remote = `${req.socket.remoteAddress}:${req.socket.remotePort} ${req.socket.remoteFamily}`;
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${req.method} ${req.url}`);
    });
    const { res, body } = await request(p, { path: '/x?y=1' });
    t.is(res.statusCode, 200);
    t.is(res.headers['content-type'], 'text/plain');
    t.is(body.toString(), 'hello GET /x?y=1');
    t.regex(remote, /^10\.0\.0\.2:\d+ IPv4$/);
    t.is(conns[0].localAddress, '10.0.0.1');
    t.is(conns[0].localPort, 80);
  } finally {
    p.close();
  }
});

test('keep-alive: three requests on one moat connection through an http.Agent', async (t) => {
  const p = pair();
  try {
    const { conns } = await httpOn(p, (req, res) => res.end(`#${req.url}`));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (agent as unknown as { createConnection: unknown }).createConnection = (o: { host: string; port: number }, cb: () => void) =>
      p.b.net.createConnection({ host: o.host, port: o.port }, cb);
    const bodies: string[] = [];
    for (const path of ['/1', '/2', '/3']) {
      const { res, body } = await request(p, { path, agent, createConnection: undefined });
      t.is(res.headers.connection, 'keep-alive');
      bodies.push(body.toString());
    }
    t.deepEqual(bodies, ['#/1', '#/2', '#/3']);
    t.is(conns.length, 1, 'one TCP connection carried all three');
    agent.destroy();
  } finally {
    p.close();
  }
});

test('chunked transfer-encoding both ways', async (t) => {
  const p = pair();
  try {
    await httpOn(p, (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        t.is(req.headers['transfer-encoding'], 'chunked');
        const got = Buffer.concat(parts).toString();
        // No content-length: the response is chunked too, written piece by piece.
        for (const piece of got.split(',')) res.write(piece.toUpperCase() + ';');
        res.end();
      });
    });
    const body = await new Promise<{ res: http.IncomingMessage; body: string }>((resolve, reject) => {
      const req = http.request({ host: '10.0.0.1', port: 80, method: 'POST', createConnection: (() => p.b.net.connect(80, '10.0.0.1')) as never }, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (s += d));
        res.on('end', () => resolve({ res, body: s }));
      });
      req.on('error', reject);
      for (const w of ['alpha', 'beta', 'gamma']) req.write(w + ',');
      req.end('delta');
    });
    t.is(body.res.headers['transfer-encoding'], 'chunked');
    t.is(body.body, 'ALPHA;BETA;GAMMA;DELTA;');
  } finally {
    p.close();
  }
});

test('50 MB upload and 50 MB download, sha256 equal, over IPv6', async (t) => {
  const p = pair();
  try {
    const up = pattern(50 * 1024 * 1024, 7);
    const down = pattern(50 * 1024 * 1024, 11);
    await httpOn(p, (req, res) => {
      const h = createHash('sha256');
      req.on('data', (d: Buffer) => h.update(d));
      req.on('end', () => {
        res.setHeader('x-upload-sha256', h.digest('hex'));
        res.setHeader('content-length', down.length);
        res.end(down);
      });
    });
    const { res, body } = await request(p, { host: 'fd00::1', method: 'POST', headers: { 'content-length': up.length } }, up);
    t.is(res.headers['x-upload-sha256'], sha256(up));
    t.is(body.length, down.length);
    t.is(sha256(body), sha256(down));
  } finally {
    p.close();
  }
});


test('back-pressure: a slow reader makes write() return false and nothing buffers without bound', async (t) => {
  // The reader's receive buffer may auto-tune up to 1 MiB (tcp_rmem max in meaning), so that a
  // pause fills it quickly whatever the machine's speed.
  const p = pair({}, { tcp: { rcvBufMax: 1 << 20 } });
  try {
    const total = 24 * 1024 * 1024;
    const chunk = 64 * 1024;
    let falseWrites = 0;
    let maxSenderHeld = 0;
    let serverSock: Socket | null = null;
    const sent = createHash('sha256');
    await httpOn(p, (_req, res) => {
      serverSock = res.socket as unknown as Socket;
      res.setHeader('content-length', total);
      let off = 0;
      const pumpOut = () => {
        while (off < total) {
          const c = pattern(chunk, off / chunk + 1);
          sent.update(c);
          off += chunk;
          const ok = res.write(c);
          // What the sending side holds: the response's and the socket's stream buffers plus
          // TCP's send queue (unsent and unacknowledged bytes).
          const s = serverSock!;
          const held = res.writableLength + s.writableLength + s.tcpQueued.send;
          if (held > maxSenderHeld) maxSenderHeld = held;
          if (!ok) {
            falseWrites++;
            res.once('drain', pumpOut);
            return;
          }
        }
        res.end();
      };
      pumpOut();
    });
    const got = createHash('sha256');
    let received = 0;
    let maxReceiverHeld = 0;
    let sawZeroWindow = false;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '10.0.0.1', port: 80, createConnection: (() => p.b.net.connect(80, '10.0.0.1')) as never }, (res) => {
        const sock = res.socket as unknown as Socket;
        // The slow reader: pause for a while after every 4 MB.
        let sinceBreak = 0;
        res.on('data', (d: Buffer) => {
          got.update(d);
          received += d.length;
          sinceBreak += d.length;
          const held = sock.readableLength + sock.tcpQueued.receive;
          if (held > maxReceiverHeld) maxReceiverHeld = held;
          if (sinceBreak >= 4 * 1024 * 1024) {
            sinceBreak = 0;
            res.pause();
            setTimeout(() => {
              const info = sock.tcpInfo();
              // Closed: less than one segment of window left to offer (silly window avoidance, RFC 9293 §3.8.6.2.2).
              if (info && info.rcvWnd < info.rcvMss) sawZeroWindow = true;
              res.resume();
            }, 300);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    t.is(received, total);
    t.is(got.digest('hex'), sent.digest('hex'));
    t.true(falseWrites > 0, 'the writer saw write() === false');
    // Bounds: stream high-water marks (16 KiB each, plus one chunk in flight) and TCP's own
    // buffers at their auto-tuning ceilings (tcp_wmem max 4 MiB; the reader's 1 MiB here).
    t.true(maxSenderHeld <= 4 * 1024 * 1024 + 4 * chunk, `sender held at most ${maxSenderHeld} bytes`);
    t.true(maxReceiverHeld <= 1024 * 1024 + 4 * chunk, `receiver held at most ${maxReceiverHeld} bytes`);
    t.true(sawZeroWindow, 'the paused reader closed the TCP receive window');
    t.log(`sender max ${maxSenderHeld} B, receiver max ${maxReceiverHeld} B, ${falseWrites} short writes`);
  } finally {
    p.close();
  }
});

test('any link: 8 MB over a wire with 1% loss and reordering each way (ImpairedLink), intact', async (t) => {
  const [la, lb] = createWirePair();
  const clock = new RealClock({ unref: true });
  // Impairments on B's link apply to what it sends and what it receives.
  const impaired = new ImpairedLink(lb, clock, { loss: 0.01, reorder: 0.01, seed: 5 });
  const a = createStack({ link: la, ip: ['10.0.0.1/24'] });
  const b = createStack({ link: impaired, ip: ['10.0.0.2/24'] });
  try {
    const data = pattern(8 * 1024 * 1024, 21);
    const hs = http.createServer((req, res) => {
      const h = createHash('sha256');
      req.on('data', (d: Buffer) => h.update(d));
      req.on('end', () => res.end(h.digest('hex')));
    });
    const ms = a.net.createServer((s) => hs.emit('connection', s));
    ms.listen(80);
    await once(ms, 'listening');
    const digest = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '10.0.0.1', port: 80, method: 'POST', createConnection: (() => b.net.connect(80, '10.0.0.1')) as never }, (res) => {
        let s = '';
        res.on('data', (d: Buffer) => (s += d));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end(data);
    });
    t.is(digest, sha256(data));
    t.true(impaired.counters.lost > 0 && impaired.counters.reordered > 0, JSON.stringify(impaired.counters));
  } finally {
    a.close();
    b.close();
  }
});
