// The protocol's requests and responses (v1), defined once and shared by the
// gateway, the client library, stockctl and the tests. docs/protocol.md is the
// contract in prose; this header is the same contract in code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/limits.hpp"
#include "domain/outcome.hpp"
#include "domain/request.hpp"
#include "protocol/value.hpp"

namespace stockgrid::protocol {

inline constexpr std::string_view version = "1";

// Roles: `system` (the operator; no tenant) and, within a tenant,
// admin ⊃ writer ⊃ reader. Values are stored (key records): never renumber.
enum class role : unsigned char { reader = 1, writer = 2, admin = 3, system = 4 };
std::string_view to_string(role r);
std::optional<role> parse_role(std::string_view text);

// What an op needs. `system` ops are for the system role only; tenant ops
// accept their role and the roles above it within a tenant (system excluded
// unless the op has system_names_tenant).
struct op_spec {
  std::string_view name;  // "stock.reserve"
  role needs;
  bool any_role = false;  // auth, ping: no role needed
  // Decoded above protocol/ (orders/wire.hpp: order.*, transfer.*,
  // stock.find, tenant.settings): decode_request keeps the frame in
  // op_request::params and checks none of its fields.
  bool params = false;
  // A params op that changes state and takes an `idem` (the client library
  // fills one in; stock.* mutations are known by their grid op).
  bool idem = false;
  // A tenant op the system role may run too, naming the tenant it acts on
  // in a `tenant` field (tenant.settings: the operator sets quotas).
  bool system_names_tenant = false;
};
// The spec of a known op; null for an unknown one.
const op_spec* find_op(std::string_view name);
// Whether `who` may run an op that needs `needs`.
bool allows(role who, const op_spec& spec);

// A decoded request frame. Field names follow the wire names.
struct op_request {
  std::optional<std::int64_t> id;  // 0..2^53-1
  std::string op;
  // stock.get/holds/history/adjust/set/reserve/commit/release/extend/sell: the
  // grid request; its tenant and key_id are left empty for the gateway to
  // fill from the token (never from a frame).
  request grid;
  std::vector<request> items;  // stock.bulk: adjust and set items, in order
  std::string idem;            // stock.bulk's own idempotency key
  // stock.list
  std::string warehouse;
  std::string sku_prefix;
  std::string cursor;
  int limit = 0;
  // auth
  std::string token;
  // key.create, key.revoke, tenant.create/suspend/resume/export (export
  // also takes `cursor` and `limit` above)
  std::optional<role> key_role;
  std::vector<std::string> warehouses;
  std::optional<std::int64_t> expires_at_ms;
  std::string key_id;
  std::string tenant;
  // Ops whose op_spec has `params`: the request object, as received (the
  // whole frame) or to send (encode_request writes its members after `op`
  // and `id`, skipping any `op` or `id` in it); orders/wire.hpp reads it.
  value params;
};

// The most items one stock.bulk may carry; more is a BAD_REQUEST naming
// `items`. The default parse_limits let a full bulk through (static_assert in
// messages.cpp); a longer array already fails to parse (BAD_REQUEST, id null).
inline constexpr std::size_t bulk_items_max = 1000;
// A bulk's own idem: its items get "<idem>:<index>", which must still fit an id.
inline constexpr std::size_t bulk_idem_bytes_max = 120;
static_assert(bulk_idem_bytes_max + 1 + 3 <= limits::id_bytes_max);

// The grid op behind a stock.* op name ("stock.reserve" → op::reserve);
// nullopt for stock.list, stock.bulk and every non-stock op.
std::optional<op> grid_op_of(std::string_view name);
// The wire name of a grid op (op::reserve → "stock.reserve").
std::string_view op_name_of(op kind);

struct decode_failure {
  outcome code = outcome::bad_request;  // BAD_REQUEST or UNKNOWN_OP
  std::string message;                  // names the field
  std::optional<std::int64_t> id;       // when the frame's id was readable
};

// Checks the frame's shape, the op and each field's type and range.
std::variant<op_request, decode_failure> decode_request(const value& frame);

// Encodes a request (the client library's side of decode_request).
value encode_request(const op_request& req);

// Responses: {"id", "ok": true, ...result} / {"id", "ok": false, "error": {...}}.
value ok_response(std::optional<std::int64_t> id, object result);
value error_response(std::optional<std::int64_t> id, outcome code, std::string_view message,
                     object details = {});
// The wire record object {warehouse, sku, on_hand, reserved, available, version}.
value record_value(const record_view& r);
// A hold as stock.holds lists it {hold, qty, expires_at_ms, ref}, and a
// history event as stock.history lists it.
value hold_value(const hold_view& h);
value event_value(const history_event& e);
// The response to a grid op (stock.*) from the grid's reply, in the op's
// documented shape (error details: available, record, limit, retry_after_ms).
value grid_response(std::optional<std::int64_t> id, std::string_view op, const reply& r);
// stock.bulk: {"id", "ok": true, "results": [...]}, one entry per item in item
// order, each {"ok": true, "record": {...}} or {"ok": false, "error": {...}}
// (plus "replayed": true on an idempotent replay), so one failed item never
// hides the others.
value bulk_response(std::optional<std::int64_t> id, const std::vector<reply>& items);

// Results of the ops that are not grid ops, for ok_response(). Building them
// here keeps their field names in one place for the gateway, the client and
// the docs.

// What the auth response announces under "limits".
struct wire_limits {
  std::int64_t frame_bytes_max = 64 * 1024;
  std::int64_t in_flight_max = 4096;  // per connection
  std::int64_t ttl_ms_max = 86'400'000;
  std::int64_t ttl_ms_default = 600'000;
  std::int64_t bulk_items_max = static_cast<std::int64_t>(protocol::bulk_items_max);
  std::int64_t id_bytes_max = static_cast<std::int64_t>(limits::id_bytes_max);
  std::int64_t hold_id_bytes_max = static_cast<std::int64_t>(limits::hold_id_bytes_max);
  std::int64_t reason_bytes_max = static_cast<std::int64_t>(limits::reason_bytes_max);
  std::int64_t string_bytes_max = 4096;
  std::int64_t depth_max = 8;
};
// auth: {tenant (null for the system role), role, server_version,
// protocol_version, limits}.
object auth_result(std::string_view tenant, role r, std::string_view server_version,
                   const wire_limits& limits);
// stock.list: {records: [...], cursor} with cursor left out on the last page.
object list_result(const std::vector<record_view>& records, std::string_view next_cursor);

// An API key as key.list shows it: never its secret.
struct key_info {
  std::string key_id;
  role key_role = role::reader;
  std::vector<std::string> warehouses;  // empty = all warehouses
  std::optional<std::int64_t> expires_at_ms;
};
// key.list: {keys: [{key_id, role, warehouses, expires_at_ms?}]}.
object key_list_result(const std::vector<key_info>& keys);
// tenant.list: {tenants: [{tenant, suspended}]}.
struct tenant_info {
  std::string tenant;
  bool suspended = false;
};
object tenant_list_result(const std::vector<tenant_info>& tenants);

}  // namespace stockgrid::protocol
