// stack.net against node:net's contract: errors with Node's codes and messages (ECONNREFUSED,
// ETIMEDOUT, ECONNRESET, EADDRINUSE), half-close with allowHalfOpen, timeouts, destroy(err),
// addresses and byte counters; a policy (FilterHooks) dropping SYNs; virtual time for the
// timeout case.

import test from 'ava';
import { once } from 'node:events';
import { VirtualClock, type FilterPacket, type Socket } from '../../src/index.js';
import { closeOf, pair, pattern, sha256, tick } from './helpers.js';

type SysErr = NodeJS.ErrnoException & { address?: string; port?: number };

for (const [host, family] of [['10.0.0.1', 4], ['fd00::1', 6]] as const) {
  test(`connect to a closed port: ECONNREFUSED shaped like Node's (IPv${family})`, async (t) => {
    const p = pair();
    try {
      const s = p.b.net.connect(80, host);
      const closed = closeOf(s);
      const [err] = (await once(s, 'error')) as [SysErr];
      t.is(err.message, `connect ECONNREFUSED ${host}:80`);
      t.is(err.code, 'ECONNREFUSED');
      t.is(err.errno, -111);
      t.is(err.syscall, 'connect');
      t.is(err.address, host);
      t.is(err.port, 80);
      await closed;
      t.true(s.destroyed);
    } finally {
      p.close();
    }
  });
}

test('SYNs dropped by a policy hook: ETIMEDOUT after the SYN retries, in virtual time', async (t) => {
  const clock = new VirtualClock();
  const dropSynTo9 = {
    INPUT(pk: FilterPacket) {
      const dport = pk.protocol === 6 && pk.transport.length >= 4 ? (pk.transport[2] << 8) | pk.transport[3] : -1;
      return dport === 9 ? { drop: 'test-port-9' } : ('accept' as const);
    },
  };
  const p = pair({ policy: dropSynTo9 }, { tcp: { synRetries: 2 } }, clock);
  try {
    const s = p.b.net.connect(9, '10.0.0.1');
    let err: SysErr | null = null;
    s.on('error', (e: SysErr) => (err = e));
    // 1 s, then 2 s, then 4 s of RTO backoff (RFC 6298 §2, §5.5): done within 8 s of virtual time.
    for (let i = 0; i < 200 && !err; i++) {
      clock.advance(50);
      await tick();
    }
    t.truthy(err);
    t.is(err!.message, 'connect ETIMEDOUT 10.0.0.1:9');
    t.is(err!.code, 'ETIMEDOUT');
    t.is(err!.errno, -110);
    t.true(clock.now() >= 7000 && clock.now() <= 8000, `gave up at ${clock.now()} ms`);
    t.true(p.a.stack.stats.get('filter.INPUT.dropped.test-port-9') >= 3);
  } finally {
    p.close();
  }
});

test('peer reset: read ECONNRESET', async (t) => {
  const p = pair();
  try {
    const srv = p.a.net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    srv.listen(7000);
    await once(srv, 'listening');
    const c = p.b.net.connect(7000, '10.0.0.1', () => c.write('hi'));
    const [err] = (await once(c, 'error')) as [SysErr];
    t.is(err.message, 'read ECONNRESET');
    t.is(err.code, 'ECONNRESET');
    t.is(err.errno, -104);
    t.is(err.syscall, 'read');
  } finally {
    p.close();
  }
});

test('listen twice on a port: EADDRINUSE as Node reports it', async (t) => {
  const p = pair();
  try {
    const one = p.a.net.createServer();
    one.listen(8080);
    await once(one, 'listening');
    const two = p.a.net.createServer();
    two.listen(8080);
    const [err] = (await once(two, 'error')) as [SysErr];
    t.is(err.code, 'EADDRINUSE');
    t.is(err.errno, -98);
    t.is(err.syscall, 'listen');
    t.is(err.message, 'listen EADDRINUSE: address already in use :::8080');
    t.false(two.listening);
    const three = p.a.net.createServer();
    three.listen(8080, '10.0.0.1');
    const [e3] = (await once(three, 'error')) as [SysErr];
    t.is(e3.message, 'listen EADDRINUSE: address already in use 10.0.0.1:8080');
    await new Promise<void>((r) => one.close(() => r()));
    // The port is free again once the listener is closed.
    const four = p.a.net.createServer();
    four.listen(8080);
    await once(four, 'listening');
    t.deepEqual(four.address(), { address: '::', family: 'IPv6', port: 8080 });
  } finally {
    p.close();
  }
});

test('half-close with allowHalfOpen: the server answers after the client ended', async (t) => {
  const p = pair();
  try {
    const srv = p.a.net.createServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (got += d));
      s.on('end', () => {
        // Our read side is done; the write side is still open.
        t.true(s.writable);
        s.end(`you said ${got}`);
      });
    });
    srv.listen(7001);
    await once(srv, 'listening');
    const c = p.b.net.connect({ port: 7001, host: '10.0.0.1', allowHalfOpen: true });
    await once(c, 'connect');
    c.end('ping');
    let reply = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (reply += d));
    const closed = closeOf(c);
    await once(c, 'end');
    t.is(reply, 'you said ping');
    await closed;
    t.is(c.bytesWritten, 4);
    t.is(c.bytesRead, 13);
  } finally {
    p.close();
  }
});

test('without allowHalfOpen the socket ends its side when the peer does (Node default)', async (t) => {
  const p = pair();
  try {
    const ended = new Promise<void>((resolve) => {
      const srv = p.a.net.createServer((s) => {
        s.resume();
        s.on('end', () => t.false(s.writable));
        s.on('close', () => resolve());
      });
      srv.listen(7002);
    });
    const c = p.b.net.connect(7002, '10.0.0.1');
    c.resume();
    const closed = closeOf(c);
    c.end('bye');
    await ended;
    await closed;
    t.pass();
  } finally {
    p.close();
  }
});

test('events in order, addresses, setNoDelay/setKeepAlive, setTimeout, destroy(err)', async (t) => {
  const p = pair();
  try {
    const srv = p.a.net.createServer((s) => s.resume());
    srv.listen(7003, 'fd00::1');
    await once(srv, 'listening');
    t.deepEqual(srv.address(), { address: 'fd00::1', family: 'IPv6', port: 7003 });
    const events: string[] = [];
    const c: Socket = p.b.net.createConnection({ port: 7003, host: 'fd00::1', noDelay: true, keepAlive: true });
    t.true(c.connecting);
    t.is(c.remoteAddress, undefined);
    c.on('connect', () => events.push('connect'));
    c.on('ready', () => events.push('ready'));
    await once(c, 'ready');
    t.deepEqual(events, ['connect', 'ready']);
    t.false(c.connecting);
    t.is(c.remoteAddress, 'fd00::1');
    t.is(c.remoteFamily, 'IPv6');
    t.is(c.remotePort, 7003);
    t.is(c.localAddress, 'fd00::2');
    t.deepEqual(c.address(), { address: 'fd00::2', family: 'IPv6', port: c.localPort });
    t.true(c.endpoint!.opts.noDelay);
    t.true(c.endpoint!.opts.keepAlive);
    c.setTimeout(50);
    await once(c, 'timeout');
    t.false(c.destroyed, "'timeout' only tells; the user decides");
    const boom = new Error('boom');
    const closed = closeOf(c);
    const errored = once(c, 'error');
    c.destroy(boom);
    const [err] = await errored;
    t.is(err, boom);
    await closed;
  } finally {
    p.close();
  }
});

test('hostnames resolve through the stack resolver hosts table; the lookup event fires', async (t) => {
  const p = pair({}, { dns: { hosts: { 'server.test': ['10.0.0.1'] } } });
  try {
    const srv = p.a.net.createServer((s) => s.end('named'));
    srv.listen(7004);
    await once(srv, 'listening');
    const c = p.b.net.connect(7004, 'server.test');
    const [lerr, addr, fam, host] = await once(c, 'lookup');
    t.deepEqual([lerr, addr, fam, host], [null, '10.0.0.1', 4, 'server.test']);
    c.setEncoding('utf8');
    let s = '';
    c.on('data', (d: string) => (s += d));
    await once(c, 'end');
    t.is(s, 'named');
  } finally {
    p.close();
  }
});

test("raw write back-pressure: write() returns false past the buffers, 'drain' follows, bytes intact", async (t) => {
  const p = pair();
  try {
    const got: Buffer[] = [];
    let paused: Socket | null = null;
    const srv = p.a.net.createServer((s) => {
      paused = s;
      s.pause();
      s.on('data', (d: Buffer) => got.push(d));
    });
    srv.listen(7005);
    await once(srv, 'listening');
    const c = p.b.net.connect(7005, '10.0.0.1');
    await once(c, 'connect');
    const data = pattern(8 * 1024 * 1024, 9);
    let writes = 0;
    let off = 0;
    // Write until the socket says stop: the peer reads nothing, so TCP's buffers fill.
    while (off < data.length && c.write(data.subarray(off, off + 65536))) {
      off += 65536;
      writes++;
    }
    off += 65536;
    t.true(off < data.length, `write() returned false after ${writes + 1} writes`);
    await tick();
    t.true(c.writableLength > 0, 'bytes wait in the stream, not in an unbounded queue');
    const drained = once(c, 'drain');
    paused!.resume();
    await drained;
    c.end(data.subarray(off));
    await once(paused!, 'end');
    t.is(sha256(Buffer.concat(got)), sha256(data));
    t.is(c.bytesWritten, data.length);
    t.is(paused!.bytesRead, data.length);
  } finally {
    p.close();
  }
});
