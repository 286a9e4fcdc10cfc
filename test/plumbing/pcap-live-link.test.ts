// PcapLiveLink (libpcap through `cap`). libpcap opens devices in the caller's namespace, so
// the link runs in a child process inside the DUT namespace; tcpdump in the peer namespace
// watches the wire.

import { spawn } from 'node:child_process';
import { privilegedTest } from '../helpers/privileged.js';
import { PEER_IP, DUT_IP, runInNetns, vethFixture } from './fixture.js';

privilegedTest('PcapLiveLink: an injected ARP request is seen by tcpdump and the kernel reply comes back through libpcap', async (t) => {
  const fx = await vethFixture('pp');
  const linkUrl = new URL('../../src/net-plumbing/links/pcap-live-link.js', import.meta.url).href;
  const tcpdump = spawn('ip', ['netns', 'exec', fx.peerNs, 'tcpdump', '-i', fx.peerIf, '-n', '-e', '-l', '-c', '1', `arp and ether src ${fx.dutMac}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let child: { kill(): void } | null = null;
  try {
    let out = '';
    let err = '';
    tcpdump.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    tcpdump.stderr.setEncoding('utf8');
    const exited = new Promise<number | null>((resolve) => tcpdump.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
      tcpdump.stderr.on('data', (c: string) => {
        err += c;
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const p = runInNetns(
      fx.dutNs,
      `import { PcapLiveLink } from ${JSON.stringify(linkUrl)};
       const link = new PcapLiveLink({ device: ${JSON.stringify(fx.dutIf)}, filter: 'arp' });
       const mac = link.mac;
       link.attach({ deliverFrames(frames) {
         for (const f of frames) {
           const d = f.data;
           if (d[12] === 8 && d[13] === 6 && d[21] === 2) {
             console.log(JSON.stringify({ reply: true, sha: Array.from(d.subarray(22, 28)), tha: Array.from(d.subarray(32, 38)),
               spa: Array.from(d.subarray(28, 32)).join('.'), offload: f.offload ?? null, stats: link.stats() }));
             link.close();
           }
         }
       } });
       const f = new Uint8Array(42);
       f.fill(0xff, 0, 6); f.set(mac, 6); f.set([8, 6, 0, 1, 8, 0, 6, 4, 0, 1], 12); f.set(mac, 22);
       f.set(${JSON.stringify(DUT_IP.split('.').map(Number))}, 28); f.set(${JSON.stringify(PEER_IP.split('.').map(Number))}, 38);
       console.log(JSON.stringify({ caps: link.caps, mac: Array.from(mac), sent: link.writeFrames([{ data: f }]) }));`,
    );
    child = p;
    const started = await p.waitFor<{ caps: unknown; mac: number[]; sent: number }>((m) => 'sent' in m);
    t.is(started.sent, 1);
    t.deepEqual(started.caps, { medium: 'ethernet', mtu: 1500, txChecksumOffload: false, rxChecksumOffload: false, gsoMaxSize: 0 });
    const mac = started.mac.map((b) => b.toString(16).padStart(2, '0')).join(':');
    t.is(mac, fx.dutMac, 'the device MAC by default');
    const reply = await p.waitFor<{ sha: number[]; tha: number[]; spa: string; offload: unknown; stats: { rxDelivered: number; txFrames: number } }>((m) => 'reply' in m);
    t.is(reply.spa, PEER_IP);
    t.is(reply.tha.map((b) => b.toString(16).padStart(2, '0')).join(':'), fx.dutMac);
    t.is(reply.offload, null);
    t.is(reply.stats.txFrames, 1);
    t.is(await exited, 0);
    t.regex(out, new RegExp(`${fx.dutMac} > ff:ff:ff:ff:ff:ff.*Request who-has ${PEER_IP.replace(/\./g, '\\.')} tell ${DUT_IP.replace(/\./g, '\\.')}`));
  } finally {
    child?.kill();
    if (tcpdump.exitCode === null && tcpdump.pid) process.kill(tcpdump.pid, 'SIGKILL');
    await fx.close();
  }
});
