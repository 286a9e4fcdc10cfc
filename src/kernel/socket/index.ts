// The socket layer's public face (README.md in this directory).
export { SocketLayer, FdTable, SocketFile, DEFAULT_SOCKET_CONFIG, IFF, IFREQ_LEN } from './layer.js';
export type { SockaddrOut, SockoptOut, RecvOut } from './layer.js';
export { InetSocket } from './socket.js';
export type { SocketHost, OptOut, SocketKindName } from './socket.js';
export { TcpSocket } from './tcp-socket.js';
export { DgramSocket } from './dgram-socket.js';
export { WaitQueue } from './wait.js';
export type { WaitOutcome } from './wait.js';
export { isErrno, sysret, BLOCKING, NONBLOCKING } from './types.js';
export type { Errno, Result, IoContext, RecvResult, SocketLayerConfig } from './types.js';
