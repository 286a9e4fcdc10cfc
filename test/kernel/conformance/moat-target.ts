// moat's socket layer as a ConformanceTarget: every method is one call of src/kernel/socket's
// FdTable, on a fresh in-process stack per case that presents the world of README.md "The
// namespace": loopback (127/8, ::1), an interface 10.213.6.1/24 whose frames to 10.213.6.99
// vanish (a static neighbour, nobody on the wire), and the namespace's pinned sysctls. Time is
// virtual: a call that would block runs while the clock is advanced from timer to timer, and a
// call still blocked after the case's 15 s is interrupted (EINTR), as the Python runner's alarm does.

import { VirtualClock } from '../../../src/netstack/clock.js';
import { SeededRng } from '../../../src/netstack/random.js';
import { Stack } from '../../../src/netstack/stack.js';
import { StaticNeighbors } from '../../../src/netstack/nic.js';
import { Wire } from '../../../src/netstack/links/wire.js';
import { TcpProtocol } from '../../../src/netstack/tcp/index.js';
import { FdTable, SocketLayer } from '../../../src/kernel/socket/index.js';
import { errnoName } from '../../../src/kernel/errno.js';
import { LINUX_DEFAULT_LIMITS } from '../../../src/kernel/sockopt-codec.js';
import type { ConformanceTarget, Failed, Sys } from './target.js';

const HZ = 250;
/** The values `{"$env": name}` patterns read: moat's own "sysctls" (Linux's defaults). */
export const MOAT_ENV: Record<string, number> = {
  wmem_max: LINUX_DEFAULT_LIMITS.wmemMax,
  rmem_max: LINUX_DEFAULT_LIMITS.rmemMax,
  wmem_default: LINUX_DEFAULT_LIMITS.wmemDefault,
  rmem_default: LINUX_DEFAULT_LIMITS.rmemDefault,
  hz: HZ,
  usec_per_jiffy: 1_000_000 / HZ,
};

const err = (ret: number): Failed => ({ err: errnoName(-ret) ?? `E${-ret}` });

/** A fresh stack with the namespace's world (see the file header). */
export function conformanceStack(): { clock: VirtualClock; stack: Stack; layer: SocketLayer } {
  const clock = new VirtualClock(1_000_000);
  const neighbors = new StaticNeighbors();
  const stack = new Stack({
    clock,
    rng: new SeededRng(7),
    neighbors,
    transports: (net) => [
      new TcpProtocol(net, {
        synRetries: 2, congestion: 'newreno', sndBuf: 16384, rcvBuf: 131072,
        keepIdleMs: 7_200_000, keepIntvlMs: 75_000, keepCnt: 9,
      }),
    ],
  });
  const wire = new Wire(clock);
  stack.addNic(wire.port(), { name: 'moat-cv0', addresses: ['10.213.6.1/24'] });
  neighbors.table.set('10.213.6.99', Uint8Array.of(2, 0, 0, 0, 0, 0x99));
  const layer = new SocketLayer(stack, { hz: HZ, synRetries: 2, tcpWmemDefault: 16384, tcpRmemDefault: 131072 });
  return { clock, stack, layer };
}

export class MoatTarget implements ConformanceTarget {
  private clock!: VirtualClock;
  private stack!: Stack;
  private fds!: FdTable;
  /** Virtual time at which the current case is cut off. */
  private cutoff = 0;

  env(): Record<string, number> {
    return MOAT_ENV;
  }

  async beginCase(): Promise<void> {
    const w = conformanceStack();
    this.clock = w.clock;
    this.stack = w.stack;
    this.fds = new FdTable(w.layer);
    this.cutoff = this.clock.now() + 15_000;
  }

  async endCase(): Promise<void> {
    this.fds.closeAll();
    this.settle();
    this.stack.close();
  }

  /** Runs everything due now (loopback deliveries, flushes). */
  private settle(): void {
    for (let i = 0; i < 1000 && this.clock.nextDeadline() <= this.clock.now(); i++) this.clock.advance(0);
  }

  /**
   * Runs a call to completion in virtual time: between turns of the microtask queue the clock
   * jumps to the next timer; at the cut-off the call is interrupted through its signal.
   */
  private async drive<T>(start: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    let done = false;
    let value: T | undefined;
    const p = start(ac.signal).then((v) => {
      done = true;
      value = v;
      return v;
    });
    for (let turns = 0; turns < 1_000_000; turns++) {
      await new Promise<void>((r) => setImmediate(r));
      if (done) break;
      if (this.clock.nextDeadline() <= this.clock.now()) {
        this.clock.advance(0);
        continue;
      }
      const next = this.clock.nextDeadline();
      if (next === Infinity || next > this.cutoff) {
        if (!ac.signal.aborted) {
          if (next !== Infinity) this.clock.advanceTo(this.cutoff);
          ac.abort();
        }
        continue;
      }
      this.clock.advanceTo(next);
    }
    await p;
    this.settle();
    return value as T;
  }

  private sync<T>(fn: () => T): T {
    const r = fn();
    this.settle();
    return r;
  }

  async socket(domain: number, type: number, protocol: number): Sys<{ fd: number }> {
    const fd = this.sync(() => this.fds.socket(domain, type, protocol));
    return fd < 0 ? err(fd) : { fd };
  }
  async close(fd: number): Sys<object> {
    const r = this.sync(() => this.fds.close(fd));
    return r < 0 ? err(r) : {};
  }
  async setsockopt(fd: number, level: number, name: number, optval: Uint8Array): Sys<object> {
    const r = this.sync(() => this.fds.setsockopt(fd, level, name, optval));
    return r < 0 ? err(r) : {};
  }
  async getsockopt(fd: number, level: number, name: number, optlen: number): Sys<{ optval: Uint8Array; optlen: number }> {
    const r = this.sync(() => this.fds.getsockopt(fd, level, name, optlen));
    return r.ret < 0 ? err(r.ret) : { optval: r.optval!, optlen: r.optlen! };
  }
  async bind(fd: number, addr: Uint8Array): Sys<object> {
    const r = this.sync(() => this.fds.bind(fd, addr));
    return r < 0 ? err(r) : {};
  }
  async connect(fd: number, addr: Uint8Array): Sys<object> {
    const r = await this.drive((s) => this.fds.connect(fd, addr, s));
    return r < 0 ? err(r) : {};
  }
  async listen(fd: number, backlog: number): Sys<object> {
    const r = this.sync(() => this.fds.listen(fd, backlog));
    return r < 0 ? err(r) : {};
  }
  async accept4(fd: number, addrlen: number, flags: number): Sys<{ fd: number; addr: Uint8Array; addrlen: number }> {
    const r = await this.drive((s) => this.fds.accept4(fd, addrlen, flags, s));
    return r.ret < 0 ? err(r.ret) : { fd: r.ret, addr: r.addr!, addrlen: r.addrlen! };
  }
  async getsockname(fd: number, addrlen: number): Sys<{ addr: Uint8Array; addrlen: number }> {
    const r = this.fds.getsockname(fd, addrlen);
    return r.ret < 0 ? err(r.ret) : { addr: r.addr!, addrlen: r.addrlen! };
  }
  async getpeername(fd: number, addrlen: number): Sys<{ addr: Uint8Array; addrlen: number }> {
    const r = this.fds.getpeername(fd, addrlen);
    return r.ret < 0 ? err(r.ret) : { addr: r.addr!, addrlen: r.addrlen! };
  }
  async sendmsg(fd: number, data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null): Sys<{ ret: number }> {
    if (name) {
      // sendto's addrlen above sizeof(sockaddr_storage) is EINVAL; sendmsg's namelen is cut (README).
      const r = await this.drive((s) => (control ? this.fds.sendmsg(fd, data, flags, name, control, s) : this.fds.sendto(fd, data, flags, name, s)));
      return r < 0 ? err(r) : { ret: r };
    }
    const r = await this.drive((s) => this.fds.sendmsg(fd, data, flags, null, control, s));
    return r < 0 ? err(r) : { ret: r };
  }
  async recvmsg(fd: number, len: number, flags: number, namelen: number, controllen: number): Sys<{
    ret: number; data: Uint8Array; msgFlags: number; addr?: Uint8Array; addrlen?: number; control?: Uint8Array;
  }> {
    const r = await this.drive((s) => this.fds.recvmsg(fd, len, flags, namelen, controllen, s));
    if (r.ret < 0) return err(r.ret);
    return { ret: r.ret, data: r.data ?? new Uint8Array(0), msgFlags: r.msgFlags ?? 0, addr: r.addr, addrlen: r.addrlen, control: r.control };
  }
  async shutdown(fd: number, how: number): Sys<object> {
    const r = this.sync(() => this.fds.shutdown(fd, how));
    return r < 0 ? err(r) : {};
  }
  async poll(fd: number, events: number, timeoutMs: number): Promise<number> {
    return this.drive((s) => this.fds.poll(fd, events, timeoutMs, s));
  }
  async ioctlInt(fd: number, req: number): Sys<{ value: number }> {
    const r = this.sync(() => this.fds.ioctlInt(fd, req));
    return r.ret < 0 ? err(r.ret) : { value: r.value! };
  }
  async setNonblocking(fd: number, on: boolean): Sys<object> {
    const fl = this.fds.fcntl(fd, 3);
    if (fl < 0) return err(fl);
    const r = this.fds.fcntl(fd, 4, on ? fl | 0o4000 : fl & ~0o4000);
    return r < 0 ? err(r) : {};
  }
  async sleep(ms: number): Promise<void> {
    this.clock.advance(ms);
    this.settle();
  }
}
