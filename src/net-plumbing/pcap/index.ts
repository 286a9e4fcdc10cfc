// Capture files (pcap, pcapng): reading and writing. See format.ts for the specs to read.

export {
  BlockType,
  LinkType,
  MAX_BLOCK_LENGTH,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
  PcapFormatError,
} from './format.js';
export type { LinkTypeName, PcapErrorCode, PcapInterface, PcapRecord } from './format.js';
export { PcapParser } from './parser.js';
export type { PcapReadOptions, PcapTruncation } from './parser.js';
export { PcapStreamReader, readPcap, readPcapBuffer, readPcapBufferWithParser } from './reader.js';
export type { PcapSource } from './reader.js';
export { DEFAULT_SNAPLEN, PcapWriter, PcapngWriter } from './writer.js';
export type {
  CaptureWriterOptions,
  PacketSink,
  PcapWriterOptions,
  PcapngInterfaceOptions,
  PcapngWriterOptions,
} from './writer.js';
