// Static files over plain HTTP (the dashboard), for server::extra_http.
//
// A site is a fixed table of paths, each with its content type, either held
// in memory (the bundle the program embeds) or read from a directory on every
// request (development: rebuild the bundle and reload the page). Only the
// table's paths are served, so a request can never name another file. The
// gateway knows nothing of the web build: the program passes the table in.
//
// Answers: 200 with `Cache-Control: no-cache` and a strong ETag; 304 to a
// matching `If-None-Match`; 405 to a method other than GET or HEAD; 500 when a
// directory file cannot be read. The session strips the body for HEAD.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "gateway/server.hpp"

namespace stockgrid::gateway {

// One servable file. `path` is the request path ("/", "/app.js"); `file` is
// its name in a directory site ("index.html"); `body` its bytes in a memory
// site (empty for a directory site).
struct static_asset {
  std::string path;
  std::string file;
  std::string content_type;
  std::string body;
};

// Largest file a directory site reads; a larger one is answered 500.
inline constexpr std::size_t static_file_bytes_max = 16 * 1024 * 1024;

class static_site {
 public:
  // Serves `assets` from memory.
  static static_site in_memory(std::vector<static_asset> assets);
  // Serves the files named by `assets` (their `file`) from `directory`, read
  // at each request. The directory is not checked here: a missing file is
  // answered 500 and logged.
  static static_site from_directory(std::string directory, std::vector<static_asset> assets);

  // The answer for `request`; nullopt when its path is not in the table.
  // Runs on gateway threads; a directory site reads a file (small, local, and
  // meant for development only).
  std::optional<http_response> answer(const http_request& request) const;

 private:
  std::vector<static_asset> assets_;
  std::vector<std::string> etags_;  // memory sites: one per asset
  std::string directory_;           // empty = memory site
};

}  // namespace stockgrid::gateway
