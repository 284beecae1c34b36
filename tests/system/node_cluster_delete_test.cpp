// tenant.delete in a cluster of three real nodes (docs/cluster.md, "Deleting
// a tenant"; app/cluster_delete.cpp): taken by one node, it removes the
// tenant's records from every copy of every partition (each copy applies the
// replicated purge entry), its orders and settings from every node's
// documents.db, and its keys from every node; another tenant's data stays,
// every partition file passes `stockgrid check`, and the name is not taken
// again within the journal's retention.
#include <sqlite3.h>

#include "tests/support/process.hpp"
#include "tests/system/cluster_fixture.hpp"
#include "tests/system/replication_checks.hpp"

using namespace stockgrid::node_test;

namespace {

// One count from `sql` (with ?1 = tenant) on the SQLite file at `path`,
// read-only (the node may be running: WAL readers do not block it).
std::int64_t count_in(const std::string& path, const char* sql, const std::string& tenant) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &q, nullptr) == SQLITE_OK);
  sqlite3_bind_text(q, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  const std::int64_t n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return n;
}

constexpr const char* snapshot_rows = "SELECT count(*) FROM snapshot WHERE tenant = ?1";
constexpr const char* purge_entries =
    "SELECT count(*) FROM journal WHERE tenant = ?1 AND warehouse = '' AND sku = '' AND kind = 9";
constexpr const char* documents = "SELECT count(*) FROM documents WHERE tenant = ?1";

constexpr std::int64_t partitions = 4;

// acme's snapshot rows over every copy of every partition.
std::int64_t rows_everywhere(cluster3& c, const std::string& tenant) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::int64_t p = 0; p < partitions; ++p) n += count_in(partition_file(c.data_dir(i), p), snapshot_rows, tenant);
  return n;
}

}  // namespace

TEST_CASE("cluster: tenant.delete through one node removes the tenant from every copy, node and key; "
          "another tenant's data stays",
          "[node][cluster][tenant]") {
  // Snapshots every 500 ms: the followers fold the purge soon after it.
  cluster3 c(3, 1000, {}, [](std::size_t) { return std::vector<std::string>{"--snapshot-interval-ms", "500"}; });
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  tenant_everywhere acme(c, "acme");
  tenant_everywhere other(c, "other");
  const std::vector<std::string> warehouses = {"berlin", "paris", "warsaw"};
  {
    session writer(*c.nodes[2], encoding::json, acme.keys[2].writer);
    session other_writer(*c.nodes[2], encoding::json, other.keys[2].writer);
    for (const auto& w : warehouses)
      for (int i = 0; i < 4; ++i) {
        const object set{{"op", "stock.set"}, {"warehouse", w}, {"sku", sku(i)}, {"on_hand", 20}};
        REQUIRE(ok(call_settled(writer, set)));
        REQUIRE(ok(call_settled(other_writer, set)));
      }
    REQUIRE(ok(call_settled(writer, {{"op", "stock.reserve"}, {"warehouse", "paris"}, {"sku", sku(1)},
                                     {"qty", 2}, {"idem", "hold-1"}})));
    const value order = call_settled(writer, {{"op", "order.reserve"},
                                              {"lines", array{object{{"sku", sku(2)}, {"qty", 1}, {"warehouse", "berlin"}}}},
                                              {"idem", "cart-1"}});
    INFO(Catch::Detail::stringify(order));
    REQUIRE(ok(order));
    session admin(*c.nodes[2], encoding::json, acme.keys[2].admin);
    REQUIRE(ok(call_settled(admin, {{"op", "tenant.settings"}, {"set", object{{"low_stock_threshold", 5}}}})));
  }
  // Every partition holds some of acme's records, at every copy.
  for (std::size_t i = 0; i < 3; ++i)
    for (std::int64_t p = 0; p < partitions; ++p)
      REQUIRE(eventually([&] {
        return count_in(partition_file(c.data_dir(i), p), "SELECT count(*) FROM journal WHERE tenant = ?1",
                        "acme") > 0;
      }));

  session system(*c.nodes[1], encoding::json, system_token);
  // Active: refused, nothing changes.
  check_bad_field(system.call({{"op", "tenant.delete"}, {"tenant", "acme"}}), "tenant");
  REQUIRE(ok(system.call({{"op", "tenant.suspend"}, {"tenant", "acme"}})));
  const value deleted = call_settled(system, {{"op", "tenant.delete"}, {"tenant", "acme"}}, 30s);
  INFO(Catch::Detail::stringify(deleted));
  REQUIRE(ok(deleted));
  CHECK(integer(deleted, "partitions") == partitions);

  // Its keys and its row leave every node.
  for (auto& n : c.nodes) {
    CHECK(eventually([&] { return !authenticates(*n, acme.keys[0].admin) && !authenticates(*n, acme.keys[0].writer); },
                     10s));
    session s(*n, encoding::json, system_token);
    CHECK(eventually([&] {
      const value tenants = s.call({{"op", "tenant.list"}});
      for (const auto& t : items(tenants, "tenants"))
        if (text(t, "tenant") == "acme") return false;
      return true;
    }, 10s));
    check_error(s.call({{"op", "tenant.export"}, {"tenant", "acme"}}), "NOT_FOUND");
  }
  // Its records leave every copy of every partition (the followers fold the
  // purge at their next snapshot), with one purge entry or more in each;
  // its orders and settings leave every node's documents.db.
  CHECK(eventually([&] { return rows_everywhere(c, "acme") == 0; }, 15s));
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::int64_t p = 0; p < partitions; ++p) {
      const auto file = partition_file(c.data_dir(i), p);
      CHECK(count_in(file, purge_entries, "acme") >= 1);
      CHECK(count_in(file, snapshot_rows, "other") + count_in(file, "SELECT count(*) FROM journal WHERE tenant = ?1",
                                                               "other") > 0);
    }
    CHECK(eventually([&] { return count_in(c.data_dir(i) + "/documents.db", documents, "acme") == 0; }, 10s));
  }
  // The other tenant's records all stay, at every node.
  for (std::size_t i = 0; i < 3; ++i) {
    session reader(*c.nodes[i], encoding::json, other.keys[i].reader);
    const value listed = call_settled(reader, {{"op", "stock.list"}, {"limit", 100}});
    CHECK(items(listed, "records").size() == warehouses.size() * 4);
  }
  // The name is free again only after the journal's retention.
  const value again = system.call({{"op", "tenant.create"}, {"tenant", "acme"}});
  check_bad_field(again, "tenant");
  CHECK_THAT(text(again, "error.message"), Catch::Contains("retention-ms"));

  // Stopped, every node's partition files pass the offline check.
  for (auto& n : c.nodes) n->stop();
  for (std::size_t i = 0; i < 3; ++i) {
    stockgrid::testing::child_process check({stockgrid::testing::built_program("app/stockgrid"), "check",
                                             "--data-dir", c.data_dir(i), "--partitions", std::to_string(partitions)});
    CHECK(check.wait_exit(std::chrono::seconds(30)) == 0);
  }
}
