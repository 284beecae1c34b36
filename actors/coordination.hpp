// Orders and transfers: their coordinator actors and the directory that
// routes to them (docs/design.md, "Orders and transfers").
//
// Each open order or transfer has one coordinator actor. It owns the plain
// document (orders/order.hpp, orders/transfer.hpp), drives its steps one at a
// time as internal requests to the records, and puts the document in the
// node's document store (persistence/document_writer.hpp) at each phase
// change: before the phase's first step (except an order's reserving, whose
// holds name the order instead) and at its end, once the partitions its
// steps touched are durable (steps are answered when applied). Every step
// carries an idempotency key derived from the document (orders::step_idem),
// so a coordinator restarted from its document after a crash re-runs its
// phase and each step that already happened replays its first outcome
// instead of applying twice.
// The directory (one per node) maps ids and idempotency keys to
// coordinators, reads final documents, plans orders (allocation) and bounds
// how many coordinators exist.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>

#include "actors/actors.hpp"
#include "actors/messages.hpp"
#include "orders/requests.hpp"
#include "persistence/document_writer.hpp"

namespace stockgrid::actors {

using step_atom = caf::atom_constant<caf::atom("step")>;
using saved_atom = caf::atom_constant<caf::atom("saved")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using ended_atom = caf::atom_constant<caf::atom("ended")>;
using found_atom = caf::atom_constant<caf::atom("found")>;
using planned_atom = caf::atom_constant<caf::atom("planned")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using synced_atom = caf::atom_constant<caf::atom("synced")>;
using resave_atom = caf::atom_constant<caf::atom("resave")>;
using home_atom = caf::atom_constant<caf::atom("home")>;
using touch_atom = caf::atom_constant<caf::atom("touch")>;
using touched_atom = caf::atom_constant<caf::atom("touched")>;

using order_done = std::function<void(orders::order_reply&&)>;
using transfer_done = std::function<void(orders::transfer_reply&&)>;
using settings_done = std::function<void(orders::settings_reply&&)>;

struct order_call {
  orders::order_request req;
  order_done done;
};
struct transfer_call {
  orders::transfer_request req;
  transfer_done done;
};
struct settings_call {
  orders::settings_request req;
  settings_done done;
};

// A step's reply from its record, for the step with this number.
struct step_result {
  std::uint64_t step = 0;
  reply r;
};

// A document read for a directory look-up.
struct doc_result {
  persistence::status st;
  std::optional<persistence::document> doc;
};

// In a cluster: what a new order home read from its partition's journal
// (read_home_documents).
struct home_documents {
  std::uint32_t partition = 0;
  std::uint64_t generation = 0;  // the directory's count of takeovers of the partition
  persistence::status st;
  std::vector<persistence::document> open;  // the open orders and transfers to resume
};

// What an order needs before its coordinator starts: the tenant's settings
// and what the records said, gathered for `call`.
struct plan_input {
  order_call call;
  std::vector<orders::stock_seen> seen;
  std::optional<orders::tenant_settings> settings;  // none set: the defaults
  outcome failure = outcome::ok;                    // a read that failed
  std::string message;
};

using order_coordinator = caf::typed_actor<
    // A client op on this order.
    caf::reacts_to<order_call>,
    // The reply to the step in flight.
    caf::reacts_to<step_atom, step_result>,
    // The document put before the current phase is durable (or failed).
    caf::reacts_to<saved_atom, persistence::status>,
    // The phase's steps are durable in every partition they touched.
    caf::reacts_to<synced_atom, persistence::status>,
    // The order's deadline.
    caf::reacts_to<expire_atom>,
    // Retry the step in flight after a transient failure.
    caf::reacts_to<retry_atom>,
    // Try the failed document put again.
    caf::reacts_to<resave_atom>,
    // In a cluster, from the directory: put the document again if its last
    // put is old (touch_age_ms); and that put's outcome.
    caf::reacts_to<touch_atom>,
    caf::reacts_to<touched_atom, persistence::status, epoch_ms>,
    // From the directory: the node stops, or the order ended and left the map.
    caf::reacts_to<stop_atom>>;

using transfer_coordinator = caf::typed_actor<
    caf::reacts_to<transfer_call>,
    caf::reacts_to<step_atom, step_result>,
    caf::reacts_to<saved_atom, persistence::status>,
    caf::reacts_to<synced_atom, persistence::status>,
    caf::reacts_to<resave_atom>,
    caf::reacts_to<retry_atom>,
    caf::reacts_to<touch_atom>,
    caf::reacts_to<touched_atom, persistence::status, epoch_ms>,
    caf::reacts_to<stop_atom>>;

using order_directory = caf::typed_actor<
    caf::reacts_to<order_call>,
    caf::reacts_to<transfer_call>,
    caf::reacts_to<settings_call>,
    // An idempotency look-up for an order.reserve or transfer.create.
    caf::reacts_to<found_atom, persistence::document_kind, std::string, std::string, doc_result>,
    // An order's plan inputs are in.
    caf::reacts_to<planned_atom, plan_input>,
    // A final document read for a call on an order or transfer not open.
    caf::reacts_to<read_atom, order_call, doc_result>,
    caf::reacts_to<read_atom, transfer_call, doc_result>,
    // A tenant's settings document was saved (true: the cache takes them)
    // or its write failed.
    caf::reacts_to<saved_atom, std::string, orders::tenant_settings, bool>,
    // In a cluster: a member's tenant-settings table (messages.hpp); a
    // member's table to take again; the moment to send this node's table.
    caf::reacts_to<tsettings_atom, std::string, std::string>,
    caf::reacts_to<tsettings_atom, std::string>,
    caf::reacts_to<tsettings_atom>,
    // A coordinator reached a final state (kind, id).
    caf::reacts_to<ended_atom, persistence::document_kind, std::string>,
    // tenant.delete: stop the tenant's coordinators, answer its waiting
    // calls UNAVAILABLE, forget its settings; `done` once they have exited.
    caf::reacts_to<tenant_purge>,
    // In a cluster: this node started (true) or stopped (false) leading the
    // partition, so it is (or is no longer) the order home of the tenants
    // whose home partition it is; and the documents a takeover read.
    caf::reacts_to<home_atom, std::uint32_t, bool>,
    caf::reacts_to<home_atom, home_documents>,
    // A takeover's read to try again (partition, generation).
    caf::reacts_to<home_atom, std::uint32_t, std::uint64_t>,
    // In a cluster: time to touch the open documents (touch_age_ms).
    caf::reacts_to<touch_atom>,
    caf::reacts_to<stop_atom>>;

// What coordinators share, owned by the grid.
struct coordination_context {
  node_context* node = nullptr;
  persistence::document_writer* docs = nullptr;
  order_directory directory;
  // Told each tenant's settings at start and after each durable change.
  std::function<void(const std::string&, const orders::tenant_settings&)> on_settings;
};

// Puts an order's or transfer's document; `done` runs once it is durable as
// promised, or with the error. On a single node it goes to the documents file
// (document_writer.hpp). In a cluster it is first journaled in the tenant's
// home partition (persistence/document_entry.hpp), led by this node while it
// is the tenant's order home, and answered once a majority holds it, whatever
// the tenant's `ack`; then it is put in this node's documents file like on a
// single node. A node that no longer leads the partition gets `unavailable`.
// False, and `done` never runs, when the documents queue is full.
bool put_document(coordination_context* cc, persistence::document d, persistence::document_writer::put_done done);

// In a cluster a takeover reads documents from the journal only, and
// compaction deletes journal rows older than retention-ms: so a coordinator
// whose open document was last put more than this long ago (a quarter of the
// retention) puts it again, unchanged but for updated_ms, when the directory
// asks (every touch_interval_ms), keeping a young entry of it in the journal.
std::int64_t touch_age_ms(const coordination_context* cc);
inline std::int64_t touch_interval_ms(const coordination_context* cc) { return touch_age_ms(cc) / 2; }
// A touch's put of `doc` with updated_ms now; `me` gets (touched_atom,
// status, that updated_ms) once it is stored or not.
template <class Handle>
void put_touch(coordination_context* cc, Handle me, persistence::document doc, epoch_ms now) {
  doc.updated_ms = now;
  if (!put_document(cc, std::move(doc), [me, now](const persistence::status& s) {
        caf::anon_send(me, touched_atom::value, s, now);
      }))
    caf::anon_send(me, touched_atom::value, persistence::status::unavailable("document queue full"), epoch_ms{0});
}

// In a cluster, when this node starts leading partition p: reads every
// document entry of p's journal (all committed, as it serves), deletes the
// documents of tenants purged there and puts the latest version of each
// document in this node's documents file (after the puts already queued, so
// the journal's version wins), then sends the open ones to the directory as
// (home_atom, home_documents). Runs on p's journal thread.
void read_home_documents(coordination_context* cc, std::uint32_t p, std::uint64_t generation);

// Sends an internal step to its record: counted in flight, not limited (a
// coordinator has one step in flight and coordinators are bounded). The
// reply goes to `to` as (step_atom, step_result{step, reply}). On a single
// node that is as soon as the record applied the step, before it is
// durable; the step's partition is added to `touched`, for sync_partitions
// before the phase ends. In a cluster the step goes to its partition's
// leader, wherever that is, and is answered like any change there: once a
// majority holds it (or the leader, for an `ack: "leader"` tenant), so
// nothing is added to `touched`.
template <class Handle>
void send_step(coordination_context* cc, Handle to, std::uint64_t step, request req,
               std::set<std::uint32_t>* touched) {
  if (const auto p = partition_for(*cc->node, req); p < cc->node->partitions.size() && !cc->node->routes)
    touched->insert(p);
  cc->node->in_flight.fetch_add(1, std::memory_order_relaxed);
  route(*cc->node, std::move(req), [to, step](reply&& r) {
    caf::anon_send(to, step_atom::value, step_result{step, std::move(r)});
  });
}

// Sends (synced_atom, status) to `to` once everything appended so far to each
// partition in `partitions` is durable (or with the first error).
template <class Handle>
void sync_partitions(coordination_context* cc, Handle to, const std::set<std::uint32_t>& partitions) {
  struct gather {
    std::mutex mu;
    std::size_t left = 0;
    persistence::status first_error;
  };
  auto g = std::make_shared<gather>();
  g->left = partitions.size();
  for (auto p : partitions)
    cc->node->journal->barrier(p, [g, to](const persistence::status& s, const persistence::journal_entry*) {
      std::unique_lock lk(g->mu);
      if (!s && g->first_error) g->first_error = s;
      if (--g->left > 0) return;
      const auto result = g->first_error;
      lk.unlock();
      caf::anon_send(to, synced_atom::value, result);
    });
}

// Whether a step's outcome says nothing about the record (retry it).
constexpr bool transient(outcome o) {
  return o == outcome::overloaded || o == outcome::unavailable || o == outcome::timeout ||
         o == outcome::internal;
}

// The store's document of an order or transfer (both have these fields).
template <class Doc>
persistence::document document_of(persistence::document_kind kind, const Doc& doc) {
  persistence::document d;
  d.kind = kind;
  d.tenant = doc.tenant;
  d.id = doc.id;
  d.idem = doc.idem;
  d.fingerprint = doc.fingerprint;
  d.open = !orders::is_final(doc.status);
  d.updated_ms = doc.updated_ms;
  d.body = orders::encode(doc);
  return d;
}
inline persistence::document to_document(const orders::order& o) {
  return document_of(persistence::document_kind::order, o);
}
inline persistence::document to_document(const orders::transfer& t) {
  return document_of(persistence::document_kind::transfer, t);
}

order_coordinator spawn_order(caf::actor_system& system, coordination_context* cc,
                              orders::order doc, std::optional<order_call> creator);
transfer_coordinator spawn_transfer(caf::actor_system& system, coordination_context* cc,
                                    orders::transfer doc, std::optional<transfer_call> creator);
// Starts the directory with the store's open documents (recovery).
order_directory spawn_directory(caf::actor_system& system, coordination_context* cc,
                                std::vector<persistence::document> open);

// Whether a key limited to some warehouses may see and act on the order (all
// of its lines' warehouses) or the transfer (both ends).
bool permitted(const orders::caller& who, const orders::order& o);
bool permitted(const orders::caller& who, const orders::transfer& t);

// The answer to a call on an order that is final (or read from the store).
orders::order_reply answer_final(const orders::order& o, const order_call& call);
orders::transfer_reply answer_final(const orders::transfer& t, const transfer_call& call);

}  // namespace stockgrid::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::order_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::transfer_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::settings_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::step_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::doc_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::plan_input)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::home_documents)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::orders::tenant_settings)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::persistence::document_kind)
