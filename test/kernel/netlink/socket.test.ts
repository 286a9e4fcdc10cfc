// NetlinkRouteSocket's syscall semantics (net/netlink/af_netlink.c): port ids, addresses,
// datagram truncation, peeking, dump chunking, EBUSY, ENOBUFS, options and readiness.

import test from 'ava';
import {
  MSG_PEEK,
  MSG_TRUNC,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_LIST_MEMBERSHIPS,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_NEWLINK,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_DOMAIN,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_TYPE,
  SO_ERROR,
} from '../../../src/kernel/netlink/constants.js';
import { encodeSockaddrNl, parseMessages, parseNlMsgErr } from '../../../src/kernel/netlink/codec.js';
import { NLMSG_GOODSIZE, NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import { address, ethernetInterface, loopbackInterface } from '../../../src/kernel/netlink/world.js';
import type { NetlinkWorld } from '../../../src/kernel/netlink/world.js';
import { ifinfo, request, u32 } from './helpers.js';
import { mirrorWorld } from './world-fixture.js';

const DUMP = NLM_F_REQUEST | NLM_F_DUMP;
const sa = (pid = 0, groups = 0) => encodeSockaddrNl(pid, groups);
const int = (b: Uint8Array | string) => (typeof b === 'string' ? b : new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(0, true));

function bigWorld(n: number): NetlinkWorld {
  const interfaces = [loopbackInterface()];
  for (let i = 0; i < n; i++) {
    interfaces.push(ethernetInterface(i + 2, `moat${i}`, Uint8Array.of(2, 0, 0, 0, i >> 8, i & 0xff), [address(`10.${i >> 8}.${i & 0xff}.1/24`)]));
  }
  return { interfaces, routes: [] };
}

function sock(world: NetlinkWorld = mirrorWorld(), ports = new NetlinkPortTable(), tgid = 4242): NetlinkRouteSocket {
  return new NetlinkRouteSocket({ world, ports, tgid });
}

test('autobind: the first socket of a process gets its tgid, later ones -4096, -4097, ...', (t) => {
  const ports = new NetlinkPortTable();
  const a = sock(undefined, ports);
  const b = sock(undefined, ports);
  const c = sock(undefined, ports);
  t.is(int(a.getsockname().subarray(4, 8)), 0, 'unbound: port 0');
  t.is(a.bind(sa()), 0);
  t.is(b.bind(sa()), 0);
  t.is(c.sendmsg(request(RTM_GETLINK, DUMP, 1, ifinfo()), 0, null), 32, 'sendmsg binds implicitly');
  t.deepEqual([a.pid, b.pid, c.pid], [4242, 0xfffff000, 0xffffefff]);
  a.close();
  const d = sock(undefined, ports);
  t.is(d.bind(sa()), 0);
  t.is(d.pid, 4242, 'the tgid is free again once its socket closed');
});

test('bind: explicit ids, rebinding, short and foreign addresses', (t) => {
  const ports = new NetlinkPortTable();
  const a = sock(undefined, ports);
  t.is(a.bind(sa(777, 1)), 0);
  t.is(a.pid, 777);
  t.is(a.bind(sa(777, 1)), 0, 'the same id again is fine (nl_groups replace the first 32 groups)');
  t.is(a.bind(sa(778)), 'EINVAL', 'a bound socket cannot move');
  const b = sock(undefined, ports);
  t.is(b.bind(sa(777)), 'EADDRINUSE');
  t.is(b.bind(sa().subarray(0, 11)), 'EINVAL');
  const inet = sa();
  inet[0] = 2;
  t.is(b.bind(inet), 'EINVAL');
  t.deepEqual([...a.getsockname()], [...sa(777, 1)], 'nl_groups from bind show in getsockname');
});

test('sendmsg: only the kernel is a destination for a guest without CAP_NET_ADMIN', (t) => {
  const s = sock();
  const req = request(RTM_GETLINK, DUMP, 1, ifinfo());
  t.is(s.sendmsg(req, 0, sa(99)), 'EPERM');
  t.is(s.sendmsg(req, 0, sa(0, 1)), 'EPERM');
  t.is(s.sendmsg(req, 0, sa().subarray(0, 8)), 'EINVAL');
  t.is(s.sendmsg(req, 1 /* MSG_OOB */, null), 'EOPNOTSUPP');
  t.is(s.sendmsg(req, 0, sa()), req.length);
  t.is(s.connect(sa(99)), 'EPERM');
  t.is(s.connect(sa()), 0);
  t.deepEqual([...s.getpeername()], [...sa()]);
});

test('recvmsg: a short buffer gets the head of the datagram and MSG_TRUNC; the rest is gone', (t) => {
  const s = sock();
  s.sendmsg(request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 7, ifinfo(1)), 0, null);
  t.is(s.queued, 2, 'the reply and the ack');
  const r = s.recvmsg(20, 0);
  if (typeof r === 'string') return t.fail(r);
  t.is(r.data.length, 20);
  t.is(r.length, 20);
  t.is(r.msgFlags, MSG_TRUNC);
  t.deepEqual([...r.name], [...sa(0, 0)], 'from the kernel');
  const ack = s.recvmsg(8192, 0);
  if (typeof ack === 'string') return t.fail(ack);
  const m = parseMessages(ack.data)[0]!;
  t.is(m.type, NLMSG_ERROR);
  t.is(parseNlMsgErr(m.payload, m.flags)?.error, 0);
  t.is(s.recvmsg(8192, 0), 'EAGAIN');
});

test('MSG_PEEK|MSG_TRUNC with a zero-length buffer returns the full length and keeps the datagram (iproute2 sizes its buffer so)', (t) => {
  const s = sock();
  s.sendmsg(request(RTM_GETLINK, NLM_F_REQUEST, 7, ifinfo(3)), 0, null);
  const peek = s.recvmsg(0, MSG_PEEK | MSG_TRUNC);
  if (typeof peek === 'string') return t.fail(peek);
  t.true(peek.length > 100);
  t.is(peek.data.length, 0);
  t.is(peek.msgFlags, MSG_TRUNC);
  const full = s.recvmsg(peek.length, 0);
  if (typeof full === 'string') return t.fail(full);
  t.is(full.length, peek.length);
  t.is(full.msgFlags, 0);
  t.is(parseMessages(full.data)[0]?.type, RTM_NEWLINK);
  const trunc = s.recvmsg(0, MSG_TRUNC);
  t.is(trunc, 'EAGAIN');
});

test('a dump is cut into datagrams of at most max(NLMSG_GOODSIZE, the largest recvmsg buffer), then NLMSG_DONE alone', (t) => {
  const world = bigWorld(60);
  for (const bufLen of [8192, 32768, 1 << 20]) {
    const s = sock(world);
    s.sendmsg(request(RTM_GETLINK, DUMP, 5, ifinfo()), 0, null);
    const sizes: number[] = [];
    const names: number[] = [];
    let done = 0;
    for (let i = 0; i < 1000; i++) {
      const r = s.recvmsg(bufLen, 0);
      if (typeof r === 'string') break;
      sizes.push(r.length);
      const msgs = parseMessages(r.data);
      for (const m of msgs) {
        if (m.type === RTM_NEWLINK) {
          t.is(m.flags, NLM_F_MULTI);
          names.push(new DataView(m.payload.buffer, m.payload.byteOffset + 4, 4).getInt32(0, true));
        }
        if (m.type === NLMSG_DONE) {
          done++;
          t.is(msgs.length, 1, 'NLMSG_DONE travels alone');
        }
      }
    }
    t.is(done, 1);
    t.deepEqual(names, Array.from({ length: 61 }, (_, i) => i + 1), 'every link once, in ifindex order');
    t.true(sizes[0]! <= NLMSG_GOODSIZE, 'the first datagram is made before any recvmsg size is known');
    for (const n of sizes.slice(1)) t.true(n <= Math.max(NLMSG_GOODSIZE, Math.min(bufLen, 32768)));
    t.true(sizes.length > 2);
  }
});

test('a second dump while one is being read is EBUSY; afterwards it works', (t) => {
  const s = sock(bigWorld(30));
  s.sendmsg(request(RTM_GETLINK, DUMP, 1, ifinfo()), 0, null);
  s.sendmsg(request(RTM_GETADDR, DUMP, 2, ifinfo()), 0, null);
  let busy = 0;
  for (let i = 0; i < 100; i++) {
    const r = s.recvmsg(65536, 0);
    if (typeof r === 'string') break;
    for (const m of parseMessages(r.data)) {
      if (m.type === NLMSG_ERROR) {
        t.is(parseNlMsgErr(m.payload, m.flags)?.error, -16);
        t.is(m.seq, 2);
        busy++;
      }
    }
  }
  t.is(busy, 1);
  s.sendmsg(request(RTM_GETADDR, DUMP, 3, ifinfo()), 0, null);
  const r = s.recvmsg(65536, 0);
  if (typeof r === 'string') return t.fail(r);
  t.is(parseMessages(r.data)[0]!.seq, 3);
});

test('answers beyond the receive buffer are dropped and reported once as ENOBUFS', (t) => {
  const s = sock();
  t.is(s.setsockopt(SOL_SOCKET, SO_RCVBUF, u32(1)), 0);
  t.is(int(s.getsockopt(SOL_SOCKET, SO_RCVBUF, 4) as Uint8Array), 2304, 'SOCK_MIN_RCVBUF');
  for (let i = 0; i < 20; i++) s.sendmsg(request(RTM_GETLINK, NLM_F_REQUEST, i, ifinfo(1)), 0, null);
  t.true(s.overruns > 0);
  t.is(s.recvmsg(65536, 0), 'ENOBUFS');
  const r = s.recvmsg(65536, 0);
  t.not(typeof r, 'string', 'then the answers that fitted');
  t.is(int(s.getsockopt(SOL_SOCKET, SO_ERROR, 4) as Uint8Array), 0, 'the error was reported once');
});

test('socket options: buffers doubled and clamped, netlink flags, identity, memberships', (t) => {
  const s = sock();
  t.is(s.setsockopt(SOL_SOCKET, SO_SNDBUF, u32(32768)), 0);
  t.is(int(s.getsockopt(SOL_SOCKET, SO_SNDBUF, 4) as Uint8Array), 65536);
  t.is(s.setsockopt(SOL_SOCKET, SO_RCVBUF, u32(1 << 30)), 0);
  t.is(int(s.getsockopt(SOL_SOCKET, SO_RCVBUF, 4) as Uint8Array), 2 * 212992, 'clamped to rmem_max, doubled');
  t.is(s.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, u32(1 << 20)), 'EPERM');
  t.is(s.setsockopt(SOL_SOCKET, SO_RCVBUF, Uint8Array.of(1, 2)), 'EINVAL');
  t.is(int(s.getsockopt(SOL_SOCKET, SO_TYPE, 4) as Uint8Array), 3);
  t.is(int(s.getsockopt(SOL_SOCKET, SO_PROTOCOL, 4) as Uint8Array), 0);
  t.is(int(s.getsockopt(SOL_SOCKET, SO_DOMAIN, 4) as Uint8Array), 16);
  t.is(int(s.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 4) as Uint8Array), 0);
  t.is(s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, u32(7)), 0);
  t.is(int(s.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 4) as Uint8Array), 1);
  t.is(s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, Uint8Array.of(1)), 0, 'optlen < 4 sets 0');
  t.is(int(s.getsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 4) as Uint8Array), 0);
  t.is(s.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 2), 'EINVAL');
  t.is(s.setsockopt(SOL_NETLINK, 99, u32(1)), 'ENOPROTOOPT');
  t.is(s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(0)), 'EINVAL');
  t.is(s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(33)), 0);
  t.is(s.bind(sa(0, 0b101)), 0);
  const m = s.getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 8) as Uint8Array;
  t.deepEqual([int(m.subarray(0, 4)), int(m.subarray(4, 8))], [0b101, 1]);
});

test('readiness: onReadable fires on the empty -> queued transition, whenReadable resolves, close wakes waiters', async (t) => {
  let fired = 0;
  const s = new NetlinkRouteSocket({ world: mirrorWorld(), ports: new NetlinkPortTable(), tgid: 1, onReadable: () => fired++ });
  t.false(s.readable);
  const waiting = s.whenReadable();
  s.sendmsg(request(RTM_GETLINK, NLM_F_REQUEST, 1, ifinfo(1)), 0, null);
  s.sendmsg(request(RTM_GETLINK, NLM_F_REQUEST, 2, ifinfo(1)), 0, null);
  await waiting;
  t.true(s.readable);
  t.is(fired, 1);
  s.recvmsg(65536, 0);
  s.recvmsg(65536, 0);
  t.false(s.readable);
  const ac = new AbortController();
  const aborted = s.whenReadable(ac.signal);
  ac.abort();
  await aborted;
  const closing = s.whenReadable();
  s.close();
  await closing;
  t.is(s.recvmsg(10, 0), 'EBADF');
  t.is(s.bind(sa()), 'EBADF');
});
