// What an endpoint tells its user (the socket layer). Events are collected while a segment or
// timer is processed and delivered afterwards, so a handler may call back into the endpoint.

import type { NetError } from '../errors.js';
import type { TcpEndpoint } from './endpoint.js';

export interface TcpEventHandler {
  /** The handshake completed (active open) . */
  onConnected?(ep: TcpEndpoint): void;
  /** Data (or EOF) can be read. */
  onReadable?(ep: TcpEndpoint): void;
  /** Send-buffer space opened after a short write. */
  onWritable?(ep: TcpEndpoint): void;
  /** The peer sent FIN: reads return EOF once the buffer is drained. */
  onPeerClosed?(ep: TcpEndpoint): void;
  /** The connection failed (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ...). */
  onError?(ep: TcpEndpoint, code: NetError): void;
  /** The endpoint reached CLOSED and released its resources. */
  onClosed?(ep: TcpEndpoint): void;
  /** A listener has a connection to accept. */
  onAcceptable?(ep: TcpEndpoint): void;
}

export const EV_CONNECTED = 1;
export const EV_READABLE = 2;
export const EV_WRITABLE = 4;
export const EV_PEER_CLOSED = 8;
export const EV_ERROR = 16;
export const EV_CLOSED = 32;
export const EV_ACCEPTABLE = 64;

export interface TcpInfo {
  state: string;
  /** Smoothed RTT, its variance, the current RTO (with backoff) and the minimum RTT; ms. */
  rtt: number;
  rttvar: number;
  rto: number;
  minRtt: number;
  /** Congestion window and slow-start threshold in segments (as Linux reports them). */
  cwnd: number;
  ssthresh: number;
  congestion: string;
  sndMss: number;
  rcvMss: number;
  /** Consecutive RTO expirations without progress (tcpi_retransmits) and the backoff. */
  retransmits: number;
  backoff: number;
  /** Keepalive or zero-window probes sent without answer (tcpi_probes). */
  probes: number;
  /** Segments retransmitted over the connection's life (tcpi_total_retrans). */
  totalRetrans: number;
  bytesRetrans: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  segsOut: number;
  dataSegsOut: number;
  dataSegsIn: number;
  segsIn: number;
  /** Segments in flight, sacked and lost (tcpi_unacked / _sacked / _lost). */
  unacked: number;
  sacked: number;
  lost: number;
  dsacks: number;
  sndWnd: number;
  rcvWnd: number;
  rcvSpace: number;
  sndBuf: number;
  sackEnabled: boolean;
  timestamps: boolean;
  sndWscale: number;
  rcvWscale: number;
  /** Time in fast recovery or loss recovery. */
  caState: 'open' | 'recovery' | 'loss';
  /** Path MTU in use (tcpi_pmtu). */
  pmtu: number;
  /** ms since the last data sent, the last data received and the last ACK received. */
  lastDataSent: number;
  lastDataRecv: number;
  lastAckRecv: number;
  /** A soft error from ICMP, kept while the connection lives (SO_ERROR in meaning). */
  softError: string | null;
}
