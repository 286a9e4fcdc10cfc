// One TCP endpoint (a socket's TCB, RFC 9293 §3.3.1) and its user interface (§3.9:
// OPEN/SEND/RECEIVE/CLOSE/ABORT, as bind/listen/connect/accept/write/read/shutdown/close/abort).
// The segment-driven parts live in handshake.ts (opening), receiver.ts (§3.10.7, input),
// sender.ts (output, retransmission, persist, keepalive); the TCB fields live here.

import type { FlowOwner } from '../transport.js';
import type { NetError, NetResult } from '../errors.js';
import type { Timer } from '../timers.js';
import type { IpAddr } from '../wire/ip-address.js';
import { seqDiff } from '../wire/seq.js';
import { ByteQueue } from './bytequeue.js';
import { makeCongestionControl, type CongestionControl } from './congestion/index.js';
import {
  EV_ACCEPTABLE, EV_CLOSED, EV_CONNECTED, EV_ERROR, EV_PEER_CLOSED, EV_READABLE, EV_WRITABLE,
  type TcpEventHandler, type TcpInfo,
} from './events.js';
import type { EndpointOptions } from './options.js';
import type { TcpProtocol } from './protocol.js';
import { Reassembly } from './reassembly.js';
import { RttEstimator } from './rtt.js';
import { Scoreboard } from './scoreboard.js';
import { TcpState, stateAfterSendFin, stateName, type TcpStateName } from './state.js';
import { startConnect } from './handshake.js';
import { output, sendRst, onRtoTimer, onKeepaliveTimer, onDelackTimer, maybeWindowUpdate } from './sender.js';
import type { Listener } from './listener.js';

export const RECOVERY_NONE = 0;
export const RECOVERY_FAST = 1;
export const RECOVERY_LOSS = 2;

export class TcpEndpoint {
  state: TcpState = TcpState.CLOSED;
  localAddr: IpAddr | null = null;
  localPort = 0;
  remoteAddr: IpAddr | null = null;
  remotePort = 0;
  /** Key in the stack's connection table, when registered. */
  connKey: string | null = null;
  /** Holds a port in the bind table. */
  bound = false;
  /**
   * An AF_INET6 socket without IPV6_V6ONLY bound to the IPv6 wildcard: it also holds the IPv4
   * port and a listener accepts IPv4 clients (RFC 3493 §3.7, v4-mapped addresses). Set by the
   * socket layer before bind.
   */
  dualStack = false;
  /** Who made this connection (the filter's owner match, audit records); accepted ones inherit the listener's. */
  owner: FlowOwner | undefined = undefined;
  /** IP_FREEBIND: bind may name an address the stack does not (yet) have. */
  freebind = false;
  /** TCP_SYNCNT: SYN retransmissions for this connection (null: the stack's synRetries). */
  synRetries: number | null = null;
  handler: TcpEventHandler | null = null;
  pendingEvents = 0;
  error: NetError | null = null;
  errorReported = false;
  /** Error to report once, via read/write (SO_ERROR in meaning). */
  softError: NetError | null = null;
  /** The user called close(): nobody reads any more (an orphan, in Linux's words). */
  userClosed = false;
  readShut = false;
  opts: EndpointOptions;

  // --- send sequence space (RFC 9293 §3.3.1) ---
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (sndNxt never moves back: retransmission uses the scoreboard). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** Peer's window shift (applied to the window field it sends). */
  sndWscale = 0;
  sendQueue = new ByteQueue();
  /** Sequence number of sendQueue's first byte. */
  sendQueueSeq = 0;
  /** The user shut down writing: a FIN follows the queued data. */
  finQueued = false;
  finSent = false;
  finSeq = 0;
  /** Effective send MSS (data bytes per segment, options excluded) and the peer's MSS option. */
  mss = 536;
  peerMss = 536;
  /** MSS we advertise. */
  advMss = 1460;
  /**
   * Estimate of the segment size the peer sends (Linux's icsk_ack.rcv_mss): what counts as a
   * "full-sized" segment for delayed ACK. 0 until the first data segment.
   */
  rcvMssEst = 0;
  /** Route MTU when the connection was set up, lowered by PMTU. */
  pmtu = 1500;
  /** The route finishes checksums (CHECKSUM_PARTIAL). */
  csumOffload = false;
  /** Largest TCP aggregate the route can segment (GSO/TSO), 0 when it cannot. */
  gsoMax = 0;
  sb = new Scoreboard();
  cc: CongestionControl;
  rtt: RttEstimator;
  recovery = RECOVERY_NONE;
  recoverSeq = 0;
  /**
   * Undo of a congestion response found spurious by D-SACKs (RFC 3708 §3, Linux
   * tcp_try_undo_dsack): the window before the response, and retransmissions not yet D-SACKed.
   */
  undoPending = false;
  undone = false;
  undoCwnd = 0;
  undoSsthresh = 0;
  undoRetrans = 0;
  /** SND.UNA when the episode began: D-SACKs for older data are not about it. */
  undoMarker = 0;
  /** SND.NXT when the current round began (HyStart++ rounds, RFC 9406 §4.2). */
  roundEnd = 0;
  /** Proportional Rate Reduction state (RFC 6937 §3): RecoverFS, prr_delivered, prr_out, and the bytes the latest ACK allows. */
  prrRecoverFs = 0;
  prrDelivered = 0;
  prrOut = 0;
  prrSndcnt = 0;
  /** RACK reordering window state (RFC 8985 §6.2 step 4). */
  reoWndMult = 1;
  reoWndPersist = 0;
  dsackRound = -1;
  dupAcks = 0;
  /** Consecutive RTOs without progress. */
  retransmits = 0;
  /** Zero-window or keepalive probes without answer. */
  probes = 0;
  /** First-transmission time of the oldest unacked data, for TCP_USER_TIMEOUT. */
  lastProgress = 0;
  writeBlocked = false;
  /** Time of the last send of data, for RFC 5681 §4.1 idle restart. */
  lastSendTime = 0;
  /** Cork started at (ms), or -1. */
  corkSince = -1;

  // --- receive sequence space ---
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we advertised last (RCV.NXT + RCV.WND at that time). */
  rcvAdv = 0;
  rcvWscale = 0;
  rcvBuf: number;
  recvQueue = new ByteQueue();
  ooo: Reassembly;
  finReceived = false;
  /** Bytes of data received in the current auto-tuning period and when it began. */
  rcvSpaceBytes = 0;
  rcvSpaceTime = 0;

  // --- options negotiated (RFC 7323, RFC 2018) ---
  sackOk = false;
  tsOk = false;
  wsOk = false;
  tsRecent = 0;
  tsRecentTime = 0;
  lastAckSent = 0;
  tsOffset = 0;
  /** D-SACK block to report in the next ACK (RFC 2883 §4), as [l, r) or empty. */
  dsack: number[] = [];

  // --- ACK scheduling ---
  /** Full segments received since the last ACK we sent. */
  unackedSegs = 0;
  /** Data arrived that no ACK has covered yet. */
  ackPending = false;
  quickAcks = 0;
  ackNow = false;

  // --- timers (created on first use: an idle endpoint holds only what it needs) ---
  rtoTimer: Timer | null = null;
  delackTimer: Timer | null = null;
  /** Flushes corked data after TCP_CORK's 200 ms ceiling. */
  corkTimer: Timer | null = null;
  /** RACK reordering timer (RFC 8985 §6.3), created at the first loss. */
  reoTimer: Timer | null = null;
  /** Keepalive, TIME_WAIT, FIN_WAIT_2 and SYN-ACK lifetime share one slot as on Linux. */
  kaTimer: Timer | null = null;
  /** The RTO slot currently runs the persist timer (RFC 9293 §3.8.6.1). */
  persistMode = false;
  /** Inside sender.output(). */
  inOutput = false;
  /** The RTO slot currently runs the tail loss probe timer (RFC 8985 §7.2). */
  tlpArmed = false;
  /** SND.NXT when a tail loss probe went out, or -1 (RFC 8985 §7.3 TLP.end_seq). */
  tlpHighSeq = -1;
  tlpWasRetransmit = false;
  tlpDsacks = 0;
  lastRecvTime = 0;
  lastDataRecvTime = 0;
  /** When we last answered an empty out-of-window segment. */
  lastOowAck = -Infinity;

  // --- listener side ---
  listener: Listener | null = null;
  /** The listener that created this connection (while in its SYN or accept queue). */
  parent: Listener | null = null;
  inAcceptQueue = false;

  // --- counters for tcpInfo ---
  bytesSent = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  segsOut = 0;
  /** Segments carrying data (tcpi_data_segs_out / _in). */
  dataSegsOut = 0;
  dataSegsIn = 0;
  segsIn = 0;
  /** Memory charged to the stack's buffer accounting. */
  charged = 0;

  constructor(readonly stack: TcpProtocol, opts?: Partial<EndpointOptions>) {
    const c = stack.config;
    this.opts = {
      noDelay: false,
      cork: false,
      keepAlive: false,
      keepIdleMs: c.keepIdleMs,
      keepIntvlMs: c.keepIntvlMs,
      keepCnt: c.keepCnt,
      userTimeoutMs: 0,
      lingerMs: null,
      reuseAddr: false,
      reusePort: false,
      rcvBuf: c.rcvBuf,
      sndBuf: c.sndBuf,
      rcvBufLocked: false,
      sndBufLocked: false,
      maxSeg: 0,
      congestion: c.congestion,
      quickAck: false,
      ...opts,
    };
    this.rcvBuf = this.opts.rcvBuf;
    this.cc = makeCongestionControl(this.opts.congestion, this.mss);
    this.rtt = new RttEstimator(c.minRtoMs, c.maxRtoMs);
    this.ooo = new Reassembly(c.oooCapPerConn);
  }

  // ------------------------------------------------------------------ user API

  /** Event handlers (replaces any earlier ones). */
  on(h: TcpEventHandler): this {
    this.handler = h;
    return this;
  }

  get stateName(): TcpStateName {
    return stateName(this.state);
  }

  /** Binds a local address (ANY for every address) and port (0 picks an ephemeral one). */
  bind(addr: IpAddr, port: number): NetResult<void> {
    if (this.bound || this.state !== TcpState.CLOSED) return 'EINVAL';
    return this.stack.bind(this, addr, port);
  }

  /** Passive open (RFC 9293 §3.10.1) with an accept backlog. */
  listen(backlog = 128): NetResult<void> {
    return this.stack.listen(this, backlog);
  }

  /** Active open: the result is EINPROGRESS-like (undefined); `onConnected` or `onError` follows. */
  connect(addr: IpAddr, port: number): NetResult<void> {
    if (this.state === TcpState.SYN_SENT) return 'EALREADY';
    if (this.state !== TcpState.CLOSED) return 'EISCONN';
    if (this.listener) return 'EINVAL';
    return startConnect(this, addr, port);
  }

  /** Takes the next established connection from a listener's accept queue. */
  accept(): TcpEndpoint | NetError {
    if (!this.listener) return 'EINVAL';
    return this.listener.accept();
  }

  get sndBufSize(): number {
    return this.opts.sndBuf;
  }

  /** Free send-buffer space (what write would accept now). */
  get writable(): number {
    return Math.max(0, Math.floor(this.opts.sndBuf - this.sendQueue.length));
  }

  /** Bytes waiting to be read. */
  get readable(): number {
    return this.recvQueue.length;
  }

  /**
   * Queues data for sending (RFC 9293 §3.10.2). Returns how many bytes were accepted (0 when
   * the send buffer is full: back-pressure), or an error.
   */
  write(data: Uint8Array): NetResult<number> {
    // A failed connection reports its error once, then EPIPE (Linux: sk_err is consumed).
    if (this.error) return this.takeError() ?? 'EPIPE';
    switch (this.state) {
      case TcpState.CLOSED:
      case TcpState.LISTEN:
        return 'ENOTCONN';
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
      case TcpState.CLOSE_WAIT:
        break;
      default:
        return 'EPIPE';
    }
    if (this.finQueued) return 'EPIPE';
    let n = Math.min(data.length, this.writable);
    const room = this.stack.memoryRoom();
    if (room < n) {
      // Stack-wide buffer memory is exhausted: accept what fits (ENOBUFS when nothing does).
      this.stack.stats.memoryLimitHits++;
      n = room;
      if (n === 0) {
        this.writeBlocked = true;
        return this.sendQueue.length > 0 ? 0 : 'ENOBUFS';
      }
    }
    if (n < data.length) this.writeBlocked = true;
    if (n === 0) return 0;
    this.sendQueue.push(n === data.length ? data : data.subarray(0, n));
    this.stack.charge(this, n);
    output(this);
    this.stack.flushEvents();
    return n;
  }

  /**
   * Takes up to `max` received bytes (RFC 9293 §3.10.3). Returns the bytes, null at end of
   * stream (the peer's FIN, after all data), or an error (EAGAIN when nothing is there yet).
   */
  read(max = Infinity): Uint8Array | null | NetError {
    if (this.recvQueue.length > 0) {
      const d = this.recvQueue.read(Math.min(max, this.recvQueue.length));
      this.stack.uncharge(this, d.length);
      maybeWindowUpdate(this);
      this.stack.flushEvents();
      return d;
    }
    // ... and to readers once, then end of stream.
    if (this.error) return this.takeError() ?? null;
    if (this.finReceived || this.readShut) return null;
    switch (this.state) {
      case TcpState.CLOSED:
      case TcpState.LISTEN:
        return 'ENOTCONN';
      default:
        return 'EAGAIN';
    }
  }

  /** Half-close (RFC 9293 §3.6, §3.10.4 for the sending side). */
  shutdown(how: 'read' | 'write' | 'both'): NetResult<void> {
    if (this.state === TcpState.LISTEN) {
      if (how !== 'write') this.close();
      return undefined;
    }
    if (this.state === TcpState.CLOSED || this.state === TcpState.SYN_SENT) return 'ENOTCONN';
    if (how !== 'write') this.readShut = true;
    if (how !== 'read') this.queueFin();
    this.stack.flushEvents();
    return undefined;
  }

  /** CLOSE (RFC 9293 §3.10.4); unread data or SO_LINGER 0 turn it into an abort (RFC 2525 §2.17). */
  close(): void {
    if (this.userClosed) return;
    this.userClosed = true;
    switch (this.state) {
      case TcpState.CLOSED:
        this.stack.release(this);
        break;
      case TcpState.LISTEN:
        this.listener?.close();
        this.enterClosed();
        break;
      case TcpState.SYN_SENT:
        this.enterClosed();
        break;
      default:
        if (this.recvQueue.length > 0 || this.opts.lingerMs === 0) {
          this.abort();
          return;
        }
        this.queueFin();
        if (this.state === TcpState.FIN_WAIT_2) this.armFinTimeout();
    }
    this.stack.flushEvents();
  }

  /** ABORT (RFC 9293 §3.10.5): RST to the peer in synchronized states, then CLOSED. */
  abort(): void {
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
      case TcpState.CLOSE_WAIT:
        sendRst(this, this.sndNxt);
        break;
      default:
        break;
    }
    if (this.state === TcpState.LISTEN) this.listener?.close();
    this.enterClosed();
    this.stack.flushEvents();
  }

  setNoDelay(on: boolean): void {
    this.opts.noDelay = on;
    if (on) output(this);
  }
  /** TCP_CORK: hold partial segments until uncorked, or for 200 ms at most (Linux). */
  setCork(on: boolean): void {
    this.opts.cork = on;
    this.corkSince = on ? this.stack.now() : -1;
    if (!on) {
      this.corkTimer?.cancel();
      output(this);
    }
  }
  setKeepAlive(on: boolean, idleMs?: number, intvlMs?: number, cnt?: number): void {
    this.opts.keepAlive = on;
    if (idleMs !== undefined) this.opts.keepIdleMs = idleMs;
    if (intvlMs !== undefined) this.opts.keepIntvlMs = intvlMs;
    if (cnt !== undefined) this.opts.keepCnt = cnt;
    if (on && this.state === TcpState.ESTABLISHED) this.armKeepalive();
    if (!on && this.kaTimer && this.state === TcpState.ESTABLISHED) this.kaTimer.cancel();
  }
  setUserTimeout(ms: number): void {
    this.opts.userTimeoutMs = ms;
  }
  setLinger(ms: number | null): void {
    this.opts.lingerMs = ms;
  }
  setQuickAck(on: boolean): void {
    this.opts.quickAck = on;
    if (on) this.quickAcks = Math.max(this.quickAcks, this.stack.config.quickAckSegments);
  }
  setReuseAddr(on: boolean): void {
    this.opts.reuseAddr = on;
  }
  setReusePort(on: boolean): void {
    this.opts.reusePort = on;
  }
  /** SO_RCVBUF: fixes the receive buffer (turns auto-tuning off). */
  setRcvBuf(bytes: number): void {
    this.opts.rcvBuf = bytes;
    this.opts.rcvBufLocked = true;
    this.rcvBuf = bytes;
    maybeWindowUpdate(this);
  }
  /** SO_SNDBUF: fixes the send buffer (turns its auto-tuning off, as on Linux). */
  setSndBuf(bytes: number): void {
    this.opts.sndBuf = bytes;
    this.opts.sndBufLocked = true;
  }
  setMaxSeg(bytes: number): void {
    this.opts.maxSeg = bytes;
  }
  setCongestion(alg: 'cubic' | 'newreno'): void {
    this.opts.congestion = alg;
    const old = this.cc;
    this.cc = makeCongestionControl(alg, this.mss);
    if (this.state !== TcpState.CLOSED) {
      this.cc.cwnd = old.cwnd;
      this.cc.ssthresh = old.ssthresh;
    }
  }

  /** A snapshot close to Linux's TCP_INFO. */
  tcpInfo(): TcpInfo {
    const mss = this.mss;
    const now = this.stack.now();
    return {
      state: this.stateName,
      rtt: this.rtt.srtt,
      rttvar: this.rtt.rttvar,
      rto: this.rtt.rto,
      minRtt: this.rtt.minRtt === Infinity ? 0 : this.rtt.minRtt,
      cwnd: Math.floor(this.cc.cwnd / mss),
      ssthresh: this.cc.ssthresh === Infinity ? 0x7fffffff : Math.floor(this.cc.ssthresh / mss),
      congestion: this.cc.name,
      sndMss: mss,
      rcvMss: this.rcvMssEst || this.advMss,
      retransmits: this.retransmits,
      backoff: this.rtt.backoff,
      probes: this.probes,
      totalRetrans: this.sb.retransSegs,
      bytesRetrans: this.sb.retransBytes,
      bytesSent: this.bytesSent,
      bytesAcked: this.bytesAcked,
      bytesReceived: this.bytesReceived,
      segsOut: this.segsOut,
      dataSegsOut: this.dataSegsOut,
      dataSegsIn: this.dataSegsIn,
      segsIn: this.segsIn,
      unacked: this.sb.size,
      sacked: this.sb.sackedCount,
      lost: this.sb.lostCount,
      dsacks: this.sb.dsacks,
      sndWnd: this.sndWnd,
      rcvWnd: Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt)),
      rcvSpace: this.rcvBuf,
      sndBuf: this.opts.sndBuf,
      sackEnabled: this.sackOk,
      timestamps: this.tsOk,
      sndWscale: this.sndWscale,
      rcvWscale: this.rcvWscale,
      caState: this.recovery === RECOVERY_FAST ? 'recovery' : this.recovery === RECOVERY_LOSS ? 'loss' : 'open',
      pmtu: this.pmtu,
      lastDataSent: this.lastSendTime > 0 ? now - this.lastSendTime : 0,
      lastDataRecv: this.lastDataRecvTime > 0 ? now - this.lastDataRecvTime : 0,
      lastAckRecv: this.lastRecvTime > 0 ? now - this.lastRecvTime : 0,
      softError: this.softError,
    };
  }

  // ------------------------------------------------------------------ internals

  /** The fatal error if not yet reported through read/write/SO_ERROR, else null. */
  private takeError(): NetError | null {
    if (this.errorReported) return null;
    this.errorReported = true;
    return this.error;
  }

  /**
   * getsockopt(SO_ERROR): the pending error, cleared by reading it (the fatal one first, else a
   * soft ICMP error), or null.
   */
  takeSoError(): NetError | null {
    const e = this.error ? this.takeError() : null;
    if (e) return e;
    const soft = this.softError;
    this.softError = null;
    return soft;
  }

  queueFin(): void {
    if (this.finQueued) return;
    const next = stateAfterSendFin(this.state);
    if (next === null) return;
    this.finQueued = true;
    this.state = next;
    output(this);
  }

  notify(ev: number): void {
    if (this.pendingEvents === 0) this.stack.markDirty(this);
    this.pendingEvents |= ev;
  }

  /** Called by the stack after processing: delivers collected events. */
  deliverEvents(): void {
    const ev = this.pendingEvents;
    this.pendingEvents = 0;
    const h = this.handler;
    if (!h) return;
    if (ev & EV_CONNECTED) h.onConnected?.(this);
    if (ev & EV_ACCEPTABLE) h.onAcceptable?.(this);
    if (ev & EV_READABLE) h.onReadable?.(this);
    if (ev & EV_PEER_CLOSED) h.onPeerClosed?.(this);
    if (ev & EV_WRITABLE) h.onWritable?.(this);
    if (ev & EV_ERROR && this.error) h.onError?.(this, this.error);
    if (ev & EV_CLOSED) h.onClosed?.(this);
  }

  /** Fails the connection with `code` and closes it (no RST: callers send one if needed). */
  fail(code: NetError): void {
    if (!this.error) this.error = code;
    this.notify(EV_ERROR);
    this.enterClosed();
  }

  /** CLOSED: cancel timers, free buffers, leave the tables. */
  enterClosed(): void {
    const was = this.state;
    this.state = TcpState.CLOSED;
    this.rtoTimer?.cancel();
    this.delackTimer?.cancel();
    this.kaTimer?.cancel();
    this.reoTimer?.cancel();
    this.corkTimer?.cancel();
    this.sb.clear();
    this.stack.oooMemory -= this.ooo.bytes;
    this.ooo.clear();
    this.stack.uncharge(this, this.charged);
    this.sendQueue = new ByteQueue();
    if (this.parent) this.parent.childGone(this);
    this.stack.release(this);
    if (was !== TcpState.CLOSED) this.notify(EV_CLOSED);
  }

  enterTimeWait(): void {
    this.state = TcpState.TIME_WAIT;
    this.rtoTimer?.cancel();
    this.delackTimer?.cancel();
    this.reoTimer?.cancel();
    this.sb.clear();
    this.sendQueue = new ByteQueue();
    this.stack.oooMemory -= this.ooo.bytes;
    this.ooo.clear();
    this.kaTimer ??= this.stack.timers.timer(() => this.stack.guard(() => onKeepaliveTimer(this)));
    this.kaTimer.schedule(2 * this.stack.config.mslMs);
  }

  armKeepalive(): void {
    if (!this.opts.keepAlive) return;
    this.kaTimer ??= this.stack.timers.timer(() => this.stack.guard(() => onKeepaliveTimer(this)));
    this.kaTimer.schedule(this.opts.keepIdleMs);
  }

  armFinTimeout(): void {
    this.kaTimer ??= this.stack.timers.timer(() => this.stack.guard(() => onKeepaliveTimer(this)));
    this.kaTimer.schedule(this.stack.config.finTimeoutMs);
  }

  rto(): Timer {
    return (this.rtoTimer ??= this.stack.timers.timer(() => this.stack.guard(() => onRtoTimer(this))));
  }

  delack(): Timer {
    return (this.delackTimer ??= this.stack.timers.timer(() => this.stack.guard(() => onDelackTimer(this))));
  }

  /** Connection established (either side): tell the user, start keepalive. */
  established(): void {
    this.state = TcpState.ESTABLISHED;
    this.roundEnd = this.sndNxt;
    this.lastRecvTime = this.stack.now();
    this.armKeepalive();
    if (!this.parent) this.notify(EV_CONNECTED | EV_WRITABLE);
  }

  readableEvent(): void {
    this.notify(EV_READABLE);
  }
  peerClosedEvent(): void {
    this.notify(EV_PEER_CLOSED | EV_READABLE);
  }
  writableEvent(): void {
    this.notify(EV_WRITABLE);
  }
  acceptableEvent(): void {
    this.notify(EV_ACCEPTABLE);
  }
}
