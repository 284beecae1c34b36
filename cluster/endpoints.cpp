#include "cluster/endpoints.hpp"

#include <algorithm>
#include <charconv>

namespace stockgrid::cluster {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

}  // namespace

bool parse_endpoint(std::string_view text, endpoint* out, std::string* error) {
  const auto fail = [&](const char* why) {
    *error = "'" + std::string(text) + "': " + why;
    return false;
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("expected host:port");
  const auto host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), host_char))
    return fail("the host must be a name or an IPv4 address");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
    return fail("the port must be 1..65535");
  *out = endpoint{std::string(host), static_cast<std::uint16_t>(value)};
  return true;
}

bool parse_endpoints(std::string_view text, std::size_t max, std::vector<endpoint>* out, std::string* error) {
  out->clear();
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) {
      *error = "an empty item in the list";
      return false;
    }
    endpoint e;
    if (!parse_endpoint(item, &e, error)) return false;
    if (std::find(out->begin(), out->end(), e) != out->end()) {
      *error = "'" + e.id() + "' is listed twice";
      return false;
    }
    if (out->size() == max) {
      *error = "more than " + std::to_string(max) + " endpoints";
      return false;
    }
    out->push_back(std::move(e));
  }
  return true;
}

}  // namespace stockgrid::cluster
