#include "actors/replies.hpp"

namespace stockgrid::actors {

record_view view_of(const record_key& key, const stock_record& rec) {
  const auto& p = rec.policy();
  return record_view{key,           rec.on_hand(),         rec.reserved(),
                     rec.version(), p.safety_stock,        p.allow_backorder,
                     rec.backordered(), rec.incoming(),    p.low_stock_threshold};
}

namespace {
// The record as a journaled change left it.
record_view view_after(const record_key& key, const change& c) {
  return record_view{key,       c.on_hand_after,        c.reserved_after,
                     c.version, c.policy.safety_stock,  c.policy.allow_backorder,
                     c.backordered_after, c.incoming_after, c.policy.low_stock_threshold};
}
}  // namespace

reply reply_from_entry(const persistence::journal_entry& e, std::uint32_t partition) {
  reply r;
  r.code = e.result;
  const auto& c = e.c;
  if (e.result == outcome::ok) {
    r.has_record = true;
    r.record = view_after(e.key, c);
    if (c.kind == change_kind::reserve || c.kind == change_kind::extend) {
      r.hold = format_hold_id({partition, c.hold_seq});
      r.expires_at_ms = c.expires_at_ms;
    }
    return r;
  }
  // A remembered refusal keeps its message in `reason`.
  r.message = c.reason;
  if (e.result == outcome::insufficient_stock) r.available = e.detail;
  if (e.result == outcome::limit_exceeded) r.limit = e.detail;
  if (e.result == outcome::version_conflict) {
    r.has_record = true;
    r.record = view_after(e.key, c);
  }
  return r;
}

reply journal_unavailable(std::string message, std::int64_t retry_after_ms) {
  auto r = reply::error(outcome::unavailable, std::move(message));
  r.retry_after_ms = retry_after_ms;
  return r;
}

reply refusal_reply(const decision& d, const record_key& key, const stock_record& rec) {
  auto r = reply::error(d.code, d.message);
  r.available = d.available;
  r.limit = d.limit;
  if (d.code == outcome::version_conflict) {
    r.has_record = true;
    r.record = view_of(key, rec);
  }
  return r;
}

}  // namespace stockgrid::actors
