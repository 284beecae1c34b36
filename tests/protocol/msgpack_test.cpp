// The msgpack parser: well-formed maps, every refusal the protocol names
// (truncated frames, huge declared lengths, non-string keys, bin and ext,
// invalid UTF-8, depth, trailing bytes), and the serializer's encodings.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include <chrono>
#include <limits>
#include <string>

#include "protocol_test_support.hpp"

using namespace stockgrid::protocol;
using namespace stockgrid::protocol::testing;

namespace {

// Builds a frame with msgpack-cxx's own packer, as a client would.
struct frame_builder {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk{buffer};

  frame_builder& str(std::string_view s) {
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
    return *this;
  }
  std::string bytes() const { return std::string(buffer.data(), buffer.size()); }
};

std::string raw(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

void check_refused(std::string_view bytes, std::string_view error_part) {
  const auto p = parse_msgpack(bytes);
  CHECK_FALSE(p.ok);
  CHECK_THAT(p.error, Catch::Contains(std::string(error_part)));
}

std::string nested_arrays(std::size_t depth) {
  // fixarray of one element, nested; the innermost is an empty fixarray.
  std::string out;
  for (std::size_t i = 1; i < depth; ++i) out.push_back(static_cast<char>(0x91));
  out.push_back(static_cast<char>(0x90));
  return out;
}

}  // namespace

TEST_CASE("msgpack: a request map parses", "[msgpack]") {
  frame_builder b;
  b.pk.pack_map(4);
  b.str("op").str("stock.reserve");
  b.str("id").pk.pack_uint64(7);
  b.str("qty").pk.pack_int64(3);
  b.str("ref").pk.pack_nil();
  const auto p = parse_msgpack(b.bytes());
  INFO(p.error);
  REQUIRE(p.ok);
  CHECK(p.v == value(object{{"op", "stock.reserve"}, {"id", 7}, {"qty", 3}, {"ref", nullptr}}));
}

TEST_CASE("msgpack: every supported type maps onto a value", "[msgpack]") {
  frame_builder b;
  b.pk.pack_array(16);
  b.pk.pack_nil();
  b.pk.pack_true();
  b.pk.pack_false();
  b.pk.pack_fix_uint8(5);
  b.pk.pack_uint8(200);
  b.pk.pack_uint16(60000);
  b.pk.pack_uint32(4000000000u);
  b.pk.pack_uint64(std::numeric_limits<std::int64_t>::max());
  b.pk.pack_int8(-100);
  b.pk.pack_int64(std::numeric_limits<std::int64_t>::min());
  b.pk.pack_float(1.5f);
  b.pk.pack_double(0.1);
  b.str(std::string(40, 's'));  // str8
  b.str(std::string(300, 't'));  // str16
  b.pk.pack_map(0);
  b.pk.pack_array(0);
  const auto p = parse_msgpack(b.bytes());
  INFO(p.error);
  REQUIRE(p.ok);
  CHECK(p.v == value(array{nullptr, true, false, 5, 200, 60000, std::int64_t{4000000000},
                           std::numeric_limits<std::int64_t>::max(), -100,
                           std::numeric_limits<std::int64_t>::min(), 1.5, 0.1,
                           std::string(40, 's'), std::string(300, 't'), object{}, array{}}));
}

TEST_CASE("msgpack: an unsigned integer beyond int64 becomes a double", "[msgpack]") {
  frame_builder b;
  b.pk.pack_uint64(std::numeric_limits<std::uint64_t>::max());
  const auto p = parse_msgpack(b.bytes());
  REQUIRE(p.ok);
  REQUIRE(p.v.as_double() != nullptr);
  CHECK(*p.v.as_double() == 18446744073709551615.0);

  frame_builder edge;
  edge.pk.pack_uint64(std::uint64_t{1} << 63);
  const auto q = parse_msgpack(edge.bytes());
  REQUIRE(q.ok);
  CHECK(q.v == value(9223372036854775808.0));
}

TEST_CASE("msgpack: every truncation of a valid frame is refused", "[msgpack]") {
  frame_builder b;
  b.pk.pack_map(3);
  b.str("op").str("stock.adjust");
  b.str("id").pk.pack_uint64(1ull << 40);
  b.str("items").pk.pack_array(2);
  b.pk.pack_double(2.5);
  b.str(std::string(100, 'x'));
  const std::string full = b.bytes();
  REQUIRE(parse_msgpack(full).ok);
  for (std::size_t n = 0; n < full.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    check_refused(full.substr(0, n), "msgpack: truncated frame");
  }
}

TEST_CASE("msgpack: huge declared lengths fail fast, before any allocation", "[msgpack][limits]") {
  // Each header declares ~4 GiB (or 4G entries) that the frame does not hold.
  const std::string array32 = raw({0xdd, 0xff, 0xff, 0xff, 0xff, 0x01});
  const std::string map32 = raw({0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'k', 0x01});
  const std::string str32 = raw({0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'});
  const std::string bin32 = raw({0xc6, 0xff, 0xff, 0xff, 0xff, 0x00});
  const std::string ext32 = raw({0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00});
  const std::string in_map = raw({0x81, 0xa2, 'i', 'd', 0xdd, 0x00, 0x01, 0x00, 0x00});

  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(parse_msgpack(array32).ok);
    CHECK_FALSE(parse_msgpack(map32).ok);
    CHECK_FALSE(parse_msgpack(str32).ok);
    CHECK_FALSE(parse_msgpack(bin32).ok);
    CHECK_FALSE(parse_msgpack(ext32).ok);
    CHECK_FALSE(parse_msgpack(in_map).ok);
  }
  // 6,000 refusals: if any of them allocated or touched gigabytes this would
  // take seconds (or fail outright); bounded refusals take microseconds.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));

  // The container counts are refused by their header, not by running out of
  // bytes later.
  check_refused(array32, "array with more than 1000 items");
  check_refused(map32, "map with more than 64 entries");
  check_refused(in_map, "array with more than 1000 items");
  // A string longer than the frame is a truncated frame: msgpack-cxx waits
  // for the bytes and never reserves them.
  check_refused(str32, "msgpack: truncated frame");
}

TEST_CASE("msgpack: the sum of declared container sizes is bounded", "[msgpack][limits]") {
  // msgpack-cxx reserves an array's slots when it reads the header, and
  // unpack_limit bounds each array but not their sum. An array of 1,000-item
  // arrays is within every per-array limit; the total is refused, and before
  // msgpack-cxx reserves anything.
  std::string frame = raw({0xdc, 0x03, 0xe8});  // array16 of 1000
  for (int i = 0; i < 20; ++i) {
    frame += raw({0xdc, 0x03, 0xe8});
    frame += std::string(1000, static_cast<char>(0xc0));  // 1000 nils
  }
  check_refused(frame, "more than 20000 values");
  parse_limits roomy;
  roomy.total_items_max = 1'000'000;
  // With a larger limit the same bytes are simply a truncated frame.
  CHECK(parse_msgpack(frame, roomy).error == "msgpack: truncated frame");
}

TEST_CASE("msgpack: map keys must be strings", "[msgpack]") {
  check_refused(raw({0x81, 0x01, 0x02}), "map keys must be strings");        // {1: 2}
  check_refused(raw({0x81, 0xc0, 0x02}), "map keys must be strings");        // {nil: 2}
  check_refused(raw({0x81, 0x90, 0x02}), "map keys must be strings");        // {[]: 2}
  check_refused(raw({0x81, 0x80, 0x02}), "map keys must be strings");        // {{}: 2}
  check_refused(raw({0x81, 0xc4, 0x01, 'k', 0x02}), "map keys must be strings");  // bin key
  // String keys in maps nested in values are checked too.
  check_refused(raw({0x81, 0xa1, 'a', 0x81, 0xc3, 0x01}), "map keys must be strings");
  // A map value may be anything.
  CHECK(parse_msgpack(raw({0x81, 0xa1, 'a', 0x81, 0xa1, 'b', 0x90})).ok);
}

TEST_CASE("msgpack: duplicate keys are refused", "[msgpack]") {
  check_refused(raw({0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02}), "duplicate key");
}

TEST_CASE("msgpack: bin and ext are refused", "[msgpack]") {
  check_refused(raw({0xc4, 0x02, 'h', 'i'}), "bin values are not supported");
  check_refused(raw({0xc4, 0x00}), "bin values are not supported");
  check_refused(raw({0xd4, 0x01, 0x00}), "ext values are not supported");  // fixext1
  check_refused(raw({0xc7, 0x01, 0x05, 0x00}), "ext values are not supported");
  check_refused(raw({0xd6, 0xff, 0x00, 0x00, 0x00, 0x00}), "ext values are not supported");
  check_refused(raw({0x81, 0xa1, 'b', 0xc4, 0x01, 'x'}), "bin values are not supported");
}

TEST_CASE("msgpack: a string that is not UTF-8 is refused", "[msgpack][utf8]") {
  check_refused(raw({0xa1, 0xff}), "string is not valid UTF-8");
  check_refused(raw({0xa2, 0xc0, 0xaf}), "string is not valid UTF-8");
  check_refused(raw({0xa3, 0xed, 0xa0, 0x80}), "string is not valid UTF-8");
  check_refused(raw({0x81, 0xa1, 0xfe, 0x01}), "string is not valid UTF-8");  // in a key
  CHECK(parse_msgpack(raw({0xa2, 0xc3, 0xa9})).ok);
}

TEST_CASE("msgpack: nesting is bounded by depth_max", "[msgpack][limits]") {
  CHECK(parse_msgpack(nested_arrays(8)).ok);
  check_refused(nested_arrays(9), "nesting deeper than 8");
  check_refused(nested_arrays(60000), "nesting deeper than 8");
  parse_limits shallow;
  shallow.depth_max = 2;
  CHECK(parse_msgpack(nested_arrays(2), shallow).ok);
  CHECK_FALSE(parse_msgpack(nested_arrays(3), shallow).ok);
}

TEST_CASE("msgpack: strings, arrays and maps are bounded", "[msgpack][limits]") {
  frame_builder ok_string;
  ok_string.str(std::string(4096, 'x'));
  CHECK(parse_msgpack(ok_string.bytes()).ok);
  frame_builder long_string;
  long_string.str(std::string(4097, 'x'));
  check_refused(long_string.bytes(), "string longer than 4096 bytes");

  frame_builder items;
  items.pk.pack_array(1000);
  for (int i = 0; i < 1000; ++i) items.pk.pack_nil();
  CHECK(parse_msgpack(items.bytes()).ok);

  frame_builder members;
  members.pk.pack_map(65);
  for (int i = 0; i < 65; ++i) members.str("k" + std::to_string(i)).pk.pack_nil();
  check_refused(members.bytes(), "map with more than 64 entries");
}

TEST_CASE("msgpack: exactly one value per frame", "[msgpack]") {
  check_refused(raw({0x80, 0x80}), "trailing bytes after the value at offset 1");
  check_refused(raw({0x01, 0x00}), "trailing bytes");
  check_refused("", "truncated frame");
}

TEST_CASE("msgpack: NaN and infinity are refused, as in JSON", "[msgpack]") {
  for (double d : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    frame_builder b;
    b.pk.pack_double(d);
    check_refused(b.bytes(), "NaN and infinity are not supported");
    frame_builder f;
    f.pk.pack_float(static_cast<float>(d));
    check_refused(f.bytes(), "NaN and infinity are not supported");
  }
}

TEST_CASE("msgpack: bytes that are no msgpack are refused", "[msgpack]") {
  check_refused(raw({0xc1}), "msgpack: malformed frame");  // never used
  check_refused(raw({0x91, 0xc1}), "msgpack: malformed frame");
}

TEST_CASE("msgpack: the serializer packs compactly", "[msgpack][serialize]") {
  CHECK(serialize(value(1), encoding::msgpack) == raw({0x01}));
  CHECK(serialize(value(-1), encoding::msgpack) == raw({0xff}));
  CHECK(serialize(value(300), encoding::msgpack) == raw({0xcd, 0x01, 0x2c}));
  CHECK(serialize(value(-200), encoding::msgpack) == raw({0xd1, 0xff, 0x38}));
  CHECK(serialize(value(nullptr), encoding::msgpack) == raw({0xc0}));
  CHECK(serialize(value(true), encoding::msgpack) == raw({0xc3}));
  CHECK(serialize(value(2.5), encoding::msgpack) ==
        raw({0xcb, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  // A double is always float 64, even when integral.
  CHECK(serialize(value(3.0), encoding::msgpack) ==
        raw({0xcb, 0x40, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  CHECK(serialize(value("ab"), encoding::msgpack) == raw({0xa2, 'a', 'b'}));
  // Strings are str (never bin), str8 from 32 bytes on.
  const std::string s32 = serialize(value(std::string(32, 'z')), encoding::msgpack);
  CHECK(s32.substr(0, 2) == raw({0xd9, 0x20}));
  CHECK(serialize(value(object{{"ok", true}}), encoding::msgpack) ==
        raw({0x81, 0xa2, 'o', 'k', 0xc3}));
  CHECK(serialize(value(array{1, 2}), encoding::msgpack) == raw({0x92, 0x01, 0x02}));
}

TEST_CASE("msgpack: the serializer never writes a non-UTF-8 str", "[msgpack][serialize][utf8]") {
  const std::string out = serialize(value("a\xFF"), encoding::msgpack);
  CHECK(out == raw({0xa4, 'a', 0xef, 0xbf, 0xbd}));
}
