import test from 'ava';
import { TestNet } from './helpers/net.js';
import { connectPair, Sink } from './helpers/apps.js';

// The exact exchange for a small request and both closes, in virtual time (5 ms each way):
// [time ms, direction, flags, relative seq, relative ack, data length, window field].
// Nagle holds the 104-byte tail until the first two segments are acknowledged; the receiver
// acknowledges two full segments at once and the lone tail after the 40 ms delayed-ACK timer;
// a FIN is acknowledged at once. The first windows are whole segments (Linux's
// tcp_select_initial_window): 44 x 1460 in the SYN, 45 x 1448 (the MSS less the timestamp
// option) in the SYN-ACK, as Linux's own SYN and SYN-ACK carry 64240 and 65160.
const GOLDEN: [number, string, string, number, number, number, number][] = [
  [0, 'c>s', 'S', 0, 0, 0, 64240],
  [5, 's>c', 'S.', 0, 1, 0, 65160],
  [10, 'c>s', '.', 1, 1, 0, 1024],
  [15, 'c>s', '.', 1, 1, 1448, 1024],
  [15, 'c>s', '.', 1449, 1, 1448, 1024],
  [20, 's>c', '.', 1, 2897, 0, 1012],
  [25, 'c>s', 'P.', 2897, 1, 104, 1024],
  [70, 's>c', '.', 1, 3001, 0, 1024],
  [115, 'c>s', 'F.', 3001, 1, 0, 1024],
  [120, 's>c', '.', 1, 3002, 0, 1024],
  [215, 's>c', 'F.', 1, 3002, 0, 1024],
  [220, 'c>s', '.', 3002, 2, 0, 1024],
];

test('golden exchange: handshake, Nagle, delayed ACK, active then passive close', (t) => {
  const net = new TestNet();
  const a = net.addHost('10.0.0.1', { quickAckSegments: 0 });
  const b = net.addHost('10.0.0.2', { quickAckSegments: 0 });
  net.trace = [];
  const { client, server } = connectPair(net, a, b);
  new Sink(server);
  client.write(new Uint8Array(3000));
  net.run(100);
  client.close();
  net.run(100);
  server.close();
  net.run(100);
  const isnC = net.trace[0].seq;
  const isnS = net.trace.find((e) => e.from.startsWith('10.0.0.2'))!.seq;
  const flag = (f: number) => (f & 2 ? 'S' : '') + (f & 1 ? 'F' : '') + (f & 4 ? 'R' : '') + (f & 8 ? 'P' : '') + (f & 16 ? '.' : '');
  const got = net.trace
    .filter((e) => e.event === 'sent')
    .map((e) => {
      const c = e.from.startsWith('10.0.0.1');
      return [e.t, c ? 'c>s' : 's>c', flag(e.flags), (e.seq - (c ? isnC : isnS)) >>> 0, e.flags & 16 ? (e.ack - (c ? isnS : isnC)) >>> 0 : 0, e.len, e.win];
    });
  t.deepEqual(got, GOLDEN);
  t.is(client.stateName, 'TIME_WAIT');
  t.is(server.stateName, 'CLOSED');
});
