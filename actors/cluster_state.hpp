// The cluster actor's state and what its two halves share: membership,
// transport and forwarding (cluster_actor.cpp), and each partition's
// replication — elections, shipping the journal, commit points, leases
// (replication_actor.cpp). Private to actors/.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/actors.hpp"
#include "actors/grid.hpp"
#include "cluster/endpoints.hpp"
#include "cluster/membership.hpp"
#include "cluster/replication.hpp"
#include "cluster/status_board.hpp"
#include "cluster/wire.hpp"

namespace stockgrid::actors {

// Runs in the cluster actor: what a journal writer callback (on its own
// thread) hands back.
struct continuation {
  std::function<void()> fn;
};
// A batch the journal writer committed for partition p (its on_committed).
struct committed_batch {
  std::uint32_t partition = 0;
  std::vector<persistence::journal_entry> entries;
};
// The journal writer's word on partition p's disk (grid.cpp's
// on_journal_health): degraded (a failed commit) or healthy again.
struct disk_health {
  std::uint32_t partition = 0;
  persistence::status health;
};
// The local answer to a request another node forwarded here.
struct forwarded_answer {
  std::string peer;
  std::uint64_t id = 0;
  reply answer;
};

// An order or transfer call to forward to its tenant's home member
// (grid::forward_call), and where calls from other members go.
struct call_out {
  std::string member;
  std::string bytes;
  call_answer_fn done;
};
struct call_handler_set {
  call_handler fn;
};
// The local answer to a call another member sent here.
struct call_answered {
  std::string peer;
  std::uint64_t id = 0;
  std::string response;
};

struct peer {
  cluster::endpoint at;
  caf::actor handle;        // null while not connected
  std::int64_t connected_since_ms = -1;  // while handle is set
  bool connecting = false;  // a connect request is out
  std::int64_t mismatch_logged_ms = -1;
  // It sent a placement fingerprint other than this node's (another member
  // list, partition count or replication factor): it is not connected to,
  // and what it sends is dropped, until it sends a matching one (a restart
  // with the right settings). A member that never sends one (the previous
  // release) is taken as matching.
  bool layout_mismatch = false;
  cluster::peer_message outbox;  // sent at the next flush
  // Requests forwarded to it, by id: whom to answer, and when to give up.
  struct pending_call {
    reply_sink done;
    std::int64_t deadline_ms = 0;
  };
  std::unordered_map<std::uint64_t, pending_call> pending;
  // Order and transfer calls sent to it, by id (at most
  // calls_per_peer_max): whom to answer, and when to give up.
  struct pending_answer {
    call_answer_fn done;
    std::int64_t deadline_ms = 0;
  };
  std::unordered_map<std::uint64_t, pending_answer> calls;
};

// A follower as its partition's leader sees it.
struct follower_progress {
  std::string id;
  cluster::log_position sent;     // the last entry shipped to it (the next batch's prev)
  std::uint64_t match = 0;        // its journal agrees with ours up to here (durably)
  std::int64_t acked_sent_ms = -1;  // send time of the latest message it answered in our epoch
  bool known = false;   // `sent` is where its journal ends, as it told us
  bool reading = false;  // a catch-up read from our journal is out
  bool probing = false;  // a check of where it agrees with us is out
  bool needs_rebuild = false;  // its journal ends below what we compacted: nothing is shipped to it
};

enum class role : std::uint8_t { none, follower, candidate, leader };

// One partition on this node.
struct partition_replica {
  role r = role::none;  // none: this node holds no copy
  std::uint32_t rank = 0;  // among its replicas (0 = preferred leader)
  std::vector<std::string> replicas;  // member ids, best first
  std::uint64_t epoch = 0;  // the journal's epoch (raised durably by votes and promotions)
  std::string leader;       // empty = none known
  std::int64_t leader_heard_ms = -1;
  cluster::log_position last;    // where the journal ends (durable)
  cluster::log_position queued;  // follower: where it ends once queued appends commit
  std::uint64_t commit = 0;
  std::int64_t election_due_ms = 0;
  std::set<std::string> votes;  // candidate
  bool pre_vote = false;        // candidate: asking whether it would win, epoch not raised yet
  // Leader:
  std::vector<follower_progress> followers;
  cluster::log_position shipped;  // the last entry committed here and handed to followers
  std::uint64_t epoch_start_seq = 0;  // the seq of its first entry (the epoch marker) in its epoch
  std::vector<cluster::epoch_start> history;
  bool serving = false;     // holds loaded, partition actor leads
  bool promoting = false;   // a writer step of an election or promotion is out
  bool syncing = false;     // after stepping down: learning where the journal really ends
  bool disk_degraded = false;  // its journal refuses writes: it neither leads nor stands
  std::int64_t lease_end_ms = -1;
  // Leader, while it hands the partition over (this node stops, or gives
  // the lead back to the preferred replica): it takes no changes, and hands
  // it over once a follower (`hand_off_to`, when set) holds its journal up
  // to hand_off_end (read after its last queued append). A give-back not
  // done by its deadline is called off.
  bool handing_off = false;
  std::optional<std::uint64_t> hand_off_end;
  std::string hand_off_to;
  std::int64_t hand_off_deadline_ms = 0;
  std::uint64_t hand_off_generation = 0;  // which begin_hand_off a journal-end read belongs to
  std::int64_t led_since_ms = -1;    // serving since
  std::int64_t gave_back_ms = -1;    // the last give-back it started
  bool transfer = false;  // candidate: it stands because its leader handed it over
  // Follower: its copy is being replaced by its leader's (replica_copy.cpp);
  // until then it neither appends, votes nor stands.
  bool installing = false;
  // Its journal was empty when this node started (a new member, or a
  // replaced disk: it cannot tell which), so it may have lost entries it
  // once acknowledged. Until it holds everything a serving leader says is
  // committed, it votes only for candidates whose journal is empty too, so
  // its vote never elects a copy missing a committed entry. Kept across
  // restarts by a marker file, data/blank/p-NNNN.
  bool blank = false;
  // Follower: the latest seq its leader ordered it to cut after that lies
  // below its own snapshot (it cannot cut there); logged once per value.
  std::optional<std::uint64_t> stuck_below_snapshot;
  std::uint64_t leader_commit = 0;         // the latest commit seq its leader sent
  std::uint64_t leader_serving_epoch = 0;  // the epoch its leader last said it serves in
};

// Rebuilding a replica whose journal ends below what its leader compacted
// (replica_copy.cpp): the leader sends a copy of its partition file.
struct outgoing_copy {  // at the leader: at most one per node at a time
  std::uint32_t partition = 0;
  std::uint64_t epoch = 0;  // the leader's, when it started
  std::string to;
  std::uint64_t id = 0;
  std::string path;  // data/copies/out-p-NNNN.db
  int fd = -1;       // open once the copy is made
  std::uint64_t size = 0, offset = 0;  // offset: the next byte to send
  std::uint32_t crc = 0;               // CRC-32C of the whole file
  std::int64_t started_ms = 0;
  std::int64_t deadline_ms = 0;  // for the next answer
};
struct incoming_copy {  // at the follower: one per partition
  std::string from;
  std::uint64_t epoch = 0, id = 0;
  std::string path;  // data/copies/in-p-NNNN.db
  int fd = -1;
  std::uint64_t size = 0, received = 0;
  std::uint32_t crc = 0;  // of what was received
  std::int64_t last_ms = 0;
  bool installing = false;
};

// This node's tenants and keys, to send every member (grid::publish_auth).
struct auth_table {
  std::string bytes;
};

struct cluster_state {
  config::settings settings;
  std::uint64_t layout = 0;  // cluster::fingerprint of this node's placement
  std::string auth_bytes;  // the latest auth_table, sent to members as they connect
  std::function<void(const std::string&, std::string)> on_peer_auth;
  // Tenant settings (messages.hpp settings_bytes): this node's latest
  // table, sent to members as they connect; where members' tables go (the
  // order directory, known from its first table), and members' tables that
  // came before it, the latest per member.
  std::string settings_bytes;
  caf::actor settings_sink;
  std::map<std::string, std::string> settings_waiting;
  call_handler calls;  // where other members' calls go (grid::serve_calls); empty until set
  // Calls from other members being served here, by (member, id): where the
  // answer goes, and until when it is worth sending (the caller has given
  // up by then, and the slot is freed). At most calls_served_max.
  struct served_call {
    caf::actor to;
    std::int64_t deadline_ms = 0;
  };
  std::map<std::pair<std::string, std::uint64_t>, served_call> served;
  std::uint32_t partitions = 0;
  node_context* ctx = nullptr;
  std::unique_ptr<cluster::membership> members;
  std::map<std::string, peer> peers;  // by member id
  std::vector<partition_replica> parts;
  std::shared_ptr<cluster::status_board> board;
  std::uint64_t next_call_id = 1;  // seeded at random per process: ids are not reused across restarts
  std::int64_t started_ms = 0;
  std::vector<std::string> published_leaders;  // per partition, as last published
  std::uint64_t leader_changes = 0;
  bool flush_scheduled = false;
  // Set once this node stops (grid::hand_off): it hands over what it leads,
  // stands for nothing more, and answers these once it leads nothing.
  bool leaving = false;
  bool hand_off_over = false;  // its time ran out (call_off_hand_offs): none starts again
  std::vector<caf::response_promise> hand_off_waiting;
  // Copies of partition files (replica_copy.cpp). The copy is made on a
  // thread of its own (copy_thread), one at a time.
  std::optional<outgoing_copy> copy_out;
  std::map<std::uint32_t, incoming_copy> copies_in;
  std::int64_t copy_retry_ms = 0;  // no copy is sent before
  unsigned copy_failures = 0;      // in a row: each doubles the wait before the next
  std::uint64_t next_copy_id = 1;
  std::thread copy_thread;
  // From its start until its result reaches this actor: no new copy starts
  // meanwhile, so starting one never waits in join() for a VACUUM INTO that
  // a dropped copy left running (this actor also keeps the leases).
  bool copy_thread_busy = false;
  // At the follower: a received copy is checked (opened and recovered) on a
  // thread of its own, by partition (one copy per partition at a time).
  std::map<std::uint32_t, std::thread> check_threads;
  ~cluster_state();
  static inline const char* name = "stockgrid.cluster";
};

using cluster_ptr = caf::stateful_actor<cluster_state>*;

std::int64_t monotonic_ms();
// The peer message to `id`, sent at the next flush (one per peer per turn of
// the mailbox: messages queued meanwhile travel together).
cluster::peer_message& outbox(cluster_ptr self, const std::string& id);
bool connected(cluster_ptr self, const std::string& id);
// Sends every outbox now.
void flush_now(cluster_ptr self);

// replication_actor.cpp
void init_replicas(cluster_ptr self, const std::vector<cluster::log_position>& ends);
void replication_tick(cluster_ptr self);
void on_committed(cluster_ptr self, committed_batch& batch);
void on_peer_replication(cluster_ptr self, const std::string& from, cluster::peer_message& m);
void on_peer_lost(cluster_ptr self, const std::string& id);
void on_disk_health(cluster_ptr self, const disk_health& h);
// The node stops: hands each partition it leads to a caught-up follower
// (docs/cluster.md, "Stopping a member"); `done` is delivered true once it
// leads none (a partition no follower can take is still led at the
// caller's deadline: it then fails over after the failure timeout).
void hand_off(cluster_ptr self, caf::response_promise done);
// replica_copy.cpp: rebuilding a copy from its leader's partition file.
// Every tick: starts a copy for a follower that needs one, gives up on
// ones that stalled.
void copy_tick(cluster_ptr self, std::int64_t now);
// (copy_atom ...) from a leader; (copied_atom ...) from a follower.
void on_copy_chunk(cluster_ptr self, const std::string& from, std::uint32_t p, std::uint64_t epoch,
                   std::uint64_t id, std::uint64_t offset, std::uint64_t size, std::uint32_t crc,
                   const std::string& data);
void on_copy_answer(cluster_ptr self, const std::string& from, std::uint32_t p, std::uint64_t epoch,
                    std::uint64_t id, std::uint64_t next, bool installed, cluster::log_position end,
                    const std::string& error);
// A member's connection closed: copies from it not being installed go.
void copy_peer_lost(cluster_ptr self, const std::string& id);
// replication_actor.cpp: follower `id` of p holds a copy of this leader's
// file now, ending at `end`: ship to it again from there.
void copy_installed(cluster_ptr self, std::uint32_t p, const std::string& id, cluster::log_position end);
// The stopping node's hand-off took too long: what it still leads takes
// changes again until it exits (it still stands for nothing).
void call_off_hand_offs(cluster_ptr self);

}  // namespace stockgrid::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::continuation)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::committed_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::disk_health)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::forwarded_answer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::auth_table)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::call_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::call_handler_set)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::call_answered)
