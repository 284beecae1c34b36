// The tenant lifecycle against a real node (docs/protocol.md, "tenant.suspend",
// "tenant.resume", "tenant.export"; docs/operations.md, "Tenant lifecycle"):
// suspending closes the tenant's connections and stops its tokens while other
// tenants go on; resuming brings the same tokens back; the export pages give
// exactly the tenant's records, holds and history, and nothing of another
// tenant; only the system role runs these ops.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// Reads until the connection closes (bounded): its close code and reason.
// Answers that arrive first must be refusals naming the suspension.
std::pair<int, std::string> wait_closed(session& s, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // One read per frame with the time left: a read that times out ends the
  // test client's connection.
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const gateway_test::read_result r = s.read(left);
    if (!r.got_frame) return {r.closed ? r.close_code : -1, r.close_reason};
  }
  return {-1, ""};
}

// Every page of tenant.export of `tenant`, `limit` items a page.
struct dump {
  std::vector<value> records, holds, events;
  int pages = 0;
};
dump export_all(session& system, const std::string& tenant, int limit) {
  dump d;
  std::string cursor;
  for (;;) {
    object request{{"op", "tenant.export"}, {"tenant", tenant}, {"limit", limit}};
    if (!cursor.empty()) request.emplace_back("cursor", cursor);
    const value page = system.call(request);
    INFO(Catch::Detail::stringify(page));
    REQUIRE(ok(page));
    CHECK(text(page, "tenant") == tenant);
    const auto& records = items(page, "records");
    const auto& holds = items(page, "holds");
    const auto& events = items(page, "events");
    CHECK(records.size() + holds.size() + events.size() <= static_cast<std::size_t>(limit));
    for (const auto& r : records) d.records.push_back(sorted(r));
    for (const auto& h : holds) d.holds.push_back(sorted(h));
    for (const auto& e : events) d.events.push_back(sorted(e));
    ++d.pages;
    REQUIRE(d.pages < 1000);
    if (!has(page, "cursor")) return d;
    cursor = text(page, "cursor");
  }
}

// `v` (an object) with warehouse and sku added, sorted: how the export shows
// holds and events.
value with_key(const value& v, const std::string& warehouse, const std::string& sku) {
  object o = *v.as_object();
  o.emplace_back("warehouse", warehouse);
  o.emplace_back("sku", sku);
  return sorted(value(std::move(o)));
}

}  // namespace

TEST_CASE("node: tenant.suspend closes the tenant's connections and stops its tokens; "
          "tenant.resume restores them",
          "[node][tenant]") {
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  const tenant_keys other = create_tenant(node, "other");
  session system(node, encoding::json, system_token);
  session acme_writer(node, encoding::json, acme.writer);
  session acme_reader(node, encoding::msgpack, acme.reader);
  session other_writer(node, encoding::json, other.writer);
  const object adjust{{"op", "stock.adjust"}, {"warehouse", "w1"}, {"sku", "lamp"}, {"delta", 5}};
  REQUIRE(ok(acme_writer.call(adjust)));
  REQUIRE(ok(other_writer.call(adjust)));

  const value suspended = system.call({{"op", "tenant.suspend"}, {"tenant", "acme"}});
  INFO(Catch::Detail::stringify(suspended));
  REQUIRE(ok(suspended));
  CHECK(text(suspended, "tenant") == "acme");
  CHECK(at(suspended, "suspended") == value(true));
  const auto at_suspend = std::chrono::steady_clock::now();
  // A request that still arrives is refused, FORBIDDEN naming the
  // suspension (or the connection is already closing).
  acme_writer.send(adjust);
  std::pair<int, std::string> writer_closed;
  {
    const gateway_test::read_result r = acme_writer.read(3s);
    if (r.got_frame) {
      value v;
      std::string error;
      REQUIRE(protocol::parse(r.bytes, encoding::json, {}, &v, &error));
      INFO(Catch::Detail::stringify(v));
      CHECK(code(v) == "FORBIDDEN");
      CHECK(message(v).find("suspended") != std::string::npos);
      writer_closed = wait_closed(acme_writer, 3s);
    } else {
      writer_closed = {r.closed ? r.close_code : -1, r.close_reason};
    }
  }
  const auto [writer_code, writer_reason] = writer_closed;
  CHECK(writer_code == 1008);
  CHECK(writer_reason == "tenant suspended");
  const auto [reader_code, reader_reason] = wait_closed(acme_reader, 3s);
  CHECK(reader_code == 1008);
  CHECK(reader_reason == "tenant suspended");
  CHECK(std::chrono::steady_clock::now() - at_suspend <= 2s);

  // Idempotent; its tokens fail; the other tenant goes on.
  CHECK(ok(system.call({{"op", "tenant.suspend"}, {"tenant", "acme"}})));
  for (const std::string& token : {acme.writer, acme.admin, acme.reader}) {
    session late(node, encoding::json);
    const value refused = late.call({{"op", "auth"}, {"token", token}});
    check_error(refused, "UNAUTHENTICATED");
    CHECK(message(refused).find("suspended") != std::string::npos);
  }
  gateway_test::client_options header;
  header.upgrade_headers = {{"Authorization", "Bearer " + acme.writer}};
  CHECK(gateway_test::upgrade_status(node.port(), header) == 401);
  const value other_adjusted = other_writer.call(adjust);
  REQUIRE(ok(other_adjusted));
  CHECK(integer(other_adjusted, "record.on_hand") == 10);
  const value list = system.call({{"op", "tenant.list"}});
  CHECK(sorted(at(list, "tenants")) ==
        sorted(array{object{{"tenant", "acme"}, {"suspended", true}},
                     object{{"tenant", "other"}, {"suspended", false}}}));

  // Resume: the same tokens work again, the data is as it was.
  const value resumed = system.call({{"op", "tenant.resume"}, {"tenant", "acme"}});
  REQUIRE(ok(resumed));
  CHECK(at(resumed, "suspended") == value(false));
  CHECK(ok(system.call({{"op", "tenant.resume"}, {"tenant", "acme"}})));
  session back(node, encoding::json, acme.writer);
  const value after = back.call(adjust);
  REQUIRE(ok(after));
  CHECK(integer(after, "record.on_hand") == 10);

  check_error(system.call({{"op", "tenant.suspend"}, {"tenant", "nobody"}}), "NOT_FOUND");
  check_error(system.call({{"op", "tenant.resume"}, {"tenant", "nobody"}}), "NOT_FOUND");
  check_bad_field(system.call({{"op", "tenant.suspend"}, {"tenant", "Not Valid"}}), "tenant");
  check_bad_field(system.call({{"op", "tenant.suspend"}}), "tenant");
  node.stop();
}

TEST_CASE("node: tenant.export pages give exactly the tenant's records, holds and history",
          "[node][tenant]") {
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  const tenant_keys other = create_tenant(node, "other");
  session writer(node, encoding::msgpack, acme.writer);
  session other_writer(node, encoding::json, other.writer);
  const std::vector<std::string> warehouses = {"berlin", "paris", "warsaw"};
  const std::vector<std::string> skus = {"mug", "lamp", "poster", "tshirt"};
  for (const auto& w : warehouses)
    for (const auto& s : skus) {
      REQUIRE(ok(writer.call({{"op", "stock.set"}, {"warehouse", w}, {"sku", s}, {"on_hand", 50}})));
      REQUIRE(ok(writer.call({{"op", "stock.adjust"}, {"warehouse", w}, {"sku", s}, {"delta", -3},
                              {"reason", "breakage"}})));
      // Another tenant's records under the same names must not appear.
      REQUIRE(ok(other_writer.call(
          {{"op", "stock.set"}, {"warehouse", w}, {"sku", s}, {"on_hand", 7}})));
    }
  REQUIRE(ok(other_writer.call(
      {{"op", "stock.set"}, {"warehouse", "other-only"}, {"sku", "x"}, {"on_hand", 1}})));
  for (int i = 0; i < 5; ++i)
    REQUIRE(ok(writer.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                            {"qty", 2}, {"ref", "cart-" + std::to_string(i)}})));
  REQUIRE(ok(writer.call({{"op", "stock.sell"}, {"warehouse", "paris"}, {"sku", "lamp"}, {"qty", 4}})));

  // What the tenant's own reads say.
  std::vector<value> want_records, want_holds, want_events;
  const value listed = writer.call({{"op", "stock.list"}, {"limit", 1000}});
  for (const auto& r : items(listed, "records")) {
    want_records.push_back(sorted(r));
    const std::string w = text(r, "warehouse"), s = text(r, "sku");
    const value holds = writer.call({{"op", "stock.holds"}, {"warehouse", w}, {"sku", s}});
    for (const auto& h : items(holds, "holds")) want_holds.push_back(with_key(h, w, s));
    const value history =
        writer.call({{"op", "stock.history"}, {"warehouse", w}, {"sku", s}, {"limit", 1000}});
    for (const auto& e : items(history, "events")) want_events.push_back(with_key(e, w, s));
  }
  REQUIRE(want_records.size() == warehouses.size() * skus.size());
  REQUIRE(want_holds.size() == 5);

  session system(node, encoding::json, system_token);
  // Suspended, nothing of the tenant changes: the dump is one point in time.
  REQUIRE(ok(system.call({{"op", "tenant.suspend"}, {"tenant", "acme"}})));
  auto as_set = [](std::vector<value> v) {
    std::sort(v.begin(), v.end(), [](const value& a, const value& b) {
      return protocol::serialize(a, encoding::json) < protocol::serialize(b, encoding::json);
    });
    return v;
  };
  for (const int limit : {1, 7, 500}) {
    INFO("limit " << limit);
    const dump d = export_all(system, "acme", limit);
    CHECK(as_set(d.records) == as_set(want_records));
    CHECK(as_set(d.holds) == as_set(want_holds));
    CHECK(as_set(d.events) == as_set(want_events));
    if (limit == 1) CHECK(d.pages >= static_cast<int>(want_records.size() + want_events.size()));
  }

  // Bad input changes nothing and says what is wrong.
  check_error(system.call({{"op", "tenant.export"}, {"tenant", "nobody"}}), "NOT_FOUND");
  check_bad_field(system.call({{"op", "tenant.export"}, {"tenant", "acme"}, {"cursor", "zz"}}), "cursor");
  check_bad_field(system.call({{"op", "tenant.export"}, {"tenant", "acme"}, {"limit", 501}}), "limit");
  check_bad_field(system.call({{"op", "tenant.export"}, {"tenant", "acme"}, {"limit", -1}}), "limit");

  // A tenant without records: one page, empty, no cursor.
  REQUIRE(ok(system.call({{"op", "tenant.create"}, {"tenant", "empty"}})));
  const value empty = system.call({{"op", "tenant.export"}, {"tenant", "empty"}});
  REQUIRE(ok(empty));
  CHECK(items(empty, "records").empty());
  CHECK_FALSE(has(empty, "cursor"));
  node.stop();
}

TEST_CASE("node: stockctl export writes every item of the tenant as JSON lines", "[node][tenant]") {
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  session writer(node, encoding::json, acme.writer);
  for (int i = 0; i < 30; ++i)
    REQUIRE(ok(writer.call({{"op", "stock.set"}, {"warehouse", "w" + std::to_string(i % 3)},
                            {"sku", "sku-" + std::to_string(i)}, {"on_hand", 10}})));
  REQUIRE(ok(writer.call({{"op", "stock.reserve"}, {"warehouse", "w0"}, {"sku", "sku-0"}, {"qty", 1}})));
  stockgrid::testing::child_process ctl({stockgrid::testing::built_program("client/stockctl"), "--url",
                              "ws://127.0.0.1:" + std::to_string(node.port()) + "/v1/ws", "--token",
                              system_token, "export", "acme"},
                             "");
  // Read on a helper thread so the wait is bounded: at the deadline the
  // program is killed, which ends the read.
  auto output = std::async(std::launch::async, [&ctl] {
    std::vector<std::string> lines;
    while (auto line = ctl.read_line()) lines.push_back(*line);
    return lines;
  });
  if (output.wait_for(30s) != std::future_status::ready) ctl.kill(SIGKILL);
  std::map<std::string, int> kinds;
  for (const auto& line : output.get()) {
    value v;
    std::string error;
    INFO(line);
    REQUIRE(protocol::parse(line, encoding::json, {}, &v, &error));
    REQUIRE(v.as_object() != nullptr);
    REQUIRE(v.as_object()->size() == 1);
    ++kinds[v.as_object()->front().first];
  }
  const auto code = ctl.wait_exit(10s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(kinds["record"] == 30);
  CHECK(kinds["hold"] == 1);
  CHECK(kinds["event"] == 31);  // 30 sets, 1 reserve
  node.stop();
}

TEST_CASE("node: only the system role runs the tenant lifecycle ops", "[node][tenant]") {
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  for (const std::string& token : {acme.admin, acme.writer, acme.reader}) {
    session s(node, encoding::json, token);
    for (const char* op : {"tenant.suspend", "tenant.resume", "tenant.export", "tenant.list", "tenant.delete"}) {
      INFO(op);
      check_error(s.call({{"op", op}, {"tenant", "acme"}}), "FORBIDDEN");
    }
  }
  session writer(node, encoding::json, acme.writer);
  CHECK(ok(writer.call({{"op", "ping"}})));  // nothing was suspended
  node.stop();
}
