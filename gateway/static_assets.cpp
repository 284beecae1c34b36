#include "gateway/static_assets.hpp"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <string_view>
#include <utility>

namespace stockgrid::gateway {

namespace {

// A strong validator from the bytes (FNV-1a, 64 bits): cheap, and a change
// of any byte changes it with overwhelming probability. Not a security hash:
// it only saves re-sending an unchanged file.
std::string etag_of(std::string_view body) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : body) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  char text[24];
  std::snprintf(text, sizeof text, "\"%016llx\"", static_cast<unsigned long long>(hash));
  return text;
}

std::optional<std::string> header_value(const http_request& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return value;
  }
  return std::nullopt;
}

// The file's bytes, or nullopt (logged) when it is missing, unreadable or
// larger than static_file_bytes_max.
std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > static_file_bytes_max) {
    spdlog::warn("web: cannot serve {}: {}", path.string(),
                 ec ? ec.message() : std::string("larger than the limit"));
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::string body(size, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(size))) {
    spdlog::warn("web: cannot read {}", path.string());
    return std::nullopt;
  }
  return body;
}

http_response file_response(const static_asset& asset, std::string body, std::string etag,
                            const http_request& request) {
  http_response res;
  res.headers = {{"Cache-Control", "no-cache"},
                 {"ETag", etag},
                 {"X-Content-Type-Options", "nosniff"}};
  if (header_value(request, "If-None-Match") == etag) {
    res.status = 304;
    res.content_type = asset.content_type;
    return res;
  }
  res.content_type = asset.content_type;
  res.body = std::move(body);
  return res;
}

}  // namespace

static_site static_site::in_memory(std::vector<static_asset> assets) {
  static_site site;
  for (const auto& asset : assets) site.etags_.push_back(etag_of(asset.body));
  site.assets_ = std::move(assets);
  return site;
}

static_site static_site::from_directory(std::string directory, std::vector<static_asset> assets) {
  static_site site;
  for (auto& asset : assets) asset.body.clear();
  site.assets_ = std::move(assets);
  site.directory_ = std::move(directory);
  return site;
}

std::optional<http_response> static_site::answer(const http_request& request) const {
  for (std::size_t i = 0; i < assets_.size(); ++i) {
    const static_asset& asset = assets_[i];
    if (asset.path != request.path) continue;
    if (request.method != "GET" && request.method != "HEAD") {
      http_response res;
      res.status = 405;
      res.body = "method not allowed";
      res.headers = {{"Allow", "GET, HEAD"}};
      return res;
    }
    if (directory_.empty()) return file_response(asset, asset.body, etags_[i], request);
    auto body = read_file(std::filesystem::path(directory_) / asset.file);
    if (!body) {
      http_response res;
      res.status = 500;
      res.body = "cannot read " + asset.file;
      return res;
    }
    std::string etag = etag_of(*body);
    return file_response(asset, std::move(*body), std::move(etag), request);
  }
  return std::nullopt;
}

}  // namespace stockgrid::gateway
