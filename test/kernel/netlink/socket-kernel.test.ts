// NetlinkRouteSocket's socket calls against Linux's: the same sequence of bind, getsockname,
// setsockopt/getsockopt, sendto, recvmsg, connect and shutdown calls (rtnl_sockops.py) run on
// real NETLINK_ROUTE sockets in a fresh namespace without CAP_NET_ADMIN, and on the emulation.

import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedTest } from '../../helpers/privileged.js';
import { LINUX_DEFAULT_LIMITS } from '../../../src/kernel/sockopt-codec.js';
import type { ErrnoName } from '../../../src/kernel/errno.js';
import { decodeSockaddrNl, encodeSockaddrNl } from '../../../src/kernel/netlink/codec.js';
import {
  MSG_PEEK,
  MSG_TRUNC,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_LIST_MEMBERSHIPS,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_DOMAIN,
  SO_PASSCRED,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_TYPE,
} from '../../../src/kernel/netlink/constants.js';
import { NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import type { SockoptLimits } from '../../../src/kernel/sockopt-codec.js';
import { ifinfo, request, sh, u32 } from './helpers.js';
import { mirrorWorld } from './world-fixture.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'test', 'kernel', 'netlink', 'rtnl_sockops.py');

type Result = unknown;

/** The script's sequence, on the emulation. */
function emulate(limits: SockoptLimits, pid: number): Array<[string, Result]> {
  const out: Array<[string, Result]> = [];
  const ports = new NetlinkPortTable();
  const world = mirrorWorld();
  const nl = () => new NetlinkRouteSocket({ world, ports, tgid: pid, limits });
  const rec = (name: string, fn: () => Result) => out.push([name, fn()]);
  const ok = (r: number | ErrnoName): Result => (typeof r === 'string' ? r : null);
  const name = (b: Uint8Array) => {
    const sa = decodeSockaddrNl(b)!;
    return [sa.pid, sa.groups];
  };
  const int = (r: Uint8Array | ErrnoName): Result => (typeof r === 'string' ? r : new DataView(r.buffer, r.byteOffset, r.byteLength).getInt32(0, true));
  const getlink = (seq: number) => request(18, 1, seq, ifinfo(1));

  const a = nl();
  rec('unbound getsockname', () => name(a.getsockname()));
  rec('bind 0', () => ok(a.bind(encodeSockaddrNl(0))));
  rec('first port is the pid', () => a.pid === pid);
  const b = nl();
  rec('bind 0 again', () => ok(b.bind(encodeSockaddrNl(0))));
  rec('second port is negative', () => b.pid >= 0x80000000);
  const c = nl();
  rec('bind 12345', () => ok(c.bind(encodeSockaddrNl(12345, 0b101))));
  rec('getsockname 12345', () => name(c.getsockname()));
  rec('rebind 12345 groups 1', () => ok(c.bind(encodeSockaddrNl(12345, 1))));
  rec('getsockname after rebind', () => name(c.getsockname()));
  rec('rebind elsewhere', () => ok(c.bind(encodeSockaddrNl(12346))));
  const d = nl();
  rec('bind taken id', () => ok(d.bind(encodeSockaddrNl(12345))));
  const setget = (level: number, opt: number, v: Uint8Array) => {
    const r = d.setsockopt(level, opt, v);
    return r === 0 ? int(d.getsockopt(level, opt, 4)) : r;
  };
  rec('SO_RCVBUF 32768', () => setget(SOL_SOCKET, SO_RCVBUF, u32(32768)));
  rec('SO_SNDBUF 1<<30', () => setget(SOL_SOCKET, SO_SNDBUF, u32(1 << 30)));
  rec('SO_RCVBUF 1', () => setget(SOL_SOCKET, SO_RCVBUF, u32(1)));
  rec('SO_RCVBUFFORCE', () => ok(d.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, u32(1 << 20))));
  rec('SO_TYPE', () => int(d.getsockopt(SOL_SOCKET, SO_TYPE, 4)));
  rec('SO_PROTOCOL', () => int(d.getsockopt(SOL_SOCKET, SO_PROTOCOL, 4)));
  rec('SO_DOMAIN', () => int(d.getsockopt(SOL_SOCKET, SO_DOMAIN, 4)));
  rec('SO_PASSCRED default', () => int(d.getsockopt(SOL_SOCKET, SO_PASSCRED, 4)));
  rec('EXT_ACK default', () => int(d.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 4)));
  rec('EXT_ACK set 5', () => setget(SOL_NETLINK, NETLINK_EXT_ACK, u32(5)));
  rec('STRICT short optlen', () => setget(SOL_NETLINK, NETLINK_GET_STRICT_CHK, Uint8Array.of(1)));
  rec('EXT_ACK optlen 2', () => int(d.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 2)));
  rec('unknown SOL_NETLINK', () => ok(d.setsockopt(SOL_NETLINK, 99, u32(1))));
  rec('ADD_MEMBERSHIP 0', () => ok(d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(0))));
  rec('ADD_MEMBERSHIP 1000', () => ok(d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(1000))));
  rec('ADD_MEMBERSHIP 33', () => ok(d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(33))));
  rec('ADD_MEMBERSHIP 2', () => ok(d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(2))));
  rec('getsockname with groups', () => [name(d.getsockname())[1]]);
  const members = () => {
    const m = d.getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 8) as Uint8Array;
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    return [dv.getUint32(0, true), dv.getUint32(4, true)];
  };
  rec('LIST_MEMBERSHIPS', members);
  rec('DROP_MEMBERSHIP 2', () => {
    d.setsockopt(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, u32(2));
    return members();
  });
  const e = nl();
  rec('sendto another port', () => e.sendmsg(getlink(1), 0, encodeSockaddrNl(5)));
  rec('sendto a group', () => e.sendmsg(getlink(1), 0, encodeSockaddrNl(0, 1)));
  rec('sendto the kernel', () => e.sendmsg(getlink(2), 0, encodeSockaddrNl(0)));
  rec('autobound by send', () => e.pid !== 0);
  rec('recvmsg peek|trunc 0', () => {
    const r = e.recvmsg(0, MSG_PEEK | MSG_TRUNC);
    return typeof r === 'string' ? r : [r.data.length, (r.msgFlags & MSG_TRUNC) !== 0];
  });
  rec('recv_into trunc flag', () => {
    const r = e.recvmsg(16, MSG_TRUNC | MSG_PEEK);
    return typeof r === 'string' ? r : r.length > 16;
  });
  rec('recvmsg 20', () => {
    const r = e.recvmsg(20, 0);
    return typeof r === 'string' ? r : [r.data.length, (r.msgFlags & MSG_TRUNC) !== 0, name(r.name)];
  });
  rec('recv empty', () => {
    const r = e.recvmsg(100, 0);
    return typeof r === 'string' ? r : 'data';
  });
  rec('getpeername', () => name(e.getpeername()));
  rec('connect to another port', () => ok(e.connect(encodeSockaddrNl(5))));
  rec('connect to the kernel', () => ok(e.connect(encodeSockaddrNl(0))));
  rec('send after connect', () => e.sendmsg(getlink(3), 0, null));
  rec('recvmsg after connect', () => {
    const r = e.recvmsg(65536, 0);
    return typeof r === 'string' ? r : [r.data.length > 100, name(r.name)];
  });
  // serveNetlinkCall answers shutdown; the socket object has none.
  rec('shutdown', () => 'EOPNOTSUPP');
  return out;
}

privilegedTest('bind, options, send, receive and connect behave as on Linux (a namespace, no CAP_NET_ADMIN)', (t) => {
  const ns = `moat-nlso-${process.pid}`;
  sh('ip', 'netns', 'add', ns);
  try {
    const inNs = (...a: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...a], { encoding: 'utf8', timeout: 60_000 });
    inNs('ip', 'link', 'set', 'lo', 'up');
    const sys = (k: string) => Number(inNs('cat', `/proc/sys/net/core/${k}`).trim());
    const limits: SockoptLimits = { ...LINUX_DEFAULT_LIMITS, wmemMax: sys('wmem_max'), rmemMax: sys('rmem_max'), wmemDefault: sys('wmem_default'), rmemDefault: sys('rmem_default') };
    const kernel = JSON.parse(inNs('setpriv', '--bounding-set=-net_admin', 'python3', SCRIPT)) as Array<[string, Result]>;
    const emu = emulate(limits, 4242);
    t.is(emu.length, kernel.length);
    kernel.forEach(([what, r], i) => t.deepEqual(emu[i], [what, r], what));
  } finally {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {
      /* already gone */
    }
  }
});
