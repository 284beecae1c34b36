// The order directory's state and what its order and transfer halves share
// (order_directory.cpp, transfer_directory.cpp). Private to actors/.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "actors/coordination.hpp"

namespace stockgrid::actors {

// (kind, tenant, idem): an idempotency key of a creating call.
using idem_key = std::tuple<persistence::document_kind, std::string, std::string>;

template <class Handle>
struct open_entry {
  Handle handle;
  idem_key idem;  // idem empty = none
};

struct directory_state {
  coordination_context* cc = nullptr;
  std::unordered_map<std::string, open_entry<order_coordinator>> orders;        // open, by id
  std::unordered_map<std::string, open_entry<transfer_coordinator>> transfers;  // open, by id
  std::map<idem_key, std::string> open_idem;  // -> the open document's id
  // Creating calls whose idempotency key is being looked up or planned; the
  // first creates, the others follow it to its coordinator.
  std::map<idem_key, std::vector<order_call>> order_pending;
  std::map<idem_key, std::vector<transfer_call>> transfer_pending;
  // Every tenant's settings, loaded at start (their documents stay open).
  std::unordered_map<std::string, orders::tenant_settings> settings;
  // Settings put and not saved yet, the latest per tenant.
  std::unordered_map<std::string, orders::tenant_settings> unsaved;
  // In a cluster: the table last sent; whether a send is scheduled; and
  // members' tables to take again (the document queue was full), the latest
  // per member.
  std::string published_settings;
  bool settings_published = false;
  bool publish_due = false;
  std::map<std::string, std::string> settings_retry;
  std::size_t planning = 0;  // orders being planned (count toward the bound)
  std::uint64_t next_id = 0, lease_end = 0;
  // tenant.delete: coordinators told to stop, by address, with their
  // tenant; per tenant, how many are still running and whom to tell.
  std::unordered_map<caf::actor_addr, std::string> exiting;
  struct purge {
    std::size_t exiting = 0;
    std::function<void(const persistence::status&, std::uint64_t)> done;
  };
  std::unordered_map<std::string, purge> purges;
  // In a cluster, per partition: takeovers counted (a replay's answer that
  // is not the latest is dropped).
  std::vector<std::uint64_t> home_generation;
  static inline const char* name = "stockgrid.orders";
};

using directory_ptr = order_directory::stateful_pointer<directory_state>;

// Open coordinators (and orders being planned) are at their bound.
bool at_bound(directory_ptr self);
// Whether this node is the tenant's order home now: always on a single node;
// in a cluster once it leads the tenant's home partition and has taken over
// its documents (cluster_routes::home_ready).
bool home_here(directory_ptr self, const std::string& tenant);
// A new document id ("O1f", "T20"; in a cluster with this node's member
// index, "O2-1f", so that ids stay unique when the home moves), or empty when
// the store cannot lease one.
std::string new_id(directory_ptr self, char prefix);
// Registers an open document's coordinator; a non-empty idem routes retries.
template <class Handle>
void register_open(directory_ptr self, std::unordered_map<std::string, open_entry<Handle>>& map,
                   const std::string& id, Handle h, idem_key idem) {
  if (!std::get<2>(idem).empty()) self->state.open_idem[idem] = id;
  map.emplace(id, open_entry<Handle>{std::move(h), std::move(idem)});
}

// The calls that waited on an idempotency key, each answered by `answer`.
template <class Call, class Fn>
void release_pending(std::map<idem_key, std::vector<Call>>& pending, const idem_key& key, Fn answer) {
  auto it = pending.find(key);
  if (it == pending.end()) return;
  auto calls = std::move(it->second);
  pending.erase(it);
  for (auto& c : calls) answer(c);
}

template <class Reply>
Reply overloaded_reply() {
  auto r = Reply::error(outcome::overloaded, "too many open orders and transfers on this node");
  r.retry_after_ms = 100;
  return r;
}

// The transfer half (transfer_directory.cpp).
void on_transfer_call(directory_ptr self, transfer_call& call);
void on_transfer_found(directory_ptr self, const idem_key& key, doc_result& found);
void on_transfer_read(directory_ptr self, transfer_call& call, doc_result& r);

}  // namespace stockgrid::actors
