// moat's seccomp supervisor: trap a guest's socket calls and answer them (DESIGN.md, src/kernel).
export { Supervisor } from './supervisor.js';
export type { SupervisorOptions, SupervisorEnd } from './supervisor.js';
export { GuestMemory, SOCKADDR_STORAGE_SIZE, UIO_MAXIOV, MAX_RW_COUNT, MSGHDR_SIZE, MMSGHDR_SIZE } from './guest-memory.js';
export type { GuestFault, GuestSegment, GuestMsghdr } from './guest-memory.js';
export { GuestFds, tgidOf } from './fds.js';
export type { GuestFdDup } from './fds.js';
export { spawnGuest, execHelperPath, GuestSpawnError } from './spawn.js';
export type { SpawnGuestOptions, SpawnedGuest, GuestExit, GuestStdio } from './spawn.js';
export * from './syscalls.js';
export type * from './types.js';
