// The transfer coordinator: one actor per open transfer (coordination.hpp).
//
//   creating    transfer_out at `from` (the units can no longer be sold
//               there), then incoming at `to`; refused at `from` -> failed.
//   in_transit  each receipt is put in the document first (unapplied), then
//               received at `to` (incoming -> on_hand), then marked applied;
//               everything received -> received.
//   cancelling  withdraws what is still incoming at `to`, then returns it to
//               `from` (transfer_back) -> cancelled.
//
// As for orders, the document is put before each phase (and each receipt) and
// every step carries an idempotency key derived from it ("sg:<id>/out",
// "<id>/in", "<id>/r<n>", "<id>/cin", "<id>/cout", "<id>/back"), so a
// coordinator restarted after a crash re-runs its phase and nothing is lost
// or applied twice.
#include <algorithm>
#include <chrono>
#include <utility>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/clock.hpp"
#include "actors/coordination.hpp"
#include "config/limits.hpp"

namespace stockgrid::actors {

using orders::transfer_reply;
using orders::transfer_status;

struct transfer_state {
  coordination_context* cc = nullptr;
  orders::transfer t;
  std::optional<transfer_call> creator;
  std::vector<transfer_call> phase_calls;  // the calls that started the phase in progress
  std::vector<transfer_call> waiting;      // other calls that came meanwhile
  bool busy = false;
  std::uint64_t step = 0;
  int retries = 0;
  int refusals = 0;  // remembered refusals of the step in flight: its retries need keys of their own
  std::set<std::uint32_t> touched;  // partitions the phase's steps went to
  // What the put in flight announces, if it comes before its steps.
  enum class intent_kind { none, create, receipt, cancel } intent = intent_kind::none;
  bool resumed = false;  // started from the store at recovery: step keys may have been used
  // The journal or the store failed under this transfer (or it was never
  // stored): calls get UNAVAILABLE at once until a restart resumes it.
  bool broken = false;
  bool touching = false;    // a touch's put is on its way (touch)
  epoch_ms touched_ms = 0;  // when the last touch that was stored was made
  bool failure_remembered = false;  // failed at `from` with INSUFFICIENT_STOCK
  bool told_creator = false;  // the creator got UNAVAILABLE while steps keep retrying
  bool ended = false;
  static inline const char* name = "stockgrid.transfer";
};

namespace {

using self_ptr = transfer_coordinator::stateful_pointer<transfer_state>;

constexpr int retries_before_answer = 5;
constexpr int retries_before_answer_cluster = 8;

transfer_reply ok_transfer(const orders::transfer& t, bool replayed) {
  transfer_reply r;
  r.code = outcome::ok;
  r.has_transfer = true;
  r.doc = t;
  r.replayed = replayed;
  return r;
}

transfer_reply refused(const orders::transfer& t, outcome code, std::string message) {
  auto r = transfer_reply::error(code, std::move(message));
  r.has_transfer = true;
  r.doc = t;
  return r;
}

transfer_reply create_outcome(const orders::transfer& t, bool replayed) {
  if (t.status != transfer_status::failed) return ok_transfer(t, replayed);
  auto r = refused(t, outcome::insufficient_stock, t.failure);
  r.available = t.failure_available;
  r.replayed = replayed;
  return r;
}

const orders::receipt* find_receipt(const orders::transfer& t, const std::string& idem) {
  if (idem.empty()) return nullptr;
  for (const auto& r : t.receipts)
    if (r.idem == idem) return &r;
  return nullptr;
}

}  // namespace

bool permitted(const orders::caller& who, const orders::transfer& t) {
  return who.may_use(t.from) && who.may_use(t.to);
}

transfer_reply answer_final(const orders::transfer& t, const transfer_call& call) {
  const auto& req = call.req;
  const auto status_text = std::string(orders::wire_status(t.status));
  switch (req.kind) {
    case orders::transfer_op::get: return ok_transfer(t, false);
    case orders::transfer_op::create: return create_outcome(t, true);
    case orders::transfer_op::receive:
      if (const auto* r = find_receipt(t, req.idem)) {
        if (req.qty && *req.qty != r->qty)
          return transfer_reply::error(outcome::idempotency_mismatch,
                                       "idem: key already used for a different receipt");
        return ok_transfer(t, true);
      }
      return refused(t, outcome::bad_request, "transfer " + t.id + " is " + status_text + ": nothing in transit");
    case orders::transfer_op::cancel:
      if (t.status == transfer_status::cancelled) return ok_transfer(t, true);
      return refused(t, outcome::bad_request, "transfer " + t.id + " is " + status_text + ": nothing to cancel");
  }
  return transfer_reply::error(outcome::internal, "unknown transfer op");
}

namespace {

void run_phase(self_ptr self);
void handle_call(self_ptr self, transfer_call&& call);

void save(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  st.t.updated_ms = now_ms();
  auto me = caf::actor_cast<transfer_coordinator>(self);
  auto doc = to_document(st.t);
  // Only INSUFFICIENT_STOCK at `from` is remembered under the client's key;
  // another refusal (a `from` never stocked) is decided anew on a retry.
  if (st.t.status == transfer_status::failed && !st.failure_remembered) doc.idem.clear();
  if (!put_document(st.cc, std::move(doc), [me](const persistence::status& s) {
        caf::anon_send(me, saved_atom::value, s);
      }))
    caf::anon_send(me, saved_atom::value, persistence::status::io_error("document queue full or stopped"));
}

request step_request(const orders::transfer& t, op kind, const std::string& warehouse,
                     std::string idem_suffix) {
  request r;
  r.kind = kind;
  r.internal = true;
  r.key = {t.tenant, warehouse, t.sku};
  r.key_id = t.key_id;
  r.idem = std::string(internal_idem_prefix) + t.id + "/" + std::move(idem_suffix);
  r.reason = "transfer " + t.id;
  return r;
}

// The next step of the phase, or nullopt when the phase's steps are done.
std::optional<request> next_step(const orders::transfer& t) {
  switch (t.status) {
    case transfer_status::creating: {
      if (!t.out_done) {
        auto r = step_request(t, op::transfer_out, t.from, "out");
        r.qty = t.qty;
        return r;
      }
      if (!t.in_done) {
        auto r = step_request(t, op::incoming, t.to, "in");
        r.delta = t.qty;
        return r;
      }
      return std::nullopt;
    }
    case transfer_status::in_transit: {
      for (std::size_t i = 0; i < t.receipts.size(); ++i) {
        if (t.receipts[i].applied) continue;
        auto r = step_request(t, op::receive, t.to, "r" + std::to_string(i));
        r.qty = t.receipts[i].qty;
        return r;
      }
      return std::nullopt;
    }
    case transfer_status::cancelling: {
      const auto rest = t.remaining();
      if (rest == 0) return std::nullopt;
      if (!t.cancel_in_done) {
        auto r = step_request(t, op::incoming, t.to, "cin");
        r.delta = -rest;
        return r;
      }
      if (!t.cancel_out_done) {
        auto r = step_request(t, op::transfer_back, t.from, "cout");
        r.qty = rest;
        return r;
      }
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

void settle(self_ptr self) {
  auto& st = self->state;
  st.busy = false;
  st.retries = 0;
  if (st.creator) {
    auto call = std::move(*st.creator);
    st.creator.reset();
    call.done(create_outcome(st.t, st.told_creator));
  }
  auto started = std::move(st.phase_calls);
  st.phase_calls.clear();
  for (auto& call : started) call.done(ok_transfer(st.t, false));
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& call : waiting) handle_call(self, std::move(call));
  if (orders::is_final(st.t.status) && !st.ended) {
    st.ended = true;
    self->send(st.cc->directory, ended_atom::value, persistence::document_kind::transfer, st.t.id);
  }
}

// An open transfer whose document was last stored long ago puts it again
// (touch_age_ms), as the order coordinator does (order_actor.cpp, touch);
// not while a put that announces a step is on its way (it could be undone).
void touch(self_ptr self) {
  auto& st = self->state;
  if (st.touching || st.broken || st.ended || st.intent != transfer_state::intent_kind::none ||
      orders::is_final(st.t.status))
    return;
  if (now_ms() - std::max(st.t.updated_ms, st.touched_ms) < touch_age_ms(st.cc)) return;
  st.touching = true;
  put_touch(st.cc, caf::actor_cast<transfer_coordinator>(self), to_document(st.t), now_ms());
}

// Before a document put that says steps happened, the partitions they went
// to are made durable (steps are answered as soon as applied).
void seal(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  if (st.touched.empty()) return save(self);
  sync_partitions(st.cc, caf::actor_cast<transfer_coordinator>(self), st.touched);
  st.touched.clear();
}

void on_synced(self_ptr self, const persistence::status& s) {
  auto& st = self->state;
  if (s) return save(self);
  spdlog::error("transfer {}: journal failed before the step could be recorded: {}", st.t.id, s.message());
  st.broken = true;
  st.busy = false;
  const auto fail = [&](transfer_call& c) { c.done(refused(st.t, outcome::unavailable, "journal unavailable")); };
  if (st.creator) fail(*st.creator);
  st.creator.reset();
  for (auto* calls : {&st.phase_calls, &st.waiting}) {
    for (auto& c : *calls) fail(c);
    calls->clear();
  }
}

// The phase's steps are done: its end state, put.
void finish_phase(self_ptr self) {
  auto& t = self->state.t;
  switch (t.status) {
    case transfer_status::creating: t.status = transfer_status::in_transit; break;
    case transfer_status::in_transit:
      if (t.remaining() == 0) t.status = transfer_status::received;
      break;
    case transfer_status::cancelling: t.status = transfer_status::cancelled; break;
    default: break;
  }
  seal(self);
}

void run_phase(self_ptr self) {
  auto& st = self->state;
  auto step = next_step(st.t);
  if (!step) return finish_phase(self);
  if (st.refusals > 0) step->idem += "." + std::to_string(st.refusals);
  // Never in a cluster: a coordinator at an earlier home, not stopped yet,
  // may send the same key.
  step->idem_fresh = !st.cc->node->routes && !st.resumed && st.retries == 0;
  send_step(st.cc, caf::actor_cast<transfer_coordinator>(self), ++st.step, std::move(*step), &st.touched);
}

// Marks the step that just succeeded as done in the document.
void step_done(orders::transfer& t) {
  switch (t.status) {
    case transfer_status::creating:
      (t.out_done ? t.in_done : t.out_done) = true;
      break;
    case transfer_status::in_transit:
      for (auto& r : t.receipts)
        if (!r.applied) {
          r.applied = true;
          break;
        }
      break;
    case transfer_status::cancelling:
      (t.cancel_in_done ? t.cancel_out_done : t.cancel_in_done) = true;
      break;
    default: break;
  }
}

void on_step(self_ptr self, step_result& s) {
  auto& st = self->state;
  if (s.step != st.step) return;
  auto& t = st.t;
  const auto& r = s.r;
  if (r.code == outcome::ok) {
    step_done(t);
    st.retries = 0;
    st.refusals = 0;
    // A receipt is put once applied, before the next one runs.
    if (t.status == transfer_status::in_transit) return finish_phase(self);
    return run_phase(self);
  }
  if (t.status == transfer_status::creating && !t.out_done && !transient(r.code)) {
    // Refused at `from`: nothing moved.
    t.status = transfer_status::failed;
    t.failure = t.from + "/" + t.sku + ": " + (r.message.empty() ? std::string(to_code(r.code)) : r.message);
    t.failure_available = r.code == outcome::insufficient_stock ? r.available : 0;
    st.failure_remembered = r.code == outcome::insufficient_stock;
    return seal(self);
  }
  // Every other step must happen (the stock has moved): retry, backing off
  // to 5 s; a creator waiting that long is told to retry with its idem.
  if (!transient(r.code) && st.retries == 0)
    spdlog::error("transfer {}: step refused ({}: {}), retrying", t.id, to_code(r.code), r.message);
  if (remembered(r.code)) ++st.refusals;
  ++st.retries;
  // In a cluster a failover takes a few seconds: about 10 s (8 retries).
  const int answer_after = st.cc->node->routes ? retries_before_answer_cluster : retries_before_answer;
  if (st.retries == answer_after && st.creator && !st.told_creator) {
    st.told_creator = true;
    st.creator->done(transfer_reply::error(outcome::unavailable,
                                           "transfer " + t.id + " is still being created: retry with the same idem"));
    st.creator.reset();
  }
  const auto delay = std::min(5000, 20 << std::min(st.retries, 8));
  self->delayed_send(self, std::chrono::milliseconds(delay), retry_atom::value);
}

void on_saved(self_ptr self, const persistence::status& s) {
  auto& st = self->state;
  if (!s) {
    spdlog::error("transfer {}: document put failed: {}", st.t.id, s.message());
    // In a cluster a put that failed may still be stored by the home
    // partition's next leader, where the transfer goes on: unknown outcome.
    const bool cluster = st.cc->node->routes != nullptr;
    const auto fail = [&](transfer_call& c) {
      c.done(cluster ? refused(st.t, outcome::timeout,
                               "transfer journal unavailable; it may go on at the tenant's next order home: read "
                               "it, or retry with the same idem")
                     : refused(st.t, outcome::unavailable, "transfer journal unavailable"));
    };
    if (st.creator) fail(*st.creator);
    st.creator.reset();
    for (auto* calls : {&st.phase_calls, &st.waiting}) {
      for (auto& c : *calls) fail(c);
      calls->clear();
    }
    // A put that announced a step (nothing applied yet) is undone, so that
    // UNAVAILABLE means nothing happened; a put that records steps already
    // applied is tried again, backing off (the store keeps the previous one).
    using intent_kind = transfer_state::intent_kind;
    switch (std::exchange(st.intent, intent_kind::none)) {
      case intent_kind::create:
        st.busy = false;
        st.broken = true;
        st.ended = true;  // nothing moved: the transfer never existed
        self->send(st.cc->directory, ended_atom::value, persistence::document_kind::transfer, st.t.id);
        return;
      case intent_kind::receipt:
        st.t.receipts.pop_back();
        st.busy = false;
        return;
      case intent_kind::cancel:
        st.t.status = transfer_status::in_transit;
        st.busy = false;
        return;
      case intent_kind::none:
        ++st.retries;
        self->delayed_send(self, std::chrono::milliseconds(std::min(5000, 20 << std::min(st.retries, 8))),
                           resave_atom::value);
        return;
    }
  }
  st.intent = transfer_state::intent_kind::none;
  st.retries = 0;
  if (orders::is_final(st.t.status)) return settle(self);
  // A phase's first put, or a receipt's: run (or continue) the steps. A
  // phase whose steps are all done settles.
  if (next_step(st.t)) return run_phase(self);
  if (st.t.status == transfer_status::in_transit) return settle(self);
  finish_phase(self);
}

void handle_call(self_ptr self, transfer_call&& call) {
  auto& st = self->state;
  auto& t = st.t;
  const auto& req = call.req;
  if (!permitted(req.who, t))
    return call.done(transfer_reply::error(outcome::forbidden,
                                           "this key may not use both warehouses of this transfer"));
  if (st.broken)
    return call.done(refused(t, outcome::unavailable, "transfer " + t.id + " is unavailable until the node restarts"));
  if (req.kind == orders::transfer_op::get) return call.done(ok_transfer(t, false));
  if (req.kind == orders::transfer_op::create && orders::fingerprint(req) != t.fingerprint)
    return call.done(transfer_reply::error(outcome::idempotency_mismatch,
                                           "idem: key already used for a different request"));
  if (st.busy) {
    if (st.waiting.size() >= limits::coordinator_waiting_max)
      return call.done(transfer_reply::error(outcome::overloaded, "too many calls wait on this transfer"));
    st.waiting.push_back(std::move(call));
    return;
  }
  if (t.status != transfer_status::in_transit) return call.done(answer_final(t, call));
  switch (req.kind) {
    case orders::transfer_op::create: return call.done(create_outcome(t, true));
    case orders::transfer_op::receive: {
      if (find_receipt(t, req.idem)) return call.done(answer_final(t, call));
      const auto rest = t.remaining();
      const auto qty = req.qty.value_or(rest);
      if (qty <= 0 || qty > rest)
        return call.done(refused(t, outcome::bad_request,
                                 "qty: must be between 1 and the " + std::to_string(rest) + " in transit"));
      if (t.receipts.size() >= limits::transfer_receipts_max) {
        auto r = refused(t, outcome::limit_exceeded, "too many receipts on this transfer");
        return call.done(std::move(r));
      }
      t.receipts.push_back({req.idem, qty, false, now_ms()});
      st.phase_calls.push_back(std::move(call));
      st.intent = transfer_state::intent_kind::receipt;
      return save(self);
    }
    case orders::transfer_op::cancel:
      t.status = transfer_status::cancelling;
      st.phase_calls.push_back(std::move(call));
      st.intent = transfer_state::intent_kind::cancel;
      return save(self);
    case orders::transfer_op::get: break;
  }
}

void stop(self_ptr self) {
  auto& st = self->state;
  // In a cluster the transfer goes on at the tenant's next order home: the
  // outcome of what waited is unknown there.
  const auto r = [cluster = st.cc->node->routes != nullptr] {
    return cluster ? transfer_reply::error(outcome::timeout,
                                           "the transfer's coordinator stopped here (order home moved or node "
                                           "stopping); it may go on at the next home: read it, or retry with the "
                                           "same idem")
                   : transfer_reply::error(outcome::unavailable, "node is stopping");
  };
  if (st.creator) st.creator->done(r());
  st.creator.reset();
  for (auto* calls : {&st.phase_calls, &st.waiting}) {
    for (auto& c : *calls) c.done(r());
    calls->clear();
  }
  self->quit();
}

transfer_coordinator::behavior_type transfer_behavior(self_ptr self, coordination_context* cc,
                                                      orders::transfer doc,
                                                      std::optional<transfer_call> creator) {
  auto& st = self->state;
  st.cc = cc;
  st.t = std::move(doc);
  st.creator = std::move(creator);
  if (st.creator) {
    st.intent = transfer_state::intent_kind::create;
    save(self);  // a new transfer's document first
  } else if (!orders::is_final(st.t.status)) {
    st.resumed = true;
    st.busy = true;
    if (next_step(st.t)) run_phase(self);
    else if (st.t.status == transfer_status::in_transit) st.busy = false;
    else finish_phase(self);
  }
  return {
      [=](transfer_call& call) { handle_call(self, std::move(call)); },
      [=](step_atom, step_result& s) { on_step(self, s); },
      [=](saved_atom, const persistence::status& s) { on_saved(self, s); },
      [=](synced_atom, const persistence::status& s) { on_synced(self, s); },
      [=](resave_atom) { save(self); },
      [=](touch_atom) { touch(self); },
      [=](touched_atom, const persistence::status& s, epoch_ms at) {
        // A failed touch changes nothing: the next one tries again.
        auto& st = self->state;
        st.touching = false;
        if (s) st.touched_ms = std::max(st.touched_ms, at);
        else spdlog::warn("transfer {}: its document was not put again: {}", st.t.id, s.message());
      },
      [=](retry_atom) {
        if (self->state.busy) run_phase(self);
      },
      [=](stop_atom) { stop(self); },
  };
}

}  // namespace

transfer_coordinator spawn_transfer(caf::actor_system& system, coordination_context* cc,
                                    orders::transfer doc, std::optional<transfer_call> creator) {
  return system.spawn(transfer_behavior, cc, std::move(doc), std::move(creator));
}

}  // namespace stockgrid::actors
