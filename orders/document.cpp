#include "orders/document.hpp"

#include <algorithm>
#include <limits>

#include "config/limits.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::orders::document {

namespace {

// A body is a map of scalars and of lists of small maps; refusal messages are
// the longest strings.
protocol::parse_limits body_limits() {
  protocol::parse_limits l;
  l.depth_max = 3;
  l.array_items_max = std::max(limits::order_lines_max, limits::transfer_receipts_max);
  return l;
}

}  // namespace

bool parse(std::string_view bytes, protocol::value* out) {
  std::string error;
  std::int64_t version = 0;
  return protocol::parse(bytes, protocol::encoding::msgpack, body_limits(), out, &error) &&
         out->as_object() != nullptr && read(*out, "v", &version) && version == format_version;
}

std::string serialize(protocol::object fields) {
  return protocol::serialize(protocol::value(std::move(fields)), protocol::encoding::msgpack);
}

bool read(const protocol::value& body, std::string_view key, std::string* out) {
  const auto* v = body.find(key);
  if (v == nullptr || v->as_string() == nullptr) return false;
  *out = *v->as_string();
  return true;
}

bool read(const protocol::value& body, std::string_view key, bool* out) {
  const auto* v = body.find(key);
  if (v == nullptr || v->as_bool() == nullptr) return false;
  *out = *v->as_bool();
  return true;
}

bool read(const protocol::value& body, std::string_view key, std::int64_t* out) {
  const auto* v = body.find(key);
  if (v == nullptr || v->as_int() == nullptr) return false;
  *out = *v->as_int();
  return true;
}

bool read(const protocol::value& body, std::string_view key, std::uint64_t* out) {
  std::int64_t n = 0;
  if (!read(body, key, &n)) return false;
  *out = static_cast<std::uint64_t>(n);
  return true;
}

bool read(const protocol::value& body, std::string_view key, std::uint32_t* out) {
  std::int64_t n = 0;
  if (!read(body, key, &n) || n < 0 || n > std::numeric_limits<std::uint32_t>::max())
    return false;
  *out = static_cast<std::uint32_t>(n);
  return true;
}

const protocol::array* read_list(const protocol::value& body, std::string_view key,
                                 std::size_t items_max) {
  const auto* v = body.find(key);
  const auto* items = v == nullptr ? nullptr : v->as_array();
  return items != nullptr && items->size() <= items_max ? items : nullptr;
}

}  // namespace stockgrid::orders::document
