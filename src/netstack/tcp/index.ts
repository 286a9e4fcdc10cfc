// moat's TCP: the public surface for the stack (TcpProtocol, a TransportProtocol for protocol
// 6) and for the socket layer (TcpEndpoint and its events, tcpInfo, options).

export { TcpProtocol, newTcpStats, type TcpStats } from './protocol.js';
export { TcpEndpoint } from './endpoint.js';
export type { TcpEventHandler, TcpInfo } from './events.js';
export { TcpState, stateName, type TcpStateName } from './state.js';
export { DEFAULT_STACK_CONFIG, type TcpStackConfig, type EndpointOptions } from './options.js';
export type { CongestionAlgorithm, CongestionControl } from './congestion/interface.js';
export { Cubic } from './congestion/cubic.js';
export { NewReno } from './congestion/newreno.js';
export { RttEstimator } from './rtt.js';
