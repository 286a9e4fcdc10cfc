// The option codec (src/kernel/sockopt-codec.ts) predicts, for every round trip and invalid value
// in the conformance table's option list, what Linux answered there (linux.test.ts checks those
// expectations on the kernel). So the rules the socket layer will use are the kernel's rules.

import test from 'ava';
import { LINUX_DEFAULT_LIMITS, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, defaultInt, readSetInt, sockoptByName } from '../../../src/kernel/sockopt-codec.js';
import { PINNED_SYSCTLS } from './namespace.js';
import type { OptLevelName, SetContext } from '../../../src/kernel/sockopt-codec.js';
import { INT_OPTS } from './cases.js';

const LEVEL: Record<string, OptLevelName> = { SOL_SOCKET: 'SOL_SOCKET', SOL_TCP: 'SOL_TCP', SOL_IP: 'SOL_IP', SOL_IPV6: 'SOL_IPV6' };

/** The limits of the conformance namespace (namespace.ts pins these sysctls). */
const PINNED = {
  ...LINUX_DEFAULT_LIMITS,
  synRetries: Number(PINNED_SYSCTLS['net.ipv4.tcp_syn_retries']),
  tcpWmemDefault: Number(PINNED_SYSCTLS['net.ipv4.tcp_wmem'].split(' ')[1]),
  tcpRmemDefault: Number(PINNED_SYSCTLS['net.ipv4.tcp_rmem'].split(' ')[1]),
  keepaliveTime: Number(PINNED_SYSCTLS['net.ipv4.tcp_keepalive_time']),
  finTimeout: Number(PINNED_SYSCTLS['net.ipv4.tcp_fin_timeout']),
};

for (const o of INT_OPTS) {
  const kind = `${o.domain ?? 'AF_INET'} ${o.type ?? 'SOCK_STREAM'}`;
  test(`codec agrees with the table: ${o.name} (${kind})`, (t) => {
    const spec = sockoptByName(o.name);
    if (!spec?.set) {
      t.fail(`${o.name} has no set rule in the codec`);
      return;
    }
    t.is(spec.level, LEVEL[o.level]);
    t.is(defaultInt(o.name, (o.type ?? 'SOCK_STREAM') === 'SOCK_STREAM', PINNED), o.dflt as number, 'default');
    const ctx: SetContext = { stream: (o.type ?? 'SOCK_STREAM') === 'SOCK_STREAM', bound: false, current: typeof o.dflt === 'number' ? o.dflt : 0 };
    for (const [v, got] of o.trips) {
      // TCP_MAXSEG 0 clears the user MSS: a closed socket then reports TCP_MSS_DEFAULT (the table's 536).
      if (o.name === 'TCP_MAXSEG' && v === 0) {
        t.deepEqual(spec.set(v, LINUX_DEFAULT_LIMITS, ctx), { ok: true, value: 0 });
        continue;
      }
      const r = spec.set(v, LINUX_DEFAULT_LIMITS, ctx);
      t.deepEqual(r, { ok: true, value: got }, `set ${v}`);
      if (r.ok) ctx.current = r.value;
    }
    for (const v of o.invalid ?? []) t.deepEqual(spec.set(v, LINUX_DEFAULT_LIMITS, ctx), { ok: false, errno: 'EINVAL' }, `set ${v}`);
  });
}

test('codec minimum buffer sizes are the ones Linux answered', (t) => {
  const snd = INT_OPTS.find((o) => o.name === 'SO_SNDBUF')!.trips.find(([v]) => v === 0)![1];
  const rcv = INT_OPTS.find((o) => o.name === 'SO_RCVBUF')!.trips.find(([v]) => v === 0)![1];
  t.is(snd, SOCK_MIN_SNDBUF);
  t.is(rcv, SOCK_MIN_RCVBUF);
});

test('codec optlen rules agree with the table: SOL_IP reads one byte, the others want four', (t) => {
  t.deepEqual(readSetInt('SOL_IP', 'IP_TTL', Uint8Array.of(0x20, 0, 0)), { ok: true, value: 0x20 });
  t.deepEqual(readSetInt('SOL_SOCKET', 'SO_REUSEADDR', Uint8Array.of(1, 0, 0)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readSetInt('SOL_TCP', 'TCP_NODELAY', Uint8Array.of(1, 0)), { ok: false, errno: 'EINVAL' });
  t.deepEqual(readSetInt('SOL_IPV6', 'IPV6_UNICAST_HOPS', Uint8Array.of(5)), { ok: false, errno: 'EINVAL' });
});
