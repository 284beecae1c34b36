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

std::size_t subscription::take(std::size_t max, std::vector<value>& out) {
  std::vector<queued> taken;
  std::size_t n = 0;
  {
    std::lock_guard lk(mu_);
    wake_pending_ = false;
    if (failed_ || cancelled_) return 0;
    while (n < max && !control_.empty()) {
      out.push_back(std::move(control_.front()));
      control_.pop_front();
      ++n;
    }
    if (!gated_) {
      if (events_.empty() && coalescing_) flush_coalesced_locked();
      while (n + taken.size() < max && !events_.empty()) {
        taken.push_back(std::move(events_.front()));
        events_.pop_front();
      }
    }
    // More left: the connection comes back when it has room (it does not
    // wait for another wake).
  }
  for (const auto& q : taken) out.push_back(event_frame(id_, *q.e, q.coalesced));
  return n + taken.size();
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
  return stats_;
}

// ---- frames ------------------------------------------------------------------

value event_frame(std::uint64_t sub, const event& e, bool coalesced) {
  object o;
  o.reserve(9);
  if (e.alert) {
    o.emplace_back("event", "alert");
    o.emplace_back("sub", sub);
    o.emplace_back("kind", to_string(*e.alert));
    o.emplace_back("partition", std::int64_t{e.partition});
    o.emplace_back("seq", e.seq);
    o.emplace_back("at_ms", e.at_ms);
    o.emplace_back("record", protocol::record_value(e.record));
    o.emplace_back("threshold", e.threshold);
  } else {
    o.emplace_back("event", "stock");
    o.emplace_back("sub", sub);
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
  if (coalesced) o.emplace_back("coalesced", true);
  return value(std::move(o));
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
