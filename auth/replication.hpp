// Tenants and keys across a cluster. Each node keeps its own key store
// (DATA_DIR/system.db); nodes exchange their whole table (grid::publish_auth)
// and each merges what the others send into its store. This file is the plain
// part: reading a store's table, its bytes, and the merge rules. The thread
// that publishes and merges is app/auth_sync.hpp.
//
// Bytes, format version 3: one msgpack array, written by encode() and read by
// decode() only (every field is checked; anything else is refused):
//
//   table  = [version: int = 3, tenants: [tenant...], keys: [key...],
//             tombstones: [tombstone...]]
//   tenant = [name: str,                 -- a valid tenant name
//             created_ms: int >= 0,
//             suspended_ms: int >= 0 | nil,
//             deleting_ms: int >= 0 | nil,
//             status_ms: int >= 0 | nil, -- the last tenant.suspend/resume
//             status_by: str]            -- its member id; "" if unknown
//                                        -- (always "" without status_ms)
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
//   tombstone = [name: str,              -- a valid tenant name
//                created_ms: int >= 0,   -- of the deleted tenant
//                deleted_ms: int >= created_ms]
//
// A table without tombstones is written in format 2 (the same without the
// last field), which nodes of the release before read; format 1, whose
// tenants have the first four fields only and merge as unstamped (below),
// is read too. A node of an earlier release refuses a newer format
// ("format version 3"), so while a cluster is being upgraded the old nodes
// hear nothing from a new one that holds tombstones; the new ones still
// take the old nodes' tables.
//
// Tenants and tombstones are sorted by name and keys by key id, without
// duplicates, so equal
// tables have equal bytes (auth_sync publishes only when the bytes change).
// Salt and hash travel as hex because the codec's strings are UTF-8 only;
// no secret and no token is ever part of a table. A newer version is refused
// ("format version N"), so a node never misreads a table it does not know.
// At most limits::auth_table_bytes_max bytes (config/limits.hpp).
//
// Merge rules (merge()). Tables merged in any order, any number of times,
// give the same store contents:
//  - Tombstones first. A peer's tombstone removes this store's tenant of
//    that name, with its keys, if it was created at or before the
//    tombstone's deleted_ms (the deleted tenant, or one made at two nodes
//    under one name before the delete); a tenant created later is another
//    one and stays. The store keeps the tombstone (key_store.hpp), so the
//    delete goes on to members that hear only this one.
//  - A peer's tenant created at or before the deleted_ms of a tombstone
//    here is the deleted tenant, which the peer has not forgotten yet: it
//    is ignored whole (not added, its status and mark not taken), and so
//    are the peer's keys of that name created at or before it. Tombstones
//    stay when a later tenant takes the name, so a member that comes back
//    with an old table gives neither the old tenant nor its keys back.
//  - A tenant the peer has and this store has not is added with the peer's
//    created_ms and status, unless the peer marks it deleting.
//  - A tenant the peer marks deleting is marked deleting here too (at the
//    peer's time) if it is the same tenant (the same created_ms), and
//    suspended first if it is active here: a delete wins over any status
//    change.
//  - A tenant's status (suspended or active) is last-writer-wins by the
//    stamp of its last change: every tenant.suspend and tenant.resume is
//    stamped with the wall-clock time and the member id of the node it was
//    made at (key_store::set_tenant_suspended; a change is stamped after the
//    one it replaces even if the clock says otherwise). The peer's status,
//    suspended_ms and stamp replace this store's when its change is the
//    later one: by status_ms, then by status_by (the greater member id wins
//    a tie of milliseconds). So a resume made at one node reaches every
//    node, and a later suspension anywhere wins over an earlier resume.
//  - A tenant without a stamp (never suspended or resumed since stamps
//    exist: a system.db of version 3, a table of format 1) orders by its
//    suspended_ms (an active one before every change), below a stamped
//    change of the same millisecond. Where neither side has a stamp the old
//    rule holds: suspension wins, at the earlier of the two times. A node of
//    the previous release still suspends by that rule, so a tenant it holds
//    suspended is suspended again at the others after their resume, unless
//    the resume is later than its suspension: resume it there too until
//    every node runs this release.
//  - A tenant being deleted here stays suspended: a peer's resume is
//    skipped.
//  - A key the peer has and this store has not is added as the peer has it
//    (revoked too, if it is) when its tenant exists here and is not being
//    deleted here; otherwise it is skipped (counted in keys_waiting) and
//    added when a later table finds its tenant. The system key is never
//    copied: each node keeps its own (read_table leaves it out too).
//  - A key revoked at the peer is revoked here, at the earlier of the two
//    times. Revocation is final.
// Not merged, on purpose:
//  - A tenant's data: the deleting mark and the tombstone travel, the
//    partitions' rows do not (tenant.delete is refused in a cluster until
//    the delete of its rows is a replicated journal entry, docs/cluster.md).
//  - created_ms of a tenant made at two nodes under one name, and a key id
//    drawn at two nodes (2^-64): each node keeps its own row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/key_store.hpp"

namespace stockgrid::auth {

inline constexpr std::int64_t auth_table_format_version = 3;

struct auth_table {
  std::vector<tenant_record> tenants;  // sorted by name
  std::vector<key_record> keys;        // sorted by key id
  std::vector<tenant_tombstone> tombstones;  // sorted by name
  friend bool operator==(const auth_table&, const auth_table&) = default;
};

// What one merge changed in the store (for the log) and what it left for
// later.
struct merge_report {
  std::uint64_t tenants_added = 0;
  std::uint64_t tenants_removed = 0;   // by a peer's tombstone (their names in `removed`)
  std::uint64_t tenants_deleting = 0;  // marked deleting, as the peer has it
  std::uint64_t tenants_suspended = 0;   // active here before
  std::uint64_t tenants_resumed = 0;     // suspended here before
  std::uint64_t statuses_restamped = 0;  // the same status, by a later change
  std::uint64_t keys_added = 0;
  std::uint64_t keys_revoked = 0;   // not revoked here before
  std::uint64_t times_earlier = 0;  // a revocation or unstamped suspension moved to the peer's earlier time
  std::uint64_t keys_waiting = 0;   // skipped: their tenant is not here (or being deleted here)
  std::vector<std::string> removed;  // tenants a tombstone removed here, for the node to forget
  std::vector<std::string> marked;   // tenants marked deleting here, for the node to refuse
  bool changed() const {
    return tenants_added + tenants_removed + tenants_deleting + tenants_suspended + tenants_resumed + statuses_restamped + keys_added + keys_revoked +
               times_earlier >
           0;
  }
};

// Every tenant, every key but the system key, and every tombstone, sorted
// as above.
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
