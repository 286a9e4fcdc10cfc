// Two moat stacks joined by an in-process wire, real clock by default: the embedding tests'
// topology. A: 10.0.0.1/24 fd00::1/64, B: 10.0.0.2/24 fd00::2/64.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createStack, createWirePair, type CreateStackOptions, type MoatStack } from '../../src/index.js';

export interface Pair {
  a: MoatStack;
  b: MoatStack;
  close(): void;
}

export function pair(extraA: Partial<CreateStackOptions> = {}, extraB: Partial<CreateStackOptions> = {}, clock?: CreateStackOptions['clock']): Pair {
  const [la, lb] = createWirePair(clock ? { clock } : {});
  const a = createStack({ link: la, ip: ['10.0.0.1/24', 'fd00::1/64'], clock, ...extraA });
  const b = createStack({ link: lb, ip: ['10.0.0.2/24', 'fd00::2/64'], clock, ...extraB });
  return {
    a,
    b,
    close() {
      a.close();
      b.close();
    },
  };
}

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes (not all zero: a window bug that shifts data shows in the hash). */
export function pattern(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function listening<T extends { once(ev: string, f: (...a: unknown[]) => void): unknown }>(server: T): Promise<T> {
  await once(server as unknown as NodeJS.EventEmitter, 'listening');
  return server;
}

export const tick = () => new Promise<void>((r) => setImmediate(r));

/** 'close' (events.once would reject on an 'error' emitted first). */
export const closeOf = (e: NodeJS.EventEmitter) => new Promise<void>((r) => e.once('close', () => r()));
