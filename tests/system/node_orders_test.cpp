// Orders, transfers, stock.find, stock.policy and tenant.settings against a
// real node over its socket (docs/protocol.md), in JSON and msgpack frames.
// Each test case creates its own tenant with the system token and works as
// that tenant's admin (admin ⊃ writer ⊃ reader).
#include <catch2/catch.hpp>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// A tenant "shop" with 10 of sku "a" in north, 10 in south, 4 of "b" in
// south; returns the admin token.
std::string stocked_shop(test_node& node, encoding enc) {
  session sys(node, enc, system_token);
  const value created = sys.call({{"op", "tenant.create"}, {"tenant", "shop"}});
  REQUIRE(ok(created));
  const std::string admin = text(created, "token");
  session s(node, enc, admin);
  for (const auto& [wh, sku, qty] : std::vector<std::tuple<std::string, std::string, int>>{
           {"north", "a", 10}, {"south", "a", 10}, {"south", "b", 4}})
    REQUIRE(ok(s.call({{"op", "stock.adjust"}, {"warehouse", wh}, {"sku", sku}, {"delta", qty}})));
  return admin;
}

value line(std::string sku, int qty, std::string wh = {}) {
  object o{{"sku", std::move(sku)}, {"qty", qty}};
  if (!wh.empty()) o.emplace_back("warehouse", std::move(wh));
  return o;
}

std::int64_t reserved_at(session& s, const std::string& wh, const std::string& sku) {
  const value r = s.call({{"op", "stock.get"}, {"warehouse", wh}, {"sku", sku}});
  REQUIRE(ok(r));
  return integer(r, "record.reserved");
}

}  // namespace

TEST_CASE("node: an order across warehouses is held, guarded and committed as one",
          "[node][orders]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  session s(node, enc, stocked_shop(node, enc));

  // Too much of b: nothing is held anywhere, and every short line is named.
  value r = s.call({{"op", "order.reserve"},
                    {"lines", array{line("a", 3, "north"), line("b", 5, "south")}},
                    {"idem", "cart-0"}});
  check_error(r, "INSUFFICIENT_STOCK");
  REQUIRE(items(r, "error.lines").size() == 1);
  CHECK(text(items(r, "error.lines")[0], "sku") == "b");
  CHECK(integer(items(r, "error.lines")[0], "available") == 4);
  CHECK(reserved_at(s, "north", "a") == 0);

  // A split line: 12 of a cannot come from one warehouse.
  r = s.call({{"op", "order.reserve"},
              {"lines", array{line("a", 12), line("b", 1, "south"), line("b", 1, "south")}},
              {"ref", "cart-1"},
              {"idem", "cart-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  const std::string id = text(r, "order");
  CHECK(text(r, "status") == "held");
  CHECK(items(r, "lines").size() == 3);  // a from north and south; b merged
  CHECK(reserved_at(s, "north", "a") + reserved_at(s, "south", "a") == 12);
  CHECK(reserved_at(s, "south", "b") == 2);

  // The same idem replays the one order.
  const value again = s.call({{"op", "order.reserve"},
                              {"lines", array{line("a", 12), line("b", 1, "south"), line("b", 1, "south")}},
                              {"ref", "cart-1"},
                              {"idem", "cart-1"}});
  REQUIRE(ok(again));
  CHECK(text(again, "order") == id);
  CHECK(at(again, "replayed") == value(true));

  // Its holds belong to the order.
  const value holds = s.call({{"op", "stock.holds"}, {"warehouse", "south"}, {"sku", "b"}});
  REQUIRE(items(holds, "holds").size() == 1);
  CHECK(text(items(holds, "holds")[0], "ref") == "order:" + id);
  const std::string hold = text(items(holds, "holds")[0], "hold");
  check_error(s.call({{"op", "stock.commit"}, {"hold", hold}}), "FORBIDDEN");
  check_error(s.call({{"op", "stock.release"}, {"hold", hold}}), "FORBIDDEN");
  // A client may not claim an order's ref.
  check_bad_field(s.call({{"op", "stock.reserve"}, {"warehouse", "south"}, {"sku", "b"}, {"qty", 1},
                          {"ref", "order:" + id}}),
                  "ref");

  r = s.call({{"op", "order.commit"}, {"order", id}});
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "committed");
  const value b = s.call({{"op", "stock.get"}, {"warehouse", "south"}, {"sku", "b"}});
  CHECK(integer(b, "record.on_hand") == 2);
  CHECK(integer(b, "record.reserved") == 0);
  check_error(s.call({{"op", "order.release"}, {"order", id}}), "HOLD_NOT_FOUND");
  r = s.call({{"op", "order.get"}, {"order", id}});
  CHECK(text(r, "status") == "committed");
  check_error(s.call({{"op", "order.get"}, {"order", "O999999"}}), "NOT_FOUND");
  check_bad_field(s.call({{"op", "order.reserve"}, {"lines", array{object{{"sku", "a"}}}}}), "lines[0].qty");
  node.stop();
}

TEST_CASE("node: allocation settings, dry runs, stock.find and stock.policy", "[node][orders]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  session s(node, enc, stocked_shop(node, enc));

  value r = s.call({{"op", "stock.find"}, {"sku", "a"}});
  REQUIRE(ok(r));
  CHECK(items(r, "records").size() == 2);
  CHECK(integer(r, "total_available") == 20);

  r = s.call({{"op", "tenant.settings"},
              {"set", object{{"allocation", "priority"}, {"priority", array{"south", "north"}}}}});
  REQUIRE(ok(r));
  CHECK(text(r, "settings.allocation") == "priority");
  r = s.call({{"op", "order.reserve"}, {"lines", array{line("a", 12)}}, {"dry_run", true}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(at(r, "dry_run") == value(true));
  REQUIRE(items(r, "lines").size() == 2);
  CHECK_FALSE(items(r, "explanation").empty());
  CHECK(reserved_at(s, "south", "a") == 0);  // a dry run holds nothing

  // Safety stock takes units out of what orders can have.
  r = s.call({{"op", "stock.policy"}, {"warehouse", "north"}, {"sku", "a"}, {"safety_stock", 8}});
  REQUIRE(ok(r));
  CHECK(integer(r, "record.safety_stock") == 8);
  CHECK(integer(r, "record.available") == 2);
  r = s.call({{"op", "stock.find"}, {"sku", "a"}});
  CHECK(integer(r, "total_available") == 12);
  check_error(s.call({{"op", "order.reserve"}, {"lines", array{line("a", 13)}}}), "INSUFFICIENT_STOCK");
  node.stop();
}

TEST_CASE("node: a transfer leaves at once, arrives in receipts, and the rest can be cancelled",
          "[node][transfers]") {
  const encoding enc = GENERATE(encoding::json, encoding::msgpack);
  INFO(name_of(enc));
  test_node node(without_demo());
  session s(node, enc, stocked_shop(node, enc));

  value r = s.call({{"op", "transfer.create"}, {"sku", "a"}, {"from", "north"}, {"to", "east"}, {"qty", 6},
                    {"idem", "move-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  const std::string id = text(r, "transfer");
  CHECK(text(r, "status") == "in_transit");
  value north = s.call({{"op", "stock.get"}, {"warehouse", "north"}, {"sku", "a"}});
  CHECK(integer(north, "record.on_hand") == 4);
  value east = s.call({{"op", "stock.get"}, {"warehouse", "east"}, {"sku", "a"}});
  CHECK(integer(east, "record.incoming") == 6);
  CHECK(integer(east, "record.available") == 0);

  r = s.call({{"op", "transfer.receive"}, {"transfer", id}, {"qty", 2}, {"idem", "rcv-1"}});
  REQUIRE(ok(r));
  r = s.call({{"op", "transfer.receive"}, {"transfer", id}, {"qty", 2}, {"idem", "rcv-1"}});
  REQUIRE(ok(r));  // the same receipt counts once
  CHECK(integer(r, "received") == 2);
  check_error(s.call({{"op", "transfer.receive"}, {"transfer", id}, {"qty", 5}}), "BAD_REQUEST");

  r = s.call({{"op", "transfer.cancel"}, {"transfer", id}});
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "cancelled");
  north = s.call({{"op", "stock.get"}, {"warehouse", "north"}, {"sku", "a"}});
  CHECK(integer(north, "record.on_hand") == 8);
  east = s.call({{"op", "stock.get"}, {"warehouse", "east"}, {"sku", "a"}});
  CHECK(integer(east, "record.on_hand") == 2);
  CHECK(integer(east, "record.incoming") == 0);

  r = s.call({{"op", "transfer.create"}, {"sku", "a"}, {"from", "north"}, {"to", "east"}, {"qty", 99}});
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(r, "error.available") == 8);
  node.stop();
}
