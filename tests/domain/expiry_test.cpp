// Hold expiry: which holds are due when, in what order, and what expiring
// one does to the record.
#include <catch2/catch.hpp>

#include <algorithm>

#include "domain/stock_record.hpp"
#include "tests/domain/record_script.hpp"

using namespace stockgrid;
using stockgrid::test::record_script;

TEST_CASE("a record without holds has no deadline and nothing due", "[expiry]") {
  record_script s;
  s.adjust(+10);
  CHECK_FALSE(s.record.next_deadline().has_value());
  CHECK(s.record.due_holds(s.now + 1'000'000).empty());
}

TEST_CASE("a hold is never due before its deadline", "[expiry]") {
  record_script s;
  s.adjust(+10);
  const auto deadline = s.now + 1'000;
  s.hold(4, 1'000);

  CHECK(s.record.due_holds(deadline - 1).empty());
  CHECK(s.record.next_deadline() == deadline);
}

TEST_CASE("a hold is due at exactly its deadline", "[expiry]") {
  record_script s;
  s.adjust(+10);
  const auto deadline = s.now + 1'000;
  auto h = s.hold(4, 1'000);

  CHECK(s.record.due_holds(deadline) == std::vector<std::uint64_t>{h});
}

TEST_CASE("next_deadline is the earliest deadline among active holds", "[expiry]") {
  record_script s;
  s.adjust(+10);
  s.hold(1, 30'000);
  auto early = s.hold(1, 10'000);
  s.hold(1, 20'000);
  CHECK(s.record.next_deadline() == s.now + 10'000);

  s.release(early);  // the earliest hold ends: the next one is now the earliest
  CHECK(s.record.next_deadline() == s.now + 20'000);
}

TEST_CASE("due holds come earliest deadline first, not in creation order", "[expiry]") {
  record_script s;
  s.adjust(+10);
  auto c = s.hold(1, 30'000);
  auto a = s.hold(1, 10'000);
  auto b = s.hold(1, 20'000);
  s.hold(1, 90'000);  // not due

  CHECK(s.record.due_holds(s.now + 30'000) == std::vector<std::uint64_t>{a, b, c});
}

TEST_CASE("expiring a hold releases its units and increments the version", "[expiry]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  s.hold(2, 5'000);
  const auto version = s.record.version();

  s.now += 1'000;
  auto c = s.record.decide_expire(h);
  CHECK(c.kind == change_kind::expire);
  CHECK(c.qty == 4);
  CHECK(c.hold_seq == h);
  CHECK(c.version == version + 1);
  s.record.apply(c);

  CHECK(s.record.find_hold(h) == nullptr);
  CHECK(s.record.reserved() == 2);
  CHECK(s.record.on_hand() == 10);
  CHECK(s.record.available() == 8);
  CHECK(s.record.version() == version + 1);
  CHECK(s.record.check_invariants().empty());
}

TEST_CASE("expiring a partly released hold releases only what is left", "[expiry]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  s.release(h, 1);

  s.now += 1'000;
  REQUIRE(s.expire_due() == std::vector<std::uint64_t>{h});
  CHECK(s.record.reserved() == 0);
  CHECK(s.record.available() == 10);
  CHECK(s.record.check_invariants().empty());
}

TEST_CASE("an expired hold is no longer due", "[expiry]") {
  record_script s;
  s.adjust(+10);
  s.hold(4, 1'000);
  s.now += 1'000;
  REQUIRE(s.expire_due().size() == 1);
  CHECK(s.record.due_holds(s.now + 1'000'000).empty());
  CHECK_FALSE(s.record.next_deadline().has_value());
}

TEST_CASE("a committed or released hold never becomes due", "[expiry]") {
  record_script s;
  s.adjust(+10);
  auto a = s.hold(1, 1'000);
  auto b = s.hold(1, 2'000);
  s.commit(a);
  s.release(b);
  CHECK(s.record.due_holds(s.now + 1'000'000).empty());
}

TEST_CASE("an extended hold is not due at its old deadline", "[expiry][extend]") {
  record_script s;
  s.adjust(+10);
  const auto old_deadline = s.now + 1'000;
  auto h = s.hold(4, 1'000);
  s.now += 500;
  const auto new_deadline = s.now + 2'000;
  s.extend(h, 2'000);

  CHECK(s.record.next_deadline() == new_deadline);
  CHECK(s.record.due_holds(old_deadline).empty());
  CHECK(s.record.due_holds(new_deadline - 1).empty());
  CHECK(s.record.due_holds(new_deadline) == std::vector<std::uint64_t>{h});
}

TEST_CASE("a hold extended to an earlier deadline is due at the earlier one", "[expiry][extend]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 60'000);
  s.extend(h, 1'000);
  CHECK(s.record.next_deadline() == s.now + 1'000);
  CHECK(s.record.due_holds(s.now + 1'000) == std::vector<std::uint64_t>{h});
}

TEST_CASE("a hold extended many times is due once, at its last deadline", "[expiry][extend]") {
  record_script s;
  s.adjust(+10);
  auto h = s.hold(4, 1'000);
  auto other = s.hold(1, 500'000);
  for (int i = 0; i < 200; ++i) {
    s.now += 10;
    REQUIRE(s.extend(h, 1'000).ok());
  }
  const auto last_deadline = s.now + 1'000;

  CHECK(s.record.next_deadline() == last_deadline);
  CHECK(s.record.due_holds(last_deadline - 1).empty());
  CHECK(s.record.due_holds(last_deadline) == std::vector<std::uint64_t>{h});
  (void)other;
}

TEST_CASE("a hold extended to the deadline it already has is due only once", "[expiry][extend]") {
  record_script s;
  s.adjust(+10);
  const auto deadline = s.now + 1'000;
  auto h = s.hold(4, 1'000);
  s.now += 500;
  REQUIRE(s.extend(h, 500).ok());  // now + 500 == the same deadline
  REQUIRE(s.record.find_hold(h)->expires_at_ms == deadline);

  CHECK(s.record.due_holds(deadline) == std::vector<std::uint64_t>{h});
}

TEST_CASE("a hold extended away and back to its deadline is due only once", "[expiry][extend]") {
  record_script s;
  s.adjust(+10);
  const auto deadline = s.now + 1'000;
  auto h = s.hold(4, 1'000);
  REQUIRE(s.extend(h, 5'000).ok());
  REQUIRE(s.extend(h, 1'000).ok());

  CHECK(s.record.due_holds(deadline) == std::vector<std::uint64_t>{h});
}

TEST_CASE("the expiry timer releases every due hold and leaves the rest", "[expiry]") {
  record_script s;
  s.adjust(+100);
  for (int i = 1; i <= 10; ++i) s.hold(i, i * 1'000);  // 55 units, deadlines 1s..10s

  s.now += 5'000;
  auto expired = s.expire_due();

  CHECK(expired.size() == 5);
  CHECK(s.record.holds().size() == 5);
  CHECK(s.record.reserved() == 6 + 7 + 8 + 9 + 10);
  CHECK(s.record.next_deadline() == s.now + 1'000);
  CHECK(s.record.check_invariants().empty());
}
