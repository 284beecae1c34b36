// The wire protocol against a real node (docs/protocol.md): every op, every
// error code with its details, in JSON text frames and msgpack binary frames;
// pipelining, same-record ordering, `id: null` answers, idempotent replays,
// stock.list paging and stock.bulk. Each test case starts its own node (the
// `demo` tenant: berlin, paris, warsaw × tshirt-s, tshirt-m, tshirt-l, mug,
// poster, 100 each, version 1) and stops it with SIGTERM at its end.
#include <catch2/catch.hpp>

#include <numeric>
#include <set>
#include <thread>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// One request and its answer, retried after retry_after_ms while OVERLOADED
// (what a client is told to do), at most 100 times.
value call_retrying(session& s, const object& request) {
  for (int attempt = 0;; ++attempt) {
    const value answer = s.call(request);
    if (code(answer) != "OVERLOADED" || attempt == 100) return answer;
    std::this_thread::sleep_for(std::chrono::milliseconds(integer(answer, "error.retry_after_ms")));
  }
}

std::vector<std::int64_t> versions_of(const array& events) {
  std::vector<std::int64_t> out;
  for (const value& e : events) out.push_back(integer(e, "version"));
  return out;
}
std::vector<std::string> kinds_of(const array& events) {
  std::vector<std::string> out;
  for (const value& e : events) out.push_back(text(e, "kind"));
  return out;
}
std::vector<std::string> skus_of(const array& records) {
  std::vector<std::string> out;
  for (const value& r : records) out.push_back(text(r, "sku"));
  return out;
}

}  // namespace

TEST_CASE("node: auth tells tenant, role, versions and limits; ping answers ok",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc);

  const value auth = s.call({{"op", "auth"}, {"id", 1}, {"token", node.demo_writer()}});
  CHECK(sorted(auth) ==
        sorted(object{{"id", 1},
                      {"ok", true},
                      {"tenant", "demo"},
                      {"role", "writer"},
                      {"server_version", "0.1.0"},
                      {"protocol_version", "1"},
                      {"limits", object{{"frame_bytes_max", 65536},
                                        {"in_flight_max", 4096},
                                        {"ttl_ms_max", 86400000},
                                        {"ttl_ms_default", 600000},
                                        {"bulk_items_max", 1000},
                                        {"id_bytes_max", 128},
                                        {"hold_id_bytes_max", 64},
                                        {"reason_bytes_max", 256},
                                        {"string_bytes_max", 4096},
                                        {"depth_max", 8}}}}));

  CHECK(sorted(s.call({{"op", "ping"}, {"id", 2}})) == sorted(object{{"id", 2}, {"ok", true}}));

  // The system role has no tenant: null.
  session system(node, enc);
  const value system_auth = system.call({{"op", "auth"}, {"token", system_token}});
  CHECK(ok(system_auth));
  CHECK(at(system_auth, "tenant").is_null());
  CHECK(has(system_auth, "tenant"));
  CHECK(text(system_auth, "role") == "system");
  node.stop();
}

TEST_CASE("node: HTTP on the same port: /healthz, /readyz and the upgrade refusals",
          "[node][protocol]") {
  test_node node;
  CHECK(gateway_test::http_get(node.port(), "/healthz").status == 200);
  CHECK(gateway_test::http_get(node.port(), "/readyz").status == 200);
  CHECK(gateway_test::http_get(node.port(), "/no-such-path").status == 404);
  CHECK(gateway_test::http_get(node.port(), "/v1/ws").status == 426);
  auto http = gateway_test::http_client::connect(node.port());
  REQUIRE(http);
  CHECK(http->request("POST", "/healthz").status == 405);
  gateway_test::client_options elsewhere;
  elsewhere.target = "/v2/ws";
  CHECK(gateway_test::upgrade_status(node.port(), elsewhere) == 404);
  CHECK(gateway_test::upgrade_status(node.port()) == 101);
  node.stop();
}

TEST_CASE("node: every stock op, in the order a store uses them", "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc, node.demo_writer());

  // The demo stocked 100 mugs in Berlin.
  value r = s.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}});
  CHECK(record_of(r) == record("berlin", "mug", 100, 0, 1));

  // Receiving, then a cycle count.
  r = s.call({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"delta", 5},
              {"reason", "PO 1"}});
  CHECK(record_of(r) == record("berlin", "mug", 105, 0, 2));
  r = s.call({{"op", "stock.set"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"on_hand", 50},
              {"expected_version", 2}, {"reason", "cycle count"}});
  CHECK(record_of(r) == record("berlin", "mug", 50, 0, 3));

  // A cart holds 3 for a minute.
  const auto before = now_ms();
  r = s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"qty", 3},
              {"ttl_ms", 60000}, {"ref", "cart-1"}});
  const auto after = now_ms();
  REQUIRE(ok(r));
  const std::string hold = text(r, "hold");
  CHECK_FALSE(hold.empty());
  CHECK(hold.size() <= 64);
  const auto expires = integer(r, "expires_at_ms");
  CHECK(expires >= before + 60000 - 1000);
  CHECK(expires <= after + 60000 + 1000);
  CHECK(record_of(r) == record("berlin", "mug", 50, 3, 4));

  r = s.call({{"op", "stock.holds"}, {"warehouse", "berlin"}, {"sku", "mug"}});
  CHECK(sorted(at(r, "holds")) ==
        sorted(array{object{{"hold", hold}, {"qty", 3}, {"expires_at_ms", expires},
                            {"ref", "cart-1"}}}));

  // The customer needs more time, gives one back, then pays for the rest.
  r = s.call({{"op", "stock.extend"}, {"hold", hold}, {"ttl_ms", 120000}});
  REQUIRE(ok(r));
  CHECK(text(r, "hold") == hold);
  const auto extended = integer(r, "expires_at_ms");
  CHECK(extended >= expires + 50000);
  r = s.call({{"op", "stock.release"}, {"hold", hold}, {"qty", 1}});
  CHECK(record_of(r) == record("berlin", "mug", 50, 2, 6));
  r = s.call({{"op", "stock.commit"}, {"hold", hold}});
  CHECK(record_of(r) == record("berlin", "mug", 48, 0, 7));
  r = s.call({{"op", "stock.holds"}, {"warehouse", "berlin"}, {"sku", "mug"}});
  CHECK(at(r, "holds") == value(array{}));

  // A walk-in customer buys 8.
  r = s.call({{"op", "stock.sell"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"qty", 8}});
  CHECK(record_of(r) == record("berlin", "mug", 40, 0, 8));

  // The history, newest first, paged back with before_version.
  r = s.call({{"op", "stock.history"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"limit", 3}});
  const array recent = items(r, "events");
  CHECK(versions_of(recent) == std::vector<std::int64_t>{8, 7, 6});
  CHECK(kinds_of(recent) == std::vector<std::string>{"sell", "commit", "release"});
  CHECK(integer(recent[0], "qty") == 8);
  CHECK(integer(recent[0], "on_hand_before") == 48);
  CHECK(integer(recent[0], "on_hand_after") == 40);
  CHECK(text(recent[1], "hold") == hold);
  CHECK(integer(recent[2], "reserved_before") == 3);
  CHECK(integer(recent[2], "reserved_after") == 2);
  for (const value& e : recent) {
    CHECK(integer(e, "seq") > 0);
    CHECK(integer(e, "at_ms") >= before - 1000);
    CHECK_FALSE(text(e, "key_id").empty());
  }
  r = s.call({{"op", "stock.history"}, {"warehouse", "berlin"}, {"sku", "mug"},
              {"before_version", 6}});
  const array older = items(r, "events");
  CHECK(versions_of(older) == std::vector<std::int64_t>{5, 4, 3, 2, 1});
  CHECK(kinds_of(older) == std::vector<std::string>{"extend", "reserve", "set", "adjust", "set"});
  CHECK(integer(older[0], "expires_at_ms") == extended);
  CHECK(text(older[1], "ref") == "cart-1");
  CHECK(integer(older[1], "expires_at_ms") == expires);
  CHECK(text(older[3], "reason") == "PO 1");
  CHECK(integer(older[3], "qty") == 5);

  // A partial commit sells some and ends the hold.
  r = s.call({{"op", "stock.reserve"}, {"warehouse", "paris"}, {"sku", "mug"}, {"qty", 4}});
  const std::string second = text(r, "hold");
  CHECK(second != hold);
  r = s.call({{"op", "stock.commit"}, {"hold", second}, {"qty", 1}});
  CHECK(record_of(r) == record("paris", "mug", 99, 0, 3));
  check_error(s.call({{"op", "stock.release"}, {"hold", second}}), "HOLD_NOT_FOUND");

  // Berlin's records, ordered by SKU, in one page.
  r = s.call({{"op", "stock.list"}, {"warehouse", "berlin"}});
  CHECK(skus_of(items(r, "records")) ==
        std::vector<std::string>{"mug", "poster", "tshirt-l", "tshirt-m", "tshirt-s"});
  CHECK(sorted(items(r, "records")[0]) == record("berlin", "mug", 40, 0, 8));
  CHECK_FALSE(has(r, "cursor"));
  node.stop();
}

TEST_CASE("node: a hold expires at its deadline and gives its units back", "[node][protocol]") {
  test_node node;
  session s(node, encoding::msgpack, node.demo_writer());
  value r = s.call({{"op", "stock.reserve"}, {"warehouse", "paris"}, {"sku", "poster"},
                    {"qty", 5}, {"ttl_ms", 300}});
  REQUIRE(ok(r));
  const std::string hold = text(r, "hold");
  const auto expires = integer(r, "expires_at_ms");
  CHECK(record_of(r) == record("paris", "poster", 100, 5, 2));

  // Bounded wait: the expiry timer fires at the deadline.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    std::this_thread::sleep_for(50ms);
    r = s.call({{"op", "stock.get"}, {"warehouse", "paris"}, {"sku", "poster"}});
  } while (integer(r, "record.reserved") != 0 && std::chrono::steady_clock::now() < deadline);
  CHECK(now_ms() >= expires);
  CHECK(record_of(r) == record("paris", "poster", 100, 0, 3));
  r = s.call({{"op", "stock.holds"}, {"warehouse", "paris"}, {"sku", "poster"}});
  CHECK(items(r, "holds").empty());
  check_error(s.call({{"op", "stock.commit"}, {"hold", hold}}), "HOLD_NOT_FOUND");
  check_error(s.call({{"op", "stock.extend"}, {"hold", hold}, {"ttl_ms", 60000}}),
              "HOLD_NOT_FOUND");

  // The expiry is in the history, made by no key.
  r = s.call({{"op", "stock.history"}, {"warehouse", "paris"}, {"sku", "poster"}, {"limit", 1}});
  const array events = items(r, "events");
  REQUIRE(events.size() == 1);
  CHECK(text(events[0], "kind") == "expire");
  CHECK(text(events[0], "hold") == hold);
  CHECK(integer(events[0], "qty") == 5);
  CHECK_FALSE(has(events[0], "key_id"));
  node.stop();
}

TEST_CASE("node: stock.list pages with its cursor until the end", "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc, node.demo_reader());

  auto page_through = [&](object query) {
    std::vector<std::pair<std::string, std::string>> seen;
    std::string cursor;
    for (int pages = 0;; ++pages) {
      REQUIRE(pages < 20);
      object request = query;
      request.emplace_back("op", "stock.list");
      if (!cursor.empty()) request.emplace_back("cursor", cursor);
      const value page = s.call(request);
      INFO(Catch::Detail::stringify(page));
      REQUIRE(ok(page));
      for (const value& rec : items(page, "records"))
        seen.emplace_back(text(rec, "warehouse"), text(rec, "sku"));
      if (!has(page, "cursor")) break;
      cursor = text(page, "cursor");
      REQUIRE_FALSE(cursor.empty());
    }
    return seen;
  };

  // All 15 records, 4 at a time: each once, ordered by warehouse then SKU.
  const auto all = page_through({{"limit", 4}});
  CHECK(all.size() == 15);
  CHECK(std::is_sorted(all.begin(), all.end()));
  CHECK(std::set(all.begin(), all.end()).size() == all.size());
  CHECK(all.front() == std::pair<std::string, std::string>{"berlin", "mug"});
  CHECK(all.back() == std::pair<std::string, std::string>{"warsaw", "tshirt-s"});

  // A page size that divides the count, a SKU prefix, a warehouse.
  CHECK(page_through({{"limit", 5}}) == all);
  const auto shirts = page_through({{"sku_prefix", "tshirt-"}, {"limit", 2}});
  CHECK(shirts.size() == 9);
  const auto paris = page_through({{"warehouse", "paris"}, {"limit", 1}});
  CHECK(paris.size() == 5);

  check_bad_field(s.call({{"op", "stock.list"}, {"limit", 1001}}), "limit");
  check_bad_field(s.call({{"op", "stock.list"}, {"cursor", "not a cursor"}}), "cursor");
  node.stop();
}

TEST_CASE("node: stock.bulk applies each item on its own and answers in item order",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc, node.demo_writer());

  value r = s.call(
      {{"op", "stock.bulk"},
       {"items", array{object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                              {"delta", 10}, {"reason", "PO 5540"}},
                       object{{"op", "set"}, {"warehouse", "paris"}, {"sku", "mug"},
                              {"on_hand", 7}, {"expected_version", 3}},
                       object{{"op", "adjust"}, {"warehouse", "warsaw"}, {"sku", "mug"},
                              {"delta", -1000}},
                       object{{"op", "set"}, {"warehouse", "lisbon"}, {"sku", "mug"},
                              {"on_hand", 3}},
                       object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "poster"},
                              {"delta", 0}}}}});
  REQUIRE(ok(r));
  const array results = items(r, "results");
  REQUIRE(results.size() == 5);
  CHECK(sorted(results[0]) ==
        sorted(object{{"ok", true}, {"record", record("berlin", "mug", 110, 0, 2)}}));
  CHECK(code(results[1]) == "VERSION_CONFLICT");
  CHECK(sorted(at(results[1], "error.record")) == record("paris", "mug", 100, 0, 1));
  CHECK(code(results[2]) == "INSUFFICIENT_STOCK");
  CHECK(integer(results[2], "error.available") == 100);
  CHECK(record_of(results[3]) == record("lisbon", "mug", 3, 0, 1));
  CHECK(code(results[4]) == "BAD_REQUEST");
  CHECK(text(results[4], "error.message").starts_with("delta:"));

  // The failed items changed nothing; the others were applied.
  CHECK(record_of(s.call({{"op", "stock.get"}, {"warehouse", "paris"}, {"sku", "mug"}})) ==
        record("paris", "mug", 100, 0, 1));
  CHECK(record_of(s.call({{"op", "stock.get"}, {"warehouse", "warsaw"}, {"sku", "mug"}})) ==
        record("warsaw", "mug", 100, 0, 1));
  CHECK(record_of(s.call({{"op", "stock.get"}, {"warehouse", "lisbon"}, {"sku", "mug"}})) ==
        record("lisbon", "mug", 3, 0, 1));

  // A malformed item makes the whole frame a BAD_REQUEST naming it; nothing
  // is applied.
  check_bad_field(
      s.call({{"op", "stock.bulk"},
              {"items", array{object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                                     {"delta", 1}},
                              object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                                     {"delta", 1}},
                              object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                                     {"delta", "x"}}}}}),
      "items[2].delta");
  check_bad_field(s.call({{"op", "stock.bulk"},
                          {"items", array{object{{"op", "sell"}, {"warehouse", "berlin"},
                                                 {"sku", "mug"}, {"qty", 1}}}}}),
                  "items[0].op");
  CHECK(record_of(s.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}})) ==
        record("berlin", "mug", 110, 0, 2));

  // Retrying a bulk with its idem replays every item.
  const object sync{
      {"op", "stock.bulk"},
      {"idem", "sync-42"},
      {"items", array{object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "poster"},
                             {"delta", 1}},
                      object{{"op", "set"}, {"warehouse", "berlin"}, {"sku", "tshirt-s"},
                             {"on_hand", 5}}}}};
  const value first = s.call(sync);
  const value retry = s.call(sync);
  const array first_results = items(first, "results");
  const array retried = items(retry, "results");
  REQUIRE(first_results.size() == 2);
  REQUIRE(retried.size() == 2);
  CHECK(record_of(first_results[0]) == record("berlin", "poster", 101, 0, 2));
  CHECK(record_of(first_results[1]) == record("berlin", "tshirt-s", 5, 0, 2));
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK_FALSE(has(first_results[i], "replayed"));
    CHECK(at(retried[i], "replayed") == value(true));
    CHECK(record_of(retried[i]) == record_of(first_results[i]));
  }
  CHECK(record_of(s.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "poster"}})) ==
        record("berlin", "poster", 101, 0, 2));

  // An item's own idem is its key, in any bulk.
  const object restock{{"op", "adjust"}, {"warehouse", "warsaw"}, {"sku", "poster"},
                       {"delta", 5}, {"idem", "po-77"}};
  r = s.call({{"op", "stock.bulk"}, {"items", array{restock}}});
  CHECK(record_of(items(r, "results")[0]) == record("warsaw", "poster", 105, 0, 2));
  r = s.call({{"op", "stock.bulk"}, {"idem", "another-sync"}, {"items", array{restock}}});
  CHECK(at(items(r, "results")[0], "replayed") == value(true));
  CHECK(record_of(items(r, "results")[0]) == record("warsaw", "poster", 105, 0, 2));

  // More than 1,000 items: BAD_REQUEST with id null (the frame's array
  // limit refuses it before its id is read).
  array too_many;
  for (int i = 0; i < 1001; ++i)
    too_many.push_back(object{{"op", "adjust"}, {"warehouse", "b"}, {"sku", "s"}, {"delta", 1}});
  s.send_raw(frame({{"op", "stock.bulk"}, {"id", 77}, {"items", too_many}}, enc));
  const value refused = s.next();
  check_error(refused, "BAD_REQUEST");
  CHECK(null_id(refused));
  node.stop();
}

TEST_CASE("node: a bulk idem longer than the documented 120 bytes is a BAD_REQUEST naming idem",
          "[node][protocol]") {
  // docs/protocol.md, stock.bulk: `idem` "at most 120 bytes" (room for the
  // ":<item index>" the items' keys get). The node does not check it: a
  // 128-byte bulk idem is answered ok with every item failing on its own
  // derived 130-byte key.
  test_node node;
  session s(node, encoding::json, node.demo_writer());
  const value r = s.call(
      {{"op", "stock.bulk"},
       {"idem", std::string(128, 'k')},
       {"items", array{object{{"op", "adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                              {"delta", 1}}}}});
  check_bad_field(r, "idem");
  node.stop();
}

TEST_CASE("node: every error code a client can cause, with its details", "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;

  // UNAUTHENTICATED: anything but auth before authenticating.
  session anonymous(node, enc);
  const value early = anonymous.call({{"op", "ping"}, {"id", 41}});
  check_error(early, "UNAUTHENTICATED");
  CHECK(at(early, "id") == value(41));

  session s(node, enc, node.demo_writer());

  // UNKNOWN_OP, with the id.
  const value unknown = s.call({{"op", "stock.teleport"}, {"id", 21}});
  check_error(unknown, "UNKNOWN_OP");
  CHECK(at(unknown, "id") == value(21));

  // BAD_REQUEST naming the field.
  check_bad_field(s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"qty", "three"}}),
                  "qty");
  check_bad_field(s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"qty", 1}}), "sku");
  check_bad_field(s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"qty", nullptr}}),
                  "qty");
  check_bad_field(s.call({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"delta", 0}}),
                  "delta");
  check_bad_field(s.call({{"op", "stock.sell"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"qty", -1}}),
                  "qty");
  check_bad_field(s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"qty", 1}, {"ttl_ms", 86400001}}),
                  "ttl_ms");
  check_bad_field(s.call({{"op", "stock.get"}, {"warehouse", std::string(129, 'w')},
                          {"sku", "mug"}}),
                  "warehouse");
  check_bad_field(s.call({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"delta", 1}, {"reason", std::string(257, 'r')}}),
                  "reason");
  check_bad_field(s.call({{"op", "stock.commit"}, {"hold", std::string(65, 'H')}}), "hold");
  check_bad_field(s.call({{"op", "stock.history"}, {"warehouse", "berlin"}, {"sku", "mug"},
                          {"limit", 1001}}),
                  "limit");

  // NOT_FOUND: a record never stocked.
  const object never{{"warehouse", "berlin"}, {"sku", "unicorn"}};
  for (const char* op : {"stock.get", "stock.holds", "stock.history"}) {
    object request = never;
    request.emplace_back("op", op);
    INFO(op);
    check_error(s.call(request), "NOT_FOUND");
  }
  check_error(s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "unicorn"},
                      {"qty", 1}}),
              "NOT_FOUND");
  check_error(s.call({{"op", "stock.sell"}, {"warehouse", "berlin"}, {"sku", "unicorn"},
                      {"qty", 1}}),
              "NOT_FOUND");

  // HOLD_NOT_FOUND: a hold never issued.
  check_error(s.call({{"op", "stock.commit"}, {"hold", "never-issued"}}), "HOLD_NOT_FOUND");
  check_error(s.call({{"op", "stock.release"}, {"hold", "H0-fffffff"}}), "HOLD_NOT_FOUND");
  check_error(s.call({{"op", "stock.extend"}, {"hold", "H3-1"}, {"ttl_ms", 1000}}),
              "HOLD_NOT_FOUND");

  // INSUFFICIENT_STOCK, with what was available.
  value r = s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"qty", 101}});
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(r, "error.available") == 100);
  r = s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"qty", 10}});
  REQUIRE(ok(r));
  const std::string hold = text(r, "hold");
  r = s.call({{"op", "stock.sell"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"qty", 91}});
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(r, "error.available") == 90);
  r = s.call({{"op", "stock.set"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"on_hand", 5}});
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(r, "error.available") == 90);
  r = s.call({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"delta", -95}});
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(r, "error.available") == 90);

  // BAD_REQUEST: committing more than the hold.
  check_bad_field(s.call({{"op", "stock.commit"}, {"hold", hold}, {"qty", 11}}), "qty");

  // VERSION_CONFLICT, with the record as it is.
  r = s.call({{"op", "stock.set"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"on_hand", 40},
              {"expected_version", 1}});
  check_error(r, "VERSION_CONFLICT");
  CHECK(sorted(at(r, "error.record")) == record("berlin", "mug", 100, 10, 2));

  // expected_version 0: only if never stocked.
  r = s.call({{"op", "stock.set"}, {"warehouse", "lisbon"}, {"sku", "mug"}, {"on_hand", 4},
              {"expected_version", 0}});
  CHECK(record_of(r) == record("lisbon", "mug", 4, 0, 1));
  r = s.call({{"op", "stock.set"}, {"warehouse", "lisbon"}, {"sku", "mug"}, {"on_hand", 9},
              {"expected_version", 0}});
  check_error(r, "VERSION_CONFLICT");
  CHECK(sorted(at(r, "error.record")) == record("lisbon", "mug", 4, 0, 1));

  // IDEMPOTENCY_MISMATCH: one key, two different requests (another delta,
  // another op on the record).
  CHECK(ok(s.call({{"op", "stock.adjust"}, {"warehouse", "paris"}, {"sku", "mug"}, {"delta", 1},
                   {"idem", "erp-7"}})));
  check_error(s.call({{"op", "stock.adjust"}, {"warehouse", "paris"}, {"sku", "mug"},
                      {"delta", 2}, {"idem", "erp-7"}}),
              "IDEMPOTENCY_MISMATCH");
  check_error(s.call({{"op", "stock.set"}, {"warehouse", "paris"}, {"sku", "mug"},
                      {"on_hand", 1}, {"idem", "erp-7"}}),
              "IDEMPOTENCY_MISMATCH");

  // FORBIDDEN: a reader may not reserve.
  session reader(node, enc, node.demo_reader());
  check_error(reader.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                           {"qty", 1}}),
              "FORBIDDEN");
  node.stop();
}

TEST_CASE("node: LIMIT_EXCEEDED, with the limit, at holds-per-record-max", "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node({.args = {"--holds-per-record-max", "2"}});
  session s(node, enc, node.demo_writer());

  // Two holds fit on one record; a third is LIMIT_EXCEEDED with the limit,
  // and that answer is remembered under its idem, even once a hold ended.
  const object reserve{{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                       {"qty", 1}};
  const value first = s.call(reserve);
  CHECK(ok(first));
  CHECK(ok(s.call(reserve)));
  object third = reserve;
  third.emplace_back("idem", "cart-3");
  value r = s.call(third);
  check_error(r, "LIMIT_EXCEEDED");
  CHECK(integer(r, "error.limit") == 2);
  CHECK(ok(s.call({{"op", "stock.release"}, {"hold", text(first, "hold")}})));
  r = s.call(third);
  check_error(r, "LIMIT_EXCEEDED");
  CHECK(at(r, "replayed") == value(true));
  // Another record has room of its own.
  CHECK(ok(s.call({{"op", "stock.reserve"}, {"warehouse", "paris"}, {"sku", "mug"}, {"qty", 1}})));
  node.stop();
}

TEST_CASE("node: OVERLOADED, with retry_after_ms, at max-in-flight; nothing applied",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  // One request at a time in the grid. (The demo's stocking, sent all at
  // once, is mostly OVERLOADED: this test stocks its own records.)
  test_node node({.args = {"--max-in-flight", "1"}});
  session s(node, enc, node.demo_writer());

  // 200 adjusts pipelined over 20 records: most are OVERLOADED and applied
  // nothing; retried with their idem, each applies once.
  std::map<std::int64_t, object> sent;
  for (int i = 0; i < 200; ++i) {
    object adjust{{"op", "stock.adjust"},
                  {"warehouse", "burst"},
                  {"sku", "sku-" + std::to_string(i % 20)},
                  {"delta", 1},
                  {"idem", "burst-" + std::to_string(i)}};
    sent.emplace(s.send(adjust), adjust);
  }
  std::vector<object> overloaded;
  for (const auto& [id, request] : sent) {
    const value answer = s.answer(id);
    if (ok(answer)) continue;
    check_error(answer, "OVERLOADED");
    CHECK(integer(answer, "error.retry_after_ms") > 0);
    overloaded.push_back(request);
  }
  CHECK_FALSE(overloaded.empty());
  for (const object& request : overloaded) {
    const value retried = call_retrying(s, request);
    INFO(Catch::Detail::stringify(retried));
    CHECK(ok(retried));
    CHECK_FALSE(has(retried, "replayed"));
  }
  for (int k = 0; k < 20; ++k) {
    const value r = call_retrying(
        s, {{"op", "stock.get"}, {"warehouse", "burst"}, {"sku", "sku-" + std::to_string(k)}});
    CHECK(record_of(r) == record("burst", "sku-" + std::to_string(k), 10, 0, 10));
  }
  node.stop();
}

TEST_CASE("node: at max-in-flight 1, one request at a time is never OVERLOADED",
          "[node][protocol]") {
  // Nothing else is in flight when the next request arrives: its answer came
  // back first. But the grid hands the answer on before it returns the
  // request's credit (actors/messages.hpp, reply_sink), so a client quick to
  // send its next request finds the credit still taken.
  test_node node({.args = {"--max-in-flight", "1"}});
  session s(node, encoding::json, node.demo_writer());
  REQUIRE(ok(call_retrying(s, {{"op", "stock.adjust"}, {"warehouse", "calm"}, {"sku", "lamp"},
                                {"delta", 1}})));
  int overloaded = 0;
  for (int i = 0; i < 4000; ++i) {
    const value r = s.call({{"op", "stock.get"}, {"warehouse", "calm"}, {"sku", "lamp"}});
    if (code(r) == "OVERLOADED") ++overloaded;
  }
  CHECK(overloaded == 0);
  node.stop();
}

TEST_CASE("node: pipelined requests are answered out of order, matched by id",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  // The journal waits 100 ms to fill a batch, so the write cannot be
  // answered before the pings and reads sent right after it, however slow
  // the machine (an ASan build on two busy cores once answered it first).
  node_options options;
  options.args = {"--journal-batch-window-us", "100000"};
  test_node node(options);
  session s(node, enc, node.demo_writer());

  // An idempotent write first (an idem look-up and a journal write), then
  // requests that need less: pings (answered by the gateway) and reads.
  std::vector<std::int64_t> order;
  std::map<std::int64_t, std::string> sku_of;
  order.push_back(s.send({{"op", "stock.adjust"}, {"warehouse", "paris"}, {"sku", "poster"},
                          {"delta", 1}, {"idem", "po-1"}}));
  const char* skus[] = {"tshirt-s", "tshirt-m", "tshirt-l", "mug", "poster"};
  for (int i = 0; i < 40; ++i) {
    if (i % 2 == 0) {
      order.push_back(s.send({{"op", "ping"}}));
    } else {
      const std::string sku = skus[(i / 2) % 5];
      const auto id = s.send({{"op", "stock.get"}, {"warehouse", "warsaw"}, {"sku", sku}});
      order.push_back(id);
      sku_of[id] = sku;
    }
  }
  std::vector<std::int64_t> arrived;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const value answer = s.next();
    INFO(Catch::Detail::stringify(answer));
    REQUIRE(ok(answer));
    const auto id = gateway_test::id_of(answer);
    REQUIRE(id.has_value());
    arrived.push_back(*id);
    if (auto sku = sku_of.find(*id); sku != sku_of.end())
      CHECK(text(answer, "record.sku") == sku->second);
  }
  // Every id answered once; the write's answer came after quicker ones.
  CHECK(std::multiset(arrived.begin(), arrived.end()) ==
        std::multiset(order.begin(), order.end()));
  CHECK(arrived != order);
  CHECK(arrived.front() != order.front());
  node.stop();
}

TEST_CASE("node: a second in-flight request with the same id is BAD_REQUEST",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc, node.demo_writer());

  s.send({{"op", "stock.adjust"}, {"id", 500}, {"warehouse", "paris"}, {"sku", "mug"},
          {"delta", 1}, {"idem", "slow-1"}});
  s.send({{"op", "stock.adjust"}, {"id", 500}, {"warehouse", "paris"}, {"sku", "mug"},
          {"delta", 1}});
  const value one = s.next();
  const value other = s.next();
  const value& refused = ok(one) ? other : one;
  const value& applied = ok(one) ? one : other;
  check_bad_field(refused, "id");
  CHECK(at(refused, "id") == value(500));
  CHECK(at(applied, "id") == value(500));
  CHECK(record_of(applied) == record("paris", "mug", 101, 0, 2));
  // The refused one was not executed; the id is free again once answered.
  const value again = s.call({{"op", "stock.get"}, {"id", 500}, {"warehouse", "paris"},
                              {"sku", "mug"}});
  CHECK(record_of(again) == record("paris", "mug", 101, 0, 2));
  node.stop();
}

TEST_CASE("node: 100 pipelined adjusts of one record apply in the order sent",
          "[node][protocol]") {
  test_node node;
  session s(node, encoding::json, node.demo_writer());

  // Alternating encodings on one connection: each answer comes in its
  // request's encoding (checked by the session).
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 100; ++i) {
    ids.push_back(s.send({{"op", "stock.adjust"}, {"warehouse", "lisbon"}, {"sku", "pen"},
                          {"delta", 1}},
                         i % 2 == 0 ? encoding::msgpack : encoding::json));
  }
  std::vector<std::int64_t> versions, on_hand;
  for (const auto id : ids) {
    const value answer = s.answer(id);
    REQUIRE(ok(answer));
    versions.push_back(integer(answer, "record.version"));
    on_hand.push_back(integer(answer, "record.on_hand"));
  }
  std::vector<std::int64_t> one_to_hundred(100);
  std::iota(one_to_hundred.begin(), one_to_hundred.end(), 1);
  CHECK(versions == one_to_hundred);
  CHECK(on_hand == one_to_hundred);
  node.stop();
}

TEST_CASE("node: a frame whose id is missing or unreadable is answered with id null",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc, node.demo_writer());

  const std::vector<object> unreadable{
      {{"op", "ping"}},
      {{"op", "ping"}, {"id", nullptr}},
      {{"op", "ping"}, {"id", "7"}},
      {{"op", "ping"}, {"id", -1}},
      {{"op", "ping"}, {"id", std::int64_t{1} << 53}},
      {{"op", "ping"}, {"id", 1.5}},
      {{"op", "ping"}, {"id", true}},
      {{"op", "ping"}, {"id", array{1}}},
  };
  for (const object& request : unreadable) {
    const std::string bytes = frame(request, enc);
    INFO(frame(request, encoding::json));
    s.send_raw(bytes);
    const value answer = s.next();
    check_bad_field(answer, "id");
    CHECK(null_id(answer));
  }
  // A frame that does not parse at all.
  s.send_raw(enc == encoding::json ? "{\"op\": \"ping\", \"id\": 1" : "\x82\xa2op");
  const value garbage = s.next();
  check_error(garbage, "BAD_REQUEST");
  CHECK(null_id(garbage));

  // The largest id, and an integral float, are read; an id read with a bad
  // op gets its error under that id.
  const std::int64_t largest = (std::int64_t{1} << 53) - 1;
  s.send_raw(frame({{"op", "ping"}, {"id", largest}}, enc));
  value r = s.next();
  CHECK(ok(r));
  CHECK(at(r, "id") == value(largest));
  s.send_raw(frame({{"op", "ping"}, {"id", 3.0}}, enc));
  r = s.next();
  CHECK(ok(r));
  CHECK(at(r, "id") == value(3));
  s.send_raw(frame({{"id", 5}}, enc));
  r = s.next();
  check_bad_field(r, "op");
  CHECK(at(r, "id") == value(5));
  node.stop();
}

TEST_CASE("node: an idempotent replay returns the original answer with replayed: true",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session s(node, enc, node.demo_writer());

  // A POS terminal reserves, loses the answer, retries: the same hold.
  const object reserve{{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"},
                       {"qty", 2}, {"ttl_ms", 60000}, {"ref", "cart-9"}, {"idem", "pos7-0192"}};
  const value first = s.call(reserve);
  REQUIRE(ok(first));
  CHECK_FALSE(has(first, "replayed"));
  const value retry = s.call(reserve);
  REQUIRE(ok(retry));
  CHECK(at(retry, "replayed") == value(true));
  CHECK(text(retry, "hold") == text(first, "hold"));
  CHECK(at(retry, "expires_at_ms") == at(first, "expires_at_ms"));
  CHECK(record_of(retry) == record("berlin", "mug", 100, 2, 2));
  value r = s.call({{"op", "stock.holds"}, {"warehouse", "berlin"}, {"sku", "mug"}});
  CHECK(items(r, "holds").size() == 1);

  // The key with another quantity: a mismatch. On another record: a new key.
  object bigger = reserve;
  for (auto& [name, member] : bigger)
    if (name == "qty") member = 3;
  check_error(s.call(bigger), "IDEMPOTENCY_MISMATCH");
  object elsewhere = reserve;
  for (auto& [name, member] : elsewhere)
    if (name == "warehouse") member = "paris";
  r = s.call(elsewhere);
  CHECK(ok(r));
  CHECK_FALSE(has(r, "replayed"));
  CHECK(text(r, "hold") != text(first, "hold"));

  // Commit, retried: the record as it was then.
  const object commit{{"op", "stock.commit"}, {"hold", text(first, "hold")}, {"idem", "pos7-0193"}};
  const value committed = s.call(commit);
  CHECK(record_of(committed) == record("berlin", "mug", 98, 0, 3));
  CHECK(ok(s.call({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"delta", 2}})));
  const value recommitted = s.call(commit);
  CHECK(at(recommitted, "replayed") == value(true));
  CHECK(record_of(recommitted) == record("berlin", "mug", 98, 0, 3));
  check_error(s.call({{"op", "stock.commit"}, {"hold", text(first, "hold")}}), "HOLD_NOT_FOUND");

  // A refusal the client acts on is remembered...
  const object big_sale{{"op", "stock.sell"}, {"warehouse", "berlin"}, {"sku", "poster"},
                        {"qty", 500}, {"idem", "big-sale"}};
  r = s.call(big_sale);
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(ok(s.call({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "poster"},
                   {"delta", 1000}})));
  r = s.call(big_sale);
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(r, "error.available") == 100);
  CHECK(at(r, "replayed") == value(true));

  // ...NOT_FOUND is not: the retry decides anew.
  const object walk_in{{"op", "stock.sell"}, {"warehouse", "lisbon"}, {"sku", "mug"},
                       {"qty", 1}, {"idem", "walk-in-1"}};
  check_error(s.call(walk_in), "NOT_FOUND");
  CHECK(ok(s.call({{"op", "stock.adjust"}, {"warehouse", "lisbon"}, {"sku", "mug"}, {"delta", 5}})));
  r = s.call(walk_in);
  CHECK(record_of(r) == record("lisbon", "mug", 4, 0, 2));
  CHECK_FALSE(has(r, "replayed"));
  node.stop();
}

TEST_CASE("node: tenants and keys: tenant.create/list, key.create/list/revoke",
          "[node][protocol]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node;
  session system(node, enc, system_token);

  value r = system.call({{"op", "tenant.create"}, {"tenant", "acme"}});
  REQUIRE(ok(r));
  CHECK(text(r, "tenant") == "acme");
  const std::string acme_admin = text(r, "token");
  CHECK_FALSE(acme_admin.empty());
  r = system.call({{"op", "tenant.list"}});
  const array tenants = items(r, "tenants");
  CHECK(std::find(tenants.begin(), tenants.end(), value(object{{"tenant", "acme"}, {"suspended", false}})) !=
        tenants.end());
  CHECK(std::find(tenants.begin(), tenants.end(), value(object{{"tenant", "demo"}, {"suspended", false}})) !=
        tenants.end());
  r = system.call({{"op", "tenant.create"}, {"tenant", "acme"}});
  check_bad_field(r, "tenant");
  CHECK(message(r) == "tenant: already exists");
  check_bad_field(system.call({{"op", "tenant.create"}, {"tenant", ""}}), "tenant");

  // The new tenant's admin hands out a POS key for one store.
  session admin(node, enc, acme_admin);
  const auto expires = now_ms() + 3'600'000;
  r = admin.call({{"op", "key.create"}, {"role", "writer"}, {"warehouses", array{"store-7"}},
                  {"expires_at_ms", expires}});
  REQUIRE(ok(r));
  const std::string key_id = text(r, "key_id");
  const std::string token = text(r, "token");
  CHECK_FALSE(key_id.empty());
  CHECK_FALSE(token.empty());
  check_bad_field(admin.call({{"op", "key.create"}, {"role", "system"}}), "role");
  check_bad_field(admin.call({{"op", "key.create"}}), "role");
  check_bad_field(admin.call({{"op", "key.create"}, {"role", "reader"},
                              {"expires_at_ms", now_ms() - 1000}}),
                  "expires_at_ms");
  check_bad_field(admin.call({{"op", "key.create"}, {"role", "reader"},
                              {"warehouses", array{"store-7", "store-7"}}}),
                  "warehouses[1]");

  // key.list shows it, without secrets.
  r = admin.call({{"op", "key.list"}});
  const array keys = items(r, "keys");
  const auto listed = std::find_if(keys.begin(), keys.end(),
                                   [&](const value& k) { return text(k, "key_id") == key_id; });
  REQUIRE(listed != keys.end());
  CHECK(sorted(*listed) == sorted(object{{"key_id", key_id},
                                         {"role", "writer"},
                                         {"warehouses", array{"store-7"}},
                                         {"expires_at_ms", expires}}));
  for (const value& k : keys) CHECK_FALSE(has(k, "token"));
  // The tenant's first admin key never expires: no expires_at_ms.
  const auto first_admin = std::find_if(keys.begin(), keys.end(), [](const value& k) {
    return text(k, "role") == "admin";
  });
  REQUIRE(first_admin != keys.end());
  CHECK_FALSE(has(*first_admin, "expires_at_ms"));
  CHECK(at(*first_admin, "warehouses") == value(array{}));
  CHECK(protocol::serialize(r, encoding::json).find(token) == std::string::npos);

  // The key works until revoked; revoking an unknown key is NOT_FOUND.
  session pos(node, enc);
  r = pos.call({{"op", "auth"}, {"token", token}});
  CHECK(text(r, "tenant") == "acme");
  CHECK(text(r, "role") == "writer");
  CHECK(ok(admin.call({{"op", "key.revoke"}, {"key_id", key_id}})));
  check_error(admin.call({{"op", "key.revoke"}, {"key_id", "k_never_issued"}}), "NOT_FOUND");
  session late(node, enc);
  check_error(late.call({{"op", "auth"}, {"token", token}}), "UNAUTHENTICATED");
  node.stop();
}


TEST_CASE("node: a pipelined answer is not held back behind the one written before it",
          "[node][protocol]") {
  // An adjust, then a ping: the ping is answered at once by the gateway,
  // the adjust a little later, through the grid and the journal (batched
  // durability here, so the test does not time fsyncs). Written one after
  // the other on a socket with Nagle's algorithm on, the second answer waits
  // for the client to acknowledge the first: a delayed ACK, ~40 ms on Linux.
  // Clients that pipeline would see such answers late. (The gateway sets
  // TCP_NODELAY on accepted sockets since this test.)
  test_node node({.args = {"--durability", "batched"}});
  session s(node, encoding::json, node.demo_writer());
  std::vector<std::int64_t> gaps_us;
  for (int round = 0; round < 15; ++round) {
    const auto adjust = s.send({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                                {"delta", 1}, {"idem", "round-" + std::to_string(round)}});
    const auto ping = s.send({{"op", "ping"}});
    const value first = s.next();
    const auto first_at = std::chrono::steady_clock::now();
    const value second = s.next();
    gaps_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - first_at)
                          .count());
    CHECK(ok(first));
    CHECK(ok(second));
    CHECK(std::set{gateway_test::id_of(first), gateway_test::id_of(second)} ==
          std::set<std::optional<std::int64_t>>{adjust, ping});
  }
  std::sort(gaps_us.begin(), gaps_us.end());
  INFO("gaps between the two answers (us, sorted): " << Catch::Detail::stringify(gaps_us));
  CHECK(gaps_us[gaps_us.size() / 2] < 20'000);
  node.stop();
}

TEST_CASE("node: SIGTERM with requests in flight: answers, then 1001, then exit 0",
          "[node][protocol]") {
  test_node node;
  session s(node, encoding::msgpack, node.demo_writer());
  std::set<std::int64_t> sent;
  for (int i = 0; i < 200; ++i)
    sent.insert(s.send({{"op", "stock.adjust"}, {"warehouse", "berlin"}, {"sku", "mug"},
                        {"delta", 1}, {"idem", "late-" + std::to_string(i)}}));
  node.terminate();

  // Every answer that comes is one of ours, once; then the close. Frames the
  // node had not read yet when it began to stop get none (they were never
  // received): a client retries them with their idem.
  std::set<std::int64_t> answered;
  std::int64_t applied = 0;
  const int close_code = read_answers_until_close(s, [&](const value& v, std::int64_t id) {
    CHECK(sent.count(id) == 1);
    CHECK(answered.insert(id).second);
    if (ok(v)) {
      ++applied;
      CHECK(integer(v, "record.on_hand") <= 300);
    } else {
      INFO(Catch::Detail::stringify(v));
      CHECK(code(v) == "UNAVAILABLE");
    }
  });
  CHECK(close_code == 1001);
  INFO(answered.size() << " answered, " << applied << " applied");
  node.stop();
}
