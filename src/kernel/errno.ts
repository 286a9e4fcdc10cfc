// The one table from error names to Linux x86_64 errno numbers (include/uapi/asm-generic/
// errno-base.h and errno.h). The netstack speaks NetError names; this is where they become the
// numbers a trapped syscall returns (gVisor's syserr.TranslateNetstackError, in spirit).

import type { NetError } from '../netstack/errors.js';

export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17,
  EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
  ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33,
  ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40,
  ENOMSG: 42, ENONET: 64, EPROTO: 71, EBADMSG: 74, EOVERFLOW: 75, ENOTSOCK: 88, EDESTADDRREQ: 89,
  EMSGSIZE: 90, EPROTOTYPE: 91, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95, EPFNOSUPPORT: 96, EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99,
  ENETDOWN: 100, ENETUNREACH: 101, ENETRESET: 102, ECONNABORTED: 103, ECONNRESET: 104,
  ENOBUFS: 105, EISCONN: 106, ENOTCONN: 107, ESHUTDOWN: 108, ETOOMANYREFS: 109, ETIMEDOUT: 110,
  ECONNREFUSED: 111, EHOSTDOWN: 112, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** EWOULDBLOCK is EAGAIN on Linux. */
export const EWOULDBLOCK = ERRNO.EAGAIN;

const BY_NUMBER = new Map<number, ErrnoName>(Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoName]));

/** The errno number of a netstack result code (every NetError has one: checked by the types). */
export function errnoOf(code: NetError | ErrnoName): number {
  return ERRNO[code];
}

/** The name of an errno number, or undefined for numbers outside the table. */
export function errnoName(n: number): ErrnoName | undefined {
  return BY_NUMBER.get(n);
}
