// WebSocket URLs: ws://HOST[:PORT][/PATH] and wss://HOST[:PORT][/PATH].
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

}  // namespace stockgrid::client
