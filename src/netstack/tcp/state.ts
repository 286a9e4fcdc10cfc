// The connection states of RFC 9293 §3.3.2 and the transitions the user calls cause
// (§3.10.4 CLOSE, and half-close by shutdown). Segment-driven transitions live in receiver.ts
// and handshake.ts; these are the pure ones, kept apart so they can be tested alone.

export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

export const STATE_NAMES = [
  'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2',
  'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT',
] as const;
export type TcpStateName = (typeof STATE_NAMES)[number];

export function stateName(s: TcpState): TcpStateName {
  return STATE_NAMES[s];
}

/** States in which the connection is synchronized (RFC 9293 §3.10.7.4). */
export function isSynchronized(s: TcpState): boolean {
  return s >= TcpState.ESTABLISHED || s === TcpState.SYN_RECEIVED;
}

/** States in which we may still send data (our FIN not yet queued). */
export function canSendData(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT;
}

/** States in which the peer may still send us data (its FIN not yet received). */
export function canReceiveData(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2;
}

/**
 * The state after the user closes the sending side (CLOSE or SHUT_WR), RFC 9293 §3.10.4:
 * ESTABLISHED and SYN_RECEIVED queue a FIN and go to FIN_WAIT_1, CLOSE_WAIT to LAST_ACK.
 * Returns null when no FIN is to be sent from `s`.
 */
export function stateAfterSendFin(s: TcpState): TcpState | null {
  switch (s) {
    case TcpState.ESTABLISHED:
    case TcpState.SYN_RECEIVED:
      return TcpState.FIN_WAIT_1;
    case TcpState.CLOSE_WAIT:
      return TcpState.LAST_ACK;
    default:
      return null;
  }
}

/** The state after a FIN from the peer is accepted in `s` (RFC 9293 §3.10.7.4, eighth). */
export function stateAfterRecvFin(s: TcpState, ourFinAcked: boolean): TcpState {
  switch (s) {
    case TcpState.SYN_RECEIVED:
    case TcpState.ESTABLISHED:
      return TcpState.CLOSE_WAIT;
    case TcpState.FIN_WAIT_1:
      return ourFinAcked ? TcpState.TIME_WAIT : TcpState.CLOSING;
    case TcpState.FIN_WAIT_2:
      return TcpState.TIME_WAIT;
    default:
      return s; // CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: stay (TIME_WAIT restarts its timer)
  }
}

/** The state after our FIN is acknowledged in `s`. */
export function stateAfterFinAcked(s: TcpState): TcpState {
  switch (s) {
    case TcpState.FIN_WAIT_1:
      return TcpState.FIN_WAIT_2;
    case TcpState.CLOSING:
      return TcpState.TIME_WAIT;
    case TcpState.LAST_ACK:
      return TcpState.CLOSED;
    default:
      return s;
  }
}
