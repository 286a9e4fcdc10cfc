// Runs every packetdrill-style script in test/scripts/ through moat's runner: each must PASS.
// Scripts in test/scripts/known-bugs/ document TCP bugs and Linux differences: each must still
// FAIL, so fixing one makes this test say so (move the script up into test/scripts/ then).

import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { formatFailure, parseScript, runScript, ScriptSyntaxError } from '../../src/kernel/script/index.js';

const dir = join(packageRoot(), 'test', 'scripts');
// known-bugs/ may hold no script at all (every known bug fixed), or be absent from a checkout.
const list = (d: string) =>
  (existsSync(d) ? readdirSync(d) : [])
    .filter((f) => f.endsWith('.pkt'))
    .sort()
    .map((f) => join(d, f));

async function run(file: string): Promise<{ passed: boolean; text: string }> {
  try {
    const r = await runScript(parseScript(readFileSync(file, 'utf8'), file));
    return { passed: r.passed, text: r.passed ? 'PASS' : formatFailure(r) };
  } catch (e) {
    if (e instanceof ScriptSyntaxError) return { passed: false, text: e.message };
    throw e;
  }
}

test('the suite has at least 60 scripts of its own', (t) => {
  t.true(list(dir).length >= 60, `${list(dir).length} scripts`);
});

test('every script in test/scripts passes', async (t) => {
  const failing: string[] = [];
  for (const f of list(dir)) {
    const r = await run(f);
    if (!r.passed) failing.push(r.text);
  }
  t.deepEqual(failing, [], `failing scripts:\n${failing.join('\n')}`);
});

test('every known-bug script still fails (a pass means the bug is fixed: move the script)', async (t) => {
  const known = list(join(dir, 'known-bugs'));
  const nowPassing: string[] = [];
  for (const f of known) {
    const r = await run(f);
    if (r.passed) nowPassing.push(f);
    else t.notRegex(r.text, /syntax error|unsupported/, `${f} must fail on the bug, not on the script`);
  }
  t.deepEqual(nowPassing, [], `known-bug scripts that now pass (fixed? move them to test/scripts/):\n${nowPassing.join('\n')}`);
});
