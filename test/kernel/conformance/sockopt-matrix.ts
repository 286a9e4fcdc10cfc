// A generated table for the option codec: every option of src/kernel/sockopt-codec.ts, set with
// each optlen 0..4 and 8 (then read back when the set succeeds), and read with each optlen -1..4
// and 8. Expectations come from setsockoptInt/getsockoptLen; linux.test.ts runs the table on the
// kernel, so the codec's optlen and value rules are Linux's, option by option.

import { LINUX_DEFAULT_LIMITS, SOCKOPTS, encodeInt, getsockoptLen, setsockoptInt } from '../../../src/kernel/sockopt-codec.js';
import type { SockoptLimits, SockoptSpec } from '../../../src/kernel/sockopt-codec.js';
import type { Case, Op } from './table.js';

/** A value each option accepts (small, so SOL_IP's one-byte form carries it whole). */
const VALID: Record<string, number> = {
  SO_SNDBUF: 8192, SO_RCVBUF: 8192, SO_RCVLOWAT: 2, SO_PRIORITY: 3,
  TCP_MAXSEG: 1000, TCP_KEEPIDLE: 10, TCP_KEEPINTVL: 10, TCP_KEEPCNT: 3, TCP_SYNCNT: 3, TCP_USER_TIMEOUT: 100,
  TCP_LINGER2: 5, TCP_DEFER_ACCEPT: 1, TCP_WINDOW_CLAMP: 5000, TCP_NOTSENT_LOWAT: 100,
  IP_TTL: 10, IP_TOS: 8, IP_MTU_DISCOVER: 2, IP_MULTICAST_TTL: 3, IPV6_UNICAST_HOPS: 5, IPV6_TCLASS: 8, IPV6_MTU_DISCOVER: 2,
  IPV6_MTU: 1280,
};
/** Defaults of the options read in the get matrix (only SOL_IP's one-byte rule depends on them). */
const DEFAULTS: Record<string, number> = { IP_TTL: 64, IP_MTU_DISCOVER: 1, IP_MULTICAST_TTL: 1, IP_MULTICAST_LOOP: 1 };
/** Options whose get depends on the connection state (ENOTCONN until connected). */
const STATEFUL = new Set(['IP_MTU', 'IPV6_MTU']);

function socketFor(spec: SockoptSpec): Op {
  if (spec.level === 'SOL_IPV6') return { op: 'socket', id: 's', domain: 'AF_INET6', type: 'SOCK_DGRAM' };
  if (spec.level === 'SOL_TCP') return { op: 'socket', id: 's', domain: 'AF_INET', type: 'SOCK_STREAM' };
  if (spec.level === 'SOL_IP' || spec.name === 'SO_BROADCAST') return { op: 'socket', id: 's', domain: 'AF_INET', type: 'SOCK_DGRAM' };
  return { op: 'socket', id: 's', domain: 'AF_INET', type: 'SOCK_STREAM' };
}

export function sockoptMatrix(lim: SockoptLimits = LINUX_DEFAULT_LIMITS): Case[] {
  const out: Case[] = [];
  for (const spec of SOCKOPTS) {
    const sock = socketFor(spec);
    const stream = sock.op === 'socket' && sock.type === 'SOCK_STREAM';
    if (spec.kind === 'int' || spec.kind === 'bool') {
      const v = VALID[spec.name] ?? 1;
      for (const optlen of [0, 1, 2, 3, 4, 8]) {
        const optval = new Uint8Array(optlen);
        optval.set(encodeInt(v).subarray(0, Math.min(4, optlen)));
        const r = setsockoptInt(spec, optval, lim, { stream, bound: false, current: 0 });
        const ops: Op[] = [sock, { op: 'setsockopt', fd: 's', level: spec.level, name: spec.name, int: v, optlen, expect: r.ok ? 0 : r.errno }];
        // Buffer sizes clamp against wmem_max/rmem_max, which the runner's env knows and this does not.
        // IPV6_MTU reads the route's MTU, not what was set.
        if (r.ok && !['SO_SNDBUF', 'SO_RCVBUF', 'IPV6_MTU'].includes(spec.name)) ops.push({ op: 'getsockopt', fd: 's', level: spec.level, name: spec.name, as: 'int', expect: { len: 4, int: r.value } });
        out.push({ name: `sockopt matrix: set ${spec.name} optlen ${optlen}`, ops });
      }
    }
    if (!spec.get || STATEFUL.has(spec.name) || spec.kind === 'tcp_info') continue;
    for (const optlen of [-1, 0, 1, 2, 3, 4, 8]) {
      const r = getsockoptLen(spec, optlen, DEFAULTS[spec.name] ?? 0);
      out.push({
        name: `sockopt matrix: get ${spec.name} optlen ${optlen}`,
        ops: [sock, { op: 'getsockopt', fd: 's', level: spec.level, name: spec.name, as: 'hex', optlen, expect: r.ok ? { len: r.len } : r.errno }],
      });
    }
  }
  return out;
}
