import type { NeighborHost, ArpOptions, Arp } from './index.js';

export function createArp(host: NeighborHost, opts?: ArpOptions): Arp {
  void host;
  void opts;
  throw new Error('createArp: not implemented yet');
}
