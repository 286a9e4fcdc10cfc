// Hostile and damaged requests: every truncation of every request (with nlmsg_len left as sent,
// and fixed up to the cut), and seeded random datagrams. Nothing throws; every answer is made of
// whole, well-formed messages; errors are the errno values Linux uses for these requests.

import test from 'ava';
import { SeededRng } from '../../../src/netstack/random.js';
import { align4, parseMessages, parseNlMsgErr } from '../../../src/kernel/netlink/codec.js';
import {
  AF_INET,
  AF_INET6,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_LINKINFO,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTA_DST,
  RTA_OIF,
  RTA_TABLE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWADDR,
  SOL_NETLINK,
} from '../../../src/kernel/netlink/constants.js';
import { NetlinkPortTable, NetlinkRouteSocket } from '../../../src/kernel/netlink/socket.js';
import { processDatagram } from '../../../src/kernel/netlink/rtnl.js';
import { attr, cat, ifaddr, ifinfo, request, rtmsg, u32 } from './helpers.js';
import { mirrorWorld } from './world-fixture.js';

const R = NLM_F_REQUEST;
const DUMP = R | NLM_F_DUMP;
const nest = (type: number, inner: Uint8Array) => attr(type | 0x8000, inner);

const CORPUS: Uint8Array[] = [
  request(RTM_GETLINK, DUMP, 1, cat(ifinfo(), attr(IFLA_EXT_MASK, u32(9)))),
  request(RTM_GETLINK, DUMP, 2, cat(ifinfo(), nest(IFLA_LINKINFO, attr(1, new TextEncoder().encode('veth\0'))))),
  request(RTM_GETLINK, R | NLM_F_ACK, 3, cat(ifinfo(), attr(IFLA_IFNAME, new TextEncoder().encode('moat0\0')))),
  request(RTM_GETLINK, R | NLM_F_ACK, 4, ifinfo(3)),
  request(RTM_GETADDR, DUMP, 5, ifaddr(AF_INET6, 3)),
  request(RTM_GETADDR, DUMP, 6, Uint8Array.of(0, 0, 0, 0)),
  request(RTM_GETROUTE, DUMP, 7, cat(rtmsg(AF_INET, 0), attr(RTA_TABLE, u32(255)), attr(RTA_OIF, u32(3)))),
  request(RTM_GETROUTE, R, 8, cat(rtmsg(AF_INET, 0, { dstLen: 32 }), attr(RTA_DST, Uint8Array.of(192, 0, 2, 1)))),
  request(RTM_GETROUTE, R, 9, cat(rtmsg(AF_INET6, 0, { dstLen: 128 }), attr(RTA_DST, new Uint8Array(16).fill(0xfd, 0, 1)))),
  request(RTM_NEWADDR, R | NLM_F_ACK, 10, cat(ifaddr(AF_INET, 3, 24), attr(2, Uint8Array.of(10, 9, 8, 9)))),
  cat(request(RTM_GETLINK, R | NLM_F_ACK, 11, ifinfo(1)), request(RTM_GETADDR, DUMP, 12, ifaddr())),
];

const KNOWN_ERRORS = new Set([0, -1, -2, -16, -19, -22, -95, -97, -101]);

function socketFor(mode: number): NetlinkRouteSocket {
  const s = new NetlinkRouteSocket({ world: mirrorWorld(), ports: new NetlinkPortTable(), tgid: 77 });
  if (mode & 1) s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, u32(1));
  if (mode & 2) s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, u32(1));
  if (mode & 4) s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, u32(1));
  return s;
}

/** Sends `bytes`, reads everything, checks the answers are whole messages; returns them. */
function exercise(t: import('ava').ExecutionContext, s: NetlinkRouteSocket, bytes: Uint8Array, what: string): number {
  const sent = s.sendmsg(bytes, 0, null);
  if (sent !== bytes.length) {
    t.fail(`${what}: sendmsg said ${String(sent)}`);
    return 0;
  }
  let messages = 0;
  for (let i = 0; i < 1000; i++) {
    const r = s.recvmsg(65536, 0);
    if (typeof r === 'string') {
      if (r !== 'EAGAIN') t.fail(`${what}: recvmsg ${r}`);
      break;
    }
    const msgs = parseMessages(r.data);
    const covered = msgs.reduce((n, m) => n + align4(m.len), 0);
    if (covered !== r.data.length) t.fail(`${what}: a datagram of ${r.data.length} bytes holds ${covered} bytes of messages`);
    for (const m of msgs) {
      messages++;
      if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
        const e = m.type === NLMSG_ERROR ? parseNlMsgErr(m.payload, m.flags)?.error : new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true);
        if (e === undefined || !KNOWN_ERRORS.has(e)) t.fail(`${what}: unexpected error ${String(e)}`);
      }
    }
  }
  return messages;
}

test('every truncation of every request, in every option mode, is answered without a throw', (t) => {
  let cases = 0;
  for (const [ri, req] of CORPUS.entries()) {
    for (let cut = 0; cut <= req.length; cut++) {
      for (let mode = 0; mode < 8; mode++) {
        const asSent = req.subarray(0, cut);
        const fixed = Uint8Array.from(asSent);
        if (cut >= 4) new DataView(fixed.buffer).setUint32(0, cut, true);
        t.notThrows(() => exercise(t, socketFor(mode), asSent, `request ${ri} cut at ${cut}, mode ${mode}`));
        t.notThrows(() => exercise(t, socketFor(mode), fixed, `request ${ri} cut at ${cut} (nlmsg_len fixed), mode ${mode}`));
        cases += 2;
      }
    }
  }
  t.true(cases > 2000);
});

test('a request whose payload is cut short is refused or ignored, never answered with data it did not ask for', (t) => {
  // GETLINK for ifindex 3 with its ifinfomsg cut: Linux answers EINVAL from 1 to 15 bytes and
  // ignores the empty one (rtnetlink_rcv_msg needs one byte of rtgenmsg).
  const full = request(RTM_GETLINK, R, 4, ifinfo(3));
  for (let cut = 16; cut < full.length; cut++) {
    const b = Uint8Array.from(full.subarray(0, cut));
    new DataView(b.buffer).setUint32(0, cut, true);
    const out = processDatagram(b, { portId: 1, strict: false, extAck: false, capAck: false, dumpRunning: false, world: mirrorWorld() });
    if (cut === 16) {
      t.deepEqual(out, [], 'empty payload: ignored');
      continue;
    }
    t.is(out.length, 1);
    const o = out[0]!;
    if (o.kind !== 'datagram') return t.fail('not a datagram');
    const m = parseMessages(o.bytes)[0]!;
    t.is(m.type, NLMSG_ERROR);
    t.is(parseNlMsgErr(m.payload, m.flags)?.error, -22, `cut at ${cut}`);
  }
});

test('seeded random datagrams never throw and always leave the socket usable', (t) => {
  const rng = new SeededRng(20261128);
  const types = [0, 1, 2, 3, 4, 16, 17, 18, 19, 20, 22, 24, 26, 30, 34, 99, 123, 124, 0xffff];
  for (let i = 0; i < 3000; i++) {
    const s = socketFor(rng.u32() & 7);
    const n = rng.u32() % 3;
    const parts: Uint8Array[] = [];
    for (let k = 0; k < n + 1; k++) {
      const body = new Uint8Array(rng.u32() % 64);
      rng.fill(body);
      const flags = rng.u32() & 0xffff;
      const m = request(types[rng.u32() % types.length]!, flags, i, body);
      if (rng.u32() % 4 === 0) new DataView(m.buffer).setUint32(0, rng.u32() % 100, true);
      parts.push(m);
    }
    const bytes = cat(...parts);
    t.notThrows(() => exercise(t, s, bytes, `random ${i}`));
    // Still answers a plain request afterwards.
    const again = s.sendmsg(request(RTM_GETLINK, R, 1, ifinfo(1)), 0, null);
    if (typeof again === 'string') t.fail(`random ${i}: then ${again}`);
  }
});
