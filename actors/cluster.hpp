// The node's cluster actor: membership and failure detection between nodes
// (CAF's middleman over the cluster port). One per node in a cluster; a
// single node has none.
//
// It is published on `cluster-port`; every `heartbeat-interval-ms` it sends
// each connected
// member a heartbeat (`beat`: its member id, partition count and replication
// factor, which must match) and connects to members it has no connection to,
// each attempt bounded by `connect-timeout-ms` (CAF 0.17's handshake has no
// timeout of its own). The plain rules are cluster/membership.hpp; this actor
// only feeds them what it hears and publishes what they say on a board the
// gateway's threads read without asking the actor.
//
// What crosses nodes here: (beat_atom, std::string id, uint32 partitions,
// uint32 replication_factor) — atoms, strings and integers only, which CAF
// serializes without registration.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "cluster/status_board.hpp"
#include "config/settings.hpp"

namespace stockgrid::actors {

// Spawns the cluster actor and publishes it on the cluster port. Returns a
// null handle and sets `error` when the settings name a bad member list or
// the port cannot be opened.
caf::actor start_cluster(caf::actor_system& system, const config::settings& s,
                         std::shared_ptr<cluster::status_board> board, std::string* error);

}  // namespace stockgrid::actors
