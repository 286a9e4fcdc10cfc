// The YAML subset and JSON readers: structure, scalars, positions, and errors with line numbers.

import test from 'ava';
import { YamlError, parseYaml, toPlain } from '../../../src/kernel/policy/yaml.js';

const DOC = `---
# a comment
default: deny   # trailing comment
count: 42
ratio: 1.5
enabled: true
nothing: ~
"quoted key": 'it''s'
url: "http://x/#not-a-comment"
allow:
  - host: example.com
    ports: [443, "8000-8080"]
  - host: "*.github.com"
  -   cidr: 10.0.0.0/8
  - plain item
  -
    nested: yes
deny:
- cidr: fd00::/8
empty:
limits:
  maxConnections: 10
`;

test('mappings, sequences (both indent styles), "- key:" items, flow sequences, scalars, comments', (t) => {
  t.deepEqual(toPlain(parseYaml(DOC)), {
    default: 'deny',
    count: 42,
    ratio: 1.5,
    enabled: true,
    nothing: null,
    'quoted key': "it's",
    url: 'http://x/#not-a-comment',
    allow: [{ host: 'example.com', ports: [443, '8000-8080'] }, { host: '*.github.com' }, { cidr: '10.0.0.0/8' }, 'plain item', { nested: 'yes' }],
    deny: [{ cidr: 'fd00::/8' }],
    empty: null,
    limits: { maxConnections: 10 },
  });
});

test('nodes keep their line numbers', (t) => {
  const root = parseYaml(DOC)!;
  if (root.kind !== 'map') return t.fail();
  const allow = root.entries.get('allow')!;
  t.is(allow.keyLine, 10);
  if (allow.value.kind !== 'seq') return t.fail();
  t.is(allow.value.items[1].line, 13);
  const first = allow.value.items[0];
  if (first.kind !== 'map') return t.fail();
  t.is(first.entries.get('ports')!.keyLine, 12);
  t.is(first.entries.get('ports')!.keyCol, 5);
});

test('JSON gives the same tree, with positions', (t) => {
  const json = '{\n  "default": "deny",\n  "allow": [ { "host": "example.com", "ports": [443] } ],\n  "n": null, "b": false, "x": -1.5e2\n}';
  t.deepEqual(toPlain(parseYaml(json)), { default: 'deny', allow: [{ host: 'example.com', ports: [443] }], n: null, b: false, x: -150 });
  const root = parseYaml(json)!;
  if (root.kind !== 'map') return t.fail();
  t.is(root.entries.get('allow')!.keyLine, 3);
});

test('empty documents are null', (t) => {
  t.is(parseYaml(''), null);
  t.is(parseYaml('# only a comment\n\n---\n'), null);
});

test('errors carry line and column', (t) => {
  const cases: [string, number, RegExp][] = [
    ['a: 1\n\tb: 2\n', 2, /tab/],
    ['a: 1\na: 2\n', 2, /duplicate key "a"/],
    ['a:\n  b: 1\n    c: 2\n', 3, /indentation/],
    ['a: {b: 1}\n', 1, /flow mappings/],
    ['a: "open\n', 1, /unterminated/],
    ['a: [1, 2\n', 1, /unterminated \[/],
    ['a: &x 1\n', 1, /anchors/],
    ['a: |\n  text\n', 1, /multi-line/],
    ['a: 1\nnot a mapping line\n', 2, /key: value/],
    ['a: 1\n---\nb: 2\n', 2, /one document/],
    ['a: "x" y\n', 1, /text after a quoted string/],
    ['{"a": 1,\n "a": 2}', 2, /duplicate key/],
    ['{"a": 1\n', 2, /expected , or \}/],
    ['{"a": tru}', 1, /unexpected/],
  ];
  for (const [text, line, re] of cases) {
    const e = t.throws(() => parseYaml(text), { instanceOf: YamlError }, text);
    if (!e) continue;
    t.is(e.line, line, text);
    t.regex(e.message, re, text);
  }
});

test('mangled documents fail only with YamlError, never another exception', async (t) => {
  const { SeededRng } = await import('../../../src/netstack/random.js');
  const { parsePolicy, PolicyError } = await import('../../../src/kernel/policy/policy.js');
  const rng = new SeededRng(5);
  const alphabet = ' -:[]#"\'\n\t0123456789abc,{}&|*.';
  for (let i = 0; i < 2000; i++) {
    const chars = DOC.split('');
    for (let k = 0; k < 1 + (rng.u32() % 4); k++) {
      const at = rng.u32() % chars.length;
      if (rng.u32() & 1) chars.splice(at, 1);
      else chars.splice(at, 0, alphabet[rng.u32() % alphabet.length]);
    }
    const text = chars.join('');
    try {
      parseYaml(text);
    } catch (err) {
      if (!(err instanceof YamlError)) return t.fail(`${String(err)} for ${JSON.stringify(text)}`);
    }
    try {
      parsePolicy(text);
    } catch (err) {
      if (!(err instanceof PolicyError)) return t.fail(`${String(err)} for ${JSON.stringify(text)}`);
    }
  }
  t.pass();
});
