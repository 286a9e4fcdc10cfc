// moat's native addon: thin wrappers over Linux system calls that Node does not expose.
// No protocol logic lives here (see ../../../shared/DESIGN.md, "Layers").
#include <napi.h>
#include "tap.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  moat::InitTap(env, exports);
  return exports;
}

NODE_API_MODULE(moat_native, Init)
