// The on-disk format of a partition: one SQLite database per partition
// (data/p-NNNN.db), described here once and used by the writer
// (sqlite_store.cpp), the reader (recovery, loads) and `stockgrid check`.
//
// Tables (SQL text in `schema_sql`):
//
//   meta(key TEXT PRIMARY KEY, value INTEGER)
//     format_version  this file's layout; must equal `format_version` below
//     epoch           fencing epoch: appends from an older epoch are refused
//     seq_lease       seqs >= seq_lease have never been handed out (fresh: 1)
//     snapshot_seq    journal entries with seq <= snapshot_seq are folded into
//                     `snapshot` (fresh: 0)
//     compacted_below optional: compaction deleted only journal rows with
//                     seq < compacted_below (subscriptions resume above it)
//     compacted_epoch, compacted_seq
//                     optional: the epoch and seq of the last journal row
//                     compaction deleted, where the journal ends once it
//                     deleted every row (partition_store::journal_end);
//                     absent: epoch 0, seq compacted_below - 1
//
//   journal(seq INTEGER PRIMARY KEY, epoch, at_ms, tenant, warehouse, sku,
//           kind, version, on_hand_before, on_hand_after, reserved_before,
//           reserved_after, qty, hold_seq, expires_at_ms, ref, reason, idem,
//           fingerprint, result, detail, key_id, crc,
//           backordered_before, backordered_after, incoming_before,
//           incoming_after, safety_stock, allow_backorder, low_stock_threshold)
//     One row per journal_entry (partition_store.hpp). The columns after crc
//     came with version 2 (policy and backorders: change.hpp); the policy
//     columns hold the record's policy after the change, allow_backorder as
//     0 or 1. kind and result are the
//     numeric values of change_kind and outcome. idem is NULL when empty;
//     ref, reason and key_id are '' when empty. Unsigned 64-bit fields (seq,
//     epoch, hold_seq, fingerprint) are stored as the int64 with the same
//     bits. No SQL index: an append writes only this table, in seq order.
//
//   record_index(record_hash, version, seq,
//                PRIMARY KEY(record_hash, version, seq))
//     One row per journal change (not refusal) with seq <= snapshot_seq, for
//     history(). record_hash is stable_hash(key) (domain/types.hpp); rows of
//     another record with the same hash are told apart by the journal row.
//   idem_index(idem_hash, seq, PRIMARY KEY(idem_hash, seq))
//     One row per journal entry with an idempotency key and seq <=
//     snapshot_seq, for the idempotency lookups; idem_hash is `idem_hash`
//     below (FNV-1a 64 of the key's bytes).
//     Hashes are stored as the int64 with the same bits.
//     Why two index tables instead of SQL indexes on journal: an index entry
//     lands at a random place, so 1,000 appends in one transaction dirtied
//     ~600 index pages (2.4 KB of WAL per entry; 20-70k appends/s measured).
//     Entries after the snapshot (the tail) are therefore indexed in memory
//     by the store, and their index rows are written when the tail is folded,
//     sorted, in the snapshot's transaction. Integer keys keep those rows
//     small and cheap to compare.
//
//   snapshot(tenant, warehouse, sku, on_hand, reserved, version, last_seq,
//            holds BLOB, crc, safety_stock, allow_backorder,
//            low_stock_threshold, backordered, incoming,
//            PRIMARY KEY(tenant, warehouse, sku))
//     One row per record that exists (version > 0), its state after every
//     journal entry with seq <= snapshot_seq. last_seq is the seq of the last
//     entry that changed it.
//
// Row checksums. `crc` is the CRC-32C (crc32c.hpp) of the row's canonical
// bytes, stored as a non-negative INTEGER. The canonical bytes are the
// columns before `crc`, in the order listed above, followed by the version 2
// columns (after `crc` above, in that order) only when one of them is not 0:
// a version 1 row is then a valid version 2 row with those columns at 0, and
// a damaged new column still changes the bytes. Each column is encoded as:
//   integer  8 bytes little-endian two's complement (all integer columns,
//            including kind and result, so the encoding has one rule)
//   text     4-byte little-endian length, then the bytes (NULL idem == '')
//   blob     as text
// The CRC covers seq (journal) and the key (snapshot), so a row copied to
// another place is caught too.
//
// Holds BLOB. Empty (zero bytes) when the record has no holds, so "has holds"
// is `length(holds) > 0`. Otherwise:
//   u8  holds_encoding_version (1)
//   u32 count
//   count times: u64 seq, i64 qty, i64 expires_at_ms, u32 ref length, ref bytes
// all little-endian, nothing after the last hold; count is at least 1 (a
// BLOB with a count of 0 is refused as malformed).
//
// Compatibility: never renumber kinds or outcomes; a layout change bumps
// format_version. Version 1 (no policy columns) is read with the version 2
// columns at 0: the store upgrades such a file when it opens it, in one
// transaction (`upgrade_v1_sql`: ALTER TABLE ... ADD COLUMN, no row rewritten,
// since the CRCs stay valid); `stockgrid check` reads it unchanged, selecting
// 0 for the missing columns. Any other version is refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/partition_store.hpp"

namespace stockgrid::persistence::format {

inline constexpr std::int64_t format_version = 2;
// The oldest version this build reads (see Compatibility above).
inline constexpr std::int64_t format_version_min = 1;
inline constexpr bool readable_format(std::int64_t v) {
  return v >= format_version_min && v <= format_version;
}

// Turns a version 1 database into a version 2 one (inside a transaction the
// caller opens), including the meta row.
extern const char* const upgrade_v1_sql;
inline constexpr std::uint8_t holds_encoding_version = 1;

// Creates the tables of an empty database (no meta rows).
extern const char* const schema_sql;

// Meta keys.
inline constexpr const char* meta_format_version = "format_version";
inline constexpr const char* meta_epoch = "epoch";
inline constexpr const char* meta_seq_lease = "seq_lease";
inline constexpr const char* meta_snapshot_seq = "snapshot_seq";
// Compaction has deleted only journal rows below this seq. Optional: a file
// without the row never compacted anything since it was added (read as 1).
inline constexpr const char* meta_compacted_below = "compacted_below";
// The last journal entry compaction deleted (its epoch and seq). Optional: a
// file without the rows reads as epoch 0 (unknown) and the seq below
// compacted_below, which is snapshot_seq once every row is gone
// (partition_store.hpp's journal_end).
inline constexpr const char* meta_compacted_epoch = "compacted_epoch";
inline constexpr const char* meta_compacted_seq = "compacted_seq";

// Column lists in canonical order, for INSERT and SELECT, and the column
// positions within them.
extern const char* const journal_columns;
extern const char* const snapshot_columns;
// The same lists for a SELECT from a file of format `version`: columns that
// version lacks are selected as 0.
std::string journal_select_columns(std::int64_t version);
std::string snapshot_select_columns(std::int64_t version);

enum journal_column : int {
  j_seq, j_epoch, j_at_ms, j_tenant, j_warehouse, j_sku, j_kind, j_version,
  j_on_hand_before, j_on_hand_after, j_reserved_before, j_reserved_after, j_qty,
  j_hold_seq, j_expires_at_ms, j_ref, j_reason, j_idem, j_fingerprint, j_result,
  j_detail, j_key_id, j_crc,
  // version 2
  j_backordered_before, j_backordered_after, j_incoming_before, j_incoming_after,
  j_safety_stock, j_allow_backorder, j_low_stock_threshold, journal_column_count
};

enum snapshot_column : int {
  s_tenant, s_warehouse, s_sku, s_on_hand, s_reserved, s_version, s_last_seq, s_holds,
  s_crc,
  // version 2
  s_safety_stock, s_allow_backorder, s_low_stock_threshold, s_backordered, s_incoming,
  snapshot_column_count
};

// Canonical bytes of a journal row (appended to `out`) and their CRC.
void encode_journal_row(const journal_entry& e, std::string* out);
std::uint32_t journal_row_crc(const journal_entry& e);

// The holds BLOB of a record (empty for no holds), appended to `out`.
void encode_holds(const std::vector<hold>& holds, std::string* out);
// False if `blob` is not a well-formed holds BLOB.
bool decode_holds(std::string_view blob, std::vector<hold>* out);

// Canonical bytes of a snapshot row whose holds BLOB is `holds_blob`.
void encode_snapshot_row(const record_image& r, std::string_view holds_blob, std::string* out);
std::uint32_t snapshot_row_crc(const record_image& r, std::string_view holds_blob);

// The idem_hash column of idem_index: FNV-1a 64 of the key's bytes. Part of
// the format: never change it.
std::uint64_t idem_hash(std::string_view idem);

// Valid numeric values of the journaled enums.
bool valid_change_kind(std::int64_t v);
bool valid_outcome(std::int64_t v);

}  // namespace stockgrid::persistence::format
