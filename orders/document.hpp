// What order and transfer bodies share: the msgpack of one protocol::value
// map, parsed within bounds, and typed readers of its fields. Each body's
// fields are described in its own header (order.hpp, transfer.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/value.hpp"

namespace stockgrid::orders::document {

// The `v` field of every body. A reader refuses a version it does not know.
inline constexpr std::int64_t format_version = 1;

// Parses a body into a map with `v` == format_version; false on anything else.
bool parse(std::string_view bytes, protocol::value* out);
std::string serialize(protocol::object fields);

// Each reader is false if the field is absent, of another type or out of
// range, and then leaves *out as it was.
bool read(const protocol::value& body, std::string_view key, std::string* out);
bool read(const protocol::value& body, std::string_view key, bool* out);
bool read(const protocol::value& body, std::string_view key, std::int64_t* out);
// A uint64 is stored as the int64 with the same bits (fingerprints).
bool read(const protocol::value& body, std::string_view key, std::uint64_t* out);
bool read(const protocol::value& body, std::string_view key, std::uint32_t* out);
// An enum stored as its number, which must lie in [first, last].
template <class Enum>
bool read_enum(const protocol::value& body, std::string_view key, Enum first, Enum last,
               Enum* out) {
  std::int64_t n = 0;
  if (!read(body, key, &n)) return false;
  if (n < static_cast<std::int64_t>(first) || n > static_cast<std::int64_t>(last)) return false;
  *out = static_cast<Enum>(n);
  return true;
}
// An array of at most `items_max` values; null if absent, not an array or longer.
const protocol::array* read_list(const protocol::value& body, std::string_view key,
                                 std::size_t items_max);

// A list of structs, each written by `to_value(item)`.
template <class Item, class ToValue>
protocol::value write_items(const std::vector<Item>& items, ToValue to_value) {
  protocol::array out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back(to_value(item));
  return out;
}
// A list of at most `items_max` structs, each read by `from_value(value, &item)`.
template <class Item, class FromValue>
bool read_items(const protocol::value& body, std::string_view key, std::size_t items_max,
                std::vector<Item>* out, FromValue from_value) {
  const protocol::array* items = read_list(body, key, items_max);
  if (items == nullptr) return false;
  out->assign(items->size(), Item{});
  for (std::size_t i = 0; i < items->size(); ++i)
    if (!from_value((*items)[i], &(*out)[i])) return false;
  return true;
}

}  // namespace stockgrid::orders::document
