#include "domain/stock_record.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

#include "config/limits.hpp"

namespace stockgrid {

namespace {
using deadline_entry = std::pair<epoch_ms, std::uint64_t>;
// std::push_heap builds a max-heap; this comparison makes it a min-heap.
constexpr auto later = std::greater<deadline_entry>{};

// A hold is active until its deadline; an order's hold (deadline 0) until its
// order ends it.
bool active(const hold* h, epoch_ms now) {
  return h && (h->expires_at_ms == 0 || h->expires_at_ms > now);
}

decision refuse(outcome code, std::string message) {
  decision d;
  d.code = code;
  d.message = std::move(message);
  return d;
}
}  // namespace

const hold* stock_record::find_hold(std::uint64_t seq) const {
  auto it = std::lower_bound(holds_.begin(), holds_.end(), seq,
                             [](const hold& h, std::uint64_t s) { return h.seq < s; });
  return it != holds_.end() && it->seq == seq && it->qty > 0 ? &*it : nullptr;
}

std::vector<hold>::iterator stock_record::find(std::uint64_t seq) {
  auto it = std::lower_bound(holds_.begin(), holds_.end(), seq,
                             [](const hold& h, std::uint64_t s) { return h.seq < s; });
  return it != holds_.end() && it->seq == seq && it->qty > 0 ? it : holds_.end();
}

std::vector<hold> stock_record::holds() const {
  std::vector<hold> live;
  live.reserve(hold_count());
  for (const auto& h : holds_)
    if (h.qty > 0) live.push_back(h);
  return live;
}

void stock_record::end_hold(std::vector<hold>::iterator it) {
  it->qty = 0;
  it->ref.clear();
  ++ended_;
  if (ended_ == holds_.size()) {
    holds_.clear();
    ended_ = 0;
  } else if (ended_ > 16 && ended_ * 2 > holds_.size()) {
    std::erase_if(holds_, [](const hold& h) { return h.qty == 0; });
    ended_ = 0;
  }
}

change stock_record::next_change(change_kind kind) const {
  change c;
  c.kind = kind;
  c.version = version_ + 1;
  c.on_hand_before = c.on_hand_after = on_hand_;
  c.reserved_before = c.reserved_after = reserved_;
  c.backordered_before = c.backordered_after = backordered_;
  c.incoming_before = c.incoming_after = incoming_;
  c.policy = policy_;
  return c;
}

decision stock_record::refuse_missing_hold() const {
  return refuse(outcome::hold_not_found, "no such hold");
}

namespace {
// Units leaving `reserved` unsold, or stock arriving, fill backorders first.
std::int64_t backorders_left(std::int64_t backordered, std::int64_t freed) {
  return freed > 0 ? backordered - std::min(backordered, freed) : backordered;
}
}  // namespace

decision stock_record::decide_adjust(std::int64_t delta, std::string_view reason) const {
  const auto after = on_hand_ + delta;  // both within ±10^12: no overflow
  if (after > limits::quantity_max)
    return refuse(outcome::bad_request, "delta: on_hand would exceed 10^12");
  // Safety stock may be counted away; units covering holds may not.
  if (after < reserved_ - backordered_) {
    auto d = refuse(outcome::insufficient_stock,
                    after < 0 ? "on_hand cannot go below zero"
                              : "reserved units cannot be removed");
    d.available = available();
    return d;
  }
  decision d;
  d.c = next_change(change_kind::adjust);
  d.c.on_hand_after = after;
  d.c.backordered_after = backorders_left(backordered_, delta);
  d.c.qty = delta;
  d.c.reason = reason;
  return d;
}

decision stock_record::decide_set(std::int64_t on_hand,
                                  std::optional<std::int64_t> expected_version,
                                  std::string_view reason) const {
  if (expected_version && *expected_version != version_)
    return refuse(outcome::version_conflict, "the record's version is " +
                                                 std::to_string(version_) + ", not " +
                                                 std::to_string(*expected_version));
  if (on_hand < reserved_ - backordered_) {
    auto d = refuse(outcome::insufficient_stock, "reserved units cannot be removed");
    d.available = available();
    return d;
  }
  decision d;
  d.c = next_change(change_kind::set);
  d.c.on_hand_after = on_hand;
  d.c.backordered_after = backorders_left(backordered_, on_hand - on_hand_);
  d.c.qty = on_hand;
  d.c.reason = reason;
  return d;
}

decision stock_record::decide_reserve(std::int64_t qty, epoch_ms now, std::int64_t ttl_ms,
                                      std::string_view ref, std::size_t holds_max) const {
  if (!exists()) return refuse(outcome::not_found, "record never stocked");
  if (qty > available() && !policy_.allow_backorder) {
    auto d = refuse(outcome::insufficient_stock, "not enough available");
    d.available = available();
    return d;
  }
  // Backorders let reserved grow past on_hand; it stays within the quantity
  // limit so every sum of record fields fits in 64 bits.
  if (reserved_ + qty > limits::quantity_max) {
    auto d = refuse(outcome::limit_exceeded, "reserved units would exceed 10^12");
    d.limit = limits::quantity_max;
    return d;
  }
  if (hold_count() >= holds_max) {
    auto d = refuse(outcome::limit_exceeded, "too many active holds on this record");
    d.limit = static_cast<std::int64_t>(holds_max);
    return d;
  }
  decision d;
  d.c = next_change(change_kind::reserve);
  d.c.reserved_after = reserved_ + qty;
  const std::int64_t covered = std::min(qty, std::max<std::int64_t>(0, available()));
  d.c.backordered_after = backordered_ + (qty - covered);
  d.c.qty = qty;
  d.c.expires_at_ms = is_order_ref(ref) ? 0 : now + ttl_ms;
  d.c.ref = ref;
  return d;
}

decision stock_record::decide_commit(std::uint64_t hold_seq, std::optional<std::int64_t> qty,
                                     epoch_ms now) const {
  const hold* h = find_hold(hold_seq);
  if (!active(h, now)) return refuse_missing_hold();
  if (qty && *qty > h->qty)
    return refuse(outcome::bad_request, "qty: exceeds the hold's " + std::to_string(h->qty));
  const auto sold = qty.value_or(h->qty);
  // The whole hold leaves `reserved`: what is not sold is released first,
  // filling backorders; the sold units must then be covered units.
  const auto reserved_after = reserved_ - h->qty;
  const auto backordered_after = backorders_left(backordered_, h->qty - sold);
  if (backordered_after > reserved_after) {
    auto d = refuse(outcome::insufficient_stock,
                    std::to_string(backordered_after - reserved_after) +
                        " of the units to sell are backordered: receive stock first");
    d.available = available();
    return d;
  }
  decision d;
  d.c = next_change(change_kind::commit);
  d.c.on_hand_after = on_hand_ - sold;
  d.c.reserved_after = reserved_after;
  d.c.backordered_after = backordered_after;
  d.c.qty = sold;
  d.c.hold_seq = hold_seq;
  return d;
}

decision stock_record::decide_release(std::uint64_t hold_seq, std::optional<std::int64_t> qty,
                                      epoch_ms now) const {
  const hold* h = find_hold(hold_seq);
  if (!active(h, now)) return refuse_missing_hold();
  if (qty && *qty > h->qty)
    return refuse(outcome::bad_request, "qty: exceeds the hold's " + std::to_string(h->qty));
  const auto released = qty.value_or(h->qty);
  decision d;
  d.c = next_change(change_kind::release);
  d.c.reserved_after = reserved_ - released;
  d.c.backordered_after = backorders_left(backordered_, released);
  d.c.qty = released;
  d.c.hold_seq = hold_seq;
  return d;
}

decision stock_record::decide_extend(std::uint64_t hold_seq, epoch_ms now,
                                     std::int64_t ttl_ms) const {
  const hold* h = find_hold(hold_seq);
  if (!active(h, now)) return refuse_missing_hold();
  decision d;
  d.c = next_change(change_kind::extend);
  d.c.qty = h->qty;
  d.c.hold_seq = hold_seq;
  d.c.expires_at_ms = now + ttl_ms;
  return d;
}

decision stock_record::decide_sell(std::int64_t qty, std::string_view reason) const {
  if (!exists()) return refuse(outcome::not_found, "record never stocked");
  if (qty > available()) {
    auto d = refuse(outcome::insufficient_stock, "not enough available");
    d.available = available();
    return d;
  }
  decision d;
  d.c = next_change(change_kind::sell);
  d.c.on_hand_after = on_hand_ - qty;
  d.c.qty = qty;
  d.c.reason = reason;
  return d;
}

decision stock_record::decide_transfer_out(std::int64_t qty, std::string_view reason) const {
  if (!exists()) return refuse(outcome::not_found, "record never stocked");
  // Only what could be sold may leave: held units and safety stock stay.
  if (qty > std::max<std::int64_t>(0, available())) {
    auto d = refuse(outcome::insufficient_stock, "not enough available to transfer");
    d.available = std::max<std::int64_t>(0, available());
    return d;
  }
  decision d;
  d.c = next_change(change_kind::transfer_out);
  d.c.on_hand_after = on_hand_ - qty;
  d.c.qty = qty;
  d.c.reason = reason;
  return d;
}

decision stock_record::decide_incoming(std::int64_t delta, std::string_view reason) const {
  const auto after = incoming_ + delta;
  if (after < 0) return refuse(outcome::bad_request, "incoming would go below zero");
  if (after > limits::quantity_max) {
    auto d = refuse(outcome::limit_exceeded, "incoming would exceed 10^12");
    d.limit = limits::quantity_max;
    return d;
  }
  decision d;
  d.c = next_change(change_kind::incoming);
  d.c.incoming_after = after;
  d.c.qty = delta;
  d.c.reason = reason;
  return d;
}

decision stock_record::decide_receive(std::int64_t qty, std::string_view reason) const {
  if (qty > incoming_)
    return refuse(outcome::bad_request, "qty: only " + std::to_string(incoming_) + " in transit");
  if (on_hand_ + qty > limits::quantity_max)
    return refuse(outcome::bad_request, "qty: on_hand would exceed 10^12");
  decision d;
  d.c = next_change(change_kind::receive);
  d.c.incoming_after = incoming_ - qty;
  d.c.on_hand_after = on_hand_ + qty;
  d.c.backordered_after = backorders_left(backordered_, qty);
  d.c.qty = qty;
  d.c.reason = reason;
  return d;
}

decision stock_record::decide_transfer_back(std::int64_t qty, std::string_view reason) const {
  if (on_hand_ + qty > limits::quantity_max)
    return refuse(outcome::bad_request, "qty: on_hand would exceed 10^12");
  decision d;
  d.c = next_change(change_kind::transfer_back);
  d.c.on_hand_after = on_hand_ + qty;
  d.c.backordered_after = backorders_left(backordered_, qty);
  d.c.qty = qty;
  d.c.reason = reason;
  return d;
}

change stock_record::decide_expire(std::uint64_t hold_seq) const {
  const hold* h = find_hold(hold_seq);
  change c = next_change(change_kind::expire);
  c.hold_seq = hold_seq;
  c.qty = h ? h->qty : 0;
  c.reserved_after = reserved_ - c.qty;
  c.backordered_after = backorders_left(backordered_, c.qty);
  return c;
}

decision stock_record::decide_policy(std::optional<std::int64_t> safety_stock,
                                     std::optional<bool> allow_backorder,
                                     std::optional<std::int64_t> low_stock_threshold) const {
  if (!exists()) return refuse(outcome::not_found, "record never stocked");
  record_policy p = policy_;
  if (safety_stock) p.safety_stock = *safety_stock;
  if (allow_backorder) p.allow_backorder = *allow_backorder;
  if (low_stock_threshold) p.low_stock_threshold = *low_stock_threshold;
  // Existing backorders are promises: they need stock (which fills them)
  // or releases before backorders can be switched off.
  if (!p.allow_backorder && backordered_ > 0) {
    auto d = refuse(outcome::insufficient_stock,
                    "allow_backorder: " + std::to_string(backordered_) +
                        " units are backordered; receive stock or release holds first");
    d.available = available();
    return d;
  }
  // Raising safety stock never touches existing holds: it only limits new
  // reserves and sales.
  decision d;
  d.c = next_change(change_kind::policy);
  d.c.policy = p;
  return d;
}

std::optional<epoch_ms> stock_record::next_deadline() {
  while (!deadlines_.empty()) {
    auto [at, seq] = deadlines_.front();
    const hold* h = find_hold(seq);
    if (h && h->expires_at_ms == at) return at;
    std::pop_heap(deadlines_.begin(), deadlines_.end(), later);  // stale entry
    deadlines_.pop_back();
  }
  return std::nullopt;
}

std::vector<std::uint64_t> stock_record::due_holds(epoch_ms now) {
  std::vector<std::uint64_t> due;
  while (auto next = next_deadline()) {
    if (*next > now) break;
    const auto entry = deadlines_.front();
    due.push_back(entry.second);
    // Extending a hold to the deadline it already had leaves identical
    // entries; they surface one after the other and name the hold once.
    while (!deadlines_.empty() && deadlines_.front() == entry) {
      std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
      deadlines_.pop_back();
    }
  }
  return due;
}

void stock_record::index_deadline(const hold& h) {
  if (h.expires_at_ms == 0) return;  // an order's hold: its order expires it
  deadlines_.emplace_back(h.expires_at_ms, h.seq);
  std::push_heap(deadlines_.begin(), deadlines_.end(), later);
  if (deadlines_.size() > 2 * hold_count() + 16) {
    deadlines_.clear();
    for (const auto& x : holds_)
      if (x.qty > 0 && x.expires_at_ms != 0) deadlines_.emplace_back(x.expires_at_ms, x.seq);
    std::make_heap(deadlines_.begin(), deadlines_.end(), later);
  }
}

void stock_record::apply(const change& c) {
  if (c.kind == change_kind::refusal) return;
  on_hand_ = c.on_hand_after;
  reserved_ = c.reserved_after;
  version_ = c.version;
  backordered_ = c.backordered_after;
  incoming_ = c.incoming_after;
  policy_ = c.policy;
  switch (c.kind) {
    case change_kind::reserve: {
      hold h{c.hold_seq, c.qty, c.expires_at_ms, c.ref};
      // Seqs increase, so appending keeps holds_ sorted.
      auto pos = holds_.empty() || holds_.back().seq < h.seq
                     ? holds_.end()
                     : std::lower_bound(holds_.begin(), holds_.end(), h.seq,
                                        [](const hold& x, std::uint64_t s) { return x.seq < s; });
      index_deadline(*holds_.insert(pos, std::move(h)));
      break;
    }
    case change_kind::release: {
      auto it = find(c.hold_seq);
      if (it == holds_.end()) break;
      if (c.qty < it->qty)
        it->qty -= c.qty;
      else
        end_hold(it);
      break;
    }
    case change_kind::commit:
    case change_kind::expire: {
      auto it = find(c.hold_seq);
      if (it != holds_.end()) end_hold(it);
      break;
    }
    case change_kind::extend: {
      auto it = find(c.hold_seq);
      if (it == holds_.end()) break;
      it->expires_at_ms = c.expires_at_ms;
      index_deadline(*it);
      break;
    }
    default:
      break;
  }
  if (hold_count() == 0) deadlines_.clear();
}

void stock_record::restore(std::int64_t on_hand, std::int64_t reserved, std::int64_t version,
                           std::vector<hold> holds) {
  on_hand_ = on_hand;
  reserved_ = reserved;
  version_ = version;
  holds_ = std::move(holds);
  ended_ = 0;
  std::sort(holds_.begin(), holds_.end(),
            [](const hold& a, const hold& b) { return a.seq < b.seq; });
  deadlines_.clear();
  for (const auto& h : holds_)
    if (h.expires_at_ms != 0) deadlines_.emplace_back(h.expires_at_ms, h.seq);
  std::make_heap(deadlines_.begin(), deadlines_.end(), later);
}

void stock_record::restore_policy(const record_policy& policy, std::int64_t backordered,
                                  std::int64_t incoming) {
  policy_ = policy;
  backordered_ = backordered;
  incoming_ = incoming;
}

std::string stock_record::check_invariants() const {
  std::int64_t held = 0;
  std::size_t tombstones = 0;
  for (const auto& h : holds_) {
    if (h.qty < 0 || (h.qty == 0 && ++tombstones > ended_))
      return "hold " + std::to_string(h.seq) + " has qty " + std::to_string(h.qty);
    held += h.qty;
  }
  if (held != reserved_)
    return "reserved " + std::to_string(reserved_) + " != sum of holds " + std::to_string(held);
  if (reserved_ < 0 || (backordered_ == 0 && reserved_ > on_hand_))
    return "reserved " + std::to_string(reserved_) + " outside [0, on_hand " +
           std::to_string(on_hand_) + "]";
  if (on_hand_ < 0) return "on_hand " + std::to_string(on_hand_) + " below 0";
  if (backordered_ < 0 || backordered_ > reserved_)
    return "backordered " + std::to_string(backordered_) + " outside [0, reserved " +
           std::to_string(reserved_) + "]";
  if (reserved_ - backordered_ > on_hand_)
    return "reserved " + std::to_string(reserved_) + " - backordered " +
           std::to_string(backordered_) + " exceeds on_hand " + std::to_string(on_hand_);
  if (backordered_ > 0 && !policy_.allow_backorder)
    return "backordered " + std::to_string(backordered_) + " but backorders are not allowed";
  const auto in_range = [](std::int64_t v) { return v >= 0 && v <= limits::quantity_max; };
  if (!in_range(policy_.safety_stock) || !in_range(policy_.low_stock_threshold) ||
      !in_range(incoming_))
    return "safety_stock " + std::to_string(policy_.safety_stock) + ", low_stock_threshold " +
           std::to_string(policy_.low_stock_threshold) + " or incoming " +
           std::to_string(incoming_) + " outside [0, 10^12]";
  return {};
}

}  // namespace stockgrid
