// What cluster.status shows, as the node's cluster actor last saw it
// (actors/cluster.hpp). The actor publishes a new snapshot on every
// heartbeat tick and membership change; the gateway's threads read the
// latest without asking the actor.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/membership.hpp"

namespace stockgrid::cluster {

class status_board {
 public:
  struct snapshot {
    std::string self;
    std::uint32_t replication_factor = 0;
    std::vector<member_view> members;
    std::vector<partition_view> partitions;
    // Times a partition's leader, as this node saw it, went from one member
    // to another or to none, since start (the first election is not one).
    std::uint64_t leader_changes = 0;
  };
  void publish(snapshot s) {
    std::lock_guard lock(mutex_);
    current_ = std::make_shared<const snapshot>(std::move(s));
  }
  std::shared_ptr<const snapshot> read() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const snapshot> current_;
};

}  // namespace stockgrid::cluster
