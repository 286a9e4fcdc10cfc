// IP fragment reassembly (both families) and the arithmetic of fragmentation on send.
// Read first: RFC 791 §3.2 (fragmentation/reassembly), RFC 815 (hole bookkeeping), RFC 1122
// §3.3.2 (reassembly timeout, time-exceeded code 1), RFC 8200 §4.5 (IPv6 fragments, 60 s),
// RFC 5722 (overlapping IPv6 fragments: drop the whole datagram), RFC 6864 (IPv4 ID).
// Memory is capped like Linux's ipfrag_high_thresh: the oldest incomplete datagrams go first.

import type { Timer, TimerQueue } from './timers.js';

export interface ReassemblyOptions {
  /** How long an incomplete datagram waits, in ms (RFC 1122 §3.3.2 suggests 60-120 s, Linux uses 30 s for v4; RFC 8200 §4.5 says 60 s for v6). */
  timeoutMs: number;
  /** Bytes of fragment data held at most across all datagrams (Linux ipfrag_high_thresh: 4 MiB). */
  maxBytes: number;
  /** Incomplete datagrams held at most. */
  maxDatagrams: number;
  /** Largest reassembled payload (65535 minus the header for IPv4; 65535 for IPv6). */
  maxPayload: number;
}

interface Piece {
  off: number;
  end: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  pieces: Piece[]; // sorted by off, non-overlapping
  total: number; // -1 until the last fragment arrives
  bytes: number;
  /** Copy of the first fragment's header (offset 0), kept to rebuild and to quote in ICMP. */
  first: Uint8Array | null;
  timer: Timer;
}

export interface Reassembled {
  /** The first fragment's header bytes (as given to `add`). */
  header: Uint8Array;
  /** The whole fragmentable part. */
  payload: Uint8Array;
}

/**
 * One reassembly table (one per family per stack). Keys identify a datagram (RFC 791:
 * src, dst, protocol, id; RFC 8200: src, dst, id). `count` receives drop reasons, already
 * prefixed by the caller ("ipv4.frag." / "ipv6.frag.").
 */
export class Reassembler {
  private readonly table = new Map<string, Datagram>();
  private bytes = 0;

  constructor(
    private readonly timers: TimerQueue,
    private readonly opts: ReassemblyOptions,
    private readonly count: (reason: string) => void,
    /** Called when a datagram times out after its first fragment arrived (an ICMP is owed). */
    private readonly onTimeout: (firstHeader: Uint8Array, key: string) => void,
  ) {}

  get pendingDatagrams(): number {
    return this.table.size;
  }
  get pendingBytes(): number {
    return this.bytes;
  }

  /**
   * Adds one fragment: `off` (bytes) and `data` are its place in the fragmentable part, `more`
   * its MF/M flag, `header` the bytes to keep when this is the first fragment (off 0).
   * Returns the datagram when complete, else null (it counted why if it dropped something).
   */
  add(key: string, off: number, more: boolean, data: Uint8Array, header: Uint8Array): Reassembled | null {
    const end = off + data.length;
    if (end > this.opts.maxPayload) {
      this.count('dropped.too-big');
      this.discard(key);
      return null;
    }
    // RFC 8200 §4.5 (and RFC 791's 8-byte units): all but the last fragment are multiples of 8.
    if (more && (data.length & 7) !== 0) {
      this.count('dropped.bad-length');
      return null;
    }
    if (data.length === 0 && more) {
      this.count('dropped.empty');
      return null;
    }
    let d = this.table.get(key);
    if (!d) {
      if (this.table.size >= this.opts.maxDatagrams) this.evictOldest();
      d = { key, pieces: [], total: -1, bytes: 0, first: null, timer: this.timers.timer(() => this.expire(key)) };
      this.table.set(key, d);
      d.timer.schedule(this.opts.timeoutMs);
    }
    if (!more) {
      if ((d.total >= 0 && d.total !== end) || d.pieces.some((p) => p.end > end)) {
        this.count('dropped.inconsistent-length');
        this.discard(key);
        return null;
      }
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      this.count('dropped.inconsistent-length');
      this.discard(key);
      return null;
    }
    // Find the insertion point and check the neighbours for overlap.
    let i = 0;
    while (i < d.pieces.length && d.pieces[i].off < off) i++;
    const prev = i > 0 ? d.pieces[i - 1] : null;
    const next = i < d.pieces.length ? d.pieces[i] : null;
    if ((next && next.off === off && next.end === end) || (prev && prev.off === off && prev.end === end)) {
      // An exact duplicate (a retransmission or a duplicating link) is not an overlap.
      this.count('duplicate');
      return null;
    }
    if ((prev && prev.end > off) || (next && next.off < end)) {
      // RFC 5722 §4: overlapping fragments abandon the datagram. Linux applies the same rule to
      // IPv4 since the FragmentSmack fixes, and so do we: overlaps are attacks, not accidents.
      this.count('dropped.overlap');
      this.discard(key);
      return null;
    }
    if (this.bytes + data.length > this.opts.maxBytes) {
      this.evictUntil(data.length, key);
      if (this.bytes + data.length > this.opts.maxBytes) {
        this.count('dropped.memory');
        this.discard(key);
        return null;
      }
    }
    d.pieces.splice(i, 0, { off, end, data: data.slice() });
    d.bytes += data.length;
    this.bytes += data.length;
    if (off === 0) d.first = header.slice();
    if (d.total < 0 || !d.first) return null;
    // Complete when the pieces cover 0..total without a hole.
    let covered = 0;
    for (const p of d.pieces) {
      if (p.off !== covered) return null;
      covered = p.end;
    }
    if (covered !== d.total) return null;
    const payload = new Uint8Array(d.total);
    for (const p of d.pieces) payload.set(p.data, p.off);
    const first = d.first;
    this.remove(d);
    this.count('reassembled');
    return { header: first, payload };
  }

  /** Drops everything (stack shutdown). */
  clear(): void {
    for (const d of [...this.table.values()]) this.remove(d);
  }

  private expire(key: string): void {
    const d = this.table.get(key);
    if (!d) return;
    this.count('dropped.timeout');
    this.remove(d);
    // RFC 792 / RFC 8200 §4.5: time exceeded (code 1) only when the first fragment was seen.
    if (d.first) this.onTimeout(d.first, key);
  }

  private discard(key: string): void {
    const d = this.table.get(key);
    if (d) this.remove(d);
  }

  private remove(d: Datagram): void {
    d.timer.cancel();
    this.bytes -= d.bytes;
    this.table.delete(d.key);
  }

  private evictOldest(): void {
    const oldest = this.table.values().next().value;
    if (oldest) {
      this.count('dropped.evicted');
      this.remove(oldest);
    }
  }

  private evictUntil(need: number, keep: string): void {
    for (const d of [...this.table.values()]) {
      if (this.bytes + need <= this.opts.maxBytes) return;
      if (d.key === keep) continue;
      this.count('dropped.evicted');
      this.remove(d);
    }
  }
}

/**
 * Cuts `len` bytes of fragmentable payload into fragment ranges whose data fits `room` bytes
 * (the MTU minus the headers each fragment carries), every one but the last a multiple of 8
 * (RFC 791 §3.2, RFC 8200 §4.5). Returns [offset, length] pairs.
 */
export function fragmentRanges(len: number, room: number): [number, number][] {
  const step = room & ~7;
  if (step <= 0) throw new RangeError(`fragmentRanges: no room for fragment data (${room} bytes)`);
  const out: [number, number][] = [];
  for (let off = 0; off < len; off += step) out.push([off, Math.min(step, len - off)]);
  return out;
}
