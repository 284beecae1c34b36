// Operator settings of a stockgrid node: one struct per component, each field
// typed, defaulted, bounded and named with its unit last. A component takes
// only its own struct, so it cannot come to depend on another's knobs.
//
// The bounds live next to the fields (as `<field>_bounds`); validate() and the
// command-line/config-file loader (config/load.hpp) both read them from here,
// so a bound is written once. The key names and help texts for the command
// line and the config file are in config/keys.hpp.
//
// Compile-time limits that are not operator settings are in config/limits.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/limits.hpp"

namespace stockgrid::config {

// An inclusive range [min, max] a numeric setting must lie in.
template <class T>
struct bounds {
  T min;
  T max;
};

inline constexpr std::uint64_t one_day_ms = 86'400'000;

// When a journal write counts as durable.
enum class durability_mode : std::uint8_t {
  // A client's write is acknowledged only after its batch is fsynced: a power
  // cut loses nothing that was acknowledged.
  sync,
  // Acknowledged once written to the OS; fsync runs at most every
  // batched_fsync_interval_ms, so a power cut (not a process crash) may lose
  // up to that window of acknowledged writes. Higher throughput.
  batched,
};

// "sync" / "batched".
std::string to_string(durability_mode mode);
// Accepts exactly the names to_string() produces; nullopt otherwise.
std::optional<durability_mode> parse_durability_mode(std::string_view text);

// The node process as a whole: where it keeps data, how it is sliced into
// partitions, how many threads it runs and how much work it admits.
struct node_settings {
  // Directory holding the journal and snapshot files; created if missing.
  // Must not be empty. Default "./data".
  std::string data_dir = "./data";

  // Number of partitions records are hashed into (hash mod partitions). It
  // decides where each record lives on disk, so an existing data_dir must be
  // reopened with the same value. Default 64, bounds 1..limits::partitions_max.
  std::uint32_t partitions = 64;
  static constexpr bounds<std::uint32_t> partitions_bounds{1, limits::partitions_max};

  // Actor scheduler worker threads; 0 means one per core
  // (see scheduler_threads_resolved()). Default 0, bounds 0..256.
  std::uint32_t scheduler_threads = 0;
  static constexpr bounds<std::uint32_t> scheduler_threads_bounds{0, 256};

  // Threads running blocking journal I/O (SQLite), kept off the scheduler so
  // an fsync never stalls an actor. Default 2, bounds 1..64.
  std::uint32_t journal_threads = 2;
  static constexpr bounds<std::uint32_t> journal_threads_bounds{1, 64};

  // Requests admitted into the grid node-wide and not yet answered; beyond this
  // a new request is answered OVERLOADED at once instead of queueing without
  // bound. Default 65536, bounds 1..10,000,000.
  std::uint32_t max_in_flight = 65'536;
  static constexpr bounds<std::uint32_t> max_in_flight_bounds{1, 10'000'000};

  // A record actor idle this long is stopped and its memory released; the next
  // request reloads it from disk. Default 60,000 (1 min), bounds
  // 100..86,400,000 (1 day).
  std::uint64_t passivate_idle_ms = 60'000;
  static constexpr bounds<std::uint64_t> passivate_idle_ms_bounds{100, one_day_ms};

  // On shutdown, how long in-flight requests may take to finish and the journal
  // to flush before the node stops anyway. Default 5,000, bounds 0..300,000
  // (0 = stop without waiting).
  std::uint64_t shutdown_drain_ms = 5'000;
  static constexpr bounds<std::uint64_t> shutdown_drain_ms_bounds{0, 300'000};

  // On shutdown, first answer /readyz with 503 for this long while still
  // serving every request, so load balancers move traffic away before
  // connections close. Set it above the balancer's health-check interval
  // times its failure threshold. Default 0, bounds 0..300,000.
  std::uint64_t shutdown_unready_ms = 0;
  static constexpr bounds<std::uint64_t> shutdown_unready_ms_bounds{0, 300'000};

  // scheduler_threads with 0 replaced by the number of cores (at least 1).
  std::uint32_t scheduler_threads_resolved() const;

  friend bool operator==(const node_settings&, const node_settings&) = default;
};

// The write-ahead journal and the snapshots that let it be truncated.
struct journal_settings {
  // See durability_mode. Default sync.
  durability_mode durability = durability_mode::sync;

  // In batched mode, fsync at most this often: the window of acknowledged
  // writes a power cut can lose. Ignored in sync mode. Default 1,000, bounds
  // 1..60,000.
  std::uint64_t batched_fsync_interval_ms = 1'000;
  static constexpr bounds<std::uint64_t> batched_fsync_interval_ms_bounds{1, 60'000};

  // Most entries the writer puts into one transaction (group commit).
  // Default 4096, bounds 1..limits::journal_batch_entries_max.
  std::uint32_t batch_entries_max = 4'096;
  static constexpr bounds<std::uint32_t> batch_entries_max_bounds{
      1, static_cast<std::uint32_t>(limits::journal_batch_entries_max)};

  // How long the writer may wait for more entries to fill a batch before
  // committing it. 0 = natural group commit only: commit whatever queued up
  // while the previous commit ran, adding no latency. Default 0, bounds
  // 0..100,000 (100 ms).
  std::uint64_t batch_window_us = 0;
  static constexpr bounds<std::uint64_t> batch_window_us_bounds{0, 100'000};

  // Drills and tests only: every journal transaction waits this long before
  // it commits, as on a slow disk, so overload and back-pressure can be seen
  // on a fast machine. Default 0, bounds 0..1,000,000 (1 s).
  std::uint64_t commit_delay_us = 0;
  static constexpr bounds<std::uint64_t> commit_delay_us_bounds{0, 1'000'000};

  // A partition whose disk refused a write (full or failing) is degraded: its
  // writes are answered UNAVAILABLE with this as retry_after_ms while reads
  // go on, and this often the journal writer tries a small durable write; the
  // first that succeeds makes the partition take writes again. Default 1,000,
  // bounds 10..60,000 (1 min).
  std::uint64_t disk_retry_interval_ms = 1'000;
  static constexpr bounds<std::uint64_t> disk_retry_interval_ms_bounds{10, 60'000};

  // Write a partition snapshot after this many journal entries since the last
  // one, bounding replay time at startup. Default 200,000, bounds
  // 1..1,000,000,000.
  std::uint64_t snapshot_every_entries = 200'000;
  static constexpr bounds<std::uint64_t> snapshot_every_entries_bounds{1, 1'000'000'000};

  // ... or after this long since the last one, whichever comes first.
  // Default 60,000 (1 min), bounds 100..86,400,000 (1 day).
  std::uint64_t snapshot_interval_ms = 60'000;
  static constexpr bounds<std::uint64_t> snapshot_interval_ms_bounds{100, one_day_ms};

  // How long change history and idempotency keys are kept before they may be
  // pruned. A retried request is recognised as a duplicate only within this
  // window. Default 86,400,000 (24 h), bounds 60,000 (1 min)..365 days.
  std::uint64_t retention_ms = one_day_ms;
  static constexpr bounds<std::uint64_t> retention_ms_bounds{60'000, 365 * one_day_ms};

  friend bool operator==(const journal_settings&, const journal_settings&) = default;
};

// Holds (reservations that expire unless confirmed or released).
struct hold_settings {
  // TTL of a hold whose request names none. Must not exceed max_ttl_ms.
  // Default 600,000 (10 min), bounds 1,000..30 days.
  std::uint64_t default_ttl_ms = 600'000;
  static constexpr bounds<std::uint64_t> default_ttl_ms_bounds{1'000, 30 * one_day_ms};

  // Longest TTL a request may ask for; longer requests are refused.
  // Default 86,400,000 (24 h), bounds 1,000..30 days.
  std::uint64_t max_ttl_ms = one_day_ms;
  static constexpr bounds<std::uint64_t> max_ttl_ms_bounds{1'000, 30 * one_day_ms};

  // Active holds allowed on one record; further reserves are refused with
  // LIMIT_EXCEEDED. Default and upper bound limits::holds_per_record_max.
  std::uint32_t holds_per_record_max = limits::holds_per_record_max;
  static constexpr bounds<std::uint32_t> holds_per_record_max_bounds{
      1, static_cast<std::uint32_t>(limits::holds_per_record_max)};

  friend bool operator==(const hold_settings&, const hold_settings&) = default;
};

// Idempotency keys: a request carrying a key already seen gets the first
// reply again instead of being applied twice. Keys are kept for
// journal_settings::retention_ms; this struct only sizes the in-memory part.
struct idempotency_settings {
  // Most recent keys kept in memory per partition; older ones (still within
  // retention) are looked up in the journal. About 300 bytes each, so the
  // default costs ~40 MB over 64 partitions. Default 2,048, bounds
  // 1..4,194,304.
  std::uint32_t cache_entries = 2'048;
  static constexpr bounds<std::uint32_t> cache_entries_bounds{1, 4'194'304};

  friend bool operator==(const idempotency_settings&, const idempotency_settings&) = default;
};

// Live subscriptions (feed/publisher.hpp, docs/protocol.md "Subscriptions"):
// how much each subscriber may fall behind, and what a subscribe may cost.
struct subscription_settings {
  // Subscriptions the node serves at once, over every tenant and connection;
  // one more is refused with LIMIT_EXCEEDED. Default 10,000, bounds 1..1,000,000.
  std::uint32_t subscriptions_max = 10'000;
  static constexpr bounds<std::uint32_t> subscriptions_max_bounds{1, 1'000'000};

  // Change events queued for one subscriber that its connection has not yet
  // taken. Past this the subscriber gets coalesced events (the latest state
  // per record) instead. About 16 bytes each (events are shared between
  // subscribers). Default 4,096, bounds 16..1,048,576.
  std::uint32_t queue_events_max = 4'096;
  static constexpr bounds<std::uint32_t> queue_events_max_bounds{16, 1'048'576};

  // Records a lagging subscriber may have coalesced; one more and it is
  // disconnected (close 1008, "subscriber too slow"). Default 16,384, bounds
  // 16..1,048,576.
  std::uint32_t coalesce_records_max = 16'384;
  static constexpr bounds<std::uint32_t> coalesce_records_max_bounds{16, 1'048'576};

  // Records one subscribe's snapshot may hold; a larger one is refused with
  // LIMIT_EXCEEDED (narrow the filter). Default 100,000, bounds 1..10,000,000.
  std::uint32_t snapshot_records_max = 100'000;
  static constexpr bounds<std::uint32_t> snapshot_records_max_bounds{1, 10'000'000};

  // Missed events a resume (`from`) may replay from the journal per
  // partition; more and the subscriber gets `reset` and a fresh snapshot.
  // Default 4,096, bounds 1..1,048,576.
  std::uint32_t resume_events_max = 4'096;
  static constexpr bounds<std::uint32_t> resume_events_max_bounds{1, 1'048'576};

  // Committed journal entries waiting for the publisher thread. Past this
  // (fan-out cannot keep up with the writes) every subscription is closed
  // with 1013 and resumes from its position. Default 1,000,000, bounds
  // 1,000..100,000,000.
  std::uint32_t publisher_queue_entries_max = 1'000'000;
  static constexpr bounds<std::uint32_t> publisher_queue_entries_max_bounds{1'000, 100'000'000};

  // Alert hysteresis: after low_stock or out_of_stock, back_in_stock fires
  // only once available exceeds threshold + max(1, threshold * this / 100).
  // Default 10, bounds 0..1,000.
  std::uint32_t alert_hysteresis_percent = 10;
  static constexpr bounds<std::uint32_t> alert_hysteresis_percent_bounds{0, 1'000};

  // Subscriptions one tenant may hold at once over all its connections; one
  // more is refused with LIMIT_EXCEEDED, so one tenant cannot take the whole
  // node's subscriptions_max. A tenant's own value (tenant.settings
  // subscriptions_max, set by the system role) replaces it. Default 5,000,
  // bounds 1..limits::tenant_subscriptions_max.
  std::uint32_t subscriptions_per_tenant_max = 5'000;
  static constexpr bounds<std::uint32_t> subscriptions_per_tenant_max_bounds{1, limits::tenant_subscriptions_max};

  friend bool operator==(const subscription_settings&, const subscription_settings&) = default;
};

// Per-tenant request rates (docs/operations.md "Quotas"): each tenant's
// requests pass through a token bucket refilled at rate_per_second up to
// rate_burst tokens; a request without a token is answered RATE_LIMITED with
// retry_after_ms, before it costs the grid anything. These are the node's
// defaults; the system role gives a tenant its own in tenant.settings
// (rate_per_second, rate_burst).
struct quota_settings {
  // Requests per second one tenant may send, sustained. Default 10,000,
  // bounds 1..limits::tenant_rate_per_second_max.
  std::uint32_t rate_per_second = 10'000;
  static constexpr bounds<std::uint32_t> rate_per_second_bounds{1, limits::tenant_rate_per_second_max};

  // Requests one tenant may send at once after being quiet: the bucket's
  // size. Default 20,000 (two seconds at the default rate), bounds
  // 1..limits::tenant_rate_burst_max.
  std::uint32_t rate_burst = 20'000;
  static constexpr bounds<std::uint32_t> rate_burst_bounds{1, limits::tenant_rate_burst_max};

  // A tenant's rate and burst: its own values where it has them (0 = none),
  // else these. A tenant with its own rate and no burst of its own gets this
  // burst scaled to its rate (the same seconds of saved-up requests), at
  // least 1.
  struct tenant_rate {
    std::uint32_t rate_per_second = 0;
    std::uint32_t burst = 0;
  };
  tenant_rate for_tenant(std::uint32_t own_rate_per_second, std::uint32_t own_burst) const;

  // Stock records (distinct warehouse and SKU) one tenant may have; a new
  // record beyond it is LIMIT_EXCEEDED, existing ones keep working. Default
  // 1,000,000, bounds 1..limits::tenant_records_max.
  std::uint32_t records_per_tenant_max = 1'000'000;
  static constexpr bounds<std::uint32_t> records_per_tenant_max_bounds{1, limits::tenant_records_max};

  friend bool operator==(const quota_settings&, const quota_settings&) = default;
};

// Several nodes as one grid (docs/cluster.md). A node is in a cluster when
// `join` names other nodes; otherwise it is a single node and opens no
// cluster port.
struct cluster_settings {
  // The other nodes' cluster endpoints, "host:port,host:port" (each the
  // `cluster-advertise` of that node). Every node of a cluster lists all the
  // others. Default empty: a single node.
  std::string join;

  // The address the cluster port listens on. Without TLS (below) node
  // traffic is neither encrypted nor authenticated: keep it on a private
  // network. Default 127.0.0.1.
  std::string cluster_bind = "127.0.0.1";

  // The port nodes talk to each other on (CAF's middleman). Default 7401,
  // bounds 1..65535.
  std::uint32_t cluster_port = 7401;
  static constexpr bounds<std::uint32_t> cluster_port_bounds{1, 65535};

  // This node's member id: the host:port the other nodes list in their
  // `join`. Default empty: cluster-bind:cluster-port.
  std::string cluster_advertise;

  // Copies of each partition, on distinct nodes (capped at the node count).
  // Default 3, bounds 1..7.
  std::uint32_t replication_factor = 3;
  static constexpr bounds<std::uint32_t> replication_factor_bounds{1, 7};

  // How often a node tells every other that it is alive. Default 250,
  // bounds 20..10,000.
  std::uint32_t heartbeat_interval_ms = 250;
  static constexpr bounds<std::uint32_t> heartbeat_interval_ms_bounds{20, 10'000};

  // A node not heard from for this long is down. Must be at least 4
  // heartbeat intervals. Default 2,000, bounds 100..120,000.
  std::uint32_t failure_timeout_ms = 2'000;
  static constexpr bounds<std::uint32_t> failure_timeout_ms_bounds{100, 120'000};

  // Connecting to another node (TCP and CAF's handshake, which has no
  // timeout of its own) gives up after this long and is retried. Default
  // 2,000, bounds 100..60,000.
  std::uint32_t connect_timeout_ms = 2'000;
  static constexpr bounds<std::uint32_t> connect_timeout_ms_bounds{100, 60'000};

  // A request forwarded to its partition's leader on another node is
  // answered TIMEOUT (it may or may not have been applied: retry it with the
  // same idempotency key) when no answer came back within this long.
  // Default 5,000, bounds 100..60,000.
  std::uint32_t forward_timeout_ms = 5'000;
  static constexpr bounds<std::uint32_t> forward_timeout_ms_bounds{100, 60'000};

  // A partition's leader answers only while a majority of its replicas
  // answered it within this long: half the failure timeout, so its lease
  // ends before the others may elect another leader (cluster/replication.hpp).
  std::int64_t lease_ms() const { return failure_timeout_ms / 2; }

  // TLS between nodes with mutual authentication (docs/cluster.md): PEM
  // files of this node's certificate (its chain may follow it), its private
  // key (not encrypted), and the cluster's CA certificate, which must have
  // signed every member's certificate. All three or none; default empty:
  // plain TCP.
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_ca;

  // This node's member id (cluster_advertise, or cluster_bind:cluster_port).
  std::string member_id() const;
  // Whether this node is in a cluster (join is not empty).
  bool enabled() const { return !join.empty(); }
  // Whether node traffic goes over TLS (the TLS files are set).
  bool tls() const { return !tls_certificate.empty(); }

  friend bool operator==(const cluster_settings&, const cluster_settings&) = default;
};

static_assert(limits::journal_batch_entries_max <= UINT32_MAX);
static_assert(limits::holds_per_record_max <= UINT32_MAX);

// Every setting of a node. Default-constructed = the documented defaults,
// which pass validate().
struct settings {
  node_settings node;
  journal_settings journal;
  hold_settings holds;
  idempotency_settings idempotency;
  subscription_settings subscriptions;
  quota_settings quotas;
  cluster_settings cluster;

  // Empty when every setting is within its bounds and the settings agree with
  // each other; otherwise one line per problem, each naming the key as it is
  // spelled on the command line and in a config file, e.g.
  // "partitions = 0 is outside [1, 4096]". The loader already refuses
  // out-of-range values; this also catches settings built in code and the
  // rules that tie two keys together.
  std::string validate() const;

  friend bool operator==(const settings&, const settings&) = default;
};

// Every effective setting as `key = value` lines, grouped by component, for
// the startup log. The text is itself a valid config file (see load.hpp).
std::string to_string(const settings& s);

}  // namespace stockgrid::config
