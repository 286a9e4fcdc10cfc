#!/usr/bin/env node
// Brings a fresh clone to a runnable state before `npm start`, `npm test` and `npm run bench`:
// installs dependencies (which builds the native addon and the TypeScript), rebuilds the
// addon if it is missing, and recompiles TypeScript when a source is newer than its output.
// Plain JS on purpose: it runs before anything is compiled.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd) => {
  console.error(`[moat setup] ${cmd}`);
  execSync(cmd, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
};

function newestMtime(dir, exts) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const lock = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(lock) || statSync(join(root, 'package.json')).mtimeMs > statSync(lock).mtimeMs + 1000) {
  // `npm ci` when a lockfile is present keeps installs reproducible; it also runs our
  // install (native addon) and prepare (tsc) scripts.
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund');
}
if (!existsSync(join(root, 'native', 'build', 'Release', 'moat_native.node'))) run('npm run build:native');
const srcNewest = Math.max(
  ...['src', 'test', 'bench', 'examples'].map((d) => newestMtime(join(root, d), ['.ts'])),
  statSync(join(root, 'tsconfig.json')).mtimeMs,
);
const outNewest = newestMtime(join(root, 'dist'), ['.js']);
if (outNewest === 0 || srcNewest > outNewest) run('npm run build');
