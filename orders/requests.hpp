// The order, transfer, availability and tenant-settings operations and their
// replies, as plain structs: what the grid facade (actors/grid.hpp) takes and
// answers, and what the wire layer (orders/wire.hpp) maps frames to. Like
// domain/request.hpp, one flat struct per direction; each op reads only the
// fields its comment names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/outcome.hpp"
#include "domain/request.hpp"
#include "orders/allocation.hpp"
#include "orders/order.hpp"
#include "orders/transfer.hpp"
#include "protocol/value.hpp"

namespace stockgrid::orders {

// Who sends an op: from the token, never from a frame.
struct caller {
  std::string tenant;
  std::string key_id;
  // The warehouses the key may touch; null = all of its tenant's.
  std::shared_ptr<const std::vector<std::string>> warehouses_allowed;
  bool may_use(const std::string& warehouse) const;
};

enum class order_op : std::uint8_t { reserve, commit, release, extend, get };

struct order_request {
  order_op kind = order_op::get;
  caller who;
  std::string order;                // commit, release, extend, get: the order id
  std::vector<line_request> lines;  // reserve: 1..limits::order_lines_max
  std::int64_t ttl_ms = 0;          // reserve (0 = the holds' default), extend (> 0)
  order_policy policy = order_policy::all_or_nothing;  // reserve
  std::string ref;                  // reserve: the client's reference, may be empty
  std::string idem;                 // reserve, commit, release, extend; empty = none
  bool dry_run = false;             // reserve: allocate and explain, hold nothing
};

struct order_reply {
  outcome code = outcome::internal;
  std::string message;
  std::int64_t retry_after_ms = 0;  // OVERLOADED, UNAVAILABLE
  bool has_order = false;
  order doc;                        // ok; a refusal's order when there is one
  // INSUFFICIENT_STOCK of all_or_nothing: each short line.
  std::vector<short_line> shortages;
  // dry_run: what would be held, what would stay unfilled, and why.
  std::vector<allocated_line> plan;
  std::vector<unfilled_line> plan_unfilled;
  std::vector<std::string> explanation;
  bool replayed = false;  // an idempotent replay
  static order_reply error(outcome code, std::string message) {
    order_reply r;
    r.code = code;
    r.message = std::move(message);
    return r;
  }
};

enum class transfer_op : std::uint8_t { create, receive, cancel, get };

struct transfer_request {
  transfer_op kind = transfer_op::get;
  caller who;
  std::string transfer;            // receive, cancel, get: the transfer id
  std::string sku, from, to;       // create
  std::optional<std::int64_t> qty;  // create (required), receive (absent = all in transit)
  std::string idem;                // create, receive, cancel; empty = none
};

struct transfer_reply {
  outcome code = outcome::internal;
  std::string message;
  std::int64_t retry_after_ms = 0;
  std::int64_t available = 0;  // INSUFFICIENT_STOCK at `from`
  bool has_transfer = false;
  transfer doc;
  bool replayed = false;
  static transfer_reply error(outcome code, std::string message) {
    transfer_reply r;
    r.code = code;
    r.message = std::move(message);
    return r;
  }
};

// stock.find: the SKU in every warehouse of the tenant that stocks it.
struct find_reply {
  outcome code = outcome::internal;
  std::string message;
  std::vector<record_view> records;  // by warehouse
  std::int64_t total_available = 0;  // sum of max(0, available)
};

// How a cluster acknowledges a tenant's changes (docs/cluster.md "What each
// acknowledgement promises"). Outside a cluster there is one copy and both
// behave alike. Stored as the number: never renumber.
enum class ack_mode : std::uint8_t {
  quorum = 0,  // the ok waits until a majority of the partition's copies hold the change
  leader = 1,  // the ok once the leader's own journal holds it; a leader crash can lose the unshipped tail
};
std::string_view to_string(ack_mode m);
std::optional<ack_mode> parse_ack_mode(std::string_view s);

// Per-tenant settings (tenant.settings); later issues add fields.
struct tenant_settings {
  allocation_settings allocation;
  // Low-stock alerts (feed/alerts.hpp) for records without a threshold of
  // their own (stock.policy); 0 = none.
  std::int64_t low_stock_threshold = 0;
  // Quotas (docs/operations.md "Quotas"), changed by the system role only;
  // 0 = the node's default (config quota_settings and
  // subscriptions-per-tenant-max).
  std::uint32_t rate_per_second = 0;  // 0..limits::tenant_rate_per_second_max
  std::uint32_t rate_burst = 0;       // 0..limits::tenant_rate_burst_max
  std::uint32_t subscriptions_max = 0;  // 0..limits::tenant_subscriptions_max
  std::uint32_t records_max = 0;        // 0..limits::tenant_records_max
  std::uint32_t connections_max = 0;    // 0..limits::tenant_connections_max
  ack_mode ack = ack_mode::quorum;
  // The last change: when (wall-clock ms, made later than the one before)
  // and at which cluster member ("" outside a cluster). In a cluster the
  // settings with the later (changed_ms, changed_by) win everywhere
  // (orders/settings_table.hpp).
  std::int64_t changed_ms = 0;
  std::string changed_by;
};

struct settings_request {
  caller who;
  // The system role names the tenant whose settings it reads or changes
  // (its caller has none); a tenant's own roles always act on their tenant
  // and this is ignored.
  std::string tenant;
  // Absent = unchanged; all absent = read.
  std::optional<allocation_policy> allocation;
  std::optional<std::vector<std::string>> priority;
  std::optional<std::int64_t> low_stock_threshold;  // 0..limits::qty_max
  // Quotas, each 0 = back to the node's default. Only the system role may
  // set them (the node's dispatcher refuses a tenant's FORBIDDEN).
  std::optional<std::uint32_t> rate_per_second;
  std::optional<std::uint32_t> rate_burst;
  std::optional<std::uint32_t> subscriptions_max;
  std::optional<std::uint32_t> records_max;
  std::optional<std::uint32_t> connections_max;
  std::optional<ack_mode> ack;

  bool sets_quotas() const {
    return rate_per_second || rate_burst || subscriptions_max || records_max || connections_max;
  }
  bool changes() const { return allocation || priority || low_stock_threshold || ack || sets_quotas(); }
};

struct settings_reply {
  outcome code = outcome::internal;
  std::string message;
  tenant_settings settings;
};

// Fingerprints of what a request asks for (not its idem or sender), to tell
// a retry from a different request under the same idempotency key.
std::uint64_t fingerprint(const order_request& r);
std::uint64_t fingerprint(const transfer_request& r);

// tenant.settings' document body: msgpack of {v: 1, allocation: int
// (allocation_policy), priority: [str], then, each optional (absent in
// older documents) and within its limit: low_stock_threshold: int (absent
// = 0), rate_per_second, rate_burst, subscriptions_max, records_max,
// connections_max: int (absent = 0), ack: int (ack_mode; absent = quorum),
// changed_ms: int in [0, settings_changed_ms_max] (absent = 0), changed_by: str of at most
// limits::id_bytes_max bytes (absent = "")}. decode is false on anything
// else. The body as a value is what orders/settings_table.hpp ships.
std::string encode(const tenant_settings& s);
bool decode(std::string_view bytes, tenant_settings* out);
// The largest changed_ms a document may carry (2^53 ms: far beyond any
// clock, and a stamp one later never overflows).
inline constexpr std::int64_t settings_changed_ms_max = std::int64_t{1} << 53;
protocol::value settings_body(const tenant_settings& s);
bool read_settings_body(const protocol::value& body, tenant_settings* out);

}  // namespace stockgrid::orders
