// tenant.delete in a cluster (docs/cluster.md, "Deleting a tenant"): the
// node that takes it runs the whole delete on its admin thread, one step
// after another, each waiting for the members it asks:
//   1. marks the suspended tenant deleting (the mark travels with the
//      tenants and keys, auth/replication.hpp);
//   2. the tenant's order home stops its coordinators and deletes its
//      documents (member op "tenant.forget"), so no step of an order reaches
//      a partition after its purge;
//   3. every member journals a purge in each partition it leads (member op
//      "tenant.purge", grid::purge_led), answered once a majority holds it;
//      every partition must be purged by some leader;
//   4. removes the tenant here: its tombstone travels, and each member that
//      takes it forgets the tenant too (its copy of the settings).
// A step that fails leaves the tenant marked deleting (suspended, its keys
// refused): tenant.delete again, at any node, runs every step again (each
// is idempotent). Member ops travel as peer calls (app/peer_call.hpp) with
// a frame {"member_op": op, "tenant": name}; a member answers
// {"ok": true, "partitions": [p...]} or an error response.
#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "actors/clock.hpp"
#include "app/node_dispatcher.hpp"
#include "app/peer_call.hpp"

namespace stockgrid::app {

namespace {

using protocol::error_response;
using protocol::ok_response;

const gateway::principal system_caller{"", "system", protocol::role::system, {}, {}};

protocol::value partitions_value(const std::vector<std::uint32_t>& partitions) {
  protocol::array a;
  for (auto p : partitions) a.emplace_back(static_cast<std::int64_t>(p));
  return protocol::value(std::move(a));
}

}  // namespace

std::optional<std::string> node_dispatcher::call_member(const std::string& member, const std::string& op,
                                                        const std::string& tenant,
                                                        std::vector<std::uint32_t>* partitions) {
  protocol::object frame{{"member_op", op}, {"tenant", tenant}};
  std::promise<call_answer> answered;
  auto answer = answered.get_future();
  grid_.forward_call(member, encode_call(system_caller, protocol::value(std::move(frame))),
                     [&answered](call_answer&& a) { answered.set_value(std::move(a)); });
  // forward_call answers exactly once: TIMEOUT after forward-timeout-ms.
  const call_answer a = answer.get();
  const std::string at = member + " (" + op + ")";
  if (a.code != outcome::ok) return at + ": " + a.message;
  protocol::value response;
  std::string error;
  if (!decode_answer(a.response, &response, &error)) return at + ": the answer does not decode: " + error;
  const protocol::value* ok = response.find("ok");
  if (!ok || !ok->as_bool() || !*ok->as_bool()) {
    const protocol::value* e = response.find("error");
    const protocol::value* m = e ? e->find("message") : nullptr;
    return at + ": " + (m && m->as_string() ? *m->as_string() : std::string("refused"));
  }
  if (partitions) {
    const protocol::value* list = response.find("partitions");
    if (!list || !list->as_array()) return at + ": the answer has no partitions";
    for (const auto& p : *list->as_array()) {
      if (!p.as_int() || *p.as_int() < 0 || *p.as_int() >= static_cast<std::int64_t>(grid_.journal().partitions()))
        return at + ": the answer names a partition this cluster does not have";
      partitions->push_back(static_cast<std::uint32_t>(*p.as_int()));
    }
  }
  return std::nullopt;
}

void node_dispatcher::serve_member_op(const protocol::value& frame, std::function<void(protocol::value)> reply) {
  const protocol::value* op = frame.find("member_op");
  const protocol::value* tenant = frame.find("tenant");
  if (!op || !op->as_string() || !tenant || !tenant->as_string() || !auth::check_tenant_name(*tenant->as_string()).empty())
    return reply(error_response(std::nullopt, outcome::internal, "a member op without an op or a valid tenant"));
  std::string name = *op->as_string();
  if (name != "tenant.forget" && name != "tenant.purge")
    return reply(error_response(std::nullopt, outcome::internal, "a member sent member op " + name + ", which this node does not run"));
  // Refused here from now on (deleted_tenants.hpp): a leader refuses the
  // tenant's writes forwarded by a node that has not heard of the delete.
  grid_.note_deleting(*tenant->as_string(), actors::now_ms());
  // Blocking grid calls: on the admin thread, never the cluster actor's.
  auto job = [this, name, t = *tenant->as_string(), reply]() {
    if (name == "tenant.forget") {
      if (auto st = grid_.forget_tenant(t); !st)
        return reply(error_response(std::nullopt, outcome::unavailable, st.message()));
      return reply(ok_response(std::nullopt, {}));
    }
    std::vector<std::uint32_t> purged;
    if (auto st = grid_.purge_led(t, &purged); !st)
      return reply(error_response(std::nullopt, outcome::unavailable, st.message()));
    spdlog::info("tenant {}: purged in the {} partitions led here", t, purged.size());
    reply(ok_response(std::nullopt, {{"partitions", partitions_value(purged)}}));
  };
  on_admin_thread(std::nullopt, std::move(job), reply);
}

std::optional<std::string> node_dispatcher::finish_cluster_delete(const std::string& tenant,
                                                                  std::size_t* partitions) {
  // 2. The order home's coordinators and documents first.
  const std::string home = grid_.order_home(tenant);
  if (home == grid::home_unknown) return std::string("the order home: its home partition has no leader now");
  if (home.empty()) {
    if (auto st = grid_.forget_tenant(tenant); !st) return "the order home (this node): " + st.message();
  } else if (auto failed = call_member(home, "tenant.forget", tenant, nullptr)) {
    return "the order home " + *failed;
  }
  // 3. Every partition, at its leader.
  std::set<std::uint32_t> purged;
  std::vector<std::uint32_t> here;
  if (auto st = grid_.purge_led(tenant, &here); !st) return "a partition led here: " + st.message();
  purged.insert(here.begin(), here.end());
  for (const auto& member : grid_.other_members()) {
    std::vector<std::uint32_t> there;
    // A member that does not answer leads nothing that counts: its
    // partitions show up as not purged below.
    if (auto failed = call_member(member, "tenant.purge", tenant, &there)) {
      spdlog::warn("tenant {}: delete: {}", tenant, *failed);
      continue;
    }
    purged.insert(there.begin(), there.end());
  }
  const std::size_t all = grid_.journal().partitions();
  if (purged.size() < all)
    return std::to_string(all - purged.size()) + " of " + std::to_string(all) +
           " partitions had no leader that purged them";
  // This node's own copy of the settings (the home's went in step 2).
  if (!home.empty())
    if (auto st = grid_.forget_tenant(tenant); !st) return st.message();
  // 4. The tenant's row and keys; the tombstone reaches the others.
  auto removed = admin_.tenant_remove(system_caller, tenant);
  if (!removed.ok() && removed.code != outcome::not_found) return removed.message;
  grid_.note_removed(tenant, actors::now_ms());
  spdlog::info("tenant {}: deleted in all {} partitions", tenant, all);
  *partitions = all;
  return std::nullopt;
}

}  // namespace stockgrid::app
