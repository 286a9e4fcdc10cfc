// An in-process network for TCP tests: hosts with their own TcpProtocol over a fake
// NetworkLayer, joined by links with seeded impairments (loss, duplication, reordering,
// delay, rate limit with a drop-tail queue), all in virtual time, with an optional trace.

import { VirtualClock } from '../../../src/netstack/clock.js';
import { TimerQueue, type Timer } from '../../../src/netstack/timers.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import type { NetResult } from '../../../src/netstack/errors.js';
import type { IpSendParams, NetworkLayer, RouteInfo, TransportError } from '../../../src/netstack/transport.js';
import { TcpProtocol } from '../../../src/netstack/tcp/protocol.js';
import type { TcpStackConfig } from '../../../src/netstack/tcp/options.js';
import { parseTcp, tcpChecksum } from '../../../src/netstack/wire/tcp.js';
import { segmentTcp } from '../../../src/netstack/gso.js';
import { finishPartialChecksum } from '../../../src/netstack/wire/checksum.js';

export interface Impairments {
  /** One-way propagation delay, ms. */
  delayMs?: number;
  /** Probability of losing each packet. */
  loss?: number;
  /** Probability of duplicating a packet. */
  dup?: number;
  /** Probability that a packet is held back by `reorderDelayMs`. */
  reorder?: number;
  reorderDelayMs?: number;
  /** Bandwidth in bytes per ms (1250 = 10 Mbit/s); 0 = infinite. */
  rateBytesPerMs?: number;
  /** Drop-tail queue limit in bytes when rate-limited. */
  queueBytes?: number;
  /** Deterministic drop decision by packet index on this direction (after `loss`). */
  dropIf?: (index: number, pkt: SentPacket) => boolean;
  /** Loss applies only to packets carrying data (keeps handshakes clean in some tests). */
  lossDataOnly?: boolean;
}

export interface SentPacket {
  src: IpAddr;
  dst: IpAddr;
  /** Header + payload bytes (a copy). */
  bytes: Uint8Array;
  /** Payload length after the TCP header. */
  dataLen: number;
}

export interface TraceEntry {
  t: number;
  from: string;
  to: string;
  flags: number;
  seq: number;
  ack: number;
  len: number;
  win: number;
  event: 'sent' | 'dropped' | 'dup' | 'delivered';
  raw: Uint8Array;
}

interface InFlight {
  at: number;
  n: number;
  pkt: SentPacket;
  to: Host;
}

class Direction {
  sent = 0;
  freeAt = 0;
  constructor(public imp: Impairments) {}
}

export class Host implements NetworkLayer {
  readonly timers: TimerQueue;
  readonly rng: SeededRng;
  readonly tcp: TcpProtocol;
  mtu: number;
  checksumOffload = false;
  /** With checksumOffload: the largest aggregate this fake link segments (GSO), 0 = none. */
  gsoMaxSize = 0;
  /** GSO aggregates received from TCP. */
  gsoAggregates = 0;
  /** Packets sent by this host (counters). */
  packetsOut = 0;
  bytesOut = 0;
  /** When set, sendIp returns this error (no route, filtered...). */
  sendError: NetResult<void> = undefined;

  constructor(
    readonly net: TestNet,
    readonly addr: IpAddr,
    seed: number,
    config: Partial<TcpStackConfig> | undefined,
    mtu: number,
  ) {
    this.timers = new TimerQueue(net.clock);
    this.rng = new SeededRng(seed);
    this.mtu = mtu;
    this.tcp = new TcpProtocol(this, config);
  }

  sendIp(p: IpSendParams): NetResult<void> {
    if (this.sendError) return this.sendError;
    if (p.gso && p.payload && p.payload.length > p.gso.mss) {
      // What a TSO device does: cut the aggregate, fix each header's sequence, flags, checksum.
      this.gsoAggregates++;
      for (const s of segmentTcp(p.header, p.payload, p.gso.mss)) {
        s.header[16] = 0;
        s.header[17] = 0;
        const c = tcpChecksum(p.src, p.dst, s.header, s.payload);
        s.header[16] = c >>> 8;
        s.header[17] = c & 0xff;
        const r = this.sendIp({ ...p, header: s.header, payload: s.payload, gso: undefined, checksumOffset: undefined });
        if (r) return r;
      }
      return undefined;
    }
    const pl = p.payload ? p.payload.length : 0;
    const bytes = new Uint8Array(p.header.length + pl);
    bytes.set(p.header, 0);
    if (p.payload) bytes.set(p.payload, p.header.length);
    if (p.checksumOffset !== undefined) finishPartialChecksum(bytes, 0, p.checksumOffset);
    this.packetsOut++;
    this.bytesOut += bytes.length;
    this.net.send(this, { src: p.src, dst: p.dst, bytes, dataLen: pl });
    return undefined;
  }

  route(dst: IpAddr, _src?: IpAddr | null): NetResult<RouteInfo> {
    if (this.net.unreachable.has(dst.key)) return 'ENETUNREACH';
    return { src: this.addr, nicId: 1, mtu: this.mtu, nextHop: null, checksumOffload: this.checksumOffload, gsoMaxSize: this.checksumOffload ? this.gsoMaxSize : 0 };
  }

  isLocalAddress(a: IpAddr): boolean {
    return a.equals(this.addr);
  }

  /** Delivers an ICMP error to this host's TCP as if a router had sent it. */
  icmpError(err: TransportError): void {
    this.tcp.deliverError(err);
  }
}

export class TestNet {
  readonly clock = new VirtualClock();
  private readonly queue: TimerQueue;
  private readonly timer: Timer;
  private readonly rng: SeededRng;
  private hosts: Host[] = [];
  private dirs = new Map<string, Direction>();
  private inflight: InFlight[] = [];
  private head = 0;
  private seq = 0;
  defaultImp: Impairments = { delayMs: 5 };
  trace: TraceEntry[] | null = null;
  /** Skip the receive checksum check (as a link with csumValid would). */
  checksumVerified = false;
  /** Observer of every packet as it is sent (before impairments). */
  onSend: ((pkt: SentPacket, from: Host) => void) | null = null;
  delivered = 0;
  dropped = 0;
  /** Destinations with no route. */
  unreachable = new Set<string>();

  constructor(seed = 1) {
    this.rng = new SeededRng(seed ^ 0x5eed);
    this.queue = new TimerQueue(this.clock);
    this.timer = this.queue.timer(() => this.fire());
  }

  addHost(addr: string, config?: Partial<TcpStackConfig>, mtu = 1500): Host {
    const h = new Host(this, IpAddr.parse(addr), this.hosts.length + 17, config, mtu);
    this.hosts.push(h);
    return h;
  }

  hostByAddr(a: IpAddr): Host | null {
    for (const h of this.hosts) if (h.addr.equals(a)) return h;
    return null;
  }

  /** Impairments for packets from `a` to `b` (defaults apply otherwise). */
  setLink(a: Host, b: Host, imp: Impairments): void {
    this.dirs.set(`${a.addr.key}>${b.addr.key}`, new Direction(imp));
  }
  setBoth(a: Host, b: Host, imp: Impairments): void {
    this.setLink(a, b, imp);
    this.setLink(b, a, { ...imp });
  }

  /** Drops everything from `a` to `b` (a cut cable one way) until called with false. */
  blackhole(a: Host, b: Host, on = true): void {
    const d = this.dir(a.addr, b.addr);
    d.imp = { ...d.imp, loss: on ? 1 : 0, lossDataOnly: false };
  }

  /** Injects raw TCP bytes into `to` as if sent from `src`. */
  inject(to: Host, src: IpAddr, bytes: Uint8Array): void {
    to.tcp.deliver({
      src, dst: to.addr, protocol: 6, payload: bytes, ttl: 64, tos: 0, nicId: 1,
      checksumVerified: false, packet: bytes, multicastOrBroadcast: false,
    });
  }

  private dir(a: IpAddr, b: IpAddr): Direction {
    const k = `${a.key}>${b.key}`;
    let d = this.dirs.get(k);
    if (!d) this.dirs.set(k, (d = new Direction(this.defaultImp)));
    return d;
  }

  send(from: Host, pkt: SentPacket): void {
    this.onSend?.(pkt, from);
    const to = this.hostByAddr(pkt.dst);
    if (!to) return;
    const d = this.dir(pkt.src, pkt.dst);
    const imp = d.imp;
    const n = d.sent++;
    const now = this.clock.now();
    const lossy = !imp.lossDataOnly || pkt.dataLen > 0;
    if ((lossy && imp.loss && this.rng.float() < imp.loss) || (imp.dropIf && imp.dropIf(n, pkt))) {
      this.dropped++;
      this.record(now, pkt, 'dropped');
      return;
    }
    let depart = now;
    if (imp.rateBytesPerMs && imp.rateBytesPerMs > 0) {
      const start = Math.max(now, d.freeAt);
      if (imp.queueBytes !== undefined && (start - now) * imp.rateBytesPerMs > imp.queueBytes) {
        this.dropped++;
        this.record(now, pkt, 'dropped');
        return;
      }
      depart = start + (pkt.bytes.length + 40) / imp.rateBytesPerMs;
      d.freeAt = depart;
    }
    let at = depart + (imp.delayMs ?? 0);
    if (imp.reorder && this.rng.float() < imp.reorder) at += imp.reorderDelayMs ?? 3;
    this.record(now, pkt, 'sent');
    this.enqueue(at, pkt, to);
    if (imp.dup && this.rng.float() < imp.dup) {
      this.record(now, pkt, 'dup');
      this.enqueue(at + 0.5, pkt, to);
    }
  }

  private enqueue(at: number, pkt: SentPacket, to: Host): void {
    const e: InFlight = { at, n: this.seq++, pkt, to };
    const q = this.inflight;
    let i = q.length;
    while (i > this.head && q[i - 1].at > at) i--;
    if (i === q.length) q.push(e);
    else q.splice(i, 0, e);
    if (q[this.head] === e) this.timer.scheduleAt(at);
  }

  private fire(): void {
    const now = this.clock.now();
    const q = this.inflight;
    while (this.head < q.length && q[this.head].at <= now) {
      const e = q[this.head++];
      this.delivered++;
      this.record(now, e.pkt, 'delivered');
      e.to.tcp.deliver({
        src: e.pkt.src,
        dst: e.pkt.dst,
        protocol: 6,
        payload: e.pkt.bytes,
        ttl: 64,
        tos: 0,
        nicId: 1,
        checksumVerified: this.checksumVerified,
        packet: e.pkt.bytes,
        multicastOrBroadcast: false,
      });
    }
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.inflight = q.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.inflight.length) this.timer.scheduleAt(this.inflight[this.head].at);
  }

  private record(t: number, pkt: SentPacket, event: TraceEntry['event']): void {
    if (!this.trace) return;
    const s = parseTcp(pkt.bytes, pkt.src, pkt.dst, { verifyChecksum: false });
    if (typeof s === 'string') return;
    this.trace.push({
      t, from: `${pkt.src.key}:${s.srcPort}`, to: `${pkt.dst.key}:${s.dstPort}`, flags: s.flags, seq: s.seq, ack: s.ack,
      len: s.payload.length, win: s.window, event, raw: pkt.bytes,
    });
  }

  /** Runs virtual time until `pred` holds or `limitMs` passed; returns whether it held. */
  runUntil(pred: () => boolean, limitMs = 600_000): boolean {
    const end = this.clock.now() + limitMs;
    if (pred()) return true;
    for (;;) {
      const next = this.clock.nextDeadline();
      if (next === Infinity || next > end) {
        this.clock.advanceTo(Math.max(this.clock.now(), Math.min(end, next)));
        return pred();
      }
      this.clock.advanceTo(next);
      if (pred()) return true;
    }
  }

  /** Runs virtual time for `ms`. */
  run(ms: number): void {
    this.clock.advance(ms);
  }
}

/** A tcpdump-like line per trace entry (for debugging failing tests). */
export function formatTrace(tr: TraceEntry[], max = 200): string {
  const flag = (f: number) => (f & 2 ? 'S' : '') + (f & 1 ? 'F' : '') + (f & 4 ? 'R' : '') + (f & 8 ? 'P' : '') + (f & 16 ? '.' : '');
  return tr.slice(0, max).map((e) => `${e.t.toFixed(3)} ${e.event.padEnd(9)} ${e.from} > ${e.to} [${flag(e.flags)}] seq ${e.seq} ack ${e.ack} win ${e.win} len ${e.len}`).join('\n');
}
