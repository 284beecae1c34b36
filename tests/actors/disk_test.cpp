// The grid when its disk refuses writes: the power-cut VFS's failing-writes
// mode under real actors and SQLite files. A degraded partition answers
// writes UNAVAILABLE with retry_after_ms, drops what its records applied
// ahead of the disk, reads from disk, and takes writes again once a probe
// write succeeds.
#include <thread>

#include "persistence/testing/powercut_vfs.hpp"
#include "tests/support/grid_harness.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;
namespace powercut = stockgrid::persistence::powercut;

namespace {

constexpr std::uint64_t retry_interval_ms = 50;

// Settings for a grid on the power-cut VFS that retries the disk often.
config::settings disk_settings(const temp_dir& dir) {
  powercut::install();
  auto s = test_settings(dir.path());
  s.journal.disk_retry_interval_ms = retry_interval_ms;
  return s;
}

}  // namespace

TEST_CASE("a degraded partition refuses writes with retry_after_ms, reads what is on disk, keeps its "
          "durable holds and heals by itself",
          "[grid][disk]") {
  temp_dir dir;
  const auto s = disk_settings(dir);
  auto g = open_grid(s, powercut::vfs_name);
  REQUIRE(call(*g, adjust("wh", "a", 10)).code == outcome::ok);
  const auto held = call(*g, reserve("wh", "a", 4, 60'000));
  REQUIRE(held.code == outcome::ok);
  {
    powercut::full_disk disk;
    // The record applies the commit when the journal numbers it; the commit
    // then fails: not acknowledged, and the client is told when to retry.
    const auto commit = call(*g, hold_op(op::commit, held.hold, {}, "commit-1"));
    CHECK(commit.code == outcome::unavailable);
    CHECK(commit.retry_after_ms == static_cast<std::int64_t>(retry_interval_ms));
    CHECK(g->stats().degraded_partitions >= 1);
    CHECK(g->stats().journal_failures >= 1);
    // Whether it reaches the old record actor, waits for the reload, or
    // finds the reloaded record, a request for the hold never hears that
    // the hold is gone: only that writes are refused.
    for (int i = 0; i < 20; ++i) {
      const auto release = call(*g, hold_op(op::release, held.hold));
      INFO("attempt " << i << ": " << release.message);
      CHECK(release.code == outcome::unavailable);
    }
    // The partition drops its records; reads then show the disk: the hold
    // the failed commit had ended in memory is still there.
    REQUIRE(eventually([&] { return g->stats().reloaded_records > 0; }));
    const auto got = call(*g, get("wh", "a"));
    REQUIRE(got.code == outcome::ok);
    CHECK(got.record.on_hand == 10);
    CHECK(got.record.reserved == 4);
    const auto holds = call(*g, rec_req(op::holds, "wh", "a"));
    REQUIRE(holds.holds.size() == 1);
    CHECK(holds.holds[0].hold == held.hold);
    // Writes are refused at once while the disk is full.
    const auto write = call(*g, adjust("wh", "a", 1));
    CHECK(write.code == outcome::unavailable);
    CHECK(write.retry_after_ms == static_cast<std::int64_t>(retry_interval_ms));
  }
  // Space returns: a probe heals every partition, and the commit, resent
  // with its idem, applies once through the rebuilt hold index.
  REQUIRE(eventually([&] { return g->stats().degraded_partitions == 0; }));
  const auto commit = call(*g, hold_op(op::commit, held.hold, {}, "commit-1"));
  REQUIRE(commit.code == outcome::ok);
  CHECK_FALSE(commit.replayed);
  CHECK(commit.record.on_hand == 6);
  CHECK(commit.record.reserved == 0);
  CHECK(call(*g, hold_op(op::commit, held.hold, {}, "commit-1")).replayed);
  g->stop();

  // After a restart, exactly the acknowledged changes.
  g = open_grid(s, powercut::vfs_name);
  const auto got = call(*g, get("wh", "a"));
  REQUIRE(got.code == outcome::ok);
  CHECK(got.record.on_hand == 6);
  CHECK(got.record.reserved == 0);
  CHECK(got.record.version == 3);
}

TEST_CASE("an order placed while the disk is full is refused, leaks no hold, and a retry with its idem "
          "holds once after the disk heals",
          "[grid][disk][orders]") {
  temp_dir dir;
  const auto s = disk_settings(dir);
  auto g = open_grid(s, powercut::vfs_name);
  REQUIRE(call(*g, adjust("wh", "a", 10)).code == outcome::ok);
  REQUIRE(call(*g, adjust("wh", "b", 10)).code == outcome::ok);
  orders::order_request order;
  order.kind = orders::order_op::reserve;
  order.who.tenant = "t1";
  order.who.key_id = "k1";
  order.lines = {{"a", 2, "wh"}, {"b", 3, "wh"}};
  order.idem = "order-1";
  {
    powercut::full_disk disk("/p-");  // the partitions' files; documents.db takes writes
    const auto refused = call_order(*g, order);
    INFO(refused.message);
    CHECK(refused.code == outcome::unavailable);
  }
  REQUIRE(eventually([&] { return g->stats().degraded_partitions == 0; }));
  // Whatever steps were applied in memory were dropped or given back.
  REQUIRE(eventually([&] {
    return call(*g, get("wh", "a")).record.reserved == 0 && call(*g, get("wh", "b")).record.reserved == 0;
  }));
  // The refused order gives back what it may have held, then its idem is
  // free (UNAVAILABLE is not remembered): a retry holds once.
  orders::order_reply held;
  for (int i = 0; i < 200; ++i) {
    held = call_order(*g, order);
    if (held.code != outcome::unavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(retry_interval_ms));
  }
  INFO(held.message);
  REQUIRE(held.code == outcome::ok);
  CHECK(call(*g, get("wh", "a")).record.reserved == 2);
  CHECK(call(*g, get("wh", "b")).record.reserved == 3);
  const auto again = call_order(*g, order);
  REQUIRE(again.code == outcome::ok);
  CHECK(again.doc.id == held.doc.id);
  CHECK(call(*g, get("wh", "a")).record.reserved == 2);
  CHECK(call(*g, get("wh", "b")).record.reserved == 3);
}
