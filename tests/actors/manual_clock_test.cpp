// Hold expiry on a hand-moved clock: a record actor runs under CAF 0.17's
// test coordinator (`scheduler.policy = testing`: no scheduler threads; the
// test runs every message with sched.run() and fires timers with
// sched.advance_time()), and its hold deadlines read the coordinator's clock
// through node_context::clock. Nothing sleeps: a hold is still held 1 ms
// before its deadline and released at it.
//
// What this does not cover: the journal writer keeps its own thread (with
// in-memory stores), so replies arrive on it and the test waits for them
// (bounded) after running the actors; the partition is a stub that ignores
// what records tell it (hold index, passivation); idempotency look-ups are
// not used (their answer comes back from the writer thread as a message,
// which the test coordinator's queue must not receive from another thread).
// An order's expiry (order directory, coordinator, document writer) and
// expiry at recovery (grid::open reads the system clock) stay covered by
// the sleeping tests of expiry_test.cpp and order_test.cpp.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/actors.hpp"
#include "persistence/memory_store.hpp"

using namespace stockgrid;
using namespace stockgrid::actors;
using namespace std::chrono_literals;

namespace {

// A partition that ignores what its record tells it. It takes an argument
// only because CAF 0.17 spawns an argument-less function through a null
// shared_ptr<std::tuple<>> that it dereferences (UBSan: reference binding
// to null pointer, init_fun_factory.hpp:85).
partition_actor::behavior_type quiet_partition(partition_actor::pointer self, std::uint32_t /*partition*/) {
  return {
      [](const envelope&) {},
      [](loaded_atom, const record_key&, const load_result&) {},
      [](passivate_atom, const record_key&, std::uint64_t) {},
      [](hold_atom, std::uint64_t, const record_key&, bool) {},
      [](drop_atom) {},
      [](reloaded_atom) {},
      [](lead_atom, std::vector<persistence::record_image>&) {},
      [](follow_atom) {},
      [](const tenant_purge&) {},
      [](purged_atom, const std::string&, const persistence::status&, std::uint64_t) {},
      [self](stop_atom) { self->quit(); },
  };
}

caf::actor_system_config& testing_config(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  return cfg;
}

// The epoch the manual clock starts at: fixed, so every run is the same.
constexpr epoch_ms start_ms = 1'800'000'000'000;

// One record ("t1", "wh", "x") with 5 on hand, in an actor system driven by
// hand, journaling to an in-memory store.
struct manual_record {
  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  caf::scheduler::test_coordinator& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::actor_clock::time_point clock_start = sched.clock().now();
  std::unique_ptr<persistence::journal_writer> writer;
  node_context ctx;
  partition_actor partition;
  record_actor record;

  manual_record() {
    persistence::journal_writer_options o;
    o.threads = 1;
    std::vector<std::unique_ptr<persistence::partition_store>> stores;
    stores.push_back(std::make_unique<persistence::memory_store>());
    persistence::status st;
    writer = std::make_unique<persistence::journal_writer>(std::move(stores), o, &st, nullptr);
    REQUIRE(st);
    ctx.journal = writer.get();
    ctx.clock = [this] {
      return start_ms + std::chrono::duration_cast<std::chrono::milliseconds>(sched.clock().now() - clock_start).count();
    };
    partition = sys.spawn(quiet_partition, std::uint32_t{0});
    persistence::record_image image;
    image.key = {"t1", "wh", "x"};
    image.on_hand = 5;
    image.version = 1;
    record = spawn_record(sys, &ctx, 0, partition, image.key, image);
    sched.run();
  }
  ~manual_record() {
    caf::anon_send(record, stop_atom::value);
    caf::anon_send(partition, stop_atom::value);
    sched.run();
    writer->stop();
  }

  epoch_ms now() const { return ctx.clock(); }
  // Moves the clock by `ms`, fires the timers due and runs what they sent.
  void advance(std::int64_t ms) {
    sched.advance_time(std::chrono::milliseconds(ms));
    sched.run();
  }

  reply call(request r) {
    r.key.tenant = "t1";
    auto p = std::make_shared<std::promise<reply>>();
    auto f = p->get_future();
    ctx.in_flight.fetch_add(1);
    caf::anon_send(record, envelope{std::move(r), reply_sink{[p](reply&& rep) { p->set_value(std::move(rep)); },
                                                            &ctx.in_flight}});
    sched.run();
    // The reply leaves once the journal entry is durable, on the writer thread.
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
  }
  reply get() {
    request r;
    r.kind = op::get;
    r.key = {"t1", "wh", "x"};
    return call(r);
  }
  reply reserve(std::int64_t qty, std::int64_t ttl_ms) {
    request r;
    r.kind = op::reserve;
    r.key = {"t1", "wh", "x"};
    r.qty = qty;
    r.ttl_ms = ttl_ms;
    return call(r);
  }
  reply on_hold(op kind, const std::string& hold, std::int64_t ttl_ms = 0) {
    request r;
    r.kind = kind;
    r.hold = hold;
    r.ttl_ms = ttl_ms;
    return call(r);
  }
  reply history() {
    request r;
    r.kind = op::history;
    r.key = {"t1", "wh", "x"};
    return call(r);
  }
};

}  // namespace

TEST_CASE("manual clock: a hold is held until 1 ms before its deadline and released at it",
          "[expiry][manual_clock]") {
  manual_record m;
  const reply held = m.reserve(2, 1000);
  REQUIRE(held.code == outcome::ok);
  CHECK(held.expires_at_ms == start_ms + 1000);

  m.advance(999);
  CHECK(m.now() == held.expires_at_ms - 1);
  CHECK(m.get().record.reserved == 2);

  m.advance(1);
  const reply after = m.get();
  CHECK(after.record.reserved == 0);
  CHECK(after.record.version == 3);  // reserve, expire
  CHECK(m.on_hold(op::commit, held.hold).code == outcome::hold_not_found);
  const reply h = m.history();
  REQUIRE(h.code == outcome::ok);
  REQUIRE_FALSE(h.events.empty());
  CHECK(h.events[0].c.kind == change_kind::expire);
  CHECK(h.events[0].hold == held.hold);
  CHECK(h.events[0].at_ms == held.expires_at_ms);  // exactly at the deadline
}

TEST_CASE("manual clock: extend moves the release to the new deadline", "[expiry][manual_clock]") {
  manual_record m;
  const reply held = m.reserve(1, 1000);
  REQUIRE(held.code == outcome::ok);
  m.advance(500);
  const reply extended = m.on_hold(op::extend, held.hold, 1000);
  REQUIRE(extended.code == outcome::ok);
  CHECK(extended.expires_at_ms == start_ms + 1500);

  m.advance(500);  // the first deadline passes: the timer fires, nothing is due
  CHECK(m.get().record.reserved == 1);
  m.advance(499);
  CHECK(m.get().record.reserved == 1);
  m.advance(1);
  CHECK(m.get().record.reserved == 0);

  // An extend to an earlier deadline releases it earlier.
  const reply second = m.reserve(1, 10'000);
  REQUIRE(second.code == outcome::ok);
  REQUIRE(m.on_hold(op::extend, second.hold, 100).code == outcome::ok);
  m.advance(99);
  CHECK(m.get().record.reserved == 1);
  m.advance(1);
  CHECK(m.get().record.reserved == 0);
}

TEST_CASE("manual clock: a commit 1 ms before the deadline wins; nothing expires after it",
          "[expiry][manual_clock]") {
  manual_record m;
  const reply held = m.reserve(3, 1000);
  REQUIRE(held.code == outcome::ok);
  m.advance(999);
  const reply committed = m.on_hold(op::commit, held.hold);
  REQUIRE(committed.code == outcome::ok);
  CHECK(committed.record.on_hand == 2);
  m.advance(10'000);
  const reply after = m.get();
  CHECK(after.record.on_hand == 2);
  CHECK(after.record.reserved == 0);
  CHECK(after.record.version == 3);  // reserve, commit: no expire
}

TEST_CASE("manual clock: holds with different deadlines are released each at its own",
          "[expiry][manual_clock]") {
  manual_record m;
  const reply late = m.reserve(1, 3000);
  const reply early = m.reserve(2, 1000);
  REQUIRE(late.code == outcome::ok);
  REQUIRE(early.code == outcome::ok);
  m.advance(1000);
  CHECK(m.get().record.reserved == 1);
  CHECK(m.on_hold(op::commit, early.hold).code == outcome::hold_not_found);
  m.advance(1999);
  CHECK(m.get().record.reserved == 1);
  m.advance(1);
  CHECK(m.get().record.reserved == 0);
}
