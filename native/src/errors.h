// Errors thrown to JS carry the Linux errno name in `code` (like Node's own fs errors)
// and the numeric errno in `errno`, so callers can branch on them without parsing text.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace moat {

inline const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";       case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";       case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";     case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";     case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";     case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";     case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";     case ENOSYS: return "ENOSYS";
    case ENXIO: return "ENXIO";       case ENOTTY: return "ENOTTY";
    case ESRCH: return "ESRCH";       case EINTR: return "EINTR";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENETDOWN: return "ENETDOWN";   case ENOBUFS: return "ENOBUFS";
    case EMSGSIZE: return "EMSGSIZE";   case ENETUNREACH: return "ENETUNREACH";
    case EADDRINUSE: return "EADDRINUSE"; case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT"; case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ECONNREFUSED: return "ECONNREFUSED"; case ENOTSOCK: return "ENOTSOCK";
    case EIO: return "EIO";           case EPIPE: return "EPIPE";
    default: return "EUNKNOWN";
  }
}

// Throws a JS Error for a failed system call; returns an empty value for the caller to return.
inline Napi::Value ThrowErrno(Napi::Env env, const std::string& syscall, int e) {
  Napi::Error err = Napi::Error::New(env, syscall + ": " + std::strerror(e));
  err.Set("code", Napi::String::New(env, ErrnoName(e)));
  err.Set("errno", Napi::Number::New(env, e));
  err.Set("syscall", Napi::String::New(env, syscall));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace moat
