// msgpack binary frames: msgpack-cxx does the decoding, bounded by an explicit
// unpack_limit, after a first allocation-free pass that checks what the limit
// cannot (see scan_frame).
#include <msgpack.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "protocol/encodings.hpp"

namespace stockgrid::protocol::detail {

namespace {

// The first pass: walks the frame with msgpack-cxx's SAX parser, which
// allocates nothing per value, and refuses it as soon as it breaks a limit.
//
// Why not rely on unpack_limit alone: msgpack-cxx reserves an array's or a
// map's slots (24 or 48 bytes each) when it reads the header, before the
// elements arrive, and unpack_limit bounds each container but not their sum
// or the number of values. This pass enforces total_items_max (as the JSON
// parser does), so a frame that breaks any limit is refused before
// msgpack-cxx reserves anything, and it names the limit in its message.
class frame_scanner : public msgpack::null_visitor {
 public:
  explicit frame_scanner(const parse_limits& limits) : limits_(limits) {}

  const std::string& error() const { return error_; }

  bool visit_nil() { return scalar(); }
  bool visit_boolean(bool) { return scalar(); }
  bool visit_positive_integer(std::uint64_t) { return scalar(); }
  bool visit_negative_integer(std::int64_t) { return scalar(); }
  // Finite numbers only, as in JSON, so both encodings carry the same values
  // (and a NaN would not even equal itself).
  bool visit_float32(float f) { return visit_float64(f); }
  bool visit_float64(double d) {
    if (!scalar()) return false;
    return std::isfinite(d) || fail("NaN and infinity are not supported");
  }
  bool visit_str(const char* data, std::uint32_t size) {
    if (size > limits_.string_bytes_max)
      return fail("string longer than " + std::to_string(limits_.string_bytes_max) + " bytes");
    if (!valid_utf8(std::string_view(data, size))) return fail("string is not valid UTF-8");
    return true;
  }
  bool visit_bin(const char*, std::uint32_t) {
    return scalar() && fail("bin values are not supported");
  }
  bool visit_ext(const char*, std::uint32_t) {
    return scalar() && fail("ext values are not supported");
  }

  bool start_array(std::uint32_t items) {
    if (!scalar()) return false;
    if (items > limits_.array_items_max)
      return fail("array with more than " + std::to_string(limits_.array_items_max) + " items");
    return open(items);
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool start_map(std::uint32_t entries) {
    if (!scalar()) return false;
    if (entries > limits_.map_entries_max)
      return fail("map with more than " + std::to_string(limits_.map_entries_max) + " entries");
    return open(entries);
  }
  bool start_map_key() {
    in_key_ = true;
    return true;
  }
  bool end_map_key() {
    in_key_ = false;
    return true;
  }
  bool end_map() {
    --depth_;
    return true;
  }

  void parse_error(std::size_t, std::size_t) {
    if (error_.empty()) error_ = "msgpack: malformed frame";
  }
  void insufficient_bytes(std::size_t, std::size_t) {
    if (error_.empty()) error_ = "msgpack: truncated frame";
  }

 private:
  // Every value that is not a string: allowed anywhere but as a map key.
  bool scalar() { return in_key_ ? fail("map keys must be strings") : true; }

  bool open(std::uint32_t children) {
    if (++depth_ > limits_.depth_max)
      return fail("nesting deeper than " + std::to_string(limits_.depth_max));
    declared_ += children;
    if (declared_ > limits_.total_items_max)
      return fail("more than " + std::to_string(limits_.total_items_max) + " values");
    return true;
  }

  bool fail(const std::string& what) {
    if (error_.empty()) error_ = "msgpack: " + what;
    return false;  // stops the parser
  }

  const parse_limits& limits_;
  std::size_t depth_ = 0;
  std::size_t declared_ = 1;  // the root value
  bool in_key_ = false;
  std::string error_;
};

// The second pass's result, msgpack::object, into our value tree.
bool convert(const msgpack::object& o, value* out, std::string* error) {
  switch (o.type) {
    case msgpack::type::NIL: *out = value(nullptr); return true;
    case msgpack::type::BOOLEAN: *out = value(o.via.boolean); return true;
    case msgpack::type::POSITIVE_INTEGER:
      // Beyond int64: a double, as the value type documents.
      if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        *out = value(static_cast<double>(o.via.u64));
      else
        *out = value(static_cast<std::int64_t>(o.via.u64));
      return true;
    case msgpack::type::NEGATIVE_INTEGER: *out = value(std::int64_t{o.via.i64}); return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: *out = value(o.via.f64); return true;
    case msgpack::type::STR: *out = value(std::string(o.via.str.ptr, o.via.str.size)); return true;
    case msgpack::type::ARRAY: {
      array items;
      items.reserve(o.via.array.size);
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        value item;
        if (!convert(o.via.array.ptr[i], &item, error)) return false;
        items.push_back(std::move(item));
      }
      *out = value(std::move(items));
      return true;
    }
    case msgpack::type::MAP: {
      object members;
      members.reserve(o.via.map.size);
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR) {
          *error = "msgpack: map keys must be strings";
          return false;
        }
        std::string key(kv.key.via.str.ptr, kv.key.via.str.size);
        for (const auto& member : members) {
          if (member.first == key) {
            *error = "msgpack: duplicate key";
            return false;
          }
        }
        value member;
        if (!convert(kv.val, &member, error)) return false;
        members.emplace_back(std::move(key), std::move(member));
      }
      *out = value(std::move(members));
      return true;
    }
    case msgpack::type::BIN: *error = "msgpack: bin values are not supported"; return false;
    case msgpack::type::EXT: *error = "msgpack: ext values are not supported"; return false;
  }
  *error = "msgpack: malformed frame";
  return false;
}

// Strings stay in the frame's buffer during conversion instead of being
// copied into msgpack's zone; convert() copies them into the value.
bool reference_strings(msgpack::type::object_type, std::size_t, void*) { return true; }

struct msgpack_writer {
  msgpack::sbuffer& buffer;
  msgpack::packer<msgpack::sbuffer>& pk;

  void operator()(std::monostate) { pk.pack_nil(); }
  void operator()(bool b) { b ? pk.pack_true() : pk.pack_false(); }
  // pack_int64 picks the smallest encoding for the value.
  void operator()(std::int64_t i) { pk.pack_int64(i); }
  // Always float 64. msgpack-cxx's pack_double writes an integral double
  // (3.0) as an integer, which would read back as an int64: a double must
  // stay a double, as it does in JSON.
  void operator()(double d) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    char bytes[9];
    bytes[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    buffer.write(bytes, sizeof bytes);  // the packer writes straight through too
  }
  void operator()(const std::string& s) { write_string(s); }
  void operator()(const array& items) {
    pk.pack_array(static_cast<std::uint32_t>(items.size()));
    for (const auto& item : items) std::visit(*this, item.raw());
  }
  void operator()(const object& members) {
    pk.pack_map(static_cast<std::uint32_t>(members.size()));
    for (const auto& [key, member] : members) {
      write_string(key);
      std::visit(*this, member.raw());
    }
  }
  void write_string(const std::string& s) {
    // A msgpack str is UTF-8 by definition; don't send one that is not.
    if (!valid_utf8(s)) {
      write_string(sanitize_utf8(s));
      return;
    }
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
  }
};

}  // namespace

bool msgpack_parse(std::string_view bytes, const parse_limits& limits, value* out,
                   std::string* error) {
  frame_scanner scanner(limits);
  std::size_t scanned = 0;
  if (!msgpack::parse(bytes.data(), bytes.size(), scanned, scanner)) {
    *error = scanner.error().empty() ? "msgpack: malformed frame" : scanner.error();
    return false;
  }
  if (scanned != bytes.size()) {
    *error = "msgpack: trailing bytes after the value at offset " + std::to_string(scanned);
    return false;
  }

  // The same limits again, for msgpack-cxx itself: its defaults are
  // unbounded, and the scan above must never be the only guard.
  const msgpack::unpack_limit unpack_limits(limits.array_items_max, limits.map_entries_max,
                                            limits.string_bytes_max, /*bin=*/0, /*ext=*/0,
                                            limits.depth_max);
  try {
    std::size_t offset = 0;
    const msgpack::object_handle handle = msgpack::unpack(
        bytes.data(), bytes.size(), offset, reference_strings, nullptr, unpack_limits);
    if (offset != bytes.size()) {
      *error = "msgpack: trailing bytes after the value at offset " + std::to_string(offset);
      return false;
    }
    return convert(handle.get(), out, error);
  } catch (const msgpack::insufficient_bytes&) {
    *error = "msgpack: truncated frame";
  } catch (const msgpack::size_overflow&) {
    *error = "msgpack: frame exceeds a size limit";
  } catch (const msgpack::unpack_error&) {
    *error = "msgpack: malformed frame";
  } catch (const std::bad_alloc&) {
    *error = "msgpack: frame too large";
  }
  return false;
}

std::string msgpack_serialize(const value& v) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  std::visit(msgpack_writer{buffer, pk}, v.raw());
  return std::string(buffer.data(), buffer.size());
}

}  // namespace stockgrid::protocol::detail
