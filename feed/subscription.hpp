// One subscriber's queue: what the publisher thread (publisher.hpp) has for a
// connection and the connection has not yet taken. Thread-safe: the
// publisher pushes, the connection's strand takes.
//
// Two queues: control frames (snapshot pages, snapshot_end, reset), never
// dropped and bounded by the snapshot and resume limits; and change events,
// bounded by queue_events_max. Events are held back ("gated") until the
// snapshot is complete, so a subscriber sees snapshot pages, snapshot_end,
// then changes.
//
// A subscriber whose event queue is full is coalesced: further changes are
// kept as the latest event per record (and alerts as they come) until the
// queue has drained; then they are queued in seq order, flagged `coalesced`.
// Each carries its record's full state, so the subscriber's view is exact;
// only intermediate changes of a record are folded away. If the coalesced
// set exceeds coalesce_records_max the subscription fails ("subscriber too
// slow") and its connection is closed with 1008.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "feed/event.hpp"
#include "feed/filter.hpp"
#include "protocol/codec.hpp"
#include "protocol/value.hpp"

namespace stockgrid::feed {

struct subscription_limits {
  std::size_t queue_events_max = 4096;
  std::size_t coalesce_records_max = 16384;
};

// Why a subscription ended, for the connection's close frame.
struct subscription_end {
  std::uint16_t close_code = 1008;
  std::string reason;
};

struct subscription_stats {
  std::uint64_t events = 0;     // stock and alert events queued (coalesced included)
  std::uint64_t coalesced = 0;  // events folded into a later one of the same record
  std::uint64_t queued = 0;     // events waiting to be taken (coalesced records included)
};

class subscription {
 public:
  // `wake` runs (on the publisher's thread, outside any lock) when the
  // subscription goes from nothing to take to something, or fails. It must
  // be quick (post to the connection's strand).
  subscription(std::uint64_t id, filter f, subscription_limits limits, std::function<void()> wake);

  std::uint64_t id() const { return id_; }
  const filter& what() const { return filter_; }

  // --- publisher side ---
  void push_control(protocol::value frame);
  // A change or alert event. `backlog` (a resume's replay) is queued even
  // past queue_events_max: the resume limit bounds it.
  void push_event(event_ptr e, bool backlog = false);
  // Releases change events (after snapshot_end) / holds them back again.
  void set_gated(bool gated);
  // Drops everything queued (before a reset and a fresh snapshot).
  void clear();
  // Ends the subscription; the connection closes with `end`.
  void fail(subscription_end end);

  // --- connection side ---
  // Moves up to `max` frames into `out`, rendered; returns how many.
  std::size_t take(std::size_t max, std::vector<protocol::value>& out);
  // The same, encoded in `enc` (what a connection sends).
  std::size_t take_encoded(std::size_t max, protocol::encoding enc, std::vector<std::string>& out);
  std::optional<subscription_end> failure() const;
  // The connection no longer wants frames; the publisher drops it.
  void cancel();
  bool cancelled() const;
  subscription_stats stats() const;

 private:
  struct queued {
    event_ptr e;
    bool coalesced = false;
  };
  // Moves up to `max` items out of the queues: control frames, then events.
  void take_locked(std::size_t max, std::vector<protocol::value>& control, std::vector<queued>& events);
  bool ready_locked() const;
  // Call with the lock held; returns whether to call wake_ after unlocking.
  bool should_wake_locked();
  void flush_coalesced_locked();

  const std::uint64_t id_;
  const filter filter_;
  const subscription_limits limits_;
  const std::function<void()> wake_;

  mutable std::mutex mu_;
  std::deque<protocol::value> control_;
  std::deque<queued> events_;
  bool gated_ = true;
  bool coalescing_ = false;
  std::unordered_map<record_key, event_ptr, record_key_hash> coalesced_;
  std::vector<event_ptr> coalesced_alerts_;
  std::optional<subscription_end> failed_;
  bool cancelled_ = false;
  bool wake_pending_ = false;
  subscription_stats stats_;
};

// The frames of docs/protocol.md "Subscriptions".
protocol::value event_frame(std::uint64_t sub, const event& e, bool coalesced);
// The same frame encoded: the same bytes as serialize(event_frame(...)).
std::string encoded_event_frame(std::uint64_t sub, const event& e, bool coalesced, protocol::encoding enc);
protocol::value snapshot_frame(std::uint64_t sub, const std::vector<record_view>& records);
protocol::value snapshot_end_frame(std::uint64_t sub, const position& at);
protocol::value reset_frame(std::uint64_t sub);

}  // namespace stockgrid::feed
