// stockgrid::grid — the in-process facade of a node's stock grid. Tests, the
// gateway's dispatcher and the benchmarks use it; it hides CAF entirely.
//
// A request goes: submit() -> the directory picks the partition -> the
// partition actor routes it to the record's actor (activating it from disk if
// needed) -> the record decides, journals and applies -> the reply callback
// runs once the journal entry is durable (see docs/design.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/status_board.hpp"
#include "config/settings.hpp"
#include "domain/request.hpp"
#include "orders/requests.hpp"
#include "persistence/journal_writer.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid {

// Called exactly once per submitted request, on some grid or journal thread.
// Keep it short: hand the reply to your own thread.
using reply_fn = std::function<void(reply&&)>;

struct grid_options {
  grid_options(config::settings s = {}, std::string vfs = {})
      : settings(std::move(s)), sqlite_vfs(std::move(vfs)) {}
  config::settings settings;
  std::string sqlite_vfs;  // empty = SQLite's default; tests inject a fault VFS
  // Subscriptions (feed/publisher.hpp): called on a journal thread with each
  // committed batch of a partition, in seq order (journal_writer_options).
  std::function<void(std::uint32_t, const std::vector<persistence::journal_entry>&)> on_committed;
  // Batch sizes, fsync and snapshot durations, for metrics.
  persistence::journal_monitor journal_monitor;
  // Called with each tenant's settings when they are loaded at start and
  // whenever they change (durably, before the change is answered); on a grid
  // thread at start, on the documents writer's thread after a change. Must be
  // thread-safe and quick.
  std::function<void(const std::string& tenant, const orders::tenant_settings&)> on_settings;
  // In a cluster: the tenants and keys another member sent (its whole
  // table, as publish_auth() bytes), with its member id; called on the
  // cluster actor's thread, so hand the bytes to a thread of your own.
  std::function<void(const std::string& member, std::string bytes)> on_peer_auth;
};

// In a cluster an order or transfer op runs at its tenant's home member
// (cluster::home_of, docs/cluster.md "Orders and transfers"). The node that
// took it sends it there as opaque bytes that the dispatcher makes and reads
// (app/peer_call.hpp); the grid only carries them, and answers for the
// ones that got no answer.
struct call_answer {
  outcome code = outcome::ok;  // not ok: no answer came (message, retry_after_ms say why)
  std::string message;
  std::int64_t retry_after_ms = 0;
  std::string response;  // ok: the home's response, as its dispatcher encoded it
};
using call_answer_fn = std::function<void(call_answer&&)>;
// Serves a call another member sent here: answer(response bytes) exactly
// once, from any thread.
using call_handler = std::function<void(std::string call, std::function<void(std::string)> answer)>;

struct grid_stats {
  std::uint64_t in_flight = 0;         // requests submitted, not yet answered
  std::uint64_t resident_records = 0;  // record actors alive
  std::uint64_t activations = 0;       // record actors spawned since start
  std::uint64_t passivations = 0;      // record actors stopped for idleness
  std::uint64_t journal_queued = 0;    // entries and jobs waiting for the journal
  std::uint64_t overloaded = 0;        // requests refused at the in-flight limit
  std::uint64_t degraded_partitions = 0;  // partitions whose journal refuses writes now (disk trouble)
  std::uint64_t journal_failures = 0;     // times a partition turned degraded since start
  std::uint64_t reloaded_records = 0;     // record actors dropped and reloaded from disk when it did
};

struct recovery_summary {
  std::uint64_t snapshot_records = 0;
  std::uint64_t replayed_entries = 0;
  std::uint64_t expired_holds = 0;  // holds whose deadline passed while down
  std::uint64_t orphaned_order_holds = 0;  // holds of orders that were not yet held
  std::uint64_t records_with_holds = 0;
  double seconds = 0;
};

// stock.list: one page of a tenant's records in (warehouse, sku) order.
struct list_query {
  std::string tenant;
  std::string warehouse;   // empty = every warehouse
  std::string sku_prefix;  // empty = every SKU
  std::string cursor;      // from the previous page; empty = from the start
  int limit = 0;           // 0 = default (100); at most 1000
  std::shared_ptr<const std::vector<std::string>> warehouses_allowed;  // null = all
};
struct list_page {
  outcome code = outcome::ok;
  std::string message;
  std::vector<record_view> records;
  std::string next_cursor;  // empty on the last page
};
using list_fn = std::function<void(list_page&&)>;

class grid {
 public:
  // Opens (or creates) the node's data directory, recovers every partition
  // and starts the actors. Returns null with `error` set when the data is
  // unreadable or corrupt (the message names the file and the row).
  static std::unique_ptr<grid> open(const grid_options& options, std::string* error);
  ~grid();

  // Asynchronous: never blocks on I/O or on other requests. Requests for one
  // record from one caller thread are applied in the order submitted.
  void submit(request req, reply_fn done);

  // Asynchronous; reads every partition (after its earlier appends commit)
  // and merges. A page reflects each partition at the moment it was read.
  void list(list_query query, list_fn done);

  // Orders across records (orders/order.hpp): order.reserve, commit,
  // release, extend, get. Each order is driven by its own coordinator actor,
  // which journals its state in the node's document store.
  void order(orders::order_request req, std::function<void(orders::order_reply&&)> done);
  // Transfers between warehouses (orders/transfer.hpp): create, receive,
  // cancel, get; driven like orders.
  void transfer(orders::transfer_request req,
                std::function<void(orders::transfer_reply&&)> done);
  // stock.find: the SKU in every warehouse of the caller's tenant.
  void find(orders::caller who, std::string sku, std::function<void(orders::find_reply&&)> done);
  // tenant.settings: reads, or changes and returns, the tenant's settings.
  void tenant_settings(orders::settings_request req,
                       std::function<void(orders::settings_reply&&)> done);

  // tenant.delete's data part, for a tenant that sends no requests
  // (suspended): stops its order and transfer coordinators and waits for
  // them to exit, then in every partition stops its record actors (their
  // requests are refused meanwhile) and removes its journal, snapshot,
  // index rows and idempotency keys on the partition's writer thread, then
  // its documents (orders, transfers, settings); forgets its records count,
  // its warehouses and its quotas. Blocking: call it from a thread that may
  // wait, never an actor's. Idempotent, so a delete cut short by a crash is
  // finished by calling it again. `records` (may be null) gets how many
  // records went.
  persistence::status delete_tenant(const std::string& tenant, std::uint64_t* records);
  // tenant.delete in a cluster, one member's parts (node_dispatcher runs the
  // whole delete; docs/cluster.md, "Deleting a tenant"). Blocking, like
  // delete_tenant.
  // - forget_tenant: what this node keeps of the tenant outside the
  //   partitions: stops its coordinators (the order home's) and waits for
  //   them, deletes its documents here (the home's orders and transfers,
  //   every member's copy of its settings), forgets its records count,
  //   warehouses and quotas.
  // - purge_led: journals a purge of the tenant (persistence/purge.hpp) in
  //   every partition this node leads now, each answered once a majority
  //   holds it and folded here; `purged` gets those partitions. A partition
  //   led elsewhere or without a leader is left out, not an error; the
  //   first failure of one led here is returned.
  persistence::status forget_tenant(const std::string& tenant);
  // In a cluster (deleted_tenants.hpp; no-op on a single node; any thread):
  // `tenant` is refused here from `since_ms` on, while it is being deleted
  // (note_deleting), and until retention-ms after `deleted_ms` once it is
  // removed (note_removed).
  void note_deleting(const std::string& tenant, epoch_ms since_ms);
  void note_removed(const std::string& tenant, epoch_ms deleted_ms);
  persistence::status purge_led(const std::string& tenant, std::vector<std::uint32_t>* purged);

  // Records of the tenant counted for its records quota.
  std::uint64_t tenant_records(const std::string& tenant) const;

  // In a cluster, the first step of a graceful stop: hands each partition
  // this node leads to a follower that holds its whole journal, which takes
  // over at once (docs/cluster.md, "Stopping a member"); meanwhile their
  // requests get UNAVAILABLE and are retried at the new leader. Waits up to
  // `limit`; returns whether it leads nothing any more (what is still led
  // then fails over after the failure timeout once the node is gone).
  // No-op (true) on a single node. Blocking: call it from a thread that may
  // wait, never an actor's.
  bool hand_off(std::chrono::milliseconds limit);

  // Stops taking requests (new ones get UNAVAILABLE), waits up to the drain
  // time for in-flight ones, stops the actors and flushes and fsyncs the
  // journal. Idempotent; the destructor calls it.
  void stop();

  grid_stats stats() const;
  // In a cluster: the members, who is up and where each partition lives, as
  // the cluster actor last saw them (at most a heartbeat interval old).
  // Null on a single node.
  std::shared_ptr<const cluster::status_board::snapshot> cluster_status() const;
  // In a cluster: sends this node's tenants and keys (opaque bytes, at most
  // limits::auth_table_bytes_max) to every connected member now, and to each
  // member that connects later; their nodes get them through on_peer_auth.
  // No-op on a single node. Any thread.
  void publish_auth(std::string bytes);
  // In a cluster: the member that coordinates the tenant's orders and
  // transfers now, the leader of its home partition (cluster::home_partition),
  // or "" when it is this node (always "" on a single node), or home_unknown
  // while the partition has no leader known here or this node, its new
  // leader, is still reading its documents.
  std::string order_home(const std::string& tenant) const;
  static constexpr const char* home_unknown = "?";
  // In a cluster: every member but this node, by member id (empty alone).
  std::vector<std::string> other_members() const;
  // Sends `call` to `member` (an order_home()); `done` gets its answer, or
  // UNAVAILABLE when it could not be sent (nothing ran there), or TIMEOUT
  // after forward-timeout-ms or when the connection is lost (it may have
  // run). Exactly once, on the cluster actor's thread.
  void forward_call(const std::string& member, std::string call, call_answer_fn done);
  // Where calls from other members go. Until it is set (and on a stopping
  // node) they are answered UNAVAILABLE. Call once, before serving.
  void serve_calls(call_handler handler);
  // The journal writer, for the subscription publisher (feed/publisher.hpp):
  // its jobs read a partition at an exact point of its journal.
  persistence::journal_writer& journal();
  const recovery_summary& recovery() const;
  const config::settings& settings() const;

  struct impl;

 private:
  explicit grid(std::unique_ptr<impl> p);
  persistence::status stop_coordinators(const std::string& tenant);  // and wait for them
  persistence::status forget_local(const std::string& tenant);
  std::unique_ptr<impl> impl_;
};

// The data directory's partition file for partition p ("DIR/p-0007.db").
std::string partition_path(const std::string& data_dir, std::uint32_t p);

}  // namespace stockgrid
