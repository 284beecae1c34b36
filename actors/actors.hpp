// The node's actors and their contracts (CAF 0.17 typed actors). Each actor
// is a thin shell: the rules live in domain/stock_record.hpp, the I/O in
// persistence/journal_writer.hpp; behaviours only route and sequence.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/clock.hpp"
#include "actors/deleted_tenants.hpp"
#include "actors/messages.hpp"
#include "actors/record_quota.hpp"
#include "actors/warehouses.hpp"
#include "config/settings.hpp"
#include "persistence/journal_writer.hpp"

namespace stockgrid::actors {

// One stock record (tenant, warehouse, SKU). Owns the record's state; handles
// its messages one at a time, so reservations never oversell without locks.
// Spawned by its partition on the first message for it; stopped by its
// partition when idle (never while it has active holds).
using record_actor = caf::typed_actor<
    // A request routed here by the partition, in the order it arrived.
    caf::reacts_to<envelope>,
    // Timer: release the holds whose deadline has passed.
    caf::reacts_to<expire_atom>,
    // Timer: ask the partition to passivate this record if it stayed idle.
    caf::reacts_to<tick_atom>,
    // The idempotency look-up for the request at the head of the queue.
    caf::reacts_to<idem_atom, idem_result>,
    // From the partition: stop now (passivation or shutdown).
    caf::reacts_to<stop_atom>>;

// One partition: owns its records' actors, its hold index, and (through the
// journal writer) its journal and snapshots. The directory sends every request
// for its keys here.
using partition_actor = caf::typed_actor<
    // A request for a record or hold of this partition.
    caf::reacts_to<envelope>,
    // A record read from disk: spawn its actor and hand it what waited.
    caf::reacts_to<loaded_atom, record_key, load_result>,
    // A record reports it stayed idle having handled `handled` requests; it is
    // stopped only if the partition forwarded no more than that.
    caf::reacts_to<passivate_atom, record_key, std::uint64_t>,
    // A hold was created (true) or ended (false) on a record.
    caf::reacts_to<hold_atom, std::uint64_t, record_key, bool>,
    // From the journal writer (through the grid): the partition turned
    // degraded, so records may hold changes that never reached the disk.
    // Stops every record actor, forgets the hold index and reloads the
    // records that were resident from the store.
    caf::reacts_to<drop_atom>,
    // One batch of those records has been read (after its loaded_atoms).
    caf::reacts_to<reloaded_atom>,
    // tenant.delete: stop the tenant's record actors and wait for their
    // exit, refuse its requests meanwhile, then remove its rows.
    caf::reacts_to<tenant_purge>,
    // Its rows are gone (or the error): end the purge.
    caf::reacts_to<purged_atom, std::string, persistence::status, std::uint64_t>,
    // In a cluster: this node now leads the partition (its journal is caught
    // up and committed); spawn the records with holds, as at start.
    caf::reacts_to<lead_atom, std::vector<persistence::record_image>>,
    // In a cluster: this node no longer leads it. Stops every record actor
    // and refuses requests (UNAVAILABLE) until it leads again.
    caf::reacts_to<follow_atom>,
    // Shutdown: stop every record actor, then itself.
    caf::reacts_to<stop_atom>>;

// In a cluster: where route() sends each partition's requests, kept up to
// date by the cluster actor (actors/cluster.hpp) and read by any thread.
// A leader takes no more changes of `ack: "leader"` tenants on a partition
// while its journal is this many entries beyond what a majority holds
// (OVERLOADED): the most such a leader's crash can lose, besides what is in
// flight to the journal (docs/cluster.md).
inline constexpr std::uint64_t leader_ack_window_entries = 65'536;

struct cluster_routes {
  cluster_routes(std::uint32_t partitions, std::int32_t self_index, std::int64_t retry_after)
      : self(self_index),
        retry_after_ms(retry_after),
        leader(new std::atomic<std::int32_t>[partitions]),
        lease_end_ms(new std::atomic<std::int64_t>[partitions]),
        may_append(new std::atomic<bool>[partitions]),
        handing_off(new std::atomic<bool>[partitions]),
        home_ready(new std::atomic<bool>[partitions]),
        replica(partitions, false) {
    for (std::uint32_t p = 0; p < partitions; ++p) {
      leader[p] = -1;
      lease_end_ms[p] = -1;
      may_append[p] = false;
      handing_off[p] = false;
      home_ready[p] = false;
    }
  }
  const std::int32_t self;  // this node's index in the placement's members
  const std::int64_t retry_after_ms;  // what UNAVAILABLE suggests while no leader serves
  // Per partition: the leader's member index (-1 = none known); while this
  // node leads, until when (monotonic ms) its lease lets it answer; whether
  // the journal writer takes this node's own appends (only while it leads:
  // a deposed leader's record actors must not write in the new epoch).
  std::unique_ptr<std::atomic<std::int32_t>[]> leader;
  std::unique_ptr<std::atomic<std::int64_t>[]> lease_end_ms;
  std::unique_ptr<std::atomic<bool>[]> may_append;
  // This node leads it but is handing it to a follower (it stops): new
  // requests get UNAVAILABLE, to be retried at the next leader.
  std::unique_ptr<std::atomic<bool>[]> handing_off;
  // This node leads it and its order directory has read the documents of
  // the tenants whose home partition it is (cluster::home_partition) and
  // resumed their open orders and transfers: it is their order home now.
  std::unique_ptr<std::atomic<bool>[]> home_ready;
  std::vector<bool> replica;  // this node holds a copy (set before any request, then constant)
  caf::actor cluster;  // set before any request is routed
  // Told when this node starts serving a partition as its leader (true: its
  // epoch marker is on a majority, so its whole journal is committed) and
  // when it stops leading it (false); on the cluster actor's thread. Set
  // before the cluster actor starts.
  std::function<void(std::uint32_t p, bool leads)> on_lead;

  // Whether a leader acknowledges the tenant's changes alone, without
  // waiting for a majority (tenant.settings `ack: "leader"`). Set from the
  // tenant's settings whenever they change; read by the journal writer's
  // quorum gate and by record actors, on their threads.
  bool leader_acks(const std::string& tenant) const {
    if (leader_acked.load(std::memory_order_acquire) == 0) return false;
    std::shared_lock lock(ack_mutex);
    return leader_ack_tenants.count(tenant) > 0;
  }
  void set_leader_acks(const std::string& tenant, bool leader) {
    std::unique_lock lock(ack_mutex);
    if (leader) leader_ack_tenants.insert(tenant);
    else leader_ack_tenants.erase(tenant);
    leader_acked.store(leader_ack_tenants.size(), std::memory_order_release);
  }

 private:
  mutable std::shared_mutex ack_mutex;
  std::unordered_set<std::string> leader_ack_tenants;
  std::atomic<std::size_t> leader_acked{0};  // its size: most nodes have none
};

// What every actor of a node shares. Owned by the grid, outlives the actors.
struct node_context {
  config::settings settings;
  persistence::journal_writer* journal = nullptr;
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::uint64_t> resident{0};
  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> passivations{0};
  std::atomic<std::uint64_t> overloaded{0};
  std::atomic<std::uint64_t> reloads{0};  // records dropped and reloaded after a journal failure
  warehouse_directory warehouses;
  // Records per tenant, for the records quota.
  record_quota records;
  // Every partition's actor, by partition number (set before any request).
  std::vector<partition_actor> partitions;
  // Where record actors read the time (clock.hpp's now_ms(const node_context&)):
  // empty, as in production, is the system clock. A test that runs actors
  // under CAF's test coordinator sets it to read the coordinator's manual
  // clock, so hold deadlines and the timers that fire them move together.
  std::function<epoch_ms()> clock;
  // Null on a single node.
  std::shared_ptr<cluster_routes> routes;
  // In a cluster: tenants refused because they are being deleted or were
  // deleted lately (deleted_tenants.hpp); empty on a single node.
  deleted_tenants deleted;
  // The SQLite VFS of the partition files (grid_options::sqlite_vfs).
  std::string sqlite_vfs;
};

// The time as the node's actors see it: ctx.clock when a test set one, else
// the system clock (one predictable branch on the production path).
inline epoch_ms now_ms(const node_context& ctx) { return ctx.clock ? ctx.clock() : now_ms(); }

// The partition that owns a request's record (or hold); the partition count
// for a hold id that is not one of ours (route answers HOLD_NOT_FOUND).
std::uint32_t partition_for(const node_context& ctx, const request& req);

// Sends a validated request to the partition that owns its record or hold:
// its actor on this node, or in a cluster the node that leads it (through
// the cluster actor). The caller has taken one in-flight credit
// (node_context::in_flight); the reply returns it. `forwarded`: the request
// came from another node, which thought this one leads; it is not sent on.
void route(node_context& ctx, request&& req, reply_fn done, bool forwarded = false);

// A request for another node's partition, to the cluster actor.
struct forward_call {
  std::uint32_t partition = 0;
  std::int32_t leader = -1;  // member index
  request req;
  reply_sink done;
};

// Spawners; the actors' state types stay private to their .cpp files.
record_actor spawn_record(caf::actor_system& system, node_context* ctx, std::uint32_t partition,
                          partition_actor parent, record_key key,
                          persistence::record_image image);
partition_actor spawn_partition(caf::actor_system& system, node_context* ctx,
                                std::uint32_t partition,
                                std::vector<persistence::record_image> with_holds,
                                bool leading = true);

}  // namespace stockgrid::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::forward_call)
