// moat's native addon: thin wrappers over Linux system calls that Node does not expose.
// No protocol logic lives here (see DESIGN.md, "Layers"). Modules register themselves
// (registry.h); this file only hands them the exports object.
#include <napi.h>
#include "registry.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (moat::ModuleInit init : moat::Modules()) init(env, exports);
  return exports;
}

NODE_API_MODULE(moat_native, Init)
