// Each native module registers its exports with a static initializer, so adding a module is
// adding a .cc file (binding.gyp compiles every src/*.cc) and no shared file changes.
#pragma once
#include <napi.h>
#include <vector>

namespace moat {

using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);

inline std::vector<ModuleInit>& Modules() {
  static std::vector<ModuleInit> modules;
  return modules;
}

struct RegisterModule {
  explicit RegisterModule(ModuleInit init) { Modules().push_back(init); }
};

}  // namespace moat

// Usage at the end of a module's .cc file: MOAT_NATIVE_MODULE(InitTap);
#define MOAT_NATIVE_MODULE(init) static ::moat::RegisterModule moat_register_##init(init)
