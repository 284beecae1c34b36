// Three real nodes on loopback joined by CAF's middleman: membership,
// failure detection and the placement every node computes (cluster.status).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <thread>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// A port no one listens on now (the kernel's pick for a socket bound to 0).
std::uint16_t unused_port() {
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

std::string member(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// Three nodes, each joined to the other two (4 partitions: node_fixture).
struct cluster3 {
  std::vector<std::uint16_t> ports{unused_port(), unused_port(), unused_port()};
  std::vector<std::unique_ptr<test_node>> nodes;

  cluster3() {
    for (std::size_t i = 0; i < 3; ++i) {
      std::string join;
      for (std::size_t j = 0; j < 3; ++j)
        if (j != i) join += (join.empty() ? "" : ",") + member(ports[j]);
      node_options o = without_demo();
      o.args = {"--cluster-port", std::to_string(ports[i]), "--join", join,
                "--heartbeat-interval-ms", "100", "--failure-timeout-ms", "1000", "--connect-timeout-ms", "500"};
      nodes.push_back(std::make_unique<test_node>(std::move(o)));
    }
  }
};

value status_of(test_node& node) {
  session s(node, encoding::json, system_token);
  const value r = s.call({{"op", "cluster.status"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  return r;
}

// member id -> up, as `node` sees it.
std::map<std::string, bool> up_as_seen_by(test_node& node) {
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

bool all_up(test_node& node, const std::vector<std::uint16_t>& ports) {
  auto seen = up_as_seen_by(node);
  for (auto p : ports)
    if (!seen[member(p)]) return false;
  return seen.size() == ports.size();
}

}  // namespace

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
      // With everyone up the leader is the preferred (first) replica.
      CHECK(text(p, "leader") == *items(p, "replicas")[0].as_string());
      replicas.push_back(at(p, "replicas"));
    }
    tables.emplace_back(replicas);
  }
  CHECK(tables[0] == tables[1]);
  CHECK(tables[1] == tables[2]);
  for (auto& n : c.nodes) n->stop();
}

TEST_CASE("cluster: a killed node and a frozen node are down for the others; the frozen one comes back",
          "[node][cluster]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  auto& a = *c.nodes[0];
  const std::string b = member(c.ports[1]), frozen = member(c.ports[2]);

  ::kill(c.nodes[1]->pid(), SIGKILL);
  REQUIRE(eventually([&] { return !up_as_seen_by(a)[b]; }, std::chrono::seconds(10)));
  const value after_kill = status_of(a);
  for (const value& p : items(after_kill, "partitions")) CHECK(text(p, "leader") != b);

  // SIGSTOP: the connection stays open but nothing is heard; the failure
  // timeout (1 s here) makes it down. SIGCONT: up again.
  ::kill(c.nodes[2]->pid(), SIGSTOP);
  REQUIRE(eventually([&] { return !up_as_seen_by(a)[frozen]; }, std::chrono::seconds(10)));
  const value alone = status_of(a);
  for (const value& p : items(alone, "partitions")) CHECK(text(p, "leader") == member(c.ports[0]));
  ::kill(c.nodes[2]->pid(), SIGCONT);
  CHECK(eventually([&] { return up_as_seen_by(a)[frozen]; }, std::chrono::seconds(10)));
  CHECK(eventually([&] { return up_as_seen_by(*c.nodes[2])[member(c.ports[0])]; }, std::chrono::seconds(10)));
  c.nodes[0]->stop();
  c.nodes[2]->stop();
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
