// PacketLink on a real veth: a Linux peer namespace on one end, the link on the other (a
// namespace with no addresses). What the kernel really delivers with vnet_hdr is asserted as
// observed on Linux 6.x: partial checksums for small UDP, GSO aggregates for TCP, plain
// fragments (already checksummed) for a UDP datagram above the MTU.

import { execFileSync } from 'node:child_process';
import { PacketLink } from '../../src/net-plumbing/links/packet-link.js';
import { addNeighbor, linkInfo, setLinkDown, setLinkUp } from '../../src/net-plumbing/netns.js';
import { privilegedTest } from '../helpers/privileged.js';
import { FrameCollector, PEER_IP, DUT_IP, runInNetns, vethFixture } from './fixture.js';
import { arp, ethernet, fold, ip4, macBytes, macString, parseArp, parseIpv4, pseudoSum, sum16, transportChecksumOk } from './frames.js';
import { acceptBySynAck, connectAndSendGso, tcpPayloadLength } from './tcp-by-hand.js';

const BROADCAST = macBytes('ff:ff:ff:ff:ff:ff');

/** Finishes a partial checksum the way a NIC would (FrameOffload.csumStart/csumOffset). */
function completePartial(frame: Uint8Array, csumStart: number, csumOffset: number): Uint8Array {
  const f = Uint8Array.from(frame);
  const at = csumStart + csumOffset;
  const v = ~fold(sum16(f, csumStart, f.length)) & 0xffff;
  f[at] = v >> 8;
  f[at + 1] = v & 0xff;
  return f;
}

privilegedTest('PacketLink on a missing interface throws a native error naming the call', (t) => {
  const err = t.throws(() => new PacketLink({ ifname: 'moat-nosuchif0' }));
  t.regex(err!.message, /SIOCGIFINDEX/);
});

privilegedTest('PacketLink: an ARP request from a made-up address gets the Linux kernel reply', async (t) => {
  const fx = await vethFixture('pa');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  try {
    t.is(macString(link.mac), fx.dutMac, 'the link uses the veth end MAC');
    t.deepEqual(link.caps, { medium: 'ethernet', mtu: 1500, txChecksumOffload: true, rxChecksumOffload: true, gsoMaxSize: 65536 });
    const col = new FrameCollector();
    link.attach(col);
    const madeUp = macBytes('02:13:88:00:00:02');
    const req = ethernet(BROADCAST, madeUp, 0x0806, arp(1, madeUp, ip4('10.213.88.2'), new Uint8Array(6), ip4(PEER_IP)));
    t.is(link.writeFrames([{ data: req }]), 1);
    const reply = await col.waitFor((f) => parseArp(f)?.op === 2, 5000, 'ARP reply');
    t.deepEqual(parseArp(reply.data), { op: 2, sha: fx.peerMac, spa: PEER_IP, tha: '02:13:88:00:00:02', tpa: '10.213.88.2' });
    t.is(macString(reply.data.subarray(0, 6)), '02:13:88:00:00:02', 'unicast to the made-up MAC');
    t.is(reply.offload, undefined, 'an ARP reply carries no offload metadata');
  } finally {
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink: UDP from Linux arrives with a partial checksum, or as checksummed fragments above the MTU', async (t) => {
  const fx = await vethFixture('pu');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  const peer = { kill() {} } as { kill(): void };
  try {
    const col = new FrameCollector();
    link.attach(col);
    await addNeighbor(fx.peerIf, DUT_IP, fx.dutMac, { netns: fx.peerNs });
    const p = runInNetns(
      fx.peerNs,
      `import dgram from 'node:dgram';
       const s = dgram.createSocket('udp4');
       const big = Buffer.alloc(60000); for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
       s.send(big, 5003, '${DUT_IP}', (e1) => s.send(Buffer.alloc(100, 7), 5004, '${DUT_IP}', (e2) => {
         console.log(JSON.stringify({ sent: !e1 && !e2 })); s.close(); }));`,
    );
    Object.assign(peer, p);
    t.true((await p.waitFor<{ sent: boolean }>((m) => 'sent' in m)).sent);
    const small = await col.waitFor((f) => parseIpv4(f)?.proto === 17 && f[36] === 0x13 && f[37] === 0x8c, 5000, 'the small datagram');
    // veth keeps the sender's CHECKSUM_PARTIAL: AF_PACKET reports it as NEEDS_CSUM at the UDP header.
    t.deepEqual(small.offload, { csumStart: 34, csumOffset: 6 });
    t.false(transportChecksumOk(small.data), 'the checksum field holds only the pseudo-header sum');
    t.true(transportChecksumOk(completePartial(small.data, 34, 6)), 'finishing it as the offload says gives a valid checksum');

    // 60 000 bytes + 8 of UDP header = 41 fragments of 1480 payload bytes (the last 808 + 20).
    await col.waitFor((f) => {
      const ip = parseIpv4(f);
      return !!ip && ip.proto === 17 && !ip.mf && ip.fragOffset > 0;
    }, 5000, 'the last fragment');
    const frags = col.frames.filter((f) => {
      const ip = parseIpv4(f.data);
      return !!ip && ip.proto === 17 && (ip.mf || ip.fragOffset > 0);
    });
    t.is(frags.length, 41);
    for (const f of frags) {
      t.is(f.offload, undefined, 'fragments carry no offload: Linux checksummed before fragmenting');
      t.true(f.data.length <= 1514);
      t.true(parseIpv4(f.data)!.headerOk);
    }
    // Reassemble and check the UDP checksum end to end.
    const datagram = new Uint8Array(60008);
    for (const f of frags) {
      const ip = parseIpv4(f.data)!;
      datagram.set(f.data.subarray(14 + ip.ihl, 14 + ip.totalLength), ip.fragOffset);
    }
    t.is(fold(sum16(datagram, 0, datagram.length, pseudoSum(ip4(PEER_IP), ip4(DUT_IP), 17, datagram.length))), 0xffff);
    t.is(datagram[8 + 12345], 12345 & 0xff);
  } finally {
    peer.kill();
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink: a Linux TCP sender hands over GSO aggregates with partial checksums (vnet_hdr)', async (t) => {
  const fx = await vethFixture('pt');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  let peer: { kill(): void } | null = null;
  try {
    const col = new FrameCollector();
    link.attach(col);
    await addNeighbor(fx.peerIf, DUT_IP, fx.dutMac, { netns: fx.peerNs });
    const p = runInNetns(
      fx.peerNs,
      `import net from 'node:net';
       const s = net.connect({ host: '${DUT_IP}', port: 5001 });
       s.on('connect', () => { console.log(JSON.stringify({ connected: true })); s.write(Buffer.alloc(200000, 0x61)); });
       s.on('error', (e) => console.log(JSON.stringify({ error: e.message })));`,
    );
    peer = p;
    await acceptBySynAck({ link, collector: col, peerIp: PEER_IP, peerMac: fx.peerMac, localIp: DUT_IP }, 5001, 1460);
    await p.waitFor<{ connected?: boolean }>((m) => m.connected === true);
    const big = await col.waitFor((f) => tcpPayloadLength(f) > 1460, 10_000, 'a TCP frame above the MSS');
    const ip = parseIpv4(big.data)!;
    t.log(`aggregate: ${big.data.length} bytes, offload ${JSON.stringify(big.offload)}`);
    t.like(big.offload, { gsoType: 'tcpv4', gsoSize: 1460, csumStart: 34, csumOffset: 16 });
    t.true(big.offload!.hdrLen! >= 54, 'hdrLen covers Ethernet + IPv4 + TCP headers');
    t.is(ip.totalLength, big.data.length - 14);
    t.true(big.data.length > 1514, 'one frame carries several segments');
    t.true(transportChecksumOk(completePartial(big.data, 34, 16)), 'the partial checksum covers the whole aggregate');
  } finally {
    peer?.kill();
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink: one 30 000-byte GSO frame from the link reaches a Linux TCP socket whole', async (t) => {
  const fx = await vethFixture('pg');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  let peer: { kill(): void } | null = null;
  try {
    const col = new FrameCollector();
    link.attach(col);
    await addNeighbor(fx.peerIf, DUT_IP, fx.dutMac, { netns: fx.peerNs });
    const N = 30000;
    const p = runInNetns(
      fx.peerNs,
      `import net from 'node:net';
       const srv = net.createServer((c) => { const parts = []; let n = 0;
         c.on('data', (d) => { parts.push(d); n += d.length;
           if (n >= ${N}) { const b = Buffer.concat(parts); let ok = true;
             for (let i = 0; i < b.length; i++) if (b[i] !== (i * 7) % 251) { ok = false; break; }
             console.log(JSON.stringify({ received: n, ok })); } }); });
       srv.listen(5002, '${PEER_IP}', () => console.log(JSON.stringify({ listening: true })));`,
    );
    peer = p;
    await p.waitFor<{ listening?: boolean }>((m) => m.listening === true);
    const payload = new Uint8Array(N);
    for (let i = 0; i < N; i++) payload[i] = (i * 7) % 251;
    await connectAndSendGso({ link, collector: col, peerIp: PEER_IP, peerMac: fx.peerMac, localIp: DUT_IP }, 5002, payload);
    const r = await p.waitFor<{ received: number; ok: boolean }>((m) => 'received' in m);
    t.deepEqual(r, { received: N, ok: true });
    t.is(link.stats().txErrors, 0);
  } finally {
    peer?.kill();
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink: 1,000 frames in one writeFrames all reach the peer interface', async (t) => {
  const fx = await vethFixture('pb');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  try {
    link.attach(new FrameCollector());
    const before = (await linkInfo(fx.peerIf, { netns: fx.peerNs })).stats64!.rx.packets;
    const frames = [];
    for (let i = 0; i < 1000; i++) {
      const payload = new Uint8Array(64);
      payload[0] = i >> 8;
      payload[1] = i & 0xff;
      frames.push({ data: ethernet(macBytes(fx.peerMac), link.mac, 0x88b5, payload) });
    }
    t.is(link.writeFrames(frames), 1000);
    let delta = 0;
    for (let tries = 0; tries < 100 && delta < 1000; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      delta = (await linkInfo(fx.peerIf, { netns: fx.peerNs })).stats64!.rx.packets - before;
    }
    t.is(delta, 1000);
    const s = link.stats();
    t.is(s.txFrames, 1000);
    t.is(s.txBusyDrops, 0);
    t.is(s.txErrors, 0);
  } finally {
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink: after close nothing is delivered and writes are refused and counted', async (t) => {
  const fx = await vethFixture('pc');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  try {
    const col = new FrameCollector();
    link.attach(col);
    // The peer's kernel broadcasts ARP requests for an address nobody has: proof that frames flow.
    const arping = () => execFileSync('ip', ['netns', 'exec', fx.peerNs, 'ping', '-c', '1', '-W', '1', '10.213.88.9'], { stdio: 'ignore' });
    t.throws(arping);
    await col.waitFor((f) => parseArp(f)?.tpa === '10.213.88.9', 5000, 'the peer ARP request');
    link.close();
    const seen = col.frames.length;
    const madeUp = macBytes('02:13:88:00:00:02');
    t.is(link.writeFrames([{ data: ethernet(BROADCAST, madeUp, 0x0806, arp(1, madeUp, ip4(DUT_IP), new Uint8Array(6), ip4(PEER_IP))) }]), 0);
    t.is(link.stats().txDropped.closed, 1);
    t.throws(arping);
    t.is(col.frames.length, seen, 'no frame delivered after close');
    link.close(); // idempotent
  } finally {
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink: a full qdisc (ENOBUFS) drops frames and counts them; nothing throws', async (t) => {
  const fx = await vethFixture('pq');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  try {
    link.attach(new FrameCollector());
    // A token bucket that holds ~3 frames: the rest of a burst is refused with ENOBUFS.
    execFileSync('ip', ['netns', 'exec', fx.dutNs, 'tc', 'qdisc', 'add', 'dev', fx.dutIf, 'root', 'tbf', 'rate', '1mbit', 'burst', '1600', 'limit', '3000']);
    const frames = Array.from({ length: 200 }, () => ({ data: ethernet(macBytes(fx.peerMac), link.mac, 0x88b5, new Uint8Array(1000)) }));
    t.is(link.writeFrames(frames), 200, 'the link accepts the batch; the kernel refuses part of it');
    link.flush();
    const s = link.stats();
    t.true(s.txBusyDrops > 0);
    t.is(s.txFrames + s.txBusyDrops, 200);
    t.is(s.txErrors, 0);
  } finally {
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink survives its interface going down and up (ENETDOWN is counted, receiving resumes)', async (t) => {
  const fx = await vethFixture('pf');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  try {
    const col = new FrameCollector();
    const states: boolean[] = [];
    link.attach({ deliverFrames: (f) => col.deliverFrames(f), linkStateChanged: (up) => states.push(up) });
    await setLinkDown(fx.dutIf, { netns: fx.dutNs });
    const madeUp = macBytes('02:13:88:00:00:02');
    const req = ethernet(BROADCAST, madeUp, 0x0806, arp(1, madeUp, ip4(DUT_IP), new Uint8Array(6), ip4(PEER_IP)));
    link.writeFrames([{ data: req }]);
    link.flush();
    t.is(link.stats().txErrors, 1);
    t.is(link.stats().lastTxErrno, 100, 'ENETDOWN');
    await setLinkUp(fx.dutIf, { netns: fx.dutNs });
    // Carrier comes back asynchronously: ask until the kernel answers.
    let reply;
    for (let i = 0; i < 50 && !reply; i++) {
      link.writeFrames([{ data: req }]);
      reply = await col.waitFor((f) => parseArp(f)?.op === 2, 200, 'ARP reply').catch(() => undefined);
    }
    t.truthy(reply, 'the link receives again after the flap');
    const s = link.stats();
    t.true(s.rxErrors >= 1, 'the ENETDOWN socket error was seen');
    t.is(s.lastRxErrno, 100);
    t.deepEqual(states, [false, true], 'the stack heard carrier go and come back');
  } finally {
    link.close();
    await fx.close();
  }
});

privilegedTest('PacketLink without vnet_hdr: no offloads advertised or reported, frames still flow', async (t) => {
  const fx = await vethFixture('pv');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs, vnetHdr: false });
  try {
    t.deepEqual(link.caps, { medium: 'ethernet', mtu: 1500, txChecksumOffload: false, rxChecksumOffload: false, gsoMaxSize: 0 });
    const col = new FrameCollector();
    link.attach(col);
    const madeUp = macBytes('02:13:88:00:00:03');
    link.writeFrames([{ data: ethernet(BROADCAST, madeUp, 0x0806, arp(1, madeUp, ip4(DUT_IP), new Uint8Array(6), ip4(PEER_IP))) }]);
    const reply = await col.waitFor((f) => parseArp(f)?.op === 2, 5000, 'ARP reply');
    t.is(reply.offload, undefined);
    t.is(reply.data.length, 42, 'the frame starts at the Ethernet header: no virtio_net_hdr in front');
  } finally {
    link.close();
    await fx.close();
  }
});

privilegedTest('an open link lets Node exit once unref()d or closed, and process.exit with it open is clean', async (t) => {
  const fx = await vethFixture('px');
  try {
    const url = new URL('../../src/net-plumbing/links/packet-link.js', import.meta.url).href;
    const run = (tail: string) => {
      const script = `import { PacketLink } from ${JSON.stringify(url)};
        const link = new PacketLink({ ifname: ${JSON.stringify(fx.dutIf)}, netns: ${JSON.stringify(fx.dutNs)} });
        link.attach({ deliverFrames() {} }); ${tail}`;
      try {
        execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, stdio: 'pipe' });
        return 0;
      } catch (e) {
        return (e as { status?: number; signal?: string }).status ?? (e as { signal?: string }).signal;
      }
    };
    t.is(run('link.unref();'), 0);
    t.is(run('link.close();'), 0);
    t.is(run('setImmediate(() => process.exit(3));'), 3);
  } finally {
    await fx.close();
  }
});

privilegedTest('PacketLink: a Linux UDP_SEGMENT (USO) sender hands over one UDP GSO aggregate', async (t) => {
  const fx = await vethFixture('po');
  const link = new PacketLink({ ifname: fx.dutIf, netns: fx.dutNs });
  try {
    const col = new FrameCollector();
    link.attach(col);
    await addNeighbor(fx.peerIf, DUT_IP, fx.dutMac, { netns: fx.peerNs });
    // Node has no UDP_SEGMENT (SOL_UDP 17, option 103): python3 (installed by .ci/run) sends it.
    execFileSync('ip', [
      'netns', 'exec', fx.peerNs, 'python3', '-c',
      `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(17, 103, 1000)\ns.sendto(bytes(range(250)) * 80, ('${DUT_IP}', 5005))`,
    ]);
    const agg = await col.waitFor((f) => parseIpv4(f)?.proto === 17, 5000, 'the UDP aggregate');
    t.deepEqual(agg.offload, { csumStart: 34, csumOffset: 6, gsoType: 'udp', gsoSize: 1000, hdrLen: 42 });
    t.is(agg.data.length, 14 + 20 + 8 + 20000, 'one frame: 20 datagrams of 1000 bytes, not yet cut');
    t.true(transportChecksumOk(completePartial(agg.data, 34, 6)), 'the partial checksum covers the aggregate as one datagram');
  } finally {
    link.close();
    await fx.close();
  }
});
