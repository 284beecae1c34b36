// Authentication, roles, warehouse-limited keys and tenant isolation against a
// real node (docs/protocol.md, "Authentication", "Roles"): wrong, missing,
// expired and revoked tokens, including open connections being closed (1008);
// each role's allowed and forbidden ops; keys limited to some warehouses; and
// tenant B using every id of tenant A it could learn, which must get exactly
// the answer a never-issued id gets.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// An answer without its id, members sorted: what two answers to different
// requests must share to be "the same answer".
// The answer without its id and its error's request_id (both differ by
// request), to compare what two answers say.
value without_id(const value& answer) {
  object rest;
  if (const object* members = answer.as_object()) {
    for (const auto& member : *members) {
      if (member.first == "id") continue;
      const object* error = member.first == "error" ? member.second.as_object() : nullptr;
      if (!error) {
        rest.push_back(member);
        continue;
      }
      object fields;
      for (const auto& field : *error)
        if (field.first != "request_id") fields.push_back(field);
      rest.emplace_back("error", value(std::move(fields)));
    }
  }
  return sorted(rest);
}

gateway_test::headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// A writer key of `t` that expires at `expires_at_ms`.
std::string expiring_writer(test_node& node, const tenant_keys& t, std::int64_t expires_at_ms) {
  session admin(node, encoding::json, t.admin);
  const value r = admin.call({{"op", "key.create"}, {"role", "writer"},
                              {"expires_at_ms", expires_at_ms}});
  REQUIRE(ok(r));
  return text(r, "token");
}

void sleep_until_ms(std::int64_t epoch_ms) {
  const auto left = epoch_ms - now_ms();
  if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(left));
}

}  // namespace

TEST_CASE("node: missing and wrong tokens are UNAUTHENTICATED; the third failure closes 1008",
          "[node][auth]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;

  session s(node, enc);
  check_error(s.call({{"op", "ping"}}), "UNAUTHENTICATED");
  check_error(s.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}}),
              "UNAUTHENTICATED");
  // An auth frame without a token is malformed, not a failed attempt.
  const value no_token = s.call({{"op", "auth"}});
  check_error(no_token, "BAD_REQUEST");
  CHECK(message(no_token).starts_with("token:"));
  check_error(s.call({{"op", "auth"}, {"token", "sg_0123456789abcdef_wrong"}}), "UNAUTHENTICATED");
  check_error(s.call({{"op", "auth"}, {"token", ""}}), "UNAUTHENTICATED");
  check_error(s.call({{"op", "auth"}, {"token", std::string(system_token) + "x"}}),
              "UNAUTHENTICATED");
  CHECK(s.wait_close() == 1008);

  // In the upgrade's header: a wrong token is refused with 401.
  gateway_test::client_options wrong;
  wrong.upgrade_headers = bearer("sg_0123456789abcdef_wrong");
  CHECK(gateway_test::upgrade_status(node.port(), wrong) == 401);
  gateway_test::client_options right;
  right.upgrade_headers = bearer(node.demo_writer());
  CHECK(gateway_test::upgrade_status(node.port(), right) == 101);

  // A connection authenticated by its header needs no auth frame, and its
  // identity never changes.
  session by_header(node, enc, bearer(node.demo_writer()));
  CHECK(ok(by_header.call({{"op", "ping"}})));
  check_error(by_header.call({{"op", "auth"}, {"token", system_token}}), "BAD_REQUEST");
  check_error(by_header.call({{"op", "tenant.list"}}), "FORBIDDEN");
  CHECK(ok(by_header.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}})));
  node.stop();
}

TEST_CASE("node: a connection that does not authenticate in time is closed with 1008",
          "[node][auth]") {
  test_node node({.args = {"--auth-timeout-ms", "300"}});
  session idle(node, encoding::json);
  session authenticated(node, encoding::json, node.demo_reader());
  const auto start = std::chrono::steady_clock::now();
  CHECK(idle.wait_close(3s) == 1008);
  CHECK(std::chrono::steady_clock::now() - start >= 200ms);
  std::this_thread::sleep_for(200ms);
  CHECK(ok(authenticated.call({{"op", "ping"}})));
  node.stop();
}

TEST_CASE("node: an expired key stops authenticating and its open connection is closed with 1008",
          "[node][auth]") {
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  const auto expires = now_ms() + 1500;
  const std::string token = expiring_writer(node, acme, expires);

  session pos(node, encoding::msgpack, token);
  CHECK(ok(pos.call({{"op", "stock.adjust"}, {"warehouse", "store-1"}, {"sku", "lamp"},
                     {"delta", 5}})));
  sleep_until_ms(expires);
  CHECK(pos.wait_close(3s) == 1008);
  CHECK(now_ms() - expires <= 2000);

  session late(node, encoding::json);
  check_error(late.call({{"op", "auth"}, {"token", token}}), "UNAUTHENTICATED");
  gateway_test::client_options header;
  header.upgrade_headers = bearer(token);
  CHECK(gateway_test::upgrade_status(node.port(), header) == 401);
  node.stop();
}

TEST_CASE("node: revoking a key closes its open connections with 1008 within 2 s",
          "[node][auth]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  session admin(node, enc, acme.admin);
  session by_frame(node, enc, acme.writer);
  session by_header(node, enc, bearer(acme.writer));
  session other_key(node, enc, acme.reader);
  CHECK(ok(by_frame.call({{"op", "ping"}})));
  CHECK(ok(by_header.call({{"op", "ping"}})));

  CHECK(ok(admin.call({{"op", "key.revoke"}, {"key_id", acme.writer_key_id}})));
  const auto revoked = std::chrono::steady_clock::now();
  CHECK(by_frame.wait_close(3s) == 1008);
  CHECK(by_header.wait_close(3s) == 1008);
  CHECK(std::chrono::steady_clock::now() - revoked <= 2s);

  // The token is dead for new connections; other keys are untouched.
  session late(node, enc);
  check_error(late.call({{"op", "auth"}, {"token", acme.writer}}), "UNAUTHENTICATED");
  gateway_test::client_options header;
  header.upgrade_headers = bearer(acme.writer);
  CHECK(gateway_test::upgrade_status(node.port(), header) == 401);
  CHECK(ok(other_key.call({{"op", "ping"}})));
  CHECK(ok(admin.call({{"op", "ping"}})));
  node.stop();
}

TEST_CASE("node: a request on a connection whose key was just revoked or expired is refused",
          "[node][auth]") {
  // docs/protocol.md: revoking a key, or its expiry, closes its connections
  // "within a second or two; requests on it fail from then on". A request
  // sent after key.revoke was answered, or after expires_at_ms, must not be
  // applied, even before the close arrives.
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  session admin(node, encoding::json, acme.admin);
  CHECK(ok(admin.call({{"op", "stock.set"}, {"warehouse", "store-1"}, {"sku", "lamp"},
                       {"on_hand", 10}})));
  const object sale{{"op", "stock.sell"}, {"warehouse", "store-1"}, {"sku", "lamp"}, {"qty", 1}};

  SECTION("revoked") {
    session pos(node, encoding::json, acme.writer);
    CHECK(ok(pos.call({{"op", "ping"}})));
    CHECK(ok(admin.call({{"op", "key.revoke"}, {"key_id", acme.writer_key_id}})));
    CHECK(refused(pos, sale));
  }
  SECTION("expired") {
    const auto expires = now_ms() + 1000;
    session pos(node, encoding::json, expiring_writer(node, acme, expires));
    CHECK(ok(pos.call({{"op", "ping"}})));
    sleep_until_ms(expires + 5);
    CHECK(refused(pos, sale));
  }
  // Nothing was sold.
  const value r = admin.call({{"op", "stock.get"}, {"warehouse", "store-1"}, {"sku", "lamp"}});
  CHECK(integer(r, "record.on_hand") == 10);
  node.stop();
}

TEST_CASE("node: each role runs its ops and gets FORBIDDEN for the others", "[node][auth]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");

  struct op_case {
    const char* needs;  // reader, writer, admin, system; "any" for everyone
    object request;
  };
  const std::vector<op_case> ops{
      {"any", {{"op", "ping"}}},
      {"reader", {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", "s"}}},
      {"reader", {{"op", "stock.list"}}},
      {"reader", {{"op", "stock.holds"}, {"warehouse", "w"}, {"sku", "s"}}},
      {"reader", {{"op", "stock.history"}, {"warehouse", "w"}, {"sku", "s"}}},
      {"writer", {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", "s"}, {"delta", 1}}},
      {"writer", {{"op", "stock.set"}, {"warehouse", "w"}, {"sku", "s"}, {"on_hand", 5}}},
      {"writer", {{"op", "stock.reserve"}, {"warehouse", "w"}, {"sku", "s"}, {"qty", 1}}},
      {"writer", {{"op", "stock.commit"}, {"hold", "never-issued"}}},
      {"writer", {{"op", "stock.release"}, {"hold", "never-issued"}}},
      {"writer", {{"op", "stock.extend"}, {"hold", "never-issued"}, {"ttl_ms", 1000}}},
      {"writer", {{"op", "stock.sell"}, {"warehouse", "w"}, {"sku", "s"}, {"qty", 1}}},
      {"writer",
       {{"op", "stock.bulk"},
        {"items", array{object{{"op", "adjust"}, {"warehouse", "w"}, {"sku", "s"}, {"delta", 1}}}}}},
      {"admin", {{"op", "key.create"}, {"role", "reader"}}},
      {"admin", {{"op", "key.list"}}},
      {"admin", {{"op", "key.revoke"}, {"key_id", "k_never_issued"}}},
      {"system", {{"op", "tenant.create"}, {"tenant", "bolt"}}},
      {"system", {{"op", "tenant.list"}}},
  };
  // Which roles may run an op that needs `needs`.
  auto may = [](std::string_view role, std::string_view needs) {
    if (needs == "any") return true;
    if (role == "system" || needs == "system") return role == needs;
    const auto rank = [](std::string_view r) { return r == "reader" ? 1 : r == "writer" ? 2 : 3; };
    return rank(role) >= rank(needs);
  };

  const std::vector<std::pair<std::string, std::string>> roles{
      {"reader", acme.reader}, {"writer", acme.writer}, {"admin", acme.admin},
      {"system", system_token}};
  for (const auto& [role, token] : roles) {
    session s(node, enc, token);
    for (const auto& [needs, request] : ops) {
      const value answer = s.call(request);
      INFO(role << " runs " << Catch::Detail::stringify(value(request)) << ": "
                << Catch::Detail::stringify(answer));
      if (may(role, needs)) {
        CHECK(code(answer) != "FORBIDDEN");
        CHECK(code(answer) != "UNAUTHENTICATED");
      } else {
        CHECK(code(answer) == "FORBIDDEN");
      }
    }
  }
  node.stop();
}

TEST_CASE("node: a warehouse-limited key is FORBIDDEN outside its warehouses", "[node][auth]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  const tenant_keys acme = create_tenant(node, "acme");
  session admin(node, enc, acme.admin);
  for (const auto& [warehouse, sku] : {std::pair{"store-7", "lamp"}, std::pair{"store-7", "desk"},
                                       std::pair{"store-9", "lamp"}}) {
    REQUIRE(ok(admin.call({{"op", "stock.adjust"}, {"warehouse", warehouse}, {"sku", sku},
                           {"delta", 10}})));
  }
  const value hold_7 = admin.call({{"op", "stock.reserve"}, {"warehouse", "store-7"},
                                   {"sku", "lamp"}, {"qty", 1}});
  const value hold_9 = admin.call({{"op", "stock.reserve"}, {"warehouse", "store-9"},
                                   {"sku", "lamp"}, {"qty", 2}});
  REQUIRE(ok(hold_7));
  REQUIRE(ok(hold_9));
  const value key = admin.call({{"op", "key.create"}, {"role", "writer"},
                                {"warehouses", array{"store-7"}}});
  REQUIRE(ok(key));
  session pos(node, enc, text(key, "token"));

  // Its own store works.
  CHECK(ok(pos.call({{"op", "stock.get"}, {"warehouse", "store-7"}, {"sku", "lamp"}})));
  CHECK(ok(pos.call({{"op", "stock.sell"}, {"warehouse", "store-7"}, {"sku", "desk"}, {"qty", 1}})));
  CHECK(ok(pos.call({{"op", "stock.extend"}, {"hold", text(hold_7, "hold")}, {"ttl_ms", 60000}})));

  // Every op naming another warehouse is FORBIDDEN, even a record that does
  // not exist there.
  const std::vector<object> elsewhere{
      {{"op", "stock.get"}, {"warehouse", "store-9"}, {"sku", "lamp"}},
      {{"op", "stock.get"}, {"warehouse", "store-9"}, {"sku", "never-stocked"}},
      {{"op", "stock.holds"}, {"warehouse", "store-9"}, {"sku", "lamp"}},
      {{"op", "stock.history"}, {"warehouse", "store-9"}, {"sku", "lamp"}},
      {{"op", "stock.adjust"}, {"warehouse", "store-9"}, {"sku", "lamp"}, {"delta", 1}},
      {{"op", "stock.set"}, {"warehouse", "store-9"}, {"sku", "lamp"}, {"on_hand", 1}},
      {{"op", "stock.reserve"}, {"warehouse", "store-9"}, {"sku", "lamp"}, {"qty", 1}},
      {{"op", "stock.sell"}, {"warehouse", "store-9"}, {"sku", "lamp"}, {"qty", 1}},
      {{"op", "stock.list"}, {"warehouse", "store-9"}},
      // A hold in another warehouse, also with an idem.
      {{"op", "stock.commit"}, {"hold", text(hold_9, "hold")}},
      {{"op", "stock.commit"}, {"hold", text(hold_9, "hold")}, {"idem", "pos-1"}},
      {{"op", "stock.release"}, {"hold", text(hold_9, "hold")}, {"qty", 1}},
      {{"op", "stock.extend"}, {"hold", text(hold_9, "hold")}, {"ttl_ms", 1000}},
  };
  for (const object& request : elsewhere) check_error(pos.call(request), "FORBIDDEN");

  // A list without a warehouse shows only its own; in a bulk, each item
  // outside is FORBIDDEN on its own.
  value r = pos.call({{"op", "stock.list"}});
  for (const value& rec : items(r, "records")) CHECK(text(rec, "warehouse") == "store-7");
  CHECK(items(r, "records").size() == 2);
  r = pos.call({{"op", "stock.bulk"},
                {"items", array{object{{"op", "adjust"}, {"warehouse", "store-7"}, {"sku", "lamp"},
                                       {"delta", 1}},
                                object{{"op", "adjust"}, {"warehouse", "store-9"}, {"sku", "lamp"},
                                       {"delta", 1}}}}});
  REQUIRE(items(r, "results").size() == 2);
  CHECK(ok(items(r, "results")[0]));
  CHECK(code(items(r, "results")[1]) == "FORBIDDEN");

  // Store 9 is as it was: 10 on hand, the hold of 2 intact.
  r = admin.call({{"op", "stock.get"}, {"warehouse", "store-9"}, {"sku", "lamp"}});
  CHECK(record_of(r) == record("store-9", "lamp", 10, 2, 2));
  r = admin.call({{"op", "stock.holds"}, {"warehouse", "store-9"}, {"sku", "lamp"}});
  REQUIRE(items(r, "holds").size() == 1);
  CHECK(integer(items(r, "holds")[0], "qty") == 2);
  node.stop();
}

namespace {

// B's answer to `request` with `field` set to A's value, checked to be the
// answer with a never-issued value (error object included, ids aside).
value same_answer_for(session& b, object request, const std::string& field, const value& a_value,
                      const value& never_value) {
  object with_a = request, with_never = request;
  with_a.emplace_back(field, a_value);
  with_never.emplace_back(field, never_value);
  const value for_a = b.call(with_a);
  const value for_never = b.call(with_never);
  INFO("A's: " << Catch::Detail::stringify(for_a));
  INFO("never-issued: " << Catch::Detail::stringify(for_never));
  CHECK(without_id(for_a) == without_id(for_never));
  return for_a;
}

// What tenant.export shows of `tenant`, every page (records, holds, history).
std::vector<value> export_of(test_node& node, encoding enc, const std::string& tenant) {
  session system(node, enc, system_token);
  std::vector<value> pages;
  std::string cursor;
  for (int i = 0; i < 100; ++i) {
    object request{{"op", "tenant.export"}, {"tenant", tenant}};
    if (!cursor.empty()) request.emplace_back("cursor", cursor);
    const value page = system.call(request);
    REQUIRE(ok(page));
    pages.push_back(without_id(page));
    if (!has(page, "cursor")) return pages;
    cursor = text(page, "cursor");
  }
  FAIL("tenant.export did not end within 100 pages");
  return pages;
}

}  // namespace

TEST_CASE("node: tenant B gets for A's orders, transfers, SKUs and subscriptions what never-issued ones get",
          "[node][auth]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  const tenant_keys a = create_tenant(node, "acme");
  const tenant_keys b = create_tenant(node, "bolt");

  // Tenant A: stock in two warehouses, a held order, a committed one, a
  // transfer in transit, a policy, tenant settings, a subscription.
  session a_admin(node, enc, a.admin);
  for (const char* wh : {"north", "south"})
    REQUIRE(ok(a_admin.call({{"op", "stock.adjust"}, {"warehouse", wh}, {"sku", "lamp"}, {"delta", 10}})));
  auto a_order = [&](const std::string& idem) {
    const value r = a_admin.call({{"op", "order.reserve"},
                                  {"lines", array{object{{"sku", "lamp"}, {"qty", 1}, {"warehouse", "north"}}}},
                                  {"idem", idem}});
    INFO(Catch::Detail::stringify(r));
    REQUIRE(ok(r));
    return text(r, "order");
  };
  const std::string held = a_order("a-order-1");
  const std::string committed = a_order("a-order-2");
  REQUIRE(ok(a_admin.call({{"op", "order.commit"}, {"order", committed}})));
  const value moved = a_admin.call({{"op", "transfer.create"}, {"sku", "lamp"}, {"from", "south"},
                                    {"to", "east"}, {"qty", 3}, {"idem", "a-move-1"}});
  REQUIRE(ok(moved));
  const std::string transfer = text(moved, "transfer");
  REQUIRE(ok(a_admin.call({{"op", "stock.policy"}, {"warehouse", "north"}, {"sku", "lamp"},
                           {"low_stock_threshold", 4}})));
  REQUIRE(ok(a_admin.call({{"op", "tenant.settings"},
                           {"set", object{{"allocation", "priority"}, {"priority", array{"south", "north"}}}}})));
  const value a_sub = a_admin.call({{"op", "subscribe"}, {"warehouse", "north"}});
  REQUIRE(ok(a_sub));
  const std::int64_t a_sub_id = integer(a_sub, "sub");
  const auto a_before = export_of(node, enc, a.name);
  const value a_settings = without_id(a_admin.call({{"op", "tenant.settings"}}));

  session b_admin(node, enc, b.admin);  // admin ⊃ writer ⊃ reader
  auto same_answer = [&](object request, const std::string& field, const value& a_value,
                         const value& never_value) {
    return same_answer_for(b_admin, std::move(request), field, a_value, never_value);
  };

  // A's order and transfer ids, with and without A's idem keys.
  for (const std::string& order : {held, committed}) {
    INFO("order " << order);
    for (const object& request : std::vector<object>{
             {{"op", "order.get"}},
             {{"op", "order.commit"}},
             {{"op", "order.commit"}, {"idem", "a-order-1"}},
             {{"op", "order.release"}},
             {{"op", "order.extend"}, {"ttl_ms", 60000}},
         })
      check_error(same_answer(request, "order", order, "O999999999"), "NOT_FOUND");
  }
  for (const object& request : std::vector<object>{
           {{"op", "transfer.get"}},
           {{"op", "transfer.receive"}, {"qty", 1}},
           {{"op", "transfer.receive"}, {"qty", 1}, {"idem", "a-move-1"}},
           {{"op", "transfer.cancel"}},
       })
    check_error(same_answer(request, "transfer", transfer, "T999999999"), "NOT_FOUND");

  // A's SKU across warehouses: what a never-stocked SKU gets, but its name.
  const value found = b_admin.call({{"op", "stock.find"}, {"sku", "lamp"}});
  REQUIRE(ok(found));
  CHECK(items(found, "records").empty());
  CHECK(integer(found, "total_available") == 0);
  // An order or a transfer of A's SKU from A's warehouses: B has none of it.
  const object order_of_a_sku{{"op", "order.reserve"}, {"lines", array{object{{"sku", "lamp"}, {"qty", 1}}}},
                              {"idem", "a-order-1"}};
  const value b_order = b_admin.call(order_of_a_sku);
  INFO(Catch::Detail::stringify(b_order));
  CHECK_FALSE(ok(b_order));
  CHECK_FALSE(has(b_order, "replayed"));
  const object move_of_a_sku{{"op", "transfer.create"}, {"sku", "lamp"}, {"from", "south"},
                             {"to", "east"}, {"qty", 3}, {"idem", "a-move-1"}};
  const value b_move = b_admin.call(move_of_a_sku);
  check_error(b_move, "INSUFFICIENT_STOCK");
  CHECK(integer(b_move, "error.available") == 0);
  // A's settings are not B's.
  const value b_settings = b_admin.call({{"op", "tenant.settings"}});
  REQUIRE(ok(b_settings));
  CHECK(without_id(b_settings) != a_settings);
  // Another tenant's settings, export, keys or life: only the system role.
  check_error(b_admin.call({{"op", "tenant.settings"}, {"tenant", "acme"}, {"set", object{{"rate_per_second", 1}}}}),
              "FORBIDDEN");
  for (const char* op : {"tenant.export", "tenant.suspend", "tenant.resume", "tenant.delete", "tenant.list"})
    check_error(b_admin.call({{"op", op}, {"tenant", "acme"}}), "FORBIDDEN");
  const value b_made_key = b_admin.call({{"op", "key.create"}, {"role", "reader"}, {"tenant", "acme"}});
  INFO(Catch::Detail::stringify(b_made_key));
  if (ok(b_made_key)) {  // the field is ignored: the key is B's own
    session made(node, enc, text(b_made_key, "token"));
    CHECK(items(made.call({{"op", "stock.list"}}), "records").empty());
  } else {
    CHECK_FALSE(has(b_made_key, "token"));
  }

  // The record ops that write by name, on A's names with A's idem keys and
  // A's versions: B gets exactly what a tenant that never had anything gets
  // for the same requests (C, sent the same sequence), never A's record.
  const tenant_keys c = create_tenant(node, "cargo");
  session c_admin(node, enc, c.admin);
  for (const object& earlier : {order_of_a_sku, move_of_a_sku}) c_admin.call(earlier);
  const std::int64_t a_version =
      integer(a_admin.call({{"op", "stock.get"}, {"warehouse", "north"}, {"sku", "lamp"}}), "record.version");
  for (const object& request : std::vector<object>{
           {{"op", "stock.set"}, {"warehouse", "north"}, {"sku", "lamp"}, {"on_hand", 1},
            {"expected_version", a_version}},
           {{"op", "stock.set"}, {"warehouse", "north"}, {"sku", "lamp"}, {"on_hand", 1},
            {"expected_version", a_version}, {"idem", "a-order-1"}},
           {{"op", "stock.policy"}, {"warehouse", "north"}, {"sku", "lamp"}, {"low_stock_threshold", 4},
            {"idem", "a-move-1"}},
           {{"op", "stock.sell"}, {"warehouse", "south"}, {"sku", "lamp"}, {"qty", 1}, {"idem", "a-move-1"}},
           {{"op", "stock.adjust"}, {"warehouse", "south"}, {"sku", "lamp"}, {"delta", -1}},
           {{"op", "stock.bulk"}, {"idem", "a-order-2"},
            {"items", array{object{{"op", "adjust"}, {"warehouse", "north"}, {"sku", "lamp"}, {"delta", -1}},
                            object{{"op", "set"}, {"warehouse", "south"}, {"sku", "lamp"}, {"on_hand", 2},
                                   {"expected_version", a_version}, {"idem", "a-order-1"}}}}},
       }) {
    const value for_b = b_admin.call(request);
    const value for_c = c_admin.call(request);
    INFO("B: " << Catch::Detail::stringify(for_b));
    INFO("C (never had anything): " << Catch::Detail::stringify(for_c));
    CHECK(without_id(for_b) == without_id(for_c));
    CHECK_FALSE(has(for_b, "replayed"));
  }

  // A is untouched by all of it: every export page (records, holds,
  // history), its settings, its order and transfer.
  CHECK(export_of(node, enc, a.name) == a_before);
  CHECK(without_id(a_admin.call({{"op", "tenant.settings"}})) == a_settings);
  CHECK(text(a_admin.call({{"op", "order.get"}, {"order", held}}), "status") == "held");
  CHECK(text(a_admin.call({{"op", "transfer.get"}, {"transfer", transfer}}), "status") == "in_transit");

  // Subscriptions: A's sub id on B's connection is a never-issued one; B's
  // subscription to A's warehouse starts empty and carries only B's changes.
  // (The message names the id asked for.)
  check_error(b_admin.call({{"op", "unsubscribe"}, {"sub", a_sub_id}}), "NOT_FOUND");
  check_error(b_admin.call({{"op", "unsubscribe"}, {"sub", std::int64_t{999999}}}), "NOT_FOUND");
  const value b_sub = b_admin.call({{"op", "subscribe"}, {"warehouse", "north"}});
  REQUIRE(ok(b_sub));
  for (;;) {
    const value event = b_admin.next_event();
    INFO(Catch::Detail::stringify(event));
    if (text(event, "event") == "snapshot_end") break;
    REQUIRE(text(event, "event") == "snapshot");
    CHECK(items(event, "records").empty());
  }
  REQUIRE(ok(a_admin.call({{"op", "stock.adjust"}, {"warehouse", "north"}, {"sku", "lamp"}, {"delta", 1}})));
  REQUIRE(ok(b_admin.call({{"op", "stock.adjust"}, {"warehouse", "north"}, {"sku", "mine"}, {"delta", 1}})));
  const value first = b_admin.next_event();
  INFO(Catch::Detail::stringify(first));
  CHECK(text(first, "event") == "stock");
  CHECK(text(first, "record.sku") == "mine");

  node.stop();
}

TEST_CASE("node: tenant B gets for tenant A's ids exactly the answer a never-issued id gets",
          "[node][auth]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  const tenant_keys a = create_tenant(node, "acme");
  const tenant_keys b = create_tenant(node, "bolt");

  // Tenant A: a record, an active hold, a committed one, a released one, a
  // page cursor; every change with an idem.
  session a_writer(node, enc, a.writer);
  REQUIRE(ok(a_writer.call({{"op", "stock.adjust"}, {"warehouse", "store-1"}, {"sku", "lamp"},
                            {"delta", 10}, {"idem", "a-restock"}})));
  REQUIRE(ok(a_writer.call({{"op", "stock.adjust"}, {"warehouse", "store-1"}, {"sku", "desk"},
                            {"delta", 10}})));
  auto a_reserve = [&](const std::string& idem) {
    const value r = a_writer.call({{"op", "stock.reserve"}, {"warehouse", "store-1"},
                                   {"sku", "lamp"}, {"qty", 1}, {"idem", idem}});
    REQUIRE(ok(r));
    return text(r, "hold");
  };
  const std::string active = a_reserve("a-cart-1");
  const std::string committed = a_reserve("a-cart-2");
  const std::string released = a_reserve("a-cart-3");
  REQUIRE(ok(a_writer.call({{"op", "stock.commit"}, {"hold", committed}, {"idem", "a-pay-2"}})));
  REQUIRE(ok(a_writer.call({{"op", "stock.release"}, {"hold", released}, {"idem", "a-drop-3"}})));
  const value a_page = a_writer.call({{"op", "stock.list"}, {"limit", 1}});
  REQUIRE(has(a_page, "cursor"));
  const std::string a_cursor = text(a_page, "cursor");
  const value a_before = a_writer.call({{"op", "stock.get"}, {"warehouse", "store-1"},
                                        {"sku", "lamp"}});

  session b_writer(node, enc, b.writer);
  session b_admin(node, enc, b.admin);
  // B also has a POS key limited to a warehouse named like A's.
  const value b_key = b_admin.call({{"op", "key.create"}, {"role", "writer"},
                                    {"warehouses", array{"store-1"}}});
  REQUIRE(ok(b_key));
  session b_pos(node, enc, text(b_key, "token"));
  // B's answer to `request` with `field` set to A's id, and with a
  // never-issued one: the same, error object included.
  auto same_answer = [](session& s, object request, const std::string& field,
                        const value& a_id, const value& never_id) {
    return same_answer_for(s, std::move(request), field, a_id, never_id);
  };

  // A's hold ids: active, committed, released; with and without A's idem
  // keys, with a quantity above the hold's.
  const std::string never_hold = active.substr(0, active.find('-') + 1) + "fffffff";
  for (const std::string& hold : {active, committed, released}) {
    INFO("hold " << hold);
    const std::vector<object> hold_ops{
        {{"op", "stock.commit"}},
        {{"op", "stock.commit"}, {"qty", 1}, {"idem", "a-pay-2"}},
        {{"op", "stock.commit"}, {"qty", 1000}},
        {{"op", "stock.release"}},
        {{"op", "stock.release"}, {"idem", "a-drop-3"}},
        {{"op", "stock.extend"}, {"ttl_ms", 60000}},
        {{"op", "stock.extend"}, {"ttl_ms", 60000}, {"idem", "a-cart-1"}},
    };
    for (const object& request : hold_ops) {
      const value answer = same_answer(b_writer, request, "hold", hold, never_hold);
      check_error(answer, "HOLD_NOT_FOUND");
      same_answer(b_writer, request, "hold", hold, "never-issued");
      check_error(same_answer(b_pos, request, "hold", hold, never_hold), "HOLD_NOT_FOUND");
    }
  }

  // A's warehouse and SKU names: what never-stocked names get.
  for (const char* op : {"stock.get", "stock.holds", "stock.history"}) {
    const value answer = same_answer(
        b_writer, {{"op", op}, {"warehouse", "store-1"}, {"tenant", "acme"}}, "sku",
        "lamp", "never-stocked");
    check_error(answer, "NOT_FOUND");
  }
  check_error(same_answer(b_writer, {{"op", "stock.reserve"}, {"warehouse", "store-1"},
                                     {"qty", 1}, {"idem", "a-cart-1"}},
                          "sku", "lamp", "never-stocked"),
              "NOT_FOUND");
  check_error(same_answer(b_writer, {{"op", "stock.sell"}, {"warehouse", "store-1"}, {"qty", 1}},
                          "sku", "lamp", "never-stocked"),
              "NOT_FOUND");
  value r = same_answer(b_writer, {{"op", "stock.list"}}, "warehouse", "store-1", "store-never");
  CHECK(items(r, "records").empty());
  r = same_answer(b_writer, {{"op", "stock.list"}, {"tenant", "acme"}}, "sku_prefix", "lamp",
                  "never");
  CHECK(items(r, "records").empty());
  // A's cursor, and a cursor of a position B never saw.
  r = same_answer(b_writer, {{"op", "stock.list"}}, "cursor", a_cursor,
                  "73746f72652d31" "1f" "7a7a7a");
  CHECK(items(r, "records").empty());

  // A's key ids: what a never-issued key id gets.
  for (const std::string& key_id : {a.admin_key_id, a.writer_key_id, a.reader_key_id}) {
    check_error(same_answer(b_admin, {{"op", "key.revoke"}}, "key_id", key_id, "k_never_issued"),
                "NOT_FOUND");
  }
  r = b_admin.call({{"op", "key.list"}});
  for (const value& k : items(r, "keys")) {
    CHECK(text(k, "key_id") != a.admin_key_id);
    CHECK(text(k, "key_id") != a.writer_key_id);
  }

  // A's idem keys on B's own record of the same name: B's own, fresh keys.
  r = b_writer.call({{"op", "stock.adjust"}, {"warehouse", "store-1"}, {"sku", "lamp"},
                     {"delta", 3}, {"idem", "a-restock"}});
  CHECK(record_of(r) == record("store-1", "lamp", 3, 0, 1));
  CHECK_FALSE(has(r, "replayed"));
  r = b_writer.call({{"op", "stock.reserve"}, {"warehouse", "store-1"}, {"sku", "lamp"},
                     {"qty", 1}, {"idem", "a-cart-1"}});
  CHECK(ok(r));
  CHECK_FALSE(has(r, "replayed"));
  CHECK(text(r, "hold") != active);
  r = b_writer.call({{"op", "stock.list"}});
  CHECK(items(r, "records").size() == 1);

  // Tenant A is untouched: its record, its active hold, its keys.
  CHECK(without_id(a_writer.call({{"op", "stock.get"}, {"warehouse", "store-1"},
                                   {"sku", "lamp"}})) == without_id(a_before));
  r = a_writer.call({{"op", "stock.holds"}, {"warehouse", "store-1"}, {"sku", "lamp"}});
  REQUIRE(items(r, "holds").size() == 1);
  CHECK(text(items(r, "holds")[0], "hold") == active);
  CHECK(ok(a_writer.call({{"op", "stock.commit"}, {"hold", active}})));
  session a_again(node, enc, a.writer);
  session a_admin(node, enc, a.admin);
  CHECK(ok(a_again.call({{"op", "ping"}})));
  node.stop();
}
