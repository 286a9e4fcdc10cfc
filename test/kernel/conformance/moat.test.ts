// The conformance table on moat's socket layer, in process and in virtual time: every case must
// give what Linux gives (linux.test.ts checks the same table against the kernel). No root needed.

import test from 'ava';
import { CASES } from './cases.js';
import { judgeCase } from './table.js';
import { runCase } from './target.js';
import { MoatTarget } from './moat-target.js';

/**
 * Cases where moat knowingly differs from Linux, each with the reason. The test fails if one of
 * them starts to pass (remove it then) or any other case fails.
 */
const KNOWN_DIVERGENCES: Record<string, string> = {};

test('the conformance table passes on moat\'s socket layer', async (t) => {
  const target = new MoatTarget();
  const failures: string[] = [];
  for (const c of CASES) {
    await target.beginCase();
    let problems: string[];
    try {
      problems = judgeCase(c, await runCase(target, c), target.env());
    } catch (e) {
      problems = [`threw: ${(e as Error).stack ?? e}`];
    } finally {
      await target.endCase();
    }
    const known = c.name in KNOWN_DIVERGENCES;
    if (problems.length > 0 && !known) failures.push(`${c.name}\n    ${problems.join('\n    ')}`);
    if (problems.length === 0 && known) failures.push(`${c.name}: now agrees with Linux, remove it from KNOWN_DIVERGENCES`);
  }
  t.log(`${CASES.length - failures.length - Object.keys(KNOWN_DIVERGENCES).length}/${CASES.length} cases agree with Linux; known divergences: ${Object.keys(KNOWN_DIVERGENCES).length}`);
  t.deepEqual(failures, []);
});
