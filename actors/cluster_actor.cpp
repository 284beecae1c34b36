// The cluster actor (actors/cluster.hpp): heartbeats, connections and the
// status board. The rules are cluster/membership.hpp.
#include <chrono>
#include <map>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster.hpp"
#include "actors/messages.hpp"
#include "cluster/endpoints.hpp"

namespace stockgrid::actors {

namespace {

std::int64_t monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

struct peer {
  cluster::endpoint at;
  caf::actor handle;        // null while not connected
  bool connecting = false;  // a connect request is out
  std::int64_t mismatch_logged_ms = -1;
};

struct cluster_state {
  config::cluster_settings settings;
  std::uint32_t partitions = 0;
  std::unique_ptr<cluster::membership> members;
  std::map<std::string, peer> peers;  // by member id
  std::shared_ptr<cluster::status_board> board;
  static inline const char* name = "cluster";
};

using self_ptr = caf::stateful_actor<cluster_state>*;

void publish_board(self_ptr self) {
  auto& st = self->state;
  const auto now = monotonic_ms();
  st.board->publish({st.members->self(), st.members->table().replication_factor, st.members->members(now),
                     st.members->partitions(now)});
}

void lost(self_ptr self, peer& p, const std::string& id, const char* why) {
  if (p.handle) spdlog::warn("cluster: lost {}: {}", id, why);
  if (p.handle) self->demonitor(p.handle);
  p.handle = nullptr;
  self->state.members->connected(id, false);
}

void connect(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto& p = st.peers.at(id);
  p.connecting = true;
  const auto timeout = std::chrono::milliseconds(st.settings.connect_timeout_ms);
  self->request(self->system().middleman().actor_handle(), timeout, caf::connect_atom::value, p.at.host,
                p.at.port)
      .then(
          [self, id](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto& p = self->state.peers.at(id);
            p.connecting = false;
            if (!ptr || p.handle) return;
            p.handle = caf::actor_cast<caf::actor>(ptr);
            self->monitor(p.handle);
            self->state.members->connected(id, true);
            spdlog::info("cluster: connected to {}", id);
            self->send(p.handle, beat_atom::value, self->state.members->self(), self->state.partitions,
                       self->state.settings.replication_factor);
          },
          [self, id](caf::error& e) {
            self->state.peers.at(id).connecting = false;
            spdlog::debug("cluster: cannot connect to {}: {}", id, self->system().render(e));
          });
}

void tick(self_ptr self) {
  auto& st = self->state;
  for (auto& [id, p] : st.peers) {
    if (p.handle)
      self->send(p.handle, beat_atom::value, st.members->self(), st.partitions, st.settings.replication_factor);
    else if (!p.connecting)
      connect(self, id);
  }
  publish_board(self);
}

// A heartbeat from `id`. A member whose partition count or replication
// factor differs would place partitions differently: it is not counted as
// up, and the mismatch is logged (at most every 10 s per member).
void on_beat(self_ptr self, const std::string& id, std::uint32_t partitions, std::uint32_t rf) {
  auto& st = self->state;
  auto it = st.peers.find(id);
  if (it == st.peers.end()) {
    spdlog::warn("cluster: a heartbeat from '{}', which is not a member (check --join on every node)", id);
    return;
  }
  auto& p = it->second;
  const auto now = monotonic_ms();
  if (partitions != st.partitions || rf != st.settings.replication_factor) {
    if (p.mismatch_logged_ms < 0 || now - p.mismatch_logged_ms > 10'000) {
      spdlog::error("cluster: {} runs {} partitions with replication factor {}; this node {} and {}: "
                    "every node must use the same",
                    id, partitions, rf, st.partitions, st.settings.replication_factor);
      p.mismatch_logged_ms = now;
    }
    return;
  }
  if (!p.handle) {
    // It connected to us first: answer over its connection.
    p.handle = caf::actor_cast<caf::actor>(self->current_sender());
    if (p.handle) {
      self->monitor(p.handle);
      st.members->connected(id, true);
      spdlog::info("cluster: {} connected", id);
    }
  }
  st.members->heard(id, now);
}

caf::behavior cluster_actor(self_ptr self, config::settings s, std::vector<cluster::endpoint> peers,
                            std::shared_ptr<cluster::status_board> board) {
  auto& st = self->state;
  st.settings = s.cluster;
  st.partitions = s.node.partitions;
  st.board = std::move(board);
  std::vector<std::string> ids{s.cluster.member_id()};
  for (auto& p : peers) {
    ids.push_back(p.id());
    st.peers[p.id()].at = std::move(p);
  }
  std::string error;  // checked by start_cluster with the same arguments
  st.members = std::make_unique<cluster::membership>(s.cluster.member_id(), std::move(ids), s.node.partitions,
                                                     s.cluster.replication_factor, s.cluster.failure_timeout_ms,
                                                     &error);
  publish_board(self);
  self->set_down_handler([self](const caf::down_msg& dm) {
    for (auto& [id, p] : self->state.peers)
      if (p.handle && p.handle.address() == dm.source) lost(self, p, id, "connection closed");
    publish_board(self);
  });
  self->send(self, tick_atom::value);
  return {
      [self](tick_atom) {
        tick(self);
        self->delayed_send(self, std::chrono::milliseconds(self->state.settings.heartbeat_interval_ms),
                           tick_atom::value);
      },
      [self](beat_atom, const std::string& id, std::uint32_t partitions, std::uint32_t rf) {
        on_beat(self, id, partitions, rf);
      },
      [self](stop_atom) { self->quit(); },
  };
}

}  // namespace

caf::actor start_cluster(caf::actor_system& system, const config::settings& s,
                         std::shared_ptr<cluster::status_board> board, std::string* error) {
  std::vector<cluster::endpoint> peers;
  if (!cluster::parse_endpoints(s.cluster.join, limits::cluster_members_max - 1, &peers, error)) return nullptr;
  std::vector<std::string> ids{s.cluster.member_id()};
  for (const auto& p : peers) ids.push_back(p.id());
  // The actor builds its own from the same arguments; this checks them.
  cluster::membership check(s.cluster.member_id(), ids, s.node.partitions, s.cluster.replication_factor,
                            s.cluster.failure_timeout_ms, error);
  if (!error->empty()) return nullptr;
  auto handle = system.spawn(cluster_actor, s, std::move(peers), std::move(board));
  auto published = system.middleman().publish(handle, static_cast<std::uint16_t>(s.cluster.cluster_port),
                                              s.cluster.cluster_bind.c_str(), true);
  if (!published) {
    *error = "cannot listen on cluster port " + s.cluster.cluster_bind + ":" +
             std::to_string(s.cluster.cluster_port) + ": " + system.render(published.error());
    caf::anon_send(handle, stop_atom::value);
    return nullptr;
  }
  spdlog::info("cluster: {} listening on {}:{}, members {}", s.cluster.member_id(), s.cluster.cluster_bind,
               *published, fmt::join(ids, ", "));
  return handle;
}

}  // namespace stockgrid::actors
