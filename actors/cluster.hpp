// The node's cluster actor: membership and failure detection between nodes
// (CAF's middleman over the cluster port). One per node in a cluster; a
// single node has none.
//
// It is published on `cluster-port` (TLS with mutual authentication when
// tls-certificate, tls-key and tls-ca are set: cluster_tls.cpp); every
// `heartbeat-interval-ms` it sends each connected member a heartbeat
// (`beat`: its member id, partition count and replication factor, which
// must match) and connects to members it has no connection to, each attempt
// bounded by `connect-timeout-ms` (CAF 0.17's handshake has no timeout of
// its own). The plain rules are cluster/membership.hpp; this actor
// only feeds them what it hears and publishes what they say on a board the
// gateway's threads read without asking the actor.
//
// It also replicates every partition this node holds a copy of (Raft with
// leader leases: replication_actor.cpp, docs/cluster.md) and forwards
// requests for partitions another node leads (route() hands them over).
//
// What crosses nodes: (layout_atom, std::string id, uint64 fingerprint, bool
// reply), first on every connection: cluster::fingerprint of the member
// list, partition count and replication factor, which must match, else the
// member is dropped (on_layout); (beat_atom, std::string id, uint32
// partitions, uint32 replication_factor) and (peer_atom, std::string from,
// std::string bytes) where the bytes are a cluster/wire.hpp peer message,
// and the chunks of a partition file a leader sends a follower it rebuilds,
// with their answers (copy_atom, copied_atom: messages.hpp) — atoms, strings,
// integers and bools only, which CAF serializes without registration, so nothing
// of ours goes through CAF's serializer and a message that does not decode
// is refused whole, with the reason logged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "cluster/replication.hpp"
#include "cluster/status_board.hpp"
#include "config/settings.hpp"

namespace stockgrid::actors {

struct node_context;

// With the cluster's TLS files set (cluster_settings::tls): empty when they
// load as CAF's OpenSSL module will load them (and the key is the
// certificate's), else what is wrong, naming the key. The module itself
// finds out only at the first connection, by throwing on its network thread.
std::string check_cluster_tls(const config::cluster_settings& c);

// Loads CAF's middleman into `cfg`, and with the TLS files set its OpenSSL
// module, configured with them (check them first: check_cluster_tls).
void configure_cluster(caf::actor_system_config& cfg, const config::cluster_settings& c);

// Spawns the cluster actor and publishes it on the cluster port (over TLS
// when configured so: then it also connects to members over TLS only).
// Returns a null handle and sets `error` when the settings name a bad member
// list or the port cannot be opened.
// `ctx` is the node's (its routes are kept up to date); `ends` is where each
// partition's journal ends, read at start.
// `on_peer_auth` gets the tenants-and-keys tables other members send.
caf::actor start_cluster(caf::actor_system& system, const config::settings& s,
                         std::shared_ptr<cluster::status_board> board, node_context* ctx,
                         std::vector<cluster::log_position> ends,
                         std::function<void(const std::string&, std::string)> on_peer_auth, std::string* error);

}  // namespace stockgrid::actors
