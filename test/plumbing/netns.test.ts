// The iproute2 helpers and `moat cleanup`'s engine. Cleanup is scoped to this test's own
// prefix so that it never deletes what another test running at the same time created.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import {
  checkIfname,
  cleanupMoat,
  createNetns,
  createVethPair,
  deleteNetns,
  ip,
  linkInfo,
  listMoatResources,
  moatName,
  PlumbingCommandError,
} from '../../src/net-plumbing/netns.js';
import { privilegedTest } from '../helpers/privileged.js';

test('interface names must fit IFNAMSIZ', (t) => {
  t.is(checkIfname('moat-123456789a'), 'moat-123456789a');
  t.throws(() => checkIfname('moat-123456789ab'), { instanceOf: RangeError });
  t.throws(() => checkIfname(''), { instanceOf: RangeError });
  t.throws(() => checkIfname('a/b'), { instanceOf: RangeError });
  t.throws(() => moatName('x'.repeat(11)), { instanceOf: RangeError });
  t.is(moatName('v1a'), 'moat-v1a');
});

test('cleanup refuses a prefix outside moat-', async (t) => {
  await t.throwsAsync(cleanupMoat({ prefix: 'eth' }), { instanceOf: RangeError });
  await t.throwsAsync(listMoatResources({ prefix: '' }), { instanceOf: RangeError });
});

privilegedTest('a failed ip command names the command and what ip said', async (t) => {
  const err = await t.throwsAsync(ip(['link', 'show', 'dev', 'moat-absent0']));
  t.true(err instanceof PlumbingCommandError);
  t.regex(err!.message, /`ip link show dev moat-absent0` failed/);
  t.regex((err as PlumbingCommandError).stderr, /does not exist/);
});

privilegedTest('cleanupMoat deletes leftover moat-* namespaces and links under its prefix, and nothing else', async (t) => {
  const prefix = `moat-cl${process.pid}`;
  const leftNs = `${prefix}-left`;
  const otherNs = `moat-ck${process.pid}-keep`;
  const vethA = `${prefix}a`.slice(0, 15);
  const vethB = `${prefix}b`.slice(0, 15);
  try {
    await createNetns(leftNs);
    await createNetns(otherNs);
    // A host-namespace veth pair: deleting one end takes the other with it.
    await createVethPair(vethA, vethB);
    const found = await listMoatResources({ prefix });
    t.deepEqual(found.netns, [leftNs]);
    t.deepEqual(found.links.sort(), [vethA, vethB].sort());
    const all = await listMoatResources();
    t.true(all.netns.includes(otherNs), 'the default scope sees every moat- namespace');

    const report = await cleanupMoat({ prefix });
    t.deepEqual(report.failed, []);
    t.deepEqual(report.deleted.netns, [leftNs]);
    t.is(report.deleted.links.length, 1, 'one end deleted, its peer went with it');
    t.deepEqual(await listMoatResources({ prefix }), { netns: [], links: [] });
    t.throws(() => execFileSync('ip', ['netns', 'exec', leftNs, 'true'], { stdio: 'ignore' }));
    t.is((await linkInfo('lo', { netns: otherNs })).ifname, 'lo', 'a namespace outside the prefix is untouched');
  } finally {
    await deleteNetns(leftNs).catch(() => {});
    await deleteNetns(otherNs).catch(() => {});
    await ip(['link', 'del', vethA]).catch(() => {});
  }
});
