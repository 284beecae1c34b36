// The two wire encodings of a frame. A binary WebSocket frame holds one
// msgpack map, a text frame one JSON object with the same field names
// (docs/protocol.md). Parsing is bounded: frame size is checked by the
// gateway before this; depth, string lengths and container sizes here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/value.hpp"

namespace stockgrid::protocol {

enum class encoding : unsigned char { json = 1, msgpack = 2 };

struct parse_limits {
  std::size_t depth_max = 8;            // nesting of arrays and maps
  std::size_t string_bytes_max = 4096;  // one string
  std::size_t array_items_max = 1000;   // one array (stock.bulk items)
  std::size_t map_entries_max = 64;     // one map
  std::size_t total_items_max = 20000;  // all values in the frame
};

// Parses one frame. Strings must be valid UTF-8 (a msgpack string that is not
// gets an error; the gateway closes a non-UTF-8 text frame itself, 1007).
// On failure returns false with `error` saying what is wrong, for a
// BAD_REQUEST with id null.
bool parse(std::string_view bytes, encoding enc, const parse_limits& limits, value* out,
           std::string* error);

// Serializes a response or event. JSON output is compact, UTF-8.
std::string serialize(const value& v, encoding enc);

// Whether `bytes` is valid UTF-8 (RFC 3629: no overlongs, no surrogates).
bool valid_utf8(std::string_view bytes);

// Appends a msgpack array header for `count` items (count < 65,536).
void append_msgpack_array_header(std::string& out, std::size_t count);

// Batch frames (docs/protocol.md): appends one array of `count` values that
// are already encoded in `enc`, item(i) giving the bytes of the i-th; the
// values are copied, not re-encoded.
template <class Item>
void append_array_frame(std::string& out, encoding enc, std::size_t count, Item&& item) {
  if (enc == encoding::json) out.push_back('[');
  else append_msgpack_array_header(out, count);
  for (std::size_t i = 0; i < count; ++i) {
    if (enc == encoding::json && i > 0) out.push_back(',');
    out += std::string_view(item(i));
  }
  if (enc == encoding::json) out.push_back(']');
}

}  // namespace stockgrid::protocol
