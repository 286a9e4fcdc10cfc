// A net.Server-compatible listener on a moat stack (lib/net.js's Server in behaviour):
// listen(port, host?, backlog?, cb) / listen(options, cb), 'listening', 'connection', 'close',
// 'error' (EADDRINUSE shaped like Node's), close(cb), address(), getConnections().
// Without a host Node listens on '::' dual-stack; moat's TCP keeps one bind table per family,
// so that case opens two listening endpoints (0.0.0.0 and ::) on the same port.

import { EventEmitter } from 'node:events';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import type { TcpEndpoint } from '../../netstack/tcp/index.js';
import { codedError, nodeError } from './errors.js';
import { RefHandle, familyName, type NodeHost } from './host.js';
import { Socket, type AddressInfo, type SocketConstructorOptions } from './socket.js';

export interface ServerOptions extends SocketConstructorOptions {
  /** Accepted sockets start paused (Node's pauseOnConnect). */
  pauseOnConnect?: boolean;
}

export interface ListenOptions {
  port?: number | string;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
  signal?: AbortSignal;
}

export class Server extends EventEmitter {
  maxConnections = Infinity;
  private listeners_: TcpEndpoint[] = [];
  private addr: AddressInfo | null = null;
  private readonly conns = new Set<Socket>();
  private closing = false;
  private readonly refs: RefHandle;

  constructor(
    private readonly host: NodeHost,
    private readonly opts: ServerOptions = {},
    connectionListener?: (socket: Socket) => void,
  ) {
    super();
    this.refs = new RefHandle(host);
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listeners_.length > 0;
  }

  listen(port?: number | string, host?: string, backlog?: number, cb?: () => void): this;
  listen(port?: number | string, host?: string, cb?: () => void): this;
  listen(port?: number | string, cb?: () => void): this;
  listen(options: ListenOptions, cb?: () => void): this;
  listen(cb?: () => void): this;
  listen(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let o: ListenOptions;
    if (typeof args[0] === 'object' && args[0] !== null) o = args[0] as ListenOptions;
    else o = { port: args[0] as number | undefined, host: args[1] as string | undefined, backlog: args[2] as number | undefined };
    if (this.listening) throw codedError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    const port = o.port === undefined || o.port === null ? 0 : Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw codedError('ERR_SOCKET_BAD_PORT', `options.port should be >= 0 and < 65536. Received ${String(o.port)}.`, RangeError);
    }
    if (cb) this.once('listening', cb);
    const backlog = o.backlog ?? 511;
    this.closing = false;
    if (o.host === undefined || o.host === '') {
      // Dual stack, as Node: '::' and 0.0.0.0 share the port number.
      const v6 = this.open(IpAddr.ANY6, port, backlog);
      if (typeof v6 === 'string') return this.fail(v6, '::', port);
      let v4: TcpEndpoint | string = 'EADDRINUSE';
      if (!o.ipv6Only) {
        v4 = this.open(IpAddr.ANY4, v6.localPort, backlog);
        if (typeof v4 === 'string') {
          v6.close();
          return this.fail(v4, '::', port);
        }
      }
      this.listeners_ = typeof v4 === 'string' ? [v6] : [v6, v4];
      this.addr = { address: '::', family: 'IPv6', port: v6.localPort };
    } else {
      const a = o.host === 'localhost' ? IpAddr.LOOPBACK4 : IpAddr.tryParse(o.host);
      if (!a) {
        // Names are resolved as Node does (dns.lookup), then bound.
        this.host.lookup(o.host, 0, (err, address) => {
          if (err) {
            this.emit('error', err);
            return;
          }
          this.listen({ ...o, host: address });
        });
        return this;
      }
      const ep = this.open(a, port, backlog);
      if (typeof ep === 'string') return this.fail(ep, a.toString(), port);
      this.listeners_ = [ep];
      this.addr = { address: a.toString(), family: familyName(a.family), port: ep.localPort };
    }
    this.refs.start();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  private open(addr: IpAddr, port: number, backlog: number): TcpEndpoint | string {
    const ep = this.host.tcp.endpoint();
    let r = ep.bind(addr, port);
    if (!r) r = ep.listen(backlog);
    if (r) {
      ep.close();
      return r;
    }
    ep.on({ onAcceptable: () => this.acceptAll(ep) });
    return ep;
  }

  private fail(code: string, address: string, port: number): this {
    const syscall = code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' ? 'listen' : 'listen';
    process.nextTick(() => this.emit('error', nodeError(code, syscall, address, port, true)));
    return this;
  }

  private acceptAll(l: TcpEndpoint): void {
    for (;;) {
      const c = l.accept();
      if (typeof c === 'string') return;
      if (this.closing) {
        c.abort();
        continue;
      }
      if (this.conns.size >= this.maxConnections) {
        // Node closes connections over maxConnections at once.
        c.close();
        this.emit('drop', { localAddress: c.localAddr?.toString(), localPort: c.localPort, remoteAddress: c.remoteAddr?.toString(), remotePort: c.remotePort });
        continue;
      }
      const s = new Socket(this.host, this.opts, c);
      this.conns.add(s);
      s.once('close', () => {
        this.conns.delete(s);
        this.maybeClosed();
      });
      if (this.opts.pauseOnConnect) s.pause();
      this.emit('connection', s);
    }
  }

  /** Stops accepting; 'close' follows once every accepted connection has closed (Node). */
  close(cb?: (err?: Error) => void): this {
    if (cb) {
      if (!this.listening) {
        process.nextTick(() => cb(codedError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      } else {
        this.once('close', cb);
      }
    }
    if (!this.listening) return this;
    for (const l of this.listeners_) {
      l.on({});
      l.close();
    }
    this.listeners_ = [];
    this.closing = true;
    this.refs.stop();
    this.maybeClosed();
    return this;
  }

  /** close() and destroy every connection (Node 18.2+'s closeAllConnections with close). */
  closeAllConnections(): void {
    for (const s of this.conns) s.destroy();
  }

  private maybeClosed(): void {
    if (this.closing && this.conns.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  address(): AddressInfo | null {
    return this.listening ? { ...this.addr! } : null;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.conns.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.refs.ref();
    return this;
  }
  unref(): this {
    this.refs.unref();
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.listening) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }
}
