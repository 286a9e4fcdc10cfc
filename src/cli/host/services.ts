// moat host's built-in services, so the stack can be probed from outside with stock tools:
// echo (RFC 862, TCP and UDP), discard (RFC 863, TCP and UDP), chargen (RFC 864, TCP) and
// a tiny HTTP/1.1 server (http.ts). Each listens on every address of both families.

import type { Stack } from '../../netstack/stack.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import type { UdpEndpoint } from '../../netstack/udp.js';
import type { TcpEndpoint, TcpProtocol } from '../../netstack/tcp/index.js';
import { Conn } from './conn.js';
import { HttpConnection, newHttpStats, type HttpStats } from './http.js';

export const SERVICE_NAMES = ['echo', 'discard', 'chargen', 'http'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
export const DEFAULT_PORTS: Record<ServiceName, number> = { echo: 7, discard: 9, chargen: 19, http: 80 };

export interface ServiceSpec {
  name: ServiceName;
  port: number;
}

export interface ServiceStats {
  tcpConnections: Record<string, number>;
  udpDatagrams: Record<string, number>;
  http: HttpStats;
}

/** RFC 864: 72-character lines, each starting one character further along the 95 printable ASCII characters. */
const CHARGEN: Uint8Array = (() => {
  const lines: number[] = [];
  for (let start = 0; start < 95; start++) {
    for (let i = 0; i < 72; i++) lines.push(32 + ((start + i) % 95));
    lines.push(13, 10);
  }
  return Uint8Array.from(lines);
})();

export class Services {
  readonly stats: ServiceStats = { tcpConnections: {}, udpDatagrams: {}, http: newHttpStats() };
  private readonly listeners: TcpEndpoint[] = [];
  private readonly udp: UdpEndpoint[] = [];
  private readonly conns = new Set<{ destroy(): void }>();

  constructor(
    private readonly stack: Stack,
    private readonly tcp: TcpProtocol,
  ) {}

  /** Starts the services; throws (with the service named) when a port cannot be bound. */
  start(specs: readonly ServiceSpec[]): void {
    for (const s of specs) {
      for (const any of [IpAddr.ANY4, IpAddr.ANY6]) {
        this.listenTcp(s, any);
        if (s.name === 'echo' || s.name === 'discard') this.listenUdp(s, any);
      }
    }
  }

  private listenTcp(s: ServiceSpec, any: IpAddr): void {
    const l = this.tcp.endpoint();
    const r = l.bind(any, s.port) ?? l.listen(128);
    if (r) {
      l.close();
      throw new Error(`${s.name}: cannot listen on TCP port ${s.port} (${r})`);
    }
    this.listeners.push(l);
    this.stats.tcpConnections[s.name] ??= 0;
    l.on({
      onAcceptable: () => {
        for (let ep = l.accept(); typeof ep !== 'string'; ep = l.accept()) {
          this.stats.tcpConnections[s.name]++;
          this.serveTcp(s.name, ep);
        }
      },
    });
  }

  private serveTcp(name: ServiceName, ep: TcpEndpoint): void {
    let handle: { destroy(): void };
    const gone = () => this.conns.delete(handle);
    switch (name) {
      case 'echo': {
        // RFC 862: send back whatever arrives; stop reading while our own output is backed up.
        const c: Conn = new Conn(
          ep,
          {
            data: (d) => {
              c.write(d.slice());
              if (c.backlog > 1 << 20) c.pause();
            },
            end: () => c.closeAfterWrites(),
            drain: () => c.resume(),
          },
          gone,
        );
        handle = c;
        break;
      }
      case 'discard': {
        // RFC 863: read and throw away.
        const c: Conn = new Conn(ep, { data: () => {}, end: () => c.closeAfterWrites() }, gone);
        handle = c;
        break;
      }
      case 'chargen': {
        // RFC 864: send the rotating lines until the client goes away; what it sends is discarded.
        // One whole 95-line cycle per chunk, so every chunk starts where the last one ended.
        const c: Conn = new Conn(ep, { data: () => {}, end: () => c.destroy() }, gone);
        c.pipeFrom(() => CHARGEN);
        handle = c;
        break;
      }
      case 'http': {
        let h: HttpConnection | null = null;
        h = new HttpConnection(ep, this.stats.http, () => h && this.conns.delete(h));
        handle = h;
        break;
      }
    }
    this.conns.add(handle);
  }

  private listenUdp(s: ServiceSpec, any: IpAddr): void {
    const u = this.stack.udp.endpoint(any.family);
    if (any.family === 6) u.setV6Only(true);
    const r = u.bind(any, s.port);
    if (r) {
      u.close();
      throw new Error(`${s.name}: cannot bind UDP port ${s.port} (${r})`);
    }
    this.udp.push(u);
    const key = `${s.name}`;
    this.stats.udpDatagrams[key] ??= 0;
    u.onReadable = () => {
      for (let d = u.recv(); typeof d !== 'string'; d = u.recv()) {
        this.stats.udpDatagrams[key]++;
        // RFC 862 §"UDP Based Echo Service": the data goes back to the sender.
        if (s.name === 'echo') u.send(d.data, { addr: d.from, port: d.port });
      }
    };
  }

  close(): void {
    for (const c of [...this.conns]) c.destroy();
    this.conns.clear();
    for (const l of this.listeners) l.close();
    for (const u of this.udp) u.close();
    this.listeners.length = 0;
    this.udp.length = 0;
  }
}
