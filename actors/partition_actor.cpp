// The partition actor: routes requests to record actors, activates records
// from disk on their first message and passivates idle ones, and keeps the
// index from hold ids to the records that hold them.
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/actors.hpp"
#include "actors/replies.hpp"
#include "config/limits.hpp"
#include "domain/request.hpp"

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
  // tenant.delete: tenants whose records are being stopped and rows
  // removed (their requests are refused meanwhile), with the record actors
  // still to exit and what to call at the end.
  struct purge {
    std::size_t exiting = 0;
    std::function<void(const status&, std::uint64_t)> done;
  };
  std::unordered_map<std::string, purge> purging;
  std::unordered_map<caf::actor_addr, std::string> exiting;  // record actor -> tenant
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
  if (env.req.idem.empty()) {
    // Through the journal, so the answer never precedes the durability of the
    // change that ended the hold.
    writer->barrier(p, [done = env.done](const status&, const journal_entry*) {
      done(reply::error(outcome::hold_not_found, "no such hold"));
    });
    return;
  }
  const auto fingerprint = request_fingerprint(env.req);
  writer->lookup_idempotent(
      p, record_key{env.req.key.tenant, {}, {}}, hold_seq, env.req.idem,
      [writer, p, fingerprint, done = env.done](const status& s,
                                                std::optional<journal_entry> found) {
        if (!s) return done(reply::error(outcome::internal, s.message()));
        if (!found) return done(reply::error(outcome::hold_not_found, "no such hold"));
        if (found->fingerprint != fingerprint)
          return done(reply::error(outcome::idempotency_mismatch,
                                   "idem: key already used for a different request"));
        auto replay = reply_from_entry(*found, p);
        replay.replayed = true;
        writer->barrier(p, [done, replay = std::move(replay)](const status& b,
                                                              const journal_entry*) mutable {
          done(b ? std::move(replay) : reply::error(outcome::unavailable, "journal unavailable"));
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

void on_request(self_ptr self, envelope& env) {
  auto& st = self->state;
  if (st.purging.count(env.req.key.tenant))
    return env.done(reply::error(outcome::not_found, "tenant " + env.req.key.tenant + " is being deleted"));
  if (targets_hold(env.req.kind)) {
    hold_ref h;
    auto it = parse_hold_id(env.req.hold, &h) ? st.holds.find(h.seq) : st.holds.end();
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
void remove_rows(self_ptr self, const std::string& tenant) {
  auto& st = self->state;
  auto me = caf::actor_cast<partition_actor>(self);
  journal(self).run_forgetting_tenant(st.id, tenant, [me, tenant](persistence::partition_store& store) {
    std::uint64_t records = 0;
    const auto s = store.delete_tenant(tenant, &records);
    caf::anon_send(me, purged_atom::value, tenant, s, records);
  });
}

void on_purge(self_ptr self, tenant_purge& call) {
  auto& st = self->state;
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
                                                  std::vector<persistence::record_image> with_holds) {
  auto& st = self->state;
  st.ctx = ctx;
  st.id = partition;
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
        // A hold of a record purged meanwhile is not indexed: the index
        // points at resident records only.
        if (added && self->state.resident.count(key))
          self->state.holds.emplace(seq, key);
        else
          self->state.holds.erase(seq);
      },
      [=](stop_atom) {
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
                                std::vector<persistence::record_image> with_holds) {
  return system.spawn(partition_behavior, ctx, partition, std::move(with_holds));
}

}  // namespace stockgrid::actors
