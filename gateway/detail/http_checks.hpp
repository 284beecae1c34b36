// The pure part of reading an HTTP request (http_session.cpp): its limits
// and the checks an upgrade to WebSocket passes, apart from the session's
// I/O so that fuzz/ws_upgrade.cpp runs them on the parser's output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/settings.hpp"

namespace stockgrid::gateway::detail {

// Limits on one plain HTTP request (health checks, metrics, dashboard) and
// on the upgrade request.
inline constexpr std::uint32_t http_header_bytes_max = 8 * 1024;
inline constexpr std::uint64_t http_body_bytes_max = 64 * 1024;

inline constexpr std::string_view websocket_path = "/v1/ws";

using request_type = boost::beast::http::request<boost::beast::http::string_body>;

inline std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

inline std::string_view to_view(boost::beast::string_view s) { return {s.data(), s.size()}; }

// The token of an `Authorization: Bearer TOKEN` header; nullopt for any other
// form (which the upgrade refuses like a wrong token).
inline std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size()) return std::nullopt;
  if (!boost::beast::iequals(boost::beast::string_view(header.data(), scheme.size()),
                             boost::beast::string_view(scheme.data(), scheme.size()))) {
    return std::nullopt;
  }
  std::string_view token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

inline bool origin_allowed(const request_type& req, const gateway_settings& settings) {
  if (settings.origin_allow.empty()) return true;
  auto origin = req.find(boost::beast::http::field::origin);
  // Only browsers send Origin, and only browsers need this protection.
  if (origin == req.end()) return true;
  for (const std::string& allowed : settings.origin_allow) {
    if (to_view(origin->value()) == allowed) return true;
  }
  return false;
}

}  // namespace stockgrid::gateway::detail
