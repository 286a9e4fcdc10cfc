// Adapter: the rule engine behind the stack's FilterHooks (stack.ts). The hooks hand over the
// whole datagram, writable, and one FilterContext per packet: the engine reads the real
// headers (extension headers included), NAT rewrites the datagram in place (the stack re-reads
// the addresses and routes again), and the mark and conntrack entry travel in the context from
// hook to hook as skb->mark and skb->_nfct do in Linux.
// REJECT: the reply (TCP RST or ICMP error, reject.ts) is sent with stack.sendRawIp. A reply to
// a packet of our own (OUTPUT, or a local connection refused at INPUT) is addressed to us and
// comes back in through loopback, like Linux's nf_send_reset/nf_send_unreach with ip_local_out;
// Linux attaches the rejected packet's conntrack to it (nf_ct_attach), so it is RELATED: the
// adapter recognises its own replies when they come back and gives them that state, so a
// policy accepting RELATED lets the local socket see ECONNREFUSED / EHOSTUNREACH. The send that
// was rejected returns EPERM, as Linux's (ip_local_out returns -EPERM for NF_DROP).
// Read: Linux net/netfilter/nf_conntrack_core.c (nf_conntrack_attach), net/ipv4/netfilter/
// nf_reject_ipv4.c, net/ipv4/netfilter/nf_defrag_ipv4.c; RFC 8200 §4 (extension headers).

import type { FilterContext, FilterHooks, FilterPacket, FilterVerdict, HookPoint } from '../stack.js';
import type { NetResult } from '../errors.js';
import type { IpAddr } from '../wire/ip-address.js';
import { bytesEqual } from '../wire/bytes.js';
import type { FilterEngine } from './engine.js';
import { isReject } from './engine.js';
import { CtState, FilterInput } from './packet.js';
import type { CtEntry } from './conntrack.js';
import { buildRejectReply } from './reject.js';
import type { RejectWith } from './rules.js';

/** What the adapter needs of the stack (a Stack satisfies it). */
export interface FilterHooksStack {
  sendRawIp(datagram: Uint8Array): NetResult<void>;
  route(dst: IpAddr, src?: IpAddr | null, nicId?: number): NetResult<{ src: IpAddr }>;
  nic(id: number): { readonly name: string } | undefined;
  /** Replies to our own packets come back on it; only there are they recognised. */
  readonly loopbackNic?: { readonly nicId: number } | null;
}

export interface FilterHooksOptions {
  /** The stack the hooks are installed on: REJECT replies go out through it, MASQUERADE/REDIRECT ask it for addresses. */
  stack?: FilterHooksStack;
  /** Interface name for a NIC id (for -i/-o). Default: the stack's NIC names. */
  nicName?: (nicId: number) => string | undefined;
  /** Observer of every REJECT reply built (after it was sent, when a stack is given). */
  onReject?: (reply: Uint8Array, kind: RejectWith, p: FilterPacket) => void;
}

/** The installed hooks plus what a caller may want to look at. */
export interface EngineFilterHooks extends FilterHooks {
  readonly engine: FilterEngine;
  /** REJECT replies sent (and how many could not be: no route, too big). */
  readonly stats: { rejectsSent: number; rejectsFailed: number; relatedReplies: number };
}

// ctx.info: the conntrack result kept between the hooks of one packet.
const INFO_DONE = 1 << 16;
const INFO_DIR_SHIFT = 8;

/** A reply of ours on its way back through loopback: recognised by its bytes, for a short while. */
interface PendingReply {
  bytes: Uint8Array;
  until: number;
}
const PENDING_MAX = 32;
const PENDING_MS = 1000;

/** FilterHooks served by the engine. One FilterInput is reused: no allocation per packet. */
export function createFilterHooks(engine: FilterEngine, opts: FilterHooksOptions = {}): EngineFilterHooks {
  const input = new FilterInput();
  const stack = opts.stack;
  const nicName = opts.nicName ?? (stack ? (id: number) => stack.nic(id)?.name : undefined);
  const stats = { rejectsSent: 0, rejectsFailed: 0, relatedReplies: 0 };
  const pending: PendingReply[] = [];
  const loNic = stack?.loopbackNic ? stack.loopbackNic.nicId : -1;
  if (stack && !engine.nicAddress) {
    // MASQUERADE: the address the stack would pick as source toward the peer on that NIC;
    // REDIRECT at PREROUTING: the incoming interface's primary address (toward the sender).
    engine.nicAddress = (nicId, family, peer) => {
      if (peer.family !== family) return null;
      const r = stack.route(peer, null, nicId || undefined);
      return typeof r === 'string' ? null : r.src;
    };
  }

  const isPendingReply = (d: Uint8Array): boolean => {
    const now = engine.clock.now();
    for (let i = pending.length - 1; i >= 0; i--) {
      const e = pending[i];
      if (e.until < now) {
        pending.splice(i, 1);
        continue;
      }
      if (bytesEqual(e.bytes, d)) {
        pending.splice(i, 1);
        return true;
      }
    }
    return false;
  };

  const reject = (hook: HookPoint, p: FilterPacket, kind: RejectWith): void => {
    const d = input.datagram;
    if (!d) return;
    const reply = buildRejectReply(d.subarray(0, input.length), kind);
    if (!reply) return;
    if (stack) {
      // A reply to ourselves comes back through loopback and must pass our own hooks as RELATED:
      // the reply to a packet we sent, or to one that arrived over loopback.
      if (hook === 'OUTPUT' || hook === 'POSTROUTING' || (loNic >= 0 && p.inNic === loNic)) {
        if (pending.length >= PENDING_MAX) pending.shift();
        pending.push({ bytes: reply, until: engine.clock.now() + PENDING_MS });
      }
      const r = stack.sendRawIp(reply);
      if (r === undefined) stats.rejectsSent++;
      else stats.rejectsFailed++;
    }
    opts.onReject?.(reply, kind, p);
  };

  const run = (hook: HookPoint, p: FilterPacket): FilterVerdict => {
    input.reset();
    const ctx = p.ctx;
    if (!p.packet || !input.setDatagram(p.packet, p.src, p.dst)) fromHeaders(input, p);
    input.inNic = p.inNic ?? 0;
    input.outNic = p.outNic ?? 0;
    if (nicName) {
      if (p.inNic !== undefined) input.inIface = nicName(p.inNic) ?? '';
      if (p.outNic !== undefined) input.outIface = nicName(p.outNic) ?? '';
    }
    input.owner = p.owner;
    if (ctx) {
      input.mark = ctx.mark;
      const info = ctx.info ?? 0;
      if (info & INFO_DONE) {
        input.ct = (ctx.conn as CtEntry | null | undefined) ?? null;
        input.ctDir = (info >> INFO_DIR_SHIFT) & 1;
        input.ctState = info & 0xff;
        input.ctDone = true;
      } else if (pending.length > 0 && (hook === 'PREROUTING' || hook === 'INPUT') && p.inNic === loNic && input.datagram && isPendingReply(input.datagram.subarray(0, input.length))) {
        // nf_ct_attach: our own REJECT reply is RELATED to the flow it refuses.
        input.ct = null;
        input.ctState = CtState.RELATED;
        input.ctDone = true;
        stats.relatedReplies++;
      }
    }
    const v = engine.run(hook, input);
    if (ctx) keep(ctx, input);
    if (v === 'accept') return v;
    if (isReject(v)) reject(hook, p, v.reject);
    return v;
  };
  return {
    engine,
    stats,
    PREROUTING: (p) => run('PREROUTING', p),
    INPUT: (p) => run('INPUT', p),
    FORWARD: (p) => run('FORWARD', p),
    OUTPUT: (p) => run('OUTPUT', p),
    POSTROUTING: (p) => run('POSTROUTING', p),
  };
}

function keep(ctx: FilterContext, input: FilterInput): void {
  ctx.mark = input.mark;
  if (!input.ctDone) return;
  ctx.conn = input.ct;
  ctx.info = INFO_DONE | (input.ctDir << INFO_DIR_SHIFT) | (input.ctState & 0xff);
}

/** A packet handed over without its datagram (older callers): the header fields only, no NAT. */
function fromHeaders(input: FilterInput, p: FilterPacket): void {
  input.datagram = null;
  input.family = p.family;
  input.src = p.src;
  input.dst = p.dst;
  input.protocol = p.protocol;
  input.transport = p.transport;
  input.fragment = p.fragment;
  input.length = p.length;
}

/**
 * The original destination of a connection that DNAT or REDIRECT moved to a local socket
 * (Linux's getsockopt SO_ORIGINAL_DST): look the accepted socket's tuple up in conntrack as a
 * reply-direction tuple. Null when the flow is not tracked or was not translated.
 */
export function originalDestination(
  engine: FilterEngine,
  protocol: number,
  local: { addr: IpAddr; port: number },
  remote: { addr: IpAddr; port: number },
): { addr: IpAddr; port: number } | null {
  const ct = engine.conntrack;
  if (!ct) return null;
  const hit = ct.lookup(protocol, { src: local.addr, dst: remote.addr, sport: local.port, dport: remote.port, icmpType: 0 });
  if (!hit || hit.dir !== 1) return null;
  const o = hit.e.orig;
  if (o.dst.equals(local.addr) && o.dport === local.port) return null;
  return { addr: o.dst, port: o.dport };
}

