// Low-stock alerts: edges and hysteresis (feed/alerts.hpp).
#include <catch2/catch.hpp>

#include <vector>

#include "feed/alerts.hpp"

using namespace stockgrid;
using namespace stockgrid::feed;

namespace {

// A change moving on_hand from `before` to `after` (nothing reserved), of a
// record that existed before it.
change move(std::int64_t before, std::int64_t after) {
  change c;
  c.kind = change_kind::adjust;
  c.version = 2;
  c.on_hand_before = before;
  c.on_hand_after = after;
  return c;
}

// Feeds available values in order; the alerts fired, by index.
std::vector<std::pair<std::size_t, alert_kind>> run(alert_tracker& t, const std::vector<std::int64_t>& values,
                                                    std::int64_t threshold) {
  std::vector<std::pair<std::size_t, alert_kind>> fired;
  const record_key k{"acme", "berlin", "A-1"};
  for (std::size_t i = 1; i < values.size(); ++i)
    if (auto a = t.on_change(k, move(values[i - 1], values[i]), threshold)) fired.emplace_back(i, *a);
  return fired;
}

}  // namespace

TEST_CASE("alerts fire on the edges of low, out and back in stock", "[feed][alerts]") {
  alert_tracker t(10);  // threshold 10: band 1, back above 11
  const auto fired = run(t, {20, 15, 10, 9, 0, 3, 11, 12, 30}, 10);
  REQUIRE(fired.size() == 3);
  CHECK(fired[0] == std::pair{std::size_t{2}, alert_kind::low_stock});
  CHECK(fired[1] == std::pair{std::size_t{4}, alert_kind::out_of_stock});
  // Out stays out on the way up (3, 11) until above threshold + band.
  CHECK(fired[2] == std::pair{std::size_t{7}, alert_kind::back_in_stock});
  CHECK(t.tracked() == 0);
}

TEST_CASE("stock oscillating around the threshold raises one alert, not a storm", "[feed][alerts]") {
  alert_tracker t(10);
  std::vector<std::int64_t> values{50};
  for (int i = 0; i < 100; ++i) {
    values.push_back(10);  // at the threshold: low
    values.push_back(11);  // inside the band: still low
  }
  const auto fired = run(t, values, 10);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].second == alert_kind::low_stock);

  // Around zero with no threshold: one out_of_stock, then 0 <-> 1 is quiet
  // (back needs 2 = 0 + band of 1 unit).
  alert_tracker z(10);
  std::vector<std::int64_t> around_zero{5};
  for (int i = 0; i < 50; ++i) {
    around_zero.push_back(0);
    around_zero.push_back(1);
  }
  around_zero.push_back(2);
  const auto zero = run(z, around_zero, 0);
  REQUIRE(zero.size() == 2);
  CHECK(zero[0].second == alert_kind::out_of_stock);
  CHECK(zero[1].second == alert_kind::back_in_stock);
}

TEST_CASE("the hysteresis band scales with the threshold and the percent", "[feed][alerts]") {
  CHECK(alert_tracker(10).band(100) == 10);
  CHECK(alert_tracker(10).band(5) == 1);  // at least one unit
  CHECK(alert_tracker(0).band(100) == 1);
  CHECK(alert_tracker(50).band(100) == 50);

  alert_tracker t(50);  // threshold 100: back above 150
  const auto fired = run(t, {200, 100, 150, 151}, 100);
  REQUIRE(fired.size() == 2);
  CHECK(fired[0] == std::pair{std::size_t{1}, alert_kind::low_stock});
  CHECK(fired[1] == std::pair{std::size_t{3}, alert_kind::back_in_stock});
}

TEST_CASE("a record first seen already low starts low: no alert for what it already was",
          "[feed][alerts]") {
  alert_tracker t(10);
  // First change seen goes 4 -> 3: it was low before, so nothing fires.
  CHECK(run(t, {4, 3}, 10).empty());
  // Reservations count: available = on_hand - reserved.
  change c = move(20, 20);
  c.reserved_before = 0;
  c.reserved_after = 15;  // available 20 -> 5
  CHECK(t.on_change({"acme", "berlin", "B"}, c, 10) == alert_kind::low_stock);
}

TEST_CASE("a record's first change sets its level without an alert", "[feed][alerts]") {
  alert_tracker t(10);
  const record_key k{"acme", "berlin", "new"};
  change created = move(0, 4);
  created.version = 1;  // stocked for the first time, below the threshold
  CHECK_FALSE(t.on_change(k, created, 10).has_value());
  CHECK(t.tracked() == 1);  // it is low already: no low_stock on the next drop
  CHECK_FALSE(t.on_change(k, move(4, 3), 10).has_value());
  CHECK(t.on_change(k, move(3, 20), 10) == alert_kind::back_in_stock);
}
