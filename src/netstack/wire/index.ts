// The wire layer: checked views over packet bytes, their meanings (reprs), checksums and
// sequence arithmetic. Pure: no state, no I/O, no imports from outside wire/.
export * from './error.js';
export * from './bytes.js';
export * from './ip-proto.js';
export * from './ip-address.js';
export * from './seq.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './ipv6-ext.js';
export * from './icmpv4.js';
export * from './icmpv6.js';
export * from './ndp.js';
export * from './udp.js';
export * from './tcp.js';
export * from './dns.js';
export * from './dissect.js';
