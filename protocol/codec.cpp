#include "protocol/codec.hpp"

#include "protocol/encodings.hpp"

namespace stockgrid::protocol {

bool parse(std::string_view bytes, encoding enc, const parse_limits& limits, value* out,
           std::string* error) {
  *out = value{};
  error->clear();
  switch (enc) {
    case encoding::json: return detail::json_parse(bytes, limits, out, error);
    case encoding::msgpack: return detail::msgpack_parse(bytes, limits, out, error);
  }
  *error = "unknown encoding";
  return false;
}

std::string serialize(const value& v, encoding enc) {
  switch (enc) {
    case encoding::json: {
      std::string out;
      detail::json_serialize(v, out);
      return out;
    }
    case encoding::msgpack: return detail::msgpack_serialize(v);
  }
  return {};
}

void append_msgpack_array_header(std::string& out, std::size_t count) {
  if (count < 16) {
    out.push_back(static_cast<char>(0x90 | count));
  } else {
    out.push_back(static_cast<char>(0xdc));
    out.push_back(static_cast<char>((count >> 8) & 0xff));
    out.push_back(static_cast<char>(count & 0xff));
  }
}

}  // namespace stockgrid::protocol
