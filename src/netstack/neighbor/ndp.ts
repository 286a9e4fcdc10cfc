import type { NeighborHost, NdpOptions, Ndp } from './index.js';

export function createNdp(host: NeighborHost, opts?: NdpOptions): Ndp {
  void host;
  void opts;
  throw new Error('createNdp: not implemented yet');
}
