#pragma once
#include <napi.h>
namespace moat {
void InitTap(Napi::Env env, Napi::Object exports);
}
