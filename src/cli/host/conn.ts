// A small stream layer over a TcpEndpoint for the built-in services: read callbacks with
// pause/resume (a paused reader leaves data in TCP's receive buffer, so the window closes and
// the peer slows down: back-pressure end to end), a write queue that respects the send buffer,
// and pull sources for long bodies (chargen, GET /bytes/N) so nothing large is ever buffered.

import type { NetError } from '../../netstack/errors.js';
import type { TcpEndpoint } from '../../netstack/tcp/index.js';

export interface ConnHandlers {
  /** Received bytes: a view valid only during the call. */
  data(chunk: Uint8Array): void;
  /** The peer sent FIN and everything before it was delivered. */
  end?(): void;
  /** The connection failed or was reset. */
  error?(code: NetError): void;
  /** Everything queued was accepted by TCP (room to write more). */
  drain?(): void;
}

/** Returns the next chunk to send, or null at the end. Chunks must stay unchanged (TCP copies them anyway). */
export type PullSource = () => Uint8Array | null;

export class Conn {
  private readonly queue: Uint8Array[] = [];
  private source: PullSource | null = null;
  private sourceDone: (() => void) | null = null;
  private pendingChunk: Uint8Array | null = null;
  private paused = false;
  private ended = false;
  private finishing = false;
  private finDone = false;
  private dead = false;
  private closeWhenDrained = false;
  private readonly handlers: ConnHandlers;
  /** Bytes handed to TCP so far. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(
    readonly ep: TcpEndpoint,
    handlers: ConnHandlers,
    private readonly onGone?: (c: Conn) => void,
  ) {
    this.handlers = handlers;
    ep.on({
      onReadable: () => this.drainInput(),
      onPeerClosed: () => this.drainInput(),
      onWritable: () => this.flushOutput(),
      onError: (_e, code) => this.fail(code),
      onClosed: () => this.gone(),
    });
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** Stops delivering data (it stays in TCP's buffer and the advertised window shrinks). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Deliver what waited, outside the caller's stack frame.
    queueMicrotask(() => this.drainInput());
  }

  /** Queues bytes (they are copied by TCP when accepted; keep them unchanged until then). */
  write(data: Uint8Array): void {
    if (this.dead || this.finishing || data.length === 0) return;
    this.queue.push(data);
    this.flushOutput();
  }

  /** Sends what `src` produces after the queued bytes; `done` runs once it returned null and all was accepted. */
  pipeFrom(src: PullSource, done?: () => void): void {
    if (this.dead) return;
    if (this.source) throw new Error('Conn: a source is already attached');
    this.source = src;
    this.sourceDone = done ?? null;
    this.flushOutput();
  }

  /** Bytes not yet accepted by TCP. */
  get backlog(): number {
    let n = this.pendingChunk?.length ?? 0;
    for (const q of this.queue) n += q.length;
    return n;
  }

  /** Half-close once everything queued was accepted. */
  end(): void {
    this.finishing = true;
    this.flushOutput();
  }

  /** Closes once everything queued was accepted (FIN, then the endpoint is released). */
  closeAfterWrites(): void {
    this.closeWhenDrained = true;
    this.end();
  }

  /** Closes now (unread data turns it into a reset, as Linux). */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.queue.length = 0;
    this.source = null;
    this.ep.close();
    this.onGone?.(this);
  }

  private drainInput(): void {
    while (!this.dead && !this.paused) {
      const r = this.ep.read(262_144);
      if (r === null) {
        if (!this.ended) {
          this.ended = true;
          this.handlers.end?.();
        }
        return;
      }
      if (typeof r === 'string') {
        if (r !== 'EAGAIN') this.fail(r);
        return;
      }
      this.bytesIn += r.length;
      this.handlers.data(r);
    }
  }

  private flushOutput(): void {
    if (this.dead) return;
    for (;;) {
      let chunk = this.pendingChunk ?? this.queue.shift() ?? null;
      this.pendingChunk = null;
      if (!chunk && this.source) {
        chunk = this.source();
        if (!chunk) {
          this.source = null;
          const d = this.sourceDone;
          this.sourceDone = null;
          d?.();
          if (this.dead) return;
          chunk = this.queue.shift() ?? null;
          if (!chunk && this.source) continue;
        }
      }
      if (!chunk) {
        if (!this.finishing) this.handlers.drain?.();
        break;
      }
      const n = this.ep.write(chunk);
      if (typeof n === 'string') {
        this.fail(n);
        return;
      }
      this.bytesOut += n;
      if (n < chunk.length) {
        // The send buffer is full: onWritable brings us back.
        this.pendingChunk = chunk.subarray(n);
        return;
      }
    }
    if (this.finishing && !this.finDone) {
      this.finDone = true;
      if (this.closeWhenDrained) {
        this.dead = true;
        this.ep.close();
        this.onGone?.(this);
      } else {
        this.ep.shutdown('write');
      }
    }
  }

  private fail(code: NetError): void {
    if (this.dead) return;
    this.handlers.error?.(code);
    this.destroy();
  }

  private gone(): void {
    if (this.dead) return;
    this.dead = true;
    this.onGone?.(this);
  }
}
