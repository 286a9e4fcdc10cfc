// moat host's tiny HTTP/1.1 server (RFC 9110 semantics, RFC 9112 message syntax): enough to
// be probed by curl and to carry bulk tests. GET / (a page naming moat), GET /bytes/N (N bytes
// of the deterministic pattern, streamed), HEAD for both, POST or PUT /sha256 (the digest of
// the uploaded body, Content-Length or chunked, RFC 9112 §7.1), persistent connections (RFC
// 9112 §9.3), Expect: 100-continue (RFC 9110 §10.1.1), 404/405/400/501.

import { createHash, type Hash } from 'node:crypto';
import { Conn } from './conn.js';
import { patternSource } from './pattern.js';
import { concatBytes } from '../../netstack/wire/bytes.js';

const MAX_HEAD = 16 * 1024;
const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const utf8 = new TextEncoder();
const latin1 = new TextDecoder('latin1');

export interface HttpStats {
  connections: number;
  requests: number;
  /** Responses by status code. */
  status: Record<number, number>;
  bodyBytesIn: number;
  bodyBytesOut: number;
}

export function newHttpStats(): HttpStats {
  return { connections: 0, requests: 0, status: {}, bodyBytesIn: 0, bodyBytesOut: 0 };
}

export const HOME_PAGE =
  '<!doctype html>\n<html><head><title>moat</title></head><body>\n' +
  '<h1>moat</h1>\n<p>This page was served by moat\'s own TCP/IP stack, written in TypeScript, ' +
  'speaking raw Ethernet frames.</p>\n<p>Try <code>/bytes/N</code> or <code>POST /sha256</code>.</p>\n</body></html>\n';

interface Request {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  headers: Map<string, string>;
}

type BodyMode = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' };
type ChunkState = 'size' | 'data' | 'data-crlf' | 'trailer';

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function indexOfCrlf(b: Uint8Array, from = 0): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/** RFC 9112 §3 and §5: request line and header fields; null when malformed. */
export function parseRequestHead(text: string): Request | null {
  const lines = text.split('\r\n');
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    // §5.1: no whitespace between the field name and the colon; obsolete folding refused.
    if (c <= 0 || /[\s]/.test(line.slice(0, c))) return null;
    const name = line.slice(0, c).toLowerCase();
    const value = line.slice(c + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { method: m[1], target: m[2], version: m[3] === '1' ? '1.1' : '1.0', headers };
}

/** Serves one connection. */
export class HttpConnection {
  private buf: Uint8Array = new Uint8Array(0);
  private req: Request | null = null;
  private body: BodyMode = { kind: 'none' };
  private chunk: ChunkState = 'size';
  private chunkLeft = 0;
  private hash: Hash | null = null;
  private bodyBytes = 0;
  private responding = false;
  private closing = false;
  private inInput = false;
  private readonly conn: Conn;

  constructor(
    ep: ConstructorParameters<typeof Conn>[0],
    private readonly stats: HttpStats,
    onGone?: () => void,
  ) {
    stats.connections++;
    this.conn = new Conn(
      ep,
      {
        data: (d) => this.input(d),
        end: () => {
          // The client half-closed: finish what is in progress, then close our side too.
          this.closing = true;
          if (!this.responding) this.conn.closeAfterWrites();
        },
      },
      () => onGone?.(),
    );
  }

  destroy(): void {
    this.conn.destroy();
  }

  private input(d: Uint8Array): void {
    this.inInput = true;
    try {
      this.parse(d);
    } finally {
      this.inInput = false;
    }
  }

  private parse(d: Uint8Array): void {
    const work = this.buf.length ? concatBytes([this.buf, d]) : d;
    let off = 0;
    while (off < work.length && this.conn.alive && !this.responding) {
      const used = this.req ? this.bodyInput(work.subarray(off)) : this.headInput(work.subarray(off));
      if (used < 0) return;
      if (used === 0) break;
      off += used;
    }
    // Keep the rest (a partial head or chunk line, or a pipelined request) as a copy: views die with the call.
    this.buf = off < work.length ? work.slice(off) : new Uint8Array(0);
    if (this.buf.length > MAX_HEAD && !this.req) this.fail(431, 'Request Header Fields Too Large');
    else if (this.responding) this.conn.pause();
  }

  /** Returns bytes consumed (0: need more), or -1 after a fatal error. */
  private headInput(b: Uint8Array): number {
    // Tolerate empty lines before a request (RFC 9112 §2.2).
    let skip = 0;
    while (skip + 1 < b.length && b[skip] === 13 && b[skip + 1] === 10) skip += 2;
    const end = indexOfCrlfCrlf(b.subarray(skip));
    if (end < 0) return skip;
    const req = parseRequestHead(latin1.decode(b.subarray(skip, skip + end)));
    if (!req) {
      this.fail(400, 'Bad Request');
      return -1;
    }
    this.stats.requests++;
    this.req = req;
    const te = req.headers.get('transfer-encoding');
    const cl = req.headers.get('content-length');
    if (te !== undefined) {
      // §6.1: chunked must be the final coding; we know no other.
      if (te.toLowerCase() !== 'chunked') {
        this.fail(501, 'Not Implemented');
        return -1;
      }
      this.body = { kind: 'chunked' };
      this.chunk = 'size';
    } else if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) {
        this.fail(400, 'Bad Request');
        return -1;
      }
      const n = Number(cl);
      this.body = n > 0 ? { kind: 'length', left: n } : { kind: 'none' };
    } else {
      this.body = { kind: 'none' };
    }
    this.bodyBytes = 0;
    this.hash = req.target === '/sha256' && (req.method === 'POST' || req.method === 'PUT') ? createHash('sha256') : null;
    if (this.body.kind !== 'none' && /100-continue/i.test(req.headers.get('expect') ?? '')) {
      this.conn.write(utf8.encode('HTTP/1.1 100 Continue\r\n\r\n'));
    }
    if (this.body.kind === 'none') this.dispatch();
    return skip + end + 4;
  }

  private bodyData(v: Uint8Array): void {
    this.bodyBytes += v.length;
    this.stats.bodyBytesIn += v.length;
    this.hash?.update(v);
  }

  private bodyInput(b: Uint8Array): number {
    const body = this.body;
    if (body.kind === 'length') {
      const n = Math.min(body.left, b.length);
      this.bodyData(b.subarray(0, n));
      body.left -= n;
      if (body.left === 0) this.dispatch();
      return n;
    }
    if (body.kind !== 'chunked') return 0;
    switch (this.chunk) {
      case 'size': {
        const e = indexOfCrlf(b);
        if (e < 0) {
          if (b.length > 1024) this.fail(400, 'Bad Request');
          return b.length > 1024 ? -1 : 0;
        }
        // §7.1: chunk-size [ chunk-ext ] CRLF
        const line = latin1.decode(b.subarray(0, e)).split(';')[0].trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(line)) {
          this.fail(400, 'Bad Request');
          return -1;
        }
        this.chunkLeft = parseInt(line, 16);
        this.chunk = this.chunkLeft === 0 ? 'trailer' : 'data';
        return e + 2;
      }
      case 'data': {
        const n = Math.min(this.chunkLeft, b.length);
        this.bodyData(b.subarray(0, n));
        this.chunkLeft -= n;
        if (this.chunkLeft === 0) this.chunk = 'data-crlf';
        return n;
      }
      case 'data-crlf': {
        if (b.length < 2) return 0;
        if (b[0] !== 13 || b[1] !== 10) {
          this.fail(400, 'Bad Request');
          return -1;
        }
        this.chunk = 'size';
        return 2;
      }
      case 'trailer': {
        // §7.1.2: trailer fields, then an empty line; we ignore the fields.
        const e = indexOfCrlf(b);
        if (e < 0) return 0;
        if (e === 0) {
          this.dispatch();
          return 2;
        }
        return e + 2;
      }
    }
  }

  private keepAlive(req: Request): boolean {
    const c = (req.headers.get('connection') ?? '').toLowerCase();
    if (/\bclose\b/.test(c)) return false;
    return req.version === '1.1' || /\bkeep-alive\b/.test(c);
  }

  private dispatch(): void {
    const req = this.req!;
    const head = req.method === 'HEAD';
    const path = req.target.split('?')[0];
    let bytes: RegExpExecArray | null;
    if (path === '/') {
      if (req.method !== 'GET' && !head) return this.simple(req, 405, 'Method Not Allowed', 'GET, HEAD');
      this.respond(req, 200, 'OK', 'text/html; charset=utf-8', utf8.encode(HOME_PAGE));
    } else if ((bytes = /^\/bytes\/(\d{1,16})$/.exec(path))) {
      if (req.method !== 'GET' && !head) return this.simple(req, 405, 'Method Not Allowed', 'GET, HEAD');
      const n = Number(bytes[1]);
      if (n > MAX_BYTES) return this.simple(req, 400, 'Bad Request');
      this.respondStream(req, 200, 'OK', 'application/octet-stream', n, patternSource(n));
    } else if (path === '/sha256') {
      if (!this.hash) return this.simple(req, 405, 'Method Not Allowed', 'POST, PUT');
      const digest = this.hash.digest('hex');
      this.respond(req, 200, 'OK', 'text/plain', utf8.encode(`${digest}\n`), { 'X-Body-Bytes': String(this.bodyBytes) });
    } else if (['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'].includes(req.method)) {
      this.simple(req, 404, 'Not Found');
    } else {
      this.simple(req, 501, 'Not Implemented');
    }
  }

  private simple(req: Request, code: number, reason: string, allow?: string): void {
    this.respond(req, code, reason, 'text/plain', utf8.encode(`${code} ${reason}\n`), allow ? { Allow: allow } : {});
  }

  private headBytes(req: Request, code: number, reason: string, type: string, length: number, keep: boolean, extra: Record<string, string>): Uint8Array {
    let h = `HTTP/1.1 ${code} ${reason}\r\nServer: moat\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n`;
    for (const [k, v] of Object.entries(extra)) h += `${k}: ${v}\r\n`;
    h += keep ? (req.version === '1.0' ? 'Connection: keep-alive\r\n' : '') : 'Connection: close\r\n';
    this.stats.status[code] = (this.stats.status[code] ?? 0) + 1;
    return utf8.encode(`${h}\r\n`);
  }

  private respond(req: Request, code: number, reason: string, type: string, body: Uint8Array, extra: Record<string, string> = {}): void {
    let n = 0;
    const src = () => (n++ === 0 ? body : null);
    this.respondStream(req, code, reason, type, body.length, src, extra);
  }

  private respondStream(req: Request, code: number, reason: string, type: string, length: number, src: () => Uint8Array | null, extra: Record<string, string> = {}): void {
    const keep = this.keepAlive(req) && !this.closing;
    this.conn.write(this.headBytes(req, code, reason, type, length, keep, extra));
    this.req = null;
    this.hash = null;
    this.body = { kind: 'none' };
    this.responding = true;
    const body = req.method === 'HEAD' ? () => null : src;
    const stats = this.stats;
    const counted = () => {
      const v = body();
      if (v) stats.bodyBytesOut += v.length;
      return v;
    };
    this.conn.pipeFrom(counted, () => {
      this.responding = false;
      if (!keep || this.closing) {
        this.conn.closeAfterWrites();
        return;
      }
      // Finished within parse(): its loop goes on with the next pipelined request.
      if (this.inInput) return;
      // Pipelined requests that arrived meanwhile wait in buf (and in TCP, since we paused).
      const rest = this.buf;
      this.buf = new Uint8Array(0);
      if (rest.length) queueMicrotask(() => this.input(rest));
      this.conn.resume();
    });
  }

  private fail(code: number, reason: string): void {
    this.closing = true;
    this.conn.write(this.headBytes({ method: 'GET', target: '', version: '1.1', headers: new Map() }, code, reason, 'text/plain', reason.length + 1, false, {}));
    this.conn.write(utf8.encode(`${reason}\n`));
    this.conn.closeAfterWrites();
  }
}
