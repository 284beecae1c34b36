#include "app/node_metrics.hpp"

#include <algorithm>

#include "config/limits.hpp"

namespace stockgrid::app {

node_metrics::node_metrics(metrics::registry& r, std::string_view version)
    : r_(r),
      batch_entries_(r.add_histogram("stockgrid_journal_batch_entries",
                                     "Journal entries per committed transaction (group commit).",
                                     metrics::power_of_two_buckets(4096))),
      fsync_seconds_(r.add_histogram("stockgrid_fsync_duration_seconds",
                                     "Time to make written journal data durable: one syncfs or fsync, or a "
                                     "sync-mode batch committed alone (its fsync included).",
                                     metrics::latency_buckets())),
      snapshot_seconds_(r.add_histogram("stockgrid_snapshot_duration_seconds",
                                        "Time to fold a partition's journal into its snapshot.",
                                        metrics::latency_buckets())) {
  r.add_gauge_family_fn("stockgrid_build_info", "The running version (always 1).", {"version"}, 1,
                          [v = std::string(version)] { return metrics::registry::labelled_values{{{v}, 1}}; });
}

persistence::journal_monitor node_metrics::journal_monitor() {
  persistence::journal_monitor m;
  m.on_batch = [h = &batch_entries_](std::size_t n) { h->observe(static_cast<double>(n)); };
  m.on_durable = [h = &fsync_seconds_](double s) { h->observe(s); };
  m.on_snapshot = [h = &snapshot_seconds_](double s) { h->observe(s); };
  return m;
}

void node_metrics::watch(const grid& g, const feed::publisher& feed, const gateway::server& gateway,
                         std::function<bool()> ready, std::uint64_t max_in_flight) {
  auto grid_value = [&g](std::uint64_t grid_stats::*field) {
    return [&g, field] { return static_cast<double>(g.stats().*field); };
  };
  auto feed_value = [&feed](std::uint64_t feed::publisher_stats::*field) {
    return [&feed, field] { return static_cast<double>(feed.stats().*field); };
  };
  if (g.cluster_status()) {
    // In a cluster: how far behind each partition's followers are, on the
    // node that leads it, and how often leaders change (deploy/alerts.yml).
    r_.add_gauge_family_fn(
        "stockgrid_replication_lag_entries",
        "Per partition this node leads: journal seqs committed here that its slowest follower has not confirmed.",
        {"partition"}, limits::partitions_max, [&g] {
          metrics::registry::labelled_values out;
          const auto board = g.cluster_status();
          if (!board) return out;
          for (const auto& p : board->partitions) {
            if (p.lag.empty()) continue;
            std::uint64_t worst = 0;
            for (const auto& [id, seqs] : p.lag) worst = std::max(worst, seqs);
            out.push_back({{std::to_string(p.partition)}, static_cast<double>(worst)});
          }
          return out;
        });
    r_.add_counter_fn("stockgrid_leader_changes_total",
                      "Times a partition's leader, as this node routes to it, changed or was lost.",
                      [&g] {
                        const auto board = g.cluster_status();
                        return board ? static_cast<double>(board->leader_changes) : 0.0;
                      });
  }
  r_.add_gauge_fn("stockgrid_ready", "1 while /readyz answers 200 (recovered, not draining), else 0.",
                  [ready = std::move(ready)] { return ready() ? 1.0 : 0.0; });
  r_.add_gauge_fn("stockgrid_connections", "Open WebSocket connections.",
                  [&gateway] { return static_cast<double>(gateway.connections()); });
  r_.add_gauge_fn("stockgrid_grid_requests_in_flight", "Requests submitted to the grid and not yet answered.",
                  grid_value(&grid_stats::in_flight));
  r_.add_gauge_fn("stockgrid_grid_requests_in_flight_max",
                  "The node's admission bound: grid requests beyond it are answered OVERLOADED.",
                  [max_in_flight] { return static_cast<double>(max_in_flight); });
  r_.add_counter_fn("stockgrid_requests_shed_total",
                    "Requests answered OVERLOADED at once because the node was at its in-flight bound.",
                    grid_value(&grid_stats::overloaded));
  r_.add_gauge_fn("stockgrid_records_resident", "Record actors in memory.",
                  grid_value(&grid_stats::resident_records));
  r_.add_counter_fn("stockgrid_record_activations_total", "Record actors started (loaded from the store).",
                    grid_value(&grid_stats::activations));
  r_.add_counter_fn("stockgrid_record_passivations_total", "Record actors stopped for idleness.",
                    grid_value(&grid_stats::passivations));
  r_.add_gauge_fn("stockgrid_journal_backlog", "Journal entries and jobs queued for the writer threads.",
                  grid_value(&grid_stats::journal_queued));
  r_.add_gauge_fn("stockgrid_journal_backlog_max",
                  "The bound on the journal backlog: the node's in-flight bound (each admitted request "
                  "queues at most one entry or job at a time, a stock.bulk its items).",
                  [max_in_flight] { return static_cast<double>(max_in_flight); });
  r_.add_counter_fn("stockgrid_journal_errors_total",
                    "Times a partition turned degraded since start: a journal write, fsync or snapshot failed, "
                    "so its writes are refused until a probe write succeeds.",
                    grid_value(&grid_stats::journal_failures));
  r_.add_gauge_fn("stockgrid_journal_degraded_partitions",
                  "Partitions whose journal refuses writes now (disk full or failing); reads go on.",
                  grid_value(&grid_stats::degraded_partitions));
  r_.add_gauge_fn("stockgrid_subscriptions", "Live subscriptions.", feed_value(&feed::publisher_stats::subscriptions));
  r_.add_gauge_fn("stockgrid_subscription_events_queued",
                  "Events waiting in subscriber queues (as of the last 250 ms sweep).",
                  feed_value(&feed::publisher_stats::queued_events));
  r_.add_counter_fn("stockgrid_subscription_events_total", "Events queued to subscribers.",
                    feed_value(&feed::publisher_stats::events));
  r_.add_counter_fn("stockgrid_subscription_events_coalesced_total",
                    "Events folded into a later event of the same record for a slow subscriber.",
                    feed_value(&feed::publisher_stats::coalesced));
  r_.add_counter_fn("stockgrid_subscriptions_dropped_total",
                    "Subscriptions ended because the subscriber or the fan-out could not keep up (1008, 1013).",
                    feed_value(&feed::publisher_stats::dropped));
  r_.add_gauge_fn("stockgrid_publisher_backlog", "Committed journal entries waiting for the publisher thread.",
                  feed_value(&feed::publisher_stats::queued_entries));
}

}  // namespace stockgrid::app
