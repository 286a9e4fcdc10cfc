// A generated table: every (socket kind x call x sa_family x addrlen) combination, with the
// expectation computed by src/kernel/sockaddr.ts. linux.test.ts runs it on Linux, so each of
// sockaddr.ts's validation rules is checked against the kernel, including the generic ones
// (move_addr_to_kernel, msg_namelen). The curated table (cases.ts) covers what happens after.

import { encodeSockaddr, checkUserAddrlen, parseBindAddr, parseConnectAddr, parseSendtoAddr, sendmsgNameLen } from '../../../src/kernel/sockaddr.js';
import type { InetFamilyName } from '../../../src/kernel/sockaddr.js';
import { AF } from '../../../src/kernel/socket-abi.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import type { Case, Op } from './table.js';

interface Kind {
  label: string;
  domain: InetFamilyName;
  type: 'SOCK_STREAM' | 'SOCK_DGRAM';
  proto?: string;
  /** What sendto's address rules are named by in sockaddr.ts (none: stream sockets ignore it). */
  send?: 'udp' | 'ping';
  payload: string;
}

const KINDS: Kind[] = [
  { label: 'tcp4', domain: 'AF_INET', type: 'SOCK_STREAM', payload: 'x' },
  { label: 'tcp6', domain: 'AF_INET6', type: 'SOCK_STREAM', payload: 'x' },
  { label: 'udp4', domain: 'AF_INET', type: 'SOCK_DGRAM', send: 'udp', payload: 'x' },
  { label: 'udp6', domain: 'AF_INET6', type: 'SOCK_DGRAM', send: 'udp', payload: 'x' },
  { label: 'ping4', domain: 'AF_INET', type: 'SOCK_DGRAM', proto: 'IPPROTO_ICMP', send: 'ping', payload: '\x08\x00\x00\x00\x00\x00\x00\x01ping' },
  { label: 'ping6', domain: 'AF_INET6', type: 'SOCK_DGRAM', proto: 'IPPROTO_ICMPV6', send: 'ping', payload: '\x80\x00\x00\x00\x00\x00\x00\x01ping' },
];
const FAMILIES = ['AF_UNSPEC', 'AF_INET', 'AF_INET6', 'AF_UNIX'] as const;
const LENGTHS = [0, 1, 2, 15, 16, 23, 24, 27, 28, 128, 129];
/** Nothing listens on it: a TCP connect there is refused, UDP and ping just send. */
const CLOSED_PORT = 9;

/** The socket family's own sockaddr for `ip`:`port`, its family field replaced, cut or zero-padded to `len`. */
function sockaddrBytes(domain: InetFamilyName, ip: string, port: number, family: number, len: number): Uint8Array {
  const base = encodeSockaddr({ family: domain, addr: IpAddr.parse(ip), port });
  base[0] = family & 0xff;
  base[1] = family >> 8;
  const out = new Uint8Array(len);
  out.set(base.subarray(0, Math.min(len, base.length)));
  return out;
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function socketOp(k: Kind): Op {
  return { op: 'socket', id: 's', domain: k.domain, type: k.type, ...(k.proto ? { proto: k.proto } : {}) };
}

/** bind(2) to the wildcard, port 0: whatever passes the address checks binds (0). */
function bindCase(k: Kind, fam: string, len: number): Case {
  const b = sockaddrBytes(k.domain, k.domain === 'AF_INET' ? '0.0.0.0' : '::', 0, AF[fam as keyof typeof AF], len);
  const generic = checkUserAddrlen(len);
  const r = generic ? null : parseBindAddr(k.domain, b, k.proto ? 'ping' : k.type === 'SOCK_STREAM' ? 'stream' : 'dgram');
  const expect = generic ?? (r && !r.ok ? r.errno : 0);
  return { name: `sockaddr matrix: bind ${k.label} ${fam} addrlen ${len}`, ops: [socketOp(k), { op: 'bind', fd: 's', addr: { hex: hex(b) }, expect }] };
}

/** connect(2) to the loopback address, a closed port: TCP is refused, datagram sockets connect. */
function connectCase(k: Kind, fam: string, len: number): Case {
  const b = sockaddrBytes(k.domain, k.domain === 'AF_INET' ? '127.0.0.1' : '::1', CLOSED_PORT, AF[fam as keyof typeof AF], len);
  const stream = k.type === 'SOCK_STREAM';
  let expect: unknown = checkUserAddrlen(len);
  if (!expect) {
    const r = parseConnectAddr(k.domain, k.proto ? 'ping' : stream ? 'stream' : 'dgram', b);
    expect = !r.ok ? r.errno : 'unspec' in r ? 0 : stream ? 'ECONNREFUSED' : 0;
  }
  return { name: `sockaddr matrix: connect ${k.label} ${fam} addrlen ${len}`, ops: [socketOp(k), { op: 'connect', fd: 's', addr: { hex: hex(b) }, expect }] };
}

/** sendmsg(2) with msg_name on an unconnected datagram socket. */
function sendCase(k: Kind, fam: string, len: number): Case {
  const b = sockaddrBytes(k.domain, k.domain === 'AF_INET' ? '127.0.0.1' : '::1', CLOSED_PORT, AF[fam as keyof typeof AF], len);
  const n = sendmsgNameLen(len);
  let expect: unknown;
  if (n === null) expect = 'EINVAL';
  else if (n === 0) expect = 'EDESTADDRREQ';
  else {
    const r = parseSendtoAddr(k.domain, k.send!, b.subarray(0, n));
    expect = !r.ok ? r.errno : 'unspec' in r ? 'EDESTADDRREQ' : k.payload.length;
  }
  return { name: `sockaddr matrix: sendmsg ${k.label} ${fam} namelen ${len}`, ops: [socketOp(k), { op: 'send', fd: 's', data: k.payload, addr: { hex: hex(b) }, flags: ['MSG_DONTWAIT'], expect }] };
}

export function sockaddrMatrix(): Case[] {
  const out: Case[] = [];
  for (const k of KINDS) {
    for (const fam of FAMILIES) {
      for (const len of LENGTHS) {
        out.push(bindCase(k, fam, len), connectCase(k, fam, len));
        if (k.send) out.push(sendCase(k, fam, len));
      }
    }
  }
  return out;
}
