// TLS over moat sockets with Node's own tls and https: a self-signed certificate made at test
// time by the openssl CLI, a TLS echo, and an HTTPS request through createConnection.

import test from 'ava';
import tls from 'node:tls';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pair, pattern, sha256 } from './helpers.js';

function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'moat-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=moat.test', '-addext', 'subjectAltName=DNS:moat.test,IP:10.0.0.1,IP:fd00::1',
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const creds = selfSigned();

test('tls.connect({ socket }) over a moat socket: handshake verified against the test CA, 4 MB echoed', async (t) => {
  const p = pair();
  try {
    const tlsServer = tls.createServer({ key: creds.key, cert: creds.cert }, (s) => s.pipe(s));
    const ms = p.a.net.createServer((s) => tlsServer.emit('connection', s));
    ms.listen(443);
    await once(ms, 'listening');
    const raw = p.b.net.connect(443, 'fd00::1');
    const c = tls.connect({ socket: raw, servername: 'moat.test', ca: creds.cert });
    await once(c, 'secureConnect');
    t.true(c.authorized);
    t.is(c.getPeerCertificate().subject.CN, 'moat.test');
    const data = pattern(4 * 1024 * 1024, 3);
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    let got = 0;
    await new Promise<void>((resolve) => {
      c.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= data.length) resolve();
      });
      c.write(data);
    });
    t.is(sha256(Buffer.concat(chunks)), sha256(data));
    c.end();
    await once(raw, 'close');
    t.pass();
  } finally {
    p.close();
  }
});

test('https.request with createConnection returning tls.connect over moat', async (t) => {
  const p = pair();
  try {
    const hs = https.createServer({ key: creds.key, cert: creds.cert }, (req, res) => {
      res.end(`secure ${req.url} ${(req.socket as import('node:tls').TLSSocket).encrypted}`);
    });
    // A TLSSocket over a non-net Duplex has no peer address of its own (Node reads it from a
    // libuv handle): the moat socket underneath has it.
    let peer = '';
    const ms = p.a.net.createServer((s) => {
      peer = `${s.remoteAddress}`;
      hs.emit('connection', s);
    });
    ms.listen(443, '10.0.0.1');
    await once(ms, 'listening');
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        {
          host: '10.0.0.1',
          port: 443,
          path: '/hello',
          createConnection: (() => tls.connect({ socket: p.b.net.connect(443, '10.0.0.1'), servername: 'moat.test', ca: creds.cert })) as never,
        },
        (res) => {
          let s = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (s += d));
          res.on('end', () => resolve(s));
        },
      );
      req.on('error', reject);
      req.end();
    });
    t.is(body, 'secure /hello true');
    t.is(peer, '10.0.0.2');
  } finally {
    p.close();
  }
});

test('a certificate for another name fails verification over moat like anywhere else', async (t) => {
  const p = pair();
  try {
    const tlsServer = tls.createServer({ key: creds.key, cert: creds.cert }, (s) => s.end());
    const ms = p.a.net.createServer((s) => tlsServer.emit('connection', s));
    ms.listen(443);
    await once(ms, 'listening');
    const c = tls.connect({ socket: p.b.net.connect(443, '10.0.0.1'), servername: 'other.test', ca: creds.cert });
    const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
    t.is(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  } finally {
    p.close();
  }
});
