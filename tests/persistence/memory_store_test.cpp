// The in-memory twin agrees with the SQLite store on the same journal, and
// its test hooks behave as documented.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::key_of;
using testing::temp_dir;

// One random operation on one of a few records; about a third carry an
// idempotency key.
void random_op(journal_sim& sim, std::mt19937& rng, int* idem_counter) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const record_key key = key_of("sku-" + std::to_string(pick(8)));
  const std::string idem = pick(3) == 0 ? "i-" + std::to_string(++*idem_counter) : "";
  const auto& holds = sim.records[key].holds();
  const std::uint64_t hold = holds.empty() ? 0 : holds[pick(static_cast<int>(holds.size()))].seq;
  sim.now += pick(2000);
  for (std::uint64_t due : sim.records[key].due_holds(sim.now)) sim.expire(key, due);
  switch (pick(10)) {
    case 0: sim.adjust(key, pick(20) - 5, idem); break;
    case 1: sim.set(key, pick(50), idem); break;
    case 2: sim.reserve(key, 1 + pick(5), 1000 + pick(20000), idem); break;
    case 3: if (hold) sim.commit(key, hold, std::nullopt, idem); break;
    case 4: if (hold) sim.release(key, hold, 1, idem); break;
    case 5: if (hold) sim.extend(key, hold, 5000, idem); break;
    case 6: sim.policy(key, pick(2) ? std::optional<std::int64_t>(pick(4)) : std::nullopt,
                       pick(3) ? std::optional<bool>(pick(2) == 1) : std::nullopt, pick(30), idem);
            break;
    case 7: sim.reserve(key, 1 + pick(15), 1000 + pick(20000), idem); break;  // may backorder
    default: sim.sell(key, 1 + pick(4), idem); break;
  }
}

void append_both(journal_sim& sim, partition_store& a, partition_store& b, bool sync) {
  if (sim.batch.empty()) return;
  for (partition_store* s : {&a, &b})
    if (sim.batch.back().seq >= s->seq_lease()) REQUIRE(s->extend_seq_lease(sim.batch.back().seq + 100));
  REQUIRE(a.append(sim.batch, sync));
  REQUIRE(b.append(sim.batch, sync));
  sim.batch.clear();
}

void compare_records(journal_sim& sim, partition_store& a, partition_store& b) {
  for (auto& [key, rec] : sim.records) {
    record_image x, y;
    bool fx = false, fy = false;
    REQUIRE(a.load_record(key, &x, &fx));
    REQUIRE(b.load_record(key, &y, &fy));
    CHECK(fx == fy);
    CHECK(testing::same_image(x, y));
    CHECK(testing::same_state(x, rec));
    for (std::int64_t before : {std::int64_t{0}, rec.version() / 2 + 1}) {
      std::vector<journal_entry> hx, hy;
      REQUIRE(a.history(key, before, 7, &hx));
      REQUIRE(b.history(key, before, 7, &hy));
      REQUIRE(hx.size() == hy.size());
      for (std::size_t i = 0; i < hx.size(); ++i) CHECK(testing::same_entry(hx[i], hy[i]));
    }
  }
}

// Pages through the tenant three records at a time in both stores.
void compare_listing(partition_store& a, partition_store& b) {
  list_filter f;
  f.tenant = "acme";
  f.limit = 3;
  for (int page = 0; page < 10; ++page) {
    std::vector<record_image> x, y;
    REQUIRE(a.list_records(f, &x));
    REQUIRE(b.list_records(f, &y));
    REQUIRE(x.size() == y.size());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(testing::same_image(x[i], y[i]));
    if (x.size() < f.limit) break;
    f.after_warehouse = x.back().key.warehouse;
    f.after_sku = x.back().key.sku;
  }
}

void compare_idempotency(journal_sim& sim, partition_store& a, partition_store& b) {
  for (const journal_entry& e : sim.all) {
    if (e.idem.empty()) continue;
    std::optional<journal_entry> x, y;
    REQUIRE(a.find_idempotent(e.key, e.idem, e.at_ms - 10, &x));
    REQUIRE(b.find_idempotent(e.key, e.idem, e.at_ms - 10, &y));
    REQUIRE(x.has_value() == y.has_value());
    if (x) CHECK(testing::same_entry(*x, *y));
    REQUIRE(a.find_idempotent_hold(e.key.tenant, e.c.hold_seq, e.idem, 0, &x));
    REQUIRE(b.find_idempotent_hold(e.key.tenant, e.c.hold_seq, e.idem, 0, &y));
    REQUIRE(x.has_value() == y.has_value());
  }
}

std::vector<record_image> sorted_holds(std::vector<record_image> v) {
  std::sort(v.begin(), v.end(), [](const record_image& l, const record_image& r) { return l.key.sku < r.key.sku; });
  return v;
}

TEST_CASE("the memory twin agrees with the SQLite store on a random journal") {
  temp_dir dir;
  status st;
  auto disk = open_sqlite_store({dir.file("p.db"), ""}, &st);
  REQUIRE(st);
  auto memory = make_memory_store();
  journal_sim sim;
  std::mt19937 rng(20261129);
  int idem_counter = 0;
  std::uint64_t compacted = 0;
  for (int round = 0; round < 40; ++round) {
    const int ops = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < ops; ++i) random_op(sim, rng, &idem_counter);
    append_both(sim, *disk, *memory, round % 2 == 0);
    CHECK(disk->entries_since_snapshot() == memory->entries_since_snapshot());
    if (round % 7 == 6) {
      snapshot_report x, y;
      const epoch_ms retain = sim.now - 20'000;
      REQUIRE(disk->snapshot(retain, &x));
      REQUIRE(memory->snapshot(retain, &y));
      CHECK(x.folded_entries == y.folded_entries);
      CHECK(x.records_written == y.records_written);
      CHECK(x.compacted_entries == y.compacted_entries);
      compacted += x.compacted_entries;
    }
    if (round % 10 == 9) compare_records(sim, *disk, *memory);
    if (round % 10 == 4) compare_listing(*disk, *memory);
  }
  compare_records(sim, *disk, *memory);
  compare_idempotency(sim, *disk, *memory);
  std::set<change_kind> kinds;  // the journal exercised every kind
  for (const journal_entry& e : sim.all) kinds.insert(e.c.kind);
  CHECK(kinds.size() == 10);
  CHECK(std::any_of(sim.all.begin(), sim.all.end(),
                    [](const journal_entry& e) { return e.c.backordered_after > 0; }));
  CHECK(compacted > 0);

  recovery_report x, y;
  REQUIRE(disk->recover(&x));
  REQUIRE(memory->recover(&y));
  CHECK(x.snapshot_records == y.snapshot_records);
  CHECK(x.replayed_entries == y.replayed_entries);
  CHECK(x.last_seq == y.last_seq);
  const auto hx = sorted_holds(x.with_holds), hy = sorted_holds(y.with_holds);
  REQUIRE(hx.size() == hy.size());
  for (std::size_t i = 0; i < hx.size(); ++i) CHECK(testing::same_image(hx[i], hy[i]));
  compare_records(sim, *disk, *memory);
}

TEST_CASE("the memory twin fences, leases and validates like the SQLite store") {
  auto store = make_memory_store();
  CHECK(store->name() == "memory");
  journal_sim sim;
  REQUIRE(store->set_epoch(2));
  sim.adjust(key_of("a"), 1);
  CHECK(sim.flush(*store).kind() == status::code::fenced);
  CHECK(store->entries_since_snapshot() == 0);
  sim.epoch = 2;
  sim.next_seq = 1;
  sim.adjust(key_of("a"), 1);
  REQUIRE(sim.flush(*store));
  CHECK(store->extend_seq_lease(5).kind() == status::code::invalid);
  CHECK(store->set_epoch(1).kind() == status::code::invalid);
}

TEST_CASE("the memory twin's hooks inject failures and lose unsynced appends") {
  memory_store store;
  journal_sim sim;
  sim.adjust(key_of("a"), 1);
  REQUIRE(sim.flush(store, true));
  sim.adjust(key_of("a"), 1);
  REQUIRE(sim.flush(store, false));

  store.fail_writes(1, status::io_error("disk full"));
  sim.adjust(key_of("a"), 1);
  CHECK(sim.flush(store).to_string() == "io error: disk full");
  CHECK(store.journal_rows() == 2);

  store.lose_unsynced();
  CHECK(store.journal_rows() == 1);
  record_image image;
  bool found = false;
  REQUIRE(store.load_record(key_of("a"), &image, &found));
  CHECK(image.version == 1);
  recovery_report report;
  REQUIRE(store.recover(&report));
  CHECK(report.last_seq == 1);
}

}  // namespace
}  // namespace stockgrid::persistence
