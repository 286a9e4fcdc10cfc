// A small syscall-shaped adapter over the netstack's TCP and UDP endpoints, for the script
// runner only, until the real socket layer lands in src/kernel. It maps packetdrill's syscall
// lines onto endpoint calls with Linux's return values and errno names (socket(2), bind(2),
// listen(2), accept(2), connect(2), read(2), write(2), send(2), recv(2), shutdown(2), close(2),
// fcntl(2), poll(2), setsockopt(2)/getsockopt(2), tcp(7), socket(7)).
//
// Supported, by name (anything else fails the script with "unsupported ... by name"):
export const SUPPORTED_SYSCALLS = [
  'socket', 'bind', 'listen', 'accept', 'connect', 'read', 'write', 'send', 'recv', 'sendto', 'recvfrom',
  'shutdown', 'close', 'fcntl', 'poll', 'setsockopt', 'getsockopt',
] as const;
export const SUPPORTED_SOCKOPTS = [
  'SO_REUSEADDR', 'SO_REUSEPORT', 'SO_RCVBUF', 'SO_SNDBUF', 'SO_LINGER', 'SO_KEEPALIVE', 'SO_ERROR (get)', 'SO_TYPE (get)',
  'TCP_NODELAY', 'TCP_CORK', 'TCP_MAXSEG', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT', 'TCP_USER_TIMEOUT',
  'TCP_QUICKACK', 'TCP_CONGESTION',
] as const;
// fcntl: F_GETFL, F_SETFL (O_NONBLOCK). poll: POLLIN POLLOUT POLLERR POLLHUP POLLRDHUP.
// send/recv flags: 0, MSG_DONTWAIT, MSG_NOSIGNAL. Buffers are `...` (zeros are written).

import type { IpAddr, Stack, UdpEndpoint } from '../../netstack/index.js';
import type { TcpEndpoint, TcpProtocol } from '../../netstack/tcp/index.js';
import { isNetError, type NetError } from '../../netstack/errors.js';
import { ERRNO, errnoName } from '../errno.js';
import { exprText, type Expr, type SyscallSpec } from './parser.js';

export const CONSTANTS: Record<string, number> = {
  AF_INET: 2, AF_INET6: 10, PF_INET: 2, PF_INET6: 10, AF_UNSPEC: 0,
  SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_NONBLOCK: 0o4000, SOCK_CLOEXEC: 0o2000000,
  IPPROTO_IP: 0, IPPROTO_TCP: 6, IPPROTO_UDP: 17, IPPROTO_IPV6: 41,
  SOL_SOCKET: 1, SOL_TCP: 6, SOL_IP: 0, SOL_IPV6: 41,
  SO_DEBUG: 1, SO_REUSEADDR: 2, SO_TYPE: 3, SO_ERROR: 4, SO_SNDBUF: 7, SO_RCVBUF: 8, SO_KEEPALIVE: 9,
  SO_LINGER: 13, SO_REUSEPORT: 15,
  TCP_NODELAY: 1, TCP_MAXSEG: 2, TCP_CORK: 3, TCP_KEEPIDLE: 4, TCP_KEEPINTVL: 5, TCP_KEEPCNT: 6,
  TCP_INFO: 11, TCP_QUICKACK: 12, TCP_CONGESTION: 13, TCP_USER_TIMEOUT: 18,
  F_GETFL: 3, F_SETFL: 4, O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_NONBLOCK: 0o4000,
  SHUT_RD: 0, SHUT_WR: 1, SHUT_RDWR: 2,
  POLLIN: 0x1, POLLPRI: 0x2, POLLOUT: 0x4, POLLERR: 0x8, POLLHUP: 0x10, POLLNVAL: 0x20, POLLRDHUP: 0x2000,
  MSG_PEEK: 2, MSG_DONTWAIT: 0x40, MSG_NOSIGNAL: 0x4000,
  ...ERRNO,
};

/** The outcome of one system call, in Linux terms. */
export interface CallOutcome {
  ret: number;
  errno: string | null;
  /** Output arguments whose actual values differ from the script's (getsockopt, poll). */
  mismatch?: string;
}

export class UnsupportedError extends Error {}
export class ScriptValueError extends Error {}

interface Sock {
  fd: number;
  kind: 'tcp' | 'udp';
  nonblock: boolean;
  tcp?: TcpEndpoint;
  udp?: UdpEndpoint;
  /** A pending error for SO_ERROR (set by the endpoint's onError). */
  soError: NetError | null;
  connecting: boolean;
  /**
   * The endpoint's fatal error once reported: Linux reports sk_err once (sock_error() clears
   * it), after which reads see end of stream and writes EPIPE. TcpEndpoint now does this itself
   * (read/write/takeSoError report once); this remembers it across paths all the same.
   */
  reported: NetError | null;
}

export interface AdapterEnv {
  stack: Stack;
  tcp: TcpProtocol;
  family: 4 | 6;
  local: IpAddr;
  remote: IpAddr;
  /** packetdrill's --bind_port / --connect_port (8080). */
  bindPort: number;
  connectPort: number;
  now(): number;
}

/** One call in progress: `attempt` returns its outcome, or null while it would block. */
export interface PendingCall {
  attempt(): CallOutcome | null;
}

const fail = (errno: string): CallOutcome => ({ ret: -1, errno });
const ok = (ret = 0): CallOutcome => ({ ret, errno: null });

export function evalInt(e: Expr, what: string): number {
  switch (e.k) {
    case 'num':
      return e.v;
    case 'name': {
      const v = CONSTANTS[e.v];
      if (v === undefined) throw new UnsupportedError(`constant ${e.v} (in ${what}) is unknown to moat's runner`);
      return v;
    }
    case 'or':
      return e.parts.reduce((a, p) => a | evalInt(p, what), 0);
    case 'list':
      if (e.items.length === 1) return evalInt(e.items[0]!, what);
      break;
    case 'call':
      if (e.fn === 'htons' && e.args.length === 1) return evalInt(e.args[0]!, what);
      break;
    default:
      break;
  }
  throw new ScriptValueError(`${what}: expected an integer, got ${exprText(e)}`);
}

export class SyscallAdapter {
  private readonly socks = new Map<number, Sock>();

  constructor(private readonly env: AdapterEnv) {}

  /** Sockets by fd, for the runner's packet routing and reports. */
  get sockets(): ReadonlyMap<number, Sock> {
    return this.socks;
  }

  private newFd(): number {
    let fd = 3;
    while (this.socks.has(fd)) fd++;
    return fd;
  }

  private sock(args: Expr[], name: string): Sock | CallOutcome {
    const fd = evalInt(args[0] ?? { k: 'ellipsis' }, `${name} fd`);
    return this.socks.get(fd) ?? fail('EBADF');
  }

  private watch(s: Sock, ep: TcpEndpoint): void {
    ep.on({
      onError: (_e, code) => {
        s.soError = code;
      },
    });
  }

  /** Starts a call. Throws UnsupportedError for calls, options or flags moat does not emulate. */
  start(call: SyscallSpec): PendingCall {
    const a = call.args;
    const now = (o: CallOutcome): PendingCall => ({ attempt: () => o });
    switch (call.name) {
      case 'socket':
        return now(this.socket(a));
      case 'bind':
      case 'listen':
      case 'shutdown':
      case 'close':
      case 'fcntl':
      case 'setsockopt':
      case 'getsockopt': {
        const s = this.sock(a, call.name);
        if (!('fd' in s)) return now(s);
        return now(this[call.name](s, a));
      }
      case 'accept':
      case 'connect':
      case 'read':
      case 'recv':
      case 'recvfrom':
      case 'write':
      case 'send':
      case 'sendto': {
        const s = this.sock(a, call.name);
        if (!('fd' in s)) return now(s);
        return this.blocking(call.name, s, a);
      }
      case 'poll':
        return this.poll(a);
      default:
        throw new UnsupportedError(`system call ${call.name}() is not supported by moat's runner (supported: ${SUPPORTED_SYSCALLS.join(', ')})`);
    }
  }

  private socket(a: Expr[]): CallOutcome {
    const type = evalInt(a[1] ?? { k: 'num', v: 1 }, 'socket type');
    const base = type & 0xf;
    const nonblock = (type & CONSTANTS.SOCK_NONBLOCK!) !== 0;
    if (a[0] && a[0].k !== 'ellipsis') {
      const dom = evalInt(a[0], 'socket domain');
      if (dom !== (this.env.family === 4 ? 2 : 10)) return fail('EAFNOSUPPORT');
    }
    const fd = this.newFd();
    if (base === 1) {
      const s: Sock = { fd, kind: 'tcp', nonblock, tcp: this.env.tcp.endpoint(), soError: null, connecting: false, reported: null };
      this.watch(s, s.tcp!);
      this.socks.set(fd, s);
    } else if (base === 2) {
      this.socks.set(fd, { fd, kind: 'udp', nonblock, udp: this.env.stack.udp.endpoint(this.env.family), soError: null, connecting: false, reported: null });
    } else throw new UnsupportedError(`socket type ${type} (only SOCK_STREAM and SOCK_DGRAM)`);
    return ok(fd);
  }

  private addr(e: Expr | undefined, port: number): { addr: IpAddr; port: number } {
    if (!e || e.k === 'ellipsis') return { addr: this.env.local, port };
    throw new UnsupportedError(`explicit socket addresses (${exprText(e)}): moat's runner takes "..." (packetdrill's defaults)`);
  }

  private bind(s: Sock, a: Expr[]): CallOutcome {
    const { addr, port } = this.addr(a[1], this.env.bindPort);
    const r = s.kind === 'tcp' ? s.tcp!.bind(addr, port) : s.udp!.bind(addr, port);
    return isNetError(r) ? fail(r) : ok();
  }

  private listen(s: Sock, a: Expr[]): CallOutcome {
    if (s.kind !== 'tcp') return fail('EOPNOTSUPP');
    const r = s.tcp!.listen(evalInt(a[1] ?? { k: 'num', v: 128 }, 'listen backlog'));
    return isNetError(r) ? fail(r) : ok();
  }

  private shutdown(s: Sock, a: Expr[]): CallOutcome {
    const how = evalInt(a[1]!, 'shutdown how');
    if (s.kind !== 'tcp') return fail('ENOTCONN');
    const r = s.tcp!.shutdown(how === 0 ? 'read' : how === 1 ? 'write' : 'both');
    return isNetError(r) ? fail(r) : ok();
  }

  private close(s: Sock, _a: Expr[]): CallOutcome {
    this.socks.delete(s.fd);
    if (s.kind === 'tcp') s.tcp!.close();
    else s.udp!.close();
    return ok();
  }

  private fcntl(s: Sock, a: Expr[]): CallOutcome {
    const cmd = evalInt(a[1]!, 'fcntl command');
    if (cmd === CONSTANTS.F_GETFL) return ok(CONSTANTS.O_RDWR! | (s.nonblock ? CONSTANTS.O_NONBLOCK! : 0));
    if (cmd === CONSTANTS.F_SETFL) {
      s.nonblock = (evalInt(a[2]!, 'fcntl flags') & CONSTANTS.O_NONBLOCK!) !== 0;
      return ok();
    }
    throw new UnsupportedError(`fcntl command ${exprText(a[1]!)} (F_GETFL and F_SETFL are supported)`);
  }

  private optName(level: Expr, name: Expr): string {
    const n = name.k === 'name' ? name.v : String(evalInt(name, 'option name'));
    const l = level.k === 'name' ? level.v : String(evalInt(level, 'option level'));
    return `${l === 'IPPROTO_TCP' ? 'SOL_TCP' : l}/${n}`;
  }

  private setsockopt(s: Sock, a: Expr[]): CallOutcome {
    const key = this.optName(a[1]!, a[2]!);
    const val = a[3]!;
    const int = () => evalInt(val, key);
    const ep = s.tcp;
    if (s.kind === 'udp' && !/^SOL_SOCKET\/SO_(REUSEADDR|REUSEPORT|RCVBUF|SNDBUF)$/.test(key)) {
      throw new UnsupportedError(`setsockopt ${key} on a UDP socket`);
    }
    switch (key) {
      case 'SOL_SOCKET/SO_REUSEADDR':
        if (ep) ep.setReuseAddr(int() !== 0);
        else s.udp!.reuseAddr = int() !== 0;
        return ok();
      case 'SOL_SOCKET/SO_REUSEPORT':
        if (ep) ep.setReusePort(int() !== 0);
        else s.udp!.reusePort = int() !== 0;
        return ok();
      case 'SOL_SOCKET/SO_RCVBUF':
        // socket(7): the kernel doubles the value (bookkeeping overhead); minimum 2304.
        if (ep) ep.setRcvBuf(Math.max(2 * int(), 2304));
        return ok();
      case 'SOL_SOCKET/SO_SNDBUF':
        if (ep) ep.setSndBuf(Math.max(2 * int(), 4608));
        return ok();
      case 'SOL_SOCKET/SO_KEEPALIVE':
        ep!.setKeepAlive(int() !== 0);
        return ok();
      case 'SOL_SOCKET/SO_LINGER': {
        if (val.k !== 'struct') throw new ScriptValueError('SO_LINGER wants {l_onoff=..., l_linger=...}');
        const f = (n: string, i: number) => evalInt((val.fields.find((x) => x.name === n) ?? val.fields[i])!.value, `SO_LINGER ${n}`);
        ep!.setLinger(f('l_onoff', 0) ? f('l_linger', 1) * 1000 : null);
        return ok();
      }
      case 'SOL_TCP/TCP_NODELAY':
        ep!.setNoDelay(int() !== 0);
        return ok();
      case 'SOL_TCP/TCP_CORK':
        ep!.setCork(int() !== 0);
        return ok();
      case 'SOL_TCP/TCP_MAXSEG': {
        const v = int();
        // tcp(7): values outside 88..MAX_TCP_WINDOW are EINVAL (0 resets to the default).
        if (v !== 0 && (v < 88 || v > 32767)) return fail('EINVAL');
        ep!.setMaxSeg(v);
        return ok();
      }
      case 'SOL_TCP/TCP_KEEPIDLE':
        ep!.setKeepAlive(ep!.opts.keepAlive, int() * 1000);
        return ok();
      case 'SOL_TCP/TCP_KEEPINTVL':
        ep!.setKeepAlive(ep!.opts.keepAlive, undefined, int() * 1000);
        return ok();
      case 'SOL_TCP/TCP_KEEPCNT':
        ep!.setKeepAlive(ep!.opts.keepAlive, undefined, undefined, int());
        return ok();
      case 'SOL_TCP/TCP_USER_TIMEOUT':
        if (int() < 0) return fail('EINVAL');
        ep!.setUserTimeout(int());
        return ok();
      case 'SOL_TCP/TCP_QUICKACK':
        ep!.setQuickAck(int() !== 0);
        return ok();
      case 'SOL_TCP/TCP_CONGESTION': {
        if (val.k !== 'str') throw new ScriptValueError('TCP_CONGESTION wants a "string"');
        if (val.v === 'cubic' || val.v === 'newreno' || val.v === 'reno') {
          ep!.setCongestion(val.v === 'cubic' ? 'cubic' : 'newreno');
          return ok();
        }
        return fail('ENOENT');
      }
      default:
        throw new UnsupportedError(`setsockopt ${key} (supported: ${SUPPORTED_SOCKOPTS.join(', ')})`);
    }
  }

  private getsockopt(s: Sock, a: Expr[]): CallOutcome {
    const key = this.optName(a[1]!, a[2]!);
    let actual: number;
    switch (key) {
      case 'SOL_SOCKET/SO_ERROR': {
        // TcpEndpoint.takeSoError() reports the fatal error once (as sock_error() clears sk_err),
        // else a soft ICMP error.
        let e = s.kind === 'tcp' ? s.tcp!.takeSoError() : s.udp!.takeError();
        if (s.kind === 'tcp' && e && e === s.reported) e = null;
        actual = e ? ERRNO[e] : 0;
        if (e && s.kind === 'tcp') s.reported = e;
        s.soError = null;
        break;
      }
      case 'SOL_SOCKET/SO_TYPE':
        actual = s.kind === 'tcp' ? 1 : 2;
        break;
      case 'SOL_TCP/TCP_NODELAY':
        actual = s.tcp!.opts.noDelay ? 1 : 0;
        break;
      case 'SOL_TCP/TCP_MAXSEG':
        actual = s.tcp!.mss;
        break;
      case 'SOL_SOCKET/SO_RCVBUF':
        actual = s.tcp!.opts.rcvBuf;
        break;
      case 'SOL_SOCKET/SO_SNDBUF':
        actual = s.tcp!.opts.sndBuf;
        break;
      default:
        throw new UnsupportedError(`getsockopt ${key} (supported for reading: SO_ERROR, SO_TYPE, SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, TCP_MAXSEG)`);
    }
    const want = a[3];
    if (want && want.k !== 'ellipsis') {
      const w = evalInt(want, `getsockopt ${key} value`);
      if (w !== actual) {
        const n = key.endsWith('SO_ERROR') ? ` (${errnoName(actual) ?? actual})` : '';
        return { ...ok(), mismatch: `getsockopt ${key} value: expected ${exprText(want)} vs actual ${actual}${n}` };
      }
    }
    return ok();
  }

  private pollOne(fd: number, events: number): number {
    const s = this.socks.get(fd);
    if (!s) return CONSTANTS.POLLNVAL!;
    let r = 0;
    if (s.kind === 'udp') {
      if (s.udp!.readable) r |= CONSTANTS.POLLIN!;
      if (s.udp!.writable) r |= CONSTANTS.POLLOUT!;
      if (s.udp!.hasError) r |= CONSTANTS.POLLERR!;
      return r & (events | CONSTANTS.POLLERR! | CONSTANTS.POLLHUP!);
    }
    const ep = s.tcp!;
    const st = ep.stateName;
    if (ep.listener) {
      if (ep.listener.acceptQueue.length > 0) r |= CONSTANTS.POLLIN!;
      return r & events;
    }
    if (ep.error || s.soError) r |= CONSTANTS.POLLERR!;
    if (ep.readable > 0 || ep.finReceived) r |= CONSTANTS.POLLIN!;
    if (ep.finReceived) r |= CONSTANTS.POLLRDHUP!;
    const connected = st === 'ESTABLISHED' || st === 'CLOSE_WAIT';
    if (connected && ep.writable > 0) r |= CONSTANTS.POLLOUT!;
    // tcp_poll: HUP when both directions are shut or the connection is CLOSED after use.
    if (st === 'CLOSED' && (ep.error || s.soError || s.connecting)) r |= CONSTANTS.POLLHUP! | CONSTANTS.POLLIN! | CONSTANTS.POLLOUT!;
    if (ep.finReceived && (st === 'LAST_ACK' || st === 'TIME_WAIT' || st === 'CLOSED')) r |= CONSTANTS.POLLHUP!;
    return r & (events | CONSTANTS.POLLERR! | CONSTANTS.POLLHUP!);
  }

  private poll(a: Expr[]): PendingCall {
    const list = a[0];
    if (!list || list.k !== 'list') throw new ScriptValueError('poll wants [{fd=..., events=..., revents=...}, ...]');
    const entries = list.items.map((it) => {
      if (it.k !== 'struct') throw new ScriptValueError('poll entries are {fd=..., events=..., revents=...}');
      const f = (n: string) => it.fields.find((x) => x.name === n)?.value;
      return { fd: evalInt(f('fd')!, 'poll fd'), events: evalInt(f('events')!, 'poll events'), revents: f('revents') };
    });
    const timeout = a[2] && a[2].k !== 'ellipsis' ? evalInt(a[2], 'poll timeout') : 0;
    const start = this.env.now();
    return {
      attempt: () => {
        const got = entries.map((e) => this.pollOne(e.fd, e.events));
        const n = got.filter((r) => r !== 0).length;
        if (n === 0 && (timeout < 0 || this.env.now() - start < timeout)) return null;
        for (let i = 0; i < entries.length; i++) {
          const w = entries[i]!.revents;
          if (w && w.k !== 'ellipsis' && evalInt(w, 'poll revents') !== got[i]) {
            return { ret: n, errno: null, mismatch: `poll revents of fd ${entries[i]!.fd}: expected ${exprText(w)} vs actual ${reventsText(got[i]!)}` };
          }
        }
        return ok(n);
      },
    };
  }

  private blocking(name: string, s: Sock, a: Expr[]): PendingCall {
    const flagsArg = name === 'send' || name === 'recv' || name === 'sendto' || name === 'recvfrom' ? a[3] : undefined;
    const flags = flagsArg && flagsArg.k !== 'ellipsis' ? evalInt(flagsArg, `${name} flags`) : 0;
    if (flags & ~(CONSTANTS.MSG_DONTWAIT! | CONSTANTS.MSG_NOSIGNAL!)) throw new UnsupportedError(`${name} flags ${exprText(flagsArg!)} (0, MSG_DONTWAIT and MSG_NOSIGNAL are supported)`);
    const nonblock = () => s.nonblock || (flags & CONSTANTS.MSG_DONTWAIT!) !== 0;
    switch (name) {
      case 'accept':
        return {
          attempt: () => {
            if (s.kind !== 'tcp') return fail('EOPNOTSUPP');
            const r = s.tcp!.accept();
            if (r === 'EAGAIN' && !nonblock()) return null;
            if (isNetError(r)) return fail(r);
            const fd = this.newFd();
            const c: Sock = { fd, kind: 'tcp', nonblock: false, tcp: r, soError: null, connecting: false, reported: null };
            this.watch(c, r);
            this.socks.set(fd, c);
            return ok(fd);
          },
        };
      case 'connect': {
        if (s.kind === 'udp') {
          const r = s.udp!.connect(this.env.remote, this.env.connectPort);
          return { attempt: () => (isNetError(r) ? fail(r) : ok()) };
        }
        if (a[1] && a[1].k !== 'ellipsis') throw new UnsupportedError(`explicit connect addresses (${exprText(a[1])}): moat's runner connects to the remote address, port ${this.env.connectPort}`);
        const ep = s.tcp!;
        const r = ep.connect(this.env.remote, this.env.connectPort);
        if (isNetError(r)) return { attempt: () => fail(r) };
        s.connecting = true;
        if (nonblock()) return { attempt: () => fail('EINPROGRESS') };
        return {
          attempt: () => {
            const st = ep.stateName;
            if (st === 'SYN_SENT' || st === 'SYN_RECEIVED') return null;
            if (s.soError) {
              // connect(2) consumes the error it reports.
              const e = ep.takeSoError() ?? s.soError;
              s.soError = null;
              s.reported = e;
              return fail(e);
            }
            return st === 'CLOSED' ? fail('ECONNREFUSED') : ok();
          },
        };
      }
      case 'read':
      case 'recv':
      case 'recvfrom': {
        const max = evalInt(a[2]!, `${name} length`);
        return {
          attempt: () => {
            if (s.kind === 'udp') {
              const d = s.udp!.recv();
              if (d === 'EAGAIN' && !nonblock()) return null;
              if (isNetError(d)) return fail(d);
              return ok(Math.min(max, d.data.length));
            }
            const r = s.tcp!.read(max);
            if (r === 'EAGAIN' && !nonblock()) return null;
            if (r === null) return ok(0);
            if (isNetError(r)) {
              if (r === s.tcp!.error) {
                if (s.reported === r) return ok(0);
                s.reported = r;
              }
              return fail(r);
            }
            return ok(r.length);
          },
        };
      }
      default: {
        // write, send, sendto: `...` buffers of the given length, zeros.
        const len = evalInt(a[2]!, `${name} length`);
        const data = new Uint8Array(len);
        let done = 0;
        return {
          attempt: () => {
            if (s.kind === 'udp') {
              const to = name === 'sendto' && !s.udp!.connected ? { addr: this.env.remote, port: this.env.connectPort } : undefined;
              const r = s.udp!.send(data, to);
              return isNetError(r) ? fail(r) : ok(r);
            }
            for (;;) {
              const r = s.tcp!.write(data.subarray(done));
              if (isNetError(r)) {
                if (done > 0) return ok(done);
                // tcp_sendmsg: writing to a socket that is not connected (or is listening) is
                // EPIPE on Linux; the endpoint names that state ENOTCONN.
                if (r === 'ENOTCONN') return fail('EPIPE');
                if (r === s.tcp!.error) {
                  if (s.reported === r) return fail('EPIPE');
                  s.reported = r;
                }
                return fail(r);
              }
              done += r;
              if (done === len) return ok(done);
              if (r === 0 || nonblock()) {
                if (nonblock()) return done > 0 ? ok(done) : fail('EAGAIN');
                return null;
              }
            }
          },
        };
      }
    }
  }
}

export function reventsText(v: number): string {
  const names = ['POLLIN', 'POLLPRI', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLNVAL', 'POLLRDHUP'];
  const out = names.filter((n) => v & CONSTANTS[n]!);
  return out.length ? out.join('|') : '0';
}
