// A cluster member's address, as `--join` and `--cluster-advertise` spell it:
// "host:port". The text is also the member's id (placement.hpp), so every
// node must spell a member the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stockgrid::cluster {

struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string id() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

// "host:port" with a non-empty host of [A-Za-z0-9.-] (a name or IPv4
// address) and a port 1..65535. Returns false and sets `error` otherwise.
bool parse_endpoint(std::string_view text, endpoint* out, std::string* error);

// A comma-separated list of endpoints; spaces around items are ignored;
// empty items, duplicates and more than `max` items are refused.
bool parse_endpoints(std::string_view text, std::size_t max, std::vector<endpoint>* out, std::string* error);

}  // namespace stockgrid::cluster
