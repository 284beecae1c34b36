// The one list of setting keys: how each field of `settings` is spelled on the
// command line and in a config file, its help text and its bounds. The loader,
// validate(), to_string() and the tests all walk this list, so a setting added
// here is at once a flag, a config-file key, checked and logged.
//
// Adding a setting: add the field (with its comment, default and bounds) to its
// struct in settings.hpp, one line here, and one entry in
// stockgrid.conf.example (a test fails until all three agree).
#pragma once

#include <string_view>
#include <type_traits>

#include "config/settings.hpp"

namespace stockgrid::config {

// Names a setting for people. `key` is the command-line flag without its
// leading "--" and also the key in a config file; `component` groups the flags
// in --help and the lines of to_string().
struct key_info {
  std::string_view component;
  std::string_view key;
  std::string_view help;
};

// Stands in for the bounds of a setting that is not a number.
struct unbounded {};
// The bounds of a text setting that may be empty (it means "none").
struct may_be_empty : unbounded {};

// Calls visit(info, field, bounds) for every setting of `s`, in the order of
// settings.hpp. `field` is a reference into `s` (const if `s` is); `bounds` is
// the field's bounds<T> or `unbounded` for text and enum settings.
template <class Settings, class Visitor>
  requires std::is_same_v<std::remove_const_t<Settings>, settings>
void for_each_setting(Settings& s, Visitor&& visit) {
  using node = node_settings;
  auto& n = s.node;
  visit(key_info{"node", "data-dir", "directory for journal and snapshot files"},
        n.data_dir, unbounded{});
  visit(key_info{"node", "partitions", "partitions records are hashed into; fixed per data dir"},
        n.partitions, node::partitions_bounds);
  visit(key_info{"node", "scheduler-threads", "actor scheduler threads (0 = one per core)"},
        n.scheduler_threads, node::scheduler_threads_bounds);
  visit(key_info{"node", "journal-threads", "threads for blocking journal I/O"},
        n.journal_threads, node::journal_threads_bounds);
  visit(key_info{"node", "max-in-flight", "requests in the grid node-wide before OVERLOADED"},
        n.max_in_flight, node::max_in_flight_bounds);
  visit(key_info{"node", "passivate-idle-ms", "stop a record actor idle this long"},
        n.passivate_idle_ms, node::passivate_idle_ms_bounds);
  visit(key_info{"node", "shutdown-drain-ms", "time allowed to finish work on shutdown"},
        n.shutdown_drain_ms, node::shutdown_drain_ms_bounds);
  visit(key_info{"node", "shutdown-unready-ms", "on shutdown, /readyz is 503 this long before connections close"},
        n.shutdown_unready_ms, node::shutdown_unready_ms_bounds);

  using journal = journal_settings;
  auto& j = s.journal;
  visit(key_info{"journal", "durability", "sync: fsync before acknowledging; batched: fsync periodically"},
        j.durability, unbounded{});
  visit(key_info{"journal", "batched-fsync-interval-ms", "batched mode: fsync at most this often"},
        j.batched_fsync_interval_ms, journal::batched_fsync_interval_ms_bounds);
  visit(key_info{"journal", "journal-batch-entries-max", "most entries in one journal transaction"},
        j.batch_entries_max, journal::batch_entries_max_bounds);
  visit(key_info{"journal", "journal-batch-window-us", "wait this long to fill a batch (0 = never wait)"},
        j.batch_window_us, journal::batch_window_us_bounds);
  visit(key_info{"journal", "journal-commit-delay-us", "drills and tests: delay every commit, as on a slow disk"},
        j.commit_delay_us, journal::commit_delay_us_bounds);
  visit(key_info{"journal", "disk-retry-interval-ms",
                 "after a failed journal write: retry the disk this often (and tell writers to wait as long)"},
        j.disk_retry_interval_ms, journal::disk_retry_interval_ms_bounds);
  visit(key_info{"journal", "snapshot-every-entries", "snapshot a partition after this many entries"},
        j.snapshot_every_entries, journal::snapshot_every_entries_bounds);
  visit(key_info{"journal", "snapshot-interval-ms", "... or after this long, whichever is first"},
        j.snapshot_interval_ms, journal::snapshot_interval_ms_bounds);
  visit(key_info{"journal", "retention-ms", "keep history and idempotency keys this long"},
        j.retention_ms, journal::retention_ms_bounds);

  using hold = hold_settings;
  auto& h = s.holds;
  visit(key_info{"holds", "hold-default-ttl-ms", "TTL of a hold whose request names none"},
        h.default_ttl_ms, hold::default_ttl_ms_bounds);
  visit(key_info{"holds", "hold-max-ttl-ms", "longest TTL a request may ask for"},
        h.max_ttl_ms, hold::max_ttl_ms_bounds);
  visit(key_info{"holds", "holds-per-record-max", "active holds allowed on one record"},
        h.holds_per_record_max, hold::holds_per_record_max_bounds);

  using idempotency = idempotency_settings;
  auto& i = s.idempotency;
  visit(key_info{"idempotency", "idempotency-cache-entries", "recent idempotency keys kept in memory per partition"},
        i.cache_entries, idempotency::cache_entries_bounds);

  using subs = subscription_settings;
  auto& u = s.subscriptions;
  visit(key_info{"subscriptions", "subscriptions-max", "live subscriptions the node serves at once"},
        u.subscriptions_max, subs::subscriptions_max_bounds);
  visit(key_info{"subscriptions", "subscription-queue-events-max",
                 "events queued per subscriber before it gets coalesced updates"},
        u.queue_events_max, subs::queue_events_max_bounds);
  visit(key_info{"subscriptions", "subscription-coalesce-records-max",
                 "records a lagging subscriber may have coalesced before it is disconnected"},
        u.coalesce_records_max, subs::coalesce_records_max_bounds);
  visit(key_info{"subscriptions", "subscription-snapshot-records-max", "records one subscribe's snapshot may hold"},
        u.snapshot_records_max, subs::snapshot_records_max_bounds);
  visit(key_info{"subscriptions", "subscription-resume-events-max",
                 "missed events a resume may replay per partition before it gets a reset"},
        u.resume_events_max, subs::resume_events_max_bounds);
  visit(key_info{"subscriptions", "publisher-queue-entries-max",
                 "committed entries waiting for fan-out before every subscription is closed (1013)"},
        u.publisher_queue_entries_max, subs::publisher_queue_entries_max_bounds);
  visit(key_info{"subscriptions", "alert-hysteresis-percent",
                 "back_in_stock needs available above threshold + this percent (at least 1 unit)"},
        u.alert_hysteresis_percent, subs::alert_hysteresis_percent_bounds);
  visit(key_info{"subscriptions", "subscriptions-per-tenant-max",
                 "subscriptions one tenant may hold at once (tenant.settings may set its own)"},
        u.subscriptions_per_tenant_max, subs::subscriptions_per_tenant_max_bounds);

  using quotas = quota_settings;
  auto& q = s.quotas;
  visit(key_info{"quotas", "tenant-rate-per-second",
                 "requests per second one tenant may send before RATE_LIMITED (tenant.settings may set its own)"},
        q.rate_per_second, quotas::rate_per_second_bounds);
  visit(key_info{"quotas", "tenant-rate-burst", "requests one tenant may send at once above its rate"},
        q.rate_burst, quotas::rate_burst_bounds);
  visit(key_info{"quotas", "records-per-tenant-max",
                 "stock records one tenant may have before a new one is LIMIT_EXCEEDED (tenant.settings may set its own)"},
        q.records_per_tenant_max, quotas::records_per_tenant_max_bounds);

  using cluster = cluster_settings;
  auto& c = s.cluster;
  visit(key_info{"cluster", "join", "the other nodes' cluster endpoints, host:port,host:port (empty = a single node)"},
        c.join, may_be_empty{});
  visit(key_info{"cluster", "cluster-bind", "address the cluster port listens on"}, c.cluster_bind, unbounded{});
  visit(key_info{"cluster", "cluster-port", "port nodes talk to each other on"}, c.cluster_port,
        cluster::cluster_port_bounds);
  visit(key_info{"cluster", "cluster-advertise", "this node's member id, host:port as the others list it (empty = cluster-bind:cluster-port)"},
        c.cluster_advertise, may_be_empty{});
  visit(key_info{"cluster", "replication-factor", "copies of each partition on distinct nodes"},
        c.replication_factor, cluster::replication_factor_bounds);
  visit(key_info{"cluster", "heartbeat-interval-ms", "how often a node tells the others it is alive"},
        c.heartbeat_interval_ms, cluster::heartbeat_interval_ms_bounds);
  visit(key_info{"cluster", "failure-timeout-ms", "a node not heard from for this long is down"},
        c.failure_timeout_ms, cluster::failure_timeout_ms_bounds);
  visit(key_info{"cluster", "connect-timeout-ms", "connecting to another node gives up after this long"},
        c.connect_timeout_ms, cluster::connect_timeout_ms_bounds);
  visit(key_info{"cluster", "forward-timeout-ms", "a request forwarded to its partition's leader is answered TIMEOUT after this long"},
        c.forward_timeout_ms, cluster::forward_timeout_ms_bounds);
  visit(key_info{"cluster", "tls-certificate", "TLS between nodes: this node's certificate, PEM (empty = plain TCP)"},
        c.tls_certificate, may_be_empty{});
  visit(key_info{"cluster", "tls-key", "TLS between nodes: this node's private key, PEM, not encrypted"}, c.tls_key,
        may_be_empty{});
  visit(key_info{"cluster", "tls-ca", "TLS between nodes: the CA certificate that signed every member's, PEM"},
        c.tls_ca, may_be_empty{});
}

}  // namespace stockgrid::config
