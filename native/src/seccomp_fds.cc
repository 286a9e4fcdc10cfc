// File descriptors across the guest boundary: pidfd_open(2)/pidfd_getfd(2) to see which of
// moat's sockets a guest fd is (by inode), and the unix socketpairs that stand in for guest
// sockets. See DESIGN.md "Which socket is this fd?".
#include "registry.h"
#include "seccomp_common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace moat {

namespace {

// pidfdOpen(pid, { thread? }) -> pidfd | code. ESRCH: gone. EINVAL: `pid` is a thread id and
// thread was not asked for (pidfds name thread-group leaders unless PIDFD_THREAD, Linux 6.9).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid;
  if (!ArgInt(info, 0, &pid, "pidfdOpen(pid, opts?): pid must be a number")) return env.Undefined();
  unsigned flags = 0;
  if (info.Length() > 1 && info[1].IsObject() && info[1].As<Napi::Object>().Get("thread").ToBoolean()) flags |= PIDFD_THREAD;
  long fd = syscall(SYS_pidfd_open, pid, flags);
  if (fd < 0) return Code(env, errno);
  // pidfds are always close-on-exec.
  return Napi::Number::New(env, (double)fd);
}

// pidfdGetfd(pidfd, targetFd) -> a close-on-exec duplicate of the guest's fd | code (EBADF: the
// guest has no such fd; ESRCH: it exited).
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd, target;
  if (!ArgInt(info, 0, &pidfd, "pidfdGetfd(pidfd, targetFd): pidfd must be a number")) return env.Undefined();
  if (!ArgInt(info, 1, &target, "pidfdGetfd: targetFd must be a number")) return env.Undefined();
  long fd = syscall(SYS_pidfd_getfd, pidfd, target, 0);
  if (fd < 0) return Code(env, errno);
  return Napi::Number::New(env, (double)fd);
}

// fstatIno(fd) -> { ino: bigint, dev: bigint, isSocket: boolean }. Throws on a bad fd (our own fd).
Napi::Value FstatIno(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd, "fstatIno(fd): fd must be a number")) return env.Undefined();
  struct stat st;
  if (fstat(fd, &st) < 0) return ThrowErrno(env, "fstat", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  o.Set("dev", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_dev)));
  o.Set("isSocket", Napi::Boolean::New(env, S_ISSOCK(st.st_mode)));
  return o;
}

// socketpair(type: "stream" | "dgram" | "seqpacket", { nonblocking = true }?) -> [fd, fd]
// AF_UNIX, close-on-exec. Throws (EMFILE, ENFILE...) since the fds are moat's own.
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    TypeFail(env, "socketpair(type, opts?): type must be 'stream' | 'dgram' | 'seqpacket'");
    return env.Undefined();
  }
  std::string t = info[0].As<Napi::String>();
  int type = t == "stream" ? SOCK_STREAM : t == "dgram" ? SOCK_DGRAM : t == "seqpacket" ? SOCK_SEQPACKET : -1;
  if (type < 0) {
    TypeFail(env, "socketpair: type must be 'stream' | 'dgram' | 'seqpacket'");
    return env.Undefined();
  }
  bool nonblocking = true;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Has("nonblocking")) nonblocking = o.Get("nonblocking").ToBoolean();
  }
  int fds[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0, fds) < 0)
    return ThrowErrno(env, "socketpair", errno);
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, fds[0]));
  a.Set(1u, Napi::Number::New(env, fds[1]));
  return a;
}

// setNonblocking(fd, on) -> void. O_NONBLOCK lives on the open file description, so setting it on
// moat's copy of a guest end before injection is how socket(SOCK_NONBLOCK) is honoured.
Napi::Value SetNonblocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd, "setNonblocking(fd, on): fd must be a number")) return env.Undefined();
  bool on = info.Length() > 1 && info[1].ToBoolean();
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return ThrowErrno(env, "fcntl(F_GETFL)", errno);
  int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (want != fl && fcntl(fd, F_SETFL, want) < 0) return ThrowErrno(env, "fcntl(F_SETFL)", errno);
  return env.Undefined();
}

// fdStatusFlags(fd) -> F_GETFL value (e.g. to see whether a guest set O_NONBLOCK via a duplicate).
Napi::Value FdStatusFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd, "fdStatusFlags(fd): fd must be a number")) return env.Undefined();
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return ThrowErrno(env, "fcntl(F_GETFL)", errno);
  return Napi::Number::New(env, fl);
}

}  // namespace

static void InitSeccompFds(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdGetfd", Napi::Function::New(env, PidfdGetfd, "pidfdGetfd"));
  exports.Set("fstatIno", Napi::Function::New(env, FstatIno, "fstatIno"));
  exports.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  exports.Set("setNonblocking", Napi::Function::New(env, SetNonblocking, "setNonblocking"));
  exports.Set("fdStatusFlags", Napi::Function::New(env, FdStatusFlags, "fdStatusFlags"));
}

MOAT_NATIVE_MODULE(InitSeccompFds);

}  // namespace moat
