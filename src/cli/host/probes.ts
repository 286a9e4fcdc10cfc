// Client-side probes over a moat stack, as promises: ping (ICMP/ICMPv6 echo through ping
// endpoints), one DNS question over UDP, a UDP round trip, and an HTTP/1.1 GET or POST over TCP.
// Used by the demo, the interop tests and the benchmark. Read first: RFC 792 / RFC 4443 §4
// (echo), RFC 1035 §4.2.1 (DNS over UDP), RFC 9112 (HTTP/1.1 messages).

import type { Stack } from '../../netstack/stack.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import { isNetError, type NetError } from '../../netstack/errors.js';
import type { TcpEndpoint, TcpInfo, TcpProtocol } from '../../netstack/tcp/index.js';
import { buildDnsQuery, encodeDns, parseDns, DnsType, type DnsMessage } from '../../netstack/wire/dns.js';
import { Conn } from './conn.js';

export class ProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

function withTimeout<T>(what: string, ms: number, run: (ok: (v: T) => void, fail: (e: Error) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup: () => void = () => {};
    const timer = setTimeout(() => {
      cleanup();
      reject(new ProbeError(`${what}: no answer within ${ms} ms`));
    }, ms);
    cleanup = run(
      (v) => {
        clearTimeout(timer);
        cleanup();
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        cleanup();
        reject(e);
      },
    );
  });
}

export interface PingResult {
  rttMs: number;
  /** ICMP payload bytes echoed (the request's data length). */
  bytes: number;
  ttl: number;
}

/** One echo request with `size` data bytes (above the MTU it goes out fragmented); resolves with the reply. */
export function ping(stack: Stack, dst: IpAddr, size = 56, timeoutMs = 3000, seq = 1): Promise<PingResult> {
  const proto = dst.family === 4 ? stack.echo4 : stack.echo6;
  const ep = proto.endpoint();
  const msg = new Uint8Array(8 + size);
  msg[0] = dst.family === 4 ? 8 : 128;
  msg[6] = seq >>> 8;
  msg[7] = seq & 0xff;
  for (let i = 0; i < size; i++) msg[8 + i] = (i * 31 + 7) & 0xff;
  return withTimeout<PingResult>(`ping ${dst} (${size} bytes)`, timeoutMs, (ok, fail) => {
    const start = performance.now();
    ep.onReadable = () => {
      for (let d = ep.recv(); !isNetError(d); d = ep.recv()) {
        const r = d.data;
        const seqOk = r.length >= 8 && ((r[6] << 8) | r[7]) === seq;
        const same = r.length === msg.length && r.subarray(8).every((b, i) => b === msg[8 + i]);
        if (seqOk && same) return ok({ rttMs: performance.now() - start, bytes: size, ttl: d.ttl });
      }
    };
    ep.onError = () => {
      const e = ep.takeError();
      if (e) fail(new ProbeError(`ping ${dst}: ${e}`));
    };
    const sent = ep.send(msg, dst);
    if (isNetError(sent)) fail(new ProbeError(`ping ${dst}: ${sent}`));
    return () => ep.close();
  });
}

/** Sends one datagram and resolves with the first one that comes back from the same address and port. */
export function udpRoundTrip(stack: Stack, dst: IpAddr, port: number, data: Uint8Array, timeoutMs = 3000): Promise<Uint8Array> {
  const ep = stack.udp.endpoint(dst.family);
  return withTimeout<Uint8Array>(`UDP ${dst} port ${port}`, timeoutMs, (ok, fail) => {
    const c = ep.connect(dst, port);
    if (c) {
      fail(new ProbeError(`UDP connect ${dst} port ${port}: ${c}`));
      return () => ep.close();
    }
    ep.onReadable = () => {
      const d = ep.recv();
      if (!isNetError(d)) ok(d.data.slice());
    };
    ep.onError = () => {
      const e = ep.takeError();
      if (e) fail(new ProbeError(`UDP ${dst} port ${port}: ${e}`));
    };
    const s = ep.send(data);
    if (isNetError(s)) fail(new ProbeError(`UDP send to ${dst} port ${port}: ${s}`));
    return () => ep.close();
  });
}

/** Asks `server` (port 53) one question; resolves with the parsed answer message. */
export async function dnsQuery(stack: Stack, server: IpAddr, name: string, type: number = DnsType.A, timeoutMs = 3000): Promise<DnsMessage> {
  const id = (stack.rng.u32() & 0xffff) >>> 0;
  const q = encodeDns(buildDnsQuery({ id, name, type }));
  if (!(q instanceof Uint8Array)) throw new ProbeError(`cannot encode a query for ${name}: ${JSON.stringify(q)}`);
  const raw = await udpRoundTrip(stack, server, 53, q, timeoutMs);
  const m = parseDns(raw);
  if (typeof m !== 'object' || !('questions' in m)) throw new ProbeError(`malformed DNS answer from ${server}: ${JSON.stringify(m)}`);
  if (m.id !== id) throw new ProbeError(`DNS answer id ${m.id} does not match the query's ${id}`);
  return m;
}

/** The addresses of type A/AAAA in an answer. */
export function dnsAddresses(m: DnsMessage): IpAddr[] {
  const out: IpAddr[] = [];
  for (const r of m.answers) {
    const d = r.data as { kind?: string; address?: IpAddr };
    if (d && d.address instanceof IpAddr) out.push(d.address);
  }
  return out;
}

export interface HttpResponse {
  statusLine: string;
  status: number;
  headers: Map<string, string>;
  /** The body, or only its length and digest when `keepBody` was false. */
  body: Uint8Array;
  bodyBytes: number;
  /** tcpInfo() just before the connection was closed. */
  info: TcpInfo;
  connectMs: number;
  totalMs: number;
}

export interface HttpRequestOptions {
  method?: string;
  path?: string;
  host?: string;
  /** Request body source (sent with Content-Length: bodyLength). */
  body?: () => Uint8Array | null;
  bodyLength?: number;
  /** Keep the response body (default true); else only count it and feed `onBody`. */
  keepBody?: boolean;
  onBody?: (chunk: Uint8Array) => void;
  timeoutMs?: number;
}

const utf8 = new TextEncoder();
const latin1 = new TextDecoder('latin1');

/** One HTTP/1.1 request with `Connection: close` over a new moat TCP connection. */
export function httpRequest(tcp: TcpProtocol, dst: IpAddr, port: number, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const method = opts.method ?? 'GET';
  const path = opts.path ?? '/';
  const host = opts.host ?? (dst.family === 6 ? `[${dst}]` : `${dst}`);
  const keep = opts.keepBody ?? true;
  const ep: TcpEndpoint = tcp.endpoint();
  return withTimeout<HttpResponse>(`HTTP ${method} ${host}:${port}${path}`, opts.timeoutMs ?? 10_000, (ok, fail) => {
    const start = performance.now();
    let connectMs = 0;
    let head: Uint8Array = new Uint8Array(0);
    let parsed: { statusLine: string; status: number; headers: Map<string, string> } | null = null;
    let length = -1;
    const chunks: Uint8Array[] = [];
    let got = 0;
    let done = false;
    const finish = () => {
      if (done || !parsed) return;
      done = true;
      const info = ep.tcpInfo();
      conn.destroy();
      const body = keep ? Buffer.concat(chunks) : new Uint8Array(0);
      ok({ ...parsed, body, bodyBytes: got, info, connectMs, totalMs: performance.now() - start });
    };
    const onBody = (b: Uint8Array) => {
      got += b.length;
      if (keep) chunks.push(b.slice());
      opts.onBody?.(b);
      if (length >= 0 && got >= length) finish();
    };
    const conn = new Conn(ep, {
      data: (d) => {
        if (parsed) return onBody(d);
        const all = head.length ? Buffer.concat([head, d]) : d;
        const end = Buffer.from(all.buffer, all.byteOffset, all.length).indexOf('\r\n\r\n');
        if (end < 0) {
          head = all.slice();
          if (head.length > 65536) fail(new ProbeError('response head too long'));
          return;
        }
        const lines = latin1.decode(all.subarray(0, end)).split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
        if (!m) return fail(new ProbeError(`not an HTTP response: ${JSON.stringify(lines[0])}`));
        const headers = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
        }
        parsed = { statusLine: lines[0], status: Number(m[1]), headers };
        const cl = headers.get('content-length');
        length = method === 'HEAD' || parsed.status === 204 || parsed.status === 304 ? 0 : cl !== undefined ? Number(cl) : -1;
        const rest = all.subarray(end + 4);
        if (rest.length) onBody(rest);
        else if (length === 0) finish();
      },
      end: () => {
        if (!parsed) return fail(new ProbeError('connection closed before a response'));
        if (length >= 0 && got < length) return fail(new ProbeError(`connection closed after ${got} of ${length} body bytes`));
        finish();
      },
      error: (code: NetError) => fail(new ProbeError(`HTTP ${host}:${port}: ${code}`)),
    });
    let req = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: moat\r\nAccept: */*\r\nConnection: close\r\n`;
    if (opts.body) req += `Content-Length: ${opts.bodyLength ?? 0}\r\n`;
    req += '\r\n';
    ep.on({
      ...ep.handler,
      onConnected: () => {
        connectMs = performance.now() - start;
        conn.write(utf8.encode(req));
        if (opts.body) conn.pipeFrom(opts.body);
      },
    });
    const r = ep.connect(dst, port);
    if (r) fail(new ProbeError(`connect ${host}:${port}: ${r}`));
    return () => {
      if (!done) conn.destroy();
    };
  });
}
