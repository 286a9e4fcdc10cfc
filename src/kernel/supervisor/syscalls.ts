// x86_64 system call numbers of the calls moat's filter traps or refuses
// (arch/x86/entry/syscalls/syscall_64.tbl). Read seccomp(2) "Caveats" on architectures first:
// a number means nothing without the AUDIT_ARCH it came with.

/** AUDIT_ARCH_X86_64 (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE). */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** AUDIT_ARCH_I386: int 0x80 / sysenter from any process, including socketcall(2). */
export const AUDIT_ARCH_I386 = 0x40000003;
/** x32 system calls carry AUDIT_ARCH_X86_64 and this bit in nr. */
export const X32_SYSCALL_BIT = 0x40000000;

export const SYSCALLS_X86_64 = {
  ioctl: 16,
  socket: 41,
  connect: 42,
  accept: 43,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  recvmsg: 47,
  shutdown: 48,
  bind: 49,
  listen: 50,
  getsockname: 51,
  getpeername: 52,
  socketpair: 53,
  setsockopt: 54,
  getsockopt: 55,
  accept4: 288,
  recvmmsg: 299,
  sendmmsg: 307,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
} as const;

export type SyscallName = keyof typeof SYSCALLS_X86_64;

/** The calls moat's filter may deliver as notifications (io_uring_* are refused in BPF instead). */
export type TrappedSyscallName = Exclude<SyscallName, 'io_uring_setup' | 'io_uring_enter' | 'io_uring_register'>;

const BY_NUMBER = new Map<number, SyscallName>(Object.entries(SYSCALLS_X86_64).map(([k, v]) => [v, k as SyscallName]));

/** The name of an x86_64 syscall number in the table, or undefined. */
export function syscallName(nr: number): SyscallName | undefined {
  return BY_NUMBER.get(nr);
}

/** The socket ioctl range the filter traps (include/uapi/linux/sockios.h: SIOCADDRT .. SIOCPROTOPRIVATE+15). */
export const SIOC_FIRST = 0x8900;
export const SIOC_LAST = 0x89ff;

/** Address families trapped by default in socket()/socketpair() (include/linux/socket.h). */
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;

/** socket() type flags (include/linux/net.h): they ride in the type argument. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_TYPE_MASK = 0xf;

/** SECCOMP_USER_NOTIF_FLAG_CONTINUE (linux/seccomp.h). */
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
