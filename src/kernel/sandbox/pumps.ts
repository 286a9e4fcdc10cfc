// The data path of a guest socket: the guest holds one end of a unix socketpair, moat the other,
// and a pump moves bytes between moat's end and the netstack endpoint, so the guest's read,
// write, poll, epoll, sendfile, dup and fork need no trapping (DESIGN.md "The sandbox's hard
// parts"). TCP uses a SOCK_STREAM pair (bytes, half-close, back-pressure both ways); UDP and
// ping a SOCK_DGRAM pair (one record per datagram), with each received datagram's source
// kept in order so a trapped recvfrom can report it.

import { Socket as NodeSocket } from 'node:net';
import { isNetError } from '../../netstack/errors.js';
import { native, type FrameIo } from '../../net-plumbing/native.js';
import { MSG } from '../socket-abi.js';
import { WaitQueue } from '../socket/wait.js';
import { NONBLOCKING, isErrno } from '../socket/types.js';
import type { DgramSocket } from '../socket/dgram-socket.js';
import type { TcpSocket } from '../socket/tcp-socket.js';
import { concatBytes } from '../../netstack/wire/bytes.js';

/** Bytes moat keeps queued towards the guest before it stops reading the endpoint. */
const GUEST_QUEUE_LIMIT = 256 * 1024;
const READ_CHUNK = 64 * 1024;

export interface Pump {
  /** Something happened on moat's end or the socket (trapped calls wait on it). */
  readonly wq: WaitQueue;
  close(): void;
}

/**
 * TCP: guest → network reads moat's end and writes the endpoint (pausing while its send buffer
 * is full); network → guest reads the endpoint while moat's end has room. The guest's FIN
 * (its shutdown(SHUT_WR), which is trapped, or its last close) becomes the endpoint's.
 */
export class StreamPump implements Pump {
  readonly wq = new WaitQueue();
  /** Reads what the guest wrote (moat's end). */
  private readonly ns: NodeSocket;
  /** Writes to the guest (a duplicate of moat's end): its errors never cut the reading side short. */
  private readonly out: NodeSocket;
  private pending: Uint8Array | null = null;
  private eofSent = false;
  private guestEof = false;
  private closed = false;
  /** A listening socket keeps one byte in the pair while connections wait (poll readable). */
  private token = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sock: TcpSocket,
    readonly moatFd: number,
    private readonly onGone: () => void,
  ) {
    const dup = native().dupFd(moatFd);
    if (typeof dup === 'string') throw new Error(`dup of a socketpair end failed: ${dup}`);
    this.ns = new NodeSocket({ fd: moatFd, readable: true, writable: false, allowHalfOpen: true });
    this.out = new NodeSocket({ fd: dup, readable: false, writable: true, allowHalfOpen: true });
    this.ns.on('data', (chunk: Buffer) => this.fromGuest(chunk));
    this.ns.on('end', () => this.guestEnded());
    // The reader closes after its end of file too; only a close without one is a failure.
    this.ns.on('error', () => this.guestGone());
    this.ns.on('close', () => {
      if (!this.guestEof) this.guestGone();
    });
    // The guest's last reference is gone while moat was writing: nothing more goes to it; what
    // it left in the pair is still read by `ns`.
    this.out.on('error', () => {
      this.eofSent = true;
      if (this.guestEof && this.guestShutWr) this.guestGone();
    });
    // After a half-close (shutdown(SHUT_WR)) both directions are done once the guest has been
    // given the end of the stream too.
    this.out.on('finish', () => {
      if (this.guestEof && this.guestShutWr) this.guestGone();
    });
    this.out.on('drain', () => this.toGuest());
    this.unsubscribe = sock.onChange(() => {
      this.releaseHold();
      this.retryPending();
      this.toGuest();
      this.wq.wake();
    });
    // An accepted connection may hold data (or the peer's FIN) from before accept().
    this.toGuest();
  }

  /** The guest called shutdown(SHUT_WR): its end of stream is a FIN, not a close. */
  guestShutWr = false;

  /** Bytes of filler still ahead in moat's end (holdUntilConnected), dropped as they arrive. */
  private filler = 0;
  private holding = false;
  /** A non-blocking connect's hold was installed (SO_ERROR then need not wait). */
  held = false;

  /**
   * A non-blocking connect: until the handshake ends, the guest's end must not poll writable,
   * or a guest that waits for POLLOUT (with its own timeout) and then reads SO_ERROR would
   * believe it connected at once. A unix stream socket is writable while its own queued bytes
   * stay under a quarter of its send buffer, so moat fills the pair through the guest's
   * duplicate, stops reading, and drops exactly that filler when the handshake ends.
   */
  holdUntilConnected(guestDup: number): void {
    this.ns.pause();
    this.holding = true;
    this.held = true;
    const chunk = new Uint8Array(65536);
    for (let i = 0; i < 64; i++) {
      const r = native().sockSend(guestDup, chunk);
      if (typeof r === 'string' || r === 0) break;
      this.filler += r;
    }
    this.releaseHold();
  }

  private releaseHold(): void {
    if (!this.holding) return;
    const st = this.sock.endpoint.stateName;
    if (st === 'SYN_SENT' || st === 'SYN_RECEIVED') return;
    this.holding = false;
    this.ns.resume();
  }

  private fromGuest(chunk0: Uint8Array): void {
    let chunk = chunk0;
    if (this.filler > 0) {
      const k = Math.min(this.filler, chunk.length);
      this.filler -= k;
      chunk = chunk.subarray(k);
      if (chunk.length === 0) return;
    }
    if (this.pending) {
      this.pending = concatBytes([this.pending, chunk]);
      return;
    }
    this.pending = chunk;
    this.retryPending();
  }

  private retryPending(): void {
    const data = this.pending;
    if (!data) return;
    const ep = this.sock.endpoint;
    const st = ep.stateName;
    if (st === 'CLOSED' && this.sock.socketState !== 'connected' || st === 'LISTEN') {
      // Not connected (yet): hold the bytes, as the guest's pair holds them.
      this.ns.pause();
      return;
    }
    const r = ep.write(data);
    if (isNetError(r)) {
      this.pending = null;
      this.ns.resume();
      return;
    }
    if (r < data.length) {
      this.pending = data.subarray(r);
      this.ns.pause();
      return;
    }
    this.pending = null;
    this.ns.resume();
    if (this.guestEof) this.finishGuestEof();
  }

  private guestEnded(): void {
    this.guestEof = true;
    if (!this.pending) this.finishGuestEof();
  }

  private finishGuestEof(): void {
    if (this.guestShutWr) {
      const st = this.sock.endpoint.stateName;
      if (st !== 'CLOSED' && st !== 'LISTEN') this.sock.endpoint.shutdown('write');
      return;
    }
    // Every guest reference is gone: close(2) of the socket, after what it wrote.
    this.close();
  }

  /**
   * moat's end closed or failed: the guest's last reference is gone. Bytes it wrote that the
   * endpoint has not taken yet still go out first (close(2) sends queued data, then FIN).
   */
  private guestGone(): void {
    this.guestEof = true;
    if (this.pending && !this.closed) {
      this.ns.pause();
      return; // retryPending finishes the close once the endpoint took them
    }
    this.close();
  }

  /** Moves what the endpoint has for the guest into moat's end, while it has room. */
  toGuest(): void {
    if (this.closed) return;
    const ep = this.sock.endpoint;
    if (ep.stateName === 'LISTEN') {
      const waiting = (ep.listener?.acceptQueue.length ?? 0) > 0;
      if (waiting && !this.token) {
        this.token = true;
        this.out.write(Buffer.of(0));
      }
      return;
    }
    while (this.out.writableLength < GUEST_QUEUE_LIMIT && !this.eofSent) {
      if (ep.readable === 0 && ep.error !== null) {
        // Reset, refused or timed out: the guest's reads end; the error itself stays for the
        // guest's SO_ERROR (reading it here would consume it, as sock_error() does).
        this.eofSent = true;
        this.out.end();
        break;
      }
      const d = ep.read(READ_CHUNK);
      if (d instanceof Uint8Array) {
        this.out.write(d);
        continue;
      }
      if (d === null) {
        this.eofSent = true;
        this.out.end();
      } else if (d !== 'EAGAIN' && d !== 'ENOTCONN') {
        // Reset or timeout: the guest's reads end (it learns the error from SO_ERROR).
        this.eofSent = true;
        this.out.end();
      }
      break;
    }
  }

  /** The guest shut down reading: its reads return end of file (nothing more is moved to it). */
  shutToGuest(): void {
    if (this.eofSent || this.closed) return;
    this.eofSent = true;
    this.out.end();
  }

  /** accept() took a connection: drop the listener's readiness byte (read through the guest's duplicate). */
  consumeToken(guestDup: number): void {
    if (!this.token) return;
    const r = native().sockRecv(guestDup, 1);
    if (typeof r !== 'string') this.token = false;
    this.toGuest();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.ns.destroy();
    this.out.destroy();
    this.sock.close();
    this.wq.wake();
    this.onGone();
  }
}

/** One datagram delivered into the pair, with its source, for recvfrom. */
interface Delivered {
  data: Uint8Array;
  name: Uint8Array | undefined;
  /** Its control messages as the socket's options ask for them (IP_PKTINFO, IP_RECVTTL, ...). */
  control: Uint8Array | undefined;
}

/** Room for every control message moat produces for one datagram. */
const CONTROL_ROOM = 512;

/**
 * UDP and ping: each datagram the guest writes into its end (write/send without an address) is
 * sent on the socket; each datagram the socket receives is written into moat's end and its
 * source remembered, in order.
 */
export class DgramPump implements Pump {
  readonly wq = new WaitQueue();
  private readonly io: FrameIo;
  private readonly sources: Delivered[] = [];
  private draining = false;
  private closed = false;
  /** Datagrams dropped because the guest's end was full (like a full receive buffer). */
  drops = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sock: DgramSocket,
    readonly moatFd: number,
    private readonly onGone: () => void,
  ) {
    // A SOCK_SEQPACKET pair: one record per datagram (zero-length ones included), read in
    // batches; unlike a SOCK_DGRAM pair it tells moat when the guest's last reference is gone.
    this.io = new (native().FrameIo)(moatFd, { stream: false, slots: 16, slotSize: 65536, txBytes: 4096, txSlots: 1, ownsFd: true }, (n) => this.fromGuest(n));
    this.io.start();
    this.unsubscribe = sock.onChange(() => {
      void this.drain();
      this.wq.wake();
    });
  }

  private fromGuest(count: number): void {
    const rx = new Uint8Array(this.io.rxBuffer);
    // The guest closed its end: a seqpacket socket then reads as end of file, which recvmmsg
    // reports as a full batch of empty records (do_recvmmsg counts each 0-byte read). A batch
    // of empty records that fills every slot and leaves the socket at EOF is that, not data.
    if (count === this.io.slots && this.allEmpty(count) && this.atEof()) {
      this.close();
      return;
    }
    for (let i = 0; i < count; i++) {
      const len = this.io.rxMeta[2 * i]!;
      const d = rx.slice(i * this.io.slotSize, i * this.io.slotSize + len);
      void this.sock.sendmsg(d, 0, null, null, NONBLOCKING);
    }
  }

  private allEmpty(count: number): boolean {
    for (let i = 0; i < count; i++) if (this.io.rxMeta[2 * i] !== 0) return false;
    return true;
  }

  /** A peek that finds end of file (0 bytes) with nothing else queued: the peer is gone. */
  private atEof(): boolean {
    const r = native().sockRecv(this.moatFd, 1, MSG.MSG_PEEK);
    return typeof r !== 'string' && r.full === 0 && native().sockSend(this.moatFd, new Uint8Array(0)) === 'EPIPE';
  }

  private async drain(): Promise<void> {
    if (this.draining || this.closed) return;
    this.draining = true;
    try {
      for (let i = 0; i < 1024 && !this.closed; i++) {
        if (!(this.sock.poll() & 1)) break;
        const r = await this.sock.recvmsg(65535, MSG.MSG_DONTWAIT, CONTROL_ROOM, NONBLOCKING);
        if (isErrno(r)) {
          if (r === 'EAGAIN') break;
          continue; // a pending ICMP error: SO_ERROR reports it
        }
        const w = native().sockSend(this.moatFd, r.data);
        if (typeof w === 'string') {
          this.drops++;
          continue;
        }
        this.sources.push({ data: r.data, name: r.name, control: r.control });
        if (this.sources.length > 4096) this.sources.shift();
      }
    } finally {
      this.draining = false;
      this.wq.wake();
    }
  }

  /**
   * The source of the datagram the guest is about to read (`data`, read through its duplicate):
   * the oldest remembered one with those bytes, skipping any the guest consumed with a plain read.
   */
  sourceOf(data: Uint8Array, consume: boolean): { name: Uint8Array | undefined; control: Uint8Array | undefined } | undefined {
    for (let i = 0; i < this.sources.length; i++) {
      const s = this.sources[i]!;
      if (bytesEqualPrefix(s.data, data)) {
        if (consume) this.sources.splice(0, i + 1);
        return { name: s.name, control: s.control };
      }
    }
    return undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.io.close();
    this.sock.close();
    this.wq.wake();
    this.onGone();
  }
}

function bytesEqualPrefix(full: Uint8Array, got: Uint8Array): boolean {
  if (got.length > full.length) return false;
  for (let i = 0; i < got.length; i++) if (full[i] !== got[i]) return false;
  return true;
}
