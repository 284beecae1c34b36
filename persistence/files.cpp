#include "persistence/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stockgrid::persistence {

namespace {

status fsync_fd(int fd, const std::string& path) {
  if (fd < 0) return status::io_error("cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return status::io_error("cannot sync " + path + ": " + std::strerror(err));
  return status::ok();
}

}  // namespace

status sync_path(const std::string& path) { return fsync_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC), path); }

status create_synced(const std::string& path) {
  return fsync_fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644), path);
}

}  // namespace stockgrid::persistence
