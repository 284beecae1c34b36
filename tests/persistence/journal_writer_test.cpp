// The journal writer against a real SQLite file.
#include <catch2/catch.hpp>

#include <atomic>

#include "persistence/journal_writer.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::persistence;
using namespace stockgrid::persistence::testing;

namespace {

std::vector<std::unique_ptr<partition_store>> one_store(const std::string& path) {
  status st;
  std::vector<std::unique_ptr<partition_store>> stores;
  stores.push_back(open_sqlite_store({path, {}}, &st));
  REQUIRE(st);
  return stores;
}

}  // namespace

TEST_CASE("a run longer than the seq lease raises the lease instead of failing",
          "[persistence][journal_writer]") {
  temp_dir dir;
  const auto path = dir.file("p-0000.db");
  journal_writer_options o;
  o.threads = 1;
  o.seq_lease_step = 16;  // a real node leases 2^20 at a time
  std::atomic<int> ok{0}, failed{0};
  {
    status st;
    journal_writer writer(one_store(path), o, &st, nullptr);
    REQUIRE(st);
    journal_sim sim;
    for (int i = 0; i < 100; ++i) {
      REQUIRE(sim.adjust(key_of("sku"), 1));
      auto e = std::move(sim.batch.back());
      sim.batch.clear();
      REQUIRE(writer.append(0, std::move(e), [&](const status& s, const journal_entry*) {
        (s ? ok : failed).fetch_add(1);
      }) == static_cast<std::uint64_t>(i + 1));
    }
    writer.stop();
  }
  CHECK(ok == 100);
  CHECK(failed == 0);

  auto stores = one_store(path);
  recovery_report rep;
  REQUIRE(stores[0]->recover(&rep));
  CHECK(rep.last_seq == 100);
  CHECK(stores[0]->seq_lease() > 100);
}
