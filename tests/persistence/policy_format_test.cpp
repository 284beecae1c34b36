// The record's policy and backorder fields on disk (format version 2): they
// round-trip through the journal, the snapshot, recovery and listings; the
// CRC covers them; a version 1 file is read with them at 0; `check` verifies
// the backorder invariants.
#include <catch2/catch.hpp>

#include "persistence/check.hpp"
#include "persistence/format.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::key_of;
using testing::temp_dir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<partition_store> open_store(const std::string& path) {
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st.to_string() == "ok");
  return store;
}

record_image load(partition_store& store, const record_key& key) {
  record_image image;
  bool found = false;
  REQUIRE(store.load_record(key, &image, &found).to_string() == "ok");
  REQUIRE(found);
  return image;
}

// apple: safety stock 1, backorders on, threshold 4, 3 units backordered.
void backorder_apple(journal_sim& sim) {
  const auto apple = key_of("apple");
  sim.adjust(apple, 2);
  REQUIRE(sim.policy(apple, std::int64_t{1}, true, std::int64_t{4}));
  REQUIRE(sim.reserve(apple, 4) != 0);  // 1 available: 3 backordered
  REQUIRE(sim.records[apple].backordered() == 3);
}

void check_apple(const record_image& image) {
  CHECK(image.policy == record_policy{1, true, 4});
  CHECK(image.backordered == 3);
  CHECK(image.incoming == 0);
  CHECK(image.reserved == 4);
  CHECK(image.on_hand == 2);
}

TEST_CASE("policy and backorders round-trip through the journal, snapshot and recovery") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  backorder_apple(sim);
  const auto apple = key_of("apple");
  {
    auto store = open_store(path);
    REQUIRE(sim.flush(*store));
    check_apple(load(*store, apple));  // from the tail
    snapshot_report snap;
    REQUIRE(store->snapshot(0, &snap));
    check_apple(load(*store, apple));  // from the snapshot row
  }
  auto store = open_store(path);
  recovery_report report;
  REQUIRE(store->recover(&report));
  const record_image image = load(*store, apple);
  check_apple(image);
  CHECK(testing::same_state(image, sim.records[apple]));
  REQUIRE(report.with_holds.size() == 1);
  CHECK(report.with_holds[0].backordered == 3);
}

TEST_CASE("incoming round-trips through the journal, snapshot, recovery and check") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  const auto apple = key_of("apple");
  sim.adjust(apple, 2);
  // No operation moves `incoming` yet; journal a change that does, as a
  // transfer will.
  decision d = sim.records[apple].decide_adjust(1, "transfer");
  d.c.incoming_after = 5;
  journal_entry e;
  e.seq = sim.next_seq++;
  e.epoch = sim.epoch;
  e.at_ms = sim.now;
  e.key = apple;
  e.c = d.c;
  sim.records[apple].apply(e.c);
  {
    auto store = open_store(path);
    REQUIRE(sim.flush(*store));
    REQUIRE(e.seq < store->seq_lease());  // flush leased ahead
    REQUIRE(store->append({e}, true));
    CHECK(load(*store, apple).incoming == 5);
    snapshot_report snap;
    REQUIRE(store->snapshot(0, &snap));
    CHECK(load(*store, apple).incoming == 5);
  }
  auto store = open_store(path);
  recovery_report report;
  REQUIRE(store->recover(&report));
  CHECK(testing::same_state(load(*store, apple), sim.records[apple]));
  check_report checked;
  CHECK(check_partition(path, &checked).to_string() == "ok");
}

TEST_CASE("history carries the policy and backorder values of each change") {
  temp_dir dir;
  auto store = open_store(dir.file("p.db"));
  journal_sim sim;
  backorder_apple(sim);
  REQUIRE(sim.flush(*store));
  std::vector<journal_entry> history;
  REQUIRE(store->history(key_of("apple"), 0, 10, &history));
  REQUIRE(history.size() == 3);
  CHECK(history[0].c.kind == change_kind::reserve);
  CHECK(history[0].c.backordered_before == 0);
  CHECK(history[0].c.backordered_after == 3);
  CHECK(history[1].c.kind == change_kind::policy);
  CHECK(history[1].c.policy == record_policy{1, true, 4});
  for (std::size_t i = 0; i < history.size(); ++i)
    CHECK(testing::same_entry(history[i], sim.all[history.size() - 1 - i]));
}

TEST_CASE("list_records shows the policy and backorder fields, snapshot and tail alike") {
  temp_dir dir;
  auto store = open_store(dir.file("p.db"));
  journal_sim sim;
  backorder_apple(sim);
  REQUIRE(sim.flush(*store));
  snapshot_report snap;
  REQUIRE(store->snapshot(0, &snap));
  sim.adjust(key_of("banana"), 5);
  REQUIRE(sim.policy(key_of("banana"), std::int64_t{2}, std::nullopt));
  REQUIRE(sim.flush(*store));
  list_filter f;
  f.tenant = "acme";
  std::vector<record_image> listed;
  REQUIRE(store->list_records(f, &listed));
  REQUIRE(listed.size() == 2);
  check_apple(listed[0]);
  CHECK(listed[1].policy.safety_stock == 2);
}

TEST_CASE("the memory twin keeps the policy and backorder fields") {
  memory_store store;
  journal_sim sim;
  backorder_apple(sim);
  REQUIRE(sim.flush(store));
  check_apple(load(store, key_of("apple")));
  snapshot_report snap;
  REQUIRE(store.snapshot(0, &snap));
  check_apple(load(store, key_of("apple")));
}

TEST_CASE("a row without policy values has the version 1 canonical bytes") {
  journal_entry e;
  e.seq = 7;
  e.key = key_of("apple");
  e.c.kind = change_kind::adjust;
  std::string plain;
  format::encode_journal_row(e, &plain);
  e.c.policy.allow_backorder = true;
  std::string extended;
  format::encode_journal_row(e, &extended);
  CHECK(extended.size() == plain.size() + 7 * 8);
  CHECK(extended.starts_with(plain));
  CHECK(format::journal_row_crc(e) != 0);
}

TEST_CASE("the CRC covers the policy and backorder columns") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  backorder_apple(sim);
  {
    auto store = open_store(path);
    REQUIRE(sim.flush(*store));
    snapshot_report snap;
    REQUIRE(store->snapshot(0, &snap));
    sim.adjust(key_of("apple"), 1);
    REQUIRE(sim.flush(*store));
  }
  SECTION("journal") {
    testing::raw_exec(path, "UPDATE journal SET backordered_after = 0 WHERE seq = 4");
    check_report report;
    const status st = check_partition(path, &report);
    CHECK(contains(st.message(), "journal row seq=4: CRC mismatch"));
  }
  SECTION("snapshot") {
    testing::raw_exec(path, "UPDATE snapshot SET allow_backorder = 0");
    check_report report;
    const status st = check_partition(path, &report);
    CHECK(contains(st.message(), "snapshot row acme/berlin/apple: CRC mismatch"));
  }
}

TEST_CASE("check reports a backorder on a record that does not allow backorders") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  backorder_apple(sim);
  {
    auto store = open_store(path);
    REQUIRE(sim.flush(*store));
    snapshot_report snap;
    REQUIRE(store->snapshot(0, &snap));
  }
  // A CRC-valid snapshot row with backorders switched off.
  record_image image;
  {
    auto store = open_store(path);
    image = load(*store, key_of("apple"));
  }
  image.policy.allow_backorder = false;
  std::string holds;
  format::encode_holds(image.holds, &holds);
  testing::raw_exec(path, "UPDATE snapshot SET allow_backorder = 0, crc = " +
                              std::to_string(format::snapshot_row_crc(image, holds)));
  check_report report;
  const status st = check_partition(path, &report);
  CHECK(st.kind() == status::code::corruption);
  CHECK(contains(st.message(), "snapshot row acme/berlin/apple"));
  CHECK(contains(st.message(), "backorders are not allowed"));
}

TEST_CASE("a journal row whose backordered count does not follow is detected") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  backorder_apple(sim);
  sim.adjust(key_of("apple"), 1);  // seq 4: backordered 3 -> 2
  {
    auto store = open_store(path);
    REQUIRE(sim.flush(*store));
  }
  journal_entry forged = sim.all[3];
  REQUIRE(forged.seq == 4);
  forged.c.backordered_before = 2;
  testing::raw_exec(path, "UPDATE journal SET backordered_before = 2, crc = " +
                              std::to_string(format::journal_row_crc(forged)) + " WHERE seq = 4");
  check_report report;
  CHECK(contains(check_partition(path, &report).message(), "journal row seq=4: does not follow"));
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st);
  recovery_report recovered;
  const status rst = store->recover(&recovered);
  CHECK(rst.kind() == status::code::corruption);
  CHECK(contains(rst.message(), "journal row seq=4: does not follow"));
}

// A version 1 file as an older build wrote it: the same rows without the
// version 2 columns (their canonical bytes are the same when those are 0).
void make_version_1_file(const std::string& path, journal_sim& sim) {
  const auto apple = key_of("apple");
  {
    auto store = open_store(path);
    sim.adjust(apple, 10);
    sim.reserve(apple, 3);
    REQUIRE(sim.flush(*store));
    snapshot_report snap;
    REQUIRE(store->snapshot(0, &snap));
    sim.adjust(apple, 1);
    REQUIRE(sim.flush(*store));
  }
  std::string drop;
  for (const char* c : {"backordered_before", "backordered_after", "incoming_before", "incoming_after",
                        "safety_stock", "allow_backorder", "low_stock_threshold"})
    drop += std::string("ALTER TABLE journal DROP COLUMN ") + c + ";";
  for (const char* c : {"safety_stock", "allow_backorder", "low_stock_threshold", "backordered", "incoming"})
    drop += std::string("ALTER TABLE snapshot DROP COLUMN ") + c + ";";
  testing::raw_exec(path, drop + "UPDATE meta SET value = 1 WHERE key = 'format_version';");
}

TEST_CASE("check reads a version 1 file without changing it") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  make_version_1_file(path, sim);
  check_report report;
  REQUIRE(check_partition(path, &report).to_string() == "ok");
  CHECK(report.journal_entries == 3);
  CHECK(testing::raw_int(path, "SELECT value FROM meta WHERE key = 'format_version'") == 1);
}

TEST_CASE("opening a version 1 file upgrades it; its records read with the defaults") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  make_version_1_file(path, sim);
  const auto apple = key_of("apple");
  {
    auto store = open_store(path);
    CHECK(testing::raw_int(path, "SELECT value FROM meta WHERE key = 'format_version'") == 2);
    recovery_report report;
    REQUIRE(store->recover(&report));
    const record_image image = load(*store, apple);
    CHECK(image.on_hand == 11);
    CHECK(image.reserved == 3);
    CHECK(image.policy == record_policy{});
    CHECK(image.backordered == 0);
    // The upgraded file takes the new fields.
    REQUIRE(sim.policy(apple, std::int64_t{2}, true));
    REQUIRE(sim.flush(*store));
  }
  auto store = open_store(path);
  recovery_report report;
  REQUIRE(store->recover(&report));
  CHECK(load(*store, apple).policy == record_policy{2, true, 0});
  check_report checked;
  CHECK(check_partition(path, &checked).to_string() == "ok");
}

TEST_CASE("a file of a newer format version is refused, naming both versions") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  { open_store(path); }
  // A future layout may lack columns this build names: the version is what
  // the message must be about.
  testing::raw_exec(path, "ALTER TABLE journal DROP COLUMN low_stock_threshold;"
                          "UPDATE meta SET value = 3 WHERE key = 'format_version'");
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  CHECK_FALSE(st);
  CHECK(contains(st.message(), "format version 3, this build reads 2"));
  check_report report;
  CHECK(contains(check_partition(path, &report).message(), "format version 3, this build reads 1 to 2"));
}

}  // namespace
}  // namespace stockgrid::persistence
