// Congestion control factory: CUBIC is the default, as on Linux.
import type { CongestionAlgorithm, CongestionControl } from './interface.js';
import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';

export type { CongestionAlgorithm, CongestionControl } from './interface.js';
export { initialWindow } from './interface.js';
export { Cubic } from './cubic.js';
export { NewReno } from './newreno.js';

export function makeCongestionControl(alg: CongestionAlgorithm, mss: number): CongestionControl {
  return alg === 'newreno' ? new NewReno(mss) : new Cubic(mss);
}
