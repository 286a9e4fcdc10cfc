import test from 'ava';
import {
  parseVnetHdr,
  VNET_HDR_LEN,
  writeVnetHdr,
} from '../../src/net-plumbing/links/virtio-net-hdr.js';
import type { FrameOffload } from '../../src/netstack/link.js';

// Golden headers as Linux writes them (little-endian u16s after flags and gso_type).
const cases: { name: string; bytes: number[]; offload: FrameOffload | undefined }[] = [
  { name: 'nothing to say', bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], offload: undefined },
  { name: 'UDP partial checksum', bytes: [1, 0, 0, 0, 0, 0, 34, 0, 6, 0], offload: { csumStart: 34, csumOffset: 6 } },
  { name: 'checksum verified', bytes: [2, 0, 0, 0, 0, 0, 0, 0, 0, 0], offload: { csumValid: true } },
  {
    name: 'TCPv4 TSO aggregate',
    bytes: [1, 1, 54, 0, 0xb4, 0x05, 34, 0, 16, 0],
    offload: { csumStart: 34, csumOffset: 16, gsoType: 'tcpv4', gsoSize: 1460, hdrLen: 54 },
  },
  {
    name: 'TCPv6 TSO aggregate, edge values',
    bytes: [1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    offload: { csumStart: 0xffff, csumOffset: 0xffff, gsoType: 'tcpv6', gsoSize: 0xffff, hdrLen: 0xffff },
  },
  {
    name: 'USO (UDP_L4)',
    bytes: [1, 5, 42, 0, 0xe8, 0x03, 34, 0, 6, 0],
    offload: { csumStart: 34, csumOffset: 6, gsoType: 'udp', gsoSize: 1000, hdrLen: 42 },
  },
];

for (const c of cases) {
  test(`virtio_net_hdr round trip: ${c.name}`, (t) => {
    const buf = new Uint8Array(3 + VNET_HDR_LEN).fill(0xee);
    writeVnetHdr(buf, 3, c.offload);
    t.deepEqual(Array.from(buf.subarray(3)), c.bytes);
    t.deepEqual(Array.from(buf.subarray(0, 3)), [0xee, 0xee, 0xee], 'nothing written before the offset');
    const p = parseVnetHdr(Uint8Array.from([9, ...c.bytes]), 1);
    t.deepEqual(p, { ok: true, offload: c.offload });
  });
}

test('virtio_net_hdr: the ECN bit keeps the GSO kind; legacy UFO (fragmentation) is refused', (t) => {
  t.like(parseVnetHdr(Uint8Array.from([1, 0x81, 54, 0, 0xa8, 0x05, 34, 0, 16, 0]), 0), { ok: true, offload: { gsoType: 'tcpv4', gsoSize: 1448 } });
  t.deepEqual(parseVnetHdr(Uint8Array.from([1, 3, 0, 0, 0, 0, 34, 0, 6, 0]), 0), { ok: false, reason: 'badGsoType' });
});

test('virtio_net_hdr: short and unknown headers are reported, never thrown', (t) => {
  t.deepEqual(parseVnetHdr(new Uint8Array(9), 0), { ok: false, reason: 'short' });
  t.deepEqual(parseVnetHdr(new Uint8Array(12), 3), { ok: false, reason: 'short' });
  t.deepEqual(parseVnetHdr(Uint8Array.from([0, 2, 0, 0, 0, 0, 0, 0, 0, 0]), 0), { ok: false, reason: 'badGsoType' });
  t.deepEqual(parseVnetHdr(Uint8Array.from([0, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0]), 0), { ok: false, reason: 'badGsoType' });
});

test('virtio_net_hdr: a partial checksum wins over csumValid; GSO needs a size', (t) => {
  const buf = new Uint8Array(VNET_HDR_LEN);
  writeVnetHdr(buf, 0, { csumStart: 14, csumOffset: 6, csumValid: true });
  t.is(buf[0], 1);
  writeVnetHdr(buf, 0, { gsoType: 'tcpv4' });
  t.deepEqual(Array.from(buf), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});
