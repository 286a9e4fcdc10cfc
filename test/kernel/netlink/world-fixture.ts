// The world the mirror namespace (helpers.ts withMirrorNs) has, described in TypeScript: what the
// emulation must answer exactly as Linux answers in that namespace.

import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { address, defaultRoute, ethernetInterface, kernelRoutes, loopbackInterface } from '../../../src/kernel/netlink/world.js';
import type { NetlinkWorld } from '../../../src/kernel/netlink/world.js';
import { NUD_PERMANENT, NUD_STALE } from '../../../src/kernel/netlink/constants.js';

export function mirrorWorld(index: { moat0: number; moat1: number } = { moat0: 3, moat1: 2 }): NetlinkWorld {
  const lo = loopbackInterface({ carrierChanges: 0 });
  const moat1 = ethernetInterface(index.moat1, 'moat1', Uint8Array.of(2, 0, 0, 0, 0, 2), [], { link: index.moat0, kind: 'veth', carrierChanges: 2 });
  const moat0 = ethernetInterface(
    index.moat0,
    'moat0',
    Uint8Array.of(2, 0, 0, 0, 0, 1),
    [address('10.9.8.7/24'), address('fd00:9::7/64'), address('fe80::ff:fe00:1/64')],
    { link: index.moat1, kind: 'veth', carrierChanges: 2 },
  );
  const interfaces = [lo, moat1, moat0];
  return {
    interfaces,
    routes: [...kernelRoutes(interfaces), defaultRoute(IpAddr.parse('10.9.8.1'), index.moat0), defaultRoute('fd00:9::1', index.moat0)],
    neighbors: [
      { ifindex: index.moat0, dst: IpAddr.parse('10.9.8.1'), lladdr: Uint8Array.of(2, 0, 0, 0, 0, 9), state: NUD_PERMANENT },
      { ifindex: index.moat0, dst: IpAddr.parse('fd00:9::1'), lladdr: Uint8Array.of(2, 0, 0, 0, 0, 9), state: NUD_STALE },
    ],
  };
}
