// struct virtio_net_hdr <-> FrameOffload. Read first: the virtio spec 1.2 section 5.1.6
// ("Device Operation", the legacy 10-byte header without num_buffers), linux/include/uapi/
// linux/virtio_net.h and linux/include/linux/virtio_net.h (virtio_net_hdr_from_skb /
// virtio_net_hdr_to_skb: what AF_PACKET with PACKET_VNET_HDR and a tap with IFF_VNET_HDR
// really put there). Fields are little-endian: legacy headers are in guest (host) byte order,
// and the kernel uses little-endian for them on every host moat runs on (x86-64, arm64).

import type { FrameOffload } from '../../netstack/link.js';

export const VNET_HDR_LEN = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** UFO: one UDP datagram to be IP-fragmented. Linux no longer emits it; we refuse it (no FrameOffload kind says "fragment"). */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** USO: UDP payload to be cut into datagrams of gso_size (UDP_SEGMENT). */
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export type VnetParse = { ok: true; offload: FrameOffload | undefined } | { ok: false; reason: 'short' | 'badGsoType' };

const NO_OFFLOAD = { ok: true, offload: undefined } as const;

/**
 * Parses the header at `buf[off, off + 10)`. A header that says nothing (no flags, no GSO)
 * gives `offload: undefined`, so the common small frame carries no object.
 */
export function parseVnetHdr(buf: Uint8Array, off: number): VnetParse {
  if (buf.length - off < VNET_HDR_LEN) return { ok: false, reason: 'short' };
  const flags = buf[off];
  const gsoRaw = buf[off + 1];
  if (flags === 0 && gsoRaw === 0) return NO_OFFLOAD;
  const hdrLen = buf[off + 2] | (buf[off + 3] << 8);
  const gsoSize = buf[off + 4] | (buf[off + 5] << 8);
  const csumStart = buf[off + 6] | (buf[off + 7] << 8);
  const csumOffset = buf[off + 8] | (buf[off + 9] << 8);
  let gsoType: FrameOffload['gsoType'];
  // The ECN bit only says the aggregate carried CWR: the segments keep their own TCP flags.
  switch (gsoRaw & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
      break;
    case VIRTIO_NET_HDR_GSO_TCPV4:
      gsoType = 'tcpv4';
      break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
      gsoType = 'tcpv6';
      break;
    case VIRTIO_NET_HDR_GSO_UDP_L4:
      gsoType = 'udp';
      break;
    default:
      return { ok: false, reason: 'badGsoType' };
  }
  const offload: {
    csumStart?: number;
    csumOffset?: number;
    csumValid?: boolean;
    gsoType?: FrameOffload['gsoType'];
    gsoSize?: number;
    hdrLen?: number;
  } = {};
  if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    offload.csumStart = csumStart;
    offload.csumOffset = csumOffset;
  }
  if (flags & VIRTIO_NET_HDR_F_DATA_VALID) offload.csumValid = true;
  if (gsoType) {
    offload.gsoType = gsoType;
    offload.gsoSize = gsoSize;
    offload.hdrLen = hdrLen;
  }
  return { ok: true, offload };
}

/**
 * Writes the header for `offload` at `buf[off, off + 10)`. 'udp' GSO is written as UDP_L4
 * (segmentation into datagrams), the only UDP GSO Linux still accepts from userspace.
 */
export function writeVnetHdr(buf: Uint8Array, off: number, offload: FrameOffload | undefined): void {
  buf.fill(0, off, off + VNET_HDR_LEN);
  if (!offload) return;
  let flags = 0;
  if (offload.csumStart !== undefined && offload.csumOffset !== undefined) {
    flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
    put16(buf, off + 6, offload.csumStart);
    put16(buf, off + 8, offload.csumOffset);
  } else if (offload.csumValid) {
    flags |= VIRTIO_NET_HDR_F_DATA_VALID;
  }
  buf[off] = flags;
  if (offload.gsoType && offload.gsoSize) {
    buf[off + 1] =
      offload.gsoType === 'tcpv4' ? VIRTIO_NET_HDR_GSO_TCPV4 : offload.gsoType === 'tcpv6' ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_UDP_L4;
    put16(buf, off + 2, offload.hdrLen ?? 0);
    put16(buf, off + 4, offload.gsoSize);
  }
}

function put16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
}
