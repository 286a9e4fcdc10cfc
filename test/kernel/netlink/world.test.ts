// worldFromStack: moat's Stack as rtnetlink describes it (interfaces, address states, routes).

import test from 'ava';
import { IpAddr, IpCidr } from '../../../src/netstack/wire/ip-address.js';
import {
  ARPHRD_ETHER,
  ARPHRD_LOOPBACK,
  IFAPROT_KERNEL_LL,
  IFAPROT_KERNEL_RA,
  IFA_F_DEPRECATED,
  IFA_F_PERMANENT,
  IFA_F_TENTATIVE,
  IFF_BROADCAST,
  IFF_LOOPBACK,
  IFF_LOWER_UP,
  IFF_MULTICAST,
  IFF_RUNNING,
  IFF_UP,
  IF_OPER_DOWN,
  IF_OPER_UNKNOWN,
  IF_OPER_UP,
  INFINITY_LIFE_TIME,
  RTN_BROADCAST,
  RTN_LOCAL,
  RTN_MULTICAST,
  RTN_UNICAST,
  RTPROT_BOOT,
  RTPROT_KERNEL,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
} from '../../../src/kernel/netlink/constants.js';
import { worldFromStack } from '../../../src/kernel/netlink/world.js';
import type { NetlinkRoute } from '../../../src/kernel/netlink/world.js';
import { moatStack } from './stack-fixture.js';

const routeText = (r: NetlinkRoute) =>
  `${r.table} ${r.type} ${r.dst.toString()}${r.gateway ? ` via ${r.gateway.toString()}` : ''} oif ${r.oif} proto ${r.protocol} scope ${r.scope} metric ${r.priority}${r.prefsrc ? ` src ${r.prefsrc.toString()}` : ''}`;

test('interfaces: lo and moat0 with their kind, flags, MAC and state', (t) => {
  const { stack } = moatStack();
  const w = worldFromStack(stack);
  t.deepEqual(
    w.interfaces.map((i) => [i.index, i.name, i.type, i.flags, i.operstate, i.mtu, i.mac ? Buffer.from(i.mac).toString('hex') : null]),
    [
      [1, 'lo', ARPHRD_LOOPBACK, IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP, IF_OPER_UNKNOWN, 65536, '000000000000'],
      [2, 'moat0', ARPHRD_ETHER, IFF_UP | IFF_BROADCAST | IFF_MULTICAST | IFF_RUNNING | IFF_LOWER_UP, IF_OPER_UP, 1500, '020000000001'],
    ],
  );
});

test('addresses: static ones permanent, link-local from NDP, IPv4 broadcast, DAD shows as tentative', (t) => {
  const early = moatStack({ settle: false });
  const tentative = worldFromStack(early.stack).interfaces[1]!.addresses.find((a) => a.addr.toString() === 'fd00:9::7')!;
  t.is(tentative.flags, IFA_F_PERMANENT | IFA_F_TENTATIVE, 'during DAD');
  const { stack } = moatStack();
  const moat0 = worldFromStack(stack).interfaces[1]!;
  t.deepEqual(
    moat0.addresses.map((a) => [`${a.addr.toString()}/${a.prefixLen}`, a.scope, a.flags, a.proto ?? 0, a.broadcast?.toString() ?? '']),
    [
      ['10.9.8.7/24', RT_SCOPE_UNIVERSE, IFA_F_PERMANENT, 0, '10.9.8.255'],
      ['fd00:9::7/64', RT_SCOPE_UNIVERSE, IFA_F_PERMANENT, 0, ''],
      ['fe80::ff:fe00:1/64', RT_SCOPE_LINK, IFA_F_PERMANENT, IFAPROT_KERNEL_LL, ''],
    ],
  );
  const lo = worldFromStack(stack).interfaces[0]!;
  t.deepEqual(lo.addresses.map((a) => [`${a.addr.toString()}/${a.prefixLen}`, a.scope]), [['127.0.0.1/8', RT_SCOPE_HOST], ['::1/128', RT_SCOPE_HOST]]);
});

test('a SLAAC address carries its remaining lifetimes, and turns deprecated', (t) => {
  const { stack, clock, nic } = moatStack();
  nic.addIpv6Address(IpCidr.parse('2001:db8:1::5/64'), { tentative: false, validLifetimeS: 3600, preferredLifetimeS: 1800, origin: 'slaac' });
  clock.advance(600_000);
  const a = worldFromStack(stack).interfaces[1]!.addresses.find((x) => x.addr.toString() === '2001:db8:1::5')!;
  t.is(a.flags, 0);
  t.is(a.proto, IFAPROT_KERNEL_RA);
  t.is(a.validLft, 3000);
  t.is(a.preferredLft, 1200);
  clock.advance(1_300_000);
  const later = worldFromStack(stack).interfaces[1]!.addresses.find((x) => x.addr.toString() === '2001:db8:1::5')!;
  t.is(later.flags, IFA_F_DEPRECATED);
  t.is(later.preferredLft, 0);
  const perm = worldFromStack(stack).interfaces[1]!.addresses[0]!;
  t.is(perm.validLft, undefined, 'static addresses live forever');
  t.is(INFINITY_LIFE_TIME, 0xffffffff);
});

test('routes: the stack\'s table as main, the local table as Linux builds it', (t) => {
  const { stack } = moatStack();
  const w = worldFromStack(stack);
  t.deepEqual(w.routes.map(routeText).sort(), [
    `254 ${RTN_UNICAST} 0.0.0.0/0 via 10.9.8.1 oif 2 proto ${RTPROT_BOOT} scope ${RT_SCOPE_UNIVERSE} metric 0`,
    `254 ${RTN_UNICAST} 10.9.8.0/24 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_LINK} metric 0 src 10.9.8.7`,
    `254 ${RTN_UNICAST} ::/0 via fd00:9::1 oif 2 proto ${RTPROT_BOOT} scope ${RT_SCOPE_UNIVERSE} metric 1024`,
    `254 ${RTN_UNICAST} fd00:9::/64 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_UNIVERSE} metric 256`,
    `254 ${RTN_UNICAST} fe80::/64 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_UNIVERSE} metric 256`,
    `255 ${RTN_LOCAL} 10.9.8.7/32 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_HOST} metric 0 src 10.9.8.7`,
    `255 ${RTN_LOCAL} 127.0.0.0/8 oif 1 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_HOST} metric 0 src 127.0.0.1`,
    `255 ${RTN_LOCAL} 127.0.0.1/32 oif 1 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_HOST} metric 0 src 127.0.0.1`,
    `255 ${RTN_LOCAL} ::1/128 oif 1 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_UNIVERSE} metric 0`,
    `255 ${RTN_LOCAL} fd00:9::7/128 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_UNIVERSE} metric 0`,
    `255 ${RTN_LOCAL} fe80::ff:fe00:1/128 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_UNIVERSE} metric 0`,
    `255 ${RTN_BROADCAST} 10.9.8.255/32 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_LINK} metric 0 src 10.9.8.7`,
    `255 ${RTN_BROADCAST} 127.255.255.255/32 oif 1 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_LINK} metric 0 src 127.0.0.1`,
    `255 ${RTN_MULTICAST} ff00::/8 oif 2 proto ${RTPROT_KERNEL} scope ${RT_SCOPE_UNIVERSE} metric 256`,
  ]);
});

test('the world follows the stack: a link going down, an address removed, a NIC removed', (t) => {
  const { stack, nic } = moatStack();
  nic.linkStateChanged(false);
  let moat0 = worldFromStack(stack).interfaces[1]!;
  t.is(moat0.operstate, IF_OPER_DOWN);
  t.is(moat0.flags & (IFF_UP | IFF_LOWER_UP), 0);
  nic.linkStateChanged(true);
  nic.removeAddress(IpAddr.parse('10.9.8.7'));
  moat0 = worldFromStack(stack).interfaces[1]!;
  t.false(moat0.addresses.some((a) => a.addr.family === 4));
  t.false(worldFromStack(stack).routes.some((r) => r.dst.toString() === '10.9.8.0/24'));
  stack.removeNic(nic);
  t.deepEqual(worldFromStack(stack).interfaces.map((i) => i.name), ['lo']);
});
