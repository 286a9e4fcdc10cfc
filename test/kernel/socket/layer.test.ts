// The socket layer's calls the conformance table does not reach: the interface ioctls,
// sendmmsg/recvmmsg, interruption of blocking calls, and readiness events. In process, in
// virtual time, on the conformance table's world (loopback + moat-cv0 10.213.6.1/24).

import test from 'ava';
import { FdTable } from '../../../src/kernel/socket/index.js';
import { encodeSockaddr, decodeSockaddr } from '../../../src/kernel/sockaddr.js';
import { AF, IOCTL, POLL, SOCK } from '../../../src/kernel/socket-abi.js';
import { ERRNO } from '../../../src/kernel/errno.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { conformanceStack } from '../conformance/moat-target.js';

const sa = (ip: string, port: number): Uint8Array => encodeSockaddr({ family: ip.includes(':') ? 'AF_INET6' : 'AF_INET', addr: IpAddr.parse(ip), port });

function world() {
  const w = conformanceStack();
  const fds = new FdTable(w.layer);
  const settle = (): void => {
    for (let i = 0; i < 100 && w.clock.nextDeadline() <= w.clock.now(); i++) w.clock.advance(0);
  };
  return { ...w, fds, settle };
}

function ifreq(name: string, idx = 0): Uint8Array {
  const b = new Uint8Array(40);
  b.set(new TextEncoder().encode(name));
  new DataView(b.buffer).setInt32(16, idx, true);
  return b;
}

test('SIOCGIFINDEX/NAME/FLAGS/MTU/ADDR/HWADDR describe moat\'s interfaces; an unknown name is ENODEV', (t) => {
  const { fds, stack } = world();
  const fd = fds.socket(AF.AF_INET, SOCK.SOCK_DGRAM, 0);
  const nic = stack.nicByName('moat-cv0')!;
  const idx = fds.ioctlIfreq(fd, IOCTL.SIOCGIFINDEX, ifreq('moat-cv0'));
  t.is(idx.ret, 0);
  t.is(new DataView(idx.ifreq!.buffer).getInt32(16, true), nic.nicId);
  const name = fds.ioctlIfreq(fd, IOCTL.SIOCGIFNAME, ifreq('', nic.nicId));
  t.is(new TextDecoder().decode(name.ifreq!.subarray(0, 8)), 'moat-cv0');
  const flags = new DataView(fds.ioctlIfreq(fd, IOCTL.SIOCGIFFLAGS, ifreq('lo')).ifreq!.buffer).getInt16(16, true);
  t.truthy(flags & 0x8, 'lo is IFF_LOOPBACK');
  t.truthy(flags & 0x1, 'and IFF_UP');
  t.is(new DataView(fds.ioctlIfreq(fd, IOCTL.SIOCGIFMTU, ifreq('moat-cv0')).ifreq!.buffer).getInt32(16, true), nic.mtu);
  const addr = fds.ioctlIfreq(fd, IOCTL.SIOCGIFADDR, ifreq('moat-cv0')).ifreq!;
  t.is(decodeSockaddr(addr.subarray(16, 32))!.addr.key, '10.213.6.1');
  const hw = fds.ioctlIfreq(fd, IOCTL.SIOCGIFHWADDR, ifreq('moat-cv0')).ifreq!;
  t.deepEqual([...hw.subarray(18, 24)], [...nic.mac]);
  t.is(fds.ioctlIfreq(fd, IOCTL.SIOCGIFINDEX, ifreq('eth9')).ret, -ERRNO.ENODEV);
  t.is(fds.ioctlIfreq(99, IOCTL.SIOCGIFINDEX, ifreq('lo')).ret, -ERRNO.EBADF);
});

test('SIOCGIFCONF lists one ifreq per IPv4 address, and says how much room all of them need', (t) => {
  const { fds } = world();
  const fd = fds.socket(AF.AF_INET, SOCK.SOCK_DGRAM, 0);
  const need = fds.ifconf(fd, null);
  t.is(need.len, 80);
  const all = fds.ifconf(fd, 1000);
  const names = [0, 40].map((o) => new TextDecoder().decode(all.bytes!.subarray(o, o + 16)).replace(/\0+$/, ''));
  t.deepEqual(names, ['lo', 'moat-cv0']);
  t.is(fds.ifconf(fd, 50).len, 40, 'a short buffer gets whole entries only');
});

test('sendmmsg and recvmmsg move several datagrams in one call and keep their boundaries', async (t) => {
  const { fds, settle } = world();
  const a = fds.socket(AF.AF_INET, SOCK.SOCK_DGRAM, 0);
  const b = fds.socket(AF.AF_INET, SOCK.SOCK_DGRAM, 0);
  t.is(fds.bind(b, sa('127.0.0.1', 0)), 0);
  const to = fds.getsockname(b, 128).addr!;
  const sent = await fds.sendmmsg(a, [{ data: Uint8Array.of(1) }, { data: Uint8Array.of(2, 2) }, { data: Uint8Array.of(3, 3, 3) }].map((m) => ({ ...m, name: to })), 0);
  t.deepEqual(sent, { ret: 3, lens: [1, 2, 3] });
  settle();
  const got = await fds.recvmmsg(b, 8, 100, 0, 128, 0);
  t.is(got.ret, 3);
  t.deepEqual(got.msgs.map((m) => [...m.data!]), [[1], [2, 2], [3, 3, 3]]);
  t.is(decodeSockaddr(got.msgs[0]!.addr!)!.addr.key, '127.0.0.1');
  // A first message that fails is the call's error; later failures end the batch.
  t.is((await fds.sendmmsg(a, [{ data: Uint8Array.of(1) }], 0)).ret, -ERRNO.EDESTADDRREQ);
});

test('a blocked accept or recv ends with EINTR when its signal aborts; SO_RCVTIMEO ends a recv with EAGAIN', async (t) => {
  const { fds, clock, settle } = world();
  const l = fds.socket(AF.AF_INET, SOCK.SOCK_STREAM, 0);
  fds.bind(l, sa('127.0.0.1', 0));
  fds.listen(l, 4);
  const ac = new AbortController();
  const pending = fds.accept4(l, 128, 0, ac.signal);
  settle();
  ac.abort();
  t.is((await pending).ret, -ERRNO.EINTR);
  const u = fds.socket(AF.AF_INET, SOCK.SOCK_DGRAM, 0);
  fds.bind(u, sa('127.0.0.1', 0));
  const tv = new Uint8Array(16);
  new DataView(tv.buffer).setBigInt64(8, 200_000n, true); // 0 s 200000 µs
  t.is(fds.setsockopt(u, 1, 20 /* SO_RCVTIMEO */, tv), 0);
  const r = fds.recvmsg(u, 100, 0, 0, 0);
  clock.advance(250);
  t.is((await r).ret, -ERRNO.EAGAIN);
});

test('readiness changes are events: a subscriber hears a connection arrive and data come in', async (t) => {
  const { fds, settle } = world();
  const l = fds.socket(AF.AF_INET, SOCK.SOCK_STREAM, 0);
  fds.bind(l, sa('127.0.0.1', 0));
  fds.listen(l, 4);
  const seen: number[] = [];
  fds.get(l)!.onChange(() => seen.push(fds.pollNow(l, POLL.POLLIN)));
  const c = fds.socket(AF.AF_INET, SOCK.SOCK_STREAM | 0o4000, 0);
  t.is(await fds.connect(c, fds.getsockname(l, 128).addr!), -ERRNO.EINPROGRESS);
  settle();
  t.true(seen.includes(POLL.POLLIN), `listener events: ${seen.join(',')}`);
  const s = (await fds.accept4(l, 128, 0)).ret;
  const events: number[] = [];
  fds.get(s)!.onChange(() => events.push(fds.pollNow(s, POLL.POLLIN)));
  await fds.sendmsg(c, Uint8Array.of(1, 2, 3), 0, null, null);
  settle();
  t.true(events.includes(POLL.POLLIN));
  t.is(fds.ioctlInt(s, IOCTL.FIONREAD).value, 3);
});
