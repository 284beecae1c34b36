#include "gateway/stub_dispatcher.hpp"

#include <chrono>
#include <utility>
#include <vector>

namespace stockgrid::gateway {

namespace {

epoch_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// An ok reply to one grid request: the record of its key with zeros.
reply ok_reply(const request& req, std::uint64_t hold_seq) {
  reply r;
  r.code = outcome::ok;
  r.has_record = true;
  r.record.key = req.key;
  if (req.kind == op::reserve) {
    r.hold = format_hold_id(hold_ref{0, hold_seq});
    r.expires_at_ms = now_ms() + (req.ttl_ms > 0 ? req.ttl_ms : 600'000);
  } else if (req.kind == op::extend) {
    r.hold = req.hold;
    r.expires_at_ms = now_ms() + req.ttl_ms;
  }
  return r;
}

protocol::value answer(const principal& who, const protocol::op_request& req,
                       std::uint64_t hold_seq) {
  if (protocol::grid_op_of(req.op)) {
    return protocol::grid_response(req.id, req.op, ok_reply(req.grid, hold_seq));
  }
  if (req.op == "stock.list") return protocol::ok_response(req.id, protocol::list_result({}, ""));
  if (req.op == "stock.bulk") {
    std::vector<reply> results;
    results.reserve(req.items.size());
    for (const request& item : req.items) results.push_back(ok_reply(item, 0));
    return protocol::bulk_response(req.id, results);
  }
  if (req.op == "key.create") {
    return protocol::ok_response(req.id, {{"key_id", "stub-key"}, {"token", "stub-token"}});
  }
  if (req.op == "key.list") {
    return protocol::ok_response(
        req.id, protocol::key_list_result({{who.key_id, who.role, who.warehouses, std::nullopt}}));
  }
  if (req.op == "key.revoke") return protocol::ok_response(req.id, {});
  if (req.op == "tenant.create") {
    return protocol::ok_response(req.id, {{"tenant", req.tenant}, {"token", "stub-token"}});
  }
  if (req.op == "tenant.list") {
    return protocol::ok_response(req.id, protocol::tenant_list_result({{"demo", false}}));
  }
  return protocol::error_response(req.id, outcome::unknown_op, "op: the stub does not know it");
}

}  // namespace

void stub_dispatcher::dispatch(const principal& who, protocol::op_request&& req,
                               std::function<void(protocol::value)> done) {
  dispatched_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t hold_seq =
      req.op == "stock.reserve" ? next_hold_.fetch_add(1, std::memory_order_relaxed) : 0;
  done(answer(who, req, hold_seq));
}

stub_authenticator::stub_authenticator() {
  auto tenant_key = [](std::string key_id, protocol::role role) {
    principal p;
    p.tenant = "demo";
    p.key_id = std::move(key_id);
    p.role = role;
    return p;
  };
  tokens_.emplace("reader-token", tenant_key("demo-reader", protocol::role::reader));
  tokens_.emplace("writer-token", tenant_key("demo-writer", protocol::role::writer));
  tokens_.emplace("admin-token", tenant_key("demo-admin", protocol::role::admin));
  principal system;
  system.key_id = "system";
  system.role = protocol::role::system;
  tokens_.emplace("system-token", std::move(system));
}

void stub_authenticator::add(std::string token, principal who) {
  std::lock_guard lock(mutex_);
  tokens_.insert_or_assign(std::move(token), std::move(who));
}

void stub_authenticator::revoke(const std::string& key_id) {
  std::lock_guard lock(mutex_);
  revoked_.insert(key_id);
}

std::optional<principal> stub_authenticator::authenticate(std::string_view token) {
  std::lock_guard lock(mutex_);
  auto found = tokens_.find(std::string(token));
  if (found == tokens_.end() || revoked_.contains(found->second.key_id)) return std::nullopt;
  return found->second;
}

bool stub_authenticator::still_valid(const principal& who) {
  std::lock_guard lock(mutex_);
  return !revoked_.contains(who.key_id);
}

}  // namespace stockgrid::gateway
