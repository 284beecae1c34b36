// A dispatcher in front of another that keeps each tenant within its request
// rate (gateway/rate_limiter.hpp) before the request reaches the grid, so a
// refused request costs no grid work. A refusal is the normal error response
// with the request's id: RATE_LIMITED with `retry_after_ms`.
//
// What counts (docs/protocol.md "Errors", RATE_LIMITED): every request that
// reaches the dispatcher, each element of a batch frame on its own; a
// stock.bulk counts one per item. `auth`, `ping` and `unsubscribe` never
// reach a dispatcher (the connection answers them) and do not count; nor does
// anything the system role sends: the operator must be able to change a
// tenant's quotas during the storm it is stopping.
#pragma once

#include "gateway/dispatcher.hpp"
#include "gateway/rate_limiter.hpp"

namespace stockgrid::gateway {

class rate_limited_dispatcher final : public dispatcher {
 public:
  // Both outlive this.
  rate_limited_dispatcher(dispatcher& inner, rate_limiter& limiter) : inner_(inner), limiter_(limiter) {}

  void dispatch(const principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override;
  void subscribe(const principal& who, protocol::op_request&& req, std::function<void()> wake,
                 subscribed_fn done) override;

 private:
  // The RATE_LIMITED answer when the request must wait; nullopt to go on.
  std::optional<protocol::value> refusal(const principal& who, const protocol::op_request& req);

  dispatcher& inner_;
  rate_limiter& limiter_;
};

}  // namespace stockgrid::gateway
