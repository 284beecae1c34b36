// A real full disk for a real node: a small tmpfs mounted in a mount
// namespace of its own (unshare -m), held by a `sleep` so that the node can
// be stopped and started again on the same files (nsenter). A test fills
// the tmpfs through /proc/<holder>/root and deletes the filler to give the
// space back (node_disk_test.cpp, node_replication_test.cpp). Needs root
// (mount); without it mounted() is false and the test must fail, saying so.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace stockgrid::node_test {

// Big enough for a node's files and WAL, small enough to fill at once.
constexpr const char* tmpfs_size = "24m";

// A tmpfs at `dir` in a new mount namespace, alive while this object is.
class tmpfs_namespace {
 public:
  explicit tmpfs_namespace(const std::string& dir)
      : holder_({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                 "mkdir -p '" + dir + "' && mount -t tmpfs -o size=" + tmpfs_size + " tmpfs '" + dir +
                     "' && echo mounted && exec sleep 600"}) {
    auto line = holder_.read_line();  // EOF if the mount failed (not root)
    mounted_ = line && *line == "mounted";
  }
  bool mounted() const { return mounted_; }
  // Runs a program in the namespace (it must exec the rest of the command).
  std::vector<std::string> launcher() const {
    return {"/usr/bin/nsenter", "-t", std::to_string(holder_.pid()), "-m", "--"};
  }
  // A path inside the namespace, seen from outside it.
  std::string outside(const std::string& path) const {
    return "/proc/" + std::to_string(holder_.pid()) + "/root" + path;
  }

 private:
  testing::child_process holder_;
  bool mounted_ = false;
};

// Writes 1 MiB chunks to `path` until the filesystem is full; the bytes written.
inline std::int64_t fill(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  const std::string chunk(1 << 20, 'x');
  std::int64_t written = 0;
  for (int i = 0; i < 256; ++i) {  // 256 MiB: far beyond the tmpfs
    const auto n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    written += n;
  }
  ::close(fd);
  return written;
}

}  // namespace stockgrid::node_test
