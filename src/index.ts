// The `moat` package entry (package.json "main"/"exports"): moat's TCP/IP stack as a library
// for Node programs. `createStack` builds a stack on any link with Node-compatible `net`,
// `dgram` and `dns` objects; `createWirePair` joins two stacks in process. The lower-level
// pieces are re-exported for programs that want them: links for real devices, the clock and
// random sources, and the netstack's own API.
//
//   import { createStack, createWirePair } from 'moat';
//   const [a, b] = createWirePair();
//   const server = createStack({ link: a, ip: ['10.0.0.1/24', 'fd00::1/64'] });
//   const client = createStack({ link: b, ip: ['10.0.0.2/24', 'fd00::2/64'] });
//   server.net.createServer((s) => s.pipe(s)).listen(7);
//   client.net.connect(7, '10.0.0.1').end('hello').on('data', console.log);

export * from './kernel/node/index.js';

// Links for real devices (root or CAP_NET_RAW/CAP_NET_ADMIN): AF_PACKET, tap, libpcap.
export { PacketLink, TapLink, PcapLiveLink, randomLocalMac } from './net-plumbing/links/index.js';
export type { PacketLinkOptions, TapLinkOptions, PcapLiveLinkOptions } from './net-plumbing/links/index.js';
export { RealClock } from './net-plumbing/clock.js';
export { CryptoRng } from './net-plumbing/rng.js';

// The netstack itself (Stack, Wire, ImpairedLink, SnifferLink, VirtualClock, SeededRng, ...).
export {
  Stack,
  Wire,
  WirePort,
  ImpairedLink,
  SnifferLink,
  LoopbackLink,
  VirtualClock,
  SeededRng,
  IpAddr,
  IpCidr,
  isNetError,
} from './netstack/index.js';
export type {
  StackOptions,
  FilterHooks,
  FilterPacket,
  FilterVerdict,
  LinkEndpoint,
  Frame,
  Clock,
  Rng,
  NetError,
  ImpairmentOptions,
} from './netstack/index.js';
export { TcpProtocol, TcpEndpoint } from './netstack/tcp/index.js';
export type { TcpInfo, TcpStackConfig } from './netstack/tcp/index.js';
