// The socket conformance table's language: cases (call sequences), the raw results a runner
// reports, their normalized form, and the matcher that judges them against the expectations.
// Both runners (linux_runner.py on real sockets, target.ts's interpreter on moat) report RAW
// results; normalization and judging happen here, once, so both are judged by the same code.
// The language is described for humans in README.md.

import { decodeSockaddr } from '../../../src/kernel/sockaddr.js';
import {
  decodeCString, decodeIn6Pktinfo, decodeInPktinfo, decodeLinger, decodeSockExtendedErr, decodeTcpInfo, decodeTimeval, readI32,
} from '../../../src/kernel/sockopt-codec.js';
import { IPOPT, IPV6OPT, MSG, POLL, SOL, flagNames } from '../../../src/kernel/socket-abi.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';

/** Where a sockaddr comes from (README: Addresses). */
export interface AddrSpec {
  ip?: string;
  port?: number | { of: string };
  /** Another socket of the case: its getsockname (alone), or just its port (with `ip`). */
  of?: string;
  /** Overrides the sa_family field (the layout still follows `ip`). */
  family?: string;
  /** Cuts or zero-pads the sockaddr to this addrlen. */
  len?: number;
  flowinfo?: number;
  scopeId?: number;
  hex?: string;
}

export interface CmsgSpec {
  level: string;
  type: string;
  pktinfo?: { ifindex?: number; spec_dst?: string; addr?: string };
  int?: number;
  hex?: string;
}

interface OpBase {
  /** What the normalized result must match; absent means "$ok" (any non-error result). */
  expect?: unknown;
  /** Keeps the normalized result under this name for "$var:name.field" expectations. */
  save?: string;
}

export type Op = OpBase & (
  | { op: 'socket'; id: string; domain: string; type: string; proto?: string; flags?: string[] }
  | { op: 'close'; fd: string }
  | { op: 'setsockopt'; fd: string; level: string; name: string | number; int?: number; linger?: [number, number]; timeval?: [number, number]; str?: string; hex?: string; optlen?: number }
  | { op: 'getsockopt'; fd: string; level: string; name: string | number; as?: 'int' | 'linger' | 'timeval' | 'str' | 'tcp_info' | 'hex'; optlen?: number }
  | { op: 'bind' | 'connect'; fd: string; addr: AddrSpec }
  | { op: 'listen'; fd: string; backlog?: number }
  | { op: 'accept'; fd: string; id: string; flags?: string[]; addrlen?: number }
  | { op: 'getsockname' | 'getpeername'; fd: string; addrlen?: number }
  | { op: 'send'; fd: string; data?: string; size?: number; flags?: string[]; addr?: AddrSpec; cmsg?: CmsgSpec[] }
  | { op: 'recv'; fd: string; n?: number; flags?: string[]; namelen?: number; controllen?: number }
  | { op: 'shutdown'; fd: string; how: string | number }
  | { op: 'poll' | 'wait'; fd: string; events: string[]; timeoutMs?: number }
  | { op: 'ioctl'; fd: string; req: string | number }
  | { op: 'nonblock'; fd: string; on?: boolean }
  | { op: 'fill'; fd: string; chunk?: number; max?: number }
  | { op: 'drain'; fd: string; max?: number }
  | { op: 'sleep'; ms: number }
);

export interface Case {
  name: string;
  /** Why the case exists, or what Linux does that is surprising. */
  note?: string;
  ops: Op[];
}

/** A runner's report of one call: an errno name, or the return value and what came back. */
export type RawResult =
  | { err: string }
  | {
      ret: number;
      optlen?: number; opt?: string;
      addr?: string; addrlen?: number;
      data?: string; msgFlags?: number; cmsgs?: { level: number; type: number; hex: string }[];
      revents?: number; value?: number;
    };

export interface CaseOutcome {
  name: string;
  results: RawResult[];
  /** The runner could not run the case (unknown op or name, a socket id never created). */
  error?: string;
}

const hexBytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

export function normalizeSockaddr(hex: string, addrlen: number): Record<string, unknown> {
  const sa = decodeSockaddr(hexBytes(hex));
  if (!sa) return { len: addrlen, hex };
  const out: Record<string, unknown> = { family: sa.family, addr: sa.addr.key, port: sa.port };
  if (sa.family === 'AF_INET6') {
    out.flowinfo = sa.flowinfo;
    out.scopeId = sa.scopeId;
  }
  out.len = addrlen;
  return out;
}

function normalizeOpt(as: string | undefined, hex: string, optlen: number): Record<string, unknown> {
  const b = hexBytes(hex);
  const out: Record<string, unknown> = { len: optlen, hex };
  switch (as ?? 'int') {
    case 'int':
      if (b.length === 4) out.int = readI32(b, 0);
      else if (b.length === 1) out.int = b[0];
      break;
    case 'linger': {
      const l = decodeLinger(b);
      if (l) out.linger = [l.onoff, l.linger];
      break;
    }
    case 'timeval': {
      const tv = decodeTimeval(b);
      if (tv) out.timeval = [tv.sec, tv.usec];
      break;
    }
    case 'str':
      out.str = decodeCString(b);
      break;
    case 'tcp_info':
      out.tcpi = decodeTcpInfo(b);
      break;
  }
  return out;
}

const IP_CMSG: Record<number, string> = { [IPOPT.IP_PKTINFO]: 'IP_PKTINFO', [IPOPT.IP_TTL]: 'IP_TTL', [IPOPT.IP_TOS]: 'IP_TOS', [IPOPT.IP_RECVERR]: 'IP_RECVERR' };
const IPV6_CMSG: Record<number, string> = { [IPV6OPT.IPV6_PKTINFO]: 'IPV6_PKTINFO', [IPV6OPT.IPV6_HOPLIMIT]: 'IPV6_HOPLIMIT', [IPV6OPT.IPV6_TCLASS]: 'IPV6_TCLASS', [IPV6OPT.IPV6_RECVERR]: 'IPV6_RECVERR' };

function normalizeExtendedErr(level: string, type: string, data: Uint8Array, hex: string): Record<string, unknown> {
  const e = decodeSockExtendedErr(data);
  if (!e) return { level, type, hex };
  const offender = e.offender.length ? normalizeSockaddr(Buffer.from(e.offender).toString('hex'), e.offender.length) : null;
  return { level, type, ee: { errno: e.errno, origin: e.origin, type: e.type, code: e.code, info: e.info, data: e.data }, offender };
}

function normalizeCmsg(m: { level: number; type: number; hex: string }): Record<string, unknown> {
  const data = hexBytes(m.hex);
  if (m.level === SOL.SOL_IP) {
    const type = IP_CMSG[m.type] ?? m.type;
    if (type === 'IP_PKTINFO') {
      const p = decodeInPktinfo(data);
      if (p) return { level: 'SOL_IP', type, pktinfo: { ifindex: p.ifindex, spec_dst: IpAddr.v4(p.specDst).key, addr: IpAddr.v4(p.addr).key } };
    }
    if (type === 'IP_TTL' && data.length >= 4) return { level: 'SOL_IP', type, int: readI32(data, 0) };
    if (type === 'IP_TOS' && data.length >= 1) return { level: 'SOL_IP', type, int: data[0] };
    if (type === 'IP_RECVERR') return normalizeExtendedErr('SOL_IP', type, data, m.hex);
    return { level: 'SOL_IP', type, hex: m.hex };
  }
  if (m.level === SOL.SOL_IPV6) {
    const type = IPV6_CMSG[m.type] ?? m.type;
    if (type === 'IPV6_PKTINFO') {
      const p = decodeIn6Pktinfo(data);
      if (p) return { level: 'SOL_IPV6', type, pktinfo: { addr: IpAddr.v6(p.addr).key, ifindex: p.ifindex } };
    }
    if ((type === 'IPV6_HOPLIMIT' || type === 'IPV6_TCLASS') && data.length >= 4) return { level: 'SOL_IPV6', type, int: readI32(data, 0) };
    if (type === 'IPV6_RECVERR') return normalizeExtendedErr('SOL_IPV6', type, data, m.hex);
    return { level: 'SOL_IPV6', type, hex: m.hex };
  }
  return { level: m.level, type: m.type, hex: m.hex };
}

/**
 * The normalized form of one result (README: Normalization): an errno name; 0 for calls that
 * only succeed; a number for byte counts and ioctls; poll bits as names in bit order; sockaddrs
 * as { family, addr, port, [flowinfo, scopeId,] len }; options as { len, hex, int | linger |
 * timeval | str | tcpi }; received data as { n, data, flags?, from?, cmsg? }.
 */
export function normalize(op: Op, raw: RawResult): unknown {
  if ('err' in raw) return raw.err;
  switch (op.op) {
    case 'getsockopt':
      return normalizeOpt(op.as, raw.opt ?? '', raw.optlen ?? 0);
    case 'accept':
      return { peer: normalizeSockaddr(raw.addr ?? '', raw.addrlen ?? 0) };
    case 'getsockname':
    case 'getpeername':
      return normalizeSockaddr(raw.addr ?? '', raw.addrlen ?? 0);
    case 'recv': {
      const out: Record<string, unknown> = { n: raw.ret, data: Buffer.from(raw.data ?? '', 'hex').toString('latin1') };
      out.flags = flagNames(MSG, raw.msgFlags ?? 0);
      if (raw.addr !== undefined) out.from = raw.addrlen ? normalizeSockaddr(raw.addr, raw.addrlen) : null;
      if (raw.cmsgs !== undefined) out.cmsg = raw.cmsgs.map(normalizeCmsg);
      return out;
    }
    case 'poll':
    case 'wait':
      return flagNames(POLL, raw.revents ?? 0);
    case 'ioctl':
      return raw.value;
    default:
      return raw.ret;
  }
}

// ---- matching --------------------------------------------------------------------------------

export interface MatchScope {
  /** Named numbers for {"$env": name} (sysctls on Linux; configuration on moat). */
  env: Record<string, number>;
  /** Results saved by ops with `save`. */
  vars: Record<string, unknown>;
}

const isErrno = (v: unknown): boolean => typeof v === 'string' && /^E[A-Z0-9#]+$/.test(v);

function lookupVar(ref: string, scope: MatchScope): unknown {
  const [head, ...path] = ref.split('.');
  let v: unknown = scope.vars[head];
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

function envValue(e: { $env: string; mul?: number; add?: number; div?: number }, scope: MatchScope): number {
  const base = scope.env[e.$env];
  if (base === undefined) throw new Error(`no env value ${e.$env}`);
  return Math.trunc((base * (e.mul ?? 1)) / (e.div ?? 1)) + (e.add ?? 0);
}

const show = (v: unknown): string => JSON.stringify(v);

/**
 * Checks `actual` against `expect`; returns null when it matches, else a description of the
 * first difference. Objects match as subsets (keys the expectation leaves out are not checked);
 * arrays match element by element with equal lengths; strings "$any", "$ok", "$errno",
 * "$nonzero", "$var:name.path" and objects {"$one_of"}, {"$gte"}, {"$lte"}, {"$range"},
 * {"$env"}, {"$contains"}, {"$not"} are patterns.
 */
export function match(expect: unknown, actual: unknown, scope: MatchScope, path = '$'): string | null {
  if (expect === undefined || expect === '$ok') return isErrno(actual) ? `${path}: expected success, got ${show(actual)}` : null;
  if (typeof expect === 'string' && expect.startsWith('$')) {
    if (expect === '$any') return null;
    if (expect === '$errno') return isErrno(actual) ? null : `${path}: expected an errno, got ${show(actual)}`;
    if (expect === '$nonzero') return typeof actual === 'number' && actual !== 0 ? null : `${path}: expected a nonzero number, got ${show(actual)}`;
    if (expect.startsWith('$var:')) return match(lookupVar(expect.slice(5), scope), actual, scope, path);
    throw new Error(`unknown pattern ${expect}`);
  }
  if (Array.isArray(expect)) {
    if (!Array.isArray(actual) || actual.length !== expect.length) return `${path}: expected ${show(expect)}, got ${show(actual)}`;
    for (let i = 0; i < expect.length; i++) {
      const m = match(expect[i], actual[i], scope, `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (expect !== null && typeof expect === 'object') {
    const e = expect as Record<string, unknown>;
    const keys = Object.keys(e);
    if (keys.length >= 1 && keys[0].startsWith('$')) {
      const num = typeof actual === 'number' ? actual : NaN;
      if ('$one_of' in e) {
        const alts = e.$one_of as unknown[];
        return alts.some((a) => match(a, actual, scope, path) === null) ? null : `${path}: expected one of ${show(alts)}, got ${show(actual)}`;
      }
      if ('$range' in e) {
        const [lo, hi] = e.$range as [number, number];
        return num >= lo && num <= hi ? null : `${path}: expected ${lo}..${hi}, got ${show(actual)}`;
      }
      if ('$gte' in e) return num >= (e.$gte as number) ? null : `${path}: expected >= ${show(e.$gte)}, got ${show(actual)}`;
      if ('$lte' in e) return num <= (e.$lte as number) ? null : `${path}: expected <= ${show(e.$lte)}, got ${show(actual)}`;
      if ('$env' in e) {
        const v = envValue(e as { $env: string }, scope);
        return actual === v ? null : `${path}: expected ${v} (${show(e)}), got ${show(actual)}`;
      }
      if ('$contains' in e) {
        const want = e.$contains as unknown[];
        return Array.isArray(actual) && want.every((w) => actual.includes(w)) ? null : `${path}: expected to contain ${show(want)}, got ${show(actual)}`;
      }
      if ('$not' in e) return match(e.$not, actual, scope, path) === null ? `${path}: expected not ${show(e.$not)}, got ${show(actual)}` : null;
      throw new Error(`unknown pattern ${show(e)}`);
    }
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected ${show(expect)}, got ${show(actual)}`;
    for (const k of keys) {
      const m = match(e[k], (actual as Record<string, unknown>)[k], scope, `${path}.${k}`);
      if (m) return m;
    }
    return null;
  }
  return expect === actual ? null : `${path}: expected ${show(expect)}, got ${show(actual)}`;
}

/** Judges one case's outcome: the list of mismatches (empty when the runner agrees with the table). */
export function judgeCase(c: Case, outcome: CaseOutcome, env: Record<string, number>): string[] {
  const problems: string[] = [];
  if (outcome.error) problems.push(`runner error after ${outcome.results.length} ops: ${outcome.error}`);
  const scope: MatchScope = { env, vars: {} };
  outcome.results.forEach((raw, i) => {
    const op = c.ops[i];
    const actual = normalize(op, raw);
    if (op.save) scope.vars[op.save] = actual;
    const m = match(op.expect, actual, scope, `op ${i} (${op.op})`);
    if (m) problems.push(m);
  });
  if (!outcome.error && outcome.results.length !== c.ops.length) problems.push(`ran ${outcome.results.length} of ${c.ops.length} ops`);
  return problems;
}
