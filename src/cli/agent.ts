// `moat agent --socket PATH`: the long-running service OCI runtimes hand containers' seccomp
// listeners to (bundle: linux.seccomp.listenerPath = PATH, socket calls SCMP_ACT_NOTIFY). See
// src/kernel/agent/agent.ts and deploy/README.md. Runs until SIGINT/SIGTERM, then gives every
// interface it took over back to its container's namespace.

import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { Agent, agentSeccompProfile, denyServe, resolveDefaultServe } from '../kernel/agent/index.js';

interface AgentFlags {
  socket: string;
  policyDir?: string;
  audit?: string;
  takeover: boolean;
  allowUid?: string[];
  linkSlots: string;
  deny?: boolean;
  printProfile?: boolean;
  metadata?: string;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description("serve containers' socket calls: runc/crun hand each container's seccomp listener to PATH (OCI linux.seccomp.listenerPath)")
    .requiredOption('--socket <path>', 'the unix socket to listen on (the bundle\'s listenerPath)')
    .option('--policy-dir <dir>', 'policy files (NAME.yaml); chosen by listenerMetadata "policy=NAME" or NAMESPACE_POD_CONTAINER / NAMESPACE_POD / NAMESPACE / default; watched')
    .option('--audit <file>', 'append one JSON line per audit record (naming container and pod); "-" for stdout')
    .option('--no-takeover', "do not take the container's interface over (its stack then has no link)")
    .option('--allow-uid <uid...>', 'peer uids allowed to hand over listeners (default: the agent\'s uid)')
    .option('--link-slots <n>', 'AF_PACKET receive ring slots per container', '32')
    .option('--deny', 'answer every trapped call with EPERM instead of serving it (fail-closed mode)')
    .option('--print-profile', 'print the OCI seccomp section / Kubernetes Localhost profile that sends socket calls to --socket, and exit')
    .option('--metadata <text>', 'with --print-profile: the listenerMetadata to put in it (e.g. policy=NAME)')
    .action(async (flags: AgentFlags) => {
      if (flags.printProfile) {
        const profile = agentSeccompProfile({ listenerPath: flags.socket, ...(flags.metadata !== undefined ? { listenerMetadata: flags.metadata } : {}) });
        process.stdout.write(JSON.stringify(profile, null, 2) + '\n');
        return;
      }
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} moat agent: ${line}\n`);
      const auditOut = flags.audit === '-' ? process.stdout : flags.audit ? createWriteStream(flags.audit, { flags: 'a' }) : undefined;
      const { serve } = flags.deny ? { serve: denyServe('EPERM') } : await resolveDefaultServe(log);
      const agent = new Agent({
        socketPath: flags.socket,
        serve,
        ...(flags.policyDir ? { policyDir: flags.policyDir } : {}),
        takeover: flags.takeover,
        log,
        ...(auditOut ? { audit: (line: string) => auditOut.write(line + '\n') } : {}),
        ...(flags.allowUid ? { allowUids: flags.allowUid.map(Number) } : {}),
        linkSlots: Number(flags.linkSlots),
      }).start();
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      log('stopping: ending sessions and restoring interfaces');
      await agent.stop();
      log(`stopped (${agent.stats.admitted} listeners served, ${agent.stats.networksCreated} networks)`);
    });
}
