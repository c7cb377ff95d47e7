// Declarations shared by the files of the TUN addon.
#ifndef PUSHLAB_TUN_H
#define PUSHLAB_TUN_H

#include <node_api.h>

#include <string>

// Result of opening a TUN device: the descriptor, or -1 with errno_value and the failed step.
struct TunOpenResult {
  int fd = -1;
  int errno_value = 0;
  std::string failed_step;
  std::string name;
};

// Opens /dev/net/tun and attaches a new TUN device (IFF_TUN | IFF_NO_PI) named `name`. When
// `netns_path` is not empty, the device is created inside that network namespace.
TunOpenResult OpenTun(const std::string& name, const std::string& netns_path);

// Throws a JavaScript Error whose message names `operation` and the errno text, with `code` set to
// the errno name (for example EPERM), and returns nullptr for the calling N-API function.
napi_value ThrowErrno(napi_env env, const std::string& operation, int errno_value);

// Defines the TunReader class on `exports`.
napi_status InitTunReader(napi_env env, napi_value exports);

#endif  // PUSHLAB_TUN_H
