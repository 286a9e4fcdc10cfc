// The one place the native addon is loaded (DESIGN.md: native/ is thin; everything above it
// goes through this typed surface). The addon is built by `npm install` (node-gyp, native/).

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TapHandle {
  fd: number;
  /** The name the kernel gave the device (patterns like "moat-%d" are expanded). */
  name: string;
}

/** An Error thrown by the addon for a failed system call. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface NativeAddon {
  /** Opens (creating if needed) a tap device: IFF_TAP|IFF_NO_PI, optionally IFF_VNET_HDR. Non-blocking, close-on-exec. */
  openTap(name: string, opts?: { vnetHdr?: boolean }): TapHandle;
  closeFd(fd: number): void;
}

/** The package root: the nearest directory above this file whose package.json is moat's. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'moat') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('moat: cannot find the package root (package.json named "moat")');
    dir = up;
  }
}

let cached: NativeAddon | null = null;

export function addonPath(): string {
  return join(packageRoot(), 'native', 'build', 'Release', 'moat_native.node');
}

/** Loads the addon once; throws an Error that says how to build it when it is missing. */
export function native(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`moat: native addon not built (${path} is missing); run \`npm install\` or \`npm run build:native\``);
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeAddon;
  return cached;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).code === 'string' && typeof (e as Partial<NativeError>).errno === 'number';
}
