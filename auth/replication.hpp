// Tenants and keys across a cluster. Each node keeps its own key store
// (DATA_DIR/system.db); nodes exchange their whole table (grid::publish_auth)
// and each merges what the others send into its store. This file is the plain
// part: reading a store's table, its bytes, and the merge rules. The thread
// that publishes and merges is app/auth_sync.hpp.
//
// Bytes, format version 1: one msgpack array, written by encode() and read by
// decode() only (every field is checked; anything else is refused):
//
//   table  = [version: int = 1, tenants: [tenant...], keys: [key...]]
//   tenant = [name: str,                 -- a valid tenant name
//             created_ms: int >= 0,
//             suspended_ms: int >= 0 | nil,
//             deleting_ms: int >= 0 | nil]
//   key    = [key_id: str,               -- 16 lowercase hex digits, or "system"
//             tenant: str,               -- "" only for the system key
//             role: int,                 -- protocol::role value (never renumbered)
//             warehouses: [str...],      -- as key.create allows; [] = every one
//             created_ms: int >= 0,
//             expires_at_ms: int >= 0 | nil,
//             revoked_ms: int >= 0 | nil,
//             hash_scheme: int,          -- auth::hash_scheme value
//             salt: str,                 -- 32 lowercase hex digits (16 bytes)
//             hash: str]                 -- 64 lowercase hex digits (32 bytes)
//
// Tenants are sorted by name and keys by key id, without duplicates, so equal
// tables have equal bytes (auth_sync publishes only when the bytes change).
// Salt and hash travel as hex because the codec's strings are UTF-8 only;
// no secret and no token is ever part of a table. A newer version is refused
// ("format version N"), so a node never misreads a table it does not know.
// At most limits::auth_table_bytes_max bytes (config/limits.hpp).
//
// Merge rules (merge()). They only ever add rows or move a row towards
// "revoked" or "suspended", and where two nodes disagree on a time they keep
// the earlier one, so tables merged in any order, any number of times, give
// the same store contents:
//  - A tenant the peer has and this store has not is added with the peer's
//    created_ms (and suspended_ms, if suspended), unless the peer marks it
//    deleting.
//  - A key the peer has and this store has not is added as the peer has it
//    (revoked too, if it is) when its tenant exists here and is not being
//    deleted here; otherwise it is skipped (counted in keys_waiting) and
//    added when a later table finds its tenant. The system key is never
//    copied: each node keeps its own (read_table leaves it out too).
//  - A key revoked at the peer is revoked here, at the earlier of the two
//    times. Revocation is final.
//  - A tenant suspended at the peer is suspended here, at the earlier of the
//    two times.
// Not merged, on purpose:
//  - Resuming a tenant. Without a time for each change a node cannot tell a
//    resume that came after a suspension from a suspension that came after
//    a resume, so suspension wins: a tenant resumed at one node is suspended
//    there again by the next table of a node where it is still suspended.
//    tenant.resume therefore stays node-local; to resume a tenant in a
//    cluster, resume it at every node (until a change log with per-change
//    times replaces these rules).
//  - Deletes (tenant.delete) are per node for now: neither the deleting mark
//    nor the removal travels. A node that still has the tenant (not marked
//    deleting) gives it back to a node that removed it, keys and all, so
//    delete a tenant at every node, after suspending it everywhere.
//  - created_ms of a tenant made at two nodes under one name, and a key id
//    drawn at two nodes (2^-64): each node keeps its own row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/key_store.hpp"

namespace stockgrid::auth {

inline constexpr std::int64_t auth_table_format_version = 1;

struct auth_table {
  std::vector<tenant_record> tenants;  // sorted by name
  std::vector<key_record> keys;        // sorted by key id
  friend bool operator==(const auth_table&, const auth_table&) = default;
};

// What one merge changed in the store (for the log) and what it left for
// later.
struct merge_report {
  std::uint64_t tenants_added = 0;
  std::uint64_t tenants_suspended = 0;  // active here before
  std::uint64_t keys_added = 0;
  std::uint64_t keys_revoked = 0;   // not revoked here before
  std::uint64_t times_earlier = 0;  // a revocation or suspension moved to the peer's earlier time
  std::uint64_t keys_waiting = 0;   // skipped: their tenant is not here (or being deleted here)
  bool changed() const {
    return tenants_added + tenants_suspended + keys_added + keys_revoked + times_earlier > 0;
  }
};

// Every tenant and every key but the system key, sorted as above.
store_status read_table(key_store& store, auth_table* out);

// The table's bytes (format above).
std::string encode(const auth_table& table);
// Reads bytes written by encode(). On failure returns false with `error`
// naming the field ("key 3 field 8: expected 32 hex digits") and leaves
// `out` unspecified.
bool decode(std::string_view bytes, auth_table* out, std::string* error);

// Applies a peer's table to `store` with the rules above. Stops at the first
// operating error of the store and returns it (what was applied stays; the
// next table retries the rest); `report` (may be null) counts the changes.
store_status merge(key_store& store, const auth_table& peer, merge_report* report);

}  // namespace stockgrid::auth
