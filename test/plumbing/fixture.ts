// A peer namespace with a Linux stack and a DUT namespace with none, joined by a veth: the
// DUT end is where moat's links attach. Everything is called moat-<tag><pid>... and deleted
// by close(). The NETWORK RULE: traffic stays inside these namespaces.

import { spawn, type ChildProcess } from 'node:child_process';
import {
  addAddress,
  addNeighbor,
  createNetns,
  createVethPair,
  deleteNetns,
  disableIpv6,
  linkInfo,
  setLinkUp,
} from '../../src/net-plumbing/netns.js';

export const PEER_IP = '10.213.88.1';
export const DUT_IP = '10.213.88.2';

export interface VethFixture {
  peerNs: string;
  dutNs: string;
  /** The veth end in the peer namespace (has PEER_IP/24). */
  peerIf: string;
  /** The veth end in the DUT namespace (no addresses, IPv6 off). */
  dutIf: string;
  peerMac: string;
  dutMac: string;
  close(): Promise<void>;
}

export async function vethFixture(tag: string): Promise<VethFixture> {
  const id = `${tag}${process.pid}`;
  const peerNs = `moat-${id}-peer`;
  const dutNs = `moat-${id}-dut`;
  const peerIf = `moat-${id}p`.slice(0, 15);
  const dutIf = `moat-${id}d`.slice(0, 15);
  const made: string[] = [];
  const close = async () => {
    for (const ns of made.reverse()) await deleteNetns(ns).catch(() => {});
  };
  try {
    await createNetns(peerNs);
    made.push(peerNs);
    await createNetns(dutNs);
    made.push(dutNs);
    await disableIpv6(dutNs);
    await createVethPair(peerIf, dutIf, { netnsA: peerNs, netnsB: dutNs });
    await addAddress(peerIf, `${PEER_IP}/24`, { netns: peerNs });
    await setLinkUp(peerIf, { netns: peerNs });
    await setLinkUp(dutIf, { netns: dutNs });
    const peerMac = (await linkInfo(peerIf, { netns: peerNs })).address;
    const dutMac = (await linkInfo(dutIf, { netns: dutNs })).address;
    return { peerNs, dutNs, peerIf, dutIf, peerMac, dutMac, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export { addNeighbor };

/** A node script run inside a namespace; lines it prints come back parsed as JSON. */
export interface NsProcess {
  child: ChildProcess;
  /** Resolves with the first printed JSON object that satisfies `pred`. */
  waitFor<T = Record<string, unknown>>(pred: (m: T) => boolean, timeoutMs?: number): Promise<T>;
  kill(): void;
}

export function runInNetns(netns: string, script: string): NsProcess {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: unknown[] = [];
  const waiters: { pred: (m: unknown) => boolean; resolve: (m: unknown) => void }[] = [];
  let stderr = '';
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      messages.push(m);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(m)) {
          waiters[i].resolve(m);
          waiters.splice(i, 1);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (stderr += c));
  return {
    child,
    waitFor<T>(pred: (m: T) => boolean, timeoutMs = 10_000): Promise<T> {
      const found = messages.find((m) => pred(m as T));
      if (found) return Promise.resolve(found as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message from the peer script within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({
          pred: pred as (m: unknown) => boolean,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m as T);
          },
        });
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
  };
}

/** Collects frames a link delivers, copying them (the views are only valid during the call). */
export class FrameCollector {
  readonly frames: { data: Uint8Array; offload?: import('../../src/netstack/link.js').FrameOffload }[] = [];
  readonly batchSizes: number[] = [];
  private waiters: { pred: (f: Uint8Array) => boolean; resolve: (f: { data: Uint8Array; offload?: import('../../src/netstack/link.js').FrameOffload }) => void }[] = [];

  deliverFrames(frames: readonly { data: Uint8Array; offload?: import('../../src/netstack/link.js').FrameOffload }[]): void {
    this.batchSizes.push(frames.length);
    for (const f of frames) {
      const copy = { data: Uint8Array.from(f.data), offload: f.offload ? { ...f.offload } : undefined };
      this.frames.push(copy);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i].pred(copy.data)) {
          this.waiters[i].resolve(copy);
          this.waiters.splice(i, 1);
        }
      }
    }
  }

  waitFor(pred: (f: Uint8Array) => boolean, timeoutMs = 10_000, what = 'frame'): Promise<{ data: Uint8Array; offload?: import('../../src/netstack/link.js').FrameOffload }> {
    const found = this.frames.find((f) => pred(f.data));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms (${this.frames.length} frames seen)`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }
}
