// Creating a TUN device, optionally inside a named network namespace.
#include "tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace {

// Runs in the calling thread, which must already be in the target namespace: the kernel creates
// the device in the network namespace of the task that opened /dev/net/tun.
TunOpenResult OpenInCurrentNamespace(const std::string& name) {
  TunOpenResult result;
  // O_CLOEXEC: a child process that inherited the descriptor would keep the device alive after
  // the emulator closes it.
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    result.errno_value = errno;
    result.failed_step = "open /dev/net/tun";
    return result;
  }
  struct ifreq request;
  std::memset(&request, 0, sizeof(request));
  // IFF_NO_PI: each read or write is exactly one IP packet, without the 4-byte packet info header.
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &request) < 0) {
    result.errno_value = errno;
    result.failed_step = "ioctl TUNSETIFF " + name;
    close(fd);
    return result;
  }
  result.fd = fd;
  result.name = request.ifr_name;
  return result;
}

}  // namespace

TunOpenResult OpenTun(const std::string& name, const std::string& netns_path) {
  if (netns_path.empty()) return OpenInCurrentNamespace(name);

  // setns() changes the namespace of one thread only, so a short-lived thread enters the target
  // namespace and the event loop thread never leaves its own. This also means the device never
  // exists in the caller's namespace, not even for a moment.
  TunOpenResult result;
  std::thread worker([&result, &name, &netns_path]() {
    int ns_fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) {
      result.errno_value = errno;
      result.failed_step = "open " + netns_path;
      return;
    }
    if (setns(ns_fd, CLONE_NEWNET) < 0) {
      result.errno_value = errno;
      result.failed_step = "setns " + netns_path;
      close(ns_fd);
      return;
    }
    close(ns_fd);
    result = OpenInCurrentNamespace(name);
  });
  worker.join();
  return result;
}
