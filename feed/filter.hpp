// Which changes a subscription wants (docs/protocol.md "Subscriptions").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "domain/types.hpp"

namespace stockgrid::feed {

struct filter {
  std::string tenant;      // from the token, never from a frame
  std::string warehouse;   // empty = every warehouse
  std::string sku;         // exact SKU; empty = every SKU
  std::string sku_prefix;  // empty = every SKU
  bool alerts_only = false;
  // The key's warehouses; null = all of its tenant's.
  std::shared_ptr<const std::vector<std::string>> warehouses_allowed;

  bool matches(const record_key& key) const;
};

// Per partition, the seq of the last change a subscriber has accounted for:
// [[partition, seq], ...], one pair per partition.
using position = std::vector<std::pair<std::uint32_t, std::uint64_t>>;

}  // namespace stockgrid::feed
