#include "orders/allocation.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace stockgrid::orders {

std::string_view to_string(allocation_policy p) {
  switch (p) {
    case allocation_policy::priority: return "priority";
    case allocation_policy::most_available: return "most_available";
    case allocation_policy::fewest_splits: return "fewest_splits";
  }
  return "unknown";
}

std::optional<allocation_policy> parse_allocation_policy(std::string_view text) {
  for (auto p : {allocation_policy::priority, allocation_policy::most_available,
                 allocation_policy::fewest_splits})
    if (to_string(p) == text) return p;
  return std::nullopt;
}

namespace {

// (warehouse, sku): the order the lines come out in.
using place = std::pair<std::string, std::string>;

struct candidate {
  std::string warehouse;
  std::int64_t available = 0;
};

// One warehouse's part of a sku, with the reason it was chosen.
struct piece {
  std::string warehouse;
  std::int64_t qty = 0;
  std::string reason;
};

// The state of one allocate() call: what is still available and what is taken.
struct allocator {
  const allocation_settings& settings;
  bool partial;
  std::map<place, std::int64_t> available;
  std::map<place, std::int64_t> taken;
  allocation result;

  void place_named(const place& where, std::int64_t qty);
  void place_unnamed(const std::map<std::string, std::int64_t>& unnamed);
  bool place_in_one_warehouse(const std::map<std::string, std::int64_t>& unnamed);
  void place_sku(const std::string& sku, std::int64_t qty);
  std::vector<candidate> candidates(const std::string& sku) const;
  void order_by_priority(std::vector<candidate>& c) const;
  std::string priority_reason(const std::string& warehouse) const;
  void take(const std::string& sku, std::int64_t qty, const std::vector<piece>& pieces,
            std::int64_t placeable);
  void finish();
};

void order_by_most_available(std::vector<candidate>& c) {
  // Candidates arrive sorted by name, so a stable sort breaks ties by name.
  std::stable_sort(c.begin(), c.end(), [](const candidate& a, const candidate& b) {
    return a.available > b.available;
  });
}

// Fills `qty` from `ordered` front to back. The first warehouse gets
// `first_reason(candidate)`, each later one the split it continues.
template <class Reason>
std::vector<piece> fill(const std::vector<candidate>& ordered, std::int64_t qty,
                        Reason&& first_reason) {
  std::vector<piece> pieces;
  for (const auto& c : ordered) {
    if (qty == 0) break;
    const std::int64_t q = std::min(qty, c.available);
    std::string reason = pieces.empty() ? first_reason(c)
                                        : "split: " + pieces.back().warehouse + " had " +
                                              std::to_string(pieces.back().qty);
    pieces.push_back({c.warehouse, q, std::move(reason)});
    qty -= q;
  }
  return pieces;
}

std::int64_t total(const std::vector<candidate>& c) {
  std::int64_t sum = 0;
  for (const auto& x : c) sum += x.available;
  return sum;
}

void allocator::place_named(const place& where, std::int64_t qty) {
  const auto& [warehouse, sku] = where;
  taken[where] += qty;
  auto it = available.find(where);
  const std::int64_t seen = it == available.end() ? 0 : it->second;
  std::string sentence = "sku " + sku + ": " + std::to_string(qty) + " from " + warehouse +
                         " (named in the request";
  if (seen < qty) {
    result.shortages.push_back({sku, warehouse, qty, seen});
    sentence += "; short: " + warehouse + " had " + std::to_string(seen);
  }
  result.explanation.push_back(sentence + ")");
  if (it != available.end()) it->second = std::max<std::int64_t>(0, seen - qty);
}

std::vector<candidate> allocator::candidates(const std::string& sku) const {
  std::vector<candidate> c;
  for (const auto& [where, a] : available)
    if (where.second == sku && a > 0) c.push_back({where.first, a});
  return c;
}

void allocator::order_by_priority(std::vector<candidate>& c) const {
  const auto rank = [this](const std::string& w) {
    const auto& list = settings.priority;
    return static_cast<std::size_t>(std::find(list.begin(), list.end(), w) - list.begin());
  };
  std::stable_sort(c.begin(), c.end(), [&](const candidate& a, const candidate& b) {
    return rank(a.warehouse) < rank(b.warehouse);
  });
}

std::string allocator::priority_reason(const std::string& warehouse) const {
  const auto& list = settings.priority;
  const auto it = std::find(list.begin(), list.end(), warehouse);
  if (it == list.end()) return "not in the priority list, by name";
  return "priority " + std::to_string(it - list.begin() + 1) + " of " +
         std::to_string(list.size());
}

void allocator::place_sku(const std::string& sku, std::int64_t qty) {
  auto c = candidates(sku);
  const std::int64_t placeable = total(c);
  const auto most_available = [](const candidate& x) {
    return "most available: " + std::to_string(x.available);
  };
  std::vector<piece> pieces;
  switch (settings.policy) {
    case allocation_policy::priority:
      order_by_priority(c);
      pieces = fill(c, qty, [this](const candidate& x) { return priority_reason(x.warehouse); });
      break;
    case allocation_policy::most_available:
      order_by_most_available(c);
      pieces = fill(c, qty, most_available);
      break;
    case allocation_policy::fewest_splits: {
      order_by_most_available(c);
      const bool covers = !c.empty() && c.front().available >= qty;
      const std::string why = std::string("fewest splits: ") +
                              (covers ? "one warehouse covers " : "no one warehouse covers ") +
                              std::to_string(qty) + ", ";
      pieces = fill(c, qty, [&](const candidate& x) { return why + most_available(x); });
      break;
    }
  }
  take(sku, qty, pieces, placeable);
}

// fewest_splits, first choice: one warehouse for every line without one.
bool allocator::place_in_one_warehouse(const std::map<std::string, std::int64_t>& unnamed) {
  std::string best;
  std::int64_t best_total = -1;
  for (const auto& entry : available) {
    const auto& [w, first_sku] = entry.first;
    // Each warehouse once: through its record of the first sku, which it
    // must have to fill the order.
    if (first_sku != unnamed.begin()->first) continue;
    std::int64_t sum = 0;
    bool fills = true;
    for (const auto& [sku, qty] : unnamed) {
      const auto it = available.find({w, sku});
      const std::int64_t a = it == available.end() ? 0 : it->second;
      fills = fills && a >= qty;
      sum += a;
    }
    // `available` is walked by name, so strict > keeps the first name on ties.
    if (fills && sum > best_total) {
      best = w;
      best_total = sum;
    }
  }
  if (best_total < 0) return false;
  result.explanation.push_back("order: " + best + " fills every line without a warehouse (" +
                               std::to_string(best_total) + " available in total)");
  for (const auto& [sku, qty] : unnamed)
    take(sku, qty, {{best, qty, "fewest splits: one warehouse for the order"}}, qty);
  return true;
}

void allocator::place_unnamed(const std::map<std::string, std::int64_t>& unnamed) {
  if (unnamed.empty()) return;
  if (settings.policy == allocation_policy::fewest_splits && place_in_one_warehouse(unnamed))
    return;
  for (const auto& [sku, qty] : unnamed) place_sku(sku, qty);
}

// Records the pieces of one sku, its sentence and, if short, its shortage.
void allocator::take(const std::string& sku, std::int64_t qty, const std::vector<piece>& pieces,
                     std::int64_t placeable) {
  std::string sentence = "sku " + sku + ":";
  for (const auto& p : pieces) {
    taken[{p.warehouse, sku}] += p.qty;
    available[{p.warehouse, sku}] -= p.qty;
    sentence += (&p == &pieces.front() ? " " : ", ") + std::to_string(p.qty) + " from " +
                p.warehouse + " (" + p.reason + ")";
  }
  if (pieces.empty()) sentence += " nothing available in any warehouse";
  if (placeable < qty) {
    result.shortages.push_back({sku, "", qty, placeable});
    if (partial) result.unfilled.push_back({sku, qty - placeable});
    if (!pieces.empty()) sentence += "; short by " + std::to_string(qty - placeable);
    sentence += " (requested " + std::to_string(qty) + ", " + std::to_string(placeable) +
                " available)";
  }
  result.explanation.push_back(std::move(sentence));
}

void allocator::finish() {
  for (const auto& [where, qty] : taken)
    if (qty > 0) result.lines.push_back({where.second, where.first, qty});
}

}  // namespace

allocation allocate(const std::vector<line_request>& lines, const std::vector<stock_seen>& seen,
                    const allocation_settings& settings, bool partial) {
  allocator a{settings, partial, {}, {}, {}};
  for (const auto& s : seen) {
    auto& figure = a.available.try_emplace({s.warehouse, s.sku}, 0).first->second;
    figure = std::max(figure, s.available);
  }
  std::map<place, std::int64_t> named;
  std::map<std::string, std::int64_t> unnamed;
  for (const auto& l : lines) {
    if (l.warehouse.empty()) unnamed[l.sku] += l.qty;
    else named[{l.warehouse, l.sku}] += l.qty;
  }
  for (const auto& [where, qty] : named) a.place_named(where, qty);
  a.place_unnamed(unnamed);
  a.finish();
  return std::move(a.result);
}

}  // namespace stockgrid::orders
