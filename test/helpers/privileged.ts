// Root-only tests: they skip with a reason when not root, and fail instead when
// MOAT_REQUIRE_PRIVILEGED=1 (CI sets it), so a CI run can never pass by skipping them.

import test from 'ava';
import type { ExecutionContext } from 'ava';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
export const requirePrivileged = process.env.MOAT_REQUIRE_PRIVILEGED === '1';

/** Declares a test that needs root (namespaces, tap, AF_PACKET). */
export function privilegedTest(title: string, fn: (t: ExecutionContext) => void | Promise<void>): void {
  if (isRoot) {
    test.serial(title, fn);
  } else if (requirePrivileged) {
    test(title, (t) => {
      t.fail(`needs root, and MOAT_REQUIRE_PRIVILEGED=1 forbids skipping (uid ${process.getuid?.()})`);
    });
  } else {
    test.skip(`${title} [skipped: needs root; run as root, or set MOAT_REQUIRE_PRIVILEGED=1 to make this a failure]`, () => {});
  }
}
