// Compile-time limits of stockgrid. Every number that bounds an input or a
// structure and is not an operator setting lives here; operator settings (with
// their own bounds) live in config/settings.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace stockgrid::limits {

// Identifiers: tenant, warehouse, SKU, hold reference, reason, idempotency key.
inline constexpr std::size_t id_bytes_max = 128;
// Free-text reason attached to a change.
inline constexpr std::size_t reason_bytes_max = 256;
// Hold ids are opaque strings the server routes; see domain/hold_id.hpp.
inline constexpr std::size_t hold_id_bytes_max = 64;

// Quantities: every count and delta lies in [-quantity_max, quantity_max], so
// the sum or difference of two of them never overflows int64.
inline constexpr std::int64_t quantity_max = 1'000'000'000'000;  // 10^12
static_assert(quantity_max < INT64_MAX / 4, "sums of quantities must not overflow");

// Active holds on one record. A record with this many holds refuses further
// reserves with LIMIT_EXCEEDED.
inline constexpr std::size_t holds_per_record_max = 100'000;

// history(): newest entries returned by one call.
inline constexpr int history_limit_max = 1000;
inline constexpr int history_limit_default = 100;

// Requests waiting in a partition while their record is being loaded from disk.
inline constexpr std::size_t pending_per_activation_max = 4096;
// Requests waiting inside a record actor while an idempotency lookup is on disk.
inline constexpr std::size_t deferred_per_record_max = 4096;

// Largest batch the journal writer puts into one transaction.
inline constexpr std::size_t journal_batch_entries_max = 8192;

// Partitions: hash(tenant, warehouse, sku) mod N.
inline constexpr std::uint32_t partitions_max = 4096;

// Nodes in one cluster (this node and the ones --join lists). Every node
// heartbeats every other, so the cost grows with the square of this.
inline constexpr std::uint32_t cluster_members_max = 64;
// The tenants-and-keys table one node sends the others (grid::publish_auth):
// at most this many bytes (about 40,000 keys).
inline constexpr std::size_t auth_table_bytes_max = 8u << 20;

// Orders and transfers (orders/). Lines of one order as requested, before
// merging; the merged lines, the unfilled and the shortages are never more.
inline constexpr std::size_t order_lines_max = 100;
// Partial receipts of one transfer; a further receipt is refused.
inline constexpr std::size_t transfer_receipts_max = 1000;
// Open orders and transfers per node (each has a coordinator actor): a new
// one beyond this is OVERLOADED. Each coordinator has at most one step in
// flight, so this also bounds the internal requests they send.
inline constexpr std::size_t open_coordinators_max = 100'000;
// Calls waiting on one coordinator, or on one idempotency key being looked up.
inline constexpr std::size_t coordinator_waiting_max = 64;
// An order's id and its step suffix ("/p99") fit an idempotency key.
// An order's lines summed stay far from overflow.
static_assert(quantity_max * static_cast<std::int64_t>(order_lines_max) < INT64_MAX / 4,
              "an order's summed quantities must not overflow");

// Per-tenant quotas (config/settings.hpp quota_settings, tenant.settings):
// the most a node default or a tenant's own value may be.
inline constexpr std::uint32_t tenant_rate_per_second_max = 100'000'000;
inline constexpr std::uint32_t tenant_rate_burst_max = 1'000'000'000;
inline constexpr std::uint32_t tenant_subscriptions_max = 1'000'000;
// Stock records (distinct warehouse and SKU) one tenant may have.
inline constexpr std::uint32_t tenant_records_max = 1'000'000'000;
// WebSocket connections one tenant may hold (the gateway's
// connections_per_tenant_max bounds agree).
inline constexpr std::uint32_t tenant_connections_max = 1'000'000;

}  // namespace stockgrid::limits
