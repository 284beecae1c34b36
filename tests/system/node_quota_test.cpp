// Per-tenant quotas against a real node (docs/operations.md "Quotas"): the
// system role sets a tenant's rate and subscription limit in tenant.settings;
// the tenant over its rate gets RATE_LIMITED with retry_after_ms while
// another tenant's requests all pass; a tenant's admin sees its quotas but
// cannot change them; they survive a restart. Behaviour only: the rates are
// small, the loops bounded, nothing measures throughput.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

constexpr std::int64_t noisy_rate = 50;   // requests/s
constexpr std::int64_t noisy_burst = 20;  // requests

value get_mug(session& s) { return s.call({{"op", "stock.get"}, {"warehouse", "w1"}, {"sku", "mug"}}); }

// The system role sets `set` on `tenant`'s settings; the answer.
value system_sets(test_node& node, const std::string& tenant, object set) {
  session system(node, encoding::json, system_token);
  return system.call({{"op", "tenant.settings"}, {"tenant", tenant}, {"set", std::move(set)}});
}

// The tenant's settings as its admin reads them. Also a barrier: a change
// answered before this read reaches the node's limiter before it answers.
value settings_of(test_node& node, const tenant_keys& t) {
  session admin(node, encoding::json, t.admin);
  const value answer = admin.call({{"op", "tenant.settings"}});
  INFO(Catch::Detail::stringify(answer));
  REQUIRE(ok(answer));
  return at(answer, "settings");
}

}  // namespace

TEST_CASE("node: a tenant over its rate gets RATE_LIMITED while a quiet tenant's interleaved requests all succeed",
          "[node][quota]") {
  test_node node(without_demo());
  const auto noisy = create_tenant(node, "noisy");
  const auto quiet = create_tenant(node, "quiet");
  session a(node, encoding::json, noisy.writer);
  session b(node, encoding::json, quiet.writer);
  for (session* s : {&a, &b})
    REQUIRE(ok(s->call({{"op", "stock.set"}, {"warehouse", "w1"}, {"sku", "mug"}, {"on_hand", 10}})));

  const value set = system_sets(node, "noisy", {{"rate_per_second", noisy_rate}, {"rate_burst", noisy_burst}});
  INFO(Catch::Detail::stringify(set));
  REQUIRE(ok(set));
  CHECK(integer(set, "settings.rate_per_second") == noisy_rate);
  CHECK(integer(set, "settings.rate_burst") == noisy_burst);

  // Each admin sees the quotas that apply to it: its own, or the node's.
  const value noisy_settings = settings_of(node, noisy);
  CHECK(integer(noisy_settings, "rate_per_second") == noisy_rate);
  CHECK(integer(noisy_settings, "rate_burst") == noisy_burst);
  const value quiet_settings = settings_of(node, quiet);
  CHECK(integer(quiet_settings, "rate_per_second") == 10'000);
  CHECK(integer(quiet_settings, "rate_burst") == 20'000);
  CHECK(integer(quiet_settings, "subscriptions_max") == 5'000);

  // A sends ten times its burst, pipelined, in rounds with one of B's
  // requests in each.
  int a_ok = 0, a_limited = 0, b_ok = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 10; ++round) {
    std::vector<std::int64_t> sent;
    for (int i = 0; i < noisy_burst; ++i)
      sent.push_back(a.send({{"op", "stock.get"}, {"warehouse", "w1"}, {"sku", "mug"}}));
    const value from_b = get_mug(b);
    INFO(Catch::Detail::stringify(from_b));
    b_ok += ok(from_b);
    for (const auto id : sent) {
      const value answer = a.answer(id);
      INFO(Catch::Detail::stringify(answer));
      if (ok(answer)) {
        ++a_ok;
        continue;
      }
      REQUIRE(code(answer) == "RATE_LIMITED");
      CHECK(integer(answer, "id") == id);
      const std::int64_t retry_after_ms = integer(answer, "error.retry_after_ms");
      CHECK(retry_after_ms > 0);
      CHECK(retry_after_ms <= 1000 / noisy_rate);  // one token's wait
      ++a_limited;
    }
  }
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(b_ok == 10);
  CHECK(a_limited > 0);
  CHECK(a_ok + a_limited == 10 * noisy_burst);
  INFO("A: " << a_ok << " ok in " << elapsed_s << " s");
  CHECK(a_ok <= noisy_burst + noisy_rate * elapsed_s + 2);

  // After the wait it was told, A is served again.
  value again = get_mug(a);
  if (!ok(again)) {
    REQUIRE(code(again) == "RATE_LIMITED");
    std::this_thread::sleep_for(std::chrono::milliseconds(integer(again, "error.retry_after_ms")));
    again = get_mug(a);
  }
  INFO(Catch::Detail::stringify(again));
  CHECK(ok(again));
  node.stop();
}

TEST_CASE("node: only the system role sets quotas, naming an existing tenant; they survive a restart",
          "[node][quota]") {
  stockgrid::testing::temp_dir data;
  node_options options = without_demo();
  options.data_dir = data.path() + "/data";
  tenant_keys acme;
  {
    test_node node(options);
    acme = create_tenant(node, "acme");
    session admin(node, encoding::json, acme.admin);

    // A tenant's admin may change its other settings, never its quotas.
    for (const char* quota : {"rate_per_second", "rate_burst", "subscriptions_max"}) {
      INFO(quota);
      const value refused = admin.call({{"op", "tenant.settings"}, {"set", object{{quota, 1}}}});
      check_error(refused, "FORBIDDEN");
    }
    CHECK(ok(admin.call({{"op", "tenant.settings"}, {"set", object{{"low_stock_threshold", 3}}}})));
    // Naming a tenant changes nothing for a tenant's admin: its own is used.
    CHECK(integer(admin.call({{"op", "tenant.settings"}, {"tenant", "other"}}), "settings.low_stock_threshold") == 3);

    session system(node, encoding::json, system_token);
    check_bad_field(system.call({{"op", "tenant.settings"}, {"set", object{{"rate_burst", 5}}}}), "tenant");
    check_error(system.call({{"op", "tenant.settings"}, {"tenant", "nobody"}}), "NOT_FOUND");
    check_bad_field(
        system.call({{"op", "tenant.settings"}, {"tenant", "acme"}, {"set", object{{"rate_per_second", -1}}}}),
        "set.rate_per_second");
    // Its own rate, no burst of its own: the node's burst scaled (2 s' worth).
    const value set = system.call({{"op", "tenant.settings"}, {"tenant", "acme"}, {"set", object{{"rate_per_second", 5}}}});
    INFO(Catch::Detail::stringify(set));
    REQUIRE(ok(set));
    CHECK(integer(set, "settings.rate_per_second") == 5);
    CHECK(integer(set, "settings.rate_burst") == 10);
    CHECK(integer(set, "settings.low_stock_threshold") == 3);  // the rest kept
    // The system role's requests are not counted against any rate.
    for (int i = 0; i < 30; ++i) REQUIRE(ok(system.call({{"op", "tenant.list"}})));
    node.stop();
  }

  test_node node(options);
  const value settings = settings_of(node, acme);
  CHECK(integer(settings, "rate_per_second") == 5);
  CHECK(integer(settings, "rate_burst") == 10);
  CHECK(integer(settings, "low_stock_threshold") == 3);
  // ... and they apply from the start: at most the burst passes at once.
  session w(node, encoding::json, acme.writer);
  std::vector<std::int64_t> sent;
  for (int i = 0; i < 30; ++i) sent.push_back(w.send({{"op", "ping"}}));
  for (int i = 0; i < 30; ++i) sent.push_back(w.send({{"op", "stock.list"}}));
  int listed = 0, limited = 0;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const value answer = w.answer(sent[i]);
    if (i < 30) {
      CHECK(ok(answer));  // ping is never counted
      continue;
    }
    listed += ok(answer);
    limited += code(answer) == "RATE_LIMITED";
  }
  CHECK(limited > 0);
  CHECK(listed + limited == 30);
  CHECK(listed <= 10 + 2);
  // Back to the node's default (0): 30 more at once all pass.
  session system(node, encoding::json, system_token);
  REQUIRE(ok(system.call({{"op", "tenant.settings"}, {"tenant", "acme"}, {"set", object{{"rate_per_second", 0}}}})));
  CHECK(integer(settings_of(node, acme), "rate_per_second") == 10'000);
  // The limiter learns the change from the grid just after the answer (the
  // settings directory tells it once the document is saved): wait, bounded,
  // for a request to pass.
  bool passed = false;
  for (int i = 0; i < 100 && !passed; ++i) {
    passed = ok(w.call({{"op", "stock.list"}}));
    if (!passed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(passed);
  // The bucket keeps its tokens across a change of rate and refills at the
  // new one: 50 ms at 10,000/s is 500 tokens, room for 30 at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  sent.clear();
  for (int i = 0; i < 30; ++i) sent.push_back(w.send({{"op", "stock.list"}}));
  for (const auto id : sent) CHECK(ok(w.answer(id)));
  node.stop();
}

TEST_CASE("node: a tenant's subscriptions beyond its limit get LIMIT_EXCEEDED", "[node][quota][subscribe]") {
  test_node node(without_demo());
  const auto t = create_tenant(node, "shop");
  REQUIRE(ok(system_sets(node, "shop", {{"subscriptions_max", 2}})));
  CHECK(integer(settings_of(node, t), "subscriptions_max") == 2);

  // Two connections: the limit is the tenant's, not the connection's.
  session r1(node, encoding::json, t.reader);
  session r2(node, encoding::json, t.reader);
  const value first = r1.call({{"op", "subscribe"}});
  REQUIRE(ok(first));
  REQUIRE(ok(r2.call({{"op", "subscribe"}})));
  const value refused = r2.call({{"op", "subscribe"}});
  check_error(refused, "LIMIT_EXCEEDED");
  CHECK(integer(refused, "error.limit") == 2);

  // One ended frees its place (the feed drops it within a sweep).
  REQUIRE(ok(r1.call({{"op", "unsubscribe"}, {"sub", integer(first, "sub")}})));
  bool subscribed = false;
  for (int attempt = 0; attempt < 50 && !subscribed; ++attempt) {
    const value answer = r2.call({{"op", "subscribe"}});
    subscribed = ok(answer);
    if (!subscribed) {
      REQUIRE(code(answer) == "LIMIT_EXCEEDED");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  CHECK(subscribed);
  node.stop();
}

TEST_CASE("node: a tenant at its records quota gets LIMIT_EXCEEDED for a new record; its records and another tenant's "
          "work; the count and the quota survive a restart",
          "[node][quota]") {
  stockgrid::testing::temp_dir data;
  node_options options = without_demo();
  options.data_dir = data.path() + "/data";
  const auto set_mug = [](session& s, const char* warehouse, const char* sku, std::int64_t on_hand) {
    return s.call({{"op", "stock.set"}, {"warehouse", warehouse}, {"sku", sku}, {"on_hand", on_hand}});
  };
  tenant_keys small, large;
  {
    test_node node(options);
    small = create_tenant(node, "small");
    large = create_tenant(node, "large");
    session admin(node, encoding::json, small.admin);
    check_error(admin.call({{"op", "tenant.settings"}, {"set", object{{"records_max", 5}}}}), "FORBIDDEN");
    CHECK(integer(settings_of(node, small), "records_max") == 1'000'000);  // the node's default

    const value set = system_sets(node, "small", {{"records_max", 2}});
    INFO(Catch::Detail::stringify(set));
    REQUIRE(ok(set));
    CHECK(integer(set, "settings.records_max") == 2);
    CHECK(integer(settings_of(node, small), "records_max") == 2);

    session w(node, encoding::json, small.writer);
    REQUIRE(ok(set_mug(w, "w1", "mug", 10)));
    REQUIRE(ok(set_mug(w, "w2", "mug", 10)));  // the same SKU elsewhere is another record
    const value refused = set_mug(w, "w1", "cup", 10);
    check_error(refused, "LIMIT_EXCEEDED");
    CHECK(integer(refused, "error.limit") == 2);
    check_error(w.call({{"op", "stock.get"}, {"warehouse", "w1"}, {"sku", "cup"}}), "NOT_FOUND");
    check_error(w.call({{"op", "stock.adjust"}, {"warehouse", "w3"}, {"sku", "mug"}, {"delta", 1}}), "LIMIT_EXCEEDED");
    CHECK(ok(w.call({{"op", "stock.adjust"}, {"warehouse", "w1"}, {"sku", "mug"}, {"delta", 5}})));
    CHECK(ok(w.call({{"op", "stock.reserve"}, {"warehouse", "w2"}, {"sku", "mug"}, {"qty", 1}})));

    session other(node, encoding::json, large.writer);
    for (const char* sku : {"a", "b", "c"}) CHECK(ok(set_mug(other, "w1", sku, 1)));
    node.stop();
  }

  test_node node(options);
  CHECK(integer(settings_of(node, small), "records_max") == 2);
  session w(node, encoding::json, small.writer);
  check_error(set_mug(w, "w9", "new", 1), "LIMIT_EXCEEDED");
  CHECK(ok(set_mug(w, "w1", "mug", 3)));
  // Raised by the system role: the same request now creates the record.
  REQUIRE(ok(system_sets(node, "small", {{"records_max", 3}})));
  bool created = false;
  for (int i = 0; i < 50 && !created; ++i) {  // the grid learns it just after the answer
    created = ok(set_mug(w, "w9", "new", 1));
    if (!created) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(created);
  check_error(set_mug(w, "w9", "newer", 1), "LIMIT_EXCEEDED");
  node.stop();
}

TEST_CASE("node: a tenant's own connection limit replaces the node's: the one over gets LIMIT_EXCEEDED with limit",
          "[node][quota]") {
  test_node node(without_demo());
  const auto t = create_tenant(node, "few");
  session admin(node, encoding::json, t.admin);
  check_error(admin.call({{"op", "tenant.settings"}, {"set", object{{"connections_max", 1}}}}), "FORBIDDEN");
  CHECK(integer(admin.call({{"op", "tenant.settings"}}), "settings.connections_max") == 1'000);
  REQUIRE(ok(system_sets(node, "few", {{"connections_max", 2}})));
  // Read on the open connection (another would count): also a barrier, the
  // gateway learns the limit before this answer.
  CHECK(integer(admin.call({{"op", "tenant.settings"}}), "settings.connections_max") == 2);

  session first(node, encoding::json, t.reader);  // `admin` is the second
  session third(node, encoding::json);
  const value refused = third.call({{"op", "auth"}, {"token", t.reader}});
  check_error(refused, "LIMIT_EXCEEDED");
  CHECK(integer(refused, "error.limit") == 2);
  CHECK(third.wait_close() == 1008);
  // Another tenant keeps the node's limit.
  const auto other = create_tenant(node, "many");
  session a(node, encoding::json, other.reader);
  session b(node, encoding::json, other.reader);
  session c(node, encoding::json, other.reader);
  CHECK(ok(c.call({{"op", "ping"}})));
  node.stop();
}
