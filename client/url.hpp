// WebSocket URLs: ws://HOST[:PORT][/PATH] and wss://HOST[:PORT][/PATH].
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stockgrid::client {

struct ws_url {
  bool tls = false;       // wss://
  std::string host;       // "127.0.0.1", "example.com", "::1" (brackets removed)
  std::string port;       // "7400"; 80 for ws://, 443 for wss:// when the URL names none
  std::string target;     // "/v1/ws"; "/" when the URL names none
  // The Host header: host[:port] as the URL wrote it.
  std::string host_header() const;
};

// Parses a ws:// or wss:// URL; nullopt with `error` set when it is not one.
std::optional<ws_url> parse_ws_url(std::string_view text, std::string* error);

// The nodes of one cluster a client may use: 1 to ws_urls_max URLs
// separated by commas, all ws:// or all wss://. Empty with `error` set when
// they are not.
inline constexpr std::size_t ws_urls_max = 16;
std::vector<ws_url> parse_ws_urls(std::string_view text, std::string* error);

}  // namespace stockgrid::client
