#include "gateway/metered_dispatcher.hpp"

#include <chrono>
#include <cstdio>
#include <random>

#include <spdlog/spdlog.h>

namespace stockgrid::gateway {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Codes that mean the service failed the request, not that the client asked
// for something it may not have: logged at warn, the rest at debug.
bool server_side(const std::string& code) {
  return code == "INTERNAL" || code == "UNAVAILABLE" || code == "TIMEOUT";
}

protocol::object* error_of(protocol::value& answer) {
  auto* o = answer.as_object();
  if (!o) return nullptr;
  for (auto& [k, v] : *o)
    if (k == "error") return v.as_object();
  return nullptr;
}

}  // namespace

std::string answer_code(const protocol::value& answer) {
  const auto* error = answer.find("error");
  if (!error) return "ok";
  const auto* code = error->find("code");
  return code && code->as_string() ? *code->as_string() : "INTERNAL";
}

metered_dispatcher::metered_dispatcher(dispatcher& next, metrics::registry& r, std::size_t series_max)
    : next_(next),
      requests_(r.add_counter_family("stockgrid_requests_total",
                                     "Requests answered, by tenant, op and result code (ok or the error code).",
                                     {"tenant", "op", "code"}, series_max)),
      duration_(r.add_histogram_family("stockgrid_request_duration_seconds",
                                       "Time from dispatch to answer, by op.", {"op"},
                                       metrics::latency_buckets(), 256)),
      in_flight_(r.add_gauge("stockgrid_requests_in_flight", "Requests dispatched and not yet answered.")) {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  id_prefix_ = buf;
}

std::string metered_dispatcher::next_request_id() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%llx",
                static_cast<unsigned long long>(next_id_.fetch_add(1, std::memory_order_relaxed)));
  return id_prefix_ + buf;
}

void metered_dispatcher::finish(const std::string& tenant, const std::string& key_id,
                                const std::string& op, const std::string& request_id,
                                std::int64_t start_ns, protocol::value& answer) {
  const double seconds = static_cast<double>(now_ns() - start_ns) / 1e9;
  duration_.with({op}).observe(seconds);
  in_flight_.add(-1);
  count(tenant, key_id, op, request_id, answer);
}

void metered_dispatcher::count(const std::string& tenant, const std::string& key_id, const std::string& op,
                               const std::string& request_id, protocol::value& answer) {
  const std::string code = answer_code(answer);
  requests_.with({tenant.empty() ? "_system" : tenant, op, code}).add();
  if (code == "ok") return;
  if (auto* error = error_of(answer)) error->emplace_back("request_id", request_id);
  const auto* message = answer.find("error") ? answer.find("error")->find("message") : nullptr;
  spdlog::log(server_side(code) ? spdlog::level::warn : spdlog::level::debug,
              "request {} tenant={} key={} op={} failed: {}: {}", request_id, tenant, key_id, op,
              code, message && message->as_string() ? *message->as_string() : "");
}

void metered_dispatcher::dispatch(const principal& who, protocol::op_request&& req,
                                  std::function<void(protocol::value)> done) {
  in_flight_.add(1);
  auto op = req.op;
  next_.dispatch(who, std::move(req),
                 [this, tenant = who.tenant, key = who.key_id, op = std::move(op), id = next_request_id(), start = now_ns(),
                  done = std::move(done)](protocol::value answer) {
                   finish(tenant, key, op, id, start, answer);
                   done(std::move(answer));
                 });
}

void metered_dispatcher::subscribe(const principal& who, protocol::op_request&& req, std::function<void()> wake,
                                   subscribed_fn done) {
  in_flight_.add(1);
  auto op = req.op;
  next_.subscribe(who, std::move(req), std::move(wake),
                  [this, tenant = who.tenant, key = who.key_id, op = std::move(op), id = next_request_id(), start = now_ns(),
                   done = std::move(done)](protocol::value answer, std::shared_ptr<event_stream> stream) {
                    finish(tenant, key, op, id, start, answer);
                    done(std::move(answer), std::move(stream));
                  });
}

void metered_dispatcher::refused(const principal* who, protocol::value& answer) {
  if (who == nullptr) return count(unauthenticated_tenant, "", refused_op, next_request_id(), answer);
  count(who->tenant, who->key_id, refused_op, next_request_id(), answer);
}

}  // namespace stockgrid::gateway
