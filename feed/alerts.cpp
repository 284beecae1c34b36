#include "feed/alerts.hpp"

#include <algorithm>

namespace stockgrid::feed {

std::int64_t alert_tracker::band(std::int64_t threshold) const {
  return std::max<std::int64_t>(1, threshold * static_cast<std::int64_t>(percent_) / 100);
}

alert_tracker::level alert_tracker::level_of(std::int64_t available, std::int64_t threshold) const {
  if (available <= 0) return level::out;
  if (available <= threshold) return level::low;
  return level::ok;
}

std::optional<alert_kind> alert_tracker::on_change(const record_key& key, const change& c,
                                                   std::int64_t threshold) {
  threshold = std::max<std::int64_t>(0, threshold);
  auto it = levels_.find(key);
  const std::int64_t after = available_after(c);
  if (c.version <= 1) {
    // A record's first change (it is created): it starts at its level, it
    // does not come "back in stock".
    const level first = level_of(after, threshold);
    if (first != level::ok) levels_.insert_or_assign(key, first);
    else if (it != levels_.end()) levels_.erase(it);
    return std::nullopt;
  }
  const level current = it != levels_.end() ? it->second : level_of(available_before(c), threshold);
  level next = current;
  std::optional<alert_kind> fired;
  if (after <= 0) {
    if (current != level::out) fired = alert_kind::out_of_stock;
    next = level::out;
  } else if (after <= threshold) {
    if (current == level::ok) {
      fired = alert_kind::low_stock;
      next = level::low;
    }
  } else if (after > threshold + band(threshold)) {
    if (current != level::ok) fired = alert_kind::back_in_stock;
    next = level::ok;
  }
  if (next == level::ok) {
    if (it != levels_.end()) levels_.erase(it);
  } else if (it != levels_.end()) {
    it->second = next;
  } else {
    levels_.emplace(key, next);
  }
  return fired;
}

}  // namespace stockgrid::feed
