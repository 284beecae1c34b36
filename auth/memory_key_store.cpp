#include "auth/memory_key_store.hpp"

#include <algorithm>
#include <tuple>

#include "auth/limits.hpp"

namespace stockgrid::auth {

store_status memory_key_store::check_new_key(const key_record& key) const {
  if (store_status st = check_key_row(key); !st) return st;
  if (keys_.contains(key.key_id)) return store_status::already_exists("key " + key.key_id);
  return store_status::ok();
}

store_status memory_key_store::add_tenant(const tenant_record& tenant,
                                          const key_record* first_key) {
  std::lock_guard lock(mutex_);
  if (tenants_.contains(tenant.name)) return store_status::already_exists("tenant " + tenant.name);
  auto tomb = tombstones_.find(tenant.name);
  if (tomb != tombstones_.end() && tomb->second.deleted_ms >= tenant.created_ms)
    return store_status::invalid("tenant " + tenant.name + " was deleted at " +
                                 std::to_string(tomb->second.deleted_ms) + " ms, not before its creation");
  if (first_key) {
    if (first_key->tenant != tenant.name)
      return store_status::invalid("key " + first_key->key_id + ": not of tenant " + tenant.name);
    if (store_status st = check_new_key(*first_key); !st) return st;
  }
  tenants_.emplace(tenant.name, tenant);
  if (first_key) {
    keys_.emplace(first_key->key_id, *first_key);
    order_.emplace(first_key->key_id, next_order_++);
  }
  return store_status::ok();
}

store_status memory_key_store::list_tenants(std::vector<tenant_record>* out) {
  std::lock_guard lock(mutex_);
  out->clear();
  for (const auto& [name, t] : tenants_) out->push_back(t);
  return store_status::ok();
}

store_status memory_key_store::set_tenant_suspended(std::string_view tenant, bool suspend, epoch_ms now,
                                                    std::string_view by) {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return store_status::not_found("tenant " + std::string(tenant));
  auto& t = it->second;
  if (!suspend && t.deleting_ms) return store_status::invalid("tenant " + std::string(tenant) + " is being deleted");
  const epoch_ms stamp = next_status_ms(t, now);
  if (!suspend)
    t.suspended_ms.reset();
  else if (!t.suspended_ms || now < *t.suspended_ms)
    t.suspended_ms = now;
  t.status_ms = stamp;
  t.status_by = by;
  return store_status::ok();
}

store_status memory_key_store::set_tenant_status(const tenant_record& seen, const tenant_record& peer) {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(peer.name);
  if (it == tenants_.end()) return store_status::not_found("tenant " + peer.name);
  auto& t = it->second;
  if ((!peer.suspended_ms && t.deleting_ms) || t.suspended_ms != seen.suspended_ms ||
      t.status_ms != seen.status_ms || t.status_by != seen.status_by)
    return store_status::invalid("tenant " + peer.name + " is being deleted or changed meanwhile");
  t.suspended_ms = peer.suspended_ms;
  t.status_ms = peer.status_ms;
  t.status_by = peer.status_by;
  return store_status::ok();
}

store_status memory_key_store::set_tenant_deleting(std::string_view tenant, epoch_ms now) {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return store_status::not_found("tenant " + std::string(tenant));
  if (!it->second.suspended_ms) return store_status::invalid("tenant " + std::string(tenant) + " is not suspended");
  if (!it->second.deleting_ms) it->second.deleting_ms = now;
  return store_status::ok();
}

void memory_key_store::erase_tenant(std::map<std::string, tenant_record, std::less<>>::iterator it) {
  for (auto k = keys_.begin(); k != keys_.end();) {
    if (k->second.tenant == it->first) {
      order_.erase(k->first);
      k = keys_.erase(k);
    } else {
      ++k;
    }
  }
  tenants_.erase(it);
}

void memory_key_store::keep_tombstone(const tenant_tombstone& t) {
  auto [it, added] = tombstones_.emplace(t.name, t);
  if (!added && it->second.deleted_ms < t.deleted_ms) it->second = t;
  if (tombstones_.size() <= limits::tombstones_max) return;
  auto oldest = std::min_element(tombstones_.begin(), tombstones_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second.deleted_ms, a.first) < std::tie(b.second.deleted_ms, b.first);
  });
  tombstones_.erase(oldest);
}

store_status memory_key_store::remove_tenant(std::string_view tenant, epoch_ms now) {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return store_status::not_found("tenant " + std::string(tenant));
  const tenant_tombstone t{it->first, it->second.created_ms, std::max(now, it->second.created_ms)};
  erase_tenant(it);
  keep_tombstone(t);
  return store_status::ok();
}

store_status memory_key_store::apply_tombstone(const tenant_tombstone& t, bool* removed) {
  std::lock_guard lock(mutex_);
  *removed = false;
  auto it = tenants_.find(t.name);
  if (it != tenants_.end() && it->second.created_ms <= t.deleted_ms) {  // not a later tenant of the name
    erase_tenant(it);
    *removed = true;
  }
  keep_tombstone(t);
  return store_status::ok();
}

store_status memory_key_store::list_tombstones(std::vector<tenant_tombstone>* out) {
  std::lock_guard lock(mutex_);
  out->clear();
  for (const auto& [name, t] : tombstones_) out->push_back(t);
  return store_status::ok();
}

store_status memory_key_store::add_key(const key_record& key) {
  std::lock_guard lock(mutex_);
  if (store_status st = check_new_key(key); !st) return st;
  if (!key.tenant.empty() && !tenants_.contains(key.tenant))
    return store_status::not_found("tenant " + key.tenant);
  keys_.emplace(key.key_id, key);
  order_.emplace(key.key_id, next_order_++);
  return store_status::ok();
}

store_status memory_key_store::list_keys(std::string_view tenant, std::vector<key_info>* out) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint64_t, const key_record*>> found;
  for (const auto& [id, k] : keys_)
    if (k.tenant == tenant) found.emplace_back(order_.find(id)->second, &k);
  std::sort(found.begin(), found.end());
  out->clear();
  for (const auto& [order, k] : found) out->push_back(static_cast<const key_info&>(*k));
  return store_status::ok();
}

store_status memory_key_store::revoke_key(std::string_view tenant, std::string_view key_id,
                                          epoch_ms now) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(key_id);
  if (it == keys_.end() || it->second.tenant != tenant)
    return store_status::not_found("no such key");
  if (!it->second.revoked_ms || now < *it->second.revoked_ms) it->second.revoked_ms = now;
  return store_status::ok();
}

store_status memory_key_store::find_key(std::string_view key_id, key_record* out) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return store_status::not_found("no such key");
  *out = it->second;
  return store_status::ok();
}

store_status memory_key_store::load_keys(std::vector<key_record>* out) {
  std::lock_guard lock(mutex_);
  out->clear();
  for (const auto& [id, k] : keys_) out->push_back(k);
  return store_status::ok();
}

}  // namespace stockgrid::auth
