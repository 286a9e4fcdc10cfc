// Adapter: the rule engine behind today's stack FilterHooks (stack.ts). It does what those
// hooks allow: every match, every filtering target, conntrack, LOG/audit. What they do not
// allow yet (the report to the stack owner lists the needed additions):
//  - NAT: the hooks pass the transport bytes, not the whole datagram, and the stack neither
//    re-reads addresses nor re-routes after a hook; a packet whose flow has a NAT binding is
//    dropped with reason 'nat' rather than sent untranslated.
//  - REJECT: the stack only drops. The adapter builds the reply (RST / ICMP) from the headers it
//    sees and hands it to `onReject` so the owner can inject it; locally generated packets get
//    EPERM from the stack, where Linux gives ECONNREFUSED (tcp-reset) or EHOSTUNREACH/ENETUNREACH.
//  - IPv6 at PREROUTING/FORWARD: the hook names the first next header; the adapter walks the
//    extension headers itself to reach ports and ICMPv6 types.
//  - Marks and the conntrack entry do not travel between the hooks of one packet: each hook
//    looks the flow up again (conntrack indexes translated tuples for that reason) and MARK
//    set in one hook is not seen by the next.

import type { FilterHooks, FilterPacket, FilterVerdict, HookPoint } from '../stack.js';
import { IpProto } from '../wire/ip-proto.js';
import { isIpv6ExtensionHeader, walkIpv6Extensions } from '../wire/ipv6-ext.js';
import type { FilterEngine } from './engine.js';
import { isReject } from './engine.js';
import { FilterInput } from './packet.js';
import { buildRejectReply } from './reject.js';
import type { RejectWith } from './rules.js';

export interface FilterHooksOptions {
  /** Interface name for a NIC id (for -i/-o). */
  nicName?: (nicId: number) => string | undefined;
  /** Called with the reply datagram a REJECT rule produced (route and send it toward p.src). */
  onReject?: (reply: Uint8Array, kind: RejectWith, p: FilterPacket) => void;
}

/** Today's FilterHooks, served by the engine. One FilterInput is reused: no allocation per packet. */
export function createFilterHooks(engine: FilterEngine, opts: FilterHooksOptions = {}): FilterHooks {
  const input = new FilterInput();
  const nicName = opts.nicName;
  const run = (hook: HookPoint, p: FilterPacket): FilterVerdict => {
    input.reset();
    input.family = p.family;
    input.src = p.src;
    input.dst = p.dst;
    input.protocol = p.protocol;
    input.transport = p.transport;
    input.fragment = p.fragment;
    if (p.family === 6 && !p.fragment && isIpv6ExtensionHeader(p.protocol)) {
      // PREROUTING/FORWARD hand over what follows the fixed header: step over extension headers
      // (RFC 8200 §4) so port and type matches read the upper-layer header.
      const chain = walkIpv6Extensions(p.protocol, p.transport);
      if (typeof chain !== 'string') {
        if (chain.fragment) {
          input.protocol = chain.fragment.nextHeader;
          input.fragment = chain.fragment.offset !== 0;
          input.transport = p.transport.subarray(chain.fragmentOffset + 8);
        } else {
          input.protocol = chain.upperProtocol;
          input.transport = p.transport.subarray(chain.upperOffset);
        }
      }
    }
    input.length = p.length;
    input.inNic = p.inNic ?? 0;
    input.outNic = p.outNic ?? 0;
    if (nicName) {
      if (p.inNic !== undefined) input.inIface = nicName(p.inNic) ?? '';
      if (p.outNic !== undefined) input.outIface = nicName(p.outNic) ?? '';
    }
    input.owner = p.owner;
    const v = engine.run(hook, input);
    if (v !== 'accept' && isReject(v) && opts.onReject) {
      const reply = buildRejectReply(synthesize(p), v.reject);
      if (reply) opts.onReject(reply, v.reject, p);
    }
    return v;
  };
  return {
    PREROUTING: (p) => run('PREROUTING', p),
    INPUT: (p) => run('INPUT', p),
    FORWARD: (p) => run('FORWARD', p),
    OUTPUT: (p) => run('OUTPUT', p),
    POSTROUTING: (p) => run('POSTROUTING', p),
  };
}

/**
 * Rebuilds an IP datagram from what a hook sees (header fields + transport bytes) so the reject
 * helper can quote it. The IPv4 checksum is left zero: the quote is for the peer's matching only.
 */
function synthesize(p: FilterPacket): Uint8Array {
  const hl = p.family === 4 ? 20 : 40;
  // Quote at most what an ICMP error carries; TCP needs only its header.
  const t = p.transport.subarray(0, Math.min(p.transport.length, p.protocol === IpProto.TCP ? 60 : 1232));
  const d = new Uint8Array(hl + t.length);
  if (p.family === 4) {
    d[0] = 0x45;
    d[2] = (hl + t.length) >> 8;
    d[3] = (hl + t.length) & 0xff;
    d[8] = 64;
    d[9] = p.protocol;
    d.set(p.src.bytes, 12);
    d.set(p.dst.bytes, 16);
  } else {
    d[0] = 0x60;
    d[4] = t.length >> 8;
    d[5] = t.length & 0xff;
    d[6] = p.protocol;
    d[7] = 64;
    d.set(p.src.bytes, 8);
    d.set(p.dst.bytes, 24);
  }
  d.set(t, hl);
  return d;
}
