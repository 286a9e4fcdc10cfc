// Runs the conformance table on real Linux sockets, inside a network namespace this test creates
// (namespace.ts), and asserts that Linux gives every result the table expects: the table is a
// statement about Linux, checked on the running kernel before moat is held to it. The table runs
// twice: by linux_runner.py on its own, and by the TypeScript interpreter (target.ts) with Linux
// as its ConformanceTarget, the same path moat's socket layer will take.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privilegedTest } from '../../helpers/privileged.js';
import { buildTable } from './emit-table.js';
import { LinuxRpcTarget } from './linux-target.js';
import { RUNNER, withConformanceNs } from './namespace.js';
import { sockaddrMatrix } from './sockaddr-matrix.js';
import { sockoptMatrix } from './sockopt-matrix.js';
import { judgeCase } from './table.js';
import type { CaseOutcome } from './table.js';
import { runCase } from './target.js';

test('the table has at least 150 cases with unique names', (t) => {
  const { cases } = buildTable();
  t.true(cases.length >= 150, `only ${cases.length} cases`);
  const names = new Set(cases.map((c) => c.name));
  t.is(names.size, cases.length, 'duplicate case names');
});

privilegedTest('Linux (linux_runner.py) agrees with every expectation of the socket conformance table', async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'moat-conf-'));
  try {
    await withConformanceNs('py', (ns) => {
      const table = buildTable();
      const tablePath = join(dir, 'cases.json');
      writeFileSync(tablePath, JSON.stringify(table));
      const out = execFileSync(ns.exec[0], [...ns.exec.slice(1), 'python3', RUNNER, tablePath], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 170_000 });
      const report = JSON.parse(out) as { kernel: string; constMismatches: Record<string, unknown>; cases: CaseOutcome[] };
      t.deepEqual(report.constMismatches, {}, "socket-abi.ts constants differ from Python's socket module");
      t.is(report.cases.length, table.cases.length);
      const failures: string[] = [];
      report.cases.forEach((outcome, i) => {
        const problems = judgeCase(table.cases[i], outcome, ns.env);
        if (problems.length) failures.push(`${outcome.name}\n    ${problems.join('\n    ')}`);
      });
      t.log(`kernel ${report.kernel}: ${table.cases.length - failures.length}/${table.cases.length} cases agree`);
      t.deepEqual(failures, [], `Linux disagrees with the table:\n${failures.join('\n')}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [what, suffix, build] of [
  ['sockaddr.ts on every (socket, call, family, addrlen) combination', 'mx', sockaddrMatrix],
  ['sockopt-codec.ts on every option set and read with every optlen', 'ox', () => sockoptMatrix()],
] as const) {
privilegedTest(`Linux agrees with ${what}`, async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'moat-conf-'));
  try {
    await withConformanceNs(suffix, (ns) => {
      const table = buildTable(build());
      const tablePath = join(dir, 'matrix.json');
      writeFileSync(tablePath, JSON.stringify(table));
      const out = execFileSync(ns.exec[0], [...ns.exec.slice(1), 'python3', RUNNER, tablePath], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 170_000 });
      const report = JSON.parse(out) as { cases: CaseOutcome[] };
      const failures: string[] = [];
      report.cases.forEach((outcome, i) => {
        const problems = judgeCase(table.cases[i], outcome, ns.env);
        if (problems.length) failures.push(`${outcome.name}: ${problems.join('; ')}`);
      });
      t.log(`${table.cases.length - failures.length}/${table.cases.length} combinations agree`);
      t.deepEqual(failures, [], `Linux disagrees:\n${failures.join('\n')}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
}

privilegedTest('the TypeScript interpreter with Linux as its ConformanceTarget agrees with the table', async (t) => {
  t.timeout(180_000);
  await withConformanceNs('ts', async (ns) => {
    const target = new LinuxRpcTarget([...ns.exec, 'python3', RUNNER], ns.env);
    try {
      const { cases } = buildTable();
      const failures: string[] = [];
      for (const c of cases) {
        const problems = judgeCase(c, await runCase(target, c), target.env());
        if (problems.length) failures.push(`${c.name}\n    ${problems.join('\n    ')}`);
      }
      t.log(`${cases.length - failures.length}/${cases.length} cases agree`);
      t.deepEqual(failures, [], `the interpreter on Linux disagrees with the table:\n${failures.join('\n')}`);
    } finally {
      await target.stop();
    }
  });
});
