// The OCI seccomp section (and Kubernetes Localhost profile) that sends a container's socket calls
// to `moat agent`. Read first: config-linux.md "Seccomp" (listenerPath, SCMP_ACT_NOTIFY, args and
// SCMP_CMP_MASKED_EQ), and native/exec-helper/exec_helper.c: this traps the same calls as moat's
// own exec helper, expressed as libseccomp rules that runc and crun compile.
//
// defaultAction ALLOW: the profile only adds the trap; a deployment that wants the runtime's
// default restrictions too merges these rules into its own profile. Only SCMP_ARCH_X86_64 is
// listed, so i386 and x32 calls are refused by libseccomp's bad-architecture action; io_uring gets
// ENOSYS because its kernel workers make socket calls seccomp never sees.

export interface OciSeccompRule {
  names: string[];
  action: 'SCMP_ACT_NOTIFY' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_ALLOW';
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ' }[];
}

export interface OciSeccomp {
  defaultAction: 'SCMP_ACT_ALLOW';
  architectures: string[];
  listenerPath: string;
  listenerMetadata?: string;
  syscalls: OciSeccompRule[];
}

const AF_INET = 2;
const AF_INET6 = 10;
const ENOSYS = 38;

/** Calls on an fd: moat's socket layer tells its own sockets from the container's unix ones. */
export const TRAPPED_FD_CALLS = [
  'connect', 'bind', 'listen', 'accept', 'accept4', 'getsockname', 'getpeername', 'getsockopt', 'setsockopt',
  'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown',
];

export function agentSeccompProfile(opts: { listenerPath: string; listenerMetadata?: string; families?: readonly number[] }): OciSeccomp {
  const families = opts.families ?? [AF_INET, AF_INET6];
  const syscalls: OciSeccompRule[] = [
    { names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    // Rules for one call are ORed by libseccomp; the args of one rule are ANDed.
    ...families.map((f): OciSeccompRule => ({ names: ['socket', 'socketpair'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 0, value: f, op: 'SCMP_CMP_EQ' }] })),
    // ioctl: the SIOC* range 0x8900..0x89ff only (interface queries); (cmd & 0xffffff00) == 0x8900.
    { names: ['ioctl'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 1, value: 0xffffff00, valueTwo: 0x8900, op: 'SCMP_CMP_MASKED_EQ' }] },
    { names: [...TRAPPED_FD_CALLS], action: 'SCMP_ACT_NOTIFY' },
  ];
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    listenerPath: opts.listenerPath,
    ...(opts.listenerMetadata !== undefined ? { listenerMetadata: opts.listenerMetadata } : {}),
    syscalls,
  };
}
