#include "gateway/connection_registry.hpp"

namespace stockgrid::gateway {

void tenant_connection_limits::set(const std::string& tenant, std::uint32_t max) {
  std::lock_guard lock(mutex_);
  if (max == 0) {
    own_.erase(tenant);
  } else {
    own_.insert_or_assign(tenant, max);
  }
}

std::uint32_t tenant_connection_limits::of(const std::string& tenant) const {
  std::lock_guard lock(mutex_);
  auto it = own_.find(tenant);
  return it == own_.end() ? 0 : it->second;
}

connection_registry::connection_registry(std::uint32_t connections_max,
                                         std::uint32_t per_tenant_max, tenant_max_fn tenant_max)
    : connections_max_(connections_max), per_tenant_max_(per_tenant_max), tenant_max_(std::move(tenant_max)) {}

bool connection_registry::reserve() {
  std::lock_guard lock(mutex_);
  if (slots_taken_ >= connections_max_) return false;
  ++slots_taken_;
  return true;
}

std::uint64_t connection_registry::join(std::shared_ptr<live_connection> connection) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  entries_.emplace(id, entry{std::move(connection), std::nullopt});
  return id;
}

std::uint32_t connection_registry::admit(std::uint64_t id, const principal& who) {
  const std::uint32_t own = tenant_max_ ? tenant_max_(who.tenant) : 0;
  const std::uint32_t limit = own != 0 ? own : per_tenant_max_;
  std::lock_guard lock(mutex_);
  auto found = entries_.find(id);
  if (found == entries_.end()) return limit;  // gone already: nothing to admit
  std::uint32_t& count = per_tenant_[who.tenant];
  if (count >= limit) return limit;  // limit >= 1: count is not a new 0
  ++count;
  found->second.who = who;
  return 0;
}

void connection_registry::leave(std::uint64_t id) {
  std::shared_ptr<live_connection> last_reference;  // released outside the lock
  {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(id);
    if (found == entries_.end()) return;
    if (found->second.who) {
      auto tenant = per_tenant_.find(found->second.who->tenant);
      if (tenant != per_tenant_.end() && --tenant->second == 0) per_tenant_.erase(tenant);
    }
    last_reference = std::move(found->second.connection);
    entries_.erase(found);
    --slots_taken_;
    if (entries_.empty()) empty_.notify_all();
  }
}

std::vector<std::pair<std::shared_ptr<live_connection>, principal>>
connection_registry::authenticated() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::shared_ptr<live_connection>, principal>> out;
  for (const auto& [id, e] : entries_) {
    if (e.who) out.emplace_back(e.connection, *e.who);
  }
  return out;
}

std::vector<std::shared_ptr<live_connection>> connection_registry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<live_connection>> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e.connection);
  return out;
}

std::size_t connection_registry::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

bool connection_registry::wait_empty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return empty_.wait_for(lock, timeout, [this] { return entries_.empty(); });
}

void connection_registry::clear() {
  std::map<std::uint64_t, entry> dropped;  // destroyed outside the lock
  {
    std::lock_guard lock(mutex_);
    dropped.swap(entries_);
    per_tenant_.clear();
    slots_taken_ = 0;
    empty_.notify_all();
  }
}

}  // namespace stockgrid::gateway
