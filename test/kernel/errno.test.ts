import test from 'ava';
import { constants } from 'node:os';
import { ERRNO, errnoName, errnoOf } from '../../src/kernel/errno.js';

// Node exposes the errno numbers of the platform it was built for: on Linux they are the
// numbers our table must hold, so the table is checked against an independent source.
test('every errno in the table matches the platform (Linux) numbers', (t) => {
  if (process.platform !== 'linux') return t.pass('only meaningful on Linux');
  const os = constants.errno as Record<string, number>;
  let checked = 0;
  for (const [name, n] of Object.entries(ERRNO)) {
    if (name in os) {
      t.is(n as number, os[name], name);
      checked++;
    }
  }
  t.true(checked >= 60, `checked ${checked} names`);
});

test('names and numbers map both ways', (t) => {
  t.is(errnoOf('ECONNREFUSED'), 111);
  t.is(errnoOf('EAGAIN'), 11);
  t.is(errnoName(115), 'EINPROGRESS');
  t.is(errnoName(9999), undefined);
});
