// Idle records are passivated and come back with their state.
#include <thread>

#include "tests/support/grid_harness.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;

TEST_CASE("idle records are passivated and reactivated with their state", "[passivation]") {
  temp_dir dir;
  auto s = test_settings(dir.path());
  s.node.passivate_idle_ms = 200;
  auto g = open_grid(s);
  for (int i = 0; i < 50; ++i)
    REQUIRE(call(*g, adjust("wh", "sku" + std::to_string(i), i + 1)).code == outcome::ok);
  REQUIRE(call(*g, adjust("wh", "held", 5)).code == outcome::ok);
  auto held = call(*g, reserve("wh", "held", 2, 600'000));
  REQUIRE(held.code == outcome::ok);
  // Each came to life once (counting, not sampling the resident count, which
  // a loaded machine may already have seen fall by the 200 ms idle time).
  CHECK(g->stats().activations == 51);

  // Everything but the record with an active hold goes.
  CHECK(eventually([&] { return g->stats().resident_records == 1; }));
  CHECK(g->stats().passivations == 50);

  const auto before = g->stats().activations;
  auto r = call(*g, get("wh", "sku7"));
  REQUIRE(r.code == outcome::ok);
  CHECK(r.record.on_hand == 8);
  CHECK(r.record.version == 1);
  CHECK(g->stats().activations == before + 1);
  CHECK(call(*g, adjust("wh", "sku7", 1)).record.version == 2);
  CHECK(call(*g, hold_op(op::commit, held.hold)).code == outcome::ok);
}

TEST_CASE("probing keys that were never stocked keeps no actor", "[passivation]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  for (int i = 0; i < 100; ++i)
    CHECK(call(*g, get("wh", "nope" + std::to_string(i))).code == outcome::not_found);
  CHECK(g->stats().resident_records == 0);
}

TEST_CASE("requests sent while a record activates apply in submission order", "[passivation]") {
  temp_dir dir;
  auto s = test_settings(dir.path());
  s.node.passivate_idle_ms = 200;
  auto g = open_grid(s);
  const int records = 20, per_record = 100;
  for (int r = 0; r < records; ++r)
    REQUIRE(call(*g, set_count("wh", "o" + std::to_string(r), 1)).code == outcome::ok);  // version 1
  for (int round = 0; round < 2; ++round) {
    REQUIRE(eventually([&] { return g->stats().resident_records == 0; }));
    // Each set names the version the one before it leaves, so any reordering
    // (across the load from disk, the spawn and the first direct sends) is a
    // VERSION_CONFLICT.
    std::vector<std::future<reply>> replies;
    const std::int64_t base = 1 + round * per_record;
    for (int i = 0; i < per_record; ++i)
      for (int r = 0; r < records; ++r)
        replies.push_back(send(*g, set_count("wh", "o" + std::to_string(r), i, base + i)));
    for (auto& f : replies) {
      REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
      CHECK(f.get().code == outcome::ok);
    }
    CHECK(call(*g, get("wh", "o7")).record.version == base + per_record);
  }
}
