// ARP for IPv4 over Ethernet. Read RFC 826 (packet format and the "merge" rule), RFC 1122
// §2.3.2.1 (cache timeouts, re-verification) and §2.3.2.2 (queue while resolving), RFC 5227
// §2.3 (announcements) and §2.4 (conflicts), RFC 1112 §6.4 (multicast MAC mapping).
//
// Cache timing is the NUD machine in cache.ts, as in Linux: a reply to our request makes an
// entry REACHABLE, a request aimed at us teaches a STALE entry, a REACHABLE entry ages to STALE,
// and a used STALE entry is re-verified by unicast requests before it is thrown away.

import type { ArpOptions, NeighborHost, Arp } from './index.js';
import { IpAddr, type IpCidr } from '../wire/ip-address.js';
import { EtherType, MAC_BROADCAST, MAC_ZERO, isMulticastMac, multicastMacV4 } from '../wire/ethernet.js';
import { NeighborCache, cacheParams, macEquals } from './cache.js';
import { ArpOp, parseArp } from '../wire/arp.js';
import { buildArp } from './codec.js';
import type { Timer } from '../timers.js';

const ARP_OP_REQUEST: number = ArpOp.REQUEST;
const ARP_OP_REPLY: number = ArpOp.REPLY;

/** RFC 5227 §1.1: minimum time between two defences of one address. */
const DEFEND_INTERVAL_MS = 10_000;

const DEFAULTS: Required<ArpOptions> = {
  maxMulticastSolicit: 3,
  maxUnicastSolicit: 3,
  retransTimerMs: 1000,
  baseReachableTimeMs: 30_000,
  delayFirstProbeTimeMs: 5000,
  staleTimeoutMs: 60_000,
  // Linux: unres_qlen_bytes 212992 shows as unres_qlen 101. A software-segmented TCP burst
  // leaves as many frames at once, and all of them wait for the first resolution.
  queueLength: 101,
  maxEntries: 1024,
  announceNum: 2,
  announceIntervalMs: 2000,
};

export function createArp(host: NeighborHost, opts?: ArpOptions): Arp {
  const o: Required<ArpOptions> = { ...DEFAULTS, ...stripUndefined(opts) };
  const count = (r: string) => host.count(`arp.${r}`);
  let stopped = false;
  const announcing = new Set<Timer>();
  const lastDefence = new Map<string, number>();

  /** Our address to put in ARP_SPA when asking for `target`: one on the target's subnet first. */
  const sourceFor = (target: IpAddr): IpAddr | null => {
    const mine = host.ipv4Addresses();
    for (const c of mine) if (c.contains(target)) return c.addr;
    return mine.length > 0 ? mine[0].addr : null;
  };
  const isMine = (ip: IpAddr): boolean => host.ipv4Addresses().some((c) => c.addr.equals(ip));

  const send = (dstMac: Uint8Array, op: number, spa: IpAddr, tha: Uint8Array, tpa: IpAddr) => {
    host.sendFrame(dstMac, EtherType.ARP, buildArp(op, host.mac, spa, tha, tpa));
  };

  const cache = new NeighborCache(
    host.timers,
    host.rng,
    cacheParams(o),
    {
      count,
      solicit(ip, unicastMac) {
        const spa = sourceFor(ip);
        if (!spa) {
          count('drop.no-source-address');
          return;
        }
        // RFC 1122 §2.3.2.1 (2): re-verification may be a unicast request to the cached MAC.
        send(unicastMac ?? MAC_BROADCAST, ARP_OP_REQUEST, spa, MAC_ZERO, ip);
        count(unicastMac ? 'tx.probe' : 'tx.request');
      },
    },
  );

  /** Destinations that need no resolution: limited/directed broadcast and multicast. */
  const fixedMac = (ip: IpAddr): Uint8Array | null => {
    if (ip.equals(IpAddr.BROADCAST4)) return MAC_BROADCAST;
    if (ip.isMulticast()) return multicastMacV4(ip); // RFC 1112 §6.4
    const mine = host.ipv4Addresses();
    for (let i = 0; i < mine.length; i++) if (isDirectedBroadcast(mine[i], ip)) return MAC_BROADCAST;
    return null;
  };

  function handleArp(payload: Uint8Array): void {
    if (stopped) return;
    const p = parseArp(payload);
    if (typeof p === 'string') {
      count(`drop.${p}`);
      return;
    }
    if (p.op !== ARP_OP_REQUEST && p.op !== ARP_OP_REPLY) {
      count('drop.bad-op');
      return;
    }
    if (macEquals(p.senderMac, host.mac)) {
      // Our own frame reflected back (a hub, a bridge in hairpin mode): nothing to learn.
      count('drop.own-sender');
      return;
    }
    if (isMulticastMac(p.senderMac)) {
      // A broadcast/multicast sender address would poison the cache (Linux drops these too).
      count('drop.bad-sender-mac');
      return;
    }
    if (fixedMac(p.senderIp) !== null) {
      // A broadcast or multicast sender IP is not a neighbor (RFC 1122 §3.2.1.3 forbids it as
      // a source); caching it would redirect that group's traffic to one MAC.
      count('drop.bad-sender-ip');
      return;
    }
    const tpaMine = isMine(p.targetIp);
    if (p.senderIp.isUnspecified()) {
      // RFC 5227 §2.1.1 probe: the sender owns no address yet, so learn nothing; answering tells
      // it that the address is taken (RFC 5227 §2.1.1 "a reply ... indicates a conflict").
      if (p.op === ARP_OP_REQUEST && tpaMine) {
        send(p.senderMac, ARP_OP_REPLY, p.targetIp, p.senderMac, p.senderIp);
        count('tx.reply');
      }
      return;
    }
    if (isMine(p.senderIp)) {
      // RFC 5227 §2.4 (b): someone else uses one of our addresses. We keep it, report it, and
      // defend it with one announcement at most every DEFEND_INTERVAL, so that peers whose
      // caches were just overwritten point back at us without an ARP storm between the two.
      count('conflict');
      const now = host.timers.now();
      const last = lastDefence.get(p.senderIp.key);
      if (last === undefined || now - last >= DEFEND_INTERVAL_MS) {
        lastDefence.set(p.senderIp.key, now);
        send(MAC_BROADCAST, ARP_OP_REQUEST, p.senderIp, MAC_ZERO, p.senderIp);
        count('tx.defend');
      }
      return;
    }
    // RFC 826 "merge": refresh an entry we already have for the sender. A reply addressed to
    // our MAC answers our request (solicited: REACHABLE); anything else, gratuitous ARP among
    // them (RFC 5227 §3), only moves the entry to STALE when the address changed.
    const solicited = p.op === ARP_OP_REPLY && macEquals(p.targetMac, host.mac);
    const known = cache.advert(p.senderIp, p.senderMac, { solicited, override: true });
    if (!tpaMine) {
      if (!known) count('ignored.not-for-us');
      return;
    }
    // RFC 826: "If I am the target, add the triple" (Linux's neigh_event_ns: a STALE entry).
    if (!known) cache.learn(p.senderIp, p.senderMac);
    if (p.op === ARP_OP_REQUEST) {
      send(p.senderMac, ARP_OP_REPLY, p.targetIp, p.senderMac, p.senderIp);
      count('tx.reply');
    }
  }

  /** RFC 5227 §2.3: ANNOUNCE_NUM requests with sender and target both set to `ip`. */
  function announce(ip: IpAddr): void {
    if (stopped) return;
    if (ip.family !== 4) throw new TypeError(`ARP announce needs an IPv4 address, got ${ip}`);
    let left = o.announceNum;
    const timer = host.timers.timer(() => once());
    const once = () => {
      if (stopped || left <= 0) return;
      left--;
      send(MAC_BROADCAST, ARP_OP_REQUEST, ip, MAC_ZERO, ip);
      count('tx.announce');
      if (left > 0) {
        timer.schedule(o.announceIntervalMs);
        announcing.add(timer);
      } else {
        announcing.delete(timer);
      }
    };
    once();
  }

  return {
    resolve(nextHop, onResolved, onFailed) {
      if (nextHop.family !== 4) throw new TypeError(`ARP resolves IPv4 next hops, got ${nextHop}`);
      const fixed = fixedMac(nextHop);
      if (fixed) return fixed;
      return cache.resolve(nextHop, onResolved, onFailed);
    },
    addStatic(ip, mac) {
      if (ip.family !== 4 || mac.length !== 6) throw new TypeError(`ARP static entry needs IPv4 and a 6-byte MAC`);
      cache.addStatic(ip, mac);
    },
    confirm: (ip) => cache.confirm(ip),
    entries: () => cache.entries(),
    remove: (ip) => cache.remove(ip),
    handleArp,
    announce,
    stop() {
      stopped = true;
      // Pending announcements would keep a real event loop alive after close.
      for (const t of announcing) t.cancel();
      announcing.clear();
      cache.stop();
    },
    linkStateChanged(up) {
      if (stopped) return;
      // Down: cached mappings may be wrong when the carrier returns (another switch port,
      // another segment). Up: tell the segment where our addresses are (RFC 5227 §2.3).
      if (!up) cache.flushLearned();
      else for (const c of host.ipv4Addresses()) announce(c.addr);
    },
  };
}

/**
 * RFC 919/922 directed broadcast of one of our subnets (host bits all ones), checked without
 * allocating: resolve() runs per packet. /31 and /32 have no broadcast address (RFC 3021).
 */
function isDirectedBroadcast(c: IpCidr, ip: IpAddr): boolean {
  if (c.prefixLen >= 31 || !c.contains(ip)) return false;
  const hostMask = 0xffffffff >>> c.prefixLen;
  return (ip.toU32() & hostMask) >>> 0 === hostMask;
}

export function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
