// AF_PACKET sockets bound to one interface, optionally inside a named network namespace.
// See packet(7), linux/Documentation/networking/packet_mmap.rst, linux/include/uapi/linux/
// if_packet.h (PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING, PACKET_QDISC_BYPASS) and
// linux/include/linux/virtio_net.h (what vnet_hdr carries). No frame handling here: the fd
// goes to FrameIo (frameio.cc) and the virtio_net_hdr is read and written in TypeScript.
#include "errors.h"
#include "netns.h"
#include "registry.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstring>
#include <string>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace moat {

static bool GetOptBool(const Napi::Object& o, const char* key, bool dflt) {
  if (!o.Has(key)) return dflt;
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? dflt : v.ToBoolean().Value();
}

static int GetOptInt(const Napi::Object& o, const char* key, int dflt) {
  if (!o.Has(key)) return dflt;
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : dflt;
}

static std::string GetOptString(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return "";
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
}

// Asks for big socket buffers: the FORCE variants pass rmem_max/wmem_max (they need
// CAP_NET_ADMIN); without it the plain variant gets what the sysctl allows.
static void SetBuffer(int fd, int forceOpt, int opt, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, forceOpt, &bytes, sizeof bytes) == 0) return;
  setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

// Fills ifindex / mtu / mac of `ifname` through ioctls on `fd` (any socket in the right netns).
static int QueryInterface(int fd, const std::string& ifname, int* ifindex, int* mtu, unsigned char mac[6],
                          std::string* failed) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    *failed = "ioctl(SIOCGIFINDEX, " + ifname + ")";
    return errno;
  }
  *ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
    *failed = "ioctl(SIOCGIFMTU, " + ifname + ")";
    return errno;
  }
  *mtu = ifr.ifr_mtu;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    *failed = "ioctl(SIOCGIFHWADDR, " + ifname + ")";
    return errno;
  }
  std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  return 0;
}

static Napi::Object InterfaceObject(Napi::Env env, int ifindex, int mtu, const unsigned char mac[6]) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ifindex", Napi::Number::New(env, ifindex));
  out.Set("mtu", Napi::Number::New(env, mtu));
  Napi::Uint8Array m = Napi::Uint8Array::New(env, 6);
  std::memcpy(m.Data(), mac, 6);
  out.Set("mac", m);
  return out;
}

static bool CheckIfname(Napi::Env env, const Napi::CallbackInfo& info, const char* fn, std::string* out) {
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, std::string(fn) + "(ifname, opts?): ifname must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[0].As<Napi::String>().Utf8Value();
  if (out->empty() || out->size() >= IFNAMSIZ) {
    Napi::RangeError::New(env, std::string(fn) + ": interface name must be 1.." + std::to_string(IFNAMSIZ - 1) + " bytes")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// openPacketSocket(ifname, { netns?, vnetHdr?, ignoreOutgoing?, qdiscBypass?, rcvbuf?, sndbuf? })
//   -> { fd, ifindex, mtu, mac }
// A non-blocking SOCK_RAW packet socket bound to ifname with ETH_P_ALL.
static Napi::Value OpenPacketSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname;
  if (!CheckIfname(env, info, "openPacketSocket", &ifname)) return env.Undefined();
  Napi::Object o = info.Length() >= 2 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  std::string netns = GetOptString(o, "netns");
  bool vnetHdr = GetOptBool(o, "vnetHdr", true);
  bool ignoreOutgoing = GetOptBool(o, "ignoreOutgoing", true);
  bool qdiscBypass = GetOptBool(o, "qdiscBypass", false);
  int rcvbuf = GetOptInt(o, "rcvbuf", 4 << 20);
  int sndbuf = GetOptInt(o, "sndbuf", 4 << 20);

  // Protocol 0 at socket(): nothing is queued to the socket before bind() names the interface.
  int fd = -1, sockErr = 0;
  std::string failed;
  int nsErr = RunInNetns(netns, [&]() {
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) sockErr = errno;
  }, &failed);
  if (nsErr) return ThrowErrno(env, failed, nsErr);
  if (fd < 0) return ThrowErrno(env, "socket(AF_PACKET)", sockErr);

  auto fail = [&](const std::string& call, int e) {
    close(fd);
    return ThrowErrno(env, call, e);
  };
  int ifindex = 0, mtu = 0;
  unsigned char mac[6];
  if (int e = QueryInterface(fd, ifname, &ifindex, &mtu, mac, &failed)) return fail(failed, e);

  int one = 1;
  // packet(7): PACKET_VNET_HDR prepends struct virtio_net_hdr to every frame both ways.
  if (vnetHdr && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0)
    return fail("setsockopt(PACKET_VNET_HDR)", errno);
  // Our own transmissions would otherwise loop back to us as PACKET_OUTGOING (kernel >= 4.20).
  if (ignoreOutgoing && setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
    return fail("setsockopt(PACKET_IGNORE_OUTGOING)", errno);
  if (qdiscBypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
    return fail("setsockopt(PACKET_QDISC_BYPASS)", errno);
  SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
  SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);

  struct sockaddr_ll sll;
  std::memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) return fail("bind(AF_PACKET, " + ifname + ")", errno);

  Napi::Object out = InterfaceObject(env, ifindex, mtu, mac);
  out.Set("fd", Napi::Number::New(env, fd));
  return out;
}

// interfaceInfo(ifname, { netns? }) -> { ifindex, mtu, mac }
static Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname;
  if (!CheckIfname(env, info, "interfaceInfo", &ifname)) return env.Undefined();
  Napi::Object o = info.Length() >= 2 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  std::string netns = GetOptString(o, "netns");
  int fd = -1, sockErr = 0;
  std::string failed;
  int nsErr = RunInNetns(netns, [&]() {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) sockErr = errno;
  }, &failed);
  if (nsErr) return ThrowErrno(env, failed, nsErr);
  if (fd < 0) return ThrowErrno(env, "socket(AF_INET)", sockErr);
  int ifindex = 0, mtu = 0;
  unsigned char mac[6];
  int e = QueryInterface(fd, ifname, &ifindex, &mtu, mac, &failed);
  close(fd);
  if (e) return ThrowErrno(env, failed, e);
  return InterfaceObject(env, ifindex, mtu, mac);
}

static void InitPacket(Napi::Env env, Napi::Object exports) {
  exports.Set("openPacketSocket", Napi::Function::New(env, OpenPacketSocket, "openPacketSocket"));
  exports.Set("interfaceInfo", Napi::Function::New(env, InterfaceInfo, "interfaceInfo"));
}

MOAT_NATIVE_MODULE(InitPacket);

}  // namespace moat
