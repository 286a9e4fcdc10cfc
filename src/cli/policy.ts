// `moat policy check FILE` and `moat policy show`: validate an egress policy file (plus the
// --allow/--deny/--rule flags `moat run` takes), print the rules it compiles to in
// iptables-save form, and point at the field and line (or the --rule token) that is wrong.
// `show` builds the live engine those rules make and prints its tables with counters; the
// counters of a running `moat run` are not reachable from here yet.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { applyPolicyFlags, compilePolicy, createPolicyEngine, emptyPolicy, parsePolicy, PolicyError, type Policy } from '../kernel/policy/policy.js';
import { VirtualClock } from '../netstack/clock.js';
import { FilterError, type FilterEngine } from '../netstack/filter/engine.js';
import { formatIptablesSave, IptablesParseError, parseRule } from '../netstack/filter/save.js';
import { TABLE_NAMES, type RuleSpec, type TableName, type TableSpec } from '../netstack/filter/rules.js';
import { IpAddr } from '../netstack/wire/ip-address.js';

/** A --rule flag, parsed: where it goes and what it is. */
export interface RuleFlag {
  table: TableName;
  chain: string;
  /** 1-based position for -I; undefined for -A. */
  insertAt?: number;
  rule: RuleSpec;
  text: string;
}

/** A --rule that cannot be parsed: `column` is 1-based into `text`. */
export class RuleFlagError extends Error {
  override name = 'RuleFlagError';
  constructor(
    readonly reason: string,
    readonly index: number,
    readonly text: string,
    readonly column: number,
    readonly token: string,
  ) {
    super(`--rule #${index}: column ${column}: ${reason}${token ? ` (at ${JSON.stringify(token)})` : ''}`);
  }

  /** The message, the rule, and a caret line under the offending token. */
  render(): string {
    const width = Math.max(1, this.token.length);
    return `${this.message}\n  ${this.text}\n  ${' '.repeat(Math.max(0, this.column - 1))}${'^'.repeat(width)}`;
  }
}

/**
 * Parses `[-t TABLE] (-A CHAIN | -I CHAIN [N]) MATCHES... -j TARGET` as iptables takes it. The
 * table and -I parts are blanked to spaces before the rule parser sees the text, so every
 * column it reports still points into the original flag.
 */
export function parseRuleFlag(text: string, index = 1): RuleFlag {
  const toks: { t: string; col: number }[] = [];
  for (const m of text.matchAll(/\S+/g)) toks.push({ t: m[0], col: (m.index ?? 0) + 1 });
  const fail = (reason: string, tok?: { t: string; col: number }): never => {
    throw new RuleFlagError(reason, index, text, tok ? tok.col : text.length + 1, tok ? tok.t : '');
  };
  let masked = text;
  const blank = (from: { col: number }, to: { t: string; col: number }) => {
    const a = from.col - 1;
    const b = to.col - 1 + to.t.length;
    masked = masked.slice(0, a) + ' '.repeat(b - a) + masked.slice(b);
  };
  let i = 0;
  let table: TableName = 'filter';
  if (toks[i] && (toks[i].t === '-t' || toks[i].t === '--table')) {
    const name = toks[i + 1];
    if (!name) fail('-t needs a table name', toks[i]);
    if (!TABLE_NAMES.includes(name.t as TableName)) fail(`unknown table (expected one of: ${TABLE_NAMES.join(', ')})`, name);
    table = name.t as TableName;
    blank(toks[i], name);
    i += 2;
  }
  const op = toks[i];
  if (!op || !['-A', '--append', '-I', '--insert'].includes(op.t)) fail('expected -A CHAIN or -I CHAIN', op);
  let insertAt: number | undefined;
  if (op.t === '-I' || op.t === '--insert') {
    const chainTok = toks[i + 1];
    if (!chainTok || chainTok.t.startsWith('-')) fail('-I needs a chain name', op);
    insertAt = 1;
    const num = toks[i + 2];
    if (num && /^\d+$/.test(num.t)) {
      insertAt = Number(num.t);
      if (insertAt < 1) fail('rule positions start at 1', num);
      blank(num, num);
    }
    // Becomes "-A CHAIN" for the parser (same length as "-I", so columns stay put).
    masked = masked.slice(0, op.col - 1) + (op.t === '-I' ? '-A' : '--append') + masked.slice(op.col - 1 + op.t.length);
  }
  let parsed: ReturnType<typeof parseRule>;
  try {
    parsed = parseRule(masked, 1);
  } catch (e) {
    if (e instanceof IptablesParseError) throw new RuleFlagError(e.reason, index, text, e.column, e.token);
    throw e;
  }
  if (!parsed.chain) fail('expected -A CHAIN or -I CHAIN', op);
  return { table, chain: parsed.chain!, insertAt, rule: parsed.rule, text };
}

/** Adds parsed --rule flags to an engine; an impossible placement (no such chain, DNAT in filter) names the flag. */
export function applyRuleFlags(engine: FilterEngine, flags: readonly RuleFlag[]): void {
  flags.forEach((f, k) => {
    try {
      const t = engine.table(f.table);
      if (f.insertAt !== undefined) t.insert(f.chain, f.insertAt, f.rule);
      else t.append(f.chain, f.rule);
    } catch (e) {
      if (e instanceof FilterError) {
        const col = f.text.indexOf(f.chain) + 1;
        throw new RuleFlagError(e.message, k + 1, f.text, col > 0 ? col : 1, col > 0 ? f.chain : '');
      }
      throw e;
    }
  });
}

interface PolicyFlags {
  allow: string[];
  deny: string[];
  rule: string[];
  dnsServer: string[];
  hostAddress: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

function addFlags(c: Command): Command {
  return c
    .option('--allow <host>', 'allow HOST[:PORT[-PORT]][/PROTO] (repeatable; any --allow makes the default deny)', collect, [])
    .option('--deny <host>', 'deny HOST[:PORT[-PORT]][/PROTO] (repeatable)', collect, [])
    .option('--rule <rule>', "an iptables rule, e.g. '-A OUTPUT -p tcp --dport 22 -j REJECT' or '-t nat -I OUTPUT ...' (repeatable)", collect, [])
    .option('--dns-server <addr>', 'the DNS forwarder address the guest uses (always reachable on port 53)', collect, [])
    .option('--host-address <addr>', "the host's own addresses (blocked unless allowed)", collect, []);
}

function addr(flag: string, v: string): IpAddr {
  try {
    return IpAddr.parse(v);
  } catch {
    throw new PolicyError(`not an IP address: ${JSON.stringify(v)}`, flag, 0);
  }
}

/** File (or the defaults) + flags -> a live engine with the compiled rules and the --rule flags. */
export function buildPolicyEngine(file: string | undefined, o: PolicyFlags): { policy: Policy; engine: FilterEngine; text: string } {
  const base = file !== undefined ? parsePolicy(readFileSync(file, 'utf8'), file) : emptyPolicy();
  const policy = applyPolicyFlags(base, { allow: o.allow, deny: o.deny });
  const rules = o.rule.map((r, i) => parseRuleFlag(r, i + 1));
  const compiled = compilePolicy(policy, { dnsServers: o.dnsServer.map((a) => addr('--dns-server', a)), hostAddresses: o.hostAddress.map((a) => addr('--host-address', a)) });
  const { engine } = createPolicyEngine(compiled, { clock: new VirtualClock() });
  applyRuleFlags(engine, rules);
  return { policy, engine, text: formatIptablesSave(usedTables(engine), { counters: false }) };
}

/** The tables worth printing: filter always, the others when a rule or a DROP policy is in them. */
function usedTables(engine: FilterEngine): TableSpec[] {
  return engine.save().filter((t) => t.name === 'filter' || t.chains.some((c) => c.rules.length > 0 || c.policy === 'DROP'));
}

function report(e: unknown): number {
  if (e instanceof RuleFlagError) process.stderr.write(`moat policy: ${e.render()}\n`);
  else if (e instanceof PolicyError) process.stderr.write(`moat policy: ${e.message}\n`);
  else if (e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT') process.stderr.write(`moat policy: ${e.message}\n`);
  else throw e;
  return 2;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('check and show egress policies (the rules `moat run --policy` installs)');
  addFlags(
    policy
      .command('check')
      .argument('<file>', 'policy file (YAML subset or JSON)')
      .description('validate a policy file and print the rules it compiles to (iptables-save form); exits 2 naming the field and line of an error'),
  ).action((file: string, o: PolicyFlags) => {
    try {
      const { text } = buildPolicyEngine(file, o);
      process.stdout.write(text);
      process.stderr.write(`${file}: ok\n`);
    } catch (e) {
      process.exitCode = report(e);
    }
  });
  addFlags(
    policy
      .command('show')
      .argument('[file]', 'policy file (default: the built-in default policy)')
      .description(
        'print the filter tables of the engine a policy makes, with counters (iptables-save -c form). ' +
          'For now the engine is built from the file and flags; live counters of a running `moat run` come later.',
      ),
  ).action((file: string | undefined, o: PolicyFlags) => {
    try {
      const { engine } = buildPolicyEngine(file, o);
      process.stdout.write(formatIptablesSave(usedTables(engine), { counters: true, header: 'moat policy show (compiled; not a running moat)' }));
    } catch (e) {
      process.exitCode = report(e);
    }
  });
}
