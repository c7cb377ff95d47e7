{
  "targets": [
    {
      "target_name": "pushlab_tun",
      "sources": ["src/addon.cc", "src/tun-open.cc", "src/tun-reader.cc"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
