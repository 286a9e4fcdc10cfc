// IPv6 Neighbor Discovery for a host: message validation and dispatch, address resolution and
// NUD answers. Read RFC 4861 (§4 formats, §6.1.2/§6.3.4 RA validation and processing, §7.1
// validation, §7.2 address resolution, §7.3 NUD, §10 constants), RFC 4862 §5.3 (link-local
// addresses), RFC 2464 §7 (33:33 multicast MACs).
//
// The parts live by role: cache.ts (NUD state machine, shared with ARP), dad.ts (RFC 4862
// §5.4), slaac.ts (RFC 4862 §5.5), routers.ts (Default Router List and router solicitation).
//
// Not done: Redirect (§8, counted and ignored), unsolicited NAs on a MAC change (§7.2.6),
// RFC 4941/8981 temporary addresses, RFC 7217 stable-privacy identifiers, the router role.

import type { NdpOptions, NeighborHost, Ndp } from './index.js';
import { IpAddr, IpCidr } from '../wire/ip-address.js';
import { multicastMacV6 } from '../wire/ethernet.js';
import { parseNdp, type NdpOptions as NdpMessageOptions, type NdpRepr } from '../wire/ndp.js';
import { NeighborCache, cacheParams } from './cache.js';
import { stripUndefined } from './arp.js';
import { DuplicateAddressDetection } from './dad.js';
import { DefaultRouters, RouterSolicitor } from './routers.js';
import { SlaacAddresses, hostLifetime } from './slaac.js';
import {
  ALL_NODES,
  ALL_ROUTERS,
  ICMPV6_NEXT_HEADER,
  buildNa,
  buildNs,
  buildRs,
  fillIcmpv6Checksum,
  isSolicitedNode,
  linkLocalFromMac,
  solicitedNode,
  verifyIcmpv6Checksum,
} from './codec.js';

type Ra = Extract<NdpRepr, { kind: 'router-advert' }>;
type Ns = Extract<NdpRepr, { kind: 'neighbor-solicit' }>;
type Na = Extract<NdpRepr, { kind: 'neighbor-advert' }>;

const DEFAULTS: Required<NdpOptions> = {
  dupAddrDetectTransmits: 1,
  retransTimerMs: 1000,
  baseReachableTimeMs: 30_000,
  maxMulticastSolicit: 3,
  maxUnicastSolicit: 3,
  delayFirstProbeTimeMs: 5000,
  maxRtrSolicitations: 3,
  rtrSolicitationIntervalMs: 4000,
  maxRtrSolicitationDelayMs: 1000,
  staleTimeoutMs: 60_000,
  // Linux: unres_qlen_bytes 212992 shows as unres_qlen 101. A software-segmented TCP burst
  // leaves as many frames at once, and all of them wait for the first resolution.
  queueLength: 101,
  maxEntries: 1024,
  slaac: true,
  acceptRa: true,
  linkLocal: true,
  routerSolicit: true,
};

/** RFC 8200 §5: minimum link MTU; smaller RA MTU options are ignored. */
const IPV6_MIN_MTU = 1280;

export function createNdp(host: NeighborHost, opts?: NdpOptions): Ndp {
  const o: Required<NdpOptions> = { ...DEFAULTS, ...stripUndefined(opts) };
  const count = (r: string) => host.count(`ndp.${r}`);
  const timers = host.timers;
  let stopped = false;
  let started = false;
  /** A router advertised itself (non-zero lifetime): no solicitation needed (§6.3.7). */
  let routerHeard = false;
  const linkLocal = linkLocalFromMac(host.mac);

  const findMine = (addr: IpAddr) => host.ipv6Addresses().find((a) => a.cidr.addr.equals(addr));

  /**
   * §7.2.2: the solicitation's source is one of our (non-tentative, RFC 4862 §5.4) addresses;
   * prefer one on the target's link/prefix so the reply's destination is one we can use.
   */
  const sourceFor = (target: IpAddr): IpAddr | null => {
    const ok = host.ipv6Addresses().filter((a) => !a.tentative);
    if (target.isLinkLocal()) {
      const ll = ok.find((a) => a.cidr.addr.isLinkLocal());
      if (ll) return ll.cidr.addr;
    }
    const same = ok.find((a) => a.cidr.contains(target));
    if (same) return same.cidr.addr;
    const global = ok.find((a) => !a.cidr.addr.isLinkLocal());
    if (global) return global.cidr.addr;
    return ok.length > 0 ? ok[0].cidr.addr : null;
  };

  const sendNdp = (src: IpAddr, dst: IpAddr, icmp: Uint8Array) => {
    fillIcmpv6Checksum(src, dst, icmp);
    // §4: every ND message is sent with hop limit 255 so receivers can tell it is on-link.
    host.sendIpv6({ src, dst, hopLimit: 255, nextHeader: ICMPV6_NEXT_HEADER, payload: icmp });
  };

  const routers = new DefaultRouters(host, timers, count);

  const cache = new NeighborCache(
    timers,
    host.rng,
    cacheParams(o),
    {
      count,
      solicit(ip, unicastMac) {
        const src = sourceFor(ip);
        if (!src) {
          count('drop.no-source-address');
          return;
        }
        // §7.2.2: multicast to the target's solicited-node group while resolving; §7.3.3:
        // unicast to the cached address while probing. Both carry our SLLA (§4.3).
        sendNdp(src, unicastMac ? ip : solicitedNode(ip), buildNs(ip, host.mac));
        count(unicastMac ? 'tx.ns-probe' : 'tx.ns');
      },
      routerGone(ip) {
        // §7.2.5: IsRouter went from TRUE to FALSE: remove it from the Default Router List.
        routers.set(ip, 0);
      },
    },
  );

  const solicitor = new RouterSolicitor(host, timers, {
    maxSolicitations: o.maxRtrSolicitations,
    intervalMs: o.rtrSolicitationIntervalMs,
    maxDelayMs: o.maxRtrSolicitationDelayMs,
    send() {
      // §6.3.7: from a (non-tentative) link-local address with SLLA; else from :: without.
      const ll = host.ipv6Addresses().find((a) => !a.tentative && a.cidr.addr.isLinkLocal());
      sendNdp(ll ? ll.cidr.addr : IpAddr.ANY6, ALL_ROUTERS, buildRs(ll ? host.mac : null));
      count('tx.rs');
    },
  });

  const dad: DuplicateAddressDetection = new DuplicateAddressDetection(host, timers, {
    transmits: o.dupAddrDetectTransmits,
    retransTimerMs: () => cache.params.retransTimerMs,
    maxDelayMs: o.maxRtrSolicitationDelayMs,
    // RFC 4862 §5.4.2: from ::, to the solicited-node group, no SLLA; RFC 7527 nonce.
    sendNs: (addr, nonce) => sendNdp(IpAddr.ANY6, solicitedNode(addr), buildNs(addr, null, nonce)),
    succeeded(addr) {
      // RFC 4861 §6.3.7 sends RSs from a valid address when it can: wait for the link-local one.
      if (started && !stopped && o.routerSolicit && !routerHeard && addr.equals(linkLocal)) solicitor.start();
    },
    failed(addr) {
      slaac.forget(addr);
      // RFC 4862 §5.4.5: a duplicate link-local address derived from the hardware address
      // means the hardware address is duplicated too; IP operation on the interface SHOULD be
      // disabled. We stop soliciting routers and report it; the NIC decides whether to go down.
      if (addr.equals(linkLocal)) {
        count('dad.conflict-link-local');
        solicitor.stop();
      }
    },
    count,
  });

  const slaac: SlaacAddresses = new SlaacAddresses(host, timers, {
    tentative: o.dupAddrDetectTransmits > 0,
    startDad: (addr) => dad.start(addr),
    isDuplicate: (addr) => dad.isDuplicate(addr),
    expired: (addr) => dad.cancel(addr),
    count,
  });

  // ---- Receiving ------------------------------------------------------------------------------

  function handleRa(src: IpAddr, m: Ra, slla: Uint8Array | null): void {
    // §6.1.2: routers send RAs from their link-local address.
    if (!src.isLinkLocal()) {
      count('drop.ra-source-not-link-local');
      return;
    }
    if (!o.acceptRa) {
      count('ra.ignored');
      return;
    }
    count('rx.ra');
    // §6.3.7: a valid RA with a non-zero Router Lifetime ends solicitation, or makes it
    // unnecessary when it arrives before our link-local address is ready to solicit from.
    if (m.routerLifetime > 0) {
      routerHeard = true;
      solicitor.stop();
    }
    if (m.curHopLimit !== 0) host.setCurHopLimit?.(m.curHopLimit);
    if (m.reachableTime !== 0) cache.setBaseReachableTime(m.reachableTime);
    if (m.retransTimer !== 0) cache.params.retransTimerMs = m.retransTimer;
    // §6.3.4: record the router's SLLA (creating an entry) and set IsRouter.
    if (slla) cache.learn(src, slla, { isRouter: true });
    else {
      const e = cache.get(src);
      if (e) e.isRouter = true;
    }
    routers.set(src, m.routerLifetime);
    const mtu = m.options.mtu;
    if (mtu != null) {
      if (mtu < IPV6_MIN_MTU) count('drop.ra-mtu-too-small');
      else host.setLinkMtu(mtu);
    }
    for (const p of m.options.prefixes ?? []) {
      // RFC 4862 §5.5.3 b, RFC 4861 §6.3.4: the link-local prefix is never learned from an RA.
      if (p.prefix.isLinkLocal()) {
        count('ra.prefix-link-local-ignored');
        continue;
      }
      if (p.onLink) host.setOnLinkPrefix?.(IpCidr.of(IpCidr.of(p.prefix, p.prefixLen).network(), p.prefixLen), hostLifetime(p.validLifetime));
      if (p.autonomous && o.slaac) slaac.prefix(p);
    }
    // RFC 8106 §5.1: recursive DNS servers, for the stack's resolver / the guests' DNS proxy.
    for (const r of m.options.rdnss ?? []) host.setDnsServers?.(r.servers, hostLifetime(r.lifetime));
  }

  function handleNs(src: IpAddr, dst: IpAddr, m: Ns, slla: Uint8Array | null): void {
    // §7.1.1 validation.
    if (m.target.isMulticast()) {
      count('drop.ns-multicast-target');
      return;
    }
    const fromUnspecified = src.isUnspecified();
    if (fromUnspecified && !isSolicitedNode(dst)) {
      count('drop.ns-dad-bad-destination');
      return;
    }
    if (fromUnspecified && slla) {
      count('drop.ns-dad-with-slla');
      return;
    }
    if (!fromUnspecified && findMine(src)) {
      // Our own solicitation reflected by the link: learning from it would map our address to
      // our MAC in our own cache.
      count('drop.ns-own-source');
      return;
    }
    const mine = findMine(m.target);
    if (!mine) {
      count('ns.not-for-us');
      return;
    }
    if (mine.tentative) {
      // RFC 4862 §5.4.3: from :: it is another node's DAD for our tentative address (a
      // duplicate); from a unicast source it is address resolution, to be ignored.
      if (!fromUnspecified) count('ns.tentative-target-ignored');
      else if (dad.isOwnNonce(m.target, m.options)) count('dad.looped-back'); // RFC 7527 §4.2
      else dad.conflict(m.target, 'ns');
      return;
    }
    count('rx.ns');
    // §7.2.3: learn the sender (STALE) from its SLLA.
    if (!fromUnspecified && slla) cache.learn(src, slla);
    // §7.2.4: answer from the target address; to all-nodes unsolicited when the asker has no
    // address yet (it is doing DAD), else solicited to the asker. Override set: not anycast.
    const solicited = !fromUnspecified;
    sendNdp(m.target, fromUnspecified ? ALL_NODES : src, buildNa({ router: false, solicited, override: true }, m.target, host.mac));
    count('tx.na');
  }

  function handleNa(dst: IpAddr, m: Na, tlla: Uint8Array | null): void {
    // §7.1.2 validation.
    if (m.target.isMulticast()) {
      count('drop.na-multicast-target');
      return;
    }
    if (dst.isMulticast() && m.solicited) {
      count('drop.na-solicited-to-multicast');
      return;
    }
    const mine = findMine(m.target);
    if (mine) {
      // RFC 4862 §5.4.4: an NA for a tentative address: it is a duplicate. For an address in
      // use, DAD missed the other node; nothing can be done but report it.
      if (mine.tentative) dad.conflict(m.target, 'na');
      else count('na.own-address-claimed');
      return;
    }
    count('rx.na');
    const known = cache.advert(m.target, tlla, { solicited: m.solicited, override: m.override, isRouter: m.router });
    // §7.2.5: no entry: the advertisement is unsolicited and silently discarded.
    if (!known) count('na.unsolicited-ignored');
  }

  function handleNdp(src: IpAddr, dst: IpAddr, hopLimit: number, icmp: Uint8Array): void {
    if (stopped) return;
    // §6.1.1, §6.1.2, §7.1.1, §7.1.2: hop limit 255 proves the sender is on this link.
    if (hopLimit !== 255) {
      count('drop.bad-hop-limit');
      return;
    }
    // Every ND message has at least the 8-byte ICMPv6 header (RS is the shortest, §4.1).
    if (icmp.length < 8) {
      count('drop.truncated');
      return;
    }
    if (!verifyIcmpv6Checksum(src, dst, icmp)) {
      count('drop.bad-checksum');
      return;
    }
    // RFC 4291 §2.7: a multicast source is never valid.
    if (src.isMulticast()) {
      count('drop.multicast-source');
      return;
    }
    // §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: ICMP Code 0.
    if (icmp[1] !== 0) {
      count('drop.bad-code');
      return;
    }
    const m = parseNdp(icmp);
    if (typeof m === 'string') {
      count(m === 'unsupported' ? 'drop.not-ndp' : `drop.${m}`);
      return;
    }
    const lla = checkOptions(m.options);
    if (lla === false) {
      count('drop.bad-option');
      return;
    }
    switch (m.kind) {
      case 'router-solicit':
        // §6.2.6: only routers answer solicitations; hosts discard them.
        count('rs.ignored');
        return;
      case 'router-advert':
        handleRa(src, m, lla.slla);
        return;
      case 'neighbor-solicit':
        handleNs(src, dst, m, lla.slla);
        return;
      case 'neighbor-advert':
        handleNa(dst, m, lla.tlla);
        return;
      default:
        // §8: hosts MAY accept redirects; moat's routing does not take them yet.
        count('redirect.ignored');
        return;
    }
  }

  /**
   * What wire/ndp.ts leaves to the link type: link-layer address options carry exactly a 6-byte
   * MAC on Ethernet (RFC 2464 §8), and a prefix length above 128 is meaningless (§4.6.2).
   * Returns false when the message must be dropped.
   */
  function checkOptions(opts: NdpMessageOptions): { slla: Uint8Array | null; tlla: Uint8Array | null } | false {
    const slla = opts.sourceLinkAddr ?? null;
    const tlla = opts.targetLinkAddr ?? null;
    if ((slla && slla.length !== 6) || (tlla && tlla.length !== 6)) return false;
    for (const p of opts.prefixes ?? []) if (p.prefixLen > 128) return false;
    return { slla, tlla };
  }

  function start(): void {
    if (stopped || started) return;
    started = true;
    if (o.linkLocal) {
      // RFC 4862 §5.3: fe80::/64 + modified EUI-64 of the MAC, then DAD before use.
      const have = findMine(linkLocal);
      if (!have) {
        host.addIpv6Address(IpCidr.of(linkLocal, 64), {
          tentative: o.dupAddrDetectTransmits > 0,
          validLifetimeS: Infinity,
          preferredLifetimeS: Infinity,
          origin: 'link-local',
        });
        count('link-local-added');
        dad.start(linkLocal);
      } else if (have.tentative) dad.start(linkLocal);
      else if (o.routerSolicit) solicitor.start();
    } else if (o.routerSolicit) solicitor.start();
  }

  /**
   * Carrier changes. Down: what was learned about neighbors may be stale, and probing is
   * pointless. Up: RFC 4862 §5.4 runs DAD again on every address ("whenever an interface is
   * initialized ... re-enabled") and, once the link-local one is done, §6.3.7 solicitation.
   */
  function linkStateChanged(up: boolean): void {
    if (stopped) return;
    if (!up) {
      dad.cancelAll();
      solicitor.stop();
      cache.flushLearned();
      count('link-down');
      return;
    }
    count('link-up');
    routerHeard = false;
    const addrs = host.ipv6Addresses().map((a) => a.cidr.addr).filter((a) => !a.isLoopback());
    for (const a of addrs) dad.start(a);
    if (started && o.routerSolicit && !addrs.some((a) => a.equals(linkLocal))) solicitor.start();
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    solicitor.stop();
    dad.stop();
    slaac.stop();
    routers.stop();
    cache.stop();
  }

  return {
    resolve(nextHop, onResolved, onFailed) {
      if (nextHop.family !== 6) throw new TypeError(`NDP resolves IPv6 next hops, got ${nextHop}`);
      // RFC 2464 §7: multicast needs no resolution.
      if (nextHop.isMulticast()) return multicastMacV6(nextHop);
      return cache.resolve(nextHop, onResolved, onFailed);
    },
    addStatic(ip, mac) {
      if (ip.family !== 6 || mac.length !== 6) throw new TypeError('NDP static entry needs IPv6 and a 6-byte MAC');
      cache.addStatic(ip, mac);
    },
    confirm: (ip) => cache.confirm(ip),
    entries: () => cache.entries(),
    remove: (ip) => cache.remove(ip),
    handleNdp,
    start,
    startDad: (addr) => dad.start(addr),
    stop,
    linkStateChanged,
    linkLocalAddress: () => linkLocal,
    duplicateAddresses: () => dad.duplicates(),
    defaultRouters: () => routers.list(),
  };
}
