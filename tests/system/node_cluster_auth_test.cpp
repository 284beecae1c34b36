// Tenants and keys across three real nodes (app/auth_sync.hpp,
// auth/replication.hpp): a key created through one node works at the others
// within seconds, and its revocation through another reaches every node.
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

}  // namespace

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
