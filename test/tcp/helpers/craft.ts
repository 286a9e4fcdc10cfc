// Hand-made segments for tests that play a misbehaving or hostile peer.

import { encodeSegment } from '../../../src/netstack/tcp/codec.js';
import { EMPTY, emptySegment, type Segment } from '../../../src/netstack/tcp/segment.js';
import type { IpAddr } from '../../../src/netstack/wire/ip-address.js';

export function craft(src: IpAddr, dst: IpAddr, fields: Partial<Segment>): Uint8Array {
  const s: Segment = { ...emptySegment(), window: 65535, ...fields };
  const header = encodeSegment(s, src, dst, false);
  const payload = s.payload ?? EMPTY;
  const out = new Uint8Array(header.length + payload.length);
  out.set(header);
  out.set(payload, header.length);
  return out;
}
