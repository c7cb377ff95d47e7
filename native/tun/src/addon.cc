// Entry point of the TUN addon: openTun, writePacket, closeFd and the TunReader class.
// It uses the C N-API (node_api.h) only, so building it needs Node's headers and no npm package.
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "tun.h"

napi_value ThrowErrno(napi_env env, const std::string& operation, int errno_value) {
  std::string text = operation + " failed: " + strerror(errno_value);
  const char* name = strerrorname_np(errno_value);
  napi_throw_error(env, name == nullptr ? nullptr : name, text.c_str());
  return nullptr;
}

namespace {

bool ReadString(napi_env env, napi_value value, std::string* out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  out->resize(length + 1);
  napi_get_value_string_utf8(env, value, out->data(), length + 1, &length);
  out->resize(length);
  return true;
}

// openTun(name: string, netnsPath?: string): { fd: number, name: string }
napi_value OpenTunJs(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string name;
  std::string netns_path;
  if (argc < 1 || !ReadString(env, argv[0], &name) || name.empty() || name.size() >= 16) {
    napi_throw_type_error(env, nullptr, "openTun expects a device name of 1 to 15 characters");
    return nullptr;
  }
  if (argc >= 2) {
    napi_valuetype type;
    napi_typeof(env, argv[1], &type);
    if (type != napi_undefined && !ReadString(env, argv[1], &netns_path)) {
      napi_throw_type_error(env, nullptr, "openTun expects netnsPath to be a string");
      return nullptr;
    }
  }

  TunOpenResult opened = OpenTun(name, netns_path);
  if (opened.fd < 0) return ThrowErrno(env, opened.failed_step, opened.errno_value);

  napi_value result;
  napi_value fd;
  napi_value device_name;
  napi_create_object(env, &result);
  napi_create_int32(env, opened.fd, &fd);
  napi_create_string_utf8(env, opened.name.c_str(), NAPI_AUTO_LENGTH, &device_name);
  napi_set_named_property(env, result, "fd", fd);
  napi_set_named_property(env, result, "name", device_name);
  return result;
}

// writePacket(fd: number, packet: Buffer): number of bytes written, or -errno on failure. It
// returns instead of throwing because a failed write is one dropped packet, counted by the caller.
napi_value WritePacketJs(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  void* data = nullptr;
  size_t length = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, nullptr, "writePacket expects (fd: number, packet: Buffer)");
    return nullptr;
  }
  ssize_t written;
  do {
    written = write(fd, data, length);
  } while (written < 0 && errno == EINTR);
  napi_value result;
  napi_create_int64(env, written < 0 ? -errno : written, &result);
  return result;
}

// closeFd(fd: number): closing the last descriptor of a non-persistent TUN device removes it.
napi_value CloseFdJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, nullptr, "closeFd expects a descriptor number >= 0");
    return nullptr;
  }
  if (close(fd) < 0 && errno != EINTR) return ThrowErrno(env, "close", errno);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"openTun", nullptr, OpenTunJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"writePacket", nullptr, WritePacketJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"closeFd", nullptr, CloseFdJs, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  if (napi_define_properties(env, exports, 3, functions) != napi_ok) return nullptr;
  if (InitTunReader(env, exports) != napi_ok) return nullptr;
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
