// The node's subscription fan-out. Journal writer threads hand it each batch
// of entries once committed (journal_writer_options::on_committed), in seq
// order per partition; one publisher thread turns them into events, runs the
// alert trackers and pushes each event to the queues of the subscriptions
// that match it (subscription.hpp). The stock actors never wait for it: the
// hand-off is a copy onto a bounded queue, and nothing is published while no
// one subscribes.
//
// Joining the stream exactly: a subscribe runs one job per partition on that
// partition's journal thread (journal_writer::run), after every earlier
// append has committed and been handed over. The job reads the snapshot (or,
// for a resume, the journal after the client's seq) and queues an "attach"
// behind everything already handed over from that partition. From the attach
// on, the partition's events reach the subscription: nothing between the
// snapshot (or backlog) and the live stream is missed or sent twice.
//
// Bounds: the hand-off queue (publisher_queue_entries_max; past it every
// subscription is closed with 1013 and resumes from its position), each
// subscriber's queue (subscription.hpp), snapshot and resume sizes
// (config::subscription_settings).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/settings.hpp"
#include "domain/outcome.hpp"
#include "feed/alerts.hpp"
#include "feed/subscription.hpp"
#include "persistence/journal_writer.hpp"

namespace stockgrid::feed {

struct publisher_stats {
  std::uint64_t subscriptions = 0;    // active
  std::uint64_t events = 0;           // events pushed to subscriber queues
  std::uint64_t alerts = 0;           // alert events raised (before fan-out)
  std::uint64_t resets = 0;           // resumes answered with reset
  std::uint64_t overflows = 0;        // times the hand-off queue overflowed
  std::uint64_t queued_entries = 0;   // entries waiting for the publisher thread
  // Over all subscriptions, as of the last sweep (every 250 ms):
  std::uint64_t queued_events = 0;    // events waiting in subscriber queues
  std::uint64_t coalesced = 0;        // events folded into later ones, since start
  std::uint64_t dropped = 0;          // subscriptions ended as too slow (1008) or overloaded (1013)
};

class publisher {
 public:
  // page_bytes_max: the most a snapshot page may take on the wire (the
  // gateway's frame limit leaves room for the envelope).
  publisher(const config::subscription_settings& settings, std::size_t page_bytes_max);
  ~publisher();
  publisher(const publisher&) = delete;
  publisher& operator=(const publisher&) = delete;

  // The writer whose partitions it serves; once, before the first subscribe.
  void bind(persistence::journal_writer* writer);

  // Journal writer thread: a committed batch of partition p, in seq order.
  // Quick: a copy onto the hand-off queue, or nothing while no one subscribes.
  void on_committed(std::uint32_t p, const std::vector<persistence::journal_entry>& batch);

  // The tenant's default low-stock threshold (tenant.settings), for records
  // without their own. Any thread.
  void set_tenant_threshold(const std::string& tenant, std::int64_t threshold);

  // The most subscriptions the tenant may hold at once (tenant.settings
  // subscriptions_max); 0 = the settings' subscriptions_per_tenant_max.
  // Any thread; subscriptions already held are kept.
  void set_tenant_subscriptions_max(const std::string& tenant, std::uint32_t max);

  // Starts a subscription: a snapshot then live changes, or, with `from`,
  // the changes after that position then live ones (a `reset` and a fresh
  // snapshot when it cannot be resumed exactly). `done` runs once, on the
  // publisher thread, when the subscription's first frames are queued (ok)
  // or it is refused (BAD_REQUEST, LIMIT_EXCEEDED: the node's or the
  // tenant's subscriptions, UNAVAILABLE); only then
  // may its frames be taken.
  // `limit`: the limit a LIMIT_EXCEEDED refers to, else 0.
  using subscribed_fn = std::function<void(outcome code, std::string message, std::int64_t limit)>;
  void subscribe(std::shared_ptr<subscription> sub, std::optional<position> from, subscribed_fn done);

  std::uint32_t partitions() const;
  publisher_stats stats() const;

  // Stops the thread; subscriptions get no more events. Idempotent.
  void stop();

 private:
  struct sub_state;
  struct item;
  void run();
  void handle(item& it);
  void publish_batch(std::uint32_t p, std::vector<persistence::journal_entry>& batch);
  void start(const std::shared_ptr<sub_state>& s);
  void attach(item& it);
  void finish_snapshot(sub_state& s);
  void refuse(sub_state& s, outcome code, std::string message, std::int64_t limit = 0);
  void drop(const std::shared_ptr<sub_state>& s);
  void sweep();
  // Counts one more subscription of the tenant and returns 0, or returns its
  // limit when it already holds that many; release gives one back.
  std::uint32_t take_tenant_slot(const std::string& tenant);
  void release_tenant_slot(const std::string& tenant);
  // False when stopping (nothing queued).
  bool enqueue(item&& it);
  std::int64_t threshold_of(const persistence::journal_entry& e) const;

  const config::subscription_settings settings_;
  const std::size_t page_bytes_max_;
  persistence::journal_writer* writer_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  bool stopping_ = false;
  std::atomic<std::size_t> queued_entries_{0};
  std::atomic<bool> overflowed_{false};
  std::atomic<std::uint32_t> active_{0};  // subscriptions started, not yet dropped
  // Per tenant: subscriptions started and not yet dropped (only tenants
  // holding some), and the limits of tenants with their own.
  std::mutex tenants_mu_;
  std::unordered_map<std::string, std::uint32_t> tenant_active_;
  std::unordered_map<std::string, std::uint32_t> tenant_max_;
  // A batch went unpublished (no subscriber): the alert trackers missed
  // changes and start over at the next subscribe.
  std::atomic<bool> skipped_{false};
  std::thread thread_;

  // Publisher thread only.
  std::vector<alert_tracker> trackers_;  // per partition
  std::unordered_map<std::string, std::vector<std::shared_ptr<sub_state>>> by_tenant_;
  std::unordered_map<std::string, std::int64_t> tenant_thresholds_;

  struct counters {
    std::atomic<std::uint64_t> events{0}, alerts{0}, resets{0}, overflows{0};
    // Written by sweep(): queued events and coalesced counts of live
    // subscriptions plus those of ended ones, and failed subscriptions.
    std::atomic<std::uint64_t> queued_events{0}, coalesced{0}, dropped{0};
    std::uint64_t coalesced_ended = 0;  // publisher thread only
  };
  counters counters_;
};

}  // namespace stockgrid::feed
