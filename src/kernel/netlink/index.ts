// moat's rtnetlink emulation: what a guest's AF_NETLINK/NETLINK_ROUTE socket sees (moat's
// interfaces, addresses and routes, never the host's). See README.md in this directory for what
// is supported. Typical use by the sandbox dispatcher:
//
//   const ports = new NetlinkPortTable();                       // one per guest namespace
//   socket(AF_NETLINK, type, NETLINK_ROUTE):
//     const o = openNetlinkSocket(call, { world: () => worldFromStack(stack), ports });
//     remember o.ino -> o; return o.answer (or { errno: o } for a code)
//   later calls on a fd whose inode is o.ino:
//     return serveNetlinkCall(o.sock, call, { nonblocking, watcher: o.watcher, guestDup });
export * from './constants.js';
export * from './codec.js';
export * from './world.js';
export { linkMessage, addressMessage, routeMessage, routeLookupMessage, neighborMessage, ruleMessage } from './messages.js';
export type { ReplyHeader } from './messages.js';
export { processDatagram, newRtnlCounters, RTM_MAX } from './rtnl.js';
export type { RtnlContext, RtnlOutput, RtnlCounters } from './rtnl.js';
export { NetlinkRouteSocket, NetlinkPortTable, NLMSG_GOODSIZE, MAX_RECVMSG_LEN, RTNLGRP_MAX } from './socket.js';
export type { NetlinkRouteSocketOptions, NetlinkRecv } from './socket.js';
export { worldEvents, NetlinkNotifier } from './notify.js';
export type { NetlinkEvent } from './notify.js';
export { serveNetlinkCall, openNetlinkSocket, isNonblockingFlags, guestTgidOf, NetlinkPairWatcher } from './serve.js';
export type { ServeNetlinkOptions, OpenedNetlinkSocket } from './serve.js';
