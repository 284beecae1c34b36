#include "domain/types.hpp"

#include <charconv>

namespace stockgrid {

namespace {
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= fnv_prime;
  }
  // A separator byte that cannot be confused with an empty field boundary.
  h ^= 0xff;
  h *= fnv_prime;
  return h;
}
}  // namespace

std::uint64_t stable_hash(const record_key& key) {
  auto h = fnv1a(fnv_offset, key.tenant);
  h = fnv1a(h, key.warehouse);
  return fnv1a(h, key.sku);
}

std::string format_hold_id(hold_ref h) {
  char buf[40];
  buf[0] = 'H';
  auto r = std::to_chars(buf + 1, buf + sizeof buf, h.partition, 16);
  *r.ptr++ = '-';
  r = std::to_chars(r.ptr, buf + sizeof buf, h.seq, 16);
  return std::string(buf, r.ptr);
}

bool parse_hold_id(std::string_view text, hold_ref* out) {
  if (text.size() < 4 || text.size() > 40 || text[0] != 'H') return false;
  auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 1 || dash + 1 == text.size()) return false;
  auto parse = [](std::string_view s, auto* v) {
    // Only lower-case hex without leading zeros round-trips to the same id.
    if (s.size() > 1 && s[0] == '0') return false;
    for (char c : s)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
  };
  hold_ref h;
  if (!parse(text.substr(1, dash - 1), &h.partition) || !parse(text.substr(dash + 1), &h.seq))
    return false;
  if (h.seq == 0) return false;
  *out = h;
  return true;
}

}  // namespace stockgrid
