// Who is in the cluster and who is alive: the plain state behind the node's
// cluster actor (actors/cluster_actor.cpp), which feeds it what it hears.
//
// Membership is static in this version: the members are this node and the
// ones `--join` lists, and every node lists the same set, so every node
// computes the same placement (placement.hpp). A member is *up* while it was
// heard from (a hello or a heartbeat) within the failure timeout; a member
// that never spoke, or whose connection went down, is down.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/placement.hpp"

namespace stockgrid::cluster {

struct member_view {
  std::string id;
  bool self = false;
  bool up = false;
  bool connected = false;        // a CAF connection to it is open
  std::int64_t heard_ago_ms = -1;  // since it was last heard from; -1 = never
  // It places partitions otherwise (another member list, partition count or
  // replication factor): dropped as a peer (actors/cluster_actor.cpp).
  bool layout_mismatch = false;
};

// What cluster.status shows of one partition.
struct partition_view {
  std::uint32_t partition = 0;
  std::vector<std::string> replicas;  // best first (the first is the preferred leader)
  std::string leader;                 // who leads it now, as this node knows; empty when none
  // This node's copy, filled in by the cluster actor: its role ("leader",
  // "follower", "candidate"; empty = it holds no copy), the journal's epoch,
  // last seq and commit point (the highest seq known on a majority); as
  // leader, each follower's lag in seqs behind what it committed.
  std::string role;
  std::uint64_t epoch = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t commit_seq = 0;
  std::vector<std::pair<std::string, std::uint64_t>> lag;
  // Its copy started empty and has not caught up yet: it votes only for
  // empty copies (docs/cluster.md, "A copy that starts empty").
  bool blank = false;
  // This node leads it and has taken its tenants' orders over: it is their
  // order home (docs/cluster.md, "Orders and transfers").
  bool order_home = false;
  // A copy of the partition file on its way (actors/replica_copy.cpp): as
  // leader, to `peer`; as follower, from `peer`; `done` of `size` bytes
  // sent or received, then installing (follower only).
  struct copy_view {
    std::string peer;
    bool sending = false;
    std::uint64_t size = 0, done = 0;
    bool installing = false;
  };
  std::optional<copy_view> copy;
};

class membership {
 public:
  // `members` includes `self`. Checks them as place() does; on bad input
  // `error` is set and the object must not be used.
  membership(std::string self, std::vector<std::string> members, std::uint32_t partitions,
             std::uint32_t replication_factor, std::int64_t failure_timeout_ms, std::string* error);

  // A message from `id` arrived at `now_ms` (monotonic ms). False for an id
  // that is not a member (the caller refuses it).
  bool heard(const std::string& id, std::int64_t now_ms);
  // The connection to `id` opened (true) or closed (false). A closed
  // connection makes the member down at once, not after the timeout.
  void connected(const std::string& id, bool open);

  bool is_member(const std::string& id) const;
  bool up(const std::string& id, std::int64_t now_ms) const;
  const std::string& self() const { return self_; }
  const placement& table() const { return table_; }
  std::vector<member_view> members(std::int64_t now_ms) const;
  // Each partition's replicas (who leads is the cluster actor's to say).
  std::vector<partition_view> partitions() const;

 private:
  struct state {
    bool connected = false;
    std::int64_t last_heard_ms = -1;
  };
  std::string self_;
  placement table_;
  std::int64_t failure_timeout_ms_ = 0;
  std::vector<state> states_;  // by index in table_.members
  std::size_t index_of(const std::string& id) const;  // members.size() if none
};

}  // namespace stockgrid::cluster
