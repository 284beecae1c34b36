// The order coordinator: one actor per open order (coordination.hpp). It runs
// the order's phases one step at a time:
//
//   reserving  hold each line, in the order's line order (by warehouse, SKU:
//              one global order, so two orders competing for the same records
//              meet on the first one and never hold each other's stock).
//              all_or_nothing: on the first short line the rest are only
//              read (to report every short line), then every hold taken is
//              released and the order is `failed`. partial: a short line is
//              held for what is available and the rest is `unfilled`.
//   held       waits for commit, release, extend or its deadline.
//   committing commits every hold; journaled first, so from here the order's
//              holds can no longer expire or be released: never half sold.
//   releasing, expiring   releases every hold.
//
// The document is put before the first step of committing, releasing and
// expiring, and when each phase ends (after the partitions its steps touched
// are durable: steps are answered as soon as applied). Steps in between are
// not journaled: each has an idempotency key (orders::step_idem), so a
// coordinator restarted from its document re-runs the phase and every step
// already applied replays its first outcome. Reserving is not journaled
// before it starts: its holds name the order (ref "order:<id>"), and a start
// releases the holds of every order that is not open (grid.cpp).
#include <algorithm>
#include <chrono>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/clock.hpp"
#include "actors/coordination.hpp"

namespace stockgrid::actors {

using orders::order_reply;
using orders::order_status;

struct order_state {
  coordination_context* cc = nullptr;
  orders::order o;
  std::optional<order_call> creator;  // the order.reserve that created the order
  std::vector<order_call> phase_calls;  // the calls that started the phase in progress
  std::vector<order_call> waiting;      // other calls that came during a phase
  bool busy = false;                  // a phase (or its put) is in progress
  std::uint64_t step = 0;             // number of the step in flight
  std::size_t line = 0;               // the line the phase is at
  bool second_try = false;            // partial: the line's reserve of what was available
  bool probing = false;               // all_or_nothing after a short line: reads only
  int retries = 0;
  // Remembered refusals of the current line's commit (backordered units):
  // each retry then needs a key of its own ("<id>/c0.1", ...), or it would
  // replay the refusal. The sequence is the same after a restart, since
  // every refusal in it was journaled.
  int refusals = 0;
  std::set<std::uint32_t> touched;    // partitions the phase's steps went to
  bool stored = false;                // a put of the document succeeded (or it was recovered)
  bool touching = false;              // a touch's put is on its way
  epoch_ms touched_ms = 0;            // when the last touch that was stored was made
  // The journal or the store failed under this order: it cannot go on until
  // a restart resumes it from its document; calls get UNAVAILABLE at once.
  bool broken = false;
  // A commit waits for backordered units to arrive (the order stays
  // committing); calls are answered at once instead of waiting.
  bool awaiting_stock = false;
  bool ended = false;                 // final and saved: the directory was told
  static inline const char* name = "stockgrid.order";
};

namespace {

using self_ptr = order_coordinator::stateful_pointer<order_state>;

constexpr std::size_t waiting_max = 64;
constexpr int reserve_retries_max = 5;
// In a cluster, the retries of a reserve step after which the client that
// created the order is told TIMEOUT (about 10 s; the step goes on).
constexpr int reserve_retries_answered_cluster = 8;

request step_request(const orders::order& o, op kind) {
  request r;
  r.kind = kind;
  r.internal = true;
  r.key.tenant = o.tenant;
  r.key_id = o.key_id;
  return r;
}

order_reply ok_order(const orders::order& o, bool replayed) {
  order_reply r;
  r.code = outcome::ok;
  r.has_order = true;
  r.doc = o;
  r.replayed = replayed;
  return r;
}

order_reply refused(const orders::order& o, outcome code, std::string message) {
  auto r = order_reply::error(code, std::move(message));
  r.has_order = true;
  r.doc = o;
  return r;
}

// The reply a reserve gets once its order settled: the same for the first
// call and for every retry with its idempotency key.
order_reply reserve_outcome(const orders::order& o, bool replayed) {
  if (o.status != order_status::failed) return ok_order(o, replayed);
  auto r = refused(o, o.failure_code, o.failure);
  r.shortages = o.shortages;
  r.replayed = replayed;
  return r;
}

}  // namespace

bool permitted(const orders::caller& who, const orders::order& o) {
  return std::all_of(o.lines.begin(), o.lines.end(),
                     [&](const auto& l) { return who.may_use(l.warehouse); });
}

order_reply answer_final(const orders::order& o, const order_call& call) {
  const auto& req = call.req;
  const auto status_text = std::string(orders::wire_status(o.status));
  switch (req.kind) {
    case orders::order_op::get: return ok_order(o, false);
    case orders::order_op::reserve: return reserve_outcome(o, true);
    case orders::order_op::commit:
      if (o.status == order_status::committed) return ok_order(o, true);
      return refused(o, outcome::hold_not_found, "order " + o.id + " is " + status_text);
    case orders::order_op::release:
      if (o.status == order_status::released) return ok_order(o, true);
      return refused(o, outcome::hold_not_found, "order " + o.id + " is " + status_text);
    case orders::order_op::extend:
      return refused(o, outcome::hold_not_found, "order " + o.id + " is " + status_text);
  }
  return order_reply::error(outcome::internal, "unknown order op");
}

namespace {

void answer(const order_call& call, order_reply&& r) { call.done(std::move(r)); }

void arm_deadline(self_ptr self) {
  const auto delay = std::max<epoch_ms>(0, self->state.o.expires_at_ms - now_ms());
  self->delayed_send(self, std::chrono::milliseconds(delay), expire_atom::value);
}

void run_phase(self_ptr self);
void handle_call(self_ptr self, order_call&& call);

// Puts the document; the phase continues (or the calls are answered) once it
// is durable.
void save(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  st.o.updated_ms = now_ms();
  auto me = caf::actor_cast<order_coordinator>(self);
  auto doc = to_document(st.o);
  // A failure a retry must decide anew (UNAVAILABLE, OVERLOADED, ...) is not
  // remembered under the client's key.
  if (st.o.status == order_status::failed && !remembered(st.o.failure_code)) doc.idem.clear();
  if (!put_document(st.cc, std::move(doc), [me](const persistence::status& s) {
        caf::anon_send(me, saved_atom::value, s);
      }))
    caf::anon_send(me, saved_atom::value,
                   persistence::status::io_error("document queue full or stopped"));
}

// Ends a phase: its steps were answered as soon as applied, so first every
// partition they touched is made durable, then the document is put.
void seal(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  if (st.touched.empty()) return save(self);
  sync_partitions(st.cc, caf::actor_cast<order_coordinator>(self), st.touched);
  st.touched.clear();
}

void fail_calls(self_ptr self, const std::string& why);

// A new order that cannot be stored, or whose steps cannot be made durable,
// gives its holds back without it: nothing on disk names it but holds that
// may have reached the disk. The caller runs (or schedules) the phase.
void give_back(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.o.failure_code == outcome::ok) {
    st.o.failure_code = outcome::unavailable;
    st.o.failure = why;
  }
  st.o.status = order_status::releasing;
  st.line = 0;
  st.retries = 0;
}

void on_synced(self_ptr self, const persistence::status& s) {
  if (s) return save(self);
  // The journal failed: the steps may not be on disk, so the phase cannot be
  // called done. Callers are told; the order resumes at the next start.
  auto& st = self->state;
  spdlog::error("order {}: journal failed before the phase could end: {}", st.o.id, s.message());
  fail_calls(self, "journal unavailable");
  if (!st.stored && (st.o.status == order_status::held || st.o.status == order_status::failed)) {
    // A new order whose partition is degraded: its holds are given back
    // once the disk may take writes again. A release that reached the disk,
    // or a hold that never did, answers HOLD_NOT_FOUND; the phase's end
    // waits for durability again.
    give_back(self, "journal unavailable");
    st.retries = 1;  // the first line's release looks its key up
    const auto delay = st.cc->node->settings.journal.disk_retry_interval_ms;
    self->delayed_send(self, std::chrono::milliseconds(delay), retry_atom::value);
    return;
  }
  self->state.broken = true;
  self->state.busy = false;
}

// Enters a phase: journals the status, then runs its steps.
void enter(self_ptr self, order_status status) {
  auto& st = self->state;
  st.o.status = status;
  st.line = 0;
  st.second_try = false;
  st.probing = false;
  st.retries = 0;
  st.refusals = 0;
  save(self);
}

// The phase or its put ended: answer what waited and let the directory know
// once the order is final.
void settle(self_ptr self) {
  auto& st = self->state;
  st.busy = false;
  if (st.creator) {
    auto call = std::move(*st.creator);
    st.creator.reset();
    answer(call, reserve_outcome(st.o, false));
  }
  // The calls that started the phase get its outcome; the others are run now
  // against the settled order.
  auto started = std::move(st.phase_calls);
  st.phase_calls.clear();
  for (auto& call : started) {
    const bool reached = (call.req.kind == orders::order_op::commit &&
                          st.o.status == order_status::committed) ||
                         (call.req.kind == orders::order_op::release &&
                          st.o.status == order_status::released) ||
                         (call.req.kind == orders::order_op::extend &&
                          st.o.status == order_status::held);
    answer(call, reached ? ok_order(st.o, false) : answer_final(st.o, call));
  }
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& call : waiting) handle_call(self, std::move(call));
  if (orders::is_final(st.o.status)) {
    if (!st.ended) {
      st.ended = true;
      self->send(st.cc->directory, ended_atom::value, persistence::document_kind::order, st.o.id);
    }
  } else if (st.o.status == order_status::held && !st.busy) {
    arm_deadline(self);
  }
}

// In a cluster the outcome is unknown (TIMEOUT): a put that failed there may
// still be stored by the home partition's next leader, and the order goes on
// at the next home.
void fail_calls(self_ptr self, const std::string& why) {
  auto& st = self->state;
  const bool cluster = st.cc->node->routes != nullptr;
  const auto code = cluster ? outcome::timeout : outcome::unavailable;
  const auto text = cluster ? why + "; the order may go on at the tenant's next order home: read it, or retry with the same idem"
                            : why;
  if (st.creator) answer(*st.creator, refused(st.o, code, text));
  st.creator.reset();
  for (auto* calls : {&st.phase_calls, &st.waiting}) {
    for (auto& call : *calls) answer(call, refused(st.o, code, text));
    calls->clear();
  }
}

void on_saved(self_ptr self, const persistence::status& s) {
  auto& st = self->state;
  if (!s) {
    spdlog::error("order {}: document put failed: {}", st.o.id, s.message());
    fail_calls(self, "order journal unavailable");
    if (!st.stored && (st.o.status == order_status::held || st.o.status == order_status::releasing)) {
      // A new order whose first put failed (the put that ends the give-back
      // is tried too; if it fails, the next start releases the holds, as the
      // order is not open).
      give_back(self, "order journal unavailable");
      return run_phase(self);
    }
    if (!st.stored) {
      st.busy = false;
      st.broken = true;  // never stored: no replay of it, until the directory stops it
      st.ended = true;
      self->send(st.cc->directory, ended_atom::value, persistence::document_kind::order, st.o.id);
      return;
    }
    // The store keeps the previous phase: try the put again, backing off.
    // Calls meanwhile wait (at most coordinator_waiting_max).
    ++st.retries;
    self->delayed_send(self, std::chrono::milliseconds(std::min(5000, 20 << std::min(st.retries, 8))),
                       resave_atom::value);
    return;
  }
  st.stored = true;
  if (orders::is_final(st.o.status) || st.o.status == order_status::held) return settle(self);
  run_phase(self);
}

// --- reserving ----------------------------------------------------------------

// Whether the step's key cannot have been used: an order this process
// created (not resumed), on the step's first try.
// In a cluster never: a coordinator at an earlier home of the tenant, not
// stopped yet (frozen, cut off), may send the same key.
bool fresh_key(const order_state& st) {
  return !st.cc->node->routes && st.o.attempt == 0 && st.retries == 0;
}

void send_reserve(self_ptr self, std::int64_t qty) {
  auto& st = self->state;
  const auto& line = st.o.lines[st.line];
  auto r = step_request(st.o, op::reserve);
  r.key.warehouse = line.warehouse;
  r.key.sku = line.sku;
  r.qty = qty;
  r.ref = std::string(order_ref_prefix) + st.o.id;
  r.idem = orders::step_idem(st.o, st.second_try ? 'p' : 'r', st.line);
  r.idem_fresh = fresh_key(st);
  send_step(st.cc, caf::actor_cast<order_coordinator>(self), ++st.step, std::move(r), &st.touched);
}

// In a cluster a transient answer (UNAVAILABLE, TIMEOUT, OVERLOADED) leaves
// a reserve step's outcome unknown: its leader may have taken the hold and
// lost its lease, or a majority, before answering; and a home that resumes
// an order at start finds no leader at first. Order holds have no deadline
// of their own, so a line given up now could leave a hold no one releases.
// The step is retried with its key until it is decided, backing off to 5 s,
// as a commit's are; after about 10 s the client that created the order is
// told TIMEOUT (the order goes on: order.get, or the same idem, finds it).
void retry_reserve_in_cluster(self_ptr self) {
  auto& st = self->state;
  ++st.retries;
  if (st.retries == reserve_retries_answered_cluster && st.creator) {
    answer(*st.creator, refused(st.o, outcome::timeout,
                                "order " + st.o.id + " is still reserving (a partition it needs has no leader now): "
                                "read it with order.get, or retry with the same idem"));
    st.creator.reset();
  }
  self->delayed_send(self, std::chrono::milliseconds(std::min(5000, 20 << std::min(st.retries, 8))),
                     retry_atom::value);
}

void send_probe(self_ptr self) {
  auto& st = self->state;
  const auto& line = st.o.lines[st.line];
  auto r = step_request(st.o, op::get);
  r.key.warehouse = line.warehouse;
  r.key.sku = line.sku;
  send_step(st.cc, caf::actor_cast<order_coordinator>(self), ++st.step, std::move(r), &st.touched);
}

void finish_reserving(self_ptr self) {
  auto& st = self->state;
  auto& o = st.o;
  const bool any_held =
      std::any_of(o.lines.begin(), o.lines.end(), [](const auto& l) { return !l.hold.empty(); });
  if (o.failure_code == outcome::ok && !any_held) {
    o.failure_code = outcome::insufficient_stock;
    o.failure = "no line could be held";
  }
  if (o.failure_code != outcome::ok) {
    if (any_held) return enter(self, order_status::releasing);  // then failed
    o.status = order_status::failed;
    return seal(self);
  }
  // partial: lines that got nothing are only in `unfilled`.
  std::erase_if(o.lines, [](const auto& l) { return l.hold.empty(); });
  o.expires_at_ms = now_ms() + o.ttl_ms;
  o.status = order_status::held;
  seal(self);
}

void next_line(self_ptr self) {
  auto& st = self->state;
  ++st.line;
  st.second_try = false;
  st.retries = 0;
  st.refusals = 0;
  run_phase(self);
}

void short_line(self_ptr self, std::int64_t available) {
  auto& st = self->state;
  auto& line = st.o.lines[st.line];
  if (st.second_try) {
    // partial: what was available a moment ago is gone too.
    st.o.unfilled.push_back({line.sku, line.qty});
    return next_line(self);
  }
  st.o.shortages.push_back({line.sku, line.warehouse, line.qty, std::max<std::int64_t>(0, available)});
  if (st.o.policy == orders::order_policy::partial) {
    st.o.unfilled.push_back({line.sku, line.qty});
  } else if (st.o.failure_code == outcome::ok) {
    st.o.failure_code = outcome::insufficient_stock;
    st.o.failure = "not enough stock for every line";
    st.probing = true;
  }
  next_line(self);
}

void on_reserve_step(self_ptr self, reply& r) {
  auto& st = self->state;
  auto& line = st.o.lines[st.line];
  if (st.probing) {  // a read: report the line if it is short too
    if (r.code == outcome::ok && r.record.available() >= line.qty) return next_line(self);
    return short_line(self, r.code == outcome::ok ? r.record.available() : 0);
  }
  switch (r.code) {
    case outcome::ok:
      line.hold = r.hold;
      return next_line(self);
    case outcome::insufficient_stock:
      if (st.o.policy == orders::order_policy::partial && !st.second_try && r.available > 0 &&
          r.available < line.qty) {
        // Hold what is there; the rest is unfilled.
        st.second_try = true;
        st.o.unfilled.push_back({line.sku, line.qty - r.available});
        st.o.shortages.push_back({line.sku, line.warehouse, line.qty, r.available});
        line.qty = r.available;
        return send_reserve(self, line.qty);
      }
      return short_line(self, r.available);
    case outcome::not_found: return short_line(self, 0);
    default:
      if (transient(r.code) && st.cc->node->routes) return retry_reserve_in_cluster(self);
      if (transient(r.code) && ++st.retries <= reserve_retries_max) {
        self->delayed_send(self, std::chrono::milliseconds(20 << st.retries), retry_atom::value);
        return;
      }
      // Anything else fails the order as the record refused the line.
      if (st.o.failure_code == outcome::ok) {
        st.o.failure_code = r.code;
        st.o.failure = line.warehouse + "/" + line.sku + ": " + r.message;
      }
      st.probing = true;
      return next_line(self);
  }
}

// --- committing, releasing, expiring -------------------------------------------

void send_end_step(self_ptr self) {
  auto& st = self->state;
  const auto& line = st.o.lines[st.line];
  const bool commit = st.o.status == order_status::committing;
  auto r = step_request(st.o, commit ? op::commit : op::release);
  r.hold = line.hold;
  r.idem = orders::step_idem(st.o, commit ? 'c' : 'x', st.line);
  if (st.refusals > 0) r.idem += "." + std::to_string(st.refusals);
  r.idem_fresh = fresh_key(st);
  send_step(st.cc, caf::actor_cast<order_coordinator>(self), ++st.step, std::move(r), &st.touched);
}

void on_end_step(self_ptr self, reply& r) {
  auto& st = self->state;
  // A hold already gone was ended by this phase before a restart (its
  // idempotency entry aged out): the step is done.
  if (r.code == outcome::ok || r.code == outcome::hold_not_found) {
    st.o.lines[st.line].done = true;
    st.awaiting_stock = false;
    return next_line(self);
  }
  // These phases must finish: retry, backing off to 5 s. A commit refused
  // because its units are backordered waits for stock to arrive.
  if (!transient(r.code) && st.retries == 0)
    spdlog::warn("order {}: {} of line {} refused ({}), retrying", st.o.id,
                 orders::wire_status(st.o.status), st.line, r.message);
  if (remembered(r.code)) ++st.refusals;
  ++st.retries;
  const auto delay = std::min(5000, 20 << std::min(st.retries, 8));
  self->delayed_send(self, std::chrono::milliseconds(delay), retry_atom::value);
  // Callers of order.commit learn why it is slow instead of waiting.
  if (r.code == outcome::insufficient_stock) st.awaiting_stock = true;
  if (r.code == outcome::insufficient_stock) {
    auto started = std::move(st.phase_calls);
    st.phase_calls.clear();
    for (auto& call : started)
      answer(call, refused(st.o, outcome::insufficient_stock,
                           st.o.lines[st.line].warehouse + "/" + st.o.lines[st.line].sku +
                               ": units are backordered; the order commits once stock arrives"));
  }
}

order_status end_of(order_status phase, const orders::order& o) {
  switch (phase) {
    case order_status::committing: return order_status::committed;
    case order_status::expiring: return order_status::expired;
    default: return o.failure_code != outcome::ok ? order_status::failed : order_status::released;
  }
}

// Runs the current phase from st.line on.
void run_phase(self_ptr self) {
  auto& st = self->state;
  auto& o = st.o;
  if (o.status == order_status::reserving) {
    if (st.line >= o.lines.size()) return finish_reserving(self);
    if (st.probing) return send_probe(self);
    return send_reserve(self, o.lines[st.line].qty);
  }
  // Lines without a hold have nothing to end; lines done were ended before.
  while (st.line < o.lines.size() && (o.lines[st.line].hold.empty() || o.lines[st.line].done))
    ++st.line;
  if (st.line < o.lines.size()) return send_end_step(self);
  for (auto& l : o.lines) l.done = false;
  o.status = end_of(o.status, o);
  seal(self);
}

void on_step(self_ptr self, step_result& s) {
  auto& st = self->state;
  if (s.step != st.step) return;  // a reply to a step that was retried
  if (st.o.status == order_status::reserving) return on_reserve_step(self, s.r);
  on_end_step(self, s.r);
}

void on_retry(self_ptr self) {
  auto& st = self->state;
  if (!st.busy || st.line >= st.o.lines.size()) return;
  run_phase(self);
}

// --- client calls ----------------------------------------------------------------

void handle_call(self_ptr self, order_call&& call) {
  auto& st = self->state;
  auto& o = st.o;
  const auto& req = call.req;
  if (!permitted(req.who, o))
    return answer(call, order_reply::error(outcome::forbidden,
                                           "this key may not use every warehouse of this order"));
  if (st.broken)
    return answer(call, refused(o, outcome::unavailable, "order " + o.id + " is unavailable until the node restarts"));
  if (req.kind == orders::order_op::get) return answer(call, ok_order(o, false));
  if (req.kind == orders::order_op::reserve && orders::fingerprint(req) != o.fingerprint)
    return answer(call, order_reply::error(outcome::idempotency_mismatch,
                                           "idem: key already used for a different request"));
  if (st.awaiting_stock) {
    // Committing, waiting for backordered units: no point in queueing.
    if (req.kind == orders::order_op::commit)
      return answer(call, refused(o, outcome::insufficient_stock,
                                  "units are backordered; the order commits once stock arrives"));
    return answer(call, answer_final(o, call));
  }
  // The deadline passed but its timer has not run yet: expire first.
  if (!st.busy && o.status == order_status::held && now_ms() >= o.expires_at_ms &&
      req.kind != orders::order_op::reserve) {
    st.waiting.push_back(std::move(call));
    return enter(self, order_status::expiring);
  }
  if (st.busy) {
    if (st.waiting.size() >= waiting_max)
      return answer(call, order_reply::error(outcome::overloaded, "too many calls wait on this order"));
    st.waiting.push_back(std::move(call));
    return;
  }
  if (o.status != order_status::held) return answer(call, answer_final(o, call));
  switch (req.kind) {
    case orders::order_op::reserve: return answer(call, reserve_outcome(o, true));
    case orders::order_op::commit:
      st.phase_calls.push_back(std::move(call));
      return enter(self, order_status::committing);
    case orders::order_op::release:
      st.phase_calls.push_back(std::move(call));
      return enter(self, order_status::releasing);
    case orders::order_op::extend:
      o.expires_at_ms = now_ms() + req.ttl_ms;
      st.phase_calls.push_back(std::move(call));
      return save(self);
    case orders::order_op::get: break;
  }
}

// An open order whose document was last stored long ago puts it again
// (touch_age_ms), as it is now, also in the middle of a phase (a phase
// waiting for backordered stock can last days): the journal keeps the puts
// in the order they were made, so a phase's later put still comes after.
// Nothing waits for it, and a failure changes nothing: the next touch tries
// again.
void touch(self_ptr self) {
  auto& st = self->state;
  if (st.touching || st.broken || st.ended || !st.stored || orders::is_final(st.o.status)) return;
  if (now_ms() - std::max(st.o.updated_ms, st.touched_ms) < touch_age_ms(st.cc)) return;
  st.touching = true;
  put_touch(st.cc, caf::actor_cast<order_coordinator>(self), to_document(st.o), now_ms());
}

void on_touched(self_ptr self, const persistence::status& s, epoch_ms at) {
  auto& st = self->state;
  st.touching = false;
  if (s) st.touched_ms = std::max(st.touched_ms, at);
  else spdlog::warn("order {}: its document was not put again: {}", st.o.id, s.message());
}

void on_deadline(self_ptr self) {
  auto& st = self->state;
  if (st.busy || st.o.status != order_status::held) return;
  if (now_ms() < st.o.expires_at_ms) return arm_deadline(self);  // extended meanwhile
  enter(self, order_status::expiring);
}

void stop(self_ptr self) {
  fail_calls(self, "the order's coordinator stopped here (node stopping or order home moved)");
  self->quit();
}

order_coordinator::behavior_type order_behavior(self_ptr self, coordination_context* cc,
                                                orders::order doc,
                                                std::optional<order_call> creator) {
  auto& st = self->state;
  st.cc = cc;
  st.o = std::move(doc);
  st.creator = std::move(creator);
  st.stored = !st.creator;
  // On a single node a new order takes its holds before its document is
  // first put: a crash before the `held` put leaves holds of an order that
  // is not open, which the next start releases (grid.cpp, end_at_recovery).
  // In a cluster the holds are in other nodes' partitions, which no start
  // here can scan: the order is put `reserving` first, and a start resumes
  // it like any phase (every reserve step replays its first outcome). A
  // recovered order resumes its phase.
  if (st.creator) {
    st.o.status = order_status::reserving;
    st.busy = true;
    if (cc->node->routes)
      save(self);
    else
      run_phase(self);
  } else if (st.o.status == order_status::held) {
    arm_deadline(self);
  } else if (!orders::is_final(st.o.status)) {
    ++st.o.attempt;
    st.busy = true;
    run_phase(self);
  }
  return {
      [=](order_call& call) { handle_call(self, std::move(call)); },
      [=](step_atom, step_result& s) { on_step(self, s); },
      [=](saved_atom, const persistence::status& s) { on_saved(self, s); },
      [=](synced_atom, const persistence::status& s) { on_synced(self, s); },
      [=](expire_atom) { on_deadline(self); },
      [=](retry_atom) { on_retry(self); },
      [=](resave_atom) { save(self); },
      [=](touch_atom) { touch(self); },
      [=](touched_atom, const persistence::status& s, epoch_ms at) { on_touched(self, s, at); },
      [=](stop_atom) { stop(self); },
  };
}

}  // namespace

order_coordinator spawn_order(caf::actor_system& system, coordination_context* cc,
                              orders::order doc, std::optional<order_call> creator) {
  return system.spawn(order_behavior, cc, std::move(doc), std::move(creator));
}

}  // namespace stockgrid::actors
