// A replica rebuilt from a copy of its leader's file: a node whose disk was
// replaced (its data dir is empty) rejoins a cluster whose leaders have
// compacted their journals, so it cannot catch up from them
// (docs/cluster.md, "Down for longer than the journal's retention").
//
// Compaction deletes journal rows older than `retention-ms` (at least a
// minute, 24 h by default) once they are in the snapshot; this test does
// not wait that long. It stops the three nodes after a load, and runs that
// same compaction (the store's snapshot(), with a retention that has run
// out) on the two surviving nodes' partition files while they are stopped,
// through the real SQLite store. Then the third node starts on an empty data
// dir, and each partition's leader must send it a copy of its file; the node
// installs them, catches up, serves follower reads equal to its leaders'
// answers, takes more writes, and at the end holds the same journal tail as
// the others.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "persistence/sqlite_store.hpp"
#include "tests/system/replication_checks.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;

namespace {

constexpr int skus = 24;
constexpr std::int64_t partitions = 4;

// The compaction the store runs once retention has passed, on a stopped
// node's partition file: deletes the journal rows already in its snapshot.
// Returns the rows deleted.
std::uint64_t compact_stopped(const std::string& file) {
  using namespace stockgrid::persistence;
  // Fold nothing new (what is above the snapshot may not be on a majority):
  // up to the snapshot's own end, where the node's last snapshot left it.
  std::int64_t folded_upto = -1;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'snapshot_seq'", -1, &q, nullptr) == SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW) folded_upto = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  REQUIRE(folded_upto > 0);
  status st;
  auto store = open_sqlite_store({file, ""}, &st);
  INFO(file << ": " << st.to_string());
  REQUIRE(store);
  recovery_report recovered;
  REQUIRE(store->recover(&recovered, false));
  snapshot_report report;
  REQUIRE(store->snapshot(std::numeric_limits<std::int64_t>::max(), static_cast<std::uint64_t>(folded_upto), &report));
  return report.compacted_entries;
}

// Each node's copy of each partition, as its leader answers stock.get and as
// node `at` answers it from its own copy (consistency "follower").
void check_follower_reads(cluster3& c, std::size_t at, session& leader_reads, session& own_reads) {
  for (int i = 0; i < skus; ++i) {
    const object get{{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}};
    object follower = get;
    follower.emplace_back("consistency", std::string("follower"));
    const value led = call_settled(leader_reads, get);
    const value mine = call_settled(own_reads, follower);
    INFO(sku(i) << ": leader " << Catch::Detail::stringify(led) << ", node " << c.id(at) << "'s copy "
                << Catch::Detail::stringify(mine));
    REQUIRE(ok(led));
    REQUIRE(ok(mine));
    CHECK(integer(mine, "record.on_hand") == integer(led, "record.on_hand"));
    CHECK(integer(mine, "record.reserved") == integer(led, "record.reserved"));
    CHECK(integer(mine, "record.version") == integer(led, "record.version"));
  }
}

// The cluster lines of every node's log, for a failure message.
std::string cluster_logs(cluster3& c) {
  std::string out;
  for (std::size_t i = 0; i < 3; ++i) {
    out += "--- node " + std::to_string(i) + " (" + c.id(i) + "):\n";
    const auto log = c.nodes[i]->log();
    for (std::size_t at = 0, end; at < log.size(); at = end + 1) {
      end = log.find('\n', at);
      if (end == std::string::npos) end = log.size();
      if (log.compare(at, std::string::npos, "") != 0 && log.find("cluster:", at) < end) out += log.substr(at, end - at) + "\n";
    }
  }
  return out;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("a node on an empty data dir, behind its leaders' compaction, is rebuilt from copies of their files",
          "[system][cluster][rebuild]") {
  cluster3 c;
  const auto replicas = cluster_ready(c);
  tenant_everywhere t(c, "acme");
  load_result before;
  {
    session s0(*c.nodes[0], encoding::json, t.keys[0].writer);
    session s1(*c.nodes[1], encoding::json, t.keys[1].writer);
    stock(s0, skus, 1000);
    const auto end = std::chrono::steady_clock::now() + 1500ms;
    before = reserve_load({&s0, &s1}, skus, end, end, [] {}, {}, "before");
    REQUIRE(before.unsettled.empty());
    REQUIRE_FALSE(before.acked.empty());
  }
  for (auto& n : c.nodes) n->stop();

  // Retention runs out on the survivors; node 2's disk is replaced.
  for (std::size_t i = 0; i < 2; ++i)
    for (std::int64_t p = 0; p < partitions; ++p) {
      INFO("node " << i << " partition " << p);
      CHECK(compact_stopped(partition_file(c.data_dir(i), p)) > 0);
    }
  std::filesystem::remove_all(c.data_dir(2));
  std::filesystem::create_directories(c.data_dir(2));

  for (auto& n : c.nodes) n->restart();
  std::string why;
  const bool caught_up = eventually([&] { return converged(c, &why); }, 30s);
  INFO("not converged: " << why << "\n" << cluster_logs(c));
  REQUIRE(caught_up);
  // Each partition's copy on node 2 came whole from its leader.
  CHECK(count_of(c.nodes[2]->log(), " installed (") == static_cast<std::size_t>(partitions));
  CHECK(count_of(c.nodes[2]->log(), "needs a rebuild") == 0);
  // Caught up, its copies vote again (cluster.status drops `blank`).
  const bool voting = eventually([&] {
    const value status = status_of(*c.nodes[2]);
    for (const value& p : items(status, "partitions"))
      if (at(p, "blank") == value(true)) return false;
    return true;
  });
  INFO(Catch::Detail::stringify(status_of(*c.nodes[2])));
  CHECK(voting);

  REQUIRE(eventually([&] { return authenticates(*c.nodes[2], t.keys[2].writer); }));
  load_result after;
  {
    session s0(*c.nodes[0], encoding::json, t.keys[0].writer);
    session s2(*c.nodes[2], encoding::json, t.keys[2].writer);
    const auto end = std::chrono::steady_clock::now() + 1000ms;
    after = reserve_load({&s0, &s2}, skus, end, end, [] {}, {}, "after");
    REQUIRE(after.unsettled.empty());
    REQUIRE(eventually([&] { return converged(c, &why); }, 30s));
    session reads0(*c.nodes[0], encoding::json, t.keys[0].reader);
    session reads2(*c.nodes[2], encoding::json, t.keys[2].reader);
    check_follower_reads(c, 2, reads0, reads2);
    // Every unit reserved before and after is held.
    load_result all = before;
    all.acked.insert(after.acked.begin(), after.acked.end());
    check_records(s0, skus, all);
  }
  for (auto& n : c.nodes) n->stop();

  // The entries after the load (never compacted) are in every copy, once;
  // node 2's journal ends where the others' do, entry for entry.
  check_journals(c, replicas, after, {0, 1, 2}, {});
  for (std::int64_t p = 0; p < partitions; ++p) {
    const auto rebuilt = journal_of(partition_file(c.data_dir(2), p), "acme");
    const auto kept = journal_of(partition_file(c.data_dir(0), p), "acme");
    REQUIRE_FALSE(rebuilt.empty());
    INFO("partition " << p << ": " << difference(rebuilt, kept));
    CHECK(rebuilt.rbegin()->first == kept.rbegin()->first);
    for (auto it = kept.lower_bound(rebuilt.begin()->first); it != kept.end(); ++it) CHECK(rebuilt.count(it->first) == 1);
  }
}
