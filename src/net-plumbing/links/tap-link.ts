// A link on a tap device: moat is the "wire side" of the tap, the kernel is the host side.
// Read first: linux/Documentation/networking/tuntap.rst and linux/drivers/net/tun.c
// (tun_get_user / tun_put_user): with IFF_VNET_HDR, TUNSETVNETHDRSZ 10 and
// TUNSETOFFLOAD(TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6) the kernel hands us TSO aggregates with
// partial checksums and accepts the same from us.
//
// MAC: the tap's own MAC belongs to the kernel's end (its IP addresses answer from it), so
// the stack needs a different one: a random locally administered unicast address (the U/L
// bit set and the I/G bit clear, IEEE 802 section 8.2.2), unless one is given.

import { randomBytes } from 'node:crypto';
import type { LinkCapabilities } from '../../netstack/link.js';
import { native } from '../native.js';
import { FdLink } from './fd-link.js';

export interface TapLinkOptions {
  /** Device name, or a pattern like "moat-tap%d" (the kernel picks the number). */
  name: string;
  /** Create the device inside this named network namespace. */
  netns?: string;
  /** vnet_hdr checksum and TSO offloads (default true). */
  offload?: boolean;
  /** The stack's MAC (default: random, locally administered). */
  mac?: Uint8Array;
  slots?: number;
}

/** A random locally administered unicast MAC. */
export function randomLocalMac(): Uint8Array {
  const m = new Uint8Array(randomBytes(6));
  m[0] = (m[0] & 0xfc) | 0x02;
  return m;
}

export class TapLink extends FdLink {
  /** The name the kernel gave the device. */
  readonly ifname: string;
  /** The kernel end's own MAC (what the kernel's ARP replies carry). */
  readonly kernelMac: Uint8Array;
  readonly netns: string | undefined;

  constructor(opts: TapLinkOptions) {
    const offload = opts.offload ?? true;
    const n = native();
    const h = n.openTap(opts.name, { vnetHdr: offload, offload, netns: opts.netns });
    let info;
    try {
      info = n.interfaceInfo(h.name, { netns: opts.netns });
    } catch (e) {
      n.closeFd(h.fd);
      throw e;
    }
    if (opts.mac && opts.mac.length !== 6) {
      n.closeFd(h.fd);
      throw new RangeError('TapLink: mac must be 6 bytes');
    }
    const caps: LinkCapabilities = {
      medium: 'ethernet',
      mtu: info.mtu,
      txChecksumOffload: offload,
      rxChecksumOffload: offload,
      gsoMaxSize: offload ? 65536 : 0,
    };
    super({ fd: h.fd, name: h.name, mac: opts.mac ? Uint8Array.from(opts.mac) : randomLocalMac(), caps, vnetHdr: offload, stream: true, slots: opts.slots });
    this.ifname = h.name;
    this.kernelMac = info.mac;
    this.netns = opts.netns;
  }
}
