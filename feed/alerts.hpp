// Low-stock alerts: edge-triggered on `available`, with hysteresis so stock
// that oscillates around a threshold raises one alert, not a storm.
//
// A record is in one of three levels:
//   ok   -> low  when available <= threshold (and > 0): low_stock
//   any  -> out  when available <= 0:                   out_of_stock
//   low/out -> ok when available > threshold + band:    back_in_stock
// where band = max(1, threshold * hysteresis_percent / 100). Nothing fires
// between those edges: out stays out until back_in_stock (no low_stock on the
// way up), low stays low while available is within the band.
//
// The threshold is the record's low_stock_threshold, else the tenant's
// default (tenant.settings); 0 means only out_of_stock/back_in_stock.
//
// Plain state, one tracker per partition, fed that partition's changes in seq
// order. It remembers only records that are not ok; a record it has not seen
// starts at the level its before-values give (ok inside the band). A
// record's first change (version 1) sets its level without an alert.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "domain/change.hpp"
#include "domain/types.hpp"
#include "feed/event.hpp"

namespace stockgrid::feed {

class alert_tracker {
 public:
  explicit alert_tracker(std::uint32_t hysteresis_percent) : percent_(hysteresis_percent) {}

  // The alert a change fires, if any, given the threshold in force.
  std::optional<alert_kind> on_change(const record_key& key, const change& c, std::int64_t threshold);

  // Records currently low or out.
  std::size_t tracked() const { return levels_.size(); }

  std::int64_t band(std::int64_t threshold) const;

 private:
  enum class level : std::uint8_t { ok, low, out };
  level level_of(std::int64_t available, std::int64_t threshold) const;

  std::uint32_t percent_;
  std::unordered_map<record_key, level, record_key_hash> levels_;
};

}  // namespace stockgrid::feed
