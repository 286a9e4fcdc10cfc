// A FIFO of bytes in fixed-size blocks: the send buffer (bytes from SND.UNA on) and the
// in-order receive buffer. Blocks are allocated on demand and dropped when drained, so an
// idle connection holds no buffer memory. Reads that fall inside one block are views, not
// copies (DESIGN.md: never copy a payload that can be sliced).

const BLOCK = 16 * 1024;

export class ByteQueue {
  private blocks: Uint8Array[] = [];
  /** Offset of the first live byte in blocks[0]. */
  private head = 0;
  /** Bytes used in the last block. */
  private tailUsed = 0;
  length = 0;

  /** Appends a copy of `data` (callers keep ownership of their buffers). */
  push(data: Uint8Array): void {
    let off = 0;
    const n = data.length;
    while (off < n) {
      let last = this.blocks.length > 0 ? this.blocks[this.blocks.length - 1] : null;
      if (!last || this.tailUsed === last.length) {
        // A small first block keeps tiny exchanges cheap; later blocks are full size.
        const size = this.length === 0 && n - off < 2048 ? 2048 : BLOCK;
        last = new Uint8Array(size);
        this.blocks.push(last);
        this.tailUsed = 0;
      }
      const k = Math.min(n - off, last.length - this.tailUsed);
      last.set(data.subarray(off, off + k), this.tailUsed);
      this.tailUsed += k;
      off += k;
    }
    this.length += n;
  }

  /** Bytes [start, start+len) from the front, as a view when contiguous, else a copy. */
  peek(start: number, len: number): Uint8Array {
    if (start < 0 || len < 0 || start + len > this.length) throw new RangeError('ByteQueue.peek out of range');
    let pos = this.head + start;
    let i = 0;
    while (i < this.blocks.length && pos >= this.blockLen(i)) {
      pos -= this.blockLen(i);
      i++;
    }
    if (len === 0) return new Uint8Array(0);
    const b = this.blocks[i];
    if (pos + len <= this.blockLen(i)) return b.subarray(pos, pos + len);
    const out = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const bl = this.blocks[i];
      const k = Math.min(len - got, this.blockLen(i) - pos);
      out.set(bl.subarray(pos, pos + k), got);
      got += k;
      pos = 0;
      i++;
    }
    return out;
  }

  /** Drops `n` bytes from the front. */
  drop(n: number): void {
    if (n > this.length) throw new RangeError('ByteQueue.drop past the end');
    this.length -= n;
    let h = this.head + n;
    // Every block but the last is full, so whole leading blocks go by their length.
    while (this.blocks.length > 1 && h >= this.blocks[0].length) {
      h -= this.blocks[0].length;
      this.blocks.shift();
    }
    this.head = h;
    if (this.length === 0) {
      this.blocks.length = 0;
      this.head = 0;
      this.tailUsed = 0;
    }
  }

  /**
   * Removes up to `n` bytes from the front. The result may be a view of an internal block;
   * that is safe because bytes once written are never overwritten (blocks are not reused).
   */
  read(n: number): Uint8Array {
    const k = Math.min(n, this.length);
    const v = this.peek(0, k);
    this.drop(k);
    return v;
  }

  /** Bytes held in allocated blocks (for memory accounting). */
  get allocated(): number {
    let s = 0;
    for (const b of this.blocks) s += b.length;
    return s;
  }

  private blockLen(i: number): number {
    return i === this.blocks.length - 1 ? this.tailUsed : this.blocks[i].length;
  }
}
