// Small applications over TcpEndpoints for tests: a connected pair, a bulk sender, a sink that
// hashes what it reads, deterministic data.

import { createHash, type Hash } from 'node:crypto';
import type { TcpEndpoint } from '../../../src/netstack/tcp/endpoint.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { SeededRng } from '../../../src/netstack/random.js';
import type { Host, TestNet } from './net.js';

export function pattern(n: number, seed = 7): Uint8Array {
  return new SeededRng(seed).fill(new Uint8Array(n));
}

export interface Pair {
  client: TcpEndpoint;
  server: TcpEndpoint;
  listener: TcpEndpoint;
}

/** Listens on b:port, connects from a, runs until both ends are established. */
export function connectPair(net: TestNet, a: Host, b: Host, port = 80, setup?: (c: TcpEndpoint, l: TcpEndpoint) => void): Pair {
  const listener = b.tcp.endpoint();
  const r1 = listener.bind(b.addr.family === 4 ? IpAddr.ANY4 : IpAddr.ANY6, port);
  if (r1) throw new Error(`bind: ${r1}`);
  const client = a.tcp.endpoint();
  setup?.(client, listener);
  const r2 = listener.listen(16);
  if (r2) throw new Error(`listen: ${r2}`);
  const r3 = client.connect(b.addr, port);
  if (r3) throw new Error(`connect: ${r3}`);
  let server: TcpEndpoint | null = null;
  const ok = net.runUntil(() => {
    if (!server) {
      const s = listener.accept();
      if (typeof s !== 'string') server = s;
    }
    return server !== null && client.stateName === 'ESTABLISHED';
  }, 60_000);
  if (!ok || !server) throw new Error(`handshake did not complete: client ${client.stateName}`);
  return { client, server, listener };
}

/** Streams `data` into `ep` as the send buffer allows; `done` after all is written. */
export class Writer {
  off = 0;
  constructor(
    readonly ep: TcpEndpoint,
    readonly data: Uint8Array,
    readonly closeWhenDone = true,
  ) {
    ep.on({ ...(ep.handler ?? {}), onWritable: () => this.pump(), onConnected: () => this.pump() });
    this.pump();
  }
  pump(): void {
    while (this.off < this.data.length) {
      const n = this.ep.write(this.data.subarray(this.off, Math.min(this.data.length, this.off + 262144)));
      if (typeof n === 'string') throw new Error(`write: ${n}`);
      if (n === 0) return;
      this.off += n;
    }
    if (this.closeWhenDone) this.ep.shutdown('write');
  }
  get done(): boolean {
    return this.off >= this.data.length;
  }
}

/** Reads everything from `ep`, hashing it; `eof` once the peer's FIN was read. */
export class Sink {
  bytes = 0;
  eof = false;
  error: string | null = null;
  private hash: Hash = createHash('sha256');
  paused = false;
  chunks: Uint8Array[] | null = null;
  constructor(readonly ep: TcpEndpoint, keep = false) {
    if (keep) this.chunks = [];
    ep.on({
      ...(ep.handler ?? {}),
      onReadable: () => this.drain(),
      onPeerClosed: () => this.drain(),
      onError: (_e, code) => {
        this.error = code;
      },
    });
    this.drain();
  }
  drain(): void {
    if (this.paused) return;
    for (;;) {
      const d = this.ep.read();
      if (d === null) {
        this.eof = true;
        return;
      }
      if (typeof d === 'string') {
        if (d !== 'EAGAIN') this.error = d;
        return;
      }
      this.bytes += d.length;
      this.hash.update(d);
      this.chunks?.push(d.slice());
    }
  }
  digest(): string {
    return this.hash.digest('hex');
  }
  data(): Uint8Array {
    return Buffer.concat(this.chunks ?? []);
  }
}

export function sha256(d: Uint8Array): string {
  return createHash('sha256').update(d).digest('hex');
}
