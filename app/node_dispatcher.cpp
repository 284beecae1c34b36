#include "app/node_dispatcher.hpp"

#include <atomic>
#include <memory>

#include <spdlog/spdlog.h>

#include "actors/clock.hpp"
#include "app/peer_call.hpp"
#include "app/tenant_export.hpp"
#include "feed/wire.hpp"
#include "orders/wire.hpp"

namespace stockgrid::app {

namespace {

using protocol::error_response;
using protocol::ok_response;

constexpr std::size_t admin_queue_max = 256;

std::shared_ptr<const std::vector<std::string>> allowed(const gateway::principal& who) {
  if (who.warehouses.empty()) return nullptr;
  return std::make_shared<const std::vector<std::string>>(who.warehouses);
}

bool may_use(const gateway::principal& who, const std::string& warehouse) {
  return who.warehouses.empty() ||
         std::find(who.warehouses.begin(), who.warehouses.end(), warehouse) != who.warehouses.end();
}

// The request as the grid sees it: tenant and key from the token.
void stamp(const gateway::principal& who, request& r,
           const std::shared_ptr<const std::vector<std::string>>& warehouses) {
  r.key.tenant = who.tenant;
  r.key_id = who.key_id;
  r.warehouses_allowed = warehouses;
}

// The caller of an order, transfer, find or settings op, as stamp() fills
// a grid request.
orders::caller caller_of(const gateway::principal& who) {
  return {who.tenant, who.key_id, allowed(who)};
}

// The request orders/wire.hpp decoded, stamped with its caller; false after
// answering a bad one.
template <class Request>
bool accept(std::variant<Request, protocol::decode_failure>&& decoded,
            const gateway::principal& who, const std::function<void(protocol::value)>& done,
            Request* out) {
  if (auto* f = std::get_if<protocol::decode_failure>(&decoded)) {
    done(error_response(f->id, f->code, f->message));
    return false;
  }
  *out = std::get<Request>(std::move(decoded));
  out->who = caller_of(who);
  return true;
}

protocol::value forbidden(std::optional<std::int64_t> id, const std::string& warehouse) {
  return error_response(id, outcome::forbidden, "this key may not use warehouse " + warehouse);
}

template <class T>
protocol::value admin_failure(std::optional<std::int64_t> id, const auth::admin_result<T>& r) {
  if (!r.log_detail.empty()) spdlog::error("key store: {}", r.log_detail);
  return error_response(id, r.code, r.message);
}

// A subscription's queue as the gateway drains it.
class feed_stream final : public gateway::event_stream {
 public:
  explicit feed_stream(std::shared_ptr<feed::subscription> sub) : sub_(std::move(sub)) {}
  std::uint64_t id() const override { return sub_->id(); }
  std::size_t take(std::size_t max, protocol::encoding enc, std::vector<std::string>& out) override {
    return sub_->take_encoded(max, enc, out);
  }
  std::optional<end> failure() const override {
    auto f = sub_->failure();
    if (!f) return std::nullopt;
    return end{f->close_code, std::move(f->reason)};
  }
  void cancel() override { sub_->cancel(); }

 private:
  std::shared_ptr<feed::subscription> sub_;
};

}  // namespace

orders::tenant_settings with_node_quotas(orders::tenant_settings ts, const node_quotas& node) {
  const auto rate = node.rates.for_tenant(ts.rate_per_second, ts.rate_burst);
  ts.rate_per_second = rate.rate_per_second;
  ts.rate_burst = rate.burst;
  if (ts.subscriptions_max == 0) ts.subscriptions_max = node.subscriptions_per_tenant_max;
  if (ts.records_max == 0) ts.records_max = node.rates.records_per_tenant_max;
  if (ts.connections_max == 0) ts.connections_max = node.connections_per_tenant_max;
  return ts;
}

node_dispatcher::node_dispatcher(grid& g, auth::key_admin& admin, feed::publisher* feed,
                                 feed::subscription_limits subscriber_limits,
                                 std::size_t export_page_bytes_max, node_quotas quotas)
    : grid_(g),
      admin_(admin),
      feed_(feed),
      subscriber_limits_(subscriber_limits),
      export_page_bytes_max_(export_page_bytes_max),
      quotas_(quotas),
      admin_thread_([this] { admin_loop(); }) {}

void node_dispatcher::subscribe(const gateway::principal& who, protocol::op_request&& req,
                                std::function<void()> wake, subscribed_fn done) {
  const auto id = req.id;
  if (feed_ == nullptr)
    return gateway::dispatcher::subscribe(who, std::move(req), std::move(wake), std::move(done));
  auto decoded = feed::decode_subscribe(req);
  if (auto* f = std::get_if<protocol::decode_failure>(&decoded))
    return done(error_response(id, f->code, f->message), nullptr);
  auto& r = std::get<feed::subscribe_request>(decoded);
  if (!r.what.warehouse.empty() && !may_use(who, r.what.warehouse))
    return done(forbidden(id, r.what.warehouse), nullptr);
  r.what.tenant = who.tenant;
  r.what.warehouses_allowed = allowed(who);
  auto sub = std::make_shared<feed::subscription>(next_subscription_.fetch_add(1, std::memory_order_relaxed),
                                                  std::move(r.what), subscriber_limits_, std::move(wake));
  feed_->subscribe(sub, std::move(r.from),
                   [id, sub, done = std::move(done)](outcome code, std::string message, std::int64_t limit) {
                     if (code != outcome::ok) {
                       protocol::object details;
                       if (limit > 0) details.emplace_back("limit", limit);
                       return done(error_response(id, code, message, std::move(details)), nullptr);
                     }
                     done(ok_response(id, {{"sub", sub->id()}}), std::make_shared<feed_stream>(sub));
                   });
}

node_dispatcher::~node_dispatcher() { stop(); }

void node_dispatcher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (admin_thread_.joinable()) admin_thread_.join();
}

void node_dispatcher::dispatch(const gateway::principal& who, protocol::op_request&& req,
                               response_fn done) {
  const auto& op = req.op;
  if (op == "ping") return done(ok_response(req.id, {}));
  if (op == "stock.bulk") return bulk(who, std::move(req), std::move(done));
  if (op == "stock.list") return list(who, std::move(req), std::move(done));
  if (protocol::grid_op_of(op)) return stock_op(who, std::move(req), std::move(done));
  if (op.starts_with("order.")) return order_op(who, std::move(req), std::move(done));
  if (op.starts_with("transfer.")) return transfer_op(who, std::move(req), std::move(done));
  if (op == "stock.find") return find(who, std::move(req), std::move(done));
  if (op == "tenant.settings") return settings(who, std::move(req), std::move(done));
  if (op.starts_with("key.") || op.starts_with("tenant."))
    return admin_op(who, std::move(req), std::move(done));
  if (op == "cluster.status") return done(ok_response(req.id, cluster_status()));
  done(error_response(req.id, outcome::unknown_op, "op: unknown op " + op));
}

// cluster.status: {cluster: false, partitions} on a single node; in a
// cluster the members, who is up and each partition's replicas and leader
// (docs/protocol.md).
protocol::object node_dispatcher::cluster_status() const {
  using protocol::array;
  using protocol::object;
  const auto status = grid_.cluster_status();
  if (!status)
    return {{"cluster", false}, {"partitions", static_cast<std::int64_t>(grid_.settings().node.partitions)}};
  array members;
  for (const auto& m : status->members) {
    object o{{"id", m.id}, {"self", m.self}, {"up", m.up}, {"connected", m.connected}};
    if (m.heard_ago_ms >= 0) o.emplace_back("heard_ago_ms", m.heard_ago_ms);
    if (m.layout_mismatch) o.emplace_back("layout_mismatch", true);
    members.emplace_back(std::move(o));
  }
  array partitions;
  for (const auto& p : status->partitions) {
    array replicas;
    for (const auto& r : p.replicas) replicas.emplace_back(r);
    object o{{"partition", static_cast<std::int64_t>(p.partition)}, {"replicas", std::move(replicas)}};
    if (!p.leader.empty()) o.emplace_back("leader", p.leader);
    else o.emplace_back("leader", protocol::value{});
    // This node's copy: its role, epoch, journal end and commit point; as
    // leader, each follower's lag (seqs committed here it has not confirmed).
    if (!p.role.empty()) {
      o.emplace_back("role", p.role);
      o.emplace_back("epoch", p.epoch);
      o.emplace_back("last_seq", p.last_seq);
      o.emplace_back("commit_seq", p.commit_seq);
      object lag;
      for (const auto& [id, seqs] : p.lag) lag.emplace_back(id, seqs);
      if (!lag.empty()) o.emplace_back("lag", std::move(lag));
      if (p.blank) o.emplace_back("blank", true);
      if (p.order_home) o.emplace_back("order_home", true);
      if (const auto& c = p.copy) {
        object copy{{c->sending ? "to" : "from", c->peer}, {"bytes", c->size}, {c->sending ? "sent" : "received", c->done}};
        if (!c->sending) copy.emplace_back("installing", c->installing);
        o.emplace_back("copy", std::move(copy));
      }
    }
    partitions.emplace_back(std::move(o));
  }
  return {{"cluster", true},
          {"self", status->self},
          {"replication_factor", static_cast<std::int64_t>(status->replication_factor)},
          {"leader_changes", status->leader_changes},
          {"members", std::move(members)},
          {"partitions", std::move(partitions)}};
}

void node_dispatcher::stock_op(const gateway::principal& who, protocol::op_request&& req,
                               response_fn done) {
  auto& r = req.grid;
  if (!targets_hold(r.kind) && !may_use(who, r.key.warehouse))
    return done(forbidden(req.id, r.key.warehouse));
  stamp(who, r, allowed(who));
  grid_.submit(std::move(r), [id = req.id, op = std::move(req.op), done = std::move(done)](
                                 reply&& rep) { done(protocol::grid_response(id, op, rep)); });
}

// Each item is applied on its own; the response lists the outcomes in item
// order. An item without its own idem gets "<bulk idem>:<index>", so retrying
// the whole bulk with the same idem applies nothing twice.
void node_dispatcher::bulk(const gateway::principal& who, protocol::op_request&& req,
                           response_fn done) {
  struct gather {
    std::vector<reply> replies;
    std::atomic<std::size_t> left;
    std::optional<std::int64_t> id;
    response_fn done;
  };
  auto items = std::move(req.items);
  if (items.empty()) return done(protocol::bulk_response(req.id, {}));
  auto g = std::make_shared<gather>();
  g->replies.resize(items.size());
  g->left = items.size();
  g->id = req.id;
  g->done = std::move(done);
  const auto warehouses = allowed(who);
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto& item = items[i];
    if (item.idem.empty() && !req.idem.empty()) item.idem = req.idem + ":" + std::to_string(i);
    auto finish = [g, i](reply&& rep) {
      g->replies[i] = std::move(rep);
      if (g->left.fetch_sub(1) == 1) g->done(protocol::bulk_response(g->id, g->replies));
    };
    if (!may_use(who, item.key.warehouse)) {
      finish(reply::error(outcome::forbidden, "this key may not use warehouse " + item.key.warehouse));
      continue;
    }
    stamp(who, item, warehouses);
    grid_.submit(std::move(item), std::move(finish));
  }
}

void node_dispatcher::list(const gateway::principal& who, protocol::op_request&& req,
                           response_fn done) {
  if (!req.warehouse.empty() && !may_use(who, req.warehouse))
    return done(forbidden(req.id, req.warehouse));
  list_query q;
  q.tenant = who.tenant;
  q.warehouse = std::move(req.warehouse);
  q.sku_prefix = std::move(req.sku_prefix);
  q.cursor = std::move(req.cursor);
  q.limit = req.limit;
  q.warehouses_allowed = allowed(who);
  grid_.list(std::move(q), [id = req.id, done = std::move(done)](list_page&& page) {
    if (page.code != outcome::ok) return done(error_response(id, page.code, page.message));
    done(ok_response(id, protocol::list_result(page.records, page.next_cursor)));
  });
}

bool node_dispatcher::runs_here(const gateway::principal& who, protocol::op_request& req, bool at_home,
                                response_fn& done) {
  const auto home = grid_.order_home(who.tenant);
  if (home.empty()) return true;
  if (home == grid::home_unknown) {
    done(error_response(req.id, outcome::unavailable,
                        "no order home for tenant " + who.tenant +
                            " now: its home partition is between leaders, or its new leader is reading its documents",
                        {{"retry_after_ms", 200}}));
    return false;
  }
  if (at_home) {
    // The member that sent it here saw this node lead the tenant's home
    // partition; it no longer does (or not yet): the call is refused, never
    // run at a second home, and the caller retries at the new one.
    done(error_response(req.id, outcome::unavailable,
                        "this node is not the order home of tenant " + who.tenant + " now (" + home + " is)",
                        {{"retry_after_ms", 200}}));
    return false;
  }
  grid_.forward_call(home, encode_call(who, req.params), [id = req.id, done = std::move(done)](call_answer&& a) {
    if (a.code != outcome::ok) {
      protocol::object details;
      if (a.retry_after_ms > 0) details.emplace_back("retry_after_ms", a.retry_after_ms);
      return done(error_response(id, a.code, a.message, std::move(details)));
    }
    protocol::value response;
    std::string error;
    if (!decode_answer(a.response, &response, &error)) {
      spdlog::error("cluster: an answer from the order home does not decode: {}", error);
      return done(error_response(id, outcome::internal, "the order home's answer does not decode"));
    }
    done(std::move(response));
  });
  return false;
}

void node_dispatcher::serve_call(std::string bytes, std::function<void(std::string)> answer) {
  peer_call call;
  std::string error;
  auto reply = [answer = std::move(answer)](protocol::value v) { answer(encode_answer(v)); };
  if (!decode_call(bytes, &call, &error)) {
    spdlog::error("cluster: a call from another member does not decode: {}", error);
    return reply(error_response(std::nullopt, outcome::internal, "the call does not decode: " + error));
  }
  if (call.frame.find("member_op")) return serve_member_op(call.frame, std::move(reply));
  auto decoded = protocol::decode_request(call.frame);
  if (auto* f = std::get_if<protocol::decode_failure>(&decoded)) return reply(error_response(f->id, f->code, f->message));
  auto& req = std::get<protocol::op_request>(decoded);
  if (req.op.starts_with("order.")) return order_op(call.who, std::move(req), std::move(reply), true);
  if (req.op.starts_with("transfer.")) return transfer_op(call.who, std::move(req), std::move(reply), true);
  reply(error_response(req.id, outcome::internal, "a member sent op " + req.op + ", which is not one it forwards"));
}

void node_dispatcher::order_op(const gateway::principal& who, protocol::op_request&& req,
                               response_fn done, bool at_home) {
  orders::order_request r;
  if (!accept(orders::decode_order(req), who, done, &r)) return;
  if (auto w = orders::forbidden_warehouse(r)) return done(forbidden(req.id, *w));
  if (!runs_here(who, req, at_home, done)) return;
  const bool dry_run = r.kind == orders::order_op::reserve && r.dry_run;
  grid_.order(std::move(r), [id = req.id, dry_run, done = std::move(done)](orders::order_reply&& rep) {
    done(orders::order_response(id, rep, dry_run));
  });
}

void node_dispatcher::transfer_op(const gateway::principal& who, protocol::op_request&& req,
                                  response_fn done, bool at_home) {
  orders::transfer_request r;
  if (!accept(orders::decode_transfer(req), who, done, &r)) return;
  if (auto w = orders::forbidden_warehouse(r)) return done(forbidden(req.id, *w));
  if (!runs_here(who, req, at_home, done)) return;
  grid_.transfer(std::move(r), [id = req.id, done = std::move(done)](orders::transfer_reply&& rep) {
    done(orders::transfer_response(id, rep));
  });
}

void node_dispatcher::find(const gateway::principal& who, protocol::op_request&& req,
                           response_fn done) {
  orders::find_request r;
  if (!accept(orders::decode_find(req), who, done, &r)) return;
  grid_.find(std::move(r.who), r.sku,
             [id = req.id, sku = r.sku, done = std::move(done)](orders::find_reply&& rep) {
               done(orders::find_response(id, sku, rep));
             });
}

void node_dispatcher::settings(const gateway::principal& who, protocol::op_request&& req,
                               response_fn done) {
  const auto id = req.id;
  orders::settings_request r;
  if (!accept(orders::decode_settings(req), who, done, &r)) return;
  if (who.role != protocol::role::system) {
    if (r.sets_quotas())
      return done(error_response(id, outcome::forbidden,
                                 "set: rate_per_second, rate_burst, subscriptions_max, records_max and "
                                 "connections_max are changed by the system role only"));
    return ask_settings(id, std::move(r), std::move(done));
  }
  if (r.tenant.empty()) return done(error_response(id, outcome::bad_request, "tenant: required for the system role"));
  // Settings of a tenant that does not exist would wait for a tenant.create
  // of that name: refused instead, as are those of a tenant being deleted
  // (its settings document is going). The key store knows the tenants.
  auto job = [this, who, id, r = std::move(r), done]() mutable {
    auto tenants = admin_.tenant_list(who);
    if (!tenants.ok()) return done(admin_failure(id, tenants));
    const bool known = std::any_of(tenants.value.begin(), tenants.value.end(),
                                   [&](const auto& t) { return t.name == r.tenant && !t.deleting_ms; });
    if (!known) return done(error_response(id, outcome::not_found, "tenant: no tenant " + r.tenant));
    r.who = {r.tenant, who.key_id, nullptr};
    ask_settings(id, std::move(r), std::move(done));
  };
  on_admin_thread(id, std::move(job), done);
}

void node_dispatcher::ask_settings(std::optional<std::int64_t> id, orders::settings_request&& r,
                                   response_fn done) {
  grid_.tenant_settings(std::move(r), [this, id, done = std::move(done)](orders::settings_reply&& rep) {
    if (rep.code == outcome::ok) rep.settings = with_node_quotas(std::move(rep.settings), quotas_);
    done(orders::settings_response(id, rep));
  });
}

void node_dispatcher::admin_op(const gateway::principal& who, protocol::op_request&& req,
                               response_fn done) {
  const auto request_id = req.id;
  auto job = [this, who, req = std::move(req), done]() mutable {
    const auto id = req.id;
    const auto& op = req.op;
    if (op == "tenant.create") {
      auto r = admin_.tenant_create(who, req.tenant);
      if (!r.ok()) return done(admin_failure(id, r));
      return done(ok_response(id, {{"tenant", r.value.tenant}, {"key_id", r.value.key_id},
                                   {"token", r.value.token}}));
    }
    if (op == "tenant.list") {
      auto r = admin_.tenant_list(who);
      if (!r.ok()) return done(admin_failure(id, r));
      std::vector<protocol::tenant_info> tenants;
      for (auto& t : r.value) tenants.push_back({t.name, t.suspended_ms.has_value()});
      return done(ok_response(id, protocol::tenant_list_result(tenants)));
    }
    if (op == "tenant.suspend" || op == "tenant.resume") {
      const bool suspend = op == "tenant.suspend";
      auto r = suspend ? admin_.tenant_suspend(who, req.tenant) : admin_.tenant_resume(who, req.tenant);
      if (!r.ok()) return done(admin_failure(id, r));
      spdlog::info("tenant {} {}", req.tenant, suspend ? "suspended" : "resumed");
      return done(ok_response(id, {{"tenant", req.tenant}, {"suspended", suspend}}));
    }
    if (op == "tenant.export") return export_page(who, req, done);
    if (op == "tenant.delete") return delete_tenant(who, req, done);
    if (op == "key.create") {
      auto r = admin_.key_create(who, {req.key_role, req.warehouses, req.expires_at_ms});
      if (!r.ok()) return done(admin_failure(id, r));
      return done(ok_response(id, {{"key_id", r.value.key_id}, {"token", r.value.token}}));
    }
    if (op == "key.list") {
      auto r = admin_.key_list(who);
      if (!r.ok()) return done(admin_failure(id, r));
      std::vector<protocol::key_info> keys;
      for (auto& k : r.value)
        if (!k.revoked_ms) keys.push_back({k.key_id, k.role, k.warehouses, k.expires_at_ms});
      return done(ok_response(id, protocol::key_list_result(keys)));
    }
    if (op == "key.revoke") {
      auto r = admin_.key_revoke(who, req.key_id);
      if (!r.ok()) return done(admin_failure(id, r));
      return done(ok_response(id, {{"key_id", req.key_id}}));
    }
    done(error_response(id, outcome::unknown_op, "op: unknown op " + op));
  };
  on_admin_thread(request_id, std::move(job), done);
}

void node_dispatcher::delete_tenant(const gateway::principal& who, const protocol::op_request& req,
                                    const response_fn& done) {
  const auto id = req.id;
  if (!protected_tenant_.empty() && req.tenant == protected_tenant_)
    return done(error_response(id, outcome::bad_request, "tenant: " + req.tenant + " cannot be deleted (the demo tenant)"));
  auto marked = admin_.tenant_mark_deleting(who, req.tenant);
  if (!marked.ok()) return done(admin_failure(id, marked));
  spdlog::info("tenant {}: deleting", req.tenant);
  const bool cluster = grid_.settings().cluster.enabled();
  std::optional<std::string> failed;
  protocol::object result{{"tenant", req.tenant}, {"deleted", true}};
  if (cluster) {
    grid_.note_deleting(req.tenant, actors::now_ms());
    std::size_t partitions = 0;
    failed = finish_cluster_delete(req.tenant, &partitions);
    result.emplace_back("partitions", static_cast<std::int64_t>(partitions));
  } else {
    std::uint64_t records = 0;
    failed = finish_delete(who, req.tenant, &records);
    result.emplace_back("records", records);
  }
  if (failed && cluster) spdlog::error("tenant {}: delete: {}", req.tenant, *failed);  // finish_delete logs its own
  if (failed)
    return done(error_response(id, outcome::unavailable,
                               cluster ? "tenant " + req.tenant + ": delete not finished (" + *failed +
                                             "); the tenant stays suspended and marked deleting: tenant.delete "
                                             "again, at any node, finishes it"
                                       : "tenant " + req.tenant + ": delete interrupted (" + *failed +
                                             "); it is finished by tenant.delete again or at the next start",
                               {{"retry_after_ms", 1000}}));
  done(ok_response(id, std::move(result)));
}

std::optional<std::string> node_dispatcher::finish_delete(const gateway::principal& who, const std::string& tenant,
                                                          std::uint64_t* records) {
  if (auto st = grid_.delete_tenant(tenant, records); !st) {
    spdlog::error("tenant {}: delete: {}", tenant, st.to_string());
    return st.message();
  }
  auto removed = admin_.tenant_remove(who, tenant);
  if (!removed.ok() && removed.code != outcome::not_found) {
    spdlog::error("tenant {}: delete: {}", tenant, removed.log_detail);
    return removed.message;
  }
  spdlog::info("tenant {}: deleted", tenant);
  return std::nullopt;
}

void node_dispatcher::resume_deletes() {
  auto job = [this] {
    const gateway::principal system{"", "system", protocol::role::system, {}, {}};
    auto tenants = admin_.tenant_list(system);
    if (!tenants.ok()) return spdlog::error("resuming tenant deletes: {}", tenants.log_detail);
    for (const auto& t : tenants.value) {
      if (!t.deleting_ms) continue;
      // In a cluster the mark may come from another node, and the delete
      // needs the members (app/cluster_delete.cpp): the operator runs it.
      if (grid_.settings().cluster.enabled()) {
        spdlog::warn("tenant {}: marked deleting: tenant.delete again, at any node, finishes the delete", t.name);
        continue;
      }
      spdlog::info("tenant {}: finishing the delete a stop cut short", t.name);
      std::uint64_t records = 0;
      (void)finish_delete(system, t.name, &records);
    }
  };
  on_admin_thread(std::nullopt, std::move(job), [](protocol::value) {
    spdlog::error("resuming tenant deletes: the admin queue is full");
  });
}

void node_dispatcher::on_admin_thread(std::optional<std::int64_t> id, std::function<void()> job,
                                      const response_fn& done) {
  std::unique_lock lk(mu_);
  if (admin_queue_.size() >= admin_queue_max || stopping_) {
    lk.unlock();
    return done(error_response(id, outcome::overloaded, "too many admin requests queued",
                               {{"retry_after_ms", 100}}));
  }
  admin_queue_.push_back(std::move(job));
  lk.unlock();
  cv_.notify_one();
}

// On the admin thread: checks the request and the tenant, then reads the
// page on the partition's writer thread (app/tenant_export.hpp).
void node_dispatcher::export_page(const gateway::principal& who, const protocol::op_request& req,
                                  const response_fn& done) {
  const auto id = req.id;
  auto t = admin_.tenant_get(who, req.tenant);
  if (!t.ok()) return done(admin_failure(id, t));
  if (req.limit < 0 || req.limit > export_items_max)
    return done(error_response(id, outcome::bad_request,
                               "limit: must be between 1 and " + std::to_string(export_items_max) +
                                   " (0 or absent = " + std::to_string(export_items_default) + ")"));
  export_cursor from;
  if (!req.cursor.empty() && !decode_export_cursor(req.cursor, grid_.journal().partitions(), &from))
    return done(error_response(id, outcome::bad_request, "cursor: not a cursor this server issued"));
  export_page_limits limits;
  limits.items_max = req.limit == 0 ? export_items_default : static_cast<std::size_t>(req.limit);
  limits.bytes_max = export_page_bytes_max_;
  tenant_export_page(grid_.journal(), req.tenant, std::move(from), limits,
                     [id, done](outcome code, std::string message, protocol::object result) {
                       if (code != outcome::ok) {
                         spdlog::error("tenant.export: {}", message);
                         return done(error_response(id, code, "export failed: storage error"));
                       }
                       done(ok_response(id, std::move(result)));
                     });
}

void node_dispatcher::admin_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !admin_queue_.empty(); });
      if (admin_queue_.empty()) return;
      job = std::move(admin_queue_.front());
      admin_queue_.pop_front();
    }
    job();
  }
}

}  // namespace stockgrid::app
