// The TCP segment as the state machine sees it: header fields already in host numbers, options
// decoded, payload a view. Independent of the codec so that the state machine, the listener
// and the tests can build segments directly. Flags are RFC 9293 §3.1 bits.

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export interface Segment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** Window field as sent (unscaled). */
  window: number;
  urgent: number;
  /** MSS option, or -1 when absent (RFC 9293 §3.7.1). */
  mss: number;
  /** Window scale shift, or -1 when absent (RFC 7323 §2). */
  wscale: number;
  sackPermitted: boolean;
  /** SACK blocks as flat [left, right) pairs (RFC 2018 §3); empty when none. */
  sack: number[];
  /** Timestamps option present (RFC 7323 §3). */
  hasTs: boolean;
  tsVal: number;
  tsEcr: number;
  payload: Uint8Array;
}

export function emptySegment(): Segment {
  return {
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0,
    mss: -1, wscale: -1, sackPermitted: false, sack: [], hasTs: false, tsVal: 0, tsEcr: 0,
    payload: EMPTY,
  };
}

export const EMPTY = new Uint8Array(0);

/** Sequence space a segment occupies: data plus one for SYN and one for FIN. */
export function segLen(s: Segment): number {
  return s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0);
}

export function flagString(f: number): string {
  let s = '';
  if (f & SYN) s += 'S';
  if (f & FIN) s += 'F';
  if (f & RST) s += 'R';
  if (f & PSH) s += 'P';
  if (f & ACK) s += '.';
  if (f & URG) s += 'U';
  return s || '-';
}
