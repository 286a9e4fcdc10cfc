// Notifications: world changes multicast to listening sockets, compared with what Linux sends to
// an `ip monitor`-style listener in the mirror namespace for the same changes.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedTest } from '../../helpers/privileged.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { parseAttrs, parseIfAddrMsg, parseIfInfoMsg, parseMessages, parseRtMsg, encodeSockaddrNl } from '../../../src/kernel/netlink/codec.js';
import {
  IFA_F_NODAD,
  IFA_F_PERMANENT,
  MSG_TRUNC,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_PKTINFO,
  RTM_DELADDR,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTM_DELROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  SOL_NETLINK,
} from '../../../src/kernel/netlink/constants.js';
import { NetlinkNotifier, worldEvents } from '../../../src/kernel/netlink/notify.js';
import { NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import { address, defaultRoute, kernelRoutes } from '../../../src/kernel/netlink/world.js';
import type { NetlinkAddress, NetlinkWorld } from '../../../src/kernel/netlink/world.js';
import { hex, u32, withMirrorNs } from './helpers.js';
import { mirrorWorld } from './world-fixture.js';

const MONITOR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'test', 'kernel', 'netlink', 'rtnl_monitor.py');

/** The mirror world with moat0 changed by `edit`, its kernel-made routes recomputed. */
function edited(base: NetlinkWorld, moat0: number, edit: { add?: NetlinkAddress; remove?: string; mtu?: number }): NetlinkWorld {
  const interfaces = base.interfaces.map((i) => {
    if (i.index !== moat0) return i;
    let addresses = i.addresses.filter((a) => `${a.addr.toString()}/${a.prefixLen}` !== edit.remove);
    if (edit.add) addresses = [...addresses, edit.add];
    return { ...i, addresses, mtu: edit.mtu ?? i.mtu };
  });
  return { ...base, interfaces, routes: [...kernelRoutes(interfaces), defaultRoute(IpAddr.parse('10.9.8.1'), moat0), defaultRoute('fd00:9::1', moat0)] };
}

interface EventShape {
  group: number;
  type: number;
  flags: number;
  header: Record<string, number>;
  attrs: Record<number, string>;
}

function eventShapes(datagrams: Array<{ bytes: Uint8Array; group: number }>): EventShape[] {
  const out: EventShape[] = [];
  for (const d of datagrams) {
    for (const m of parseMessages(d.bytes)) {
      let header: Record<string, number> = {};
      let off = 0;
      if (m.type === RTM_NEWLINK) {
        const h = parseIfInfoMsg(m.payload)!;
        header = { index: h.index, flags: h.flags, type: h.type };
        off = 16;
      } else if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR) {
        header = { ...parseIfAddrMsg(m.payload)! };
        off = 8;
      } else if (m.type === RTM_NEWROUTE || m.type === RTM_DELROUTE) {
        header = { ...parseRtMsg(m.payload)! };
        off = 12;
      }
      // Attributes that matter (the ones the dump comparison checks), statistics and times aside.
      const keep: Record<number, number[]> = {
        [RTM_NEWLINK]: [1, 2, 3, 4, 13, 16],
        [RTM_NEWADDR]: [1, 2, 3, 4, 8, 11],
        [RTM_DELADDR]: [1, 2, 3, 4, 8, 11],
        [RTM_NEWROUTE]: [1, 4, 5, 6, 7, 15],
        [RTM_DELROUTE]: [1, 4, 5, 6, 7, 15],
      };
      const attrs: Record<number, string> = {};
      for (const a of parseAttrs(m.payload.subarray(off)) ?? []) if (keep[m.type]?.includes(a.type)) attrs[a.type] = hex(a.value);
      out.push({ group: d.group, type: m.type, flags: m.flags, header, attrs });
    }
  }
  return out;
}

test('a listening socket gets the notifications of its groups, from the kernel\'s address, with NETLINK_PKTINFO', (t) => {
  let world = mirrorWorld();
  const ports = new NetlinkPortTable();
  const listener = new NetlinkRouteSocket({ world: () => world, ports, tgid: 1 });
  const deaf = new NetlinkRouteSocket({ world: () => world, ports, tgid: 2 });
  t.is(listener.bind(encodeSockaddrNl(0, 1 << (RTNLGRP_IPV4_IFADDR - 1))), 0);
  t.is(listener.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, u32(RTNLGRP_IPV6_ROUTE)), 0);
  t.is(listener.setsockopt(SOL_NETLINK, NETLINK_PKTINFO, u32(1)), 0);
  const notifier = new NetlinkNotifier(() => world);
  notifier.add(listener);
  notifier.add(deaf);
  t.is(notifier.refresh(), 0, 'nothing changed');
  let fired = 0;
  listener.onReadable = () => fired++;
  world = edited(world, 3, { add: address('10.9.9.20/24') });
  t.true(notifier.refresh() > 1);
  t.is(fired, 1);
  t.false(deaf.readable);
  const r = listener.recvmsg(65536, 0);
  if (typeof r === 'string') return t.fail(r);
  const m = parseMessages(r.data)[0]!;
  t.is(m.type, RTM_NEWADDR);
  t.deepEqual([m.seq, m.pid], [0, 0]);
  t.deepEqual([...r.name], [...encodeSockaddrNl(0, 1 << (RTNLGRP_IPV4_IFADDR - 1))]);
  t.is(new DataView(r.control.buffer, r.control.byteOffset).getUint32(16, true), RTNLGRP_IPV4_IFADDR, 'nl_pktinfo.group');
  t.is(listener.recvmsg(65536, 0), 'EAGAIN', 'the IPv4 route notifications went to IPV4_ROUTE, which it does not hear');
  world = edited(world, 3, { add: address('fd00:7::5/64', { flags: IFA_F_PERMANENT | IFA_F_NODAD }) });
  notifier.refresh();
  const v6 = listener.recvmsg(8, 0);
  if (typeof v6 === 'string') return t.fail(v6);
  t.is(v6.msgFlags, MSG_TRUNC);
  t.is(v6.name[4], 0);
  t.is(new DataView(v6.name.buffer).getUint32(8, true), 1 << (RTNLGRP_IPV6_ROUTE - 1));
});

test('worldEvents of a world against itself is empty; link removal comes last', (t) => {
  const w = mirrorWorld();
  t.deepEqual(worldEvents(w, w), []);
  const gone = { ...w, interfaces: w.interfaces.filter((i) => i.name !== 'moat1'), routes: w.routes.filter((r) => r.oif !== 2) };
  const ev = worldEvents(w, gone);
  t.is(parseMessages(ev.at(-1)!.message)[0]!.type, 17, 'RTM_DELLINK');
  t.true(ev.slice(0, -1).every((e) => parseMessages(e.message)[0]!.type === RTM_DELROUTE), 'its multicast route went first');
});

privilegedTest('address and MTU changes notify the way Linux notifies them', async (t) => {
  await withMirrorNs('mon', (ns, idx) => {
    const steps = [
      [['ip', 'addr', 'add', '10.9.9.20/24', 'dev', 'moat0']],
      [['ip', 'link', 'set', 'moat0', 'mtu', '1400']],
      [['ip', 'addr', 'del', '10.9.9.20/24', 'dev', 'moat0']],
      [['ip', '-6', 'addr', 'add', 'fd00:7::5/64', 'dev', 'moat0', 'nodad']],
      [['ip', '-6', 'addr', 'del', 'fd00:7::5/64', 'dev', 'moat0']],
    ];
    const groups = 0x551; // LINK, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE
    const raw = execFileSync('ip', ['netns', 'exec', ns, 'python3', MONITOR, String(groups)], { input: JSON.stringify(steps), encoding: 'utf8', timeout: 60_000 });
    const kernel = (JSON.parse(raw) as Array<Array<{ hex: string; groups: number }>>).map((step) =>
      eventShapes(step.map((d) => ({ bytes: Uint8Array.from(Buffer.from(d.hex, 'hex')), group: Math.log2(d.groups) + 1 }))),
    );
    const w0 = mirrorWorld(idx);
    const worlds = [w0];
    const v4 = address('10.9.9.20/24');
    const v6 = address('fd00:7::5/64', { flags: IFA_F_PERMANENT | IFA_F_NODAD });
    worlds.push(edited(worlds.at(-1)!, idx.moat0, { add: v4 }));
    worlds.push(edited(worlds.at(-1)!, idx.moat0, { mtu: 1400 }));
    worlds.push(edited(worlds.at(-1)!, idx.moat0, { remove: '10.9.9.20/24' }));
    worlds.push(edited(worlds.at(-1)!, idx.moat0, { add: v6 }));
    worlds.push(edited(worlds.at(-1)!, idx.moat0, { remove: 'fd00:7::5/64' }));
    steps.forEach((step, i) => {
      const ours = eventShapes(worldEvents(worlds[i]!, worlds[i + 1]!).filter((e) => (groups >> (e.group - 1)) & 1).map((e) => ({ bytes: e.message, group: e.group })));
      t.true(kernel[i]!.length > 0, `${step[0]!.join(' ')}: Linux notified`);
      t.deepEqual(ours, kernel[i]!, step[0]!.join(' '));
    });
  });
});
