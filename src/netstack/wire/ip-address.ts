// IP addresses as the whole stack sees them: a family and the address bytes in network order,
// plus a string key for maps. Immutable once built; construct through the helpers below.
// Text forms follow RFC 4291 §2.2 (parse) and RFC 5952 (format: lower case, longest run of
// zero groups compressed, embedded IPv4 for v4-mapped addresses).

export type IpFamily = 4 | 6;

export class IpAddr {
  /** Canonical text form; equal addresses have equal keys, so it is the map key everywhere. */
  readonly key: string;
  private constructor(
    readonly family: IpFamily,
    /** 4 or 16 bytes, network order. Never mutate. */
    readonly bytes: Uint8Array,
  ) {
    this.key = family === 4 ? formatV4(bytes) : formatV6(bytes);
  }

  static v4(bytes: Uint8Array): IpAddr {
    if (bytes.length !== 4) throw new RangeError(`IPv4 address needs 4 bytes, got ${bytes.length}`);
    return new IpAddr(4, Uint8Array.from(bytes));
  }
  static v6(bytes: Uint8Array): IpAddr {
    if (bytes.length !== 16) throw new RangeError(`IPv6 address needs 16 bytes, got ${bytes.length}`);
    return new IpAddr(6, Uint8Array.from(bytes));
  }
  static fromU32(v: number): IpAddr {
    return new IpAddr(4, Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }
  /** Reads an address of the family out of `buf` at `off` (copies: addresses outlive frames). */
  static read(family: IpFamily, buf: Uint8Array, off: number): IpAddr {
    const n = family === 4 ? 4 : 16;
    // Not buf.slice(): on a Node Buffer that is a view of the frame, not a copy.
    const bytes = new Uint8Array(n);
    bytes.set(buf.subarray(off, off + n));
    return new IpAddr(family, bytes);
  }
  /** Parses text; returns null when it is not an address (callers give the error its context). */
  static tryParse(text: string): IpAddr | null {
    const v4 = parseV4(text);
    if (v4) return new IpAddr(4, v4);
    const v6 = parseV6(text);
    if (v6) return new IpAddr(6, v6);
    return null;
  }
  static parse(text: string): IpAddr {
    const a = IpAddr.tryParse(text);
    if (!a) throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
    return a;
  }

  static readonly ANY4 = new IpAddr(4, new Uint8Array(4));
  static readonly ANY6 = new IpAddr(6, new Uint8Array(16));
  static readonly BROADCAST4 = new IpAddr(4, Uint8Array.of(255, 255, 255, 255));
  static readonly LOOPBACK4 = new IpAddr(4, Uint8Array.of(127, 0, 0, 1));
  static readonly LOOPBACK6 = new IpAddr(6, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));

  /** IPv4 address as an unsigned 32-bit number (family 4 only). */
  toU32(): number {
    const b = this.bytes;
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }
  equals(o: IpAddr): boolean {
    return this.key === o.key;
  }
  write(buf: Uint8Array, off: number): void {
    buf.set(this.bytes, off);
  }
  isUnspecified(): boolean {
    return this.bytes.every((x) => x === 0);
  }
  isLoopback(): boolean {
    return this.family === 4 ? this.bytes[0] === 127 : this.key === '::1';
  }
  isMulticast(): boolean {
    return this.family === 4 ? (this.bytes[0] & 0xf0) === 0xe0 : this.bytes[0] === 0xff;
  }
  isLinkLocal(): boolean {
    return this.family === 4
      ? this.bytes[0] === 169 && this.bytes[1] === 254
      : this.bytes[0] === 0xfe && (this.bytes[1] & 0xc0) === 0x80;
  }
  /** ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
  isV4Mapped(): boolean {
    if (this.family !== 6) return false;
    const b = this.bytes;
    for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
    return b[10] === 0xff && b[11] === 0xff;
  }
  /** The IPv4 address inside a v4-mapped IPv6 address, else null. */
  unmapV4(): IpAddr | null {
    return this.isV4Mapped() ? new IpAddr(4, this.bytes.slice(12, 16)) : null;
  }
  /** ::ffff:a.b.c.d for an IPv4 address. */
  mapToV6(): IpAddr {
    if (this.family === 6) return this;
    const b = new Uint8Array(16);
    b[10] = 0xff;
    b[11] = 0xff;
    b.set(this.bytes, 12);
    return new IpAddr(6, b);
  }
  toString(): string {
    return this.key;
  }
}

/** An address with a prefix length: "10.0.0.1/24", "fd00::1/64". */
export class IpCidr {
  private constructor(
    readonly addr: IpAddr,
    readonly prefixLen: number,
  ) {}
  static of(addr: IpAddr, prefixLen: number): IpCidr {
    const max = addr.family === 4 ? 32 : 128;
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
      throw new RangeError(`prefix length ${prefixLen} out of range 0..${max} for ${addr}`);
    }
    return new IpCidr(addr, prefixLen);
  }
  static tryParse(text: string): IpCidr | null {
    const slash = text.indexOf('/');
    const addr = IpAddr.tryParse(slash < 0 ? text : text.slice(0, slash));
    if (!addr) return null;
    const max = addr.family === 4 ? 32 : 128;
    if (slash < 0) return new IpCidr(addr, max);
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return null;
    const len = Number(lenText);
    return len <= max ? new IpCidr(addr, len) : null;
  }
  static parse(text: string): IpCidr {
    const c = IpCidr.tryParse(text);
    if (!c) throw new TypeError(`not an address with prefix (like 10.0.0.1/24 or fd00::1/64): ${JSON.stringify(text)}`);
    return c;
  }
  get family(): IpFamily {
    return this.addr.family;
  }
  /** True when `a` lies in this prefix (same family only). */
  contains(a: IpAddr): boolean {
    if (a.family !== this.addr.family) return false;
    return prefixEquals(a.bytes, this.addr.bytes, this.prefixLen);
  }
  /** The network address (host bits cleared). */
  network(): IpAddr {
    const b = Uint8Array.from(this.addr.bytes);
    for (let bit = this.prefixLen; bit < b.length * 8; bit++) b[bit >> 3] &= ~(0x80 >> (bit & 7));
    return this.addr.family === 4 ? IpAddr.v4(b) : IpAddr.v6(b);
  }
  /** IPv4 directed broadcast of this prefix. */
  broadcast(): IpAddr {
    const b = Uint8Array.from(this.addr.bytes);
    for (let bit = this.prefixLen; bit < b.length * 8; bit++) b[bit >> 3] |= 0x80 >> (bit & 7);
    return this.addr.family === 4 ? IpAddr.v4(b) : IpAddr.v6(b);
  }
  toString(): string {
    return `${this.addr.key}/${this.prefixLen}`;
  }
}

/** Compares the first `bits` bits of two equal-length byte strings. */
export function prefixEquals(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (a[full] & mask) === (b[full] & mask);
}

function formatV4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function parseV4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    // Dotted-quad only, no leading zeros (they mean octal to inet_aton: refuse the ambiguity).
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function formatV6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  // RFC 5952 §5: v4-mapped addresses keep the dotted quad.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // RFC 5952 §4.2: compress the longest run (of at least two) of zero groups, the first on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

function parseV6(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45) return null;
  const zone = s.indexOf('%');
  if (zone >= 0) return null; // zones are a socket-layer concern (sin6_scope_id), not an address
  let tail4: Uint8Array | null = null;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    tail4 = parseV4(text.slice(lastColon + 1));
    if (!tail4) return null;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return null;
  const parseGroups = (t: string): number[] | null => {
    if (t === '') return [];
    const out: number[] = [];
    for (const p of t.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(text.slice(0, dbl));
    const tail = parseGroups(text.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(text);
    if (!all || all.length !== 8) return null;
    groups = all;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}
