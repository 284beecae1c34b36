// Choosing warehouses for order lines: merging, the three policies, splits,
// ties, shortages, partial orders and the explanation of each decision.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "orders/allocation.hpp"

using namespace stockgrid::orders;

namespace {

allocation_settings policy(allocation_policy p, std::vector<std::string> priority = {}) {
  return allocation_settings{p, std::move(priority)};
}

bool mentions(const std::vector<std::string>& sentences, const std::string& word) {
  for (const auto& s : sentences)
    if (s.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("policy names round-trip and unknown names are refused", "[allocation]") {
  for (auto p : {allocation_policy::priority, allocation_policy::most_available,
                 allocation_policy::fewest_splits})
    CHECK(parse_allocation_policy(to_string(p)) == p);
  CHECK(to_string(allocation_policy::fewest_splits) == "fewest_splits");
  CHECK_FALSE(parse_allocation_policy("").has_value());
  CHECK_FALSE(parse_allocation_policy("Priority").has_value());
}

TEST_CASE("lines naming the same record are summed into one", "[allocation]") {
  const auto a = allocate({{"A", 2, "w1"}, {"B", 1, "w1"}, {"A", 3, "w1"}},
                          {{"w1", "A", 10}, {"w1", "B", 10}},
                          policy(allocation_policy::most_available), false);
  CHECK(a.complete());
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w1", 5}, {"B", "w1", 1}});
}

TEST_CASE("lines of one sku without a warehouse are summed before placing", "[allocation]") {
  const auto a = allocate({{"A", 2, ""}, {"A", 3, ""}}, {{"w1", "A", 4}, {"w2", "A", 1}},
                          policy(allocation_policy::most_available), false);
  CHECK(a.complete());
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w1", 4}, {"A", "w2", 1}});
  REQUIRE(a.explanation.size() == 1);
  CHECK(a.explanation[0] == "sku A: 4 from w1 (most available: 4), 1 from w2 (split: w1 had 4)");
}

TEST_CASE("a named warehouse is taken as asked, with a shortage if seen short",
          "[allocation]") {
  const auto a = allocate({{"A", 5, "w1"}, {"B", 2, "w9"}}, {{"w1", "A", 3}},
                          policy(allocation_policy::most_available), true);
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w1", 5}, {"B", "w9", 2}});
  CHECK(a.shortages == std::vector<short_line>{{"A", "w1", 5, 3}, {"B", "w9", 2, 0}});
  CHECK(a.unfilled.empty());  // the record decides; nothing is held back
  CHECK_FALSE(a.complete());
  CHECK(mentions(a.explanation, "w1 had 3"));
}

TEST_CASE("a named line uses up availability before the policy places the rest",
          "[allocation]") {
  const auto a = allocate({{"A", 4, ""}, {"A", 3, "w1"}}, {{"w1", "A", 5}, {"w2", "A", 3}},
                          policy(allocation_policy::most_available), false);
  CHECK(a.complete());
  // w1 has 5 - 3 = 2 left for the unnamed line, w2 has 3.
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w1", 4}, {"A", "w2", 3}});
}

TEST_CASE("priority fills in the listed order, then the rest by name", "[allocation]") {
  const std::vector<stock_seen> seen = {
      {"w1", "A", 100}, {"w2", "A", 3}, {"w3", "A", 2}, {"w0", "A", 1}};
  const auto settings = policy(allocation_policy::priority, {"w3", "w2"});
  const auto a = allocate({{"A", 7, ""}}, seen, settings, false);
  CHECK(a.complete());
  CHECK(a.lines == std::vector<allocated_line>{
                       {"A", "w0", 1}, {"A", "w1", 1}, {"A", "w2", 3}, {"A", "w3", 2}});
  REQUIRE(a.explanation.size() == 1);
  CHECK(a.explanation[0] ==
        "sku A: 2 from w3 (priority 1 of 2), 3 from w2 (split: w3 had 2), "
        "1 from w0 (split: w2 had 3), 1 from w1 (split: w0 had 1)");
}

TEST_CASE("priority takes one warehouse when the first covers the line", "[allocation]") {
  const auto a = allocate({{"A", 2, ""}}, {{"w1", "A", 100}, {"w2", "A", 3}},
                          policy(allocation_policy::priority, {"w2", "w1"}), false);
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w2", 2}});
  CHECK(a.explanation == std::vector<std::string>{"sku A: 2 from w2 (priority 1 of 2)"});
}

TEST_CASE("most_available breaks ties by warehouse name", "[allocation]") {
  const auto a = allocate({{"A", 6, ""}}, {{"wb", "A", 4}, {"wa", "A", 4}, {"wc", "A", 1}},
                          policy(allocation_policy::most_available), false);
  CHECK(a.lines == std::vector<allocated_line>{{"A", "wa", 4}, {"A", "wb", 2}});
  CHECK(mentions(a.explanation, "4 from wa"));
  CHECK(mentions(a.explanation, "2 from wb (split: wa had 4)"));
}

TEST_CASE("negative availability from backorders counts as none", "[allocation]") {
  const auto a = allocate({{"A", 3, ""}}, {{"w1", "A", -50}, {"w2", "A", 3}},
                          policy(allocation_policy::most_available), false);
  CHECK(a.complete());
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w2", 3}});
}

TEST_CASE("fewest_splits prefers one warehouse for the whole order", "[allocation]") {
  // Per sku, w1 has the most of A and w2 the most of B; only w3 has enough of both.
  const std::vector<stock_seen> seen = {{"w1", "A", 50}, {"w2", "B", 50}, {"w3", "A", 5},
                                        {"w3", "B", 5},  {"w4", "A", 2},  {"w4", "B", 9}};
  const auto a = allocate({{"A", 4, ""}, {"B", 5, ""}}, seen,
                          policy(allocation_policy::fewest_splits), false);
  CHECK(a.complete());
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w3", 4}, {"B", "w3", 5}});
  CHECK(mentions(a.explanation, "order: w3 fills every line"));
}

TEST_CASE("fewest_splits picks the order's warehouse with the most in total, ties by name",
          "[allocation]") {
  const std::vector<stock_seen> seen = {{"w2", "A", 5}, {"w2", "B", 5}, {"w1", "A", 6},
                                        {"w1", "B", 4}, {"w3", "A", 9}, {"w3", "B", 9}};
  const auto most = allocate({{"A", 1, ""}, {"B", 1, ""}}, seen,
                             policy(allocation_policy::fewest_splits), false);
  CHECK(most.lines == std::vector<allocated_line>{{"A", "w3", 1}, {"B", "w3", 1}});

  const std::vector<stock_seen> tied = {{"w2", "A", 5}, {"w2", "B", 5}, {"w1", "A", 6},
                                        {"w1", "B", 4}};
  const auto tie = allocate({{"A", 1, ""}, {"B", 1, ""}}, tied,
                            policy(allocation_policy::fewest_splits), false);
  CHECK(tie.lines == std::vector<allocated_line>{{"A", "w1", 1}, {"B", "w1", 1}});
}

TEST_CASE("fewest_splits without one warehouse for the order covers each sku whole",
          "[allocation]") {
  const std::vector<stock_seen> seen = {{"w1", "A", 10}, {"w2", "A", 4}, {"w2", "B", 8},
                                        {"w3", "B", 3},  {"w3", "C", 2}, {"w4", "C", 2}};
  const auto a = allocate({{"A", 4, ""}, {"B", 5, ""}, {"C", 3, ""}}, seen,
                          policy(allocation_policy::fewest_splits), false);
  CHECK(a.complete());
  // A: w1 covers it with the most; B: only w2 covers it; C: nobody covers 3,
  // so it splits, ties by name.
  CHECK(a.lines == std::vector<allocated_line>{
                       {"A", "w1", 4}, {"B", "w2", 5}, {"C", "w3", 2}, {"C", "w4", 1}});
  CHECK(mentions(a.explanation, "sku C: 2 from w3 (fewest splits: no one warehouse covers 3"));
  CHECK(mentions(a.explanation, "1 from w4 (split: w3 had 2)"));
}

TEST_CASE("a short line records what could be placed; partial lists the rest as unfilled",
          "[allocation]") {
  const std::vector<stock_seen> seen = {{"w1", "A", 2}, {"w2", "A", 1}, {"w1", "B", 9}};
  const std::vector<line_request> lines = {{"A", 5, ""}, {"B", 1, ""}, {"C", 4, ""}};
  for (auto p : {allocation_policy::priority, allocation_policy::most_available,
                 allocation_policy::fewest_splits}) {
    INFO(to_string(p));
    const auto all = allocate(lines, seen, policy(p), false);
    CHECK_FALSE(all.complete());
    CHECK(all.shortages == std::vector<short_line>{{"A", "", 5, 3}, {"C", "", 4, 0}});
    CHECK(all.unfilled.empty());
    // Without partial the lines still say what would be taken.
    CHECK(all.lines == std::vector<allocated_line>{{"A", "w1", 2}, {"B", "w1", 1},
                                                   {"A", "w2", 1}});

    const auto part = allocate(lines, seen, policy(p), true);
    CHECK(part.lines == all.lines);
    CHECK(part.shortages == all.shortages);
    CHECK(part.unfilled == std::vector<unfilled_line>{{"A", 2}, {"C", 4}});
    CHECK(mentions(part.explanation, "sku A: 2 from w1"));
    CHECK(mentions(part.explanation, "short by 2 (requested 5, 3 available)"));
    CHECK(mentions(part.explanation, "sku C: nothing available in any warehouse"));
  }
}

TEST_CASE("allocation is deterministic whatever the order of its inputs", "[allocation]") {
  std::vector<line_request> lines = {{"B", 3, ""}, {"A", 2, "w2"}, {"A", 6, ""}, {"C", 1, "w1"}};
  std::vector<stock_seen> seen = {{"w3", "A", 4}, {"w1", "A", 4}, {"w2", "A", 5},
                                  {"w2", "B", 1}, {"w1", "B", 2}, {"w1", "C", 1}};
  for (auto p : {allocation_policy::priority, allocation_policy::most_available,
                 allocation_policy::fewest_splits}) {
    INFO(to_string(p));
    const auto settings = policy(p, {"w2"});
    const auto first = allocate(lines, seen, settings, true);
    std::reverse(lines.begin(), lines.end());
    std::reverse(seen.begin(), seen.end());
    const auto second = allocate(lines, seen, settings, true);
    CHECK(first.lines == second.lines);
    CHECK(first.explanation == second.explanation);
    CHECK(first.shortages == second.shortages);
    for (std::size_t i = 1; i < first.lines.size(); ++i) {
      const auto& a = first.lines[i - 1];
      const auto& b = first.lines[i];
      CHECK(std::tie(a.warehouse, a.sku) < std::tie(b.warehouse, b.sku));
    }
    CHECK_FALSE(first.explanation.empty());
    for (const auto& sentence : first.explanation) CHECK_FALSE(sentence.empty());
  }
}

TEST_CASE("a record seen twice counts once, with the larger figure", "[allocation]") {
  const auto a = allocate({{"A", 6, ""}}, {{"w1", "A", 2}, {"w1", "A", 5}},
                          policy(allocation_policy::most_available), true);
  CHECK(a.shortages == std::vector<short_line>{{"A", "", 6, 5}});
  CHECK(a.lines == std::vector<allocated_line>{{"A", "w1", 5}});
}
