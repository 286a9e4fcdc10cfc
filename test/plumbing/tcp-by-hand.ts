// Just enough TCP, by hand, to make a Linux peer send or receive a bulk flow over a link
// under test: answer its SYN (so it sends data, which Linux TSO hands over as GSO
// aggregates), or open a connection to it and push one GSO frame.

import type { LinkEndpoint } from '../../src/netstack/link.js';
import type { FrameCollector } from './fixture.js';
import { macBytes, parseIpv4, parseTcp, tcpFrame, TCP_ACK, TCP_PSH, TCP_SYN } from './frames.js';

export interface Endpoints {
  link: LinkEndpoint;
  collector: FrameCollector;
  /** The Linux peer's address and MAC. */
  peerIp: string;
  peerMac: string;
  /** The address the test plays on the link (the link's MAC is used). */
  localIp: string;
}

/**
 * Waits for the peer's SYN to `port` and answers it with a SYN-ACK whose checksum is left
 * partial (pseudo-header only) for the link's tx checksum offload to finish: if the offload
 * did not work, the peer would drop it and send no data.
 */
export async function acceptBySynAck(e: Endpoints, port: number, mss = 1460): Promise<{ peerPort: number; peerSeq: number }> {
  const syn = await e.collector.waitFor((f) => {
    const t = parseTcp(f);
    return !!t && t.dport === port && (t.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
  }, 10_000, `SYN to port ${port}`);
  const t = parseTcp(syn.data)!;
  const frame = tcpFrame({
    srcMac: e.link.mac,
    dstMac: macBytes(e.peerMac),
    src: e.localIp,
    dst: e.peerIp,
    sport: port,
    dport: t.sport,
    seq: 1000,
    ack: (t.seq + 1) >>> 0,
    flags: TCP_SYN | TCP_ACK,
    mss,
    checksum: 'partial',
  });
  e.link.writeFrames([{ data: frame, offload: { csumStart: 34, csumOffset: 16 } }]);
  return { peerPort: t.sport, peerSeq: (t.seq + 1) >>> 0 };
}

/**
 * Connects to the peer's `port` and sends `payload` as ONE GSO frame (TSO by the kernel or
 * whole into the peer's stack). Returns once the frame is handed to the link.
 */
export async function connectAndSendGso(e: Endpoints, port: number, payload: Uint8Array, mss = 1460): Promise<void> {
  const sport = 40000 + (process.pid % 20000);
  const isn = 5000;
  e.link.writeFrames([
    {
      data: tcpFrame({ srcMac: e.link.mac, dstMac: macBytes(e.peerMac), src: e.localIp, dst: e.peerIp, sport, dport: port, seq: isn, ack: 0, flags: TCP_SYN, mss, checksum: 'full' }),
    },
  ]);
  const synAck = await e.collector.waitFor((f) => {
    const t = parseTcp(f);
    return !!t && t.sport === port && t.dport === sport && (t.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
  }, 10_000, 'SYN-ACK');
  const sa = parseTcp(synAck.data)!;
  const ack = (sa.seq + 1) >>> 0;
  const common = { srcMac: e.link.mac, dstMac: macBytes(e.peerMac), src: e.localIp, dst: e.peerIp, sport, dport: port, ack };
  e.link.writeFrames([
    { data: tcpFrame({ ...common, seq: isn + 1, flags: TCP_ACK, checksum: 'full' }) },
    {
      data: tcpFrame({ ...common, seq: isn + 1, flags: TCP_ACK | TCP_PSH, payload, checksum: 'partial' }),
      offload: { gsoType: 'tcpv4', gsoSize: mss, hdrLen: 54, csumStart: 34, csumOffset: 16 },
    },
  ]);
}

/** The TCP payload length of an IPv4/TCP frame (0 for anything else). */
export function tcpPayloadLength(f: Uint8Array): number {
  const ip = parseIpv4(f);
  const t = parseTcp(f);
  return ip && t ? t.payloadLength : 0;
}
