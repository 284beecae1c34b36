// The operations on stock records and their replies, as plain structs. The
// grid facade takes a request and answers with a reply; the gateway (another
// layer) maps wire frames to these. One flat struct per direction keeps adding
// a field cheap; each operation reads only the fields its comment names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/change.hpp"
#include "domain/outcome.hpp"
#include "domain/types.hpp"

namespace stockgrid {

// Values are part of the idempotency fingerprint, which is journaled: never
// renumber; 0 is reserved.
enum class op : std::uint8_t {
  get = 1,      // key
  holds = 2,    // key
  history = 3,  // key, limit, before_version
  adjust = 4,   // key, delta, reason, idem
  set = 5,      // key, on_hand, expected_version, reason, idem
  reserve = 6,  // key, qty, ttl_ms (0 = default), ref, idem
  commit = 7,   // hold, qty (absent = all), idem
  release = 8,  // hold, qty (absent = all), idem
  extend = 9,   // hold, ttl_ms, idem
  sell = 10,    // key, qty, reason, idem
  policy = 11,  // key, safety_stock?, allow_backorder?, low_stock_threshold?, idem
  // Internal: steps of a transfer (orders/transfer.hpp), sent only by its
  // coordinator (request::internal); clients cannot name them.
  transfer_out = 12,   // key (source), qty, reason, idem
  incoming = 13,       // key (destination), delta (+ announce, - withdraw), reason, idem
  receive = 14,        // key (destination), qty, reason, idem
  transfer_back = 15,  // key (source), qty, reason, idem
};

std::string_view to_string(op o);
constexpr bool is_mutation(op o) { return o >= op::adjust; }
constexpr bool is_internal(op o) { return o >= op::transfer_out; }
constexpr bool targets_hold(op o) {
  return o == op::commit || o == op::release || o == op::extend;
}

struct request {
  op kind = op::get;
  record_key key;    // record ops; for hold ops only key.tenant is set
  std::string hold;  // hold ops
  std::optional<std::int64_t> qty;
  std::int64_t delta = 0;
  std::int64_t on_hand = 0;
  std::optional<std::int64_t> expected_version;
  std::int64_t ttl_ms = 0;
  std::string ref;
  std::string reason;
  std::string idem;    // idempotency key, empty = none
  std::string key_id;  // the API key that sent the request (journaled)
  // The warehouses the API key may touch; null = all of its tenant's. Checked
  // by the record (a hold op's warehouse is known only there): FORBIDDEN.
  std::shared_ptr<const std::vector<std::string>> warehouses_allowed;
  int limit = 0;       // history: 0 = default
  std::int64_t before_version = 0;  // history: 0 = newest
  // policy: absent fields keep their value.
  std::optional<std::int64_t> safety_stock;
  std::optional<bool> allow_backorder;
  std::optional<std::int64_t> low_stock_threshold;
  // Set by the order and transfer coordinators only, never from a frame: may
  // run internal ops, use "order:" refs and act on order holds.
  bool internal = false;
  // Internal only: `idem` was never used before (a coordinator's first try of
  // a step of an order or transfer it created). The record journals the key
  // without looking it up first. Never set for a retry or after a restart.
  bool idem_fresh = false;
  // stock.get with consistency "follower": in a cluster, a node that holds a
  // copy of the record's partition answers from it, without asking the
  // leader (docs/cluster.md: as stale as that copy's replication lag).
  bool follower_read = false;
};

struct record_view {
  record_key key;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t version = 0;
  // Policy and backorder state (stock_record.hpp); defaults for a record
  // without a policy.
  std::int64_t safety_stock = 0;
  bool allow_backorder = false;
  std::int64_t backordered = 0;
  std::int64_t incoming = 0;
  std::int64_t low_stock_threshold = 0;
  std::int64_t available() const {
    return available_of(on_hand, reserved, safety_stock, allow_backorder);
  }
};

struct hold_view {
  std::string hold;
  std::int64_t qty = 0;
  epoch_ms expires_at_ms = 0;
  std::string ref;
};

struct history_event {
  std::uint64_t seq = 0;  // the partition journal's sequence number
  change c;
  std::string hold;  // formatted hold id, empty if none
  std::string idem;
  std::string key_id;
  epoch_ms at_ms = 0;
};

struct reply {
  outcome code = outcome::internal;
  std::string message;  // human-readable detail of a refusal or error
  bool has_record = false;
  record_view record;          // ok: the record after; VERSION_CONFLICT: the current one
  std::string hold;            // reserve, extend
  epoch_ms expires_at_ms = 0;  // reserve, extend
  std::int64_t available = 0;  // INSUFFICIENT_STOCK: what was available
  std::int64_t limit = 0;      // LIMIT_EXCEEDED: the limit
  std::int64_t retry_after_ms = 0;  // OVERLOADED, UNAVAILABLE: when to retry
  std::vector<hold_view> holds;
  std::vector<history_event> events;
  bool replayed = false;  // an idempotent replay of a stored response

  static reply error(outcome code, std::string message) {
    reply r;
    r.code = code;
    r.message = std::move(message);
    return r;
  }
};

// Fingerprint of what a mutation asks for (not of its idempotency key or
// sender), to tell a replay from a different request under the same key.
std::uint64_t request_fingerprint(const request& req);

}  // namespace stockgrid
