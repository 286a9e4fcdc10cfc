// IPv6 Neighbor Discovery for a host. Read RFC 4861 (§4 formats, §6.1.2/§6.3.4 RA validation and
// processing, §6.3.7 router solicitation, §7.1 validation, §7.2 address resolution, §7.3 NUD,
// §10 constants), RFC 4862 (§5.3 link-local, §5.4 DAD, §5.5 SLAAC with the "2-hour rule" of
// §5.5.3 e), RFC 4291 §2.7.1 and App. A (solicited-node groups, modified EUI-64), RFC 2464 §7
// (33:33 multicast MACs).
//
// The NUD state machine itself is in cache.ts (shared with ARP). This file validates and
// answers messages, runs DAD and router solicitation, and keeps SLAAC address and default
// router lifetimes: it calls host.removeIpv6Address / host.addDefaultRouter(r, 0) itself when a
// lifetime runs out, so the NIC need not time them.
//
// Not done: Redirect (§8, counted and ignored), RFC 4941/8981 temporary addresses, RFC 7217
// stable-privacy identifiers, RFC 7527 enhanced DAD (loop detection by nonce), router role.

import type { NdpOptions, NeighborHost, Ndp } from './index.js';
import { IpAddr, IpCidr } from '../wire/ip-address.js';
import { multicastMacV6 } from '../wire/ethernet.js';
import type { Timer } from '../timers.js';
import { NeighborCache } from './cache.js';
import { stripUndefined } from './arp.js';
import { parseNdp, type NdpOptions as NdpMessageOptions, type NdpPrefixInfo, type NdpRepr } from '../wire/ndp.js';
import {
  ALL_NODES,
  ALL_ROUTERS,
  ICMPV6_NEXT_HEADER,
  NDP_OPT_NONCE,
  addressFromPrefix,
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
  queueLength: 3,
  maxEntries: 1024,
  slaac: true,
  acceptRa: true,
  linkLocal: true,
  routerSolicit: true,
};

/** RFC 4861 §4.6.2: all ones means infinity. */
const INFINITE_LIFETIME = 0xffffffff;
/** The host sees infinite lifetimes as Infinity, not as the wire's all-ones value. */
function hostLifetime(s: number): number {
  return s === INFINITE_LIFETIME ? Infinity : s;
}
/** RFC 4862 §5.5.3 e. */
const TWO_HOURS_MS = 2 * 3600_000;
/** RFC 8200 §5: minimum link MTU; smaller RA MTU options are ignored. */
const IPV6_MIN_MTU = 1280;
/** RFC 4861 §4.6.2 prefix with A flag: the interface identifier is 64 bits (RFC 4291 §2.5.1). */
const IID_BITS = 64;

interface Dad {
  readonly addr: IpAddr;
  left: number;
  readonly timer: Timer;
  /** RFC 7527 §4.1 nonces of the NSs sent, to recognise them if the link loops them back. */
  readonly nonces: Uint8Array[];
}

interface SlaacAddr {
  readonly addr: IpAddr;
  validUntil: number;
  preferredUntil: number;
  readonly validTimer: Timer;
  readonly preferredTimer: Timer;
}

interface Router {
  readonly addr: IpAddr;
  readonly timer: Timer;
}

export function createNdp(host: NeighborHost, opts?: NdpOptions): Ndp {
  const o: Required<NdpOptions> = { ...DEFAULTS, ...stripUndefined(opts) };
  const count = (r: string) => host.count(`ndp.${r}`);
  const timers = host.timers;
  let stopped = false;
  let started = false;

  const dads = new Map<string, Dad>();
  const slaac = new Map<string, SlaacAddr>();
  const routers = new Map<string, Router>();
  const duplicates: IpAddr[] = [];
  const linkLocal = linkLocalFromMac(host.mac);

  const randomDelay = (maxMs: number) => (maxMs > 0 ? host.rng.u32() % (maxMs + 1) : 0);

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

  const cache = new NeighborCache(
    timers,
    host.rng,
    {
      maxMulticastSolicit: o.maxMulticastSolicit,
      maxUnicastSolicit: o.maxUnicastSolicit,
      retransTimerMs: o.retransTimerMs,
      baseReachableTimeMs: o.baseReachableTimeMs,
      delayFirstProbeTimeMs: o.delayFirstProbeTimeMs,
      staleTimeoutMs: o.staleTimeoutMs,
      queueLength: o.queueLength,
      maxEntries: o.maxEntries,
    },
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
        setRouter(ip, 0);
      },
    },
  );

  // ---- DAD, RFC 4862 §5.4 ------------------------------------------------------------------

  function startDad(addr: IpAddr): void {
    if (stopped) return;
    if (!findMine(addr)) {
      count('dad.unknown-address');
      return;
    }
    dads.get(addr.key)?.timer.cancel();
    if (o.dupAddrDetectTransmits <= 0) {
      // §5.4: DupAddrDetectTransmits 0 disables DAD; the address is usable at once.
      dads.delete(addr.key);
      host.setIpv6AddressTentative(addr, false);
      dadSucceeded(addr);
      return;
    }
    host.setIpv6AddressTentative(addr, true);
    const d: Dad = { addr, left: o.dupAddrDetectTransmits, timer: timers.timer(() => dadTick(d)), nonces: [] };
    dads.set(addr.key, d);
    // §5.4.2: a random delay of up to MAX_RTR_SOLICITATION_DELAY before the first NS, so that
    // hosts started together (after a power failure) do not all solicit at once.
    d.timer.schedule(randomDelay(o.maxRtrSolicitationDelayMs));
  }

  function dadTick(d: Dad): void {
    if (dads.get(d.addr.key) !== d) return;
    if (d.left > 0) {
      // §5.4.2: NS from the unspecified address to the solicited-node group, no SLLA option.
      d.left--;
      const nonce = host.rng.fill(new Uint8Array(6));
      d.nonces.push(nonce);
      sendNdp(IpAddr.ANY6, solicitedNode(d.addr), buildNs(d.addr, null, nonce));
      count('dad.tx-ns');
      d.timer.schedule(cache.params.retransTimerMs);
      return;
    }
    // §5.4.3: RetransTimer after the last NS and nothing heard: the address is unique.
    dads.delete(d.addr.key);
    host.setIpv6AddressTentative(d.addr, false);
    count('dad.ok');
    dadSucceeded(d.addr);
  }

  /** RFC 7527 §4.2: our own DAD NS, reflected by the link (a hub, a hairpin, AF_PACKET echo). */
  function isOwnNonce(addr: IpAddr, opts: NdpMessageOptions): boolean {
    const d = dads.get(addr.key);
    if (!d) return false;
    for (const u of opts.unknown ?? []) {
      if (u.type !== NDP_OPT_NONCE) continue;
      for (const n of d.nonces) if (u.data.length === n.length && u.data.every((x, i) => x === n[i])) return true;
    }
    return false;
  }

  function dadSucceeded(addr: IpAddr): void {
    // RFC 4861 §6.3.7 sends RSs from a valid address when it can: wait for the link-local one.
    if (started && o.routerSolicit && addr.equals(linkLocal)) startRs();
  }

  /** §5.4.5: the tentative address is someone else's. It is removed, never used. */
  function dadConflict(addr: IpAddr, why: 'ns' | 'na'): void {
    const d = dads.get(addr.key);
    if (d) {
      d.timer.cancel();
      dads.delete(addr.key);
    }
    count('dad.conflict');
    count(`dad.conflict-${why}`);
    const s = slaac.get(addr.key);
    if (s) {
      s.validTimer.cancel();
      s.preferredTimer.cancel();
      slaac.delete(addr.key);
    }
    // §5.4.5: a duplicate link-local address derived from the hardware address means the
    // hardware address is duplicated too; IP operation on the interface SHOULD be disabled.
    // We stop soliciting routers and report it; the NIC decides whether to go down.
    if (addr.equals(linkLocal)) {
      count('dad.conflict-link-local');
      rsTimer.cancel();
    }
    if (!duplicates.some((x) => x.equals(addr))) duplicates.push(addr);
    host.removeIpv6Address(addr);
  }

  // ---- Router solicitation, RFC 4861 §6.3.7 ------------------------------------------------

  let rsSent = 0;
  const rsTimer = timers.timer(() => rsTick());

  function startRs(): void {
    if (stopped) return;
    rsSent = 0;
    // §6.3.7: delay the first RS by a random 0..MAX_RTR_SOLICITATION_DELAY.
    rsTimer.schedule(randomDelay(o.maxRtrSolicitationDelayMs));
  }

  function rsTick(): void {
    if (stopped || rsSent >= o.maxRtrSolicitations) return;
    // §6.3.7: from a (non-tentative) address if we have one, with SLLA; else from :: without.
    const ll = host.ipv6Addresses().find((a) => !a.tentative && a.cidr.addr.isLinkLocal());
    const src = ll ? ll.cidr.addr : IpAddr.ANY6;
    sendNdp(src, ALL_ROUTERS, buildRs(ll ? host.mac : null));
    count('tx.rs');
    rsSent++;
    if (rsSent < o.maxRtrSolicitations) rsTimer.schedule(o.rtrSolicitationIntervalMs);
  }

  // ---- Default routers (RFC 4861 §6.3.4, §6.3.5) ---------------------------------------------

  function setRouter(addr: IpAddr, lifetimeS: number): void {
    const r = routers.get(addr.key);
    if (lifetimeS === 0) {
      // §6.3.4: a zero Router Lifetime times the entry out immediately.
      if (!r) return;
      r.timer.cancel();
      routers.delete(addr.key);
      host.addDefaultRouter(addr, 0);
      count('router.removed');
      return;
    }
    let rr = r;
    if (!rr) {
      const nr: Router = { addr, timer: timers.timer(() => routerExpired(nr)) };
      routers.set(addr.key, nr);
      rr = nr;
      count('router.added');
    }
    rr.timer.schedule(lifetimeS * 1000);
    host.addDefaultRouter(addr, lifetimeS);
  }

  function routerExpired(r: Router): void {
    if (routers.get(r.addr.key) !== r) return;
    routers.delete(r.addr.key);
    host.addDefaultRouter(r.addr, 0);
    count('router.expired');
  }

  // ---- SLAAC, RFC 4862 §5.5.3 ----------------------------------------------------------------

  function prefixInfo(p: NdpPrefixInfo): void {
    // §5.5.3 b and RFC 4861 §6.3.4: the link-local prefix is never learned from an RA.
    if (p.prefix.isLinkLocal()) {
      count('ra.prefix-link-local-ignored');
      return;
    }
    const cidr = IpCidr.of(IpCidr.of(p.prefix, p.prefixLen).network(), p.prefixLen);
    if (p.onLink) host.setOnLinkPrefix?.(cidr, hostLifetime(p.validLifetime));
    if (!p.autonomous || !o.slaac) return;
    if (p.preferredLifetime > p.validLifetime) {
      count('slaac.drop.preferred-exceeds-valid'); // §5.5.3 c
      return;
    }
    if (p.prefixLen + IID_BITS !== 128) {
      count('slaac.drop.bad-prefix-length'); // §5.5.3 d
      return;
    }
    const addr = addressFromPrefix(p.prefix, host.mac);
    const now = timers.now();
    const s = slaac.get(addr.key);
    if (!s) {
      // §5.5.3 d: a new prefix with a non-zero valid lifetime forms an address.
      if (p.validLifetime === 0) return;
      if (duplicates.some((x) => x.equals(addr))) {
        count('slaac.skip-duplicate');
        return;
      }
      if (findMine(addr)) return; // configured by other means; not ours to time
      const ns: SlaacAddr = {
        addr,
        validUntil: Infinity,
        preferredUntil: Infinity,
        validTimer: timers.timer(() => slaacExpired(ns)),
        preferredTimer: timers.timer(() => slaacDeprecated(ns)),
      };
      slaac.set(addr.key, ns);
      setLifetimes(ns, p.validLifetime, p.preferredLifetime);
      host.addIpv6Address(IpCidr.of(addr, p.prefixLen), {
        tentative: o.dupAddrDetectTransmits > 0,
        validLifetimeS: hostLifetime(p.validLifetime),
        preferredLifetimeS: hostLifetime(p.preferredLifetime),
        origin: 'slaac',
      });
      count('slaac.address-added');
      startDad(addr);
      return;
    }
    // §5.5.3 e: the preferred lifetime is always reset; the valid lifetime only under the
    // "2-hour rule", so that a forged RA cannot cut a live address's lifetime short.
    const remainingMs = s.validUntil - now;
    const receivedMs = p.validLifetime === INFINITE_LIFETIME ? Infinity : p.validLifetime * 1000;
    let validS: number;
    if (receivedMs > TWO_HOURS_MS || receivedMs > remainingMs) validS = p.validLifetime; // e.1
    else if (remainingMs <= TWO_HOURS_MS) validS = toLifetimeS(remainingMs); // e.2: ignore
    else validS = TWO_HOURS_MS / 1000; // e.3
    setLifetimes(s, validS, p.preferredLifetime);
    tellHost(s, validS, Math.min(p.preferredLifetime, validS));
    count('slaac.lifetimes-updated');
  }

  /** Refreshes the host's copy of an address's lifetimes (NeighborHost.addIpv6Address). */
  function tellHost(s: SlaacAddr, validS: number, preferredS: number): void {
    const cur = findMine(s.addr);
    if (!cur) return;
    host.addIpv6Address(cur.cidr, {
      tentative: cur.tentative,
      validLifetimeS: hostLifetime(validS),
      preferredLifetimeS: hostLifetime(preferredS),
      origin: 'slaac',
    });
  }

  function toLifetimeS(ms: number): number {
    return ms === Infinity ? INFINITE_LIFETIME : Math.max(0, Math.ceil(ms / 1000));
  }

  function setLifetimes(s: SlaacAddr, validS: number, preferredS: number): void {
    const now = timers.now();
    s.validUntil = validS === INFINITE_LIFETIME ? Infinity : now + validS * 1000;
    const pref = preferredS === INFINITE_LIFETIME ? Infinity : now + preferredS * 1000;
    s.preferredUntil = Math.min(pref, s.validUntil);
    if (s.validUntil === Infinity) s.validTimer.cancel();
    else s.validTimer.scheduleAt(s.validUntil);
    if (s.preferredUntil === Infinity || s.preferredUntil >= s.validUntil) s.preferredTimer.cancel();
    else s.preferredTimer.scheduleAt(s.preferredUntil);
  }

  function slaacDeprecated(s: SlaacAddr): void {
    if (slaac.get(s.addr.key) !== s) return;
    // §5.5.4: a deprecated address stays valid for existing connections, not for new ones.
    count('slaac.address-deprecated');
    tellHost(s, toLifetimeS(s.validUntil - timers.now()), 0);
  }

  function slaacExpired(s: SlaacAddr): void {
    if (slaac.get(s.addr.key) !== s) return;
    slaac.delete(s.addr.key);
    const d = dads.get(s.addr.key);
    if (d) {
      d.timer.cancel();
      dads.delete(s.addr.key);
    }
    count('slaac.address-expired');
    host.removeIpv6Address(s.addr);
  }

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
    // §6.3.7: a valid RA with a non-zero Router Lifetime ends solicitation.
    if (m.routerLifetime > 0) rsTimer.cancel();
    if (m.curHopLimit !== 0) host.setCurHopLimit?.(m.curHopLimit);
    if (m.reachableTime !== 0) cache.setBaseReachableTime(m.reachableTime);
    if (m.retransTimer !== 0) cache.params.retransTimerMs = m.retransTimer;
    // §6.3.4: record the router's SLLA (creating an entry) and set IsRouter.
    if (slla) cache.learn(src, slla, { isRouter: true });
    else {
      const e = cache.get(src);
      if (e) e.isRouter = true;
    }
    setRouter(src, m.routerLifetime);
    const mtu = m.options.mtu;
    if (mtu != null) {
      if (mtu < IPV6_MIN_MTU) count('drop.ra-mtu-too-small');
      else host.setLinkMtu(mtu);
    }
    for (const p of m.options.prefixes ?? []) prefixInfo(p);
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
      else if (isOwnNonce(m.target, m.options)) count('dad.looped-back'); // RFC 7527 §4.2
      else dadConflict(m.target, 'ns');
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
      if (mine.tentative) dadConflict(m.target, 'na');
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
        startDad(linkLocal);
      } else if (have.tentative) startDad(linkLocal);
      else if (o.routerSolicit) startRs();
    } else if (o.routerSolicit) startRs();
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    rsTimer.cancel();
    for (const d of dads.values()) d.timer.cancel();
    dads.clear();
    for (const s of slaac.values()) {
      s.validTimer.cancel();
      s.preferredTimer.cancel();
    }
    slaac.clear();
    for (const r of routers.values()) r.timer.cancel();
    routers.clear();
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
    startDad,
    stop,
    linkLocalAddress: () => linkLocal,
    duplicateAddresses: () => duplicates.slice(),
    defaultRouters: () => [...routers.values()].map((r) => r.addr),
  };
}
