// Live subscriptions on the client side, as plain state without I/O: the
// decoded events of the `subscribe` op (docs/protocol.md, "Subscriptions")
// and the stream position the client keeps so
// that it can resume a subscription after a reconnect with no gap and no
// duplicate. client.cpp routes frames here; the tests drive it directly.
//
// The position rule: position = snapshot_end's position; on every stock or
// alert event, position[partition] = max(position[partition], seq); a reset
// drops it until the next snapshot_end. A resubscribe sends `from: position`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/value.hpp"

namespace stockgrid::client {

// What a subscription selects; empty fields select everything. `alerts`
// selects alert events only (otherwise the stream has stock and alert events).
struct subscription_filter {
  std::string warehouse;
  std::string sku;
  std::string sku_prefix;
  bool alerts = false;
};

// A stream position: the last journal sequence number seen, per partition.
using stream_position = std::map<std::int64_t, std::int64_t>;

// The record object (docs/protocol.md, "The record object"); fields a newer
// server adds are in the event's `raw` frame.
struct stock_record {
  std::string warehouse;
  std::string sku;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;
  std::int64_t version = 0;
  std::int64_t backordered = 0;
  std::int64_t incoming = 0;
  std::int64_t safety_stock = 0;
  bool allow_backorder = false;
  std::int64_t low_stock_threshold = 0;
};

// The change a stock event reports: `delta` is the change of `available`,
// `qty` the units the change names.
struct stock_change {
  std::string kind;  // "reserve", "release", "commit", "adjust", ...
  std::int64_t delta = 0;
  std::int64_t qty = 0;
  std::string reason;
  std::int64_t version = 0;
};

// Values are never renumbered; 0 is reserved.
enum class event_kind : unsigned char {
  snapshot = 1,      // a page of the records that match, before any change
  snapshot_end = 2,  // the snapshot is complete; `position` is where it stands
  stock = 3,         // a record changed (or, `coalesced`, its latest state)
  alert = 4,         // low_stock, out_of_stock or back_in_stock
  reset = 5,         // the stream could not resume: drop what you built, a snapshot follows
  // Client-made, never on the wire: the subscription ended for good (a
  // resubscribe was refused, or the client was closed); `error` says why.
  ended = 6,
};
std::string_view to_string(event_kind kind);

struct subscription_event {
  event_kind kind = event_kind::snapshot;
  std::int64_t sub = 0;  // the server's id on the connection it came on
  std::vector<stock_record> records;  // snapshot
  stream_position position;           // snapshot_end
  std::int64_t partition = 0;         // stock, alert
  std::int64_t seq = 0;               // stock, alert
  std::int64_t at_ms = 0;             // stock, alert: the server's clock
  stock_record record;                // stock, alert
  stock_change change;                // stock
  bool coalesced = false;             // stock
  std::string alert;                  // alert: "low_stock", "out_of_stock", "back_in_stock"
  std::int64_t threshold = 0;         // alert
  protocol::value raw;                // the frame as received (ended: the error answer)
};

using event_callback = std::function<void(const subscription_event&)>;

// Whether a frame is an event (no `id`, an `event` member) rather than an answer.
bool is_event_frame(const protocol::value& frame);
// The frame's `sub`, if it has an integer one.
std::optional<std::int64_t> event_sub(const protocol::value& frame);

// Decodes an event frame. False (and a message in `error`) for an unknown
// event kind or a frame missing a member the kind needs; unknown extra
// members are ignored (protocol versions only grow).
bool decode_event(const protocol::value& frame, subscription_event* out, std::string* error);
bool decode_record(const protocol::value& v, stock_record* out, std::string* error);

// "from" as the subscribe request carries it: [[partition, seq], ...].
protocol::value position_value(const stream_position& position);
bool decode_position(const protocol::value& v, stream_position* out, std::string* error);

// The subscribe request's members after op and id: the filter's non-empty
// fields, and `from` when resuming.
protocol::object subscribe_params(const subscription_filter& filter,
                                  const std::optional<stream_position>& from);

// One subscription's position and its duplicate guard. Feed it every event
// in arrival order; it says which to hand to the application.
class position_keeper {
 public:
  // The events at one sequence number remembered to recognize a repeat
  // (a change's stock event and its alert share the seq); bounded.
  static constexpr std::size_t same_seq_events_max = 64;

  // Applies `e` and returns whether the application should see it. False
  // only for a stock or alert event of a resumed stream that was already
  // delivered before the reconnect (seq below the resume position of its
  // partition, or the same event at that very seq).
  bool apply(const subscription_event& e);

  // Whether the position is known (after snapshot_end, until a reset).
  bool has_position() const { return known_; }
  const stream_position& position() const { return position_; }
  // The position to send as `from`; nullopt before the first snapshot_end.
  std::optional<stream_position> resume_from() const;

  // A new subscribe is being sent on a new connection: with `from` (the
  // position is kept and the replay is guarded), or without (no position
  // yet: the stream starts over with a snapshot).
  void resubscribing();

  std::uint64_t duplicates_dropped() const { return duplicates_dropped_; }

 private:
  struct seen_at_seq {
    std::int64_t seq = -1;
    std::vector<std::string> identities;  // kind + record (+ alert kind)
  };
  static std::string identity(const subscription_event& e);

  bool known_ = false;
  stream_position position_;
  stream_position resumed_from_;                // the guard: empty on a fresh stream
  std::map<std::int64_t, seen_at_seq> at_max_;  // per partition: events at position[p]
  std::uint64_t duplicates_dropped_ = 0;
};

}  // namespace stockgrid::client
