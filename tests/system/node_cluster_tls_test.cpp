// TLS between three real nodes (docs/cluster.md, "TLS between nodes"): the
// members' certificates are made here by the openssl tool, in the test's
// temp dir, from a CA of the cluster's and, for the intruder, from another
// CA. Nodes with the cluster's certificates join and replicate; a node whose
// certificate the cluster's CA did not sign never counts as up anywhere, even
// though it trusts the cluster's CA itself (so only the others' check of its
// certificate stops it).
#include "tests/system/cluster_fixture.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;
using stockgrid::testing::run_command;

namespace {

// Certificates and keys (PEM, EC P-256, unencrypted) in a directory of their
// own: a CA is `NAME.pem` with `NAME.key`, self-signed; a node's is signed
// by a CA.
struct certificates {
  stockgrid::testing::temp_dir dir;

  certificates() {
    const auto r = run_command("openssl version", 30);
    INFO(r.output);
    if (r.exit_code != 0) FAIL("the openssl command-line tool is needed (scripts/setup installs it)");
  }

  std::string file(const std::string& name, const char* ext) const { return dir.path() + "/" + name + ext; }

  void openssl(const std::string& args) const {
    const auto r = run_command("openssl " + args, 60);
    INFO("openssl " << args << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  }

  // A new EC key at NAME.key; `request` are the req options that follow.
  void key_and(const std::string& name, const std::string& request) const {
    openssl("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file(name, ".key") + " -subj /CN=" +
            name + " " + request);
  }

  void ca(const std::string& name) const { key_and(name, "-x509 -days 2 -out " + file(name, ".pem")); }

  void node(const std::string& name, const std::string& ca) const {
    key_and(name, "-out " + file(name, ".csr"));
    openssl("x509 -req -days 2 -in " + file(name, ".csr") + " -CA " + file(ca, ".pem") + " -CAkey " +
            file(ca, ".key") + " -out " + file(name, ".pem"));
  }

  // The TLS options of a node with certificate `name`, trusting CA `ca`.
  std::vector<std::string> args(const std::string& name, const std::string& ca) const {
    return {"--tls-certificate", file(name, ".pem"), "--tls-key", file(name, ".key"), "--tls-ca", file(ca, ".pem")};
  }
};

// How many lines of `node`'s log contain `text`.
std::size_t lines_with(test_node& node, const std::string& text) {
  const std::string log = node.log();
  std::size_t n = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
  return n;
}

// What node `i` of `c` logged so far about its connections (lines of
// actors/cluster_actor.cpp): made with the third member, in either
// direction, and lost with the other one.
struct connection_lines {
  std::size_t with_third = 0, lost_other = 0;
  connection_lines(cluster3& c, std::size_t i) {
    auto& node = *c.nodes[i];
    with_third = lines_with(node, "cluster: connected to " + c.id(2)) + lines_with(node, "cluster: " + c.id(2) + " connected");
    lost_other = lines_with(node, "cluster: lost " + c.id(1 - i));
  }
};

}  // namespace

TEST_CASE("cluster: over TLS, members with the cluster's certificates join; a node with a wrong certificate is "
          "refused",
          "[node][cluster][tls]") {
  certificates pki;
  pki.ca("cluster-ca");
  pki.ca("other-ca");
  for (int i = 0; i < 3; ++i) pki.node("node" + std::to_string(i), "cluster-ca");
  pki.node("intruder", "other-ca");

  constexpr int failure_timeout_ms = 1000;
  cluster3 c(3, failure_timeout_ms, {}, [&](std::size_t i) { return pki.args("node" + std::to_string(i), "cluster-ca"); });
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  CHECK(c.nodes[0]->log().find("(TLS)") != std::string::npos);

  // A write through node 1 is read back through node 3 (wherever each
  // partition's leader is, the requests cross nodes).
  const tenant_keys t = create_tenant(*c.nodes[0], "acme");
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return authenticates(*n, t.writer) && authenticates(*n, t.reader); }));
  {
    session w(*c.nodes[0], encoding::json, t.writer);
    for (int i = 0; i < 8; ++i) {
      const object adjust{{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", "sku-" + std::to_string(i)},
                          {"delta", 10 + i}, {"idem", "adj-" + std::to_string(i)}};
      CHECK(eventually([&] { return ok(w.call(adjust)); }, 20s));  // the same idem: applied once
    }
  }
  {
    session r(*c.nodes[2], encoding::json, t.reader);
    for (int i = 0; i < 8; ++i) {
      const value got = r.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", "sku-" + std::to_string(i)}});
      INFO(Catch::Detail::stringify(got));
      REQUIRE(ok(got));
      CHECK(integer(got, "record.on_hand") == 10 + i);
    }
  }

  // Node 3 is replaced, on its address and data dir, by a node whose
  // certificate another CA signed. It trusts the cluster's CA, so it would
  // accept the others: only their check of its certificate keeps it out.
  const std::string third = c.id(2);
  c.nodes[2]->stop();
  for (std::size_t i = 0; i < 2; ++i) REQUIRE(eventually([&] { return !up_as_seen_by(*c.nodes[i])[third]; }));
  const connection_lines before[2] = {{c, 0}, {c, 1}};
  node_options intruder = c.options[2];
  intruder.args.resize(intruder.args.size() - 6);  // the TLS options more_args added
  std::ranges::copy(pki.args("intruder", "cluster-ca"), std::back_inserter(intruder.args));
  intruder.args.insert(intruder.args.end(), {"--log-level", "debug"});  // logs its failed attempts
  c.nodes[2] = std::make_unique<test_node>(intruder);
  // It runs: the refusal is per connection. For three failure timeouts
  // (each time every node has tried to connect to every other several
  // times), no one sees the other side up; the others never logged a
  // connection with it (the first heartbeat over one would have been), and
  // its refused handshakes did not cost them their connection to each other
  // (cluster_tls.cpp: CAF 0.17.6 closed it after each, unless OpenSSL's
  // error queue is emptied).
  auto& bad = *c.nodes[2];
  const auto window_end = std::chrono::steady_clock::now() + 3 * std::chrono::milliseconds(failure_timeout_ms);
  int polls = 0;
  while (std::chrono::steady_clock::now() < window_end && polls++ < 200) {
    for (std::size_t i = 0; i < 2; ++i) {
      INFO("node " << i + 1 << " polled " << polls << " times");
      REQUIRE_FALSE(up_as_seen_by(*c.nodes[i])[third]);
      REQUIRE_FALSE(up_as_seen_by(bad)[c.id(i)]);
    }
    std::this_thread::sleep_for(50ms);
  }
  CHECK(bad.status() == "running");
  CHECK(bad.log().find("cannot connect to " + c.id(0)) != std::string::npos);  // it did try
  for (std::size_t i = 0; i < 2; ++i) {
    INFO("node " << i + 1 << " log:\n" << c.nodes[i]->log());
    const connection_lines after(c, i);
    CHECK(after.with_third == before[i].with_third);
    CHECK(after.lost_other == before[i].lost_other);
    CHECK(up_as_seen_by(*c.nodes[i])[c.id(1 - i)]);
  }
  bad.stop();

  // With its own certificate again, the same member is back.
  c.nodes[2] = std::make_unique<test_node>(c.options[2]);
  for (auto& n : c.nodes) CHECK(eventually([&] { return all_up(*n, c.ports); }));
  for (auto& n : c.nodes) n->stop();
}

TEST_CASE("cluster: TLS settings that are incomplete or do not load are a usage error naming the key",
          "[node][cluster][tls]") {
  certificates pki;
  pki.ca("cluster-ca");
  pki.node("node0", "cluster-ca");
  const std::string program = stockgrid::testing::built_program("app/stockgrid");
  stockgrid::testing::temp_dir data;
  const std::string node = program + " --data-dir " + data.path() + " --join 127.0.0.1:7402";
  const std::string cert = pki.file("node0", ".pem"), key = pki.file("node0", ".key"),
                    ca = pki.file("cluster-ca", ".pem");
  for (const auto& [args, expected] : std::vector<std::pair<std::string, std::string>>{
           {" --tls-certificate " + cert + " --tls-key " + key, "tls-ca is empty"},
           {" --tls-ca " + ca, "tls-certificate is empty"},
           {" --tls-certificate " + cert + " --tls-key " + ca + " --tls-ca " + ca, "tls-key: cannot load"},
           {" --tls-certificate " + cert + " --tls-key " + pki.file("cluster-ca", ".key") + " --tls-ca " + ca,
            "key values mismatch"},
           {" --tls-certificate " + data.path() + "/none.pem --tls-key " + key + " --tls-ca " + ca,
            "tls-certificate: cannot load"},
       }) {
    INFO(args);
    const auto r = run_command(node + args, 30);
    INFO(r.output);
    CHECK(r.exit_code == 1);  // exit_usage
    CHECK(r.output.find(expected) != std::string::npos);
  }
}
