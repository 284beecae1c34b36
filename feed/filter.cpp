#include "feed/filter.hpp"

#include <algorithm>

namespace stockgrid::feed {

bool filter::matches(const record_key& key) const {
  if (key.tenant != tenant) return false;
  if (!warehouse.empty() && key.warehouse != warehouse) return false;
  if (!sku.empty() && key.sku != sku) return false;
  if (!sku_prefix.empty() && key.sku.compare(0, sku_prefix.size(), sku_prefix) != 0) return false;
  if (warehouses_allowed &&
      std::find(warehouses_allowed->begin(), warehouses_allowed->end(), key.warehouse) ==
          warehouses_allowed->end())
    return false;
  return true;
}

}  // namespace stockgrid::feed
