// The agent's policy directory: one policy file per name (the format of src/kernel/policy), picked
// per container, reloaded when the directory changes. Fail closed: a container whose chosen file
// is missing or invalid gets the built-in deny-everything policy, never a more permissive one.
//
// Which name a container gets, first match wins:
//   1. listenerMetadata `policy=NAME` (";"-separated key=value pairs, as in the runtime spec's
//      example), or the whole metadata when it is a bare NAME;
//   2. from the CRI annotations: NAMESPACE_POD_CONTAINER, NAMESPACE_POD, NAMESPACE (Kubernetes
//      names never contain "_", so the file names cannot be ambiguous);
//   3. default.
// A name is looked up as NAME.yaml, NAME.yml, then NAME.json in the directory.

import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { emptyPolicy, parsePolicy, PolicyError, type Policy } from '../policy/policy.js';
import type { ContainerInfo } from './state.js';

/** The policy for containers nothing else matches and for broken files: nothing out, nothing in. */
export function denyAllPolicy(): Policy {
  return { ...emptyPolicy(), default: 'deny', inbound: 'deny', log: 'denied' };
}

export interface PolicyChoice {
  /** The policy name (file stem) that applied, or "(deny-all)". */
  name: string;
  policy: Policy;
  /** The file it came from. */
  file?: string;
  /** How it was chosen: "metadata", "annotations", "default", or why the deny-all fallback applied. */
  why: string;
}

const NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,250}[a-z0-9])?$/i;
const EXTENSIONS = ['.yaml', '.yml', '.json'];

/** A name safe to use as a file stem in the directory (no separators, no dot-dot). */
export function isPolicyName(name: string): boolean {
  return NAME_RE.test(name) && !name.includes('..');
}

/** The policy name listenerMetadata asks for, if any. */
export function metadataPolicyName(metadata: string | undefined): string | undefined {
  if (metadata === undefined) return undefined;
  const m = metadata.trim();
  for (const part of m.split(';')) {
    const k = part.indexOf('=');
    if (k > 0 && part.slice(0, k).trim() === 'policy') return part.slice(k + 1).trim();
  }
  return m.includes('=') || m === '' ? undefined : m;
}

/** The candidate names for a container, most specific first (without "default"). */
export function candidateNames(c: ContainerInfo): { names: string[]; why: string } {
  const fromMeta = metadataPolicyName(c.metadata);
  if (fromMeta !== undefined) return { names: [fromMeta], why: 'metadata' };
  if (c.pod) {
    const names = [`${c.pod.namespace}_${c.pod.name}`, c.pod.namespace];
    if (c.containerName) names.unshift(`${c.pod.namespace}_${c.pod.name}_${c.containerName}`);
    return { names, why: 'annotations' };
  }
  return { names: [], why: 'default' };
}

type Entry = { policy: Policy; file: string } | { error: string; file: string };

export class PolicyDirectory {
  private entries = new Map<string, Entry>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** Reloads so far (tests wait on it). */
  generation = 0;

  constructor(
    readonly dir: string | undefined,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.reload();
  }

  /** Re-reads every policy file. A file that does not parse is kept as an error (its containers get deny-all). */
  reload(): void {
    const next = new Map<string, Entry>();
    if (this.dir !== undefined && existsSync(this.dir)) {
      let files: string[] = [];
      try {
        files = readdirSync(this.dir);
      } catch (e) {
        this.log(`policy-dir: cannot read ${this.dir}: ${(e as Error).message}`);
      }
      for (const f of files.sort()) {
        const ext = EXTENSIONS.find((x) => f.endsWith(x));
        if (!ext) continue;
        const name = f.slice(0, -ext.length);
        if (!isPolicyName(name)) continue;
        // The first extension in EXTENSIONS order wins for a name.
        const prev = next.get(name);
        if (prev && EXTENSIONS.indexOf(prev.file.slice(prev.file.lastIndexOf('.'))) <= EXTENSIONS.indexOf(ext)) continue;
        const file = join(this.dir, f);
        try {
          next.set(name, { policy: parsePolicy(readFileSync(file, 'utf8'), file), file });
        } catch (e) {
          const msg = e instanceof PolicyError ? e.message : `${file}: ${(e as Error).message}`;
          next.set(name, { error: msg, file });
          this.log(`policy-dir: invalid policy ${msg}`);
        }
      }
    }
    this.entries = next;
    this.generation++;
  }

  /** Watches the directory; changes are picked up after `debounceMs`. */
  watch(debounceMs = 100): void {
    if (this.dir === undefined || this.watcher) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => {
        if (this.reloadTimer) clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reloadTimer = undefined;
          this.reload();
          this.log(`policy-dir: reloaded ${this.dir} (${this.entries.size} policies)`);
        }, debounceMs);
        this.reloadTimer.unref();
      });
      this.watcher.on('error', (e) => this.log(`policy-dir: watch failed: ${e.message}`));
    } catch (e) {
      this.log(`policy-dir: cannot watch ${this.dir}: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  /** The names currently loaded (valid or not). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Chooses the policy for a container (see the file header for the order). */
  select(c: ContainerInfo): PolicyChoice {
    const { names, why } = candidateNames(c);
    if (why === 'metadata') {
      const name = names[0]!;
      if (!isPolicyName(name)) return { name: '(deny-all)', policy: denyAllPolicy(), why: `metadata names an invalid policy name ${JSON.stringify(name).slice(0, 80)}` };
      return this.lookup(name, 'metadata', true) ?? { name: '(deny-all)', policy: denyAllPolicy(), why: `metadata names policy "${name}", which does not exist` };
    }
    for (const name of names) {
      if (!isPolicyName(name)) continue;
      const hit = this.lookup(name, why, true);
      if (hit) return hit;
    }
    return this.lookup('default', 'default', true) ?? { name: '(deny-all)', policy: denyAllPolicy(), why: 'no policy matches and there is no default' };
  }

  private lookup(name: string, why: string, failClosed: boolean): PolicyChoice | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if ('error' in e) return failClosed ? { name: '(deny-all)', policy: denyAllPolicy(), file: e.file, why: `policy "${name}" is invalid: ${e.error}` } : undefined;
    return { name, policy: e.policy, file: e.file, why };
  }
}
