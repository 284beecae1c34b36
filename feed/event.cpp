#include "feed/event.hpp"

namespace stockgrid::feed {

std::string_view to_string(alert_kind k) {
  switch (k) {
    case alert_kind::low_stock: return "low_stock";
    case alert_kind::out_of_stock: return "out_of_stock";
    case alert_kind::back_in_stock: return "back_in_stock";
  }
  return "unknown";
}

bool is_visible(const persistence::journal_entry& e) {
  return e.result == outcome::ok && e.c.kind != change_kind::refusal;
}

std::int64_t available_before(const change& c) {
  return available_of(c.on_hand_before, c.reserved_before, c.policy.safety_stock, c.policy.allow_backorder);
}

std::int64_t available_after(const change& c) {
  return available_of(c.on_hand_after, c.reserved_after, c.policy.safety_stock, c.policy.allow_backorder);
}

event event_of(const persistence::journal_entry& e, std::uint32_t partition) {
  const change& c = e.c;
  event ev;
  ev.partition = partition;
  ev.seq = e.seq;
  ev.at_ms = e.at_ms;
  ev.record = record_view{e.key,           c.on_hand_after,          c.reserved_after,
                          c.version,       c.policy.safety_stock,    c.policy.allow_backorder,
                          c.backordered_after, c.incoming_after,     c.policy.low_stock_threshold};
  ev.kind = c.kind;
  // A policy change may move available too (safety stock); its before-value
  // used the old policy, which the entry does not keep, so delta is measured
  // with the new one: 0 for a pure policy change.
  ev.delta = available_after(c) - available_before(c);
  ev.qty = c.qty;
  ev.reason = c.reason;
  return ev;
}

}  // namespace stockgrid::feed
