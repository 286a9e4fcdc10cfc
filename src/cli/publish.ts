// `moat run --publish HOSTPORT:GUESTPORT[/udp]`: a port of the host forwarded to a port the
// guest listens on, as `docker run -p` does with its userland proxy. The host side is an
// ordinary host socket (the host's own stack accepts there; nothing of the guest touches it);
// each connection or datagram is carried into moat's stack, which delivers it to the guest's
// socket locally. Works with every --link, since it never needs the host to route to the stack.

import { createServer, type Server, type Socket as HostSocket } from 'node:net';
import { createSocket, type Socket as HostDgram } from 'node:dgram';
import { InvalidArgumentError } from 'commander';
import type { MoatStack } from '../kernel/node/stack.js';

export interface PublishSpec {
  hostPort: number;
  guestPort: number;
  proto: 'tcp' | 'udp';
}

export function parsePublish(v: string, prev: PublishSpec[] = []): PublishSpec[] {
  const m = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(v);
  const port = (s: string): number => {
    const n = Number(s);
    if (!(n >= 1 && n <= 65535)) throw new InvalidArgumentError(`--publish: port ${s} is not in 1..65535`);
    return n;
  };
  if (!m) throw new InvalidArgumentError(`--publish wants HOSTPORT:GUESTPORT[/udp], got "${v}"`);
  return [...prev, { hostPort: port(m[1]!), guestPort: port(m[2]!), proto: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp' }];
}

export interface Published {
  close(): Promise<void>;
}

/** Opens the host ports; connections go to `target` (an address of the stack) at the guest port. */
export async function publishPorts(stack: MoatStack, target: string, specs: readonly PublishSpec[], log: (s: string) => void): Promise<Published> {
  const servers: Server[] = [];
  const dgrams: HostDgram[] = [];
  for (const p of specs) {
    if (p.proto === 'tcp') {
      const srv = createServer((host: HostSocket) => {
        const inner = stack.net.connect({ host: target, port: p.guestPort });
        host.pipe(inner);
        inner.pipe(host);
        const end = (): void => {
          host.destroy();
          inner.destroy();
        };
        host.on('error', end);
        inner.on('error', end);
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(p.hostPort, () => resolve());
      }).catch((e: Error) => {
        throw new Error(`--publish ${p.hostPort}:${p.guestPort}: cannot listen on the host: ${e.message}`);
      });
      servers.push(srv);
    } else {
      // One moat socket per host client, so the guest's replies find their way back.
      const host = createSocket('udp4');
      const clients = new Map<string, ReturnType<MoatStack['dgram']['createSocket']>>();
      host.on('message', (msg, rinfo) => {
        const key = `${rinfo.address}:${rinfo.port}`;
        let inner = clients.get(key);
        if (!inner) {
          inner = stack.dgram.createSocket('udp4');
          inner.on('message', (reply: Buffer) => host.send(reply, rinfo.port, rinfo.address));
          inner.on('error', () => undefined);
          clients.set(key, inner);
          if (clients.size > 1024) {
            const [oldest, s] = clients.entries().next().value as [string, typeof inner];
            s.close();
            clients.delete(oldest);
          }
        }
        inner.send(msg, p.guestPort, target);
      });
      await new Promise<void>((resolve, reject) => {
        host.once('error', reject);
        host.bind(p.hostPort, () => resolve());
      }).catch((e: Error) => {
        throw new Error(`--publish ${p.hostPort}:${p.guestPort}/udp: cannot bind on the host: ${e.message}`);
      });
      dgrams.push(host);
    }
    log(`moat run: host port ${p.hostPort}/${p.proto} → guest port ${p.guestPort}\n`);
  }
  return {
    async close() {
      for (const s of servers) await new Promise((r) => s.close(() => r(undefined)));
      for (const d of dgrams) d.close();
    },
  };
}
