// read_export_page(): a tenant's records, each with its holds and history,
// offered page by page to a sink; pages resume exactly where the last one
// stopped, whatever the page size; another tenant's rows never appear; both
// stores agree.
#include <catch2/catch.hpp>

#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence/tenant_export.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::temp_dir;

// Takes up to `room` items a page and writes each as a line.
struct line_sink final : export_sink {
  std::size_t room = 0;
  std::size_t taken = 0;
  std::vector<std::string> lines;

  bool take(std::string line) {
    if (taken >= room) return false;
    ++taken;
    lines.push_back(std::move(line));
    return true;
  }
  bool record(const record_image& r) override {
    return take("record " + r.key.tenant + "/" + r.key.warehouse + "/" + r.key.sku + " v" +
                std::to_string(r.version) + " reserved " + std::to_string(r.reserved));
  }
  bool hold(const record_key& k, const stockgrid::hold& h) override {
    return take("hold " + k.warehouse + "/" + k.sku + " #" + std::to_string(h.seq) + " qty " +
                std::to_string(h.qty));
  }
  bool event(const journal_entry& e) override {
    return take("event " + e.key.tenant + "/" + e.key.warehouse + "/" + e.key.sku + " v" +
                std::to_string(e.c.version));
  }
};

// Every item of `tenant`, `room` per page; the pages' count in *pages.
std::vector<std::string> export_all(partition_store& store, const std::string& tenant,
                                    std::size_t room, int* pages = nullptr) {
  line_sink sink;
  sink.room = room;
  export_position at;
  int n = 0;
  for (;;) {
    sink.taken = 0;
    export_step step;
    REQUIRE(read_export_page(store, tenant, at, sink, &step).to_string() == "ok");
    ++n;
    REQUIRE(n < 10'000);
    if (step.partition_done) break;
    REQUIRE(sink.taken > 0);  // every page moves on
    at = step.next;
  }
  if (pages) *pages = n;
  return sink.lines;
}

void stock(journal_sim& sim) {
  sim.adjust({"acme", "berlin", "mug"}, 10);
  const auto h1 = sim.reserve({"acme", "berlin", "mug"}, 2);
  sim.reserve({"acme", "berlin", "mug"}, 3);
  sim.commit({"acme", "berlin", "mug"}, h1);
  sim.adjust({"acme", "paris", "cap"}, 4);
  sim.sell({"acme", "paris", "cap"}, 1);
  sim.adjust({"other", "berlin", "mug"}, 99);  // another tenant, same names
  sim.adjust({"other", "a-first", "x"}, 1);
}

const std::vector<std::string> expected = {
    "record acme/berlin/mug v4 reserved 3",
    "hold berlin/mug #3 qty 3",
    "event acme/berlin/mug v4",
    "event acme/berlin/mug v3",
    "event acme/berlin/mug v2",
    "event acme/berlin/mug v1",
    "record acme/paris/cap v2 reserved 0",
    "event acme/paris/cap v2",
    "event acme/paris/cap v1",
};

TEST_CASE("read_export_page gives the tenant's records, holds and history in any page size") {
  status st;
  for (const bool snapshot_between : {false, true}) {
    INFO("snapshot between: " << snapshot_between);
    journal_sim sim;
    stock(sim);
    // Half the journal folded into the snapshot, half in the tail.
    auto store_both = [&](partition_store& s) {
      std::vector<journal_entry> all = sim.batch;
      sim.batch.assign(all.begin(), all.begin() + 3);
      REQUIRE(sim.flush(s));
      if (snapshot_between) {
        snapshot_report snap;
        REQUIRE(s.snapshot(0, &snap));
      }
      sim.batch.assign(all.begin() + 3, all.end());
      REQUIRE(sim.flush(s));
      sim.batch = all;
    };
    temp_dir d2;
    auto fresh_disk = open_sqlite_store({d2.file("p.db"), ""}, &st);
    REQUIRE(st);
    auto fresh_memory = make_memory_store();
    store_both(*fresh_disk);
    store_both(*fresh_memory);
    for (partition_store* s : {fresh_disk.get(), fresh_memory.get()}) {
      INFO(s->name());
      for (std::size_t room : {1, 2, 3, 5, 100}) {
        INFO("room " << room);
        int pages = 0;
        CHECK(export_all(*s, "acme", room, &pages) == expected);
        CHECK(pages >= static_cast<int>((expected.size() + room - 1) / room));
      }
      CHECK(export_all(*s, "nobody", 10).empty());
    }
  }
}

TEST_CASE("a page that resumes a record no longer there skips it") {
  auto memory = make_memory_store();
  journal_sim sim;
  stock(sim);
  REQUIRE(sim.flush(*memory));
  line_sink sink;
  sink.room = 10;
  export_position at{export_position::stage::history, "berlin", "zzz-gone", 0, 3};
  export_step step;
  REQUIRE(read_export_page(*memory, "acme", at, sink, &step).to_string() == "ok");
  CHECK(step.partition_done);
  REQUIRE_FALSE(sink.lines.empty());
  CHECK(sink.lines.front() == "record acme/paris/cap v2 reserved 0");
}

}  // namespace
}  // namespace stockgrid::persistence
