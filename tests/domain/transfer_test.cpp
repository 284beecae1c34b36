// The record's side of transfers (transfer_out, incoming, receive,
// transfer_back) and of orders' holds, as domain/stock_record.hpp states them.
#include <catch2/catch.hpp>

#include "domain/stock_record.hpp"
#include "domain/validate.hpp"
#include "tests/domain/record_script.hpp"

using namespace stockgrid;
using stockgrid::test::record_script;

namespace {
const std::optional<std::int64_t> none;
}

TEST_CASE("transfer_out takes only available units: holds and safety stock stay", "[transfer]") {
  record_script s;
  s.adjust(10);
  s.hold(3);
  REQUIRE(s.policy(std::int64_t{2}, std::nullopt).ok());
  const auto before = s.state();
  auto d = s.transfer_out(6);
  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 5);
  CHECK(s.state() == before);
  REQUIRE(s.transfer_out(5).ok());
  CHECK(s.record.on_hand() == 5);
  CHECK(s.record.available() == 0);
  CHECK(s.record.check_invariants().empty());
}

TEST_CASE("transfer_out from a record never stocked is NOT_FOUND", "[transfer]") {
  record_script s;
  CHECK(s.transfer_out(1).code == outcome::not_found);
}

TEST_CASE("incoming creates a record and counts units in transit", "[transfer]") {
  record_script s;
  REQUIRE(s.incoming(4).ok());
  CHECK(s.record.exists());
  CHECK(s.record.incoming() == 4);
  CHECK(s.record.on_hand() == 0);
  CHECK(s.record.available() == 0);  // in transit is not sellable
  CHECK(s.incoming(-5).code == outcome::bad_request);
  REQUIRE(s.incoming(-1).ok());
  CHECK(s.record.incoming() == 3);
}

TEST_CASE("receive moves units from incoming to on_hand, partially and never beyond",
          "[transfer]") {
  record_script s;
  REQUIRE(s.incoming(5).ok());
  REQUIRE(s.receive(2).ok());
  CHECK(s.record.incoming() == 3);
  CHECK(s.record.on_hand() == 2);
  const auto before = s.state();
  CHECK(s.receive(4).code == outcome::bad_request);
  CHECK(s.state() == before);
  REQUIRE(s.receive(3).ok());
  CHECK(s.record.incoming() == 0);
  CHECK(s.record.on_hand() == 5);
}

TEST_CASE("received units fill backorders first", "[transfer][backorder]") {
  record_script s;
  s.adjust(1);
  REQUIRE(s.policy(none, true).ok());
  s.hold(4);  // 3 backordered
  REQUIRE(s.record.backordered() == 3);
  REQUIRE(s.incoming(5).ok());
  REQUIRE(s.receive(2).ok());
  CHECK(s.record.backordered() == 1);
  REQUIRE(s.transfer_back(3).ok());
  CHECK(s.record.backordered() == 0);
  CHECK(s.record.on_hand() == 6);
  CHECK(s.record.check_invariants().empty());
}

TEST_CASE("an order's hold has no deadline and never expires on its own", "[order]") {
  record_script s;
  s.adjust(10);
  const auto order_hold = s.hold(2, 1000, "order:O1");
  const auto plain = s.hold(3, 1000, "cart-7");
  CHECK(s.record.find_hold(order_hold)->expires_at_ms == 0);
  s.now += 1'000'000;
  auto due = s.expire_due();
  CHECK(due == std::vector<std::uint64_t>{plain});
  CHECK(s.record.reserved() == 2);
  REQUIRE(s.commit(order_hold).ok());  // the record itself still lets its order end it
  CHECK(s.record.reserved() == 0);
}

TEST_CASE("an order's hold survives restore without entering the deadline index", "[order]") {
  record_script s;
  s.adjust(10);
  s.hold(2, 1000, "order:O9");
  stock_record copy;
  copy.restore(s.record.on_hand(), s.record.reserved(), s.record.version(), s.record.holds());
  CHECK_FALSE(copy.next_deadline().has_value());
  CHECK(copy.due_holds(s.now + 10'000'000).empty());
}

TEST_CASE("clients may not use order refs or internal ops", "[order][validate]") {
  validation_limits lim{86'400'000};
  request r;
  r.kind = op::reserve;
  r.key = {"t", "w", "s"};
  r.qty = 1;
  r.ref = "order:O1";
  CHECK(validate(r, lim).find("ref") != std::string::npos);
  r.internal = true;
  CHECK(validate(r, lim).empty());
  r.internal = false;
  r.ref.clear();
  r.idem = "sg:O1/r0";  // a step's key
  CHECK(validate(r, lim).find("idem") == 0);
  r.internal = true;
  CHECK(validate(r, lim).empty());
  request t;
  t.kind = op::transfer_out;
  t.key = {"t", "w", "s"};
  t.qty = 1;
  CHECK_FALSE(validate(t, lim).empty());
  t.internal = true;
  CHECK(validate(t, lim).empty());
}
