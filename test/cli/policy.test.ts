// `moat policy check` and `moat policy show` through the real command line, and the --rule
// parser's error positions.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { parseRuleFlag, RuleFlagError } from '../../src/cli/policy.js';
import { parseIptablesSave } from '../../src/netstack/filter/save.js';
import { FilterEngine } from '../../src/netstack/filter/engine.js';
import { VirtualClock } from '../../src/netstack/clock.js';

const moat = join(packageRoot(), 'bin', 'moat.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [moat, 'policy', ...args]);
  return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
};

function withFile(text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'moat-policy-'));
  try {
    const p = join(dir, 'policy.yaml');
    writeFileSync(p, text);
    fn(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const GOOD = `default: deny
allow:
  - host: example.com
    ports: [443]
    protocol: tcp
  - cidr: 10.0.0.0/8
    ports: [80]
`;

test('check: a valid file prints its rules in iptables-save form that parse back, and exits 0', (t) => {
  withFile(GOOD, (p) => {
    const r = run('check', p);
    t.is(r.status, 0, r.err);
    t.regex(r.err, /: ok$/m);
    const tables = parseIptablesSave(r.out);
    t.deepEqual(tables.map((x) => x.name), ['filter']);
    const out = tables[0].chains.find((c) => c.name === 'OUTPUT')!;
    t.is(out.policy, 'DROP');
    t.true(r.out.includes(`--comment "allow ${p}:3"`), 'each rule says which line it came from');
    t.regex(r.out, /-A OUTPUT -d 10\.0\.0\.0\/8 -p tcp -m tcp --dport 80 .*-j ACCEPT/);
    t.regex(r.out, /-A OUTPUT -m comment --comment "default deny" -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT/);
  });
});

test('check: an invalid file exits 2 naming the file, line and field', (t) => {
  withFile('default: deny\nallow:\n  - host: example.com\n    ports: [443, 70000]\n', (p) => {
    const r = run('check', p);
    t.is(r.status, 2);
    t.is(r.out, '');
    t.true(r.err.includes(`${p}:4: allow[0].ports[1]: bad port "70000"`), r.err);
  });
  withFile('default: deny\nallwo:\n  - host: x\n', (p) => {
    const r = run('check', p);
    t.is(r.status, 2);
    t.true(r.err.includes(`${p}:2: allwo: unknown field "allwo"`), r.err);
  });
  const missing = run('check', '/nonexistent/moat-policy.yaml');
  t.is(missing.status, 2);
  t.regex(missing.err, /ENOENT/);
});

test('check: a bad --rule points at the token with a caret', (t) => {
  withFile(GOOD, (p) => {
    const r = run('check', p, '--rule', '-A OUTPUT -p tcp --dporx 22 -j ACCEPT');
    t.is(r.status, 2);
    t.true(r.err.includes('--rule #1: column 18: unknown option (at "--dporx")'), r.err);
    t.true(r.err.includes('  -A OUTPUT -p tcp --dporx 22 -j ACCEPT\n                   ^^^^^^^'), r.err);
    const nat = run('check', p, '--rule', '-t nat -A OUTPUT -p tcp -j DNAT --to-destination 10.0.0.1', '--rule', '-A INPUT -j DNAT --to-destination 10.0.0.1');
    t.is(nat.status, 2);
    t.true(nat.err.includes('--rule #2'), nat.err);
    t.regex(nat.err, /DNAT is only valid in the nat table/);
  });
});

test('show: the tables of the engine with counters, --rule placed by -A/-I and -t, loadable as a restore file', (t) => {
  const r = run('show', '--rule', '-t nat -I OUTPUT -p udp --dport 53 -j REDIRECT --to-ports 53', '--rule', '-I OUTPUT 2 -p tcp --dport 22 -j REJECT', '--rule', '-A OUTPUT -d 192.0.2.1 -j DROP');
  t.is(r.status, 0, r.err);
  t.regex(r.out, /^# moat policy show \(compiled; not a running moat\)\n\*nat\n/);
  t.regex(r.out, /\[0:0\] -A OUTPUT -p udp -m udp --dport 53 -j REDIRECT --to-ports 53/);
  const lines = r.out.split('\n').filter((l) => l.includes('-A OUTPUT') && !l.includes('REDIRECT'));
  t.regex(lines[1], /--dport 22 -j REJECT/, '-I OUTPUT 2 is second');
  t.regex(lines[lines.length - 1], /-d 192\.0\.2\.1\/32 -j DROP/, '-A appends');
  const engine = new FilterEngine({ clock: new VirtualClock() });
  engine.load(parseIptablesSave(r.out));
  t.is(engine.tables.filter.chain('OUTPUT').rules.length, lines.length);
  t.regex(spawnSync(process.execPath, [moat, 'policy', 'show', '--help']).stdout.toString(), /live counters of a running\s+`moat run` come later/);
});

test('parseRuleFlag: tables, -I positions, and errors at the right column', (t) => {
  const a = parseRuleFlag('-t nat -I PREROUTING 3 -p tcp --dport 80 -j REDIRECT --to-ports 3128');
  t.is(a.table, 'nat');
  t.is(a.chain, 'PREROUTING');
  t.is(a.insertAt, 3);
  t.is(a.rule.target.kind, 'REDIRECT');
  t.is(parseRuleFlag('-A OUTPUT -j ACCEPT').insertAt, undefined);
  const err = (s: string) => {
    const e = t.throws(() => parseRuleFlag(s), { instanceOf: RuleFlagError });
    return e ? `${e.column}:${e.token}:${e.reason}` : '';
  };
  t.is(err('-t natt -A OUTPUT -j ACCEPT'), '4:natt:unknown table (expected one of: raw, mangle, nat, filter)');
  t.is(err('-p tcp -j ACCEPT'), '1:-p:expected -A CHAIN or -I CHAIN');
  // The blanked "-t nat " keeps columns: the same token is 7 columns further right.
  t.is(err('-A OUTPUT -p tcp --dport 99999 -j ACCEPT'), '26:99999:bad port');
  t.is(err('-t nat -A OUTPUT -p tcp --dport 99999 -j ACCEPT'), '33:99999:bad port');
  t.is(err('-I OUTPUT 0 -j ACCEPT'), '11:0:rule positions start at 1');
});
