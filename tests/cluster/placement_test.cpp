// Rendezvous placement: deterministic, distinct replicas, balanced, and
// moving only what a membership change must move.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "cluster/placement.hpp"

using namespace stockgrid::cluster;

namespace {

std::vector<std::string> ids(std::initializer_list<const char*> names) { return {names.begin(), names.end()}; }

std::vector<std::string> replica_ids(const placement& t, std::uint32_t p) {
  std::vector<std::string> out;
  for (auto i : t.replicas[p]) out.push_back(t.members[i]);
  return out;
}

placement must_place(std::vector<std::string> members, std::uint32_t partitions, std::uint32_t rf) {
  std::string error;
  auto t = place(std::move(members), partitions, rf, &error);
  INFO(error);
  REQUIRE_FALSE(t.members.empty());
  return t;
}

}  // namespace

TEST_CASE("every node computes the same table whatever order it lists the members in", "[cluster][placement]") {
  const auto a = must_place(ids({"node-a:7401", "node-b:7401", "node-c:7401", "node-d:7401"}), 64, 3);
  const auto b = must_place(ids({"node-d:7401", "node-b:7401", "node-a:7401", "node-c:7401"}), 64, 3);
  REQUIRE(a.members == b.members);
  for (std::uint32_t p = 0; p < 64; ++p) CHECK(replica_ids(a, p) == replica_ids(b, p));
}

TEST_CASE("each partition has replication-factor distinct replicas, capped at the member count", "[cluster][placement]") {
  const auto t = must_place(ids({"n1", "n2", "n3", "n4", "n5"}), 256, 3);
  CHECK(t.replication_factor == 3);
  for (std::uint32_t p = 0; p < 256; ++p) {
    const auto& r = t.replicas[p];
    REQUIRE(r.size() == 3);
    CHECK(std::set<std::uint32_t>(r.begin(), r.end()).size() == 3);
    for (auto i : r) CHECK(i < t.members.size());
  }
  const auto two = must_place(ids({"n1", "n2"}), 8, 3);
  CHECK(two.replication_factor == 2);
  for (const auto& r : two.replicas) CHECK(r.size() == 2);
  const auto one = must_place(ids({"solo"}), 8, 3);
  for (const auto& r : one.replicas) CHECK(r == std::vector<std::uint32_t>{0});
}

TEST_CASE("preferred leaders and copies spread over the members", "[cluster][placement]") {
  const auto t = must_place(ids({"node-1", "node-2", "node-3", "node-4", "node-5", "node-6"}), 1024, 3);
  std::map<std::uint32_t, int> leads, copies;
  for (const auto& r : t.replicas) {
    ++leads[r.front()];
    for (auto i : r) ++copies[i];
  }
  // 1024 partitions over 6 members: 170.7 leaders and 512 copies each on
  // average; a sound hash stays within ±25 % of that.
  for (std::uint32_t m = 0; m < 6; ++m) {
    INFO(t.members[m] << " leads " << leads[m] << ", holds " << copies[m]);
    CHECK(leads[m] > 128);
    CHECK(leads[m] < 214);
    CHECK(copies[m] > 384);
    CHECK(copies[m] < 640);
    CHECK(t.preferred_by(m).size() == static_cast<std::size_t>(leads[m]));
  }
}

TEST_CASE("a member that joins takes only partitions it enters; the others keep their order", "[cluster][placement]") {
  const auto before = must_place(ids({"a", "b", "c", "d", "e"}), 512, 3);
  const auto after = must_place(ids({"a", "b", "c", "d", "e", "f"}), 512, 3);
  std::uint32_t moved = 0;
  for (std::uint32_t p = 0; p < 512; ++p) {
    const auto old_r = replica_ids(before, p), new_r = replica_ids(after, p);
    if (old_r == new_r) continue;
    ++moved;
    INFO("partition " << p);
    REQUIRE(std::find(new_r.begin(), new_r.end(), "f") != new_r.end());
    std::vector<std::string> kept;
    std::copy_if(new_r.begin(), new_r.end(), std::back_inserter(kept), [](auto& id) { return id != "f"; });
    // The members that stay are the old best ones, in the old order.
    CHECK(std::equal(kept.begin(), kept.end(), old_r.begin()));
  }
  // Expected: rf/n = 3/6 of the partitions gain the new member.
  INFO("moved " << moved);
  CHECK(moved > 192);
  CHECK(moved < 320);
}

TEST_CASE("a member that leaves moves only the partitions it held", "[cluster][placement]") {
  const auto before = must_place(ids({"a", "b", "c", "d", "e"}), 512, 3);
  const auto after = must_place(ids({"a", "b", "d", "e"}), 512, 3);
  for (std::uint32_t p = 0; p < 512; ++p) {
    const auto old_r = replica_ids(before, p), new_r = replica_ids(after, p);
    INFO("partition " << p);
    if (std::find(old_r.begin(), old_r.end(), "c") == old_r.end()) {
      CHECK(new_r == old_r);
    } else {
      std::vector<std::string> kept;
      std::copy_if(old_r.begin(), old_r.end(), std::back_inserter(kept), [](auto& id) { return id != "c"; });
      CHECK(std::equal(kept.begin(), kept.end(), new_r.begin()));
    }
  }
}

TEST_CASE("scores are pinned: they decide where data lives", "[cluster][placement]") {
  // Changing the hash moves every partition of every cluster on upgrade.
  CHECK(score("node-a:7401", 0) == score("node-a:7401", 0));
  CHECK(score("node-a:7401", 0) != score("node-a:7401", 1));
  CHECK(score("node-a:7401", 0) != score("node-b:7401", 0));
  CHECK(score("", 0) == 0xffe876037f2d8f9eull);
  CHECK(score("node-a:7401", 7) == 0x4512c60bdb657874ull);
}

TEST_CASE("the fingerprint tells tables placed from different inputs apart", "[cluster][placement]") {
  std::string error;
  const auto base = fingerprint(place(ids({"a:1", "b:1", "c:1"}), 64, 3, &error));
  // The same inputs in any order, at any node.
  CHECK(fingerprint(place(ids({"c:1", "a:1", "b:1"}), 64, 3, &error)) == base);
  // Another member list (one more, one fewer, one renamed), partition count
  // or replication factor.
  CHECK(fingerprint(place(ids({"a:1", "b:1", "c:1", "d:1"}), 64, 3, &error)) != base);
  CHECK(fingerprint(place(ids({"a:1", "b:1"}), 64, 3, &error)) != base);
  CHECK(fingerprint(place(ids({"a:1", "b:1", "c:2"}), 64, 3, &error)) != base);
  CHECK(fingerprint(place(ids({"a:1", "b:1", "c:1"}), 16, 3, &error)) != base);
  CHECK(fingerprint(place(ids({"a:1", "b:1", "c:1"}), 64, 2, &error)) != base);
  // Ids are delimited: "ab" + "c" is not "a" + "bc".
  CHECK(fingerprint(place(ids({"ab", "c"}), 64, 2, &error)) != fingerprint(place(ids({"a", "bc"}), 64, 2, &error)));
}

TEST_CASE("bad member lists are refused with a reason", "[cluster][placement]") {
  std::string error;
  CHECK(place({}, 64, 3, &error).members.empty());
  CHECK(error.find("at least one member") != std::string::npos);
  CHECK(place(ids({"a", "b", "a"}), 64, 3, &error).members.empty());
  CHECK(error.find("'a' appears twice") != std::string::npos);
  CHECK(place(ids({"a", "b c"}), 64, 3, &error).members.empty());
  CHECK(error.find("bad member id 'b c'") != std::string::npos);
  CHECK(place(ids({"a"}), 0, 3, &error).members.empty());
  CHECK(place(ids({"a"}), 64, 0, &error).members.empty());
  CHECK(error.find("replication factor") != std::string::npos);
  CHECK_FALSE(valid_member_id(std::string(65, 'x')));
  CHECK(valid_member_id(std::string(64, 'x')));
}

TEST_CASE("a tenant's orders have one home partition, spread over the partitions", "[cluster][placement]") {
  std::map<std::uint32_t, int> homes;
  for (int i = 0; i < 6400; ++i) {
    const auto tenant = "tenant-" + std::to_string(i);
    const auto home = home_partition(tenant, 64);
    REQUIRE(home < 64);
    CHECK(home_partition(tenant, 64) == home);  // a function of the name alone
    ++homes[home];
  }
  // 100 tenants a partition on average; a sound hash stays within ±40 %.
  CHECK(homes.size() == 64);
  for (const auto& [p, n] : homes) {
    INFO("partition " << p << " is home to " << n);
    CHECK(n > 60);
    CHECK(n < 140);
  }
}
