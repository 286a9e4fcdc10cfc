// The ruleset as data: what iptables-save prints and the policy compiler emits. The engine
// compiles these specs into closures (compile.ts); the printer and parser (save.ts) map them
// to and from iptables-save text. Names follow iptables(8) and iptables-extensions(8).

import type { IpAddr, IpCidr } from '../wire/ip-address.js';

export type TableName = 'raw' | 'mangle' | 'nat' | 'filter';
export const TABLE_NAMES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];

/** Built-in chains per table, as in Linux (iptables(8) TABLES). */
export const BUILTIN_CHAINS: Record<TableName, readonly string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export type RejectWith =
  | 'tcp-reset'
  | 'icmp-net-unreachable'
  | 'icmp-host-unreachable'
  | 'icmp-port-unreachable'
  | 'icmp-proto-unreachable'
  | 'icmp-net-prohibited'
  | 'icmp-host-prohibited'
  | 'icmp-admin-prohibited'
  | 'icmp6-no-route'
  | 'icmp6-adm-prohibited'
  | 'icmp6-addr-unreachable'
  | 'icmp6-port-unreachable';

export const REJECT_WITH: readonly RejectWith[] = [
  'tcp-reset',
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-port-unreachable',
  'icmp-proto-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'icmp-admin-prohibited',
  'icmp6-no-route',
  'icmp6-adm-prohibited',
  'icmp6-addr-unreachable',
  'icmp6-port-unreachable',
];

export interface PortRange {
  lo: number;
  hi: number;
}

export interface RuleSpec {
  /** Restricts the rule to one family (iptables vs ip6tables); undefined: both. */
  family?: 4 | 6;
  src?: { cidr: IpCidr; neg: boolean };
  dst?: { cidr: IpCidr; neg: boolean };
  /** Interface name; a trailing '+' matches any name with that prefix. */
  inIface?: { name: string; neg: boolean };
  outIface?: { name: string; neg: boolean };
  protocol?: { proto: number; neg: boolean };
  sport?: { range: PortRange; neg: boolean };
  dport?: { range: PortRange; neg: boolean };
  /** -m multiport --sports/--dports/--ports (up to 15 entries as in Linux). */
  multiport?: { dir: 'src' | 'dst' | 'any'; ports: PortRange[]; neg: boolean };
  /** --tcp-flags MASK COMP; --syn is mask SYN,RST,ACK,FIN comp SYN. */
  tcpFlags?: { mask: number; comp: number; neg: boolean };
  /** ICMP (family 4) or ICMPv6 type and code (-1: any code). */
  icmpType?: { type: number; code: number; neg: boolean; v6: boolean };
  /** Bits of CtState. */
  ctstate?: { mask: number; neg: boolean };
  sets?: { name: string; dir: 'src' | 'dst'; neg: boolean }[];
  owner?: { uid?: number; pid?: number; command?: string; neg: boolean };
  mark?: { value: number; mask: number; neg: boolean };
  /** -m connlimit: matches when the tracked connections from the source (or to the destination) exceed `above`; neg is --connlimit-upto. */
  connlimit?: { above: number; dir: 'src' | 'dst'; neg: boolean };
  comment?: string;
  target: TargetSpec;
}

export type NatTo = { addr?: IpAddr; ports?: PortRange };

export type TargetSpec =
  | { kind: 'ACCEPT' | 'DROP' | 'RETURN' }
  | { kind: 'REJECT'; with: RejectWith }
  | { kind: 'LOG'; prefix?: string }
  | { kind: 'MARK'; value: number; mask: number }
  | ({ kind: 'DNAT' | 'SNAT' } & NatTo)
  | { kind: 'MASQUERADE' | 'REDIRECT'; ports?: PortRange }
  | { kind: 'JUMP' | 'GOTO'; chain: string }
  | { kind: 'NONE' };

export type Policy = 'ACCEPT' | 'DROP';

export interface Counters {
  packets: number;
  bytes: number;
}

/** A chain as data: rules with their counters, plus the policy (built-in chains only). */
export interface ChainSpec {
  name: string;
  policy: Policy | null;
  counters: Counters;
  rules: { rule: RuleSpec; counters: Counters }[];
}

export interface TableSpec {
  name: TableName;
  chains: ChainSpec[];
}

/** Which tables are consulted at each hook, in Linux's priority order. */
export const HOOK_TABLES: Record<string, readonly TableName[]> = {
  PREROUTING: ['raw', 'mangle', 'nat'],
  INPUT: ['mangle', 'filter', 'nat'],
  FORWARD: ['mangle', 'filter'],
  OUTPUT: ['raw', 'mangle', 'nat', 'filter'],
  POSTROUTING: ['mangle', 'nat'],
};
