#include "feed/publisher.hpp"

#include <algorithm>
#include <chrono>
#include <spdlog/spdlog.h>
#include <variant>

namespace stockgrid::feed {

using persistence::journal_entry;
using persistence::partition_store;
using persistence::record_image;

namespace {

// Records read per list_records() call of a snapshot job.
constexpr std::size_t snapshot_read_page = 1000;
// Journal rows read per read_journal() call of a resume job.
constexpr std::size_t resume_read_page = 1000;
// A resume job reads at most this many rows per matching event allowed
// before it gives up and resets (bounds the time it holds a journal thread
// for a narrow filter far behind).
constexpr std::size_t resume_scan_factor = 16;
// How often cancelled subscriptions are dropped when no events flow.
constexpr auto sweep_interval = std::chrono::milliseconds(250);

record_view view_of(const record_image& r) {
  return record_view{r.key,          r.on_hand,       r.reserved,
                     r.version,      r.policy.safety_stock, r.policy.allow_backorder,
                     r.backordered,  r.incoming,      r.policy.low_stock_threshold};
}

// The alert event a change raised: the change's event, marked.
event_ptr alert_of(const event& change, alert_kind kind, std::int64_t threshold) {
  auto a = std::make_shared<event>(change);
  a->alert = kind;
  a->threshold = threshold;
  return a;
}

// Upper bound of a record's size in a snapshot page on the wire.
std::size_t wire_bytes(const record_view& r) {
  return 256 + r.key.warehouse.size() + r.key.sku.size();
}

}  // namespace

// What the publisher thread knows of one subscription.
struct publisher::sub_state {
  std::shared_ptr<subscription> sub;
  std::optional<position> from;
  std::uint64_t generation = 0;  // bumped by a reset: attaches of older rounds are stale
  std::vector<bool> attached;
  std::uint32_t pending = 0;  // partitions not yet attached in this round
  std::vector<std::vector<record_view>> snapshot;  // per partition, until every one attached
  std::size_t snapshot_records = 0;
  position at;
  subscribed_fn done;  // until answered
  bool counted = true;  // holds one of active_
};

struct publisher::item {
  enum class kind { batch, start, attach, threshold } what = kind::batch;
  std::uint32_t p = 0;
  std::vector<journal_entry> entries;  // batch; attach: a resume's backlog
  std::shared_ptr<sub_state> state;    // start, attach
  std::uint64_t generation = 0;        // attach
  std::uint64_t seq = 0;               // attach: the partition's committed seq
  std::vector<record_view> records;    // attach: the snapshot's records
  bool reset = false;                  // attach: the position cannot be resumed
  bool too_big = false;                // attach: more records than the snapshot limit
  std::uint64_t from_seq = 0;          // attach of a resume: the position's seq
  std::optional<std::string> error;    // attach: the read failed
  std::string tenant;                  // threshold
  std::int64_t threshold = 0;          // threshold
};

publisher::publisher(const config::subscription_settings& settings, std::size_t page_bytes_max)
    : settings_(settings), page_bytes_max_(std::max<std::size_t>(page_bytes_max, 512)) {
  thread_ = std::thread([this] { run(); });
}

publisher::~publisher() { stop(); }

void publisher::bind(persistence::journal_writer* writer) {
  std::lock_guard lk(mu_);
  writer_ = writer;
}

std::uint32_t publisher::partitions() const { return writer_ ? writer_->partitions() : 0; }

void publisher::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool publisher::enqueue(item&& it) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(it));
  }
  cv_.notify_one();
  return true;
}

void publisher::on_committed(std::uint32_t p, const std::vector<journal_entry>& batch) {
  if (batch.empty()) return;
  if (active_.load(std::memory_order_acquire) == 0) {
    if (!skipped_.load(std::memory_order_relaxed)) skipped_.store(true, std::memory_order_relaxed);
    return;
  }
  const auto n = batch.size();
  if (queued_entries_.load(std::memory_order_relaxed) + n > settings_.publisher_queue_entries_max) {
    // Fan-out cannot keep up: rather than grow without bound, every
    // subscription ends (1013) and resumes from its position.
    overflowed_.store(true, std::memory_order_release);
    skipped_.store(true, std::memory_order_relaxed);
    cv_.notify_one();
    return;
  }
  queued_entries_.fetch_add(n, std::memory_order_relaxed);
  item it;
  it.what = item::kind::batch;
  it.p = p;
  it.entries = batch;
  enqueue(std::move(it));
}

void publisher::set_tenant_threshold(const std::string& tenant, std::int64_t threshold) {
  item it;
  it.what = item::kind::threshold;
  it.tenant = tenant;
  it.threshold = threshold;
  enqueue(std::move(it));
}

void publisher::subscribe(std::shared_ptr<subscription> sub, std::optional<position> from,
                          subscribed_fn done) {
  const auto n = partitions();
  if (n == 0) return done(outcome::unavailable, "subscriptions are not available yet", 0);
  if (from) {
    std::vector<bool> seen(n, false);
    for (const auto& [p, seq] : *from) {
      if (p >= n) return done(outcome::bad_request, "from: partition " + std::to_string(p) + " does not exist", 0);
      if (seen[p]) return done(outcome::bad_request, "from: partition " + std::to_string(p) + " twice", 0);
      seen[p] = true;
    }
    if (from->size() != n)
      return done(outcome::bad_request, "from: must give every partition (" + std::to_string(n) + ")", 0);
  }
  // Counted before any job is queued: every batch committed after a job
  // reads its partition is handed over (see on_committed).
  const auto before = active_.fetch_add(1, std::memory_order_acq_rel);
  if (before >= settings_.subscriptions_max) {
    active_.fetch_sub(1, std::memory_order_acq_rel);
    return done(outcome::limit_exceeded,
                "the node serves at most " + std::to_string(settings_.subscriptions_max) + " subscriptions",
                settings_.subscriptions_max);
  }
  const std::string tenant = sub->what().tenant;
  if (const auto limit = take_tenant_slot(tenant); limit != 0) {
    active_.fetch_sub(1, std::memory_order_acq_rel);
    return done(outcome::limit_exceeded,
                "tenant " + tenant + " may hold at most " + std::to_string(limit) + " subscriptions", limit);
  }
  auto s = std::make_shared<sub_state>();
  s->sub = std::move(sub);
  s->from = std::move(from);
  s->done = std::move(done);
  auto answer = s->done;
  item it;
  it.what = item::kind::start;
  it.state = std::move(s);
  if (!enqueue(std::move(it))) {
    active_.fetch_sub(1, std::memory_order_acq_rel);
    release_tenant_slot(tenant);
    answer(outcome::unavailable, "server stopping", 0);
  }
}

void publisher::set_tenant_subscriptions_max(const std::string& tenant, std::uint32_t max) {
  std::lock_guard lk(tenants_mu_);
  if (max == 0) {
    tenant_max_.erase(tenant);
  } else {
    tenant_max_.insert_or_assign(tenant, max);
  }
}

std::uint32_t publisher::take_tenant_slot(const std::string& tenant) {
  std::lock_guard lk(tenants_mu_);
  const auto own = tenant_max_.find(tenant);
  const std::uint32_t limit = own != tenant_max_.end() ? own->second : settings_.subscriptions_per_tenant_max;
  auto& held = tenant_active_[tenant];
  if (held >= limit) return limit;  // limit >= 1, so held is not a new 0
  ++held;
  return 0;
}

void publisher::release_tenant_slot(const std::string& tenant) {
  std::lock_guard lk(tenants_mu_);
  auto it = tenant_active_.find(tenant);
  if (it == tenant_active_.end()) return;
  if (--it->second == 0) tenant_active_.erase(it);
}

publisher_stats publisher::stats() const {
  publisher_stats s;
  s.subscriptions = active_.load(std::memory_order_relaxed);
  s.events = counters_.events.load(std::memory_order_relaxed);
  s.alerts = counters_.alerts.load(std::memory_order_relaxed);
  s.resets = counters_.resets.load(std::memory_order_relaxed);
  s.overflows = counters_.overflows.load(std::memory_order_relaxed);
  s.queued_entries = queued_entries_.load(std::memory_order_relaxed);
  s.queued_events = counters_.queued_events.load(std::memory_order_relaxed);
  s.coalesced = counters_.coalesced.load(std::memory_order_relaxed);
  s.dropped = counters_.dropped.load(std::memory_order_relaxed);
  return s;
}

// ---- the publisher thread ----------------------------------------------------

void publisher::run() {
  std::deque<item> work;
  auto last_sweep = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, sweep_interval, [&] {
        return stopping_ || !queue_.empty() || overflowed_.load(std::memory_order_acquire);
      });
      if (stopping_) break;
      work.swap(queue_);
    }
    if (overflowed_.exchange(false, std::memory_order_acq_rel)) {
      counters_.overflows.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("subscriptions: fan-out fell {} entries behind; closing every subscription (1013)",
                   settings_.publisher_queue_entries_max);
      for (auto& [tenant, subs] : by_tenant_)
        for (auto& s : subs) s->sub->fail({1013, "event fan-out overloaded; resume from your position"});
    }
    for (auto& it : work) handle(it);
    work.clear();
    if (const auto now = std::chrono::steady_clock::now(); now - last_sweep >= sweep_interval) {
      sweep();
      last_sweep = now;
    }
  }
  // Stopped: whoever still waits for an answer gets one.
  for (auto& it : queue_)
    if (it.what == item::kind::start && it.state->done) it.state->done(outcome::unavailable, "server stopping", 0);
  for (auto& [tenant, subs] : by_tenant_)
    for (auto& s : subs)
      if (s->done) std::exchange(s->done, nullptr)(outcome::unavailable, "server stopping", 0);
}

void publisher::handle(item& it) {
  switch (it.what) {
    case item::kind::batch:
      queued_entries_.fetch_sub(it.entries.size(), std::memory_order_relaxed);
      publish_batch(it.p, it.entries);
      break;
    case item::kind::start:
      // Changes went by unseen: alert levels are rebuilt from the next
      // changes' before-values.
      if (skipped_.exchange(false, std::memory_order_relaxed)) trackers_.clear();
      start(it.state);
      break;
    case item::kind::attach:
      attach(it);
      break;
    case item::kind::threshold:
      tenant_thresholds_[it.tenant] = it.threshold;
      break;
  }
}

std::int64_t publisher::threshold_of(const journal_entry& e) const {
  if (e.c.policy.low_stock_threshold > 0) return e.c.policy.low_stock_threshold;
  auto it = tenant_thresholds_.find(e.key.tenant);
  return it != tenant_thresholds_.end() ? it->second : 0;
}

void publisher::publish_batch(std::uint32_t p, std::vector<journal_entry>& batch) {
  if (trackers_.size() <= p) trackers_.resize(partitions(), alert_tracker(settings_.alert_hysteresis_percent));
  auto& tracker = trackers_[p];
  for (auto& e : batch) {
    if (!is_visible(e)) continue;
    const auto threshold = threshold_of(e);
    const auto alert = tracker.on_change(e.key, e.c, threshold);
    auto subs = by_tenant_.find(e.key.tenant);
    if (subs == by_tenant_.end()) continue;
    auto ev = std::make_shared<event>(event_of(e, p));
    event_ptr alert_ev;
    if (alert) {
      alert_ev = alert_of(*ev, *alert, threshold);
      counters_.alerts.fetch_add(1, std::memory_order_relaxed);
    }
    for (auto& s : subs->second) {
      if (!s->attached[p] || !s->sub->what().matches(e.key)) continue;
      if (!s->sub->what().alerts_only) {
        s->sub->push_event(ev);
        counters_.events.fetch_add(1, std::memory_order_relaxed);
      }
      if (alert_ev) {
        s->sub->push_event(alert_ev);
        counters_.events.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
}

// Queues one read job per partition on the journal threads; their attaches
// come back through the queue.
void publisher::start(const std::shared_ptr<sub_state>& s) {
  const auto n = partitions();
  if (s->sub->cancelled()) return drop(s);  // answers it; sweep() forgets it
  auto& list = by_tenant_[s->sub->what().tenant];
  if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(s);
  s->attached.assign(n, false);
  s->pending = n;
  s->snapshot.assign(n, {});
  s->snapshot_records = 0;
  s->at.assign(n, {0, 0});
  s->sub->set_gated(!s->from.has_value());
  const auto generation = s->generation;
  const auto& f = s->sub->what();
  for (std::uint32_t p = 0; p < n; ++p) {
    std::optional<std::uint64_t> after;
    if (s->from)
      for (const auto& [fp, seq] : *s->from)
        if (fp == p) after = seq;
    writer_->run(p, [this, s, generation, p, after, f,
                     max_records = settings_.snapshot_records_max,
                     max_events = settings_.resume_events_max](partition_store& store) {
      item it;
      it.what = item::kind::attach;
      it.state = s;
      it.generation = generation;
      it.p = p;
      it.seq = writer_->durable_seq(p);
      persistence::status st;
      if (!after) {
        // Snapshot: the partition's matching records as of it.seq.
        persistence::list_filter lf;
        lf.tenant = f.tenant;
        lf.warehouse = f.warehouse;
        lf.sku_prefix = f.sku.empty() ? f.sku_prefix : f.sku;
        lf.limit = snapshot_read_page;
        std::vector<record_image> page;
        for (;;) {
          st = store.list_records(lf, &page);
          if (!st) break;
          for (const auto& r : page)
            if (f.matches(r.key)) it.records.push_back(view_of(r));
          if (it.records.size() > max_records) {
            it.too_big = true;
            break;
          }
          if (page.size() < lf.limit) break;
          lf.after_warehouse = page.back().key.warehouse;
          lf.after_sku = page.back().key.sku;
        }
      } else if (*after > it.seq ||
                 (*after > writer_->recovered_seq(p) && *after < writer_->first_seq(p)) ||
                 *after + 1 < store.compacted_below()) {
        // From the future, lost in a power cut, or compacted away.
        it.reset = true;
      } else {
        // From the entry at the position itself: an alert shares its
        // change's seq, so a client that processed the change may not have
        // seen the alert; attach() sends that alert again (and not the change).
        std::vector<journal_entry> rows;
        std::size_t scanned = 0;
        std::uint64_t cursor = *after > 0 ? *after - 1 : 0;
        it.from_seq = *after;
        while (cursor < it.seq) {
          st = store.read_journal(cursor, resume_read_page, &rows);
          if (!st || rows.empty()) break;
          // A position's seq is one the client received (an event's, or a
          // snapshot_end's committed seq): unless compacted, it is in the
          // journal. Missing, it was lost by a power cut in `batched` mode
          // (whatever restarts came since): the client saw changes that are
          // gone.
          if (scanned == 0 && *after > 0 && *after >= store.compacted_below() && rows.front().seq != *after) {
            it.reset = true;
            break;
          }
          for (auto& e : rows) {
            if (e.seq > it.seq) break;
            if (is_visible(e) && f.matches(e.key)) it.entries.push_back(std::move(e));
          }
          cursor = rows.back().seq;
          scanned += rows.size();
          if (it.entries.size() > max_events || scanned > max_events * resume_scan_factor) {
            it.reset = true;
            it.entries.clear();
            break;
          }
        }
      }
      if (!st) it.error = st.message();
      enqueue(std::move(it));
    });
  }
}

void publisher::refuse(sub_state& s, outcome code, std::string message, std::int64_t limit) {
  if (s.done) std::exchange(s.done, nullptr)(code, std::move(message), limit);
  s.sub->cancel();
  // Dropped now, so it stops counting against subscriptions_max at once.
  auto it = by_tenant_.find(s.sub->what().tenant);
  if (it == by_tenant_.end()) return;
  auto& subs = it->second;
  for (auto i = subs.begin(); i != subs.end(); ++i) {
    if (i->get() != &s) continue;
    auto keep = *i;  // s lives until the end of this call
    subs.erase(i);
    drop(keep);
    break;
  }
  if (subs.empty()) by_tenant_.erase(it);
}

void publisher::attach(item& it) {
  auto& s = *it.state;
  if (it.generation != s.generation || s.sub->cancelled() || !s.counted) return;
  if (it.error) {
    return refuse(s, outcome::unavailable, "partition " + std::to_string(it.p) + ": " + *it.error);
  }
  if (it.reset) {
    // The whole subscription starts over with a snapshot, after a `reset`.
    counters_.resets.fetch_add(1, std::memory_order_relaxed);
    ++s.generation;
    s.from.reset();
    s.sub->clear();
    s.sub->push_control(reset_frame(s.sub->id()));
    return start(it.state);
  }
  if (it.too_big) {
    return refuse(s, outcome::limit_exceeded,
                  "the snapshot would hold more than " + std::to_string(settings_.snapshot_records_max) +
                      " records; narrow the filter",
                  settings_.snapshot_records_max);
  }
  const auto p = it.p;
  if (s.from) {
    // Resume: the missed events, then live ones (alerts recomputed from the
    // journal, with hysteresis state starting at the resume point).
    alert_tracker tracker(settings_.alert_hysteresis_percent);
    for (auto& e : it.entries) {
      const auto threshold = threshold_of(e);
      const auto alert = tracker.on_change(e.key, e.c, threshold);
      auto ev = std::make_shared<event>(event_of(e, p));
      const bool at_position = e.seq == it.from_seq;  // its change was processed already
      if (!s.sub->what().alerts_only && !at_position) s.sub->push_event(ev, true);
      if (alert) s.sub->push_event(alert_of(*ev, *alert, threshold), true);
    }
  } else {
    s.snapshot_records += it.records.size();
    if (s.snapshot_records > settings_.snapshot_records_max) {
      return refuse(s, outcome::limit_exceeded,
                    "the snapshot would hold more than " + std::to_string(settings_.snapshot_records_max) +
                        " records; narrow the filter",
                  settings_.snapshot_records_max);
    }
    s.snapshot[p] = std::move(it.records);
    s.at[p] = {p, it.seq};
  }
  s.attached[p] = true;
  if (--s.pending > 0) return;
  if (!s.from) finish_snapshot(s);
  if (s.done) std::exchange(s.done, nullptr)(outcome::ok, {}, 0);
}

// Every partition attached: the snapshot pages in (warehouse, sku) order,
// snapshot_end with the position, then the changes held back meanwhile.
void publisher::finish_snapshot(sub_state& s) {
  std::vector<record_view> all;
  all.reserve(s.snapshot_records);
  for (auto& part : s.snapshot)
    for (auto& r : part) all.push_back(std::move(r));
  s.snapshot.clear();
  std::sort(all.begin(), all.end(), [](const record_view& a, const record_view& b) {
    return std::tie(a.key.warehouse, a.key.sku) < std::tie(b.key.warehouse, b.key.sku);
  });
  std::vector<record_view> page;
  std::size_t bytes = 0;
  for (auto& r : all) {
    const auto size = wire_bytes(r);
    if (!page.empty() && (bytes + size > page_bytes_max_ || page.size() >= 1000)) {
      s.sub->push_control(snapshot_frame(s.sub->id(), page));
      page.clear();
      bytes = 0;
    }
    bytes += size;
    page.push_back(std::move(r));
  }
  if (!page.empty()) s.sub->push_control(snapshot_frame(s.sub->id(), page));
  s.sub->push_control(snapshot_end_frame(s.sub->id(), s.at));
  s.sub->set_gated(false);
}

void publisher::drop(const std::shared_ptr<sub_state>& s) {
  if (!s->counted) return;
  s->counted = false;
  if (s->done) std::exchange(s->done, nullptr)(outcome::unavailable, "subscription cancelled", 0);
  active_.fetch_sub(1, std::memory_order_acq_rel);
  release_tenant_slot(s->sub->what().tenant);
}

// Drops cancelled and failed subscriptions and sums the others' queues for
// stats().
void publisher::sweep() {
  std::uint64_t queued = 0, coalesced_live = 0;
  for (auto it = by_tenant_.begin(); it != by_tenant_.end();) {
    auto& subs = it->second;
    for (auto s = subs.begin(); s != subs.end();) {
      const auto st = (*s)->sub->stats();
      if ((*s)->sub->cancelled() || (*s)->sub->failure()) {
        if ((*s)->sub->failure()) counters_.dropped.fetch_add(1, std::memory_order_relaxed);
        counters_.coalesced_ended += st.coalesced;
        drop(*s);
        s = subs.erase(s);
      } else {
        queued += st.queued;
        coalesced_live += st.coalesced;
        ++s;
      }
    }
    it = subs.empty() ? by_tenant_.erase(it) : std::next(it);
  }
  counters_.queued_events.store(queued, std::memory_order_relaxed);
  counters_.coalesced.store(counters_.coalesced_ended + coalesced_live, std::memory_order_relaxed);
}

}  // namespace stockgrid::feed
