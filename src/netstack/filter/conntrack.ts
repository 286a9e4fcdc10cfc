// Connection tracking, a simplified nf_conntrack: one entry per flow with an ORIGINAL and a
// REPLY tuple, per-protocol state and timeouts, RELATED for ICMP errors that quote a tracked
// flow, a table limit with early drop, and NAT bindings (the REPLY tuple is what NAT made of
// the flow; packets are rewritten in both directions from it).
// Read: Linux net/netfilter/nf_conntrack_proto_tcp.c (the state table and timeouts, simplified
// here), nf_conntrack_proto_udp.c (unreplied/stream), nf_conntrack_proto_icmp.c (echo ids,
// errors); RFC 9293 §3.3.2 (TCP states); RFC 5508 §3-§7 (NAT behaviour for ICMP).
//
// Lookups key a Map by a string of the tuple; entries expire lazily (on lookup) and by gc(),
// on the stack's clock. Never a timer: an idle stack stays idle.

import type { Clock } from '../clock.js';
import { IpAddr } from '../wire/ip-address.js';
import { IpProto } from '../wire/ip-proto.js';
import { bytesEqual } from '../wire/bytes.js';
import { CtDir, CtState, type FilterInput } from './packet.js';
import { isIcmpError, natRewrite, natRewriteIcmpQuote } from './nat.js';

export const TcpCtState = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
} as const;
export const TCP_STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE'];

/** Timeouts in seconds; defaults are Linux's (nf_conntrack_tcp_timeout_*, udp_timeout*, icmp_timeout, generic_timeout). */
export interface CtTimeouts {
  tcp: number[]; // indexed by TcpCtState
  udpUnreplied: number;
  udpAssured: number;
  icmp: number;
  generic: number;
}

export const DEFAULT_CT_TIMEOUTS: CtTimeouts = {
  tcp: [0, 120, 60, 432000, 120, 60, 30, 120, 10],
  udpUnreplied: 30,
  udpAssured: 120,
  icmp: 30,
  generic: 600,
};

export interface ConntrackOptions {
  /** nf_conntrack_max. Default 65536. */
  maxEntries?: number;
  timeouts?: Partial<CtTimeouts>;
}

export interface CtTuple {
  readonly src: IpAddr;
  readonly dst: IpAddr;
  /** Port, or ICMP echo identifier. */
  readonly sport: number;
  readonly dport: number;
  /** ICMP: the message type this direction carries (8/0, 128/129); 0 otherwise. */
  readonly icmpType: number;
}

export class CtEntry {
  tcpState = 0;
  /** Which direction sent the first FIN (FIN_WAIT onwards). */
  finDir = 0;
  seenReply = false;
  /** Linux's IPS_ASSURED: survives early drop. */
  assured = false;
  confirmed = false;
  expires = 0;
  /** Bits: 1 DNAT set up, 2 SNAT set up (nat table consulted once per manip type). */
  natDone = 0;
  /** connmark. */
  mark = 0;
  readonly packets = [0, 0];
  readonly bytes = [0, 0];
  /** Index slots this entry owns. */
  slots: Slot[] = [];
  /** Free for upper layers (the audit log stores the hostname learned from DNS here). */
  label: string | undefined = undefined;
  constructor(
    readonly id: number,
    readonly family: 4 | 6,
    readonly proto: number,
    readonly orig: CtTuple,
    public reply: CtTuple,
    readonly created: number,
  ) {}

  get natted(): boolean {
    return !(this.reply.src.equals(this.orig.dst) && this.reply.dst.equals(this.orig.src) && this.reply.sport === this.orig.dport && this.reply.dport === this.orig.sport);
  }
}

/** One index slot: a tuple (as seen on the wire) naming an entry and a direction. Chained per hash. */
interface Slot {
  readonly e: CtEntry;
  readonly dir: number;
  readonly t: CtTuple;
  next: Slot | null;
}

function hashTuple(proto: number, type: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number): number {
  // FNV-1a over the tuple's bytes: cheap, allocation-free, good enough spread for a Map of numbers.
  let h = 0x811c9dc5 ^ proto ^ (type << 8);
  h = Math.imul(h ^ sport, 0x01000193);
  h = Math.imul(h ^ dport, 0x01000193);
  for (let i = 0; i < src.length; i++) h = Math.imul(h ^ src[i], 0x01000193);
  for (let i = 0; i < dst.length; i++) h = Math.imul(h ^ dst[i] ^ 0x5a, 0x01000193);
  return h | 0;
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

function invert(t: CtTuple, proto: number): CtTuple {
  return { src: t.dst, dst: t.src, sport: t.dport, dport: t.sport, icmpType: replyIcmpType(proto, t.icmpType) };
}

function replyIcmpType(proto: number, type: number): number {
  if (proto === IpProto.ICMP) return type === 8 ? 0 : type === 0 ? 8 : type;
  if (proto === IpProto.ICMPV6) return type === 128 ? 129 : type === 129 ? 128 : type;
  return 0;
}

function hasPorts(proto: number): boolean {
  return proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.UDPLITE || proto === IpProto.SCTP;
}

const F_FIN = 0x01;
const F_SYN = 0x02;
const F_RST = 0x04;
const F_ACK = 0x10;

export class Conntrack {
  readonly timeouts: CtTimeouts;
  readonly maxEntries: number;
  /** hash -> chain of slots. Lookups build no key string and allocate nothing. */
  private readonly index = new Map<number, Slot>();
  /** Insertion order = age order: early drop looks at the oldest first. */
  private readonly entries = new Map<number, CtEntry>();
  private nextId = 1;
  /** Entry counts per original source and destination address (connlimit). */
  private readonly perSrc = new Map<string, number>();
  private readonly perDst = new Map<string, number>();
  /** Event counters: new, full, early-drop, expired, invalid.<reason>, related. */
  readonly counters = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    opts: ConntrackOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 65536;
    const t = opts.timeouts ?? {};
    this.timeouts = { ...DEFAULT_CT_TIMEOUTS, ...t, tcp: t.tcp ?? DEFAULT_CT_TIMEOUTS.tcp };
  }

  get size(): number {
    return this.entries.size;
  }

  /** False while a later hook re-looks a packet up: its events were counted at the first hook. */
  private counting = true;

  count(what: string): void {
    if (!this.counting) return;
    this.counters.set(what, (this.counters.get(what) ?? 0) + 1);
  }

  *all(): IterableIterator<CtEntry> {
    yield* this.entries.values();
  }

  /** Finds the entry for a tuple (as seen on the wire, either direction, before or after NAT). */
  lookup(proto: number, t: CtTuple): { e: CtEntry; dir: number } | null {
    return this.find(proto, t.icmpType, t.src, t.sport, t.dst, t.dport);
  }

  private find(proto: number, type: number, src: IpAddr, sport: number, dst: IpAddr, dport: number): Slot | null {
    const sb = src.bytes;
    const db = dst.bytes;
    let s = this.index.get(hashTuple(proto, type, sb, sport, db, dport)) ?? null;
    for (; s !== null; s = s.next) {
      const t = s.t;
      if (s.e.proto === proto && t.icmpType === type && t.sport === sport && t.dport === dport && bytesEqual(t.src.bytes, sb) && bytesEqual(t.dst.bytes, db)) break;
    }
    if (s === null) return null;
    if (s.e.expires <= this.clock.now()) {
      this.remove(s.e);
      this.count('expired');
      return null;
    }
    return s;
  }

  private link(e: CtEntry, t: CtTuple, dir: number): void {
    const h = hashTuple(e.proto, t.icmpType, t.src.bytes, t.sport, t.dst.bytes, t.dport);
    const slot: Slot = { e, dir, t, next: this.index.get(h) ?? null };
    this.index.set(h, slot);
    e.slots.push(slot);
  }

  private unlink(slot: Slot): void {
    const t = slot.t;
    const h = hashTuple(slot.e.proto, t.icmpType, t.src.bytes, t.sport, t.dst.bytes, t.dport);
    let s = this.index.get(h) ?? null;
    let prev: Slot | null = null;
    for (; s !== null && s !== slot; s = s.next) prev = s;
    if (s === null) return;
    if (prev) prev.next = s.next;
    else if (s.next) this.index.set(h, s.next);
    else this.index.delete(h);
  }

  remove(e: CtEntry): void {
    if (!this.entries.has(e.id)) return;
    for (const s of e.slots) this.unlink(s);
    e.slots = [];
    this.entries.delete(e.id);
    dec(this.perSrc, e.orig.src.key);
    dec(this.perDst, e.orig.dst.key);
  }

  /** Live entries whose original source (or destination) is `addr`: xt_connlimit's count. */
  connectionsFrom(addr: IpAddr): number {
    return this.perSrc.get(addr.key) ?? 0;
  }
  connectionsTo(addr: IpAddr): number {
    return this.perDst.get(addr.key) ?? 0;
  }

  /** Removes up to `max` expired entries. */
  gc(max = Infinity): number {
    const now = this.clock.now();
    let n = 0;
    for (const e of this.entries.values()) {
      if (n >= max) break;
      if (e.expires <= now) {
        this.remove(e);
        this.count('expired');
        n++;
      }
    }
    return n;
  }

  private reindex(e: CtEntry): void {
    for (const sl of e.slots) this.unlink(sl);
    e.slots = [];
    this.link(e, e.orig, CtDir.ORIGINAL);
    this.link(e, e.reply, CtDir.REPLY);
    if (e.natted) {
      // After NAT the packet is looked up again at later hooks (the stack's hooks do not carry the
      // entry between them): index the translated forms too.
      this.link(e, invert(e.reply, e.proto), CtDir.ORIGINAL);
      this.link(e, invert(e.orig, e.proto), CtDir.REPLY);
    }
  }

  /** True when a tuple is in use by another flow (NAT port choice avoids it). */
  taken(proto: number, t: CtTuple): boolean {
    return this.lookup(proto, t) !== null;
  }

  /** Reads the tuple of a packet; null when the protocol carries none we can track. */
  tupleOf(p: FilterInput): CtTuple | null {
    const t = p.transport;
    if (hasPorts(p.protocol)) {
      if (p.fragment || t.length < 4) return null;
      return { src: p.src, dst: p.dst, sport: (t[0] << 8) | t[1], dport: (t[2] << 8) | t[3], icmpType: 0 };
    }
    if (p.protocol === IpProto.ICMP || p.protocol === IpProto.ICMPV6) {
      if (p.fragment || t.length < 8) return null;
      const type = t[0];
      const echo = p.protocol === IpProto.ICMP ? type === 8 || type === 0 : type === 128 || type === 129;
      if (!echo) return null;
      const id = (t[4] << 8) | t[5];
      return { src: p.src, dst: p.dst, sport: id, dport: id, icmpType: type };
    }
    return { src: p.src, dst: p.dst, sport: 0, dport: 0, icmpType: 0 };
  }

  /**
   * Attaches the packet to its entry (creating one for a valid first packet) and sets
   * p.ct, p.ctDir, p.ctState. `update` advances protocol state and timeouts: true at the first
   * hook a packet meets (PREROUTING, OUTPUT), false at later ones, which only look up.
   */
  resolve(p: FilterInput, update: boolean): void {
    this.counting = update;
    try {
      this.resolveInner(p, update);
    } finally {
      this.counting = true;
    }
  }

  private resolveInner(p: FilterInput, update: boolean): void {
    p.ctDone = true;
    p.ct = null;
    p.ctDir = 0;
    const proto = p.protocol;
    const t = p.transport;
    if ((proto === IpProto.ICMP || proto === IpProto.ICMPV6) && !p.fragment && t.length >= 8 && isIcmpError(proto, t[0])) {
      this.resolveIcmpError(p);
      return;
    }
    // Read the tuple into scalars: a lookup allocates nothing; only a new entry builds objects.
    let sport = 0;
    let dport = 0;
    let type = 0;
    let trackable = true;
    if (hasPorts(proto)) {
      if (p.fragment || t.length < 4) trackable = false;
      else {
        sport = (t[0] << 8) | t[1];
        dport = (t[2] << 8) | t[3];
      }
    } else if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
      if (p.fragment || t.length < 8) trackable = false;
      else {
        type = t[0];
        if (proto === IpProto.ICMP ? type !== 8 && type !== 0 : type !== 128 && type !== 129) trackable = false;
        sport = dport = (t[4] << 8) | t[5];
      }
    }
    if (!trackable) {
      // Fragments and unknown ICMP types: Linux defragments first; we cannot, so non-first
      // fragments are UNTRACKED (rules decide), malformed/unsolicited ICMP is INVALID. ICMPv6
      // link control (MLD 130-132/143, NDP 133-137; RFC 4861, RFC 3810) has no reply tuple:
      // UNTRACKED, as Linux's nf_conntrack_proto_icmpv6 leaves it.
      if (p.fragment || (proto === IpProto.ICMPV6 && t.length >= 8 && ((t[0] >= 130 && t[0] <= 137) || t[0] === 143))) {
        p.ctState = CtState.UNTRACKED;
        return;
      }
      this.count('invalid.untrackable');
      p.ctState = CtState.INVALID;
      return;
    }
    const now = this.clock.now();
    const hit = this.find(proto, type, p.src, sport, p.dst, dport);
    if (hit) {
      const e = hit.e;
      p.ct = e;
      p.ctDir = hit.dir;
      if (update) {
        if (proto === IpProto.TCP && !this.tcpUpdate(e, hit.dir, t, now)) {
          this.count('invalid.tcp-state');
          p.ctState = CtState.INVALID;
          return;
        }
        if (hit.dir === CtDir.REPLY && !e.seenReply) e.seenReply = true;
        e.packets[hit.dir]++;
        e.bytes[hit.dir] += p.length;
        this.refresh(e, now);
      }
      // A TCP SYN that reopened a closed entry is a new connection again.
      p.ctState = e.seenReply || hit.dir === CtDir.REPLY ? CtState.ESTABLISHED : CtState.NEW;
      return;
    }
    // A first packet: only those that may open a flow create an entry.
    if (proto === IpProto.TCP) {
      if (t.length < 14 || (t[13] & (F_SYN | F_ACK | F_RST | F_FIN)) !== F_SYN) {
        // nf_conntrack_tcp_loose=0: no mid-stream pickup; a stray ACK/RST/FIN is INVALID.
        this.count('invalid.tcp-no-syn');
        p.ctState = CtState.INVALID;
        return;
      }
    } else if ((proto === IpProto.ICMP && type !== 8) || (proto === IpProto.ICMPV6 && type !== 128)) {
      this.count('invalid.icmp-unsolicited-reply');
      p.ctState = CtState.INVALID;
      return;
    }
    if (this.entries.size >= this.maxEntries && !this.makeRoom()) {
      this.count('full');
      p.ctState = CtState.INVALID;
      return;
    }
    const tuple: CtTuple = { src: p.src, dst: p.dst, sport, dport, icmpType: type };
    const e = new CtEntry(this.nextId++, p.family, proto, tuple, invert(tuple, proto), now);
    if (proto === IpProto.TCP) e.tcpState = TcpCtState.SYN_SENT;
    e.packets[0] = 1;
    e.bytes[0] = p.length;
    this.refresh(e, now);
    this.entries.set(e.id, e);
    this.perSrc.set(tuple.src.key, (this.perSrc.get(tuple.src.key) ?? 0) + 1);
    this.perDst.set(tuple.dst.key, (this.perDst.get(tuple.dst.key) ?? 0) + 1);
    this.reindex(e);
    this.count('new');
    p.ct = e;
    p.ctDir = CtDir.ORIGINAL;
    p.ctState = CtState.NEW;
  }

  /** Early drop (Linux early_drop): evict an expired or the oldest non-assured entry. */
  private makeRoom(): boolean {
    if (this.gc(64) > 0) return true;
    let scanned = 0;
    for (const e of this.entries.values()) {
      if (scanned++ >= 64) break;
      if (!e.assured) {
        this.remove(e);
        this.count('early-drop');
        return true;
      }
    }
    return false;
  }

  private refresh(e: CtEntry, now: number): void {
    let s: number;
    const to = this.timeouts;
    if (e.proto === IpProto.TCP) s = to.tcp[e.tcpState];
    else if (e.proto === IpProto.UDP || e.proto === IpProto.UDPLITE) s = e.assured ? to.udpAssured : to.udpUnreplied;
    else if (e.proto === IpProto.ICMP || e.proto === IpProto.ICMPV6) s = to.icmp;
    else s = to.generic;
    if ((e.proto === IpProto.UDP || e.proto === IpProto.UDPLITE) && e.seenReply && !e.assured) {
      // Linux: a UDP flow that has seen traffic both ways becomes a stream (assured, longer timeout).
      e.assured = true;
      s = to.udpAssured;
    }
    e.expires = now + s * 1000;
  }

  /**
   * A simplified nf_conntrack_tcp state table (tcp_conntracks[] in Linux): transitions on the
   * segment's flag class and direction. Returns false for segments the table calls invalid
   * (they do not change state). Window tracking (tcp_in_window) is not done.
   */
  private tcpUpdate(e: CtEntry, dir: number, t: Uint8Array, now: number): boolean {
    if (t.length < 14) return false;
    const f = t[13];
    const S = TcpCtState;
    const st = e.tcpState;
    if (f & F_RST) {
      // RFC 9293 §3.10.7: a reset closes the connection (sequence checks are the endpoint's job).
      e.tcpState = S.CLOSE;
      return true;
    }
    const syn = (f & F_SYN) !== 0;
    const ack = (f & F_ACK) !== 0;
    const fin = (f & F_FIN) !== 0;
    if (syn && !ack) {
      if (dir === CtDir.ORIGINAL) {
        if (st === S.SYN_SENT) return true; // retransmission
        if (st === S.TIME_WAIT || st === S.CLOSE) {
          // RFC 9293 §3.10.7.4 / Linux: a new SYN reopens a closed tuple.
          e.tcpState = S.SYN_SENT;
          e.seenReply = false;
          e.assured = false;
          e.finDir = 0;
          return true;
        }
        return false;
      }
      // Simultaneous open (RFC 9293 §3.5 figure 8).
      if (st === S.SYN_SENT) {
        e.tcpState = S.SYN_RECV;
        return true;
      }
      return false;
    }
    if (syn && ack) {
      if (dir === CtDir.REPLY && (st === S.SYN_SENT || st === S.SYN_RECV)) {
        e.tcpState = S.SYN_RECV;
        return true;
      }
      if (st === S.ESTABLISHED) return true; // a retransmitted SYN/ACK after our ACK was lost
      return false;
    }
    if (fin) {
      switch (st) {
        case S.SYN_RECV:
        case S.ESTABLISHED:
          e.tcpState = S.FIN_WAIT;
          e.finDir = dir;
          e.assured = true;
          return true;
        case S.FIN_WAIT:
        case S.CLOSE_WAIT:
          if (dir !== e.finDir) e.tcpState = S.LAST_ACK;
          return true;
        case S.LAST_ACK:
        case S.TIME_WAIT:
          return true;
        default:
          return false;
      }
    }
    if (ack) {
      switch (st) {
        case S.SYN_SENT:
          return false; // an ACK before any SYN/ACK
        case S.SYN_RECV:
          if (dir === CtDir.ORIGINAL) {
            e.tcpState = S.ESTABLISHED;
            e.assured = true;
          }
          return true;
        case S.FIN_WAIT:
          if (dir !== e.finDir) e.tcpState = S.CLOSE_WAIT;
          return true;
        case S.LAST_ACK:
          if (dir === e.finDir) e.tcpState = S.TIME_WAIT;
          return true;
        default:
          return true;
      }
    }
    return false;
  }

  /** RFC 792 / RFC 4443 §2.4: an error quotes the datagram that caused it; if that belongs to a tracked flow the error is RELATED. */
  private resolveIcmpError(p: FilterInput): void {
    const t = p.transport;
    const q = t.subarray(8);
    let src: IpAddr;
    let dst: IpAddr;
    let proto: number;
    let l4: Uint8Array;
    if (p.family === 4) {
      if (q.length < 20 || q[0] >> 4 !== 4) return this.invalid(p, 'icmp-error-quote');
      const hl = (q[0] & 15) * 4;
      if (q.length < hl) return this.invalid(p, 'icmp-error-quote');
      src = IpAddr.read(4, q, 12);
      dst = IpAddr.read(4, q, 16);
      proto = q[9];
      l4 = q.subarray(hl);
    } else {
      if (q.length < 40 || q[0] >> 4 !== 6) return this.invalid(p, 'icmp-error-quote');
      src = IpAddr.read(6, q, 8);
      dst = IpAddr.read(6, q, 24);
      proto = q[6];
      l4 = q.subarray(40);
    }
    let tuple: CtTuple;
    if (hasPorts(proto)) {
      if (l4.length < 4) return this.invalid(p, 'icmp-error-quote');
      tuple = { src, dst, sport: (l4[0] << 8) | l4[1], dport: (l4[2] << 8) | l4[3], icmpType: 0 };
    } else if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
      if (l4.length < 8) return this.invalid(p, 'icmp-error-quote');
      const id = (l4[4] << 8) | l4[5];
      tuple = { src, dst, sport: id, dport: id, icmpType: l4[0] };
    } else tuple = { src, dst, sport: 0, dport: 0, icmpType: 0 };
    const hit = this.lookup(proto, tuple);
    if (!hit) return this.invalid(p, 'icmp-error-unrelated');
    p.ct = hit.e;
    // The error travels against the quoted packet's direction.
    p.ctDir = hit.dir ^ 1;
    p.ctState = CtState.RELATED;
    this.count('related');
  }

  private invalid(p: FilterInput, reason: string): void {
    this.count(`invalid.${reason}`);
    p.ctState = CtState.INVALID;
  }

  /**
   * Sets up a NAT binding on a new entry: `manip` 'dst' (DNAT, REDIRECT) or 'src' (SNAT,
   * MASQUERADE) to addr and a port from [lo, hi] (the original port when it is in range and
   * free, else the first free one: Linux's nf_nat_used_tuple check). Returns false when no
   * port is free (the caller drops the packet).
   */
  setNat(e: CtEntry, manip: 'src' | 'dst', addr: IpAddr, lo: number, hi: number): boolean {
    const r = e.reply;
    const ports = hasPorts(e.proto);
    const orig = manip === 'dst' ? r.sport : r.dport;
    const mk = (port: number): CtTuple =>
      manip === 'dst' ? { ...r, src: addr, sport: port } : { ...r, dst: addr, dport: port };
    let chosen = -1;
    if (!ports || lo < 0) chosen = orig;
    else if (orig >= lo && orig <= hi && !this.takenByOther(e, mk(orig))) chosen = orig;
    else {
      for (let port = lo; port <= hi; port++) {
        if (!this.takenByOther(e, mk(port))) {
          chosen = port;
          break;
        }
      }
    }
    if (chosen < 0) {
      this.count('nat-no-port');
      return false;
    }
    // ICMP echo: keep the identifier (both ports are the id).
    e.reply = mk(ports ? chosen : orig);
    e.natDone |= manip === 'dst' ? 1 : 2;
    this.reindex(e);
    return true;
  }

  private takenByOther(e: CtEntry, t: CtTuple): boolean {
    const hit = this.lookup(e.proto, t);
    return hit !== null && hit.e !== e;
  }

  /**
   * Applies the entry's NAT binding to the packet for one manip type (Linux: DNAT-type
   * "dst" manips at PREROUTING/OUTPUT, "src" manips at POSTROUTING/INPUT). Rewrites
   * p.datagram in place and updates p.src/p.dst. Returns false when the datagram is missing or
   * cannot be rewritten.
   */
  applyNat(p: FilterInput, manip: 'src' | 'dst'): boolean {
    const e = p.ct;
    if (!e || !e.natted) return true;
    // Linux nf_nat_packet(): a manip applies only when the flow has that kind of NAT in this
    // direction (DNAT shows as dst manip on ORIGINAL and src manip on REPLY; SNAT the reverse).
    // This matters for ICMP errors, whose outer source is often a third party.
    const dnat = !e.reply.src.equals(e.orig.dst) || e.reply.sport !== e.orig.dport;
    const snat = !e.reply.dst.equals(e.orig.src) || e.reply.dport !== e.orig.sport;
    if (!((manip === 'dst') === (p.ctDir === CtDir.ORIGINAL) ? dnat : snat)) return true;
    // The packet must look like the inverse of the other direction's tuple.
    const want = p.ctDir === CtDir.ORIGINAL ? e.reply : e.orig;
    // For a packet in direction D, its wanted dst is want.src, its wanted src is want.dst.
    const addr = manip === 'dst' ? want.src : want.dst;
    const port = manip === 'dst' ? want.sport : want.dport;
    const cur = manip === 'dst' ? p.dst : p.src;
    const d = p.datagram;
    const t = p.transport;
    const error = p.ctState === CtState.RELATED && (p.protocol === IpProto.ICMP || p.protocol === IpProto.ICMPV6) && t.length >= 8 && isIcmpError(p.protocol, t[0]);
    const curPort = error || p.fragment || t.length < 4 ? port : manip === 'dst' ? (t[2] << 8) | t[3] : (t[0] << 8) | t[1];
    if (cur.equals(addr) && (curPort === port || !hasPorts(p.protocol))) return true;
    if (!d) return false;
    if (error) {
      // The quoted packet went the other way: its opposite endpoint takes the translation.
      if (!natRewriteIcmpQuote(d, p.family, p.l4Offset, manip, addr, port)) return false;
      if (!natRewrite(d, p.family, p.l4Offset, p.protocol, p.fragment, manip, addr, -1)) return false;
    } else if (!natRewrite(d, p.family, p.l4Offset, p.protocol, p.fragment, manip, addr, port)) return false;
    if (manip === 'dst') p.dst = addr;
    else p.src = addr;
    return true;
  }
}

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6', 136: 'udplite', 132: 'sctp' };

/**
 * The table as `conntrack -L` prints it: protocol, number, seconds left, TCP state, the
 * original tuple, [UNREPLIED], the reply tuple, [ASSURED], packet/byte counters per direction.
 */
export function formatConntrack(ct: Conntrack, now: number): string[] {
  const lines: string[] = [];
  const tuple = (t: CtTuple, proto: number, dir: number, e: CtEntry): string => {
    const ports = hasPorts(proto) ? ` sport=${t.sport} dport=${t.dport}` : proto === IpProto.ICMP || proto === IpProto.ICMPV6 ? ` type=${t.icmpType} code=0 id=${t.sport}` : '';
    return `src=${t.src.key} dst=${t.dst.key}${ports} packets=${e.packets[dir]} bytes=${e.bytes[dir]}`;
  };
  for (const e of ct.all()) {
    if (e.expires <= now) continue;
    const parts = [PROTO_NAMES[e.proto] ?? 'unknown', String(e.proto), String(Math.ceil((e.expires - now) / 1000))];
    if (e.proto === IpProto.TCP) parts.push(TCP_STATE_NAMES[e.tcpState]);
    parts.push(tuple(e.orig, e.proto, 0, e));
    if (!e.seenReply) parts.push('[UNREPLIED]');
    parts.push(tuple(e.reply, e.proto, 1, e));
    if (e.assured) parts.push('[ASSURED]');
    if (e.mark) parts.push(`mark=${e.mark}`);
    lines.push(parts.join(' '));
  }
  return lines;
}
