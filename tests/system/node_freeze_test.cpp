// A node frozen (SIGSTOP) past its lease while it leads, woken (SIGCONT),
// three rounds under a small write load: afterwards every copy must catch
// up and the woken node serve the latest values. A regression test for the
// woken-node stall of a benchmark run (docs/benchmarks.md, "Cluster").
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/system/cluster_fixture.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;

namespace {

// Keeps the nodes' logs of a failed run (their temp dirs go with the test):
// in a folder of the system's temp dir, whose name it returns.
std::string keep_logs(cluster3& c) {
  char name[] = "/tmp/stockgrid-freeze-logs.XXXXXX";
  if (::mkdtemp(name) == nullptr) return "(could not keep the logs)";
  for (std::size_t i = 0; i < 3; ++i) {
    std::ofstream out(std::string(name) + "/node" + std::to_string(i) + ".log");
    out << c.nodes[i]->log();
  }
  return name;
}

}  // namespace

TEST_CASE("cluster: after three rounds of freezing a busy leader past its lease, every copy catches up and the "
          "woken node serves the latest values",
          "[node][cluster][replication][freeze]") {
  constexpr int failure_timeout_ms = 2000;
  // More partitions than the other cluster tests' 4: a frozen leader leads
  // many, whose elections and catch-ups then run at once (as in the
  // benchmark, which runs 64).
  constexpr std::uint32_t partitions = 16;
  cluster3 c(3, failure_timeout_ms, {}, {}, partitions);
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == partitions; }));
  tenant_everywhere t(c, "acme");
  constexpr int skus = 48;  // spread over most partitions
  std::vector<std::int64_t> on_hand(skus, 0);
  int writes = 0;
  // One adjust of +1 through `s`, retried with its key until it settles.
  auto write = [&](session& s) {
    const int i = writes % skus;
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 1},
                                     {"idem", "w-" + std::to_string(writes)}});
    INFO(Catch::Detail::stringify(r));
    REQUIRE(ok(r));
    ++on_hand[static_cast<std::size_t>(i)];
    ++writes;
  };
  // A small steady load through `s` for `how_long` (at most 1,000 writes).
  auto load_for = [&](session& s, std::chrono::milliseconds how_long) {
    const auto end = std::chrono::steady_clock::now() + how_long;
    for (int n = 0; n < 1000 && std::chrono::steady_clock::now() < end; ++n) {
      write(s);
      std::this_thread::sleep_for(20ms);
    }
  };

  std::size_t woken = 3;
  for (int round = 1; round <= 3; ++round) {
    INFO("round " << round);
    REQUIRE(eventually([&] { return leaders_agreed(c).size() == partitions; }));
    const auto [victim, led] = busiest_leader(c);
    const std::size_t entry = (victim + 1) % 3;
    session s(*c.nodes[entry], encoding::json, t.keys[entry].writer);
    load_for(s, 500ms);
    ::kill(c.nodes[victim]->pid(), SIGSTOP);
    load_for(s, std::chrono::milliseconds(3 * failure_timeout_ms));
    ::kill(c.nodes[victim]->pid(), SIGCONT);
    woken = victim;
    load_for(s, 1500ms);
    const auto woke = std::chrono::steady_clock::now();
    std::string why;
    const bool caught_up = eventually([&] { return converged(c, &why); });
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - woke);
    std::printf("cluster freeze round %d: %s (led %zu partitions) frozen %d ms; %s %lld ms after the load ended; "
                "%d writes so far\n",
                round, c.id(victim).c_str(), led.size(), 3 * failure_timeout_ms,
                caught_up ? "converged" : "NOT converged", static_cast<long long>(took.count()), writes);
    INFO("not converged: " << why << "; the nodes' logs are kept in " << (caught_up ? "" : keep_logs(c)));
    REQUIRE(caught_up);
  }

  // The woken node answers reads from its own copies, and forwarded ones,
  // with the latest values.
  session r(*c.nodes[woken], encoding::json, t.keys[woken].reader);
  for (int i = 0; i < skus; ++i) {
    INFO(sku(i));
    const value follower =
        r.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}, {"consistency", "follower"}});
    INFO(Catch::Detail::stringify(follower));
    REQUIRE(ok(follower));
    CHECK(integer(follower, "record.on_hand") == on_hand[static_cast<std::size_t>(i)]);
    const value leader = call_settled(r, {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}});
    INFO(Catch::Detail::stringify(leader));
    REQUIRE(ok(leader));
    CHECK(integer(leader, "record.on_hand") == on_hand[static_cast<std::size_t>(i)]);
  }
  for (auto& n : c.nodes) n->stop();
}
