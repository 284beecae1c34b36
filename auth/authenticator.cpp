#include "auth/authenticator.hpp"

#include <chrono>
#include <set>

#include "auth/limits.hpp"
#include "auth/tokens.hpp"

namespace stockgrid::auth {

key_authenticator::key_authenticator(key_store& store, authenticator_settings settings)
    : store_(store),
      clock_(settings.clock ? std::move(settings.clock) : clock_fn(wall_clock_ms)),
      reload_interval_ms_(settings.reload_interval_ms) {
  initial_status_ = reload();
  if (reload_interval_ms_ > 0)
    reloader_ = std::jthread([this](std::stop_token stop) { reload_loop(std::move(stop)); });
}

key_authenticator::~key_authenticator() {
  if (reloader_.joinable()) {
    reloader_.request_stop();
    reloader_.join();
  }
}

void key_authenticator::reload_loop(std::stop_token stop) {
  std::unique_lock lock(wake_mutex_);
  while (!stop.stop_requested()) {
    // Returns early only when stop is requested.
    wake_.wait_for(lock, stop, std::chrono::milliseconds(reload_interval_ms_),
                   [] { return false; });
    if (stop.stop_requested()) break;
    lock.unlock();
    reload();  // on error the old cache stays; the next round retries
    lock.lock();
  }
}

store_status key_authenticator::reload() {
  std::uint64_t changes_before = 0;
  {
    std::lock_guard lock(mutex_);
    changes_before = tenant_changes_;
  }
  std::vector<key_record> keys;
  if (store_status st = store_.load_keys(&keys); !st) return st;
  std::vector<tenant_record> tenants;
  if (store_status st = store_.list_tenants(&tenants); !st) return st;
  std::lock_guard lock(mutex_);
  // A local suspend or resume after the read may be missing from it.
  if (tenant_changes_ == changes_before) {
    suspended_.clear();
    for (const auto& t : tenants)
      if (t.suspended_ms) suspended_.insert(t.name);
  }
  for (auto& k : keys) {
    auto [it, inserted] = cache_.try_emplace(k.key_id);
    // Keep a revocation already known here: the snapshot may predate it.
    if (!inserted && it->second.revoked_ms && !k.revoked_ms) k.revoked_ms = it->second.revoked_ms;
    it->second = std::move(k);
  }
  // A cached key missing from the snapshot was added after it was read:
  // keep it, unless its tenant is gone (tenant.delete removes a tenant's
  // keys with it). A tenant made after the read loses its keys from the
  // cache only: a miss fetches them from the store again.
  std::set<std::string, std::less<>> tenant_names;
  for (const auto& t : tenants) tenant_names.insert(t.name);
  std::erase_if(cache_, [&](const auto& kv) {
    return !kv.second.tenant.empty() && !tenant_names.contains(kv.second.tenant);
  });
  return store_status::ok();
}

void key_authenticator::note_revoked(std::string_view key_id, epoch_ms when) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key_id);
  if (it != cache_.end() && !it->second.revoked_ms) it->second.revoked_ms = when;
}

void key_authenticator::note_suspended(std::string_view tenant, bool suspended) {
  std::lock_guard lock(mutex_);
  ++tenant_changes_;
  if (suspended)
    suspended_.emplace(tenant);
  else if (auto it = suspended_.find(tenant); it != suspended_.end())
    suspended_.erase(it);
}

std::optional<key_record> key_authenticator::lookup(std::string_view key_id) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(key_id); it != cache_.end()) return it->second;
  }
  key_record key;
  if (!store_.find_key(key_id, &key)) return std::nullopt;  // unknown, or the store failed
  std::lock_guard lock(mutex_);
  auto [it, inserted] = cache_.try_emplace(key.key_id, std::move(key));
  return it->second;  // if another thread cached it meanwhile, theirs is as good
}

bool key_authenticator::usable(const key_record& key) const {
  if (key.revoked_ms) return false;
  if (key.expires_at_ms && clock_() >= *key.expires_at_ms) return false;
  if (!suspended_.empty() && suspended_.contains(key.tenant)) return false;
  return true;
}

std::optional<gateway::principal> key_authenticator::admit(const key_record& key,
                                                           std::string_view secret) const {
  if (!verify_secret(key.scheme, key.salt, secret, key.hash)) return std::nullopt;
  {
    std::lock_guard lock(mutex_);
    if (!usable(key)) return std::nullopt;
  }
  gateway::principal who;
  who.tenant = key.tenant;
  who.key_id = key.key_id;
  who.role = key.role;
  who.warehouses = key.warehouses;
  who.expires_at_ms = key.expires_at_ms;
  return who;
}

std::optional<gateway::principal> key_authenticator::authenticate(std::string_view token) {
  if (token.empty() || token.size() > limits::token_bytes_max) return std::nullopt;
  if (auto parts = parse_token(token)) {
    if (auto key = lookup(parts->key_id)) return admit(*key, parts->secret);
  }
  // Not a key token, or a key id no key has: it can only be the system token,
  // which is hashed as a whole string.
  if (auto system = lookup(system_key_id)) return admit(*system, token);
  return std::nullopt;
}

bool key_authenticator::still_valid(const gateway::principal& who) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(who.key_id);
  return it != cache_.end() && usable(it->second);
}

gateway::authenticator::invalid_reason key_authenticator::why_invalid(
    const gateway::principal& who) {
  std::lock_guard lock(mutex_);
  return suspended_.contains(who.tenant) ? invalid_reason::tenant_suspended
                                         : invalid_reason::revoked_or_expired;
}

}  // namespace stockgrid::auth
