// The cluster actor (actors/cluster.hpp), its first half: membership and
// heartbeats, connections, the per-peer batching of everything nodes send
// each other, and requests forwarded to their partition's leader. The
// replication of each partition is the other half (replication_actor.cpp).
#include "actors/cluster.hpp"

#include <chrono>
#include <random>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "actors/cluster_state.hpp"
#include "cluster/endpoints.hpp"
#include "config/limits.hpp"
#include "orders/settings_table.hpp"

namespace stockgrid::actors {

using flush_atom = caf::atom_constant<caf::atom("flush")>;

std::int64_t monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {

// Forwarded requests (and answers) per peer message: bounds one message's
// size within what the receiver decodes (cluster/wire.cpp: a history page
// answered is about 26,000 values).
constexpr std::size_t forwarded_per_message_max = 32;
// Order and transfer calls waiting for an answer from one member, and calls
// from other members being served here: beyond these a call is refused
// OVERLOADED at once (its home's directory bounds coordinators too).
constexpr std::size_t calls_per_peer_max = 4096;
constexpr std::size_t calls_served_max = 4096;

void publish_board(cluster_ptr self) {
  auto& st = self->state;
  const auto now = monotonic_ms();
  auto partitions = st.members->partitions();
  for (std::size_t p = 0; p < partitions.size(); ++p) {
    const auto& r = st.parts[p];
    auto& view = partitions[p];
    // Who serves it, as route() sees it: where this node sends its requests
    // (itself only while its lease lasts: after that it refuses them).
    const auto& routes = *st.ctx->routes;
    const auto leader = routes.leader[p].load(std::memory_order_acquire);
    const bool refusing = leader == routes.self && now >= routes.lease_end_ms[p].load(std::memory_order_acquire);
    view.leader = leader >= 0 && !refusing ? st.members->table().members[static_cast<std::size_t>(leader)]
                                           : std::string{};
    view.epoch = r.epoch;
    view.role = r.r == role::leader     ? "leader"
                : r.r == role::candidate ? "candidate"
                : r.r == role::follower  ? "follower"
                                         : "";
    view.last_seq = r.last.seq;
    view.commit_seq = r.commit;
    for (const auto& f : r.followers)
      view.lag.emplace_back(f.id, r.shipped.seq > f.match ? r.shipped.seq - f.match : 0);
    view.blank = r.blank;
    view.order_home = routes.home_ready[p].load(std::memory_order_acquire);
    if (st.copy_out && st.copy_out->partition == p)
      view.copy = cluster::partition_view::copy_view{st.copy_out->to, true, st.copy_out->size, st.copy_out->offset,
                                                      false};
    if (auto in = st.copies_in.find(static_cast<std::uint32_t>(p)); in != st.copies_in.end())
      view.copy = cluster::partition_view::copy_view{in->second.from, false, in->second.size, in->second.received,
                                                      in->second.installing};
  }
  st.published_leaders.resize(partitions.size());
  for (std::size_t p = 0; p < partitions.size(); ++p) {
    auto& was = st.published_leaders[p];
    if (!was.empty() && was != partitions[p].leader) ++st.leader_changes;
    was = partitions[p].leader;
  }
  auto members = st.members->members(now);
  for (auto& m : members)
    if (auto it = st.peers.find(m.id); it != st.peers.end()) m.layout_mismatch = it->second.layout_mismatch;
  st.board->publish({st.members->self(), st.members->table().replication_factor, std::move(members),
                     std::move(partitions), st.leader_changes});
}

// Answers every request forwarded to `id` that is still waiting. Sent ones
// may have been applied there: TIMEOUT says so (retry with the same
// idempotency key); ones never sent get UNAVAILABLE (nothing was applied).
void fail_pending(peer& p, const std::string& id, const char* why) {
  for (auto& [call, pending] : p.pending) {
    auto r = reply::error(outcome::timeout, std::string("no answer from ") + id + ", the partition's leader (" + why +
                                                "); the request may have been applied: retry it with the same "
                                                "idempotency key");
    pending.done(std::move(r));
  }
  p.pending.clear();
  p.outbox.requests.clear();
  for (auto& [call, pending] : p.calls)
    pending.done({outcome::timeout,
                  std::string("no answer from ") + id + ", the tenant's order home (" + why +
                      "); the call may have run: retry it with the same idempotency key, or read the order",
                  0,
                  {}});
  p.calls.clear();
}

void lost(cluster_ptr self, peer& p, const std::string& id, const char* why) {
  if (p.handle) spdlog::warn("cluster: lost {}: {}", id, why);
  if (p.handle) self->demonitor(p.handle);
  p.handle = nullptr;
  p.connected_since_ms = -1;
  self->state.members->connected(id, false);
  fail_pending(p, id, why);
  p.outbox = {};
  on_peer_lost(self, id);
}

void send_beat(cluster_ptr self, peer& p) {
  auto& st = self->state;
  self->send(p.handle, beat_atom::value, st.members->self(), st.partitions, st.settings.cluster.replication_factor);
}

// A member just connected (either way): it gets this node's tenants and keys.
void on_connected(cluster_ptr self, peer& p) {
  auto& st = self->state;
  // First, so it arrives before anything else this connection carries.
  self->send(p.handle, layout_atom::value, st.members->self(), st.layout, false);
  if (!st.auth_bytes.empty()) self->send(p.handle, auth_atom::value, st.members->self(), st.auth_bytes);
  if (!st.settings_bytes.empty())
    self->send(p.handle, tsettings_atom::value, st.members->self(), st.settings_bytes);
}

// The member other than `id` whose connection reaches `node`, or nullptr.
// Two members never share a node (each runs its own process): a handle
// that does is stale or was mislabeled, and is dropped.
std::pair<const std::string*, peer*> other_on_node(cluster_ptr self, const std::string& id, const caf::node_id& node) {
  for (auto& [other, q] : self->state.peers)
    if (other != id && q.handle && q.handle.node() == node) return {&other, &q};
  return {nullptr, nullptr};
}

// What connects to other members: with TLS configured, the OpenSSL
// module's middleman actor (TLS only: a plain node is never reached).
caf::io::middleman_actor connector(cluster_ptr self) {
  auto& system = self->system();
  return self->state.settings.cluster.tls() ? system.openssl_manager().actor_handle()
                                            : system.middleman().actor_handle();
}

void connect(cluster_ptr self, const std::string& id) {
  auto& st = self->state;
  auto& p = st.peers.at(id);
  p.connecting = true;
  const auto timeout = std::chrono::milliseconds(st.settings.cluster.connect_timeout_ms);
  self->request(connector(self), timeout, caf::connect_atom::value, p.at.host, p.at.port)
      .then(
          [self, id](const caf::node_id& node, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto& p = self->state.peers.at(id);
            p.connecting = false;
            if (!ptr) return;
            // The handshake proved which node listens at this member's
            // address: a handle of another member on that node is wrong.
            if (auto [other, q] = other_on_node(self, id, node); q != nullptr)
              lost(self, *q, *other, "its handle reached another member's node");
            if (p.handle && p.handle.node() == node) return;
            if (p.handle) lost(self, p, id, "its handle reached another node");
            p.handle = caf::actor_cast<caf::actor>(ptr);
            p.connected_since_ms = monotonic_ms();
            self->monitor(p.handle);
            self->state.members->connected(id, true);
            spdlog::info("cluster: connected to {}", id);
            on_connected(self, p);
            send_beat(self, p);
          },
          [self, id](caf::error& e) {
            self->state.peers.at(id).connecting = false;
            spdlog::debug("cluster: cannot connect to {}: {}", id, self->system().render(e));
          });
}

// Requests forwarded to `p` that got no answer in time.
void expire_pending(peer& p, const std::string& id, std::int64_t now) {
  for (auto it = p.pending.begin(); it != p.pending.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    it->second.done(reply::error(outcome::timeout,
                                 "no answer from " + id + ", the partition's leader, within forward-timeout-ms; "
                                 "the request may have been applied: retry it with the same idempotency key"));
    it = p.pending.erase(it);
  }
  for (auto it = p.calls.begin(); it != p.calls.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    it->second.done({outcome::timeout,
                     "no answer from " + id + ", the tenant's order home, within forward-timeout-ms; the call may "
                     "have run: retry it with the same idempotency key, or read the order",
                     0,
                     {}});
    it = p.calls.erase(it);
  }
}

// Calls served here whose caller has given up: their slots are freed, and
// their answers, if any come, are not sent.
void expire_served(cluster_ptr self, std::int64_t now) {
  std::erase_if(self->state.served, [now](const auto& kv) { return kv.second.deadline_ms <= now; });
}

void tick(cluster_ptr self) {
  auto& st = self->state;
  const auto now = monotonic_ms();
  for (auto& [id, p] : st.peers) {
    if (p.handle)
      send_beat(self, p);
    else if (!p.connecting && !p.layout_mismatch)
      connect(self, id);
    expire_pending(p, id, now);
  }
  expire_served(self, now);
  replication_tick(self);
  publish_board(self);
}

// Whether a mismatch with `p` is logged now: at most every 10 s per member.
bool mismatch_log_due(peer& p, std::int64_t now) {
  if (p.mismatch_logged_ms >= 0 && now - p.mismatch_logged_ms <= 10'000) return false;
  p.mismatch_logged_ms = now;
  return true;
}

// Whether what `id` sends is dropped: it places partitions otherwise
// (peer::layout_mismatch). Not a member: the caller's own rule.
bool refused(cluster_ptr self, const std::string& id) {
  auto it = self->state.peers.find(id);
  return it != self->state.peers.end() && it->second.layout_mismatch;
}

// The placement fingerprint `id` sent as it connected. Another one means
// the two nodes were started with other member lists (or partition counts
// or replication factors) and would place partitions differently: each
// could find a majority of its own for the same partition. So it is
// dropped as a peer until it sends this node's fingerprint (after a restart
// with the right settings, it connects again).
void on_layout(cluster_ptr self, const std::string& id, std::uint64_t layout, bool is_reply) {
  auto& st = self->state;
  auto it = st.peers.find(id);
  if (it == st.peers.end()) {
    spdlog::warn("cluster: '{}' connected, and is not a member (check --join on every node)", id);
    return;
  }
  auto& p = it->second;
  if (layout == st.layout) {
    if (p.layout_mismatch) spdlog::info("cluster: {} now places partitions as this node does", id);
    p.layout_mismatch = false;
    return;
  }
  if (!p.layout_mismatch) p.mismatch_logged_ms = -1;  // newly found: logged at once
  if (mismatch_log_due(p, monotonic_ms()))
    spdlog::error("cluster: {} places partitions otherwise (layout {:016x}, this node's {:016x}): it was started "
                  "with another member list, partition count or replication factor; it is not counted as a "
                  "member until every node uses the same --join list and settings (docs/cluster.md)",
                  id, layout, st.layout);
  // Told this node's in reply (never to a reply): it may have connected here
  // while this node does not connect there, and without this node's
  // fingerprint it would only see a member that never answers.
  if (!is_reply)
    if (auto sender = caf::actor_cast<caf::actor>(self->current_sender()))
      self->send(sender, layout_atom::value, st.members->self(), st.layout, true);
  p.layout_mismatch = true;
  if (p.handle) lost(self, p, id, "it places partitions otherwise");
  publish_board(self);
}

// A heartbeat from `id`. A member whose partition count or replication
// factor differs would place partitions differently: it is not counted as
// up, and the mismatch is logged (at most every 10 s per member).
void on_beat(cluster_ptr self, const std::string& id, std::uint32_t partitions, std::uint32_t rf) {
  auto& st = self->state;
  auto it = st.peers.find(id);
  if (it == st.peers.end()) {
    spdlog::warn("cluster: a heartbeat from '{}', which is not a member (check --join on every node)", id);
    return;
  }
  auto& p = it->second;
  const auto now = monotonic_ms();
  if (p.layout_mismatch) return;  // on_layout logged it
  if (partitions != st.partitions || rf != st.settings.cluster.replication_factor) {
    if (mismatch_log_due(p, now))
      spdlog::error("cluster: {} runs {} partitions with replication factor {}; this node {} and {}: "
                    "every node must use the same",
                    id, partitions, rf, st.partitions, st.settings.cluster.replication_factor);
    return;
  }
  const auto& sender = self->current_sender();
  if (!sender) return;
  // A heartbeat whose sender is on another member's node, or on another
  // node than this member's handle, says the connections are mixed up (a
  // node woken from a freeze can see its old and new connections at once):
  // drop the suspect handles; tick() connects again, and connect() proves
  // the node through CAF's handshake.
  if (auto [other, q] = other_on_node(self, id, sender->node()); q != nullptr) {
    lost(self, *q, *other, "a heartbeat of another member came over its connection");
    return;
  }
  if (p.handle && p.handle.node() != sender->node()) {
    lost(self, p, id, "its heartbeat came from another node than its connection");
    return;
  }
  if (!p.handle) {
    // It connected to us first: answer over its connection.
    p.handle = caf::actor_cast<caf::actor>(sender);
    p.connected_since_ms = now;
    self->monitor(p.handle);
    st.members->connected(id, true);
    spdlog::info("cluster: {} connected", id);
    on_connected(self, p);
  }
  st.members->heard(id, now);
}

void flush(cluster_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  const auto now = monotonic_ms();
  for (auto& [id, p] : st.peers) {
    if (p.outbox.empty()) continue;
    auto m = std::move(p.outbox);
    p.outbox = {};
    if (!p.handle) {
      // Never sent: nothing of it was applied there.
      for (auto& [call, req] : m.requests) {
        auto it = p.pending.find(call);
        if (it == p.pending.end()) continue;
        auto r = reply::error(outcome::unavailable, "not connected to " + id + ", the partition's leader");
        r.retry_after_ms = st.ctx->routes->retry_after_ms;
        it->second.done(std::move(r));
        p.pending.erase(it);
      }
      continue;
    }
    m.sent_ms = now;
    self->send(p.handle, peer_atom::value, st.members->self(), cluster::encode(m));
  }
}

// Requests another node forwarded here: each goes through this node's
// routing (it is not sent on if this node no longer leads its partition)
// under this node's in-flight bound; answers travel back batched.
void serve_forwarded(cluster_ptr self, const std::string& from,
                     std::vector<std::pair<std::uint64_t, request>>& requests) {
  auto* ctx = self->state.ctx;
  const auto limit = static_cast<std::int64_t>(ctx->settings.node.max_in_flight);
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& [id, req] : requests) {
    auto answer = [me, from, id = id](reply&& r) {
      caf::anon_send(me, forwarded_answer{from, id, std::move(r)});
    };
    if (ctx->in_flight.fetch_add(1, std::memory_order_relaxed) >= limit) {
      ctx->in_flight.fetch_sub(1, std::memory_order_relaxed);
      ctx->overloaded.fetch_add(1, std::memory_order_relaxed);
      auto r = reply::error(outcome::overloaded, "the partition's leader is at its in-flight limit");
      r.retry_after_ms = 10;
      answer(std::move(r));
      continue;
    }
    route(*ctx, std::move(req), std::move(answer), true);
  }
}

void on_peer(cluster_ptr self, const std::string& from, const std::string& bytes) {
  auto& st = self->state;
  auto it = st.peers.find(from);
  if (it == st.peers.end()) return;
  cluster::peer_message m;
  std::string error;
  if (!cluster::decode(bytes, &m, &error)) {
    // Refused whole: nothing of it is applied.
    spdlog::error("cluster: a message from {} does not decode ({}); dropped", from, error);
    return;
  }
  st.members->heard(from, monotonic_ms());
  on_peer_replication(self, from, m);
  if (!m.requests.empty()) serve_forwarded(self, from, m.requests);
  for (auto& [id, r] : m.replies) {
    auto call = it->second.pending.find(id);
    if (call == it->second.pending.end()) continue;  // answered TIMEOUT already
    call->second.done(std::move(r));
    it->second.pending.erase(call);
  }
}

void on_forward(cluster_ptr self, forward_call& call) {
  auto& st = self->state;
  const auto& id = st.members->table().members.at(static_cast<std::size_t>(call.leader));
  auto it = st.peers.find(id);
  if (it == st.peers.end() || !it->second.handle) {
    auto r = reply::error(outcome::unavailable, "not connected to " + id + ", the leader of partition " +
                                                    std::to_string(call.partition));
    r.retry_after_ms = st.ctx->routes->retry_after_ms;
    return call.done(std::move(r));
  }
  auto& p = it->second;
  const auto call_id = st.next_call_id++;
  p.pending.emplace(call_id,
                    peer::pending_call{std::move(call.done),
                                       monotonic_ms() + static_cast<std::int64_t>(st.settings.cluster.forward_timeout_ms)});
  auto& box = outbox(self, id);
  box.requests.emplace_back(call_id, std::move(call.req));
  if (box.requests.size() >= forwarded_per_message_max) flush(self);
}

// An order or transfer call for a tenant whose home is `c.member`: sent at
// once in a CAF message of its own (orders are few next to stock requests).
void on_call_out(cluster_ptr self, call_out& c) {
  auto& st = self->state;
  auto it = st.peers.find(c.member);
  if (it == st.peers.end() || !it->second.handle)
    return c.done({outcome::unavailable,
                   "not connected to " + c.member + ", the tenant's order home: nothing was done",
                   st.ctx->routes->retry_after_ms,
                   {}});
  auto& p = it->second;
  if (p.calls.size() >= calls_per_peer_max)
    return c.done({outcome::overloaded, "too many order calls waiting for " + c.member, 10, {}});
  const auto id = st.next_call_id++;
  p.calls.emplace(id, peer::pending_answer{std::move(c.done),
                                           monotonic_ms() +
                                               static_cast<std::int64_t>(st.settings.cluster.forward_timeout_ms)});
  self->send(p.handle, pcall_atom::value, st.members->self(), id, std::move(c.bytes));
}

// A call from member `from`: this node is its tenant's home. The answer
// comes back through call_answered, on this actor, and goes to the actor
// that sent the call (the member's cluster actor, also when this node has
// no handle of its own for it yet).
void on_call_in(cluster_ptr self, const std::string& from, std::uint64_t id, std::string& bytes) {
  auto& st = self->state;
  if (!st.peers.count(from)) return;  // not a member
  auto to = caf::actor_cast<caf::actor>(self->current_sender());
  if (!to) return;
  auto refuse = [&](outcome code, const std::string& why, std::int64_t retry_after_ms) {
    self->send(to, pcalled_atom::value, st.members->self(), id, static_cast<std::int32_t>(code), why,
               retry_after_ms, std::string{});
  };
  if (!st.calls) return refuse(outcome::unavailable, "the order home is starting", st.ctx->routes->retry_after_ms);
  if (st.served.size() >= calls_served_max)
    return refuse(outcome::overloaded, "the order home serves too many calls", 10);
  // A second margin past the caller's own deadline: the answer is not
  // worth sending after that, and the slot is freed (expire_served).
  const auto deadline = monotonic_ms() + static_cast<std::int64_t>(st.settings.cluster.forward_timeout_ms) + 1000;
  if (!st.served.emplace(std::make_pair(from, id), cluster_state::served_call{std::move(to), deadline}).second)
    return;  // the same call twice: the first one answers
  auto me = caf::actor_cast<caf::actor>(self);
  st.calls(std::move(bytes), [me, from, id](std::string response) {
    caf::anon_send(me, call_answered{from, id, std::move(response)});
  });
}

void on_call_answered(cluster_ptr self, call_answered& a) {
  auto& st = self->state;
  auto it = st.served.find({a.peer, a.id});
  if (it == st.served.end()) return;  // past its deadline: the caller answered TIMEOUT
  self->send(it->second.to, pcalled_atom::value, st.members->self(), a.id, static_cast<std::int32_t>(outcome::ok),
             std::string{}, std::int64_t{0}, std::move(a.response));
  st.served.erase(it);
}

void on_called(cluster_ptr self, const std::string& from, std::uint64_t id, std::int32_t code, std::string& message,
               std::int64_t retry_after_ms, std::string& response) {
  auto& st = self->state;
  auto it = st.peers.find(from);
  if (it == st.peers.end()) return;
  auto call = it->second.calls.find(id);
  if (call == it->second.calls.end()) return;  // answered TIMEOUT already
  call_answer a;
  // An outcome this node does not know is not trusted as ok.
  const bool known = code >= static_cast<std::int32_t>(outcome::ok) && code <= static_cast<std::int32_t>(outcome::internal);
  a.code = known ? static_cast<outcome>(code) : outcome::internal;
  a.message = std::move(message);
  a.retry_after_ms = retry_after_ms;
  a.response = std::move(response);
  call->second.done(std::move(a));
  it->second.calls.erase(call);
}

caf::behavior cluster_actor(cluster_ptr self, config::settings s, std::vector<cluster::endpoint> peers,
                            std::shared_ptr<cluster::status_board> board, node_context* ctx,
                            std::vector<cluster::log_position> ends,
                            std::function<void(const std::string&, std::string)> on_peer_auth) {
  auto& st = self->state;
  st.on_peer_auth = std::move(on_peer_auth);
  st.started_ms = monotonic_ms();
  // A restarted node must not reuse the ids its previous run forwarded
  // under: a late answer to one would match a new request.
  std::random_device seed;
  st.next_call_id = (static_cast<std::uint64_t>(seed()) << 32 | seed()) & 0x3fff'ffff'ffff'ffffull;
  st.settings = s;
  st.partitions = s.node.partitions;
  st.board = std::move(board);
  st.ctx = ctx;
  std::vector<std::string> ids{s.cluster.member_id()};
  for (auto& p : peers) {
    ids.push_back(p.id());
    st.peers[p.id()].at = std::move(p);
  }
  std::string error;  // checked by start_cluster with the same arguments
  st.members = std::make_unique<cluster::membership>(s.cluster.member_id(), std::move(ids), s.node.partitions,
                                                     s.cluster.replication_factor, s.cluster.failure_timeout_ms,
                                                     &error);
  st.layout = cluster::fingerprint(st.members->table());
  init_replicas(self, ends);
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
        self->delayed_send(self, std::chrono::milliseconds(self->state.settings.cluster.heartbeat_interval_ms),
                           tick_atom::value);
      },
      [self](layout_atom, const std::string& id, std::uint64_t layout, bool is_reply) {
        on_layout(self, id, layout, is_reply);
      },
      [self](beat_atom, const std::string& id, std::uint32_t partitions, std::uint32_t rf) {
        on_beat(self, id, partitions, rf);
      },
      [self](peer_atom, const std::string& from, const std::string& bytes) {
        if (!refused(self, from)) on_peer(self, from, bytes);
      },
      [self](flush_atom) { flush(self); },
      [self](forward_call& call) { on_forward(self, call); },
      [self](forwarded_answer& a) {
        auto& box = outbox(self, a.peer);
        box.replies.emplace_back(a.id, std::move(a.answer));
        if (box.replies.size() >= forwarded_per_message_max) flush(self);
      },
      [self](call_out& c) { on_call_out(self, c); },
      [self](call_handler_set& h) { self->state.calls = std::move(h.fn); },
      [self](pcall_atom, const std::string& from, std::uint64_t id, std::string& bytes) {
        if (!refused(self, from)) on_call_in(self, from, id, bytes);
      },
      [self](call_answered& a) { on_call_answered(self, a); },
      [self](pcalled_atom, const std::string& from, std::uint64_t id, std::int32_t code, std::string& message,
             std::int64_t retry_after_ms, std::string& response) {
        on_called(self, from, id, code, message, retry_after_ms, response);
      },
      [self](copy_atom, const std::string& from, std::uint32_t p, std::uint64_t epoch, std::uint64_t id,
             std::uint64_t offset, std::uint64_t size, std::uint32_t crc, const std::string& data) {
        if (self->state.peers.count(from) && !refused(self, from))
          on_copy_chunk(self, from, p, epoch, id, offset, size, crc, data);
      },
      [self](copied_atom, const std::string& from, std::uint32_t p, std::uint64_t epoch, std::uint64_t id,
             std::uint64_t next, bool installed, std::uint64_t last_seq, std::uint64_t last_epoch,
             const std::string& error) {
        on_copy_answer(self, from, p, epoch, id, next, installed, {last_epoch, last_seq}, error);
      },
      [self](committed_batch& batch) { on_committed(self, batch); },
      [self](const disk_health& h) { on_disk_health(self, h); },
      [self](auth_table& t) {
        auto& st = self->state;
        st.auth_bytes = std::move(t.bytes);
        for (auto& [id, p] : st.peers)
          if (p.handle) self->send(p.handle, auth_atom::value, st.members->self(), st.auth_bytes);
      },
      [self](auth_atom, const std::string& from, std::string& bytes) {
        auto& st = self->state;
        if (refused(self, from)) return;
        if (!st.peers.count(from) || bytes.size() > limits::auth_table_bytes_max) {
          spdlog::warn("cluster: a tenants-and-keys table from '{}' refused (not a member, or {} bytes)", from,
                       bytes.size());
          return;
        }
        if (st.on_peer_auth) st.on_peer_auth(from, std::move(bytes));
      },
      [self](settings_bytes& t) {
        auto& st = self->state;
        if (!t.bytes.empty()) {  // empty: only where members' tables go
          st.settings_bytes = std::move(t.bytes);
          for (auto& [id, p] : st.peers)
            if (p.handle) self->send(p.handle, tsettings_atom::value, st.members->self(), st.settings_bytes);
        }
        if (st.settings_sink) return;
        st.settings_sink = std::move(t.directory);
        for (auto& [from, bytes] : st.settings_waiting)
          self->send(st.settings_sink, tsettings_atom::value, from, std::move(bytes));
        st.settings_waiting.clear();
      },
      [self](tsettings_atom, const std::string& from, std::string& bytes) {
        auto& st = self->state;
        if (refused(self, from)) return;
        if (!st.peers.count(from) || bytes.size() > orders::settings_table_bytes_max) {
          spdlog::warn("cluster: a tenant-settings table from '{}' refused (not a member, or {} bytes)", from,
                       bytes.size());
          return;
        }
        if (st.settings_sink)
          self->send(st.settings_sink, tsettings_atom::value, from, std::move(bytes));
        else
          st.settings_waiting[from] = std::move(bytes);  // one per member: bounded by the membership
      },
      [self](handoff_atom, bool start) {
        auto done = self->make_response_promise();
        if (start) {
          hand_off(self, done);
        } else {
          call_off_hand_offs(self);
          done.deliver(true);
        }
        return done;
      },
      [](continuation& c) { c.fn(); },
      [self](stop_atom) {
        // Answers owed to other members (requests they forwarded, refused
        // or answered here) go out first: unsent, their callers would
        // count them as outcome unknown.
        flush_now(self);
        for (auto& [id, p] : self->state.peers) fail_pending(p, id, "this node is stopping");
        self->quit();
      },
  };
}

}  // namespace

cluster::peer_message& outbox(cluster_ptr self, const std::string& id) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
  return st.peers.at(id).outbox;
}

void flush_now(cluster_ptr self) { flush(self); }

bool connected(cluster_ptr self, const std::string& id) {
  auto it = self->state.peers.find(id);
  return it != self->state.peers.end() && it->second.handle;
}

caf::actor start_cluster(caf::actor_system& system, const config::settings& s,
                         std::shared_ptr<cluster::status_board> board, node_context* ctx,
                         std::vector<cluster::log_position> ends,
                         std::function<void(const std::string&, std::string)> on_peer_auth, std::string* error) {
  std::vector<cluster::endpoint> peers;
  if (!cluster::parse_endpoints(s.cluster.join, limits::cluster_members_max - 1, &peers, error)) return nullptr;
  std::vector<std::string> ids{s.cluster.member_id()};
  for (const auto& p : peers) ids.push_back(p.id());
  // The actor builds its own from the same arguments; this checks them.
  cluster::membership check(s.cluster.member_id(), ids, s.node.partitions, s.cluster.replication_factor,
                            s.cluster.failure_timeout_ms, error);
  if (!error->empty()) return nullptr;
  auto handle = system.spawn(cluster_actor, s, std::move(peers), std::move(board), ctx, std::move(ends),
                             std::move(on_peer_auth));
  // With TLS only the OpenSSL module listens: the port speaks nothing else.
  const auto port = static_cast<std::uint16_t>(s.cluster.cluster_port);
  const char* bind = s.cluster.cluster_bind.c_str();
  auto published = s.cluster.tls() ? caf::openssl::publish(handle, port, bind, true)
                                   : system.middleman().publish(handle, port, bind, true);
  if (!published) {
    *error = "cannot listen on cluster port " + s.cluster.cluster_bind + ":" +
             std::to_string(s.cluster.cluster_port) + ": " + system.render(published.error());
    caf::anon_send(handle, stop_atom::value);
    return nullptr;
  }
  spdlog::info("cluster: {} listening on {}:{}{}, members {}", s.cluster.member_id(), s.cluster.cluster_bind,
               *published, s.cluster.tls() ? " (TLS)" : "", fmt::join(ids, ", "));
  return handle;
}

}  // namespace stockgrid::actors
