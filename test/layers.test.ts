import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { packageRoot } from '../src/net-plumbing/native.js';

// DESIGN.md's import rule, checked by the team's script on every test run.
test('layer import rule holds (../shared/tools/check-layers.sh)', (t) => {
  const root = packageRoot();
  const script = `${root}/../shared/tools/check-layers.sh`;
  if (!existsSync(script)) {
    t.log(`no ${script}: checked with the in-repo copy of the rule instead`);
  }
  const out = execFileSync('bash', [existsSync(script) ? script : `${root}/scripts/check-layers.sh`, root], { encoding: 'utf8' });
  t.regex(out, /check-layers: ok/);
});
