// A dns-module-compatible resolver that asks through the moat stack, never the host's:
// lookup() (getaddrinfo in meaning: literals, localhost, a hosts table, then A/AAAA queries)
// and resolve4/resolve6 (c-ares in meaning), with their promise forms. Queries go over UDP to
// the configured servers (RFC 1035 §4.2.1, 512 bytes without EDNS); a truncated answer (TC)
// is asked again over TCP with the two-byte length prefix (RFC 1035 §4.2.2, RFC 7766 §5).
// Errors have Node's codes: ENOTFOUND (NXDOMAIN), ENODATA, ESERVFAIL, EREFUSED, ETIMEOUT,
// ECONNREFUSED, EBADRESP; lookup's are `getaddrinfo ENOTFOUND name` as Node's.

import { IpAddr } from '../../netstack/wire/ip-address.js';
import { DnsRcode, DnsType, buildDnsQuery, encodeDns, parseDns, type DnsMessage } from '../../netstack/wire/dns.js';
import { UdpSocket } from './dgram.js';
import { Socket } from './socket.js';
import type { NodeHost } from './host.js';

export interface DnsOptions {
  /** Server addresses: 'a.b.c.d', 'a.b.c.d:port', '[v6]:port' or a bare IPv6 address. */
  servers?: string[];
  /** A hosts table consulted by lookup() before any query (name -> addresses). */
  hosts?: Record<string, string | string[]>;
  /** Per-try timeout in ms (default 5000) and tries per server (default 2). */
  timeout?: number;
  tries?: number;
}

export interface LookupOptions {
  family?: 0 | 4 | 6 | 'IPv4' | 'IPv6';
  all?: boolean;
  verbatim?: boolean;
  order?: 'ipv4first' | 'ipv6first' | 'verbatim';
  hints?: number;
}
export interface LookupAddress {
  address: string;
  family: 4 | 6;
}
export interface RecordWithTtl {
  address: string;
  ttl: number;
}

type DnsErr = Error & { code: string; errno?: number; syscall: string; hostname: string };

function dnsErr(code: string, syscall: string, hostname: string): DnsErr {
  const e = new Error(`${syscall} ${code} ${hostname}`) as DnsErr;
  e.code = code;
  e.syscall = syscall;
  e.hostname = hostname;
  return e;
}

/** Node's getaddrinfo ENOTFOUND carries libuv's EAI_NONAME. */
const UV_EAI_NONAME = -3008;

interface Server {
  addr: IpAddr;
  port: number;
}

function parseServer(s: string): Server {
  const m = /^\[(.+)\](?::(\d+))?$/.exec(s);
  if (m) return { addr: IpAddr.parse(m[1]), port: m[2] ? Number(m[2]) : 53 };
  const lit = IpAddr.tryParse(s);
  if (lit) return { addr: lit, port: 53 };
  const i = s.lastIndexOf(':');
  return { addr: IpAddr.parse(s.slice(0, i)), port: Number(s.slice(i + 1)) };
}

export class Resolver {
  private servers: Server[];
  private readonly hosts = new Map<string, LookupAddress[]>();
  private readonly timeoutMs: number;
  private readonly tries: number;
  /** Counters for tests and diagnostics: queries sent over UDP and TCP, truncated answers. */
  readonly stats = { udpQueries: 0, tcpQueries: 0, truncated: 0 };
  readonly promises: {
    lookup: (hostname: string, opts?: LookupOptions | number) => Promise<LookupAddress | LookupAddress[]>;
    resolve4: (hostname: string, opts?: { ttl?: boolean }) => Promise<string[] | RecordWithTtl[]>;
    resolve6: (hostname: string, opts?: { ttl?: boolean }) => Promise<string[] | RecordWithTtl[]>;
  };

  constructor(
    private readonly host: NodeHost,
    opts: DnsOptions = {},
  ) {
    this.servers = (opts.servers ?? []).map(parseServer);
    this.timeoutMs = opts.timeout ?? 5000;
    this.tries = opts.tries ?? 2;
    for (const [name, v] of Object.entries(opts.hosts ?? {})) {
      const list = (Array.isArray(v) ? v : [v]).map((a) => ({ address: a, family: IpAddr.parse(a).family }));
      this.hosts.set(name.toLowerCase(), list);
    }
    this.promises = {
      lookup: (hostname, o) =>
        new Promise((resolve, reject) =>
          this.lookup(hostname, o ?? {}, (err, address, family) => {
            if (err) return reject(err);
            const all = typeof o === 'object' && o?.all;
            resolve(all ? (address as unknown as LookupAddress[]) : { address, family: family! });
          }),
        ),
      resolve4: (h, o) => new Promise((res, rej) => this.resolve4(h, o ?? {}, (e, r) => (e ? rej(e) : res(r!)))),
      resolve6: (h, o) => new Promise((res, rej) => this.resolve6(h, o ?? {}, (e, r) => (e ? rej(e) : res(r!)))),
    };
  }

  setServers(servers: string[]): void {
    this.servers = servers.map(parseServer);
  }
  getServers(): string[] {
    return this.servers.map((s) => (s.port === 53 ? s.addr.toString() : s.addr.family === 6 ? `[${s.addr}]:${s.port}` : `${s.addr}:${s.port}`));
  }

  // ------------------------------------------------------------------ lookup

  lookup(hostname: string, cb: (err: Error | null, address: string, family?: 4 | 6) => void): void;
  lookup(hostname: string, opts: LookupOptions | number, cb: (err: Error | null, address: string, family?: 4 | 6) => void): void;
  lookup(hostname: string, a: unknown, b?: unknown): void {
    const cb = (typeof a === 'function' ? a : b) as (err: Error | null, address: string | LookupAddress[], family?: 4 | 6) => void;
    const o: LookupOptions = typeof a === 'number' ? { family: a as 0 | 4 | 6 } : typeof a === 'object' && a ? (a as LookupOptions) : {};
    const fam = o.family === 'IPv4' ? 4 : o.family === 'IPv6' ? 6 : (o.family ?? 0);
    const reply = (err: Error | null, list: LookupAddress[]) =>
      process.nextTick(() => {
        if (err) return cb(err, o.all ? [] : '', undefined);
        if (o.all) return cb(null, list);
        cb(null, list[0].address, list[0].family);
      });
    const lit = IpAddr.tryParse(hostname);
    if (lit) return reply(null, [{ address: lit.toString(), family: lit.family }]);
    const name = hostname.toLowerCase().replace(/\.$/, '');
    const wanted = (l: LookupAddress[]) => l.filter((x) => fam === 0 || x.family === fam);
    const fixed = this.hosts.get(name) ?? (name === 'localhost' ? [{ address: '127.0.0.1', family: 4 as const }, { address: '::1', family: 6 as const }] : null);
    if (fixed && wanted(fixed).length > 0) return reply(null, wanted(fixed));
    const notFound = () => {
      const e = dnsErr('ENOTFOUND', 'getaddrinfo', hostname);
      e.errno = UV_EAI_NONAME;
      return e;
    };
    // getaddrinfo with nothing to ask: the name is not found.
    if (this.servers.length === 0) return reply(notFound(), []);
    const families: (4 | 6)[] = fam === 4 ? [4] : fam === 6 ? [6] : o.order === 'ipv6first' ? [6, 4] : [4, 6];
    let pending = families.length;
    const results = new Map<4 | 6, LookupAddress[]>();
    let firstErr: DnsErr | null = null;
    for (const f of families) {
      this.query(name, f === 4 ? DnsType.A : DnsType.AAAA, 'getaddrinfo', (err, recs) => {
        if (err && !firstErr) firstErr = err;
        results.set(f, (recs ?? []).map((r) => ({ address: r.address, family: f })));
        if (--pending > 0) return;
        const list = families.flatMap((x) => results.get(x) ?? []);
        if (list.length > 0) return reply(null, list);
        const e: DnsErr | null = firstErr;
        if (e === null || e.code === 'ENOTFOUND' || e.code === 'ENODATA') return reply(notFound(), []);
        reply(dnsErr(e.code, 'getaddrinfo', hostname), []);
      });
    }
  }

  // ------------------------------------------------------------------ resolve

  resolve4(hostname: string, cb: (err: Error | null, addrs?: string[]) => void): void;
  resolve4(hostname: string, opts: { ttl?: boolean }, cb: (err: Error | null, addrs?: string[] | RecordWithTtl[]) => void): void;
  resolve4(hostname: string, a: unknown, b?: unknown): void {
    this.resolveType(hostname, DnsType.A, 'queryA', a, b);
  }
  resolve6(hostname: string, cb: (err: Error | null, addrs?: string[]) => void): void;
  resolve6(hostname: string, opts: { ttl?: boolean }, cb: (err: Error | null, addrs?: string[] | RecordWithTtl[]) => void): void;
  resolve6(hostname: string, a: unknown, b?: unknown): void {
    this.resolveType(hostname, DnsType.AAAA, 'queryAaaa', a, b);
  }

  private resolveType(hostname: string, type: number, syscall: string, a: unknown, b: unknown): void {
    const cb = (typeof a === 'function' ? a : b) as (err: Error | null, r?: string[] | RecordWithTtl[]) => void;
    const ttl = typeof a === 'object' && a !== null && (a as { ttl?: boolean }).ttl === true;
    this.query(hostname, type, syscall, (err, recs) => {
      if (err) return cb(err);
      cb(null, ttl ? recs! : recs!.map((r) => r.address));
    });
  }

  /** One question, tried on each server in turn; answers of `type` (CNAME chains followed in the answer section). */
  private query(name: string, type: number, syscall: string, cb: (err: DnsErr | null, recs?: RecordWithTtl[]) => void): void {
    if (this.servers.length === 0) return process.nextTick(() => cb(dnsErr('ECONNREFUSED', syscall, name)));
    const attempts: Server[] = [];
    for (let t = 0; t < this.tries; t++) attempts.push(...this.servers);
    let lastErr = 'ETIMEOUT';
    const next = (i: number): void => {
      if (i >= attempts.length) return cb(dnsErr(lastErr, syscall, name));
      this.askUdp(attempts[i], name, type, (err, m) => {
        if (err) {
          lastErr = err;
          return next(i + 1);
        }
        const msg = m!;
        switch (msg.rcode) {
          case DnsRcode.NOERROR:
            break;
          case DnsRcode.NXDOMAIN:
            return cb(dnsErr('ENOTFOUND', syscall, name));
          case DnsRcode.SERVFAIL:
            lastErr = 'ESERVFAIL';
            return next(i + 1);
          case DnsRcode.REFUSED:
            lastErr = 'EREFUSED';
            return next(i + 1);
          case DnsRcode.FORMERR:
            return cb(dnsErr('EFORMERR', syscall, name));
          default:
            return cb(dnsErr('ENOTIMP', syscall, name));
        }
        const recs = answersOf(msg, name, type);
        if (recs.length === 0) return cb(dnsErr('ENODATA', syscall, name));
        cb(null, recs);
      });
    };
    next(0);
  }

  private askUdp(server: Server, name: string, type: number, cb: (err: string | null, m?: DnsMessage) => void): void {
    const id = this.host.stack.rng.u32() & 0xffff;
    const q = encodeDns(buildDnsQuery({ id, name, type }));
    if (typeof q === 'string') return process.nextTick(() => cb('EBADNAME'));
    const sock = new UdpSocket(this.host, { type: server.addr.family === 4 ? 'udp4' : 'udp6' });
    sock.unref();
    let done = false;
    const finish = (err: string | null, m?: DnsMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (m?.tc) {
        this.stats.truncated++;
        this.askTcp(server, q, id, cb);
        return;
      }
      cb(err, m);
    };
    const timer = setTimeout(() => finish('ETIMEOUT'), this.timeoutMs);
    sock.on('message', (buf: Buffer, rinfo) => {
      // RFC 5452 §9.1: accept only the server's address and port, our id and our question.
      if (rinfo.port !== server.port || IpAddr.tryParse(rinfo.address)?.toString() !== server.addr.toString()) return;
      const m = parseDns(buf);
      if (typeof m === 'string' || !m.qr || m.id !== id || !sameQuestion(m, name, type)) return;
      finish(null, m);
    });
    sock.on('error', (e: Error & { code?: string }) => finish(e.code ?? 'ECONNREFUSED'));
    sock.connect(server.port, server.addr.toString(), () => {
      this.stats.udpQueries++;
      sock.send(q, (err) => {
        if (err) finish((err as Error & { code?: string }).code ?? 'ECONNREFUSED');
      });
    });
  }

  private askTcp(server: Server, q: Uint8Array, id: number, cb: (err: string | null, m?: DnsMessage) => void): void {
    const s = new Socket(this.host);
    s.unref();
    const chunks: Buffer[] = [];
    let got = 0;
    let done = false;
    const finish = (err: string | null, m?: DnsMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      cb(err, m);
    };
    const timer = setTimeout(() => finish('ETIMEOUT'), this.timeoutMs);
    s.on('error', (e: Error & { code?: string }) => finish(e.code ?? 'ECONNREFUSED'));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got < 2) return;
      const all = Buffer.concat(chunks);
      const len = all.readUInt16BE(0);
      if (all.length < 2 + len) return;
      const m = parseDns(all.subarray(2, 2 + len));
      if (typeof m === 'string' || m.id !== id) return finish('EBADRESP');
      finish(null, m);
    });
    s.on('end', () => finish('EBADRESP'));
    s.connect({ port: server.port, host: server.addr.toString() }, () => {
      this.stats.tcpQueries++;
      const framed = Buffer.alloc(2 + q.length);
      framed.writeUInt16BE(q.length, 0);
      framed.set(q, 2);
      s.write(framed);
    });
  }
}

function sameQuestion(m: DnsMessage, name: string, type: number): boolean {
  const q = m.questions[0];
  return m.questions.length === 1 && q.type === type && q.name.toLowerCase().replace(/\.$/, '') === name.toLowerCase().replace(/\.$/, '');
}

function answersOf(m: DnsMessage, name: string, type: number): RecordWithTtl[] {
  const names = new Set([name.toLowerCase().replace(/\.$/, '')]);
  // CNAMEs in the answer section extend the set of owner names (RFC 1034 §3.6.2).
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of m.answers) {
      if (r.data.kind === 'cname' && names.has(r.name.toLowerCase().replace(/\.$/, ''))) {
        const t = r.data.name.toLowerCase().replace(/\.$/, '');
        if (!names.has(t)) {
          names.add(t);
          grew = true;
        }
      }
    }
  }
  const out: RecordWithTtl[] = [];
  for (const r of m.answers) {
    if (r.type !== type || !names.has(r.name.toLowerCase().replace(/\.$/, ''))) continue;
    if (r.data.kind === 'a' || r.data.kind === 'aaaa') out.push({ address: r.data.address.toString(), ttl: r.ttl });
  }
  return out;
}
