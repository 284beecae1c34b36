// The requests of the ops decoded above protocol/ (order.*, transfer.*,
// stock.find, tenant.settings; docs/protocol.md), built as the protocol's
// op_request with their fields in `params`, plus stock.policy's. The client
// library's typed helpers and stockctl's commands both build them here, so
// the client side spells these field names once; the server side reads them
// in orders/wire.cpp (tests/client/order_requests_test.cpp checks the two
// agree).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.hpp"

namespace stockgrid::client {

// One line of order.reserve.
struct order_line {
  std::string sku;
  std::int64_t qty = 0;
  std::string warehouse;  // empty: the server chooses (tenant.settings' allocation)
};

// order.reserve's optional fields; empty/zero/false means "not sent".
struct order_options {
  std::int64_t ttl_ms = 0;  // 0: the server's default
  bool partial = false;     // policy "partial" instead of "all_or_nothing"
  std::string ref;
  std::string idem;         // empty: the client generates one (not for a dry run)
  bool dry_run = false;     // allocate and explain; hold nothing
};

// stock.policy: the record-level settings to change; absent = unchanged.
struct policy_options {
  std::optional<std::int64_t> safety_stock;
  std::optional<bool> allow_backorder;
  std::optional<std::int64_t> low_stock_threshold;
  std::string idem;
};

// tenant.settings: what to change; nothing set = read the settings.
struct settings_change {
  std::optional<std::string> allocation;  // "priority", "most_available", "fewest_splits"
  std::optional<std::vector<std::string>> priority;
  std::optional<std::string> ack;  // "quorum" or "leader" (docs/cluster.md)
};

protocol::op_request build_order_reserve(const std::vector<order_line>& lines,
                                         const order_options& options = {});
// order.commit, order.release (idem may be empty) and order.get (no idem).
protocol::op_request build_order_op(std::string_view op, std::string order,
                                    std::string idem = {});
protocol::op_request build_order_extend(std::string order, std::int64_t ttl_ms,
                                        std::string idem = {});
protocol::op_request build_transfer_create(std::string sku, std::string from, std::string to,
                                           std::int64_t qty, std::string idem = {});
// qty absent: everything still in transit.
protocol::op_request build_transfer_receive(std::string transfer,
                                            std::optional<std::int64_t> qty = std::nullopt,
                                            std::string idem = {});
// transfer.cancel (idem may be empty) and transfer.get (no idem).
protocol::op_request build_transfer_op(std::string_view op, std::string transfer,
                                       std::string idem = {});
protocol::op_request build_find(std::string sku);
protocol::op_request build_settings(const settings_change& change = {});
protocol::op_request build_policy(std::string warehouse, std::string sku,
                                  const policy_options& options = {});

// The idempotency key a request carries, wherever its op keeps it; "".
std::string idem_of(const protocol::op_request& r);
// Gives a request that changes state an idempotency key when it has none
// (a dry run changes nothing and gets none); `make_key` makes one.
void ensure_idem(protocol::op_request& r, std::string (*make_key)());

}  // namespace stockgrid::client
