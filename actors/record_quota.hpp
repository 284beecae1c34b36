// Per-tenant counts of stock records, for the records quota
// (docs/operations.md "Quotas"): a new record beyond the tenant's limit is
// LIMIT_EXCEEDED. One counter per tenant shared by every partition: a record
// actor about to create its record takes a slot first and gives it back if
// the record is not created (reserve, then check, so two partitions creating
// a tenant's last records at once cannot both pass). Filled at recovery from
// each partition's count, kept by record actors, forgotten when a tenant is
// deleted. Thread-safe; no actor needed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace stockgrid::actors {

class record_quota {
 public:
  // Counts one more record of the tenant and returns 0; or, when the tenant
  // already has its limit (its own, else `node_max`), counts nothing and
  // returns that limit.
  std::uint32_t take(const std::string& tenant, std::uint32_t node_max);
  // Gives back a slot taken for a record that was not created.
  void give_back(const std::string& tenant);
  // Recovery: the tenant has `n` more records on disk (one call per
  // partition). Counted even beyond the limit, which then refuses new ones.
  void add_existing(const std::string& tenant, std::uint64_t n);
  // The tenant's own limit (tenant.settings records_max); 0 = the node's.
  void set_limit(const std::string& tenant, std::uint32_t max);
  // Records of the tenant counted now.
  std::uint64_t count(const std::string& tenant) const;
  // A deleted tenant: its count and limit go.
  void forget(const std::string& tenant);

 private:
  struct counter {
    std::atomic<std::uint64_t> records{0};
    std::atomic<std::uint32_t> own_max{0};
  };
  // The tenant's counter, made if it has none. Called with a shared lock
  // held, which it may drop and take again (so `lk` is the caller's).
  counter& of(const std::string& tenant, std::shared_lock<std::shared_mutex>& lk);

  // Counters are only added while a tenant exists and removed by forget()
  // under the exclusive lock; everything else works under the shared lock
  // with atomics, so partitions creating records do not queue on one mutex.
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<counter>> tenants_;
};

}  // namespace stockgrid::actors
