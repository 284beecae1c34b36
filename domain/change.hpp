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
};

std::string_view to_string(change_kind k);

struct change {
  change_kind kind = change_kind::refusal;
  std::int64_t version = 0;  // the record's version after the change
  std::int64_t on_hand_before = 0;
  std::int64_t on_hand_after = 0;
  std::int64_t reserved_before = 0;
  std::int64_t reserved_after = 0;
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
