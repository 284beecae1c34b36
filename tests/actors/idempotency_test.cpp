// Idempotency keys: a replay returns the stored original response.
#include "tests/support/grid_harness.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;

TEST_CASE("a replayed reserve returns the same hold and record without applying", "[idempotency]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 10)).code == outcome::ok);
  auto first = call(*g, reserve("wh", "x", 3, 60'000, "cart-1"));
  REQUIRE(first.code == outcome::ok);
  auto again = call(*g, reserve("wh", "x", 3, 60'000, "cart-1"));
  REQUIRE(again.code == outcome::ok);
  CHECK(again.replayed);
  CHECK(again.hold == first.hold);
  CHECK(again.expires_at_ms == first.expires_at_ms);
  CHECK(again.record.reserved == 3);
  CHECK(again.record.version == first.record.version);
  CHECK(call(*g, get("wh", "x")).record.reserved == 3);
}

TEST_CASE("the same key with different parameters is IDEMPOTENCY_MISMATCH", "[idempotency]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 10, "k1")).code == outcome::ok);
  auto r = call(*g, adjust("wh", "x", 11, "k1"));
  CHECK(r.code == outcome::idempotency_mismatch);
  CHECK(call(*g, get("wh", "x")).record.on_hand == 10);
}

TEST_CASE("a remembered refusal is replayed even after stock arrives", "[idempotency]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 1)).code == outcome::ok);
  auto refused = call(*g, reserve("wh", "x", 5, 0, "r1"));
  REQUIRE(refused.code == outcome::insufficient_stock);
  CHECK(refused.available == 1);
  REQUIRE(call(*g, adjust("wh", "x", 10)).code == outcome::ok);
  auto again = call(*g, reserve("wh", "x", 5, 0, "r1"));
  CHECK(again.code == outcome::insufficient_stock);
  CHECK(again.available == 1);
  CHECK(again.replayed);
  // Refusals are not movements: history does not show them.
  CHECK(call(*g, history("wh", "x")).events.size() == 2);
}

TEST_CASE("a retried commit after the hold is gone returns the original response", "[idempotency]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 10)).code == outcome::ok);
  auto held = call(*g, reserve("wh", "x", 2));
  auto first = call(*g, hold_op(op::commit, held.hold, {}, "c1"));
  REQUIRE(first.code == outcome::ok);
  auto again = call(*g, hold_op(op::commit, held.hold, {}, "c1"));
  CHECK(again.code == outcome::ok);
  CHECK(again.replayed);
  CHECK(again.record.on_hand == 8);
  CHECK(again.record.version == first.record.version);
  CHECK(call(*g, hold_op(op::commit, held.hold, {}, "c2")).code == outcome::hold_not_found);
  // A foreign tenant with the same key learns nothing.
  CHECK(call(*g, hold_op(op::commit, held.hold, {}, "c1", "t2")).code == outcome::hold_not_found);
}

TEST_CASE("idempotency keys survive a restart and keys beyond the cache are found on disk", "[idempotency][recovery]") {
  temp_dir dir;
  auto s = test_settings(dir.path());
  s.idempotency.cache_entries = 1;  // force look-ups into SQLite
  std::string hold;
  {
    auto g = open_grid(s);
    REQUIRE(call(*g, adjust("wh", "x", 10, "stock-1")).code == outcome::ok);
    hold = call(*g, reserve("wh", "x", 4, 600'000, "cart-9")).hold;
    for (int i = 0; i < 200; ++i)
      REQUIRE(call(*g, adjust("wh", "y" + std::to_string(i), 1, "fill-" + std::to_string(i))).code == outcome::ok);
    auto again = call(*g, reserve("wh", "x", 4, 600'000, "cart-9"));
    CHECK(again.replayed);
    CHECK(again.hold == hold);
  }
  auto g = open_grid(s);
  auto again = call(*g, reserve("wh", "x", 4, 600'000, "cart-9"));
  CHECK(again.code == outcome::ok);
  CHECK(again.replayed);
  CHECK(again.hold == hold);
  CHECK(call(*g, adjust("wh", "x", 10, "stock-1")).replayed);
  CHECK(call(*g, get("wh", "x")).record.on_hand == 10);
  CHECK(call(*g, get("wh", "x")).record.reserved == 4);
}
