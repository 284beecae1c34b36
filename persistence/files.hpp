// Making file-system changes durable: the fsyncs a rename or a new file
// needs before anything that depends on it is acknowledged. A failure is
// returned as io_error with the path and errno's text; what the caller then
// does (fail-stop, retry, log) is its own rule.
#pragma once

#include <string>

#include "persistence/status.hpp"

namespace stockgrid::persistence {

// fsync(2) of a file or a directory by path (a directory: the entries
// created, renamed or removed in it).
status sync_path(const std::string& path);

// Creates `path` if it does not exist (empty, mode 0644) and fsyncs it; the
// directory entry needs sync_path(its directory) to be durable.
status create_synced(const std::string& path);

}  // namespace stockgrid::persistence
