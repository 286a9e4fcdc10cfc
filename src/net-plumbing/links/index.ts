// The real-device links (see each file's header for what to read first).
export { FdLink, MAX_FRAME_BYTES, type FdLinkStats } from './fd-link.js';
export { PacketLink, type PacketLinkOptions } from './packet-link.js';
export { TapLink, randomLocalMac, type TapLinkOptions } from './tap-link.js';
export { PcapLiveLink, type PcapLiveLinkOptions, type PcapLiveLinkStats } from './pcap-live-link.js';
export { parseVnetHdr, writeVnetHdr, VNET_HDR_LEN } from './virtio-net-hdr.js';
