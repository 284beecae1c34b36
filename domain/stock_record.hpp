// The stock record's rules, as plain state: no actors, no I/O, no clock (the
// caller passes `now`). An operation is first decided against the state, which
// yields either a refusal or the change it makes; the change is then applied.
// Replaying journaled changes through apply() rebuilds the same state, so the
// live path, recovery and snapshots share one piece of logic.
//
// Policy and backorders. A record has a policy (change.hpp: safety_stock,
// allow_backorder, low_stock_threshold), a count of `backordered` units and
// of `incoming` units (in transit from transfers; stored and reported only).
//   available = on_hand - reserved - safety_stock, floored at 0 unless
//   backorders are allowed (types.hpp: available_of).
// `reserved` is the sum of the holds. Of it, `backordered` units are promised
// without stock; the rest, `reserved - backordered`, is covered by on_hand.
// Backorders are a count on the record, not on a hold: units are fungible.
//   - reserve q with a = max(0, available): without allow_backorder q > a is
//     refused; with it, reserved += q and backordered += q - min(q, a).
//   - units leaving `reserved` unsold (release, expire, the unsold rest of a
//     commit) come out of `backordered` first: the stock they covered now
//     covers a backorder.
//   - adjust or set raising on_hand by d fills backorders first:
//     backordered -= min(backordered, d).
//   - adjust and set may take on_hand into safety stock, never below the
//     covered reservations `reserved - backordered` (INSUFFICIENT_STOCK).
//   - a commit sells only covered units: after its unsold rest is released,
//     the sold units must not be needed to cover backorders, i.e.
//     backordered <= reserved left; otherwise INSUFFICIENT_STOCK.
//   - a sale without a hold needs qty <= available (it ships now).
//   - turning allow_backorder off while backordered > 0 is refused with
//     INSUFFICIENT_STOCK: the promised units need stock first.
// Transfers (orders/transfer.hpp) move stock in four steps, each a change:
//   - transfer_out: on_hand -= q at the source, q <= max(0, available), so
//     held units and safety stock never leave;
//   - incoming: incoming += q at the destination (q < 0 withdraws on cancel);
//     a record never stocked is created by it;
//   - receive: incoming -= q, on_hand += q (filling backorders first);
//   - transfer_back: on_hand += q at the source (cancel), filling backorders.
// Order holds. A hold whose ref starts with "order:" (types.hpp) has deadline
// 0: it never expires on its own; its order ends it.
// Invariants (check_invariants): reserved == sum of holds; on_hand >= 0;
// 0 <= backordered <= reserved; reserved - backordered <= on_hand;
// backordered == 0 unless allow_backorder; safety_stock, incoming and
// low_stock_threshold within [0, 10^12].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/change.hpp"
#include "domain/outcome.hpp"
#include "domain/types.hpp"

namespace stockgrid {

struct hold {
  std::uint64_t seq = 0;  // journal sequence number of the reserve; names the hold
  std::int64_t qty = 0;
  epoch_ms expires_at_ms = 0;
  std::string ref;
};

// What deciding an operation yields: on ok, the change to apply; otherwise the
// refusal and its detail. A refusal changes nothing.
struct decision {
  outcome code = outcome::ok;
  std::string message;
  change c;                    // ok: the change (version and quantities after)
  std::int64_t available = 0;  // INSUFFICIENT_STOCK: what was available
  std::int64_t limit = 0;      // LIMIT_EXCEEDED: the limit
  bool ok() const { return code == outcome::ok; }
};

class stock_record {
 public:
  // A record exists once its first adjust or set has been applied.
  bool exists() const { return version_ > 0; }
  std::int64_t on_hand() const { return on_hand_; }
  std::int64_t reserved() const { return reserved_; }
  std::int64_t available() const {
    return available_of(on_hand_, reserved_, policy_.safety_stock, policy_.allow_backorder);
  }
  std::int64_t version() const { return version_; }
  std::int64_t backordered() const { return backordered_; }
  std::int64_t incoming() const { return incoming_; }
  const record_policy& policy() const { return policy_; }
  // Active holds in the order they were created (increasing seq), as a copy.
  std::vector<hold> holds() const;
  std::size_t hold_count() const { return holds_.size() - ended_; }
  const hold* find_hold(std::uint64_t seq) const;

  // Decisions. Inputs are assumed validated (domain/validate.hpp): quantities
  // in range, ttl within the configured maximum.
  decision decide_adjust(std::int64_t delta, std::string_view reason) const;
  decision decide_set(std::int64_t on_hand, std::optional<std::int64_t> expected_version,
                      std::string_view reason) const;
  decision decide_reserve(std::int64_t qty, epoch_ms now, std::int64_t ttl_ms,
                          std::string_view ref, std::size_t holds_max) const;
  decision decide_commit(std::uint64_t hold_seq, std::optional<std::int64_t> qty,
                         epoch_ms now) const;
  decision decide_release(std::uint64_t hold_seq, std::optional<std::int64_t> qty,
                          epoch_ms now) const;
  decision decide_extend(std::uint64_t hold_seq, epoch_ms now, std::int64_t ttl_ms) const;
  decision decide_sell(std::int64_t qty, std::string_view reason) const;
  // Transfer steps (see the top of this file); quantities validated, > 0
  // except decide_incoming's delta (non-zero).
  decision decide_transfer_out(std::int64_t qty, std::string_view reason) const;
  decision decide_incoming(std::int64_t delta, std::string_view reason) const;
  decision decide_receive(std::int64_t qty, std::string_view reason) const;
  decision decide_transfer_back(std::int64_t qty, std::string_view reason) const;
  // A partial policy update: absent fields keep their value. Values are
  // assumed validated (validate_policy). NOT_FOUND for a record never stocked.
  decision decide_policy(std::optional<std::int64_t> safety_stock,
                         std::optional<bool> allow_backorder,
                         std::optional<std::int64_t> low_stock_threshold) const;

  // Expiry. A hold is due once now >= its deadline (never earlier).
  // The earliest deadline among active holds, if any.
  std::optional<epoch_ms> next_deadline();
  // The holds due at `now`, earliest deadline first.
  std::vector<std::uint64_t> due_holds(epoch_ms now);
  // The change that expires a hold (which must be active).
  change decide_expire(std::uint64_t hold_seq) const;

  // Applies a decided or journaled change. A reserve's hold_seq must be set.
  void apply(const change& c);

  // Restores a state read from a snapshot.
  void restore(std::int64_t on_hand, std::int64_t reserved, std::int64_t version,
               std::vector<hold> holds);
  // Restores the policy and backorder state read from a snapshot (after
  // restore(); a record restored without it has the defaults).
  void restore_policy(const record_policy& policy, std::int64_t backordered,
                      std::int64_t incoming);

  // The invariants listed at the top of this file. Empty if they hold,
  // otherwise what is wrong.
  std::string check_invariants() const;

 private:
  change next_change(change_kind kind) const;
  decision refuse_missing_hold() const;
  std::vector<hold>::iterator find(std::uint64_t seq);
  void end_hold(std::vector<hold>::iterator it);
  void index_deadline(const hold& h);

  std::int64_t on_hand_ = 0;
  std::int64_t reserved_ = 0;
  std::int64_t version_ = 0;
  std::int64_t backordered_ = 0;
  std::int64_t incoming_ = 0;
  record_policy policy_;
  // Sorted by seq. An ended hold stays as a tombstone (qty 0) until
  // tombstones outnumber live holds, so ending the oldest of thousands of
  // holds on a hot record costs O(1) amortized instead of a memmove.
  std::vector<hold> holds_;
  std::size_t ended_ = 0;
  // Min-heap of (deadline, seq) with lazy deletion: an extend pushes a new
  // entry and the old one is skipped when it surfaces. Rebuilt when stale
  // entries outnumber live ones, so it stays O(holds).
  std::vector<std::pair<epoch_ms, std::uint64_t>> deadlines_;
};

}  // namespace stockgrid
