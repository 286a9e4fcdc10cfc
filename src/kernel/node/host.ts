// What the Node-compatible objects (net.Socket, net.Server, dgram.Socket, the resolver) need
// from the stack they live on. Kept small so each module can be tested on a bare Stack.

import type { Stack } from '../../netstack/index.js';
import type { TcpProtocol } from '../../netstack/tcp/index.js';

export type LookupCallback = (err: Error | null, address: string, family: 4 | 6) => void;

export interface NodeHost {
  readonly stack: Stack;
  readonly tcp: TcpProtocol;
  /** Name to address (dns.lookup semantics); IP literals never reach it. */
  lookup(hostname: string, family: 0 | 4 | 6, cb: LookupCallback): void;
  /**
   * Keeps the process alive while a ref'd socket or server is open, as Node's handles do (the
   * stack's own timers are unref'd). Returns the release function.
   */
  hold(): () => void;
}

/** A handle that may be ref'd and unref'd like Node's (socket.ref()/unref()). */
export class RefHandle {
  private release: (() => void) | null = null;
  private wanted = true;
  private active = false;

  constructor(private readonly host: NodeHost) {}

  /** The object became live (connecting, bound, listening). */
  start(): void {
    this.active = true;
    this.sync();
  }
  /** The object closed. */
  stop(): void {
    this.active = false;
    this.sync();
  }
  ref(): void {
    this.wanted = true;
    this.sync();
  }
  unref(): void {
    this.wanted = false;
    this.sync();
  }
  private sync(): void {
    const want = this.active && this.wanted;
    if (want && !this.release) this.release = this.host.hold();
    else if (!want && this.release) {
      this.release();
      this.release = null;
    }
  }
}

export function familyName(f: 4 | 6): 'IPv4' | 'IPv6' {
  return f === 4 ? 'IPv4' : 'IPv6';
}
