// Per-flow pcapng comments for `moat run --pcap`: the first frame of each flow carries a comment
// naming the guest process that made it ("pid 1234 curl tcp 10.0.0.2:40000"). The sandbox
// reports each socket's local port as it connects, listens or sends; this sink matches frames
// (Ethernet, IPv4/IPv6, TCP/UDP) by protocol and local port.

import type { PacketSink } from '../netstack/links/sniffer.js';
import { IpAddr } from '../netstack/wire/ip-address.js';
import type { FlowOwner } from '../kernel/sandbox/index.js';

export class FlowComments {
  private readonly owners = new Map<string, FlowOwner>();
  private readonly commented = new Set<string>();

  /** A guest socket with this protocol (6 or 17) and local port belongs to `owner`. */
  remember(port: number, proto: number, owner: FlowOwner): void {
    if (port === 0) return;
    this.owners.set(`${proto}:${port}`, owner);
  }

  /** The comment for a frame, the first time its flow is seen. */
  commentFor(frame: Uint8Array): string | undefined {
    const t = transportOf(frame);
    if (!t) return undefined;
    for (const port of [t.sport, t.dport]) {
      const key = `${t.proto}:${port}`;
      const owner = this.owners.get(key);
      if (!owner) continue;
      const flow = `${t.proto}:${t.src}:${t.sport}:${t.dst}:${t.dport}`;
      const rev = `${t.proto}:${t.dst}:${t.dport}:${t.src}:${t.sport}`;
      if (this.commented.has(flow) || this.commented.has(rev)) return undefined;
      this.commented.add(flow);
      return `pid ${owner.pid} ${owner.command} ${t.proto === 6 ? 'tcp' : 'udp'} ${t.src}:${t.sport} > ${t.dst}:${t.dport}`;
    }
    return undefined;
  }

  /** A PacketSink that adds the comments on the way to `inner`. */
  wrap(inner: PacketSink): PacketSink {
    return {
      writeFrame: (ts, data, iface, comment) => inner.writeFrame(ts, data, iface, comment ?? this.commentFor(data)),
      close: () => inner.close(),
    };
  }
}

function transportOf(f: Uint8Array): { proto: number; src: string; dst: string; sport: number; dport: number } | null {
  if (f.length < 14) return null;
  let type = (f[12]! << 8) | f[13]!;
  let off = 14;
  if (type === 0x8100 && f.length >= 18) {
    type = (f[16]! << 8) | f[17]!;
    off = 18;
  }
  let proto: number;
  let src: string;
  let dst: string;
  if (type === 0x0800) {
    if (f.length < off + 20) return null;
    const ihl = (f[off]! & 0xf) * 4;
    proto = f[off + 9]!;
    src = Array.from(f.subarray(off + 12, off + 16)).join('.');
    dst = Array.from(f.subarray(off + 16, off + 20)).join('.');
    off += ihl;
  } else if (type === 0x86dd) {
    if (f.length < off + 40) return null;
    proto = f[off + 6]!;
    src = v6(f.subarray(off + 8, off + 24));
    dst = v6(f.subarray(off + 24, off + 40));
    off += 40;
  } else {
    return null;
  }
  if ((proto !== 6 && proto !== 17) || f.length < off + 4) return null;
  return { proto, src, dst, sport: (f[off]! << 8) | f[off + 1]!, dport: (f[off + 2]! << 8) | f[off + 3]! };
}

function v6(b: Uint8Array): string {
  return `[${IpAddr.read(6, b, 0).key}]`;
}
