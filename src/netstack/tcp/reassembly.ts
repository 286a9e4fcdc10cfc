// Out-of-order data held until the hole before it is filled (RFC 9293 §3.10.7.4 "seventh,
// process the segment text"; RFC 5681 §4.2 wants an immediate ACK meanwhile), with a memory
// cap per connection, and the SACK blocks that describe it (RFC 2018 §4: the block holding
// the most recently received segment first, then the most recently reported ones).

import { seqAdd, seqDiff } from '../wire/seq.js';

interface Piece {
  seq: number;
  data: Uint8Array;
}

export class Reassembly {
  private pieces: Piece[] = [];
  /** Payload bytes held. */
  bytes = 0;
  /** Sequence number of a FIN seen out of order, or -1. */
  finSeq = -1;
  /** Segments dropped because the cap was hit. */
  dropsOverCap = 0;
  /** Start of the block holding the latest arrival, and earlier first blocks (recency order). */
  private recent: number[] = [];

  constructor(public cap: number) {}

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /**
   * Stores the parts of [seq, seq+data.length) not already held; `rcvNxt` < seq. Copies the
   * bytes (deliveries are views of frames). Returns the number of new bytes stored, or -1 when
   * the cap refused them, or 0 for a pure duplicate.
   */
  insert(seq: number, data: Uint8Array, rcvNxt: number): number {
    const len = data.length;
    if (len === 0) return 0;
    const s0 = seqDiff(seq, rcvNxt);
    const e0 = s0 + len;
    let s = s0;
    let added = 0;
    const toAdd: Piece[] = [];
    for (const p of this.pieces) {
      const a = seqDiff(p.seq, rcvNxt);
      const b = a + p.data.length;
      if (b <= s) continue;
      if (a >= e0) break;
      if (a > s) toAdd.push({ seq: seqAdd(rcvNxt, s), data: data.subarray(s - s0, Math.min(a, e0) - s0) });
      s = Math.max(s, b);
      if (s >= e0) break;
    }
    if (s < e0) toAdd.push({ seq: seqAdd(rcvNxt, s), data: data.subarray(s - s0, e0 - s0) });
    for (const p of toAdd) added += p.data.length;
    if (added === 0) return 0;
    if (this.bytes + added > this.cap) {
      this.dropsOverCap++;
      return -1;
    }
    for (const p of toAdd) {
      const copy = p.data.slice();
      const rel = seqDiff(p.seq, rcvNxt);
      let i = this.pieces.length;
      while (i > 0 && seqDiff(this.pieces[i - 1].seq, rcvNxt) > rel) i--;
      this.pieces.splice(i, 0, { seq: p.seq, data: copy });
    }
    this.bytes += added;
    this.noteRecent(seq, rcvNxt);
    return added;
  }

  /** Removes and hands over, in order, the data now contiguous with `rcvNxt`; returns the new rcvNxt. */
  drain(rcvNxt: number, sink: (d: Uint8Array) => void): number {
    let nxt = rcvNxt;
    while (this.pieces.length > 0) {
      const p = this.pieces[0];
      const off = seqDiff(nxt, p.seq);
      if (off < 0) break;
      this.pieces.shift();
      this.bytes -= p.data.length;
      if (off < p.data.length) {
        const d = off === 0 ? p.data : p.data.subarray(off);
        sink(d);
        nxt = seqAdd(nxt, d.length);
      }
    }
    return nxt;
  }

  /** Drops everything (connection reset or closed). */
  clear(): void {
    this.pieces = [];
    this.bytes = 0;
    this.finSeq = -1;
    this.recent = [];
  }

  /**
   * Up to `max` SACK blocks as [left, right) pairs (flat array), most recent first.
   */
  sackBlocks(rcvNxt: number, max: number): number[] {
    const blocks: number[] = [];
    // merge adjacent pieces into blocks
    let i = 0;
    const merged: number[] = [];
    while (i < this.pieces.length) {
      const start = this.pieces[i].seq;
      let end = seqAdd(start, this.pieces[i].data.length);
      i++;
      while (i < this.pieces.length && this.pieces[i].seq === end) {
        end = seqAdd(end, this.pieces[i].data.length);
        i++;
      }
      if (seqDiff(end, rcvNxt) > 0) merged.push(seqDiff(start, rcvNxt) < 0 ? rcvNxt : start, end);
    }
    const used = new Set<number>();
    const take = (at: number) => {
      for (let k = 0; k < merged.length; k += 2) {
        if (used.has(k)) continue;
        if (seqDiff(at, merged[k]) >= 0 && seqDiff(at, merged[k + 1]) < 0) {
          used.add(k);
          blocks.push(merged[k], merged[k + 1]);
          return;
        }
      }
    };
    for (const r of this.recent) {
      if (blocks.length >= 2 * max) break;
      take(r);
    }
    for (let k = 0; k < merged.length && blocks.length < 2 * max; k += 2) {
      if (!used.has(k)) {
        used.add(k);
        blocks.push(merged[k], merged[k + 1]);
      }
    }
    return blocks;
  }

  private noteRecent(seq: number, _rcvNxt: number): void {
    const r = this.recent;
    const j = r.indexOf(seq);
    if (j >= 0) r.splice(j, 1);
    r.unshift(seq);
    if (r.length > 4) r.length = 4;
  }
}
