// The container process state a runtime sends (OCI runtime spec, config-linux.md "The Container
// Process State"): what is accepted, and every way it is rejected without throwing.

import test from 'ava';
import { parseContainerState } from '../../src/kernel/agent/state.js';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

// The spec's own example, plus the CRI annotations containerd adds.
const specExample = {
  ociVersion: '1.0.2',
  fds: ['seccompFd'],
  pid: 4422,
  metadata: 'MKNOD=/dev/null,/dev/net/tun;BPF_MAP_TYPES=hash,array',
  state: { ociVersion: '1.0.2', id: 'oci-container1', status: 'creating', pid: 4422, bundle: '/containers/redis', annotations: { myKey: 'myValue' } },
};

test('the runtime spec example is accepted: id, pids, bundle, metadata, annotations', (t) => {
  const r = parseContainerState(enc(specExample), 1);
  if (!r.ok) return t.fail(r.reason);
  t.is(r.seccompIndex, 0);
  t.is(r.container.id, 'oci-container1');
  t.is(r.container.pid, 4422);
  t.is(r.container.initPid, 4422);
  t.is(r.container.bundle, '/containers/redis');
  t.is(r.container.metadata, specExample.metadata);
  t.deepEqual(r.container.annotations, { myKey: 'myValue' });
  t.is(r.container.pod, undefined);
  t.is(r.container.label, 'oci-container1');
});

test('CRI annotations name the pod and container (containerd and CRI-O spellings)', (t) => {
  const containerd = {
    ...specExample,
    state: {
      ...specExample.state,
      annotations: { 'io.kubernetes.cri.sandbox-namespace': 'shop', 'io.kubernetes.cri.sandbox-name': 'cart-7d9', 'io.kubernetes.cri.container-name': 'app' },
    },
  };
  const a = parseContainerState(enc(containerd), 1);
  if (!a.ok) return t.fail(a.reason);
  t.deepEqual(a.container.pod, { namespace: 'shop', name: 'cart-7d9' });
  t.is(a.container.containerName, 'app');
  t.is(a.container.label, 'shop/cart-7d9/app');
  const crio = { ...specExample, state: { ...specExample.state, annotations: { 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.pod.name': 'p', 'io.kubernetes.container.name': 'c' } } };
  const b = parseContainerState(enc(crio), 1);
  if (!b.ok) return t.fail(b.reason);
  t.is(b.container.label, 'ns/p/c');
});

test('runc exec: the top-level pid is the exec process, state.pid the init', (t) => {
  const r = parseContainerState(enc({ ...specExample, pid: 5000, state: { ...specExample.state, status: 'running' } }), 1);
  if (!r.ok) return t.fail(r.reason);
  t.is(r.container.pid, 5000);
  t.is(r.container.initPid, 4422);
});

test('seccompFd need not be first: its index among the fds is reported', (t) => {
  const r = parseContainerState(enc({ ...specExample, fds: ['other', 'seccompFd'] }), 2);
  t.true(r.ok);
  if (r.ok) t.is(r.seccompIndex, 1);
});

const rejections: [string, unknown, number, string][] = [
  ['not JSON', '{"ociVersion": ', 1, 'not-json'],
  ['invalid UTF-8', '\u0000', 1, 'not-json'],
  ['an array', [], 1, 'not-an-object'],
  ['null', 'null', 1, 'not-an-object'],
  ['no ociVersion', { ...specExample, ociVersion: undefined }, 1, 'bad-ociVersion'],
  ['pid a string', { ...specExample, pid: '4422' }, 1, 'bad-pid'],
  ['pid zero', { ...specExample, pid: 0 }, 1, 'bad-pid'],
  ['pid negative', { ...specExample, pid: -1 }, 1, 'bad-pid'],
  ['pid fractional', { ...specExample, pid: 1.5 }, 1, 'bad-pid'],
  ['fds not an array', { ...specExample, fds: 'seccompFd' }, 1, 'bad-fds'],
  ['fds with a number', { ...specExample, fds: [3] }, 1, 'bad-fds'],
  ['two names, one fd', { ...specExample, fds: ['seccompFd', 'x'] }, 1, 'fd-count-mismatch'],
  ['one name, no fd', specExample, 0, 'fd-count-mismatch'],
  ['one name, two fds', specExample, 2, 'fd-count-mismatch'],
  ['no seccompFd', { ...specExample, fds: ['notify'] }, 1, 'no-seccompFd'],
  ['seccompFd twice', { ...specExample, fds: ['seccompFd', 'seccompFd'] }, 2, 'no-seccompFd'],
  ['metadata a number', { ...specExample, metadata: 7 }, 1, 'bad-metadata'],
  ['metadata with a newline', { ...specExample, metadata: 'a\nb' }, 1, 'bad-metadata'],
  ['no state', { ...specExample, state: undefined }, 1, 'bad-state'],
  ['state an array', { ...specExample, state: [] }, 1, 'bad-state'],
  ['empty id', { ...specExample, state: { ...specExample.state, id: '' } }, 1, 'bad-state-id'],
  ['id with control characters', { ...specExample, state: { ...specExample.state, id: 'a\u001b[2Jb' } }, 1, 'bad-state-id'],
  ['id too long', { ...specExample, state: { ...specExample.state, id: 'x'.repeat(2000) } }, 1, 'bad-state-id'],
  ['status missing', { ...specExample, state: { ...specExample.state, status: undefined } }, 1, 'bad-state'],
  ['state.pid a string', { ...specExample, state: { ...specExample.state, pid: 'x' } }, 1, 'bad-state'],
  ['annotations an array', { ...specExample, state: { ...specExample.state, annotations: ['a'] } }, 1, 'bad-annotations'],
  ['annotation value a number', { ...specExample, state: { ...specExample.state, annotations: { a: 1 } } }, 1, 'bad-annotations'],
];

for (const [title, doc, fds, reason] of rejections) {
  test(`rejected without throwing: ${title} -> ${reason}`, (t) => {
    const r = parseContainerState(typeof doc === 'string' ? new TextEncoder().encode(doc) : enc(doc), fds);
    t.false(r.ok);
    if (!r.ok) t.is(r.reason as string, reason);
  });
}

test('random bytes never throw', (t) => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 2000; i++) {
    const len = rnd() % 64;
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rnd();
    // A JSON-looking prefix so some inputs get past the parser.
    const doc = i % 2 ? b : new TextEncoder().encode(`{"ociVersion":"1","pid":1,"fds":["seccompFd"],"state":${String.fromCharCode(...b)}}`);
    t.notThrows(() => parseContainerState(doc, i % 3));
  }
});
