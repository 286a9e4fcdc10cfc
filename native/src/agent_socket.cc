// The `moat agent` socket: OCI runtimes (runc, crun) connect to `linux.seccomp.listenerPath`, send
// the container process state as JSON and the seccomp listener fd by SCM_RIGHTS, then close.
// Read first: the OCI runtime spec, config-linux.md "Seccomp" (listenerPath) and "The Container
// Process State"; unix(7) (SCM_RIGHTS, SO_PEERCRED, MSG_CTRUNC); recvmsg(2).
//
// Node's net module cannot receive fds, so this module accepts and reads the connections itself,
// polled by libuv (never blocking the loop), and hands JS one record per connection once the
// runtime has closed it or its JSON document is complete: the bytes, the fds, the peer's
// credentials, and what went wrong if anything did. What the bytes mean is decided in src/kernel/agent (the addon stays thin).
#include "registry.h"
#include "seccomp_common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace moat {

namespace {

struct Server;

struct Conn {
  Server* server = nullptr;
  int fd = -1;
  uv_poll_t poll;
  uv_timer_t timer;
  int handlesOpen = 0;
  std::vector<uint8_t> data;
  std::vector<int> fds;
  int pid = -1, uid = -1, gid = -1;
  // Why the record is not clean: "" (clean EOF), "timeout", "too-large", "fds-truncated",
  // "fds-late" (SCM_RIGHTS after the first message, against the spec), "read:<code>".
  std::string error;
  bool finished = false;
  // A scan of the JSON text so far (outside strings: nesting depth), so the record is complete
  // when the top-level value closes. runc 1.1 keeps the connection of `runc exec` open until the
  // process exits, against the spec's "MUST be closed": waiting for EOF would stall that exec.
  int depth = 0;
  bool started = false, inString = false, escaped = false, complete = false;
};

// Feeds bytes to the scan; true once the first top-level object or array has closed.
bool ScanJson(Conn* c, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n && !c->complete; i++) {
    uint8_t ch = p[i];
    if (c->inString) {
      if (c->escaped) c->escaped = false;
      else if (ch == '\\') c->escaped = true;
      else if (ch == '"') c->inString = false;
      continue;
    }
    if (ch == '"') c->inString = true;
    else if (ch == '{' || ch == '[') {
      c->depth++;
      c->started = true;
    } else if (ch == '}' || ch == ']') {
      if (--c->depth <= 0 && c->started) c->complete = true;
    } else if (!c->started && ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
      // Not an object or array at the top: not a state record. Read to EOF and let JS say so.
      c->started = true;
      c->depth = 1 << 30;
    }
  }
  return c->complete;
}

struct Server {
  int id = 0;
  int fd = -1;
  napi_env env = nullptr;
  uv_poll_t poll;
  Napi::FunctionReference onConnection;
  napi_async_context asyncContext = nullptr;
  size_t maxBytes = 1 << 20;
  int maxFds = 16;
  int maxConns = 256;
  uint64_t timeoutMs = 5000;
  std::vector<Conn*> conns;
  bool stopped = false;
};

std::mutex serversMu;
std::unordered_map<int, Server*> servers;
int nextServerId = 1;

void CloseFds(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

void ConnHandleClosed(uv_handle_t* h) {
  Conn* c = static_cast<Conn*>(h->data);
  if (--c->handlesOpen == 0) delete c;
}

// Stops the connection's handles and closes its socket; the fds it received are the caller's.
void ReleaseConn(Conn* c) {
  if (c->fd >= 0) {
    uv_poll_stop(&c->poll);
    uv_timer_stop(&c->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), ConnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), ConnHandleClosed);
    close(c->fd);
    c->fd = -1;
  }
  Server* s = c->server;
  for (auto it = s->conns.begin(); it != s->conns.end(); ++it)
    if (*it == c) {
      s->conns.erase(it);
      break;
    }
}

void Deliver(Server* s, Conn* c) {
  if (c->finished) return;
  c->finished = true;
  std::vector<int> fds = std::move(c->fds);
  std::vector<uint8_t> data = std::move(c->data);
  std::string error = c->error;
  int pid = c->pid, uid = c->uid, gid = c->gid;
  ReleaseConn(c);
  if (s->stopped || s->onConnection.IsEmpty()) {
    CloseFds(fds);
    return;
  }
  Napi::Env env(s->env);
  Napi::HandleScope scope(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), data.size()));
  Napi::Array a = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  o.Set("fds", a);
  o.Set("pid", Napi::Number::New(env, pid));
  o.Set("uid", Napi::Number::New(env, uid));
  o.Set("gid", Napi::Number::New(env, gid));
  if (!error.empty()) o.Set("error", Napi::String::New(env, error));
  s->onConnection.MakeCallback(env.Global(), {o}, s->asyncContext);
  if (env.IsExceptionPending()) napi_fatal_exception(s->env, env.GetAndClearPendingException().Value());
}

void Fail(Conn* c, const std::string& why) {
  if (c->error.empty()) c->error = why;
  Deliver(c->server, c);
}

void OnConnReadable(uv_poll_t* h, int status, int events) {
  Conn* c = static_cast<Conn*>(h->data);
  if (c->finished) return;
  if (status < 0) return Fail(c, std::string("read:") + uv_err_name(status));
  // Bounded per wakeup so that one chatty peer cannot hold the loop.
  for (int round = 0; round < 16; round++) {
    uint8_t buf[16384];
    struct iovec iov = {buf, sizeof buf};
    std::vector<uint8_t> control(CMSG_SPACE(sizeof(int) * c->server->maxFds), 0);
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n;
    do n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return Fail(c, "read:" + ResultCode(errno));
    }
    // Every fd the kernel installed is ours to close, whatever else is wrong with the message.
    for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* p = reinterpret_cast<const int*>(CMSG_DATA(cm));
      // The spec: "the file descriptors MUST be sent only in the first call".
      if (!c->data.empty() && c->error.empty()) c->error = "fds-late";
      for (size_t i = 0; i < count; i++) {
        int fd;
        std::memcpy(&fd, p + i, sizeof fd);
        c->fds.push_back(fd);
      }
    }
    // More fds than maxFds: the kernel closed the ones that did not fit.
    if ((msg.msg_flags & MSG_CTRUNC) && c->error.empty()) c->error = "fds-truncated";
    if (n == 0) return Deliver(c->server, c);  // the runtime closed: the record is complete
    if (c->data.size() + static_cast<size_t>(n) > c->server->maxBytes) return Fail(c, "too-large");
    c->data.insert(c->data.end(), buf, buf + n);
    if (ScanJson(c, buf, static_cast<size_t>(n))) return Deliver(c->server, c);
  }
}

void OnConnTimeout(uv_timer_t* t) {
  Conn* c = static_cast<Conn*>(t->data);
  Fail(c, "timeout");
}

void OnAccept(uv_poll_t* h, int status, int events) {
  Server* s = static_cast<Server*>(h->data);
  if (s->stopped || status < 0) return;
  for (int round = 0; round < 64; round++) {
    int fd = accept4(s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a connection that went away before accept: nothing to do
    Conn* c = new Conn();
    c->server = s;
    c->fd = fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      c->pid = cred.pid;
      c->uid = static_cast<int>(cred.uid);
      c->gid = static_cast<int>(cred.gid);
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(s->env, &loop);
    uv_poll_init(loop, &c->poll, fd);
    uv_timer_init(loop, &c->timer);
    c->poll.data = c;
    c->timer.data = c;
    c->handlesOpen = 2;
    s->conns.push_back(c);
    if (static_cast<int>(s->conns.size()) > s->maxConns) {
      Fail(c, "too-many-connections");
      continue;
    }
    uv_poll_start(&c->poll, UV_READABLE | UV_DISCONNECT, OnConnReadable);
    uv_timer_start(&c->timer, OnConnTimeout, s->timeoutMs, 0);
  }
}

void ServerClosed(uv_handle_t* h) {
  Server* s = static_cast<Server*>(h->data);
  if (s->asyncContext) napi_async_destroy(s->env, s->asyncContext);
  delete s;
}

void StopServer(Server* s, bool envGoing) {
  if (s->stopped) return;
  s->stopped = true;
  {
    std::lock_guard<std::mutex> lock(serversMu);
    servers.erase(s->id);
  }
  // Connections in flight: their fds are closed, nobody will serve them.
  for (Conn* c : std::vector<Conn*>(s->conns)) {
    c->finished = true;
    CloseFds(c->fds);
    ReleaseConn(c);
  }
  s->onConnection.Reset();
  if (envGoing && s->asyncContext) {
    napi_async_destroy(s->env, s->asyncContext);
    s->asyncContext = nullptr;
  }
  uv_poll_stop(&s->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), ServerClosed);
  close(s->fd);
}

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
  std::vector<Server*> mine;
  {
    std::lock_guard<std::mutex> lock(serversMu);
    for (auto& kv : servers)
      if (kv.second->env == env) mine.push_back(kv.second);
  }
  for (Server* s : mine) StopServer(s, true);
}

void EnsureCleanupHook(napi_env env) {
  std::lock_guard<std::mutex> lock(hookedMu);
  for (napi_env e : hooked)
    if (e == env) return;
  hooked.push_back(env);
  napi_add_env_cleanup_hook(env, CleanupEnv, env);
}

bool FillSockaddr(Napi::Env env, const std::string& path, struct sockaddr_un* sa) {
  std::memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa->sun_path) {
    Napi::RangeError::New(env, "unix socket path must be 1.." + std::to_string(sizeof sa->sun_path - 1) + " bytes")
        .ThrowAsJavaScriptException();
    return false;
  }
  std::memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

// agentListen(path, opts, onConnection(record)) -> id. opts: { backlog, maxBytes, maxFds,
// maxConnections, timeoutMs }. The path must not exist (the caller removes a stale socket).
// record: { data: Buffer, fds: number[], pid, uid, gid, error?: string }.
Napi::Value AgentListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsFunction()) {
    TypeFail(env, "agentListen(path, opts, onConnection)");
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Object o = info[1].As<Napi::Object>();
  auto num = [&](const char* k, double dflt) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
  };
  struct sockaddr_un sa;
  if (!FillSockaddr(env, path, &sa)) return env.Undefined();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket(AF_UNIX)", errno);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, "bind(" + path + ")", e);
  }
  if (listen(fd, static_cast<int>(num("backlog", 128))) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, "listen", e);
  }
  EnsureCleanupHook(env);
  Server* s = new Server();
  s->fd = fd;
  s->env = env;
  s->maxBytes = static_cast<size_t>(num("maxBytes", 1 << 20));
  s->maxFds = static_cast<int>(num("maxFds", 16));
  if (s->maxFds < 1) s->maxFds = 1;
  if (s->maxFds > 253) s->maxFds = 253;  // SCM_MAX_FD
  s->maxConns = static_cast<int>(num("maxConnections", 256));
  s->timeoutMs = static_cast<uint64_t>(num("timeoutMs", 5000));
  s->onConnection = Napi::Persistent(info[2].As<Napi::Function>());
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "moat:agentListen"), &s->asyncContext);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, OnAccept);
  {
    std::lock_guard<std::mutex> lock(serversMu);
    s->id = nextServerId++;
    servers[s->id] = s;
  }
  return Napi::Number::New(env, s->id);
}

// agentUnlisten(id) -> boolean. Closes the listening socket (not the path) and drops
// connections still being read, closing the fds they carried.
Napi::Value AgentUnlisten(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int id;
  if (!ArgInt(info, 0, &id, "agentUnlisten(id)")) return env.Undefined();
  Server* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(serversMu);
    auto it = servers.find(id);
    if (it != servers.end() && it->second->env == static_cast<napi_env>(env)) s = it->second;
  }
  if (!s) return Napi::Boolean::New(env, false);
  StopServer(s, false);
  return Napi::Boolean::New(env, true);
}

// unixSendFds(path, data, fds) -> "ok" | code. What a runtime does (connect, one sendmsg with
// the fds, close); for tests and tools. BLOCKING: it returns at once while the listener's backlog
// has room and the payload fits the socket buffer, and waits otherwise; a caller that serves the
// listener on its own event loop must let that loop run between sends.
Napi::Value UnixSendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsTypedArray() || !info[2].IsArray()) {
    TypeFail(env, "unixSendFds(path, data: Uint8Array, fds: number[])");
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  Napi::Array arr = info[2].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < arr.Length(); i++) fds.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  if (fds.size() > 253) {
    TypeFail(env, "unixSendFds: at most 253 fds");
    return env.Undefined();
  }
  struct sockaddr_un sa;
  if (!FillSockaddr(env, path, &sa)) return env.Undefined();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Code(env, errno);
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return Code(env, e);
  }
  size_t off = 0;
  bool first = true;
  std::vector<uint8_t> control(CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())), 0);
  do {
    struct iovec iov = {data.Data() + off, data.ByteLength() - off};
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    char zero = 0;
    if (iov.iov_len == 0) {  // fds need at least one byte of payload to travel with
      iov.iov_base = &zero;
      iov.iov_len = first && !fds.empty() ? 1 : 0;
    }
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (first && !fds.empty()) {
      msg.msg_control = control.data();
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
    }
    if (iov.iov_len == 0 && !first) break;
    ssize_t n;
    do n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      close(fd);
      return Code(env, e);
    }
    if (iov.iov_base != &zero) off += static_cast<size_t>(n);
    first = false;
  } while (off < data.ByteLength());
  close(fd);
  return Napi::String::New(env, "ok");
}

// seccompFdKind(fd) -> the /proc/self/fd link text ("anon_inode:seccomp notify" for a listener)
// or a code. A cheap way to tell a seccomp listener from any other fd a client might send.
Napi::Value FdLinkText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd, "fdLinkText(fd)")) return env.Undefined();
  char buf[256];
  std::string p = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(p.c_str(), buf, sizeof buf - 1);
  if (n < 0) return Code(env, errno);
  buf[n] = 0;
  return Napi::String::New(env, buf);
}

}  // namespace

void InitAgentSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("agentListen", Napi::Function::New(env, AgentListen, "agentListen"));
  exports.Set("agentUnlisten", Napi::Function::New(env, AgentUnlisten, "agentUnlisten"));
  exports.Set("unixSendFds", Napi::Function::New(env, UnixSendFds, "unixSendFds"));
  exports.Set("fdLinkText", Napi::Function::New(env, FdLinkText, "fdLinkText"));
}

MOAT_NATIVE_MODULE(InitAgentSocket);

}  // namespace moat
