// The grid when its disk refuses writes: the power-cut VFS's failing-writes
// mode under real actors and SQLite files. A degraded partition answers
// writes UNAVAILABLE with retry_after_ms, drops what its records applied
// ahead of the disk, reads from disk, and takes writes again once a probe
// write succeeds. And when its disk is slow (the VFS's slow syncs): reads go
// on, the in-flight bound refuses the excess, nothing is lost or doubled.
#include <atomic>
#include <map>
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

// A reply with its place in the order the test's replies arrived in.
struct answer {
  int arrived = 0;
  reply rep;
};

// Submits requests and numbers their replies as they arrive.
class arrivals {
 public:
  std::future<answer> send(grid& g, request r) {
    auto p = std::make_shared<std::promise<answer>>();
    auto f = p->get_future();
    g.submit(std::move(r), [p, counter = counter_](reply&& rep) { p->set_value({++*counter, std::move(rep)}); });
    return f;
  }

 private:
  std::shared_ptr<std::atomic<int>> counter_ = std::make_shared<std::atomic<int>>(0);
};

bool answered_now(const std::future<answer>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

answer await(std::future<answer>& f) {
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("a slow disk: reads of other records are answered while a write waits for its sync, requests "
          "beyond the in-flight bound get OVERLOADED at once, and every accepted write is answered ok "
          "and applied once",
          "[grid][disk]") {
  temp_dir dir;
  auto s = disk_settings(dir);
  s.node.max_in_flight = 32;
  auto g = open_grid(s, powercut::vfs_name);
  const std::vector<std::string> skus{"a", "b", "c", "d", "e", "f", "g", "h"};
  // Every record is now in memory: a record not in memory is loaded on its
  // partition's writer thread, behind the slow sync.
  for (const auto& sku : skus) REQUIRE(call(*g, adjust("wh", sku, 100)).code == outcome::ok);

  arrivals replies;
  std::vector<request> burst_requests;
  std::vector<std::future<answer>> burst;
  std::future<answer> write, same_record, other_record;
  {
    powercut::slow_disk disk(std::chrono::milliseconds(2000));
    const auto delayed_before = powercut::delayed_syncs();
    write = replies.send(*g, adjust("wh", "a", 1));
    same_record = replies.send(*g, get("wh", "a"));
    other_record = replies.send(*g, get("wh", "b"));
    const auto other = await(other_record);
    REQUIRE(other.rep.code == outcome::ok);
    CHECK(other.rep.record.on_hand == 100);
    // The read of another record did not wait for the write's sync; a read
    // of the written record does: it may show the write only once durable.
    REQUIRE_FALSE(answered_now(write));
    CHECK_FALSE(answered_now(same_record));

    // Two requests are in flight (the write and the read of its record):
    // the bound takes 30 more and refuses the rest at once.
    for (int i = 0; i < 100; ++i) {
      burst_requests.push_back(adjust("wh", skus[i % skus.size()], 1, "burst-" + std::to_string(i)));
      burst.push_back(replies.send(*g, burst_requests.back()));
    }
    int overloaded = 0;
    for (auto& f : burst) {
      if (!answered_now(f)) continue;
      const auto a = f.get();
      INFO(a.rep.message);
      REQUIRE(a.rep.code == outcome::overloaded);
      CHECK(a.rep.retry_after_ms > 0);
      ++overloaded;
    }
    CHECK(overloaded == 100 - 30);
    CHECK(g->stats().overloaded == static_cast<std::uint64_t>(overloaded));
    // The write's sync is waiting (or the machine is slower than the disk):
    // either way the write is unanswered while all the above was answered.
    REQUIRE(eventually([&] { return powercut::delayed_syncs() > delayed_before; }));
    CHECK_FALSE(answered_now(write));
  }

  // The disk is fast again: the write, then the read of its record, and
  // every accepted write is answered ok, none a replay.
  const auto written = await(write);
  REQUIRE(written.rep.code == outcome::ok);
  CHECK(written.rep.record.on_hand == 101);
  const auto same = await(same_record);
  REQUIRE(same.rep.code == outcome::ok);
  CHECK(same.rep.record.on_hand == 101);
  CHECK(same.arrived > written.arrived);
  std::map<std::string, std::int64_t> expected;
  for (const auto& sku : skus) expected[sku] = 100;
  expected["a"] = 101;
  std::vector<request> accepted;
  for (std::size_t i = 0; i < burst.size(); ++i) {
    if (!burst[i].valid()) continue;  // refused above
    const auto a = await(burst[i]);
    INFO(burst_requests[i].idem << ": " << a.rep.message);
    REQUIRE(a.rep.code == outcome::ok);
    CHECK_FALSE(a.rep.replayed);
    ++expected[burst_requests[i].key.sku];
    accepted.push_back(burst_requests[i]);
  }
  CHECK(accepted.size() == 30);
  const auto check_records = [&](grid& on) {
    for (const auto& [sku, on_hand] : expected) {
      const auto got = call(on, get("wh", sku));
      REQUIRE(got.code == outcome::ok);
      INFO(sku);
      CHECK(got.record.on_hand == on_hand);
    }
  };
  check_records(*g);
  // Resent with their idems, the accepted writes replay and change nothing.
  for (const auto& r : accepted) {
    const auto again = call(*g, r);
    REQUIRE(again.code == outcome::ok);
    CHECK(again.replayed);
  }
  check_records(*g);
  g->stop();

  // After a restart, exactly the same.
  g = open_grid(s, powercut::vfs_name);
  check_records(*g);
}

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
