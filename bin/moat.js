#!/usr/bin/env node
// moat's command line; the code lives in dist/src/cli/ (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('moat: not built yet; run `npm install` (or `npm run build`) in the moat directory first');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
