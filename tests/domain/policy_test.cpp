// The record's policy (safety stock, backorders, low-stock threshold) and the
// backorder model documented in domain/stock_record.hpp, one rule per test.
#include <catch2/catch.hpp>

#include "config/limits.hpp"
#include "domain/stock_record.hpp"
#include "domain/validate.hpp"
#include "tests/domain/record_script.hpp"

using namespace stockgrid;
using stockgrid::test::record_script;
using stockgrid::test::state_of;

namespace {
const std::optional<std::int64_t> none;
const std::optional<bool> unchanged;

// A record with `on_hand` units and backorders allowed.
record_script backorderable(std::int64_t on_hand) {
  record_script s;
  s.adjust(on_hand);
  REQUIRE(s.policy(none, true).ok());
  return s;
}
}  // namespace

// ---- the policy change -----------------------------------------------------

TEST_CASE("a record starts with no safety stock, no backorders and no threshold", "[policy]") {
  record_script s;
  s.adjust(+10);
  CHECK(s.record.policy() == record_policy{});
  CHECK(s.record.backordered() == 0);
  CHECK(s.record.incoming() == 0);
}

TEST_CASE("a policy change sets the fields it names and keeps the others", "[policy]") {
  record_script s;
  s.adjust(+10);
  REQUIRE(s.policy(std::int64_t{3}, true, std::int64_t{5}).ok());
  auto d = s.policy(none, unchanged, std::int64_t{7});
  REQUIRE(d.ok());
  CHECK(d.c.kind == change_kind::policy);
  CHECK(s.record.policy() == record_policy{3, true, 7});
  CHECK(s.record.version() == 3);
  CHECK(s.record.on_hand() == 10);
}

TEST_CASE("a policy change on a record never stocked is NOT_FOUND", "[policy]") {
  record_script s;
  CHECK(s.policy(std::int64_t{1}, unchanged).code == outcome::not_found);
  CHECK_FALSE(s.record.exists());
}

TEST_CASE("turning backorders off while units are backordered is INSUFFICIENT_STOCK",
          "[policy][backorder]") {
  auto s = backorderable(2);
  s.hold(5);
  const auto before = s.state();
  auto d = s.policy(none, false);
  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.message.find("3 units are backordered") != std::string::npos);
  CHECK(s.state() == before);
}

TEST_CASE("backorders can be turned off once stock has filled them", "[policy][backorder]") {
  auto s = backorderable(2);
  s.hold(5);
  s.adjust(+3);
  CHECK(s.record.backordered() == 0);
  CHECK(s.policy(none, false).ok());
}

TEST_CASE("policy values must be within [0, 10^12] and at least one given", "[policy][validate]") {
  CHECK(validate_policy(std::int64_t{0}, unchanged, none).empty());
  CHECK(validate_policy(none, true, none).empty());
  CHECK(validate_policy(none, unchanged, limits::quantity_max).empty());
  CHECK(validate_policy(std::int64_t{-1}, unchanged, none).starts_with("safety_stock:"));
  CHECK(validate_policy(none, unchanged, limits::quantity_max + 1)
            .starts_with("low_stock_threshold:"));
  CHECK_FALSE(validate_policy(none, unchanged, none).empty());
}

// ---- safety stock ------------------------------------------------------------

TEST_CASE("available is on_hand minus reserved minus safety stock", "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  s.hold(3);
  s.policy(std::int64_t{4}, unchanged);
  CHECK(s.record.available() == 3);
}

TEST_CASE("available never goes below 0 without backorders", "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  s.hold(8);
  s.policy(std::int64_t{5}, unchanged);
  CHECK(s.record.available() == 0);
}

TEST_CASE("a reserve may not take safety stock", "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  s.policy(std::int64_t{4}, unchanged);
  auto d = s.reserve(7);
  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 6);
  CHECK(s.reserve(6).ok());
}

TEST_CASE("a sale may not take safety stock", "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  s.policy(std::int64_t{4}, unchanged);
  CHECK(s.sell(7).code == outcome::insufficient_stock);
  CHECK(s.sell(6).ok());
}

TEST_CASE("adjust and set may count on_hand down into safety stock", "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  s.policy(std::int64_t{4}, unchanged);
  CHECK(s.adjust(-8).ok());
  CHECK(s.record.on_hand() == 2);
  CHECK(s.set(1).ok());
  CHECK(s.record.available() == 0);
}

TEST_CASE("adjust and set still may not go below reserved", "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  s.policy(std::int64_t{4}, unchanged);
  s.hold(5);
  CHECK(s.adjust(-6).code == outcome::insufficient_stock);
  CHECK(s.set(4).code == outcome::insufficient_stock);
  CHECK(s.set(5).ok());
}

TEST_CASE("raising safety stock above what is free leaves existing holds alone",
          "[policy][safety]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(8);
  REQUIRE(s.policy(std::int64_t{5}, unchanged).ok());
  CHECK(s.record.reserved() == 8);
  CHECK(s.commit(h).ok());
  CHECK(s.record.on_hand() == 2);
}

// ---- backorders --------------------------------------------------------------

TEST_CASE("without backorders a reserve beyond available is refused", "[backorder]") {
  record_script s;
  s.adjust(+3);
  CHECK(s.reserve(4).code == outcome::insufficient_stock);
}

TEST_CASE("with backorders a reserve beyond available counts the shortfall as backordered",
          "[backorder]") {
  auto s = backorderable(3);
  auto d = s.reserve(5);
  REQUIRE(d.ok());
  CHECK(s.record.reserved() == 5);
  CHECK(s.record.backordered() == 2);
  CHECK(s.record.on_hand() == 3);
}

TEST_CASE("with backorders available goes negative by the units promised beyond stock",
          "[backorder]") {
  auto s = backorderable(3);
  s.hold(5);
  CHECK(s.record.available() == -2);
}

TEST_CASE("a backordered reserve counts safety stock as not available", "[backorder][safety]") {
  auto s = backorderable(10);
  s.policy(std::int64_t{4}, unchanged);
  s.hold(8);
  CHECK(s.record.backordered() == 2);  // 6 were available
  CHECK(s.record.check_invariants().empty());
}

TEST_CASE("a reserve with nothing available backorders all of it", "[backorder]") {
  auto s = backorderable(2);
  s.hold(2);
  s.hold(4);
  CHECK(s.record.backordered() == 4);
}

TEST_CASE("receiving stock fills backorders first", "[backorder]") {
  auto s = backorderable(0);
  s.hold(5);
  s.adjust(+3);
  CHECK(s.record.backordered() == 2);
  CHECK(s.record.available() == -2);
  s.adjust(+4);
  CHECK(s.record.backordered() == 0);
  CHECK(s.record.available() == 2);
}

TEST_CASE("a set that raises on_hand fills backorders first", "[backorder]") {
  auto s = backorderable(1);
  s.hold(4);
  REQUIRE(s.record.backordered() == 3);
  s.set(3);
  CHECK(s.record.backordered() == 1);
}

TEST_CASE("adjust may remove stock only down to the covered reservations", "[backorder]") {
  auto s = backorderable(4);
  s.hold(6);  // 4 covered, 2 backordered
  CHECK(s.adjust(-1).code == outcome::insufficient_stock);
  s.adjust(+3);  // fills the 2 backordered, 1 free
  CHECK(s.adjust(-1).ok());
  CHECK(s.adjust(-1).code == outcome::insufficient_stock);
}

TEST_CASE("releasing a hold releases backordered units first", "[backorder]") {
  auto s = backorderable(4);
  auto covered = s.hold(4);
  s.hold(3);  // all backordered
  s.release(covered);
  CHECK(s.record.reserved() == 3);
  CHECK(s.record.backordered() == 0);  // the freed stock now covers the rest
  CHECK(s.record.available() == 1);
}

TEST_CASE("an expired hold releases backordered units first", "[backorder]") {
  auto s = backorderable(1);
  s.hold(3, 1'000);
  s.now += 1'000;
  s.expire_due();
  CHECK(s.record.reserved() == 0);
  CHECK(s.record.backordered() == 0);
}

TEST_CASE("committing a covered hold sells from stock", "[backorder]") {
  auto s = backorderable(4);
  auto covered = s.hold(4);
  s.hold(2);
  REQUIRE(s.commit(covered).ok());
  CHECK(s.record.on_hand() == 0);
  CHECK(s.record.reserved() == 2);
  CHECK(s.record.backordered() == 2);
}

TEST_CASE("a commit that needs backordered units is INSUFFICIENT_STOCK", "[backorder]") {
  auto s = backorderable(1);
  auto h = s.hold(3);
  const auto before = s.state();
  auto d = s.commit(h);
  CHECK(d.code == outcome::insufficient_stock);
  CHECK(s.state() == before);
  CHECK(s.commit(h, std::int64_t{1}).ok());  // the covered unit; the rest is released
  CHECK(s.record.on_hand() == 0);
  CHECK(s.record.reserved() == 0);
  CHECK(s.record.backordered() == 0);
}

TEST_CASE("a backordered hold can be committed once stock arrives", "[backorder]") {
  auto s = backorderable(0);
  auto h = s.hold(3);
  s.adjust(+3);
  CHECK(s.commit(h).ok());
  CHECK(s.record.on_hand() == 0);
}

TEST_CASE("a sale without a hold is never backordered", "[backorder]") {
  auto s = backorderable(2);
  CHECK(s.sell(3).code == outcome::insufficient_stock);
}

TEST_CASE("reserved may not exceed 10^12, backorders included", "[backorder]") {
  auto s = backorderable(1);
  s.hold(limits::quantity_max);
  auto d = s.reserve(1);
  CHECK(d.code == outcome::limit_exceeded);
  CHECK(d.limit == limits::quantity_max);
}

// ---- invariants and replay -----------------------------------------------------

TEST_CASE("check_invariants names a backorder without allow_backorder", "[backorder][invariants]") {
  stock_record r;
  r.restore(5, 7, 3, {hold{1, 7, 1'000, ""}});
  r.restore_policy(record_policy{}, 2, 0);
  CHECK(r.check_invariants().find("not allowed") != std::string::npos);
  r.restore_policy(record_policy{0, true, 0}, 2, 0);
  CHECK(r.check_invariants().empty());
}

TEST_CASE("check_invariants names covered reservations beyond on_hand", "[backorder][invariants]") {
  stock_record r;
  r.restore(5, 7, 3, {hold{1, 7, 1'000, ""}});
  r.restore_policy(record_policy{0, true, 0}, 1, 0);
  CHECK(r.check_invariants().find("exceeds on_hand") != std::string::npos);
}

TEST_CASE("check_invariants names backordered beyond reserved", "[backorder][invariants]") {
  stock_record r;
  r.restore(5, 1, 3, {hold{1, 1, 1'000, ""}});
  r.restore_policy(record_policy{0, true, 0}, 2, 0);
  CHECK(r.check_invariants().find("backordered 2 outside") != std::string::npos);
}

TEST_CASE("check_invariants names a negative incoming or safety stock", "[policy][invariants]") {
  stock_record r;
  r.restore(5, 0, 3, {});
  r.restore_policy(record_policy{-1, false, 0}, 0, 0);
  CHECK_FALSE(r.check_invariants().empty());
  r.restore_policy(record_policy{}, 0, -1);
  CHECK_FALSE(r.check_invariants().empty());
}

TEST_CASE("replaying policy and backorder changes rebuilds the same record", "[backorder][replay]") {
  auto s = backorderable(2);
  s.policy(std::int64_t{1}, unchanged, std::int64_t{9});
  auto a = s.hold(4);
  s.hold(2);
  s.adjust(+3);
  s.release(a, std::int64_t{1});
  s.commit(a);
  stock_record replayed;
  for (const auto& c : s.journal) replayed.apply(c);
  CHECK(state_of(replayed) == s.state());
  CHECK(replayed.available() == s.record.available());
  CHECK(replayed.check_invariants().empty());
}
