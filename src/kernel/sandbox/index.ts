// moat run's core: serving a guest's trapped socket calls with moat's socket layer.
import { SandboxSession, type SandboxOptions } from './session.js';

export { SandboxSession, commandOf } from './session.js';
export type { SandboxOptions, SandboxStats, FlowOwner } from './session.js';
export { StreamPump, DgramPump } from './pumps.js';
export type { Pump } from './pumps.js';

/** Starts serving the guest behind `listenerFd`; `done` resolves when its last task exits. */
export function serveGuest(opts: SandboxOptions): SandboxSession {
  return new SandboxSession(opts).start();
}
