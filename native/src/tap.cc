// Tap devices: /dev/net/tun with IFF_TAP|IFF_NO_PI (and optionally IFF_VNET_HDR).
// See linux/Documentation/networking/tuntap.rst.
#include "errors.h"
#include "netns.h"
#include "registry.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cstring>
#include <string>

namespace moat {

// openTap(name: string, opts?: { vnetHdr?: boolean, offload?: boolean, netns?: string }) -> { fd, name }
// The kernel may rename the device ("moat-%d" patterns), so the name it chose is returned.
// `netns`: the device is created in that named namespace (a tap lives in the namespace of the
// process that opened /dev/net/tun; see netns.h). `offload` (needs vnetHdr): TUNSETVNETHDRSZ
// to the 10-byte struct virtio_net_hdr and TUNSETOFFLOAD(TUN_F_CSUM|TSO4|TSO6), so the kernel
// hands us partial checksums and TSO aggregates and accepts them from us.
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
  bool vnetHdr = false, offload = false;
  std::string netns;
  if (info.Length() >= 2 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Has("vnetHdr")) vnetHdr = o.Get("vnetHdr").ToBoolean();
    if (o.Has("offload")) offload = o.Get("offload").ToBoolean();
    if (o.Has("netns") && o.Get("netns").IsString()) netns = o.Get("netns").As<Napi::String>().Utf8Value();
  }
  if (offload && !vnetHdr) {
    Napi::TypeError::New(env, "openTap: offload needs vnetHdr").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = -1, err = 0;
  std::string failed;
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int nsErr = RunInNetns(netns, [&]() {
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      err = errno;
      failed = "open(/dev/net/tun)";
      return;
    }
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno;
      failed = "ioctl(TUNSETIFF)";
      close(fd);
      fd = -1;
    }
  }, &failed);
  if (nsErr) return ThrowErrno(env, failed, nsErr);
  if (fd < 0) return ThrowErrno(env, failed, err);
  if (offload) {
    int hdrSize = 10;  // sizeof(struct virtio_net_hdr), the same header AF_PACKET uses
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdrSize) < 0) {
      int e = errno;
      close(fd);
      return ThrowErrno(env, "ioctl(TUNSETVNETHDRSZ)", e);
    }
    unsigned long flags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETOFFLOAD, flags) < 0) {
      int e = errno;
      close(fd);
      return ThrowErrno(env, "ioctl(TUNSETOFFLOAD)", e);
    }
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
