// The retransmission queue and SACK scoreboard: one record per segment sent and not yet
// cumulatively acknowledged (Linux keeps the same per-skb marks). Implements the pieces of
// RFC 6675 the sender needs: Update() from SACK blocks (§4), IsLost() (§4, DupThresh = 3),
// Pipe (§4), NextSeg() rule 1 (§4); RFC 2883 D-SACK recognition (§4); and a RACK-style
// (RFC 8985 §6.2) re-marking of retransmissions that were lost again.

import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../wire/seq.js';

export const DUP_THRESH = 3;

export class SentSegment {
  /** First sequence number, and sequence length (data plus SYN/FIN). */
  constructor(
    public seq: number,
    public len: number,
    /** SYN and/or FIN flags carried. */
    public ctl: number,
    public xmitTime: number,
  ) {}
  /** Times retransmitted. */
  retx = 0;
  sacked = false;
  /** Deemed lost by IsLost() or by an RTO. */
  lost = false;
  /** Retransmitted since last marked lost, and not yet acknowledged (counts in pipe). */
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
  sackedBytes = 0;
  sackedCount = 0;
  /** Bytes first sent and later retransmitted (tcpi_total_retrans in bytes, for tests). */
  retransBytes = 0;
  retransSegs = 0;
  /** D-SACK blocks seen (RFC 2883): evidence of spurious retransmission. */
  dsacks = 0;
  /** Latest transmit time among segments delivered (RACK.xmit_ts, RFC 8985 §6.1). */
  rackXmit = -1;
  lostCount = 0;

  /** Smallest RTT seen, to tell a retransmission's own ACK from the original's (RFC 8985 §6.2 step 2). */
  minRtt = Infinity;
  now = 0;

  /** RFC 8985 §6.2 step 2: RACK.xmit_ts from a delivered segment, unless its sample is ambiguous. */
  private rackUpdate(s: SentSegment): void {
    if (s.retx > 0 && this.now - s.xmitTime < this.minRtt) return;
    if (s.xmitTime > this.rackXmit || (s.xmitTime === this.rackXmit && seqGt(s.end, this.rackEnd))) {
      this.rackXmit = s.xmitTime;
      this.rackEnd = s.end;
    }
  }
  /** RACK.end_seq: breaks ties between segments sent at the same time (RFC 8985 §6.2 step 2). */
  rackEnd = 0;

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
    this.q.push(s);
    return s;
  }

  clear(): void {
    this.q = [];
    this.head = 0;
    this.sackedBytes = 0;
    this.sackedCount = 0;
    this.lostCount = 0;
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
        if (s.sacked) {
          this.sackedBytes -= s.len;
          this.sackedCount--;
        } else {
          this.rackUpdate(s);
        }
        if (s.lost) this.lostCount--;
        this.head++;
        continue;
      }
      if (seqGt(ack, s.seq)) {
        // Partial: the receiver took part of it (or the MSS shrank); keep the rest.
        const k = seqDiff(ack, s.seq);
        res.acked += k;
        if (s.sacked) this.sackedBytes -= k;
        s.seq = ack;
        s.len -= k;
        s.ctl &= ~0x02; // a SYN is always first
      }
      break;
    }
    if (this.head > 64 && this.head * 2 > q.length) {
      this.q = q.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Marks segments covered by the SACK blocks (flat [l, r) pairs) as sacked. Returns the
   * number of bytes newly sacked. Blocks at or below `sndUna`, or inside another block,
   * are D-SACKs (RFC 2883 §4) and only counted.
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
          s.sacked = true;
          if (s.lost) {
            s.lost = false;
            this.lostCount--;
          }
          s.rtxOut = false;
          this.sackedBytes += s.len;
          this.sackedCount++;
          newly += s.len;
          this.rackUpdate(s);
        }
      }
    }
    return newly;
  }

  /**
   * RFC 6675 IsLost() over the whole queue: a segment not sacked is lost when DupThresh
   * segments, or more than (DupThresh - 1) * SMSS bytes, above it are sacked. Returns the
   * number of segments newly marked.
   */
  markLost(mss: number): number {
    if (this.sackedCount === 0) return 0;
    let cnt = 0;
    let bytes = 0;
    let marked = 0;
    for (let i = this.q.length - 1; i >= this.head; i--) {
      const s = this.q[i];
      if (s.sacked) {
        cnt++;
        bytes += s.len;
        continue;
      }
      if (cnt >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) {
        if (!s.lost) {
          s.lost = true;
          s.rtxOut = false;
          this.lostCount++;
          marked++;
        } else if (s.lost && !s.rtxOut) {
          // already waiting for retransmission
        }
        // everything below is lost too once the rule holds; keep walking to mark them
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
    if (this.rackXmit < 0) return { marked, wait };
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.sacked || (s.lost && !s.rtxOut)) continue;
      if (s.xmitTime > this.rackXmit || (s.xmitTime === this.rackXmit && !seqLt(s.end, this.rackEnd))) continue;
      const due = s.xmitTime + rttPlusReo;
      if (now >= due) {
        if (!s.lost) {
          s.lost = true;
          this.lostCount++;
        }
        s.rtxOut = false;
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
      if (!s.lost) {
        s.lost = true;
        this.lostCount++;
      }
      s.rtxOut = false;
      return s;
    }
    return null;
  }

  /** After an RTO everything not sacked is lost (RFC 6675 §5.1; Linux tcp_enter_loss). */
  markAllLost(): void {
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.sacked) continue;
      if (!s.lost) {
        s.lost = true;
        this.lostCount++;
      }
      s.rtxOut = false;
    }
  }

  /** RFC 2018 §8: after a timeout the receiver may have reneged; forget SACK marks. */
  clearSacks(): void {
    for (let i = this.head; i < this.q.length; i++) this.q[i].sacked = false;
    this.sackedBytes = 0;
    this.sackedCount = 0;
  }

  /** NextSeg() rule 1: the first segment lost and not yet retransmitted. */
  nextLost(): SentSegment | null {
    if (this.lostCount === 0) return null;
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.lost && !s.rtxOut && !s.sacked) return s;
    }
    return null;
  }

  /** Cuts `s` after `firstLen` bytes (the MSS shrank, RFC 1191 / RFC 8201 PMTU). */
  split(s: SentSegment, firstLen: number): void {
    const i = this.q.indexOf(s, this.head);
    if (i < 0 || firstLen <= 0 || firstLen >= s.len) return;
    const rest = new SentSegment(seqAdd(s.seq, firstLen), s.len - firstLen, s.ctl & 0x01, s.xmitTime);
    rest.retx = s.retx;
    rest.lost = s.lost;
    rest.rtxOut = s.rtxOut;
    rest.sacked = s.sacked;
    if (rest.lost) this.lostCount++;
    if (rest.sacked) this.sackedCount++;
    s.len = firstLen;
    s.ctl &= ~0x01;
    this.q.splice(i + 1, 0, rest);
  }

  /** RFC 6675 Pipe: bytes believed in the network. */
  pipe(): number {
    let p = 0;
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i];
      if (s.sacked) continue;
      if (!s.lost) p += s.len;
      if (s.rtxOut) p += s.len;
    }
    return p;
  }

  /** Whether the segment starting at `seq` (usually SND.UNA) is lost (RFC 6675 §5 trigger). */
  headLost(): boolean {
    const s = this.first();
    return s !== null && s.lost;
  }
}
