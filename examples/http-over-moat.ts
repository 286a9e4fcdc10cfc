// An HTTP server and client, both Node's own http module, on two moat stacks joined by an
// in-process wire: no host socket, no root. Run: npm run build && node dist/examples/http-over-moat.js
// (Outside this repository, import from 'moat' instead of '../src/index.js'.)

import http from 'node:http';
import { once } from 'node:events';
import { createStack, createWirePair } from '../src/index.js';

const [serverLink, clientLink] = createWirePair();
const serverStack = createStack({ link: serverLink, ip: ['10.0.0.1/24', 'fd00::1/64'] });
const clientStack = createStack({ link: clientLink, ip: ['10.0.0.2/24', 'fd00::2/64'] });

// Node's HTTP server, fed with connections accepted by moat's TCP.
const httpServer = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from moat: ${req.method} ${req.url}, you are ${req.socket.remoteAddress}:${req.socket.remotePort}\n`);
});
const listener = serverStack.net.createServer((socket) => httpServer.emit('connection', socket));
listener.listen(80);
await once(listener, 'listening');

for (const host of ['10.0.0.1', 'fd00::1']) {
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: 80,
        path: '/greeting',
        // The client's TCP connection comes from moat's stack, not the host's.
        createConnection: () => clientStack.net.createConnection({ host, port: 80 }),
      },
      (res) => {
        let text = `HTTP ${res.statusCode} ${res.headers['content-type']}\n`;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end();
  });
  process.stdout.write(body);
}

await new Promise<void>((resolve) => listener.close(() => resolve()));
serverStack.close();
clientStack.close();
