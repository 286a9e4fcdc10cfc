// Shared by moat's seccomp and guest-memory modules: argument parsing and result codes.
// Guest-caused failures (a dead target, a bad guest pointer) are returned as errno-name strings,
// never thrown: one hostile or dying guest must not throw through the supervisor.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstdint>
#include <string>
#include "errors.h"

namespace moat {

inline std::string ResultCode(int e) {
  switch (e) {
    case EINPROGRESS: return "EINPROGRESS";
    case EMSGSIZE: return "EMSGSIZE";
    case E2BIG: return "E2BIG";
    default: break;
  }
  const char* n = ErrnoName(e);
  if (std::string(n) == "EUNKNOWN") return "E" + std::to_string(e);
  return n;
}

inline Napi::Value Code(Napi::Env env, int e) { return Napi::String::New(env, ResultCode(e)); }

inline bool TypeFail(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

inline bool ArgInt(const Napi::CallbackInfo& info, size_t i, int* out, const char* msg) {
  *out = 0;
  if (info.Length() <= i || !info[i].IsNumber()) return TypeFail(info.Env(), msg);
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

// A u64 from a bigint (or a non-negative safe-integer number, for convenience).
inline bool ArgU64(const Napi::CallbackInfo& info, size_t i, uint64_t* out, const char* msg) {
  *out = 0;
  if (info.Length() > i && info[i].IsBigInt()) {
    bool lossless = false;
    *out = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return TypeFail(info.Env(), msg);
    return true;
  }
  if (info.Length() > i && info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 9007199254740991.0 || d != (double)(uint64_t)d) return TypeFail(info.Env(), msg);
    *out = (uint64_t)d;
    return true;
  }
  return TypeFail(info.Env(), msg);
}

}  // namespace moat
