// moat's composition root: the only module that may import every layer.
import { Command, CommanderError } from 'commander';
import { registerDemo } from './demo.js';
import { registerDecode } from './decode/command.js';
import { registerCleanup } from './cleanup.js';
import { registerHost } from './host/command.js';
import { registerScript } from './script.js';
import { registerReplay } from './replay.js';
import { registerPolicy } from './policy.js';
import { registerAgent } from './agent.js';
import { registerRun } from './run.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('moat')
    .description('Run untrusted programs whose every socket call is served by a userspace TCP/IP stack')
    .showHelpAfterError()
    .exitOverride();
  registerDemo(program);
  registerDecode(program);
  registerCleanup(program);
  registerHost(program);
  registerScript(program);
  registerReplay(program);
  registerPolicy(program);
  registerAgent(program);
  registerRun(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`moat: ${msg}\n`);
    return 1;
  }
}
