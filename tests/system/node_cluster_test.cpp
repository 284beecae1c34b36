// Three real nodes on loopback joined by CAF's middleman: membership,
// failure detection and the placement every node computes (cluster.status).
#include <signal.h>

#include "tests/system/cluster_fixture.hpp"

using namespace stockgrid::node_test;

TEST_CASE("cluster: three nodes see each other up and compute the same placement", "[node][cluster]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  std::vector<value> tables;
  for (std::size_t i = 0; i < 3; ++i) {
    const value s = status_of(*c.nodes[i]);
    CHECK(at(s, "cluster") == value(true));
    CHECK(text(s, "self") == member(c.ports[i]));
    CHECK(integer(s, "replication_factor") == 3);
    const auto& partitions = items(s, "partitions");
    REQUIRE(partitions.size() == 4);
    array replicas;
    for (const value& p : partitions) {
      std::set<std::string> distinct;
      for (const value& r : items(p, "replicas")) distinct.insert(*r.as_string());
      CHECK(distinct.size() == 3);  // every node holds every partition
      replicas.push_back(at(p, "replicas"));
    }
    tables.emplace_back(replicas);
  }
  CHECK(tables[0] == tables[1]);
  CHECK(tables[1] == tables[2]);
  // Every partition gets one leader among its replicas, and all agree on it.
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  for (const auto& [p, leader] : leaders_agreed(c)) CHECK(c.index_of(leader) < 3);
  for (auto& n : c.nodes) n->stop();
}

TEST_CASE("cluster: a killed node and a frozen node are down for the others; without a majority no one leads",
          "[node][cluster]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  auto& a = *c.nodes[0];
  const std::string b = c.id(1), frozen = c.id(2);

  // B dies: A and C are a majority of every partition's three replicas, so
  // each partition B led gets a new leader, one of them.
  ::kill(c.nodes[1]->pid(), SIGKILL);
  REQUIRE(eventually([&] { return !up_as_seen_by(a)[b]; }, std::chrono::seconds(10)));
  CHECK(eventually([&] {
    auto leaders = leaders_seen_by(a);
    if (leaders.size() != 4) return false;
    for (const auto& [p, leader] : leaders)
      if (leader == b) return false;
    return true;
  }));

  // C freezes too: A alone is no majority. Its leases run out and nobody
  // leads (requests get UNAVAILABLE); when C wakes up, leaders again.
  ::kill(c.nodes[2]->pid(), SIGSTOP);
  REQUIRE(eventually([&] { return !up_as_seen_by(a)[frozen]; }, std::chrono::seconds(10)));
  CHECK(eventually([&] { return serving(a).empty(); }, std::chrono::seconds(10)));
  ::kill(c.nodes[2]->pid(), SIGCONT);
  CHECK(eventually([&] { return up_as_seen_by(a)[frozen]; }, std::chrono::seconds(10)));
  CHECK(eventually([&] { return up_as_seen_by(*c.nodes[2])[c.id(0)]; }, std::chrono::seconds(10)));
  CHECK(eventually([&] { return leaders_seen_by(a).size() == 4; }));
  c.nodes[0]->stop();
  c.nodes[2]->stop();
}

// A node started with another member list would place partitions
// otherwise: its majorities and the others' need not intersect. The
// members compare placement fingerprints as they connect and drop such a
// node until it is restarted with the same list.
TEST_CASE("cluster: a node started with another member list is not a member until restarted with the same one",
          "[node][cluster]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  const tenant_everywhere shop(c, "shop");

  // Node 2 again, with a fourth member in its list (none listens there).
  c.nodes[2]->stop();
  node_options other = c.options[2];
  auto join = std::find(other.args.begin(), other.args.end(), "--join");
  REQUIRE(join != other.args.end());
  *std::next(join) += "," + member(unused_port());
  c.nodes[2] = std::make_unique<test_node>(other);

  auto mismatched = [&](test_node& node, const std::string& id) {
    const value s = status_of(node);
    for (const value& m : items(s, "members"))
      if (text(m, "id") == id) return at(m, "layout_mismatch") == value(true) && at(m, "up") == value(false);
    return false;
  };
  for (std::size_t i : {0u, 1u}) {
    INFO("node " << i);
    CHECK(eventually([&] { return mismatched(*c.nodes[i], c.id(2)); }));
    CHECK(eventually([&] { return c.nodes[i]->log().find("places partitions otherwise") != std::string::npos; }));
  }
  CHECK(eventually([&] { return mismatched(*c.nodes[2], c.id(0)) && mismatched(*c.nodes[2], c.id(1)); }));

  // Nodes 0 and 1 are a majority of every partition and go on; node 2
  // acknowledges nothing: no one it can reach votes for it.
  {
    session at0(*c.nodes[0], encoding::json, shop.keys[0].writer);
    session at2(*c.nodes[2], encoding::json, shop.keys[2].writer);
    for (int i = 0; i < 8; ++i) {
      const object adjust{{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 5},
                          {"idem", "m-" + std::to_string(i)}};
      const value r0 = call_settled(at0, adjust);
      INFO(Catch::Detail::stringify(r0));
      CHECK(ok(r0));
      const value r2 = at2.call({{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 1}});
      INFO(Catch::Detail::stringify(r2));
      CHECK((code(r2) == "UNAVAILABLE" || code(r2) == "TIMEOUT"));
    }
    CHECK(leaders_seen_by(*c.nodes[2]).empty());
  }  // the sessions go before node 2's process does

  // Restarted with the same list: a member again.
  c.nodes[2]->stop();
  c.nodes[2] = std::make_unique<test_node>(c.options[2]);
  for (auto& n : c.nodes) CHECK(eventually([&] { return all_up(*n, c.ports); }));
  for (std::size_t i : {0u, 1u}) CHECK_FALSE(mismatched(*c.nodes[i], c.id(2)));
  CHECK(eventually([&] { return leaders_agreed(c).size() == 4; }));
  for (auto& n : c.nodes) n->stop();
}

TEST_CASE("cluster: a single node says so", "[node][cluster]") {
  test_node node(without_demo());
  const value s = status_of(node);
  CHECK(at(s, "cluster") == value(false));
  CHECK(integer(s, "partitions") == 4);
  node.stop();
}

TEST_CASE("cluster: a bad member list is a usage error naming the key", "[node][cluster]") {
  const std::string program = stockgrid::testing::built_program("app/stockgrid");
  stockgrid::testing::temp_dir dir;
  for (const auto& [join, expected] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:0", "join: '127.0.0.1:0': the port must be 1..65535"},
           {"127.0.0.1:7402,127.0.0.1:7402", "join: '127.0.0.1:7402' is listed twice"},
           {"127.0.0.1:7401", "join lists this node itself (127.0.0.1:7401)"},
       }) {
    INFO(join);
    const auto r = stockgrid::testing::run_command(program + " --data-dir " + dir.path() + " --join " + join, 30);
    INFO(r.output);
    CHECK(r.exit_code == 1);  // exit_usage
    CHECK(r.output.find(expected) != std::string::npos);
  }
}
