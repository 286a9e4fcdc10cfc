// recv(2)/send(2)/shutdown(2) on sockets moat holds: its ends of the socketpairs that stand in for
// guest sockets, and duplicates of the guest's ends (pidfd_getfd). Always MSG_DONTWAIT: the
// caller waits for readiness itself, and a duplicate shares the guest's O_NONBLOCK, so moat
// never changes file flags. Codes, never throws, for what a guest can cause.
#include "registry.h"
#include "seccomp_common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace moat {

namespace {

// sockRecv(fd, len, flags) -> Buffer (the bytes; for a datagram socket one record) | code.
// flags may add MSG_PEEK / MSG_TRUNC; MSG_DONTWAIT is always set.
Napi::Value SockRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, len, flags = 0;
  if (!ArgInt(info, 0, &fd, "sockRecv(fd, len, flags?): fd must be a number")) return env.Undefined();
  if (!ArgInt(info, 1, &len, "sockRecv: len must be a number")) return env.Undefined();
  if (info.Length() > 2 && !ArgInt(info, 2, &flags, "sockRecv: flags must be a number")) return env.Undefined();
  if (len < 0) len = 0;
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(len));
  ssize_t n;
  do {
    n = recv(fd, buf.Data(), static_cast<size_t>(len), flags | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Code(env, errno);
  // With MSG_TRUNC a datagram's full length may exceed len: report it as `length`.
  size_t copied = static_cast<size_t>(n) < static_cast<size_t>(len) ? static_cast<size_t>(n) : static_cast<size_t>(len);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, buf.Data(), copied);
  out.Set("full", Napi::Number::New(env, static_cast<double>(n)));
  return out;
}

// sockSend(fd, data, flags) -> bytes sent | code. MSG_DONTWAIT|MSG_NOSIGNAL always.
Napi::Value SockSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, flags = 0;
  if (!ArgInt(info, 0, &fd, "sockSend(fd, data, flags?): fd must be a number")) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray()) {
    Napi::TypeError::New(env, "sockSend: data must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() > 2 && !ArgInt(info, 2, &flags, "sockSend: flags must be a number")) return env.Undefined();
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  ssize_t n;
  do {
    n = send(fd, data.Data(), data.ByteLength(), flags | MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Code(env, errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// sockShutdown(fd, how) -> "ok" | code.
Napi::Value SockShutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, how;
  if (!ArgInt(info, 0, &fd, "sockShutdown(fd, how): fd must be a number")) return env.Undefined();
  if (!ArgInt(info, 1, &how, "sockShutdown: how must be a number")) return env.Undefined();
  if (shutdown(fd, how) < 0) return Code(env, errno);
  return Napi::String::New(env, "ok");
}

// dupFd(fd) -> a close-on-exec duplicate | code. Lets two libuv handles (a reader and a writer)
// share one socket, so an error on one direction does not tear down the other.
Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd, "dupFd(fd): fd must be a number")) return env.Undefined();
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return Code(env, errno);
  return Napi::Number::New(env, d);
}

// sockSetopt(fd, level, name, bytes) -> "ok" | code: setsockopt(2) with the caller's bytes.
// The sandbox mirrors a guest's SO_RCVTIMEO/SO_SNDTIMEO onto its end of the pair, where its
// stream reads and writes run.
Napi::Value SockSetopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name;
  if (!ArgInt(info, 0, &fd, "sockSetopt(fd, level, name, bytes): fd must be a number")) return env.Undefined();
  if (!ArgInt(info, 1, &level, "sockSetopt: level must be a number")) return env.Undefined();
  if (!ArgInt(info, 2, &name, "sockSetopt: name must be a number")) return env.Undefined();
  if (info.Length() < 4 || !info[3].IsTypedArray()) {
    Napi::TypeError::New(env, "sockSetopt: bytes must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array b = info[3].As<Napi::Uint8Array>();
  if (setsockopt(fd, level, name, b.Data(), static_cast<socklen_t>(b.ByteLength())) < 0) return Code(env, errno);
  return Napi::String::New(env, "ok");
}

void InitSockio(Napi::Env env, Napi::Object exports) {
  exports.Set("sockSetopt", Napi::Function::New(env, SockSetopt));
  exports.Set("dupFd", Napi::Function::New(env, DupFd));
  exports.Set("sockRecv", Napi::Function::New(env, SockRecv));
  exports.Set("sockSend", Napi::Function::New(env, SockSend));
  exports.Set("sockShutdown", Napi::Function::New(env, SockShutdown));
}

}  // namespace

MOAT_NATIVE_MODULE(InitSockio);

}  // namespace moat
