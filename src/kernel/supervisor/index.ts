// moat's seccomp supervisor: trap a guest's socket calls and answer them (DESIGN.md, src/kernel).
// Read seccomp_unotify(2) first. Typical use (the socket layer supplies the handler):
//
//   const guest = await spawnGuest({ file: 'curl', args: ['http://10.0.2.2/'] });
//   const sup = new Supervisor(guest.listenerFd, async (call) => {
//     switch (call.name) {
//       case 'socket': return { injectFd: guestEnd, closeAfter: true, cloexec: true };
//       case 'connect': { const sa = call.memory.readSockaddr(call.args[1]!, call.args[2]!); ... }
//       default: return { errno: 'ENOSYS' };
//     }
//   }).start();
//   await guest.exited;            // the listener hangs up when the last guest task exits
//
// The listener fd can come from any source (an OCI runtime's listenerPath later): Supervisor
// only needs the fd. Calls arrive only for x86_64; i386/x32 ones are refused with ENOSYS.
export { Supervisor } from './supervisor.js';
export type { SupervisorOptions, SupervisorEnd } from './supervisor.js';
export { GuestMemory, isGuestFault, guestFaultErrno, SOCKADDR_STORAGE_SIZE, UIO_MAXIOV, MAX_RW_COUNT, MSGHDR_SIZE, MMSGHDR_SIZE } from './guest-memory.js';
export type { GuestFault, GuestSegment, GuestMsghdr } from './guest-memory.js';
export { GuestFds, tgidOf } from './fds.js';
export type { GuestFdDup } from './fds.js';
export { spawnGuest, execHelperPath, GuestSpawnError } from './spawn.js';
export type { SpawnGuestOptions, SpawnedGuest, GuestExit, GuestStdio } from './spawn.js';
export * from './syscalls.js';
export type * from './types.js';
