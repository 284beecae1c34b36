// Replication across three real nodes on loopback: requests forwarded to
// their partition's leader, journals shipped to followers, quorum
// acknowledgements, failover after a SIGKILL and after a SIGSTOP past the
// lease. Every test reads the nodes' SQLite journals after stopping them.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "tests/system/replication_checks.hpp"
#include "tests/system/tmpfs_namespace.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;

TEST_CASE("cluster: a write through one node is read through another; each entry is only on its replicas",
          "[node][cluster][replication]") {
  cluster3 c(2);  // two copies of each partition among three nodes
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  const auto replicas = replicas_seen_by(*c.nodes[0]);
  for (const auto& [p, set] : replicas) CHECK(set.size() == 2);
  tenant_everywhere t(c, "acme");
  {
    session a(*c.nodes[0], encoding::json, t.keys[0].writer);
    for (int i = 0; i < 24; ++i) {
      const value r = call_settled(a, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)},
                                       {"delta", 10 + i}, {"idem", "adj-" + std::to_string(i)}});
      INFO(Catch::Detail::stringify(r));
      REQUIRE(ok(r));
    }
  }
  {
    session cs(*c.nodes[2], encoding::json, t.keys[2].reader);
    for (int i = 0; i < 24; ++i) {
      const value r = call_settled(cs, {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}});
      INFO(Catch::Detail::stringify(r));
      REQUIRE(ok(r));
      CHECK(integer(r, "record.on_hand") == 10 + i);
    }
    // consistency "follower": every node answers, from its own copy where it
    // holds one (the value arrives there within the replication lag), by
    // the leader elsewhere. Anything else is BAD_REQUEST naming the field.
    for (std::size_t n = 0; n < 3; ++n) {
      session s(*c.nodes[n], encoding::json, t.keys[n].reader);
      for (int i = 0; i < 24; ++i)
        CHECK(eventually([&] {
          const value r = s.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}, {"consistency", "follower"}});
          return ok(r) && integer(r, "record.on_hand") == 10 + i;
        }, 5s));
    }
    const value bad = cs.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(0)}, {"consistency", "any"}});
    CHECK(code(bad) == "BAD_REQUEST");
    CHECK(message(bad).find("consistency") != std::string::npos);
  }
  for (auto& n : c.nodes) n->stop();

  // Every partition's entries are in the journals of its two replicas,
  // identical, and in no other node's.
  int partitions_written = 0;
  std::size_t entries = 0;
  for (std::int64_t p = 0; p < 4; ++p) {
    std::map<std::uint64_t, row> reference;
    bool first = true;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto rows = journal_of(partition_file(c.data_dir(i), p), "acme");
      INFO("partition " << p << " node " << c.id(i));
      if (!replicas.at(p).count(c.id(i))) {
        CHECK(rows.empty());
        continue;
      }
      if (first) {
        reference = rows;
        first = false;
      } else {
        CHECK(rows == reference);
      }
    }
    if (!reference.empty()) ++partitions_written;
    entries += reference.size();
  }
  CHECK(entries == 24);
  CHECK(partitions_written >= 2);
}

TEST_CASE("cluster: SIGKILL of a busy leader under load loses no acknowledged change and applies no retry twice",
          "[node][cluster][replication]") {
  cluster3 c;
  constexpr int skus = 16;
  failover_setup f(c, skus);
  const auto& [victim, led] = f.busiest;
  const auto& survivors = f.others;

  const auto start = std::chrono::steady_clock::now();
  const auto load = reserve_load(
      {&f.s0, &f.s1}, skus, start + 1500ms, start + 6500ms, [&] { ::kill(c.nodes[victim]->pid(), SIGKILL); }, led,
      "k");
  std::printf("cluster SIGKILL of the leader of %zu partitions: %zu acknowledged, %zu unsettled; first "
              "acknowledgement from a partition it led %lld ms after the kill\n",
              led.size(), load.acked.size(), load.unsettled.size(),
              static_cast<long long>(load.first_ok_after_ms));
  CHECK(load.first_ok_after_ms >= 0);  // the partitions serve again
  CHECK(load.unsettled.empty());
  check_records(f.s0, skus, load);
  // Let the followers confirm the last entries, then stop them.
  std::this_thread::sleep_for(1s);
  for (auto i : survivors) c.nodes[i]->stop();
  check_journals(c, f.replicas, load, survivors, survivors);
}

TEST_CASE("cluster: a leader frozen past its lease acknowledges nothing after the new leader took over, then follows",
          "[node][cluster][replication]") {
  cluster3 c;
  constexpr int skus = 16;
  failover_setup f(c, skus);
  const auto& [frozen, led] = f.busiest;

  // The frozen leader's own client: requests it took before the freeze.
  session sf(*c.nodes[frozen], encoding::json, f.t.keys[frozen].writer);
  std::vector<std::pair<std::int64_t, std::string>> before_freeze;  // request id, idem
  const auto start = std::chrono::steady_clock::now();
  const auto load = reserve_load(
      {&f.s0, &f.s1}, skus, start + 1000ms, start + 5000ms,
      [&] {
        for (int i = 0; i < 8; ++i) {
          const std::string idem = "frozen-" + std::to_string(i);
          before_freeze.emplace_back(sf.send(reserve_request(i, idem)), idem);
        }
        ::kill(c.nodes[frozen]->pid(), SIGSTOP);
      },
      led, "s");
  std::printf("cluster SIGSTOP of the leader of %zu partitions: %zu acknowledged meanwhile, first "
              "acknowledgement from a partition it led %lld ms after the freeze\n",
              led.size(), load.acked.size(), static_cast<long long>(load.first_ok_after_ms));
  CHECK(load.first_ok_after_ms >= 0);
  CHECK(load.unsettled.empty());
  ::kill(c.nodes[frozen]->pid(), SIGCONT);
  // It wakes up as a follower of the new leaders and catches up.
  const std::string frozen_id = c.id(frozen);
  CHECK(eventually([&] {
    auto seen = leaders_seen_by(*c.nodes[frozen]);
    auto agreed = leaders_agreed(c);
    if (agreed.size() != 4) return false;
    for (auto p : led)
      if (agreed[p] == frozen_id) return false;
    return seen == agreed;
  }));
  // Its client's requests from before the freeze: each answered; an
  // acknowledged one is in the journals like any other, an unknown outcome
  // may or may not be.
  load_result all = load;
  for (const auto& [id, idem] : before_freeze) {
    const value r = sf.answer(id);
    INFO(Catch::Detail::stringify(r));
    if (ok(r))
      all.acked[idem] = text(r, "hold");
    else if (!settled(r))
      all.unsettled.insert(idem);
    else
      CHECK(code(r) == "INSUFFICIENT_STOCK");
  }
  check_records(f.s0, skus, all);
  // Let the followers confirm the last entries, then stop everyone.
  std::this_thread::sleep_for(1s);
  for (auto& n : c.nodes) n->stop();
  check_journals(c, f.replicas, all, {0, 1, 2}, {0, 1, 2});
}

namespace {

// Partition -> (role, last seq) of `node`'s own copies, as it reports them.
std::map<std::int64_t, std::pair<std::string, std::int64_t>> copies_of(test_node& node) {
  std::map<std::int64_t, std::pair<std::string, std::int64_t>> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions"))
    if (auto role = text(p, "role"); !role.empty()) out[integer(p, "partition")] = {role, integer(p, "last_seq")};
  return out;
}

}  // namespace

TEST_CASE("cluster: a leader whose disk fills up steps down and stands for nothing; once space returns it "
          "follows and catches up",
          "[node][cluster][replication][disk]") {
  std::vector<std::unique_ptr<tmpfs_namespace>> disks;  // outlive the nodes
  cluster3 c(3, 1000, [&](std::size_t, const std::string& data_dir) {
    disks.push_back(std::make_unique<tmpfs_namespace>(data_dir));
    INFO("cannot mount a tmpfs in a mount namespace: this test needs root (unshare -m, mount)");
    REQUIRE(disks.back()->mounted());
    return disks.back()->launcher();
  });
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  tenant_everywhere t(c, "acme");
  const auto [full, led] = busiest_leader(c);
  const std::string full_id = c.id(full);
  const auto other = (full + 1) % 3;
  constexpr int skus = 24;
  std::set<std::uint32_t> written;  // every partition the full node leads gets a write
  for (int i = 0; i < skus; ++i) written.insert(stockgrid::partition_of({"acme", "w", sku(i)}, 4));
  REQUIRE(written.size() == 4);
  session s(*c.nodes[other], encoding::json, t.keys[other].writer);
  stock(s, skus, 10);

  // Its disk fills up: the partitions it leads degrade at their next write.
  // They must get another leader, which takes writes with the third node.
  const auto filler = disks[full]->outside(c.data_dir(full) + "/filler");
  REQUIRE(fill(filler) > 0);
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 1},
                                     {"idem", "full-" + std::to_string(i)}});
    INFO(sku(i) << ": " << Catch::Detail::stringify(r));
    REQUIRE(ok(r));
  }
  // While its disk is full it leads nothing, nor tries to.
  auto led_by_full = [&] {
    for (auto& n : c.nodes)
      for (const auto& [p, leader] : leaders_seen_by(*n))
        if (leader == full_id) return true;
    return false;
  };
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4 && !led_by_full(); }));
  for (int i = 0; i < 10; ++i) {
    CHECK_FALSE(led_by_full());
    for (const auto& [p, copy] : copies_of(*c.nodes[full])) CHECK(copy.first == "follower");
    std::this_thread::sleep_for(200ms);
  }

  // Space returns: it follows the new leaders and its copies catch up (it
  // may lead again soon after: the partitions it is the preferred replica
  // of are given back to it once it has caught up).
  REQUIRE(::unlink(filler.c_str()) == 0);
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 1},
                                     {"idem", "after-" + std::to_string(i)}});
    REQUIRE(ok(r));
  }
  CHECK(eventually([&] {
    const auto mine = copies_of(*c.nodes[full]);
    const auto theirs = copies_of(*c.nodes[other]);
    for (const auto& [p, copy] : mine)
      if ((copy.first != "follower" && copy.first != "leader") || !theirs.count(p) ||
          theirs.at(p).second != copy.second)
        return false;
    return mine.size() == 4;
  }));
  session r(*c.nodes[full], encoding::json, t.keys[full].reader);
  for (int i = 0; i < skus; ++i) {
    const value got = r.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}, {"consistency", "follower"}});
    INFO(sku(i) << ": " << Catch::Detail::stringify(got));
    CHECK(integer(got, "record.on_hand") == 12);
  }
  for (auto& n : c.nodes) n->stop();
}
