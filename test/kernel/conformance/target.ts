// The seam between the conformance table and moat: a ConformanceTarget is a socket API at the
// syscall boundary (numbers and raw bytes in, raw bytes and errno names out), which is exactly
// what the seccomp supervisor hands the socket layer. runCase() executes a table case on any
// target the way linux_runner.py executes it on Linux, and reports the same RawResult shapes, so
// table.ts's judgeCase() judges both runners identically. moat's side (written against the
// socket layer, later) implements ConformanceTarget; nothing here knows moat.

import { encodeSockaddr } from '../../../src/kernel/sockaddr.js';
import { encodeCmsgs, encodeIn6Pktinfo, encodeInPktinfo, encodeInt, encodeLinger, encodeTimeval } from '../../../src/kernel/sockopt-codec.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { ABI_CONSTS } from './emit-table.js';
import type { AddrSpec, Case, CaseOutcome, CmsgSpec, Op, RawResult } from './table.js';

/** A failed call: the Linux errno name ('EINVAL', 'EAGAIN', ...). */
export interface Failed { err: string }
export type Sys<T> = Promise<T | Failed>;

/**
 * A socket implementation the table can run on. Every method is one system call with Linux's
 * arguments (numbers from src/kernel/socket-abi.ts, sockaddrs and option values as the bytes a
 * program passes). `fd` is whatever handle socket()/accept4() returned.
 */
export interface ConformanceTarget {
  /** Named numbers the table's {"$env": name} patterns read (README: The namespace, env values). */
  env(): Record<string, number>;
  /** Called before each case; endCase closes whatever the case left open. */
  beginCase?(name: string): Promise<void>;
  endCase?(): Promise<void>;

  socket(domain: number, type: number, protocol: number): Sys<{ fd: number }>;
  close(fd: number): Sys<object>;
  setsockopt(fd: number, level: number, name: number, optval: Uint8Array): Sys<object>;
  /** `optlen` is the caller's buffer size; the result is the bytes written and the optlen the kernel reports. */
  getsockopt(fd: number, level: number, name: number, optlen: number): Sys<{ optval: Uint8Array; optlen: number }>;
  bind(fd: number, addr: Uint8Array): Sys<object>;
  connect(fd: number, addr: Uint8Array): Sys<object>;
  listen(fd: number, backlog: number): Sys<object>;
  /** `addrlen` is the caller's buffer size; `addr` holds at most that many bytes, `addrlen` the full length. */
  accept4(fd: number, addrlen: number, flags: number): Sys<{ fd: number; addr: Uint8Array; addrlen: number }>;
  getsockname(fd: number, addrlen: number): Sys<{ addr: Uint8Array; addrlen: number }>;
  getpeername(fd: number, addrlen: number): Sys<{ addr: Uint8Array; addrlen: number }>;
  sendmsg(fd: number, data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null): Sys<{ ret: number }>;
  /** `namelen`/`controllen` 0 mean no buffer (recv rather than recvmsg). `data` is the bytes received (<= len). */
  recvmsg(fd: number, len: number, flags: number, namelen: number, controllen: number): Sys<{
    ret: number; data: Uint8Array; msgFlags: number; addr?: Uint8Array; addrlen?: number; control?: Uint8Array;
  }>;
  shutdown(fd: number, how: number): Sys<object>;
  /** poll(2) on one fd: the revents (0 on timeout). On moat, time may be virtual. */
  poll(fd: number, events: number, timeoutMs: number): Promise<number>;
  /** An ioctl whose argument is an int the kernel writes (FIONREAD, SIOCOUTQ, ...). */
  ioctlInt(fd: number, req: number): Sys<{ value: number }>;
  /** fcntl(F_SETFL, O_NONBLOCK on or off). */
  setNonblocking(fd: number, on: boolean): Sys<object>;
  /** Lets time pass (virtual on moat). */
  sleep(ms: number): Promise<void>;
}

const failed = (r: unknown): r is Failed => typeof r === 'object' && r !== null && 'err' in r;
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function c(name: string | number): number {
  if (typeof name === 'number') return name;
  const v = ABI_CONSTS[name];
  if (v === undefined) throw new Error(`unknown constant ${name}`);
  return v;
}
const flags = (names: readonly string[] | undefined): number => (names ?? []).reduce((v, n) => v | c(n), 0) >>> 0;

class CaseRun {
  readonly fds = new Map<string, number>();
  /** Sockaddrs kept by ops with `save` (they outlive their socket): {"of": name} finds them first. */
  readonly saved = new Map<string, Uint8Array>();
  constructor(readonly t: ConformanceTarget) {}

  fd(id: string): number {
    const fd = this.fds.get(id);
    if (fd === undefined) throw new Error(`no socket named ${id}`);
    return fd;
  }

  async sockname(id: string): Promise<Uint8Array> {
    const kept = this.saved.get(id);
    if (kept) return kept;
    const r = await this.t.getsockname(this.fd(id), 128);
    if (failed(r)) throw new Error(`getsockname(${id}) failed: ${r.err}`);
    return r.addr;
  }

  /** AddrSpec -> sockaddr bytes, as linux_runner.py's Ctx.addr. */
  async addr(spec: AddrSpec): Promise<Uint8Array> {
    if (spec.hex !== undefined) return Uint8Array.from(Buffer.from(spec.hex, 'hex'));
    let b: Uint8Array;
    if (spec.of !== undefined && spec.ip === undefined) {
      b = Uint8Array.from(await this.sockname(spec.of));
    } else if (spec.ip === undefined) {
      b = new Uint8Array(16);
    } else {
      let port = spec.of !== undefined ? { of: spec.of } : (spec.port ?? 0);
      if (typeof port === 'object') {
        const s = await this.sockname(port.of);
        port = (s[2] << 8) | s[3];
      }
      const ip = IpAddr.parse(spec.ip);
      b = encodeSockaddr({ family: ip.family === 6 ? 'AF_INET6' : 'AF_INET', addr: ip, port, flowinfo: spec.flowinfo, scopeId: spec.scopeId });
    }
    if (spec.family !== undefined) {
      const f = c(spec.family);
      b[0] = f & 0xff;
      b[1] = f >> 8;
    }
    if (spec.len !== undefined) {
      const out = new Uint8Array(spec.len);
      out.set(b.subarray(0, spec.len));
      b = out;
    }
    return b;
  }

  optval(op: Extract<Op, { op: 'setsockopt' }>): Uint8Array {
    let b: Uint8Array;
    if (op.int !== undefined) b = encodeInt(op.int);
    else if (op.linger) b = encodeLinger({ onoff: op.linger[0], linger: op.linger[1] });
    else if (op.timeval) b = encodeTimeval({ sec: op.timeval[0], usec: op.timeval[1] });
    else if (op.str !== undefined) b = new TextEncoder().encode(op.str);
    else if (op.hex !== undefined) b = Uint8Array.from(Buffer.from(op.hex, 'hex'));
    else throw new Error('setsockopt needs int, linger, timeval, str or hex');
    const n = op.optlen ?? b.length;
    const out = new Uint8Array(n);
    out.set(b.subarray(0, n));
    return out;
  }

  control(cmsgs: CmsgSpec[] | undefined): Uint8Array | null {
    if (!cmsgs || cmsgs.length === 0) return null;
    return encodeCmsgs(cmsgs.map((m) => {
      let data: Uint8Array;
      if (m.pktinfo) {
        const p = m.pktinfo;
        data = m.type === 'IPV6_PKTINFO'
          ? encodeIn6Pktinfo({ addr: IpAddr.parse(p.addr ?? '::').bytes, ifindex: p.ifindex ?? 0 })
          : encodeInPktinfo({ ifindex: p.ifindex ?? 0, specDst: IpAddr.parse(p.spec_dst ?? '0.0.0.0').bytes, addr: IpAddr.parse(p.addr ?? '0.0.0.0').bytes });
      } else if (m.int !== undefined) data = encodeInt(m.int);
      else data = Uint8Array.from(Buffer.from(m.hex ?? '', 'hex'));
      return { level: c(m.level), type: c(m.type), data };
    }));
  }

  async op(op: Op): Promise<RawResult> {
    const t = this.t;
    const ok = (r: object | Failed): RawResult => (failed(r) ? r : { ret: 0 });
    switch (op.op) {
      case 'socket': {
        const r = await t.socket(c(op.domain), c(op.type) | flags(op.flags), op.proto ? c(op.proto) : 0);
        if (failed(r)) return r;
        this.fds.set(op.id, r.fd);
        return { ret: 0 };
      }
      case 'close': {
        const fd = this.fd(op.fd);
        this.fds.delete(op.fd);
        return ok(await t.close(fd));
      }
      case 'setsockopt':
        return ok(await t.setsockopt(this.fd(op.fd), c(op.level), c(op.name), this.optval(op)));
      case 'getsockopt': {
        const r = await t.getsockopt(this.fd(op.fd), c(op.level), c(op.name), op.optlen ?? 256);
        return failed(r) ? r : { ret: 0, optlen: r.optlen, opt: hex(r.optval) };
      }
      case 'bind':
        return ok(await t.bind(this.fd(op.fd), await this.addr(op.addr)));
      case 'connect':
        return ok(await t.connect(this.fd(op.fd), await this.addr(op.addr)));
      case 'listen':
        return ok(await t.listen(this.fd(op.fd), op.backlog ?? 16));
      case 'accept': {
        const r = await t.accept4(this.fd(op.fd), op.addrlen ?? 128, flags(op.flags));
        if (failed(r)) return r;
        this.fds.set(op.id, r.fd);
        return { ret: 0, addr: hex(r.addr), addrlen: r.addrlen };
      }
      case 'getsockname':
      case 'getpeername': {
        const fn = op.op === 'getsockname' ? t.getsockname.bind(t) : t.getpeername.bind(t);
        const r = await fn(this.fd(op.fd), op.addrlen ?? 128);
        return failed(r) ? r : { ret: 0, addr: hex(r.addr), addrlen: r.addrlen };
      }
      case 'send': {
        const data = op.data !== undefined ? Uint8Array.from(Buffer.from(op.data, 'latin1')) : new Uint8Array(op.size ?? 0);
        const name = op.addr ? await this.addr(op.addr) : null;
        const r = await t.sendmsg(this.fd(op.fd), data, flags(op.flags), name, this.control(op.cmsg));
        return failed(r) ? r : { ret: r.ret };
      }
      case 'recv': {
        const namelen = op.namelen ?? 0, controllen = op.controllen ?? 0;
        const r = await t.recvmsg(this.fd(op.fd), op.n ?? 4096, flags(op.flags), namelen, controllen);
        if (failed(r)) return r;
        const out: RawResult = { ret: r.ret, data: hex(r.data), msgFlags: r.msgFlags };
        if (namelen) {
          out.addr = hex(r.addr ?? new Uint8Array(0));
          out.addrlen = r.addrlen ?? 0;
        }
        if (controllen) out.cmsgs = parseControl(r.control ?? new Uint8Array(0));
        return out;
      }
      case 'shutdown':
        return ok(await t.shutdown(this.fd(op.fd), c(op.how)));
      case 'poll':
        return { ret: 0, revents: await t.poll(this.fd(op.fd), flags(op.events), op.timeoutMs ?? 0) };
      case 'wait': {
        // Polls until every requested event is reported or the time is up, like the Python runner.
        const want = flags(op.events);
        let left = Math.min(op.timeoutMs ?? 2000, 10000);
        for (;;) {
          const step = Math.min(left, 50);
          const rev = await t.poll(this.fd(op.fd), want, step);
          left -= step;
          if ((rev & want) === want || left <= 0) return { ret: 0, revents: rev };
          if (rev & ~want) await t.sleep(5);
        }
      }
      case 'ioctl': {
        const r = await t.ioctlInt(this.fd(op.fd), c(op.req));
        return failed(r) ? r : { ret: 0, value: r.value };
      }
      case 'nonblock':
        return ok(await t.setNonblocking(this.fd(op.fd), op.on ?? true));
      case 'fill': {
        const chunk = new Uint8Array(op.chunk ?? 65536);
        const limit = op.max ?? 64 << 20;
        let total = 0;
        while (total < limit) {
          const r = await t.sendmsg(this.fd(op.fd), chunk, c('MSG_DONTWAIT') | c('MSG_NOSIGNAL'), null, null);
          if (failed(r)) {
            if (r.err !== 'EAGAIN') return r;
            break;
          }
          total += r.ret;
        }
        return { ret: total };
      }
      case 'drain': {
        const limit = op.max ?? 64 << 20;
        let total = 0;
        while (total < limit) {
          const r = await t.recvmsg(this.fd(op.fd), 65536, c('MSG_DONTWAIT'), 0, 0);
          if (failed(r)) {
            if (r.err !== 'EAGAIN') return r;
            break;
          }
          if (r.ret === 0) break;
          total += r.ret;
        }
        return { ret: total };
      }
      case 'sleep':
        await t.sleep(Math.min(op.ms, 5000));
        return { ret: 0 };
    }
  }
}

function parseControl(b: Uint8Array): { level: number; type: number; hex: string }[] {
  const out: { level: number; type: number; hex: string }[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  while (off + 16 <= b.length) {
    const len = Number(dv.getBigUint64(off, true));
    if (len < 16 || off + len > b.length) break;
    out.push({ level: dv.getInt32(off + 8, true), type: dv.getInt32(off + 12, true), hex: hex(b.subarray(off + 16, off + len)) });
    off += (len + 7) & ~7;
  }
  return out;
}

/** Runs one case on a target; every socket the case left open is closed afterwards. */
export async function runCase(target: ConformanceTarget, c: Case): Promise<CaseOutcome> {
  const run = new CaseRun(target);
  const results: RawResult[] = [];
  await target.beginCase?.(c.name);
  try {
    for (const op of c.ops) {
      const r = await run.op(op);
      if (op.save && 'addr' in r && r.addr !== undefined) run.saved.set(op.save, Uint8Array.from(Buffer.from(r.addr, 'hex')));
      results.push(r);
    }
    return { name: c.name, results };
  } catch (e) {
    return { name: c.name, results, error: e instanceof Error ? e.message : String(e) };
  } finally {
    for (const fd of run.fds.values()) await target.close(fd);
    await target.endCase?.();
  }
}
