// Writes a TestNet trace as a pcap file (LINKTYPE_RAW: IPv4/IPv6 packets), for tshark or
// Wireshark when a test needs a closer look: `await writeTracePcap(net.trace, '/tmp/x.pcap')`.

import { PcapWriter } from '../../../src/net-plumbing/pcap/writer.js';
import { LinkType } from '../../../src/net-plumbing/pcap/format.js';
import { emitIpv4, ipv4HeaderLen } from '../../../src/netstack/wire/ipv4.js';
import { emitIpv6 } from '../../../src/netstack/wire/ipv6.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import type { TraceEntry } from './net.js';

/** One IP packet around the TCP bytes of a trace entry. */
export function ipPacket(e: TraceEntry): Uint8Array {
  const src = IpAddr.parse(e.from.slice(0, e.from.lastIndexOf(':')));
  const dst = IpAddr.parse(e.to.slice(0, e.to.lastIndexOf(':')));
  if (src.family === 4) {
    const repr = { src, dst, protocol: 6, ttl: 64, dontFragment: true, payloadLen: e.raw.length };
    const hl = ipv4HeaderLen(repr);
    const out = new Uint8Array(hl + e.raw.length);
    emitIpv4(repr, out, 0);
    out.set(e.raw, hl);
    return out;
  }
  const out = new Uint8Array(40 + e.raw.length);
  emitIpv6({ src, dst, nextHeader: 6, hopLimit: 64, payloadLen: e.raw.length }, out, 0);
  out.set(e.raw, 40);
  return out;
}

/** Writes what was sent (or only `event` entries) with virtual-time timestamps. */
export async function writeTracePcap(trace: TraceEntry[], path: string, event: TraceEntry['event'] = 'sent'): Promise<void> {
  const w = new PcapWriter(path, { linkType: LinkType.RAW });
  for (const e of trace) {
    if (e.event !== event) continue;
    w.writeFrame(BigInt(Math.round(e.t * 1e6)), ipPacket(e));
  }
  await w.close();
}
