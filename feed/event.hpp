// What a subscriber is sent about one journaled change: the record as the
// change left it, the change itself, and where it sits in its partition's
// journal (partition, seq). Built from a journal entry alone, so live events
// and events replayed from the journal on a resume are the same.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "domain/change.hpp"
#include "domain/request.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::feed {

// Alert kinds (docs/protocol.md "Alerts").
enum class alert_kind : std::uint8_t { low_stock = 1, out_of_stock = 2, back_in_stock = 3 };
std::string_view to_string(alert_kind k);

struct event {
  std::uint32_t partition = 0;
  std::uint64_t seq = 0;
  epoch_ms at_ms = 0;
  record_view record;  // after the change
  change_kind kind = change_kind::adjust;
  std::int64_t delta = 0;  // change of `available`
  std::int64_t qty = 0;    // the units the change names
  std::string reason;
  // Set on an alert event (it shares the seq of the change that caused it).
  std::optional<alert_kind> alert;
  std::int64_t threshold = 0;  // alerts: the threshold in force
};
using event_ptr = std::shared_ptr<const event>;

// Whether a journal entry is a movement subscribers see: applied changes,
// not remembered refusals.
bool is_visible(const persistence::journal_entry& e);

// The event of a visible entry.
event event_of(const persistence::journal_entry& e, std::uint32_t partition);

// `available` before and after the entry's change.
std::int64_t available_before(const change& c);
std::int64_t available_after(const change& c);

}  // namespace stockgrid::feed
