// Holds expire at their deadline, by a timer, and across restarts.
#include <thread>

#include "actors/clock.hpp"
#include "tests/support/grid_harness.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;

TEST_CASE("a hold is released at its deadline without any request", "[expiry]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 5)).code == outcome::ok);
  auto held = call(*g, reserve("wh", "x", 2, 300));
  REQUIRE(held.code == outcome::ok);
  CHECK(call(*g, get("wh", "x")).record.reserved == 2);

  // Nothing touches the record; the history shows the timer's release.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto h = call(*g, history("wh", "x"));
  REQUIRE(h.events.size() == 3);
  const auto& expiry = h.events[0];
  CHECK(expiry.c.kind == change_kind::expire);
  CHECK(expiry.hold == held.hold);
  CHECK(expiry.c.qty == 2);
  CHECK(expiry.at_ms >= held.expires_at_ms);       // never early
  CHECK(expiry.at_ms < held.expires_at_ms + 200);  // late only by timer granularity
  auto r = call(*g, get("wh", "x"));
  CHECK(r.record.reserved == 0);
  CHECK(r.record.version == 3);
  CHECK(call(*g, hold_op(op::commit, held.hold)).code == outcome::hold_not_found);
}

TEST_CASE("a commit after the deadline gets HOLD_NOT_FOUND", "[expiry]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 5)).code == outcome::ok);
  auto held = call(*g, reserve("wh", "x", 1, 100));
  while (actors::now_ms() < held.expires_at_ms) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(call(*g, hold_op(op::commit, held.hold)).code == outcome::hold_not_found);
  CHECK(call(*g, get("wh", "x")).record.on_hand == 5);
}

TEST_CASE("extend postpones the release", "[expiry]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("wh", "x", 5)).code == outcome::ok);
  auto held = call(*g, reserve("wh", "x", 1, 200));
  auto e = hold_op(op::extend, held.hold);
  e.ttl_ms = 60'000;
  REQUIRE(call(*g, e).code == outcome::ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(call(*g, get("wh", "x")).record.reserved == 1);
  CHECK(call(*g, hold_op(op::commit, held.hold)).code == outcome::ok);
}

TEST_CASE("a hold that expires while the node is down is released once at recovery", "[expiry][recovery]") {
  temp_dir dir;
  auto s = test_settings(dir.path());
  reply held;
  {
    auto g = open_grid(s);
    REQUIRE(call(*g, adjust("wh", "x", 5)).code == outcome::ok);
    held = call(*g, reserve("wh", "x", 3, 300));
    REQUIRE(held.code == outcome::ok);
    REQUIRE(call(*g, reserve("wh", "x", 1, 600'000)).code == outcome::ok);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  {
    auto g = open_grid(s);
    CHECK(g->recovery().expired_holds == 1);
    auto r = call(*g, get("wh", "x"));
    CHECK(r.record.reserved == 1);
    CHECK(r.record.version == 4);
    auto h = call(*g, history("wh", "x"));
    REQUIRE(h.events.size() == 4);
    CHECK(h.events[0].c.kind == change_kind::expire);
    CHECK(h.events[0].hold == held.hold);
    CHECK(h.events[0].at_ms >= held.expires_at_ms);
  }
  auto g = open_grid(s);  // and never again
  CHECK(g->recovery().expired_holds == 0);
  CHECK(call(*g, history("wh", "x")).events.size() == 4);
}
