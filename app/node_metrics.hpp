// The node's metrics beyond the requests (gateway/metered_dispatcher.hpp):
// journal batch sizes, fsync and snapshot durations (fed by the journal
// writer's monitor hooks), and what the grid, the publisher and the gateway
// count themselves, read at each scrape. docs/operations.md lists them all.
#pragma once

#include <functional>

#include "actors/grid.hpp"
#include "feed/publisher.hpp"
#include "gateway/server.hpp"
#include "metrics/metrics.hpp"
#include "persistence/journal_writer.hpp"

namespace stockgrid::app {

class node_metrics {
 public:
  // Registers the journal histograms and build info in `r`, which must
  // outlive this.
  node_metrics(metrics::registry& r, std::string_view version);

  // Hooks for grid_options::journal_monitor (before the grid opens).
  persistence::journal_monitor journal_monitor();

  // Registers the values read at scrape time. Each source must outlive the
  // registry's last scrape (the gateway stops before they go). `ready` is
  // /readyz's condition. `max_in_flight` is the node's admission bound.
  void watch(const grid& g, const feed::publisher& feed, const gateway::server& gateway,
             std::function<bool()> ready, std::uint64_t max_in_flight);

 private:
  metrics::registry& r_;
  metrics::histogram& batch_entries_;
  metrics::histogram& fsync_seconds_;
  metrics::histogram& snapshot_seconds_;
};

}  // namespace stockgrid::app
