// A tenant's purge entry (persistence/purge.hpp), as each copy of a
// replicated partition applies it: nothing before the snapshot folds past
// it; then the tenant's records, holds and index rows are gone, its journal
// rows stay, a record made anew after it starts afresh, and the file passes
// `stockgrid check`. Both stores agree.
#include <catch2/catch.hpp>

#include "persistence/check.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::temp_dir;

using counts = std::vector<std::pair<std::string, std::uint64_t>>;
const record_key mug{"acme", "paris", "mug"};
const record_key cap{"acme", "berlin", "cap"};
const record_key other{"other", "paris", "mug"};

// The partition file p.db in `dir`, opened (created if new).
std::unique_ptr<partition_store> open_file(temp_dir& dir) {
  status opened;
  auto store = open_sqlite_store({dir.file("p.db"), ""}, &opened);
  REQUIRE(opened);
  return store;
}

bool exists(partition_store& s, const record_key& k, std::int64_t* version = nullptr) {
  record_image image;
  bool found = false;
  REQUIRE(s.load_record(k, &image, &found).to_string() == "ok");
  if (version) *version = image.version;
  return found;
}

std::size_t history_size(partition_store& s, const record_key& k) {
  std::vector<journal_entry> h;
  REQUIRE(s.history(k, 0, 100, &h).to_string() == "ok");
  return h.size();
}

bool replays(partition_store& s, const record_key& k, const std::string& idem) {
  std::optional<journal_entry> found;
  REQUIRE(s.find_idempotent(k, idem, 0, &found).to_string() == "ok");
  return found.has_value();
}

TEST_CASE("a purge takes effect when the snapshot folds past it, in both stores") {
  temp_dir dir;
  auto disk = open_file(dir);
  auto memory = make_memory_store();
  std::vector<partition_store*> stores{disk.get(), memory.get()};

  // acme: mug folded into the snapshot with a hold, cap in the tail with an
  // idempotency key; other's record on both sides of the purge.
  journal_sim sim;
  sim.adjust(mug, 10, "m-1");
  REQUIRE(sim.reserve(mug, 3) != 0);
  sim.adjust(other, 4);
  for (auto* s : stores) {
    REQUIRE(sim.flush(*s).to_string() == "ok");
    sim.batch = sim.all;  // the same entries for the second store
  }
  sim.batch.clear();
  for (auto* s : stores) {
    snapshot_report rep;
    REQUIRE(s->snapshot(0, &rep).to_string() == "ok");
  }
  sim.adjust(cap, 2, "c-1");
  sim.purge("acme");
  const std::uint64_t purge_seq = sim.next_seq - 1;
  sim.adjust(other, 1);
  sim.adjust(cap, 7);  // acme's cap made anew after the purge: version 1 again
  const auto tail = sim.batch;
  for (auto* s : stores) {
    sim.batch = tail;
    REQUIRE(sim.flush(*s).to_string() == "ok");
  }

  for (auto* s : stores) {
    INFO(s->name());
    // Before the fold the purge is only an entry: the rows are all there.
    CHECK(exists(*s, mug));
    CHECK(replays(*s, mug, "m-1"));
    // Folding up to just before the purge changes nothing for acme either.
    snapshot_report rep;
    REQUIRE(s->snapshot(0, purge_seq - 1, &rep).to_string() == "ok");
    CHECK(exists(*s, mug));

    REQUIRE(s->snapshot(0, &rep).to_string() == "ok");
    CHECK_FALSE(exists(*s, mug));
    std::int64_t version = 0;
    CHECK(exists(*s, cap, &version));
    CHECK(version == 1);                // the new record, not the purged one
    CHECK(history_size(*s, cap) == 1);  // its own change only
    CHECK(history_size(*s, mug) == 0);
    CHECK_FALSE(replays(*s, mug, "m-1"));
    CHECK_FALSE(replays(*s, cap, "c-1"));
    counts c;
    REQUIRE(s->count_records(&c).to_string() == "ok");
    CHECK(c == counts{{"acme", 1}, {"other", 1}});
    CHECK(exists(*s, other, &version));
    CHECK(version == 2);
    // The journal keeps the purged rows until compaction takes them.
    std::vector<journal_entry> rows;
    REQUIRE(s->read_journal(0, 100, &rows).to_string() == "ok");
    CHECK(std::count_if(rows.begin(), rows.end(), [&](const auto& e) {
            return e.key.tenant == "acme" && e.seq < purge_seq;
          }) == 3);
  }

  // The file recovers without acme's hold or its old warehouse, and passes
  // the offline check.
  disk.reset();
  check_report checked;
  REQUIRE(check_partition(dir.file("p.db"), &checked).to_string() == "ok");
  CHECK(checked.snapshot_records == 2);
  auto again = open_file(dir);
  recovery_report report;
  REQUIRE(again->recover(&report).to_string() == "ok");
  CHECK(report.with_holds.empty());
  CHECK(report.warehouses ==
        std::vector<std::pair<std::string, std::string>>{{"acme", "berlin"}, {"other", "paris"}});
}

TEST_CASE("recovery of a copy whose purge is still in the tail reports none of the tenant's holds") {
  temp_dir dir;
  auto disk = open_file(dir);
  journal_sim sim;
  sim.adjust(mug, 10);
  REQUIRE(sim.reserve(mug, 3) != 0);
  sim.adjust(other, 4);
  REQUIRE(sim.flush(*disk).to_string() == "ok");
  snapshot_report rep;
  REQUIRE(disk->snapshot(0, &rep).to_string() == "ok");
  sim.purge("acme");
  REQUIRE(sim.flush(*disk).to_string() == "ok");
  disk.reset();
  check_report checked;
  REQUIRE(check_partition(dir.file("p.db"), &checked).to_string() == "ok");  // a purge in the tail
  CHECK(checked.snapshot_records == 2);

  auto again = open_file(dir);
  recovery_report report;
  REQUIRE(again->recover(&report, false).to_string() == "ok");  // as a replicated copy: no fold
  CHECK(report.with_holds.empty());
  CHECK(report.warehouses == std::vector<std::pair<std::string, std::string>>{{"other", "paris"}});
  auto memory = make_memory_store();
  sim.batch = sim.all;
  REQUIRE(sim.flush(*memory).to_string() == "ok");
  REQUIRE(memory->recover(&report, false).to_string() == "ok");
  CHECK(report.with_holds.empty());
  CHECK(report.warehouses == std::vector<std::pair<std::string, std::string>>{{"other", "paris"}});
}

TEST_CASE("the offline check names a snapshot row that outlived its tenant's purge") {
  temp_dir dir;
  auto disk = open_file(dir);
  journal_sim sim;
  sim.adjust(mug, 10);
  REQUIRE(sim.flush(*disk).to_string() == "ok");
  snapshot_report rep;
  REQUIRE(disk->snapshot(0, &rep).to_string() == "ok");
  testing::raw_exec(dir.file("p.db"), "CREATE TABLE kept AS SELECT * FROM snapshot");
  sim.purge("acme");
  REQUIRE(sim.flush(*disk).to_string() == "ok");
  REQUIRE(disk->snapshot(0, &rep).to_string() == "ok");
  disk.reset();
  // Put mug's row back, as a purge that did not delete it would leave it.
  testing::raw_exec(dir.file("p.db"), "INSERT INTO snapshot SELECT * FROM kept; DROP TABLE kept");
  check_report checked;
  const status st = check_partition(dir.file("p.db"), &checked);
  CHECK(st.to_string().find("below its tenant's purge") != std::string::npos);
}

}  // namespace
}  // namespace stockgrid::persistence
