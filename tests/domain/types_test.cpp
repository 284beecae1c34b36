// Hold ids on the wire, and the stable hash that places records in
// partitions.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/limits.hpp"
#include "domain/types.hpp"

using namespace stockgrid;

// ---- hold ids ------------------------------------------------------------------

TEST_CASE("a hold id is H<partition>-<seq> in lower-case hex", "[hold_id]") {
  CHECK(format_hold_id({0, 1}) == "H0-1");
  CHECK(format_hold_id({31, 42}) == "H1f-2a");
  CHECK(format_hold_id({0xffffffffu, 0xffffffffffffffffull}) == "Hffffffff-ffffffffffffffff");
}

TEST_CASE("a hold id round-trips through format and parse", "[hold_id]") {
  const std::vector<hold_ref> refs = {
      {0, 1}, {1, 1}, {15, 16}, {4095, 123456789}, {0xffffffffu, 0xffffffffffffffffull}};
  for (auto ref : refs) {
    const auto text = format_hold_id(ref);
    INFO(text);
    hold_ref parsed{7, 7};
    REQUIRE(parse_hold_id(text, &parsed));
    CHECK(parsed.partition == ref.partition);
    CHECK(parsed.seq == ref.seq);
  }
}

TEST_CASE("malformed hold ids are rejected", "[hold_id]") {
  const std::vector<std::string> bad = {
      "",                             // empty
      "H",                            // nothing after the prefix
      "H1",                           // no dash, no seq
      "H1-",                          // missing seq
      "H-1",                          // missing partition
      "H-",                           // missing both
      "h1-2",                         // lower-case prefix
      "X1-2",                         // wrong prefix
      "1-2",                          // no prefix
      "H1f-2A",                       // upper-case hex
      "H1F-2a",                       // upper-case hex in the partition
      "H01-2",                        // leading zero in the partition
      "H1-02",                        // leading zero in the seq
      "H1-0",                         // seq 0 is never issued
      "H0-0",                         // seq 0 is never issued
      "H1-2-3",                       // extra part
      "H1--2",                        // double dash
      "H+1-2",                        // sign
      "H1-+2",                        // sign
      "H1-g",                         // not hex
      "H1 -2",                        // space
      "H1-2 ",                        // trailing space
      " H1-2",                        // leading space
      "H100000000-1",                 // partition beyond 32 bits
      "H1-10000000000000000",         // seq beyond 64 bits
      "garbage",                      //
      std::string("H1-2\0", 5),       // embedded NUL
  };
  for (const auto& text : bad) {
    INFO("'" << text << "'");
    hold_ref out{7, 7};
    CHECK_FALSE(parse_hold_id(text, &out));
    CHECK(out.partition == 7);  // untouched on failure
    CHECK(out.seq == 7);
  }
}

// ---- stable hash and partitions --------------------------------------------------

TEST_CASE("stable_hash is FNV-1a over the key's fields and never changes", "[hash]") {
  // Computed once, independently of this code, from the documented algorithm.
  // Data placement depends on this value: if this test fails, existing data
  // would land in the wrong partitions.
  const record_key key{"acme", "berlin-1", "sku-0001"};
  CHECK(stable_hash(key) == 0x60bdcc17c723f1f5ull);
  CHECK(partition_of(key, 64) == 53);
  CHECK(partition_of(key, limits::partitions_max) == 501);
}

TEST_CASE("stable_hash is deterministic and separates the fields", "[hash]") {
  const record_key key{"acme", "berlin-1", "sku-0001"};
  CHECK(stable_hash(key) == stable_hash(record_key{"acme", "berlin-1", "sku-0001"}));
  CHECK(record_key_hash{}(key) == static_cast<std::size_t>(stable_hash(key)));
  CHECK(stable_hash({"ab", "c", "d"}) != stable_hash({"a", "bc", "d"}));
  CHECK(stable_hash({"a", "", "bc"}) != stable_hash({"a", "b", "c"}));
  CHECK(stable_hash({"a", "b", "c"}) != stable_hash({"c", "b", "a"}));
}

TEST_CASE("partition_of spreads 100k keys evenly over 64 partitions", "[hash]") {
  constexpr std::uint32_t partitions = 64;
  constexpr int keys = 100'000;
  std::vector<int> count(partitions, 0);
  for (int i = 0; i < keys; ++i) {
    const record_key key{"tenant-" + std::to_string(i % 7), "wh-" + std::to_string(i % 13),
                         "sku-" + std::to_string(i)};
    const auto p = partition_of(key, partitions);
    REQUIRE(p < partitions);
    ++count[p];
  }
  const double mean = double(keys) / partitions;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    INFO("partition " << p << " holds " << count[p] << " keys, mean " << mean);
    CHECK(count[p] >= 0.8 * mean);
    CHECK(count[p] <= 1.2 * mean);
  }
}
