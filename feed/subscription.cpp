#include "feed/subscription.hpp"

#include <algorithm>

#include "protocol/messages.hpp"

namespace stockgrid::feed {

using protocol::array;
using protocol::object;
using protocol::value;

subscription::subscription(std::uint64_t id, filter f, subscription_limits limits,
                           std::function<void()> wake)
    : id_(id), filter_(std::move(f)), limits_(limits), wake_(std::move(wake)) {}

bool subscription::ready_locked() const {
  return failed_.has_value() || !control_.empty() || (!gated_ && (!events_.empty() || coalescing_));
}

bool subscription::should_wake_locked() {
  if (wake_pending_ || cancelled_ || !ready_locked()) return false;
  wake_pending_ = true;
  return true;
}

void subscription::push_control(value frame) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (cancelled_ || failed_) return;
    control_.push_back(std::move(frame));
    wake = should_wake_locked();
  }
  if (wake && wake_) wake_();
}

void subscription::push_event(event_ptr e, bool backlog) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (cancelled_ || failed_) return;
    ++stats_.events;
    if (!coalescing_ && (backlog || events_.size() < limits_.queue_events_max)) {
      events_.push_back({std::move(e), false});
    } else {
      coalescing_ = true;
      if (e->alert) {
        coalesced_alerts_.push_back(std::move(e));
      } else {
        auto [it, fresh] = coalesced_.try_emplace(e->record.key, e);
        if (!fresh) {
          it->second = std::move(e);
          ++stats_.coalesced;
        }
      }
      if (coalesced_.size() + coalesced_alerts_.size() > limits_.coalesce_records_max) {
        failed_ = subscription_end{1008, "subscriber too slow"};
        events_.clear();
        coalesced_.clear();
        coalesced_alerts_.clear();
      }
    }
    wake = should_wake_locked() || (failed_ && !cancelled_);
  }
  if (wake && wake_) wake_();
}

void subscription::set_gated(bool gated) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    gated_ = gated;
    wake = should_wake_locked();
  }
  if (wake && wake_) wake_();
}

void subscription::clear() {
  std::lock_guard lk(mu_);
  control_.clear();
  events_.clear();
  coalescing_ = false;
  coalesced_.clear();
  coalesced_alerts_.clear();
}

void subscription::fail(subscription_end end) {
  {
    std::lock_guard lk(mu_);
    if (cancelled_ || failed_) return;
    failed_ = std::move(end);
    control_.clear();
    events_.clear();
    coalesced_.clear();
    coalesced_alerts_.clear();
  }
  if (wake_) wake_();
}

// The queue has drained: the coalesced events follow, in seq order per
// partition (alerts after the change of the same seq).
void subscription::flush_coalesced_locked() {
  std::vector<event_ptr> all;
  all.reserve(coalesced_.size() + coalesced_alerts_.size());
  for (auto& [key, e] : coalesced_) all.push_back(std::move(e));
  for (auto& e : coalesced_alerts_) all.push_back(std::move(e));
  std::sort(all.begin(), all.end(), [](const event_ptr& a, const event_ptr& b) {
    if (a->seq != b->seq) return a->seq < b->seq;
    if (a->partition != b->partition) return a->partition < b->partition;
    return !a->alert && b->alert;
  });
  for (auto& e : all) events_.push_back({std::move(e), true});
  coalesced_.clear();
  coalesced_alerts_.clear();
  coalescing_ = false;
}

void subscription::take_locked(std::size_t max, std::vector<value>& control, std::vector<queued>& events) {
  wake_pending_ = false;
  if (failed_ || cancelled_) return;
  while (control.size() < max && !control_.empty()) {
    control.push_back(std::move(control_.front()));
    control_.pop_front();
  }
  if (gated_) return;
  if (events_.empty() && coalescing_) flush_coalesced_locked();
  while (control.size() + events.size() < max && !events_.empty()) {
    events.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  // More left: the connection comes back when it has room (it does not
  // wait for another wake).
}

std::size_t subscription::take(std::size_t max, std::vector<value>& out) {
  std::vector<value> control;
  std::vector<queued> events;
  {
    std::lock_guard lk(mu_);
    take_locked(max, control, events);
  }
  for (auto& c : control) out.push_back(std::move(c));
  for (const auto& q : events) out.push_back(event_frame(id_, *q.e, q.coalesced));
  return control.size() + events.size();
}

std::size_t subscription::take_encoded(std::size_t max, protocol::encoding enc, std::vector<std::string>& out) {
  std::vector<value> control;
  std::vector<queued> events;
  {
    std::lock_guard lk(mu_);
    take_locked(max, control, events);
  }
  for (const auto& c : control) out.push_back(protocol::serialize(c, enc));
  for (const auto& q : events) out.push_back(encoded_event_frame(id_, *q.e, q.coalesced, enc));
  return control.size() + events.size();
}

std::optional<subscription_end> subscription::failure() const {
  std::lock_guard lk(mu_);
  return failed_;
}

void subscription::cancel() {
  std::lock_guard lk(mu_);
  cancelled_ = true;
  control_.clear();
  events_.clear();
  coalesced_.clear();
  coalesced_alerts_.clear();
}

bool subscription::cancelled() const {
  std::lock_guard lk(mu_);
  return cancelled_;
}

subscription_stats subscription::stats() const {
  std::lock_guard lk(mu_);
  auto s = stats_;
  s.queued = events_.size() + coalesced_.size() + coalesced_alerts_.size();
  return s;
}

// ---- frames ------------------------------------------------------------------

namespace {

// An event frame's members after `event` and `sub`.
object tail_members(const event& e) {
  object o;
  o.reserve(7);
  if (e.alert) {
    o.emplace_back("kind", to_string(*e.alert));
    o.emplace_back("partition", std::int64_t{e.partition});
    o.emplace_back("seq", e.seq);
    o.emplace_back("at_ms", e.at_ms);
    o.emplace_back("record", protocol::record_value(e.record));
    o.emplace_back("threshold", e.threshold);
  } else {
    o.emplace_back("partition", std::int64_t{e.partition});
    o.emplace_back("seq", e.seq);
    o.emplace_back("at_ms", e.at_ms);
    o.emplace_back("record", protocol::record_value(e.record));
    o.emplace_back("change", object{{"kind", to_string(e.kind)},
                                    {"delta", e.delta},
                                    {"qty", e.qty},
                                    {"reason", e.reason},
                                    {"version", e.record.version}});
  }
  return o;
}

object head_members(std::uint64_t sub, const event& e) {
  return object{{"event", e.alert ? "alert" : "stock"}, {"sub", sub}};
}

// Joins two encoded objects (and an optional third) into one object with
// the members of each, in order. Both encodings write an object as a
// header and its members back to back: JSON "{...}", msgpack a map header
// (fixmap for these small objects: 0x80 | count) and the pairs.
std::string join_objects(const std::string& a, const std::string& b, const std::string* c,
                         protocol::encoding enc) {
  std::string out;
  out.reserve(a.size() + b.size() + (c ? c->size() : 0));
  if (enc == protocol::encoding::json) {
    out.append(a, 0, a.size() - 1);  // without '}'
    if (b.size() > 2) out += ',';
    out.append(b, 1, b.size() - (c ? 2 : 1));
    if (c) {
      out += ',';
      out.append(*c, 1, std::string::npos);
    }
    return out;
  }
  auto count = [](const std::string& m) { return static_cast<unsigned>(static_cast<unsigned char>(m[0]) & 0x0f); };
  const unsigned total = count(a) + count(b) + (c ? count(*c) : 0);
  out += static_cast<char>(0x80 | total);
  out.append(a, 1, std::string::npos);
  out.append(b, 1, std::string::npos);
  if (c) out.append(*c, 1, std::string::npos);
  return out;
}

}  // namespace

value event_frame(std::uint64_t sub, const event& e, bool coalesced) {
  object o = head_members(sub, e);
  for (auto& m : tail_members(e)) o.push_back(std::move(m));
  if (coalesced) o.emplace_back("coalesced", true);
  return value(std::move(o));
}

std::string encoded_event_frame(std::uint64_t sub, const event& e, bool coalesced, protocol::encoding enc) {
  const int i = enc == protocol::encoding::json ? 0 : 1;
  std::call_once(e.encoded.once[i], [&] { e.encoded.bytes[i] = protocol::serialize(value(tail_members(e)), enc); });
  const std::string head = protocol::serialize(value(head_members(sub, e)), enc);
  if (!coalesced) return join_objects(head, e.encoded.bytes[i], nullptr, enc);
  static const std::string flag[2] = {protocol::serialize(value(object{{"coalesced", true}}), protocol::encoding::json),
                                      protocol::serialize(value(object{{"coalesced", true}}), protocol::encoding::msgpack)};
  return join_objects(head, e.encoded.bytes[i], &flag[i], enc);
}

value snapshot_frame(std::uint64_t sub, const std::vector<record_view>& records) {
  array list;
  list.reserve(records.size());
  for (const auto& r : records) list.push_back(protocol::record_value(r));
  return value(object{{"event", "snapshot"}, {"sub", sub}, {"records", std::move(list)}});
}

value snapshot_end_frame(std::uint64_t sub, const position& at) {
  array pairs;
  pairs.reserve(at.size());
  for (const auto& [p, seq] : at) pairs.push_back(array{std::int64_t{p}, seq});
  return value(object{{"event", "snapshot_end"}, {"sub", sub}, {"position", std::move(pairs)}});
}

value reset_frame(std::uint64_t sub) { return value(object{{"event", "reset"}, {"sub", sub}}); }

}  // namespace stockgrid::feed
