{
  "targets": [
    {
      "target_name": "moat_native",
      "sources": ["<!@(ls -1 src/*.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "moat-exec-helper",
      "type": "executable",
      "sources": ["exec-helper/exec_helper.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
