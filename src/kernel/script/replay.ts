// Replays one side of a recorded TCP conversation against moat's stack, in process and in
// virtual time: the recorded peer's packets are injected at their recorded times with their
// sequence/ack numbers, SACK blocks and TS echo rewritten to follow moat's live choices (its ISN,
// what it really sent, its TSvals) and fresh checksums (RFC 9293 §3.1, RFC 7323 §3, RFC 2018 §3);
// an application on moat's side replays the recorded device-under-test's byte stream (it writes
// each recorded chunk once the peer bytes that preceded it have been read, and closes where the
// recording closed). What moat sends is then compared with what the recorded device sent,
// normalized (flags, relative seq/ack, lengths, option kinds with MSS/wscale values), aligned by a
// longest-common-subsequence diff so one extra or missing ACK is one divergence, not a cascade.
//
// Supported: one TCP conversation (the first one involving the DUT address and port), over
// IPv4 or IPv6, Ethernet frames, the DUT being the side that accepted the connection (the
// recorded server). Not supported (refused by name): a DUT that opened the connection, non-Ethernet
// captures, IP fragments.

import { IpAddr, SeededRng, Stack, StaticNeighbors, VirtualClock } from '../../netstack/index.js';
import { TcpProtocol, type TcpEndpoint, type TcpStackConfig } from '../../netstack/tcp/index.js';
import { isNetError } from '../../netstack/errors.js';
import { emitIpv4 } from '../../netstack/wire/ipv4.js';
import { emitIpv6 } from '../../netstack/wire/ipv6.js';
import { tcpChecksum, TcpFlags, TcpOptionKind } from '../../netstack/wire/tcp.js';
import { flagText, parseOutbound, type LivePacket } from './packet.js';
import { ScriptLink, type CapturedFrame } from './runner.js';
import { concatBytes } from '../../netstack/wire/bytes.js';

export interface ReplayFrame {
  /** Capture time in microseconds (any origin). */
  usecs: number;
  /** An Ethernet frame. */
  data: Uint8Array;
}

export interface ReplayOptions {
  dut: { addr: IpAddr; port: number };
  tcpConfig?: Partial<TcpStackConfig>;
  seed?: number;
  /** Virtual time to let moat finish after the last recorded packet (default 5 s). */
  drainUsecs?: number;
}

export interface Divergence {
  kind: 'recorded-only' | 'moat-only';
  /** Index among the recorded DUT packets or among moat's packets. */
  index: number;
  text: string;
}

export interface ReplayResult {
  ok: boolean;
  /** Why the capture could not be replayed (nothing else is set then). */
  error: string | null;
  conversation: string;
  peerPackets: number;
  recordedDutPackets: number;
  moatPackets: number;
  /** Normalized lines, recorded and moat's, in order. */
  recorded: string[];
  actual: string[];
  divergences: Divergence[];
  /** Application bytes: what moat's app read vs what the peer sent; what the peer got vs what the DUT sent. */
  peerBytes: number;
  dutReadBytes: number;
  dutBytes: number;
  deliveredBytes: number;
  dataIntact: boolean;
  frames: CapturedFrame[];
}

interface RecPacket {
  usecs: number;
  fromDut: boolean;
  ip: Uint8Array;
  tcp: Uint8Array;
  p: LivePacket;
  payload: Uint8Array;
}

const u32 = (d: Uint8Array, o: number) => ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
function put32(d: Uint8Array, o: number, v: number): void {
  d[o] = (v >>> 24) & 0xff;
  d[o + 1] = (v >>> 16) & 0xff;
  d[o + 2] = (v >>> 8) & 0xff;
  d[o + 3] = v & 0xff;
}

function tcpPayload(ip: Uint8Array, p: LivePacket): { tcp: Uint8Array; payload: Uint8Array } {
  const ihl = p.family === 4 ? (ip[0]! & 15) * 4 : 40;
  const total = p.family === 4 ? (ip[2]! << 8) | ip[3]! : 40 + ((ip[4]! << 8) | ip[5]!);
  const tcp = ip.subarray(ihl, Math.min(total, ip.length));
  const hl = (tcp[12]! >> 4) * 4;
  return { tcp, payload: tcp.subarray(hl) };
}

/** Flags, relative numbers, length and options of a packet, as one comparable line. */
function normalize(p: LivePacket, ownIsn: number, peerIsn: number): string {
  const rel = (v: number, base: number) => (v - base) >>> 0;
  const seq = rel(p.seq, ownIsn);
  let t = `${flagText(p.flags)} ${seq}:${(seq + p.payloadLen) >>> 0}(${p.payloadLen})`;
  if (p.flags & TcpFlags.ACK) t += ` ack ${rel(p.ack, peerIsn)}`;
  const opts: string[] = [];
  for (const o of p.options) {
    switch (o.kind) {
      case TcpOptionKind.NOP:
        opts.push('nop');
        break;
      case TcpOptionKind.MSS:
        opts.push(`mss ${(o.data[0]! << 8) | o.data[1]!}`);
        break;
      case TcpOptionKind.WINDOW_SCALE:
        opts.push(`wscale ${o.data[0]}`);
        break;
      case TcpOptionKind.SACK_PERMITTED:
        opts.push('sackOK');
        break;
      case TcpOptionKind.TIMESTAMP:
        opts.push('TS');
        break;
      case TcpOptionKind.SACK: {
        const b: string[] = [];
        for (let i = 0; i + 8 <= o.data.length; i += 8) b.push(`${rel(u32(o.data, i), peerIsn)}:${rel(u32(o.data, i + 4), peerIsn)}`);
        opts.push(`sack ${b.join(' ')}`);
        break;
      }
      default:
        opts.push(`opt${o.kind}`);
    }
  }
  if (opts.length) t += ` <${opts.join(',')}>`;
  return t;
}

/** Longest-common-subsequence alignment of two line lists (bounded: captures here are small). */
function diff(a: string[], b: string[]): Divergence[] {
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) {
    const out: Divergence[] = [];
    for (let i = 0; i < Math.max(n, m); i++) {
      if (a[i] === b[i]) continue;
      if (i < n) out.push({ kind: 'recorded-only', index: i, text: a[i]! });
      if (i < m) out.push({ kind: 'moat-only', index: i, text: b[i]! });
    }
    return out;
  }
  const L: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i]![j] = a[i] === b[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const out: Divergence[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < m && (i === n || L[i]![j + 1]! >= L[i + 1]![j]!)) out.push({ kind: 'moat-only', index: j, text: b[j++]! });
    else out.push({ kind: 'recorded-only', index: i, text: a[i++]! });
  }
  return out;
}

function empty(error: string): ReplayResult {
  return {
    ok: false, error, conversation: '', peerPackets: 0, recordedDutPackets: 0, moatPackets: 0, recorded: [], actual: [], divergences: [],
    peerBytes: 0, dutReadBytes: 0, dutBytes: 0, deliveredBytes: 0, dataIntact: false, frames: [],
  };
}

/** One application step on the DUT side: once `afterPeer` bytes (and FIN, if set) were read, write / close. */
interface AppStep {
  afterPeer: number;
  afterPeerFin: boolean;
  /** Microseconds after the first recorded packet. */
  notBefore: number;
  write: Uint8Array[];
  close: boolean;
}

export function replay(framesIn: readonly ReplayFrame[], opts: ReplayOptions): ReplayResult {
  const dut = opts.dut.addr;
  const dutPort = opts.dut.port;
  // --- pick the conversation
  const rec: RecPacket[] = [];
  let peer: IpAddr | null = null;
  let peerPort = 0;
  let peerMac: Uint8Array | null = null;
  let dutMac: Uint8Array | null = null;
  for (const f of framesIn) {
    if (f.data.length < 14) continue;
    const et = (f.data[12]! << 8) | f.data[13]!;
    if (et !== 0x0800 && et !== 0x86dd) continue;
    const ip = f.data.subarray(14);
    const p = parseOutbound(ip);
    if (!p || p.proto !== 'tcp') continue;
    const fromDut = p.src.equals(dut) && p.srcPort === dutPort;
    const toDut = p.dst.equals(dut) && p.dstPort === dutPort;
    if (!fromDut && !toDut) continue;
    const other = fromDut ? p.dst : p.src;
    const otherPort = fromDut ? p.dstPort : p.srcPort;
    if (!peer) {
      peer = other;
      peerPort = otherPort;
    } else if (!other.equals(peer) || otherPort !== peerPort) continue;
    if (fromDut) dutMac ??= f.data.slice(6, 12);
    else peerMac ??= f.data.slice(6, 12);
    const { tcp, payload } = tcpPayload(ip, p);
    rec.push({ usecs: f.usecs, fromDut, ip, tcp, p, payload });
  }
  if (!peer || !rec.length) return empty(`no TCP conversation with ${dut}:${dutPort} in the capture`);
  const hp = (a: IpAddr, p: number) => (a.family === 6 ? `[${a}]:${p}` : `${a}:${p}`);
  const conversation = `${hp(peer, peerPort)} -> DUT ${hp(dut, dutPort)}`;
  const syn = rec.find((r) => !r.fromDut && r.p.flags & TcpFlags.SYN && !(r.p.flags & TcpFlags.ACK));
  const synAck = rec.find((r) => r.fromDut && r.p.flags & TcpFlags.SYN && r.p.flags & TcpFlags.ACK);
  if (rec.some((r) => r.fromDut && r.p.flags & TcpFlags.SYN && !(r.p.flags & TcpFlags.ACK))) {
    return empty('the DUT opened the connection in this capture: replay supports a DUT that accepts it (the recorded server) only');
  }
  if (!syn || !synAck) return empty('the capture does not hold the handshake (SYN and SYN-ACK) of the conversation');
  const peerIsn = syn.p.seq;
  const recDutIsn = synAck.p.seq;

  // --- the DUT application: the recorded DUT byte stream. A write ends where the recorded DUT
  // set PSH (Linux marks the end of each write) or before the peer's next bytes; nothing is
  // done before the recorded time of the packet that carried it.
  const t0 = rec[0]!.usecs;
  const steps: AppStep[] = [];
  let peerHigh = 0;
  let peerFin = false;
  let dutHigh = 0;
  const dutStream: Uint8Array[] = [];
  const peerStream: Uint8Array[] = [];
  let open: AppStep | null = null;
  const flush = () => {
    if (open) steps.push(open);
    open = null;
  };
  for (const r of rec) {
    if (!r.fromDut) {
      const rel = (r.p.seq - peerIsn - 1) | 0;
      if (r.payload.length && rel <= peerHigh && rel + r.payload.length > peerHigh) {
        flush();
        peerStream.push(r.payload.subarray(peerHigh - rel));
        peerHigh = rel + r.payload.length;
      }
      if (r.p.flags & TcpFlags.FIN) {
        flush();
        peerFin = true;
      }
      continue;
    }
    const rel = (r.p.seq - recDutIsn - 1) | 0;
    if (r.payload.length && rel <= dutHigh && rel + r.payload.length > dutHigh) {
      const chunk = r.payload.subarray(dutHigh - rel);
      dutStream.push(chunk);
      if (!open) open = { afterPeer: peerHigh, afterPeerFin: false, notBefore: r.usecs - t0, write: [], close: false };
      open.write.push(chunk);
      dutHigh = rel + r.payload.length;
      if (r.p.flags & TcpFlags.PSH) flush();
    }
    if (r.p.flags & TcpFlags.FIN && !steps.some((s) => s.close)) {
      flush();
      steps.push({ afterPeer: peerHigh, afterPeerFin: peerFin, notBefore: r.usecs - t0, write: [], close: true });
    }
  }
  flush();

  // --- moat's stack as the DUT
  const clock = new VirtualClock();
  const nowUs = () => Math.round(clock.now() * 1000);
  const frames: CapturedFrame[] = [];
  const link = new ScriptLink(nowUs, frames, dutMac ?? Uint8Array.of(2, 0, 0, 0, 0, 2), peerMac ?? Uint8Array.of(2, 0, 0, 0, 0, 1));
  const neighbors = new StaticNeighbors();
  neighbors.table.set(peer.key, peerMac ?? Uint8Array.of(2, 0, 0, 0, 0, 1));
  let tcp!: TcpProtocol;
  const stack = new Stack({ clock, rng: new SeededRng(opts.seed ?? 1), neighbors, loopback: false, transports: (net) => [(tcp = new TcpProtocol(net, opts.tcpConfig))] });
  const fam = dut.family;
  const nic = stack.addNic(link, { addresses: [`${dut}/${fam === 4 ? 32 : 128}`] });
  stack.addRoute(`${peer}/${fam === 4 ? 32 : 128}`, nic);
  clock.advance(0);
  const listener = tcp.endpoint();
  if (isNetError(listener.bind(dut, dutPort)) || isNetError(listener.listen(16))) return empty(`cannot listen on ${dut}:${dutPort} in moat's stack`);

  let conn: TcpEndpoint | null = null;
  let read = 0;
  let eof = false;
  let stepIx = 0;
  let pending: Uint8Array | null = null;
  const app = () => {
    if (!conn) {
      const c = listener.accept();
      if (isNetError(c)) return;
      conn = c;
    }
    for (let r = conn.read(); r && !isNetError(r); r = conn.read()) read += r.length;
    if (conn.read() === null) eof = true;
    for (;;) {
      if (pending) {
        const n = conn.write(pending);
        if (isNetError(n)) return;
        pending = n < pending.length ? pending.subarray(n) : null;
        if (pending) return;
      }
      const s = steps[stepIx];
      if (!s || read < s.afterPeer || (s.afterPeerFin && !eof) || nowUs() < s.notBefore) return;
      stepIx++;
      if (s.write.length) pending = concatBytes(s.write);
      if (s.close) conn.close();
    }
  };

  // --- what moat sent, kept as parsed packets
  const moatOut: LivePacket[] = [];
  let liveIsn: number | null = null;
  let sndMax = 0;
  let lastTsVal: number | null = null;
  const collect = () => {
    while (link.out.length) {
      const o = link.out.shift()!;
      const p = parseOutbound(o.ip);
      if (!p || p.proto !== 'tcp') continue;
      moatOut.push(p);
      if (p.flags & TcpFlags.SYN) liveIsn = p.seq;
      const end = (p.seq + p.payloadLen + (p.flags & TcpFlags.SYN ? 1 : 0) + (p.flags & TcpFlags.FIN ? 1 : 0)) >>> 0;
      if (liveIsn !== null && ((end - sndMax) | 0) > 0) sndMax = end;
      for (const opt of p.options) if (opt.kind === TcpOptionKind.TIMESTAMP && opt.data.length === 8) lastTsVal = u32(opt.data, 0);
    }
  };
  const step = (targetUs: number) => {
    const target = targetUs / 1000;
    for (let guard = 0; guard < 1_000_000; guard++) {
      app();
      clock.advance(0);
      collect();
      const due = steps[stepIx] ? steps[stepIx]!.notBefore / 1000 : Infinity;
      const next = Math.min(clock.nextDeadline(), due > clock.now() ? due : Infinity);
      if (next > target) break;
      clock.advanceTo(Math.max(next, clock.now()));
    }
    clock.advanceTo(Math.max(target, clock.now()));
    app();
    clock.advance(0);
    collect();
  };

  // --- inject the peer's packets, rewritten
  let injected = 0;
  for (const r of rec) {
    if (r.fromDut) continue;
    step(r.usecs - t0);
    const tcpSeg = r.tcp.slice();
    if (r.p.flags & TcpFlags.ACK && liveIsn !== null) {
      const want = (liveIsn + ((r.p.ack - recDutIsn) >>> 0)) >>> 0;
      // Never acknowledge what moat has not sent: the peer follows moat's live sequence space.
      put32(tcpSeg, 8, ((want - sndMax) | 0) > 0 ? sndMax : want);
    }
    rewriteOptions(tcpSeg, recDutIsn, liveIsn, lastTsVal);
    tcpSeg[16] = 0;
    tcpSeg[17] = 0;
    const hl = (tcpSeg[12]! >> 4) * 4;
    const sum = tcpChecksum(peer, dut, tcpSeg.subarray(0, hl), tcpSeg.subarray(hl));
    tcpSeg[16] = sum >> 8;
    tcpSeg[17] = sum & 0xff;
    link.inject(wrapIp(peer, dut, tcpSeg));
    injected++;
    clock.advance(0);
    collect();
  }
  step(nowUs() + (opts.drainUsecs ?? 5_000_000));

  // --- compare
  const recordedDut = rec.filter((r) => r.fromDut);
  const recorded = recordedDut.map((r) => normalize(r.p, recDutIsn, peerIsn));
  const actual = moatOut.map((p) => normalize(p, liveIsn ?? 0, peerIsn));
  const divergences = diff(recorded, actual);
  const expectedDut = concatBytes(dutStream);
  const deliveredBytes = deliveredStream(frames, liveIsn, dut, dutPort);
  const dataIntact = read === peerHigh && equalBytes(deliveredBytes, expectedDut);
  return {
    ok: divergences.length === 0 && dataIntact,
    error: null,
    conversation,
    peerPackets: injected,
    recordedDutPackets: recordedDut.length,
    moatPackets: moatOut.length,
    recorded,
    actual,
    divergences,
    peerBytes: concatBytes(peerStream).length,
    dutReadBytes: read,
    dutBytes: expectedDut.length,
    deliveredBytes: deliveredBytes.length,
    dataIntact,
    frames,
  };
}

/** The DUT's byte stream as moat put it on the wire (in sequence order, first copy of each byte). */
function deliveredStream(frames: CapturedFrame[], isn: number | null, dut: IpAddr, port: number): Uint8Array {
  if (isn === null) return new Uint8Array(0);
  const parts = new Map<number, Uint8Array>();
  for (const f of frames) {
    if (f.dir !== 'out') continue;
    const ip = f.data.subarray(14);
    const p = parseOutbound(ip);
    if (!p || p.proto !== 'tcp' || !p.src.equals(dut) || p.srcPort !== port || !p.payloadLen) continue;
    const rel = ((p.seq - isn) >>> 0) - 1;
    if (!parts.has(rel)) parts.set(rel, tcpPayload(ip, p).payload.slice());
  }
  const out: Uint8Array[] = [];
  let at = 0;
  for (const k of [...parts.keys()].sort((a, b) => a - b)) {
    const d = parts.get(k)!;
    if (k > at) break;
    if (k + d.length <= at) continue;
    out.push(d.subarray(at - k));
    at = k + d.length;
  }
  return concatBytes(out);
}

function rewriteOptions(tcp: Uint8Array, recDutIsn: number, liveIsn: number | null, lastTsVal: number | null): void {
  const hl = (tcp[12]! >> 4) * 4;
  for (let i = 20; i < hl; ) {
    const k = tcp[i]!;
    if (k === TcpOptionKind.EOL) break;
    if (k === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    const len = tcp[i + 1] ?? 0;
    if (len < 2 || i + len > hl) break;
    if (k === TcpOptionKind.TIMESTAMP && len === 10 && u32(tcp, i + 6) !== 0) put32(tcp, i + 6, lastTsVal ?? 0);
    if (k === TcpOptionKind.SACK && liveIsn !== null) {
      for (let o = i + 2; o + 8 <= i + len; o += 4) put32(tcp, o, (liveIsn + ((u32(tcp, o) - recDutIsn) >>> 0)) >>> 0);
    }
    i += len;
  }
}

function wrapIp(src: IpAddr, dst: IpAddr, l4: Uint8Array): Uint8Array {
  if (src.family === 4) {
    const out = new Uint8Array(20 + l4.length);
    emitIpv4({ src, dst, protocol: 6, ttl: 64, payloadLen: l4.length, dontFragment: true }, out, 0);
    out.set(l4, 20);
    return out;
  }
  const out = new Uint8Array(40 + l4.length);
  emitIpv6({ src, dst, nextHeader: 6, hopLimit: 64, payloadLen: l4.length }, out, 0);
  out.set(l4, 40);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The replay report as text lines. */
export function formatReplay(r: ReplayResult, maxDivergences = 40): string[] {
  if (r.error) return [`replay: ${r.error}`];
  const lines = [
    `conversation ${r.conversation}`,
    `peer packets injected: ${r.peerPackets}; DUT packets recorded: ${r.recordedDutPackets}, sent by moat: ${r.moatPackets}`,
    `application data: peer -> DUT ${r.peerBytes} bytes (moat read ${r.dutReadBytes}); DUT -> peer ${r.dutBytes} bytes (moat sent ${r.deliveredBytes})${r.dataIntact ? ', intact' : ', NOT intact'}`,
  ];
  if (r.divergences.length) {
    lines.push('divergences (- recorded DUT only, + moat only; relative seq/ack, TS values and windows not compared):');
    for (const d of r.divergences.slice(0, maxDivergences)) lines.push(`  ${d.kind === 'recorded-only' ? '-' : '+'} #${d.index} ${d.text}`);
    if (r.divergences.length > maxDivergences) lines.push(`  ... ${r.divergences.length - maxDivergences} more`);
  }
  lines.push(`${r.divergences.length} divergence${r.divergences.length === 1 ? '' : 's'}`);
  return lines;
}
