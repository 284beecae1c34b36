#include "client/url.hpp"

#include <algorithm>
#include <cctype>

namespace stockgrid::client {

std::string ws_url::host_header() const {
  const bool default_port = (tls && port == "443") || (!tls && port == "80");
  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? shown_host : shown_host + ":" + port;
}

std::optional<ws_url> parse_ws_url(std::string_view text, std::string* error) {
  ws_url url;
  if (text.starts_with("ws://")) {
    text.remove_prefix(5);
  } else if (text.starts_with("wss://")) {
    url.tls = true;
    text.remove_prefix(6);
  } else {
    *error = "url: must start with ws:// or wss://";
    return std::nullopt;
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));

  std::string_view port;
  if (authority.starts_with("[")) {  // [::1]:7400
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "url: unterminated [ in the host";
      return std::nullopt;
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        *error = "url: unexpected text after the host";
        return std::nullopt;
      }
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) {
    *error = "url: the host is missing";
    return std::nullopt;
  }
  if (port.empty()) {
    url.port = url.tls ? "443" : "80";
  } else {
    const bool digits = std::all_of(port.begin(), port.end(),
                                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!digits || port.size() > 5 || std::stoul(std::string(port)) > 65535) {
      *error = "url: the port must be a number 0..65535";
      return std::nullopt;
    }
    url.port = std::string(port);
  }
  return url;
}

std::vector<ws_url> parse_ws_urls(std::string_view text, std::string* error) {
  std::vector<ws_url> urls;
  for (;;) {
    const auto comma = text.find(',');
    auto url = parse_ws_url(text.substr(0, comma), error);
    if (!url) return {};
    if (!urls.empty() && url->tls != urls.front().tls) {
      *error = "url: the nodes' URLs must all be ws:// or all wss://";
      return {};
    }
    urls.push_back(std::move(*url));
    if (urls.size() > ws_urls_max) {
      *error = "url: at most " + std::to_string(ws_urls_max) + " URLs";
      return {};
    }
    if (comma == std::string_view::npos) return urls;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace stockgrid::client
