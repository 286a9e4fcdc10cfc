// A link on a real interface through an AF_PACKET socket (typically one end of a veth whose
// other end is a Linux namespace or the host). Read first: packet(7), and
// linux/net/packet/af_packet.c (packet_rcv_vnet / packet_snd_vnet_parse): with
// PACKET_VNET_HDR the kernel hands us what the peer sent before any segmentation (a veth
// keeps the sender's TSO aggregates and partial checksums: CHECKSUM_PARTIAL becomes
// NEEDS_CSUM, CHECKSUM_UNNECESSARY becomes DATA_VALID) and accepts the same from us.
//
// Without vnet_hdr (vnetHdr: false) the kernel still hands over the peer's CHECKSUM_PARTIAL
// frames as they are, with only the pseudo-header sum in the checksum field and nothing to
// say so; a stack that verifies checksums drops them. Keep vnet_hdr on, or turn tx
// checksumming off on the sending side (`ethtool -K IF tx off`).
//
// The link uses the interface's own MAC: the stack answers for it, so the interface itself
// must hold no addresses (the kernel would answer ARP for them too) and should have IPv6
// disabled (see netns.ts, disableIpv6), or the kernel will send its own NDP from that MAC.

import type { LinkCapabilities } from '../../netstack/link.js';
import { native } from '../native.js';
import { FdLink } from './fd-link.js';

export interface PacketLinkOptions {
  /** The interface to bind to (e.g. the DUT end of a veth). */
  ifname: string;
  /** The named network namespace (/var/run/netns/NAME) the interface lives in. */
  netns?: string;
  /** Use PACKET_VNET_HDR offloads (default true). */
  vnetHdr?: boolean;
  /** PACKET_QDISC_BYPASS: skip the interface's qdisc on send (default false). */
  qdiscBypass?: boolean;
  /** Receive ring slots (frames per batch at most); default 64. */
  slots?: number;
}

export class PacketLink extends FdLink {
  readonly ifname: string;
  readonly ifindex: number;
  readonly netns: string | undefined;

  constructor(opts: PacketLinkOptions) {
    const vnetHdr = opts.vnetHdr ?? true;
    const s = native().openPacketSocket(opts.ifname, {
      netns: opts.netns,
      vnetHdr,
      ignoreOutgoing: true,
      qdiscBypass: opts.qdiscBypass ?? false,
      rcvbuf: 4 << 20,
      sndbuf: 4 << 20,
    });
    const caps: LinkCapabilities = {
      medium: 'ethernet',
      mtu: s.mtu,
      txChecksumOffload: vnetHdr,
      rxChecksumOffload: vnetHdr,
      gsoMaxSize: vnetHdr ? 65536 : 0,
    };
    super({ fd: s.fd, name: opts.ifname, mac: s.mac, caps, vnetHdr, stream: false, slots: opts.slots });
    this.ifname = opts.ifname;
    this.ifindex = s.ifindex;
    this.netns = opts.netns;
  }
}
