#include "gateway/dispatcher.hpp"

namespace stockgrid::gateway {

void dispatcher::subscribe(const principal&, protocol::op_request&& req, std::function<void()>,
                           subscribed_fn done) {
  done(protocol::error_response(req.id, outcome::unknown_op, "op: subscriptions are not served here"), nullptr);
}

void dispatcher::refused(const principal*, protocol::value&) {}

}  // namespace stockgrid::gateway
