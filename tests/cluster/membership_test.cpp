// Membership on a hand-moved clock: up while heard within the timeout and
// connected.
#include <catch2/catch.hpp>

#include "cluster/membership.hpp"

using namespace stockgrid::cluster;

namespace {

membership three(const std::string& self) {
  std::string error;
  membership m(self, {"n1:1", "n2:2", "n3:3"}, 16, 3, 1000, &error);
  INFO(error);
  REQUIRE(error.empty());
  return m;
}

}  // namespace

TEST_CASE("a member is up while connected and heard within the failure timeout", "[cluster][membership]") {
  auto m = three("n1:1");
  CHECK(m.up("n1:1", 0));  // itself, always
  CHECK_FALSE(m.up("n2:2", 0));  // never heard
  m.connected("n2:2", true);
  CHECK_FALSE(m.up("n2:2", 0));
  REQUIRE(m.heard("n2:2", 100));
  CHECK(m.up("n2:2", 100));
  CHECK(m.up("n2:2", 1100));
  CHECK_FALSE(m.up("n2:2", 1101));
  REQUIRE(m.heard("n2:2", 1500));
  CHECK(m.up("n2:2", 1600));
  m.connected("n2:2", false);  // a closed connection: down at once
  CHECK_FALSE(m.up("n2:2", 1600));
  CHECK_FALSE(m.heard("n9:9", 1600));
  CHECK_FALSE(m.is_member("n9:9"));
}

TEST_CASE("members and partitions as cluster.status shows them", "[cluster][membership]") {
  auto m = three("n2:2");
  m.connected("n1:1", true);
  m.heard("n1:1", 40);
  const auto members = m.members(50);
  REQUIRE(members.size() == 3);
  CHECK(members[0].id == "n1:1");
  CHECK(members[0].up);
  CHECK(members[0].heard_ago_ms == 10);
  CHECK(members[1].self);
  CHECK(members[1].up);
  CHECK_FALSE(members[2].up);
  CHECK(members[2].heard_ago_ms == -1);

  // Every partition has all three as replicas, in the placement's order.
  const auto parts = m.partitions();
  REQUIRE(parts.size() == 16);
  for (const auto& p : parts) {
    REQUIRE(p.replicas.size() == 3);
    CHECK(p.replicas[0] == m.table().members[m.table().replicas[p.partition][0]]);
  }
}

TEST_CASE("a node that is not among its own members is refused", "[cluster][membership]") {
  std::string error;
  membership m("n4:4", {"n1:1", "n2:2"}, 16, 3, 1000, &error);
  CHECK(error == "this node's id 'n4:4' is not among the members");
}
