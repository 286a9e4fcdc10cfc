// The rule engine: iptables' tables (raw, mangle, nat, filter), built-in chains per hook, user
// chains, jump/goto/return, policies, counters per rule and per policy, and the targets. Rules
// are compiled to closures when edited; evaluation walks arrays with a preallocated call stack
// and returns verdict objects built at compile time, so a packet allocates nothing unless a
// LOG/audit record is written or conntrack meets a new flow.
// Read: iptables(8) and iptables-extensions(8) for semantics; Linux net/ipv4/netfilter/
// ip_tables.c ipt_do_table() for the traversal (jump pushes, goto replaces, RETURN pops, end of
// a built-in chain applies its policy); nf_nat_core.c for "NAT decided once per connection".

import type { Clock } from '../clock.js';
import { IpAddr } from '../wire/ip-address.js';
import { IpProto } from '../wire/ip-proto.js';
import { SetRegistry } from './addrset.js';
import type { AuditRecord, AuditSink, AuditVerdict } from './audit.js';
import { compileMatch, type Match } from './compile.js';
import { Conntrack, type ConntrackOptions } from './conntrack.js';
import { CtDir, CtState, type FilterInput, type HookPoint } from './packet.js';
import {
  BUILTIN_CHAINS,
  HOOK_TABLES,
  TABLE_NAMES,
  type ChainSpec,
  type Counters,
  type Policy,
  type RejectWith,
  type RuleSpec,
  type TableName,
  type TableSpec,
} from './rules.js';

export interface DropVerdict {
  /** Counter suffix for the stack ('rule', 'policy', 'reject', 'nat', 'loop', 'ct-invalid'). */
  readonly drop: string;
  readonly rule: Rule | null;
}
export interface RejectVerdict extends DropVerdict {
  readonly reject: RejectWith;
}
/** A superset of the stack's FilterVerdict: a reject is also a drop (the stack drops it today). */
export type Verdict = 'accept' | DropVerdict | RejectVerdict;

export function isReject(v: Verdict): v is RejectVerdict {
  return v !== 'accept' && 'reject' in v;
}

const K_ACCEPT = 0;
const K_DROP = 1;
const K_REJECT = 2;
const K_RETURN = 3;
const K_LOG = 4;
const K_MARK = 5;
const K_JUMP = 6;
const K_GOTO = 7;
const K_NAT = 8;
const K_NONE = 9;

export class Rule {
  readonly counters: Counters = { packets: 0, bytes: 0 };
  match: Match | null;
  kind: number;
  jump: Chain | null = null;
  verdict: DropVerdict | RejectVerdict | null = null;
  // The common matches, checked inline by the walk (monomorphic field reads, no call); the rest
  // of the rule is one closure in `match` (null when nothing is left).
  fam = 0;
  proto = -1;
  protoNeg = false;
  // Signed 32-bit (| 0 form) so the fields stay small integers.
  hasSrc4 = false;
  src4Mask = 0;
  src4Net = 0;
  src4Neg = false;
  hasDst4 = false;
  dst4Mask = 0;
  dst4Net = 0;
  dst4Neg = false;
  sportLo = -1;
  sportHi = 0;
  sportNeg = false;
  dportLo = -1;
  dportHi = 0;
  dportNeg = false;
  ctMask = 0;
  ctNeg = false;
  constructor(
    readonly spec: RuleSpec,
    readonly table: TableName,
    readonly chain: Chain,
    sets: SetRegistry,
    ct: Conntrack | null = null,
  ) {
    const rest: RuleSpec = { ...spec };
    if (spec.family) {
      this.fam = spec.family;
      delete rest.family;
    }
    if (spec.protocol) {
      this.proto = spec.protocol.proto;
      this.protoNeg = spec.protocol.neg;
      delete rest.protocol;
    }
    if (spec.src && spec.src.cidr.family === 4) {
      const len = spec.src.cidr.prefixLen;
      this.src4Mask = len === 0 ? 0 : 0xffffffff << (32 - len);
      this.src4Net = spec.src.cidr.addr.toU32() & this.src4Mask;
      this.src4Neg = spec.src.neg;
      this.hasSrc4 = true;
      delete rest.src;
    }
    if (spec.dst && spec.dst.cidr.family === 4) {
      const len = spec.dst.cidr.prefixLen;
      this.dst4Mask = len === 0 ? 0 : 0xffffffff << (32 - len);
      this.dst4Net = spec.dst.cidr.addr.toU32() & this.dst4Mask;
      this.dst4Neg = spec.dst.neg;
      this.hasDst4 = true;
      delete rest.dst;
    }
    if (spec.sport) {
      this.sportLo = spec.sport.range.lo;
      this.sportHi = spec.sport.range.hi;
      this.sportNeg = spec.sport.neg;
      delete rest.sport;
    }
    if (spec.dport) {
      this.dportLo = spec.dport.range.lo;
      this.dportHi = spec.dport.range.hi;
      this.dportNeg = spec.dport.neg;
      delete rest.dport;
    }
    if (spec.ctstate) {
      this.ctMask = spec.ctstate.mask;
      this.ctNeg = spec.ctstate.neg;
      delete rest.ctstate;
    }
    delete rest.comment;
    const leftover = Object.keys(rest).some((k) => k !== 'target');
    this.match = leftover ? compileMatch(rest, sets, ct) : null;
    const t = spec.target;
    switch (t.kind) {
      case 'ACCEPT':
        this.kind = K_ACCEPT;
        break;
      case 'DROP':
        this.kind = K_DROP;
        this.verdict = { drop: 'rule', rule: this };
        break;
      case 'REJECT':
        this.kind = K_REJECT;
        this.verdict = { drop: 'reject', reject: t.with, rule: this };
        break;
      case 'RETURN':
        this.kind = K_RETURN;
        break;
      case 'LOG':
        this.kind = K_LOG;
        break;
      case 'MARK':
        this.kind = K_MARK;
        break;
      case 'JUMP':
        this.kind = K_JUMP;
        break;
      case 'GOTO':
        this.kind = K_GOTO;
        break;
      case 'DNAT':
      case 'SNAT':
      case 'MASQUERADE':
      case 'REDIRECT':
        this.kind = K_NAT;
        break;
      default:
        this.kind = K_NONE;
    }
  }
  /** 1-based position in its chain (iptables -L --line-numbers). */
  get index(): number {
    return this.chain.rules.indexOf(this) + 1;
  }
  /** "table/chain#n" for audit records. */
  get ref(): string {
    return `${this.table}/${this.chain.name}#${this.index}`;
  }
}

export class Chain {
  readonly rules: Rule[] = [];
  readonly counters: Counters = { packets: 0, bytes: 0 };
  /** Verdict for a DROP policy, made once. */
  readonly policyDrop: DropVerdict = { drop: 'policy', rule: null };
  /** Number of rules (in any chain of the table) that jump or go here. */
  references = 0;
  constructor(
    readonly name: string,
    readonly table: TableName,
    /** Built-in chains only; user chains have null. */
    public policy: Policy | null,
  ) {}
  get builtin(): boolean {
    return this.policy !== null;
  }
}

export class FilterError extends Error {
  override name = 'FilterError';
}

export class Table {
  readonly chains = new Map<string, Chain>();
  constructor(
    readonly name: TableName,
    private readonly engine: FilterEngine,
  ) {
    for (const c of BUILTIN_CHAINS[name]) this.chains.set(c, new Chain(c, name, 'ACCEPT'));
  }

  chain(name: string): Chain {
    const c = this.chains.get(name);
    if (!c) throw new FilterError(`${this.name}: no chain named ${name}`);
    return c;
  }

  /** iptables -N. */
  newChain(name: string): Chain {
    if (this.chains.has(name)) throw new FilterError(`${this.name}: chain ${name} already exists`);
    if (!/^[A-Za-z0-9_.\-]{1,28}$/.test(name) || isTargetName(name)) throw new FilterError(`${this.name}: bad chain name ${JSON.stringify(name)}`);
    const c = new Chain(name, this.name, null);
    this.chains.set(name, c);
    return c;
  }

  /** iptables -X (the chain must be empty of references and, like iptables, of rules). */
  deleteChain(name: string): void {
    const c = this.chain(name);
    if (c.builtin) throw new FilterError(`${this.name}: cannot delete built-in chain ${name}`);
    if (c.references > 0) throw new FilterError(`${this.name}: chain ${name} is still referenced`);
    if (c.rules.length) throw new FilterError(`${this.name}: chain ${name} is not empty`);
    this.chains.delete(name);
  }

  /** iptables -P. */
  setPolicy(chain: string, policy: Policy): void {
    const c = this.chain(chain);
    if (!c.builtin) throw new FilterError(`${this.name}: ${chain} is a user chain and has no policy`);
    c.policy = policy;
  }

  /** iptables -A; returns the rule (its counters are live). */
  append(chain: string, spec: RuleSpec): Rule {
    return this.insert(chain, this.chain(chain).rules.length + 1, spec);
  }

  /** iptables -I chain n (1-based). */
  insert(chain: string, pos: number, spec: RuleSpec): Rule {
    const c = this.chain(chain);
    if (pos < 1 || pos > c.rules.length + 1) throw new FilterError(`${this.name}: ${chain} has no position ${pos}`);
    this.checkTarget(c, spec);
    const r = new Rule(spec, this.name, c, this.engine.sets, this.engine.conntrack);
    if (spec.target.kind === 'JUMP' || spec.target.kind === 'GOTO') {
      const to = this.chain(spec.target.chain);
      if (to.builtin) throw new FilterError(`${this.name}: cannot jump to built-in chain ${to.name}`);
      if (to === c || this.reaches(to, c)) throw new FilterError(`${this.name}: jump from ${c.name} to ${to.name} makes a loop`);
      r.jump = to;
      to.references++;
    }
    c.rules.splice(pos - 1, 0, r);
    return r;
  }

  /** iptables -D chain n. */
  delete(chain: string, pos: number): void {
    const c = this.chain(chain);
    const r = c.rules[pos - 1];
    if (!r) throw new FilterError(`${this.name}: ${chain} has no rule ${pos}`);
    if (r.jump) r.jump.references--;
    c.rules.splice(pos - 1, 1);
  }

  /** iptables -F [chain]. */
  flush(chain?: string): void {
    const cs = chain ? [this.chain(chain)] : [...this.chains.values()];
    for (const c of cs) {
      for (const r of c.rules) if (r.jump) r.jump.references--;
      c.rules.length = 0;
    }
  }

  /** iptables -Z: zero counters. */
  zero(): void {
    for (const c of this.chains.values()) {
      c.counters.packets = c.counters.bytes = 0;
      for (const r of c.rules) r.counters.packets = r.counters.bytes = 0;
    }
  }

  private reaches(from: Chain, target: Chain, seen = new Set<Chain>()): boolean {
    if (seen.has(from)) return false;
    seen.add(from);
    for (const r of from.rules) {
      if (!r.jump) continue;
      if (r.jump === target || this.reaches(r.jump, target, seen)) return true;
    }
    return false;
  }

  private checkTarget(c: Chain, spec: RuleSpec): void {
    const k = spec.target.kind;
    if ((k === 'DNAT' || k === 'REDIRECT') && (this.name !== 'nat' || !['PREROUTING', 'OUTPUT'].includes(c.builtin ? c.name : 'PREROUTING'))) {
      throw new FilterError(`${this.name}/${c.name}: ${k} is only valid in the nat table's PREROUTING and OUTPUT chains`);
    }
    if ((k === 'SNAT' || k === 'MASQUERADE') && (this.name !== 'nat' || !['POSTROUTING', 'INPUT'].includes(c.builtin ? c.name : 'POSTROUTING'))) {
      throw new FilterError(`${this.name}/${c.name}: ${k} is only valid in the nat table's POSTROUTING and INPUT chains`);
    }
    if (k === 'MARK' && this.name !== 'mangle') throw new FilterError(`${this.name}/${c.name}: MARK is only valid in the mangle table`);
  }

  spec(): TableSpec {
    const chains: ChainSpec[] = [];
    for (const c of this.chains.values()) {
      chains.push({
        name: c.name,
        policy: c.policy,
        counters: { ...c.counters },
        rules: c.rules.map((r) => ({ rule: r.spec, counters: { ...r.counters } })),
      });
    }
    return { name: this.name, chains };
  }
}

const TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'LOG', 'MARK', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'QUEUE']);
export function isTargetName(s: string): boolean {
  return TARGETS.has(s);
}

export interface FilterEngineOptions {
  clock: Clock;
  audit?: AuditSink;
  /** Also write an audit record for every decision on a NEW flow in the filter table (a flow log). */
  auditDecisions?: boolean;
  /** Conntrack options; false disables tracking (ctstate matches then see UNTRACKED). */
  conntrack?: ConntrackOptions | false;
  /** Hostname learned from DNS for an address (the DNS allowlist's reverse map). */
  hostnameOf?: (addr: IpAddr) => string | undefined;
  /** Primary address of a NIC for MASQUERADE (toward `peer`) and REDIRECT. */
  nicAddress?: (nicId: number, family: 4 | 6, peer: IpAddr) => IpAddr | null;
  /**
   * Time stamped on audit records. The stack clock is monotonic, so production passes a wall
   * clock here (the composition root's `Date.now`); default: the stack clock.
   */
  auditTime?: () => number;
}

const MAX_DEPTH = 64;
const NAT_DROP: DropVerdict = { drop: 'nat', rule: null };
const LOOP_DROP: DropVerdict = { drop: 'loop', rule: null };

export class FilterEngine {
  readonly clock: Clock;
  readonly sets: SetRegistry;
  readonly conntrack: Conntrack | null;
  readonly tables: Record<TableName, Table>;
  audit: AuditSink | null;
  auditDecisions: boolean;
  hostnameOf: ((addr: IpAddr) => string | undefined) | null;
  private readonly auditTime: () => number;
  nicAddress: ((nicId: number, family: 4 | 6, peer: IpAddr) => IpAddr | null) | null;
  /** Engine-level counters (nat failures, loops). */
  readonly counters = new Map<string, number>();
  private readonly stackChain: Chain[] = new Array(MAX_DEPTH);
  private readonly stackPos = new Int32Array(MAX_DEPTH);
  /** Rule (or null: policy) that decided the last table walk, for decision audit. */
  private decidedBy: Rule | null = null;

  constructor(opts: FilterEngineOptions) {
    this.clock = opts.clock;
    this.sets = new SetRegistry(opts.clock);
    this.conntrack = opts.conntrack === false ? null : new Conntrack(opts.clock, opts.conntrack ?? {});
    this.audit = opts.audit ?? null;
    this.auditDecisions = opts.auditDecisions ?? false;
    this.hostnameOf = opts.hostnameOf ?? null;
    this.nicAddress = opts.nicAddress ?? null;
    const clock = opts.clock;
    this.auditTime = opts.auditTime ?? (() => clock.now());
    this.tables = {
      raw: new Table('raw', this),
      mangle: new Table('mangle', this),
      nat: new Table('nat', this),
      filter: new Table('filter', this),
    };
    // Built-in chains live as long as their table, so the per-hook walk order is fixed here.
    const plan = {} as Record<HookPoint, Chain[]>;
    for (const hook of Object.keys(HOOK_TABLES) as HookPoint[]) {
      plan[hook] = HOOK_TABLES[hook].map((t) => this.tables[t].chains.get(hook)).filter((c): c is Chain => c !== undefined);
    }
    this.plan = plan;
  }
  private readonly plan: Record<HookPoint, Chain[]>;

  table(name: TableName): Table {
    return this.tables[name];
  }

  /** Replaces the tables named in `specs` (iptables-restore without --noflush), counters included. */
  load(specs: TableSpec[]): void {
    for (const ts of specs) {
      const t = this.tables[ts.name];
      t.flush();
      for (const name of [...t.chains.keys()]) if (!t.chain(name).builtin) t.chains.delete(name);
      for (const c of t.chains.values()) {
        c.policy = 'ACCEPT';
        c.counters.packets = c.counters.bytes = 0;
      }
      for (const cs of ts.chains) {
        const c = t.chains.get(cs.name) ?? t.newChain(cs.name);
        if (cs.policy && c.builtin) c.policy = cs.policy;
        c.counters.packets = cs.counters.packets;
        c.counters.bytes = cs.counters.bytes;
      }
      for (const cs of ts.chains) {
        for (const { rule, counters } of cs.rules) {
          const r = t.append(cs.name, rule);
          r.counters.packets = counters.packets;
          r.counters.bytes = counters.bytes;
        }
      }
    }
  }

  save(): TableSpec[] {
    return TABLE_NAMES.map((n) => this.tables[n].spec());
  }

  private count(what: string): void {
    this.counters.set(what, (this.counters.get(what) ?? 0) + 1);
  }

  /**
   * Runs one hook over a packet: conntrack, then each table registered at the hook in Linux's
   * order. Mutates p (mark, NAT-rewritten addresses and datagram, ct fields).
   */
  run(hook: HookPoint, p: FilterInput): Verdict {
    p.hook = hook;
    const ct = this.conntrack;
    if (ct && !p.ctDone) ct.resolve(p, hook === 'PREROUTING' || hook === 'OUTPUT');
    else if (!ct) p.ctState = CtState.UNTRACKED;
    const plan = this.plan[hook];
    let v: Verdict = 'accept';
    fillCache(p);
    for (let i = 0; i < plan.length; i++) {
      const base = plan[i];
      if (base.table === 'nat') {
        v = this.natStep(hook, p);
        fillCache(p);
      } else {
        v = this.walk(base, hook, p);
        if (base.table === 'filter' && this.auditDecisions && this.audit && (p.ctState & (CtState.NEW | CtState.INVALID | CtState.UNTRACKED)) !== 0) {
          this.auditDecision(p, v);
        }
      }
      if (v !== 'accept') break;
    }
    const e = p.ct;
    if (e && !e.confirmed) {
      // nf_conntrack_confirm: an entry becomes permanent when its first packet leaves the last
      // hook; if that packet is dropped, the entry goes with it.
      // Only the packet that created the entry takes it along (not a RELATED error or an
      // invalid segment that merely pointed at an unconfirmed entry).
      if (v !== 'accept') {
        if (p.ctState === CtState.NEW && e.packets[0] + e.packets[1] <= 1) ct!.remove(e);
      }
      else if (hook === 'INPUT' || hook === 'POSTROUTING') e.confirmed = true;
    }
    return v;
  }

  /** Walks one table's built-in chain for the hook. Returns 'accept' when the table lets the packet on. */
  private walk(base: Chain, hook: HookPoint, p: FilterInput): Verdict {
    let c = base;
    let i = 0;
    let sp = 0;
    for (;;) {
      const rules = c.rules;
      const n = rules.length;
      let jumped = false;
      scan: while (i < n) {
        const r = rules[i++];
        if (r.fam !== 0 && r.fam !== p.family) continue;
        if (r.proto >= 0 && (p.protocol === r.proto) === r.protoNeg) continue;
        // A v4 CIDR never matches a v6 packet, negated or not (iptables vs ip6tables).
        if (r.hasSrc4 && (p.family !== 4 || ((p.src4 & r.src4Mask) === r.src4Net) === r.src4Neg)) continue;
        if (r.hasDst4 && (p.family !== 4 || ((p.dst4 & r.dst4Mask) === r.dst4Net) === r.dst4Neg)) continue;
        // Port matches fail on packets without ports (non-first fragments), negated or not (xt_tcpudp).
        if (r.sportLo >= 0 && (p.sport < 0 || (p.sport >= r.sportLo && p.sport <= r.sportHi) === r.sportNeg)) continue;
        if (r.dportLo >= 0 && (p.dport < 0 || (p.dport >= r.dportLo && p.dport <= r.dportHi) === r.dportNeg)) continue;
        if (r.ctMask !== 0 && ((p.ctState & r.ctMask) !== 0) === r.ctNeg) continue;
        if (r.match !== null && !r.match(p)) continue;
        r.counters.packets++;
        r.counters.bytes += p.length;
        switch (r.kind) {
          case K_ACCEPT:
            this.decidedBy = r;
            return 'accept';
          case K_DROP:
          case K_REJECT:
            this.decidedBy = r;
            return r.verdict!;
          case K_RETURN:
            break scan;
          case K_LOG:
            this.log(p, r);
            continue;
          case K_MARK: {
            const tg = r.spec.target as { value: number; mask: number };
            p.mark = ((p.mark & ~tg.mask) | tg.value) >>> 0;
            continue;
          }
          case K_JUMP:
            if (sp >= MAX_DEPTH) {
              this.count('loop');
              return LOOP_DROP;
            }
            this.stackChain[sp] = c;
            this.stackPos[sp++] = i;
            c = r.jump!;
            i = 0;
            jumped = true;
            break scan;
          case K_GOTO:
            // Goto replaces the current frame: a RETURN from the target goes to our caller.
            c = r.jump!;
            i = 0;
            jumped = true;
            break scan;
          case K_NAT:
            this.decidedBy = r;
            return this.natTarget(r, hook, p) ? 'accept' : NAT_DROP;
          default:
            continue;
        }
      }
      if (jumped) continue;
      // End of chain or RETURN: back to the caller; from the built-in chain (or a chain reached
      // from it by goto), the policy decides.
      if (sp > 0) {
        c = this.stackChain[--sp];
        i = this.stackPos[sp];
        continue;
      }
      base.counters.packets++;
      base.counters.bytes += p.length;
      this.decidedBy = null;
      return base.policy === 'DROP' ? base.policyDrop : 'accept';
    }
  }

  /** The nat table runs once per connection per manip type; afterwards the binding applies. */
  private natStep(hook: HookPoint, p: FilterInput): Verdict {
    const e = p.ct;
    if (!e || !this.conntrack) return 'accept';
    const manip = hook === 'PREROUTING' || hook === 'OUTPUT' ? 'dst' : 'src';
    const bit = manip === 'dst' ? 1 : 2;
    if ((e.natDone & bit) === 0 && p.ctState === CtState.NEW && p.ctDir === CtDir.ORIGINAL) {
      const base = this.tables.nat.chains.get(hook);
      const v = base ? this.walk(base, hook, p) : 'accept';
      e.natDone |= bit;
      if (v !== 'accept') return v;
    }
    return this.conntrack.applyNat(p, manip) ? 'accept' : this.natFailed();
  }

  private natFailed(): Verdict {
    this.count('nat-failed');
    return NAT_DROP;
  }

  private natTarget(r: Rule, hook: HookPoint, p: FilterInput): boolean {
    const e = p.ct;
    const ct = this.conntrack;
    if (!e || !ct || e.confirmed) return true;
    const t = r.spec.target;
    let addr: IpAddr | null = null;
    let lo = -1;
    let hi = -1;
    let manip: 'src' | 'dst';
    switch (t.kind) {
      case 'DNAT':
      case 'SNAT':
        manip = t.kind === 'DNAT' ? 'dst' : 'src';
        addr = t.addr ?? (manip === 'dst' ? p.dst : p.src);
        if (t.ports) {
          lo = t.ports.lo;
          hi = t.ports.hi;
        }
        break;
      case 'MASQUERADE':
        manip = 'src';
        addr = this.nicAddress ? this.nicAddress(p.outNic, p.family, p.dst) : null;
        // Linux picks from the ephemeral range only on clash; 1024-65535 keeps privileged ports unused.
        lo = t.ports ? t.ports.lo : 1024;
        hi = t.ports ? t.ports.hi : 65535;
        break;
      case 'REDIRECT':
        manip = 'dst';
        // iptables-extensions REDIRECT: to the incoming interface's primary address, or loopback for locally generated packets.
        addr = hook === 'OUTPUT' ? (p.family === 4 ? IpAddr.LOOPBACK4 : IpAddr.LOOPBACK6) : this.nicAddress ? this.nicAddress(p.inNic, p.family, p.src) : null;
        if (t.ports) {
          lo = t.ports.lo;
          hi = t.ports.hi;
        }
        break;
      default:
        return true;
    }
    if (!addr || addr.family !== p.family) {
      this.count('nat-no-address');
      return false;
    }
    return ct.setNat(e, manip, addr, lo, hi);
  }

  private log(p: FilterInput, r: Rule): void {
    if (!this.audit) return;
    const t = r.spec.target as { prefix?: string };
    this.audit.record(this.makeRecord(p, 'log', r.ref, t.prefix ?? r.spec.comment));
  }

  private auditDecision(p: FilterInput, v: Verdict): void {
    const verdict: AuditVerdict = v === 'accept' ? 'accept' : 'reject' in v ? 'reject' : 'drop';
    const by = this.decidedBy;
    const chain = this.tables.filter.chains.get(p.hook);
    const ref = by ? by.ref : `filter/${chain ? chain.name : p.hook}:policy`;
    this.audit!.record(this.makeRecord(p, verdict, ref, by?.spec.comment));
  }

  makeRecord(p: FilterInput, verdict: AuditVerdict, rule: string, prefix?: string): AuditRecord {
    const o = p.owner;
    const t = p.transport;
    const ports = !p.fragment && t.length >= 4 && (p.protocol === IpProto.TCP || p.protocol === IpProto.UDP || p.protocol === IpProto.UDPLITE || p.protocol === IpProto.SCTP);
    const remote = p.hook === 'INPUT' || p.hook === 'PREROUTING' ? p.src : p.dst;
    const rec: AuditRecord = {
      time: this.auditTime(),
      hook: p.hook,
      protocol: protoName(p.protocol),
      src: p.src.key,
      dst: p.dst.key,
      verdict,
      rule,
    };
    if (o?.pid !== undefined) rec.pid = o.pid;
    if (o?.uid !== undefined) rec.uid = o.uid;
    if (o?.command !== undefined) rec.command = o.command;
    if (ports) {
      rec.sport = (t[0] << 8) | t[1];
      rec.dport = (t[2] << 8) | t[3];
    }
    const host = p.ct?.label ?? this.hostnameOf?.(remote);
    if (host !== undefined) {
      rec.hostname = host;
      if (p.ct) p.ct.label = host;
    }
    if (prefix !== undefined) rec.prefix = prefix;
    return rec;
  }
}

function hasPorts(proto: number): boolean {
  return proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP || proto === IpProto.UDPLITE;
}

/** Fills the per-packet values the inline matches read. */
function fillCache(p: FilterInput): void {
  if (p.family === 4) {
    const s = p.src.bytes;
    const d = p.dst.bytes;
    p.src4 = (s[0] << 24) | (s[1] << 16) | (s[2] << 8) | s[3];
    p.dst4 = (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3];
  }
  const t = p.transport;
  if (!p.fragment && t.length >= 4 && hasPorts(p.protocol)) {
    p.sport = (t[0] << 8) | t[1];
    p.dport = (t[2] << 8) | t[3];
  } else p.sport = p.dport = -1;
}

export function protoName(n: number): string {
  switch (n) {
    case IpProto.TCP:
      return 'tcp';
    case IpProto.UDP:
      return 'udp';
    case IpProto.ICMP:
      return 'icmp';
    case IpProto.ICMPV6:
      return 'icmpv6';
    case IpProto.UDPLITE:
      return 'udplite';
    case IpProto.SCTP:
      return 'sctp';
    default:
      return String(n);
  }
}
