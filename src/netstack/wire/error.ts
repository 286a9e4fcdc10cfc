// Why a parser refused bytes. Parsers return `T | WireError` instead of throwing: malformed
// input is normal on a network (DESIGN.md) and callers count drops per reason. The values are
// interned strings, so returning one allocates nothing.

export type WireError =
  /** The buffer ends before the header (or a length field) says it should. */
  | 'truncated'
  /** IP version nibble is not the expected one. */
  | 'bad-version'
  /** A header-length field is below its protocol minimum (IPv4 IHL < 5, TCP offset < 5). */
  | 'bad-header-length'
  /** A total/payload length field is impossible (shorter than the header it covers). */
  | 'bad-length'
  | 'bad-checksum'
  /** An option (IPv4, IPv6 TLV, TCP, NDP) overruns its area or has an impossible length. */
  | 'bad-option'
  /** Structurally wrong in a way the fields above do not name (e.g. DNS name loops). */
  | 'malformed'
  /** Well formed but not something moat speaks (e.g. ARP for a non-Ethernet hardware type). */
  | 'unsupported';

export function isWireError(x: unknown): x is WireError {
  return typeof x === 'string';
}
