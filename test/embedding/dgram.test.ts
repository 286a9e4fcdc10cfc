// stack.dgram against node:dgram's contract: UDP echo over IPv4 and IPv6, rinfo, implicit
// bind on send, connect/disconnect/remoteAddress, send callbacks, bind errors shaped like
// Node's, broadcast needing setBroadcast, close.

import test from 'ava';
import { once } from 'node:events';
import type { UdpSocket, RemoteInfo } from '../../src/index.js';
import { pair } from './helpers.js';

function echoServer(s: UdpSocket): void {
  s.on('message', (msg: Buffer, rinfo: RemoteInfo) => s.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
}

for (const [type, server, client] of [['udp4', '10.0.0.1', '10.0.0.2'], ['udp6', 'fd00::1', 'fd00::2']] as const) {
  test(`UDP echo (${type}): message, rinfo, send callback, implicit bind`, async (t) => {
    const p = pair();
    try {
      const srv = p.a.dgram.createSocket(type);
      echoServer(srv);
      const seenFrom = new Set<string>();
      srv.on('message', (_m: Buffer, r: RemoteInfo) => seenFrom.add(r.address));
      srv.bind(5353);
      await once(srv, 'listening');
      t.deepEqual(srv.address(), { address: type === 'udp4' ? '0.0.0.0' : '::', family: type === 'udp4' ? 'IPv4' : 'IPv6', port: 5353 });
      const cli = p.b.dgram.createSocket({ type });
      const sent = await new Promise<number>((resolve, reject) => cli.send('hello', 5353, server, (err, n) => (err ? reject(err) : resolve(n!))));
      t.is(sent, 5);
      const [msg, rinfo] = (await once(cli, 'message')) as [Buffer, RemoteInfo];
      t.is(msg.toString(), 'echo:hello');
      t.deepEqual(rinfo, { address: server, family: type === 'udp4' ? 'IPv4' : 'IPv6', port: 5353, size: 10 });
      const mine = cli.address();
      t.true(mine.port > 0, 'send bound an ephemeral port');
      // Many datagrams, all answered, none mixed up.
      const want = new Set<string>();
      const got = new Set<string>();
      const done = new Promise<void>((resolve) =>
        cli.on('message', (m: Buffer) => {
          got.add(m.toString());
          if (got.size === 50) resolve();
        }),
      );
      for (let i = 0; i < 50; i++) {
        want.add(`echo:${i}`);
        cli.send(String(i), 5353, server);
      }
      await done;
      t.deepEqual(got, want);
      await new Promise<void>((r) => cli.close(r));
      srv.close();
      t.deepEqual([...seenFrom], [client]);
    } finally {
      p.close();
    }
  });
}

test('connect/disconnect/remoteAddress and sends without an address', async (t) => {
  const p = pair();
  try {
    const srv = p.a.dgram.createSocket('udp4');
    echoServer(srv);
    srv.bind(7, '10.0.0.1');
    await once(srv, 'listening');
    const cli = p.b.dgram.createSocket('udp4');
    t.throws(() => cli.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    cli.connect(7, '10.0.0.1');
    await once(cli, 'connect');
    t.deepEqual(cli.remoteAddress(), { address: '10.0.0.1', family: 'IPv4', port: 7 });
    cli.send('x');
    const [m] = (await once(cli, 'message')) as [Buffer];
    t.is(m.toString(), 'echo:x');
    t.throws(() => cli.send('y', 7, '10.0.0.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
    cli.disconnect();
    t.throws(() => cli.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    cli.close();
    srv.close();
  } finally {
    p.close();
  }
});

test('a connected socket learns ECONNREFUSED from the port unreachable (Linux, Node: recvmsg error)', async (t) => {
  const p = pair();
  try {
    const cli = p.b.dgram.createSocket('udp6');
    cli.connect(9999, 'fd00::1');
    await once(cli, 'connect');
    cli.send('anyone?');
    const [err] = (await once(cli, 'error')) as [NodeJS.ErrnoException];
    t.is(err.code, 'ECONNREFUSED');
    t.is(err.syscall, 'recvmsg');
    cli.close();
  } finally {
    p.close();
  }
});

test('bind errors as Node: EADDRINUSE with address and port; broadcast needs setBroadcast', async (t) => {
  const p = pair();
  try {
    const one = p.a.dgram.createSocket('udp4');
    one.bind(5000);
    await once(one, 'listening');
    const two = p.a.dgram.createSocket('udp4');
    two.bind(5000);
    const [err] = (await once(two, 'error')) as [NodeJS.ErrnoException];
    t.is(err.message, 'bind EADDRINUSE 0.0.0.0:5000');
    t.is(err.errno, -98);
    const b = p.b.dgram.createSocket('udp4');
    const e2 = await new Promise<NodeJS.ErrnoException | null>((r) => b.send('all', 5000, '10.0.0.255', (e) => r(e as NodeJS.ErrnoException)));
    t.is(e2?.code, 'EACCES');
    b.setBroadcast(true);
    const got = once(one, 'message');
    const e3 = await new Promise<Error | null>((r) => b.send('all', 5000, '10.0.0.255', (e) => r(e)));
    t.is(e3, null);
    const [m, rinfo] = (await got) as [Buffer, RemoteInfo];
    t.is(m.toString(), 'all');
    t.is(rinfo.address, '10.0.0.2');
    for (const s of [one, b]) s.close();
    t.throws(() => one.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  } finally {
    p.close();
  }
});
