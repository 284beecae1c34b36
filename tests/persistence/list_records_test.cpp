// list_records(): the records of a tenant in (warehouse, sku) order, in
// their current state, filtered and paged; both stores agree.
#include <catch2/catch.hpp>

#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::temp_dir;

std::vector<std::string> names(const std::vector<record_image>& images) {
  std::vector<std::string> out;
  for (const auto& i : images) out.push_back(i.key.warehouse + "/" + i.key.sku);
  return out;
}

std::vector<record_image> list(partition_store& store, list_filter f) {
  std::vector<record_image> out;
  REQUIRE(store.list_records(f, &out).to_string() == "ok");
  return out;
}

// Stocks records in two warehouses and another tenant; some are folded into
// the snapshot, some changed or created after it, one only refused.
void stock(journal_sim& sim, partition_store& a, partition_store& b) {
  for (const char* wh : {"paris", "berlin"})
    for (const char* sku : {"mug", "cap-s", "cap-m", "poster"}) sim.adjust({"acme", wh, sku}, 5);
  sim.adjust({"other", "berlin", "mug"}, 1);
  for (partition_store* s : {&a, &b}) {
    REQUIRE(s->extend_seq_lease(1000));
    REQUIRE(s->append(sim.batch, true));
    snapshot_report snap;
    REQUIRE(s->snapshot(0, &snap));
  }
  sim.batch.clear();
  sim.adjust({"acme", "berlin", "cap-m"}, 2);          // changed after the snapshot
  sim.adjust({"acme", "berlin", "cap-l"}, 7);          // created after it
  sim.set({"acme", "berlin", "cap-xl"}, 1, "idem-1", 3);  // a remembered refusal: never stocked
  REQUIRE(sim.batch.back().c.kind == change_kind::refusal);
  for (partition_store* s : {&a, &b}) REQUIRE(s->append(sim.batch, true));
  sim.batch.clear();
}

TEST_CASE("list_records pages through a tenant's records in their current state") {
  temp_dir dir;
  status st;
  auto disk = open_sqlite_store({dir.file("p.db"), ""}, &st);
  REQUIRE(st);
  auto memory = make_memory_store();
  journal_sim sim;
  stock(sim, *disk, *memory);

  for (partition_store* s : {disk.get(), memory.get()}) {
    list_filter f;
    f.tenant = "acme";
    const auto all = list(*s, f);
    CHECK(names(all) == std::vector<std::string>{"berlin/cap-l", "berlin/cap-m", "berlin/cap-s", "berlin/mug",
                                                 "berlin/poster", "paris/cap-m", "paris/cap-s", "paris/mug",
                                                 "paris/poster"});
    CHECK(all[1].on_hand == 7);  // berlin/cap-m after the tail
    CHECK(all[1].version == 2);

    f.limit = 4;
    CHECK(names(list(*s, f)) == std::vector<std::string>{"berlin/cap-l", "berlin/cap-m", "berlin/cap-s", "berlin/mug"});
    f.after_warehouse = "berlin";
    f.after_sku = "mug";
    CHECK(names(list(*s, f)) == std::vector<std::string>{"berlin/poster", "paris/cap-m", "paris/cap-s", "paris/mug"});

    list_filter by_prefix;
    by_prefix.tenant = "acme";
    by_prefix.sku_prefix = "cap-";
    CHECK(names(list(*s, by_prefix)) ==
          std::vector<std::string>{"berlin/cap-l", "berlin/cap-m", "berlin/cap-s", "paris/cap-m", "paris/cap-s"});
    by_prefix.warehouse = "berlin";
    CHECK(names(list(*s, by_prefix)) == std::vector<std::string>{"berlin/cap-l", "berlin/cap-m", "berlin/cap-s"});
    by_prefix.warehouse = "paris";
    by_prefix.after_warehouse = "paris";
    by_prefix.after_sku = "cap-m";
    CHECK(names(list(*s, by_prefix)) == std::vector<std::string>{"paris/cap-s"});

    list_filter other;
    other.tenant = "other";
    CHECK(names(list(*s, other)) == std::vector<std::string>{"berlin/mug"});
    other.tenant = "nobody";
    CHECK(list(*s, other).empty());
  }
}

TEST_CASE("list_records sees appends made after the first listing") {
  temp_dir dir;
  status st;
  auto disk = open_sqlite_store({dir.file("p.db"), ""}, &st);
  REQUIRE(st);
  auto memory = make_memory_store();
  journal_sim sim;
  stock(sim, *disk, *memory);
  list_filter f;
  f.tenant = "acme";
  f.warehouse = "berlin";
  REQUIRE(list(*disk, f).size() == 5);
  sim.adjust({"acme", "berlin", "apron"}, 3);
  REQUIRE(sim.flush(*disk));
  const auto listed = list(*disk, f);
  REQUIRE(listed.size() == 6);
  CHECK(listed[0].key.sku == "apron");
  CHECK(listed[0].on_hand == 3);
}

}  // namespace
}  // namespace stockgrid::persistence

namespace stockgrid::persistence {
namespace {

// A SQLite store in `dir` and its in-memory twin, stocked alike by stock().
std::pair<std::unique_ptr<partition_store>, std::unique_ptr<partition_store>> stocked_pair(temp_dir& dir) {
  status opened;
  std::pair<std::unique_ptr<partition_store>, std::unique_ptr<partition_store>> out{
      open_sqlite_store({dir.file("p.db"), ""}, &opened), make_memory_store()};
  REQUIRE(opened);
  journal_sim sim;
  stock(sim, *out.first, *out.second);
  return out;
}

TEST_CASE("count_records counts each tenant's records, snapshot and tail; delete_tenant removes one tenant's rows") {
  temp_dir dir;
  auto [disk, memory] = stocked_pair(dir);
  status st;
  using counts = std::vector<std::pair<std::string, std::uint64_t>>;
  for (partition_store* s : {disk.get(), memory.get()}) {
    INFO(s->name());
    counts c;
    REQUIRE(s->count_records(&c).to_string() == "ok");
    CHECK(c == counts{{"acme", 9}, {"other", 1}});  // 8 in the snapshot, cap-l after it; not the refusal

    std::uint64_t removed = 0;
    REQUIRE(s->delete_tenant("acme", &removed).to_string() == "ok");
    CHECK(removed == 9);
    REQUIRE(s->count_records(&c).to_string() == "ok");
    CHECK(c == counts{{"other", 1}});
    list_filter f;
    f.tenant = "acme";
    CHECK(list(*s, f).empty());
    std::vector<journal_entry> rows;
    REQUIRE(s->read_journal(0, 1000, &rows).to_string() == "ok");
    for (const auto& e : rows) CHECK(e.key.tenant == "other");
    record_image image;
    bool found = true;
    REQUIRE(s->load_record({"other", "berlin", "mug"}, &image, &found).to_string() == "ok");
    CHECK(found);
    CHECK(image.on_hand == 1);
    REQUIRE(s->delete_tenant("acme", &removed).to_string() == "ok");  // again: nothing left
    CHECK(removed == 0);
  }
  // The file still recovers: other records' chains are whole.
  disk.reset();
  auto again = open_sqlite_store({dir.file("p.db"), ""}, &st);
  REQUIRE(st);
  recovery_report report;
  REQUIRE(again->recover(&report).to_string() == "ok");
  CHECK(report.warehouses == std::vector<std::pair<std::string, std::string>>{{"other", "berlin"}});
}

}  // namespace
}  // namespace stockgrid::persistence
