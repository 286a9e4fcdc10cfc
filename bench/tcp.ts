// TCP benchmarks over the in-process test network (test/tcp/helpers/net.ts): CPU-bound
// throughput (virtual time costs nothing, so MB/s is what the code can process), CPU per GB,
// memory per idle established connection, and 10,000 concurrent connections.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TestNet } from '../test/tcp/helpers/net.js';
import { connectPair, pattern, Sink, Writer } from '../test/tcp/helpers/apps.js';
import type { TcpEndpoint } from '../src/netstack/tcp/endpoint.js';
import { IpAddr } from '../src/netstack/wire/ip-address.js';

interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function bulk(bytes: number, loss: number, gso = false): { cpu: number; real: number; virt: number } {
  const net = new TestNet(42);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  if (gso) {
    // a route with checksum offload and TSO: TCP hands over 64 KiB aggregates
    a.checksumOffload = true;
    a.gsoMaxSize = 65536;
    net.checksumVerified = true;
  }
  net.setBoth(a, b, { delayMs: 1, loss, lossDataOnly: true });
  const { client, server } = connectPair(net, a, b);
  const data = pattern(bytes, 1);
  const c0 = cpuSeconds();
  const r0 = performance.now();
  const sink = new Sink(server);
  new Writer(client, data);
  if (!net.runUntil(() => sink.eof, 24 * 3_600_000)) throw new Error('bench transfer did not finish');
  return { cpu: cpuSeconds() - c0, real: (performance.now() - r0) / 1000, virt: net.clock.now() / 1000 };
}

export async function benchTcp(): Promise<Row[]> {
  const rows: Row[] = [];
  const MB = 1 << 20;
  const size = 128 * MB;
  const clean = bulk(size, 0);
  rows.push({ name: 'throughput, clean link (checksums on, sha256 of the sink included)', value: size / MB / clean.real, unit: 'MB/s', note: `${clean.virt.toFixed(1)} s virtual` });
  rows.push({ name: 'CPU per GB transferred (both ends, one process)', value: (clean.cpu / size) * 1e9, unit: 's/GB' });
  const offl = bulk(size, 0, true);
  rows.push({ name: 'throughput, checksum offload + GSO aggregates (the fake link still cuts and checksums each segment)', value: size / MB / offl.real, unit: 'MB/s' });
  const lossy = bulk(size, 0.01);
  rows.push({ name: 'throughput, 1% loss (SACK, CUBIC)', value: size / MB / lossy.real, unit: 'MB/s', note: `${lossy.virt.toFixed(1)} s virtual` });

  // Memory per idle established connection: both ends live in this process, so the cost
  // per endpoint is the heap growth divided by twice the number of connections.
  {
    const net = new TestNet(7);
    const a = net.addHost('10.0.0.1');
    const b = net.addHost('10.0.0.2');
    const l = b.tcp.endpoint();
    l.bind(IpAddr.ANY4, 80);
    l.listen(100_000);
    const N = 2000;
    const keep: TcpEndpoint[] = [];
    const before = heap();
    for (let i = 0; i < N; i++) {
      const c = a.tcp.endpoint();
      c.connect(b.addr, 80);
      keep.push(c);
    }
    net.run(100);
    for (let s = l.accept(); typeof s !== 'string'; s = l.accept()) keep.push(s);
    if (keep.length !== 2 * N) throw new Error(`only ${keep.length - N} accepted`);
    net.run(1000); // delayed ACKs and the like settle
    const after = heap();
    rows.push({ name: 'memory per idle established endpoint', value: (after - before) / (2 * N), unit: 'bytes', note: `${N} connections, both ends in one heap` });
  }

  // 10,000 concurrent connections: setup rate and memory.
  {
    const net = new TestNet(9);
    const a = net.addHost('10.0.0.1');
    const b = net.addHost('10.0.0.2');
    const l = b.tcp.endpoint();
    l.bind(IpAddr.ANY4, 80);
    l.listen(20_000);
    const N = 10_000;
    const keep: TcpEndpoint[] = [];
    const before = heap();
    const r0 = performance.now();
    for (let i = 0; i < N; i++) {
      const c = a.tcp.endpoint();
      const r = c.connect(b.addr, 80);
      if (r) throw new Error(`connect ${i}: ${r}`);
      keep.push(c);
    }
    net.run(50);
    let accepted = 0;
    for (let s = l.accept(); typeof s !== 'string'; s = l.accept()) {
      keep.push(s);
      accepted++;
    }
    const dt = (performance.now() - r0) / 1000;
    const established = keep.filter((e) => e.stateName === 'ESTABLISHED').length;
    if (accepted !== N || established !== 2 * N) throw new Error(`10k: accepted ${accepted}, established ${established}`);
    rows.push({ name: '10,000 connections: handshakes per second (both ends)', value: N / dt, unit: 'conn/s' });
    rows.push({ name: '10,000 connections: heap for both ends', value: (heap() - before) / MB, unit: 'MiB' });
  }
  return rows;
}
