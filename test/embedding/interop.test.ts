// The embedding API on a real link (root): a moat stack on an AF_PACKET socket bound to a veth
// end in a namespace this test creates, talking to Linux in a peer namespace. Node's http over
// moat to a Linux-side Node server, found by name through dnsmasq via stack.dns; Linux's curl
// to Node's http server on moat. NETWORK RULE: every address lives in these namespaces.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { privilegedTest } from '../helpers/privileged.js';
import { directTopology, nsSh } from '../interop/net.js';
import { createStack, PacketLink } from '../../src/index.js';

const NET = 101;

function spawnIn(ns: string, argv: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function waitFor(child: ChildProcess, text: string, ms = 10_000): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}": ${out}`)), ms);
    const on = (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (c) => reject(new Error(`exited ${c}: ${out}`)));
  });
}

privilegedTest('embedding on an AF_PACKET link: http to Linux by a dnsmasq name, curl from Linux to Node on moat', async (t) => {
  const topo = await directTopology('em', NET);
  const children: ChildProcess[] = [];
  let moat: ReturnType<typeof createStack> | null = null;
  try {
    const web = spawnIn(topo.peerNs, [
      process.execPath, '-e',
      `require('http').createServer((q, r) => r.end('linux ' + q.url + ' from ' + q.socket.remoteAddress)).listen(8080, '::', () => console.log('web ready'))`,
    ]);
    children.push(web);
    await waitFor(web, 'web ready');
    const dns = spawnIn(topo.peerNs, [
      'dnsmasq', '--no-daemon', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${topo.peer4}`,
      '--port=53', `--host-record=www.embed.test,${topo.peer4},${topo.peer6}`, '--log-facility=-', '--log-queries',
    ]);
    children.push(dns);
    await waitFor(dns, 'started');

    moat = createStack({ link: new PacketLink({ ifname: topo.dutIf, netns: topo.dutNs }), ip: topo.moatCidrs, dns: { servers: [topo.peer4] } });
    await moat.ready();
    const m = moat;

    // stack.dns asks dnsmasq through moat's UDP.
    t.deepEqual(await m.dns.promises.lookup('www.embed.test', { family: 4 }), { address: topo.peer4, family: 4 });
    t.deepEqual(await m.dns.promises.resolve6('www.embed.test'), [topo.peer6]);

    // Node's http client, its connection from moat, the name resolved by moat.
    for (const fam of [4, 6] as const) {
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          { host: 'www.embed.test', port: 8080, path: `/v${fam}`, createConnection: (() => m.net.connect({ host: 'www.embed.test', port: 8080, family: fam })) as never },
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
      t.is(body, `linux /v${fam} from ${fam === 4 ? `::ffff:${topo.moat4}` : topo.moat6}`);
    }

    // Linux's curl to Node's http server listening on moat (dual stack).
    const hs = http.createServer((req, res) => res.end(`moat says hi to ${req.socket.remoteAddress}`));
    const ms = m.net.createServer((s) => hs.emit('connection', s));
    ms.listen(80);
    await once(ms, 'listening');
    const c4 = await nsSh(topo.peerNs, `curl -s --max-time 10 http://${topo.moat4}/`);
    t.is(c4.stdout, `moat says hi to ${topo.peer4}`);
    const c6 = await nsSh(topo.peerNs, `curl -s --max-time 10 -g 'http://[${topo.moat6}]/'`);
    t.is(c6.stdout, `moat says hi to ${topo.peer6}`);
    ms.close();
  } finally {
    moat?.close();
    for (const c of children) {
      if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
    }
    await topo.close();
  }
});
