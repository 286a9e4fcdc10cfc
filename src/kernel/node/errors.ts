// Errors shaped like the ones Node's own net/dgram/dns modules throw, so that code written
// against Node (retry loops matching err.code, logs) works unchanged over moat. Node builds them
// in lib/internal/errors.js (ErrnoException, ExceptionWithHostPort, UVExceptionWithHostPort):
// errno is the negative libuv number, code the name, plus syscall/address/port.

import { getSystemErrorMap } from 'node:util';
import { ERRNO, type ErrnoName } from '../errno.js';

export interface NodeSystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
  address?: string;
  port?: number;
}

function uvMessage(errno: number): string {
  return getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
}

/**
 * `connect ECONNREFUSED 10.0.0.2:80` (Node's exceptionWithHostPort); `read ECONNRESET` without
 * an address. With `uvStyle` the libuv text is added as Node's listen/bind errors do:
 * `listen EADDRINUSE: address already in use 0.0.0.0:80`.
 */
export function nodeError(code: ErrnoName | string, syscall: string, address?: string, port?: number, uvStyle = false): NodeSystemError {
  const n = (ERRNO as Record<string, number>)[code];
  const errno = n === undefined ? -4094 /* UV_UNKNOWN */ : -n;
  let msg = uvStyle ? `${syscall} ${code}: ${uvMessage(errno)}` : `${syscall} ${code}`;
  if (address !== undefined) msg += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const e = new Error(msg) as NodeSystemError;
  e.errno = errno;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined && port > 0) e.port = port;
  return e;
}

/** Node's ERR_* errors (TypeError/Error with a code) for bad arguments and misuse. */
export function codedError(code: string, message: string, ctor: ErrorConstructor = Error): Error & { code: string } {
  const e = new ctor(message) as Error & { code: string };
  e.code = code;
  return e;
}

/** What a dns.lookup failure looks like in Node: `getaddrinfo ENOTFOUND example.test`. */
export function dnsError(code: string, syscall: string, hostname: string): Error & { code: string; errno?: number; syscall: string; hostname: string } {
  const e = new Error(`${syscall} ${code} ${hostname}`) as Error & { code: string; errno?: number; syscall: string; hostname: string };
  e.code = code;
  e.syscall = syscall;
  e.hostname = hostname;
  return e;
}
