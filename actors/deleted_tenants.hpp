// In a cluster: the tenants this node refuses because they are being
// deleted, or were deleted less than the journal's retention ago
// (docs/cluster.md, "Deleting a tenant"). Partition leaders refuse their
// requests, wherever they were authenticated, so a write forwarded by a node
// that has not heard of the delete yet cannot recreate a record after its
// partition's purge; the order directory refuses their orders and
// transfers, and takes none of their settings from another member's table.
//
// Filled from what the node learns: at start from the key store (tenants
// marked deleting, tombstones younger than the retention); from a delete
// run here or a member's ask; from the auth tables of other members; and
// from every purge entry its journals commit (a follower that becomes
// leader knows the purges of its partitions). An entry ends at `until_ms`
// (a tenant marked deleting: never, until its tombstone says when it was
// removed). Thread-safe; `refuses` is one atomic load while no tenant is
// listed. At most `entries_max`: beyond that the entry ending first goes.
#pragma once

#include <atomic>
#include <cstddef>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

#include "domain/types.hpp"

namespace stockgrid::actors {

class deleted_tenants {
 public:
  static constexpr std::size_t entries_max = 10'000;
  static constexpr epoch_ms forever = std::numeric_limits<epoch_ms>::max();

  // `tenant` is refused from `since_ms` (kept: the earliest) until
  // `until_ms` (the latest of two wins, except that a known end replaces
  // `forever` when `ends` says the delete is done).
  void add(const std::string& tenant, epoch_ms since_ms, epoch_ms until_ms, bool ends = false) {
    std::unique_lock lock(mutex_);
    auto [it, added] = entries_.try_emplace(tenant, entry{since_ms, until_ms});
    if (!added) {
      it->second.since_ms = std::min(it->second.since_ms, since_ms);
      it->second.until_ms = ends ? until_ms : std::max(it->second.until_ms, until_ms);
    }
    if (entries_.size() > entries_max) {
      auto first_end = entries_.begin();
      for (auto e = entries_.begin(); e != entries_.end(); ++e)
        if (e->second.until_ms < first_end->second.until_ms) first_end = e;
      entries_.erase(first_end);
    }
    count_.store(entries_.size(), std::memory_order_release);
  }

  // Whether requests of `tenant` are refused at `now`.
  bool refuses(const std::string& tenant, epoch_ms now) const {
    if (count_.load(std::memory_order_acquire) == 0) return false;
    std::shared_lock lock(mutex_);
    auto it = entries_.find(tenant);
    return it != entries_.end() && now < it->second.until_ms;
  }

  // Since when `tenant` is refused, if it is at `now`.
  std::optional<epoch_ms> since(const std::string& tenant, epoch_ms now) const {
    if (count_.load(std::memory_order_acquire) == 0) return std::nullopt;
    std::shared_lock lock(mutex_);
    auto it = entries_.find(tenant);
    if (it == entries_.end() || now >= it->second.until_ms) return std::nullopt;
    return it->second.since_ms;
  }

 private:
  struct entry {
    epoch_ms since_ms;
    epoch_ms until_ms;
  };
  mutable std::shared_mutex mutex_;
  std::map<std::string, entry, std::less<>> entries_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace stockgrid::actors
