// A network partition: three nodes, each in a network namespace of its own
// (network_namespaces.hpp), and the node that leads the most partitions cut
// off from the other two while clients go on writing through all three.
// The cut-off node must acknowledge nothing for the partitions it led, the
// majority must go on, and after healing every copy must converge. Its own
// binary, because the test moves its whole process into a network namespace
// of its own; needs root.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/system/network_namespaces.hpp"
#include "tests/system/replication_checks.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;

namespace {

// Partition -> this node's entry in its cluster.status.
std::map<std::int64_t, value> partitions_of(test_node& node) {
  std::map<std::int64_t, value> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions")) out[integer(p, "partition")] = p;
  return out;
}

// Whether every node routes every partition to the same leader, each leader
// reports its two followers at lag 0, and every copy ends where its leader's
// does, `outsider`'s as followers (or as the leader a give-back made it).
bool converged(cluster3& c, const std::string& outsider) {
  const auto leaders = leaders_agreed(c);
  if (leaders.size() != 4) return false;
  std::vector<std::map<std::int64_t, value>> seen;
  for (auto& n : c.nodes) seen.push_back(partitions_of(*n));
  for (const auto& [p, leader] : leaders) {
    if (c.index_of(leader) >= c.nodes.size()) return false;
    const value& lead = seen[c.index_of(leader)][p];
    if (text(lead, "role") != "leader") return false;
    const value& lag = at(lead, "lag");
    if (lag.as_object() == nullptr || lag.as_object()->size() != 2) return false;
    for (const auto& [follower, seqs] : *lag.as_object())
      if (seqs != value(0)) return false;
    for (auto& copies : seen) {
      const value& copy = copies[p];
      if (text(copy, "role").empty() || at(copy, "last_seq") != at(lead, "last_seq")) return false;
    }
    // The healed node follows; or, once caught up, it may lead a partition
    // it is the preferred replica of again (given back to it), as every node
    // agrees (leaders_agreed).
    const auto role = text(seen[c.index_of(outsider)][p], "role");
    if (role != "follower" && !(role == "leader" && leader == outsider)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("cluster: a node cut off by the network acknowledges no write for the partitions it led, the majority "
          "goes on, and after healing every copy converges",
          "[node][cluster][replication][partition]") {
  // First thing: no thread of this process may stay in the old namespace.
  test_network network;
  std::vector<std::unique_ptr<node_network>> nets;  // outlive the nodes
  std::vector<node_address> where;
  for (std::size_t i = 0; i < 3; ++i) {
    nets.push_back(std::make_unique<node_network>(i));
    where.push_back({nets[i]->cluster_address(), nets[i]->gateway_address()});
  }
  cluster3 c(3, 1000, [&](std::size_t i, const std::string&) { return nets[i]->launcher(); }, {}, 4, where);
  constexpr int skus = 16;
  failover_setup f(c, skus);
  const auto& [cut, led] = f.busiest;
  const std::string cut_id = c.id(cut);
  std::vector<int> led_skus;  // the records of the partitions the cut node leads
  for (int i = 0; i < skus; ++i)
    if (led.count(stockgrid::partition_of({"acme", "w", sku(i)}, 4))) led_skus.push_back(i);
  REQUIRE_FALSE(led_skus.empty());

  // The cut-off node's own client: writes for the partitions it led, sent
  // the moment it is cut off and again once its lease has surely ended.
  session sc(*c.nodes[cut], encoding::json, f.t.keys[cut].writer);
  std::vector<std::pair<std::int64_t, std::string>> through_cut;  // request id, idem
  auto write_through_cut = [&](const std::string& tag) {
    for (const int i : led_skus) {
      const std::string idem = tag + "-" + std::to_string(i);
      through_cut.emplace_back(sc.send(reserve_request(i, idem)), idem);
    }
  };
  const auto start = std::chrono::steady_clock::now();
  auto load = reserve_load(
      {&f.s0, &f.s1}, skus, start + 1000ms, start + 6000ms,
      [&] {
        nets[cut]->cut();
        write_through_cut("at-cut");
      },
      led, "p");
  std::printf("cluster network cut of the leader of %zu partitions: %zu acknowledged through the majority, first "
              "acknowledgement from a partition it led %lld ms after the cut\n",
              led.size(), load.acked.size(), static_cast<long long>(load.first_ok_after_ms));
  CHECK(load.first_ok_after_ms >= 0);  // the majority serves them again
  CHECK(load.unsettled.empty());

  // Still cut off, 5 s on: the majority has new leaders for them, and the
  // cut-off node serves nothing.
  const auto majority_leaders = leaders_seen_by(*c.nodes[f.others[0]]);
  for (const auto p : led) {
    const std::string leader = majority_leaders.count(p) ? majority_leaders.at(p) : "";
    INFO("partition " << p << " led by " << leader);
    CHECK_FALSE(leader.empty());
    CHECK(leader != cut_id);
  }
  CHECK(eventually([&] { return serving(*c.nodes[cut]).empty(); }, 5s));
  write_through_cut("after-lease");
  std::map<std::string, int> cut_answers;  // code -> count
  for (const auto& [id, idem] : through_cut) {
    const value r = sc.answer(id);
    INFO(idem << ": " << Catch::Detail::stringify(r));
    CHECK_FALSE(ok(r));
    CHECK((code(r) == "UNAVAILABLE" || code(r) == "TIMEOUT"));
    ++cut_answers[code(r)];
    load.unsettled.insert(idem);  // outcome unknown: may be in its journal's tail
  }
  std::printf("cluster network cut: %zu writes through the cut-off node for the partitions it led:", through_cut.size());
  for (const auto& [name, count] : cut_answers) std::printf(" %d %s", count, name.c_str());
  std::printf("\n");

  // Healed: everyone agrees on the leaders, the node follows them and every
  // copy catches up.
  nets[cut]->heal();
  const auto healed = std::chrono::steady_clock::now();
  const bool caught_up = eventually([&] { return converged(c, cut_id); }, 30s);
  std::printf("cluster network cut healed: copies %s after %lld ms\n", caught_up ? "converged" : "NOT converged",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - healed)
                      .count()));
  if (!caught_up)
    for (auto& n : c.nodes) UNSCOPED_INFO(n->host() << " sees " << Catch::Detail::stringify(status_of(*n)));
  CHECK(caught_up);

  check_records(f.s0, skus, load);
  for (auto& n : c.nodes) n->stop();
  check_journals(c, f.replicas, load, {0, 1, 2}, {0, 1, 2});
}
