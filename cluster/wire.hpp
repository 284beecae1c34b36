// How a grid request and its reply travel between nodes: the one
// description of the node-to-node format (a node forwards a request for a
// partition it does not lead to the leader, which answers).
//
// Each is a msgpack array of its fields in a fixed order, led by a format
// version (1), serialized and parsed by protocol/codec.hpp — the same
// fuzzed parser the gateway uses, with limits sized for one reply's history
// page. What CAF carries between nodes is then only a string of these bytes,
// so nothing crosses a node boundary through CAF's own serialization of our
// types. Decoding checks every type, count and enum value: bytes from
// another node that do not decode are refused with the reason, never
// half-applied.
//
//   request: [1, kind, tenant, warehouse, sku, hold, qty|nil, delta, on_hand,
//             expected_version|nil, ttl_ms, ref, reason, idem, key_id,
//             warehouses_allowed|nil, limit, before_version, safety_stock|nil,
//             allow_backorder|nil, low_stock_threshold|nil, internal, idem_fresh,
//             follower_read]
//   reply:   [1, code, message, record|nil, hold, expires_at_ms, available,
//             limit, retry_after_ms, [hold_view...], [event...], replayed]
//   record:  [tenant, warehouse, sku, on_hand, reserved, version, safety_stock,
//             allow_backorder, backordered, incoming, low_stock_threshold]
//   hold_view: [hold, qty, expires_at_ms, ref]
//   event:   [seq, change, hold, idem, key_id, at_ms]
//   change:  [kind, version, on_hand_before, on_hand_after, reserved_before,
//             reserved_after, backordered_before, backordered_after,
//             incoming_before, incoming_after, safety_stock, allow_backorder,
//             low_stock_threshold, qty, hold_seq, expires_at_ms, ref, reason]
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "persistence/partition_store.hpp"

#include <string>
#include <string_view>

#include "domain/request.hpp"

namespace stockgrid::cluster {

// One partition's journal entries from its leader (an empty `entries` is a
// heartbeat that renews the leader's lease and carries its commit point).
// The follower appends them only if its last entry is (prev_seq, prev_epoch).
struct partition_append {
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;  // the leader's
  std::uint64_t prev_seq = 0, prev_epoch = 0;
  std::uint64_t commit_seq = 0;  // entries up to here are on a majority
  std::vector<persistence::journal_entry> entries;
};
// A follower's answer: `ok` = its journal now ends at (last_seq,
// last_epoch) and matches the leader's; not ok = refused (a stale `epoch`,
// or its last entry is not prev: the leader finds where they agree).
struct append_result {
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;  // the follower's
  bool ok = false;
  std::uint64_t last_seq = 0, last_epoch = 0;
};
// `pre`: a pre-vote. Would the replica vote for this candidate in `epoch`?
// It answers by the same rules but changes nothing, and the candidate
// raises its epoch only once a majority would: a node that was cut off, or
// frozen, cannot unseat a leader the others still hear.
//
// `transfer`: the candidate stands because its leader handed it the
// partition (takeover below): the leader stopped acknowledging first, so a
// replica grants it even while it still hears that leader.
struct vote_request {
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;  // the candidate's new epoch
  std::uint64_t last_seq = 0, last_epoch = 0;
  bool pre = false;
  bool transfer = false;
};
struct vote_result {
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;
  bool granted = false;
  bool pre = false;
};
// The leader to a follower whose journal diverged: drop entries after
// after_seq (never ones on a majority), then report where it ends.
struct truncate_order {
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;
  std::uint64_t after_seq = 0;
};

// A leader handing the partition over (it stops, or gives the lead back to
// the preferred replica) to a follower: it has stopped taking changes, and
// that follower's journal holds everything it committed; stand for
// epoch+1 now. `refused`: the answer of a follower that cannot stand (its
// disk refuses writes, it stops too): the former leader, which holds the
// whole journal as well, stands instead.
struct takeover {
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;  // the leader's
  bool refused = false;
};

// Everything one node sends another in one CAF message, batched per peer.
//
//   peer message: [1, sent_ms, echo_ms, [append...], [result...], [vote...],
//                  [vote_result...], [truncate...], [[id, request]...],
//                  [[id, reply]...], [[partition, epoch]...]|nil,
//                  [takeover...]]
//   append:   [partition, epoch, prev_seq, prev_epoch, commit_seq, [entry...]]
//   result:   [partition, epoch, ok, last_seq, last_epoch]
//   vote:     [partition, epoch, last_seq, last_epoch, pre, transfer]
//   takeover: [partition, epoch, refused]
//   vote_result: [partition, epoch, granted, pre]
//   truncate: [partition, epoch, after_seq]
//   entry:    [seq, epoch, at_ms, tenant, warehouse, sku, change, idem,
//              fingerprint (64 bits as int64), result, detail, key_id]
//
// sent_ms is the sender's monotonic clock; a reply echoes the latest
// sent_ms it answers in echo_ms (leader leases count from the send).
//
// The takeovers and a vote's `transfer` came later (the hand-off on a
// graceful stop): they are written only when used (no takeovers: 11
// fields; transfer false: 5), so a node of the release before reads every
// message but those of a hand-off, which it refuses whole (the leader then
// just stops, and the others elect one after the failure timeout).
struct peer_message {
  std::int64_t sent_ms = 0;
  std::int64_t echo_ms = 0;
  std::vector<partition_append> appends;
  std::vector<append_result> results;
  std::vector<vote_request> votes;
  std::vector<vote_result> vote_results;
  std::vector<truncate_order> truncates;
  std::vector<std::pair<std::uint64_t, request>> requests;  // forwarded to the leader, by caller's id
  std::vector<std::pair<std::uint64_t, reply>> replies;     // their answers
  // The partitions the sender leads and serves, with their epochs (sent
  // every heartbeat; absent in other messages): where others forward.
  using leads_list = std::vector<std::pair<std::uint32_t, std::uint64_t>>;
  bool has_leads = false;
  leads_list leads;
  std::vector<takeover> takeovers;
  bool empty() const {
    return appends.empty() && results.empty() && votes.empty() && vote_results.empty() && truncates.empty() &&
           requests.empty() && replies.empty() && !has_leads && takeovers.empty();
  }
};

std::string encode(const peer_message& m);
bool decode(std::string_view bytes, peer_message* out, std::string* error);

std::string encode(const request& r);
std::string encode(const reply& r);

// False with `error` set when `bytes` is not what encode() writes.
bool decode(std::string_view bytes, request* out, std::string* error);
bool decode(std::string_view bytes, reply* out, std::string* error);

}  // namespace stockgrid::cluster
