// A parser for packetdrill scripts (google/packetdrill: gtests/net/packetdrill/parser.y and
// lexer.l are the grammar this follows; the README describes the semantics). Written from the
// grammar's description, not from its code.
//
// What is accepted (a subset of packetdrill's grammar; everything else is a ScriptSyntaxError
// naming line and column, or an `unsupported` event the runner reports by name):
//   options at the top:      --name=value  (e.g. --tolerance_usecs=10000, --ip_version=ipv6)
//   comments:                // to end of line, /* ... */
//   moat directives:         // moat: ipv6   // moat: tolerance_usecs=N   (comments to packetdrill)
//   times:                   0.100  +0.1  +.1  *  0.1~0.2 (packets)  0.1...0.2 (blocking syscalls)
//   packets:                 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
//                            > . 1:1(0) ack 1 <...>       > udp (100)      < udp (100)
//                            < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
//                            > icmp unreachable port_unreachable
//                            flags F S R P . E W U, seq start:end(len), ack N, win N, urg N,
//                            options nop eol mss wscale sackOK sack TS val/ecr, <...>
//                            an optional moat prefix `remote_port N` picks another remote port
//   syscalls:                name(expr, ...) = expr [ERRNO [(text)]]
//                            expr: numbers, -1, ..., NAMES|ORED, [list], {field=expr, ...},
//                            "strings", htons(N), inet_addr("a.b.c.d")
//   shell lines `...` and %{ python }% blocks parse into `unsupported` events.

export class ScriptSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    msg: string,
  ) {
    super(`${file}:${line}:${col}: syntax error: ${msg}`);
  }
}

/** Times are in microseconds, as packetdrill's. */
export interface TimeSpec {
  kind: 'abs' | 'rel' | 'any';
  usecs: number;
  /** `a~b`: the end of the window (same kind rules as the start). */
  end?: { kind: 'abs' | 'rel'; usecs: number };
}

export type Expr =
  | { k: 'num'; v: number }
  | { k: 'ellipsis' }
  | { k: 'name'; v: string }
  | { k: 'or'; parts: Expr[] }
  | { k: 'str'; v: string }
  | { k: 'list'; items: Expr[] }
  | { k: 'struct'; fields: { name: string | null; value: Expr }[] }
  | { k: 'call'; fn: string; args: Expr[] };

export interface SyscallSpec {
  name: string;
  args: Expr[];
  result: Expr;
  errno: string | null;
  /** `start...end`: a blocking call that returns at `end`. */
  blockEnd: { kind: 'abs' | 'rel'; usecs: number } | null;
}

export type TcpOptionSpec =
  | { kind: 'nop' }
  | { kind: 'eol' }
  | { kind: 'mss'; v: number }
  | { kind: 'wscale'; v: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: [number, number][] }
  | { kind: 'ts'; val: number; ecr: number };

export interface TcpPacketSpec {
  proto: 'tcp';
  flags: string;
  seq: number;
  end: number;
  len: number;
  ack: number | null;
  win: number | null;
  urg: number | null;
  /** null: `<...>` (do not check); [] when no options were written. */
  options: TcpOptionSpec[] | null;
  remotePort: number | null;
}

export interface UdpPacketSpec {
  proto: 'udp';
  len: number;
  remotePort: number | null;
}

/**
 * `icmp TYPE [CODE] [mtu N] [[start:end(len)]]` (packetdrill's ICMP lines, a subset). Inbound,
 * the quoted datagram is the stack's own TCP segment with that relative sequence range, or the
 * last datagram the stack sent when no range is given; outbound, only type and code are checked.
 */
export interface IcmpPacketSpec {
  proto: 'icmp';
  type: 'unreachable' | 'time_exceeded' | 'packet_too_big';
  code: string | null;
  mtu: number | null;
  inner: { seq: number; end: number; len: number } | null;
  remotePort: number | null;
}

export const ICMP_CODES = ['net_unreachable', 'host_unreachable', 'protocol_unreachable', 'port_unreachable', 'frag_needed', 'admin_prohibited', 'ttl_exceeded'] as const;

export type PacketSpec = TcpPacketSpec | UdpPacketSpec | IcmpPacketSpec;

interface EventBase {
  line: number;
  col: number;
  time: TimeSpec;
  /** The statement's source text, for messages. */
  text: string;
}

export type ScriptEvent =
  | (EventBase & { type: 'packet'; dir: '<' | '>'; pkt: PacketSpec })
  | (EventBase & { type: 'syscall'; call: SyscallSpec })
  | (EventBase & { type: 'unsupported'; what: string });

export interface Script {
  file: string;
  options: Map<string, string>;
  events: ScriptEvent[];
}

// ----------------------------------------------------------------------------- statements

interface Stmt {
  text: string;
  line: number;
  col: number;
}

/** Splits source into statements: one per line, joined while brackets are open. */
function statements(file: string, src: string, options: Map<string, string>): { stmts: Stmt[]; unsupported: Stmt[] } {
  const stmts: Stmt[] = [];
  const unsupported: Stmt[] = [];
  const lines = src.split('\n');
  let cur: Stmt | null = null;
  let depth = 0;
  let inComment = false;
  let python: Stmt | null = null;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let raw = lines[i]!.replace(/\r$/, '');
    if (python) {
      if (raw.includes('}%')) {
        unsupported.push(python);
        python = null;
      }
      continue;
    }
    // Strip comments, keeping moat directives, and honouring /* */ across lines.
    let out = '';
    for (let j = 0; j < raw.length; j++) {
      if (inComment) {
        if (raw[j] === '*' && raw[j + 1] === '/') {
          inComment = false;
          j++;
          out += '  ';
        } else out += ' ';
        continue;
      }
      if (raw[j] === '"') {
        const k = raw.indexOf('"', j + 1);
        const e = k < 0 ? raw.length : k + 1;
        out += raw.slice(j, e);
        j = e - 1;
        continue;
      }
      if (raw[j] === '/' && raw[j + 1] === '/') {
        const m = /^\/\/\s*moat:\s*(.*)$/.exec(raw.slice(j));
        if (m) directive(file, lineNo, j + 1, m[1]!.trim(), options);
        break;
      }
      if (raw[j] === '/' && raw[j + 1] === '*') {
        inComment = true;
        j++;
        out += '  ';
        continue;
      }
      out += raw[j];
    }
    raw = out;
    const trimmed = raw.trim();
    if (!cur && trimmed === '') continue;
    const col = raw.length - raw.trimStart().length + 1;
    // Python blocks, alone or after a time (`+0 %{ assert tcpi_rto == 300000 }%`), one or many lines.
    if (!cur && /^(?:[+*0-9.~]+\s*)?%\{/.test(trimmed)) {
      const st = { text: trimmed, line: lineNo, col };
      if (trimmed.includes('}%')) unsupported.push(st);
      else python = st;
      continue;
    }
    if (!cur && /^--[A-Za-z_]/.test(trimmed)) {
      const m = /^--([A-Za-z0-9_]+)(?:=(\S*))?$/.exec(trimmed);
      if (!m) throw new ScriptSyntaxError(file, lineNo, col, `bad option line "${trimmed}"`);
      options.set(m[1]!, m[2] ?? '');
      continue;
    }
    if (!cur) cur = { text: raw, line: lineNo, col };
    else cur.text += ' ' + raw;
    for (const ch of raw) {
      if (ch === '(' || ch === '[' || ch === '{') depth++;
      else if (ch === ')' || ch === ']' || ch === '}') depth--;
    }
    // `<...>` option lists are angle brackets, not counted; a line whose brackets are closed ends it.
    if (depth <= 0) {
      stmts.push(cur);
      cur = null;
      depth = 0;
    }
  }
  if (python) throw new ScriptSyntaxError(file, python.line, python.col, 'unterminated %{ ... }% block');
  if (cur) throw new ScriptSyntaxError(file, cur.line, cur.col, 'unbalanced brackets at end of file');
  return { stmts, unsupported };
}

function directive(file: string, line: number, col: number, text: string, options: Map<string, string>): void {
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (word === 'ipv6' || word === 'ipv4') options.set('ip_version', word);
    else if (/^[a-z_0-9]+=\S+$/.test(word)) {
      const [k, v] = word.split('=') as [string, string];
      options.set(k, v);
    } else if (word === 'known-bug' || word.startsWith('known-bug')) options.set('known_bug', '1');
    else throw new ScriptSyntaxError(file, line, col, `unknown moat directive "${word}"`);
  }
}

// ----------------------------------------------------------------------------- scanner

class Scanner {
  pos = 0;
  constructor(
    readonly file: string,
    readonly st: Stmt,
  ) {}
  get s(): string {
    return this.st.text;
  }
  /** Column of the current position in the source line (statements joined over lines report their first line). */
  colAt(p = this.pos): number {
    return p + 1;
  }
  fail(msg: string, p = this.pos): never {
    throw new ScriptSyntaxError(this.file, this.st.line, Math.max(1, this.colAt(p)), msg);
  }
  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }
  peek(re: RegExp): RegExpExecArray | null {
    this.ws();
    const r = new RegExp(re.source, 'y');
    r.lastIndex = this.pos;
    return r.exec(this.s);
  }
  take(re: RegExp): RegExpExecArray | null {
    const m = this.peek(re);
    if (m) this.pos += m[0].length;
    return m;
  }
  expect(re: RegExp, what: string): RegExpExecArray {
    const m = this.take(re);
    if (!m) this.fail(`expected ${what}, found ${this.rest() || 'end of line'}`);
    return m;
  }
  rest(): string {
    this.ws();
    const r = this.s.slice(this.pos);
    return r.length > 24 ? `"${r.slice(0, 24)}..."` : r ? `"${r}"` : '';
  }
  done(): boolean {
    this.ws();
    return this.pos >= this.s.length;
  }
}

const NUM = /(?:0x[0-9a-fA-F]+|\d+\.?\d*|\.\d+)/;

/** Seconds: "1", "1.5", ".5", "1." but never the "0." of "0...1" (an ellipsis follows). */
const TIME_NUM = /(?:\d+\.\d+|\d+\.(?!\.)|\d+|\.\d+)/;

function secsToUsecs(text: string): number {
  return Math.round(parseFloat(text) * 1_000_000);
}

function parseTime(sc: Scanner): TimeSpec {
  if (sc.take(/\*/)) return { kind: 'any', usecs: 0 };
  const one = (): { kind: 'abs' | 'rel'; usecs: number } => {
    const rel = !!sc.take(/\+/);
    const m = sc.take(TIME_NUM);
    if (!m) sc.fail('expected a time (0.100, +0.1 or *)');
    return { kind: rel ? 'rel' : 'abs', usecs: secsToUsecs(m[0]) };
  };
  const t: TimeSpec = one();
  if (sc.take(/~/)) t.end = one();
  return t;
}

// ----------------------------------------------------------------------------- packets

const FLAGS = /[FSRP.EWU]+(?=\s|$)/;

function parsePacket(sc: Scanner, dir: '<' | '>'): PacketSpec {
  let remotePort: number | null = null;
  const ecn = sc.peek(/\[(?:ect0|ect1|ect01|ce|noecn|[a-z0-9_ ]+)\]/);
  if (ecn) sc.fail(`IP header markings like ${ecn[0]} are not supported by moat's runner`);
  if (sc.take(/remote_port\b/)) remotePort = parseInt(sc.expect(/\d+/, 'a port number')[0], 10);
  if (sc.take(/udp\b/)) {
    sc.expect(/\(/, '"(" after udp');
    const len = parseInt(sc.expect(/\d+/, 'a UDP payload length')[0], 10);
    sc.expect(/\)/, '")"');
    if (!sc.done()) sc.fail(`unexpected ${sc.rest()} after udp packet`);
    return { proto: 'udp', len, remotePort };
  }
  if (sc.take(/icmp\b/)) {
    const ty = sc.expect(/(?:unreachable|time_exceeded|packet_too_big)\b/, 'an ICMP type (unreachable, time_exceeded, packet_too_big)')[0] as IcmpPacketSpec['type'];
    const spec: IcmpPacketSpec = { proto: 'icmp', type: ty, code: null, mtu: null, inner: null, remotePort };
    sc.ws();
    const at = sc.pos;
    const code = sc.peek(/mtu\b/) ? null : sc.take(/[a-z_]+/);
    if (code) {
      if (!(ICMP_CODES as readonly string[]).includes(code[0])) sc.fail(`ICMP code "${code[0]}" is not supported by moat's runner (${ICMP_CODES.join(', ')})`, at);
      spec.code = code[0];
    }
    if (sc.take(/mtu\b/)) spec.mtu = Number(sc.expect(/\d+/, 'an MTU')[0]);
    if (sc.take(/\[/)) {
      const m = sc.expect(/(\d+):(\d+)\((\d+)\)/, 'the quoted TCP segment start:end(len)');
      spec.inner = { seq: Number(m[1]) >>> 0, end: Number(m[2]) >>> 0, len: Number(m[3]) };
      sc.expect(/\]/, '"]"');
    }
    if (!sc.done()) sc.fail(`unexpected ${sc.rest()} after icmp packet`);
    return spec;
  }
  const kw = sc.peek(/[a-z_]+/);
  if (kw && !FLAGS.test(kw[0])) sc.fail(`"${kw[0]}" packets are not supported by moat's runner (tcp, udp and icmp are)`);
  const fl = sc.take(FLAGS);
  if (!fl) sc.fail('expected TCP flags (S, S., ., P., F., R, R. ...)');
  sc.ws();
  const seqPos = sc.pos;
  const seq = sc.expect(/(\d+):(\d+)\((\d+)\)/, 'a sequence range start:end(len)');
  const start = Number(seq[1]);
  const end = Number(seq[2]);
  const len = Number(seq[3]);
  if (((end - start) >>> 0) !== len) sc.fail(`sequence range ${start}:${end} does not hold ${len} bytes`, seqPos);
  const p: TcpPacketSpec = { proto: 'tcp', flags: fl[0], seq: start >>> 0, end: end >>> 0, len, ack: null, win: null, urg: null, options: [], remotePort };
  for (;;) {
    if (sc.done()) break;
    if (sc.peek(/ack\b/)) {
      if (!p.flags.includes('.')) sc.fail('"ack" needs the ACK flag "."');
      sc.take(/ack\b/);
      p.ack = Number(sc.expect(/\d+/, 'an ack number')[0]) >>> 0;
    }
    else if (sc.take(/win\b/)) p.win = Number(sc.expect(/\d+/, 'a window')[0]);
    else if (sc.take(/urg\b/)) p.urg = Number(sc.expect(/\d+/, 'an urgent pointer')[0]);
    else if (sc.take(/<\s*\.\.\.\s*>/)) p.options = null;
    else if (sc.take(/</)) p.options = parseOptions(sc);
    else sc.fail(`unexpected ${sc.rest()} in packet`);
  }
  return p;
}

function parseOptions(sc: Scanner): TcpOptionSpec[] {
  const out: TcpOptionSpec[] = [];
  if (sc.take(/>/)) return out;
  for (;;) {
    const at = sc.pos;
    if (sc.take(/nop\b/)) out.push({ kind: 'nop' });
    else if (sc.take(/eol\b/)) out.push({ kind: 'eol' });
    else if (sc.take(/mss\b/)) out.push({ kind: 'mss', v: Number(sc.expect(/\d+/, 'an MSS value')[0]) });
    else if (sc.take(/wscale\b/)) out.push({ kind: 'wscale', v: Number(sc.expect(/\d+/, 'a window scale')[0]) });
    else if (sc.take(/sackOK\b/)) out.push({ kind: 'sackOK' });
    else if (sc.take(/sack\b/)) {
      const blocks: [number, number][] = [];
      for (let m = sc.take(/(\d+):(\d+)/); m; m = sc.take(/(\d+):(\d+)/)) blocks.push([Number(m[1]) >>> 0, Number(m[2]) >>> 0]);
      if (!blocks.length) sc.fail('expected SACK blocks left:right');
      out.push({ kind: 'sack', blocks });
    } else if (sc.take(/TS\b/)) {
      sc.expect(/val\b/, '"val"');
      const val = Number(sc.expect(/\d+/, 'a TS value')[0]) >>> 0;
      sc.expect(/ecr\b/, '"ecr"');
      const ecr = Number(sc.expect(/\d+/, 'a TS echo reply')[0]) >>> 0;
      out.push({ kind: 'ts', val, ecr });
    } else {
      const w = sc.peek(/[A-Za-z0-9_]+/);
      if (w) sc.fail(`TCP option "${w[0]}" is not supported by moat's runner (nop eol mss wscale sackOK sack TS are)`, at);
      sc.fail(`expected a TCP option, found ${sc.rest()}`);
    }
    if (sc.take(/>/)) return out;
    sc.expect(/,/, '"," or ">" in the option list');
  }
}

// ----------------------------------------------------------------------------- syscalls

function parseExpr(sc: Scanner): Expr {
  const first = parseTerm(sc);
  if (!sc.peek(/\|(?!\|)/)) return first;
  const parts = [first];
  while (sc.take(/\|/)) parts.push(parseTerm(sc));
  return { k: 'or', parts };
}

function parseTerm(sc: Scanner): Expr {
  if (sc.take(/\.\.\./)) return { k: 'ellipsis' };
  const neg = sc.take(/-(?=\s*[0-9.])/);
  const n = sc.take(NUM);
  if (n) {
    const v = n[0].startsWith('0x') ? parseInt(n[0], 16) : Number(n[0]);
    return { k: 'num', v: neg ? -v : v };
  }
  if (neg) sc.fail('expected a number after "-"');
  const s = sc.take(/"((?:[^"\\]|\\.)*)"/);
  if (s) return { k: 'str', v: s[1]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1') };
  if (sc.take(/\[/)) {
    const items: Expr[] = [];
    if (!sc.take(/\]/)) {
      for (;;) {
        items.push(parseExpr(sc));
        if (sc.take(/\]/)) break;
        sc.expect(/,/, '"," or "]"');
      }
    }
    return { k: 'list', items };
  }
  if (sc.take(/\{/)) {
    const fields: { name: string | null; value: Expr }[] = [];
    if (!sc.take(/\}/)) {
      for (;;) {
        const f = sc.take(/([A-Za-z_][A-Za-z0-9_.]*)\s*=(?!=)/);
        fields.push({ name: f ? f[1]! : null, value: parseExpr(sc) });
        if (sc.take(/\}/)) break;
        sc.expect(/,/, '"," or "}"');
      }
    }
    return { k: 'struct', fields };
  }
  const id = sc.take(/[A-Za-z_][A-Za-z0-9_]*/);
  if (id) {
    if (sc.take(/\(/)) {
      const args: Expr[] = [];
      if (!sc.take(/\)/)) {
        for (;;) {
          args.push(parseExpr(sc));
          if (sc.take(/\)/)) break;
          sc.expect(/,/, '"," or ")"');
        }
      }
      return { k: 'call', fn: id[0], args };
    }
    return { k: 'name', v: id[0] };
  }
  sc.fail(`expected an expression, found ${sc.rest() || 'end of line'}`);
}

function parseSyscall(sc: Scanner, blockEnd: SyscallSpec['blockEnd']): SyscallSpec {
  const name = sc.expect(/[a-z_][a-z0-9_]*/, 'a system call name')[0];
  sc.expect(/\(/, `"(" after ${name}`);
  const args: Expr[] = [];
  if (!sc.take(/\)/)) {
    for (;;) {
      args.push(parseExpr(sc));
      if (sc.take(/\)/)) break;
      sc.expect(/,/, '"," or ")" between arguments');
    }
  }
  sc.expect(/=/, '"=" and the expected result');
  const result = parseExpr(sc);
  let errno: string | null = null;
  const e = sc.take(/E[A-Z0-9]+/);
  if (e) errno = e[0];
  // A comment in parentheses may follow: `-1 EAGAIN (Resource temporarily unavailable)`,
  // `= 0x802 (flags O_RDWR|O_NONBLOCK)`.
  if (sc.take(/\(/)) {
    const close = sc.s.indexOf(')', sc.pos);
    if (close < 0) sc.fail('unterminated "(" after the result');
    sc.pos = close + 1;
  }
  if (!sc.done()) sc.fail(`unexpected ${sc.rest()} after the system call`);
  return { name, args, result, errno, blockEnd };
}

// ----------------------------------------------------------------------------- entry

export function parseScript(src: string, file = '<script>'): Script {
  const options = new Map<string, string>();
  const { stmts, unsupported } = statements(file, src, options);
  const events: ScriptEvent[] = [];
  for (const st of stmts) {
    const sc = new Scanner(file, st);
    const time = parseTime(sc);
    const base = { line: st.line, col: st.col, time, text: st.text.trim() };
    let blockEnd: SyscallSpec['blockEnd'] = null;
    if (sc.take(/\.\.\./)) {
      const rel = !!sc.take(/\+/);
      const m = sc.expect(TIME_NUM, 'the end time of a blocking call');
      blockEnd = { kind: rel ? 'rel' : 'abs', usecs: secsToUsecs(m[0]) };
    }
    if (sc.take(/`/)) {
      events.push({ ...base, type: 'unsupported', what: 'shell command (`...`) lines: moat runs no host commands' });
      continue;
    }
    const dir = sc.take(/[<>]/);
    if (dir) {
      if (blockEnd) sc.fail('"..." end times are for system calls, not packets');
      events.push({ ...base, type: 'packet', dir: dir[0] as '<' | '>', pkt: parsePacket(sc, dir[0] as '<' | '>') });
      continue;
    }
    if (time.end) sc.fail('"~" time ranges are for packets');
    events.push({ ...base, type: 'syscall', call: parseSyscall(sc, blockEnd) });
  }
  for (const st of unsupported) {
    events.push({ line: st.line, col: st.col, time: { kind: 'rel', usecs: 0 }, text: st.text, type: 'unsupported', what: 'python blocks (%{ ... }%)' });
  }
  events.sort((a, b) => a.line - b.line);
  return { file, options, events };
}

/** Short text of an expression, for messages. */
export function exprText(e: Expr): string {
  switch (e.k) {
    case 'num':
      return String(e.v);
    case 'ellipsis':
      return '...';
    case 'name':
      return e.v;
    case 'or':
      return e.parts.map(exprText).join('|');
    case 'str':
      return JSON.stringify(e.v);
    case 'list':
      return `[${e.items.map(exprText).join(', ')}]`;
    case 'struct':
      return `{${e.fields.map((f) => (f.name ? `${f.name}=${exprText(f.value)}` : exprText(f.value))).join(', ')}}`;
    case 'call':
      return `${e.fn}(${e.args.map(exprText).join(', ')})`;
  }
}
