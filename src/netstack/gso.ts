// Software TCP segmentation, for links without GSO/TSO: what Linux's tcp_gso_segment does when
// the device cannot. Read first: RFC 9293 §3.1 (header, flags), RFC 3168 §6.1.2 (CWR only on
// the first segment of a burst), RFC 7414 for the offload background.
// The stack finishes each segment's checksum afterwards (lengths differ per segment).

const FLAG_FIN = 0x01;
const FLAG_PSH = 0x08;
const FLAG_CWR = 0x80;

export interface TcpSegment {
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

/**
 * Cuts one oversized TCP segment (`header` with options, `payload`) into segments of at most
 * `mss` payload bytes. Each gets its own header copy with the sequence number advanced; FIN and
 * PSH stay only on the last, CWR only on the first. Payloads are views of `payload`.
 */
export function segmentTcp(header: Uint8Array, payload: Uint8Array, mss: number): TcpSegment[] {
  if (!(mss > 0)) throw new RangeError(`segmentTcp: mss must be positive, got ${mss}`);
  if (header.length < 20) throw new RangeError('segmentTcp: TCP header shorter than 20 bytes');
  const seq0 = ((header[4] << 24) | (header[5] << 16) | (header[6] << 8) | header[7]) >>> 0;
  const flags = header[13];
  const out: TcpSegment[] = [];
  for (let off = 0; off < payload.length || out.length === 0; off += mss) {
    const h = header.slice();
    const seq = (seq0 + off) >>> 0;
    h[4] = seq >>> 24;
    h[5] = (seq >>> 16) & 0xff;
    h[6] = (seq >>> 8) & 0xff;
    h[7] = seq & 0xff;
    const last = off + mss >= payload.length;
    let f = flags;
    if (!last) f &= ~(FLAG_FIN | FLAG_PSH);
    if (off > 0) f &= ~FLAG_CWR;
    h[13] = f;
    out.push({ header: h, payload: payload.subarray(off, Math.min(off + mss, payload.length)) });
    if (payload.length === 0) break;
  }
  return out;
}
