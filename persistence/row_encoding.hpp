// The column encoding of row checksums (format.hpp, document_format.hpp): the
// canonical bytes of a row are its columns encoded one after another with
// these functions. Internal to persistence/; part of the on-disk formats, so
// never change an encoding.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace stockgrid::persistence::format {

// Fixed-width little-endian integers; on little-endian hosts a plain copy.
template <typename T>
void put_le(T v, std::string* out) {
  if constexpr (std::endian::native != std::endian::little) {
    T swapped = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) swapped = (swapped << 8) | ((v >> (8 * i)) & 0xFF);
    v = swapped;
  }
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

// integer: 8 bytes little-endian two's complement.
inline void put_u64(std::uint64_t v, std::string* out) { put_le(v, out); }
inline void put_i64(std::int64_t v, std::string* out) { put_u64(static_cast<std::uint64_t>(v), out); }
inline void put_u32(std::uint32_t v, std::string* out) { put_le(v, out); }
// text and blob: 4-byte little-endian length, then the bytes.
inline void put_text(std::string_view s, std::string* out) {
  put_u32(static_cast<std::uint32_t>(s.size()), out);
  out->append(s);
}

}  // namespace stockgrid::persistence::format
