// The retransmission queue and SACK scoreboard: one record per segment sent and not yet
// cumulatively acknowledged (Linux keeps the same per-skb marks). Implements the pieces of
// RFC 6675 the sender needs: Update() from SACK blocks (§4), IsLost() (§4, DupThresh = 3; used
// only until RACK has an RTT), Pipe (§4), NextSeg() rule 1 (§4); RFC 2883 D-SACK recognition
// (§4); and RACK loss marking (RFC 8985 §6.2), which finds losses on SACK connections. Flags change only through the methods here, which keep byte and segment
// counters, so Pipe is O(1) and the scans start where the work is (windows of thousands of
// segments are common on fast links).

import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../wire/seq.js';
import { FIN, PSH, SYN } from './segment.js';

export const DUP_THRESH = 3;

export class SentSegment {
  /** First sequence number, and sequence length (data plus SYN/FIN). */
  constructor(
    public seq: number,
    public len: number,
    /** SYN, FIN and PSH flags it was sent with (a retransmission repeats them). */
    public ctl: number,
    public xmitTime: number,
  ) {}
  /** Times retransmitted. */
  retx = 0;
  /** Order of the latest transmission among all of the connection's (virtual time has ties). */
  order = 0;
  sacked = false;
  /** Deemed lost by IsLost(), RACK or an RTO. */
  lost = false;
  /** Retransmitted and not acknowledged since (counts in pipe a second time, RFC 6675 §4). */
  rtxOut = false;
  get end(): number {
    return seqAdd(this.seq, this.len);
  }
}

export interface AckResult {
  /** Sequence bytes newly acknowledged cumulatively. */
  acked: number;
  /** Transmit time of the newest acked segment never retransmitted (an RTT sample), or -1. */
  rttXmit: number;
  /** Whether a retransmitted segment was cumulatively acked. */
  ackedRetransmitted: boolean;
  /** Control flags (SYN/FIN) acknowledged. */
  ctlAcked: number;
}

export class Scoreboard {
  q: SentSegment[] = [];
  head = 0;
  /** Sequence bytes in the queue. */
  bytes = 0;
  sackedBytes = 0;
  sackedCount = 0;
  /** Lost and not sacked. */
  lostBytes = 0;
  lostCount = 0;
  /** Retransmitted, not sacked, not acknowledged. */
  rtxOutBytes = 0;
  /** Bytes first sent and later retransmitted (tcpi_total_retrans in bytes). */
  retransBytes = 0;
  retransSegs = 0;
  /** D-SACK blocks seen (RFC 2883): evidence of spurious retransmission. */
  dsacks = 0;
  /**
   * RACK.xmit_ts of the most recently sent segment delivered (RFC 8985 §6.2), and its place in
   * transmission order, which stands in for the RFC's end_seq tiebreak: in virtual time many
   * segments share a timestamp, and a retransmission may follow new data within one.
   */
  rackXmit = -1;
  rackOrder = -1;
  private nextOrder = 0;
  /** Smallest RTT seen, to tell a retransmission's own ACK from the original's (§6.2 step 2). */
  minRtt = Infinity;
  now = 0;
  /** RACK.fack: the highest end sequence delivered (sacked or acked), and RACK.reord. */
  fack = 0;
  hasFack = false;
  reorderingSeen = false;
  /** No segment below this index is lost and waiting for retransmission. */
  private lostHint = 0;
  /** Index of the highest sacked segment, or -1. */
  private hiSack = -1;

  get size(): number {
    return this.q.length - this.head;
  }
  get empty(): boolean {
    return this.head >= this.q.length;
  }
  first(): SentSegment | null {
    return this.head < this.q.length ? this.q[this.head] : null;
  }
  last(): SentSegment | null {
    return this.head < this.q.length ? this.q[this.q.length - 1] : null;
  }

  add(seq: number, len: number, ctl: number, now: number): SentSegment {
    const s = new SentSegment(seq, len, ctl, now);
    s.order = this.nextOrder++;
    this.q.push(s);
    this.bytes += len;
    return s;
  }

  clear(): void {
    this.q = [];
    this.head = 0;
    this.bytes = 0;
    this.sackedBytes = 0;
    this.sackedCount = 0;
    this.lostBytes = 0;
    this.lostCount = 0;
    this.rtxOutBytes = 0;
    this.lostHint = 0;
    this.hiSack = -1;
  }

  // ---- flag setters that keep the counters ----

  setLost(s: SentSegment, i: number): void {
    if (!s.lost && !s.sacked) {
      s.lost = true;
      this.lostBytes += s.len;
      this.lostCount++;
    }
    this.clearRtxOut(s);
    if (i < this.lostHint) this.lostHint = i;
  }

  /** A (lost) segment has just been sent again. */
  markRetransmitted(s: SentSegment, now: number): void {
    s.retx++;
    s.xmitTime = now;
    s.order = this.nextOrder++;
    if (!s.rtxOut && !s.sacked) {
      s.rtxOut = true;
      this.rtxOutBytes += s.len;
    }
    this.retransSegs++;
    this.retransBytes += s.len;
  }

  private clearRtxOut(s: SentSegment): void {
    if (s.rtxOut) {
      s.rtxOut = false;
      this.rtxOutBytes -= s.len;
    }
  }

  private setSacked(s: SentSegment, i: number): void {
    if (s.sacked) return;
    if (s.lost) {
      s.lost = false;
      this.lostBytes -= s.len;
      this.lostCount--;
    }
    this.clearRtxOut(s);
    s.sacked = true;
    this.sackedBytes += s.len;
    this.sackedCount++;
    if (i > this.hiSack) this.hiSack = i;
  }

  /** Takes `s` (the head) out of every counter. */
  private forget(s: SentSegment): void {
    this.bytes -= s.len;
    if (s.sacked) {
      this.sackedBytes -= s.len;
      this.sackedCount--;
    }
    if (s.lost) {
      this.lostBytes -= s.len;
      this.lostCount--;
    }
    if (s.rtxOut) this.rtxOutBytes -= s.len;
  }

  /**
   * RFC 8985 §6.2 step 3: a never-retransmitted segment delivered below the highest delivered
   * sequence shows the path reorders (RACK.reord).
   */
  private noteDelivered(s: SentSegment): void {
    const end = s.end;
    if (this.hasFack && s.retx === 0 && seqLt(end, this.fack)) this.reorderingSeen = true;
    if (!this.hasFack || seqGt(end, this.fack)) {
      this.fack = end;
      this.hasFack = true;
    }
  }

  /** RFC 8985 §6.2 step 2: RACK.xmit_ts from a delivered segment, unless its sample is ambiguous. */
  private rackUpdate(s: SentSegment): void {
    this.noteDelivered(s);
    if (s.retx > 0 && this.now - s.xmitTime < this.minRtt) return;
    if (s.order > this.rackOrder) {
      this.rackOrder = s.order;
      this.rackXmit = s.xmitTime;
    }
  }

  /** Removes what `ack` covers; a segment only partly covered is trimmed at the front. */
  ack(ack: number, res: AckResult): void {
    res.acked = 0;
    res.rttXmit = -1;
    res.ackedRetransmitted = false;
    res.ctlAcked = 0;
    const q = this.q;
    while (this.head < q.length) {
      const s = q[this.head];
      if (seqLe(s.end, ack)) {
        res.acked += s.len;
        res.ctlAcked |= s.ctl;
        if (s.retx === 0) res.rttXmit = s.xmitTime;
        else res.ackedRetransmitted = true;
        if (!s.sacked) this.rackUpdate(s);
        this.forget(s);
        this.head++;
        continue;
      }
      if (seqGt(ack, s.seq)) {
        // Partial: the receiver took part of it (or the MSS shrank); keep the rest.
        const k = seqDiff(ack, s.seq);
        res.acked += k;
        this.bytes -= k;
        if (s.sacked) this.sackedBytes -= k;
        if (s.lost) this.lostBytes -= k;
        if (s.rtxOut) this.rtxOutBytes -= k;
        s.seq = ack;
        s.len -= k;
        s.ctl &= ~SYN; // a SYN is always first
      }
      break;
    }
    if (this.lostHint < this.head) this.lostHint = this.head;
    if (this.hiSack < this.head) this.hiSack = -1;
    if (this.head > 64 && this.head * 2 > q.length) {
      const h = this.head;
      this.q = q.slice(h);
      this.head = 0;
      this.lostHint = Math.max(0, this.lostHint - h);
      this.hiSack = this.hiSack >= 0 ? this.hiSack - h : -1;
    }
  }

  /**
   * Marks segments covered by the SACK blocks (flat [l, r) pairs) as sacked. Returns the
   * number of bytes newly sacked. A first block at or below `sndUna`, or inside the second,
   * is a D-SACK (RFC 2883 §4) and only counted.
   */
  applySack(blocks: number[], sndUna: number, sndMax: number): number {
    let newly = 0;
    for (let b = 0; b < blocks.length; b += 2) {
      const l = blocks[b];
      const r = blocks[b + 1];
      if (!seqLt(l, r)) continue;
      if (b === 0 && (seqLe(r, sndUna) || (blocks.length >= 4 && seqGe(l, blocks[2]) && seqLe(r, blocks[3])))) {
        this.dsacks++;
        continue;
      }
      if (seqLe(r, sndUna) || seqGt(r, sndMax)) continue; // stale or impossible
      // binary search the first segment whose end is after l
      let lo = this.head;
      let hi = this.q.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seqLe(this.q[mid].end, l)) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.q.length; i++) {
        const s = this.q[i];
        if (seqGe(s.seq, r)) break;
        if (s.sacked) continue;
        if (seqGe(s.seq, l) && seqLe(s.end, r)) {
          this.setSacked(s, i);
          newly += s.len;
          this.rackUpdate(s);
        }
      }
    }
    return newly;
  }

  /**
   * RFC 6675 IsLost(): a segment not sacked is lost when DupThresh segments, or more than
   * (DupThresh - 1) * SMSS bytes, above it are sacked. Walks down from the highest sacked
   * segment. Returns the number of segments newly marked.
   */
  markLost(mss: number): number {
    if (this.sackedCount === 0 || this.hiSack < 0) return 0;
    let cnt = 0;
    let bytes = 0;
    let marked = 0;
    for (let i = this.hiSack; i >= this.head; i--) {
      const s = this.q[i];
      if (s.sacked) {
        cnt++;
        bytes += s.len;
        continue;
      }
      if (cnt >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) {
        if (s.lost) {
          // Everything below was marked when this one was (the rule only gets truer downwards),
          // except segments retransmitted since: those are RACK's to judge.
          break;
        }
        this.setLost(s, i);
        marked++;
      }
    }
    return marked;
  }

  /**
   * RACK (RFC 8985 §6.2 step 5): a segment sent before one that has since been delivered is
   * lost once it is older than `rttPlusReo` (RACK.rtt + RACK.reo_wnd). A retransmission is held
   * to the same rule, so a lost retransmission is found without waiting for the RTO. Returns
   * the number of segments newly marked, and in `wait` the earliest time another may qualify.
   */
  markLostRack(now: number, rttPlusReo: number): { marked: number; wait: number } {
    let marked = 0;
    let wait = Infinity;
    if (this.rackOrder < 0) return { marked, wait };
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.order > this.rackOrder) {
        // Queue order is first-transmission order: a later segment never sent again was sent
        // after this one, and one sent again was resent later still. Nothing further qualifies.
        if (s.retx === 0) break;
        continue;
      }
      if (s.sacked || (s.lost && !s.rtxOut)) continue;
      const due = s.xmitTime + rttPlusReo;
      if (now >= due) {
        this.setLost(s, i);
        marked++;
      } else if (due < wait) {
        wait = due;
      }
    }
    return { marked, wait };
  }

  /** Marks the first unsacked segment lost (dupack threshold without SACK; NewReno partial ACK). */
  markHeadLost(): SentSegment | null {
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.sacked) continue;
      this.setLost(s, i);
      return s;
    }
    return null;
  }

  /** After an RTO everything not sacked is lost (RFC 6675 §5.1; Linux tcp_enter_loss). */
  markAllLost(): void {
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (!s.sacked) this.setLost(s, i);
    }
  }

  /** Segments longer than `mss` are lost (PMTU fell: RFC 8201; Linux tcp_simple_retransmit). */
  markLostLongerThan(mss: number): number {
    let n = 0;
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (!s.sacked && !s.lost && s.len > mss) {
        this.setLost(s, i);
        n++;
      }
    }
    return n;
  }

  /** NextSeg() rule 1: the first segment lost and not yet retransmitted. */
  nextLost(): SentSegment | null {
    if (this.lostCount === 0) return null;
    for (let i = Math.max(this.lostHint, this.head); i < this.q.length; i++) {
      const s = this.q[i];
      if (s.lost && !s.rtxOut && !s.sacked) {
        this.lostHint = i;
        return s;
      }
    }
    this.lostHint = this.q.length;
    return null;
  }

  /** Cuts `s` after `firstLen` bytes (the MSS shrank, RFC 8201). */
  split(s: SentSegment, firstLen: number): void {
    const i = this.q.indexOf(s, this.head);
    if (i < 0 || firstLen <= 0 || firstLen >= s.len) return;
    // FIN and PSH belong to the end of the data, so they go with the second piece.
    const rest = new SentSegment(seqAdd(s.seq, firstLen), s.len - firstLen, s.ctl & (FIN | PSH), s.xmitTime);
    rest.retx = s.retx;
    rest.order = s.order;
    rest.lost = s.lost;
    rest.rtxOut = s.rtxOut;
    rest.sacked = s.sacked;
    // the byte counters already cover both halves; only segment counts change
    if (rest.lost) this.lostCount++;
    if (rest.sacked) this.sackedCount++;
    s.len = firstLen;
    s.ctl &= ~(FIN | PSH);
    this.q.splice(i + 1, 0, rest);
    if (this.hiSack > i) this.hiSack++;
  }

  /** RFC 6675 Pipe: bytes believed in the network. */
  pipe(): number {
    return this.bytes - this.sackedBytes - this.lostBytes + this.rtxOutBytes;
  }

  /** Pipe by walking the queue: the definition, for tests to check the counters against. */
  pipeSlow(): number {
    let p = 0;
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.sacked) continue;
      if (!s.lost) p += s.len;
      if (s.rtxOut) p += s.len;
    }
    return p;
  }

  /** Whether the first unacknowledged segment is lost (RFC 6675 §5 trigger). */
  headLost(): boolean {
    const s = this.first();
    return s !== null && s.lost;
  }
}
