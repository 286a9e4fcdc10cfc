import test from 'ava';
import { icmpErrno } from '../../src/netstack/icmp.js';

// Linux's icmp_err_convert (IPv4) and icmpv6_err_convert: the same meaning maps to different
// errors per family and code, and hardness differs between codes of one meaning.
test('ICMP errors map to the errno and hardness Linux gives them', (t) => {
  t.deepEqual(icmpErrno(4, 3, 3), { code: 'ECONNREFUSED', fatal: true });
  t.deepEqual(icmpErrno(4, 3, 0), { code: 'ENETUNREACH', fatal: false });
  t.deepEqual(icmpErrno(4, 3, 9), { code: 'ENETUNREACH', fatal: true });
  t.deepEqual(icmpErrno(4, 3, 13), { code: 'EHOSTUNREACH', fatal: true });
  t.deepEqual(icmpErrno(4, 3, 7), { code: 'EHOSTDOWN', fatal: true });
  t.deepEqual(icmpErrno(4, 11, 0), { code: 'EHOSTUNREACH', fatal: false });
  t.deepEqual(icmpErrno(4, 12, 0), { code: 'EPROTO', fatal: true });
  t.deepEqual(icmpErrno(6, 1, 1), { code: 'EACCES', fatal: true });
  t.deepEqual(icmpErrno(6, 1, 4), { code: 'ECONNREFUSED', fatal: true });
  t.deepEqual(icmpErrno(6, 1, 3), { code: 'EHOSTUNREACH', fatal: false });
  t.deepEqual(icmpErrno(6, 2, 0), { code: 'EMSGSIZE', fatal: true });
  t.deepEqual(icmpErrno(6, 3, 0), { code: 'EHOSTUNREACH', fatal: false });
});
