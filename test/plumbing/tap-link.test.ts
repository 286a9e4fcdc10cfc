// TapLink against the Linux stack on the other side of the tap (the kernel end holds an
// address in a namespace the test creates). moat plays a host 10.213.89.2 behind the tap.

import { spawn } from 'node:child_process';
import { TapLink } from '../../src/net-plumbing/links/tap-link.js';
import { addAddress, addNeighbor, createNetns, createTap, deleteNetns, disableIpv6, linkInfo, setLinkUp } from '../../src/net-plumbing/netns.js';
import { privilegedTest } from '../helpers/privileged.js';
import { FrameCollector, runInNetns } from './fixture.js';
import { arp, ethernet, fold, macString, parseArp, parseIpv4, sum16, transportChecksumOk } from './frames.js';
import { acceptBySynAck, connectAndSendGso, tcpPayloadLength } from './tcp-by-hand.js';

const KERNEL_IP = '10.213.89.1';
const MOAT_IP = '10.213.89.2';

async function tapFixture(tag: string, offload = true) {
  const ns = `moat-${tag}${process.pid}`;
  await createNetns(ns);
  try {
    await disableIpv6(ns);
    const link = new TapLink({ name: `moat-${tag}${process.pid}`.slice(0, 15), netns: ns, offload });
    await addAddress(link.ifname, `${KERNEL_IP}/24`, { netns: ns });
    await setLinkUp(link.ifname, { netns: ns });
    return { ns, link, close: async () => { link.close(); await deleteNetns(ns).catch(() => {}); } };
  } catch (e) {
    await deleteNetns(ns).catch(() => {});
    throw e;
  }
}

/** An ICMP echo reply for an echo request frame (RFC 792): swap the addresses, type 0. */
function echoReply(req: Uint8Array, myMac: Uint8Array): Uint8Array {
  const f = Uint8Array.from(req);
  f.set(req.subarray(6, 12), 0);
  f.set(myMac, 6);
  f.set(req.subarray(30, 34), 26);
  f.set(req.subarray(26, 30), 30);
  const ip = parseIpv4(req)!;
  const icmp = 14 + ip.ihl;
  f[icmp] = 0;
  f[icmp + 2] = 0;
  f[icmp + 3] = 0;
  const c = ~fold(sum16(f, icmp, 14 + ip.totalLength)) & 0xffff;
  f[icmp + 2] = c >> 8;
  f[icmp + 3] = c & 0xff;
  return f;
}

privilegedTest('TapLink: the kernel pings through the tap; moat answers ARP and the echo, and ping succeeds', async (t) => {
  const fx = await tapFixture('ta');
  try {
    const { link } = fx;
    t.regex(link.ifname, /^moat-ta\d+/);
    t.is(link.mac.length, 6);
    t.is(link.mac[0] & 0x03, 0x02, 'a locally administered unicast MAC');
    t.notDeepEqual(link.mac, link.kernelMac);
    t.deepEqual(link.caps, { medium: 'ethernet', mtu: 1500, txChecksumOffload: true, rxChecksumOffload: true, gsoMaxSize: 65536 });
    const col = new FrameCollector();
    link.attach(col);
    const ping = spawn('ip', ['netns', 'exec', fx.ns, 'ping', '-c', '1', '-W', '5', MOAT_IP], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => ping.on('exit', (code) => resolve(code)));
    try {
      const req = await col.waitFor((f) => parseArp(f)?.tpa === MOAT_IP, 5000, 'the kernel ARP request');
      t.like(parseArp(req.data), { op: 1, sha: macString(link.kernelMac), spa: KERNEL_IP });
      link.writeFrames([{ data: ethernet(link.kernelMac, link.mac, 0x0806, arp(2, link.mac, Uint8Array.of(10, 213, 89, 2), link.kernelMac, Uint8Array.of(10, 213, 89, 1))) }]);
      const echo = await col.waitFor((f) => {
        const ip = parseIpv4(f);
        return !!ip && ip.proto === 1 && f[14 + ip.ihl] === 8;
      }, 5000, 'the ICMP echo request');
      t.is(macString(echo.data.subarray(0, 6)), macString(link.mac));
      t.like(parseIpv4(echo.data), { src: KERNEL_IP, dst: MOAT_IP, headerOk: true });
      link.writeFrames([{ data: echoReply(echo.data, link.mac) }]);
      t.is(await exited, 0, 'ping got its reply');
    } finally {
      if (ping.exitCode === null && ping.pid) process.kill(ping.pid, 'SIGKILL');
    }
  } finally {
    await fx.close();
  }
});

privilegedTest('TapLink: with TUNSETOFFLOAD a Linux TCP sender hands over GSO aggregates', async (t) => {
  const fx = await tapFixture('tg');
  let peer: { kill(): void } | null = null;
  try {
    const { link } = fx;
    const col = new FrameCollector();
    link.attach(col);
    await addNeighbor(link.ifname, MOAT_IP, macString(link.mac), { netns: fx.ns });
    const p = runInNetns(
      fx.ns,
      `import net from 'node:net';
       const s = net.connect({ host: '${MOAT_IP}', port: 5001 });
       s.on('connect', () => { console.log(JSON.stringify({ connected: true })); s.write(Buffer.alloc(200000, 0x62)); });
       s.on('error', (e) => console.log(JSON.stringify({ error: e.message })));`,
    );
    peer = p;
    await acceptBySynAck({ link, collector: col, peerIp: KERNEL_IP, peerMac: macString(link.kernelMac), localIp: MOAT_IP }, 5001);
    await p.waitFor<{ connected?: boolean }>((m) => m.connected === true);
    const big = await col.waitFor((f) => tcpPayloadLength(f) > 1460, 10_000, 'a TCP frame above the MSS');
    t.log(`aggregate: ${big.data.length} bytes, offload ${JSON.stringify(big.offload)}`);
    t.like(big.offload, { gsoType: 'tcpv4', gsoSize: 1460, csumStart: 34, csumOffset: 16 });
    t.true(big.data.length > 1514);
    const f = Uint8Array.from(big.data);
    const c = ~fold(sum16(f, 34, f.length)) & 0xffff;
    f[50] = c >> 8;
    f[51] = c & 0xff;
    t.true(transportChecksumOk(f), 'the partial checksum covers the whole aggregate');
  } finally {
    peer?.kill();
    await fx.close();
  }
});

privilegedTest('TapLink: one 30 000-byte GSO frame written to the tap reaches a Linux TCP socket whole', async (t) => {
  const fx = await tapFixture('tw');
  let peer: { kill(): void } | null = null;
  try {
    const { link } = fx;
    const col = new FrameCollector();
    link.attach(col);
    await addNeighbor(link.ifname, MOAT_IP, macString(link.mac), { netns: fx.ns });
    const N = 30000;
    const p = runInNetns(
      fx.ns,
      `import net from 'node:net';
       const srv = net.createServer((c) => { const parts = []; let n = 0;
         c.on('data', (d) => { parts.push(d); n += d.length;
           if (n >= ${N}) { const b = Buffer.concat(parts); let ok = true;
             for (let i = 0; i < b.length; i++) if (b[i] !== (i * 13) % 251) { ok = false; break; }
             console.log(JSON.stringify({ received: n, ok })); } }); });
       srv.listen(5002, '${KERNEL_IP}', () => console.log(JSON.stringify({ listening: true })));`,
    );
    peer = p;
    await p.waitFor<{ listening?: boolean }>((m) => m.listening === true);
    const payload = new Uint8Array(N);
    for (let i = 0; i < N; i++) payload[i] = (i * 13) % 251;
    await connectAndSendGso({ link, collector: col, peerIp: KERNEL_IP, peerMac: macString(link.kernelMac), localIp: MOAT_IP }, 5002, payload);
    t.deepEqual(await p.waitFor<{ received: number; ok: boolean }>((m) => 'received' in m), { received: N, ok: true });
    t.is(link.stats().txErrors, 0);
  } finally {
    peer?.kill();
    await fx.close();
  }
});

privilegedTest('TapLink without offload: no vnet_hdr, capabilities say so, frames still flow', async (t) => {
  const fx = await tapFixture('tn', false);
  try {
    const { link } = fx;
    t.deepEqual(link.caps, { medium: 'ethernet', mtu: 1500, txChecksumOffload: false, rxChecksumOffload: false, gsoMaxSize: 0 });
    const col = new FrameCollector();
    link.attach(col);
    const ping = spawn('ip', ['netns', 'exec', fx.ns, 'ping', '-c', '1', '-W', '2', MOAT_IP], { stdio: 'ignore' });
    try {
      const req = await col.waitFor((f) => parseArp(f)?.tpa === MOAT_IP, 5000, 'the kernel ARP request');
      t.is(req.offload, undefined);
      t.is(macString(req.data.subarray(0, 6)), 'ff:ff:ff:ff:ff:ff');
    } finally {
      if (ping.exitCode === null && ping.pid) process.kill(ping.pid, 'SIGKILL');
    }
  } finally {
    await fx.close();
  }
});


privilegedTest('TapLink attaches to a persistent tap made by createTap, which outlives the link', async (t) => {
  const ns = `moat-tp${process.pid}`;
  const name = `moat-tp${process.pid}`.slice(0, 15);
  await createNetns(ns);
  try {
    await createTap(name, { netns: ns });
    const link = new TapLink({ name, netns: ns });
    t.is(link.ifname, name);
    t.is(link.caps.gsoMaxSize, 65536);
    link.close();
    t.is((await linkInfo(name, { netns: ns })).ifname, name, 'a persistent tap stays after its fd closes');
  } finally {
    await deleteNetns(ns).catch(() => {});
  }
});
