// The gateway's authenticator over the key store. Keys are cached in memory
// (guarded by a mutex); the store stays authoritative:
//  - authenticate() looks the key id up in the cache and, on a miss, in the
//    store (so a key created by another process works at once), then checks
//    the salted hash in constant time, the expiry against the wall clock, and
//    revocation. A token that is not of the key format, or names no key, is
//    checked as a whole string against the system key (tokens.hpp).
//  - still_valid() reads the cache only: it runs for every connection about
//    every 500 ms.
//  - Revocations made through this process (admin.hpp) update the cache at
//    once (note_revoked); keys it creates are found by the miss path.
//  - A background thread reloads every key from the store every
//    `reload_interval_ms` (default 1 s), so a revocation made by another
//    process sharing system.db reaches still_valid() within about a second,
//    and the gateway closes those connections at its next check.
//  - Revocation is final, so a reload never un-revokes a cached key: a
//    snapshot read just before a local revocation cannot undo it.
//  - Suspended tenants (tenant.suspend) are a set beside the keys: a key of
//    one does not authenticate and is not still_valid(). The set is usually
//    empty, so the check costs one empty() per request. Suspensions made
//    through this process update it at once (note_suspended); a reload
//    replaces it from the tenants table unless a local change came in while
//    it read (it is not final like a revocation), in which case the next
//    round takes it.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "auth/key_store.hpp"
#include "gateway/dispatcher.hpp"

namespace stockgrid::auth {

struct authenticator_settings {
  // 0 disables the background thread (tests then call reload() themselves).
  std::int64_t reload_interval_ms = 1000;
  // The clock for expiry; the wall clock when empty.
  clock_fn clock;
};

class key_authenticator final : public gateway::authenticator {
 public:
  // Loads every key once (see initial_status()) and starts the reload thread.
  explicit key_authenticator(key_store& store, authenticator_settings settings = {});
  ~key_authenticator() override;
  key_authenticator(const key_authenticator&) = delete;
  key_authenticator& operator=(const key_authenticator&) = delete;

  std::optional<gateway::principal> authenticate(std::string_view token) override;
  bool still_valid(const gateway::principal& who) override;
  invalid_reason why_invalid(const gateway::principal& who) override;

  // Reads every key from the store into the cache. On error the cache is
  // kept as it was and the error returned (the reload thread retries).
  store_status reload();
  // The result of the first load, in the constructor: main refuses to serve
  // when it failed.
  const store_status& initial_status() const { return initial_status_; }

  // A key this process just revoked in the store.
  void note_revoked(std::string_view key_id, epoch_ms when);
  // A tenant this process just suspended (true) or resumed in the store.
  void note_suspended(std::string_view tenant, bool suspended);

  key_store& store() { return store_; }
  epoch_ms now() const { return clock_(); }

 private:
  // The cached key `key_id`, fetched from the store on a miss.
  std::optional<key_record> lookup(std::string_view key_id);
  std::optional<gateway::principal> admit(const key_record& key, std::string_view secret) const;
  // Not revoked, not expired, its tenant not suspended; with mutex_ held.
  bool usable(const key_record& key) const;
  void reload_loop(std::stop_token stop);

  key_store& store_;
  clock_fn clock_;
  std::int64_t reload_interval_ms_;
  store_status initial_status_;

  mutable std::mutex mutex_;
  std::map<std::string, key_record, std::less<>> cache_;
  std::set<std::string, std::less<>> suspended_;  // tenants
  std::uint64_t tenant_changes_ = 0;               // note_suspended calls, for reload

  std::mutex wake_mutex_;
  std::condition_variable_any wake_;
  std::jthread reloader_;  // last: stopped and joined before the rest goes
};

}  // namespace stockgrid::auth
