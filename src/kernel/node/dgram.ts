// A dgram.Socket-compatible UDP socket on a moat stack (lib/dgram.js in behaviour): bind with
// 'listening', send with a callback (implicit bind to the wildcard and an ephemeral port),
// 'message' with rinfo {address, family, port, size}, connect/disconnect/remoteAddress,
// address(), close, setBroadcast/setTTL/buffer sizes, multicast membership, ref/unref.
// Errors carry Node's shape (`bind EADDRINUSE 0.0.0.0:5353`, `send EACCES 10.0.0.255:9`).

import { EventEmitter } from 'node:events';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import type { NetError } from '../../netstack/errors.js';
import type { UdpEndpoint } from '../../netstack/index.js';
import { codedError, nodeError } from './errors.js';
import { RefHandle, familyName, type NodeHost } from './host.js';
import type { AddressInfo } from './socket.js';

export type SocketType = 'udp4' | 'udp6';

export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean;
  reusePort?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  lookup?: (hostname: string, opts: { family: number }, cb: (err: Error | null, address: string, family: number) => void) => void;
}

export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface BindOptions {
  port?: number;
  address?: string;
  exclusive?: boolean;
}

type SendCallback = (err: Error | null, bytes?: number) => void;
type Msg = string | Uint8Array | readonly (string | Uint8Array)[];

export class UdpSocket extends EventEmitter {
  readonly type: SocketType;
  private readonly ep: UdpEndpoint;
  private readonly family: 4 | 6;
  private state: 'unbound' | 'binding' | 'bound' | 'closed' = 'unbound';
  private connectState: 'none' | 'connecting' | 'connected' = 'none';
  private drainScheduled = false;
  private readonly refs: RefHandle;
  private sendBufferSize: number;
  private readonly lookupFn: SocketOptions['lookup'];

  constructor(
    private readonly host: NodeHost,
    opts: SocketOptions,
  ) {
    super();
    if (opts.type !== 'udp4' && opts.type !== 'udp6') {
      throw codedError('ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6', TypeError);
    }
    this.type = opts.type;
    this.family = opts.type === 'udp4' ? 4 : 6;
    this.ep = host.stack.udp.endpoint(this.family, opts.recvBufferSize ? { rcvBuf: opts.recvBufferSize } : {});
    this.ep.reuseAddr = opts.reuseAddr ?? false;
    this.ep.reusePort = opts.reusePort ?? false;
    if (opts.ipv6Only && this.family === 6) this.ep.setV6Only(true);
    this.sendBufferSize = opts.sendBufferSize ?? 212992;
    this.lookupFn = opts.lookup;
    this.refs = new RefHandle(host);
    this.ep.onReadable = () => this.scheduleDrain();
    this.ep.onError = () => this.scheduleDrain();
  }

  // ------------------------------------------------------------------ bind

  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), cb?: () => void): this {
    let o: BindOptions;
    if (typeof port === 'function') {
      cb = port;
      o = {};
    } else if (typeof port === 'object' && port !== null) {
      o = port;
      if (typeof address === 'function') cb = address;
    } else {
      if (typeof address === 'function') {
        cb = address;
        address = undefined;
      }
      o = { port, address: address as string | undefined };
    }
    if (this.state === 'closed') throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (this.state !== 'unbound') throw codedError('ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    if (cb) this.once('listening', cb);
    this.state = 'binding';
    const addrText = o.address ?? (this.family === 4 ? '0.0.0.0' : '::');
    this.resolve(addrText, (err, addr) => {
      if (this.state === 'closed') return;
      if (err || !addr) {
        this.state = 'unbound';
        this.emit('error', err);
        return;
      }
      const p = o.port ?? 0;
      const r = this.ep.bind(addr, p);
      if (r) {
        this.state = 'unbound';
        this.emit('error', nodeError(r, 'bind', addr.toString(), p));
        return;
      }
      this.state = 'bound';
      this.refs.start();
      this.emit('listening');
    });
    return this;
  }

  /** Bound synchronously if not yet bound (sendto's implicit bind). */
  private implicitBind(): NetError | undefined {
    if (this.state === 'bound') return undefined;
    const r = this.ep.bind(null, 0);
    if (r) return r;
    this.state = 'bound';
    this.refs.start();
    process.nextTick(() => this.emit('listening'));
    return undefined;
  }

  /** Address text to IpAddr for this socket's family: literals directly, names via lookup. */
  private resolve(text: string, cb: (err: Error | null, a: IpAddr | null) => void): void {
    const h = text === 'localhost' ? (this.family === 4 ? '127.0.0.1' : '::1') : text;
    const lit = IpAddr.tryParse(h);
    if (lit) {
      const a = this.family === 6 && lit.family === 4 ? lit.mapToV6() : lit;
      process.nextTick(() => cb(null, a));
      return;
    }
    const done = (err: Error | null, address: string) => {
      if (err) return cb(err, null);
      const a = IpAddr.tryParse(address);
      cb(a ? null : codedError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${address}`, TypeError), a);
    };
    if (this.lookupFn) this.lookupFn(h, { family: this.family }, done);
    else this.host.lookup(h, this.family, done);
  }

  // ------------------------------------------------------------------ connect

  connect(port: number, address?: string | (() => void), cb?: () => void): void {
    if (typeof address === 'function') {
      cb = address;
      address = undefined;
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw codedError('ERR_SOCKET_BAD_PORT', `Port should be > 0 and < 65536. Received ${port}.`, RangeError);
    }
    if (this.connectState !== 'none') throw codedError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    if (cb) this.once('connect', cb);
    this.connectState = 'connecting';
    const b = this.implicitBind();
    if (b) {
      this.connectState = 'none';
      process.nextTick(() => this.emit('error', nodeError(b, 'bind')));
      return;
    }
    this.resolve(address ?? 'localhost', (err, addr) => {
      if (this.state === 'closed') return;
      if (err || !addr) {
        this.connectState = 'none';
        this.emit('error', err);
        return;
      }
      const r = this.ep.connect(addr, port);
      if (r) {
        this.connectState = 'none';
        this.emit('error', nodeError(r, 'connect', addr.toString(), port));
        return;
      }
      this.connectState = 'connected';
      this.emit('connect');
    });
  }

  disconnect(): void {
    if (this.state === 'closed') throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (this.connectState !== 'connected') throw codedError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    this.ep.disconnect();
    this.connectState = 'none';
  }

  remoteAddress(): AddressInfo {
    const r = this.connectState === 'connected' ? this.ep.remoteAddress() : null;
    if (!r) throw codedError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    return { address: r.addr.toString(), family: familyName(r.addr.family), port: r.port };
  }

  address(): AddressInfo {
    if (this.state !== 'bound') throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    const l = this.ep.localAddress();
    return { address: l.addr.toString(), family: familyName(l.addr.family), port: l.port };
  }

  // ------------------------------------------------------------------ send

  send(msg: Msg, port?: number | SendCallback, address?: string | SendCallback, cb?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, port?: number, address?: string, cb?: SendCallback): void;
  send(msg: Msg, ...rest: unknown[]): void {
    let cb: SendCallback | undefined;
    if (typeof rest[rest.length - 1] === 'function') cb = rest.pop() as SendCallback;
    let data: Uint8Array;
    const toBytes = (m: string | Uint8Array) => (typeof m === 'string' ? Buffer.from(m) : m);
    if (Array.isArray(msg)) data = Buffer.concat(msg.map((m) => toBytes(m)));
    else data = toBytes(msg as string | Uint8Array);
    // send(msg, offset, length, port, address): the five-argument form (Buffer/Uint8Array only).
    if (typeof rest[0] === 'number' && typeof rest[1] === 'number' && rest.length >= 2 && (rest.length >= 3 || this.connectState === 'connected')) {
      const off = rest[0] as number;
      const len = rest[1] as number;
      data = data.subarray(off, off + len);
      rest = rest.slice(2);
    }
    const port = rest[0] as number | undefined;
    const address = rest[1] as string | undefined;
    if (this.state === 'closed') throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    const connected = this.connectState === 'connected';
    if (connected && port !== undefined) throw codedError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    if (!connected && (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535)) {
      throw codedError('ERR_SOCKET_BAD_PORT', `Port should be > 0 and < 65536. Received ${String(port)}.`, RangeError);
    }
    const finish = (err: Error | null, n?: number) => {
      if (cb) process.nextTick(() => cb!(err, n));
      else if (err) process.nextTick(() => this.emit('error', err));
    };
    const b = this.implicitBind();
    if (b) return finish(nodeError(b, 'send'));
    if (connected) {
      const r = this.ep.send(data);
      return typeof r === 'string' ? finish(nodeError(r, 'send')) : finish(null, r);
    }
    this.resolve(address ?? 'localhost', (err, addr) => {
      if (err || !addr) return finish(err);
      if (this.state === 'closed') return finish(codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running'));
      const r = this.ep.send(data, { addr, port: port! });
      if (typeof r === 'string') finish(nodeError(r, 'send', addr.toString(), port));
      else finish(null, r);
    });
  }

  // ------------------------------------------------------------------ receive

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // Out of the stack's processing step: a 'message' handler may send or close at once.
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.state !== 'closed') {
      const d = this.ep.recv();
      if (typeof d === 'string') {
        if (d !== 'EAGAIN') this.emit('error', nodeError(d, 'recvmsg'));
        else return;
        continue;
      }
      const rinfo: RemoteInfo = { address: d.from.toString(), family: familyName(d.from.family), port: d.port, size: d.data.length };
      this.emit('message', Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length), rinfo);
    }
  }

  // ------------------------------------------------------------------ close and options

  close(cb?: () => void): this {
    if (this.state === 'closed') throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (cb) this.once('close', cb);
    this.state = 'closed';
    this.ep.close();
    this.refs.stop();
    process.nextTick(() => this.emit('close'));
    return this;
  }

  setBroadcast(flag: boolean): void {
    this.ep.broadcast = flag;
  }
  setTTL(ttl: number): number {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw nodeError('EINVAL', 'setTTL');
    this.ep.ttl = ttl;
    return ttl;
  }
  setMulticastTTL(ttl: number): number {
    return this.setTTL(ttl);
  }
  setRecvBufferSize(size: number): void {
    this.ep.rcvBuf = size;
  }
  getRecvBufferSize(): number {
    return this.ep.rcvBuf;
  }
  setSendBufferSize(size: number): void {
    this.sendBufferSize = size;
  }
  getSendBufferSize(): number {
    return this.sendBufferSize;
  }
  addMembership(group: string): void {
    const g = IpAddr.tryParse(group);
    if (!g || !g.isMulticast()) throw nodeError('EINVAL', 'addMembership');
    this.host.stack.joinGroup(g);
  }
  dropMembership(group: string): void {
    const g = IpAddr.tryParse(group);
    if (!g || !g.isMulticast()) throw nodeError('EINVAL', 'dropMembership');
    this.host.stack.leaveGroup(g);
  }
  /** Datagrams and bytes waiting to be sent: moat sends at once, so both are 0. */
  getSendQueueSize(): number {
    return 0;
  }
  getSendQueueCount(): number {
    return 0;
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
    if (this.state !== 'closed') await new Promise<void>((resolve) => this.close(resolve));
  }
}
