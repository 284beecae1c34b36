// The power-cut VFS, first on its own with plain SQLite, then under the
// store: what was synced survives a cut, what was not is lost as a suffix,
// and the partition always recovers.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "persistence/check.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence/testing/powercut_vfs.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::key_of;
using testing::temp_dir;

// Plain SQLite through the VFS: a table with one row per committed
// transaction, the first committed with FULL.
std::int64_t rows_after_cut(const std::string& path, const char* second_sync) {
  powercut::install();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, powercut::vfs_name) ==
          SQLITE_OK);
  auto exec = [&](const std::string& sql) { REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK); };
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(x)");
  exec("INSERT INTO t VALUES (1)");
  exec(std::string("PRAGMA synchronous=") + second_sync);
  exec("INSERT INTO t VALUES (2)");
  exec("INSERT INTO t VALUES (3)");
  powercut::cut();
  exec("INSERT INTO t VALUES (4)");  // after the cut: discarded
  sqlite3_close(db);
  REQUIRE(powercut::restore_unsynced().to_string() == "ok");
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));
  return testing::raw_int(path, "SELECT count(*) FROM t");
}

TEST_CASE("power cut: plain SQLite loses transactions committed with synchronous=OFF") {
  temp_dir dir;
  CHECK(rows_after_cut(dir.file("off.db"), "OFF") == 1);
  CHECK(rows_after_cut(dir.file("full.db"), "FULL") == 3);
}

TEST_CASE("power cut: a database created and never synced disappears") {
  temp_dir dir;
  powercut::install();
  const auto path = dir.file("new.db");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, powercut::vfs_name) ==
          SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA synchronous=OFF; CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
  powercut::cut();
  sqlite3_close(db);
  REQUIRE(powercut::restore_unsynced().to_string() == "ok");
  CHECK_FALSE(std::filesystem::exists(path));
}

// Checkpoints every 64 WAL frames, so that tests cross many checkpoints.
std::unique_ptr<partition_store> open_cuttable(const std::string& path) {
  powercut::install();
  status st;
  auto store = open_sqlite_store({path, powercut::vfs_name, 64}, &st);
  REQUIRE(st.to_string() == "ok");
  return store;
}

// Cuts the power under `store`, closes it and restores the files.
void power_cut(std::unique_ptr<partition_store>& store) {
  powercut::cut();
  store.reset();
  REQUIRE(powercut::restore_unsynced().to_string() == "ok");
}

// Recovers `path` and checks that its records equal the first entries of
// `sim` (a prefix: nothing lost from the middle). Returns the recovered seq.
std::uint64_t recover_prefix(const std::string& path, journal_sim& sim) {
  auto store = open_cuttable(path);
  recovery_report report;
  REQUIRE(store->recover(&report).to_string() == "ok");
  memory_store expected;
  REQUIRE(expected.extend_seq_lease(sim.next_seq + 1));
  std::vector<journal_entry> prefix;
  for (const journal_entry& e : sim.all)
    if (e.seq <= report.last_seq) prefix.push_back(e);
  REQUIRE(expected.append(prefix, true));
  for (const auto& [key, rec] : sim.records) {
    record_image got, want;
    bool found = false, want_found = false;
    REQUIRE(store->load_record(key, &got, &found));
    REQUIRE(expected.load_record(key, &want, &want_found));
    CHECK(found == want_found);
    CHECK(testing::same_image(got, want));
  }
  store.reset();
  check_report checked;
  CHECK(check_partition(path, &checked).to_string() == "ok");
  return report.last_seq;
}

TEST_CASE("power cut: synced appends survive, unsynced ones are lost") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_cuttable(path);
  journal_sim sim;
  sim.adjust(key_of("a"), 10);
  REQUIRE(sim.flush(*store, true));
  sim.adjust(key_of("a"), 5);
  REQUIRE(sim.flush(*store, false));
  power_cut(store);
  CHECK(recover_prefix(path, sim) == 1);
}

TEST_CASE("power cut: sync() makes earlier unsynced appends durable") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_cuttable(path);
  journal_sim sim;
  sim.adjust(key_of("a"), 10);
  REQUIRE(sim.flush(*store, false));
  sim.adjust(key_of("a"), 5);
  REQUIRE(sim.flush(*store, false));
  REQUIRE(store->sync());
  sim.adjust(key_of("a"), 1);
  REQUIRE(sim.flush(*store, false));
  power_cut(store);
  CHECK(recover_prefix(path, sim) == 2);
}

TEST_CASE("power cut: the seq lease and the epoch are durable when set") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_cuttable(path);
  REQUIRE(store->extend_seq_lease(5000));
  REQUIRE(store->set_epoch(7));
  power_cut(store);
  store = open_cuttable(path);
  CHECK(store->seq_lease() == 5000);
  CHECK(store->epoch() == 7);
}

TEST_CASE("power cut: unsynced appends across a checkpoint lose only a suffix") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto store = open_cuttable(path);
  journal_sim sim;
  const auto size_before = std::filesystem::file_size(path);
  for (int batch = 0; batch < 20; ++batch) {
    for (int i = 0; i < 1000; ++i) sim.adjust(key_of("sku-" + std::to_string(i % 300)), 1);
    REQUIRE(sim.flush(*store, false));
  }
  // The store checkpointed into the database file at least once.
  CHECK(std::filesystem::file_size(path) > size_before + 500'000);
  power_cut(store);
  const std::uint64_t recovered = recover_prefix(path, sim);
  CHECK(recovered > 0);
  CHECK(recovered < sim.next_seq - 1);
}

TEST_CASE("power cut: random cuts under mixed synced and unsynced appends") {
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    temp_dir dir;
    const auto path = dir.file("p.db");
    auto store = open_cuttable(path);
    journal_sim sim;
    std::uint64_t durable = 0;
    const int batches = 5 + static_cast<int>(rng() % 30);
    for (int b = 0; b < batches; ++b) {
      for (int i = 0, n = 1 + static_cast<int>(rng() % 200); i < n; ++i) {
        const auto key = key_of("sku-" + std::to_string(rng() % 20));
        if (rng() % 4 == 0)
          sim.reserve(key, 1, 60'000);
        else
          sim.adjust(key, 3);
      }
      const bool sync = rng() % 3 == 0;
      REQUIRE(sim.flush(*store, sync));
      if (sync) durable = sim.next_seq - 1;
      if (rng() % 8 == 0) {
        snapshot_report snap;
        REQUIRE(store->snapshot(sim.now, &snap));
        durable = sim.next_seq - 1;
      }
    }
    power_cut(store);
    CHECK(recover_prefix(path, sim) >= durable);
  }
}

}  // namespace
}  // namespace stockgrid::persistence
