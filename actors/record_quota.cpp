#include "actors/record_quota.hpp"

#include <mutex>

namespace stockgrid::actors {

record_quota::counter& record_quota::of(const std::string& tenant,
                                        std::shared_lock<std::shared_mutex>& lk) {
  auto it = tenants_.find(tenant);
  // Made under the exclusive lock; forget() may run before the shared lock
  // is back, hence the loop.
  while (it == tenants_.end()) {
    lk.unlock();
    {
      std::unique_lock ex(mu_);
      tenants_.try_emplace(tenant, std::make_unique<counter>());
    }
    lk.lock();
    it = tenants_.find(tenant);
  }
  return *it->second;
}

std::uint32_t record_quota::take(const std::string& tenant, std::uint32_t node_max) {
  std::shared_lock lk(mu_);
  auto& c = of(tenant, lk);
  const auto own = c.own_max.load(std::memory_order_relaxed);
  const std::uint32_t limit = own != 0 ? own : node_max;
  if (c.records.fetch_add(1, std::memory_order_acq_rel) < limit) return 0;
  c.records.fetch_sub(1, std::memory_order_acq_rel);
  return limit;
}

void record_quota::give_back(const std::string& tenant) {
  std::shared_lock lk(mu_);
  if (auto it = tenants_.find(tenant); it != tenants_.end())
    it->second->records.fetch_sub(1, std::memory_order_acq_rel);
}

void record_quota::add_existing(const std::string& tenant, std::uint64_t n) {
  std::shared_lock lk(mu_);
  of(tenant, lk).records.fetch_add(n, std::memory_order_acq_rel);
}

void record_quota::set_limit(const std::string& tenant, std::uint32_t max) {
  std::shared_lock lk(mu_);
  of(tenant, lk).own_max.store(max, std::memory_order_relaxed);
}

std::uint64_t record_quota::count(const std::string& tenant) const {
  std::shared_lock lk(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second->records.load(std::memory_order_acquire);
}

void record_quota::forget(const std::string& tenant) {
  std::unique_lock ex(mu_);
  tenants_.erase(tenant);
}

}  // namespace stockgrid::actors
