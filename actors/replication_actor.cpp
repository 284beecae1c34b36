// The cluster actor's second half: each partition's replication, Raft with
// leader leases (docs/cluster.md). The arithmetic is cluster/replication.hpp;
// the journal work runs on the journal writer's threads and comes back here
// as a `continuation`, so every decision is taken in this actor, one
// message at a time.
//
// A partition's life on a replica: follower (appends what its leader ships,
// answers, votes) -> candidate (its leader went silent for the failure
// timeout: raises its epoch durably, asks the other replicas) -> leader (a
// majority voted: raises the writer's epoch, journals an epoch marker,
// ships its journal, serves once the marker is on a majority and the holds
// are loaded) -> follower again when it meets a higher epoch.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "actors/cluster_state.hpp"
#include "persistence/files.hpp"

namespace stockgrid::actors {

using cluster::log_position;
using persistence::journal_entry;
using persistence::status;

namespace {

// Entries shipped to a follower and not yet acknowledged, at most (in
// seqs); beyond, it is fed from the journal as it acknowledges.
constexpr std::uint64_t ship_window_seqs = 65'536;
// Entries per catch-up read from the journal.
constexpr std::size_t catch_up_batch = 1'024;
// Journal entries in one peer message, at most (give or take one batch).
constexpr std::size_t peer_message_entries_max = 16'384;

persistence::journal_writer& writer(cluster_ptr self) { return *self->state.ctx->journal; }
cluster_routes& routes(cluster_ptr self) { return *self->state.ctx->routes; }
const std::string& me(cluster_ptr self) { return self->state.members->self(); }
log_position position(const journal_entry& e) { return {e.epoch, e.seq}; }
// Where p's journal ends (on its writer thread), compacted entries counted.
status journal_end(persistence::partition_store& store, log_position* out) {
  persistence::journal_position end;
  auto st = store.journal_end(&end);
  *out = {end.epoch, end.seq};
  return st;
}

std::int32_t member_index(cluster_ptr self, const std::string& id) {
  const auto& ms = self->state.members->table().members;
  auto it = std::find(ms.begin(), ms.end(), id);
  return it == ms.end() ? -1 : static_cast<std::int32_t>(it - ms.begin());
}

// Runs `fn` in this actor once the writer calls back.
template <class Fn>
auto later(cluster_ptr self, Fn fn) {
  return [me = caf::actor_cast<caf::actor>(self), fn = std::move(fn)](auto&&... args) mutable {
    caf::anon_send(me, continuation{[fn = std::move(fn), ... a = std::forward<decltype(args)>(args)]() mutable {
                     fn(a...);
                   }});
  };
}

// The epoch marker a new leader journals first: a refusal of no record (the
// empty key, which no request can name), so replay and `stockgrid check`
// pass it by, and journals compare by the epoch of their last entry.
journal_entry epoch_marker(std::uint64_t epoch) {
  journal_entry e;
  e.at_ms = now_ms();
  e.c.kind = change_kind::refusal;
  e.result = outcome::unavailable;
  e.c.reason = "epoch " + std::to_string(epoch) + " begins";
  return e;
}

void answer(cluster_ptr self, const std::string& to, cluster::append_result r, std::int64_t answered_sent_ms) {
  auto& box = outbox(self, to);
  box.results.push_back(r);
  // The lease counts from the oldest message this one answers.
  box.echo_ms = box.echo_ms == 0 ? answered_sent_ms : std::min(box.echo_ms, answered_sent_ms);
}

void set_lease(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  std::vector<std::int64_t> acked;
  for (const auto& f : r.followers) acked.push_back(f.acked_sent_ms);
  r.lease_end_ms = cluster::lease_end(std::move(acked), monotonic_ms(), r.replicas.size(),
                                      self->state.settings.cluster.lease_ms());
  if (r.serving) routes(self).lease_end_ms[p].store(r.lease_end_ms, std::memory_order_release);
}

// Where p's journal ends, read after everything queued before: a deposed
// leader's appends still in the writer's queue commit first. Until then the
// partition neither appends what a leader ships nor votes.
void sync_end(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  r.syncing = true;
  writer(self).run(p, [done = later(self, [self, p](status& st, log_position& end) {
                         auto& r = self->state.parts[p];
                         r.syncing = false;
                         if (!st) {
                           spdlog::error("cluster: partition {}: cannot read its journal's end: {}", p, st.message());
                           return;
                         }
                         r.last = r.queued = end;
                       })](persistence::partition_store& store) mutable {
    log_position end;
    auto st = journal_end(store, &end);
    done(st, end);
  });
}

// Tells every connected member which partitions this node leads and
// serves, with their epochs: where they forward. Every heartbeat, and at
// once when that changes by a hand-off, so requests do not wait for the
// next one.
void announce_leads(cluster_ptr self, std::int64_t now) {
  auto& st = self->state;
  cluster::peer_message::leads_list leads;
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    const auto& r = st.parts[p];
    if (r.r == role::leader && r.serving && r.lease_end_ms > now) leads.emplace_back(p, r.epoch);
  }
  for (auto& [id, peer] : st.peers)
    if (peer.handle) {
      auto& box = outbox(self, id);
      box.has_leads = true;
      box.leads = leads;
    }
}

// This node stops leading (or trying to): its record actors stop, what waits
// for a majority gets an unknown outcome, and its own appends are refused.
void step_down(cluster_ptr self, std::uint32_t p, std::uint64_t epoch, const std::string& why) {
  auto& r = self->state.parts[p];
  const bool was_leader = r.r == role::leader;
  if (was_leader) {
    spdlog::warn("cluster: partition {}: no longer leader (epoch {}): {}", p, r.epoch, why);
    routes(self).may_append[p].store(false, std::memory_order_release);
    routes(self).leader[p].store(-1, std::memory_order_release);
    routes(self).lease_end_ms[p].store(-1, std::memory_order_release);
    caf::anon_send(self->state.ctx->partitions[p], follow_atom::value);
    writer(self).fail_parked(p, status::unavailable("this node lost the leadership of partition " +
                                                    std::to_string(p) + " before a majority held the change"));
  }
  if (was_leader && routes(self).on_lead) routes(self).on_lead(p, false);
  r.r = role::follower;
  r.serving = false;
  r.promoting = false;
  r.transfer = false;
  r.handing_off = false;
  r.hand_off_end.reset();
  r.hand_off_to.clear();
  r.led_since_ms = -1;
  routes(self).handing_off[p].store(false, std::memory_order_release);
  r.followers.clear();
  r.votes.clear();
  r.epoch = std::max(r.epoch, epoch);
  // A follower's appends still in the writer stay counted in `queued`; a
  // leader's end is read back from the journal.
  if (was_leader) sync_end(self, p);
}

void try_hand_off(cluster_ptr self, std::uint32_t p);

// ---- a copy that started empty ----------------------------------------------
// (partition_replica::blank; docs/cluster.md, "A copy that starts empty")

std::string blank_marker(cluster_ptr self, std::uint32_t p) {
  char name[32];
  std::snprintf(name, sizeof name, "blank/p-%04u", p);
  return (std::filesystem::path(self->state.ctx->settings.node.data_dir) / name).string();
}

// The copy votes as any copy does again: its marker goes first. False (and
// still blank) when the marker cannot be removed.
bool clear_blank(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  if (!r.blank) return true;
  std::error_code ec;
  std::filesystem::remove(blank_marker(self, p), ec);
  if (ec) {
    spdlog::warn("cluster: partition {}: cannot remove {}: {}", p, blank_marker(self, p), ec.message());
    return false;
  }
  r.blank = false;
  return true;
}

// A blank copy (partition_replica::blank) that now holds everything its
// leader, serving in this epoch (so its epoch marker, and every entry
// committed before it, is on a majority), says is committed votes as any
// copy does again.
void caught_up_from_blank(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  if (r.r != role::follower || r.leader_serving_epoch != r.epoch || r.leader_commit == 0 ||
      r.last.seq < r.leader_commit)
    return;
  if (!clear_blank(self, p)) return;  // tried again at the next heartbeat
  spdlog::info("cluster: partition {}: this copy, empty at start, holds what {} committed (seq {}); it votes again",
               p, r.leader, r.leader_commit);
}

// ---- leader -----------------------------------------------------------------

void start_serving(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  r.promoting = true;
  const auto epoch = r.epoch;
  writer(self).run(p, [done = later(self, [self, p, epoch](status& st,
                                                                           persistence::recovery_report& rep) {
                                          auto& r = self->state.parts[p];
                                          if (r.r != role::leader || r.epoch != epoch) return;
                                          r.promoting = false;
                                          if (!st) {
                                            spdlog::error("cluster: partition {}: cannot load its holds: {}", p,
                                                          st.message());
                                            return;
                                          }
                                          for (const auto& [tenant, wh] : rep.warehouses)
                                            self->state.ctx->warehouses.add(tenant, wh);
                                          caf::anon_send(self->state.ctx->partitions[p], lead_atom::value,
                                                         std::move(rep.with_holds));
                                          r.serving = true;
                                          r.led_since_ms = monotonic_ms();
                                          // Elected by a majority whose journals
                                          // are not ahead of its own: it holds
                                          // every committed entry.
                                          clear_blank(self, p);
                                          set_lease(self, p);
                                          routes(self).leader[p].store(routes(self).self,
                                                                       std::memory_order_release);
                                          // After a takeover the others
                                          // forward here at once.
                                          if (r.lease_end_ms > monotonic_ms()) announce_leads(self, monotonic_ms());
                                          spdlog::info("cluster: partition {}: leading, epoch {}, journal at {}",
                                                       p, epoch, r.shipped.seq);
                                          // Its tenants' orders move here.
                                          if (routes(self).on_lead) routes(self).on_lead(p, true);
                                        })](persistence::partition_store& store) mutable {
    persistence::recovery_report rep;
    auto st = store.recover(&rep, false);
    done(st, rep);
  });
}

void advance_commit(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  std::vector<std::uint64_t> held{r.shipped.seq};
  for (const auto& f : r.followers) held.push_back(f.match);
  const auto c = cluster::commit_point(std::move(held), r.replicas.size(), r.epoch_start_seq);
  if (c > r.commit) {
    r.commit = c;
    writer(self).set_commit_point(p, c);
    writer(self).release(p, c);
  }
  if (!r.serving && !r.promoting && r.epoch_start_seq > 0 && r.commit >= r.epoch_start_seq) start_serving(self, p);
}

// More is shipped to the follower than it confirmed, by the window. (Its
// confirmation may run ahead of `sent` while a probe is out.)
bool ahead_of_window(const follower_progress& f) {
  return f.sent.seq > f.match && f.sent.seq - f.match > ship_window_seqs;
}

void ship(cluster_ptr self, std::uint32_t p, follower_progress& f, std::vector<journal_entry> entries) {
  auto& r = self->state.parts[p];
  if (entries.empty()) return;
  const auto end = position(entries.back());
  auto& box = outbox(self, f.id);
  box.appends.push_back({p, r.epoch, f.sent.seq, f.sent.epoch, r.commit, std::move(entries)});
  f.sent = end;
  // One peer message stays well inside what the receiver decodes
  // (cluster/wire.cpp): about 31 values per entry.
  std::size_t queued = 0;
  for (const auto& a : box.appends) queued += a.entries.size();
  if (queued >= peer_message_entries_max) flush_now(self);
}

// Feeds a follower that fell behind from the journal, a batch at a time.
void read_more(cluster_ptr self, std::uint32_t p, follower_progress& f) {
  auto& r = self->state.parts[p];
  if (f.reading || !f.known || f.sent.seq >= r.shipped.seq || ahead_of_window(f)) return;
  f.reading = true;
  const auto epoch = r.epoch;
  const auto after = f.sent.seq;
  writer(self).run(p, [after, done = later(self, [self, p, epoch, id = f.id, after](
                                                     status& st, std::vector<journal_entry>& entries) {
                                   auto& r = self->state.parts[p];
                                   if (r.r != role::leader || r.epoch != epoch) return;
                                   auto it = std::find_if(r.followers.begin(), r.followers.end(),
                                                          [&](const auto& f) { return f.id == id; });
                                   if (it == r.followers.end()) return;
                                   it->reading = false;
                                   if (!st || !it->known || it->sent.seq != after) return;
                                   ship(self, p, *it, std::move(entries));
                                   read_more(self, p, *it);
                                 })](persistence::partition_store& store) mutable {
    std::vector<journal_entry> entries;
    auto st = store.read_journal(after, catch_up_batch, &entries);
    done(st, entries);
  });
}

// A follower says its journal ends at `theirs`, which is not where we
// thought: find out whether our journal has that entry. If so, ship from
// there; if not, tell it where to cut.
void probe(cluster_ptr self, std::uint32_t p, follower_progress& f, log_position theirs) {
  auto& r = self->state.parts[p];
  if (f.probing || f.needs_rebuild) return;
  f.probing = true;
  f.known = false;
  const auto epoch = r.epoch;
  writer(self).run(p, [theirs, done = later(self, [self, p, epoch, id = f.id, theirs](cluster::agreement& verdict,
                                                                                       bool& agrees) {
                                          auto& r = self->state.parts[p];
                                          if (r.r != role::leader || r.epoch != epoch) return;
                                          auto it = std::find_if(r.followers.begin(), r.followers.end(),
                                                                 [&](const auto& f) { return f.id == id; });
                                          if (it == r.followers.end()) return;
                                          it->probing = false;
                                          if (verdict == cluster::agreement::unverifiable) {
                                            // Logged once: asked again only once it reconnects.
                                            it->needs_rebuild = true;
                                            spdlog::warn("cluster: partition {}: {}'s journal ends at seq {} (epoch "
                                                         "{}), below what this leader compacted, so they cannot be "
                                                         "compared; its copy is rebuilt from a copy of this "
                                                         "leader's file (docs/cluster.md)",
                                                         p, id, theirs.seq, theirs.epoch);
                                            return;
                                          }
                                          if (agrees) {
                                            it->known = true;
                                            it->sent = theirs;
                                            read_more(self, p, *it);
                                            return;
                                          }
                                          const auto cut = cluster::truncation_point(r.history, theirs);
                                          outbox(self, id).truncates.push_back({p, r.epoch, cut});
                                        })](persistence::partition_store& store) mutable {
    // Entries we compacted cannot be compared: agreement there is claimed
    // only at the very last one (cluster::check_agreement).
    const auto compacted = store.compacted_end();
    auto verdict = cluster::check_agreement(theirs, {compacted.epoch, compacted.seq});
    bool agrees = verdict == cluster::agreement::agrees;
    if (verdict == cluster::agreement::check_entry) {
      std::vector<journal_entry> at;
      if (store.read_journal(theirs.seq - 1, 1, &at) && !at.empty())
        agrees = at.front().seq == theirs.seq && at.front().epoch == theirs.epoch;
    }
    done(verdict, agrees);
  });
}

}  // namespace

void copy_installed(cluster_ptr self, std::uint32_t p, const std::string& id, log_position end) {
  auto& r = self->state.parts[p];
  auto it = std::find_if(r.followers.begin(), r.followers.end(), [&](const auto& f) { return f.id == id; });
  if (it == r.followers.end()) return;
  it->needs_rebuild = it->probing = false;
  probe(self, p, *it, end);
}

namespace {

void on_result(cluster_ptr self, const std::string& from, const cluster::append_result& res, std::int64_t echo) {
  auto& r = self->state.parts[res.partition];
  const auto p = res.partition;
  if (r.r != role::leader) return;
  if (res.epoch > r.epoch) return step_down(self, p, res.epoch, from + " is at epoch " + std::to_string(res.epoch));
  if (res.epoch < r.epoch) return;  // an answer to an earlier leader's message
  auto it = std::find_if(r.followers.begin(), r.followers.end(), [&](const auto& f) { return f.id == from; });
  if (it == r.followers.end()) return;
  auto& f = *it;
  if (echo > 0) f.acked_sent_ms = std::max(f.acked_sent_ms, echo);
  const log_position theirs{res.last_epoch, res.last_seq};
  if (res.ok) {
    f.match = std::max(f.match, res.last_seq);
    if (!f.known && !f.probing) {
      f.known = true;
      f.sent = theirs;
    }
    advance_commit(self, p);
    read_more(self, p, f);
  } else {
    probe(self, p, f, theirs);
  }
  set_lease(self, p);
  if (r.handing_off) try_hand_off(self, p);
}

void become_leader(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  r.promoting = true;
  const auto epoch = r.epoch;
  writer(self).promote(p, epoch, later(self, [self, p, epoch](status& st, std::uint64_t last_seq) {
                         auto& r = self->state.parts[p];
                         if (r.r != role::candidate || r.epoch != epoch) return;
                         if (!st) {
                           spdlog::error("cluster: partition {}: cannot take the lead: {}", p, st.message());
                           return step_down(self, p, epoch, "promotion failed");
                         }
                         (void)last_seq;
                         // The epochs our journal went through, for cutting
                         // followers' journals where they disagree.
                         writer(self).run(p, [done = later(self, [self, p, epoch](
                                                                      std::vector<cluster::epoch_start>& history) {
                                                auto& r = self->state.parts[p];
                                                if (r.r != role::candidate || r.epoch != epoch) return;
                                                r.history = std::move(history);
                                                r.r = role::leader;
                                                r.promoting = false;
                                                r.leader = me(self);
                                                r.followers.clear();
                                                for (const auto& id : r.replicas)
                                                  if (id != me(self)) r.followers.push_back({id});
                                                r.shipped = r.last;
                                                routes(self).may_append[p].store(true, std::memory_order_release);
                                                const auto seq = writer(self).append(
                                                    p, epoch_marker(epoch),
                                                    later(self, [self, p, epoch](status& st, const journal_entry*) {
                                                      // Without its marker this epoch can never commit.
                                                      auto& r = self->state.parts[p];
                                                      if (!st && r.r == role::leader && r.epoch == epoch)
                                                        step_down(self, p, epoch, "its epoch marker was not written: " +
                                                                                      st.message());
                                                    }));
                                                if (seq == 0) return step_down(self, p, epoch, "its journal refuses writes");
                                                r.epoch_start_seq = seq;
                                                r.history.push_back({epoch, seq});
                                                // Learn where each follower's journal ends
                                                // now, not at the next heartbeat: the marker
                                                // is shipped, and serving starts, once they
                                                // answer.
                                                for (const auto& f : r.followers)
                                                  outbox(self, f.id).appends.push_back(
                                                      {p, epoch, r.shipped.seq, r.shipped.epoch, r.commit, {}});
                                                spdlog::info("cluster: partition {}: elected leader, epoch {}", p, epoch);
                                              })](persistence::partition_store& store) mutable {
                           std::vector<cluster::epoch_start> history;
                           std::vector<journal_entry> page;
                           std::uint64_t after = 0;
                           do {
                             page.clear();
                             if (!store.read_journal(after, 4096, &page)) break;
                             for (const auto& e : page) {
                               if (history.empty() || history.back().epoch != e.epoch)
                                 history.push_back({e.epoch, e.seq});
                               after = e.seq;
                             }
                           } while (page.size() == 4096);
                           done(history);
                         });
                       }));
}

// ---- follower and candidate ------------------------------------------------

void stand(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  const auto epoch = r.epoch + 1;
  r.pre_vote = false;
  r.epoch = epoch;
  r.votes = {me(self)};
  r.promoting = true;
  r.election_due_ms = monotonic_ms() + static_cast<std::int64_t>(self->state.settings.cluster.failure_timeout_ms);
  writer(self).set_epoch(p, epoch, later(self, [self, p, epoch](status& st, const journal_entry*) {
                           auto& r = self->state.parts[p];
                           if (r.r != role::candidate || r.epoch != epoch) return;
                           r.promoting = false;
                           if (!st) {
                             spdlog::warn("cluster: partition {}: cannot stand for epoch {}: {}", p, epoch,
                                          st.message());
                             r.r = role::follower;
                             r.transfer = false;
                             return;
                           }
                           if (r.votes.size() >= cluster::majority(r.replicas.size())) return become_leader(self, p);
                           for (const auto& id : r.replicas)
                             if (id != me(self))
                               outbox(self, id).votes.push_back(
                                   {p, epoch, r.last.seq, r.last.epoch, false, r.transfer});
                         }));
}

bool heard_leader_recently(cluster_ptr self, const partition_replica& r, std::int64_t now) {
  if (r.r == role::leader) return true;
  return !r.leader.empty() && r.leader_heard_ms >= 0 &&
         now - r.leader_heard_ms < static_cast<std::int64_t>(self->state.settings.cluster.failure_timeout_ms);
}

// First a pre-vote: would a majority vote for us in the next epoch? Only
// then the real election, which raises our epoch durably.
void start_election(cluster_ptr self, std::uint32_t p, std::int64_t now) {
  auto& r = self->state.parts[p];
  r.r = role::candidate;
  r.pre_vote = true;
  r.transfer = false;
  r.leader.clear();
  r.votes = {me(self)};
  r.election_due_ms = now + static_cast<std::int64_t>(self->state.settings.cluster.failure_timeout_ms);
  if (r.votes.size() >= cluster::majority(r.replicas.size())) return stand(self, p);
  for (const auto& id : r.replicas)
    if (id != me(self)) outbox(self, id).votes.push_back({p, r.epoch + 1, r.last.seq, r.last.epoch, true});
}

void on_vote(cluster_ptr self, const std::string& from, const cluster::vote_request& v) {
  auto& r = self->state.parts[v.partition];
  const auto p = v.partition;
  const auto now = monotonic_ms();
  // Just started: it may have promised a leader, before it stopped, not to
  // vote for a while; it keeps that promise by not voting at all for the
  // failure timeout after its start.
  const bool settled = now - self->state.started_ms >= static_cast<std::int64_t>(self->state.settings.cluster.failure_timeout_ms);
  const bool grant = r.r != role::none && settled && !r.promoting && !r.syncing && !r.installing &&
                     std::find(r.replicas.begin(), r.replicas.end(), from) != r.replicas.end() &&
                     cluster::grants_vote(r.epoch, r.last, v.epoch, {v.last_epoch, v.last_seq},
                                          !v.transfer && heard_leader_recently(self, r, now), r.blank);
  if (!grant || v.pre) {
    outbox(self, from).vote_results.push_back({p, v.pre ? v.epoch : r.epoch, grant, v.pre});
    return;
  }
  step_down(self, p, v.epoch, from + " stands for epoch " + std::to_string(v.epoch));
  r.leader.clear();
  r.promoting = true;
  r.election_due_ms = now + static_cast<std::int64_t>(self->state.settings.cluster.failure_timeout_ms);
  writer(self).set_epoch(p, v.epoch, later(self, [self, p, from, epoch = v.epoch](status& st, const journal_entry*) {
                           self->state.parts[p].promoting = false;
                           outbox(self, from).vote_results.push_back({p, epoch, static_cast<bool>(st), false});
                         }));
}

bool is_replica(const partition_replica& r, const std::string& id) {
  return std::find(r.replicas.begin(), r.replicas.end(), id) != r.replicas.end();
}

void on_vote_result(cluster_ptr self, const std::string& from, const cluster::vote_result& v) {
  auto& r = self->state.parts[v.partition];
  if (!is_replica(r, from)) return;
  if (!v.pre && v.epoch > r.epoch && r.r != role::none)
    return step_down(self, v.partition, v.epoch, "a later epoch exists");
  // A stopping node does not take the lead of anything more (an election
  // it started before lapses).
  if (self->state.leaving) return;
  if (r.r != role::candidate || r.promoting || !v.granted || v.pre != r.pre_vote) return;
  if (v.epoch != (r.pre_vote ? r.epoch + 1 : r.epoch)) return;
  r.votes.insert(from);
  if (r.votes.size() < cluster::majority(r.replicas.size())) return;
  if (r.pre_vote) return stand(self, v.partition);
  become_leader(self, v.partition);
}

// The leader's entries (or heartbeat) for a partition this node follows.
void on_append(cluster_ptr self, const std::string& from, cluster::partition_append& a, std::int64_t sent_ms) {
  const auto p = a.partition;
  auto& r = self->state.parts[p];
  if (r.r == role::none || r.syncing) return;
  if (r.installing) {
    // Its copy is being replaced by this leader's: not answered, but heard.
    if (from == r.leader && a.epoch == r.epoch) r.leader_heard_ms = monotonic_ms();
    return;
  }
  if (a.epoch < r.epoch || (a.epoch == r.epoch && r.r == role::leader))
    return answer(self, from, {p, r.epoch, false, r.last.seq, r.last.epoch}, sent_ms);
  if (a.epoch > r.epoch || r.r != role::follower) {
    step_down(self, p, a.epoch, from + " leads epoch " + std::to_string(a.epoch));
    // Queued before the entries below, so durable before they are answered.
    writer(self).set_epoch(p, a.epoch, {});
  }
  r.leader = from;
  r.leader_heard_ms = monotonic_ms();
  if (log_position{a.prev_epoch, a.prev_seq} != r.queued)
    return answer(self, from, {p, r.epoch, false, r.queued.seq, r.queued.epoch}, sent_ms);
  r.leader_commit = a.commit_seq;
  if (a.entries.empty()) {
    r.commit = std::max(r.commit, std::min(a.commit_seq, r.last.seq));
    writer(self).set_commit_point(p, r.commit);
    if (r.blank) caught_up_from_blank(self, p);
    return answer(self, from, {p, r.epoch, true, r.last.seq, r.last.epoch}, sent_ms);
  }
  // Its disk refuses writes: the entries are not answered, so the leader
  // does not ship them again at once; its next heartbeat finds where this
  // copy ends, and ships again from there (once healed, for good).
  if (r.disk_degraded) return;
  r.queued = position(a.entries.back());
  const auto commit = std::min(a.commit_seq, r.queued.seq);
  const auto epoch = r.epoch;
  auto appended = later(self, [self, p, from, sent_ms, epoch, commit](status& st, std::optional<log_position>& last) {
        auto& r = self->state.parts[p];
        if (!st) {
          spdlog::warn("cluster: partition {}: cannot append entries from {}: {}", p, from, st.message());
          r.queued = r.last;
          return answer(self, from, {p, r.epoch, false, r.last.seq, r.last.epoch}, sent_ms);
        }
        if (last) r.last = std::max(r.last, *last);
        if (r.epoch == epoch && r.r == role::follower) {
          r.commit = std::max(r.commit, std::min(commit, r.last.seq));
          writer(self).set_commit_point(p, r.commit);
        }
        answer(self, from, {p, r.epoch, true, r.last.seq, r.last.epoch}, sent_ms);
      });
  // The writer's entry pointer lives only during its callback: copy what we need.
  writer(self).append_replicated(p, a.epoch, std::move(a.entries),
                                 [appended](const status& st, const journal_entry* last) mutable {
                                   std::optional<log_position> end;
                                   if (last) end = position(*last);
                                   appended(st, end);
                                 });
}

// The leader says our journal disagrees with its own after `after_seq`.
void on_truncate(cluster_ptr self, const std::string& from, const cluster::truncate_order& t, std::int64_t sent_ms) {
  const auto p = t.partition;
  auto& r = self->state.parts[p];
  if (r.r != role::follower || t.epoch != r.epoch || r.leader != from || r.installing) return;
  r.leader_heard_ms = monotonic_ms();  // its answer renews the leader's lease: so must the promise
  writer(self).truncate_after(p, t.after_seq, {});
  writer(self).run(p, [done = later(self, [self, p, from, sent_ms, after = t.after_seq](status& st,
                                                                                          log_position& end) {
                         auto& r = self->state.parts[p];
                         if (!st) return;
                         if (end.seq > after) {
                           // The leader asks again at every heartbeat.
                           if (r.stuck_below_snapshot != after)
                             spdlog::error("cluster: partition {}: its journal disagrees with {}'s below its "
                                           "snapshot (after seq {}); this copy needs a rebuild (docs/cluster.md)",
                                           p, from, after);
                           r.stuck_below_snapshot = after;
                           return;
                         }
                         r.stuck_below_snapshot.reset();
                         spdlog::warn("cluster: partition {}: journal cut after seq {} to agree with {}", p, after,
                                      from);
                         r.last = r.queued = end;
                         answer(self, from, {p, r.epoch, false, end.seq, end.epoch}, sent_ms);
                       })](persistence::partition_store& store) mutable {
    log_position end;
    auto st = journal_end(store, &end);
    done(st, end);
  });
}

// ---- hand-off: a graceful stop, and giving the lead back ---------------------
//
// Raft's leadership transfer: the leader stops taking changes, waits until
// a majority (so every change waiting for one was answered) and one
// follower hold its whole journal, steps down, and tells that follower to
// stand at once. Having stopped acknowledging before it says so, it is safe
// for the replicas to vote while they still hear it (vote_request::
// transfer). A takeover that does not win ends like any election: the
// others stand after the failure timeout.
//
// Two uses: a node that stops hands over everything it leads (hand_off);
// and a leader that is not its partition's preferred replica gives the lead
// back to it once it has been up and caught up for a while (give_back_tick),
// so leadership spreads out again after failovers and restarts.

// Whether follower `id` could take p over: connected, answering (a frozen
// node keeps its journal but would not stand), and holding p's journal to
// `end`.
bool can_take_over(cluster_ptr self, const partition_replica& r, const std::string& id, std::uint64_t end,
                   std::int64_t now) {
  const auto f = std::find_if(r.followers.begin(), r.followers.end(), [&](const auto& f) { return f.id == id; });
  const auto fresh = static_cast<std::int64_t>(self->state.settings.cluster.failure_timeout_ms) / 2;
  return f != r.followers.end() && f->known && f->match >= end && connected(self, id) && f->acked_sent_ms >= 0 &&
         now - f->acked_sent_ms < fresh;
}

// Whether follower `id` could take p over once it has caught up the last
// batch (it does so meanwhile): the test for starting a hand-off.
bool could_take_over_soon(cluster_ptr self, const partition_replica& r, const std::string& id, std::int64_t now) {
  const auto near = r.shipped.seq > catch_up_batch ? r.shipped.seq - catch_up_batch : 0;
  return can_take_over(self, r, id, near, now);
}

// Starts handing p over (to `to`, or to any caught-up follower when empty;
// called off at `deadline_ms` unless the node stops): its new requests get
// UNAVAILABLE (retried at the next leader) and its record actors append
// nothing more; the journal's end is read after every append already queued.
void begin_hand_off(cluster_ptr self, std::uint32_t p, std::string to, std::int64_t deadline_ms) {
  auto& r = self->state.parts[p];
  r.handing_off = true;
  r.hand_off_to = std::move(to);
  r.hand_off_deadline_ms = deadline_ms;
  r.hand_off_end.reset();
  const auto generation = ++r.hand_off_generation;
  routes(self).handing_off[p].store(true, std::memory_order_release);
  routes(self).may_append[p].store(false, std::memory_order_release);
  const auto epoch = r.epoch;
  writer(self).run(p, [done = later(self, [self, p, epoch, generation](status& st, log_position& end) {
                         auto& r = self->state.parts[p];
                         // Only the end read for this hand-off: an earlier
                         // one, called off, may have let appends in since.
                         if (r.r != role::leader || r.epoch != epoch || !r.handing_off ||
                             r.hand_off_generation != generation)
                           return;
                         if (!st) {
                           spdlog::warn("cluster: partition {}: cannot hand it over: {}", p, st.message());
                           return;
                         }
                         r.hand_off_end = end.seq;
                         try_hand_off(self, p);
                       })](persistence::partition_store& store) mutable {
    log_position end;
    auto st = journal_end(store, &end);
    done(st, end);
  });
}

// A hand-off that did not happen: p takes changes again.
void call_off_hand_off(cluster_ptr self, std::uint32_t p, const char* why) {
  auto& r = self->state.parts[p];
  spdlog::warn("cluster: partition {}: not handed over ({}); keeping the lead", p, why);
  r.handing_off = false;
  r.hand_off_end.reset();
  r.hand_off_to.clear();
  routes(self).may_append[p].store(true, std::memory_order_release);
  routes(self).handing_off[p].store(false, std::memory_order_release);
}

// A stopping node: once no partition it leads is being handed over,
// whoever waits (grid::hand_off) is told.
void tell_if_handed_off(cluster_ptr self) {
  auto& st = self->state;
  for (const auto& r : st.parts)
    if (r.r == role::leader && r.handing_off) return;
  for (auto& rp : st.hand_off_waiting) rp.deliver(true);
  st.hand_off_waiting.clear();
}

// Hands p to the chosen follower, or else the best-ranked one that can take
// it over, once a majority holds the journal to the end.
void try_hand_off(cluster_ptr self, std::uint32_t p) {
  auto& r = self->state.parts[p];
  if (r.r != role::leader || !r.handing_off || !r.hand_off_end || r.commit < *r.hand_off_end) return;
  const auto now = monotonic_ms();
  for (const auto& id : r.replicas) {
    if (id == me(self) || (!r.hand_off_to.empty() && id != r.hand_off_to)) continue;
    if (!can_take_over(self, r, id, *r.hand_off_end, now)) continue;
    const auto epoch = r.epoch;
    step_down(self, p, epoch,
              "handed over to " + id + (self->state.leaving ? ", this node stops" : ", its preferred replica"));
    // Its journal took nothing since hand_off_end was read (this hand-off's
    // own read), and all of it is committed here: `last` is where it ends,
    // so it may vote for the candidate at once (with two replicas its vote
    // is needed). It counts the candidate as heard from, so it does not
    // stand itself meanwhile; if the candidate refuses, it stands at once
    // (on_takeover).
    r.syncing = false;
    r.leader = id;
    r.leader_heard_ms = now;
    outbox(self, id).takeovers.push_back({p, epoch, false});
    announce_leads(self, now);
    if (self->state.leaving) tell_if_handed_off(self);
    return;
  }
}

// While the node stops: each partition it leads that a follower can take
// is handed over (one nobody can take, as with replication factor 1 or
// every follower down, is served until the node exits); once none is left
// to hand over, whoever waits is told.
void hand_off_tick(cluster_ptr self) {
  auto& st = self->state;
  if (!st.leaving || st.hand_off_over) return;
  const auto now = monotonic_ms();
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    auto& r = st.parts[p];
    if (r.r != role::leader || !r.serving) continue;
    bool taker = false;
    for (const auto& f : r.followers) taker = taker || could_take_over_soon(self, r, f.id, now);
    if (!taker) {
      if (r.handing_off) call_off_hand_off(self, p, "no follower can take it");
      continue;
    }
    r.hand_off_to.clear();  // a give-back under way: now to anyone
    if (!r.handing_off) begin_hand_off(self, p, {}, 0);
  }
  // Once all have begun: a give-back that was under way may step down at
  // once, and tell_if_handed_off must not count the ones not begun yet.
  for (std::uint32_t p = 0; p < st.partitions; ++p) try_hand_off(self, p);
  tell_if_handed_off(self);
}

// Gives the lead of one partition back to its preferred replica (rank 0),
// at most one at a time per node: once this node has led it, and the
// preferred replica has been connected, for `settle` (5 failure timeouts),
// the replica is within 1,024 seqs of the journal's end and answering, and
// no give-back of this partition started here in the last 10 failure
// timeouts (so a replica that keeps losing the lead is not given it over
// and over).
void give_back_tick(cluster_ptr self, std::int64_t now) {
  auto& st = self->state;
  if (st.leaving) return;
  const auto timeout = static_cast<std::int64_t>(st.settings.cluster.failure_timeout_ms);
  const auto settle = 5 * timeout;
  bool busy = false;
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    auto& r = st.parts[p];
    if (r.r != role::leader || !r.handing_off) continue;
    if (now >= r.hand_off_deadline_ms) call_off_hand_off(self, p, "its preferred replica did not catch up in time");
    else busy = true;
  }
  if (busy) return;
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    auto& r = st.parts[p];
    if (r.r != role::leader || !r.serving || r.rank == 0 || r.replicas.empty()) continue;
    if (r.led_since_ms < 0 || now - r.led_since_ms < settle) continue;
    if (r.gave_back_ms >= 0 && now - r.gave_back_ms < 10 * timeout) continue;
    const auto& preferred = r.replicas.front();
    const auto peer = st.peers.find(preferred);
    if (peer == st.peers.end() || peer->second.connected_since_ms < 0 || now - peer->second.connected_since_ms < settle)
      continue;
    if (!could_take_over_soon(self, r, preferred, now)) continue;
    spdlog::info("cluster: partition {}: giving the lead back to its preferred replica {}", p, preferred);
    r.gave_back_ms = now;
    begin_hand_off(self, p, preferred, now + timeout);
    return;
  }
}

// The leader hands p to this node; or the node it handed p to refuses, and
// this one, which holds the whole journal too, stands instead.
void on_takeover(cluster_ptr self, const std::string& from, const cluster::takeover& t) {
  const auto p = t.partition;
  auto& r = self->state.parts[p];
  if (r.r != role::follower || r.leader != from || r.epoch != t.epoch) return;  // stale
  const bool can_stand = !r.promoting && !r.syncing && !r.installing && !r.disk_degraded && !self->state.leaving;
  if (!can_stand) {
    // It would not win (its vote for itself cannot be written, or it is
    // stopping): say so, so the other side stands instead of the partition
    // waiting a failure timeout.
    if (!t.refused) {
      spdlog::info("cluster: partition {}: {} hands it over, but this node cannot stand now", p, from);
      outbox(self, from).takeovers.push_back({p, t.epoch, true});
    }
    return;
  }
  spdlog::info("cluster: partition {}: {} {}; standing for epoch {}", p, from,
               t.refused ? "cannot take it over" : "hands it over", r.epoch + 1);
  r.r = role::candidate;
  r.leader.clear();
  r.transfer = true;
  stand(self, p);
}

}  // namespace

// ---- the cluster actor's entry points ---------------------------------------

void hand_off(cluster_ptr self, caf::response_promise done) {
  auto& st = self->state;
  if (!st.leaving) spdlog::info("cluster: stopping: handing over the partitions this node leads");
  st.leaving = true;
  st.hand_off_waiting.push_back(std::move(done));
  hand_off_tick(self);
  flush_now(self);
}

void call_off_hand_offs(cluster_ptr self) {
  auto& st = self->state;
  for (std::uint32_t p = 0; p < st.partitions; ++p)
    if (st.parts[p].r == role::leader && st.parts[p].handing_off)
      call_off_hand_off(self, p, "the stop's hand-off time is up");
  // Nothing more starts: hand_off_tick would begin them again.
  for (auto& rp : st.hand_off_waiting) rp.deliver(false);
  st.hand_off_waiting.clear();
  st.hand_off_over = true;
}

void init_replicas(cluster_ptr self, const std::vector<log_position>& ends) {
  auto& st = self->state;
  const auto& table = st.members->table();
  const auto now = monotonic_ms();
  const auto self_index = static_cast<std::uint32_t>(member_index(self, me(self)));
  const auto timeout = static_cast<std::int64_t>(st.settings.cluster.failure_timeout_ms);
  std::vector<std::uint32_t> blanks;
  st.parts.resize(st.partitions);
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    auto& r = st.parts[p];
    const auto& reps = table.replicas[p];
    for (auto idx : reps) r.replicas.push_back(table.members[idx]);
    auto it = std::find(reps.begin(), reps.end(), self_index);
    if (it == reps.end()) continue;
    r.r = role::follower;
    r.rank = static_cast<std::uint32_t>(it - reps.begin());
    r.epoch = writer(self).epoch(p);
    r.last = r.queued = ends[p];
    r.blank = ends[p] == log_position{} || std::filesystem::exists(blank_marker(self, p));
    if (r.blank) blanks.push_back(p);
    // The preferred leader stands first; the others wait their turn, so one
    // election usually settles it. Not before the failure timeout: members
    // started with this one do not vote until then (on_vote), and a refused
    // first try would let the next rank win (the lead then moves back by a
    // give-back later, a short UNAVAILABLE for the partition's clients).
    r.election_due_ms = now + (r.rank == 0 ? timeout + timeout / 4
                                           : timeout + static_cast<std::int64_t>(r.rank) * timeout / 2);
  }
  // The blank copies' markers, durable before this node votes.
  if (blanks.empty()) return;
  const auto dir = std::filesystem::path(blank_marker(self, 0)).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Durable before this node votes, or it stops: a restart whose journal is
  // no longer empty would forget the copy is blank, and vote as any copy.
  auto durable = [](const status& st) {
    if (st) return;
    spdlog::critical("cluster: a blank copy's marker is not durable: {}; stopping", st.message());
    std::abort();  // fail-stop: the disk refuses writes
  };
  for (auto p : blanks) durable(persistence::create_synced(blank_marker(self, p)));
  durable(persistence::sync_path(dir.string()));
  durable(persistence::sync_path(dir.parent_path().string()));  // blank/ itself may be new
  spdlog::info("cluster: {} of this node's copies start empty: they vote only for empty copies until they hold "
               "what a leader committed",
               blanks.size());
}

void replication_tick(cluster_ptr self) {
  hand_off_tick(self);
  auto& st = self->state;
  const auto now = monotonic_ms();
  give_back_tick(self, now);
  copy_tick(self, now);
  const auto timeout = static_cast<std::int64_t>(st.settings.cluster.failure_timeout_ms);
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    auto& r = st.parts[p];
    switch (r.r) {
      case role::none:
        break;
      case role::follower: {
        // A replica whose disk refuses writes could not make its vote for
        // itself durable, nor journal what it would lead.
        if (r.promoting || r.installing || r.disk_degraded || st.leaving || heard_leader_recently(self, r, now))
          break;
        // After a leader is lost, the other replicas stand one after another
        // (cluster::standing_turn), a quarter of the failure timeout apart,
        // so one usually wins the first round instead of splitting the vote.
        auto due = r.election_due_ms;
        if (r.leader_heard_ms >= 0) {
          const auto lost = std::find(r.replicas.begin(), r.replicas.end(), r.leader);
          const std::int64_t leader_rank = lost == r.replicas.end() ? -1 : lost - r.replicas.begin();
          const auto turn = cluster::standing_turn(r.rank, leader_rank);
          due = std::max(due, r.leader_heard_ms + timeout + static_cast<std::int64_t>(turn) * timeout / 4);
        }
        if (now >= due) start_election(self, p, now);
        break;
      }
      case role::candidate:
        if (!r.promoting && now >= r.election_due_ms) {
          // No majority in time (a split vote, or too few replicas up):
          // stand again later, the lower ranks first.
          r.r = role::follower;
          r.transfer = false;
          r.election_due_ms = now + timeout / 2 + static_cast<std::int64_t>(r.rank) * timeout / 4;
        }
        break;
      case role::leader:
        // No majority for a whole failure timeout past its lease: the others
        // may have elected someone. Step down, so what waits here is answered.
        if (r.serving && r.lease_end_ms >= 0 && now - r.lease_end_ms > timeout) {
          step_down(self, p, r.epoch, "no majority answered for the failure timeout");
          break;
        }
        for (auto& f : r.followers) {
          const auto prev = f.known ? f.sent : r.shipped;
          outbox(self, f.id).appends.push_back({p, r.epoch, prev.seq, prev.epoch, r.commit, {}});
        }
        set_lease(self, p);
        break;
    }
  }
  announce_leads(self, now);
}

void on_committed(cluster_ptr self, committed_batch& batch) {
  const auto p = batch.partition;
  auto& r = self->state.parts[p];
  if (r.r != role::leader || batch.entries.empty() || batch.entries.front().epoch != r.epoch) return;
  const auto prev = r.shipped;
  r.shipped = r.last = r.queued = position(batch.entries.back());
  for (auto& f : r.followers) {
    if (!f.known || f.reading) continue;
    if (f.sent.seq < prev.seq || ahead_of_window(f)) {
      read_more(self, p, f);
      continue;
    }
    std::vector<journal_entry> fresh;
    for (const auto& e : batch.entries)
      if (e.seq > f.sent.seq) fresh.push_back(e);
    ship(self, p, f, std::move(fresh));
  }
  advance_commit(self, p);
}

void on_disk_health(cluster_ptr self, const disk_health& h) {
  if (h.partition >= self->state.partitions) return;
  auto& r = self->state.parts[h.partition];
  r.disk_degraded = !h.health;
  if (r.r == role::none) return;
  if (!r.disk_degraded) {
    spdlog::info("cluster: partition {}: its disk takes writes again; following", h.partition);
    return;
  }
  if (r.r == role::leader) return step_down(self, h.partition, r.epoch, "its disk refuses writes: " + h.health.message());
  // A candidate whose vote for itself is still being written fails there.
  if (r.r == role::candidate && !r.promoting) r.r = role::follower;
}

void on_peer_replication(cluster_ptr self, const std::string& from, cluster::peer_message& m) {
  auto& st = self->state;
  auto valid = [&](std::uint32_t p) { return p < st.partitions; };
  for (auto& a : m.appends)
    if (valid(a.partition)) on_append(self, from, a, m.sent_ms);
  for (const auto& res : m.results)
    if (valid(res.partition)) on_result(self, from, res, m.echo_ms);
  for (const auto& v : m.votes)
    if (valid(v.partition)) on_vote(self, from, v);
  for (const auto& v : m.vote_results)
    if (valid(v.partition)) on_vote_result(self, from, v);
  for (const auto& t : m.truncates)
    if (valid(t.partition)) on_truncate(self, from, t, m.sent_ms);
  for (const auto& t : m.takeovers)
    if (valid(t.partition)) on_takeover(self, from, t);
  if (!m.has_leads) return;
  // Who `from` says it serves: where this node forwards those partitions.
  const auto index = member_index(self, from);
  std::vector<bool> led(st.partitions, false);
  for (const auto& [p, epoch] : m.leads) {
    if (!valid(p)) continue;
    led[p] = true;
    auto& r = st.parts[p];
    if (r.r == role::leader || epoch < r.epoch) continue;
    if (r.r == role::none) r.epoch = epoch;
    if (from == r.leader) r.leader_serving_epoch = epoch;
    routes(self).leader[p].store(index, std::memory_order_release);
  }
  for (std::uint32_t p = 0; p < st.partitions; ++p)
    if (!led[p] && routes(self).leader[p].load(std::memory_order_acquire) == index)
      routes(self).leader[p].store(-1, std::memory_order_release);
}

void on_peer_lost(cluster_ptr self, const std::string& id) {
  auto& st = self->state;
  const auto index = member_index(self, id);
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    if (routes(self).leader[p].load(std::memory_order_acquire) == index)
      routes(self).leader[p].store(-1, std::memory_order_release);
    auto& r = st.parts[p];
    for (auto& f : r.followers)
      if (f.id == id) {
        // Its journal may have moved on without us (or been rebuilt): ask
        // again on reconnect.
        f.known = false;
        f.reading = f.probing = f.needs_rebuild = false;
      }
  }
  copy_peer_lost(self, id);
}

}  // namespace stockgrid::actors
