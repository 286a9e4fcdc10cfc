// Seccomp user notification: the listener side. Read seccomp_unotify(2) first.
// The addon only moves notifications and answers between the kernel and JS; what a trapped call
// means is decided in src/kernel/supervisor (DESIGN.md, "Layers").
#include "registry.h"
#include "seccomp_common.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <uv.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

namespace moat {

namespace {

struct NotifSizes {
  uint16_t notif = sizeof(struct seccomp_notif);
  uint16_t resp = sizeof(struct seccomp_notif_resp);
  uint16_t data = sizeof(struct seccomp_data);
};

// SECCOMP_GET_NOTIF_SIZES: a newer kernel may have grown the structs; RECV writes the kernel's
// size, so the buffer must be at least that large.
const NotifSizes& Sizes() {
  static NotifSizes s = [] {
    NotifSizes out;
    struct seccomp_notif_sizes k;
    std::memset(&k, 0, sizeof k);
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) == 0) {
      if (k.seccomp_notif > out.notif) out.notif = k.seccomp_notif;
      if (k.seccomp_notif_resp > out.resp) out.resp = k.seccomp_notif_resp;
      if (k.seccomp_data > out.data) out.data = k.seccomp_data;
    }
    return out;
  }();
  return s;
}

// At most this many notifications per readable event, so one busy guest cannot starve the loop.
constexpr int kBatch = 64;

struct Watcher {
  int id = 0;
  int fd = -1;
  napi_env env = nullptr;
  uv_poll_t poll;
  Napi::FunctionReference onNotification;
  Napi::FunctionReference onEnd;
  napi_async_context asyncContext = nullptr;
  std::vector<uint8_t> buf;
  bool stopped = false;
};

std::mutex watchersMu;
std::unordered_map<int, Watcher*> watchers;
int nextWatchId = 1;

void OnClosed(uv_handle_t* h) {
  Watcher* w = static_cast<Watcher*>(h->data);
  if (w->asyncContext) napi_async_destroy(w->env, w->asyncContext);
  delete w;
}

// An environment going away (a worker thread exiting) with watches still open: release the JS
// references while the env is alive, and close the poll handles on its loop.
std::mutex hookedMu;
std::vector<napi_env> hooked;

void CleanupEnv(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  {
    std::lock_guard<std::mutex> lock(hookedMu);
    for (auto it = hooked.begin(); it != hooked.end(); ++it)
      if (*it == env) {
        hooked.erase(it);
        break;
      }
  }
  std::vector<Watcher*> mine;
  {
    std::lock_guard<std::mutex> lock(watchersMu);
    for (auto it = watchers.begin(); it != watchers.end();) {
      if (it->second->env == env) {
        mine.push_back(it->second);
        it = watchers.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Watcher* w : mine) {
    w->stopped = true;
    w->onNotification.Reset();
    w->onEnd.Reset();
    if (w->asyncContext) napi_async_destroy(w->env, w->asyncContext);
    w->asyncContext = nullptr;
    uv_poll_stop(&w->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
  }
}

void EnsureCleanupHook(napi_env env) {
  std::lock_guard<std::mutex> lock(hookedMu);
  for (napi_env e : hooked)
    if (e == env) return;
  hooked.push_back(env);
  napi_add_env_cleanup_hook(env, CleanupEnv, env);
}

void Stop(Watcher* w) {
  if (w->stopped) return;
  w->stopped = true;
  {
    std::lock_guard<std::mutex> lock(watchersMu);
    watchers.erase(w->id);
  }
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
}

void Call(Watcher* w, Napi::FunctionReference& fn, const std::vector<napi_value>& args) {
  Napi::Env env(w->env);
  if (fn.IsEmpty()) return;
  fn.MakeCallback(env.Global(), args, w->asyncContext);
  if (env.IsExceptionPending()) {
    // The callback threw: report it like any uncaught exception instead of losing it.
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(w->env, e.Value());
  }
}

void End(Watcher* w, const std::string& reason) {
  if (w->stopped) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  // Stop first: the callback may start another watch on a reused fd number.
  Napi::FunctionReference onEnd = std::move(w->onEnd);
  Stop(w);
  if (!onEnd.IsEmpty()) {
    onEnd.MakeCallback(env.Global(), {Napi::String::New(env, reason)}, w->asyncContext);
    if (env.IsExceptionPending()) napi_fatal_exception(w->env, env.GetAndClearPendingException().Value());
  }
}

Napi::Object ToJs(Napi::Env env, const struct seccomp_notif* n) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::BigInt::New(env, static_cast<uint64_t>(n->id)));
  o.Set("pid", Napi::Number::New(env, n->pid));
  o.Set("nr", Napi::Number::New(env, n->data.nr));
  o.Set("arch", Napi::Number::New(env, n->data.arch));
  o.Set("instructionPointer", Napi::BigInt::New(env, static_cast<uint64_t>(n->data.instruction_pointer)));
  Napi::Array args = Napi::Array::New(env, 6);
  for (uint32_t i = 0; i < 6; i++) args.Set(i, Napi::BigInt::New(env, static_cast<uint64_t>(n->data.args[i])));
  o.Set("args", args);
  return o;
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  Watcher* w = static_cast<Watcher*>(handle->data);
  if (w->stopped) return;
  if (status < 0) {
    End(w, std::string("error:") + uv_err_name(status));
    return;
  }
  for (int i = 0; i < kBatch && !w->stopped; i++) {
    // Gate every RECV on a zero-timeout poll: RECV blocks when nothing is queued, and blocking
    // here would block Node's whole event loop. The listener reports POLLIN only while an
    // unreceived notification exists, and POLLHUP once no task uses the filter any more.
    struct pollfd p = {w->fd, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      End(w, std::string("error:") + ResultCode(errno));
      return;
    }
    if (r == 0) return;
    if (p.revents & POLLNVAL) {
      End(w, "closed");
      return;
    }
    if (!(p.revents & POLLIN)) {
      if (p.revents & (POLLHUP | POLLERR)) End(w, "hangup");
      return;
    }
    std::fill(w->buf.begin(), w->buf.end(), 0);  // RECV rejects a buffer that is not zeroed
    if (ioctl(w->fd, SECCOMP_IOCTL_NOTIF_RECV, w->buf.data()) < 0) {
      // ENOENT: the caller was killed (or, without WAIT_KILLABLE_RECV, signalled) between the
      // poll and the RECV; its notification is gone. Not an error.
      if (errno == ENOENT || errno == EINTR) continue;
      End(w, std::string("error:") + ResultCode(errno));
      return;
    }
    Napi::Env env(w->env);
    Napi::HandleScope scope(env);
    Call(w, w->onNotification, {ToJs(env, reinterpret_cast<const struct seccomp_notif*>(w->buf.data()))});
  }
}

// seccompWatch(listenerFd, onNotification(n), onEnd(reason)) -> watchId
// onEnd: "hangup" (no task uses the filter any more), "closed" (fd closed), "error:<code>".
Napi::Value SeccompWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd, "seccompWatch(fd, onNotification, onEnd?): fd must be a number")) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsFunction()) {
    TypeFail(env, "seccompWatch: onNotification must be a function");
    return env.Undefined();
  }
  EnsureCleanupHook(env);
  Watcher* w = new Watcher();
  w->fd = fd;
  w->env = env;
  w->buf.assign(Sizes().notif, 0);
  w->onNotification = Napi::Persistent(info[1].As<Napi::Function>());
  if (info.Length() >= 3 && info[2].IsFunction()) w->onEnd = Napi::Persistent(info[2].As<Napi::Function>());
  napi_value resource = Napi::Object::New(env);
  napi_async_init(env, resource, Napi::String::New(env, "moat:seccompWatch"), &w->asyncContext);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    napi_async_destroy(env, w->asyncContext);
    delete w;
    return ThrowErrno(env, "uv_poll_init", -r);
  }
  w->poll.data = w;
  // UV_DISCONNECT so a hangup with nothing queued still wakes us.
  r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnPoll);
  if (r < 0) {
    w->stopped = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
    return ThrowErrno(env, "uv_poll_start", -r);
  }
  {
    std::lock_guard<std::mutex> lock(watchersMu);
    w->id = nextWatchId++;
    watchers[w->id] = w;
  }
  return Napi::Number::New(env, w->id);
}

// seccompUnwatch(watchId) -> boolean (false if it had already ended). Does not close the fd.
Napi::Value SeccompUnwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int id;
  if (!ArgInt(info, 0, &id, "seccompUnwatch(watchId): watchId must be a number")) return env.Undefined();
  Watcher* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(watchersMu);
    auto it = watchers.find(id);
    if (it != watchers.end() && it->second->env == static_cast<napi_env>(env)) w = it->second;
  }
  if (!w) return Napi::Boolean::New(env, false);
  Stop(w);
  return Napi::Boolean::New(env, true);
}

// seccompRespond(fd, id, val, errno, flags) -> "ok" | code. `errno` is positive (0 = success);
// the kernel wants it negated. ENOENT: the caller died or was interrupted; the answer is lost.
Napi::Value SeccompRespond(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, err = 0, flags = 0;
  uint64_t id;
  if (!ArgInt(info, 0, &fd, "seccompRespond: fd must be a number")) return env.Undefined();
  if (!ArgU64(info, 1, &id, "seccompRespond: id must be a u64 bigint")) return env.Undefined();
  int64_t val = 0;
  if (info.Length() > 2 && info[2].IsBigInt()) {
    bool lossless;
    val = info[2].As<Napi::BigInt>().Int64Value(&lossless);
  } else if (info.Length() > 2 && info[2].IsNumber()) {
    val = info[2].As<Napi::Number>().Int64Value();
  } else {
    TypeFail(env, "seccompRespond: val must be a number or bigint");
    return env.Undefined();
  }
  if (!ArgInt(info, 3, &err, "seccompRespond: errno must be a number")) return env.Undefined();
  if (info.Length() > 4 && !ArgInt(info, 4, &flags, "seccompRespond: flags must be a number")) return env.Undefined();
  if (err < 0) err = -err;
  std::vector<uint8_t> buf(Sizes().resp, 0);
  struct seccomp_notif_resp* resp = reinterpret_cast<struct seccomp_notif_resp*>(buf.data());
  resp->id = id;
  resp->val = val;
  resp->error = -err;
  resp->flags = static_cast<uint32_t>(flags);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0) return Code(env, errno);
  return Napi::String::New(env, "ok");
}

// seccompIdValid(fd, id) -> boolean: is the caller still blocked in this very call?
Napi::Value SeccompIdValid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint64_t id;
  if (!ArgInt(info, 0, &fd, "seccompIdValid: fd must be a number")) return env.Undefined();
  if (!ArgU64(info, 1, &id, "seccompIdValid: id must be a u64 bigint")) return env.Undefined();
  return Napi::Boolean::New(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0);
}

// seccompAddFd(fd, id, srcFd, { send?, cloexec?, targetFd? }) -> guest fd number | code.
// send: SECCOMP_ADDFD_FLAG_SEND, installs the fd AND answers the call with its number, atomically
// (so no window where the guest has an fd it was never told about).
Napi::Value SeccompAddFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, src;
  uint64_t id;
  if (!ArgInt(info, 0, &fd, "seccompAddFd: fd must be a number")) return env.Undefined();
  if (!ArgU64(info, 1, &id, "seccompAddFd: id must be a u64 bigint")) return env.Undefined();
  if (!ArgInt(info, 2, &src, "seccompAddFd: srcFd must be a number")) return env.Undefined();
  bool send = false, cloexec = false;
  int target = -1;
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (o.Has("send")) send = o.Get("send").ToBoolean();
    if (o.Has("cloexec")) cloexec = o.Get("cloexec").ToBoolean();
    if (o.Has("targetFd") && o.Get("targetFd").IsNumber()) target = o.Get("targetFd").As<Napi::Number>().Int32Value();
  }
  struct seccomp_notif_addfd a;
  std::memset(&a, 0, sizeof a);
  a.id = id;
  a.srcfd = static_cast<uint32_t>(src);
  a.newfd_flags = cloexec ? O_CLOEXEC : 0;
  a.flags = (send ? SECCOMP_ADDFD_FLAG_SEND : 0) | (target >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0);
  a.newfd = target >= 0 ? static_cast<uint32_t>(target) : 0;
  int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
  if (r < 0) return Code(env, errno);
  return Napi::Number::New(env, r);
}

Napi::Value SeccompNotifSizes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("notif", Sizes().notif);
  o.Set("resp", Sizes().resp);
  o.Set("data", Sizes().data);
  return o;
}

}  // namespace

static void InitSeccompNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("seccompWatch", Napi::Function::New(env, SeccompWatch, "seccompWatch"));
  exports.Set("seccompUnwatch", Napi::Function::New(env, SeccompUnwatch, "seccompUnwatch"));
  exports.Set("seccompRespond", Napi::Function::New(env, SeccompRespond, "seccompRespond"));
  exports.Set("seccompIdValid", Napi::Function::New(env, SeccompIdValid, "seccompIdValid"));
  exports.Set("seccompAddFd", Napi::Function::New(env, SeccompAddFd, "seccompAddFd"));
  exports.Set("seccompNotifSizes", Napi::Function::New(env, SeccompNotifSizes, "seccompNotifSizes"));
}

MOAT_NATIVE_MODULE(InitSeccompNotify);

}  // namespace moat
