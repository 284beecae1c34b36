// Live subscriptions against a real node over its socket (docs/protocol.md
// "Subscriptions"): snapshot and position, filters, resume across a
// reconnect, reset, alerts with hysteresis, a slow subscriber coalesced and
// then disconnected, and bad input.
#include <catch2/catch.hpp>

#include <map>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

using position = std::map<std::int64_t, std::int64_t>;  // partition -> seq

position position_of(const value& snapshot_end) {
  position at;
  for (const value& pair : items(snapshot_end, "position")) {
    const auto& a = *pair.as_array();
    at[*a[0].as_int()] = *a[1].as_int();
  }
  return at;
}

array from_of(const position& at) {
  array out;
  for (const auto& [p, seq] : at) out.push_back(array{p, seq});
  return out;
}

// Reads a subscribe's snapshot: its records (by "warehouse/sku") and position.
struct snapshot {
  std::map<std::string, value> records;
  position at;
};
snapshot read_snapshot(session& s) {
  snapshot out;
  for (int frames = 0; frames < 10'000; ++frames) {
    const value e = s.next_event();
    if (text(e, "event") == "snapshot") {
      for (const value& r : items(e, "records")) out.records[text(r, "warehouse") + "/" + text(r, "sku")] = r;
      continue;
    }
    REQUIRE(text(e, "event") == "snapshot_end");
    out.at = position_of(e);
    return out;
  }
  FAIL("no snapshot_end");
  return out;
}

value adjust(session& w, const std::string& wh, const std::string& sku, std::int64_t delta) {
  const value r = w.call({{"op", "stock.adjust"}, {"warehouse", wh}, {"sku", sku}, {"delta", delta}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  return r;
}

// No event is waiting: a ping's answer is the barrier (the connection sends
// in order). The publisher hands events over on its own thread, so this sees
// the events already queued; a stray one arriving later fails the next
// next_event() check of the test instead.
void check_quiet(session& s) {
  REQUIRE(ok(s.call({{"op", "ping"}})));
  INFO("unexpected event");
  CHECK(s.events_waiting() == 0);
}

}  // namespace

TEST_CASE("node: subscribe sends a snapshot and its position, then the matching changes", "[node][subscribe]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  const auto t = create_tenant(node, "shop", enc);
  session w(node, enc, t.writer);
  adjust(w, "north", "a1", 10);
  adjust(w, "north", "b1", 5);
  adjust(w, "south", "a1", 7);

  session r(node, enc, t.reader);
  const value sub = r.call({{"op", "subscribe"}, {"warehouse", "north"}, {"sku_prefix", "a"}});
  INFO(Catch::Detail::stringify(sub));
  REQUIRE(ok(sub));
  const std::int64_t id = integer(sub, "sub");
  const snapshot snap = read_snapshot(r);
  CHECK(r.last_was_text() == (enc == encoding::json));  // events in the subscribe's encoding
  REQUIRE(snap.records.size() == 1);
  CHECK(integer(snap.records.at("north/a1"), "on_hand") == 10);
  CHECK(snap.at.size() == 4);  // every partition

  const value reserved = w.call({{"op", "stock.reserve"}, {"warehouse", "north"}, {"sku", "a1"}, {"qty", 2}});
  REQUIRE(ok(reserved));
  adjust(w, "south", "a1", 1);  // other warehouse
  adjust(w, "north", "b1", 1);  // other SKU
  adjust(w, "north", "a1", 3);

  value e = r.next_event();
  CHECK(text(e, "event") == "stock");
  CHECK(integer(e, "sub") == id);
  CHECK(text(e, "record.sku") == "a1");
  CHECK(integer(e, "record.available") == 8);
  CHECK(integer(e, "record.reserved") == 2);
  CHECK(text(e, "change.kind") == "reserve");
  CHECK(integer(e, "change.delta") == -2);
  CHECK(integer(e, "change.qty") == 2);
  CHECK(integer(e, "change.version") == 2);
  CHECK(integer(e, "seq") > snap.at.at(integer(e, "partition")));
  const std::int64_t first_seq = integer(e, "seq");
  e = r.next_event();
  CHECK(text(e, "change.kind") == "adjust");
  CHECK(integer(e, "record.on_hand") == 13);
  CHECK(integer(e, "change.version") == 3);
  CHECK(integer(e, "seq") > first_seq);  // one record: one partition, in order
  check_quiet(r);

  // Unsubscribed: nothing more; an unknown sub is NOT_FOUND.
  const value un = r.call({{"op", "unsubscribe"}, {"sub", id}});
  REQUIRE(ok(un));
  adjust(w, "north", "a1", 1);
  check_quiet(r);
  check_error(r.call({{"op", "unsubscribe"}, {"sub", id}}), "NOT_FOUND");
  node.stop();
}

TEST_CASE("node: a client resumes from its position after a reconnect: nothing missed, nothing twice",
          "[node][subscribe]") {
  test_node node(without_demo());
  const auto t = create_tenant(node, "shop");
  session w(node, encoding::json, t.writer);
  adjust(w, "north", "a1", 10);
  adjust(w, "south", "b2", 10);
  position at;
  std::int64_t last_version = 0;
  {
    session r(node, encoding::json, t.reader);
    REQUIRE(ok(r.call({{"op", "subscribe"}})));
    at = read_snapshot(r).at;
    adjust(w, "north", "a1", -1);  // v2
    adjust(w, "north", "a1", -1);  // v3
    adjust(w, "south", "b2", 5);
    const value e = r.next_event();  // only the first is processed
    CHECK(integer(e, "change.version") == 2);
    at[integer(e, "partition")] = integer(e, "seq");
    last_version = 2;
    r.close();
  }
  adjust(w, "north", "a1", -1);  // v4
  adjust(w, "north", "a1", -1);  // v5

  session r(node, encoding::json, t.reader);
  const value sub = r.call({{"op", "subscribe"}, {"from", from_of(at)}});
  INFO(Catch::Detail::stringify(sub));
  REQUIRE(ok(sub));
  std::vector<std::int64_t> a1_versions;
  int b2 = 0;
  for (int i = 0; i < 4; ++i) {
    const value e = r.next_event();
    INFO(Catch::Detail::stringify(e));
    REQUIRE(text(e, "event") == "stock");  // no reset, no snapshot
    if (text(e, "record.sku") == "a1") a1_versions.push_back(integer(e, "change.version"));
    else ++b2;
  }
  CHECK(a1_versions == std::vector<std::int64_t>{3, 4, 5});
  CHECK(b2 == 1);
  CHECK(last_version == 2);
  check_quiet(r);
  adjust(w, "north", "a1", 1);  // then live ones
  const value live = r.next_event();
  CHECK(integer(live, "change.version") == 6);
  node.stop();
}

TEST_CASE("node: a position the node cannot resume gets reset and a fresh snapshot", "[node][subscribe]") {
  test_node node(without_demo());
  const auto t = create_tenant(node, "shop");
  session w(node, encoding::json, t.writer);
  adjust(w, "north", "a1", 10);
  session r(node, encoding::json, t.reader);
  // Seqs this node never handed out (a position from another data dir).
  const array from{array{0, 1'000'000'000}, array{1, 0}, array{2, 0}, array{3, 0}};
  REQUIRE(ok(r.call({{"op", "subscribe"}, {"from", from}})));
  const value reset = r.next_event();
  CHECK(text(reset, "event") == "reset");
  const snapshot snap = read_snapshot(r);
  CHECK(snap.records.size() == 1);
  CHECK(snap.at.size() == 4);
  node.stop();
}

TEST_CASE("node: low-stock alerts fire on edges with hysteresis, per record and per tenant default",
          "[node][subscribe][alerts]") {
  test_node node(without_demo());
  const auto t = create_tenant(node, "shop");
  session a(node, encoding::json, t.admin);
  adjust(a, "north", "a1", 10);
  adjust(a, "south", "a1", 7);
  REQUIRE(ok(a.call({{"op", "stock.policy"}, {"warehouse", "north"}, {"sku", "a1"}, {"low_stock_threshold", 5}})));
  const value settings = a.call({{"op", "tenant.settings"}, {"set", object{{"low_stock_threshold", 3}}}});
  INFO(Catch::Detail::stringify(settings));
  REQUIRE(ok(settings));
  CHECK(integer(settings, "settings.low_stock_threshold") == 3);

  session r(node, encoding::json, t.reader);
  REQUIRE(ok(r.call({{"op", "subscribe"}, {"alerts", true}})));
  read_snapshot(r);
  adjust(a, "north", "a1", -5);  // 5: low_stock
  for (int i = 0; i < 5; ++i) {  // 6 <-> 5, inside the band: quiet
    adjust(a, "north", "a1", 1);
    adjust(a, "north", "a1", -1);
  }
  const value sold = a.call({{"op", "stock.sell"}, {"warehouse", "north"}, {"sku", "a1"}, {"qty", 5}});
  REQUIRE(ok(sold));             // 0: out_of_stock
  adjust(a, "north", "a1", 10);  // 10: back_in_stock
  adjust(a, "south", "a1", -4);  // 3 <= the tenant's default 3: low_stock

  const std::vector<std::pair<std::string, std::int64_t>> expected{
      {"low_stock", 5}, {"out_of_stock", 0}, {"back_in_stock", 10}, {"low_stock", 3}};
  for (const auto& [kind, available] : expected) {
    const value e = r.next_event();
    INFO(Catch::Detail::stringify(e));
    CHECK(text(e, "event") == "alert");  // alerts only: no stock events
    CHECK(text(e, "kind") == kind);
    CHECK(integer(e, "record.available") == available);
  }
  check_quiet(r);
  node.stop();
}

TEST_CASE("node: a slow subscriber gets coalesced updates, then is closed with 1008; writers carry on",
          "[node][subscribe][slow]") {
  node_options options = without_demo();
  // The writer's 60,000 changes in a few seconds are over the default
  // tenant rate: lifted, this test is about the subscriber.
  options.args = {"--subscription-queue-events-max", "16", "--subscription-coalesce-records-max", "16",
                  "--tenant-rate-per-second", "100000000", "--tenant-rate-burst", "1000000000"};
  test_node node(options);
  const auto t = create_tenant(node, "shop");
  session w(node, encoding::json, t.writer);

  // Enough changes to fill the socket buffers (tens of MB of events) while
  // the subscribers do not read.
  auto bulk = [&](int records, int rounds) {
    for (int round = 0; round < rounds; ++round) {
      array list;
      for (int i = 0; i < 500; ++i)
        list.push_back(object{{"op", "adjust"}, {"warehouse", "north"},
                              {"sku", "s" + std::to_string(i % records)}, {"delta", 1}});
      const value res = w.call({{"op", "stock.bulk"}, {"items", std::move(list)}});
      REQUIRE(ok(res));
      for (const value& item : items(res, "results")) REQUIRE(ok(item));
    }
  };

  SECTION("ten records: coalesced, exact in the end, still connected") {
    session r(node, encoding::json, t.reader);
    bulk(10, 1);
    REQUIRE(ok(r.call({{"op", "subscribe"}})));
    read_snapshot(r);
    bulk(10, 120);  // 60,000 changes while r does not read
    std::map<std::string, std::int64_t> version, on_hand;
    int coalesced = 0;
    int events = 0;
    // Read until every record shows its final state (60,500 / 10 per record).
    auto done = [&] {
      if (on_hand.size() < 10) return false;
      for (const auto& [sku, n] : on_hand)
        if (n != 6'050) return false;
      return true;
    };
    while (!done() && events < 70'000) {
      const value e = r.next_event();
      REQUIRE(text(e, "event") == "stock");
      const std::string sku = text(e, "record.sku");
      const std::int64_t v = integer(e, "change.version");
      CHECK(v > version[sku]);  // per record in version order, never twice
      version[sku] = v;
      on_hand[sku] = integer(e, "record.on_hand");
      coalesced += has(e, "coalesced");
      ++events;
    }
    CHECK(done());
    CHECK(coalesced > 0);
    CHECK(events < 60'000);  // intermediate changes were folded away
    check_quiet(r);
  }
  SECTION("a thousand records: disconnected with 1008, the writer unaffected") {
    session slow(node, encoding::json, t.reader);
    REQUIRE(ok(slow.call({{"op", "subscribe"}})));
    read_snapshot(slow);
    bulk(1000, 120);
    // The writer kept being answered (bulk checks every item); the slow
    // subscriber's connection ends with 1008.
    const auto r = slow.read(1ms);  // drain what is buffered until the close
    (void)r;
    CHECK(slow.wait_close(30s) == 1008);
    CHECK(node.healthy());
    session other(node, encoding::json, t.reader);
    REQUIRE(ok(other.call({{"op", "ping"}})));
  }
  node.stop();
}

TEST_CASE("node: bad subscribe input gets typed errors and changes nothing", "[node][subscribe]") {
  node_options options = without_demo();
  options.args = {"--subscriptions-max", "1"};
  test_node node(options);
  const auto t = create_tenant(node, "shop");
  session a(node, encoding::json, t.admin);
  adjust(a, "north", "a1", 1);
  check_bad_field(a.call({{"op", "subscribe"}, {"from", "yesterday"}}), "from");
  check_bad_field(a.call({{"op", "subscribe"}, {"from", array{array{0, -1}}}}), "from[0]");
  check_bad_field(a.call({{"op", "subscribe"}, {"warehouse", ""}}), "warehouse");
  check_bad_field(a.call({{"op", "subscribe"}, {"alerts", "yes"}}), "alerts");
  check_error(a.call({{"op", "subscribe"}, {"from", array{array{0, 1}}}}), "BAD_REQUEST");  // not every partition
  check_bad_field(a.call({{"op", "unsubscribe"}}), "sub");

  const value limited = a.call({{"op", "key.create"}, {"role", "reader"}, {"warehouses", array{"north"}}});
  REQUIRE(ok(limited));
  session r(node, encoding::json, text(limited, "token"));
  check_error(r.call({{"op", "subscribe"}, {"warehouse", "south"}}), "FORBIDDEN");
  REQUIRE(ok(r.call({{"op", "subscribe"}})));  // limited to its warehouses
  read_snapshot(r);
  const value over = a.call({{"op", "subscribe"}});  // the node serves one
  check_error(over, "LIMIT_EXCEEDED");
  CHECK(integer(over, "error.limit") == 1);
  adjust(a, "south", "a1", 1);  // outside r's warehouses: not sent
  adjust(a, "north", "a1", 1);
  const value e = r.next_event();
  CHECK(text(e, "record.warehouse") == "north");
  REQUIRE(ok(a.call({{"op", "ping"}})));
  node.stop();
}
