// The netfilter-like policy layer: rule engine, conntrack, NAT, REJECT replies, iptables-save
// text, audit. See engine.ts for the evaluation model and hooks.ts for the stack adapter.

export * from './rules.js';
export * from './packet.js';
export * from './addrset.js';
export * from './compile.js';
export * from './conntrack.js';
export * from './nat.js';
export * from './reject.js';
export * from './engine.js';
export * from './save.js';
export * from './audit.js';
export * from './hooks.js';
export * from './dns-allowlist.js';
