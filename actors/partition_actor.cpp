// The partition actor: routes requests to record actors, activates records
// from disk on their first message and passivates idle ones, and keeps the
// index from hold ids to the records that hold them.
#include <algorithm>
#include <iterator>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/actors.hpp"
#include "actors/replies.hpp"
#include "config/limits.hpp"
#include "domain/request.hpp"
#include "persistence/purge.hpp"

namespace stockgrid::actors {

using persistence::journal_entry;
using persistence::status;

namespace {
struct resident_record {
  record_actor handle;
  std::uint64_t forwarded = 0;  // requests sent to it, for the passivation handshake
};
}  // namespace

struct partition_state {
  node_context* ctx = nullptr;
  std::uint32_t id = 0;
  std::unordered_map<record_key, resident_record, record_key_hash> resident;
  // Records being read from disk, with the requests that wait for them.
  std::unordered_map<record_key, std::vector<envelope>, record_key_hash> loading;
  // Active holds: hold seq -> the record holding it (always resident).
  std::unordered_map<std::uint64_t, record_key> holds;
  // After a drop: reload jobs not yet done, and the requests for holds not
  // in the index meanwhile (their record may be among those reloading).
  std::size_t reload_batches = 0;
  std::vector<envelope> awaiting_reload;
  // tenant.delete: tenants whose records are being stopped and rows
  // removed (their requests are refused meanwhile), with the record actors
  // still to exit and what to call at the end.
  struct purge {
    std::size_t exiting = 0;
    std::function<void(const status&, std::uint64_t)> done;
  };
  std::unordered_map<std::string, purge> purging;
  std::unordered_map<caf::actor_addr, std::string> exiting;  // record actor -> tenant
  // In a cluster, whether this node leads the partition now (always on a
  // single node). While it does not, requests are refused and no record
  // actor runs: the journal is the leader's, shipped here.
  bool leading = true;
  static inline const char* name = "stockgrid.partition";
};

namespace {

using self_ptr = partition_actor::stateful_pointer<partition_state>;

persistence::journal_writer& journal(self_ptr self) { return *self->state.ctx->journal; }

void forward(self_ptr self, resident_record& r, envelope&& env) {
  ++r.forwarded;
  self->send(r.handle, std::move(env));
}

record_actor spawn_record(self_ptr self, const record_key& key, persistence::record_image image) {
  auto& st = self->state;
  for (const auto& h : image.holds) st.holds.emplace(h.seq, key);
  auto handle = spawn_record(self->system(), st.ctx, st.id,
                             caf::actor_cast<partition_actor>(self), key, std::move(image));
  st.resident.emplace(key, resident_record{handle, 0});
  st.ctx->resident.fetch_add(1, std::memory_order_relaxed);
  st.ctx->activations.fetch_add(1, std::memory_order_relaxed);
  return handle;
}

// A hold this partition does not know: never issued, ended, or another
// tenant's. A retried request may still have a stored reply.
void unknown_hold(self_ptr self, envelope&& env, std::uint64_t hold_seq) {
  auto& st = self->state;
  auto* writer = st.ctx->journal;
  const auto p = st.id;
  const auto retry_after_ms = static_cast<std::int64_t>(st.ctx->settings.journal.disk_retry_interval_ms);
  if (env.req.idem.empty()) {
    // Through the journal, so the answer never precedes the durability of the
    // change that ended the hold. A failed barrier (the partition turned
    // degraded) says nothing: the hold may have left the index for a change
    // that never reached the disk.
    writer->barrier(p, [done = env.done, retry_after_ms](const status& s, const journal_entry*) {
      if (!s) return done(journal_unavailable(s.message(), retry_after_ms));
      done(reply::error(outcome::hold_not_found, "no such hold"));
    });
    return;
  }
  const auto fingerprint = request_fingerprint(env.req);
  writer->lookup_idempotent(
      p, record_key{env.req.key.tenant, {}, {}}, hold_seq, env.req.idem,
      [writer, p, fingerprint, retry_after_ms, done = env.done](const status& s,
                                                                std::optional<journal_entry> found) {
        if (!s) return done(journal_unavailable(s.message(), retry_after_ms));
        if (!found) return done(reply::error(outcome::hold_not_found, "no such hold"));
        if (found->fingerprint != fingerprint)
          return done(reply::error(outcome::idempotency_mismatch,
                                   "idem: key already used for a different request"));
        auto replay = reply_from_entry(*found, p);
        replay.replayed = true;
        writer->barrier(p, [done, replay = std::move(replay), retry_after_ms](const status& b,
                                                                              const journal_entry*) mutable {
          done(b ? std::move(replay) : journal_unavailable("journal unavailable", retry_after_ms));
        });
      });
}

void activate(self_ptr self, envelope&& env) {
  auto& st = self->state;
  auto [it, fresh] = st.loading.try_emplace(env.req.key);
  if (!fresh && it->second.size() >= limits::pending_per_activation_max) {
    env.done(reply::error(outcome::overloaded, "too many requests waiting for this record"));
    return;
  }
  it->second.push_back(std::move(env));
  if (!fresh) return;
  auto me = caf::actor_cast<partition_actor>(self);
  journal(self).run(st.id, [me, key = it->first](persistence::partition_store& store) {
    load_result r;
    r.st = store.load_record(key, &r.image, &r.found);
    caf::anon_send(me, loaded_atom::value, key, std::move(r));
  });
}

reply not_leading(std::uint32_t p) {
  auto r = reply::error(outcome::unavailable, "this node does not lead partition " + std::to_string(p) + " now");
  r.retry_after_ms = 100;
  return r;
}

void on_request(self_ptr self, envelope& env) {
  auto& st = self->state;
  if (!st.leading) return env.done(not_leading(st.id));
  if (st.purging.count(env.req.key.tenant) || st.ctx->deleted.refuses(env.req.key.tenant, now_ms(*st.ctx)))
    return env.done(reply::error(outcome::not_found, "tenant " + env.req.key.tenant + " is being deleted"));
  if (targets_hold(env.req.kind)) {
    hold_ref h;
    auto it = parse_hold_id(env.req.hold, &h) ? st.holds.find(h.seq) : st.holds.end();
    if (it == st.holds.end() && st.reload_batches > 0) {
      if (st.awaiting_reload.size() >= limits::pending_per_activation_max)
        return env.done(reply::error(outcome::overloaded, "too many requests waiting for records to reload"));
      st.awaiting_reload.push_back(std::move(env));
      return;
    }
    if (it == st.holds.end()) return unknown_hold(self, std::move(env), h.seq);
    return forward(self, st.resident.at(it->second), std::move(env));
  }
  if (auto it = st.resident.find(env.req.key); it != st.resident.end())
    return forward(self, it->second, std::move(env));
  activate(self, std::move(env));
}

void on_loaded(self_ptr self, const record_key& key, load_result& r) {
  auto& st = self->state;
  auto node = st.loading.extract(key);
  if (node.empty()) return;
  auto& waiting = node.mapped();
  if (!st.leading) {
    for (auto& env : waiting) env.done(not_leading(st.id));
    return;
  }
  if (st.purging.count(key.tenant)) {  // read before the purge began
    for (auto& env : waiting)
      env.done(reply::error(outcome::not_found, "tenant " + key.tenant + " is being deleted"));
    return;
  }
  if (!r.st) {
    for (auto& env : waiting)
      env.done(reply::error(outcome::internal, "cannot load record: " + r.st.message()));
    return;
  }
  const bool creates = std::any_of(waiting.begin(), waiting.end(), [](const envelope& e) {
    return e.req.kind == op::adjust || e.req.kind == op::set || e.req.kind == op::incoming;
  });
  if (!r.found && !creates) {
    // Not on disk after every earlier append committed: never stocked. No
    // actor is spawned for it, so probing unknown keys costs no memory.
    for (auto& env : waiting) env.done(reply::error(outcome::not_found, "record never stocked"));
    return;
  }
  if (!r.found) {
    r.image = persistence::record_image{};
    r.image.key = key;
  }
  spawn_record(self, key, std::move(r.image));
  auto& resident = st.resident.at(key);
  for (auto& env : waiting) forward(self, resident, std::move(env));
}

// Records reloaded by one journal job after a drop: few jobs in the queue,
// none holding the writer thread long.
constexpr std::size_t reload_batch_records = 256;

// Loads `keys` (already in `loading`) from the store, one job per batch.
void reload(self_ptr self, std::vector<record_key> keys) {
  auto me = caf::actor_cast<partition_actor>(self);
  for (std::size_t i = 0; i < keys.size(); i += reload_batch_records) {
    const auto end = std::min(keys.size(), i + reload_batch_records);
    std::vector<record_key> batch(std::make_move_iterator(keys.begin() + static_cast<std::ptrdiff_t>(i)),
                                  std::make_move_iterator(keys.begin() + static_cast<std::ptrdiff_t>(end)));
    ++self->state.reload_batches;
    journal(self).run(self->state.id, [me, batch = std::move(batch)](persistence::partition_store& store) {
      for (const auto& key : batch) {
        load_result r;
        r.st = store.load_record(key, &r.image, &r.found);
        caf::anon_send(me, loaded_atom::value, key, std::move(r));
      }
      caf::anon_send(me, reloaded_atom::value);
    });
  }
}

// A reload batch is in: once all are, the hold index is whole again and the
// hold requests that waited for it run.
void on_reloaded(self_ptr self) {
  auto& st = self->state;
  if (st.reload_batches == 0 || --st.reload_batches > 0) return;
  auto waiting = std::move(st.awaiting_reload);
  st.awaiting_reload.clear();
  for (auto& env : waiting) on_request(self, env);
}

// The journal turned degraded: resident records may have applied changes
// whose commit failed (a record applies a change when it is numbered, before
// it is durable). They are stopped (answering what waits on them) and read
// back from the store, which holds exactly what is on disk; so is the hold
// index, rebuilt as they load. Every record resident before is reloaded, so
// records with holds on disk get their actors (and expiry timers) back even
// where a failed change had ended the hold in memory. Requests arriving
// meanwhile wait for the reload as for any activation, and requests for a
// hold not in the index wait until every reload is in. Appends are already
// refused, so nothing applied after this is ahead of the disk.
void on_drop(self_ptr self) {
  auto& st = self->state;
  std::vector<record_key> keys;
  keys.reserve(st.resident.size());
  for (auto& [key, r] : st.resident) {
    self->send(r.handle, stop_atom::value);
    if (st.loading.try_emplace(key).second) keys.push_back(key);
  }
  st.ctx->resident.fetch_sub(st.resident.size(), std::memory_order_relaxed);
  st.ctx->reloads.fetch_add(st.resident.size(), std::memory_order_relaxed);
  st.resident.clear();
  st.holds.clear();
  reload(self, std::move(keys));
}

// Stops every record actor and forgets the holds index; what waits for a
// record or a reload is answered. Used when this node stops leading.
void stop_records(self_ptr self, const reply& answer) {
  auto& st = self->state;
  for (auto& [key, r] : st.resident) self->send(r.handle, stop_atom::value);
  st.ctx->resident.fetch_sub(st.resident.size(), std::memory_order_relaxed);
  st.resident.clear();
  st.holds.clear();
  for (auto& [key, waiting] : st.loading)
    for (auto& env : waiting) env.done(reply{answer});
  st.loading.clear();
  for (auto& env : st.awaiting_reload) env.done(reply{answer});
  st.awaiting_reload.clear();
  st.reload_batches = 0;
}

void on_passivate(self_ptr self, const record_key& key, std::uint64_t handled) {
  auto& st = self->state;
  auto it = st.resident.find(key);
  // A request still on its way makes the record stay; it will ask again.
  if (it == st.resident.end() || it->second.forwarded != handled) return;
  self->send(it->second.handle, stop_atom::value);
  st.resident.erase(it);
  st.ctx->resident.fetch_sub(1, std::memory_order_relaxed);
  st.ctx->passivations.fetch_add(1, std::memory_order_relaxed);
}

// Removes the tenant's rows once its record actors have exited, so every
// change they journaled is queued before the removal.
void journal_purge(self_ptr self, const std::string& tenant);

void remove_rows(self_ptr self, const std::string& tenant) {
  auto& st = self->state;
  if (st.ctx->routes) return journal_purge(self, tenant);
  auto me = caf::actor_cast<partition_actor>(self);
  journal(self).run_forgetting_tenant(st.id, tenant, [me, tenant](persistence::partition_store& store) {
    std::uint64_t records = 0;
    const auto s = store.delete_tenant(tenant, &records);
    caf::anon_send(me, purged_atom::value, tenant, s, records);
  });
}

// In a cluster the rows go through the journal instead: one purge entry
// (persistence/purge.hpp), answered once a majority holds it, then folded
// into this copy at once; the followers fold it at their next snapshot.
// Its records (deleted or not) are counted by no one: records = 0.
void journal_purge(self_ptr self, const std::string& tenant) {
  auto& st = self->state;
  auto me = caf::actor_cast<partition_actor>(self);
  auto* writer = &journal(self);
  const auto p = st.id;
  auto purged = [me, tenant](const status& s) {
    caf::anon_send(me, purged_atom::value, tenant, s, std::uint64_t{0});
  };
  const auto seq = writer->append(p, persistence::purge_entry(tenant, now_ms(*st.ctx)),
                                  [writer, p, tenant, purged](const status& s, const journal_entry*) {
                                    if (!s) return purged(s);
                                    writer->purge_fold(p, tenant, purged);
                                  });
  if (seq == 0)
    purged(status::unavailable("partition " + std::to_string(p) +
                               " takes no changes here now (not led here, or its journal is degraded)"));
}

void on_purge(self_ptr self, tenant_purge& call) {
  auto& st = self->state;
  // In a cluster only the leader journals the purge; the grid asks each
  // partition led here and tells which (docs/cluster.md, "Deleting a tenant").
  if (st.ctx->routes && !st.leading) {
    call.done(status::unavailable("partition " + std::to_string(st.id) + " is not led here"), 0);
    return;
  }
  auto [it, fresh] = st.purging.try_emplace(call.tenant);
  if (!fresh) {  // one purge of a tenant at a time: the grid's caller waits for it
    call.done(status::invalid("tenant " + call.tenant + " is already being deleted"), 0);
    return;
  }
  it->second.done = std::move(call.done);
  for (auto r = st.resident.begin(); r != st.resident.end();) {
    if (r->first.tenant != call.tenant) {
      ++r;
      continue;
    }
    self->monitor(r->second.handle);
    st.exiting.emplace(r->second.handle.address(), call.tenant);
    ++it->second.exiting;
    self->send(r->second.handle, stop_atom::value);
    st.ctx->resident.fetch_sub(1, std::memory_order_relaxed);
    r = st.resident.erase(r);
  }
  std::erase_if(st.holds, [&](const auto& h) { return h.second.tenant == call.tenant; });
  if (it->second.exiting == 0) remove_rows(self, call.tenant);
}

void on_exit(self_ptr self, const caf::down_msg& down) {
  auto& st = self->state;
  auto it = st.exiting.find(down.source);
  if (it == st.exiting.end()) return;
  const auto tenant = std::move(it->second);
  st.exiting.erase(it);
  auto p = st.purging.find(tenant);
  if (p != st.purging.end() && --p->second.exiting == 0) remove_rows(self, tenant);
}

}  // namespace

namespace {
partition_actor::behavior_type partition_behavior(self_ptr self, node_context* ctx,
                                                  std::uint32_t partition,
                                                  std::vector<persistence::record_image> with_holds,
                                                  bool leading) {
  auto& st = self->state;
  st.ctx = ctx;
  st.id = partition;
  st.leading = leading;
  self->set_down_handler([=](caf::down_msg& down) { on_exit(self, down); });
  // Records with active holds stay resident: their actors run the timers.
  for (auto& image : with_holds) {
    auto key = image.key;
    spawn_record(self, key, std::move(image));
  }
  return {
      [=](envelope& env) { on_request(self, env); },
      [=](loaded_atom, const record_key& key, load_result& r) { on_loaded(self, key, r); },
      [=](passivate_atom, const record_key& key, std::uint64_t handled) {
        on_passivate(self, key, handled);
      },
      [=](tenant_purge& call) { on_purge(self, call); },
      [=](purged_atom, const std::string& tenant, const status& s, std::uint64_t records) {
        auto node = self->state.purging.extract(tenant);
        if (!node.empty() && node.mapped().done) node.mapped().done(s, records);
      },
      [=](hold_atom, std::uint64_t seq, const record_key& key, bool added) {
        // Only from the record's current actor: one stopped by a drop or a
        // purge may still report a change it applied before; the index
        // points at resident records only.
        auto& st = self->state;
        auto it = st.resident.find(key);
        if (it == st.resident.end() || it->second.handle.address() != self->current_sender()) return;
        if (added)
          st.holds.emplace(seq, key);
        else
          st.holds.erase(seq);
      },
      [=](drop_atom) {
        if (self->state.leading) on_drop(self);
      },
      [=](lead_atom, std::vector<persistence::record_image>& images) {
        auto& st = self->state;
        st.leading = true;
        for (auto& image : images)
          if (!st.resident.count(image.key)) {
            auto key = image.key;
            spawn_record(self, key, std::move(image));
          }
      },
      [=](follow_atom) {
        self->state.leading = false;
        stop_records(self, not_leading(self->state.id));
      },
      [=](reloaded_atom) { on_reloaded(self); },
      [=](stop_atom) {
        for (auto& env : self->state.awaiting_reload)
          env.done(reply::error(outcome::unavailable, "node is stopping"));
        for (auto& [key, r] : self->state.resident) self->send(r.handle, stop_atom::value);
        self->state.ctx->resident.fetch_sub(self->state.resident.size());
        self->state.resident.clear();
        self->quit();
      },
  };
}

}  // namespace

partition_actor spawn_partition(caf::actor_system& system, node_context* ctx,
                                std::uint32_t partition,
                                std::vector<persistence::record_image> with_holds, bool leading) {
  return system.spawn(partition_behavior, ctx, partition, std::move(with_holds), leading);
}

}  // namespace stockgrid::actors
