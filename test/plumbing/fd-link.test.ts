// FdLink end to end without root: a FIFO opened read-write stands in for a tap (a character
// device read and written a frame at a time). A pipe keeps no frame boundaries, so each test
// lets one frame through at a time, or counts bytes.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FdLink } from '../../src/net-plumbing/links/fd-link.js';
import type { LinkCapabilities } from '../../src/netstack/link.js';
import { FrameCollector } from './fixture.js';

const caps: LinkCapabilities = { medium: 'ethernet', mtu: 1500, txChecksumOffload: true, rxChecksumOffload: true, gsoMaxSize: 65536 };

function fifoLink(vnetHdr: boolean, extra: { txSlots?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'moat-fifo-'));
  const path = join(dir, 'wire');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const link = new FdLink({ fd, name: 'fifo', mac: new Uint8Array(6), caps, vnetHdr, stream: true, ...extra });
  return { link, cleanup: () => (link.close(), rmSync(dir, { recursive: true, force: true })) };
}

function frame(len: number, seed: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 31 + seed) & 0xff;
  return f;
}

test('FdLink: a frame and its offload survive the virtio_net_hdr round trip', async (t) => {
  const { link, cleanup } = fifoLink(true);
  try {
    const col = new FrameCollector();
    link.attach(col);
    const a = frame(60, 1);
    t.is(link.writeFrames([{ data: a, offload: { csumStart: 34, csumOffset: 6 } }]), 1);
    const got = await col.waitFor((f) => f.length === 60, 5000);
    t.deepEqual(got.data, a);
    t.deepEqual(got.offload, { csumStart: 34, csumOffset: 6 });
    const b = frame(9000, 2);
    const gso = { csumStart: 34, csumOffset: 16, gsoType: 'tcpv4' as const, gsoSize: 1448, hdrLen: 66 };
    link.writeFrames([{ data: b, offload: gso }]);
    const got2 = await col.waitFor((f) => f.length === 9000, 5000);
    t.deepEqual(got2.data, b);
    t.deepEqual(got2.offload, gso);
    const c = frame(100, 3);
    link.writeFrames([{ data: c }]);
    const got3 = await col.waitFor((f) => f.length === 100, 5000);
    t.is(got3.offload, undefined, 'a zero header means no offload');
    const s = link.stats();
    t.is(s.txFrames, 3);
    t.is(s.rxDelivered, 3);
  } finally {
    cleanup();
  }
});

test('FdLink: writeFrames flushes once per turn, and a batch larger than the staging area still goes out in order', async (t) => {
  const { link, cleanup } = fifoLink(false, { txSlots: 4 });
  try {
    const col = new FrameCollector();
    link.attach(col);
    const frames = Array.from({ length: 10 }, (_, i) => ({ data: frame(20, i) }));
    t.is(link.writeFrames(frames), 10);
    // 4 slots: two flushes happened inside writeFrames, the rest waits for the turn.
    t.is(link.stats().txFrames, 8);
    await new Promise((r) => setImmediate(r));
    t.is(link.stats().txFrames, 10);
    const expected = new Uint8Array(200);
    frames.forEach((f, i) => expected.set(f.data, i * 20));
    // The pipe merges frames: compare the byte stream.
    let bytes = 0;
    for (let i = 0; i < 100 && bytes < 200; i++) {
      await new Promise((r) => setTimeout(r, 10));
      bytes = col.frames.reduce((n, f) => n + f.data.length, 0);
    }
    const got = new Uint8Array(bytes);
    let off = 0;
    for (const f of col.frames) (got.set(f.data, off), (off += f.data.length));
    t.deepEqual(got, expected);
  } finally {
    cleanup();
  }
});

test('FdLink: EAGAIN from a full fd drops and counts frames instead of throwing', (t) => {
  const { link, cleanup } = fifoLink(false);
  try {
    // Not attached: nothing reads the FIFO, whose 64 KiB buffer fills up.
    const frames = Array.from({ length: 2000 }, (_, i) => ({ data: frame(100, i) }));
    t.is(link.writeFrames(frames), 2000);
    link.flush();
    const s = link.stats();
    t.true(s.txBusyDrops > 0);
    t.is(s.txFrames + s.txBusyDrops, 2000);
    t.is(s.txErrors, 0);
  } finally {
    cleanup();
  }
});

test('FdLink: empty and oversized frames are refused and counted', (t) => {
  const { link, cleanup } = fifoLink(true);
  try {
    t.is(link.writeFrames([{ data: new Uint8Array(0) }, { data: new Uint8Array(70_000) }, { data: frame(64, 0) }]), 1);
    t.is(link.stats().txDropped.tooBig, 2);
  } finally {
    cleanup();
  }
});
