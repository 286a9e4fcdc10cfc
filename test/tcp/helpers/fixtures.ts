// Puts an endpoint into any RFC 9293 state by driving real segments through a TestNet, then
// freezes it there (links cut where needed). `ep` is the endpoint in the requested state and
// `peer` the other end when there is one.

import type { TcpEndpoint } from '../../../src/netstack/tcp/endpoint.js';
import type { TcpStateName } from '../../../src/netstack/tcp/state.js';
import type { TcpStackConfig } from '../../../src/netstack/tcp/options.js';
import { IpAddr } from '../../../src/netstack/wire/ip-address.js';
import { TestNet, type Host } from './net.js';
import { connectPair } from './apps.js';

export interface Fixture {
  net: TestNet;
  a: Host;
  b: Host;
  ep: TcpEndpoint;
  peer: TcpEndpoint | null;
}

export function fixtureIn(state: TcpStateName, config?: Partial<TcpStackConfig>): Fixture {
  const net = new TestNet(11);
  const a = net.addHost('10.0.0.1', config);
  const b = net.addHost('10.0.0.2', config);
  const until = (p: () => boolean, what: string) => {
    if (!net.runUntil(p, 30_000)) throw new Error(`fixture: could not reach ${what}`);
  };
  switch (state) {
    case 'CLOSED':
      return { net, a, b, ep: a.tcp.endpoint(), peer: null };
    case 'LISTEN': {
      const l = b.tcp.endpoint();
      l.bind(IpAddr.ANY4, 80);
      l.listen(8);
      return { net, a, b, ep: l, peer: null };
    }
    case 'SYN_SENT': {
      net.blackhole(a, b);
      const c = a.tcp.endpoint();
      c.connect(b.addr, 80);
      return { net, a, b, ep: c, peer: null };
    }
    case 'SYN_RECEIVED': {
      const l = b.tcp.endpoint();
      l.bind(IpAddr.ANY4, 80);
      l.listen(8);
      net.blackhole(b, a);
      const c = a.tcp.endpoint();
      c.connect(b.addr, 80);
      let child: TcpEndpoint | null = null;
      until(() => {
        for (const e of b.tcp.conns.values()) if (e.stateName === 'SYN_RECEIVED') child = e;
        return child !== null;
      }, 'SYN_RECEIVED');
      return { net, a, b, ep: child!, peer: c };
    }
    case 'ESTABLISHED': {
      const p = connectPair(net, a, b);
      return { net, a, b, ep: p.client, peer: p.server };
    }
    case 'FIN_WAIT_1': {
      const p = connectPair(net, a, b);
      net.blackhole(b, a);
      p.client.shutdown('write');
      until(() => p.server.stateName === 'CLOSE_WAIT', 'FIN_WAIT_1');
      return { net, a, b, ep: p.client, peer: p.server };
    }
    case 'FIN_WAIT_2':
    case 'CLOSE_WAIT': {
      const p = connectPair(net, a, b);
      p.client.shutdown('write');
      until(() => p.client.stateName === 'FIN_WAIT_2' && p.server.stateName === 'CLOSE_WAIT', state);
      return state === 'FIN_WAIT_2'
        ? { net, a, b, ep: p.client, peer: p.server }
        : { net, a, b, ep: p.server, peer: p.client };
    }
    case 'LAST_ACK': {
      const p = connectPair(net, a, b);
      p.client.shutdown('write');
      until(() => p.server.stateName === 'CLOSE_WAIT' && p.client.stateName === 'FIN_WAIT_2', 'CLOSE_WAIT');
      net.blackhole(a, b);
      p.server.close();
      until(() => p.client.stateName === 'TIME_WAIT', 'LAST_ACK');
      return { net, a, b, ep: p.server, peer: p.client };
    }
    case 'CLOSING': {
      const p = connectPair(net, a, b);
      p.client.shutdown('write');
      p.server.shutdown('write');
      until(() => p.client.stateName === 'CLOSING', 'CLOSING');
      net.blackhole(a, b);
      net.blackhole(b, a);
      return { net, a, b, ep: p.client, peer: p.server };
    }
    case 'TIME_WAIT': {
      const p = connectPair(net, a, b);
      p.client.close();
      until(() => p.server.stateName === 'CLOSE_WAIT', 'CLOSE_WAIT');
      p.server.close();
      until(() => p.client.stateName === 'TIME_WAIT' && p.server.stateName === 'CLOSED', 'TIME_WAIT');
      return { net, a, b, ep: p.client, peer: p.server };
    }
  }
}

export const ALL_STATES: TcpStateName[] = [
  'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2',
  'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT',
];
