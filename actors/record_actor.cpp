// The record actor: routes a request to the record's rules, journals the
// change, applies it, and replies once the journal entry is durable.
#include <algorithm>
#include <chrono>
#include <vector>

#include <caf/all.hpp>

#include "actors/actors.hpp"
#include "actors/clock.hpp"
#include "actors/replies.hpp"
#include "config/limits.hpp"
#include "persistence/tenant_export.hpp"

namespace stockgrid::actors {

using persistence::journal_entry;
using persistence::status;

struct record_state {
  node_context* ctx = nullptr;
  std::uint32_t partition = 0;
  partition_actor parent;
  record_key key;
  stock_record rec;
  std::uint64_t last_seq = 0;   // this record's newest journal entry
  std::uint64_t handled = 0;    // requests received, for the passivation handshake
  epoch_ms last_active_ms = 0;
  epoch_ms timer_at_ms = 0;     // the expiry timer in flight (0 = none)
  // While an idempotency look-up is on disk, the request it is for waits in
  // `awaited` and later requests wait in `deferred`, so per-record order holds.
  std::optional<envelope> awaited;
  std::vector<envelope> deferred;
  std::size_t next_deferred = 0;
  static inline const char* name = "stockgrid.record";
};

namespace {

using self_ptr = record_actor::stateful_pointer<record_state>;

persistence::journal_writer& journal(self_ptr self) { return *self->state.ctx->journal; }

reply unavailable(self_ptr self, std::string message) {
  return journal_unavailable(std::move(message),
                             static_cast<std::int64_t>(self->state.ctx->settings.journal.disk_retry_interval_ms));
}

// Replies once this record's entries up to `seq` are durable, so no reply
// shows state that a crash could still take back. In a cluster durable
// means on a majority (unless the tenant's `ack` is "leader": then on the
// leader): the barrier then waits behind the changes the journal's quorum
// gate holds back.
void deliver_after(self_ptr self, std::uint64_t seq, const reply_sink& done, reply r) {
  auto& st = self->state;
  const auto* routes = st.ctx->routes.get();
  if (seq <= journal(self).durable_seq(st.partition) &&
      (!routes || seq <= journal(self).commit_point(st.partition) || routes->leader_acks(st.key.tenant))) {
    done(std::move(r));
    return;
  }
  const auto retry_after_ms = static_cast<std::int64_t>(st.ctx->settings.journal.disk_retry_interval_ms);
  journal(self).barrier(st.partition, [done, r = std::move(r), retry_after_ms](const status& s,
                                                                               const journal_entry*) mutable {
    done(s ? std::move(r) : journal_unavailable("journal unavailable: " + s.message(), retry_after_ms));
  });
}

void reply_now(self_ptr self, const reply_sink& done, reply r) {
  deliver_after(self, self->state.last_seq, done, std::move(r));
}

void schedule_expiry(self_ptr self) {
  auto& st = self->state;
  auto next = st.rec.next_deadline();
  if (!next || (st.timer_at_ms != 0 && st.timer_at_ms <= *next)) return;
  st.timer_at_ms = *next;
  auto delay = std::max<epoch_ms>(0, *next - now_ms(*self->state.ctx));
  self->delayed_send(self, std::chrono::milliseconds(delay), expire_atom::value);
}

// Journals a change (or a remembered refusal) and applies it; the reply is
// built from the committed entry, exactly as an idempotent replay would be.
void journal_and_apply(self_ptr self, const request& req, const reply_sink& done,
                       change c, outcome result, std::int64_t detail) {
  auto& st = self->state;
  journal_entry e;
  e.at_ms = now_ms(*self->state.ctx);
  e.key = st.key;
  e.c = c;
  e.idem = req.idem;
  e.fingerprint = req.idem.empty() ? 0 : request_fingerprint(req);
  e.result = result;
  e.detail = detail;
  e.key_id = req.key_id;
  const auto p = st.partition;
  const bool creates_hold = c.kind == change_kind::reserve;
  // A new hold enters the partition's index before its entry is even queued:
  // the client learns the hold id from the reply, which runs after the
  // commit, and may commit or release it at once through the partition.
  auto index_new_hold = [self, creates_hold](std::uint64_t seq) {
    if (creates_hold) self->send(self->state.parent, hold_atom::value, seq, self->state.key, true);
  };
  // On a single node a coordinator's step is answered as soon as it is
  // applied: the coordinator waits for durability once per partition before
  // it ends the phase (coordination.hpp), instead of once per step. In a
  // cluster the step may come from another node, so it is answered like any
  // change: once committed (and, through the journal's quorum gate, held by
  // a majority).
  std::optional<journal_entry> applied;
  if (req.internal && !st.ctx->routes) applied = e;
  // A failed commit leaves the outcome unknown but not acknowledged: the
  // client resends with the same idem once the disk takes writes again.
  const auto retry_after_ms = static_cast<std::int64_t>(st.ctx->settings.journal.disk_retry_interval_ms);
  // A record this change creates takes a quota slot (taken before); a failed
  // commit drops the record with its partition's state, so the slot goes back.
  const bool creates_record = !st.rec.exists() && c.kind != change_kind::refusal;
  const auto seq = journal(self).append(
      p, std::move(e),
      applied ? persistence::journal_writer::completion{}
              : [done, p, retry_after_ms, creates_record, ctx = st.ctx, tenant = st.key.tenant](
                    const status& s, const journal_entry* committed) {
                  if (s) return done(reply_from_entry(*committed, p));
                  if (creates_record) ctx->records.give_back(tenant);
                  done(journal_unavailable("journal write failed (" + s.message() +
                                               "): outcome unknown; resend with the same idem",
                                           retry_after_ms));
                },
      index_new_hold);
  if (seq == 0) {
    if (creates_record) st.ctx->records.give_back(st.key.tenant);
    // Its disk refuses writes, the node stops, or (in a cluster) this node
    // is handing the partition to another or no longer leads it.
    done(journal_unavailable("partition unavailable: its journal takes no writes here now (its disk refuses "
                             "writes, or it is changing leader)",
                             retry_after_ms));
    return;
  }
  if (applied) {
    applied->seq = seq;
    if (creates_hold) applied->c.hold_seq = seq;
    done(reply_from_entry(*applied, p));
  }
  st.last_seq = seq;
  if (c.kind == change_kind::refusal) return;
  if (!st.rec.exists()) st.ctx->warehouses.add(st.key.tenant, st.key.warehouse);
  if (creates_hold) c.hold_seq = seq;
  const bool had_hold = c.hold_seq != 0 && st.rec.find_hold(c.hold_seq) != nullptr;
  st.rec.apply(c);
  const bool has_hold = c.hold_seq != 0 && st.rec.find_hold(c.hold_seq) != nullptr;
  // Holds that end (commit, release, expiry) leave the index after the fact:
  // a request for one still finds the record, which answers HOLD_NOT_FOUND.
  if (had_hold && !has_hold) self->send(st.parent, hold_atom::value, c.hold_seq, st.key, false);
  if (c.kind == change_kind::reserve || c.kind == change_kind::extend) schedule_expiry(self);
}

std::uint64_t hold_seq_of(const request& req) {
  hold_ref h;
  return targets_hold(req.kind) && parse_hold_id(req.hold, &h) ? h.seq : 0;
}

// Turns a decision into a journaled change, a journaled refusal (idempotent
// requests remember what a client saw) or a plain refusal.
void settle(self_ptr self, const envelope& env, decision d) {
  auto& st = self->state;
  const auto& req = env.req;
  if (d.ok()) {
    if (!st.rec.exists()) {
      // A new record counts against the tenant's records quota; refused
      // beyond it, remembered by no idempotency key (the same request may
      // pass once the quota is raised).
      const auto limit = st.ctx->records.take(st.key.tenant, st.ctx->settings.quotas.records_per_tenant_max);
      if (limit != 0) {
        auto r = reply::error(outcome::limit_exceeded, "tenant " + st.key.tenant + " may have at most " +
                                                           std::to_string(limit) + " stock records");
        r.limit = limit;
        return reply_now(self, env.done, std::move(r));
      }
    }
    journal_and_apply(self, req, env.done, std::move(d.c), outcome::ok, 0);
    return;
  }
  if (!req.idem.empty() && remembered(d.code)) {
    change c;
    c.kind = change_kind::refusal;
    c.version = st.rec.version();
    c.on_hand_before = c.on_hand_after = st.rec.on_hand();
    c.reserved_before = c.reserved_after = st.rec.reserved();
    c.backordered_before = c.backordered_after = st.rec.backordered();
    c.incoming_before = c.incoming_after = st.rec.incoming();
    c.policy = st.rec.policy();
    c.hold_seq = hold_seq_of(req);
    c.reason = d.message;
    const auto detail = d.code == outcome::limit_exceeded ? d.limit : d.available;
    journal_and_apply(self, req, env.done, std::move(c), d.code, detail);
    return;
  }
  reply_now(self, env.done, refusal_reply(d, st.key, st.rec));
}

void read_history(self_ptr self, const envelope& env) {
  auto& st = self->state;
  const auto limit = env.req.limit > 0 ? env.req.limit : limits::history_limit_default;
  const auto p = st.partition;
  journal(self).run(p, [key = st.key, before = env.req.before_version, limit, p,
                        done = env.done](persistence::partition_store& store) {
    std::vector<journal_entry> rows;
    if (auto s = store.history(key, before, limit, &rows); !s) {
      done(reply::error(outcome::internal, s.message()));
      return;
    }
    reply r;
    r.code = outcome::ok;
    r.events.reserve(rows.size());
    for (auto& row : rows) r.events.push_back(persistence::history_event_of(std::move(row), p));
    done(std::move(r));
  });
}

void list_holds(self_ptr self, const envelope& env) {
  auto& st = self->state;
  reply r;
  r.code = outcome::ok;
  const auto now = now_ms(*self->state.ctx);
  for (const auto& h : st.rec.holds())
    if (h.expires_at_ms == 0 || h.expires_at_ms > now)  // 0: an order's hold
      r.holds.push_back({format_hold_id({st.partition, h.seq}), h.qty, h.expires_at_ms, h.ref});
  reply_now(self, env.done, std::move(r));
}

// Runs a request against the record now.
void execute(self_ptr self, envelope& env) {
  auto& st = self->state;
  auto& rec = st.rec;
  const auto& req = env.req;
  const auto& holds = st.ctx->settings.holds;
  const auto now = now_ms(*self->state.ctx);
  if (targets_hold(req.kind) && req.key.tenant != st.key.tenant) {
    // Another tenant's hold: exactly what a never-issued id gets.
    reply_now(self, env.done, reply::error(outcome::hold_not_found, "no such hold"));
    return;
  }
  if (const auto& allowed = req.warehouses_allowed;
      allowed && std::find(allowed->begin(), allowed->end(), st.key.warehouse) == allowed->end()) {
    reply_now(self, env.done,
              reply::error(outcome::forbidden, "this key may not use warehouse " + st.key.warehouse));
    return;
  }
  // adjust, set and a transfer's incoming may create a record.
  if (!rec.exists() && req.kind != op::adjust && req.kind != op::set &&
      req.kind != op::incoming) {
    reply_now(self, env.done, reply::error(outcome::not_found, "record never stocked"));
    return;
  }
  const auto hold_seq = hold_seq_of(req);
  if (const hold* h = hold_seq ? rec.find_hold(hold_seq) : nullptr;
      h && is_order_ref(h->ref) && !req.internal) {
    reply_now(self, env.done,
              reply::error(outcome::forbidden,
                           "hold belongs to " + h->ref.substr(order_ref_prefix.size()) +
                               ": use order.commit, order.release or order.extend"));
    return;
  }
  switch (req.kind) {
    case op::get: {
      reply r;
      r.code = outcome::ok;
      r.has_record = true;
      r.record = view_of(st.key, rec);
      // An order's planning read is advisory (the records decide when the
      // lines are held): it need not wait for durability.
      if (req.internal) return env.done(std::move(r));
      reply_now(self, env.done, std::move(r));
      return;
    }
    case op::holds: return list_holds(self, env);
    case op::history: return read_history(self, env);
    case op::adjust: return settle(self, env, rec.decide_adjust(req.delta, req.reason));
    case op::set:
      return settle(self, env, rec.decide_set(req.on_hand, req.expected_version, req.reason));
    case op::reserve: {
      const auto ttl = req.ttl_ms > 0 ? req.ttl_ms : static_cast<std::int64_t>(holds.default_ttl_ms);
      return settle(self, env,
                    rec.decide_reserve(*req.qty, now, ttl, req.ref, holds.holds_per_record_max));
    }
    case op::commit: return settle(self, env, rec.decide_commit(hold_seq, req.qty, now));
    case op::release: return settle(self, env, rec.decide_release(hold_seq, req.qty, now));
    case op::extend: return settle(self, env, rec.decide_extend(hold_seq, now, req.ttl_ms));
    case op::sell: return settle(self, env, rec.decide_sell(*req.qty, req.reason));
    case op::policy:
      return settle(self, env,
                    rec.decide_policy(req.safety_stock, req.allow_backorder,
                                      req.low_stock_threshold));
    case op::transfer_out:
      return settle(self, env, rec.decide_transfer_out(*req.qty, req.reason));
    case op::incoming: return settle(self, env, rec.decide_incoming(req.delta, req.reason));
    case op::receive: return settle(self, env, rec.decide_receive(*req.qty, req.reason));
    case op::transfer_back:
      return settle(self, env, rec.decide_transfer_back(*req.qty, req.reason));
  }
}

// Starts a request: an idempotent mutation first looks its key up (and the
// record waits for the answer); everything else runs now.
void start(self_ptr self, envelope&& env) {
  auto& st = self->state;
  if (!is_mutation(env.req.kind) || env.req.idem.empty() || (env.req.internal && env.req.idem_fresh)) {
    execute(self, env);
    return;
  }
  const auto hold_seq = hold_seq_of(env.req);
  auto key = hold_seq ? record_key{env.req.key.tenant, {}, {}} : st.key;
  auto idem = env.req.idem;
  st.awaited.emplace(std::move(env));
  auto me = caf::actor_cast<record_actor>(self);
  journal(self).lookup_idempotent(
      st.partition, std::move(key), hold_seq, std::move(idem),
      [me](const status& s, std::optional<journal_entry> found) {
        caf::anon_send(me, idem_atom::value, idem_result{s, std::move(found)});
      });
}

void drain(self_ptr self) {
  auto& st = self->state;
  while (!st.awaited && st.next_deferred < st.deferred.size())
    start(self, std::move(st.deferred[st.next_deferred++]));
  if (st.next_deferred == st.deferred.size()) {
    st.next_deferred = 0;
    if (st.deferred.capacity() > 64) std::vector<envelope>().swap(st.deferred);
    st.deferred.clear();
  }
}

void on_idempotency(self_ptr self, idem_result& r) {
  auto& st = self->state;
  auto env = std::move(*st.awaited);
  st.awaited.reset();
  if (!r.st) {
    env.done(unavailable(self, "idempotency look-up failed: " + r.st.message()));
  } else if (!r.found) {
    execute(self, env);
  } else if (r.found->fingerprint != request_fingerprint(env.req)) {
    reply_now(self, env.done,
              reply::error(outcome::idempotency_mismatch,
                           "idem: key already used for a different request"));
  } else {
    auto rep = reply_from_entry(*r.found, st.partition);
    rep.replayed = true;
    deliver_after(self, r.found->seq, env.done, std::move(rep));
  }
  drain(self);
}

void on_request(self_ptr self, envelope& env) {
  auto& st = self->state;
  ++st.handled;
  st.last_active_ms = now_ms(*self->state.ctx);
  if (st.awaited) {
    if (st.deferred.size() - st.next_deferred >= limits::deferred_per_record_max) {
      env.done(reply::error(outcome::overloaded, "too many requests queued for this record"));
      return;
    }
    st.deferred.push_back(std::move(env));
    return;
  }
  start(self, std::move(env));
}

void on_expire(self_ptr self) {
  auto& st = self->state;
  st.timer_at_ms = 0;
  for (auto seq : st.rec.due_holds(now_ms(*self->state.ctx))) {
    journal_entry e;
    e.at_ms = now_ms(*self->state.ctx);
    e.key = st.key;
    e.c = st.rec.decide_expire(seq);
    e.result = outcome::ok;
    auto c = e.c;
    const auto appended = journal(self).append(st.partition, std::move(e), {});
    if (appended == 0) {
      // The partition is degraded (or stopping): try again after the disk
      // retry interval, when the journal may take the release.
      const auto retry_ms = static_cast<epoch_ms>(st.ctx->settings.journal.disk_retry_interval_ms);
      st.timer_at_ms = now_ms(*self->state.ctx) + retry_ms;
      self->delayed_send(self, std::chrono::milliseconds(retry_ms), expire_atom::value);
      return;
    }
    st.last_seq = appended;
    st.rec.apply(c);
    self->send(st.parent, hold_atom::value, seq, st.key, false);
  }
  schedule_expiry(self);
}

// Stopped with requests still waiting (the partition drops its records when
// its journal turns degraded; shutdown): they are answered rather than lost.
void on_stop(self_ptr self) {
  auto& st = self->state;
  const auto why = "record stopped before it could answer (its partition reloads it, or the node is stopping)";
  if (st.awaited) st.awaited->done(unavailable(self, why));
  st.awaited.reset();
  for (auto i = st.next_deferred; i < st.deferred.size(); ++i) st.deferred[i].done(unavailable(self, why));
  st.deferred.clear();
  st.next_deferred = 0;
  self->quit();
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  const auto idle_ms = static_cast<epoch_ms>(st.ctx->settings.node.passivate_idle_ms);
  const auto idle_for = now_ms(*self->state.ctx) - st.last_active_ms;
  if (idle_for >= idle_ms && st.rec.hold_count() == 0 && !st.awaited)
    self->send(st.parent, passivate_atom::value, st.key, st.handled);
  const auto wait = idle_for >= idle_ms ? idle_ms : idle_ms - idle_for;
  self->delayed_send(self, std::chrono::milliseconds(wait), tick_atom::value);
}

}  // namespace

namespace {
record_actor::behavior_type record_behavior(self_ptr self, node_context* ctx,
                                            std::uint32_t partition, partition_actor parent,
                                            record_key key, persistence::record_image image) {
  auto& st = self->state;
  st.ctx = ctx;
  st.partition = partition;
  st.parent = std::move(parent);
  st.key = std::move(key);
  st.rec.restore(image.on_hand, image.reserved, image.version, std::move(image.holds));
  st.rec.restore_policy(image.policy, image.backordered, image.incoming);
  st.last_seq = image.last_seq;
  st.last_active_ms = now_ms(*self->state.ctx);
  schedule_expiry(self);
  self->delayed_send(self, std::chrono::milliseconds(ctx->settings.node.passivate_idle_ms),
                     tick_atom::value);
  return {
      [=](envelope& env) { on_request(self, env); },
      [=](expire_atom) { on_expire(self); },
      [=](tick_atom) { on_tick(self); },
      [=](idem_atom, idem_result& r) { on_idempotency(self, r); },
      [=](stop_atom) { on_stop(self); },
  };
}
}  // namespace

record_actor spawn_record(caf::actor_system& system, node_context* ctx, std::uint32_t partition,
                          partition_actor parent, record_key key,
                          persistence::record_image image) {
  return system.spawn(record_behavior, ctx, partition, std::move(parent), std::move(key),
                      std::move(image));
}

}  // namespace stockgrid::actors
