// How the agent serves one container listener. The production serve function is the sandbox
// core's serveGuest (src/kernel/sandbox): moat's socket layer answering every trapped call on the
// container's stack. Until that module is present, the agent falls back to `denyServe`, which
// fails closed: every trapped call gets an errno, so a container never reaches the host's network
// and never sees ENOSYS from a dead listener.
//
// WIRING POINT (serveGuest): resolveDefaultServe() loads src/kernel/sandbox/index.js at run time
// and, when it exports serveGuest, uses it with { listenerFd, stack, owner }.

import { Supervisor } from '../supervisor/index.js';
import type { SyscallHandler } from '../supervisor/index.js';
import type { ErrnoName } from '../errno.js';
import type { ContainerInfo } from './state.js';
import type { PodNetwork, SandboxSession, ServeFunction } from './agent.js';

/** A serve function that answers every call with `errno` (default EPERM) through a Supervisor. */
export function denyServe(errno: ErrnoName = 'EPERM'): ServeFunction {
  return supervisorServe(() => ({ errno }));
}

/** A serve function running a Supervisor with the given handler per listener (tests, small tools). */
export function supervisorServe(handler: (container: ContainerInfo, net: PodNetwork) => SyscallHandler | ReturnType<SyscallHandler>): ServeFunction {
  return (container, listenerFd, net) => {
    const made = handler(container, net);
    const h: SyscallHandler = typeof made === 'function' ? made : () => made;
    const sup = new Supervisor(listenerFd, h).start();
    return {
      done: sup.ended,
      stop: async () => {
        sup.stop();
        await sup.idle();
      },
    };
  };
}

/** The sandbox core's entry, as the agent calls it. */
interface ServeGuestModule {
  serveGuest?: (opts: { listenerFd: number; stack: unknown; owner?: { container?: string; pod?: string } }) => SandboxSession;
}

/**
 * serveGuest from src/kernel/sandbox when it is built, else denyServe. `log` says which, once.
 */
export async function resolveDefaultServe(log: (line: string) => void): Promise<{ serve: ServeFunction; kind: 'sandbox' | 'deny' }> {
  // A computed specifier: the sandbox core is optional at build time.
  const spec = ['..', 'sandbox', 'index.js'].join('/');
  let mod: ServeGuestModule | undefined;
  try {
    mod = (await import(spec)) as ServeGuestModule;
  } catch {
    mod = undefined;
  }
  const serveGuest = mod?.serveGuest;
  if (typeof serveGuest === 'function') {
    log('serving containers with the sandbox core (serveGuest)');
    return {
      kind: 'sandbox',
      serve: (c, listenerFd, net) =>
        serveGuest({
          listenerFd,
          stack: net.stack,
          owner: { container: c.containerName ?? c.id, ...(c.pod ? { pod: `${c.pod.namespace}/${c.pod.name}` } : {}) },
        }),
    };
  }
  log('the sandbox core (src/kernel/sandbox serveGuest) is not available: every trapped socket call fails with EPERM');
  return { kind: 'deny', serve: denyServe('EPERM') };
}
