// Three real nodes on loopback joined into a cluster, and what the cluster
// tests ask of them (node_cluster_test.cpp, node_replication_test.cpp).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "tests/system/node_fixture.hpp"

namespace stockgrid::node_test {


// A port no one listens on now (the kernel's pick for a socket bound to 0).
inline std::uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string member(std::uint16_t port, const std::string& host = "127.0.0.1") {
  return host + ":" + std::to_string(port);
}

// In the ASan build, cluster nodes do not check for leaks at exit. CAF
// 0.17.6's middleman can leave its BASP broker in a reference cycle when a
// peer goes away while the node stops: once in a CI run, LeakSanitizer
// reported 22 blocks, every one allocated inside libcaf_io or libcaf_core
// (the broker, a helper actor it spawned, its maps, node ids), none of
// ours. Debian's CAF has no frame pointers, so their stacks end after one
// frame and no suppression can name them without also hiding leaks of our
// own actors. Single nodes (no middleman) keep the leak check, and so does
// every in-process test of the actors. Everything else ASan checks stays on.
// (A build without ASan ignores the variable.)
inline std::vector<std::string> cluster_node_env() {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return {std::string("ASAN_OPTIONS=") + (asan != nullptr ? std::string(asan) + ":" : "") + "detect_leaks=0"};
}

// Where a node listens: the address of its cluster port (its member id's
// host) and its gateway's (node_options::host).
struct node_address {
  std::string cluster = "127.0.0.1";
  std::string gateway = "127.0.0.1";
};

// The program node i starts through (node_options::launcher), from its
// index and data dir.
using node_launcher = std::function<std::vector<std::string>(std::size_t node, const std::string& data_dir)>;

// Three nodes, each joined to the other two (`partitions` partitions, 4 by
// default), each with its data dir under `dir` (so a test can restart one
// on it and read its journals). `launcher`, when set, gives each node the
// program it starts through: a test puts a node's files on a disk of its
// own (tmpfs_namespace.hpp), or the node in a network namespace of its own
// (node_partition_test.cpp), whose addresses `addresses` then gives.
// `more_args`, when set, gives node i extra command-line options (TLS
// files).
struct cluster3 {
  std::vector<std::uint16_t> ports{unused_port(), unused_port(), unused_port()};
  std::vector<node_address> where;
  testing::temp_dir dir;
  std::vector<node_options> options;
  std::vector<std::unique_ptr<test_node>> nodes;

  explicit cluster3(int replication_factor = 3, int failure_timeout_ms = 1000, const node_launcher& launcher = {},
                    const std::function<std::vector<std::string>(std::size_t)>& more_args = {},
                    std::uint32_t partitions = 4, std::vector<node_address> addresses = std::vector<node_address>(3))
      : where(std::move(addresses)) {
    for (std::size_t i = 0; i < 3; ++i) {
      std::string join;
      for (std::size_t j = 0; j < 3; ++j)
        if (j != i) join += (join.empty() ? "" : ",") + id(j);
      node_options o = without_demo();
      o.data_dir = data_dir(i);
      o.env = cluster_node_env();
      o.partitions = partitions;
      o.host = where[i].gateway;
      // A fixed gateway port, so a node restarted on its data dir is where
      // clients given every node's URL look for it.
      if (where[i].gateway == "127.0.0.1") o.port = unused_port();
      if (launcher) o.launcher = launcher(i, o.data_dir);
      o.args = {"--cluster-bind", where[i].cluster, "--cluster-port", std::to_string(ports[i]), "--join", join,
                "--replication-factor", std::to_string(replication_factor),
                "--heartbeat-interval-ms", "100", "--failure-timeout-ms", std::to_string(failure_timeout_ms),
                "--connect-timeout-ms", "500"};
      if (more_args) std::ranges::copy(more_args(i), std::back_inserter(o.args));
      options.push_back(o);
      nodes.push_back(std::make_unique<test_node>(std::move(o)));
    }
  }
  std::string data_dir(std::size_t i) const { return dir.path() + "/node" + std::to_string(i); }
  std::string id(std::size_t i) const { return member(ports[i], where[i].cluster); }
  std::vector<std::string> ids() const { return {id(0), id(1), id(2)}; }
  std::size_t index_of(const std::string& id) const {
    for (std::size_t i = 0; i < 3; ++i)
      if (this->id(i) == id) return i;
    return 3;
  }
};

inline value status_of(test_node& node) {
  session s(node, encoding::json, system_token);
  const value r = s.call({{"op", "cluster.status"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  return r;
}

// member id -> up, as `node` sees it.
inline std::map<std::string, bool> up_as_seen_by(test_node& node) {
  std::map<std::string, bool> out;
  const value status = status_of(node);
  for (const value& m : items(status, "members")) out[text(m, "id")] = at(m, "up") == value(true);
  return out;
}

// Polls until `want` holds (at most `limit`); returns whether it did.
template <class F>
bool eventually(F want, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (want()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Whether `node` sees exactly these members, all up.
inline bool all_up(test_node& node, const std::vector<std::string>& ids) {
  auto seen = up_as_seen_by(node);
  for (const auto& id : ids)
    if (!seen[id]) return false;
  return seen.size() == ids.size();
}
inline bool all_up(test_node& node, const std::vector<std::uint16_t>& ports) {
  std::vector<std::string> ids;
  for (auto p : ports) ids.push_back(member(p));
  return all_up(node, ids);
}


// Partition -> its leader's id, as `node` sees it (partitions with none
// left out).
inline std::map<std::int64_t, std::string> leaders_seen_by(test_node& node) {
  std::map<std::int64_t, std::string> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions"))
    if (auto leader = text(p, "leader"); !leader.empty()) out[integer(p, "partition")] = leader;
  return out;
}

// The partitions `node` itself leads and serves now.
inline std::set<std::int64_t> serving(test_node& node) {
  std::set<std::int64_t> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions"))
    if (text(p, "leader") == text(status, "self")) out.insert(integer(p, "partition"));
  return out;
}

// Partition -> leader for the partitions on whose leader every running node
// of `c` agrees.
inline std::map<std::int64_t, std::string> leaders_agreed(cluster3& c) {
  std::map<std::int64_t, std::string> agreed;
  bool first = true;
  for (auto& n : c.nodes) {
    if (n->status() != "running") continue;
    auto seen = leaders_seen_by(*n);
    if (first) {
      agreed = seen;
      first = false;
      continue;
    }
    std::erase_if(agreed, [&](const auto& kv) { return seen[kv.first] != kv.second; });
  }
  return agreed;
}

// Whether `token` authenticates at `node` now (a fresh connection).
inline bool authenticates(test_node& node, const std::string& token) {
  session s(node, encoding::json);
  return ok(s.call({{"op", "auth"}, {"token", token}}));
}

// Whether an answer settles a request: anything but UNAVAILABLE, TIMEOUT
// and OVERLOADED, which a client retries.
inline bool settled(const value& r) {
  const auto c = code(r);
  return c != "UNAVAILABLE" && c != "TIMEOUT" && c != "OVERLOADED";
}

// Sends `request` until it settles (an answer other than UNAVAILABLE,
// TIMEOUT or OVERLOADED), at most `limit` long; the same idempotency key
// every time, so a retry never applies it twice.
inline value call_settled(session& s, const object& request, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const value r = s.call(request);
    if (settled(r) || std::chrono::steady_clock::now() > deadline) return r;
    std::this_thread::sleep_for(50ms);
  }
}

// A tenant made through node 0, whose keys then work at every node (tenants
// and keys are merged across members, app/auth_sync.hpp); `keys[i]` are
// the ones to use at node i (the same everywhere).
struct tenant_everywhere {
  std::vector<tenant_keys> keys;
  explicit tenant_everywhere(cluster3& c, const std::string& name) {
    const auto t = create_tenant(*c.nodes[0], name);
    for (auto& n : c.nodes)
      REQUIRE(eventually([&] { return authenticates(*n, t.writer) && authenticates(*n, t.reader); }));
    keys.assign(c.nodes.size(), t);
  }
};

inline std::string sku(int i) { return "sku-" + std::to_string(i); }

// The node that leads the most partitions, and those partitions.
inline std::pair<std::size_t, std::set<std::int64_t>> busiest_leader(cluster3& c) {
  std::map<std::string, std::set<std::int64_t>> led;
  for (const auto& [p, leader] : leaders_agreed(c)) led[leader].insert(p);
  auto best = led.begin();
  for (auto it = led.begin(); it != led.end(); ++it)
    if (it->second.size() > best->second.size()) best = it;
  REQUIRE(best != led.end());
  return {c.index_of(best->first), best->second};
}

// The entry of partition `p` in a cluster.status answer.
inline const value& partition_in(const value& status, std::int64_t p) {
  for (const value& entry : items(status, "partitions"))
    if (integer(entry, "partition") == p) return entry;
  FAIL("partition " << p << " missing from " << Catch::Detail::stringify(status));
  static const value none;
  return none;
}

// Whether the cluster has converged: every node sees the three members up
// and the same leader for every partition; each leader reports both its
// followers with lag 0, and every copy's journal ends where its leader's
// does. Otherwise `why` says what was not so. A node's status is a board it
// republishes every heartbeat, so while writes go on, copies that keep up
// still look apart: ask once they have paused for a few heartbeats
// (node_freeze_test.cpp, node_rolling_restart_test.cpp).
inline bool converged(cluster3& c, std::string* why) {
  std::vector<value> status;
  for (auto& n : c.nodes) status.push_back(status_of(*n));
  std::map<std::int64_t, std::string> leaders;
  for (std::size_t i = 0; i < 3; ++i) {
    for (const value& m : items(status[i], "members"))
      if (at(m, "up") != value(true)) {
        *why = c.id(i) + " sees " + text(m, "id") + " down";
        return false;
      }
    for (const value& p : items(status[i], "partitions")) {
      const auto n = integer(p, "partition");
      const auto leader = text(p, "leader");
      if (leader.empty() || (leaders.count(n) && leaders[n] != leader)) {
        *why = c.id(i) + " sees partition " + std::to_string(n) + " led by '" + leader + "'";
        return false;
      }
      leaders[n] = leader;
    }
  }
  for (const auto& [p, leader] : leaders) {
    const value& led = partition_in(status[c.index_of(leader)], p);
    const value* lag = at(led, "lag").as_object() ? &at(led, "lag") : nullptr;
    if (text(led, "role") != "leader" || lag == nullptr || lag->as_object()->size() != 2) {
      *why = "partition " + std::to_string(p) + " at its leader: " + Catch::Detail::stringify(led);
      return false;
    }
    for (const auto& [follower, behind] : *lag->as_object())
      if (behind != value(std::int64_t{0})) {
        *why = "partition " + std::to_string(p) + ": " + follower + " behind by " + Catch::Detail::stringify(behind);
        return false;
      }
    for (std::size_t i = 0; i < 3; ++i)
      if (integer(partition_in(status[i], p), "last_seq") != integer(led, "last_seq")) {
        *why = "partition " + std::to_string(p) + ": " + c.id(i) + "'s copy ends at " +
               std::to_string(integer(partition_in(status[i], p), "last_seq")) + ", its leader's at " +
               std::to_string(integer(led, "last_seq"));
        return false;
      }
  }
  return true;
}

}  // namespace stockgrid::node_test
