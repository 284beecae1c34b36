// A small seeded fuzz pass over both parsers: random bytes and mutations of
// valid frames. Each input must either parse or fail with a message — never
// crash, hang or throw — and whatever parses must serialize and parse back
// to the same value and survive decode_request.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "protocol_test_support.hpp"

using namespace stockgrid::protocol;
using namespace stockgrid::protocol::testing;

namespace {

std::vector<value> seed_frames() {
  return {
      json(R"({"op":"auth","id":1,"token":"sg_abc"})"),
      json(R"({"op":"stock.reserve","id":2,"warehouse":"w","sku":"s\u00e9","qty":3,"ttl_ms":30000})"),
      json(R"({"op":"stock.bulk","id":3,"items":[{"op":"adjust","warehouse":"w","sku":"a","delta":-1},)"
           R"({"op":"set","warehouse":"w","sku":"b","on_hand":4,"expected_version":2}],"idem":"x"})"),
      json(R"({"op":"key.create","id":4,"role":"reader","warehouses":["a","b"],"expires_at_ms":1.5e12})"),
      json(R"({"id":5,"ok":false,"error":{"code":"INSUFFICIENT_STOCK","message":"\"\\\n","available":3}})"),
      json(R"([[[[[[[[]]]]]]],{"a":[true,false,null,-0.5e-3,9223372036854775808]}])"),
  };
}

class mutator {
 public:
  explicit mutator(std::uint32_t seed) : rng_(seed) {}

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  char byte() { return static_cast<char>(pick(0, 255)); }

  std::string random_bytes(int max_length) {
    std::string s(static_cast<std::size_t>(pick(0, max_length)), '\0');
    for (char& c : s) c = byte();
    return s;
  }

  // One to four edits of `s`: flip, overwrite, insert, erase, truncate,
  // duplicate a slice, or splice in a structural character.
  std::string mutate(std::string s) {
    static const std::string structural = "{}[]\",:\\0123456789-.eE tfn\x80\xc0\xff";
    for (int edits = pick(1, 4); edits > 0; --edits) {
      const std::size_t at = s.empty() ? 0 : static_cast<std::size_t>(pick(0, int(s.size()) - 1));
      switch (pick(0, 6)) {
        case 0:
          if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << pick(0, 7)));
          break;
        case 1:
          if (!s.empty()) s[at] = byte();
          break;
        case 2: s.insert(at, 1, byte()); break;
        case 3:
          if (!s.empty()) s.erase(at, static_cast<std::size_t>(pick(1, 8)));
          break;
        case 4: s.resize(at); break;
        case 5: {
          const std::size_t length = static_cast<std::size_t>(pick(1, 16));
          s.insert(at, s.substr(at, length));
          break;
        }
        default:
          s.insert(at, 1, structural[static_cast<std::size_t>(pick(0, int(structural.size()) - 1))]);
      }
    }
    return s;
  }

 private:
  std::mt19937 rng_;
};

// The property every input must have.
void check_input(encoding enc, const std::string& bytes, int* parsed_count) {
  const auto p = parse_as(enc, bytes);
  if (!p.ok) {
    // A refusal explains itself, with the encoding's prefix.
    CHECK_FALSE(p.error.empty());
    CHECK(p.error.rfind(enc == encoding::json ? "json: " : "msgpack: ", 0) == 0);
    return;
  }
  ++*parsed_count;
  // Whatever parses serializes and parses back to the same tree...
  const auto again = parse_as(enc, serialize(p.v, enc));
  CHECK(again.ok);
  CHECK(again.v == p.v);
  // ... and the decoder answers it one way or the other.
  const auto decoded = decode_request(p.v);
  if (const auto* failure = std::get_if<decode_failure>(&decoded)) {
    CHECK_FALSE(failure->message.empty());
  }
}

}  // namespace

TEST_CASE("fuzz: random bytes never break either parser", "[fuzz]") {
  mutator m(1);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string bytes = m.random_bytes(64);
    check_input(encoding::json, bytes, &parsed);
    check_input(encoding::msgpack, bytes, &parsed);
  }
  // Random bytes are mostly refused, but short ones are often valid msgpack
  // scalars: both paths are exercised.
  CHECK(parsed > 0);
}

TEST_CASE("fuzz: mutated JSON frames", "[fuzz][json]") {
  mutator m(2);
  int parsed = 0;
  const auto seeds = seed_frames();
  for (int i = 0; i < 30000; ++i) {
    const std::string text = to_json(seeds[static_cast<std::size_t>(i) % seeds.size()]);
    check_input(encoding::json, m.mutate(text), &parsed);
  }
  CHECK(parsed > 0);
}

TEST_CASE("fuzz: mutated msgpack frames", "[fuzz][msgpack]") {
  mutator m(3);
  int parsed = 0;
  const auto seeds = seed_frames();
  for (int i = 0; i < 30000; ++i) {
    const std::string bytes = serialize(seeds[static_cast<std::size_t>(i) % seeds.size()],
                                        encoding::msgpack);
    check_input(encoding::msgpack, m.mutate(bytes), &parsed);
  }
  CHECK(parsed > 0);
}
