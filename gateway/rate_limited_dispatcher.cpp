#include "gateway/rate_limited_dispatcher.hpp"

#include <limits>

namespace stockgrid::gateway {

std::optional<protocol::value> rate_limited_dispatcher::refusal(const principal& who,
                                                                const protocol::op_request& req) {
  if (who.role == protocol::role::system) return std::nullopt;
  // A bulk costs the grid one request per item (at most bulk_items_max).
  const std::size_t items = req.op == "stock.bulk" ? req.items.size() : 1;
  const auto cost = static_cast<std::uint32_t>(std::min<std::size_t>(items, std::numeric_limits<std::uint32_t>::max()));
  const auto verdict = limiter_.try_acquire(who.tenant, cost);
  if (verdict.allowed) return std::nullopt;
  const rate_limit& limit = verdict.limit;
  return protocol::error_response(
      req.id, outcome::rate_limited,
      "tenant " + who.tenant + " is over its rate of " + std::to_string(limit.rate_per_second) +
          " requests/s (burst " + std::to_string(limit.burst) + ")",
      {{"retry_after_ms", verdict.retry_after_ms}});
}

void rate_limited_dispatcher::dispatch(const principal& who, protocol::op_request&& req,
                                       std::function<void(protocol::value)> done) {
  if (auto refused = refusal(who, req)) return done(std::move(*refused));
  inner_.dispatch(who, std::move(req), std::move(done));
}

void rate_limited_dispatcher::subscribe(const principal& who, protocol::op_request&& req,
                                        std::function<void()> wake, subscribed_fn done) {
  if (auto refused = refusal(who, req)) return done(std::move(*refused), nullptr);
  inner_.subscribe(who, std::move(req), std::move(wake), std::move(done));
}

}  // namespace stockgrid::gateway
