// The stock record's rules, one behaviour per test: stock in, stock out,
// holds and their refusals. Expiry, replay and random sequences have their
// own files.
#include <catch2/catch.hpp>

#include "domain/stock_record.hpp"
#include "tests/domain/record_script.hpp"

using namespace stockgrid;
using stockgrid::test::record_script;

// ---- the record's fields ---------------------------------------------------

TEST_CASE("a record that was never stocked does not exist and is empty", "[record]") {
  stock_record record;
  CHECK_FALSE(record.exists());
  CHECK(record.on_hand() == 0);
  CHECK(record.reserved() == 0);
  CHECK(record.available() == 0);
  CHECK(record.version() == 0);
  CHECK(record.holds().empty());
  CHECK(record.check_invariants().empty());
}

TEST_CASE("available is on_hand minus reserved", "[record]") {
  record_script s;
  s.adjust(+10);
  s.hold(3);
  s.hold(2);
  CHECK(s.record.on_hand() == 10);
  CHECK(s.record.reserved() == 5);
  CHECK(s.record.available() == 5);
}

TEST_CASE("every change increments the version, reserves and expiries included", "[record]") {
  record_script s;
  s.adjust(+10);
  CHECK(s.record.version() == 1);
  s.set(20);
  CHECK(s.record.version() == 2);
  auto a = s.hold(5, 1'000);
  CHECK(s.record.version() == 3);
  s.extend(a, 2'000);
  CHECK(s.record.version() == 4);
  s.release(a, 1);
  CHECK(s.record.version() == 5);
  s.commit(a, 1);
  CHECK(s.record.version() == 6);
  s.sell(1);
  CHECK(s.record.version() == 7);
  s.hold(1, 1'000);
  CHECK(s.record.version() == 8);
  s.now += 1'000;
  CHECK(s.expire_due().size() == 1);
  CHECK(s.record.version() == 9);
}

TEST_CASE("a change carries the version and quantities after it", "[record]") {
  record_script s;
  s.adjust(+10);
  auto d = s.adjust(-3, "damaged");
  REQUIRE(d.ok());
  CHECK(d.c.kind == change_kind::adjust);
  CHECK(d.c.version == 2);
  CHECK(d.c.on_hand_before == 10);
  CHECK(d.c.on_hand_after == 7);
  CHECK(d.c.qty == -3);
  CHECK(d.c.reason == "damaged");
}

// ---- adjust ------------------------------------------------------------------

TEST_CASE("the first adjust creates the record", "[record][adjust]") {
  record_script s;
  REQUIRE(s.adjust(+10, "receiving").ok());
  CHECK(s.record.exists());
  CHECK(s.record.on_hand() == 10);
  CHECK(s.record.version() == 1);
}

TEST_CASE("a positive adjust receives stock, a negative one removes shrinkage", "[record][adjust]") {
  record_script s;
  s.adjust(+10);
  REQUIRE(s.adjust(+5).ok());
  CHECK(s.record.on_hand() == 15);
  REQUIRE(s.adjust(-4).ok());
  CHECK(s.record.on_hand() == 11);
}

TEST_CASE("an adjust may remove every unreserved unit", "[record][adjust]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);
  REQUIRE(s.adjust(-6).ok());
  CHECK(s.record.on_hand() == 4);
  CHECK(s.record.available() == 0);
}

TEST_CASE("an adjust that would remove reserved units is refused with INSUFFICIENT_STOCK",
          "[record][adjust][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);
  const auto before = s.state();

  auto d = s.adjust(-7);

  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 6);
  CHECK(s.state() == before);
}

TEST_CASE("an adjust below zero is refused with INSUFFICIENT_STOCK", "[record][adjust][refusal]") {
  record_script s;
  s.adjust(+3);
  const auto before = s.state();

  auto d = s.adjust(-4);

  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 3);
  CHECK(s.state() == before);
}

TEST_CASE("a negative first adjust is refused and does not create the record",
          "[record][adjust][refusal]") {
  record_script s;
  auto d = s.adjust(-1);
  CHECK(d.code == outcome::insufficient_stock);
  CHECK_FALSE(s.record.exists());
}

TEST_CASE("an adjust up to 10^12 on hand is accepted", "[record][adjust][limits]") {
  record_script s;
  s.adjust(limits::quantity_max - 1);
  REQUIRE(s.adjust(+1).ok());
  CHECK(s.record.on_hand() == limits::quantity_max);
}

TEST_CASE("an adjust that would push on_hand above 10^12 is refused with BAD_REQUEST",
          "[record][adjust][refusal][limits]") {
  record_script s;
  s.adjust(limits::quantity_max);
  const auto before = s.state();

  auto d = s.adjust(limits::quantity_max);  // each operand valid, the sum is not

  CHECK(d.code == outcome::bad_request);
  CHECK_THAT(d.message, Catch::Contains("delta"));
  CHECK(s.state() == before);
}

// ---- set -----------------------------------------------------------------------

TEST_CASE("the first set creates the record", "[record][set]") {
  record_script s;
  REQUIRE(s.set(25, {}, "cycle count").ok());
  CHECK(s.record.exists());
  CHECK(s.record.on_hand() == 25);
  CHECK(s.record.version() == 1);
}

TEST_CASE("a set to zero still creates the record", "[record][set]") {
  record_script s;
  REQUIRE(s.set(0).ok());
  CHECK(s.record.exists());
  CHECK(s.record.available() == 0);
}

TEST_CASE("a set replaces on_hand with an absolute count", "[record][set]") {
  record_script s;
  s.adjust(+10);
  auto d = s.set(4);
  REQUIRE(d.ok());
  CHECK(d.c.kind == change_kind::set);
  CHECK(d.c.qty == 4);
  CHECK(s.record.on_hand() == 4);
}

TEST_CASE("a set with the current version is accepted", "[record][set]") {
  record_script s;
  s.adjust(+10);
  s.adjust(+1);
  REQUIRE(s.set(7, std::int64_t{2}).ok());
  CHECK(s.record.on_hand() == 7);
}

TEST_CASE("a set expecting version 0 creates a record that does not exist yet", "[record][set]") {
  record_script s;
  REQUIRE(s.set(7, std::int64_t{0}).ok());
  CHECK(s.record.on_hand() == 7);
}

TEST_CASE("a set with a stale version is refused with VERSION_CONFLICT",
          "[record][set][refusal]") {
  record_script s;
  s.adjust(+10);
  s.adjust(+1);
  const auto before = s.state();

  auto d = s.set(7, std::int64_t{1});

  CHECK(d.code == outcome::version_conflict);
  CHECK_THAT(d.message, Catch::Contains("2"));
  CHECK(s.state() == before);
}

TEST_CASE("a set below the reserved units is refused with INSUFFICIENT_STOCK",
          "[record][set][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(6);
  const auto before = s.state();

  auto d = s.set(5);

  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 4);
  CHECK(s.state() == before);
}

TEST_CASE("a set down to exactly the reserved units is accepted", "[record][set]") {
  record_script s;
  s.adjust(+10);
  s.hold(6);
  REQUIRE(s.set(6).ok());
  CHECK(s.record.available() == 0);
}

// ---- reserve -------------------------------------------------------------------

TEST_CASE("a reserve holds units until now + ttl", "[record][reserve]") {
  record_script s;
  s.adjust(+10);

  auto d = s.reserve(4, 30'000, "cart-17");

  REQUIRE(d.ok());
  CHECK(d.c.kind == change_kind::reserve);
  CHECK(d.c.expires_at_ms == s.now + 30'000);
  CHECK(s.record.reserved() == 4);
  CHECK(s.record.available() == 6);
  CHECK(s.record.on_hand() == 10);
  REQUIRE(s.record.holds().size() == 1);
  const auto holds = s.record.holds();
  const auto& h = holds.front();
  CHECK(h.seq == d.c.hold_seq);
  CHECK(h.qty == 4);
  CHECK(h.expires_at_ms == s.now + 30'000);
  CHECK(h.ref == "cart-17");
}

TEST_CASE("a reserve of exactly the available units succeeds", "[record][reserve]") {
  record_script s;
  s.adjust(+10);
  s.hold(3);
  REQUIRE(s.reserve(7).ok());
  CHECK(s.record.available() == 0);
}

TEST_CASE("a reserve beyond available is refused with INSUFFICIENT_STOCK and what is available",
          "[record][reserve][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(3);
  const auto before = s.state();

  auto d = s.reserve(8);

  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 7);
  CHECK(s.state() == before);
}

TEST_CASE("a reserve on a record never stocked is refused with NOT_FOUND",
          "[record][reserve][refusal]") {
  record_script s;
  auto d = s.reserve(1);
  CHECK(d.code == outcome::not_found);
  CHECK_FALSE(s.record.exists());
  CHECK(s.record.version() == 0);
}

TEST_CASE("a reserve beyond holds_max active holds is refused with LIMIT_EXCEEDED and the limit",
          "[record][reserve][refusal][limits]") {
  record_script s;
  s.holds_max = 3;
  s.adjust(+10);
  s.hold(1);
  s.hold(1);
  s.hold(1);
  const auto before = s.state();

  auto d = s.reserve(1);

  CHECK(d.code == outcome::limit_exceeded);
  CHECK(d.limit == 3);
  CHECK(s.state() == before);
}

TEST_CASE("a hold that ends frees a slot under holds_max", "[record][reserve][limits]") {
  record_script s;
  s.holds_max = 2;
  s.adjust(+10);
  auto a = s.hold(1);
  s.hold(1);
  REQUIRE(s.reserve(1).code == outcome::limit_exceeded);
  s.release(a);
  CHECK(s.reserve(1).ok());
}

TEST_CASE("holds are listed in the order they were created", "[record][reserve]") {
  record_script s;
  s.adjust(+10);
  auto a = s.hold(1, 50'000);
  auto b = s.hold(2, 10'000);
  auto c = s.hold(3, 30'000);
  REQUIRE(s.record.holds().size() == 3);
  CHECK(s.record.holds()[0].seq == a);
  CHECK(s.record.holds()[1].seq == b);
  CHECK(s.record.holds()[2].seq == c);
  CHECK(s.record.find_hold(b)->qty == 2);
  CHECK(s.record.find_hold(999) == nullptr);
}

// ---- commit --------------------------------------------------------------------

TEST_CASE("a commit of the whole hold removes its units from on_hand and reserved",
          "[record][commit]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4);

  auto d = s.commit(h);

  REQUIRE(d.ok());
  CHECK(d.c.qty == 4);
  CHECK(s.record.on_hand() == 6);
  CHECK(s.record.reserved() == 0);
  CHECK(s.record.available() == 6);
  CHECK(s.record.holds().empty());
}

TEST_CASE("a partial commit sells part of the hold and releases the rest", "[record][commit]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4);

  auto d = s.commit(h, 3);

  REQUIRE(d.ok());
  CHECK(d.c.qty == 3);
  CHECK(s.record.on_hand() == 7);
  CHECK(s.record.reserved() == 0);
  CHECK(s.record.available() == 7);
  CHECK(s.record.find_hold(h) == nullptr);
}

TEST_CASE("a commit leaves the other holds alone", "[record][commit]") {
  record_script s;
  s.adjust(+10);
  auto a = s.hold(4);
  auto b = s.hold(2);
  s.commit(a, 1);
  CHECK(s.record.on_hand() == 9);
  CHECK(s.record.reserved() == 2);
  REQUIRE(s.record.holds().size() == 1);
  CHECK(s.record.holds().front().seq == b);
}

TEST_CASE("a commit of more than the hold is refused with BAD_REQUEST",
          "[record][commit][refusal]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4);
  const auto before = s.state();

  auto d = s.commit(h, 5);

  CHECK(d.code == outcome::bad_request);
  CHECK_THAT(d.message, Catch::Contains("qty"));
  CHECK(s.state() == before);
}

TEST_CASE("a commit of an unknown hold is refused with HOLD_NOT_FOUND",
          "[record][commit][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);
  const auto before = s.state();

  CHECK(s.commit(12345).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

TEST_CASE("a commit of a hold already committed is refused with HOLD_NOT_FOUND",
          "[record][commit][refusal]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4);
  s.commit(h);
  const auto before = s.state();

  CHECK(s.commit(h).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

TEST_CASE("a commit at or after the hold's deadline is refused with HOLD_NOT_FOUND",
          "[record][commit][refusal][expiry]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  const auto before = s.state();

  s.now += 999;
  CHECK(s.record.decide_commit(h, {}, s.now).ok());
  s.now += 1;  // exactly the deadline: the hold is over even before the timer fires
  CHECK(s.commit(h).code == outcome::hold_not_found);
  s.now += 5'000;
  CHECK(s.commit(h).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

// ---- release -------------------------------------------------------------------

TEST_CASE("a release of the whole hold returns its units to available", "[record][release]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4);

  auto d = s.release(h);

  REQUIRE(d.ok());
  CHECK(d.c.qty == 4);
  CHECK(s.record.on_hand() == 10);
  CHECK(s.record.reserved() == 0);
  CHECK(s.record.available() == 10);
  CHECK(s.record.holds().empty());
}

TEST_CASE("a partial release keeps the rest held", "[record][release]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 30'000);

  REQUIRE(s.release(h, 1).ok());

  CHECK(s.record.on_hand() == 10);
  CHECK(s.record.reserved() == 3);
  REQUIRE(s.record.find_hold(h) != nullptr);
  CHECK(s.record.find_hold(h)->qty == 3);
  CHECK(s.record.find_hold(h)->expires_at_ms == s.now + 30'000);

  REQUIRE(s.release(h, 3).ok());  // releasing the rest ends the hold
  CHECK(s.record.find_hold(h) == nullptr);
  CHECK(s.record.reserved() == 0);
}

TEST_CASE("a release of more than the hold is refused with BAD_REQUEST",
          "[record][release][refusal]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4);
  const auto before = s.state();

  auto d = s.release(h, 5);

  CHECK(d.code == outcome::bad_request);
  CHECK_THAT(d.message, Catch::Contains("qty"));
  CHECK(s.state() == before);
}

TEST_CASE("a release of an unknown hold is refused with HOLD_NOT_FOUND",
          "[record][release][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);
  const auto before = s.state();

  CHECK(s.release(999).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

TEST_CASE("a release of an expired hold is refused with HOLD_NOT_FOUND",
          "[record][release][refusal][expiry]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  const auto before = s.state();

  s.now += 1'000;
  CHECK(s.release(h).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

// ---- extend --------------------------------------------------------------------

TEST_CASE("an extend moves the deadline to now + ttl", "[record][extend]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  s.now += 500;

  auto d = s.extend(h, 10'000);

  REQUIRE(d.ok());
  CHECK(d.c.expires_at_ms == s.now + 10'000);
  CHECK(s.record.find_hold(h)->expires_at_ms == s.now + 10'000);
  CHECK(s.record.reserved() == 4);
  CHECK(s.record.on_hand() == 10);
}

TEST_CASE("an extend may shorten the deadline", "[record][extend]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 60'000);
  REQUIRE(s.extend(h, 1'000).ok());
  CHECK(s.record.find_hold(h)->expires_at_ms == s.now + 1'000);
}

TEST_CASE("an extend of an unknown hold is refused with HOLD_NOT_FOUND",
          "[record][extend][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);
  const auto before = s.state();

  CHECK(s.extend(999, 1'000).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

TEST_CASE("an extend of an expired hold is refused with HOLD_NOT_FOUND",
          "[record][extend][refusal][expiry]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  const auto before = s.state();

  s.now += 1'000;
  CHECK(s.extend(h, 60'000).code == outcome::hold_not_found);
  CHECK(s.state() == before);
}

// ---- sell ----------------------------------------------------------------------

TEST_CASE("a sell removes available units immediately", "[record][sell]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);

  auto d = s.sell(6, "walk-in");

  REQUIRE(d.ok());
  CHECK(d.c.kind == change_kind::sell);
  CHECK(d.c.qty == 6);
  CHECK(d.c.reason == "walk-in");
  CHECK(s.record.on_hand() == 4);
  CHECK(s.record.reserved() == 4);
  CHECK(s.record.available() == 0);
}

TEST_CASE("a sell beyond available is refused with INSUFFICIENT_STOCK", "[record][sell][refusal]") {
  record_script s;
  s.adjust(+10);
  s.hold(4);
  const auto before = s.state();

  auto d = s.sell(7);

  CHECK(d.code == outcome::insufficient_stock);
  CHECK(d.available == 6);
  CHECK(s.state() == before);
}

TEST_CASE("a sell on a record never stocked is refused with NOT_FOUND", "[record][sell][refusal]") {
  record_script s;
  auto d = s.sell(1);
  CHECK(d.code == outcome::not_found);
  CHECK_FALSE(s.record.exists());
}

// ---- invariants ----------------------------------------------------------------

TEST_CASE("check_invariants is empty on valid states", "[record][invariants]") {
  record_script s;
  CHECK(s.record.check_invariants().empty());
  s.adjust(+10);
  CHECK(s.record.check_invariants().empty());
  auto a = s.hold(3);
  s.hold(7);
  CHECK(s.record.check_invariants().empty());  // fully reserved
  s.release(a, 1);
  CHECK(s.record.check_invariants().empty());
}

TEST_CASE("check_invariants reports reserved different from the sum of holds",
          "[record][invariants]") {
  stock_record record;
  record.restore(10, 5, 3, {hold{1, 2, 1'000, ""}, hold{2, 2, 2'000, ""}});
  CHECK_THAT(record.check_invariants(), Catch::Contains("sum of holds"));
}

TEST_CASE("check_invariants reports reserved above on_hand", "[record][invariants]") {
  stock_record record;
  record.restore(3, 5, 3, {hold{1, 5, 1'000, ""}});
  CHECK_FALSE(record.check_invariants().empty());
  CHECK_THAT(record.check_invariants(), Catch::Contains("on_hand"));
}

TEST_CASE("check_invariants reports a hold with no units", "[record][invariants]") {
  stock_record record;
  record.restore(3, 0, 3, {hold{1, 0, 1'000, ""}});
  CHECK_FALSE(record.check_invariants().empty());
}
