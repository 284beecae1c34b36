// A change is one journaled movement of a stock record: what an operation did,
// with enough detail to replay it (stock_record::apply) and to show it in the
// record's history. Kinds are journaled: never renumber them; 0 is reserved.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "domain/types.hpp"

namespace stockgrid {

enum class change_kind : std::uint8_t {
  adjust = 1,   // receiving (+) or shrinkage (-)
  set = 2,      // absolute count (cycle count)
  reserve = 3,  // a hold is created
  commit = 4,   // a hold is sold/shipped (a partial commit releases the rest)
  release = 5,  // a hold is released, in part or in full
  extend = 6,   // a hold's deadline moves
  expire = 7,   // a hold reached its deadline and was released
  sell = 8,     // an immediate sale without a hold
  refusal = 9,  // no movement: a remembered refusal of an idempotent request
  policy = 10,  // the record's policy (safety stock, backorders, low-stock threshold) changes
  // Transfers between warehouses (orders/transfer.hpp drives them):
  transfer_out = 11,   // units leave on_hand for another warehouse (qty)
  incoming = 12,       // units announced in transit to this record (qty > 0) or withdrawn (qty < 0)
  receive = 13,        // units in transit arrive: incoming -= qty, on_hand += qty
  transfer_back = 14,  // a cancelled transfer's units return to on_hand (qty)
};

std::string_view to_string(change_kind k);

// A record's policy, set by stock.policy. Every change carries the policy the
// record has after it (only a policy change alters it), so replay, snapshots
// and `stockgrid check` see it like any other after-value.
struct record_policy {
  // Units kept back from sale: available = on_hand - reserved - safety_stock.
  std::int64_t safety_stock = 0;
  // Whether a reserve beyond available succeeds, counting the shortfall in
  // `backordered` (see stock_record.hpp for the model).
  bool allow_backorder = false;
  // 0 = none. Only stored and reported (alerts use it later).
  std::int64_t low_stock_threshold = 0;

  friend bool operator==(const record_policy&, const record_policy&) = default;
};

struct change {
  change_kind kind = change_kind::refusal;
  std::int64_t version = 0;  // the record's version after the change
  std::int64_t on_hand_before = 0;
  std::int64_t on_hand_after = 0;
  std::int64_t reserved_before = 0;
  std::int64_t reserved_after = 0;
  // Units promised by holds without stock behind them (0 <= backordered <= reserved).
  std::int64_t backordered_before = 0;
  std::int64_t backordered_after = 0;
  // Units in transit to this record (transfers): changed by incoming and receive.
  std::int64_t incoming_before = 0;
  std::int64_t incoming_after = 0;
  // The record's policy after the change.
  record_policy policy;
  // The quantity the change names: the delta of an adjust, the new count of a
  // set, the units reserved, committed, released, expired or sold.
  std::int64_t qty = 0;
  // The hold a hold change acts on: its journal sequence number. For a reserve
  // it is the reserve's own sequence number, filled in when it is appended.
  std::uint64_t hold_seq = 0;
  // reserve and extend: the hold's deadline afterwards.
  epoch_ms expires_at_ms = 0;
  std::string ref;     // reserve: the client's reference (a cart id), may be empty
  std::string reason;  // free text from the request, may be empty
};

}  // namespace stockgrid
