// Capture file formats: the constants and shapes shared by the reader and the writers.
//
// Read first:
//  - draft-ietf-opsawg-pcap (classic libpcap format): §4 file header, §5 packet record,
//    §8 the a1b23c4d nanosecond magic.
//  - draft-ietf-opsawg-pcapng (pcapng): §3.1 block layout, §4.1 SHB, §4.2 IDB, §4.3 EPB,
//    §4.4 SPB, §3.5 options, Appendix A OPB (obsolete but still written by old tools).
//  - LINKTYPE_ registry (draft-ietf-opsawg-pcaplinktype / tcpdump.org/linktypes.html).

/** LINKTYPE_ values (not DLT_ values: they differ for RAW on some systems). */
export const LinkType = {
  /** BSD loopback: a 4-byte host-order address family, then the packet. */
  NULL: 0,
  /** Ethernet II / 802.3 frames without FCS. */
  EN10MB: 1,
  /** Bare IPv4 or IPv6 packets (version nibble tells which). */
  RAW: 101,
  /** Linux "cooked" capture v1: 16-byte pseudo header. */
  LINUX_SLL: 113,
  /** Linux "cooked" capture v2: 20-byte pseudo header with the interface index. */
  LINUX_SLL2: 276,
  IPV4: 228,
  IPV6: 229,
} as const;
export type LinkTypeName = keyof typeof LinkType;

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

/** pcapng block types (draft-ietf-opsawg-pcapng §11.1). */
export const BlockType = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  /** Packet Block, obsolete (Appendix A). */
  OPB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
} as const;

export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes used here (§3.5, §4.1, §4.2, §4.3). */
export const Opt = {
  END: 0,
  COMMENT: 1,
  SHB_HARDWARE: 2,
  SHB_OS: 3,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  IF_FCSLEN: 13,
  IF_TSOFFSET: 14,
  EPB_FLAGS: 2,
} as const;

/**
 * No block or record may claim more than this. Real captures stay far below it (the largest
 * snaplen in use is 256 KiB); a larger claim is damage, and trusting it would make the reader
 * wait for, or allocate, gigabytes.
 */
export const MAX_BLOCK_LENGTH = 256 * 1024 * 1024;

/** One captured packet, whatever the file format. */
export interface PcapRecord {
  /** The interface's index within its pcapng section (always 0 in classic pcap). */
  readonly interfaceId: number;
  /** Which pcapng section the record came from, counting from 0 (always 0 in classic pcap). */
  readonly sectionIndex: number;
  /** LINKTYPE_ of the interface (see LinkType). */
  readonly linkType: number;
  /**
   * Nanoseconds since the Unix epoch, offsets (if_tsoffset) applied. A Simple Packet Block has
   * no timestamp: its records carry 0n and `hasTimestamp: false`.
   */
  readonly timestampNs: bigint;
  readonly hasTimestamp: boolean;
  readonly capturedLength: number;
  readonly originalLength: number;
  /** A view into the file's bytes; copy it to keep it beyond the reader's buffer. */
  readonly data: Uint8Array;
  /** The first opt_comment of the packet block, if any. */
  readonly comment?: string;
  /** Byte offset of the record (or block) in the file. */
  readonly offset: number;
}

/** One pcapng interface (or the single implicit interface of a classic pcap file). */
export interface PcapInterface {
  readonly interfaceId: number;
  readonly sectionIndex: number;
  readonly linkType: number;
  readonly snapLength: number;
  readonly name?: string;
  readonly description?: string;
  /** Timestamp units per second, as if_tsresol says (10^6 when absent). */
  readonly unitsPerSecond: bigint;
  /** if_tsoffset in seconds (0 when absent). */
  readonly tsOffsetSeconds: bigint;
  /** if_fcslen, or the FCS length bits of a classic header, when given. */
  readonly fcsLength?: number;
}

export type PcapErrorCode =
  /** The first bytes are no known capture magic. */
  | 'bad-magic'
  /** A length field is impossible (too small, not a multiple of 4, over MAX_BLOCK_LENGTH). */
  | 'bad-length'
  /** The trailing length of a pcapng block differs from its leading one. */
  | 'length-mismatch'
  /** A pcapng SHB with an unknown byte-order magic or major version. */
  | 'bad-section'
  /** A packet block names an interface no IDB of its section described. */
  | 'unknown-interface'
  /** An option runs past the end of its block, or has an impossible value. */
  | 'bad-option'
  /** The data ends inside a header, record or block. */
  | 'truncated';

/** Structural damage in a capture file, with the byte offset where it was found. */
export class PcapFormatError extends Error {
  override readonly name = 'PcapFormatError';
  constructor(
    readonly code: PcapErrorCode,
    /** Offset in the file of the record/block (or field) that is damaged. */
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}
