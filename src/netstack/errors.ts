// Results of socket-level operations are these codes: the names Node and Linux users know.
// The kernel layer maps them to Linux errno numbers in one table (src/kernel/errno.ts); the
// netstack never sees a number. Drops of malformed input are counters (stats.ts), not errors.

export type NetError =
  | 'EAGAIN'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'EAFNOSUPPORT'
  | 'EALREADY'
  | 'ECONNABORTED'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'EDESTADDRREQ'
  | 'EHOSTDOWN'
  | 'EHOSTUNREACH'
  | 'EINPROGRESS'
  | 'EINVAL'
  | 'EISCONN'
  | 'EMSGSIZE'
  | 'ENETDOWN'
  | 'ENETUNREACH'
  | 'ENOBUFS'
  | 'ENONET'
  | 'ENOPROTOOPT'
  | 'ENOTCONN'
  | 'EOPNOTSUPP'
  | 'EPERM'
  | 'EACCES'
  | 'EPIPE'
  | 'EPROTO'
  | 'ETIMEDOUT'
  | 'ENOMEM';

/** Either a value or a NetError code; test with `isNetError`. Allocation-free on the hot path. */
export type NetResult<T> = T | NetError;

const CODES = new Set<string>([
  'EAGAIN', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EALREADY', 'ECONNABORTED',
  'ECONNREFUSED', 'ECONNRESET', 'EDESTADDRREQ', 'EHOSTDOWN', 'EHOSTUNREACH', 'EINPROGRESS', 'EINVAL',
  'EISCONN', 'EMSGSIZE', 'ENETDOWN', 'ENETUNREACH', 'ENOBUFS', 'ENONET', 'ENOPROTOOPT', 'ENOTCONN',
  'EOPNOTSUPP', 'EPERM', 'EACCES', 'EPIPE', 'EPROTO', 'ETIMEDOUT', 'ENOMEM',
]);

export function isNetError(x: unknown): x is NetError {
  return typeof x === 'string' && CODES.has(x);
}
