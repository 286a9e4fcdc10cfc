// Runs a parsed packetdrill script against an in-process moat stack in virtual time
// (packetdrill's README: "How does packetdrill work?"; run.c's event loop in meaning).
//
// The stack owns 192.168.0.1 (IPv6: fd3d:fa7b:d17d::1) on one Ethernet NIC whose link is this
// runner: `<` lines are handed to the NIC as frames from a gateway; every frame the stack sends
// is queued with its virtual send time and matched by the next `>` line. The remote end,
// 192.0.2.1 (fd3d:fa7b:d17d:8888::1), lives only on that in-process link: nothing leaves the
// process. Timing follows packetdrill: each event has a script time (absolute, `+relative` to
// the previous event, `*` any, `a~b` a window); a `>` packet must leave within
// --tolerance_usecs (default 4000) of its time, and relative times after it count from when it
// actually left; a syscall without `...` must return within the tolerance of its start; a
// `start...end` syscall may block and must return at `end`. Unexpected packets are found by the
// next `>` line (they are compared with it); packets still queued when the script ends are
// listed but do not fail it, as in packetdrill. A `>` line longer than what the stack sent in
// one segment matches the contiguous segments that make it up (packetdrill's aggregation of a
// TSO packet cut into MSS-sized pieces). Relative times after a `start...end` call count from
// its start (packetdrill's blocking-accept.pkt relies on it).
//
// Syscall lines are served by moat's socket layer (syscalls.ts: an FdTable over a SocketLayer on
// this stack). Its blocking calls are promises, so the run is asynchronous: between every step
// of virtual time the runner lets the microtask queue drain, and a call returns at the virtual
// time its promise settled.

import {
  IpAddr,
  SeededRng,
  Stack,
  StaticNeighbors,
  VirtualClock,
  type Frame,
  type LinkCapabilities,
  type LinkDispatcher,
  type LinkEndpoint,
} from '../../netstack/index.js';
import { TcpProtocol, type TcpStackConfig } from '../../netstack/tcp/index.js';
import { ERRNO } from '../errno.js';
import { SocketLayer } from '../socket/index.js';
import { buildInbound, liveText, matchOutbound, parseOutbound, specText, type Endpoints, type LivePacket, type SeqMap } from './packet.js';
import { exprText, parseScript, type Script, type ScriptEvent, type SyscallSpec } from './parser.js';
import { evalInt, ScriptValueError, SyscallAdapter, UnsupportedError, type CallOutcome, type PendingCall } from './syscalls.js';

export const DEFAULT_TOLERANCE_USECS = 4000;
export const ADDRESSES = {
  4: { local: '192.168.0.1', prefix: 24, gateway: '192.168.0.2', remote: '192.0.2.1' },
  6: { local: 'fd3d:fa7b:d17d::1', prefix: 64, gateway: 'fd3d:fa7b:d17d::2', remote: 'fd3d:fa7b:d17d:8888::1' },
} as const;
/** The remote port of inbound connections (packetdrill picks an ephemeral one; moat fixes it). */
export const DEFAULT_REMOTE_PORT = 48763;
/** A `*` packet or a blocking call waits at most this long (virtual time). */
const MAX_WAIT_USECS = 3_600_000_000;
/** How far past a `>` line's window the runner looks for a late packet before calling it missing. */
const LATE_LOOKAHEAD_USECS = 10_000_000;

const PSH_FIN = 0x08 | 0x01;
const GW_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0xc0, 0x00, 0x02);
const NIC_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0xc0, 0xa8, 0x01);

export interface RunOptions {
  /** Overrides the script's --tolerance_usecs. */
  toleranceUsecs?: number;
  /** Overrides the script's --ip_version / `// moat: ipv6`. */
  ipVersion?: 4 | 6;
  /** TCP stack configuration (sysctls in meaning). */
  tcpConfig?: Partial<TcpStackConfig>;
  seed?: number;
}

export interface CapturedFrame {
  /** Virtual time in microseconds since the script started. */
  usecs: number;
  dir: 'in' | 'out';
  /** The Ethernet frame. */
  data: Uint8Array;
}

export interface ScriptFailure {
  line: number;
  col: number;
  message: string;
  expected?: string;
  actual?: string;
}

export interface RunResult {
  file: string;
  passed: boolean;
  failure: ScriptFailure | null;
  frames: CapturedFrame[];
  /** Outbound packets left unmatched at the end (script lines), for information. */
  trailing: string[];
  eventsRun: number;
}

class Fail extends Error {
  constructor(readonly f: ScriptFailure) {
    super(f.message);
  }
}

/**
 * The stack's link: frames out are queued (with their virtual time) for `>` lines / the replay
 * comparer; frames in come through `inject` as if sent by `peerMac`.
 */
export class ScriptLink implements LinkEndpoint {
  readonly caps: LinkCapabilities = { medium: 'ethernet', mtu: 1500, txChecksumOffload: false, rxChecksumOffload: false, gsoMaxSize: 0 };
  readonly name = 'script0';
  dispatcher: LinkDispatcher | null = null;
  readonly out: { usecs: number; ip: Uint8Array }[] = [];
  /** The last IP datagram the stack sent (quoted by ICMP errors the script injects). */
  lastOut: Uint8Array | null = null;

  constructor(
    private readonly now: () => number,
    private readonly frames: CapturedFrame[],
    readonly mac: Uint8Array = NIC_MAC,
    private readonly peerMac: Uint8Array = GW_MAC,
  ) {}

  attach(d: LinkDispatcher): void {
    this.dispatcher = d;
  }
  writeFrames(frames: readonly Frame[]): number {
    for (const f of frames) {
      const data = f.data.slice();
      this.frames.push({ usecs: this.now(), dir: 'out', data });
      const et = (data[12]! << 8) | data[13]!;
      // Only IP reaches the script: neighbor resolution is static, so ARP/NDP never appear.
      if (et === 0x0800 || et === 0x86dd) {
        this.out.push({ usecs: this.now(), ip: data.subarray(14) });
        this.lastOut = data.subarray(14);
      }
    }
    return frames.length;
  }
  close(): void {
    this.dispatcher = null;
  }
  inject(ip: Uint8Array): void {
    const f = new Uint8Array(14 + ip.length);
    f.set(this.mac, 0);
    f.set(this.peerMac, 6);
    const et = ip[0]! >> 4 === 4 ? 0x0800 : 0x86dd;
    f[12] = et >> 8;
    f[13] = et & 0xff;
    f.set(ip, 14);
    this.frames.push({ usecs: this.now(), dir: 'in', data: f });
    this.dispatcher?.deliverFrames([{ data: f }]);
  }
}

interface Blocked {
  ev: ScriptEvent & { type: 'syscall' };
  call: PendingCall;
  endUsecs: number;
}

const fmtT = (usecs: number) => (usecs / 1e6).toFixed(6);

export function runScriptText(src: string, file = '<script>', opts: RunOptions = {}): Promise<RunResult> {
  return runScript(parseScript(src, file), opts);
}

/** Lets every promise continuation that is ready run (the socket layer's woken calls). */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function runScript(script: Script, opts: RunOptions = {}): Promise<RunResult> {
  const o = script.options;
  const tol = opts.toleranceUsecs ?? (o.has('tolerance_usecs') ? Number(o.get('tolerance_usecs')) : DEFAULT_TOLERANCE_USECS);
  const ipv = o.get('ip_version');
  const family: 4 | 6 = opts.ipVersion ?? (ipv === 'ipv6' ? 6 : 4);
  if (ipv && ipv !== 'ipv4' && ipv !== 'ipv6') {
    return failed(script, { line: 1, col: 1, message: `--ip_version=${ipv} is not supported (ipv4 and ipv6 are; ipv4-mapped-ipv6 is not)` });
  }
  const known = new Set(['tolerance_usecs', 'ip_version', 'bind_port', 'connect_port', 'remote_port', 'known_bug', 'mss', 'wscale']);
  for (const k of o.keys()) {
    if (!known.has(k)) return failed(script, { line: 1, col: 1, message: `option --${k} is not supported by moat's runner (supported: ${[...known].join(', ')})` });
  }

  const clock = new VirtualClock();
  const nowUs = () => Math.round(clock.now() * 1000);
  const frames: CapturedFrame[] = [];
  const link = new ScriptLink(nowUs, frames);
  const neighbors = new StaticNeighbors();
  const A = ADDRESSES[family];
  neighbors.table.set(IpAddr.parse(A.gateway).key, GW_MAC);
  let tcp!: TcpProtocol;
  const stack = new Stack({
    clock,
    rng: new SeededRng(opts.seed ?? 1),
    neighbors,
    loopback: false,
    transports: (net) => [(tcp = new TcpProtocol(net, opts.tcpConfig))],
  });
  const nic = stack.addNic(link, { addresses: [`${A.local}/${A.prefix}`] });
  stack.addRoute(family === 4 ? '0.0.0.0/0' : '::/0', nic, A.gateway);
  clock.advance(0);

  const local = IpAddr.parse(A.local);
  const remote = IpAddr.parse(A.remote);
  const bindPort = Number(o.get('bind_port') ?? 8080);
  const connectPort = Number(o.get('connect_port') ?? 8080);
  const ep: Endpoints & { learned: boolean } = { local, remote, localPort: bindPort, remotePort: Number(o.get('remote_port') ?? DEFAULT_REMOTE_PORT), learned: false };
  const maps = new Map<number, SeqMap>();
  const mapFor = (port: number | null): SeqMap => {
    const k = port ?? ep.remotePort;
    let m = maps.get(k);
    if (!m) maps.set(k, (m = { localIsn: null, tsOffset: null }));
    return m;
  };
  // The "kernel" the syscall lines talk to: Linux's defaults, with the TCP sysctls this stack has.
  const c = tcp.config;
  const layer = new SocketLayer(stack, {
    synRetries: c.synRetries,
    keepaliveTime: Math.round(c.keepIdleMs / 1000),
    keepaliveIntvl: Math.round(c.keepIntvlMs / 1000),
    keepaliveProbes: c.keepCnt,
    finTimeout: Math.round(c.finTimeoutMs / 1000),
    tcpRmemDefault: c.rcvBuf,
    tcpWmemDefault: c.sndBuf,
  });
  const adapter = new SyscallAdapter({ layer, family, local, remote, bindPort, connectPort, now: () => clock.now() });

  const blocked: Blocked[] = [];
  let prevUs = 0;
  let eventsRun = 0;

  const checkOutcome = (ev: ScriptEvent & { type: 'syscall' }, out: CallOutcome): void => {
    const c = ev.call;
    const want = c.result;
    const actualText = out.ret === -1 && out.errno ? `-1 ${out.errno}` : String(out.ret);
    if (want.k !== 'ellipsis') {
      let w: number;
      try {
        w = evalInt(want, 'the expected result');
      } catch (e) {
        throw new Fail({ line: ev.line, col: ev.col, message: (e as Error).message });
      }
      const wantText = w === -1 && c.errno ? `-1 ${c.errno}` : String(w);
      const errnoDiffers = w === -1 && c.errno !== null && out.errno !== c.errno && !(c.errno === 'EWOULDBLOCK' && out.errno === 'EAGAIN');
      if (w !== out.ret || errnoDiffers) {
        throw new Fail({ line: ev.line, col: ev.col, message: `${c.name}() returned ${actualText}, expected ${wantText}`, expected: `${c.name}(...) = ${wantText}`, actual: `${c.name}(...) = ${actualText}` });
      }
    }
    if (out.mismatch) throw new Fail({ line: ev.line, col: ev.col, message: out.mismatch });
  };

  /** A call's outcome once it returned (null while blocked); a bad argument found late fails its line. */
  const outcomeOf = (ev: ScriptEvent & { type: 'syscall' }, call: PendingCall): CallOutcome | null => {
    try {
      return call.attempt();
    } catch (e) {
      if (e instanceof UnsupportedError) throw new Fail({ line: ev.line, col: ev.col, message: `unsupported by moat's runner: ${e.message}` });
      if (e instanceof ScriptValueError) throw new Fail({ line: ev.line, col: ev.col, message: e.message });
      throw e;
    }
  };
  const returnedUs = (call: PendingCall): number => Math.round(call.returnedAt * 1000);

  const pollBlocked = (): void => {
    for (let i = 0; i < blocked.length; i++) {
      const b = blocked[i]!;
      const out = outcomeOf(b.ev, b.call);
      if (!out) continue;
      blocked.splice(i--, 1);
      const at = returnedUs(b.call);
      if (Math.abs(at - b.endUsecs) > tol) {
        throw new Fail({ line: b.ev.line, col: b.ev.col, message: `blocking ${b.ev.call.name}() returned at ${fmtT(at)}, expected at ${fmtT(b.endUsecs)} (tolerance ${tol} us)` });
      }
      checkOutcome(b.ev, out);
    }
  };

  const settle = async (): Promise<void> => {
    await drain();
    pollBlocked();
  };

  /** Moves virtual time to `targetUs`, stopping early when the stack sends something (if asked). */
  const advanceTo = async (targetUs: number, stopOnOutbound: boolean): Promise<void> => {
    const target = targetUs / 1000;
    for (;;) {
      await settle();
      if (stopOnOutbound && link.out.length) return;
      const next = Math.min(clock.nextDeadline(), target);
      if (next > target || clock.now() >= target) break;
      clock.advanceTo(Math.max(next, clock.now()));
      if (next >= target) break;
    }
    clock.advanceTo(target);
    await settle();
  };

  const eventTime = (ev: ScriptEvent): number => {
    if (ev.time.kind === 'abs') return ev.time.usecs;
    if (ev.time.kind === 'rel') return prevUs + ev.time.usecs;
    return prevUs;
  };

  try {
    for (const ev of script.events) {
      eventsRun++;
      const t = eventTime(ev);
      if (ev.type === 'unsupported') {
        throw new Fail({ line: ev.line, col: ev.col, message: `unsupported by moat's runner: ${ev.what}` });
      }
      if (ev.type === 'packet' && ev.dir === '>') {
        let lo: number, hi: number;
        if (ev.time.kind === 'any') {
          lo = prevUs;
          hi = prevUs + MAX_WAIT_USECS;
        } else {
          const end = ev.time.end ? (ev.time.end.kind === 'abs' ? ev.time.end.usecs : prevUs + ev.time.end.usecs) : t;
          lo = t - tol;
          hi = end + tol;
        }
        await advanceTo(hi, true);
        const expected = specText(ev.pkt);
        // Nothing in the window: wait on (bounded) so a late packet is reported with its time.
        if (!link.out.length) await advanceTo(Math.min(hi + LATE_LOOKAHEAD_USECS, prevUs + MAX_WAIT_USECS), true);
        const live = link.out.shift();
        if (!live) {
          throw new Fail({ line: ev.line, col: ev.col, message: `expected outbound packet was not sent by ${fmtT(hi)} (nor in the ${LATE_LOOKAHEAD_USECS / 1e6} s after)`, expected: `${fmtT(t)} > ${expected}`, actual: '(no packet)' });
        }
        const p = parseOutbound(live.ip);
        if (!p) throw new Fail({ line: ev.line, col: ev.col, message: 'the stack sent a packet that is not IP', expected, actual: '(not IP)' });
        if (!ep.learned && (p.proto === 'tcp' || p.proto === 'udp')) {
          ep.localPort = p.srcPort;
          ep.remotePort = p.dstPort;
          ep.learned = true;
        }
        const map = mapFor(ev.pkt.remotePort ?? (p.proto === 'tcp' || p.proto === 'udp' ? p.dstPort : null));
        let pkt: LivePacket = p;
        // packetdrill matches one script packet against several live ones that together form
        // it (a TSO/GSO aggregate the kernel cut up): contiguous, same ack, PSH/FIN only on the last.
        if (ev.pkt.proto === 'tcp' && p.proto === 'tcp' && p.payloadLen > 0 && p.payloadLen < ev.pkt.len && !(p.flags & (PSH_FIN))) {
          while (pkt.payloadLen < ev.pkt.len && !(pkt.flags & PSH_FIN)) {
            if (!link.out.length) await advanceTo(hi, true);
            const nxt = link.out[0];
            const q = nxt ? parseOutbound(nxt.ip) : null;
            if (!q || q.proto !== 'tcp' || q.payloadLen === 0 || q.seq !== ((pkt.seq + pkt.payloadLen) >>> 0) || q.ack !== pkt.ack) break;
            if ((q.flags & ~PSH_FIN) !== (pkt.flags & ~PSH_FIN) || q.srcPort !== pkt.srcPort || q.dstPort !== pkt.dstPort) break;
            link.out.shift();
            pkt = { ...pkt, payloadLen: pkt.payloadLen + q.payloadLen, flags: q.flags, checksumOk: pkt.checksumOk && q.checksumOk };
          }
        }
        const why = matchOutbound(ev.pkt, pkt, ep, map);
        const portText = ev.pkt.remotePort !== null && (pkt.proto === 'tcp' || pkt.proto === 'udp') ? `remote_port ${pkt.dstPort} ` : '';
        const actual = `${fmtT(live.usecs)} > ${portText}${liveText(pkt, map)}${pkt !== p ? ' (aggregated)' : ''}`;
        if (why) throw new Fail({ line: ev.line, col: ev.col, message: why, expected: `${fmtT(t)} > ${expected}`, actual });
        if (live.usecs < lo || live.usecs > hi) {
          throw new Fail({ line: ev.line, col: ev.col, message: `outbound packet timing: sent at ${fmtT(live.usecs)}, expected at ${fmtT(t)}${ev.time.end ? ' (window)' : ''} (tolerance ${tol} us)`, expected: `${fmtT(t)} > ${expected}`, actual });
        }
        // packetdrill: later relative times count from when the packet really left.
        prevUs = live.usecs;
        continue;
      }
      await advanceTo(t, false);
      if (ev.type === 'packet') {
        const pkt = ev.pkt;
        if (!ep.learned && pkt.remotePort === null) ep.learned = true;
        link.inject(buildInbound(pkt, ep, mapFor(pkt.remotePort), link.lastOut));
        clock.advance(0);
        await settle();
        prevUs = t;
        continue;
      }
      // A system call.
      let call: PendingCall;
      try {
        call = adapter.start(ev.call);
      } catch (e) {
        if (e instanceof UnsupportedError) throw new Fail({ line: ev.line, col: ev.col, message: `unsupported by moat's runner: ${e.message}` });
        if (e instanceof ScriptValueError) throw new Fail({ line: ev.line, col: ev.col, message: e.message });
        throw e;
      }
      if (ev.call.name === 'connect' && !ep.learned) {
        ep.remotePort = connectPort;
      }
      await drain();
      clock.advance(0);
      const out = outcomeOf(ev, call);
      if (out) {
        checkOutcome(ev, out);
        await settle();
        prevUs = t;
        continue;
      }
      const end = blockEndOf(ev.call, t);
      if (end !== null) {
        blocked.push({ ev, call, endUsecs: end });
        prevUs = t;
        continue;
      }
      // Blocked without "...": wait for it (nothing else in the script runs meanwhile).
      let res: CallOutcome | null = null;
      const limit = t + MAX_WAIT_USECS;
      while (!res && nowUs() < limit) {
        const next = clock.nextDeadline();
        if (next === Infinity) break;
        await advanceTo(Math.min(Math.round(next * 1000), limit), false);
        res = outcomeOf(ev, call);
      }
      if (!res) throw new Fail({ line: ev.line, col: ev.col, message: `${ev.call.name}() blocked forever (use "start...end" for a call that blocks until a later packet)` });
      if (returnedUs(call) - t > tol) {
        throw new Fail({ line: ev.line, col: ev.col, message: `${ev.call.name}() blocked until ${fmtT(returnedUs(call))}, expected to return at ${fmtT(t)} (tolerance ${tol} us; write "start...end" for a blocking call)` });
      }
      checkOutcome(ev, res);
      prevUs = t;
    }
    if (blocked.length) {
      const b = blocked[0]!;
      await advanceTo(Math.max(nowUs(), b.endUsecs + tol), false);
      if (blocked.length) {
        throw new Fail({ line: b.ev.line, col: b.ev.col, message: `blocking ${b.ev.call.name}() had not returned by ${fmtT(b.endUsecs + tol)} (expected at ${fmtT(b.endUsecs)})` });
      }
    }
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    return { file: script.file, passed: false, failure: e.f, frames, trailing: [], eventsRun };
  } finally {
    // The process exits: calls still blocked are interrupted (their sockets are left as they are).
    adapter.interruptAll();
  }
  const trailing = link.out.map((l) => {
    const p = parseOutbound(l.ip);
    return p ? `${fmtT(l.usecs)} > ${liveText(p, mapFor(p.dstPort))}` : `${fmtT(l.usecs)} > (not IP)`;
  });
  return { file: script.file, passed: true, failure: null, frames, trailing, eventsRun };
}

function blockEndOf(c: SyscallSpec, startUs: number): number | null {
  if (!c.blockEnd) return null;
  return c.blockEnd.kind === 'abs' ? c.blockEnd.usecs : startUs + c.blockEnd.usecs;
}

function failed(script: Script, f: ScriptFailure): RunResult {
  return { file: script.file, passed: false, failure: f, frames: [], trailing: [], eventsRun: 0 };
}

/** A failure as the lines the CLI prints (file:line: message, then expected / actual). */
export function formatFailure(r: RunResult): string {
  if (!r.failure) return '';
  const f = r.failure;
  let s = `${r.file}:${f.line}:${f.col}: ${f.message}`;
  if (f.expected !== undefined) s += `\n  expected: ${f.expected}`;
  if (f.actual !== undefined) s += `\n  actual:   ${f.actual}`;
  return s;
}

export { ERRNO, exprText, type LivePacket };
