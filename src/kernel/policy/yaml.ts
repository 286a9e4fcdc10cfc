// A small, strict YAML subset (and JSON) reader for policy files, keeping line and column of
// every node so validation errors can say where. Supported YAML (a subset of YAML 1.2 §§6-8):
// block mappings and sequences by indentation (spaces only), "- key: v" mappings inside
// sequences, flow sequences of scalars ([a, "b", 3]), plain/single-/double-quoted scalars,
// comments (#), an optional leading "---". Not supported, and reported as errors rather than
// misread: tabs in indentation, anchors/aliases/tags, flow mappings, multi-line scalars
// (| and >), multiple documents, duplicate keys. JSON files (first character "{" or "[") go
// through a JSON reader with the same node type.

export type YamlScalar = string | number | boolean | null;

export type YamlNode =
  | { kind: 'scalar'; value: YamlScalar; line: number; col: number; quoted: boolean }
  | { kind: 'seq'; items: YamlNode[]; line: number; col: number }
  | { kind: 'map'; entries: Map<string, { keyLine: number; keyCol: number; value: YamlNode }>; line: number; col: number };

export class YamlError extends Error {
  override name = 'YamlError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(`line ${line}${col ? ` column ${col}` : ''}: ${reason}`);
  }
}

interface Line {
  no: number;
  indent: number;
  text: string;
}

/** Removes a trailing comment: '#' at the start or after whitespace, outside quotes. */
function stripComment(s: string, no: number): string {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'") {
      // A quote only opens a quoted scalar at the start of a value.
      const prev = s.slice(0, i).trimEnd();
      if (prev === '' || prev.endsWith(':') || prev.endsWith('-') || prev.endsWith('[') || prev.endsWith(',')) q = c;
    } else if (c === '#' && (i === 0 || s[i - 1] === ' ')) return s.slice(0, i).trimEnd();
  }
  if (q) throw new YamlError(`unterminated ${q === '"' ? 'double' : 'single'}-quoted string`, no, s.indexOf(q) + 1);
  return s.trimEnd();
}

export function parseYaml(text: string): YamlNode | null {
  const t = text.replace(/^\uFEFF/, '');
  const first = t.trimStart()[0];
  if (first === '{' || first === '[') return parseJsonNodes(t);
  const lines: Line[] = [];
  const raw = t.split('\n');
  let started = false;
  for (let i = 0; i < raw.length; i++) {
    const no = i + 1;
    const r = raw[i].replace(/\r$/, '');
    const lead = /^[ \t]*/.exec(r)![0];
    if (lead.includes('\t') && r.trim() !== '') throw new YamlError('tab in indentation (use spaces)', no, lead.indexOf('\t') + 1);
    const s = stripComment(r, no);
    if (s.trim() === '') continue;
    if (s === '---') {
      if (started) throw new YamlError('only one document per file', no, 1);
      started = true;
      continue;
    }
    if (s === '...') break;
    started = true;
    lines.push({ no, indent: lead.length, text: s.slice(lead.length) });
  }
  if (!lines.length) return null;
  const p = new BlockParser(lines);
  const node = p.block(lines[0].indent);
  if (p.i < lines.length) {
    const l = lines[p.i];
    throw new YamlError('unexpected indentation', l.no, l.indent + 1);
  }
  return node;
}

class BlockParser {
  i = 0;
  constructor(private readonly lines: Line[]) {}

  block(indent: number): YamlNode {
    const l = this.lines[this.i];
    if (isSeqItem(l.text)) return this.seq(indent);
    return this.map(indent);
  }

  private seq(indent: number): YamlNode {
    const first = this.lines[this.i];
    const items: YamlNode[] = [];
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      if (l.indent !== indent || !isSeqItem(l.text)) break;
      const rest = l.text.slice(1).replace(/^ +/, '');
      const restCol = l.indent + (l.text.length - rest.length);
      if (rest === '') {
        this.i++;
        const n = this.lines[this.i];
        if (n && n.indent > indent) items.push(this.block(n.indent));
        else items.push({ kind: 'scalar', value: null, line: l.no, col: l.indent + 1, quoted: false });
      } else if (isSeqItem(rest) || splitKey(rest, l.no, restCol + 1) !== null) {
        // "- key: value" (or "- - x"): the rest opens a block at its own column.
        this.lines[this.i] = { no: l.no, indent: restCol, text: rest };
        items.push(this.block(restCol));
      } else {
        this.i++;
        items.push(valueNode(rest, l.no, restCol + 1));
      }
    }
    return { kind: 'seq', items, line: first.no, col: first.indent + 1 };
  }

  private map(indent: number): YamlNode {
    const first = this.lines[this.i];
    const entries = new Map<string, { keyLine: number; keyCol: number; value: YamlNode }>();
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      if (l.indent < indent) break;
      if (l.indent > indent) throw new YamlError('unexpected indentation', l.no, l.indent + 1);
      if (isSeqItem(l.text)) break;
      const kv = splitKey(l.text, l.no, l.indent + 1);
      if (!kv) throw new YamlError(`expected "key: value"`, l.no, l.indent + 1);
      const [key, value, valueCol] = kv;
      if (entries.has(key)) throw new YamlError(`duplicate key "${key}"`, l.no, l.indent + 1);
      this.i++;
      let node: YamlNode;
      if (value === '') {
        const n = this.lines[this.i];
        if (n && n.indent > indent) node = this.block(n.indent);
        else if (n && n.indent === indent && isSeqItem(n.text)) node = this.seq(indent);
        else node = { kind: 'scalar', value: null, line: l.no, col: valueCol, quoted: false };
      } else node = valueNode(value, l.no, valueCol);
      entries.set(key, { keyLine: l.no, keyCol: l.indent + 1, value: node });
    }
    return { kind: 'map', entries, line: first.no, col: first.indent + 1 };
  }
}

function isSeqItem(s: string): boolean {
  return s === '-' || s.startsWith('- ');
}

/** "key: value" -> [key, value, column of value]; null when the text is not a mapping entry. */
function splitKey(s: string, no: number, col: number): [string, string, number] | null {
  let key: string;
  let rest: string;
  if (s[0] === '"' || s[0] === "'") {
    const end = findQuoteEnd(s, 0);
    if (end < 0) return null;
    key = unquote(s.slice(0, end + 1), no, col);
    rest = s.slice(end + 1);
    if (!rest.startsWith(':')) return null;
    rest = rest.slice(1);
  } else {
    const m = /^([^\s:#\[\]{},"'][^:#]*?):(?: |$)/.exec(s);
    if (!m) return null;
    key = m[1].trimEnd();
    rest = s.slice(m[1].length + 1);
  }
  const value = rest.trimStart();
  return [key, value, col + (s.length - value.length)];
}

function findQuoteEnd(s: string, start: number): number {
  const q = s[start];
  for (let i = start + 1; i < s.length; i++) {
    if (q === '"' && s[i] === '\\') i++;
    else if (s[i] === q) {
      if (q === "'" && s[i + 1] === "'") {
        i++;
        continue;
      }
      return i;
    }
  }
  return -1;
}

function unquote(s: string, no: number, col: number): string {
  if (s[0] === "'") return s.slice(1, -1).replace(/''/g, "'");
  let out = '';
  for (let i = 1; i < s.length - 1; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++i];
    const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', '0': '\0' };
    if (e in map) out += map[e];
    else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16));
      i += 4;
    } else throw new YamlError(`unknown escape \\${e}`, no, col + i - 1);
  }
  return out;
}

function valueNode(v: string, no: number, col: number): YamlNode {
  if (v[0] === '[') return flowSeq(v, no, col);
  if (v[0] === '{') throw new YamlError('flow mappings ({...}) are not supported: use an indented block', no, col);
  if (v[0] === '&' || v[0] === '*' || v[0] === '!') throw new YamlError('anchors, aliases and tags are not supported', no, col);
  if (v[0] === '|' || v[0] === '>') throw new YamlError('multi-line scalars are not supported', no, col);
  return scalarNode(v, no, col);
}

function scalarNode(v: string, no: number, col: number): YamlNode {
  if (v[0] === '"' || v[0] === "'") {
    const end = findQuoteEnd(v, 0);
    if (end !== v.length - 1) throw new YamlError('text after a quoted string', no, col + Math.max(end, 0) + 1);
    return { kind: 'scalar', value: unquote(v, no, col), line: no, col, quoted: true };
  }
  let value: YamlScalar = v;
  if (v === '~' || v === 'null' || v === 'Null' || v === 'NULL') value = null;
  else if (v === 'true' || v === 'True' || v === 'TRUE') value = true;
  else if (v === 'false' || v === 'False' || v === 'FALSE') value = false;
  else if (/^[-+]?\d+$/.test(v)) value = Number(v);
  else if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) value = Number(v);
  else if (/: |^- /.test(v)) throw new YamlError('a plain value may not contain ": " (quote it)', no, col);
  return { kind: 'scalar', value, line: no, col, quoted: false };
}

function flowSeq(v: string, no: number, col: number): YamlNode {
  if (!v.endsWith(']')) throw new YamlError('unterminated [ sequence (flow sequences must fit on one line)', no, col);
  const items: YamlNode[] = [];
  const body = v.slice(1, -1);
  let i = 0;
  while (i < body.length) {
    while (body[i] === ' ') i++;
    if (i >= body.length) break;
    let end: number;
    if (body[i] === '"' || body[i] === "'") {
      end = findQuoteEnd(body, i) + 1;
      if (end === 0) throw new YamlError('unterminated quoted string', no, col + 1 + i);
    } else {
      if (body[i] === '[' || body[i] === '{') throw new YamlError('nested flow collections are not supported', no, col + 1 + i);
      end = body.indexOf(',', i);
      if (end < 0) end = body.length;
    }
    const item = body.slice(i, end).trim();
    if (item === '') throw new YamlError('empty item in [ ]', no, col + 1 + i);
    items.push(scalarNode(item, no, col + 1 + i));
    i = end;
    while (body[i] === ' ') i++;
    if (i < body.length) {
      if (body[i] !== ',') throw new YamlError('expected , between items', no, col + 1 + i);
      i++;
    }
  }
  return { kind: 'seq', items, line: no, col };
}

/** JSON (RFC 8259) into the same node type, with positions. */
export function parseJsonNodes(text: string): YamlNode {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const col = () => i - lineStart + 1;
  const fail = (m: string): never => {
    throw new YamlError(m, line, col());
  };
  const ws = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === '\n') {
        line++;
        lineStart = i + 1;
      } else if (c !== ' ' && c !== '\t' && c !== '\r') break;
      i++;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      if (text[i] === '\n') fail('newline in a string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad string escape');
    }
  };
  const value = (): YamlNode => {
    ws();
    const l = line;
    const c = col();
    const ch = text[i];
    if (ch === '{') {
      i++;
      const entries = new Map<string, { keyLine: number; keyCol: number; value: YamlNode }>();
      ws();
      if (text[i] === '}') {
        i++;
        return { kind: 'map', entries, line: l, col: c };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "key"');
        const kl = line;
        const kc = col();
        const k = str();
        if (entries.has(k)) throw new YamlError(`duplicate key "${k}"`, kl, kc);
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        entries.set(k, { keyLine: kl, keyCol: kc, value: value() });
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { kind: 'map', entries, line: l, col: c };
        }
        fail('expected , or }');
      }
    }
    if (ch === '[') {
      i++;
      const items: YamlNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { kind: 'seq', items, line: l, col: c };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { kind: 'seq', items, line: l, col: c };
        }
        fail('expected , or ]');
      }
    }
    if (ch === '"') return { kind: 'scalar', value: str(), line: l, col: c, quoted: true };
    const m = /^(true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(text.slice(i, i + 64));
    if (!m) return fail(i >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(ch)}`);
    i += m[1].length;
    const v = m[1] === 'true' ? true : m[1] === 'false' ? false : m[1] === 'null' ? null : Number(m[1]);
    return { kind: 'scalar', value: v, line: l, col: c, quoted: false };
  };
  const root = value();
  ws();
  if (i < text.length) fail('text after the JSON value');
  return root;
}

/** Plain JS value of a node (for tests and debugging). */
export function toPlain(n: YamlNode | null): unknown {
  if (!n) return null;
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(toPlain);
  const o: Record<string, unknown> = {};
  for (const [k, e] of n.entries) o[k] = toPlain(e.value);
  return o;
}
