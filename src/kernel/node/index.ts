// Node-compatible net/dgram/dns over a moat stack: the embedding API (DESIGN.md: the kernel
// layer owns the Node-compatible API). src/index.ts re-exports it as the package entry.

export { createStack, createWirePair, MoatStack } from './stack.js';
export type { CreateStackOptions, MoatNet, MoatDgram, WirePairOptions } from './stack.js';
export { Socket } from './socket.js';
export type { SocketConstructorOptions, TcpConnectOptions, AddressInfo } from './socket.js';
export { Server } from './server.js';
export type { ServerOptions, ListenOptions } from './server.js';
export { UdpSocket } from './dgram.js';
export type { SocketType, SocketOptions as DgramSocketOptions, RemoteInfo, BindOptions } from './dgram.js';
export { Resolver } from './dns.js';
export type { DnsOptions, LookupOptions, LookupAddress, RecordWithTtl } from './dns.js';
export { nodeError } from './errors.js';
export type { NodeSystemError } from './errors.js';
export type { NodeHost } from './host.js';
