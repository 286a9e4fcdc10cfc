// The bridge between wire/tcp.ts (bytes <-> TcpRepr, RFC 9293 §3.1 with the options of
// RFC 7323 and RFC 2018) and the state machine's Segment. Checksums per RFC 9293 §3.1 with the
// pseudo-header of wire/checksum.ts; CHECKSUM_PARTIAL when the route offloads it.

import type { IpAddr } from '../wire/ip-address.js';
import type { WireError } from '../wire/error.js';
import { emitTcp, newTcpSegment, parseTcpInto, tcpChecksum, tcpHeaderLen, TCP_CHECKSUM_OFFSET, type TcpRepr, type SackBlock } from '../wire/tcp.js';
import { partialChecksum } from '../wire/checksum.js';
import type { Segment } from './segment.js';

const scratch = newTcpSegment();

/** Parses (and, unless `verified`, checks the checksum of) one TCP segment. */
export function decodeSegment(buf: Uint8Array, src: IpAddr, dst: IpAddr, verified: boolean): Segment | WireError {
  const r = parseTcpInto(scratch, buf, src, dst, { verifyChecksum: !verified });
  if (typeof r === 'string') return r;
  const sack: number[] = [];
  if (r.sackBlocks) for (const b of r.sackBlocks) sack.push(b.left, b.right);
  return {
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    seq: r.seq,
    ack: r.ack,
    flags: r.flags & 0xff,
    window: r.window,
    urgent: r.urgent,
    mss: r.mss ?? -1,
    wscale: r.windowScale ?? -1,
    sackPermitted: r.sackPermitted,
    sack,
    hasTs: r.timestamp !== null,
    tsVal: r.timestamp ? r.timestamp.tsVal : 0,
    tsEcr: r.timestamp ? r.timestamp.tsEcr : 0,
    payload: r.payload,
  };
}

function toRepr(s: Segment): TcpRepr {
  let blocks: SackBlock[] | null = null;
  if (s.sack.length > 0) {
    blocks = [];
    for (let i = 0; i + 1 < s.sack.length; i += 2) blocks.push({ left: s.sack[i], right: s.sack[i + 1] });
  }
  return {
    srcPort: s.srcPort,
    dstPort: s.dstPort,
    seq: s.seq,
    ack: s.ack,
    flags: s.flags,
    window: s.window,
    urgent: s.urgent,
    mss: s.mss >= 0 ? s.mss : null,
    windowScale: s.wscale >= 0 ? s.wscale : null,
    sackPermitted: s.sackPermitted,
    sackBlocks: blocks,
    timestamp: s.hasTs ? { tsVal: s.tsVal, tsEcr: s.tsEcr } : null,
  };
}

/**
 * Emits the header of `s` with its checksum: complete, or (when `offload`) only the
 * pseudo-header sum for the link to finish (Linux's CHECKSUM_PARTIAL).
 */
export function encodeSegment(s: Segment, src: IpAddr, dst: IpAddr, offload: boolean): Uint8Array {
  const repr = toRepr(s);
  const header = new Uint8Array(tcpHeaderLen(repr));
  emitTcp(repr, header, 0);
  const c = offload
    ? partialChecksum(src, dst, 6, header.length + s.payload.length)
    : tcpChecksum(src, dst, header, s.payload.length > 0 ? s.payload : undefined);
  header[TCP_CHECKSUM_OFFSET] = c >>> 8;
  header[TCP_CHECKSUM_OFFSET + 1] = c & 0xff;
  return header;
}

export { TCP_CHECKSUM_OFFSET };
