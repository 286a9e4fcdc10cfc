// `moat cleanup`: removes the namespaces and links a crashed run left behind (names start
// with `moat-`), and what a crashed `moat run --link auto` left on the host: its nftables table
// and the forwarding sysctls it had turned on. A namespace that still has processes in it
// belongs to a live run (or a guest of one) and is kept unless --force; a live auto link is
// never listed.

import type { Command } from 'commander';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cleanupRunLeftovers, deleteLink, deleteNetns, listMoatResources, MOAT_PREFIX } from '../net-plumbing/netns.js';

const run = promisify(execFile);

async function netnsPids(ns: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', ns]);
    return stdout.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function registerCleanup(program: Command): void {
  program
    .command('cleanup')
    .description(`delete network namespaces and links named ${MOAT_PREFIX}* that a crashed run left behind`)
    .option('-n, --dry-run', 'only list what would be deleted')
    .option('-f, --force', 'also delete namespaces that still have processes in them')
    .option('--prefix <prefix>', `only names starting with this (must start with ${MOAT_PREFIX})`, MOAT_PREFIX)
    .action(async (opts: { dryRun?: boolean; force?: boolean; prefix: string }) => {
      if (process.getuid?.() !== 0) throw new Error('cleanup: needs root (it deletes network namespaces and links)');
      const found = await listMoatResources({ prefix: opts.prefix });
      const busy: string[] = [];
      for (const ns of found.netns) {
        const pids = await netnsPids(ns);
        if (pids.length && !opts.force) busy.push(`${ns} (pids ${pids.join(' ')})`);
      }
      if (busy.length) process.stderr.write(`keeping namespaces in use (use --force to delete them): ${busy.join(', ')}\n`);
      const busyNames = new Set(busy.map((b) => b.split(' ')[0]));
      const targets = found.netns.filter((n) => !busyNames.has(n));
      if (opts.dryRun) {
        for (const n of targets) process.stdout.write(`would delete netns ${n}\n`);
        for (const l of found.links) process.stdout.write(`would delete link ${l}\n`);
        for (const t of found.nftTables ?? []) process.stdout.write(`would delete nftables table ${t}\n`);
        return;
      }
      let deleted = 0;
      let failed = 0;
      const attempt = async (what: string, name: string, fn: () => Promise<void>) => {
        try {
          await fn();
          deleted++;
          process.stdout.write(`deleted ${what} ${name}\n`);
        } catch (e) {
          failed++;
          process.stderr.write(`could not delete ${what} ${name}: ${(e as Error).message}\n`);
        }
      };
      for (const ns of targets) await attempt('netns', ns, () => deleteNetns(ns));
      // Deleting a namespace or one veth end takes other links with it: list again, one by one.
      for (;;) {
        const link = (await listMoatResources({ prefix: opts.prefix })).links[0];
        if (!link) break;
        const before = failed;
        await attempt('link', link, () => deleteLink(link));
        if (failed > before) break;
      }
      // Dead auto links: their per-run nftables tables and the sysctls they turned on.
      const runs = await cleanupRunLeftovers({ prefix: opts.prefix });
      for (const t of runs.nftTables) process.stdout.write(`deleted nftables table ${t}\n`);
      for (const r of runs.restored) process.stdout.write(`restored ${r}\n`);
      for (const f of runs.failed) process.stderr.write(`could not clean ${f.name}: ${f.error}\n`);
      deleted += runs.nftTables.length;
      failed += runs.failed.length;
      process.stdout.write(`${deleted} deleted, ${failed} failed${busy.length ? `, ${busy.length} kept (in use)` : ''}\n`);
      if (failed) process.exitCode = 1;
    });
}
