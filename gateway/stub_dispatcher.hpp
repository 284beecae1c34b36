// Stand-ins for the grid and the key store, so the gateway runs, is tested
// and is benchmarked alone (like Dragonfly's ok_main: the real server around
// a backend that answers OK to everything).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "gateway/dispatcher.hpp"

namespace stockgrid::gateway {

// Answers every op at once, on the calling thread, with a canned ok response
// in the op's documented shape: records of zeros for the asked key, empty
// lists, made-up hold ids, keys and tokens. Never fails, except for the ops
// decoded above protocol/ (order.*, transfer.*, stock.find,
// tenant.settings: op_spec::params), which it answers UNKNOWN_OP: reading
// them needs orders/wire.hpp, which the gateway does not link.
class stub_dispatcher : public dispatcher {
 public:
  void dispatch(const principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override;

  // Requests answered so far.
  std::uint64_t dispatched() const { return dispatched_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> dispatched_{0};
  std::atomic<std::uint64_t> next_hold_{1};
};

// A fixed token → principal table, for tests and benchmarks. Tokens are
// compared as plain strings (no hashing): never use it with real secrets.
//
// Built-in tokens: "reader-token", "writer-token", "admin-token" (tenant
// "demo", key ids "demo-reader", "demo-writer", "demo-admin") and
// "system-token" (no tenant, key id "system").
class stub_authenticator : public authenticator {
 public:
  stub_authenticator();

  // Adds or replaces a token.
  void add(std::string token, principal who);
  // Makes every token of `key_id` invalid: authenticate() refuses it and
  // still_valid() turns false, so its open connections are closed.
  void revoke(const std::string& key_id);

  std::optional<principal> authenticate(std::string_view token) override;
  bool still_valid(const principal& who) override;

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, principal> tokens_;
  std::unordered_set<std::string> revoked_;
};

}  // namespace stockgrid::gateway
