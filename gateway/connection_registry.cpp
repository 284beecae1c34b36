#include "gateway/connection_registry.hpp"

namespace stockgrid::gateway {

connection_registry::connection_registry(std::uint32_t connections_max,
                                         std::uint32_t per_tenant_max)
    : connections_max_(connections_max), per_tenant_max_(per_tenant_max) {}

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

bool connection_registry::admit(std::uint64_t id, const principal& who) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(id);
  if (found == entries_.end()) return false;
  std::uint32_t& count = per_tenant_[who.tenant];
  if (count >= per_tenant_max_) return false;
  ++count;
  found->second.who = who;
  return true;
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
