// How the agent serves one container listener. The production serve function is the sandbox
// core's serveGuest (src/kernel/sandbox): moat's socket layer answering every trapped call on the
// container's stack, one SocketLayer per network (a container's exec processes and a pod's
// containers share it, as they share the stack). `denyServe` fails closed instead: every trapped
// call gets an errno, so a container never reaches the host's network and never sees ENOSYS
// from a dead listener (`moat agent --deny`, and tests of the agent's own logic).

import { Supervisor } from '../supervisor/index.js';
import type { SyscallHandler } from '../supervisor/index.js';
import type { ErrnoName } from '../errno.js';
import { serveGuest } from '../sandbox/index.js';
import { SocketLayer } from '../socket/index.js';
import type { ContainerInfo } from './state.js';
import type { PodNetwork, ServeFunction } from './agent.js';

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

const layers = new WeakMap<PodNetwork, SocketLayer>();

/** The socket layer of a network (made on first use; it lives as long as the network). */
export function socketLayerOf(net: PodNetwork): SocketLayer {
  let l = layers.get(net);
  if (!l) {
    l = new SocketLayer(net.stack);
    layers.set(net, l);
  }
  return l;
}

/** Serves each listener with the sandbox core on its network's socket layer. */
export function sandboxServe(log: (line: string) => void = () => {}): ServeFunction {
  return (c, listenerFd, net) =>
    serveGuest({
      listenerFd,
      layer: socketLayerOf(net),
      onError: (e) => log(`internal-error container=${c.label} error=${JSON.stringify(String(e))}`),
    });
}

/** The agent's default serve function: the sandbox core. */
export async function resolveDefaultServe(log: (line: string) => void): Promise<{ serve: ServeFunction; kind: 'sandbox' | 'deny' }> {
  log('serving containers with the sandbox core (serveGuest)');
  return { kind: 'sandbox', serve: sandboxServe(log) };
}
