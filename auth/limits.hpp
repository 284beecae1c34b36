// Limits of the auth folder: token sizes, name rules and admin-op input
// bounds, kept together so their relations can be checked at compile time.
#pragma once

#include <cstddef>

#include "config/limits.hpp"

namespace stockgrid::auth::limits {

// Key tokens: "sg_" + key id + "_" + secret (see tokens.hpp).
inline constexpr std::size_t key_id_random_bytes = 8;   // 16 hex digits
inline constexpr std::size_t secret_random_bytes = 32;  // 256 bits, 64 hex digits
inline constexpr std::size_t salt_bytes = 16;
inline constexpr std::size_t hash_bytes = 32;  // SHA-256

// Any token presented for authentication. Longer input is refused before it
// is hashed, so a huge `auth` frame costs nothing.
inline constexpr std::size_t token_bytes_max = 1024;
// An operator-chosen system token (STOCKGRID_ADMIN_TOKEN).
inline constexpr std::size_t system_token_bytes_min = 16;

static_assert(secret_random_bytes >= 32, "generated secrets carry at least 256 bits");
static_assert(3 + 2 * key_id_random_bytes + 1 + 2 * secret_random_bytes <= token_bytes_max,
              "a generated token must be accepted");
static_assert(system_token_bytes_min < token_bytes_max);

// Tenant names: 1..64 bytes of [a-z0-9._-].
inline constexpr std::size_t tenant_bytes_max = 64;
static_assert(tenant_bytes_max <= stockgrid::limits::id_bytes_max,
              "a tenant name must also be a valid record-key id");

// key.create: warehouses a key may be limited to.
inline constexpr std::size_t key_warehouses_max = 100;
inline constexpr std::size_t warehouse_bytes_max = stockgrid::limits::id_bytes_max;  // 128

// Tombstones of deleted tenants a key store keeps (key_store.hpp): the most
// recent deletes. A member that missed more deletes than this while it was
// away could give an older one's tenant back. Each is about 90 bytes in a
// table, so this many take under 1 MiB of the 8 MiB a table may hold.
inline constexpr std::size_t tombstones_max = 10000;
static_assert(tombstones_max * (tenant_bytes_max + 2 * 9 + 8) < stockgrid::limits::auth_table_bytes_max / 4);

// The member id that stamps a tenant status change (auth/replication.hpp):
// host (at most 253 bytes, cluster/endpoints.hpp), ':' and a port.
inline constexpr std::size_t status_by_bytes_max = 253 + 1 + 5;

// Retries when a freshly drawn key id is already taken (2^-64 per draw).
inline constexpr int key_id_attempts_max = 3;

}  // namespace stockgrid::auth::limits
