// A net.Socket-compatible Duplex over a moat TcpEndpoint. Node's contract (lib/net.js) is the
// model: 'connect' then 'ready', 'data'/'end'/'close'/'error'/'timeout'/'drain', half-close
// with allowHalfOpen, errors shaped like Node's. Flow control is real in both directions:
//   - writes: a chunk is handed to the endpoint only as far as its send buffer accepts it; the
//     stream's callback waits for onWritable, so write() returns false and 'drain' follows
//     (the bytes held are the stream's highWaterMark plus the TCP send buffer, never more);
//   - reads: when push() returns false (paused, or the readable buffer is full) nothing more is
//     taken from the endpoint until _read() is called again, so the receive queue fills and the
//     advertised window closes (RFC 9293 §3.8.6.2.2) instead of memory growing.

import { Duplex } from 'node:stream';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import type { NetError } from '../../netstack/errors.js';
import type { TcpEndpoint, TcpInfo } from '../../netstack/tcp/index.js';
import { nodeError, codedError, type NodeSystemError } from './errors.js';
import { RefHandle, familyName, type NodeHost } from './host.js';

export interface SocketConstructorOptions {
  allowHalfOpen?: boolean;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  highWaterMark?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface TcpConnectOptions extends SocketConstructorOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: 0 | 4 | 6;
  /** Same as socket.setTimeout(timeout) right away (net.connect's option). */
  timeout?: number;
  /** A dns.lookup-like function; default: the stack's resolver. */
  lookup?: (hostname: string, opts: { family: number }, cb: (err: Error | null, address: string, family: number) => void) => void;
  signal?: AbortSignal;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

interface PendingWrite {
  chunk: Uint8Array;
  off: number;
  cb: (err?: Error | null) => void;
}

const READ_CHUNK = 64 * 1024;

export class Socket extends Duplex {
  /** Node: true while connect() has not finished. */
  connecting = false;
  bytesRead = 0;
  /** Bytes handed to the TCP send buffer. */
  private sent = 0;
  private ep: TcpEndpoint | null = null;
  private wantRead = false;
  private pumping = false;
  private readEnded = false;
  private pendingWrite: PendingWrite | null = null;
  private pendingFinal: ((err?: Error | null) => void) | null = null;
  private remote: { addr: IpAddr; port: number } | null = null;
  private timeoutMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly refs: RefHandle;
  private readonly wantNoDelay: boolean;
  private readonly wantKeepAlive: { on: boolean; delay: number } | null;
  private connectTarget: { host: string; port: number } | null = null;

  constructor(
    private readonly host: NodeHost,
    opts: SocketConstructorOptions = {},
    /** @internal An accepted endpoint (server side). */
    accepted?: TcpEndpoint,
  ) {
    super({
      // Half-open handling is done here, as net.Socket does, so that the writable side is
      // already ended when user 'end' listeners run (Duplex would end it a tick later).
      allowHalfOpen: true,
      readableHighWaterMark: opts.readableHighWaterMark ?? opts.highWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark ?? opts.highWaterMark,
      emitClose: true,
      autoDestroy: true,
      decodeStrings: true,
    });
    this.allowHalfOpen = opts.allowHalfOpen ?? false;
    this.prependListener('end', () => {
      if (!this.allowHalfOpen && this.writable && !this.writableEnded) this.end();
    });
    this.refs = new RefHandle(host);
    this.wantNoDelay = opts.noDelay ?? false;
    this.wantKeepAlive = opts.keepAlive ? { on: true, delay: opts.keepAliveInitialDelay ?? 0 } : null;
    if (accepted) {
      this.attach(accepted);
      this.remote = accepted.remoteAddr ? { addr: accepted.remoteAddr, port: accepted.remotePort } : null;
      this.applyOptions();
      this.refs.start();
    }
  }

  // ------------------------------------------------------------------ connect

  connect(options: TcpConnectOptions, cb?: () => void): this;
  connect(port: number | string, host?: string, cb?: () => void): this;
  connect(port: number | string, cb?: () => void): this;
  connect(a: TcpConnectOptions | number | string, b?: string | (() => void), c?: () => void): this {
    let o: TcpConnectOptions;
    let cb: (() => void) | undefined;
    if (typeof a === 'object' && a !== null) {
      o = a;
      cb = typeof b === 'function' ? b : undefined;
    } else {
      o = { port: a, host: typeof b === 'string' ? b : undefined };
      cb = typeof b === 'function' ? b : c;
    }
    if ((o as { path?: string }).path !== undefined) throw codedError('ERR_INVALID_ARG_VALUE', 'moat sockets have no unix-domain (path) connections', TypeError);
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || o.port === '' || o.port === undefined) {
      throw codedError('ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${String(o.port)}.`, RangeError);
    }
    if (this.ep || this.connecting) throw codedError('ERR_SOCKET_CONNECTING', 'Socket is already connecting or connected');
    if (cb) this.once('connect', cb);
    if (o.timeout) this.setTimeout(o.timeout);
    const hostname = o.host ?? 'localhost';
    this.connecting = true;
    this.connectTarget = { host: hostname, port };
    this.refs.start();
    const lit = IpAddr.tryParse(stripBrackets(hostname));
    if (lit) {
      this.startConnect(lit, port, o);
      return this;
    }
    const family = (o.family ?? 0) as 0 | 4 | 6;
    const done = (err: Error | null, address: string, fam: number) => {
      this.emit('lookup', err, address, fam, hostname);
      if (this.destroyed) return;
      if (err) {
        this.destroy(err);
        return;
      }
      const addr = IpAddr.tryParse(address);
      if (!addr) {
        this.destroy(codedError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${address}`, TypeError));
        return;
      }
      this.startConnect(addr, port, o);
    };
    if (o.lookup) o.lookup(hostname, { family }, done);
    else this.host.lookup(hostname, family, done);
    return this;
  }

  private startConnect(addr: IpAddr, port: number, o: TcpConnectOptions): void {
    if (this.destroyed) return;
    const ep = this.host.tcp.endpoint();
    this.attach(ep);
    this.remote = { addr, port };
    this.applyOptions();
    const fail = (code: NetError) => process.nextTick(() => this.destroy(nodeError(code, 'connect', addr.toString(), port)));
    if (o.localAddress !== undefined || o.localPort !== undefined) {
      const la = o.localAddress !== undefined ? IpAddr.tryParse(o.localAddress) : addr.family === 4 ? IpAddr.ANY4 : IpAddr.ANY6;
      if (!la) throw codedError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${o.localAddress}`, TypeError);
      const r = ep.bind(la, o.localPort ?? 0);
      if (r) {
        process.nextTick(() => this.destroy(nodeError(r, 'bind', la.toString(), o.localPort ?? 0)));
        return;
      }
    }
    const r = ep.connect(addr, port);
    if (r) fail(r);
  }

  private applyOptions(): void {
    if (this.wantNoDelay) this.ep?.setNoDelay(true);
    if (this.wantKeepAlive) this.setKeepAlive(true, this.wantKeepAlive.delay);
  }

  private attach(ep: TcpEndpoint): void {
    this.ep = ep;
    ep.on({
      onConnected: () => {
        // 'connect' is always asynchronous in Node, even when the handshake completes inside
        // the connect() call (loopback).
        process.nextTick(() => {
          if (this.destroyed || !this.connecting) return;
          this.connecting = false;
          this.refreshTimeout();
          this.emit('connect');
          this.emit('ready');
          this.flushWrite();
          this.runFinal();
          this.pump();
        });
      },
      onReadable: () => this.pump(),
      onPeerClosed: () => this.pump(),
      onWritable: () => this.flushWrite(),
      onError: (_ep, code) => this.failWith(code),
    });
  }

  private failWith(code: NetError): void {
    if (this.destroyed) return;
    if (this.connecting) {
      const r = this.remote;
      this.destroy(nodeError(code, 'connect', r?.addr.toString(), r?.port));
    } else {
      this.destroy(nodeError(code, 'read'));
    }
  }

  // ------------------------------------------------------------------ stream plumbing

  override _read(): void {
    this.wantRead = true;
    this.pump();
  }

  private pump(): void {
    const ep = this.ep;
    if (!ep || this.connecting || this.pumping || this.readEnded || this.destroyed) return;
    this.pumping = true;
    try {
      while (this.wantRead) {
        const r = ep.read(READ_CHUNK);
        if (r === null) {
          this.readEnded = true;
          this.push(null);
          return;
        }
        if (typeof r === 'string') {
          if (r !== 'EAGAIN') this.failWith(r);
          return;
        }
        this.bytesRead += r.length;
        this.refreshTimeout();
        // A view of the receive queue's block: those bytes are never written again.
        if (!this.push(Buffer.from(r.buffer, r.byteOffset, r.length))) this.wantRead = false;
      }
    } finally {
      this.pumping = false;
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pendingWrite = { chunk, off: 0, cb };
    this.flushWrite();
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb);
  }

  private flushWrite(): void {
    const w = this.pendingWrite;
    const ep = this.ep;
    if (!w || !ep || this.connecting) return;
    while (w.off < w.chunk.length) {
      const n = ep.write(w.off === 0 ? w.chunk : w.chunk.subarray(w.off));
      if (typeof n === 'string') {
        this.pendingWrite = null;
        w.cb(nodeError(n === 'ENOTCONN' ? 'EPIPE' : n, 'write'));
        return;
      }
      if (n === 0) return; // onWritable resumes
      w.off += n;
      this.sent += n;
    }
    this.pendingWrite = null;
    this.refreshTimeout();
    w.cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.pendingFinal = cb;
    this.runFinal();
  }

  private runFinal(): void {
    const cb = this.pendingFinal;
    if (!cb || !this.ep || this.connecting) return;
    this.pendingFinal = null;
    const r = this.ep.shutdown('write');
    cb(r && r !== 'ENOTCONN' ? nodeError(r, 'shutdown') : null);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearTimer();
    this.connecting = false;
    const ep = this.ep;
    if (ep) {
      ep.on({});
      // close(2): FIN after queued data, or RST when unread data is left (RFC 2525 §2.17).
      ep.close();
    }
    this.pendingWrite = null;
    this.refs.stop();
    cb(err);
  }

  // ------------------------------------------------------------------ net.Socket API

  /** Ends the write side and destroys once the queued data is handed to TCP (net.Socket#destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Sends RST and destroys (Node 16.17+). */
  resetAndDestroy(): this {
    if (this.ep && !this.destroyed) {
      const ep = this.ep;
      ep.on({});
      ep.abort();
    }
    return this.destroy();
  }

  setNoDelay(noDelay = true): this {
    this.ep?.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    if (!this.ep) return this;
    const delay = Math.floor(initialDelay / 1000) * 1000;
    if (delay > 0) this.ep.setKeepAlive(enable, delay);
    else this.ep.setKeepAlive(enable);
    return this;
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.timeoutMs = ms;
    if (cb) {
      if (ms === 0) this.removeListener('timeout', cb);
      else this.once('timeout', cb);
    }
    if (ms === 0) this.clearTimer();
    else this.refreshTimeout();
    return this;
  }

  get timeout(): number | undefined {
    return this.timeoutMs || undefined;
  }

  private refreshTimeout(): void {
    if (this.timeoutMs <= 0 || this.destroyed) return;
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.destroyed) this.emit('timeout');
    }, this.timeoutMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  address(): AddressInfo | Record<string, never> {
    const ep = this.ep;
    if (!ep || !ep.localAddr) return {};
    return { address: ep.localAddr.toString(), family: familyName(ep.localAddr.family), port: ep.localPort };
  }

  get localAddress(): string | undefined {
    return this.ep?.localAddr?.toString();
  }
  get localPort(): number | undefined {
    return this.ep?.localAddr ? this.ep.localPort : undefined;
  }
  get localFamily(): string | undefined {
    return this.ep?.localAddr ? familyName(this.ep.localAddr.family) : undefined;
  }
  get remoteAddress(): string | undefined {
    return this.remote && !this.connecting ? this.remote.addr.toString() : undefined;
  }
  get remotePort(): number | undefined {
    return this.remote && !this.connecting ? this.remote.port : undefined;
  }
  get remoteFamily(): string | undefined {
    return this.remote && !this.connecting ? familyName(this.remote.addr.family) : undefined;
  }

  /** Bytes written by the user so far, including those still buffered (Node's definition). */
  get bytesWritten(): number {
    const w = this.pendingWrite;
    // writableLength still counts the chunk inside _write, whose first `off` bytes are sent.
    return this.sent + this.writableLength - (w ? w.off : 0);
  }

  /** Deprecated in Node, still used: what waits in the stream's buffer. */
  get bufferSize(): number {
    return this.writableLength;
  }

  get pending(): boolean {
    return !this.ep || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (!this.ep || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  ref(): this {
    this.refs.ref();
    return this;
  }
  unref(): this {
    this.refs.unref();
    return this;
  }

  // ------------------------------------------------------------------ moat extras

  /** The TCP_INFO-like snapshot of the connection (moat extension). */
  tcpInfo(): TcpInfo | null {
    return this.ep ? this.ep.tcpInfo() : null;
  }
  /** Bytes held by TCP for this socket: the send queue (unsent and unacknowledged) and unread received bytes. */
  get tcpQueued(): { send: number; receive: number } {
    const ep = this.ep;
    return ep ? { send: ep.sendQueue.length, receive: ep.recvQueue.length } : { send: 0, receive: 0 };
  }
  /** The underlying endpoint (moat extension, for socket options the Node API lacks). */
  get endpoint(): TcpEndpoint | null {
    return this.ep;
  }
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export type { NodeSystemError };
