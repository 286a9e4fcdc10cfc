// Batched frame I/O on one fd (an AF_PACKET socket or a tap), driven by libuv.
//
// Receive: uv_poll watches the fd; each readable callback drains it with recvmmsg (sockets) or
// read() in a loop until EAGAIN (tap, a character device), into a ring of preallocated slots
// inside ONE ArrayBuffer that JS holds from the start. JS then gets one call per batch with
// only a count: slot i starts at i * slotSize, and rxMeta[2i] / rxMeta[2i+1] are its length
// and flags. Nothing is allocated per frame here, and the views JS makes are valid only
// during the call (the next batch reuses the slots), which is the LinkDispatcher contract.
//
// Send: JS packs a batch into txBuffer (frames back to back) and describes it in txMeta
// [offset, length] pairs, then calls send(count): one sendmmsg (or a write() per frame on a
// tap). A full socket buffer (EAGAIN) or no memory (ENOBUFS) drops that frame and counts it;
// nothing here throws for a frame.
//
// Frames are opaque: the virtio_net_hdr (when the fd has one) is read and written in
// TypeScript. See recvmmsg(2), sendmmsg(2), libuv's uv_poll_t, and
// linux/Documentation/networking/tuntap.rst.
#include "errors.h"
#include "registry.h"

#include <node_api.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>
#include <cerrno>
#include <cstring>
#include <vector>

namespace moat {

constexpr uint32_t kRxTruncated = 1;

class FrameIo : public Napi::ObjectWrap<FrameIo> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FrameIo",
                       {
                           InstanceMethod<&FrameIo::Start>("start"),
                           InstanceMethod<&FrameIo::Stop>("stop"),
                           InstanceMethod<&FrameIo::Send>("send"),
                           InstanceMethod<&FrameIo::Close>("close"),
                           InstanceMethod<&FrameIo::JsRef>("ref"),
                           InstanceMethod<&FrameIo::JsUnref>("unref"),
                           InstanceMethod<&FrameIo::Stats>("stats"),
                       });
  }

  // new FrameIo(fd, { stream?, slots?, slotSize?, txBytes?, txSlots?, ownsFd?, maxRounds? }, onFrames, onError?)
  // onError(errno) hears errors the fd reported by itself (POLLERR: ENETDOWN when the interface
  // goes down), so JS can tell the stack the carrier went away.
  explicit FrameIo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameIo>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsObject() || !info[2].IsFunction()) {
      Napi::TypeError::New(env, "new FrameIo(fd, opts, onFrames)").ThrowAsJavaScriptException();
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::Object o = info[1].As<Napi::Object>();
    auto num = [&](const char* k, double d) {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : d;
    };
    auto flag = [&](const char* k, bool d) {
      Napi::Value v = o.Get(k);
      return v.IsUndefined() ? d : v.ToBoolean().Value();
    };
    stream_ = flag("stream", false);
    ownsFd_ = flag("ownsFd", true);
    slots_ = static_cast<uint32_t>(num("slots", 64));
    slotSize_ = static_cast<uint32_t>(num("slotSize", 65600));
    txBytes_ = static_cast<size_t>(num("txBytes", 1 << 20));
    txSlots_ = static_cast<uint32_t>(num("txSlots", 1024));
    maxRounds_ = static_cast<uint32_t>(num("maxRounds", 8));
    if (fd_ < 0 || slots_ < 1 || slots_ > 4096 || slotSize_ < 64 || slotSize_ > (1u << 20) || txBytes_ < 64 ||
        txBytes_ > (64u << 20) || txSlots_ < 1 || txSlots_ > 65536 || maxRounds_ < 1) {
      Napi::RangeError::New(env, "FrameIo: fd, slots, slotSize, txBytes, txSlots or maxRounds out of range")
          .ThrowAsJavaScriptException();
      return;
    }
    Napi::ArrayBuffer rx = Napi::ArrayBuffer::New(env, static_cast<size_t>(slots_) * slotSize_);
    Napi::Uint32Array rxMeta = Napi::Uint32Array::New(env, 2 * slots_);
    Napi::ArrayBuffer tx = Napi::ArrayBuffer::New(env, txBytes_);
    Napi::Uint32Array txMeta = Napi::Uint32Array::New(env, 2 * txSlots_);
    rx_ = static_cast<uint8_t*>(rx.Data());
    rxMeta_ = rxMeta.Data();
    tx_ = static_cast<uint8_t*>(tx.Data());
    txMeta_ = txMeta.Data();
    // The buffers live as properties of this object, which is referenced while polling.
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("rxBuffer", rx);
    self.Set("rxMeta", rxMeta);
    self.Set("txBuffer", tx);
    self.Set("txMeta", txMeta);
    self.Set("slots", Napi::Number::New(env, slots_));
    self.Set("slotSize", Napi::Number::New(env, slotSize_));
    onFrames_ = Napi::Persistent(info[2].As<Napi::Function>());
    if (info.Length() >= 4 && info[3].IsFunction()) onError_ = Napi::Persistent(info[3].As<Napi::Function>());
    asyncContext_ = new Napi::AsyncContext(env, "moat:FrameIo");
    if (!stream_) {
      rxMsgs_.resize(slots_);
      rxIov_.resize(slots_);
      for (uint32_t i = 0; i < slots_; i++) {
        rxIov_[i].iov_base = rx_ + static_cast<size_t>(i) * slotSize_;
        rxIov_[i].iov_len = slotSize_;
      }
    }
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    cleanupHooked_ = true;
  }

  ~FrameIo() override {
    Shutdown();
    if (cleanupHooked_) napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
    delete asyncContext_;
  }

 private:
  static void CleanupHook(void* arg) {
    FrameIo* self = static_cast<FrameIo*>(arg);
    self->cleanupHooked_ = false;
    self->Shutdown();
  }

  // Stops polling and releases the fd; the poll handle is freed by libuv once closed.
  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (ownsFd_ && fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) {
      Napi::Error::New(env, "FrameIo: closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
        Napi::Error::New(env, "FrameIo: no libuv loop").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      poll_ = new uv_poll_t;
      int r = uv_poll_init(loop, poll_, fd_);
      if (r < 0) {
        delete poll_;
        poll_ = nullptr;
        return ThrowErrno(env, "uv_poll_init", -r);
      }
      poll_->data = this;
      if (!refd_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    }
    if (!polling_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r < 0) return ThrowErrno(env, "uv_poll_start", -r);
      polling_ = true;
      Ref();  // no GC while the loop may call us
    }
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  void StopPolling() {
    if (polling_ && poll_) uv_poll_stop(poll_);
    if (polling_) {
      polling_ = false;
      Unref();
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPolling();
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value JsRef(const Napi::CallbackInfo& info) {
    refd_ = true;
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value JsUnref(const Napi::CallbackInfo& info) {
    refd_ = false;
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  // send(count) -> frames the kernel took. Frame i is txBuffer[txMeta[2i], +txMeta[2i+1]).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "send(count)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int64_t count = info[0].As<Napi::Number>().Int64Value();
    if (count < 0 || count > txSlots_) {
      Napi::RangeError::New(env, "send: count out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    for (int64_t i = 0; i < count; i++) {
      uint64_t off = txMeta_[2 * i], len = txMeta_[2 * i + 1];
      if (off + len > txBytes_) {
        Napi::RangeError::New(env, "send: a frame lies outside txBuffer").ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    if (closed_) {
      txErrors_ += count;
      return Napi::Number::New(env, 0);
    }
    uint32_t sent = stream_ ? SendStream(static_cast<uint32_t>(count)) : SendSocket(static_cast<uint32_t>(count));
    return Napi::Number::New(env, sent);
  }

  void CountTxError(int e) {
    // EAGAIN: the socket buffer is full; ENOBUFS: the device queue or memory is. Both are
    // congestion: drop the frame as a router would.
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
      txBusyDrops_++;
    } else {
      txErrors_++;
      lastTxErrno_ = e;
    }
  }

  uint32_t SendSocket(uint32_t count) {
    if (txMsgs_.size() < count) {
      txMsgs_.resize(count);
      txIov_.resize(count);
    }
    for (uint32_t i = 0; i < count; i++) {
      txIov_[i].iov_base = tx_ + txMeta_[2 * i];
      txIov_[i].iov_len = txMeta_[2 * i + 1];
      std::memset(&txMsgs_[i], 0, sizeof txMsgs_[i]);
      txMsgs_[i].msg_hdr.msg_iov = &txIov_[i];
      txMsgs_[i].msg_hdr.msg_iovlen = 1;
    }
    uint32_t i = 0, sent = 0;
    while (i < count) {
      int r = sendmmsg(fd_, &txMsgs_[i], count - i, MSG_DONTWAIT);
      if (r > 0) {
        i += r;
        sent += r;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else {
        // sendmmsg reports an error only for the first frame of the call: skip that frame.
        CountTxError(r < 0 ? errno : EIO);
        i++;
      }
    }
    txFrames_ += sent;
    return sent;
  }

  uint32_t SendStream(uint32_t count) {
    uint32_t sent = 0;
    for (uint32_t i = 0; i < count; i++) {
      for (;;) {
        ssize_t r = write(fd_, tx_ + txMeta_[2 * i], txMeta_[2 * i + 1]);
        if (r >= 0) {
          sent++;
          break;
        }
        if (errno == EINTR) continue;
        CountTxError(errno);
        break;
      }
    }
    txFrames_ += sent;
    return sent;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("rxFrames", Napi::Number::New(env, static_cast<double>(rxFrames_)));
    o.Set("rxBatches", Napi::Number::New(env, static_cast<double>(rxBatches_)));
    o.Set("rxTruncated", Napi::Number::New(env, static_cast<double>(rxTruncated_)));
    o.Set("rxErrors", Napi::Number::New(env, static_cast<double>(rxErrors_)));
    o.Set("lastRxErrno", Napi::Number::New(env, lastRxErrno_));
    o.Set("txFrames", Napi::Number::New(env, static_cast<double>(txFrames_)));
    o.Set("txBusyDrops", Napi::Number::New(env, static_cast<double>(txBusyDrops_)));
    o.Set("txErrors", Napi::Number::New(env, static_cast<double>(txErrors_)));
    o.Set("lastTxErrno", Napi::Number::New(env, lastTxErrno_));
    return o;
  }

  void CountRxError(int e) {
    rxErrors_++;
    lastRxErrno_ = e;
  }

  // Tells JS (onError) about an error the fd reported by itself.
  void ReportError(int err) {
    if (onError_.IsEmpty() || closed_) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    onError_.MakeCallback(Value(), {Napi::Number::New(env, err)}, *asyncContext_);
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }

  // Fills up to `slots_` slots; returns how many.
  uint32_t ReadBatch() {
    if (stream_) {
      uint32_t n = 0;
      while (n < slots_) {
        uint8_t* slot = rx_ + static_cast<size_t>(n) * slotSize_;
        ssize_t r = read(fd_, slot, slotSize_);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            CountRxError(errno);
            readErr_ = errno;
          }
          break;
        }
        if (r == 0) {
          // End of file: a tap never says so, but a level-triggered poll on an fd that does
          // would spin. Stop reading from it.
          eof_ = true;
          break;
        }
        rxMeta_[2 * n] = static_cast<uint32_t>(r);
        // A read that fills the slot exactly may have been cut short.
        rxMeta_[2 * n + 1] = static_cast<uint32_t>(r) >= slotSize_ ? kRxTruncated : 0;
        n++;
      }
      return n;
    }
    for (uint32_t i = 0; i < slots_; i++) {
      std::memset(&rxMsgs_[i], 0, sizeof rxMsgs_[i]);
      rxMsgs_[i].msg_hdr.msg_iov = &rxIov_[i];
      rxMsgs_[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
      int r = recvmmsg(fd_, rxMsgs_.data(), slots_, MSG_DONTWAIT, nullptr);
      if (r < 0) {
        if (errno == EINTR) continue;
        // ENETDOWN and friends are reported once (sk_err) and the socket goes on.
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          CountRxError(errno);
          readErr_ = errno;
        }
        return 0;
      }
      for (int i = 0; i < r; i++) {
        rxMeta_[2 * i] = rxMsgs_[i].msg_len;
        rxMeta_[2 * i + 1] = (rxMsgs_[i].msg_hdr.msg_flags & MSG_TRUNC) ? kRxTruncated : 0;
      }
      return static_cast<uint32_t>(r);
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    FrameIo* self = static_cast<FrameIo*>(handle->data);
    if (!self || self->closed_) return;
    if (status < 0) {
      // libuv reports POLLERR as UV_EBADF and stops the poll. On a packet socket that is
      // usually sk_err = ENETDOWN (the interface went down): read and clear it with SO_ERROR
      // and poll again, so the link survives a flap. A really closed fd, or errors that keep
      // coming with no frame in between, stop the poll for good (JS sees it in stats).
      if (fcntl(self->fd_, F_GETFD) < 0) {
        self->CountRxError(EBADF);
        self->StopPolling();
        return;
      }
      int err = -status;
      if (!self->stream_) {
        int soErr = 0;
        socklen_t len = sizeof soErr;
        if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &soErr, &len) == 0 && soErr) err = soErr;
      }
      self->CountRxError(err);
      if (++self->consecutivePollErrors_ > 1000 || uv_poll_start(handle, UV_READABLE, OnPoll) < 0) self->StopPolling();
      self->ReportError(err);
      return;
    }
    self->consecutivePollErrors_ = 0;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // A few rounds per wakeup, then back to the loop so other work gets a turn; the poll is
    // level-triggered and calls again if frames remain.
    for (uint32_t round = 0; round < self->maxRounds_ && self->polling_ && !self->closed_; round++) {
      self->readErr_ = 0;
      uint32_t n = self->ReadBatch();
      if (self->readErr_) self->ReportError(self->readErr_);
      if (n == 0 && self->eof_) {
        self->StopPolling();
        break;
      }
      if (n == 0) break;
      self->rxFrames_ += n;
      self->rxBatches_++;
      for (uint32_t i = 0; i < n; i++)
        if (self->rxMeta_[2 * i + 1] & kRxTruncated) self->rxTruncated_++;
      self->onFrames_.MakeCallback(self->Value(), {Napi::Number::New(env, n)}, *self->asyncContext_);
      if (env.IsExceptionPending()) {
        Napi::Error e = env.GetAndClearPendingException();
        napi_fatal_exception(env, e.Value());
        return;
      }
      if (n < self->slots_) break;
    }
  }

  int fd_ = -1;
  bool stream_ = false, ownsFd_ = true, closed_ = false, polling_ = false, refd_ = true, cleanupHooked_ = false;
  uint32_t slots_ = 0, slotSize_ = 0, txSlots_ = 0, maxRounds_ = 8;
  size_t txBytes_ = 0;
  uint8_t* rx_ = nullptr;
  uint32_t* rxMeta_ = nullptr;
  uint8_t* tx_ = nullptr;
  uint32_t* txMeta_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference onFrames_, onError_;
  Napi::AsyncContext* asyncContext_ = nullptr;
  std::vector<struct mmsghdr> rxMsgs_, txMsgs_;
  std::vector<struct iovec> rxIov_, txIov_;
  uint64_t rxFrames_ = 0, rxBatches_ = 0, rxTruncated_ = 0, rxErrors_ = 0;
  uint64_t txFrames_ = 0, txBusyDrops_ = 0, txErrors_ = 0;
  int lastRxErrno_ = 0, lastTxErrno_ = 0;
  uint32_t consecutivePollErrors_ = 0;
  int readErr_ = 0;
  bool eof_ = false;
};

static void InitFrameIo(Napi::Env env, Napi::Object exports) {
  exports.Set("FrameIo", FrameIo::Define(env));
}

MOAT_NATIVE_MODULE(InitFrameIo);

}  // namespace moat
