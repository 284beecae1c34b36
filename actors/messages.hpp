// What actors of one node send each other. Local only: these types carry
// callbacks and never cross a process boundary (the cluster issue adds
// serializable ones, registered with add_message_type in one place).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <optional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "actors/grid.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::actors {

// All atoms in one place; CAF 0.17 allows at most 10 characters.
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using idem_atom = caf::atom_constant<caf::atom("idem")>;
using loaded_atom = caf::atom_constant<caf::atom("loaded")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using reloaded_atom = caf::atom_constant<caf::atom("reloaded")>;
using purged_atom = caf::atom_constant<caf::atom("purged")>;
using lead_atom = caf::atom_constant<caf::atom("lead")>;
using follow_atom = caf::atom_constant<caf::atom("follow")>;
// Between nodes (actors/cluster.hpp): heartbeats, and cluster/wire.hpp's
// peer messages as bytes.
using beat_atom = caf::atom_constant<caf::atom("beat")>;
// (layout_atom, member id, uint64 fingerprint, bool reply): sent first on
// every new connection, and in reply to one that differs (never to a
// reply); cluster::fingerprint of the sender's placement inputs.
using layout_atom = caf::atom_constant<caf::atom("layout")>;
using peer_atom = caf::atom_constant<caf::atom("peer")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
// (tsettings_atom, member id, bytes): a member's tenant-settings table
// (orders/settings_table.hpp), between nodes and from the cluster actor to
// the order directory.
using tsettings_atom = caf::atom_constant<caf::atom("tsettings")>;
// Between nodes: (pcall_atom, from, id, bytes), an order or transfer call
// for a tenant whose home is the receiver (grid::forward_call), and
// (pcalled_atom, from, id, int32 outcome, message, int64 retry_after_ms,
// response bytes), its answer.
using pcall_atom = caf::atom_constant<caf::atom("pcall")>;
using pcalled_atom = caf::atom_constant<caf::atom("pcalled")>;
// To the node's own cluster actor when the node stops (grid::hand_off):
// hand every partition it leads to a follower; answered true once it leads
// none.
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
// Between nodes, rebuilding a replica from its leader's file
// (replica_copy.cpp): (copy_atom, from, uint32 partition, uint64 epoch,
// uint64 copy id, uint64 offset, uint64 size, uint32 crc32c, string
// bytes), a chunk; (copied_atom, from, uint32 partition, uint64 epoch,
// uint64 copy id, uint64 next offset, bool installed, uint64 last seq,
// uint64 last epoch, string error), its answer.
using copy_atom = caf::atom_constant<caf::atom("copy")>;
using copied_atom = caf::atom_constant<caf::atom("copied")>;

// Delivers a reply to the caller and returns the request's in-flight credit.
struct reply_sink {
  reply_fn fn;
  std::atomic<std::int64_t>* in_flight = nullptr;  // null: `fn` returns it
  void operator()(reply&& r) const {
    // The credit first: a caller that sends its next request from the reply
    // callback must find it free.
    if (in_flight) in_flight->fetch_sub(1, std::memory_order_relaxed);
    fn(std::move(r));
  }
};

// A callback that answers even when it is dropped: a message sent to an
// actor that has exited, or a job a stopping journal writer no longer runs,
// is destroyed unread, and the callback in it with it. The first call
// answers; if none came, the last copy's destruction answers with
// `dropped()`, so the caller gets exactly one answer either way.
template <class Answer, class Dropped>
std::function<void(Answer&&)> answered_even_if_dropped(std::function<void(Answer&&)> fn, Dropped dropped) {
  struct once {
    once(std::function<void(Answer&&)> f, Dropped d) : fn(std::move(f)), dropped(std::move(d)) {}
    std::function<void(Answer&&)> fn;
    Dropped dropped;
    std::atomic<bool> answered{false};
    ~once() {
      if (!answered.load(std::memory_order_acquire)) fn(dropped());
    }
  };
  auto o = std::make_shared<once>(std::move(fn), std::move(dropped));
  return [o](Answer&& a) {
    if (!o->answered.exchange(true, std::memory_order_acq_rel)) o->fn(std::move(a));
  };
}

// A request's sink that answers UNAVAILABLE (`why`) if it is dropped, and so
// also returns the request's credit.
inline reply_sink answered_even_if_dropped(reply_sink done, const char* why) {
  return reply_sink{answered_even_if_dropped<reply>(reply_fn(std::move(done)),
                                                    [why] { return reply::error(outcome::unavailable, why); }),
                    nullptr};
}

// A request on its way to its record, with where its reply goes.
struct envelope {
  request req;
  reply_sink done;
};

// The outcome of an idempotency look-up for the request a record waits on.
struct idem_result {
  persistence::status st;
  std::optional<persistence::journal_entry> found;
};

// A record read from disk for activation.
struct load_result {
  persistence::status st;
  bool found = false;
  persistence::record_image image;
};

// tenant.delete, to a partition or the order directory: stop the tenant's
// actors, then (a partition) remove its rows; `done` runs once, with how
// many records a partition removed.
struct tenant_purge {
  std::string tenant;
  std::function<void(const persistence::status&, std::uint64_t records)> done;
};

// In a cluster: this node's tenant-settings table, from the order directory
// to the cluster actor, which sends it to every member (and to each that
// connects later) and hands members' tables to `directory`. Empty bytes
// (a table too large to send) only say where members' tables go.
struct settings_bytes {
  std::string bytes;
  caf::actor directory;
};

}  // namespace stockgrid::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::tenant_purge)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::settings_bytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::persistence::status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::envelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::idem_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::actors::load_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockgrid::record_key)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<stockgrid::persistence::record_image>)
