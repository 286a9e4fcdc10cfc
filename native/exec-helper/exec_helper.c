/*
 * moat-exec-helper: the first process of a sandboxed guest. Read seccomp(2),
 * seccomp_unotify(2), pidfd_getfd(2), unshare(2) first.
 *
 * Why a separate binary rather than fork() inside the addon: Node is multi-threaded, and after
 * fork() in a multi-threaded process only async-signal-safe calls are allowed until exec. Letting
 * Node's child_process (libuv) do the fork/exec gives us stdio, cwd, env, signal-disposition reset
 * and reaping (the `exit` event) for free, and this small program does the three privileged steps
 * in a normal single-threaded process, then execs the guest in place (same pid, same stdio).
 *
 * Steps: unshare(CLONE_NEWNET) -> drop privileges -> PR_SET_NO_NEW_PRIVS -> seccomp(NEW_LISTENER)
 * -> hand the listener to moat -> close stray fds -> execvp(guest).
 *
 * Handing the listener over: once the filter is installed, this process's own sendmsg() is
 * trapped, and nobody reads the listener yet (we hold it), so SCM_RIGHTS would deadlock. Instead
 * we write the listener's fd NUMBER (write(2) is not trapped) on the control socket; moat takes a
 * duplicate with pidfd_getfd(2) and answers one byte, and only then do we exec. pidfd_getfd needs
 * PTRACE_MODE_ATTACH_REALCREDS over us: root has it; a rootless moat has it too because we are its
 * child with the same credentials (and Yama ptrace_scope=1 allows descendants).
 *
 * Rootless: unshare(CLONE_NEWNET) needs CAP_SYS_ADMIN over the current user namespace. Without
 * root, the path is unshare(CLONE_NEWUSER | CLONE_NEWNET) and writing uid_map/gid_map (deny
 * setgroups first) so the guest is "root" only inside its own user namespace. We run as root today,
 * so that path is not implemented here.
 *
 * Control protocol (fd given by --control-fd, a unix stream socket), records of 16 bytes,
 * little-endian: u32 magic 'MOAT', u32 type, i32 value, u32 flags.
 *   type 1 LISTENER: value = the listener's fd number here, flags bit0 = WAIT_KILLABLE_RECV active
 *   type 2 ERROR:    value = errno, flags = stage (1 unshare, 2 no_new_privs, 3 seccomp, 4 exec,
 *                    5 usage, 6 handshake, 7 credentials)
 * moat answers the LISTENER record with one byte 'G'. The control socket is close-on-exec, so a
 * successful exec shows up as EOF on moat's side; a failed exec as an ERROR record with stage 4.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

#define MOAT_MAGIC 0x54414f4du
#define REC_LISTENER 1
#define REC_ERROR 2
enum { STAGE_UNSHARE = 1, STAGE_NNP = 2, STAGE_SECCOMP = 3, STAGE_EXEC = 4, STAGE_USAGE = 5, STAGE_HANDSHAKE = 6, STAGE_CREDS = 7 };

/* ---- BPF program builder with forward labels ---- */

#define MAX_INSNS 128
#define NEXT (-1)
enum { L_ALLOW = 0, L_ALLOW_2, L_NOTIF, L_ENOSYS, L_FAMILY, L_IOCTL };

struct insn {
  struct sock_filter f;
  int jt, jf; /* label ids or NEXT; only for conditional jumps */
  int label;  /* label defined at this instruction, or -1 */
};

static struct insn prog[MAX_INSNS];
static int nprog = 0;
static int pending_label = -1;

static void emit(uint16_t code, uint32_t k, int jt, int jf) {
  if (nprog >= MAX_INSNS) {
    fprintf(stderr, "moat-exec-helper: BPF program too long\n");
    _exit(125);
  }
  prog[nprog].f.code = code;
  prog[nprog].f.k = k;
  prog[nprog].jt = jt;
  prog[nprog].jf = jf;
  prog[nprog].label = pending_label;
  pending_label = -1;
  nprog++;
}
static void label(int l) { pending_label = l; }
static void load_abs(uint32_t off) { emit(BPF_LD | BPF_W | BPF_ABS, off, NEXT, NEXT); }
static void ret(uint32_t v) { emit(BPF_RET | BPF_K, v, NEXT, NEXT); }
static void jeq(uint32_t k, int jt, int jf) { emit(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf); }

static int resolve(int from, int target) {
  if (target == NEXT) return 0;
  for (int i = from + 1; i < nprog; i++) {
    if (prog[i].label == target) {
      int off = i - from - 1;
      if (off > 255) break;
      return off;
    }
  }
  fprintf(stderr, "moat-exec-helper: unresolved BPF label %d\n", target);
  _exit(125);
}

/* Low 32 bits of seccomp_data.args[i]: the kernel truncates int/unsigned int arguments, so
 * that is what it will act on (x86_64 is little-endian). */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

static const int trapped_calls[] = {
    SYS_connect, SYS_bind, SYS_listen, SYS_accept, SYS_accept4, SYS_getsockname, SYS_getpeername,
    SYS_getsockopt, SYS_setsockopt, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,
    SYS_sendmmsg, SYS_recvmmsg, SYS_shutdown,
};

static void build_filter(const uint32_t* families, int nfamilies) {
  /* Foreign ABIs (i386 via int 0x80 or sysenter, which includes socketcall(2)) never reach the
   * rest of the filter: their syscall numbers mean other things. */
  load_abs(offsetof(struct seccomp_data, arch));
  jeq(AUDIT_ARCH_X86_64, NEXT, L_ENOSYS);
  load_abs(offsetof(struct seccomp_data, nr));
  /* x32 shares AUDIT_ARCH_X86_64 and is told apart only by this bit in nr. */
  emit(BPF_JMP | BPF_JSET | BPF_K, __X32_SYSCALL_BIT, L_ENOSYS, NEXT);
  /* io_uring performs socket operations from kernel workers that seccomp never sees. */
  jeq(SYS_io_uring_setup, L_ENOSYS, NEXT);
  jeq(SYS_io_uring_enter, L_ENOSYS, NEXT);
  jeq(SYS_io_uring_register, L_ENOSYS, NEXT);
  jeq(SYS_socket, L_FAMILY, NEXT);
  jeq(SYS_socketpair, L_FAMILY, NEXT);
  jeq(SYS_ioctl, L_IOCTL, NEXT);
  for (size_t i = 0; i < sizeof trapped_calls / sizeof trapped_calls[0]; i++) jeq((uint32_t)trapped_calls[i], L_NOTIF, NEXT);
  label(L_ALLOW);
  ret(SECCOMP_RET_ALLOW);

  /* socket/socketpair: only the families moat serves (AF_INET, AF_INET6 by default). AF_UNIX and
   * the rest stay native and cost nothing. */
  label(L_FAMILY);
  load_abs(ARG_LO(0));
  for (int i = 0; i < nfamilies; i++) jeq(families[i], L_NOTIF, NEXT);
  ret(SECCOMP_RET_ALLOW);

  /* ioctl: only the socket-configuration range SIOC* 0x8900..0x89ff (SIOCGIFCONF, SIOCGIFINDEX,
   * SIOCGIFADDR, SIOCATMARK ...), which describe the network moat emulates. FIONREAD/SIOCINQ
   * (0x541b) and SIOCOUTQ (0x5411) are left to the kernel on purpose: on the guest's end of a unix
   * stream pair it counts the bytes moat already delivered, and on a datagram pair it reports the
   * size of the next datagram, which is what TCP and UDP report; trapping them would also slow
   * every tty and pipe ioctl. FIONBIO needs no trap either: it sets O_NONBLOCK on the shared open
   * file, which moat sees through its pidfd_getfd duplicate. */
  label(L_IOCTL);
  load_abs(ARG_LO(1));
  emit(BPF_JMP | BPF_JGE | BPF_K, 0x8900, NEXT, L_ALLOW_2);
  emit(BPF_JMP | BPF_JGT | BPF_K, 0x89ff, L_ALLOW_2, L_NOTIF);
  label(L_ALLOW_2);
  ret(SECCOMP_RET_ALLOW);

  label(L_NOTIF);
  ret(SECCOMP_RET_USER_NOTIF);
  label(L_ENOSYS);
  ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
}

/* ---- control channel ---- */

static int control_fd = -1;

static int write_all(int fd, const void* buf, size_t len) {
  const char* p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void send_record(uint32_t type, int32_t value, uint32_t flags) {
  uint32_t rec[4] = {MOAT_MAGIC, type, (uint32_t)value, flags};
  if (control_fd >= 0) (void)write_all(control_fd, rec, sizeof rec);
}

static void fail(int stage, int err, const char* what) {
  fprintf(stderr, "moat-exec-helper: %s: %s\n", what, strerror(err));
  send_record(REC_ERROR, err, (uint32_t)stage);
  _exit(stage == STAGE_EXEC ? (err == ENOENT ? 127 : 126) : 125);
}

static void usage(const char* why) {
  fprintf(stderr,
          "moat-exec-helper: %s\n"
          "usage: moat-exec-helper --control-fd N [--no-netns] [--no-wait-killable] [--trap-family AF]...\n"
          "                        [--uid N --gid N | --keep-caps] -- FILE ARGV0 [ARGS...]\n",
          why);
  send_record(REC_ERROR, EINVAL, STAGE_USAGE);
  _exit(125);
}

static long parse_int(const char* s, const char* what) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || !end || *end || v < 0 || v > 0x7fffffff) usage(what);
  return v;
}

/* A guest that is root with full capabilities is not sandboxed by a filter on socket calls: it
 * could setns(2) into the host's network namespace (then AF_PACKET/AF_NETLINK, which moat does not
 * trap, reach the host network), ptrace moat, or load modules. So unless told otherwise the guest
 * runs without any capability: as --uid/--gid if given (setuid clears the capability sets), else
 * as uid 0 with an empty bounding set (so exec cannot regain any), no ambient, and zero
 * effective/permitted/inheritable sets. A uid-0 guest still owns root's files: pass --uid for a
 * filesystem boundary too (moat is a network sandbox; files are not its subject). */
static void drop_privileges(long uid, long gid) {
  if (gid >= 0) {
    if (setgroups(0, NULL) < 0) fail(STAGE_CREDS, errno, "setgroups");
    if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) fail(STAGE_CREDS, errno, "setresgid");
  }
  /* The bounding set can only shrink while we hold CAP_SETPCAP, i.e. before setuid.
   * CAP_NET_RAW, CAP_NET_ADMIN and CAP_NET_BIND_SERVICE stay in it, and only there: programs
   * such as ping are installed with them as file capabilities (+ep), and the kernel refuses to
   * exec such a "capability-dumb" file with EPERM when the bounding set cannot grant them
   * (bprm_caps_from_vfs_caps). They are never granted: no_new_privs makes execve keep the
   * permitted set empty, so ping runs without CAP_NET_RAW and uses a ping socket, as it would
   * for any user. */
  for (int cap = 0; cap <= 63; cap++) {
    if (cap == CAP_NET_RAW || cap == CAP_NET_ADMIN || cap == CAP_NET_BIND_SERVICE) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL) break; /* past CAP_LAST_CAP */
  }
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (uid >= 0) {
    if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) fail(STAGE_CREDS, errno, "setresuid");
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &hdr, data) < 0) fail(STAGE_CREDS, errno, "capset");
}

int main(int argc, char** argv) {
  int netns = 1, wait_killable = 1, keep_caps = 0;
  long uid = -1, gid = -1;
  uint32_t families[16];
  int nfamilies = 0;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "--control-fd") == 0 && i + 1 < argc) {
      control_fd = (int)parse_int(argv[++i], "bad --control-fd");
    } else if (strcmp(argv[i], "--no-netns") == 0) {
      netns = 0;
    } else if (strcmp(argv[i], "--no-wait-killable") == 0) {
      wait_killable = 0;
    } else if (strcmp(argv[i], "--keep-caps") == 0) {
      keep_caps = 1;
    } else if (strcmp(argv[i], "--uid") == 0 && i + 1 < argc) {
      uid = parse_int(argv[++i], "bad --uid");
    } else if (strcmp(argv[i], "--gid") == 0 && i + 1 < argc) {
      gid = parse_int(argv[++i], "bad --gid");
    } else if (strcmp(argv[i], "--trap-family") == 0 && i + 1 < argc) {
      if (nfamilies >= 16) usage("too many --trap-family");
      families[nfamilies++] = (uint32_t)parse_int(argv[++i], "bad --trap-family");
    } else {
      usage("unknown option");
    }
  }
  if (control_fd < 0) usage("--control-fd is required");
  if (keep_caps && (uid >= 0 || gid >= 0)) usage("--keep-caps contradicts --uid/--gid");
  if (argc - i < 2) usage("missing FILE ARGV0");
  const char* file = argv[i];
  char** guest_argv = &argv[i + 1];
  if (nfamilies == 0) {
    families[nfamilies++] = AF_INET;
    families[nfamilies++] = AF_INET6;
  }
  /* The guest must never inherit the control socket (nor the listener, see below). */
  if (fcntl(control_fd, F_SETFD, FD_CLOEXEC) < 0) fail(STAGE_USAGE, errno, "control fd");

  /* If moat dies, its guests die with it instead of running on unsupervised (their trapped calls
   * would fail with ENOSYS, but a half-working guest is worse than a dead one). */
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  /* Defence in depth: anything that slips past the filter finds a namespace with only a down `lo`. */
  if (netns && unshare(CLONE_NEWNET) < 0) fail(STAGE_UNSHARE, errno, "unshare(CLONE_NEWNET)");

  if (!keep_caps) drop_privileges(uid, gid);

  /* Required for an unprivileged filter, and it also stops setuid binaries from gaining
   * privileges the filter was not designed around. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(STAGE_NNP, errno, "prctl(PR_SET_NO_NEW_PRIVS)");

  build_filter(families, nfamilies);
  struct sock_filter filter[MAX_INSNS];
  for (int k = 0; k < nprog; k++) {
    filter[k] = prog[k].f;
    if (BPF_CLASS(prog[k].f.code) == BPF_JMP) {
      filter[k].jt = (uint8_t)resolve(k, prog[k].jt);
      filter[k].jf = (uint8_t)resolve(k, prog[k].jf);
    }
  }
  struct sock_fprog fprog = {.len = (unsigned short)nprog, .filter = filter};

  /* WAIT_KILLABLE_RECV (Linux 5.19): once moat has received a notification, only a fatal signal
   * interrupts the call. Without it every signal (Go's SIGURG preemption, SIGCHLD, timers)
   * withdraws the notification and restarts the call, so moat would see the same connect() many
   * times. Cost: a non-fatal signal cannot interrupt a long trapped call (accept) with EINTR. */
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | (wait_killable ? SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0);
  long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  if (listener < 0 && errno == EINVAL && wait_killable) {
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    wait_killable = 0;
    listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  }
  if (listener < 0) fail(STAGE_SECCOMP, errno, "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)");
  /* From here on, no trapped call may be made by this process: nobody answers them yet. */

  send_record(REC_LISTENER, (int32_t)listener, wait_killable ? 1u : 0u);
  char go = 0;
  ssize_t n;
  do n = read(control_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'G') {
    /* moat went away or refused: do not run the guest unsupervised. */
    fprintf(stderr, "moat-exec-helper: supervisor did not take the listener\n");
    _exit(125);
  }
  /* The listener is O_CLOEXEC already; closing it here makes that explicit: a guest holding its
   * own listener could answer its own calls. */
  close((int)listener);
  /* Nothing moat did not mean to give reaches the guest: an fd inherited from moat's own parent
   * could be a socket in the host's network namespace, whose read/write are never trapped. The
   * stdio moat passed sits below the control fd; the control fd itself is close-on-exec. */
  if (syscall(SYS_close_range, (unsigned)control_fd + 1, ~0U, 0) < 0) {
    for (int fd = control_fd + 1; fd < 65536; fd++) (void)close(fd);
  }

  execvp(file, guest_argv);
  fail(STAGE_EXEC, errno, file);
  return 125;
}
