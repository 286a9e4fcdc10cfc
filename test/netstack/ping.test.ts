import test from 'ava';
import { pair, routed, ip, echoRequest, pattern } from './topo.js';
import { isNetError } from '../../src/netstack/errors.js';

for (const family of [4, 6] as const) {
  const A = family === 4 ? '10.0.0.1' : 'fd00::1';
  const B = family === 4 ? '10.0.0.2' : 'fd00::2';

  test(`ping v${family}: echo reply matched by identifier, data intact`, (t) => {
    const { clock, a, b } = pair();
    const echo = (family === 4 ? a.echo4 : a.echo6).endpoint();
    const data = pattern(56);
    t.is(echo.send(echoRequest(family, 1, data), ip(B)), 64);
    t.true(echo.id > 0, 'the stack picked an identifier');
    clock.advance(1);
    const r = echo.recv();
    if (typeof r === 'string') return t.fail('no reply');
    t.is(r.from.key, B);
    t.is(r.data[0], family === 4 ? 0 : 129, 'echo reply type');
    t.is((r.data[4] << 8) | r.data[5], echo.id);
    t.is((r.data[6] << 8) | r.data[7], 1, 'sequence');
    t.deepEqual(r.data.subarray(8), data);
    t.is(b.stats.get(`icmp${family}.out.echo-reply`), 1);
    t.is(echo.recv(), 'EAGAIN');
    void A;
  });

  test(`ping v${family}: replies to another identifier do not reach the endpoint`, (t) => {
    const { clock, a } = pair();
    const e1 = (family === 4 ? a.echo4 : a.echo6).endpoint();
    const e2 = (family === 4 ? a.echo4 : a.echo6).endpoint();
    t.is(e1.bind(null, 1000), undefined);
    t.is(e2.bind(null, 1000), 'EADDRINUSE');
    t.is(e2.bind(null, 1001), undefined);
    e1.send(echoRequest(family, 5, pattern(8)), ip(B));
    clock.advance(1);
    t.not(e1.recv(), 'EAGAIN');
    t.is(e2.recv(), 'EAGAIN');
  });

  test(`ping v${family} through a router`, (t) => {
    const { clock, a, r } = routed();
    const echo = (family === 4 ? a.echo4 : a.echo6).endpoint();
    const dst = family === 4 ? '10.0.2.1' : 'fd02::1';
    t.false(isNetError(echo.send(echoRequest(family, 9, pattern(100)), ip(dst))));
    clock.advance(1);
    const rep = echo.recv();
    if (typeof rep === 'string') return t.fail('no reply');
    t.is(rep.from.key, dst);
    t.is(rep.ttl, 63, 'one router decremented the reply TTL');
    t.is(r.stats.get(`ipv${family}.forwarded`), 2);
  });

  test(`ping v${family}: a send to a non-echo type is refused`, (t) => {
    const { a } = pair();
    const echo = (family === 4 ? a.echo4 : a.echo6).endpoint();
    const m = echoRequest(family, 1, pattern(4));
    m[0] = 13;
    t.is(echo.send(m, ip(B)), 'EINVAL');
  });
}

test('ping the loopback address (through the loopback NIC)', (t) => {
  const { clock, a } = pair();
  const echo = a.echo4.endpoint();
  echo.send(echoRequest(4, 1, pattern(10)), ip('127.0.0.1'));
  clock.advance(1);
  const r = echo.recv();
  if (typeof r === 'string') return t.fail('no reply');
  t.is(r.from.key, '127.0.0.1');
  const echo6 = a.echo6.endpoint();
  echo6.send(echoRequest(6, 1, pattern(10)), ip('::1'));
  clock.advance(1);
  t.not(echo6.recv(), 'EAGAIN');
});
