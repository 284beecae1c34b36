// Internals of codec.hpp shared by its source files: the two encodings and
// the UTF-8 helpers. Not part of the protocol's public API.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/value.hpp"

namespace stockgrid::protocol::detail {

// The length of the longest prefix of `bytes` that is valid UTF-8 (RFC 3629);
// bytes.size() when all of it is.
std::size_t utf8_valid_prefix(std::string_view bytes);

// Appends the UTF-8 encoding of a Unicode scalar value (not a surrogate).
void append_utf8(std::string& out, char32_t code_point);

// `text` with every byte that does not start a valid UTF-8 sequence replaced
// by U+FFFD, so that a serialized frame is always valid UTF-8 even if a
// server-side string is not.
std::string sanitize_utf8(std::string_view text);

bool json_parse(std::string_view bytes, const parse_limits& limits, value* out,
                std::string* error);
void json_serialize(const value& v, std::string& out);

bool msgpack_parse(std::string_view bytes, const parse_limits& limits, value* out,
                   std::string* error);
std::string msgpack_serialize(const value& v);

}  // namespace stockgrid::protocol::detail
