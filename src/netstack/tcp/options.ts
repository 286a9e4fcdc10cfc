// Tunables: per-stack defaults (Linux's sysctls in meaning) and per-endpoint socket options.

import type { CongestionAlgorithm } from './congestion/interface.js';

export interface TcpStackConfig {
  /** Default congestion control (net.ipv4.tcp_congestion_control). */
  congestion: CongestionAlgorithm;
  /** Maximum segment lifetime, ms; TIME_WAIT lasts 2*MSL (Linux: 60 s in all). */
  mslMs: number;
  /** SYN retransmissions before ETIMEDOUT (tcp_syn_retries). */
  synRetries: number;
  /** SYN-ACK retransmissions (tcp_synack_retries). */
  synAckRetries: number;
  /** Data retransmissions before ETIMEDOUT (tcp_retries2). */
  retries2: number;
  minRtoMs: number;
  maxRtoMs: number;
  delAckMs: number;
  /** Segments acknowledged at once at the start of a connection (quick-ack). */
  quickAckSegments: number;
  sack: boolean;
  /** Proportional Rate Reduction in fast recovery (RFC 6937), as Linux. */
  prr: boolean;
  /** Undo a congestion response when D-SACKs show every retransmission was spurious (RFC 3708). */
  dsackUndo: boolean;
  timestamps: boolean;
  windowScaling: boolean;
  /** SYN cookies when the SYN queue overflows (tcp_syncookies=1). */
  synCookies: boolean;
  /** Default and maximum buffer sizes (tcp_rmem / tcp_wmem). */
  rcvBuf: number;
  rcvBufMax: number;
  sndBuf: number;
  sndBufMax: number;
  /** Auto-tune the receive buffer (tcp_moderate_rcvbuf). */
  rcvBufAutoTune: boolean;
  /** Out-of-order bytes held per connection at most. */
  oooCapPerConn: number;
  /** Limits: connections (every state but CLOSED) and buffer bytes for the whole stack. */
  maxConnections: number;
  maxBufferMemory: number;
  /** Reuse TIME_WAIT 4-tuples for outgoing connects when timestamps prove freshness (tcp_tw_reuse). */
  twReuse: boolean;
  /** FIN_WAIT_2 timeout for orphaned connections (tcp_fin_timeout), ms. */
  finTimeoutMs: number;
  /** Keepalive defaults (tcp_keepalive_time / _intvl / _probes). */
  keepIdleMs: number;
  keepIntvlMs: number;
  keepCnt: number;
  /** Ephemeral port range (ip_local_port_range). */
  ephemeralLow: number;
  ephemeralHigh: number;
}

export const DEFAULT_STACK_CONFIG: TcpStackConfig = {
  congestion: 'cubic',
  mslMs: 30_000,
  synRetries: 6,
  synAckRetries: 5,
  retries2: 15,
  minRtoMs: 200,
  maxRtoMs: 120_000,
  delAckMs: 40,
  quickAckSegments: 16,
  sack: true,
  prr: true,
  dsackUndo: true,
  timestamps: true,
  windowScaling: true,
  synCookies: true,
  rcvBuf: 131_072,
  rcvBufMax: 6_291_456,
  sndBuf: 16_384 * 4,
  sndBufMax: 4_194_304,
  rcvBufAutoTune: true,
  oooCapPerConn: 4_194_304,
  maxConnections: 1_000_000,
  maxBufferMemory: 1 << 30,
  twReuse: true,
  finTimeoutMs: 60_000,
  keepIdleMs: 7_200_000,
  keepIntvlMs: 75_000,
  keepCnt: 9,
  ephemeralLow: 32768,
  ephemeralHigh: 60999,
};

/** Socket options of one endpoint (setsockopt in meaning). */
export interface EndpointOptions {
  noDelay: boolean;
  cork: boolean;
  keepAlive: boolean;
  keepIdleMs: number;
  keepIntvlMs: number;
  keepCnt: number;
  /** TCP_USER_TIMEOUT (RFC 5482), ms; 0 = off. */
  userTimeoutMs: number;
  /** SO_LINGER: null = off; 0 = abort with RST on close. */
  lingerMs: number | null;
  reuseAddr: boolean;
  reusePort: boolean;
  /** Fixed buffer sizes (SO_RCVBUF/SO_SNDBUF turn auto-tuning off, as on Linux). */
  rcvBuf: number;
  sndBuf: number;
  rcvBufLocked: boolean;
  sndBufLocked: boolean;
  /** TCP_MAXSEG: an upper bound on the MSS; 0 = none. */
  maxSeg: number;
  congestion: CongestionAlgorithm;
  /** TCP_QUICKACK. */
  quickAck: boolean;
}
