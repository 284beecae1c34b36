// A dispatcher that measures and names every request it passes on: counts
// them by tenant, op and result code, times them by op, keeps the number in
// flight (for GET /metrics), and gives each a node-unique request id that
// error answers carry as `error.request_id` and log lines about the request
// repeat, so an operator can find a client's failed request in the logs.
// Requests the gateway refuses itself (refused()) are counted and named too.
// Wraps any dispatcher (the node's, the quota check, the stub).
#pragma once

#include <atomic>
#include <string>

#include "gateway/dispatcher.hpp"
#include "metrics/metrics.hpp"

namespace stockgrid::gateway {

class metered_dispatcher final : public dispatcher {
 public:
  // Registers its metrics in `r` (stockgrid_requests_total,
  // stockgrid_request_duration_seconds, stockgrid_requests_in_flight); at most
  // `series_max` (tenant, op, code) series, later ones are counted as
  // `_other`. `next` and `r` must outlive it.
  metered_dispatcher(dispatcher& next, metrics::registry& r, std::size_t series_max);

  void dispatch(const principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override;
  void subscribe(const principal& who, protocol::op_request&& req, std::function<void()> wake,
                 subscribed_fn done) override;

  // Counted as op `_gateway` (refused_op), by the principal's tenant, or
  // `_unauthenticated` before authentication; errors get a request_id too.
  void refused(const principal* who, protocol::value& answer) override;

  // The labels of requests the gateway refused itself.
  static constexpr const char* refused_op = "_gateway";
  static constexpr const char* unauthenticated_tenant = "_unauthenticated";

  // The next request id: "<8 hex digits chosen at start>-<counter in hex>".
  std::string next_request_id();

 private:
  // Records the answer of a request that started at `start_ns`, stamps
  // `request_id` into an error answer and logs server-side failures.
  void finish(const std::string& tenant, const std::string& key_id, const std::string& op, const std::string& request_id,
              std::int64_t start_ns, protocol::value& answer);
  // Counts an answer by (tenant, op, code); an error gets `request_id`, and
  // a log line.
  void count(const std::string& tenant, const std::string& key_id, const std::string& op,
             const std::string& request_id, protocol::value& answer);

  dispatcher& next_;
  metrics::family<metrics::counter>& requests_;
  metrics::family<metrics::histogram>& duration_;
  metrics::gauge& in_flight_;
  std::string id_prefix_;
  std::atomic<std::uint64_t> next_id_{1};
};

// The code of an answer: "ok", or its error's code ("INSUFFICIENT_STOCK").
std::string answer_code(const protocol::value& answer);

}  // namespace stockgrid::gateway
