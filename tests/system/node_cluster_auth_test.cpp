// Tenants and keys across three real nodes (app/auth_sync.hpp,
// auth/replication.hpp): a key created through one node works at the others
// within seconds, and its revocation through another reaches every node; a
// tenant's suspend and resume, the later wins at every node.
#include "tests/system/cluster_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// Sends `request` until its answer is not UNAVAILABLE (a partition without a
// leader for a moment: leaders may move), a few times; the same idempotency
// key every time, so a retry never applies it twice.
value call_retrying(session& s, const object& request) {
  value r;
  for (int attempt = 0; attempt < 20; ++attempt) {
    r = s.call(request);
    if (code(r) != "UNAVAILABLE") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return r;
}

// Whether `token` authenticates at every node of `c` now.
bool everywhere(cluster3& c, const std::string& token) {
  for (auto& n : c.nodes)
    if (!authenticates(*n, token)) return false;
  return true;
}

// Whether `token` authenticates at no node of `c` now.
bool nowhere(cluster3& c, const std::string& token) {
  for (auto& n : c.nodes)
    if (authenticates(*n, token)) return false;
  return true;
}

// Whether `holds` stays true for `how_long` (checked every 200 ms).
template <class F>
bool stays(F holds, std::chrono::milliseconds how_long) {
  const auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) {
    if (!holds()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

// tenant.suspend or tenant.resume of `tenant` through `node`.
void set_status(test_node& node, const char* op, const std::string& tenant) {
  session system(node, encoding::json, system_token);
  const value r = system.call({{"op", op}, {"tenant", tenant}});
  INFO(op << ": " << Catch::Detail::stringify(r));
  REQUIRE(ok(r));
}

}  // namespace

TEST_CASE("cluster: a tenant suspended through one node and resumed through another works at every node; "
          "suspended again through the third, it is suspended at every node",
          "[node][cluster][auth]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  const tenant_keys acme = create_tenant(*c.nodes[0], "acme");
  REQUIRE(eventually([&] { return everywhere(c, acme.reader); }, std::chrono::seconds(10)));
  // Some stock to read, before the suspension.
  {
    session writer(*c.nodes[0], encoding::json, acme.writer);
    const value r = call_retrying(
        writer, {{"op", "stock.adjust"}, {"warehouse", "w1"}, {"sku", "lamp"}, {"delta", 3}, {"idem", "adj-1"}});
    INFO(Catch::Detail::stringify(r));
    REQUIRE(ok(r));
  }

  set_status(*c.nodes[0], "tenant.suspend", "acme");
  CHECK(eventually([&] { return nowhere(c, acme.reader); }, std::chrono::seconds(10)));

  // Resumed through node 2: every node serves acme again, and stays so (no
  // node's older table suspends it again).
  set_status(*c.nodes[1], "tenant.resume", "acme");
  const auto resumed = std::chrono::steady_clock::now();
  CHECK(eventually([&] { return everywhere(c, acme.reader); }, std::chrono::seconds(10)));
  INFO("the resume reached every node after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - resumed).count()
       << " ms");
  CHECK(stays([&] { return everywhere(c, acme.reader); }, std::chrono::seconds(3)));
  for (auto& n : c.nodes) {
    session reader(*n, encoding::json, acme.reader);
    const value got = call_retrying(reader, {{"op", "stock.get"}, {"warehouse", "w1"}, {"sku", "lamp"}});
    INFO(Catch::Detail::stringify(got));
    REQUIRE(ok(got));
    CHECK(integer(got, "record.on_hand") == 3);
  }

  // Suspended again through node 3, later: suspended at every node, and
  // stays so.
  set_status(*c.nodes[2], "tenant.suspend", "acme");
  CHECK(eventually([&] { return nowhere(c, acme.reader); }, std::chrono::seconds(10)));
  CHECK(stays([&] { return nowhere(c, acme.reader); }, std::chrono::seconds(3)));
  for (auto& n : c.nodes) n->stop();
}

TEST_CASE("cluster: a key made through one node works at every node; its revocation through another reaches all",
          "[node][cluster][auth]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  auto& a = *c.nodes[0];
  auto& b = *c.nodes[1];
  auto& n3 = *c.nodes[2];  // "C"

  // Made through A only: B and C have never heard of acme.
  const tenant_keys acme = create_tenant(a, "acme");
  CHECK(authenticates(a, acme.writer));
  const auto created = std::chrono::steady_clock::now();
  CHECK(eventually([&] { return authenticates(b, acme.writer) && authenticates(n3, acme.writer); },
                   std::chrono::seconds(10)));
  INFO("the key reached B and C after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - created).count()
       << " ms");

  // The writer works for data through C and B (forwarded to each record's
  // leader, wherever it is).
  session writer_c(n3, encoding::json, acme.writer);
  const value adjusted = call_retrying(
      writer_c, {{"op", "stock.adjust"}, {"warehouse", "w1"}, {"sku", "lamp"}, {"delta", 7}, {"idem", "adj-1"}});
  INFO(Catch::Detail::stringify(adjusted));
  REQUIRE(ok(adjusted));
  {
    session writer_b(b, encoding::json, acme.writer);
    const value got = call_retrying(writer_b, {{"op", "stock.get"}, {"warehouse", "w1"}, {"sku", "lamp"}});
    INFO(Catch::Detail::stringify(got));
    REQUIRE(ok(got));
    CHECK(integer(got, "record.on_hand") == 7);
  }

  // Sessions of the writer open at A and C, then the key revoked through B
  // (by acme's admin, whose key also came over from A).
  session writer_a(a, encoding::json, acme.writer);
  CHECK(ok(writer_a.call({{"op", "ping"}})));
  CHECK(ok(writer_c.call({{"op", "ping"}})));
  session admin_b(b, encoding::json, acme.admin);
  CHECK(ok(admin_b.call({{"op", "key.revoke"}, {"key_id", acme.writer_key_id}})));
  CHECK_FALSE(authenticates(b, acme.writer));

  // Within 10 s: A and C refuse the token on new connections, and the open
  // sessions are closed (1008) or have their requests refused.
  CHECK(eventually([&] { return !authenticates(a, acme.writer) && !authenticates(n3, acme.writer); },
                   std::chrono::seconds(10)));
  const object sale{{"op", "stock.adjust"}, {"warehouse", "w1"}, {"sku", "lamp"}, {"delta", -1}, {"idem", "adj-2"}};
  for (session* s : {&writer_a, &writer_c}) {
    CHECK(refused(*s, sale));
    if (!s->ended()) CHECK(s->wait_close(std::chrono::seconds(5)) == 1008);
  }
  // Other keys of acme are untouched, and nothing was sold.
  session reader_a(a, encoding::json, acme.reader);
  const value after = call_retrying(reader_a, {{"op", "stock.get"}, {"warehouse", "w1"}, {"sku", "lamp"}});
  INFO(Catch::Detail::stringify(after));
  REQUIRE(ok(after));
  CHECK(integer(after, "record.on_hand") == 7);

  for (auto& n : c.nodes) n->stop();
}
