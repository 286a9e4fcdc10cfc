// Writes the conformance table as the JSON linux_runner.py reads: the cases, plus every
// constant name they may use and the errno names, both taken from src/kernel (so Python never
// keeps a second copy of the ABI; linux_runner.py cross-checks the constants against its socket
// module). Run directly to print it: node dist/test/kernel/conformance/emit-table.js > cases.json

import { pathToFileURL } from 'node:url';
import { ERRNO } from '../../../src/kernel/errno.js';
import {
  AF, IOCTL, IPOPT, IPPROTO, IPV6OPT, MSG, PMTUDISC, POLL, RAWOPT, SHUT, SO, SOCK, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL, TCPOPT, UDPOPT,
} from '../../../src/kernel/socket-abi.js';
import { CASES } from './cases.js';
import type { Case } from './table.js';

/** Every name a case may use for a number, in one flat namespace (names are unique across tables). */
export const ABI_CONSTS: Record<string, number> = {
  ...AF, ...SOCK, SOCK_NONBLOCK, SOCK_CLOEXEC, ...IPPROTO, ...SOL, ...SO, ...TCPOPT, ...UDPOPT, ...IPOPT,
  ...IPV6OPT, ...PMTUDISC, ...RAWOPT, ...MSG, ...SHUT, ...POLL, ...IOCTL,
};

export interface TableJson {
  consts: Record<string, number>;
  errnos: Record<string, number>;
  cases: Case[];
}

export function buildTable(cases: readonly Case[] = CASES): TableJson {
  return { consts: ABI_CONSTS, errnos: { ...ERRNO }, cases: [...cases] };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(buildTable(), null, 1)}\n`);
}
