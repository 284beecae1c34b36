// The list of tenants a cluster node refuses while they are deleted
// (actors/deleted_tenants.hpp): from when to when, "forever" until the
// delete's end is known, bounded.
#include "actors/deleted_tenants.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace stockgrid::actors {
namespace {

TEST_CASE("a tenant is refused from its delete until its end; a known end replaces forever") {
  deleted_tenants d;
  CHECK_FALSE(d.refuses("acme", 100));
  d.add("acme", 100, deleted_tenants::forever);  // marked deleting
  CHECK(d.refuses("acme", 100));
  CHECK(d.refuses("acme", 1'000'000'000));
  CHECK(d.since("acme", 500) == 100);
  d.add("acme", 50, 2'000);  // a purge entry seen: not the end, forever stays
  CHECK(d.refuses("acme", 5'000));
  CHECK(d.since("acme", 500) == 50);  // the earliest
  d.add("acme", 300, 3'000, true);  // removed: retention after that
  CHECK(d.refuses("acme", 2'999));
  CHECK_FALSE(d.refuses("acme", 3'000));
  CHECK_FALSE(d.since("acme", 3'000));
  CHECK_FALSE(d.refuses("other", 0));
}

TEST_CASE("the list keeps at most entries_max tenants, dropping the one that ends first") {
  deleted_tenants d;
  for (std::size_t i = 0; i <= deleted_tenants::entries_max; ++i)
    d.add("t" + std::to_string(i), 0, 1'000 + static_cast<epoch_ms>(i));
  CHECK_FALSE(d.refuses("t0", 0));  // ended first: dropped
  CHECK(d.refuses("t1", 0));
  CHECK(d.refuses("t" + std::to_string(deleted_tenants::entries_max), 0));
}

}  // namespace
}  // namespace stockgrid::actors
