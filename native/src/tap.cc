// Tap devices: /dev/net/tun with IFF_TAP|IFF_NO_PI (and optionally IFF_VNET_HDR).
// See linux/Documentation/networking/tuntap.rst.
#include "errors.h"
#include "registry.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cstring>
#include <string>

namespace moat {

// openTap(name: string, opts?: { vnetHdr?: boolean }) -> { fd, name }
// The kernel may rename the device ("moat-%d" patterns), so the name it chose is returned.
static Napi::Value OpenTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "openTap(name, opts?): name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>();
  if (name.empty() || name.size() >= IFNAMSIZ) {
    Napi::RangeError::New(env, "openTap: interface name must be 1.." + std::to_string(IFNAMSIZ - 1) + " bytes")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool vnetHdr = false;
  if (info.Length() >= 2 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Has("vnetHdr")) vnetHdr = o.Get("vnetHdr").ToBoolean();
  }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ThrowErrno(env, "open(/dev/net/tun)", errno);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, "ioctl(TUNSETIFF)", e);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// closeFd(fd: number) -> void
static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "closeFd(fd): fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (close(fd) < 0) return ThrowErrno(env, "close", errno);
  return env.Undefined();
}

static void InitTap(Napi::Env env, Napi::Object exports) {
  exports.Set("openTap", Napi::Function::New(env, OpenTap, "openTap"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}

MOAT_NATIVE_MODULE(InitTap);

}  // namespace moat
