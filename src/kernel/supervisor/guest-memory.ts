// Reading and writing a trapped caller's memory (process_vm_readv/writev(2)), with the structure
// layouts of x86_64 Linux: struct sockaddr (include/linux/socket.h move_addr_to_kernel/user),
// struct iovec, struct msghdr. Read seccomp_unotify(2) "Caveats" first: the pid may be reused
// between the notification and our read, so every read is followed by SECCOMP_IOCTL_NOTIF_ID_VALID
// and every write preceded by it.
//
// Guest pointers are untrusted: a bad one is the result 'EFAULT', never a throw. 'GONE' means the
// call is no longer pending (the caller died, or the pid now names someone else), so whatever was
// read must not be acted on.

import { native } from '../../net-plumbing/native.js';

export type GuestFault = 'EFAULT' | 'EINVAL' | 'GONE';

/** sizeof(struct sockaddr_storage): the most a socket call will read from or write to a guest. */
export const SOCKADDR_STORAGE_SIZE = 128;
/** UIO_MAXIOV: the most iovecs readv/sendmsg accept. */
export const UIO_MAXIOV = 1024;
/** MAX_RW_COUNT on x86_64 (INT_MAX & PAGE_MASK): the kernel clamps one transfer to this. */
export const MAX_RW_COUNT = 0x7ffff000;

/** A run of guest memory. */
export interface GuestSegment {
  readonly base: bigint;
  readonly len: number;
}

/** struct msghdr (x86_64, 56 bytes). */
export interface GuestMsghdr {
  name: bigint;
  namelen: number;
  iov: bigint;
  iovlen: bigint;
  control: bigint;
  controllen: bigint;
  flags: number;
}
export const MSGHDR_SIZE = 56;

function isFault(r: unknown): r is string {
  return typeof r === 'string';
}

/** Whether a GuestMemory result is a fault rather than a value. */
export function isGuestFault<T>(v: T | GuestFault): v is GuestFault {
  return typeof v === 'string';
}

/**
 * The errno a guest gets for a fault on its memory. GONE: the caller is no longer waiting (it
 * died or was interrupted); any answer is refused, and EINTR says why in logs.
 */
export function guestFaultErrno(f: GuestFault): 'EFAULT' | 'EINVAL' | 'EINTR' {
  return f === 'GONE' ? 'EINTR' : f;
}

/** struct mmsghdr (sendmmsg/recvmmsg): a msghdr, then unsigned int msg_len, padded to 64 bytes. */
export const MMSGHDR_SIZE = 64;

export class GuestMemory {
  private readonly isValid: () => boolean;

  /**
   * @param pid the caller's thread id (any thread of the process shares its memory)
   * @param isValid SECCOMP_IOCTL_NOTIF_ID_VALID for the call this memory belongs to
   */
  constructor(
    readonly pid: number,
    isValid: () => boolean,
  ) {
    // The kernel reports pid 0 for a caller outside moat's pid namespace (an agent that runs in a
    // container of its own). process_vm_*(0) would mean moat ITSELF: never touch that.
    this.isValid = pid > 0 ? isValid : () => false;
  }

  /** Exactly `len` bytes at `addr`, or a fault. A short read (range ends in unmapped memory) is EFAULT. */
  read(addr: bigint, len: number): Uint8Array | GuestFault {
    if (len === 0) return this.isValid() ? new Uint8Array(0) : 'GONE';
    const r = native().readGuest(this.pid, addr, len);
    if (!this.isValid()) return 'GONE';
    if (isFault(r)) return r === 'ESRCH' ? 'GONE' : 'EFAULT';
    return r.length === len ? r : 'EFAULT';
  }

  /** Writes all of `bytes` at `addr`, or a fault. A partial write is reported as EFAULT (as copy_to_user would). */
  write(addr: bigint, bytes: Uint8Array): true | GuestFault {
    if (!this.isValid()) return 'GONE';
    if (bytes.length === 0) return true;
    const r = native().writeGuest(this.pid, addr, bytes);
    if (isFault(r)) return r === 'ESRCH' ? 'GONE' : 'EFAULT';
    return r === bytes.length ? true : 'EFAULT';
  }

  readU32(addr: bigint): number | GuestFault {
    const b = this.read(addr, 4);
    if (isFault(b)) return b;
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) >>> 0;
  }

  readI32(addr: bigint): number | GuestFault {
    const b = this.read(addr, 4);
    if (isFault(b)) return b;
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  }

  readU64(addr: bigint): bigint | GuestFault {
    const b = this.read(addr, 8);
    if (isFault(b)) return b;
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  writeU32(addr: bigint, v: number): true | GuestFault {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.write(addr, b);
  }

  writeI32(addr: bigint, v: number): true | GuestFault {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v | 0, true);
    return this.write(addr, b);
  }

  /**
   * A sockaddr the guest passes in (connect, bind, sendto): net/socket.c move_addr_to_kernel.
   * `addrlen` is the raw syscall argument; the kernel treats it as an int.
   */
  readSockaddr(addr: bigint, addrlen: bigint | number): Uint8Array | GuestFault {
    const len = Number(BigInt.asIntN(32, BigInt(addrlen)));
    if (len < 0 || len > SOCKADDR_STORAGE_SIZE) return 'EINVAL';
    if (len === 0) return this.isValid() ? new Uint8Array(0) : 'GONE';
    return this.read(addr, len);
  }

  /**
   * Returns a sockaddr to the guest (accept, getsockname, recvfrom): net/socket.c move_addr_to_user.
   * Reads the int at `addrlenPtr`, copies min(it, bytes.length) bytes, and writes the FULL length
   * back, so the guest can see that it was truncated. A null `addr` writes nothing (accept(fd, 0, 0)).
   */
  writeSockaddr(addr: bigint, addrlenPtr: bigint, bytes: Uint8Array): true | GuestFault {
    if (addr === 0n || addrlenPtr === 0n) return this.isValid() ? true : 'GONE';
    const room = this.readI32(addrlenPtr);
    if (typeof room === 'string') return room;
    if (room < 0) return 'EINVAL';
    const n = Math.min(room, bytes.length);
    if (n > 0) {
      const w = this.write(addr, bytes.subarray(0, n));
      if (w !== true) return w;
    }
    return this.writeI32(addrlenPtr, bytes.length);
  }

  /** struct iovec[iovcnt] at `iov`: net/core lib/iov_iter.c import_iovec's rules (count, negative lengths). */
  readIovecs(iov: bigint, iovcnt: bigint | number): GuestSegment[] | GuestFault {
    const count = BigInt(iovcnt);
    if (count < 0n || count > BigInt(UIO_MAXIOV)) return 'EINVAL';
    const n = Number(count);
    if (n === 0) return this.isValid() ? [] : 'GONE';
    const raw = this.read(iov, n * 16);
    if (isFault(raw)) return raw;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: GuestSegment[] = [];
    let total = 0;
    for (let i = 0; i < n; i++) {
      const base = dv.getBigUint64(i * 16, true);
      const len = dv.getBigInt64(i * 16 + 8, true);
      if (len < 0n) return 'EINVAL';
      // The kernel clamps the whole transfer at MAX_RW_COUNT; so do we, per vector.
      const take = Number(len > BigInt(MAX_RW_COUNT - total) ? BigInt(MAX_RW_COUNT - total) : len);
      total += take;
      out.push({ base, len: take });
    }
    return out;
  }

  /** struct msghdr at `addr` (sendmsg/recvmsg; mmsghdr is a msghdr followed by an unsigned int). */
  readMsghdr(addr: bigint): GuestMsghdr | GuestFault {
    const raw = this.read(addr, MSGHDR_SIZE);
    if (isFault(raw)) return raw;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return {
      name: dv.getBigUint64(0, true),
      namelen: dv.getUint32(8, true) >>> 0,
      iov: dv.getBigUint64(16, true),
      iovlen: dv.getBigUint64(24, true),
      control: dv.getBigUint64(32, true),
      controllen: dv.getBigUint64(40, true),
      flags: dv.getInt32(48, true),
    };
  }

  /** Gathers up to `max` bytes from the segments (sendmsg's payload). A fault part-way is EFAULT. */
  gather(segments: readonly GuestSegment[], max = MAX_RW_COUNT): Uint8Array | GuestFault {
    const list: Array<readonly [bigint, number]> = [];
    let want = 0;
    for (const s of segments) {
      if (want >= max) break;
      const take = Math.min(s.len, max - want);
      if (take > 0) list.push([s.base, take]);
      want += take;
    }
    if (want === 0) return this.isValid() ? new Uint8Array(0) : 'GONE';
    const r = native().readGuestv(this.pid, list);
    if (!this.isValid()) return 'GONE';
    if (isFault(r)) return r === 'ESRCH' ? 'GONE' : 'EFAULT';
    return r.length === want ? r : 'EFAULT';
  }

  /**
   * Scatters `bytes` over the segments (recvmsg's payload). Returns the count written; like the
   * kernel's copy_to_iter, a fault after some bytes were written reports those bytes.
   */
  scatter(segments: readonly GuestSegment[], bytes: Uint8Array): number | GuestFault {
    if (!this.isValid()) return 'GONE';
    if (bytes.length === 0) return 0;
    const r = native().writeGuestv(
      this.pid,
      segments.map((s) => [s.base, s.len] as const),
      bytes,
    );
    if (isFault(r)) return r === 'ESRCH' ? 'GONE' : 'EFAULT';
    return r;
  }
}
