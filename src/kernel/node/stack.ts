// The embedding entry: a moat stack for a Node program, with `net`, `dgram` and `dns` objects
// shaped like Node's modules. `createStack({ link, ip, gateway, policy })` composes the
// netstack (src/netstack) with TCP, the real clock and a CSPRNG by default; a VirtualClock and
// a SeededRng may be injected for deterministic tests. `createWirePair()` gives two in-process
// links joined to each other (an Ethernet segment with two ports).

import { Stack, Wire, WirePort, IpAddr, IpCidr } from '../../netstack/index.js';
import type { Clock, FilterHooks, LinkEndpoint, Nic, Rng, WakeupHandle } from '../../netstack/index.js';
import { TcpProtocol, type TcpStackConfig } from '../../netstack/tcp/index.js';
import { RealClock } from '../../net-plumbing/clock.js';
import { CryptoRng } from '../../net-plumbing/rng.js';
import { Socket, type SocketConstructorOptions, type TcpConnectOptions } from './socket.js';
import { Server, type ServerOptions } from './server.js';
import { UdpSocket, type SocketOptions as DgramSocketOptions, type SocketType, type RemoteInfo } from './dgram.js';
import { Resolver, type DnsOptions } from './dns.js';
import type { LookupCallback, NodeHost } from './host.js';

export interface CreateStackOptions {
  /** Any LinkEndpoint: a createWirePair() end, TapLink, PacketLink, PcapLiveLink, ... */
  link: LinkEndpoint;
  /** Addresses with prefix length, e.g. ['10.0.0.1/24', 'fd00::1/64']. */
  ip: string | string[];
  /** Default gateway(s), one per family at most: '10.0.0.254', 'fd00::fe'. */
  gateway?: string | string[];
  /**
   * Packet filter hooks (netfilter's five hook points, src/netstack/stack.ts FilterHooks). The
   * policy engine (src/netstack/filter/) will plug in here once it is wired for embedding.
   */
  policy?: FilterHooks;
  /** Default: the real monotonic clock. Pass a VirtualClock in tests. */
  clock?: Clock;
  /** Default: CryptoRng (ISNs, ephemeral ports, DNS ids must be unpredictable, RFC 6528/6056). */
  rng?: Rng;
  /** Resolver settings for stack.dns (servers reached through this stack). */
  dns?: DnsOptions;
  /** TCP tunables (Linux sysctl meanings): synRetries, buffer sizes, keepalive, ... */
  tcp?: Partial<TcpStackConfig>;
  /**
   * IPv6 duplicate address detection (RFC 4862 §5.4). Default: off on in-process wire ports
   * (nobody else is there), on for real links; with it on, await stack.ready() before using
   * IPv6 addresses.
   */
  dad?: boolean;
  /** Interface name (default: the link's). */
  name?: string;
}

/** The `net` module of one stack. */
export interface MoatNet {
  connect(options: TcpConnectOptions, cb?: () => void): Socket;
  connect(port: number | string, host?: string, cb?: () => void): Socket;
  createConnection(options: TcpConnectOptions, cb?: () => void): Socket;
  createConnection(port: number | string, host?: string, cb?: () => void): Socket;
  createServer(connectionListener?: (s: Socket) => void): Server;
  createServer(options: ServerOptions, connectionListener?: (s: Socket) => void): Server;
  /** `new stack.net.Socket(opts)` as with node:net. */
  Socket: new (opts?: SocketConstructorOptions) => Socket;
  Server: new (opts?: ServerOptions, listener?: (s: Socket) => void) => Server;
  isIP(input: string): 0 | 4 | 6;
  isIPv4(input: string): boolean;
  isIPv6(input: string): boolean;
}

/** The `dgram` module of one stack. */
export interface MoatDgram {
  createSocket(type: SocketType | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): UdpSocket;
  Socket: new (opts: DgramSocketOptions) => UdpSocket;
}

/**
 * A Clock for the in-process wire under real time: a delivery due now runs on setImmediate
 * rather than a >= 1 ms setTimeout, so the wire adds no timer granularity to every round trip.
 */
class PromptClock implements Clock {
  now(): number {
    return performance.now();
  }
  wakeup(fn: () => void): WakeupHandle {
    let imm: ReturnType<typeof setImmediate> | null = null;
    let tm: ReturnType<typeof setTimeout> | null = null;
    const clear = () => {
      if (imm) clearImmediate(imm);
      if (tm) clearTimeout(tm);
      imm = tm = null;
    };
    return {
      arm: (at: number) => {
        clear();
        const delay = at - performance.now();
        if (delay < 1) {
          imm = setImmediate(() => {
            imm = null;
            fn();
          });
        } else {
          tm = setTimeout(() => {
            tm = null;
            fn();
          }, Math.ceil(delay));
        }
      },
      disarm: clear,
    };
  }
}

export interface WirePairOptions {
  /** Default: real time (deliveries on the next event-loop turn). */
  clock?: Clock;
  /** One-way delay in ms (default 0.01). */
  latencyMs?: number;
  mtu?: number;
}

/** Two in-process Ethernet links joined to each other: give one to each createStack(). */
export function createWirePair(opts: WirePairOptions = {}): [WirePort, WirePort] {
  const wire = new Wire(opts.clock ?? new PromptClock(), { latencyMs: opts.latencyMs });
  return [wire.port({ mtu: opts.mtu }), wire.port({ mtu: opts.mtu })];
}

/** A moat stack with Node-compatible net, dgram and dns objects. */
export class MoatStack implements NodeHost {
  readonly stack: Stack;
  readonly tcp: TcpProtocol;
  readonly nic: Nic;
  readonly clock: Clock;
  readonly net: MoatNet;
  readonly dgram: MoatDgram;
  readonly dns: Resolver;
  private holds = 0;
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  constructor(opts: CreateStackOptions) {
    const ips = (Array.isArray(opts.ip) ? opts.ip : [opts.ip]).map((c) => IpCidr.parse(c));
    this.clock = opts.clock ?? new RealClock({ unref: true });
    const dad = opts.dad ?? !(opts.link instanceof WirePort);
    let tcp!: TcpProtocol;
    this.stack = new Stack({
      clock: this.clock,
      rng: opts.rng ?? new CryptoRng(),
      filter: opts.policy,
      ndp: dad ? undefined : { dupAddrDetectTransmits: 0 },
      transports: (net) => [(tcp = new TcpProtocol(net, opts.tcp))],
    });
    this.tcp = tcp;
    try {
      this.nic = this.stack.addNic(opts.link, { name: opts.name, addresses: ips });
      const gws = opts.gateway === undefined ? [] : Array.isArray(opts.gateway) ? opts.gateway : [opts.gateway];
      for (const g of gws) {
        const gw = IpAddr.parse(g);
        this.stack.addRoute(gw.family === 4 ? '0.0.0.0/0' : '::/0', this.nic, gw);
      }
    } catch (e) {
      this.stack.close();
      throw e;
    }
    this.dns = new Resolver(this, opts.dns);
    const host = this as NodeHost;
    const net = {
      connect: (...args: unknown[]) => {
        const s = new Socket(host, typeof args[0] === 'object' && args[0] !== null ? (args[0] as SocketConstructorOptions) : {});
        return (s.connect as (...a: unknown[]) => Socket)(...args);
      },
      createServer: (a?: unknown, b?: unknown) =>
        typeof a === 'function' ? new Server(host, {}, a as (s: Socket) => void) : new Server(host, (a as ServerOptions) ?? {}, b as (s: Socket) => void),
      Socket: class extends Socket {
        constructor(o?: SocketConstructorOptions) {
          super(host, o);
        }
      },
      Server: class extends Server {
        constructor(o?: ServerOptions, l?: (s: Socket) => void) {
          super(host, o, l);
        }
      },
      isIP: (s: string) => {
        const a = IpAddr.tryParse(s);
        return a ? a.family : 0;
      },
      isIPv4: (s: string) => IpAddr.tryParse(s)?.family === 4,
      isIPv6: (s: string) => IpAddr.tryParse(s)?.family === 6,
    };
    (net as unknown as MoatNet).createConnection = net.connect as MoatNet['connect'];
    this.net = net as unknown as MoatNet;
    this.dgram = {
      createSocket: (type, listener) => {
        const s = new UdpSocket(host, typeof type === 'string' ? { type } : type);
        if (listener) s.on('message', listener);
        return s;
      },
      Socket: class extends UdpSocket {
        constructor(o: DgramSocketOptions) {
          super(host, o);
        }
      },
    };
  }

  lookup(hostname: string, family: 0 | 4 | 6, cb: LookupCallback): void {
    this.dns.lookup(hostname, { family }, (err, address, fam) => cb(err, address, (fam ?? 4) as 4 | 6));
  }

  hold(): () => void {
    if (this.holds++ === 0 && !this.closed) this.keepAlive = setInterval(() => {}, 1 << 30);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds === 0 && this.keepAlive) {
        clearInterval(this.keepAlive);
        this.keepAlive = null;
      }
    };
  }

  /** Resolves once every IPv6 address has passed duplicate address detection (RFC 4862 §5.4). */
  async ready(timeoutMs = 10_000): Promise<void> {
    const start = performance.now();
    for (;;) {
      if (this.nic.ipv6Addresses().every((a) => !a.tentative)) return;
      if (performance.now() - start > timeoutMs) throw new Error('moat: IPv6 addresses still tentative (duplicate address detection did not finish)');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the stack: timers, links and every socket on it (they see nothing more). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stack.close();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }
}

export function createStack(opts: CreateStackOptions): MoatStack {
  return new MoatStack(opts);
}
