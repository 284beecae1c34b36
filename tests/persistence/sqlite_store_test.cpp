// The SQLite partition store against real files: appends, loads, history,
// idempotency lookups, fencing, the seq lease, recovery and compaction.
#include <catch2/catch.hpp>

#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::key_of;
using testing::temp_dir;

std::unique_ptr<partition_store> open_store(const std::string& path) {
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st.to_string() == "ok");
  return store;
}

record_image load(partition_store& store, const record_key& key, bool* found = nullptr) {
  record_image image;
  bool exists = false;
  REQUIRE(store.load_record(key, &image, &exists).to_string() == "ok");
  if (found) *found = exists;
  return image;
}

TEST_CASE("a new partition starts empty") {
  temp_dir dir;
  auto store = open_store(dir.file("p-0000.db"));
  CHECK(store->name() == dir.file("p-0000.db"));
  CHECK(store->epoch() == 0);
  CHECK(store->seq_lease() == 1);
  CHECK(store->entries_since_snapshot() == 0);
  bool found = true;
  load(*store, key_of("nothing"), &found);
  CHECK_FALSE(found);
  recovery_report report;
  REQUIRE(store->recover(&report));
  CHECK(report.last_seq == 0);
  CHECK(report.replayed_entries == 0);
}

TEST_CASE("appended changes are loaded back, with holds") {
  temp_dir dir;
  auto store = open_store(dir.file("p.db"));
  journal_sim sim;
  const auto apple = key_of("apple");
  sim.adjust(apple, 10);
  const auto h1 = sim.reserve(apple, 3);
  const auto h2 = sim.reserve(apple, 2);
  sim.release(apple, h1, 1);
  sim.commit(apple, h2);
  REQUIRE(sim.flush(*store));
  bool found = false;
  const record_image image = load(*store, apple, &found);
  CHECK(found);
  CHECK(testing::same_state(image, sim.records[apple]));
  CHECK(image.on_hand == 8);
  CHECK(image.reserved == 2);
  CHECK(image.version == 5);
  CHECK(image.last_seq == 5);
  REQUIRE(image.holds.size() == 1);
  CHECK(image.holds[0].seq == h1);
  CHECK(image.holds[0].ref == "cart-2");
  CHECK(store->entries_since_snapshot() == 5);
}

TEST_CASE("history is newest first, without refusals, bounded by version and limit") {
  temp_dir dir;
  auto store = open_store(dir.file("p.db"));
  journal_sim sim;
  const auto pear = key_of("pear");
  for (int i = 0; i < 5; ++i) sim.adjust(pear, 1);
  sim.sell(pear, 100, "too-much");  // a remembered refusal
  sim.adjust(key_of("other"), 4);
  REQUIRE(sim.flush(*store));

  std::vector<journal_entry> events;
  REQUIRE(store->history(pear, 0, 100, &events));
  REQUIRE(events.size() == 5);
  CHECK(events.front().c.version == 5);
  CHECK(events.back().c.version == 1);
  CHECK(testing::same_entry(events.front(), sim.all[4]));

  REQUIRE(store->history(pear, 4, 2, &events));
  REQUIRE(events.size() == 2);
  CHECK(events[0].c.version == 3);
  CHECK(events[1].c.version == 2);

  REQUIRE(store->history(pear, 0, 0, &events));
  CHECK(events.empty());
}

TEST_CASE("history and lookups span the snapshot and the tail, before and after reopening") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_store(path);
  journal_sim sim;
  const auto plum = key_of("plum");
  for (int i = 0; i < 4; ++i) sim.adjust(plum, 1, "old-" + std::to_string(i));
  REQUIRE(sim.flush(*store));
  snapshot_report snap;
  REQUIRE(store->snapshot(0, &snap));
  for (int i = 0; i < 3; ++i) sim.adjust(plum, 1, "new-" + std::to_string(i));
  REQUIRE(sim.flush(*store));
  for (int reopen = 0; reopen < 2; ++reopen) {
    std::vector<journal_entry> events;
    REQUIRE(store->history(plum, 0, 5, &events));
    REQUIRE(events.size() == 5);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].c.version == 7 - static_cast<int>(i));
    REQUIRE(store->history(plum, 6, 100, &events));
    CHECK(events.size() == 5);
    std::optional<journal_entry> found;
    REQUIRE(store->find_idempotent(plum, "old-1", 0, &found));
    CHECK((found && found->seq == 2));
    REQUIRE(store->find_idempotent(plum, "new-2", 0, &found));
    CHECK((found && found->seq == 7));
    CHECK(testing::same_state(load(*store, plum), sim.records[plum]));
    store.reset();
    store = open_store(path);  // the tail index is rebuilt from the file
  }
}

TEST_CASE("idempotency lookups find the entry that carried the key") {
  temp_dir dir;
  auto store = open_store(dir.file("p.db"));
  journal_sim sim;
  const auto fig = key_of("fig");
  sim.adjust(fig, 5, "idem-adjust");
  sim.now += 1000;
  const auto hold = sim.reserve(fig, 2, 60'000, "idem-reserve");
  sim.sell(fig, 99, "idem-refused");
  sim.commit(fig, hold, 1, "idem-commit");
  REQUIRE(sim.flush(*store));

  std::optional<journal_entry> found;
  REQUIRE(store->find_idempotent(fig, "idem-adjust", 0, &found));
  REQUIRE(found);
  CHECK(testing::same_entry(*found, sim.all[0]));
  REQUIRE(store->find_idempotent(fig, "idem-adjust", sim.now, &found));
  CHECK_FALSE(found);  // appended before since_ms
  REQUIRE(store->find_idempotent(key_of("other"), "idem-adjust", 0, &found));
  CHECK_FALSE(found);  // another record

  REQUIRE(store->find_idempotent(fig, "idem-refused", 0, &found));
  REQUIRE(found);
  CHECK(found->c.kind == change_kind::refusal);
  CHECK(found->result == outcome::insufficient_stock);
  CHECK(found->detail == 3);

  REQUIRE(store->find_idempotent_hold("acme", hold, "idem-commit", 0, &found));
  REQUIRE(found);
  CHECK(found->c.kind == change_kind::commit);
  REQUIRE(store->find_idempotent_hold("other-tenant", hold, "idem-commit", 0, &found));
  CHECK_FALSE(found);
  REQUIRE(store->find_idempotent_hold("acme", hold + 1, "idem-commit", 0, &found));
  CHECK_FALSE(found);
}

TEST_CASE("appends from an older epoch are fenced and write nothing") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_store(path);
  journal_sim sim;
  REQUIRE(store->set_epoch(5));
  sim.epoch = 5;
  sim.adjust(key_of("a"), 1);
  REQUIRE(sim.flush(*store));

  sim.adjust(key_of("a"), 1);
  sim.epoch = 4;
  sim.adjust(key_of("a"), 1);  // the second entry of the batch is stale
  const status st = sim.flush(*store);
  CHECK(st.kind() == status::code::fenced);
  CHECK(st.message().find("epoch 4") != std::string::npos);
  CHECK(load(*store, key_of("a")).version == 1);
  CHECK(store->entries_since_snapshot() == 1);

  CHECK(store->set_epoch(3).kind() == status::code::invalid);
  store.reset();
  CHECK(testing::raw_int(path, "SELECT count(*) FROM journal") == 1);
  CHECK(open_store(path)->epoch() == 5);
}

TEST_CASE("a writer is fenced by an epoch raised through another connection") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto old_writer = open_store(path);
  journal_sim sim;
  sim.adjust(key_of("a"), 1);
  REQUIRE(sim.flush(*old_writer));

  auto new_writer = open_store(path);
  REQUIRE(new_writer->set_epoch(2));
  sim.adjust(key_of("a"), 1);  // still epoch 1
  CHECK(sim.flush(*old_writer).kind() == status::code::fenced);
  CHECK(old_writer->epoch() == 2);
}

TEST_CASE("the seq lease is durable and bounds the seqs an append may use") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  {
    auto store = open_store(path);
    REQUIRE(store->extend_seq_lease(1000));
    CHECK(store->seq_lease() == 1000);
    CHECK(store->extend_seq_lease(10).kind() == status::code::invalid);
    journal_entry e;
    e.seq = 1000;
    e.key = key_of("a");
    e.c.kind = change_kind::adjust;
    e.c.version = 1;
    CHECK(store->append({e}, true).kind() == status::code::invalid);
    e.seq = 0;
    CHECK(store->append({e}, true).kind() == status::code::invalid);
  }
  CHECK(testing::raw_int(path, "SELECT value FROM meta WHERE key='seq_lease'") == 1000);
  CHECK(open_store(path)->seq_lease() == 1000);
}

TEST_CASE("appends must continue the journal's seqs, and reserves name themselves") {
  temp_dir dir;
  auto store = open_store(dir.file("p.db"));
  journal_sim sim;
  sim.adjust(key_of("a"), 5);
  REQUIRE(sim.flush(*store));
  sim.next_seq = 1;  // reused seq
  sim.adjust(key_of("a"), 5);
  CHECK(sim.flush(*store).kind() == status::code::invalid);

  sim.next_seq = 10;
  sim.reserve(key_of("a"), 1);
  sim.batch.back().c.hold_seq = 0;
  CHECK(sim.flush(*store).kind() == status::code::invalid);
}

TEST_CASE("recover folds the journal tail into the snapshot") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  std::uint64_t open_hold = 0;
  {
    auto store = open_store(path);
    for (int i = 0; i < 20; ++i) sim.adjust(key_of("sku-" + std::to_string(i)), 10 + i);
    open_hold = sim.reserve(key_of("sku-3"), 4);
    REQUIRE(sim.flush(*store));
    snapshot_report snap;
    REQUIRE(store->snapshot(0, &snap));
    CHECK(snap.folded_entries == 21);
    CHECK(snap.records_written == 20);
    CHECK(snap.compacted_entries == 0);
    CHECK(store->entries_since_snapshot() == 0);

    sim.adjust(key_of("sku-1"), 5);
    sim.reserve(key_of("sku-1"), 2);
    sim.commit(key_of("sku-3"), open_hold, 1);
    sim.adjust(key_of("new"), 7);
    REQUIRE(sim.flush(*store, false));
  }
  auto store = open_store(path);
  CHECK(store->entries_since_snapshot() == 4);
  recovery_report report;
  REQUIRE(store->recover(&report).to_string() == "ok");
  CHECK(report.snapshot_records == 20);
  CHECK(report.replayed_entries == 4);
  CHECK(report.last_seq == 25);
  REQUIRE(report.with_holds.size() == 1);  // sku-3's hold was committed, sku-1 has a new one
  CHECK(report.with_holds[0].key == key_of("sku-1"));
  CHECK(testing::same_state(report.with_holds[0], sim.records[key_of("sku-1")]));
  CHECK(store->entries_since_snapshot() == 0);
  CHECK(testing::raw_int(path, "SELECT value FROM meta WHERE key='snapshot_seq'") == 25);
  CHECK(testing::raw_int(path, "SELECT count(*) FROM snapshot") == 21);
  for (auto& [key, rec] : sim.records) CHECK(testing::same_state(load(*store, key), rec));

  recovery_report again;
  REQUIRE(store->recover(&again));
  CHECK(again.replayed_entries == 0);
  CHECK(again.snapshot_records == 21);
  CHECK(again.with_holds.size() == 1);
}

TEST_CASE("compaction deletes old folded entries and keeps the retention window") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_store(path);
  journal_sim sim;
  const auto kiwi = key_of("kiwi");
  for (int i = 0; i < 10; ++i) {  // seq i+1 appended at 1000 * (i+1)
    sim.now = 1000 * (i + 1);
    sim.adjust(kiwi, 1, "idem-" + std::to_string(i));
  }
  REQUIRE(sim.flush(*store));
  snapshot_report snap;
  REQUIRE(store->snapshot(0, &snap));

  for (int i = 10; i < 12; ++i) {  // old timestamps, but after the snapshot
    sim.now = 100;
    sim.adjust(kiwi, 1);
  }
  REQUIRE(sim.flush(*store));
  // Folds 11 and 12, then deletes the oldest entries up to the first one
  // appended at or after 6000 (seq 6): 11 and 12 are older but stay behind it.
  REQUIRE(store->snapshot(6000, &snap));
  CHECK(snap.folded_entries == 2);
  CHECK(snap.compacted_entries == 5);
  CHECK(testing::raw_int(path, "SELECT min(seq) FROM journal") == 6);

  std::optional<journal_entry> found;
  REQUIRE(store->find_idempotent(kiwi, "idem-3", 0, &found));
  CHECK_FALSE(found);
  REQUIRE(store->find_idempotent(kiwi, "idem-7", 0, &found));
  CHECK(found);
  std::vector<journal_entry> events;
  REQUIRE(store->history(kiwi, 0, 100, &events));
  CHECK(events.size() == 7);
  CHECK(testing::same_state(load(*store, kiwi), sim.records[kiwi]));

  // Entries appended after the last snapshot are folded before anything is
  // compacted, so compaction never loses state; an empty journal still
  // remembers its last seq through snapshot_seq.
  sim.now = 1;
  sim.adjust(kiwi, 1);
  REQUIRE(sim.flush(*store));
  REQUIRE(store->snapshot(1'000'000, &snap));
  CHECK(snap.folded_entries == 1);
  CHECK(snap.compacted_entries == 8);
  CHECK(testing::raw_int(path, "SELECT count(*) FROM journal") == 0);
  store.reset();
  store = open_store(path);
  CHECK(testing::same_state(load(*store, kiwi), sim.records[kiwi]));
  recovery_report report;
  REQUIRE(store->recover(&report));
  CHECK(report.last_seq == 13);
  sim.next_seq = 13;
  sim.adjust(kiwi, 1);
  CHECK(sim.flush(*store).kind() == status::code::invalid);
}

}  // namespace
TEST_CASE("the journal is read in seq order after a seq; compaction records how far it went, durably") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;  // entries at 1970 times: past any retention
  {
    auto store = open_store(path);
    CHECK(store->compacted_below() == 1);
    for (int i = 0; i < 5; ++i) REQUIRE(sim.adjust(key_of("a"), 1));
    REQUIRE(sim.flush(*store));
    std::vector<journal_entry> rows;
    REQUIRE(store->read_journal(2, 10, &rows));
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].seq == 3);
    CHECK(rows[2].seq == 5);
    CHECK(rows[2].c.on_hand_after == 5);
    REQUIRE(store->read_journal(0, 2, &rows));
    CHECK(rows.size() == 2);  // the limit
    snapshot_report rep;
    REQUIRE(store->snapshot(sim.now + 1, &rep));
    CHECK(rep.compacted_entries == 5);
    CHECK(store->compacted_below() == 6);
    REQUIRE(store->read_journal(0, 10, &rows));
    CHECK(rows.empty());
    REQUIRE(sim.adjust(key_of("a"), 1));
    REQUIRE(sim.flush(*store));
  }
  auto store = open_store(path);
  recovery_report report;
  REQUIRE(store->recover(&report));
  CHECK(store->compacted_below() == 6);  // from meta, not from the rows left
  std::vector<journal_entry> rows;
  REQUIRE(store->read_journal(5, 10, &rows));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].seq == 6);
}

}  // namespace stockgrid::persistence
