// packetdrill's syscall lines, served by moat's socket layer: every line is one call of an
// FdTable (src/kernel/socket/layer.ts) over a SocketLayer on the runner's stack, in syscall
// shape — fds, sockaddr bytes, option bytes in; a return value or -errno and output bytes out —
// so a script checks exactly what a trapped program would get. This file only turns script
// expressions into those bytes and compares the outputs with what the script expects.
// Read first: packetdrill's README (syscall lines, `...` defaults), socket(2), bind(2),
// listen(2), accept(2), connect(2), read(2), write(2), readv(2), send(2), recv(2), shutdown(2),
// close(2), dup(2), fcntl(2), poll(2), ioctl FIONREAD/SIOCOUTQ (tcp(7), udp(7)),
// getsockname(2), getpeername(2), setsockopt(2)/getsockopt(2), socket(7), ip(7), ipv6(7), tcp(7).
//
// Blocking calls are the FdTable's promises: `start` returns a PendingCall whose outcome appears
// once the promise settles, which the runner sees between turns of the microtask queue while it
// moves virtual time. A call the script leaves blocked is interrupted (EINTR) when the run ends.
//
// `...` arguments follow packetdrill: a sockaddr is the script's local address and --bind_port
// (bind) or its remote address and --connect_port (connect, sendto), an addrlen is the size of
// that sockaddr (128 for outputs), a buffer is that many zero bytes, an optlen is the option's size.
// Anything the layer cannot express fails the script with "unsupported ... by name".

import { ERRNO, errnoName } from '../errno.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import { FdTable, type SocketLayer } from '../socket/index.js';
import { decodeCString, decodeTcpInfo, findSockopt, SOCKOPTS, type SockoptSpec } from '../sockopt-codec.js';
import { decodeSockaddr, encodeSockaddr, SOCKADDR_STORAGE_LEN, type SockAddr } from '../sockaddr.js';
import { AF, IOCTL, IPOPT, IPPROTO, IPV6OPT, MSG, POLL, SHUT, SO, SOCK, SOL, TCPOPT, UDPOPT } from '../socket-abi.js';
import { exprText, type Expr, type SyscallSpec } from './parser.js';

/** The system calls a script may make (anything else fails the script by name). */
export const SUPPORTED_SYSCALLS = [
  'socket', 'bind', 'listen', 'accept', 'accept4', 'connect', 'read', 'write', 'readv', 'writev',
  'send', 'recv', 'sendto', 'recvfrom', 'shutdown', 'close', 'dup', 'fcntl', 'poll', 'ioctl',
  'getsockname', 'getpeername', 'setsockopt', 'getsockopt',
] as const;
/** Every option the socket layer implements (src/kernel/sockopt-codec.ts), at its level. */
export const SUPPORTED_SOCKOPTS: readonly string[] = SOCKOPTS.map((s) => s.name);
/** Message flags the layer honours on each side (MSG_NOSIGNAL: no signals exist here). */
export const SUPPORTED_SEND_FLAGS = ['MSG_DONTWAIT', 'MSG_NOSIGNAL', 'MSG_MORE'] as const;
export const SUPPORTED_RECV_FLAGS = ['MSG_DONTWAIT', 'MSG_NOSIGNAL', 'MSG_PEEK', 'MSG_WAITALL', 'MSG_TRUNC'] as const;
/** fcntl commands: the socket file's status flags (O_NONBLOCK is the only one a socket keeps). */
export const SUPPORTED_FCNTL = ['F_GETFL', 'F_SETFL'] as const;
/** ioctls with an int result. */
export const SUPPORTED_IOCTLS = ['FIONREAD', 'SIOCINQ', 'SIOCOUTQ', 'TIOCOUTQ', 'SIOCOUTQNSD'] as const;

const F = { F_DUPFD: 0, F_GETFD: 1, F_SETFD: 2, F_GETFL: 3, F_SETFL: 4, FD_CLOEXEC: 1 } as const;
const O = { O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_NONBLOCK: 0o4000, O_CLOEXEC: 0o2000000 } as const;

/** The names a script may use for numbers: the x86_64 socket ABI, fcntl's and errno's. */
export const CONSTANTS: Record<string, number> = {
  ...AF, PF_INET: AF.AF_INET, PF_INET6: AF.AF_INET6, PF_UNSPEC: AF.AF_UNSPEC,
  ...SOCK, SOCK_NONBLOCK: 0o4000, SOCK_CLOEXEC: 0o2000000,
  ...IPPROTO, ...SOL, ...SO, ...TCPOPT, ...UDPOPT, ...IPOPT, ...IPV6OPT, ...MSG, ...SHUT, ...POLL, ...IOCTL,
  ...F, ...O,
  ...ERRNO, EWOULDBLOCK: ERRNO.EAGAIN,
};

/** Option names known to Linux at each level, by number (to refuse the ones moat lacks by name). */
const LINUX_OPTION_NAMES = new Map<string, string>();
for (const [level, table] of [[SOL.SOL_SOCKET, SO], [SOL.SOL_TCP, TCPOPT], [SOL.SOL_IP, IPOPT], [SOL.SOL_IPV6, IPV6OPT], [SOL.SOL_UDP, UDPOPT]] as const) {
  for (const [name, num] of Object.entries(table)) if (!LINUX_OPTION_NAMES.has(`${level}:${num}`)) LINUX_OPTION_NAMES.set(`${level}:${num}`, name);
}
const LEVEL_NAMES: Record<number, string> = { [SOL.SOL_SOCKET]: 'SOL_SOCKET', [SOL.SOL_TCP]: 'SOL_TCP', [SOL.SOL_IP]: 'SOL_IP', [SOL.SOL_IPV6]: 'SOL_IPV6', [SOL.SOL_UDP]: 'SOL_UDP' };

/** The outcome of one system call, in Linux terms. */
export interface CallOutcome {
  ret: number;
  errno: string | null;
  /** Output arguments whose actual values differ from the script's (getsockopt, poll, ...). */
  mismatch?: string;
}

export class UnsupportedError extends Error {}
export class ScriptValueError extends Error {}

export interface AdapterEnv {
  /** The socket layer over the runner's stack. */
  layer: SocketLayer;
  family: 4 | 6;
  local: IpAddr;
  remote: IpAddr;
  /** packetdrill's --bind_port / --connect_port (8080). */
  bindPort: number;
  connectPort: number;
  /** Virtual time in milliseconds. */
  now(): number;
}

/**
 * One call in progress: `attempt` returns its outcome once the call has returned, null while it
 * blocks; `returnedAt` is the virtual time (ms) at which it returned.
 */
export class PendingCall {
  private outcome: CallOutcome | null = null;
  private failure: unknown = null;
  returnedAt = NaN;
  private readonly ac = new AbortController();

  constructor(run: (signal: AbortSignal) => Promise<CallOutcome>, now: () => number) {
    run(this.ac.signal).then(
      (o) => {
        this.outcome = o;
        this.returnedAt = now();
      },
      (e: unknown) => {
        this.failure = e ?? new Error('a system call failed');
        this.returnedAt = now();
      },
    );
  }

  attempt(): CallOutcome | null {
    if (this.failure) throw this.failure;
    return this.outcome;
  }

  get done(): boolean {
    return this.outcome !== null || this.failure !== null;
  }

  /** Interrupts a blocked call (it returns EINTR), as a signal would. */
  interrupt(): void {
    this.ac.abort();
  }
}

const ok = (ret = 0): CallOutcome => ({ ret, errno: null });
/** A syscall return (>= 0 or -errno) as an outcome. */
function outcome(ret: number, mismatch?: string): CallOutcome {
  if (ret >= 0) return mismatch ? { ret, errno: null, mismatch } : ok(ret);
  return { ret: -1, errno: errnoName(-ret) ?? `E${-ret}` };
}

const ELLIPSIS: Expr = { k: 'ellipsis' };
const isEllipsis = (e: Expr | undefined): boolean => !e || e.k === 'ellipsis';

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
      // htons/htonl: the runner writes ports in network order itself, so these are the number.
      if ((e.fn === 'htons' || e.fn === 'htonl' || e.fn === 'ntohs' || e.fn === 'ntohl') && e.args.length === 1) return evalInt(e.args[0]!, what);
      break;
    default:
      break;
  }
  throw new ScriptValueError(`${what}: expected an integer, got ${exprText(e)}`);
}

/** `[N]` or N (an in/out length), else `dflt` for `...`. */
function lenArg(e: Expr | undefined, dflt: number, what: string): number {
  if (isEllipsis(e)) return dflt;
  return evalInt(e!, what);
}

function field(e: Expr & { k: 'struct' }, ...names: string[]): Expr | undefined {
  return e.fields.find((f) => f.name !== null && names.includes(f.name))?.value;
}

function flagNames(v: number, names: readonly string[]): string {
  const out = names.filter((n) => v & CONSTANTS[n]!);
  return out.length ? out.join('|') : '0';
}

export function reventsText(v: number): string {
  const names = ['POLLIN', 'POLLPRI', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLNVAL', 'POLLRDNORM', 'POLLRDBAND', 'POLLWRNORM', 'POLLWRBAND', 'POLLRDHUP'];
  return flagNames(v, names);
}

function readLeInt(b: Uint8Array): number {
  if (b.length >= 4) return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  let v = 0;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8) | b[i]!;
  return v;
}

function sockaddrText(sa: SockAddr | null): string {
  if (!sa) return '(none)';
  return sa.family === 'AF_INET' ? `${sa.addr.toString()}:${sa.port}` : `[${sa.addr.toString()}]:${sa.port}`;
}

export class SyscallAdapter {
  /** The process's descriptor table: every syscall line is one call of it. */
  readonly fds: FdTable;
  private readonly pending = new Set<PendingCall>();

  constructor(private readonly env: AdapterEnv) {
    this.fds = new FdTable(env.layer);
  }

  /**
   * Starts a call. Throws UnsupportedError for calls, options or flags the socket layer cannot
   * express, ScriptValueError for arguments that are not what the call takes.
   */
  start(call: SyscallSpec): PendingCall {
    const run = this.prepare(call);
    const p = new PendingCall(run, this.env.now);
    this.pending.add(p);
    return p;
  }

  /** Interrupts every call still blocked (the end of the script: the process exits). */
  interruptAll(): void {
    for (const p of this.pending) if (!p.done) p.interrupt();
    this.pending.clear();
  }

  private fd(a: Expr[], name: string): number {
    return evalInt(a[0] ?? ELLIPSIS, `${name} fd`);
  }

  /** Evaluates the arguments (synchronously, so bad ones fail at their line) and returns the call. */
  private prepare(call: SyscallSpec): (signal: AbortSignal) => Promise<CallOutcome> {
    const a = call.args;
    const fds = this.fds;
    const now = (f: () => CallOutcome) => async (): Promise<CallOutcome> => f();
    switch (call.name) {
      case 'socket': {
        const domain = isEllipsis(a[0]) ? (this.env.family === 4 ? AF.AF_INET : AF.AF_INET6) : evalInt(a[0]!, 'socket domain');
        const type = evalInt(a[1] ?? { k: 'num', v: SOCK.SOCK_STREAM }, 'socket type');
        const proto = isEllipsis(a[2]) ? 0 : evalInt(a[2]!, 'socket protocol');
        return now(() => outcome(fds.socket(domain, type, proto)));
      }
      case 'bind': {
        const fd = this.fd(a, 'bind');
        const addr = this.sockaddrIn(a[1], a[2], 'local');
        return now(() => outcome(fds.bind(fd, addr)));
      }
      case 'listen': {
        const fd = this.fd(a, 'listen');
        const backlog = isEllipsis(a[1]) ? 128 : evalInt(a[1]!, 'listen backlog');
        return now(() => outcome(fds.listen(fd, backlog)));
      }
      case 'accept':
      case 'accept4': {
        const fd = this.fd(a, call.name);
        const addrlen = lenArg(a[2], SOCKADDR_STORAGE_LEN, `${call.name} addrlen`);
        const flags = call.name === 'accept4' && !isEllipsis(a[3]) ? evalInt(a[3]!, 'accept4 flags') : 0;
        return async (signal) => {
          const r = await fds.accept4(fd, addrlen, flags, signal);
          return outcome(r.ret, r.ret >= 0 ? this.checkSockaddr(call.name, a[1], r.addr) : undefined);
        };
      }
      case 'connect': {
        const fd = this.fd(a, 'connect');
        const addr = this.sockaddrIn(a[1], a[2], 'remote');
        return async (signal) => outcome(await fds.connect(fd, addr, signal));
      }
      case 'read':
      case 'recv':
      case 'recvfrom':
      case 'readv': {
        const fd = this.fd(a, call.name);
        const len = call.name === 'readv' ? this.iovLen(a[1], 'readv') : evalInt(a[2] ?? ELLIPSIS, `${call.name} length`);
        const flags = call.name === 'recv' || call.name === 'recvfrom' ? this.msgFlags(a[3], call.name, SUPPORTED_RECV_FLAGS) : 0;
        const wantAddr = call.name === 'recvfrom' && !(a[4]?.k === 'num' && a[4].v === 0);
        const namelen = wantAddr ? lenArg(a[5], SOCKADDR_STORAGE_LEN, 'recvfrom addrlen') : 0;
        return async (signal) => {
          const r = await fds.recvmsg(fd, len, flags, namelen, 0, signal);
          return outcome(r.ret, r.ret >= 0 && wantAddr ? this.checkSockaddr('recvfrom', a[4], r.addr) : undefined);
        };
      }
      case 'write':
      case 'send':
      case 'sendto':
      case 'writev': {
        const fd = this.fd(a, call.name);
        const data = call.name === 'writev' ? new Uint8Array(this.iovLen(a[1], 'writev')) : this.buffer(a[1], a[2], call.name);
        const flags = call.name === 'send' || call.name === 'sendto' ? this.msgFlags(a[3], call.name, SUPPORTED_SEND_FLAGS) : 0;
        const to = call.name === 'sendto' && !(a[4]?.k === 'num' && a[4].v === 0) ? this.sockaddrIn(a[4], a[5], 'remote') : null;
        return async (signal) => outcome(await fds.sendto(fd, data, flags, to, signal));
      }
      case 'shutdown': {
        const fd = this.fd(a, 'shutdown');
        const how = evalInt(a[1] ?? ELLIPSIS, 'shutdown how');
        return now(() => outcome(fds.shutdown(fd, how)));
      }
      case 'close': {
        const fd = this.fd(a, 'close');
        return now(() => outcome(fds.close(fd)));
      }
      case 'dup': {
        const fd = this.fd(a, 'dup');
        return now(() => outcome(fds.dup(fd)));
      }
      case 'fcntl':
        return this.fcntl(a);
      case 'ioctl':
        return this.ioctl(a);
      case 'getsockname':
      case 'getpeername': {
        const fd = this.fd(a, call.name);
        const addrlen = lenArg(a[2], SOCKADDR_STORAGE_LEN, `${call.name} addrlen`);
        return now(() => {
          const r = call.name === 'getsockname' ? fds.getsockname(fd, addrlen) : fds.getpeername(fd, addrlen);
          return outcome(r.ret, r.ret >= 0 ? this.checkSockaddr(call.name, a[1], r.addr) ?? this.checkLen(call.name, 'addrlen', a[2], r.addrlen) : undefined);
        });
      }
      case 'setsockopt':
        return this.setsockopt(a);
      case 'getsockopt':
        return this.getsockopt(a);
      case 'poll':
        return this.poll(a);
      default:
        throw new UnsupportedError(`system call ${call.name}() is not supported by moat's runner (supported: ${SUPPORTED_SYSCALLS.join(', ')})`);
    }
  }

  // ---------------------------------------------------------------- arguments

  private msgFlags(e: Expr | undefined, call: string, supported: readonly string[]): number {
    if (isEllipsis(e)) return 0;
    const v = evalInt(e!, `${call} flags`);
    const allowed = supported.reduce((m, n) => m | CONSTANTS[n]!, 0);
    if (v & ~allowed) throw new UnsupportedError(`${call} flags ${exprText(e!)} (supported: 0, ${supported.join(', ')})`);
    return v;
  }

  /** A data buffer: `...` is `len` zero bytes, a "string" its bytes (cut or zero-padded to `len`). */
  private buffer(buf: Expr | undefined, lenE: Expr | undefined, call: string): Uint8Array {
    if (buf && buf.k === 'str') {
      const bytes = new TextEncoder().encode(buf.v);
      const len = isEllipsis(lenE) ? bytes.length : evalInt(lenE!, `${call} length`);
      const out = new Uint8Array(Math.max(0, len));
      out.set(bytes.subarray(0, out.length));
      return out;
    }
    if (!isEllipsis(buf)) throw new UnsupportedError(`${call} buffers other than "..." or a "string" (${exprText(buf!)})`);
    const len = evalInt(lenE ?? ELLIPSIS, `${call} length`);
    if (len < 0) throw new ScriptValueError(`${call} length ${len} is negative`);
    return new Uint8Array(len);
  }

  /** readv/writev: `[{..., 100}, {..., 200}]` (iov_base, iov_len): the total length. */
  private iovLen(e: Expr | undefined, call: string): number {
    if (!e || e.k !== 'list') throw new ScriptValueError(`${call} wants [{..., len}, ...]`);
    let total = 0;
    for (const it of e.items) {
      if (it.k !== 'struct') throw new ScriptValueError(`${call} iovecs are {..., len}`);
      const len = field(it, 'iov_len') ?? it.fields[1]?.value;
      const base = field(it, 'iov_base') ?? it.fields[0]?.value;
      if (!isEllipsis(base)) throw new UnsupportedError(`${call} iov_base other than "..." (${exprText(base!)})`);
      total += evalInt(len ?? ELLIPSIS, `${call} iov_len`);
    }
    return total;
  }

  /** The default sockaddr (packetdrill's): local address and --bind_port, or remote and --connect_port. */
  private defaultSockaddr(which: 'local' | 'remote'): SockAddr {
    const addr = which === 'local' ? this.env.local : this.env.remote;
    const port = which === 'local' ? this.env.bindPort : this.env.connectPort;
    return addr.family === 4 ? { family: 'AF_INET', addr, port } : { family: 'AF_INET6', addr, port, flowinfo: 0, scopeId: 0 };
  }

  /**
   * A sockaddr argument as user bytes: `...`, or `{sa_family=AF_INET, sin_port=htons(8080),
   * sin_addr=inet_addr("192.0.2.1")}` / `{sa_family=AF_INET6, sin6_port=htons(N),
   * sin6_addr=inet6_addr("::1")}` (sa_family=AF_UNSPEC: an AF_UNSPEC address); the addrlen
   * argument cuts or zero-pads it.
   */
  private sockaddrIn(e: Expr | undefined, lenE: Expr | undefined, which: 'local' | 'remote'): Uint8Array {
    let bytes: Uint8Array;
    if (isEllipsis(e)) bytes = encodeSockaddr(this.defaultSockaddr(which));
    else if (e!.k === 'struct') bytes = this.structSockaddr(e!);
    else throw new UnsupportedError(`socket addresses written as ${exprText(e!)} (write "..." or {sa_family=..., sin_port=htons(N), sin_addr=inet_addr("a.b.c.d")})`);
    if (isEllipsis(lenE)) return bytes;
    const len = evalInt(lenE!, 'addrlen');
    if (len < 0) throw new ScriptValueError(`addrlen ${len} is negative`);
    const out = new Uint8Array(len);
    out.set(bytes.subarray(0, len));
    return out;
  }

  private structSockaddr(e: Expr & { k: 'struct' }): Uint8Array {
    const famE = field(e, 'sa_family', 'sin_family', 'sin6_family');
    if (!famE) throw new ScriptValueError(`a sockaddr needs sa_family (${exprText(e)})`);
    const fam = evalInt(famE, 'sa_family');
    if (fam === AF.AF_UNSPEC) return new Uint8Array(16);
    if (fam !== AF.AF_INET && fam !== AF.AF_INET6) throw new UnsupportedError(`sockaddr family ${exprText(famE)} (AF_INET, AF_INET6 and AF_UNSPEC are supported)`);
    const v6 = fam === AF.AF_INET6;
    const portE = field(e, v6 ? 'sin6_port' : 'sin_port');
    const port = portE ? evalInt(portE, 'sin_port') : 0;
    const addrE = field(e, v6 ? 'sin6_addr' : 'sin_addr');
    const addr = addrE ? this.ipArg(addrE, v6 ? 6 : 4) : v6 ? IpAddr.ANY6 : IpAddr.ANY4;
    if (v6) {
      const flowE = field(e, 'sin6_flowinfo');
      const scopeE = field(e, 'sin6_scope_id');
      return encodeSockaddr({ family: 'AF_INET6', addr, port, flowinfo: flowE ? evalInt(flowE, 'sin6_flowinfo') : 0, scopeId: scopeE ? evalInt(scopeE, 'sin6_scope_id') : 0 });
    }
    return encodeSockaddr({ family: 'AF_INET', addr, port });
  }

  /** inet_addr("a.b.c.d"), inet6_addr("::1"), inet_pton(AF_INET6, "::1"), a "string", INADDR_ANY. */
  private ipArg(e: Expr, family: 4 | 6): IpAddr {
    let text: string | null = null;
    if (e.k === 'str') text = e.v;
    else if (e.k === 'call' && (e.fn === 'inet_addr' || e.fn === 'inet6_addr' || e.fn === 'inet_pton')) {
      const s = e.args[e.args.length - 1];
      if (s && s.k === 'str') text = s.v;
    } else if (e.k === 'name' && (e.v === 'INADDR_ANY' || e.v === 'in6addr_any')) return family === 4 ? IpAddr.ANY4 : IpAddr.ANY6;
    if (text === null) throw new ScriptValueError(`an address: expected inet_addr("...") or a "string", got ${exprText(e)}`);
    const ip = IpAddr.tryParse(text);
    if (!ip) throw new ScriptValueError(`"${text}" is not an IP address`);
    if (ip.family !== family) throw new ScriptValueError(`"${text}" is not an IPv${family} address`);
    return ip;
  }

  /** Compares an output sockaddr with the script's `{...}` (nothing to compare for `...`). */
  private checkSockaddr(call: string, want: Expr | undefined, got: Uint8Array | undefined): string | undefined {
    if (isEllipsis(want) || !want || want.k !== 'struct') return undefined;
    const exp = decodeSockaddr(this.structSockaddr(want));
    const act = got ? decodeSockaddr(got) : null;
    const same = exp && act && exp.family === act.family && exp.port === act.port && exp.addr.equals(act.addr);
    return same ? undefined : `${call} address: expected ${sockaddrText(exp)} vs actual ${sockaddrText(act)}`;
  }

  /** Compares an output length with the script's `[N]`. */
  private checkLen(call: string, what: string, want: Expr | undefined, got: number | undefined): string | undefined {
    if (isEllipsis(want) || got === undefined) return undefined;
    const w = evalInt(want!, `${call} ${what}`);
    return w === got ? undefined : `${call} ${what}: expected ${w} vs actual ${got}`;
  }

  // ---------------------------------------------------------------- fcntl, ioctl

  private fcntl(a: Expr[]): (signal: AbortSignal) => Promise<CallOutcome> {
    const fd = this.fd(a, 'fcntl');
    const cmdE = a[1] ?? ELLIPSIS;
    const cmd = evalInt(cmdE, 'fcntl command');
    if (cmd !== F.F_GETFL && cmd !== F.F_SETFL) throw new UnsupportedError(`fcntl command ${exprText(cmdE)} (supported: ${SUPPORTED_FCNTL.join(', ')})`);
    const arg = cmd === F.F_SETFL ? evalInt(a[2] ?? ELLIPSIS, 'fcntl flags') : 0;
    return async () => outcome(this.fds.fcntl(fd, cmd, arg));
  }

  private ioctl(a: Expr[]): (signal: AbortSignal) => Promise<CallOutcome> {
    const fd = this.fd(a, 'ioctl');
    const reqE = a[1] ?? ELLIPSIS;
    const req = evalInt(reqE, 'ioctl request');
    const known = SUPPORTED_IOCTLS.some((n) => CONSTANTS[n] === req);
    if (!known) throw new UnsupportedError(`ioctl ${exprText(reqE)} (supported: ${SUPPORTED_IOCTLS.join(', ')})`);
    const want = a[2];
    return async () => {
      const r = this.fds.ioctlInt(fd, req);
      if (r.ret < 0 || isEllipsis(want)) return outcome(r.ret);
      const w = evalInt(want!, `ioctl ${exprText(reqE)} value`);
      return outcome(r.ret, w === r.value ? undefined : `ioctl ${exprText(reqE)} value: expected ${w} vs actual ${r.value}`);
    };
  }

  // ---------------------------------------------------------------- options

  /** The option at (level, name), or UnsupportedError for one Linux has and moat does not. */
  private option(a: Expr[], call: 'setsockopt' | 'getsockopt'): { level: number; name: number; key: string; spec: SockoptSpec | undefined } {
    const levelE = a[1] ?? ELLIPSIS;
    const nameE = a[2] ?? ELLIPSIS;
    const level = evalInt(levelE, 'option level');
    const name = evalInt(nameE, 'option name');
    const levelName = LEVEL_NAMES[level] ?? String(level);
    const optName = nameE.k === 'name' ? nameE.v : LINUX_OPTION_NAMES.get(`${level}:${name}`) ?? String(name);
    const key = `${levelName}/${optName}`;
    const spec = findSockopt(level, name);
    // Options Linux has that moat's layer does not implement would answer ENOPROTOOPT, which is
    // not what Linux says: refuse them by name. Numbers Linux does not know go to the layer.
    if (!spec && (nameE.k === 'name' || LINUX_OPTION_NAMES.has(`${level}:${name}`) || !LEVEL_NAMES[level])) {
      throw new UnsupportedError(`${call} ${key} (supported: ${SUPPORTED_SOCKOPTS.join(', ')})`);
    }
    return { level, name, key, spec };
  }

  /** An option value as the bytes a program would pass, `len` long (`...`: the option's size). */
  private optval(spec: SockoptSpec | undefined, key: string, val: Expr | undefined, lenE: Expr | undefined): Uint8Array {
    const natural = (): Uint8Array => {
      const v = val ?? ELLIPSIS;
      if (v.k === 'ellipsis') return new Uint8Array(spec?.size ?? 4);
      switch (spec?.kind) {
        case 'linger': {
          if (v.k !== 'struct') throw new ScriptValueError(`${key} wants {l_onoff=..., l_linger=...}`);
          const out = new Uint8Array(8);
          const dv = new DataView(out.buffer);
          dv.setInt32(0, evalInt(field(v, 'l_onoff') ?? v.fields[0]?.value ?? ELLIPSIS, 'l_onoff'), true);
          dv.setInt32(4, evalInt(field(v, 'l_linger') ?? v.fields[1]?.value ?? ELLIPSIS, 'l_linger'), true);
          return out;
        }
        case 'timeval': {
          if (v.k !== 'struct') throw new ScriptValueError(`${key} wants {tv_sec=..., tv_usec=...}`);
          const out = new Uint8Array(16);
          const dv = new DataView(out.buffer);
          dv.setBigInt64(0, BigInt(evalInt(field(v, 'tv_sec') ?? v.fields[0]?.value ?? ELLIPSIS, 'tv_sec')), true);
          dv.setBigInt64(8, BigInt(evalInt(field(v, 'tv_usec') ?? v.fields[1]?.value ?? ELLIPSIS, 'tv_usec')), true);
          return out;
        }
        case 'string': {
          if (v.k !== 'str') throw new ScriptValueError(`${key} wants a "string"`);
          const s = new TextEncoder().encode(v.v);
          const out = new Uint8Array(s.length + 1);
          out.set(s);
          return out;
        }
        case 'tcp_info':
        case 'bytes':
          throw new UnsupportedError(`setsockopt ${key} values other than "..."`);
        default: {
          const out = new Uint8Array(4);
          new DataView(out.buffer).setInt32(0, evalInt(v, key), true);
          return out;
        }
      }
    };
    const bytes = natural();
    if (isEllipsis(lenE)) return bytes;
    const len = evalInt(lenE!, `${key} optlen`);
    if (len < 0) throw new ScriptValueError(`${key} optlen ${len} is negative`);
    const out = new Uint8Array(len);
    out.set(bytes.subarray(0, len));
    return out;
  }

  private setsockopt(a: Expr[]): (signal: AbortSignal) => Promise<CallOutcome> {
    const fd = this.fd(a, 'setsockopt');
    const { level, name, key, spec } = this.option(a, 'setsockopt');
    const val = this.optval(spec, key, a[3], a[4]);
    return async () => outcome(this.fds.setsockopt(fd, level, name, val));
  }

  private getsockopt(a: Expr[]): (signal: AbortSignal) => Promise<CallOutcome> {
    const fd = this.fd(a, 'getsockopt');
    const { level, name, key, spec } = this.option(a, 'getsockopt');
    const optlen = lenArg(a[4], spec?.size ?? 4, `getsockopt ${key} optlen`);
    const want = a[3];
    return async () => {
      const r = this.fds.getsockopt(fd, level, name, optlen);
      if (r.ret < 0) return outcome(r.ret);
      const bad = this.compareOptval(spec, key, want, r.optval ?? new Uint8Array(0)) ?? this.checkLen('getsockopt', `${key} optlen`, a[4], r.optlen);
      return outcome(r.ret, bad);
    };
  }

  /** Compares a returned option value with the script's expectation (`...`: anything). */
  private compareOptval(spec: SockoptSpec | undefined, key: string, want: Expr | undefined, got: Uint8Array): string | undefined {
    if (isEllipsis(want)) return undefined;
    const w = want!;
    const diff = (exp: string, act: string): string => `getsockopt ${key} value: expected ${exp} vs actual ${act}`;
    switch (spec?.kind) {
      case 'linger':
      case 'timeval': {
        if (w.k !== 'struct') throw new ScriptValueError(`getsockopt ${key} wants a {...} value`);
        const dv = new DataView(got.buffer, got.byteOffset, got.byteLength);
        const names = spec.kind === 'linger' ? ['l_onoff', 'l_linger'] : ['tv_sec', 'tv_usec'];
        const width = spec.kind === 'linger' ? 4 : 8;
        for (let i = 0; i < 2; i++) {
          const fe = field(w, names[i]!) ?? w.fields[i]?.value;
          if (isEllipsis(fe)) continue;
          const exp = evalInt(fe!, names[i]!);
          const off = i * width;
          if (off + width > got.length) return diff(`${names[i]}=${exp}`, `${got.length} bytes`);
          const act = width === 4 ? dv.getInt32(off, true) : Number(dv.getBigInt64(off, true));
          if (exp !== act) return diff(`${names[i]}=${exp}`, `${names[i]}=${act}`);
        }
        return undefined;
      }
      case 'string': {
        if (w.k !== 'str') throw new ScriptValueError(`getsockopt ${key} wants a "string"`);
        const act = decodeCString(got);
        return act === w.v ? undefined : diff(`"${w.v}"`, `"${act}"`);
      }
      case 'tcp_info': {
        // {tcpi_state=TCP_ESTABLISHED, tcpi_snd_mss=1448, ...}: the named fields are compared.
        if (w.k !== 'struct') throw new ScriptValueError(`getsockopt ${key} wants {tcpi_field=value, ...}`);
        const info = decodeTcpInfo(got);
        for (const f of w.fields) {
          if (!f.name) throw new ScriptValueError(`getsockopt ${key}: tcp_info fields are named (tcpi_rto=...)`);
          if (isEllipsis(f.value)) continue;
          const n = f.name.replace(/^tcpi_/, '');
          if (!(n in info)) throw new UnsupportedError(`getsockopt ${key} field ${f.name}`);
          const exp = evalInt(f.value, f.name);
          if (info[n] !== exp) return diff(`${f.name}=${exp}`, `${f.name}=${info[n]}`);
        }
        return undefined;
      }
      default: {
        const exp = evalInt(w, `getsockopt ${key} value`);
        const act = readLeInt(got);
        if (exp === act) return undefined;
        const errnoText = key.endsWith('SO_ERROR') ? ` (${errnoName(act) ?? act})` : '';
        return diff(exprText(w), `${act}${errnoText}`);
      }
    }
  }

  // ---------------------------------------------------------------- poll

  /**
   * poll([{fd=..., events=..., revents=...}, ...], nfds, timeout): the FdTable's readiness per
   * fd (pollNow); while none is ready and the timeout allows, it sleeps on the sockets' wait
   * queues (FdTable.poll for one fd, every socket's queue for several).
   */
  private poll(a: Expr[]): (signal: AbortSignal) => Promise<CallOutcome> {
    const list = a[0];
    if (!list || list.k !== 'list') throw new ScriptValueError('poll wants [{fd=..., events=..., revents=...}, ...]');
    const entries = list.items.map((it) => {
      if (it.k !== 'struct') throw new ScriptValueError('poll entries are {fd=..., events=..., revents=...}');
      return {
        fd: evalInt(field(it, 'fd') ?? ELLIPSIS, 'poll fd'),
        events: evalInt(field(it, 'events') ?? { k: 'num', v: 0 }, 'poll events'),
        revents: field(it, 'revents'),
      };
    });
    const timeout = isEllipsis(a[2]) ? 0 : evalInt(a[2]!, 'poll timeout');
    const fds = this.fds;
    const snapshot = (): number[] => entries.map((e) => fds.pollNow(e.fd, e.events));
    return async (signal) => {
      let got = snapshot();
      if (got.every((r) => r === 0) && timeout !== 0) {
        if (entries.length === 1) {
          got = [await fds.poll(entries[0]!.fd, entries[0]!.events, timeout, signal)];
        } else {
          await this.waitAny(entries.map((e) => e.fd), () => snapshot().some((r) => r !== 0), timeout, signal);
          got = snapshot();
        }
        if (signal.aborted && got.every((r) => r === 0)) return outcome(-ERRNO.EINTR);
      }
      const n = got.filter((r) => r !== 0).length;
      for (let i = 0; i < entries.length; i++) {
        const w = entries[i]!.revents;
        if (w && !isEllipsis(w) && evalInt(w, 'poll revents') !== got[i]) {
          return outcome(n, `poll revents of fd ${entries[i]!.fd}: expected ${exprText(w)} vs actual ${reventsText(got[i]!)}`);
        }
      }
      return outcome(n);
    };
  }

  /** Sleeps until `ready()` after a change on any of the fds' sockets, the timeout or a signal. */
  private waitAny(fds: number[], ready: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const unsub: (() => void)[] = [];
      const timer = timeoutMs > 0 ? this.env.layer.timers.after(timeoutMs, () => finish()) : null;
      const onAbort = (): void => finish();
      const finish = (): void => {
        for (const u of unsub) u();
        timer?.cancel();
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      for (const fd of new Set(fds)) {
        const s = this.fds.get(fd);
        if (s) unsub.push(s.onChange(() => ready() && finish()));
      }
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) finish();
    });
  }
}
