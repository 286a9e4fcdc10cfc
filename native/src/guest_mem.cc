// Guest memory: process_vm_readv/process_vm_writev(2) on a trapped caller's address space.
// Every pointer here comes from an untrusted guest, so a bad one is a result code ("EFAULT"),
// never an exception. Short transfers (the range crosses into unmapped memory) return what moved.
// The caller must check SECCOMP_IOCTL_NOTIF_ID_VALID after reading: the pid may have been reused.
#include "registry.h"
#include "seccomp_common.h"

#include <sys/uio.h>
#include <climits>
#include <vector>

namespace moat {

namespace {

// A guest names the length; refuse absurd ones before allocating (callers clamp to their needs).
constexpr size_t kMaxTransfer = 64u << 20;

bool ArgSegments(const Napi::CallbackInfo& info, size_t i, std::vector<struct iovec>* out, size_t* total) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsArray()) return TypeFail(env, "segments must be an array of [addr: bigint, len: number]");
  Napi::Array a = info[i].As<Napi::Array>();
  *total = 0;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsArray()) return TypeFail(env, "segments must be an array of [addr: bigint, len: number]");
    Napi::Array pair = v.As<Napi::Array>();
    Napi::Value addr = pair.Get(0u), len = pair.Get(1u);
    if (!addr.IsBigInt() || !len.IsNumber()) return TypeFail(env, "segments must be an array of [addr: bigint, len: number]");
    bool lossless;
    uint64_t base = addr.As<Napi::BigInt>().Uint64Value(&lossless);
    double l = len.As<Napi::Number>().DoubleValue();
    if (l < 0 || l > (double)kMaxTransfer) {
      Napi::RangeError::New(env, "segment length out of range").ThrowAsJavaScriptException();
      return false;
    }
    *total += (size_t)l;
    if (*total > kMaxTransfer) {
      Napi::RangeError::New(env, "transfer too large").ThrowAsJavaScriptException();
      return false;
    }
    if (l > 0) out->push_back({reinterpret_cast<void*>(static_cast<uintptr_t>(base)), (size_t)l});
  }
  return true;
}

// Runs process_vm_{readv,writev} over any number of remote segments (IOV_MAX per call); stops at
// the first short transfer. Returns bytes moved, or -errno if nothing moved and it failed.
ssize_t Transfer(bool write, pid_t pid, uint8_t* local, const std::vector<struct iovec>& remote) {
  size_t done = 0;
  for (size_t start = 0; start < remote.size(); start += IOV_MAX) {
    size_t count = std::min<size_t>(IOV_MAX, remote.size() - start);
    size_t want = 0;
    for (size_t k = start; k < start + count; k++) want += remote[k].iov_len;
    struct iovec l = {local + done, want};
    ssize_t n = write ? process_vm_writev(pid, &l, 1, &remote[start], count, 0)
                      : process_vm_readv(pid, &l, 1, &remote[start], count, 0);
    if (n < 0) return done > 0 ? (ssize_t)done : -errno;
    done += (size_t)n;
    if ((size_t)n < want) break;
  }
  return (ssize_t)done;
}

// readGuest(pid, addr: bigint, len) -> Buffer (maybe shorter than len) | code
Napi::Value ReadGuest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid, len;
  uint64_t addr;
  if (!ArgInt(info, 0, &pid, "readGuest(pid, addr, len): pid must be a number")) return env.Undefined();
  if (!ArgU64(info, 1, &addr, "readGuest: addr must be a u64 bigint")) return env.Undefined();
  if (!ArgInt(info, 2, &len, "readGuest: len must be a number")) return env.Undefined();
  if (len < 0 || (size_t)len > kMaxTransfer) {
    Napi::RangeError::New(env, "readGuest: len out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, (size_t)len);
  if (len == 0) return buf;
  std::vector<struct iovec> remote = {{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), (size_t)len}};
  ssize_t n = Transfer(false, pid, buf.Data(), remote);
  if (n < 0) return Code(env, (int)-n);
  if (n < len) return Napi::Buffer<uint8_t>::Copy(env, buf.Data(), (size_t)n);
  return buf;
}

// readGuestv(pid, segments: [addr, len][]) -> Buffer (gathered, maybe short) | code
Napi::Value ReadGuestv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid;
  if (!ArgInt(info, 0, &pid, "readGuestv(pid, segments): pid must be a number")) return env.Undefined();
  std::vector<struct iovec> remote;
  size_t total = 0;
  if (!ArgSegments(info, 1, &remote, &total)) return env.Undefined();
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, total);
  if (total == 0) return buf;
  ssize_t n = Transfer(false, pid, buf.Data(), remote);
  if (n < 0) return Code(env, (int)-n);
  if ((size_t)n < total) return Napi::Buffer<uint8_t>::Copy(env, buf.Data(), (size_t)n);
  return buf;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len) {
  if (info.Length() <= i || !info[i].IsTypedArray()) return TypeFail(info.Env(), "bytes must be a Uint8Array");
  Napi::TypedArray t = info[i].As<Napi::TypedArray>();
  if (t.TypedArrayType() != napi_uint8_array) return TypeFail(info.Env(), "bytes must be a Uint8Array");
  Napi::Uint8Array u = t.As<Napi::Uint8Array>();
  *data = u.Data();
  *len = u.ElementLength();
  return true;
}

// writeGuest(pid, addr: bigint, bytes: Uint8Array) -> bytes written | code
Napi::Value WriteGuest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid;
  uint64_t addr;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &pid, "writeGuest(pid, addr, bytes): pid must be a number")) return env.Undefined();
  if (!ArgU64(info, 1, &addr, "writeGuest: addr must be a u64 bigint")) return env.Undefined();
  if (!ArgBytes(info, 2, &data, &len)) return env.Undefined();
  if (len == 0) return Napi::Number::New(env, 0);
  std::vector<struct iovec> remote = {{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len}};
  ssize_t n = Transfer(true, pid, data, remote);
  if (n < 0) return Code(env, (int)-n);
  return Napi::Number::New(env, (double)n);
}

// writeGuestv(pid, segments: [addr, len][], bytes) -> bytes written | code. Scatters `bytes`
// over the segments in order; stops when either runs out.
Napi::Value WriteGuestv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &pid, "writeGuestv(pid, segments, bytes): pid must be a number")) return env.Undefined();
  std::vector<struct iovec> remote;
  size_t total = 0;
  if (!ArgSegments(info, 1, &remote, &total)) return env.Undefined();
  if (!ArgBytes(info, 2, &data, &len)) return env.Undefined();
  // Trim the remote segments to the bytes we actually have.
  size_t left = len;
  std::vector<struct iovec> trimmed;
  for (const struct iovec& v : remote) {
    if (left == 0) break;
    size_t take = std::min(left, v.iov_len);
    trimmed.push_back({v.iov_base, take});
    left -= take;
  }
  if (trimmed.empty()) return Napi::Number::New(env, 0);
  ssize_t n = Transfer(true, pid, data, trimmed);
  if (n < 0) return Code(env, (int)-n);
  return Napi::Number::New(env, (double)n);
}

}  // namespace

static void InitGuestMem(Napi::Env env, Napi::Object exports) {
  exports.Set("readGuest", Napi::Function::New(env, ReadGuest, "readGuest"));
  exports.Set("readGuestv", Napi::Function::New(env, ReadGuestv, "readGuestv"));
  exports.Set("writeGuest", Napi::Function::New(env, WriteGuest, "writeGuest"));
  exports.Set("writeGuestv", Napi::Function::New(env, WriteGuestv, "writeGuestv"));
}

MOAT_NATIVE_MODULE(InitGuestMem);

}  // namespace moat
