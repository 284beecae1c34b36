// The node's warehouse directory: every (tenant, warehouse) with at least one
// record. Allocation and stock.find look for a SKU only in these warehouses.
// Filled from recovery (persistence: recovery_report::warehouses) and by a
// record actor when its record is created; a tenant's warehouses are
// removed only with the tenant (tenant.delete). Thread-safe; reads copy a short list.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace stockgrid::actors {

class warehouse_directory {
 public:
  // A tenant's warehouses beyond this are still stored and served; only
  // allocation and stock.find look at the first `per_tenant_max` by name.
  static constexpr std::size_t per_tenant_max = 256;

  void add(const std::string& tenant, const std::string& warehouse) {
    std::lock_guard lk(mu_);
    auto& list = by_tenant_[tenant];
    auto it = std::lower_bound(list.begin(), list.end(), warehouse);
    if (it == list.end() || *it != warehouse) list.insert(it, warehouse);
  }
  // A deleted tenant's warehouses go.
  void remove_tenant(const std::string& tenant) {
    std::lock_guard lk(mu_);
    by_tenant_.erase(tenant);
  }
  // The tenant's warehouses by name, at most per_tenant_max.
  std::vector<std::string> of(const std::string& tenant) const {
    std::lock_guard lk(mu_);
    auto it = by_tenant_.find(tenant);
    if (it == by_tenant_.end()) return {};
    const auto n = std::min(it->second.size(), per_tenant_max);
    return {it->second.begin(), it->second.begin() + static_cast<std::ptrdiff_t>(n)};
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> by_tenant_;
};

}  // namespace stockgrid::actors
