// Link endpoints: how frames enter and leave the stack. A link knows nothing of IP; the stack
// knows no concrete link (in-process wire, tap, AF_PACKET, libpcap, pcap file are all links).
// Frames move in batches both ways: one call per event-loop turn, not per frame.

/**
 * Offload metadata that travels with a frame (the virtio_net_hdr of tap/AF_PACKET links, in
 * meaning). Absent on links without offloads.
 */
export interface FrameOffload {
  /**
   * The transport checksum is partial (CHECKSUM_PARTIAL / VIRTIO_NET_HDR_F_NEEDS_CSUM):
   * the field at `csumStart + csumOffset` holds only the pseudo-header sum; the sum over
   * bytes from `csumStart` (offsets from the start of the frame) still has to be folded in.
   */
  readonly csumStart?: number;
  readonly csumOffset?: number;
  /** The transport checksum was verified by the device (VIRTIO_NET_HDR_F_DATA_VALID). */
  readonly csumValid?: boolean;
  /** A GSO aggregate to be cut into segments of `gsoSize` transport payload bytes. */
  readonly gsoType?: 'tcpv4' | 'tcpv6' | 'udp';
  readonly gsoSize?: number;
  readonly hdrLen?: number;
}

export interface Frame {
  /** The whole Ethernet frame (or IP packet on an `ip` medium link). A view: copy to keep. */
  readonly data: Uint8Array;
  readonly offload?: FrameOffload;
}

export interface LinkCapabilities {
  /** 'ethernet' frames carry a 14-byte header; 'ip' links (loopback) carry bare IP packets. */
  readonly medium: 'ethernet' | 'ip';
  /** Largest IP packet the link carries without GSO (1500 on a default veth). */
  readonly mtu: number;
  /** The link finishes partial transport checksums on send. */
  readonly txChecksumOffload: boolean;
  /** Received frames may carry `csumValid` / partial checksums instead of verified sums. */
  readonly rxChecksumOffload: boolean;
  /** Largest GSO aggregate the link accepts on send; 0 when it has no segmentation offload. */
  readonly gsoMaxSize: number;
}

/** The stack side of a link: where received frames are pushed. */
export interface LinkDispatcher {
  /** A batch of received frames; the views are valid only during the call. */
  deliverFrames(frames: readonly Frame[]): void;
  /** The link went up or down (carrier). */
  linkStateChanged?(up: boolean): void;
}

export interface LinkEndpoint {
  readonly caps: LinkCapabilities;
  /** The link's MAC address (6 bytes) for ethernet links; empty for 'ip' links. */
  readonly mac: Uint8Array;
  /** A short name for logs and pcap interface blocks ("veth0", "wire-a"). */
  readonly name: string;
  /** Called once by the stack; the link pushes frames to it from then on. */
  attach(dispatcher: LinkDispatcher): void;
  /**
   * Sends a batch of frames. The link may queue them and flush once per event-loop turn;
   * it owns nothing after the call returns (it copies what it must keep). Returns how many
   * it accepted; the rest were dropped (queue full) and it counted them.
   */
  writeFrames(frames: readonly Frame[]): number;
  /** Releases the link's resources; no frames are delivered after it returns. */
  close(): void;
}
