import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { privilegedTest } from '../helpers/privileged.js';

const moat = join(packageRoot(), 'bin', 'moat.js');
const netnsList = () => execFileSync('ip', ['netns', 'list']).toString();

privilegedTest('moat cleanup deletes a leftover namespace and link, and keeps a namespace in use', async (t) => {
  const p = `moat-clcli${process.pid}`;
  const idle = `${p}-idle`;
  const busy = `${p}-busy`;
  const link = `moat-cl${process.pid % 100000}`;
  const home = `moat-clhome${process.pid}`;
  let sleeper: ReturnType<typeof spawn> | null = null;
  try {
    execFileSync('ip', ['netns', 'add', idle]);
    execFileSync('ip', ['netns', 'add', busy]);
    // The leftover link lives in a namespace of the test's own (cleanup acts on the namespace it
    // runs in), so the host's interfaces are never touched.
    execFileSync('ip', ['netns', 'add', home]);
    execFileSync('ip', ['-n', home, 'link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}b`]);
    sleeper = spawn('ip', ['netns', 'exec', busy, 'sleep', '30'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const dry = spawnSync(process.execPath, [moat, 'cleanup', '--dry-run', '--prefix', p]);
    t.regex(dry.stdout.toString(), new RegExp(`would delete netns ${idle}`));
    t.true(netnsList().includes(idle), 'dry run deletes nothing');

    const r = spawnSync(process.execPath, [moat, 'cleanup', '--prefix', p]);
    t.is(r.status, 0, r.stderr.toString());
    t.false(netnsList().includes(idle));
    t.true(netnsList().includes(busy), 'a namespace with processes is kept');
    t.regex(r.stderr.toString(), new RegExp(`keeping namespaces in use.*${busy}`));

    const l = spawnSync('ip', ['netns', 'exec', home, process.execPath, moat, 'cleanup', '--prefix', link]);
    t.is(l.status, 0, l.stderr.toString());
    t.regex(l.stdout.toString(), /1 deleted, 0 failed/, 'deleting one veth end takes the other with it');
    t.is(spawnSync('ip', ['-n', home, 'link', 'show', link]).status, 1, 'the leftover link is gone');
  } finally {
    sleeper?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', idle]);
    spawnSync('ip', ['netns', 'del', busy]);
    spawnSync('ip', ['netns', 'del', home]);
  }
});

test('moat cleanup refuses a prefix outside moat-', (t) => {
  const r = spawnSync(process.execPath, [moat, 'cleanup', '--prefix', 'eth']);
  t.not(r.status, 0);
  t.regex(r.stderr.toString(), /must start with moat-|needs root/);
});

privilegedTest('moat cleanup deletes the nftables table a crashed moat run --link auto left', (t) => {
  const table = `moat-run-zc${process.pid % 100000}`;
  try {
    execFileSync('/usr/sbin/nft', ['add', 'table', 'inet', table]);
    const dry = spawnSync(process.execPath, [moat, 'cleanup', '--dry-run', '--prefix', table]);
    t.regex(dry.stdout.toString(), new RegExp(`would delete nftables table ${table}`));
    const r = spawnSync(process.execPath, [moat, 'cleanup', '--prefix', table]);
    t.is(r.status, 0, r.stderr.toString());
    t.regex(r.stdout.toString(), new RegExp(`deleted nftables table ${table}`));
    t.false(execFileSync('/usr/sbin/nft', ['list', 'tables']).toString().includes(table));
  } finally {
    spawnSync('/usr/sbin/nft', ['delete', 'table', 'inet', table]);
  }
});
