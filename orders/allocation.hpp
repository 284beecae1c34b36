// Choosing warehouses for the lines of an order, as a plain function: no
// actors, no I/O, no clock. The availability it reads (`seen`) is advisory:
// the records decide atomically when the holds are taken, so a stale figure
// costs a refused hold, never an oversell. For the same inputs the result is
// always the same, lines and explanation included.
//
// The rules, in order:
//  1. Merge the request: lines naming the same (warehouse, sku) are summed;
//     lines without a warehouse are summed per sku.
//  2. A line naming a warehouse takes exactly that warehouse, for all it asks,
//     whatever `seen` says (the record refuses if it is short); if `seen`
//     shows less there, a shortage is recorded with the figure seen (0 for a
//     record not seen). What it takes is no longer available to step 3.
//  3. The lines without a warehouse are placed by the policy over the records
//     of their sku in `seen` (availability below 0, from backorders, counts
//     as 0; a record listed twice counts once, with the larger figure):
//       priority:       warehouses in settings.priority order, then the rest
//                       by name, splitting across as many as needed;
//       most_available: the most available first, then the next (ties by
//                       name);
//       fewest_splits:  one warehouse that fills every such line of the
//                       order if there is one (the most total available
//                       among them, ties by name); otherwise per sku one
//                       warehouse that covers it (the most available, ties
//                       by name); only when none does, split in
//                       most_available order.
//     A line that cannot be fully placed records a shortage with what could
//     be placed; everything that can be placed is placed in any case. With
//     `partial` the rest is listed in `unfilled`; without it the caller
//     refuses the order when !complete().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stockgrid::orders {

// Values are journaled inside order documents: never renumber; 0 is reserved.
enum class allocation_policy : std::uint8_t { priority = 1, most_available = 2, fewest_splits = 3 };

// Wire names: "priority", "most_available", "fewest_splits".
std::string_view to_string(allocation_policy p);
std::optional<allocation_policy> parse_allocation_policy(std::string_view text);

struct allocation_settings {
  allocation_policy policy = allocation_policy::most_available;
  // For `priority`: warehouses in the order to fill from; warehouses not
  // listed come after, by name.
  std::vector<std::string> priority;
};

// One requested line. Quantities are assumed validated (1..quantity_max) and
// the lines at most limits::order_lines_max, so sums never overflow.
struct line_request {
  std::string sku;
  std::int64_t qty = 0;
  std::string warehouse;  // empty = let allocation choose
};

// What a record said when the caller looked: the availability of one sku in
// one warehouse of the order's tenant.
struct stock_seen {
  std::string warehouse;
  std::string sku;
  std::int64_t available = 0;  // may be negative with backorders: counts as 0
};

struct allocated_line {
  std::string sku;
  std::string warehouse;
  std::int64_t qty = 0;

  friend bool operator==(const allocated_line&, const allocated_line&) = default;
};

struct short_line {
  std::string sku;
  std::string warehouse;  // empty when the request named no warehouse
  std::int64_t requested = 0;
  std::int64_t available = 0;  // what could be placed (named: what was seen there)

  friend bool operator==(const short_line&, const short_line&) = default;
};

struct unfilled_line {
  std::string sku;
  std::int64_t qty = 0;

  friend bool operator==(const unfilled_line&, const unfilled_line&) = default;
};

struct allocation {
  // What to hold, merged: at most one line per (warehouse, sku), sorted by
  // (warehouse, sku), which is the order the holds are taken in.
  std::vector<allocated_line> lines;
  // With `partial`: what could not be placed, by sku.
  std::vector<unfilled_line> unfilled;
  // What was short: named lines by (warehouse, sku) first, then the others by sku.
  std::vector<short_line> shortages;
  // One sentence per decision, named lines first, then by sku, e.g.
  // "sku A: 3 from w1 (priority 1 of 2), 2 from w2 (split: w1 had 3)".
  std::vector<std::string> explanation;
  bool complete() const { return shortages.empty(); }
};

allocation allocate(const std::vector<line_request>& lines, const std::vector<stock_seen>& seen,
                    const allocation_settings& settings, bool partial);

}  // namespace stockgrid::orders
