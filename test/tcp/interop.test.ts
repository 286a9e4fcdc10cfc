// moat's TCP against the Linux kernel's, over a real veth between two namespaces this test
// creates (moat-tc<pid>-*): moat's Stack with a PacketLink on one end, Linux and a node
// program on the other. Both directions: moat connects to a Linux server, Linux connects to a
// moat listener; data compared by sha256. Root only.

import { createHash } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { ImpairedLink } from '../../src/netstack/links/impairment.js';
import { privilegedTest } from '../helpers/privileged.js';
import { DUT_IP, PEER_IP, runInNetns, vethFixture } from '../plumbing/fixture.js';
import { PacketLink } from '../../src/net-plumbing/links/packet-link.js';
import { RealClock } from '../../src/net-plumbing/clock.js';
import { deleteNetns, listNetns } from '../../src/net-plumbing/netns.js';
import { CryptoRng } from '../../src/net-plumbing/rng.js';
import { Stack } from '../../src/netstack/stack.js';
import { IpAddr } from '../../src/netstack/wire/ip-address.js';
import { TcpProtocol, type TcpEndpoint } from '../../src/netstack/tcp/index.js';
import { pattern } from './helpers/apps.js';

const SIZE = 8 << 20;

function until<T>(what: string, ms: number, start: (done: (v: T) => void, fail: (e: Error) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    start(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Reads to EOF; returns the bytes (kept) and their digest. */
function readAll(ep: TcpEndpoint, keep: boolean): Promise<{ bytes: number; sha: string; data: Uint8Array }> {
  return until('EOF from Linux', 30_000, (done, fail) => {
    const h = createHash('sha256');
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    let finished = false;
    const drain = () => {
      while (!finished) {
        const r = ep.read();
        if (r === null) {
          finished = true;
          return done({ bytes, sha: h.digest('hex'), data: Buffer.concat(chunks) });
        }
        if (typeof r === 'string') {
          if (r !== 'EAGAIN') fail(new Error(r));
          return;
        }
        bytes += r.length;
        h.update(r);
        if (keep) chunks.push(r.slice());
      }
    };
    ep.on({ ...(ep.handler ?? {}), onReadable: drain, onPeerClosed: drain, onError: (_e, c) => fail(new Error(c)) });
    drain();
  });
}

function writeAll(ep: TcpEndpoint, data: Uint8Array): void {
  let off = 0;
  const pump = () => {
    while (off < data.length) {
      const n = ep.write(data.subarray(off, off + 262_144));
      if (typeof n === 'string' || n === 0) return;
      off += n;
    }
    ep.shutdown('write');
  };
  ep.on({ ...(ep.handler ?? {}), onWritable: pump, onConnected: pump });
  pump();
}

async function interop(t: ExecutionContext, tag: string, loss: number): Promise<void> {
  const fx = await vethFixture(tag);
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  const clock = new RealClock({ unref: true });
  let tcp!: TcpProtocol;
  const stack = new Stack({ clock, rng: new CryptoRng(), transports: (n) => [(tcp = new TcpProtocol(n))] });
  // Loss is made on moat's side of the veth (tc netem is not available): both directions.
  const impaired = loss > 0 ? new ImpairedLink(link, clock, { loss, seed: 9, direction: 'both' }) : null;
  stack.addNic(impaired ?? link, { addresses: [`${DUT_IP}/24`] });
  const peer = runInNetns(
    fx.peerNs,
    `import net from 'node:net'; import { createHash } from 'node:crypto';
     const srv = net.createServer((s) => { const h = createHash('sha256'); let n = 0;
       s.on('data', (d) => { n += d.length; h.update(d); });
       s.on('end', () => { s.end(JSON.stringify({ bytes: n, sha: h.digest('hex') })); });
     });
     srv.listen(5201, '${PEER_IP}', () => console.log(JSON.stringify({ listening: true })));
     setTimeout(() => {
       const data = Buffer.alloc(${SIZE}); for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
       const c = net.connect(5202, '${DUT_IP}', () => { c.end(data); });
       const h = createHash('sha256').update(data).digest('hex');
       let reply = '';
       c.on('data', (d) => (reply += d)); c.on('end', () => console.log(JSON.stringify({ client: true, sent: h, reply })));
       c.on('error', (e) => console.log(JSON.stringify({ client: true, error: String(e) })));
     }, 1500);
     setTimeout(() => process.exit(0), 60000);`,
  );
  try {
    await peer.waitFor<{ listening: boolean }>((m) => m.listening === true, 10_000);
    // moat listens for the Linux client (connects 1.5 s after start)
    const l = tcp.endpoint();
    t.is(l.bind(IpAddr.ANY4, 5202), undefined);
    t.is(l.listen(8), undefined);
    const accepted = until<TcpEndpoint>('Linux connects to moat', 20_000, (done) => {
      l.on({ onAcceptable: () => {
        const s = l.accept();
        if (typeof s !== 'string') done(s);
      } });
    });
    // moat -> Linux
    const c = tcp.endpoint();
    t.is(c.connect(IpAddr.parse(PEER_IP), 5201), undefined);
    const data = pattern(SIZE, 21);
    const replyP = readAll(c, true);
    writeAll(c, data);
    const reply = JSON.parse(new TextDecoder().decode((await replyP).data)) as { bytes: number; sha: string };
    t.is(reply.bytes, SIZE);
    t.is(reply.sha, createHash('sha256').update(data).digest('hex'));
    const ci = c.tcpInfo();
    t.log(`moat->Linux: rtt ${ci.rtt.toFixed(2)} ms, mss ${ci.sndMss}, wscale ${ci.sndWscale}, sack ${ci.sackEnabled}, ts ${ci.timestamps}, retrans ${ci.totalRetrans}`);
    t.true(ci.sackEnabled && ci.timestamps);

    // Linux -> moat
    const s = await accepted;
    const got = await readAll(s, false);
    const expected = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) expected[i] = (i * 7 + 3) & 0xff;
    t.is(got.bytes, SIZE);
    t.is(got.sha, createHash('sha256').update(expected).digest('hex'));
    s.write(new TextEncoder().encode('thanks'));
    s.close();
    const m = await peer.waitFor<{ client: boolean; reply?: string; error?: string }>((x) => x.client === true, 20_000);
    t.is(m.error, undefined);
    t.is(m.reply, 'thanks');
    c.close();
    if (impaired) {
      t.true(impaired.counters.lost > 0);
      t.true(ci.totalRetrans > 0 || tcp.stats.fastRetransmits + tcp.stats.rtos + tcp.stats.tailLossProbes > 0);
    }
  } finally {
    peer.kill();
    try {
      stack.close();
    } finally {
      link.close();
      await fx.close();
      // `ip netns del` can lose a race with the peer process still exiting: make sure.
      for (let i = 0; i < 20; i++) {
        const left = (await listNetns()).filter((n) => n === fx.peerNs || n === fx.dutNs);
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
        for (const n of left) await deleteNetns(n).catch(() => {});
      }
    }
  }
}

privilegedTest('interop: moat connects to a Linux server, sends 8 MB and reads its digest; Linux connects to moat and does the same', (t) => interop(t, 'tc', 0));

privilegedTest('interop under 2% loss on both directions: SACK, timestamps and recovery against Linux', (t) => interop(t, 'tl', 0.02));
