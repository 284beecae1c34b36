// value → JSON → value and value → msgpack → value give back the same value,
// for hand-picked edge cases and for seeded random trees.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "protocol_test_support.hpp"

using namespace stockgrid::protocol;
using namespace stockgrid::protocol::testing;

namespace {

value through(const value& v, encoding enc) {
  const std::string bytes = serialize(v, enc);
  const auto p = parse_as(enc, bytes);
  INFO("bytes: " << bytes << " error: " << p.error);
  REQUIRE(p.ok);
  return p.v;
}

value edge_cases() {
  return value(object{
      {"null", nullptr},
      {"bools", array{true, false}},
      {"ints", array{0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536,
                     std::numeric_limits<std::int32_t>::max(),
                     std::int64_t{std::numeric_limits<std::int32_t>::max()} + 1,
                     std::numeric_limits<std::int64_t>::max(),
                     std::numeric_limits<std::int64_t>::min()}},
      {"doubles", array{0.0, -0.0, 0.1, -2.5, 3.0, 1e300, -1e-300, 5e-324,
                        std::numeric_limits<double>::max(), 9007199254740993.0}},
      {"strings", array{"", "plain", "quote\" backslash\\ slash/", "\b\f\n\r\t",
                        std::string("nul\0inside", 10), "\x01\x1f\x7f",
                        "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", std::string(4096, 'L')}},
      {"empty", object{{"array", array{}}, {"object", object{}}}},
      {"nested", array{array{array{array{array{array{array{1}}}}}}}},
      {"", "empty key"},
  });
}

// A random tree within the default parse limits.
class tree_maker {
 public:
  explicit tree_maker(std::uint32_t seed) : rng_(seed) {}

  value make(int depth) {
    const int kind = pick(0, depth >= 7 ? 5 : 7);
    switch (kind) {
      case 0: return value(nullptr);
      case 1: return value(pick(0, 1) == 1);
      case 2: {
        if (pick(0, 1) == 0) return value(pick(-300, 300));
        std::uniform_int_distribution<std::int64_t> any(std::numeric_limits<std::int64_t>::min(),
                                                        std::numeric_limits<std::int64_t>::max());
        return value(any(rng_));
      }
      case 3: {
        std::uniform_real_distribution<double> d(-1e6, 1e6);
        return value(d(rng_) * std::pow(10.0, pick(-300, 300)));
      }
      case 4:
      case 5: return value(text());
      case 6: {
        array items;
        for (int i = pick(0, 6); i > 0; --i) items.push_back(make(depth + 1));
        return value(std::move(items));
      }
      default: {
        object members;
        // The digit suffix keeps keys distinct.
        for (int i = pick(0, 6); i > 0; --i) {
          members.emplace_back(text() + std::to_string(i), make(depth + 1));
        }
        return value(std::move(members));
      }
    }
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string text() {
    static const char* const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\x01",
                                         "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                         "\x7f", "\t"};
    std::string s;
    for (int i = pick(0, 12); i > 0; --i) s += pieces[pick(0, 13)];
    return s;
  }

  std::mt19937 rng_;
};

}  // namespace

TEST_CASE("round trip: edge cases through JSON", "[roundtrip][json]") {
  const value v = edge_cases();
  CHECK(through(v, encoding::json) == v);
}

TEST_CASE("round trip: edge cases through msgpack", "[roundtrip][msgpack]") {
  const value v = edge_cases();
  CHECK(through(v, encoding::msgpack) == v);
}

TEST_CASE("round trip: random trees through both encodings", "[roundtrip]") {
  tree_maker maker(20261129);
  for (int i = 0; i < 2000; ++i) {
    const value v = maker.make(0);
    INFO("tree " << i << ": " << to_json(v));
    CHECK(through(v, encoding::json) == v);
    CHECK(through(v, encoding::msgpack) == v);
  }
}

TEST_CASE("round trip: JSON and msgpack carry the same tree", "[roundtrip]") {
  const value v = json(R"({"op":"stock.bulk","id":9007199254740991,"items":[)"
                       R"({"op":"adjust","warehouse":"w","sku":"s","delta":-5},)"
                       R"({"op":"set","warehouse":"w","sku":"\u00e9","on_hand":0,"x":1.25}]})");
  const auto from_msgpack = parse_msgpack(serialize(v, encoding::msgpack));
  REQUIRE(from_msgpack.ok);
  CHECK(from_msgpack.v == v);
  CHECK(to_json(from_msgpack.v) == to_json(v));
}

TEST_CASE("array frames join encoded values without re-encoding them", "[protocol][batch]") {
  for (const auto enc : {encoding::json, encoding::msgpack}) {
    for (const std::size_t count : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{300}}) {
      std::vector<std::string> items;
      for (std::size_t i = 0; i < count; ++i) {
        items.push_back(serialize(value(object{{"id", static_cast<std::int64_t>(i)}, {"ok", true}}), enc));
      }
      std::string frame;
      append_array_frame(frame, enc, count, [&](std::size_t i) -> const std::string& { return items[i]; });
      value parsed;
      std::string error;
      INFO("count " << count << " error " << error);
      REQUIRE(parse(frame, enc, parse_limits{}, &parsed, &error));
      const array* a = parsed.as_array();
      REQUIRE(a != nullptr);
      REQUIRE(a->size() == count);
      for (std::size_t i = 0; i < count; ++i) {
        CHECK(*(*a)[i].find("id")->as_int() == static_cast<std::int64_t>(i));
      }
    }
  }
}
