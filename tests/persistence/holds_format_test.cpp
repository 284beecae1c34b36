// The holds BLOB of a snapshot row (format.hpp): the reader accepts exactly
// what the writer writes. Cases found by fuzz/snapshot.cpp.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "persistence/format.hpp"

namespace stockgrid::persistence {
namespace {

TEST_CASE("a record without holds has an empty holds BLOB, and it reads back") {
  std::string blob;
  format::encode_holds({}, &blob);
  CHECK(blob.empty());
  std::vector<hold> holds{hold{1, 2, 3, "x"}};
  CHECK(format::decode_holds(blob, &holds));
  CHECK(holds.empty());
}

TEST_CASE("holds round-trip through the BLOB") {
  const std::vector<hold> written{hold{7, 2, 1000, "cart-1"}, hold{9, 5, 2000, ""}};
  std::string blob;
  format::encode_holds(written, &blob);
  std::vector<hold> read;
  REQUIRE(format::decode_holds(blob, &read));
  REQUIRE(read.size() == 2);
  CHECK(read[0].seq == 7);
  CHECK(read[0].ref == "cart-1");
  CHECK(read[1].qty == 5);
}

TEST_CASE("a holds BLOB with a count of 0 is malformed: the writer never writes one") {
  // version 1, count 0: what fuzz/corpus/snapshot/regress-count-zero holds.
  const std::string blob("\x01\x00\x00\x00\x00", 5);
  std::vector<hold> holds;
  CHECK_FALSE(format::decode_holds(blob, &holds));
}

TEST_CASE("a holds BLOB with bytes after the last hold or a cut hold is malformed") {
  std::string blob;
  format::encode_holds({hold{7, 2, 1000, "cart-1"}}, &blob);
  std::vector<hold> holds;
  CHECK_FALSE(format::decode_holds(blob + "x", &holds));
  CHECK_FALSE(format::decode_holds(blob.substr(0, blob.size() - 1), &holds));
}

}  // namespace
}  // namespace stockgrid::persistence
