// A network that a test can cut: each node in a network namespace of its
// own, joined to the test by two bridges (node_partition_test.cpp).
//
// On one loopback a node's connections all come from 127.0.0.1, so no rule
// can drop one node's cluster traffic and keep the others'. Instead the test
// process moves itself into a new network namespace (test_network), where it
// makes two bridges: `brc` for cluster traffic (10.77.0.254/24) and `brg`
// for the gateways (10.78.0.254/24). Node i lives in the namespace of a
// holder process (`unshare -n ... sleep`, node_network) with two veth ends:
// 10.77.0.{i+1} on brc and 10.78.0.{i+1} on brg, and starts through
// `nsenter -t HOLDER -n --`. cut() downs the host end of its brc veth, so
// its cluster traffic stops both ways while its gateway stays reachable;
// heal() brings it up again.
//
// Everything lives in namespaces the test made: the test's own dies with the
// test process, a node's with its holder and the node. Needs root (unshare,
// ip); without it the constructors' REQUIREs fail, saying so.
#pragma once

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"

namespace stockgrid::node_test {

// Runs a command (ip, nsenter) that must succeed.
inline void must_run(const std::string& command) {
  const auto r = testing::run_command(command, 10);
  INFO(command << ": exit " << r.exit_code << ": " << r.output);
  REQUIRE(r.exit_code == 0);
}

// The test process's own network namespace and its two bridges. Make it
// first thing in the test, on the main thread before any other thread
// exists: unshare moves only the calling thread, and the threads and
// processes it starts afterwards inherit its namespace.
class test_network {
 public:
  test_network() {
    const int moved = ::unshare(CLONE_NEWNET);
    INFO("unshare(CLONE_NEWNET): " << std::strerror(errno)
                                   << ": this test needs root to make network namespaces");
    REQUIRE(moved == 0);
    must_run("ip link set lo up");
    for (const auto& [bridge, address] : {std::pair{"brc", "10.77.0.254/24"}, std::pair{"brg", "10.78.0.254/24"}}) {
      must_run(std::string("ip link add ") + bridge + " type bridge");
      must_run(std::string("ip addr add ") + address + " dev " + bridge);
      must_run(std::string("ip link set ") + bridge + " up");
    }
  }
};

// Node i's network namespace, held by a `sleep` that the destructor kills.
class node_network {
 public:
  explicit node_network(std::size_t i)
      : index_(i),
        holder_({"/usr/bin/unshare", "-n", "/bin/sh", "-c", "echo ready; exec sleep 600"}) {
    const auto line = holder_.read_line();  // EOF if unshare failed (not root)
    INFO("unshare -n: this test needs root to make network namespaces");
    REQUIRE((line && *line == "ready"));
    const std::string in = "nsenter -t " + std::to_string(holder_.pid()) + " -n ";
    must_run(in + "ip link set lo up");
    // vc<i> on brc carries its cluster traffic, vg<i> on brg its gateway's.
    for (const auto& [link, bridge, net] : {std::tuple{"vc", "brc", "10.77.0."}, std::tuple{"vg", "brg", "10.78.0."}}) {
      const std::string outer = link + std::to_string(i), inner = outer + "n";
      must_run("ip link add " + outer + " type veth peer name " + inner);
      must_run("ip link set " + inner + " netns " + std::to_string(holder_.pid()));
      must_run("ip link set " + outer + " master " + bridge + " up");
      must_run(in + "ip addr add " + net + std::to_string(i + 1) + "/24 dev " + inner);
      must_run(in + "ip link set " + inner + " up");
    }
  }

  std::string cluster_address() const { return "10.77.0." + std::to_string(index_ + 1); }
  std::string gateway_address() const { return "10.78.0." + std::to_string(index_ + 1); }
  // Runs a program in the namespace (it must exec the rest of the command).
  std::vector<std::string> launcher() const {
    return {"/usr/bin/nsenter", "-t", std::to_string(holder_.pid()), "-n", "--"};
  }
  // Cuts the node's cluster link, both ways; its gateway stays reachable.
  void cut() { must_run("ip link set vc" + std::to_string(index_) + " down"); }
  void heal() { must_run("ip link set vc" + std::to_string(index_) + " up"); }

 private:
  std::size_t index_;
  testing::child_process holder_;
};

}  // namespace stockgrid::node_test
