// The order, transfer, stock.find and tenant.settings ops on the wire
// (docs/protocol.md): their request fields into orders/requests.hpp's
// structs, and their replies into responses. protocol/ cannot know these
// types (orders/ links protocol/), so decode_request only keeps such a
// frame in op_request::params and the decoding happens here, with the same
// field_reader and so the same typed, field-naming BAD_REQUEST messages.
//
// The caller (`who`) of a decoded request is left empty: the dispatcher
// fills it from the token, never from a frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "orders/requests.hpp"
#include "protocol/messages.hpp"
#include "protocol/value.hpp"

namespace stockgrid::orders {

// tenant.settings: the most warehouses `priority` may list (the settings
// document reads no more).
inline constexpr std::size_t priority_warehouses_max = 1000;

// stock.find's request.
struct find_request {
  caller who;
  std::string sku;
};

// Requests. Each takes an op_request decode_request produced for its op
// (order.* for decode_order, ...) and answers BAD_REQUEST naming the first
// bad field, with the request's id.
std::variant<order_request, protocol::decode_failure> decode_order(const protocol::op_request& req);
std::variant<transfer_request, protocol::decode_failure> decode_transfer(
    const protocol::op_request& req);
std::variant<find_request, protocol::decode_failure> decode_find(const protocol::op_request& req);
std::variant<settings_request, protocol::decode_failure> decode_settings(
    const protocol::op_request& req);

// The first warehouse the request names that its caller may not use (an
// order line's, a transfer's from or to); nullopt when it may use them all.
// The dispatcher answers FORBIDDEN before asking the grid.
std::optional<std::string> forbidden_warehouse(const order_request& r);
std::optional<std::string> forbidden_warehouse(const transfer_request& r);

// Objects of results.
// {order, status, policy, ref, lines: [{sku, warehouse, qty, hold}],
//  unfilled: [{sku, qty}], expires_at_ms, created_ms}
protocol::value order_value(const order& o);
// {transfer, status, sku, from, to, qty, received, in_transit,
//  receipts: [{qty, at_ms}], created_ms}; in_transit is 0 once cancelled
// or failed, receipts lists the applied ones.
protocol::value transfer_value(const transfer& t);
// {allocation, priority, low_stock_threshold, rate_per_second, rate_burst,
// subscriptions_max, records_max, connections_max}: the quotas as given (the node's dispatcher fills in
// the node's defaults for the 0s first, so a reader sees what applies).
protocol::value settings_value(const tenant_settings& s);

// Responses, ok or error, in the op's documented shape. Errors carry their
// details: INSUFFICIENT_STOCK `lines` (orders) or `available` (transfers),
// `order` or `transfer` (the id) and its `status` when the refusal has one,
// `retry_after_ms` for RATE_LIMITED, OVERLOADED and UNAVAILABLE;
// "replayed": true on an idempotent replay.
// order.*: the order object's members at the top of the result; a dry run
// (dry_run set in the request) {dry_run: true, complete, lines: [{sku,
// warehouse, qty}], unfilled: [{sku, qty}], short: [...], explanation: [str]}.
protocol::value order_response(std::optional<std::int64_t> id, const order_reply& r,
                               bool dry_run = false);
// transfer.*: the transfer object's members at the top of the result.
protocol::value transfer_response(std::optional<std::int64_t> id, const transfer_reply& r);
// stock.find: {sku, records: [record...], total_available}.
protocol::value find_response(std::optional<std::int64_t> id, std::string_view sku,
                              const find_reply& r);
// tenant.settings: {settings: settings_value}.
protocol::value settings_response(std::optional<std::int64_t> id, const settings_reply& r);

}  // namespace stockgrid::orders
