// Which records list_records() returns and in what order, shared by both
// stores so they agree. Internal to persistence/.
#pragma once

#include <string_view>
#include <tuple>

#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

// Listing order: (tenant, warehouse, sku), byte-wise like SQLite's BINARY
// collation (std::string compares as unsigned bytes).
inline bool listing_less(const record_key& a, const record_key& b) {
  return std::tie(a.tenant, a.warehouse, a.sku) < std::tie(b.tenant, b.warehouse, b.sku);
}

// Whether `key` matches the filter and lies after its cursor.
inline bool in_listing(const list_filter& f, const record_key& key) {
  if (key.tenant != f.tenant) return false;
  if (!f.warehouse.empty() && key.warehouse != f.warehouse) return false;
  if (!std::string_view(key.sku).starts_with(f.sku_prefix)) return false;
  return std::tie(key.warehouse, key.sku) > std::tie(f.after_warehouse, f.after_sku);
}

struct listing_order {
  bool operator()(const record_key& a, const record_key& b) const { return listing_less(a, b); }
};

}  // namespace stockgrid::persistence
