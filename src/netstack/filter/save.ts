// The iptables-save text form, both ways: parse a restore file (or single rule lines) into
// TableSpecs with errors that name the offending token, line and column; print live tables with
// counters ([packets:bytes]) the way `iptables-save -c` does. parse(print(x)) equals x.
// Read: iptables-save(8), iptables-restore(8), iptables(8), iptables-extensions(8). A dual-stack
// engine: `-4`/`-6` restrict a rule to one family (as iptables-restore accepts them).

import { IpAddr, IpCidr } from '../wire/ip-address.js';
import { IpProto } from '../wire/ip-proto.js';
import { CtState } from './packet.js';
import {
  BUILTIN_CHAINS,
  REJECT_WITH,
  TABLE_NAMES,
  type ChainSpec,
  type Counters,
  type PortRange,
  type RejectWith,
  type RuleSpec,
  type TableName,
  type TableSpec,
  type TargetSpec,
} from './rules.js';

export class IptablesParseError extends Error {
  override name = 'IptablesParseError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly token: string,
  ) {
    super(`line ${line} column ${column}: ${reason}${token ? ` (at ${JSON.stringify(token)})` : ''}`);
  }
}

interface Tok {
  text: string;
  col: number;
  quoted: boolean;
}

function tokenize(line: string, lineNo: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const ch = line[i];
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    const col = i + 1;
    if (ch === '"') {
      let s = '';
      i++;
      while (i < n && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < n) i++;
        s += line[i++];
      }
      if (i >= n) throw new IptablesParseError('unterminated quoted string', lineNo, col, line.slice(col - 1));
      i++;
      out.push({ text: s, col, quoted: true });
      continue;
    }
    let j = i;
    while (j < n && line[j] !== ' ' && line[j] !== '\t') j++;
    out.push({ text: line.slice(i, j), col, quoted: false });
    i = j;
  }
  return out;
}

const PROTO_NAMES: Record<string, number> = {
  tcp: IpProto.TCP,
  udp: IpProto.UDP,
  icmp: IpProto.ICMP,
  'ipv6-icmp': IpProto.ICMPV6,
  icmpv6: IpProto.ICMPV6,
  udplite: IpProto.UDPLITE,
  sctp: IpProto.SCTP,
  gre: IpProto.GRE,
  esp: IpProto.ESP,
  ah: IpProto.AH,
};
const PROTO_PRINT: Record<number, string> = {
  [IpProto.TCP]: 'tcp',
  [IpProto.UDP]: 'udp',
  [IpProto.ICMP]: 'icmp',
  [IpProto.ICMPV6]: 'ipv6-icmp',
  [IpProto.UDPLITE]: 'udplite',
  [IpProto.SCTP]: 'sctp',
  [IpProto.GRE]: 'gre',
  [IpProto.ESP]: 'esp',
  [IpProto.AH]: 'ah',
};

const TCP_FLAG_NAMES: [string, number][] = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ECE', 0x40],
  ['CWR', 0x80],
];

const ICMP_NAMES: Record<string, [number, number]> = {
  any: [255, -1],
  'echo-reply': [0, -1],
  'destination-unreachable': [3, -1],
  'network-unreachable': [3, 0],
  'host-unreachable': [3, 1],
  'protocol-unreachable': [3, 2],
  'port-unreachable': [3, 3],
  'fragmentation-needed': [3, 4],
  'source-quench': [4, -1],
  redirect: [5, -1],
  'echo-request': [8, -1],
  'time-exceeded': [11, -1],
  'parameter-problem': [12, -1],
  'timestamp-request': [13, -1],
  'timestamp-reply': [14, -1],
};
const ICMP6_NAMES: Record<string, [number, number]> = {
  'destination-unreachable': [1, -1],
  'no-route': [1, 0],
  'communication-prohibited': [1, 1],
  'address-unreachable': [1, 3],
  'port-unreachable': [1, 4],
  'packet-too-big': [2, -1],
  'time-exceeded': [3, -1],
  'parameter-problem': [4, -1],
  'echo-request': [128, -1],
  'echo-reply': [129, -1],
  'router-solicitation': [133, -1],
  'router-advertisement': [134, -1],
  'neighbour-solicitation': [135, -1],
  'neighbor-solicitation': [135, -1],
  'neighbour-advertisement': [136, -1],
  'neighbor-advertisement': [136, -1],
};

const CT_NAMES: [string, number][] = [
  ['INVALID', CtState.INVALID],
  ['NEW', CtState.NEW],
  ['RELATED', CtState.RELATED],
  ['ESTABLISHED', CtState.ESTABLISHED],
  ['UNTRACKED', CtState.UNTRACKED],
];

/** Parses one rule's arguments (what follows `-A CHAIN`), tokens from `start`. */
class RuleParser {
  private i: number;
  constructor(
    private readonly toks: Tok[],
    start: number,
    private readonly lineNo: number,
  ) {
    this.i = start;
  }

  private fail(reason: string, t?: Tok): never {
    const tok = t ?? this.toks[this.i] ?? this.toks[this.toks.length - 1];
    throw new IptablesParseError(reason, this.lineNo, tok ? tok.col + (t || this.toks[this.i] ? 0 : tok.text.length) : 1, t || this.toks[this.i] ? tok.text : '');
  }

  private value(opt: Tok): Tok {
    const v = this.toks[this.i];
    if (!v) this.fail(`${opt.text} needs a value`, opt);
    this.i++;
    return v;
  }

  private num(t: Tok, max: number, what: string): number {
    const s = t.text;
    const v = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(v) || v < 0 || v > max) this.fail(`bad ${what}`, t);
    return v;
  }

  private portRange(t: Tok, sep = ':'): PortRange {
    const s = t.text;
    const k = s.indexOf(sep);
    if (k < 0) {
      const v = this.portNum(s, t);
      return { lo: v, hi: v };
    }
    const lo = k === 0 ? 0 : this.portNum(s.slice(0, k), t);
    const hi = k === s.length - 1 ? 65535 : this.portNum(s.slice(k + 1), t);
    if (lo > hi) this.fail('port range is inverted', t);
    return { lo, hi };
  }

  private portNum(s: string, t: Tok): number {
    if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) this.fail('bad port', t);
    return Number(s);
  }

  private cidr(t: Tok): IpCidr {
    const c = IpCidr.tryParse(t.text);
    if (!c) this.fail('bad address or CIDR', t);
    // iptables stores the network address (host bits cleared).
    return IpCidr.of(c.network(), c.prefixLen);
  }

  private flags(t: Tok): number {
    if (t.text === 'ALL') return 0xff;
    if (t.text === 'NONE') return 0;
    let m = 0;
    for (const name of t.text.split(',')) {
      const f = TCP_FLAG_NAMES.find(([n]) => n === name);
      if (!f) this.fail(`unknown TCP flag ${name}`, t);
      m |= f[1];
    }
    return m;
  }

  parse(): RuleSpec {
    const r: { -readonly [K in keyof RuleSpec]: RuleSpec[K] } = { target: { kind: 'NONE' } };
    const loaded = new Set<string>();
    let target: Tok | null = null;
    let gotoTarget = false;
    let neg = false;
    let negTok: Tok | null = null;
    const targetOpts: Tok[][] = [];
    const takeNeg = (): boolean => {
      const v = neg;
      neg = false;
      negTok = null;
      return v;
    };
    const needProto = (opt: Tok, protos: number[]): void => {
      if (!r.protocol || r.protocol.neg || !protos.includes(r.protocol.proto)) this.fail(`${opt.text} needs -p ${protos.map((p) => PROTO_PRINT[p]).join(' or -p ')}`, opt);
    };
    while (this.i < this.toks.length) {
      const t = this.toks[this.i++];
      const o = t.text;
      if (o === '!') {
        if (neg) this.fail('double negation', t);
        neg = true;
        negTok = t;
        continue;
      }
      if (target && (o.startsWith('--') && !['-m', '--match'].includes(o))) {
        // Options after -j belong to the target.
        targetOpts.push([t, this.value(t)]);
        if (neg) this.fail('a target option cannot be negated', negTok!);
        continue;
      }
      if (neg && !NEGATABLE.has(o)) this.fail("'!' cannot negate this option", negTok!);
      switch (o) {
        case '-4':
        case '--ipv4':
        case '-6':
        case '--ipv6':
          if (r.family) this.fail('family given twice', t);
          r.family = o === '-4' || o === '--ipv4' ? 4 : 6;
          break;
        case '-s':
        case '--source':
        case '-d':
        case '--destination': {
          const which = o === '-s' || o === '--source' ? 'src' : 'dst';
          if (r[which]) this.fail(`${o} given twice`, t);
          const c = this.cidr(this.value(t));
          if (r.family && c.family !== r.family) this.fail(`IPv${c.family} address in an IPv${r.family} rule`, this.toks[this.i - 1]);
          r[which] = { cidr: c, neg: takeNeg() };
          break;
        }
        case '-i':
        case '--in-interface':
        case '-o':
        case '--out-interface': {
          const v = this.value(t);
          if (!/^[A-Za-z0-9_.:@\-]{1,15}\+?$|^\+$/.test(v.text)) this.fail('bad interface name', v);
          const which = o === '-i' || o === '--in-interface' ? 'inIface' : 'outIface';
          r[which] = { name: v.text, neg: takeNeg() };
          break;
        }
        case '-p':
        case '--protocol': {
          const v = this.value(t);
          const name = v.text.toLowerCase();
          let proto: number;
          if (name === 'all') {
            if (neg) this.fail('! -p all matches nothing', v);
            break;
          }
          if (name in PROTO_NAMES) proto = PROTO_NAMES[name];
          else proto = this.num(v, 255, 'protocol');
          r.protocol = { proto, neg: takeNeg() };
          break;
        }
        case '-m':
        case '--match': {
          const v = this.value(t);
          const known = ['tcp', 'udp', 'udplite', 'sctp', 'icmp', 'icmp6', 'icmpv6', 'multiport', 'conntrack', 'state', 'set', 'owner', 'mark', 'comment', 'connlimit'];
          if (!known.includes(v.text)) this.fail('unknown match module', v);
          if (['tcp', 'udp', 'udplite', 'sctp'].includes(v.text)) needProto(t, [PROTO_NAMES[v.text]]);
          loaded.add(v.text);
          break;
        }
        case '--sport':
        case '--source-port':
        case '--dport':
        case '--destination-port': {
          needProto(t, [IpProto.TCP, IpProto.UDP, IpProto.UDPLITE, IpProto.SCTP]);
          const which = o === '--sport' || o === '--source-port' ? 'sport' : 'dport';
          if (r[which]) this.fail(`${o} given twice`, t);
          r[which] = { range: this.portRange(this.value(t)), neg: takeNeg() };
          break;
        }
        case '--sports':
        case '--source-ports':
        case '--dports':
        case '--destination-ports':
        case '--ports': {
          if (!loaded.has('multiport')) this.fail(`${o} needs -m multiport`, t);
          needProto(t, [IpProto.TCP, IpProto.UDP, IpProto.UDPLITE, IpProto.SCTP]);
          if (r.multiport) this.fail('one multiport list per rule', t);
          const v = this.value(t);
          const parts = v.text.split(',');
          if (parts.length > 15) this.fail('multiport takes at most 15 ports', v);
          const ports = parts.map((s) => this.portRange({ ...v, text: s }));
          const dir = o === '--ports' ? 'any' : o.startsWith('--s') ? 'src' : 'dst';
          r.multiport = { dir, ports, neg: takeNeg() };
          break;
        }
        case '--tcp-flags': {
          needProto(t, [IpProto.TCP]);
          if (r.tcpFlags) this.fail('TCP flags given twice', t);
          const mask = this.flags(this.value(t));
          const comp = this.flags(this.value(t));
          r.tcpFlags = { mask, comp, neg: takeNeg() };
          break;
        }
        case '--syn':
          needProto(t, [IpProto.TCP]);
          if (r.tcpFlags) this.fail('TCP flags given twice', t);
          r.tcpFlags = { mask: 0x17, comp: 0x02, neg: takeNeg() };
          break;
        case '--icmp-type':
        case '--icmpv6-type': {
          const v6 = o === '--icmpv6-type';
          needProto(t, [v6 ? IpProto.ICMPV6 : IpProto.ICMP]);
          const v = this.value(t);
          const names = v6 ? ICMP6_NAMES : ICMP_NAMES;
          let tc = names[v.text];
          if (!tc) {
            const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(v.text);
            if (!m || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) this.fail(`unknown ICMP${v6 ? 'v6' : ''} type`, v);
            tc = [Number(m[1]), m[2] === undefined ? -1 : Number(m[2])];
          }
          r.icmpType = { type: tc[0], code: tc[1], neg: takeNeg(), v6 };
          break;
        }
        case '--ctstate':
        case '--state': {
          if (!loaded.has(o === '--state' ? 'state' : 'conntrack')) this.fail(`${o} needs -m ${o === '--state' ? 'state' : 'conntrack'}`, t);
          const v = this.value(t);
          let mask = 0;
          for (const name of v.text.split(',')) {
            const f = CT_NAMES.find(([n]) => n === name);
            if (!f) this.fail(`unknown conntrack state ${name}`, v);
            mask |= f[1];
          }
          r.ctstate = { mask, neg: takeNeg() };
          break;
        }
        case '--match-set': {
          if (!loaded.has('set')) this.fail('--match-set needs -m set', t);
          const name = this.value(t);
          const dir = this.value(t);
          if (dir.text !== 'src' && dir.text !== 'dst') this.fail('set direction must be src or dst', dir);
          (r.sets ??= []).push({ name: name.text, dir: dir.text, neg: takeNeg() });
          break;
        }
        case '--uid-owner':
        case '--pid-owner':
        case '--cmd-owner': {
          if (!loaded.has('owner')) this.fail(`${o} needs -m owner`, t);
          const v = this.value(t);
          const n = takeNeg();
          const ow: { uid?: number; pid?: number; command?: string; neg: boolean } = r.owner ?? { neg: n };
          if (r.owner && (ow.neg || n)) this.fail('negating one of several owner matches is not supported', t);
          if (o === '--uid-owner') ow.uid = this.num(v, 0xffffffff, 'uid');
          else if (o === '--pid-owner') ow.pid = this.num(v, 0x7fffffff, 'pid');
          else ow.command = v.text;
          r.owner = ow;
          break;
        }
        case '--mark': {
          if (!loaded.has('mark')) this.fail('--mark needs -m mark', t);
          const v = this.value(t);
          const [a, b] = v.text.split('/');
          const value = this.num({ ...v, text: a }, 0xffffffff, 'mark');
          const mask = b === undefined ? 0xffffffff : this.num({ ...v, text: b }, 0xffffffff, 'mark mask');
          r.mark = { value: (value & mask) >>> 0, mask, neg: takeNeg() };
          break;
        }
        case '--connlimit-above':
        case '--connlimit-upto': {
          if (!loaded.has('connlimit')) this.fail(`${o} needs -m connlimit`, t);
          if (r.connlimit) this.fail('connection limit given twice', t);
          const n = this.num(this.value(t), 0xffffffff, 'connection count');
          r.connlimit = { above: n, dir: 'src', neg: o === '--connlimit-upto' };
          break;
        }
        case '--connlimit-saddr':
        case '--connlimit-daddr': {
          if (!r.connlimit) this.fail(`${o} must follow --connlimit-above or --connlimit-upto`, t);
          r.connlimit.dir = o === '--connlimit-saddr' ? 'src' : 'dst';
          break;
        }
        case '--connlimit-mask': {
          const v = this.value(t);
          // Only per-address limits: a prefix other than the full length would count subnets.
          if (v.text !== '32' && v.text !== '128') this.fail('only --connlimit-mask 32 or 128 (per address) is supported', v);
          break;
        }
        case '--comment': {
          if (!loaded.has('comment')) this.fail('--comment needs -m comment', t);
          r.comment = this.value(t).text;
          break;
        }
        case '-j':
        case '--jump':
        case '-g':
        case '--goto':
          if (target) this.fail('target given twice', t);
          target = this.value(t);
          gotoTarget = o === '-g' || o === '--goto';
          break;
        default:
          this.fail(o.startsWith('-') ? 'unknown option' : 'unexpected argument', t);
      }
      if (neg && negTok && this.toks[this.i - 1] !== negTok) {
        // A '!' that no option consumed.
        this.fail("'!' cannot negate this option", negTok);
      }
    }
    if (neg) this.fail("'!' at the end of the rule", negTok!);
    if (target) r.target = this.target(target, gotoTarget, targetOpts, r);
    if (r.icmpType && r.family && (r.icmpType.v6 ? 6 : 4) !== r.family) this.fail('ICMP type of the other family', target ?? undefined);
    return r;
  }

  private target(t: Tok, isGoto: boolean, opts: Tok[][], r: RuleSpec): TargetSpec {
    const name = t.text;
    const opt = (names: string[]): Tok | undefined => {
      let found: Tok | undefined;
      for (const [o, v] of opts) {
        if (names.includes(o.text)) found = v;
        else if (!ALL_TARGET_OPTS[name]?.includes(o.text)) this.fail(`${o.text} is not an option of ${name}`, o);
      }
      return found;
    };
    if (isGoto) {
      if (BUILTIN_TARGETS.has(name)) this.fail('-g needs a user chain', t);
      if (opts.length) this.fail('goto takes no options', opts[0][0]);
      return { kind: 'GOTO', chain: name };
    }
    switch (name) {
      case 'ACCEPT':
      case 'DROP':
      case 'RETURN':
        if (opts.length) this.fail(`${name} takes no options`, opts[0][0]);
        return { kind: name };
      case 'REJECT': {
        const v = opt(['--reject-with']);
        let w: RejectWith = r.family === 6 ? 'icmp6-port-unreachable' : 'icmp-port-unreachable';
        if (v) {
          const alias: Record<string, RejectWith> = { 'tcp-rst': 'tcp-reset', 'icmp6-adm-prohibited': 'icmp6-adm-prohibited' };
          const k = (alias[v.text] ?? v.text) as RejectWith;
          if (!REJECT_WITH.includes(k)) this.fail('unknown --reject-with type', v);
          if (k === 'tcp-reset' && (!r.protocol || r.protocol.proto !== IpProto.TCP || r.protocol.neg)) this.fail('--reject-with tcp-reset needs -p tcp', v);
          w = k;
        }
        return { kind: 'REJECT', with: w };
      }
      case 'LOG': {
        const v = opt(['--log-prefix', '--log-level']);
        const p = opts.find(([o]) => o.text === '--log-prefix');
        void v;
        if (p && p[1].text.length > 29) this.fail('--log-prefix is at most 29 characters', p[1]);
        return p ? { kind: 'LOG', prefix: p[1].text } : { kind: 'LOG' };
      }
      case 'MARK': {
        const v = opt(['--set-mark', '--set-xmark']);
        if (!v) this.fail('MARK needs --set-mark or --set-xmark', t);
        const [a, b] = v.text.split('/');
        const value = this.num({ ...v, text: a }, 0xffffffff, 'mark');
        const mask = b === undefined ? 0xffffffff : this.num({ ...v, text: b }, 0xffffffff, 'mark mask');
        return { kind: 'MARK', value, mask };
      }
      case 'DNAT':
      case 'SNAT': {
        const v = opt([name === 'DNAT' ? '--to-destination' : '--to-source']);
        if (!v) this.fail(`${name} needs ${name === 'DNAT' ? '--to-destination' : '--to-source'}`, t);
        return { kind: name, ...this.natTo(v, r) };
      }
      case 'MASQUERADE':
      case 'REDIRECT': {
        const v = opt(['--to-ports']);
        if (!v) return { kind: name };
        this.needPortProto(v, r);
        return { kind: name, ports: this.portRange(v, '-') };
      }
      default:
        if (opts.length) this.fail(`unknown target ${name} or option`, opts[0][0]);
        if (!/^[A-Za-z0-9_.\-]{1,28}$/.test(name)) this.fail('bad chain name', t);
        return { kind: 'JUMP', chain: name };
    }
  }

  private needPortProto(v: Tok, r: RuleSpec): void {
    const p = r.protocol;
    if (!p || p.neg || !([IpProto.TCP, IpProto.UDP, IpProto.UDPLITE, IpProto.SCTP] as number[]).includes(p.proto)) this.fail('a port needs -p tcp, udp, udplite or sctp', v);
  }

  /** addr | addr:port[-port] | [v6addr] | [v6addr]:port[-port] | :port[-port]. */
  private natTo(v: Tok, r: RuleSpec): { addr?: IpAddr; ports?: PortRange } {
    const s = v.text;
    let addrText = s;
    let portText: string | undefined;
    if (s.startsWith('[')) {
      const k = s.indexOf(']');
      if (k < 0) this.fail('missing ]', v);
      addrText = s.slice(1, k);
      const rest = s.slice(k + 1);
      if (rest) {
        if (!rest.startsWith(':')) this.fail('expected :port after ]', v);
        portText = rest.slice(1);
      }
    } else if ((s.match(/:/g) ?? []).length === 1) {
      const k = s.indexOf(':');
      addrText = s.slice(0, k);
      portText = s.slice(k + 1);
    }
    const out: { addr?: IpAddr; ports?: PortRange } = {};
    if (addrText) {
      const a = IpAddr.tryParse(addrText);
      if (!a) this.fail('bad NAT address', v);
      if (r.family && a.family !== r.family) this.fail(`IPv${a.family} NAT address in an IPv${r.family} rule`, v);
      out.addr = a;
    }
    if (portText !== undefined) {
      this.needPortProto(v, r);
      out.ports = this.portRange({ ...v, text: portText }, '-');
    }
    if (!out.addr && !out.ports) this.fail('NAT target needs an address or a port', v);
    return out;
  }
}

const NEGATABLE = new Set([
  '-s', '--source', '-d', '--destination', '-i', '--in-interface', '-o', '--out-interface', '-p', '--protocol',
  '--sport', '--source-port', '--dport', '--destination-port', '--sports', '--source-ports', '--dports',
  '--destination-ports', '--ports', '--tcp-flags', '--syn', '--icmp-type', '--icmpv6-type', '--ctstate', '--state',
  '--match-set', '--uid-owner', '--pid-owner', '--cmd-owner', '--mark',
]);
const BUILTIN_TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'LOG', 'MARK', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT']);
const ALL_TARGET_OPTS: Record<string, string[]> = {
  REJECT: ['--reject-with'],
  LOG: ['--log-prefix', '--log-level'],
  MARK: ['--set-mark', '--set-xmark'],
  DNAT: ['--to-destination'],
  SNAT: ['--to-source'],
  MASQUERADE: ['--to-ports'],
  REDIRECT: ['--to-ports'],
};

function counterTok(t: Tok, lineNo: number): Counters {
  const m = /^\[(\d+):(\d+)\]$/.exec(t.text);
  if (!m) throw new IptablesParseError('bad counters, expected [packets:bytes]', lineNo, t.col, t.text);
  return { packets: Number(m[1]), bytes: Number(m[2]) };
}

/** Parses one rule: `[-c p b | [p:b]] -A CHAIN ...` or just the rule's options. */
export function parseRule(line: string, lineNo = 1): { chain: string | null; rule: RuleSpec; counters: Counters } {
  const toks = tokenize(line, lineNo);
  let i = 0;
  let counters: Counters = { packets: 0, bytes: 0 };
  if (toks[i] && toks[i].text.startsWith('[')) counters = counterTok(toks[i++], lineNo);
  let chain: string | null = null;
  if (toks[i] && (toks[i].text === '-A' || toks[i].text === '--append')) {
    const c = toks[i + 1];
    if (!c) throw new IptablesParseError('-A needs a chain name', lineNo, toks[i].col, toks[i].text);
    chain = c.text;
    i += 2;
  }
  if (toks[i] && (toks[i].text === '-c' || toks[i].text === '--set-counters')) {
    const p = toks[i + 1];
    const b = toks[i + 2];
    if (!p || !b || !/^\d+$/.test(p.text) || !/^\d+$/.test(b.text)) throw new IptablesParseError('-c needs packets and bytes', lineNo, toks[i].col, toks[i].text);
    counters = { packets: Number(p.text), bytes: Number(b.text) };
    i += 3;
  }
  const rule = new RuleParser(toks, i, lineNo).parse();
  return { chain, rule, counters };
}

/**
 * Parses an iptables-save / iptables-restore file: `*table`, `:CHAIN POLICY [p:b]`, `-A ...`
 * (optionally with counters), `-N`, `-P`, `COMMIT`, comments. Tables never committed are an
 * error, as in iptables-restore.
 */
export function parseIptablesSave(text: string): TableSpec[] {
  const lines = text.split('\n');
  const out: TableSpec[] = [];
  let cur: { name: TableName; chains: Map<string, ChainSpec>; line: number } | null = null;
  for (let ln = 0; ln < lines.length; ln++) {
    const lineNo = ln + 1;
    const raw = lines[ln].replace(/\r$/, '');
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const col0 = raw.indexOf(trimmed) + 1;
    if (trimmed.startsWith('*')) {
      if (cur) throw new IptablesParseError(`table ${cur.name} (line ${cur.line}) was not committed`, lineNo, col0, trimmed);
      const name = trimmed.slice(1) as TableName;
      if (!TABLE_NAMES.includes(name)) throw new IptablesParseError('unknown table', lineNo, col0 + 1, name);
      if (out.some((t) => t.name === name)) throw new IptablesParseError('table given twice', lineNo, col0 + 1, name);
      const chains = new Map<string, ChainSpec>();
      for (const c of BUILTIN_CHAINS[name]) chains.set(c, { name: c, policy: 'ACCEPT', counters: { packets: 0, bytes: 0 }, rules: [] });
      cur = { name, chains, line: lineNo };
      continue;
    }
    if (trimmed === 'COMMIT') {
      if (!cur) throw new IptablesParseError('COMMIT outside a table', lineNo, col0, trimmed);
      // Every jump must name a chain of the table.
      for (const c of cur.chains.values()) {
        for (const { rule } of c.rules) {
          const t = rule.target;
          if ((t.kind === 'JUMP' || t.kind === 'GOTO') && !cur.chains.has(t.chain)) {
            throw new IptablesParseError(`chain ${t.chain} (jumped to from ${c.name}) does not exist`, lineNo, col0, trimmed);
          }
          if ((t.kind === 'JUMP' || t.kind === 'GOTO') && BUILTIN_CHAINS[cur.name].includes(t.chain)) {
            throw new IptablesParseError(`cannot jump to built-in chain ${t.chain}`, lineNo, col0, trimmed);
          }
        }
      }
      out.push({ name: cur.name, chains: [...cur.chains.values()] });
      cur = null;
      continue;
    }
    if (!cur) throw new IptablesParseError('rule outside a *table ... COMMIT block', lineNo, col0, trimmed.split(/\s+/)[0]);
    const toks = tokenize(raw, lineNo);
    const first = toks[0];
    if (first.text.startsWith(':')) {
      const name = first.text.slice(1);
      const pol = toks[1];
      if (!name) throw new IptablesParseError('chain name missing', lineNo, first.col, first.text);
      if (!pol) throw new IptablesParseError('chain policy missing', lineNo, first.col + first.text.length, '');
      const builtin = BUILTIN_CHAINS[cur.name].includes(name);
      if (builtin ? pol.text !== 'ACCEPT' && pol.text !== 'DROP' : pol.text !== '-') {
        throw new IptablesParseError(builtin ? 'policy must be ACCEPT or DROP' : 'a user chain has policy -', lineNo, pol.col, pol.text);
      }
      const counters = toks[2] ? counterTok(toks[2], lineNo) : { packets: 0, bytes: 0 };
      if (toks[3]) throw new IptablesParseError('unexpected argument', lineNo, toks[3].col, toks[3].text);
      const existing = cur.chains.get(name);
      if (existing && !builtin) throw new IptablesParseError('chain declared twice', lineNo, first.col, first.text);
      cur.chains.set(name, { name, policy: builtin ? (pol.text as 'ACCEPT' | 'DROP') : null, counters, rules: existing?.rules ?? [] });
      continue;
    }
    if (first.text === '-N' || first.text === '--new-chain') {
      const n = toks[1];
      if (!n) throw new IptablesParseError('-N needs a chain name', lineNo, first.col, first.text);
      if (cur.chains.has(n.text)) throw new IptablesParseError('chain already exists', lineNo, n.col, n.text);
      if (!/^[A-Za-z0-9_.\-]{1,28}$/.test(n.text) || BUILTIN_TARGETS.has(n.text)) throw new IptablesParseError('bad chain name', lineNo, n.col, n.text);
      cur.chains.set(n.text, { name: n.text, policy: null, counters: { packets: 0, bytes: 0 }, rules: [] });
      continue;
    }
    if (first.text === '-P' || first.text === '--policy') {
      const n = toks[1];
      const p = toks[2];
      if (!n || !p) throw new IptablesParseError('-P needs a chain and a policy', lineNo, first.col, first.text);
      const c = cur.chains.get(n.text);
      if (!c || c.policy === null) throw new IptablesParseError('-P needs a built-in chain', lineNo, n.col, n.text);
      if (p.text !== 'ACCEPT' && p.text !== 'DROP') throw new IptablesParseError('policy must be ACCEPT or DROP', lineNo, p.col, p.text);
      c.policy = p.text;
      continue;
    }
    const { chain, rule, counters } = parseRule(raw, lineNo);
    if (chain === null) throw new IptablesParseError('expected -A CHAIN, -N, -P, :CHAIN or COMMIT', lineNo, first.col, first.text);
    const c = cur.chains.get(chain);
    const chainTok = toks.find((t) => t.text === chain)!;
    if (!c) throw new IptablesParseError('no such chain in this table', lineNo, chainTok.col, chain);
    const k = rule.target.kind;
    if ((k === 'DNAT' || k === 'SNAT' || k === 'MASQUERADE' || k === 'REDIRECT') && cur.name !== 'nat') {
      const tt = toks.find((t) => t.text === k)!;
      throw new IptablesParseError(`${k} is only valid in the nat table`, lineNo, tt.col, k);
    }
    c.rules.push({ rule, counters });
  }
  if (cur) throw new IptablesParseError(`table ${cur.name} was not committed (no COMMIT before the end)`, cur.line, 1, `*${cur.name}`);
  return out;
}

function fmtRange(r: PortRange, sep = ':'): string {
  return r.lo === r.hi ? String(r.lo) : `${r.lo}${sep}${r.hi}`;
}
function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}
function quote(s: string): string {
  return /^[A-Za-z0-9_.:\/@+=,\-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`;
}
function fmtFlags(m: number): string {
  if (m === 0) return 'NONE';
  if (m === 0xff) return 'ALL';
  return TCP_FLAG_NAMES.filter(([, b]) => m & b).map(([n]) => n).join(',');
}
function neg(b: boolean): string {
  return b ? '! ' : '';
}

/** One rule's options in iptables-save order (without -A CHAIN). */
export function formatRule(r: RuleSpec): string {
  const p: string[] = [];
  if (r.family) p.push(`-${r.family}`);
  if (r.src) p.push(`${neg(r.src.neg)}-s ${r.src.cidr}`);
  if (r.dst) p.push(`${neg(r.dst.neg)}-d ${r.dst.cidr}`);
  if (r.inIface) p.push(`${neg(r.inIface.neg)}-i ${r.inIface.name}`);
  if (r.outIface) p.push(`${neg(r.outIface.neg)}-o ${r.outIface.name}`);
  if (r.protocol) p.push(`${neg(r.protocol.neg)}-p ${PROTO_PRINT[r.protocol.proto] ?? r.protocol.proto}`);
  const pn = r.protocol && !r.protocol.neg ? PROTO_PRINT[r.protocol.proto] : undefined;
  if ((r.sport || r.dport || r.tcpFlags) && pn) {
    p.push(`-m ${pn}`);
    if (r.sport) p.push(`${neg(r.sport.neg)}--sport ${fmtRange(r.sport.range)}`);
    if (r.dport) p.push(`${neg(r.dport.neg)}--dport ${fmtRange(r.dport.range)}`);
    if (r.tcpFlags) p.push(`${neg(r.tcpFlags.neg)}--tcp-flags ${fmtFlags(r.tcpFlags.mask)} ${fmtFlags(r.tcpFlags.comp)}`);
  }
  if (r.icmpType) {
    const { type, code, v6 } = r.icmpType;
    p.push(v6 ? '-m icmp6' : '-m icmp');
    const tv = type === 255 && code < 0 && !v6 ? 'any' : code < 0 ? String(type) : `${type}/${code}`;
    p.push(`${neg(r.icmpType.neg)}--icmp${v6 ? 'v6' : ''}-type ${tv}`);
  }
  if (r.multiport) {
    const o = r.multiport.dir === 'src' ? '--sports' : r.multiport.dir === 'dst' ? '--dports' : '--ports';
    p.push(`-m multiport ${neg(r.multiport.neg)}${o} ${r.multiport.ports.map((x) => fmtRange(x)).join(',')}`);
  }
  if (r.ctstate) {
    const names = CT_NAMES.filter(([, b]) => r.ctstate!.mask & b).map(([n]) => n);
    p.push(`-m conntrack ${neg(r.ctstate.neg)}--ctstate ${names.join(',')}`);
  }
  if (r.sets) for (const s of r.sets) p.push(`-m set ${neg(s.neg)}--match-set ${quote(s.name)} ${s.dir}`);
  if (r.owner) {
    const o = r.owner;
    const parts: string[] = [];
    if (o.uid !== undefined) parts.push(`${neg(o.neg)}--uid-owner ${o.uid}`);
    if (o.pid !== undefined) parts.push(`${neg(o.neg)}--pid-owner ${o.pid}`);
    if (o.command !== undefined) parts.push(`${neg(o.neg)}--cmd-owner ${quote(o.command)}`);
    p.push(`-m owner ${parts.join(' ')}`);
  }
  if (r.mark) p.push(`-m mark ${neg(r.mark.neg)}--mark ${hex(r.mark.value)}${r.mark.mask === 0xffffffff ? '' : '/' + hex(r.mark.mask)}`);
  if (r.connlimit) {
    const c = r.connlimit;
    p.push(`-m connlimit --connlimit-${c.neg ? 'upto' : 'above'} ${c.above} --connlimit-${c.dir === 'src' ? 'saddr' : 'daddr'}`);
  }
  if (r.comment !== undefined) p.push(`-m comment --comment ${quote(r.comment)}`);
  const t = r.target;
  switch (t.kind) {
    case 'NONE':
      break;
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
      p.push(`-j ${t.kind}`);
      break;
    case 'REJECT':
      p.push(`-j REJECT --reject-with ${t.with}`);
      break;
    case 'LOG':
      p.push(t.prefix !== undefined ? `-j LOG --log-prefix ${quote(t.prefix)}` : '-j LOG');
      break;
    case 'MARK':
      p.push(`-j MARK --set-xmark ${hex(t.value)}/${hex(t.mask)}`);
      break;
    case 'DNAT':
    case 'SNAT': {
      const a = t.addr ? (t.addr.family === 6 && t.ports ? `[${t.addr}]` : t.addr.key) : '';
      const ports = t.ports ? `:${fmtRange(t.ports, '-')}` : '';
      p.push(`-j ${t.kind} ${t.kind === 'DNAT' ? '--to-destination' : '--to-source'} ${a}${ports}`);
      break;
    }
    case 'MASQUERADE':
    case 'REDIRECT':
      p.push(t.ports ? `-j ${t.kind} --to-ports ${fmtRange(t.ports, '-')}` : `-j ${t.kind}`);
      break;
    case 'JUMP':
      p.push(`-j ${t.chain}`);
      break;
    case 'GOTO':
      p.push(`-g ${t.chain}`);
      break;
  }
  return p.join(' ');
}

/** Prints tables as `iptables-save -c` does: built-in chains, then user chains, then rules. */
export function formatIptablesSave(tables: TableSpec[], opts: { counters?: boolean; header?: string } = {}): string {
  const withCounters = opts.counters ?? true;
  const lines: string[] = [];
  if (opts.header) lines.push(`# ${opts.header}`);
  for (const t of tables) {
    lines.push(`*${t.name}`);
    const builtin = t.chains.filter((c) => c.policy !== null);
    const user = t.chains.filter((c) => c.policy === null);
    for (const c of [...builtin, ...user]) {
      lines.push(`:${c.name} ${c.policy ?? '-'} [${withCounters ? c.counters.packets : 0}:${withCounters ? c.counters.bytes : 0}]`);
    }
    for (const c of [...builtin, ...user]) {
      for (const { rule, counters } of c.rules) {
        const pre = withCounters ? `[${counters.packets}:${counters.bytes}] ` : '';
        lines.push(`${pre}-A ${c.name} ${formatRule(rule)}`.trimEnd());
      }
    }
    lines.push('COMMIT');
  }
  return lines.join('\n') + '\n';
}
