// The filter hook points as the IP paths run them (netfilter's five, see FilterHooks in
// stack.ts): the verdict, its drop counter, and re-reading a header a hook rewrote (NAT). Read
// the FilterPacket contract in stack.ts first.

import { isIpv4Reject, parseIpv4Header, type Ipv4Header } from './ipv4.js';
import { parseIpv6Header, type Ipv6Header } from './ipv6.js';
import type { FilterPacket, FilterVerdict, Stack } from './stack.js';

/** Runs one hook point; true when the packet goes on. */
export function hook(s: Stack, p: FilterPacket): boolean {
  return hookVerdict(s, p) === 'accept';
}

/** Callers build the whole FilterPacket (hook and ctx included): one object per hook, no copies. */
export function hookVerdict(s: Stack, p: FilterPacket): FilterVerdict {
  const point = p.hook;
  const f = s.filter?.[point];
  if (!f) return 'accept';
  const v = f.call(s.filter, p);
  if (v === 'accept') return v;
  s.stats.count(`filter.${point}.dropped.${v.drop}`);
  return v;
}

/** After a hook that may have rewritten `pkt`: the header again if the addresses changed. */
export function reparse4(s: Stack, h: Ipv4Header, pkt: Uint8Array): Ipv4Header | null {
  if (sameBytes(pkt, 12, h.src.bytes) && sameBytes(pkt, 16, h.dst.bytes) && pkt[9] === h.protocol) return h;
  const h2 = parseIpv4Header(pkt);
  if (isIpv4Reject(h2)) {
    s.stats.count(`filter.dropped.mangled-${h2.drop}`);
    return null;
  }
  return h2;
}

export function reparse6(s: Stack, h: Ipv6Header, pkt: Uint8Array): Ipv6Header | null {
  if (sameBytes(pkt, 8, h.src.bytes) && sameBytes(pkt, 24, h.dst.bytes)) return h;
  const h2 = parseIpv6Header(pkt);
  if (typeof h2 === 'string') {
    s.stats.count(`filter.dropped.mangled-${h2}`);
    return null;
  }
  return h2;
}

export function sameBytes(buf: Uint8Array, off: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (buf[off + i] !== b[i]) return false;
  return true;
}
