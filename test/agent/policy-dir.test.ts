// Policy selection for containers: listenerMetadata first, then the CRI annotations from most to
// least specific, then default; a missing or broken chosen file fails closed (deny-all).

import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyDirectory, metadataPolicyName } from '../../src/kernel/agent/policy-dir.js';
import type { ContainerInfo } from '../../src/kernel/agent/state.js';

function container(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return { id: 'c1', pid: 1, initPid: 1, status: 'creating', bundle: '/b', ociVersion: '1.0.2', annotations: {}, label: 'c1', ...over };
}

const k8s = (ns: string, pod: string, name: string) => container({ pod: { namespace: ns, name: pod }, containerName: name, label: `${ns}/${pod}/${name}` });

function withDir(files: Record<string, string>): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'moat-agent-policies-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('metadata: policy=NAME among other pairs, or a bare name', (t) => {
  t.is(metadataPolicyName('policy=web'), 'web');
  t.is(metadataPolicyName('MKNOD=/dev/null;policy=web;X=1'), 'web');
  t.is(metadataPolicyName('web'), 'web');
  t.is(metadataPolicyName('MKNOD=/dev/null'), undefined);
  t.is(metadataPolicyName(''), undefined);
  t.is(metadataPolicyName(undefined), undefined);
});

test('selection order: metadata, NS_POD_CONTAINER, NS_POD, NS, default', (t) => {
  const { dir, done } = withDir({
    'web.yaml': 'default: deny\nallow:\n  - host: 10.0.0.1\n',
    'shop_cart_app.yaml': 'default: deny\n',
    'shop_cart.yml': 'default: allow\n',
    'shop.json': '{"default": "allow", "inbound": "allow"}',
    'default.yaml': 'default: deny\ninbound: allow\n',
  });
  try {
    const p = new PolicyDirectory(dir);
    t.is(p.select(container({ metadata: 'policy=web' })).name, 'web');
    t.is(p.select(container({ metadata: 'policy=web' })).policy.allow.length, 1);
    t.is(p.select(k8s('shop', 'cart', 'app')).name, 'shop_cart_app');
    t.is(p.select(k8s('shop', 'cart', 'sidecar')).name, 'shop_cart');
    t.is(p.select(k8s('shop', 'other', 'x')).name, 'shop');
    t.is(p.select(k8s('shop', 'other', 'x')).policy.inbound, 'allow');
    t.is(p.select(k8s('dev', 'a', 'b')).name, 'default');
    t.is(p.select(container()).name, 'default');
    t.is(p.select(container()).why, 'default');
    // Metadata wins over annotations.
    t.is(p.select({ ...k8s('shop', 'cart', 'app'), metadata: 'web' }).name, 'web');
  } finally {
    done();
  }
});

test('fail closed: a missing named policy, an invalid file, no default -> deny-all', (t) => {
  const { dir, done } = withDir({ 'shop_cart.yaml': 'default: maybe\n', 'shop.yaml': 'default: allow\n' });
  try {
    const lines: string[] = [];
    const p = new PolicyDirectory(dir, (l) => lines.push(l));
    const missing = p.select(container({ metadata: 'policy=nope' }));
    t.is(missing.name, '(deny-all)');
    t.is(missing.policy.default, 'deny');
    t.is(missing.policy.inbound, 'deny');
    t.regex(missing.why, /does not exist/);
    // The pod's own file is broken: its containers do NOT fall through to the namespace's allow.
    const broken = p.select(k8s('shop', 'cart', 'app'));
    t.is(broken.name, '(deny-all)');
    t.regex(broken.why, /invalid/);
    t.true(lines.some((l) => l.includes('shop_cart.yaml')));
    t.is(p.select(container()).name, '(deny-all)');
    // Names that could escape the directory are refused.
    t.is(p.select(container({ metadata: 'policy=../etc/passwd' })).name, '(deny-all)');
  } finally {
    done();
  }
});

test('no directory at all: every container gets deny-all', (t) => {
  const p = new PolicyDirectory(undefined);
  t.is(p.select(container()).name, '(deny-all)');
});

test('the directory is watched: a new and a removed file change the selection', async (t) => {
  const { dir, done } = withDir({});
  const p = new PolicyDirectory(dir);
  try {
    p.watch(20);
    t.is(p.select(container()).name, '(deny-all)');
    const gen = p.generation;
    writeFileSync(join(dir, 'default.yaml'), 'default: allow\n');
    for (let i = 0; i < 200 && p.generation === gen; i++) await new Promise((r) => setTimeout(r, 25));
    t.is(p.select(container()).name, 'default');
    const gen2 = p.generation;
    unlinkSync(join(dir, 'default.yaml'));
    for (let i = 0; i < 200 && p.generation === gen2; i++) await new Promise((r) => setTimeout(r, 25));
    t.is(p.select(container()).name, '(deny-all)');
  } finally {
    p.close();
    done();
  }
});
